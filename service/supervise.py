"""``warden worker``: the checks' Celery worker and the webhook sender's, under one command.

They are separate Celery workers because their work differs: the checks are CPU-bound
(processes), webhook deliveries and provider feedback wait on other people's servers
(threads, many at once). In one pool, a receiver that takes 15 s to answer held the pool's
processes and comments waited tens of seconds for their checks, and the sweeps that recover
lost work expired unread in the queue.

A child that dies unexpectedly (a broker restart has made Celery exit with "Unrecoverable
error") is started again after a growing pause; one that fails again and again at start (a
wrong broker URL) makes the command give up with status 1, for the orchestrator to see.
SIGTERM, SIGINT or SIGHUP stop both children (each its own pool; SIGQUIT is passed on as
Celery's cold shutdown); a child that exits 0 by itself (``celery control shutdown``) stops
the other too. The children are told to stop if this process is killed outright.
"""

from __future__ import annotations

import contextlib
import ctypes
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from types import FrameType

import click

RESTART_PAUSES = (1.0, 2.0, 5.0, 10.0, 30.0)
#: A child that ran this long before dying starts again after the shortest pause.
STEADY_SECONDS = 60.0
#: Failures in a row, each sooner than STEADY_SECONDS after its start, before giving up.
MAX_FAST_FAILURES = 8
POLL_SECONDS = 0.2
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGQUIT)
_PR_SET_PDEATHSIG = 1


def _stop_with_parent() -> None:
    """In the child before exec: SIGTERM when the supervisor dies (kill -9, OOM), instead of
    a Celery worker consuming tasks with nobody watching it (Linux; elsewhere a no-op)."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


@dataclass
class Child:
    name: str
    args: list[str]
    popen: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    failures: int = 0
    restart_at: float | None = None

    def start(self) -> None:
        # Our own argv (celery and its options), never user input. Same process group as
        # this command: a group-wide signal (killpg, a terminal's Ctrl-C) reaches both.
        self.popen = subprocess.Popen(self.args, preexec_fn=_stop_with_parent)  # noqa: S603
        self.started_at = time.monotonic()
        self.restart_at = None

    def running(self) -> bool:
        return self.popen is not None and self.restart_at is None and self.popen.poll() is None


def _say(message: str) -> None:
    click.echo(f"[warden worker] {message}", err=True)


def supervise(children: list[Child], *, grace_seconds: float = 20.0,
              pauses: tuple[float, ...] = RESTART_PAUSES,
              max_fast_failures: int = MAX_FAST_FAILURES) -> int:
    received: list[int] = []

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        received.append(signum)

    previous = {sig: signal.signal(sig, on_signal) for sig in STOP_SIGNALS}
    try:
        for child in children:
            child.start()
        outcome = _watch(children, received, pauses, max_fast_failures)
        forward = signal.SIGQUIT if signal.SIGQUIT in received else signal.SIGTERM
        stopped_cleanly = _stop_all(children, grace_seconds, forward)
        return outcome if outcome is not None else (0 if stopped_cleanly else 1)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _watch(children: list[Child], received: list[int], pauses: tuple[float, ...],
           max_fast_failures: int) -> int | None:
    """Restart children until a stop signal (None) or a reason to end (an exit status)."""
    while not received:
        now = time.monotonic()
        for child in children:
            if child.restart_at is not None:
                if now >= child.restart_at:
                    _say(f"starting {child.name} again")
                    child.start()
                continue
            assert child.popen is not None
            code = child.popen.poll()
            if code is None:
                continue
            if code == 0:
                _say(f"{child.name} stopped by itself (exit 0): stopping the others")
                return 0
            steady = now - child.started_at >= STEADY_SECONDS
            child.failures = 1 if steady else child.failures + 1
            if child.failures > max_fast_failures:
                _say(f"{child.name} exited with {code} {child.failures} times in a row "
                     "soon after starting: giving up")
                return 1
            pause = pauses[min(child.failures, len(pauses)) - 1]
            _say(f"{child.name} exited with {code}; starting it again in {pause:g} s")
            child.restart_at = now + pause
        time.sleep(POLL_SECONDS)
    return None


def _stop_all(children: list[Child], grace_seconds: float, forward: int) -> bool:
    """``forward`` to each running child (SIGTERM: Celery's warm shutdown stops its own
    pool), SIGKILL after ``grace_seconds``; True when every child stopped by itself and
    none had died before."""
    running = [c.popen for c in children if c.running()]
    clean = len(running) == len(children)  # none was down (dead, or waiting to restart)
    for popen in running:
        popen.send_signal(forward)
    deadline = time.monotonic() + grace_seconds
    for popen in running:
        try:
            code = popen.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            _say(f"pid {popen.pid} did not stop within {grace_seconds:.0f} s: SIGKILL")
            popen.kill()
            popen.wait()
            clean = False
            continue
        clean = clean and code in (0, -signal.SIGTERM, -forward)
    return clean
