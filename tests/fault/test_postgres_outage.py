"""PostgreSQL stops for 10 s under load: 503s with the error shape, then recovery alone."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

import httpx
import pytest

from tests.fault.checks import (
    COUNTS,
    SUBMIT,
    Answer,
    accepted_ids,
    all_comment_ids,
    assert_counts_match_recount,
    assert_decided_once,
    assert_nothing_half_written,
    call,
    post_comment,
    run_until,
    stored_by_marker,
    summary,
    wait_all_final,
)
from tests.fault.conftest import FaultStack
from tests.fault.services import pg_ctl, pg_ready, pg_start, require_local_postgres

pytestmark = [pytest.mark.fault, pytest.mark.slow, pytest.mark.worker, pytest.mark.postgres,
              pytest.mark.redis]

OUTAGE_SECONDS = 10
LATENCY_BOUND = 5.0  # seconds; the client itself gives up at 10
RECOVERY_BOUND = 30.0
EXPECTED = {"thread": 200, "counts": 200, "submit": 202}


@dataclass
class Loader:
    """One client thread sending one kind of request in a loop."""

    kind: str
    number: int
    client: httpx.Client
    answers: list[Answer] = field(default_factory=list)

    def send(self, n: int) -> Answer:
        if self.kind == "thread":
            return call(self.client, n, "thread", "GET", SUBMIT,
                        params={"article": f"pg-story-{n % 5}"})
        if self.kind == "counts":
            return call(self.client, n, "counts", "GET", COUNTS,
                        params=[("article", f"pg-story-{i}") for i in range(5)])
        return post_comment(self.client, "pg", self.number * 100_000 + n, f"pg-story-{n % 5}")

    def first_success_after(self, moment: float) -> float | None:
        ok = [a.ended for a in list(self.answers)
              if a.started > moment and a.status == EXPECTED[self.kind]]
        return min(ok) if ok else None


def test_postgres_outage_gives_503s_then_recovers(production: FaultStack) -> None:
    """While PostgreSQL is stopped every answer is a normal success or a JSON 503
    ("unavailable", Retry-After) within the latency bound, never a 500, hang or reset;
    after it starts the API serves 2xx again by itself and nothing is half-written."""
    stack, app = production, production.flask
    require_local_postgres(stack.settings.database_url)
    web = stack.web()
    stack.start("worker")
    stack.start("beat")
    with web.client() as client:  # the articles exist before the load reads their threads
        seeds = [post_comment(client, "pg", n, f"pg-story-{n}") for n in range(5)]
    assert [a.status for a in seeds] == [202] * 5
    loaders = [Loader(kind, i, web.client()) for i, kind in
               enumerate(["thread", "counts", "submit"] * 2)]
    stop = threading.Event()
    deadline = time.monotonic() + OUTAGE_SECONDS + RECOVERY_BOUND + 60
    threads = [threading.Thread(target=run_until, args=(stop, lo.send, lo.answers, deadline),
                                daemon=True) for lo in loaders]
    for thread in threads:
        thread.start()
    try:
        try:
            time.sleep(2)
            stopped = pg_ctl("stop")
            assert stopped.returncode == 0, stopped.stderr
            down_at = time.monotonic()
            assert not pg_ready()
            time.sleep(OUTAGE_SECONDS)
        finally:
            pg_start()  # whatever happened above, PostgreSQL runs again
        up_at = time.monotonic()
        recovered = _wait_recovered(loaders, up_at)
        time.sleep(2)  # steady load for a while after recovery
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=20)
        for loader in loaders:
            loader.client.close()

    answers = [a for lo in loaders for a in lo.answers]
    by_kind = {kind: dict(summary(a for a in answers if a.kind == kind)) for kind in EXPECTED}
    print(f"\nPostgreSQL down {up_at - down_at:.1f}s; answers {by_kind}; 2xx again "
          f"{recovered:.1f}s after pg_isready; slowest answer "
          f"{max(a.took for a in answers):.2f}s")
    errors = [a for a in answers if a.error]
    assert not errors, f"transport errors (reset, timeout): {summary(errors)}"
    for a in answers:
        assert a.status in {EXPECTED[a.kind], 503}, (a.kind, a.status, a.doc)
        if a.status == 503:
            assert a.doc["error"]["code"] == "unavailable", a.doc
            assert a.doc["error"]["message"], a
            assert a.retry_after, a
    assert any(a.status == 503 for a in answers), "the outage was not seen by the API"
    slow = [a for a in answers if a.took > LATENCY_BOUND]
    assert not slow, f"{len(slow)} answers slower than {LATENCY_BOUND}s: {slow[:3]}"
    settled = [a for a in answers if a.started > up_at + recovered]
    assert settled, "no load after recovery"
    assert all(a.status == EXPECTED[a.kind] for a in settled), summary(settled)

    submits = {a.n: a for a in [*seeds, *answers] if a.kind == "submit"}
    ids = accepted_ids(submits.values())
    stored = set(all_comment_ids(app))
    assert set(ids) <= stored, "a 202 that was not stored"
    # And no comment is stored whose submit was told 503 ("try again": a duplicate).
    by_number = stored_by_marker(app, "pg")
    assert set(by_number.values()) == stored
    told_otherwise = {n: (submits[n].status, submits[n].doc) for n, cid in by_number.items()
                      if submits[n].status != 202 or submits[n].doc["id"] != cid}
    assert not told_otherwise, f"stored, but the client was told: {told_otherwise}"
    assert_nothing_half_written(app)
    wait_all_final(app, sorted(stored), 90, "decisions after the outage")
    assert_decided_once(app, sorted(stored))
    assert_counts_match_recount(app)
    print(f"{len(ids)} submits answered 202 = {len(stored)} comments stored; all decided once")



def _wait_recovered(loaders: list[Loader], up_at: float) -> float:
    """Seconds after PostgreSQL is back until every kind of request has succeeded again."""
    while time.monotonic() < up_at + RECOVERY_BOUND:
        firsts = {}
        for loader in loaders:
            first = loader.first_success_after(up_at)
            if first is not None:
                firsts[loader.kind] = min(first, firsts.get(loader.kind, first))
        if set(firsts) == set(EXPECTED):
            return max(firsts.values()) - up_at
        time.sleep(0.2)
    raise AssertionError(f"the API did not serve every kind of request again within "
                         f"{RECOVERY_BOUND}s of PostgreSQL being back")
