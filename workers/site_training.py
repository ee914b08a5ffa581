"""Fitting a site's own spam model from its moderators' labels (``warden train``, beat job).

Why this shape:

* The model is the project's ``LinearTextModel`` (hashed word + char n-grams, logistic
  regression), with smaller hash spaces than the shipped model: a site has hundreds or
  thousands of labels, not tens of thousands, and the artefact lives in a database row.
* Cross-validation groups identical texts (after normalisation) into the same fold: a
  campaign repeats itself, and a copy in the training fold would make a held-out copy look
  "caught" without the model having generalised at all.
* The check's two points (``review_at`` -> hold, ``reject_at`` -> mark as spam) come from
  the out-of-fold scores: review at the best F1, reject only where the held-out precision
  reached ``REJECT_PRECISION``; short of that the model can hold but never decide alone.
* A few ordinary news comments ship with the code as background ham, down-weighted, so a
  model trained on a narrow set of approvals does not treat every unfamiliar topic as spam.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from service.models import LabelKind, ModerationLabel, Site, SiteModel, utcnow
from workers.checks.textmodel import Block, LinearTextModel, fit_linear_model, normalize_for_model
from workers.news_prose import NEWS_PROSE

log = logging.getLogger("warden.learning")

BLOCKS = [
    Block("word", "word", 2**16, (1, 2), sublinear_tf=True, use_idf=True),
    Block("char", "char_wb", 2**16, (2, 4), sublinear_tf=True, use_idf=True),
    Block("meta", "meta", 2**10, (1, 1), sublinear_tf=False, use_idf=False, scale=0.5),
]
C = 10.0
FOLDS = 5
REJECT_PRECISION = 0.95
REVIEW_RANGE = (0.2, 0.8)
# A model that has seen a few dozen examples decides alone only when it is at least this
# sure, whatever the cross-validation says.
REJECT_FLOOR = 0.6
KEEP_VERSIONS = 3
# Weight of the background ham (workers/news_prose.py) beside the site's own labels.
BACKGROUND_WEIGHT = 0.3


class NotEnoughLabels(ValueError):
    """Too few labelled examples of a class to fit (or judge) a model."""


@dataclass
class TrainReport:
    site_id: str
    version: int
    n_spam: int
    n_ham: int
    n_toxic_ignored: int
    review_at: float
    reject_at: float
    metrics: dict[str, Any]
    seconds: float
    artefact_bytes: int
    pruned_versions: list[int] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def summary(self) -> str:
        m = self.metrics
        review, reject = m["review"], m["reject"]
        reject_text = (f"marks spam from {self.reject_at:.2f} (CV precision "
                       f"{reject['precision']:.2f}, recall {reject['recall']:.2f})"
                       if reject["reached"] else
                       f"never marks spam alone (CV precision never reached "
                       f"{REJECT_PRECISION:.2f}; reject point {self.reject_at:.2f})")
        return (f"site {self.site_id}: model v{self.version} from {self.n_spam} spam and "
                f"{self.n_ham} ham labels ({self.n_toxic_ignored} toxic labels not used) "
                f"in {self.seconds:.1f}s, {self.artefact_bytes / 1024:.0f} KiB\n"
                f"  {m['folds']}-fold CV over {m['distinct_texts']} distinct texts: ROC-AUC "
                f"{_fmt(m['roc_auc'])}\n"
                f"  holds from {self.review_at:.2f} (CV precision {review['precision']:.2f}, "
                f"recall {review['recall']:.2f}); {reject_text}")


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def load_examples(session: Session, site_id: str) -> tuple[list[str], np.ndarray, int]:
    """The site's spam and ham labels as (texts, y) plus how many toxic labels were left out."""
    rows = session.execute(select(ModerationLabel.text, ModerationLabel.label)
                           .where(ModerationLabel.site_id == site_id)
                           .order_by(ModerationLabel.id)).all()
    texts = [t for t, label in rows if label != LabelKind.TOXIC]
    y = np.array([label == LabelKind.SPAM for _, label in rows if label != LabelKind.TOXIC],
                 dtype=np.int64)
    return texts, y, sum(1 for _, label in rows if label == LabelKind.TOXIC)


def fit(texts: Sequence[str], y: np.ndarray, meta: dict[str, Any] | None = None
        ) -> LinearTextModel:
    """Fit on the site's labels plus the down-weighted background ham."""
    all_texts = list(texts) + list(NEWS_PROSE)
    labels = np.concatenate([y, np.zeros(len(NEWS_PROSE), dtype=np.int64)])
    weights = np.concatenate([np.ones(len(texts)),
                              np.full(len(NEWS_PROSE), BACKGROUND_WEIGHT)])
    return fit_linear_model(all_texts, labels, BLOCKS, c=C, sample_weight=weights,
                            class_weight="balanced", metadata=meta)


def cross_validate(texts: Sequence[str], y: np.ndarray) -> tuple[np.ndarray, int]:
    """Out-of-fold probabilities; identical (normalised) texts always share a fold."""
    from sklearn.model_selection import StratifiedGroupKFold

    groups = np.array([normalize_for_model(t) for t in texts])
    # Each class needs a distinct text per fold.
    per_class = min(len(set(groups[y == 1])), len(set(groups[y == 0])))
    folds = min(FOLDS, per_class)
    if folds < 2:
        raise NotEnoughLabels("too few distinct texts of each class to cross-validate")
    oof = np.zeros(len(texts))
    splitter = StratifiedGroupKFold(n_splits=folds, shuffle=True, random_state=20261125)
    for train, test in splitter.split(np.zeros(len(texts)), y, groups):
        model = fit([texts[i] for i in train], y[train])
        oof[test] = model.score([texts[i] for i in test])
    return oof, folds


