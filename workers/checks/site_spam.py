"""The site's own spam model, trained on its moderators' labels (``warden train``).

A campaign aimed at one site (the same pitch, reworded, again and again) is exactly what a
general model misses and what that site's moderators see every day. Comments of a site
without a model get no opinion from this check (``None``: skipped, not failed).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from workers.checks.base import HOLD_POINT, CommentContext, Kind, Verdict, calibrate
from workers.checks.site_models import SiteModelRegistry, registry


class SiteSpamCheck:
    name = "site_spam"
    kind: Kind = "spam"
    # Each verdict carries the model's own version ("v3"); this names the check's family.
    version = "site-model"
    #: Needs a site's model from the database: ``warden eval`` (offline) leaves it out.
    site_specific = True

    def __init__(self, models: SiteModelRegistry | None = None) -> None:
        self.models = models or registry

    def run_batch(self, contexts: Sequence[CommentContext]) -> list[Verdict | None]:
        out: list[Verdict | None] = [None] * len(contexts)
        by_site: dict[str, list[int]] = defaultdict(list)
        for i, ctx in enumerate(contexts):
            if ctx.site_id:
                by_site[ctx.site_id].append(i)
        for site_id, indexes in by_site.items():
            loaded = self.models.current(site_id)
            if loaded is None:
                continue
            texts = [contexts[i].text for i in indexes]
            for i, text, p in zip(indexes, texts, loaded.model.score(texts), strict=True):
                score = calibrate(float(p), loaded.review_at, loaded.reject_at)
                reasons = []
                if score >= HOLD_POINT:
                    terms = loaded.model.top_terms(text, n=3)
                    reasons.append(
                        f"site model {p:.2f}: resembles comments moderators marked spam on "
                        f"this site" + (f" (words: {', '.join(terms)})" if terms else "")
                        + f"; model v{loaded.version} from {loaded.n_spam} spam and "
                        f"{loaded.n_ham} approved examples")
                out[i] = Verdict(self.name, f"v{loaded.version}", self.kind, score, reasons)
        return out
