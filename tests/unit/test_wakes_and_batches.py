"""Wake-ups and batches: the debouncer (one wake per window, none lost at its end) and the
batch size a task uses."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from workers.dispatch import Debouncer


def _wait_for(condition: Callable[[], bool], seconds: float = 2.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.005)


def test_a_burst_gives_one_call_now_and_one_at_the_end_of_the_window() -> None:
    calls: list[float] = []
    debounce = Debouncer(0.05)
    ran_now = [debounce(lambda: calls.append(time.monotonic())) for _ in range(200)]
    assert ran_now[0] is True
    assert not any(ran_now[1:])
    assert len(calls) == 1
    _wait_for(lambda: len(calls) == 2)
    assert len(calls) == 2, "the calls asked for inside the window got their trailing call"
    assert calls[1] - calls[0] >= 0.04
    time.sleep(0.12)
    assert len(calls) == 2, "nothing more without a new request"


def test_after_a_quiet_window_a_call_runs_at_once() -> None:
    calls: list[int] = []
    debounce = Debouncer(0.03)
    assert debounce(lambda: calls.append(1)) is True
    time.sleep(0.06)
    assert debounce(lambda: calls.append(2)) is True
    assert calls == [1, 2]


def test_threads_hammering_it_still_get_a_trailing_call() -> None:
    calls: list[int] = []
    debounce = Debouncer(0.05)
    threads = [threading.Thread(target=lambda: [debounce(lambda: calls.append(1))
                                                for _ in range(100)]) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    _wait_for(lambda: len(calls) >= 2)
    time.sleep(0.1)
    assert 2 <= len(calls) <= 3


def test_batches_shrink_while_a_remote_provider_is_on() -> None:
    from config import Settings
    from workers.tasks.moderation import REMOTE_BATCH_SIZE, batch_size_for

    assert batch_size_for(Settings()) == 128
    assert batch_size_for(Settings(moderation_batch_size=8, akismet_key="k")) == 8
    assert batch_size_for(Settings(akismet_key="k")) == REMOTE_BATCH_SIZE
    assert batch_size_for(Settings(perspective_key="k")) == REMOTE_BATCH_SIZE
