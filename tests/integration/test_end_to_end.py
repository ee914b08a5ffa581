"""`warden run` as a user runs it: web + worker + beat, real HTTP, then Ctrl-C."""

from __future__ import annotations

import os
import re
import signal
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.integration.conftest import Stack
from tests.support import Process, free_port, wait_until

pytestmark = [pytest.mark.worker, pytest.mark.slow]

CLEAN = "Thanks for this clear report on the ceasefire talks; the timeline helped me a lot."
TOXIC = "You are a worthless idiot, shut your stupid mouth you moron."
FINAL = {"approved", "rejected", "held", "spam"}


@pytest.fixture
def running(stack: Stack) -> Iterator[tuple[httpx.Client, Process]]:
    port = free_port()
    process = stack.start("run", WARDEN_PORT=str(port), WARDEN_WEB_WORKERS="1")
    client = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10)

    def ready() -> bool:
        assert process.popen.poll() is None, process.log_tail()
        try:
            return client.get("/readyz").status_code == 200
        except httpx.TransportError:
            return False

    wait_until(ready, 90, interval=0.3, message="/readyz")
    yield client, process
    client.close()


def wait_decided(client: httpx.Client, doc: dict[str, Any]) -> tuple[str, float]:
    start = time.monotonic()

    def status() -> str | None:
        own = client.get(f"/api/v1/comments/{doc['id']}",
                         headers={"X-Author-Token": doc["author_token"]}).json()
        return own["status"] if own["status"] in FINAL else None

    final = wait_until(status, 60, interval=0.05, message=f"decision on {doc['id']}")
    return final, time.monotonic() - start


def test_comment_travels_end_to_end(running: tuple[httpx.Client, Process],
                                    stack: Stack) -> None:
    client, _ = running
    submit = "/api/v1/sites/demo/comments"
    first = client.post(submit, json={"article": "e2e", "author_name": "Ann", "body": CLEAN})
    assert first.status_code == 202
    doc = first.json()
    assert doc["status"] == "pending"
    status, cold = wait_decided(client, doc)
    assert status == "approved"
    warm = client.post(submit, json={"article": "other", "body": "A second, warm comment."})
    _, took = wait_decided(client, warm.json())
    print(f"\n[{stack.name}] submit-to-decision: first comment {cold * 1000:.0f} ms "
          f"(worker still booting), next {took * 1000:.0f} ms")

    reply = client.post(submit, headers={"X-Author-Token": doc["author_token"]},
                        json={"article": "e2e", "parent_id": doc["id"],
                              "body": "Adding a source: https://news.example/report"}).json()
    toxic = client.post(submit, json={"article": "e2e", "body": TOXIC}).json()
    assert wait_decided(client, reply)[0] == "approved"
    assert wait_decided(client, toxic)[0] in {"rejected", "held"}

    thread = client.get(submit, params={"article": "e2e"}).json()
    assert [c["id"] for c in thread["comments"]] == [doc["id"]]
    assert [r["id"] for r in thread["comments"][0]["replies"]] == [reply["id"]]
    assert 'rel="nofollow ugc noopener"' in thread["comments"][0]["replies"][0]["html"]
    counts = client.get("/api/v1/sites/demo/counts", params=[("article", "e2e"),
                                                             ("article", "none")]).json()
    assert counts == {"counts": {"e2e": 2, "none": 0}}

    for bad in ({"article": "e2e", "body": ""}, {"article": 5, "body": {}},
                {"article": "e2e", "body": "x" * 2_000_000}):
        response = client.post(submit, json=bad)
        assert 400 <= response.status_code < 500
        assert response.json()["error"]["message"]
    # Refused by gunicorn before the app runs: still the API's JSON error shape.
    keys = [("article", f"{i:03d}-" + "k" * 100) for i in range(100)]
    too_long = client.get("/api/v1/sites/demo/counts", params=keys)
    huge_header = client.get("/healthz", headers={"X-Padding": "p" * 9000})
    assert (too_long.status_code, too_long.json()["error"]["code"]) == (414, "uri_too_long")
    assert (huge_header.status_code, huge_header.json()["error"]["code"]) == (
        431, "headers_too_large")
    # Under gunicorn's raised request-line limit (8190): 60 long keys in one request.
    assert len(client.get("/api/v1/sites/demo/counts", params=keys[:60]).json()["counts"]) == 60
    assert client.get("/api/v1/sites/demo/counts", params={"article": "e2e"}).json() == {
        "counts": {"e2e": 2}}


def test_ctrl_c_stops_web_worker_and_beat(running: tuple[httpx.Client, Process]) -> None:
    client, process = running
    assert client.get("/healthz").status_code == 200
    # The worker up, its pool processes forked: they are what a group-wide SIGTERM killed.
    wait_until(lambda: " ready." in process.log_path.read_text(errors="replace"), 60,
               message="the worker's 'ready.'")
    started = time.monotonic()
    process.signal_group(signal.SIGINT)  # what a terminal's Ctrl-C does
    process.popen.wait(timeout=30)
    print(f"\nstopped in {time.monotonic() - started:.1f}s")
    with pytest.raises(ProcessLookupError):
        os.killpg(process.popen.pid, 0)  # nothing of the group is left behind
    # Each program ran in its own session (honcho's): each must be gone too, and have
    # stopped by itself, its children with it (not SIGKILLed, no pool process killed
    # under a worker that then waits for it).
    log = process.log_path.read_text(errors="replace")
    pids = {name: int(pid) for name, pid in re.findall(r"(\w+) started \(pid=(\d+)\)", log)}
    assert set(pids) == {"web", "worker", "beat"}, log[-3000:]
    for name, pid in pids.items():
        # rc -15: still booting, before its own handler was installed.
        assert re.search(rf"{name} stopped \(rc=(0|-15)\)", log), process.log_tail()
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
    assert "SIGKILL" not in log
    assert "exited with 'signal" not in log
