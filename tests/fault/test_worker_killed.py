"""SIGKILL the worker while 500 comments submitted over HTTP are in flight (both stacks)."""

from __future__ import annotations

import os
import signal
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.fault.checks import (
    accepted_ids,
    all_comment_ids,
    assert_counts_match_recount,
    assert_decided_once,
    assert_nothing_half_written,
    count_final,
    submit_many,
    summary,
    wait_all_final,
)
from tests.fault.conftest import FaultStack
from tests.support import wait_until

pytestmark = [pytest.mark.fault, pytest.mark.slow, pytest.mark.worker]

TOTAL = 500


def test_sigkill_worker_with_500_in_flight(any_stack: FaultStack) -> None:
    """500 accepted comments all reach one final state after the worker is SIGKILLed
    mid-flight and started again with beat; approved counts equal a recount."""
    stack, app = any_stack, any_stack.flask
    worker = stack.start("worker")  # boots (loads the models) while the web starts
    web = stack.web()
    with ThreadPoolExecutor(1) as background:
        burst = background.submit(submit_many, web.base_url, "kill", TOTAL, threads=8)
        # Kill once the worker is visibly deciding, while submits are still arriving.
        wait_until(lambda: count_final(app, all_comment_ids(app)) >= 10, 120, interval=0.1,
                   message="the worker's first decisions")
        worker.stop(signal.SIGKILL, timeout=10)
        killed_at = time.monotonic()
        stored_at_kill = all_comment_ids(app)
        done_at_kill = count_final(app, stored_at_kill)
        # Started again at once, while the rest of the 500 are still arriving. A stale window
        # longer than the fixture's 3 s: with a 500-deep backlog a 3 s window re-sends every
        # waiting comment every 3 s (thousands of copies, which slow the filesystem broker's
        # every fetch); 15 s still recovers the killed worker's lost tasks.
        slower = {"WARDEN_MODERATION_STALE_SECONDS": "15"}
        stack.start("worker", **slower)
        stack.start("beat", **slower)
        answers = burst.result(timeout=180)
    assert summary(answers) == {"202": TOTAL}, summary(answers)
    assert max(a.took for a in answers) < 10
    ids = accepted_ids(answers)
    assert done_at_kill < TOTAL, "the worker finished before it could be killed"
    took = wait_all_final(app, ids, 200, "after restarting the worker")
    since_kill = time.monotonic() - killed_at
    assert_decided_once(app, ids)
    assert_counts_match_recount(app)
    assert_nothing_half_written(app)
    print(f"\n[{stack.name}] {TOTAL} accepted (202); {len(stored_at_kill)} stored and "
          f"{done_at_kill} decided when SIGKILLed; "
          f"all {TOTAL} final {since_kill:.1f}s after the kill and restart "
          f"({took:.1f}s after the burst ended)")



def _children(pid: int) -> dict[int, str]:
    """The child processes of ``pid`` and their command lines (Linux /proc)."""
    found = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        for child in (task / "children").read_text().split():
            cmdline = Path(f"/proc/{child}/cmdline").read_bytes().replace(b"\0", b" ")
            found[int(child)] = cmdline.decode(errors="replace")
    return found


def test_a_dead_celery_worker_is_started_again_by_warden_worker(
        production: FaultStack) -> None:
    """Celery can exit for good on a broker restart ("Unrecoverable error"); with nobody
    else watching (``warden worker &``), accepted comments waited for a human. The
    ``warden worker`` command starts the dead worker again by itself (the supervisor is
    the same on both stacks; Redis is where Celery was seen to exit)."""
    stack, app = production, production.flask
    worker = stack.start("worker")
    web = stack.web()

    def checks_worker() -> int | None:
        found = [pid for pid, cmd in _children(worker.popen.pid).items()
                 if "warden@" in cmd and "--queues" in cmd]
        return found[0] if found else None

    first = wait_until(checks_worker, 60, interval=0.2, message="the checks worker")
    wait_until(lambda: "warden@" in worker.log_path.read_text(errors="replace")
               and " ready." in worker.log_path.read_text(errors="replace"), 60,
               message="the checks worker's 'ready.'")
    os.kill(first, signal.SIGKILL)  # as if it had died by itself
    answers = submit_many(web.base_url, "revived", 20, threads=4)
    assert summary(answers) == {"202": 20}, summary(answers)
    ids = accepted_ids(answers)
    took = wait_all_final(app, ids, 90, "after the checks worker died")
    second = checks_worker()
    assert second is not None
    assert second != first
    assert worker.popen.poll() is None  # the command itself never stopped
    assert "checks worker exited with -9; starting it again" in worker.log_path.read_text(
        errors="replace")
    assert_decided_once(app, ids)
    assert_counts_match_recount(app)
    print(f"\n[{stack.name}] checks worker SIGKILLed: started again, 20 comments final "
          f"{took:.1f}s after")
