"""Sending work to the broker from the web process.

The database is the record of pending work; a send here only wakes a worker sooner. If the
broker is down the send is logged and dropped, and the beat sweep re-enqueues the comment.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from celery import Celery
from flask import current_app, has_app_context
from kombu.exceptions import KombuError, OperationalError

from service.logs import request_id_var

log = logging.getLogger("warden.dispatch")

MODERATE_TASK = "warden.moderate_comment"
DISPATCH_EVENTS_TASK = "warden.dispatch_events"
DELIVER_WEBHOOK_TASK = "warden.deliver_webhook"
REPORT_TASK = "warden.report_to_providers"
QUEUE_MODERATION = "moderation"
QUEUE_WEBHOOKS = "webhooks"
QUEUE_HOUSEKEEPING = "housekeeping"

# Fail fast when the broker is down: the request has already committed, the sweep retries.
_PUBLISH_RETRY = {"max_retries": 1, "interval_start": 0, "interval_step": 0.2,
                  "interval_max": 0.2}


def _celery() -> Celery:
    """The producer bound to the current Flask app's settings (web, worker and tests alike)."""
    return current_app.extensions["warden_celery"]


class Debouncer:
    """At most one call per window; a call asked for inside the window happens at its end.

    For wake-ups whose task handles everything waiting when it runs (the webhook fan-out,
    a moderation batch): under load one wake per window does the work of hundreds. The
    trailing call keeps the delay of any request under one window; a trailing call lost
    with its process is covered by the beat sweeps.
    """

    def __init__(self, window: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.window = window
        self.clock = clock
        self.lock = threading.Lock()
        self.last = float("-inf")
        self.pending = False

    def __call__(self, action: Callable[[], object]) -> bool:
        """Run ``action`` now (True) or schedule it for the end of the window (False)."""
        with self.lock:
            now = self.clock()
            if self.pending:
                return False
            wait = self.last + self.window - now
            if wait <= 0:
                self.last = now
            else:
                self.pending = True
                timer = threading.Timer(wait, self._trailing, (action,))
                timer.daemon = True
                timer.start()
                return False
        action()
        return True

    def _trailing(self, action: Callable[[], object]) -> None:
        with self.lock:
            self.pending = False
            self.last = self.clock()
        action()


MODERATION_WAKE_WINDOW = 0.05
_moderation_wakes = Debouncer(MODERATION_WAKE_WINDOW)


def wake_moderation(comment_id: int) -> None:
    """After a submit: wake a worker, at most one send per window per web process.

    A task drains every waiting comment, not only the one it names, so one wake serves a
    burst (one message per comment would cost the worker more than the checks do). The
    first comment of a quiet spell is sent at once; a wake lost with its process is
    covered by the sweep.
    """
    _wake(_moderation_wakes, MODERATE_TASK, [comment_id], QUEUE_MODERATION,
          f"comment {comment_id}", comment_id=comment_id)


def enqueue_moderation(comment_id: int) -> bool:
    """Send the task now (the sweep's re-sends: a comment on a retry is never drained)."""
    return _send(MODERATE_TASK, [comment_id], QUEUE_MODERATION, f"comment {comment_id}",
                 comment_id=comment_id)


EVENT_WAKE_WINDOW = 0.1
_event_wakes = Debouncer(EVENT_WAKE_WINDOW)


def enqueue_event_dispatch() -> bool:
    """Wake the webhook fan-out after a commit that wrote events (no app: nothing to do)."""
    return _wake(_event_wakes, DISPATCH_EVENTS_TASK, [], QUEUE_WEBHOOKS, "events")


def _wake(wakes: Debouncer, task: str, args: list[int], queue: str, what: str,
          comment_id: int | None = None) -> bool:
    """Send through a debouncer; the app's producer and the request id are taken now,
    because a trailing send runs after the request, outside any app context."""
    if not has_app_context() or "warden_celery" not in current_app.extensions:
        return False
    celery, request_id = _celery(), request_id_var.get()
    wakes(lambda: _send(task, args, queue, what, celery=celery, request_id=request_id,
                        comment_id=comment_id))
    return True


def enqueue_delivery(delivery_id: int) -> bool:
    return _send(DELIVER_WEBHOOK_TASK, [delivery_id], QUEUE_WEBHOOKS,
                 f"webhook delivery {delivery_id}")


def enqueue_report(report_id: int) -> bool:
    """Wake the feedback sender after a commit that wrote a provider report."""
    if not has_app_context() or "warden_celery" not in current_app.extensions:
        return False
    return _send(REPORT_TASK, [report_id], QUEUE_WEBHOOKS, f"provider report {report_id}")


def _send(task: str, args: list[int], queue: str, what: str, *, celery: Celery | None = None,
          request_id: str | None = None, comment_id: int | None = None) -> bool:
    """Publish; ``celery`` and ``request_id`` are given when called outside the request."""
    try:
        (celery or _celery()).send_task(
            task, args=args, queue=queue,
            headers={"warden_request_id": request_id or request_id_var.get()},
            retry=True, retry_policy=_PUBLISH_RETRY)
    except (KombuError, OperationalError, OSError) as exc:
        log.warning("broker unavailable, the sweep will send %s: %s", what,
                    type(exc).__name__,
                    extra={"comment_id": comment_id} if comment_id is not None else None)
        return False
    return True


def broker_reachable() -> bool:
    try:
        with _celery().connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
    except (KombuError, OperationalError, OSError):
        return False
    return True
