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


def profanity_probabilities(texts: Sequence[str]) -> list[float]:
    """alt-profanity-check's probability per text (also the toxicity check's second opinion)."""
    if not texts:
        return []
    return [float(p) for p in _predict()(list(texts))]


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
