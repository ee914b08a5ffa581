"""When a failed delivery is tried again: the configured schedule, with jitter.

The schedule (WARDEN_WEBHOOK_RETRY_SCHEDULE) lists the seconds between tries; the default
grows roughly exponentially over about a day. Each wait is spread by +/-20% so endpoints
that failed together (one outage) are not retried in lock-step.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

JITTER = 0.2

_random = random.SystemRandom()


def next_delay(schedule: Sequence[float], tries_done: int,
               rng: random.Random | None = None) -> float | None:
    """Seconds until the next try after ``tries_done`` tries, or None when none is left."""
    if tries_done < 1 or tries_done > len(schedule):
        return None
    base = schedule[tries_done - 1]
    return base * (rng or _random).uniform(1 - JITTER, 1 + JITTER)


def total_tries(schedule: Sequence[float]) -> int:
    return len(schedule) + 1
