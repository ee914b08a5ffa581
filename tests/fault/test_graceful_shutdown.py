"""SIGTERM (what `docker stop` and systemd send) to the web and the worker mid-work."""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest
from flask import Flask

from tests.fault.checks import (
    Answer,
    all_comment_ids,
    assert_counts_match_recount,
    assert_decided_once,
    assert_nothing_half_written,
    count_final,
    post_comment,
    store_backlog,
    stored_by_marker,
    summary,
    wait_all_final,
)
from tests.fault.conftest import FaultStack, Web
from tests.support import wait_until


def enqueue_moderation_from(app: Flask, comment_id: int) -> None:
    from workers.dispatch import enqueue_moderation

    with app.app_context():
        assert enqueue_moderation(comment_id), "the broker refused the wake"

pytestmark = [pytest.mark.fault, pytest.mark.slow, pytest.mark.worker]

CLIENTS = 8
BEFORE_SIGTERM = 60  # accepted submits before the web gets SIGTERM
# Comments waiting when the worker gets SIGTERM: more than its running task drains in its
# 2 s, even at batches of 4. 1,500 were once enough; with the velocity counts indexed
# (migration 0011) the embedded worker decided all of them within one drain.
BACKLOG = 5000


def _post_until_gone(web: Web, number: int, sink: list[Answer], stop: threading.Event,
                     deadline: float) -> None:
    """Submit in a loop until the server refuses connections (it is gone) or ``stop``."""
    with web.client() as client:
        n = 0
        while not stop.is_set() and time.monotonic() < deadline:
            answer = post_comment(client, "term", number * 100_000 + n)
            sink.append(answer)
            n += 1
            if answer.error == "ConnectError":
                return


def test_sigterm_web_and_worker_lose_nothing(any_stack: FaultStack) -> None:
    """SIGTERM to gunicorn mid-burst drains the requests in flight: every 202 is stored and
    every stored comment was answered 202 (or its client saw the connection drop), never a
    5xx. SIGTERM to the worker with a backlog: after a restart with beat, every accepted
    comment is decided exactly once."""
    stack, app = any_stack, any_stack.flask
    # Boots while the web starts and decides during the burst. Small batches: a task drains
    # for 2 s, and at 128 per batch that could be the whole backlog below.
    worker = stack.start("worker", WARDEN_MODERATION_BATCH_SIZE="4")
    web = stack.web()
    sinks: list[list[Answer]] = [[] for _ in range(CLIENTS)]
    stop = threading.Event()
    deadline = time.monotonic() + 60
    threads = [threading.Thread(target=_post_until_gone, args=(web, i, sinks[i], stop, deadline),
                                daemon=True) for i in range(CLIENTS)]
    for thread in threads:
        thread.start()
    try:
        wait_until(lambda: sum(a.status == 202 for s in sinks for a in list(s)) >= BEFORE_SIGTERM,
                   30, interval=0.02, message="the burst to get going")
        term_at = time.monotonic()
        os.kill(web.process.popen.pid, signal.SIGTERM)  # the master only, as docker stop does
        code = web.process.popen.wait(timeout=30)
        web_gone = time.monotonic() - term_at
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=20)
    answers = [a for sink in sinks for a in sink]

    assert code == 0, web.process.log_tail()
    assert web_gone < 25
    assert not [a for a in answers if a.status not in {None, 202}], summary(answers)
    in_flight = [a for a in answers if a.started < term_at < a.ended]
    assert in_flight, "no request was in flight at SIGTERM"
    stored = stored_by_marker(app, "term")
    by_number = {a.n: a for a in answers}
    assert {a.n: a.doc["id"] for a in answers if a.status == 202}.items() <= stored.items(), \
        "a 202 whose comment is not stored"
    unanswered = {n for n in stored if by_number[n].status != 202}
    assert all(by_number[n].error for n in unanswered), "stored, but answered otherwise"
    assert_nothing_half_written(app)
    print(f"\n[{stack.name}] web SIGTERM: {dict(summary(answers))}; {len(in_flight)} in flight "
          f"({sum(a.status == 202 for a in in_flight)} drained with 202); gunicorn exited "
          f"{code} after {web_gone:.1f}s; {len(stored)} stored, {len(unanswered)} of them "
          "without a 202 (connection dropped)")

    # The worker: SIGTERM while it still has a backlog. A worker drains batches faster than
    # the burst above can feed it, so the backlog is stored directly, then one wake.
    backlog = store_backlog(app, "term-backlog", BACKLOG)
    enqueue_moderation_from(app, backlog[0])
    ids = all_comment_ids(app)
    wait_until(lambda: count_final(app, backlog) >= 5, 60, interval=0.05,
               message="the worker's first decisions on the backlog")
    term_at = time.monotonic()
    os.kill(worker.popen.pid, signal.SIGTERM)  # warm shutdown: finish the running task
    code = worker.popen.wait(timeout=30)
    worker_gone = time.monotonic() - term_at
    done_at_term = count_final(app, ids)
    assert code == 0, worker.log_tail()
    assert worker_gone < 10, "a warm shutdown waits for at most one drain (2 s) and a batch"
    assert done_at_term < len(ids), "the worker had no backlog left when it got SIGTERM"

    stack.start("worker")
    stack.start("beat")
    took = wait_all_final(app, ids, 120, "after the worker's SIGTERM and restart")
    assert_decided_once(app, ids)
    assert_counts_match_recount(app)
    print(f"[{stack.name}] worker SIGTERM with {len(ids) - done_at_term} of {len(ids)} "
          f"undecided: exited {code} after {worker_gone:.1f}s; all decided {took:.1f}s after "
          "the restart")

