"""What the remote checks share: bounded parallel calls, "no opinion", quiet logs.

Why a thread pool: a batch of 100 comments must not take 100 round trips in a row; calls
are I/O-bound, so at most ``MAX_PARALLEL`` run at once per check and batch.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import httpx

from workers.checks.base import CommentContext, Verdict

log = logging.getLogger("warden.remote")

MAX_PARALLEL = 8
T = TypeVar("T")


class NoOpinion(Exception):
    """The provider could not give a usable answer; ``str()`` says why, without secrets."""


def timeouts(seconds: float) -> httpx.Timeout:
    return httpx.Timeout(seconds, connect=seconds)


def each(contexts: Sequence[CommentContext], one: Callable[[CommentContext], T]) -> list[T]:
    """``one`` over every context, at most MAX_PARALLEL at a time, results in order."""
    if len(contexts) <= 1:
        return [one(context) for context in contexts]
    with ThreadPoolExecutor(max_workers=min(MAX_PARALLEL, len(contexts)),
                            thread_name_prefix="warden-remote") as pool:
        return list(pool.map(one, contexts))


def guarded(provider: str, ask: Callable[[CommentContext], Verdict],
            context: CommentContext) -> Verdict | None:
    """Ask the provider; any failure is logged (type and our words only) and means None."""
    try:
        return ask(context)
    except NoOpinion as exc:
        reason, detail = "error", str(exc)
    except httpx.TimeoutException as exc:
        reason, detail = "timeout", f"timed out ({type(exc).__name__})"
    except httpx.HTTPError as exc:
        # Not str(exc): some httpx messages carry the URL, and Perspective's has the key.
        reason, detail = "unreachable", f"request failed ({type(exc).__name__})"
    except Exception as exc:  # a bug here must still not hold every comment
        reason, detail = "bug", f"unexpected {type(exc).__name__}"
        log.debug("%s: unexpected error", provider, exc_info=True)
    log.warning("%s gave no opinion: %s; the other checks decide", provider, detail)
    count_no_opinion(provider, reason)
    return None


def count_no_opinion(provider: str, reason: str) -> None:
    try:
        from service.metrics import REMOTE_NO_OPINION
    except ImportError:  # pragma: no cover - metrics are optional for the checks
        return
    REMOTE_NO_OPINION.labels(provider, reason).inc()


def clip(text: str, limit: int = 200) -> str:
    """A provider's words for a log line: one line, short."""
    one_line = " ".join(text.split())
    return one_line if len(one_line) <= limit else one_line[: limit - 1] + "…"


_KEY_IN_QUERY = re.compile(r"([?&](?:key|api_key)=)[^&\s\"']+")


class RedactKeys(logging.Filter):
    """Scrub ``key=...`` from httpx's request log lines (Perspective's key is in the URL)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = _KEY_IN_QUERY.sub(r"\1***", message)
        if redacted != message:
            record.msg, record.args = redacted, ()
        return True


def install_redaction() -> None:
    """Once per process: httpx logs every request's URL at INFO."""
    for name in ("httpx", "httpcore"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactKeys) for f in logger.filters):
            logger.addFilter(RedactKeys())
