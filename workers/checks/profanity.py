"""Profanity from the installed alt-profanity-check package (offline, loaded once)."""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from importlib.metadata import version
from typing import Any

from workers.checks.base import CommentContext, Verdict, clamp

# Swearing is not abuse ("damn good article"): this check can ask for a human, never
# reject on its own; the trained toxicity model decides rejections.
MAX_SCORE = 0.85


@lru_cache(maxsize=1)
def _predict() -> Any:
    from profanity_check import predict_prob

    return predict_prob


# The profanity check and the toxicity check's second opinion ask about the same texts of
# a batch: the second asks for free. Bounded, and cleared rather than evicted: a worker
# process checks one batch at a time, and a lost entry is only computed again.
_RECENT: dict[str, float] = {}
_RECENT_MAX = 1024


def profanity_probabilities(texts: Sequence[str]) -> list[float]:
    """alt-profanity-check's probability per text (also the toxicity check's second opinion)."""
    if not texts:
        return []
    known: dict[str, float] = {}
    for text in texts:
        cached = _RECENT.get(text)  # one lookup: another thread may clear it meanwhile
        if cached is not None:
            known[text] = cached
    missing = [t for t in dict.fromkeys(texts) if t not in known]
    if missing:
        if len(_RECENT) + len(missing) > _RECENT_MAX:
            _RECENT.clear()
        for text, probability in zip(missing, _predict()(missing), strict=True):
            known[text] = _RECENT[text] = float(probability)
    return [known[t] for t in texts]


class ProfanityCheck:
    name = "profanity"
    version = f"alt-profanity-check-{version('alt-profanity-check')}"
    kind = "toxicity"

    def run_batch(self, contexts: Sequence[CommentContext]) -> list[Verdict]:
        if not contexts:
            return []
        scores = profanity_probabilities([c.text for c in contexts])
        return [
            Verdict(self.name, self.version, "toxicity", clamp(s) * MAX_SCORE,
                    [f"profanity {s:.2f}"] if s * MAX_SCORE >= 0.5 else [], may_reject=False)
            for s in scores
        ]
