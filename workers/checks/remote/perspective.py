"""Perspective (https://developers.perspectiveapi.com/): TOXICITY and related attributes.

The TOXICITY summary score decides, calibrated like the local models: Perspective's own
guidance puts human review from 0.7, and we reject (with the other attributes named in the
reason) only from 0.95. ``doNotStore`` is always set: Google keeps nothing.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import httpx

from workers.checks.base import CommentContext, Kind, Verdict, calibrate
from workers.checks.remote.calls import (
    NoOpinion,
    clip,
    each,
    guarded,
    install_redaction,
    timeouts,
)

ATTRIBUTES = ("TOXICITY", "SEVERE_TOXICITY", "INSULT", "THREAT", "IDENTITY_ATTACK", "PROFANITY")
REVIEW_AT = 0.7
REJECT_AT = 0.95
MENTION_FROM = 0.5  # other attributes named in the reason from this score
MAX_BYTES = 20_000  # Perspective refuses texts over 20 KB; ours are normally far shorter


class PerspectiveCheck:
    """Asks comments:analyze about each comment (in parallel, bounded)."""

    name = "perspective"
    version = "v1alpha1"
    kind: Kind = "toxicity"

    def __init__(self, key: str, base_url: str, timeout: float, *,
                 languages: str = "en") -> None:
        self._key = key
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.languages = [] if languages == "auto" else languages.split(",")
        install_redaction()

    def __repr__(self) -> str:  # no key in reprs, tracebacks or logs
        return f"PerspectiveCheck({self.base_url!r})"

    def run_batch(self, contexts: Sequence[CommentContext]) -> list[Verdict | None]:
        with httpx.Client(timeout=timeouts(self.timeout), follow_redirects=False) as http:
            def one(context: CommentContext) -> Verdict | None:
                return guarded(self.name, lambda c: self._ask(http, c), context)

            return each(contexts, one)

    def request_body(self, context: CommentContext) -> dict[str, Any]:
        body: dict[str, Any] = {
            "comment": {"text": _clip_bytes(context.text, MAX_BYTES)},
            "requestedAttributes": {name: {} for name in ATTRIBUTES},
            "doNotStore": True,
        }
        if self.languages:
            body["languages"] = self.languages
        return body

    def _ask(self, http: httpx.Client, context: CommentContext) -> Verdict:
        response = http.post(f"{self.base_url}/v1alpha1/comments:analyze",
                             params={"key": self._key}, json=self.request_body(context))
        if not response.is_success:
            raise NoOpinion(f"perspective answered HTTP {response.status_code}"
                            f"{_error_message(response)}")
        scores = parse_scores(response)
        toxicity = scores["TOXICITY"]
        named = [f"TOXICITY {toxicity:.2f}"] + [
            f"{name} {value:.2f}"
            for name, value in sorted(scores.items(), key=lambda item: -item[1])
            if name != "TOXICITY" and value >= MENTION_FROM
        ]
        reason = "perspective " + ", ".join(named)
        return Verdict(self.name, self.version, self.kind,
                       calibrate(toxicity, REVIEW_AT, REJECT_AT), [reason])


def _clip_bytes(text: str, limit: int) -> str:
    """At most ``limit`` UTF-8 bytes, never cutting a character in half."""
    return text.encode()[:limit].decode(errors="ignore")


def parse_scores(response: httpx.Response) -> dict[str, float]:
    """attributeScores.ATTR.summaryScore.value for each attribute; TOXICITY is required."""
    try:
        doc = response.json()
        found = doc["attributeScores"]
        scores = {name: float(found[name]["summaryScore"]["value"])
                  for name in ATTRIBUTES if name in found}
    except (ValueError, KeyError, TypeError):
        raise NoOpinion("perspective sent a reply that is not the documented JSON") from None
    if "TOXICITY" not in scores or not all(
            math.isfinite(v) and 0.0 <= v <= 1.0 for v in scores.values()):
        raise NoOpinion("perspective sent no usable TOXICITY score")
    return scores


def _error_message(response: httpx.Response) -> str:
    try:
        message = response.json()["error"]["message"]
    except (ValueError, KeyError, TypeError):
        return ""
    return f": {clip(str(message), 120)}"
