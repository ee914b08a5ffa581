"""The project's own trained text models (training/), as checks: toxicity and spam text.

Artefacts are plain .npz weights (no pickle) loaded once per process; each carries the
thresholds measured on held-out data when it was trained (see training/README.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property
from pathlib import Path

from workers.checks.base import CommentContext, Kind, Verdict, calibrate
from workers.checks.textmodel import LinearTextModel

MODELS = Path(__file__).resolve().parent / "models"


class TextModelCheck:
    """A linear text model whose probability is calibrated onto the policy scale."""

    name: str
    kind: Kind
    artefact: str
    label: str
    review_at: float
    reject_at: float

    @cached_property
    def model(self) -> LinearTextModel:
        return LinearTextModel.load(MODELS / self.artefact)

    @property
    def version(self) -> str:
        return self.model.version

    def run_batch(self, contexts: Sequence[CommentContext]) -> list[Verdict]:
        if not contexts:
            return []
        raw = self.model.score([c.text for c in contexts])
        verdicts = []
        for ctx, probability in zip(contexts, raw, strict=True):
            score = calibrate(float(probability), self.review_at, self.reject_at)
            reasons = []
            if score >= 0.5:
                terms = self.model.top_terms(ctx.text, n=3)
                reasons.append(f"{self.label} {probability:.2f}"
                               + (f" (words: {', '.join(terms)})" if terms else ""))
            verdicts.append(Verdict(self.name, self.version, self.kind, score, reasons))
        return verdicts


class ToxicityCheck(TextModelCheck):
    name = "toxicity"
    kind = "toxicity"
    artefact = "toxicity.npz"
    label = "toxicity"
    # Held-out Jigsaw dev: review = best F1; reject = precision >= 0.8 (training/README.md).
    review_at = 0.43
    reject_at = 0.55


class SpamTextCheck(TextModelCheck):
    name = "spam_text"
    kind = "spam"
    artefact = "spam.npz"
    label = "spam-like text"
    # Best pooled F1 on unseen YouTube videos is at 0.14, but there it also flags 3% of
    # ordinary prose (and news comments citing one source), so a human looks from 0.3 and
    # it decides alone from 0.8.
    review_at = 0.3
    reject_at = 0.8
