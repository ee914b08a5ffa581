"""Redis (which keeps nothing on disk) restarts while accepted comments wait in its queue."""

from __future__ import annotations

import json
import time

import httpx
import pytest

from tests.fault.checks import (
    accepted_ids,
    assert_counts_match_recount,
    assert_decided_once,
    assert_nothing_half_written,
    post_comment,
    submit_many,
    summary,
    wait_all_final,
)
from tests.fault.conftest import FaultStack, redis_client
from tests.fault.services import (
    redis_run_id,
    redis_start,
    redis_stop,
    require_local_redis,
)
from tests.support import wait_until

pytestmark = [pytest.mark.fault, pytest.mark.slow, pytest.mark.worker, pytest.mark.postgres,
              pytest.mark.redis]

QUEUED = 50


def test_redis_restart_loses_the_queue_but_no_comment(production: FaultStack) -> None:
    """The restart empties the queue of wakes for 50 accepted comments (and a submit while Redis is
    down still gets 202); the database sweep gets every one decided exactly once."""
    stack, app = production, production.flask
    require_local_redis(stack.settings.broker_url)
    web = stack.web()  # no worker yet: the tasks stay in Redis
    answers = submit_many(web.base_url, "redis", QUEUED)
    assert summary(answers) == {"202": QUEUED}
    # Debounced wakes: a few messages stand for the 50 comments (each task drains them all).
    queued = redis_client(stack.settings).llen("moderation")
    assert 1 <= queued <= QUEUED, f"{queued} messages queued in Redis"

    lost = _queued_task_ids(stack)
    before = redis_run_id()
    try:
        redis_stop()
        with web.client() as client:
            down = post_comment(client, "redis", QUEUED)
    finally:
        redis_start()  # whatever happened above, Redis is running again
    assert redis_run_id() not in {None, before}, "Redis was not restarted"
    # A wake sent after the restart (the one for the submit made while Redis was down, its
    # publish retried) may be queued by now; the point is that the queued ones are gone.
    assert not _queued_task_ids(stack) & lost, "the queue survived"
    assert down.status == 202, down
    assert down.took < 5, down

    started = time.monotonic()
    with httpx.Client(base_url=web.base_url, timeout=10) as client:
        wait_until(lambda: client.get("/readyz").status_code == 200, 30, interval=0.2,
                   message="/readyz after the Redis restart")
        ready_in = time.monotonic() - started
        after = post_comment(client, "redis", QUEUED + 1)
    assert after.status == 202, after

    ids = [*accepted_ids(answers), down.doc["id"], after.doc["id"]]
    stack.start("worker")
    stack.start("beat")
    took = wait_all_final(app, ids, 120, "the sweep after the Redis restart")
    assert_decided_once(app, ids)
    assert_counts_match_recount(app)
    assert_nothing_half_written(app)
    print(f"\n{QUEUED} queued + 1 submitted while Redis was down ({down.took * 1000:.0f} ms, "
          f"202) + 1 after; /readyz 200 {ready_in:.1f}s after the restart; all {len(ids)} "
          f"decided {took:.1f}s after worker + beat started")


def _queued_task_ids(stack: FaultStack) -> set[str]:
    """Celery task ids of the messages waiting in the moderation queue."""
    return {json.loads(raw)["headers"]["id"]
            for raw in redis_client(stack.settings).lrange("moderation", 0, -1)}
