"""``warden worker``: the checks' Celery worker and the webhook sender's, under one command.

They are separate Celery workers because their work differs: the checks are CPU-bound
(processes), webhook deliveries and provider feedback wait on other people's servers
(threads, many at once). In one pool, a receiver that takes 15 s to answer held the pool's
processes and comments waited tens of seconds for their checks, and the sweeps that recover
lost work expired unread in the queue.

Each child is restarted when it dies unexpectedly (a broker restart has made Celery exit
with "Unrecoverable error"), with a growing pause; SIGTERM or SIGINT stops both (each
its own pool) and the command exits 0 when both stopped cleanly.
"""

from __future__ import annotations

import signal
import subprocess
import time
from dataclasses import dataclass, field
from types import FrameType

import click

RESTART_PAUSES = (1.0, 2.0, 5.0, 10.0, 30.0)
#: A child that ran this long before dying starts again after the shortest pause.
STEADY_SECONDS = 60.0
POLL_SECONDS = 0.2


@dataclass
class Child:
    name: str
    args: list[str]
    popen: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    failures: int = 0
    restart_at: float | None = field(default=None)

    def start(self) -> None:
        # Our own argv (celery and its options), never user input. Same process group as
        # this command: a group-wide signal (killpg, a terminal's Ctrl-C) reaches both.
        self.popen = subprocess.Popen(self.args)  # noqa: S603
        self.started_at = time.monotonic()
        self.restart_at = None


def _say(message: str) -> None:
    click.echo(f"[warden worker] {message}", err=True)


def supervise(children: list[Child], *, grace_seconds: float = 30.0) -> int:
    stop: list[int] = []

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        stop.append(signum)

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        for child in children:
            child.start()
        while not stop:
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
                steady = now - child.started_at >= STEADY_SECONDS
                child.failures = 1 if steady else child.failures + 1
                pause = RESTART_PAUSES[min(child.failures, len(RESTART_PAUSES)) - 1]
                _say(f"{child.name} exited with {code}; starting it again in {pause:.0f} s")
                child.restart_at = now + pause
            time.sleep(POLL_SECONDS)
        return _stop_all(children, grace_seconds)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _stop_all(children: list[Child], grace_seconds: float) -> int:
    """SIGTERM to each child (Celery's warm shutdown stops its own pool), SIGKILL after
    ``grace_seconds``; 0 when every child stopped by itself."""
    running = [c.popen for c in children
               if c.popen is not None and c.restart_at is None and c.popen.poll() is None]
    for popen in running:
        popen.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + grace_seconds
    clean = True
    for popen in running:
        try:
            code = popen.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            _say(f"pid {popen.pid} did not stop within {grace_seconds:.0f} s: SIGKILL")
            popen.kill()
            popen.wait()
            clean = False
            continue
        clean = clean and code in (0, -signal.SIGTERM)
    return 0 if clean else 1