def _at(y: np.ndarray, scores: np.ndarray, threshold: float) -> dict[str, float]:
    flagged = scores >= threshold
    tp = int((flagged & (y == 1)).sum())
    precision = tp / int(flagged.sum()) if flagged.any() else 1.0
    recall = tp / int((y == 1).sum()) if (y == 1).any() else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"threshold": round(float(threshold), 4), "precision": round(precision, 4),
            "recall": round(recall, 4), "f1": round(f1, 4), "flagged": int(flagged.sum()),
            "ham_flagged": int((flagged & (y == 0)).sum())}


def choose_points(y: np.ndarray, oof: np.ndarray) -> tuple[float, float, dict[str, Any]]:
    """``review_at`` at the best out-of-fold F1; ``reject_at`` where precision is high."""
    candidates = np.unique(np.round(oof, 4))
    best_f1, review_at = -1.0, 0.5
    for t in candidates:
        f1 = _at(y, oof, float(t))["f1"]
        if f1 > best_f1:
            best_f1, review_at = f1, float(t)
    review_at = float(np.clip(review_at, *REVIEW_RANGE))
    reject_at, reached = 0.99, False
    for t in candidates:
        if t < max(review_at + 0.05, REJECT_FLOOR) or t > 0.99:
            continue
        m = _at(y, oof, float(t))
        # Precision over at least three flagged comments, so one lucky score is not enough.
        if m["precision"] >= REJECT_PRECISION and m["flagged"] >= 3:
            reject_at, reached = float(t), True
            break
    reject_at = max(reject_at, review_at + 0.05)
    review = _at(y, oof, review_at)
    reject = {**_at(y, oof, reject_at), "reached": reached}
    return review_at, reject_at, {"review": review, "reject": reject}


def train_site_model(session: Session, site_id: str, *, min_examples: int,
                     trained_by: str = "cli") -> TrainReport:
    """Fit, cross-validate and store a new version of ``site_id``'s model; commit."""
    if session.get(Site, site_id) is None:
        raise LookupError(f"no site {site_id!r}")
    texts, y, n_toxic = load_examples(session, site_id)
    n_spam, n_ham = int(y.sum()), int(len(y) - y.sum())
    if n_spam < min_examples or n_ham < min_examples:
        raise NotEnoughLabels(
            f"site {site_id} has {n_spam} spam and {n_ham} ham labels; training needs at "
            f"least {min_examples} of each (moderators' 'spam' and 'approve' decisions "
            "make labels)")
    from sklearn.metrics import roc_auc_score

    started = time.perf_counter()
    oof, folds = cross_validate(texts, y)
    review_at, reject_at, points = choose_points(y, oof)
    distinct = len({normalize_for_model(t) for t in texts})
    metrics = {"folds": folds, "distinct_texts": distinct,
               "roc_auc": round(float(roc_auc_score(y, oof)), 4), **points,
               "protocol": "stratified group k-fold (identical texts share a fold) over the "
                           "site's spam/ham labels; background ham only in training folds"}
    version = (session.scalar(select(func.max(SiteModel.version))
                              .where(SiteModel.site_id == site_id)) or 0) + 1
    meta = {"name": f"site-spam-{site_id}", "version": f"v{version}", "site": site_id,
            "positive_class": "spam", "n_spam": n_spam, "n_ham": n_ham,
            "trained_at": utcnow().replace(microsecond=0).isoformat(),
            "estimator": f"LogisticRegression(C={C}, liblinear, L2, balanced)",
            "background_ham": {"n": len(NEWS_PROSE), "weight": BACKGROUND_WEIGHT}}
    model = fit(texts, y, meta)
    artefact = model.to_bytes()
    seconds = time.perf_counter() - started
    session.add(SiteModel(site_id=site_id, version=version, n_spam=n_spam, n_ham=n_ham,
                          artefact=artefact, metrics=metrics, review_at=review_at,
                          reject_at=reject_at, trained_by=trained_by[:80],
                          train_seconds=round(seconds, 3)))
    try:
        session.flush()
    except IntegrityError:
        session.rollback()
        raise RuntimeError(f"another training of site {site_id} stored version {version} "
                           "first; run it again") from None
    pruned = list(session.scalars(select(SiteModel.version).where(
        SiteModel.site_id == site_id, SiteModel.version <= version - KEEP_VERSIONS)))
    for old in session.scalars(select(SiteModel).where(SiteModel.site_id == site_id,
                                                       SiteModel.version.in_(pruned))):
        session.delete(old)
    session.commit()
    report = TrainReport(site_id=site_id, version=version, n_spam=n_spam, n_ham=n_ham,
                         n_toxic_ignored=n_toxic, review_at=round(review_at, 4),
                         reject_at=round(reject_at, 4), metrics=metrics,
                         seconds=round(seconds, 3), artefact_bytes=len(artefact),
                         pruned_versions=pruned)
    log.info("trained site model %s v%d on %d spam / %d ham in %.1fs", site_id, version,
             n_spam, n_ham, seconds, extra={"site": site_id})
    return report


def sites_due(session: Session, min_new: int) -> list[str]:
    """Sites with at least ``min_new`` spam/ham labels given since their latest model."""
    latest = (select(SiteModel.site_id, func.max(SiteModel.created_at).label("at"))
              .group_by(SiteModel.site_id).subquery())
    rows = session.execute(
        select(ModerationLabel.site_id, func.count())
        .outerjoin(latest, latest.c.site_id == ModerationLabel.site_id)
        .where(ModerationLabel.label != LabelKind.TOXIC,
               (latest.c.at.is_(None)) | (ModerationLabel.created_at > latest.c.at))
        .group_by(ModerationLabel.site_id)
    ).all()
    return sorted(site for site, n in rows if n >= min_new)
