"""Train (and optionally evaluate) the toxicity model shipped as workers/checks/models/toxicity.npz.

Why a script: the artefact must be reproducible from the labelled data in ``shared/data``
with one command, and its held-out figures must be measured the same way every time.

    python -m training.train_toxicity --evaluate      # held-out figures only
    python -m training.train_toxicity                 # evaluate, then train on all and save
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import pathlib
import re
import sys
import time
from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn.metrics import precision_recall_curve, roc_auc_score
from sklearn.model_selection import train_test_split

REPO = pathlib.Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from workers.checks.textmodel import Block, LinearTextModel, fit_linear_model  # noqa: E402

NAME = "toxicity"
VERSION = "tox-lr-3"
JIGSAW_TRAIN = "toxicity_jigsaw_wiki_train.csv"
JIGSAW_DEV = "toxicity_jigsaw_wiki_dev.csv"
DAVIDSON = "toxicity_davidson_dev.csv"
#: Davidson tweets are 83 % toxic and tweet-shaped. Trained on as they were (tox-lr-1
#: weighted them 0.5), the model learnt that being tweet-like is toxic: "lol", "u" and short
#: informal comments scored high (shipped tox-lr-1: "LOL never gets old" 0.83). tox-lr-2
#: gives them an indicator column (``fit_linear_model``'s ``source``) that absorbs their base
#: rate and is dropped at inference, so the words learn only what tells a toxic tweet from a
#: clean one.
#: Held out: Jigsaw dev ROC-AUC 0.947 -> 0.950, recall at precision 0.8 0.603 -> 0.634
#: (training/README.md); the Davidson split's ranking stays (0.969).
DAVIDSON_SOURCE = 1
#: Talk-page comments are long, and the short ones are mostly abuse ("fuck off"), so tox-lr-2
#: learnt that a short comment leans toxic: "what a goal" 0.60, "I hate Mondays" 0.88 and
#: "Oh crap I missed the match" 0.82 against a reject point of 0.41. tox-lr-3 adds up to
#: FRAGMENTS_PER_COMMENT sentences of 2-12 words from each *clean* Jigsaw comment as clean
#: examples (a sentence of a clean comment is clean), so short text is judged by its words.
#: Held out: clean sentences of the Jigsaw dev file above the reject point 4.1 % -> 1.3 %,
#: Jigsaw dev ROC-AUC 0.950 -> 0.952 (training/README.md).
FRAGMENTS_PER_COMMENT = 2
FRAGMENT_WORDS = (2, 12)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n+")
C = 30.0
BLOCKS = [
    Block("word", "word", 2**18, (1, 2), sublinear_tf=True, use_idf=True),
    Block("char", "char_wb", 2**18, (2, 4), sublinear_tf=True, use_idf=True),
]
SOURCE_NOTE = {DAVIDSON: "indicator column fitted, dropped at inference"}
SANITY_CLEAN = "Thanks for this clear report on the ceasefire talks; the timeline helped me a lot."
SANITY_TOXIC = "You are a worthless idiot, shut your stupid mouth you moron."


def load_csv(path: pathlib.Path, positive: str) -> tuple[list[str], np.ndarray]:
    """Texts and 0/1 labels (1 = ``positive``) from a shared/data CSV."""
    with path.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    return [r["text"] for r in rows], np.array([r["label"] == positive for r in rows], dtype=int)


def threshold_at_precision(y: np.ndarray, p: np.ndarray, target: float) -> float:
    """Lowest threshold whose precision reaches ``target`` (max recall at that precision)."""
    prec, _rec, th = precision_recall_curve(y, p)
    ok = np.nonzero(prec[:-1] >= target)[0]
    return float(th[ok[0]]) if len(ok) else float(th[-1])


def best_f1_threshold(y: np.ndarray, p: np.ndarray) -> float:
    prec, rec, th = precision_recall_curve(y, p)
    f1 = 2 * prec[:-1] * rec[:-1] / np.maximum(prec[:-1] + rec[:-1], 1e-12)
    return float(th[int(np.argmax(f1))])


def at_threshold(y: np.ndarray, p: np.ndarray, t: float) -> dict[str, float]:
    pred = p >= t
    tp = int((pred & (y == 1)).sum())
    fp = int((pred & (y == 0)).sum())
    fn = int((~pred & (y == 1)).sum())
    prec = tp / (tp + fp) if tp + fp else 0.0
    rec = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * prec * rec / (prec + rec) if prec + rec else 0.0
    fpr = fp / max(int((y == 0).sum()), 1)
    return {
        "threshold": round(t, 4),
        "precision": round(prec, 4),
        "recall": round(rec, 4),
        "f1": round(f1, 4),
        "fpr": round(fpr, 4),
    }


def clean_fragments(texts: Sequence[str], labels: np.ndarray, seed: int,
                    per_comment: int = FRAGMENTS_PER_COMMENT) -> list[str]:
    """Short sentences of the clean comments, each once: clean examples of short text."""
    rng = np.random.default_rng(seed)
    lo, hi = FRAGMENT_WORDS
    out: dict[str, None] = {}
    for text, label in zip(texts, labels, strict=True):
        if label:
            continue
        sentences = [s.strip() for s in _SENTENCE_END.split(text)]
        sentences = [s for s in sentences if lo <= len(s.split()) <= hi
                     and any(ch.isalpha() for ch in s)]
        if not sentences:
            continue
        picked = rng.choice(len(sentences), size=min(per_comment, len(sentences)), replace=False)
        for i in sorted(picked):
            out[sentences[i]] = None
    return list(out)


def with_fragments(texts: list[str], y: np.ndarray, source: np.ndarray, jigsaw: list[str],
                   jigsaw_y: np.ndarray, seed: int) -> tuple[list[str], np.ndarray, np.ndarray]:
    """The training rows plus the clean fragments of the Jigsaw comments among them."""
    fragments = clean_fragments(jigsaw, jigsaw_y, seed)
    return (texts + fragments, np.concatenate([y, np.zeros(len(fragments), dtype=int)]),
            np.concatenate([source, np.zeros(len(fragments), dtype=int)]))


def fit(
    texts: Sequence[str],
    y: np.ndarray,
    source: np.ndarray,
    seed: int,
    meta: dict[str, Any] | None = None,
) -> LinearTextModel:
    del seed  # liblinear with L2 is deterministic; kept for a uniform CLI
    return fit_linear_model(texts, y, BLOCKS, c=C, source=source, metadata=meta)


def davidson_split(
    data_dir: pathlib.Path, seed: int
) -> tuple[list[str], list[str], np.ndarray, np.ndarray]:
    """The 70/30 stratified Davidson split every held-out figure uses (train, test)."""
    dt_, dy = load_csv(data_dir / DAVIDSON, "toxic")
    dtr, dte, dytr, dyte = train_test_split(dt_, dy, test_size=0.3, random_state=seed, stratify=dy)
    return dtr, dte, dytr, dyte


def heldout_training_set(
    data_dir: pathlib.Path, seed: int
) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Jigsaw train (with its clean fragments) + 70 % of Davidson: what the held-out model
    learns from (texts, labels, source per row)."""
    jt, jy = load_csv(data_dir / JIGSAW_TRAIN, "toxic")
    dtr, _dte, dytr, _dyte = davidson_split(data_dir, seed)
    source = np.concatenate([np.zeros(len(jt), dtype=int), np.full(len(dtr), DAVIDSON_SOURCE)])
    return with_fragments(jt + dtr, np.concatenate([jy, dytr]), source, jt, jy, seed)


def evaluate(data_dir: pathlib.Path, seed: int, compare_profanity: bool = True) -> dict[str, Any]:
    """Held-out figures: Jigsaw dev unseen, plus a 30 % stratified Davidson split."""
    jt, _jy = load_csv(data_dir / JIGSAW_TRAIN, "toxic")
    jd, jdy = load_csv(data_dir / JIGSAW_DEV, "toxic")
    dtr, dte, _dytr, dyte = davidson_split(data_dir, seed)
    print(
        f"[evaluate] train: {JIGSAW_TRAIN} ({len(jt)}) + 70% of {DAVIDSON} ({len(dtr)}, "
        f"with an indicator column); held out: {JIGSAW_DEV} ({len(jd)}), 30% of {DAVIDSON} "
        f"({len(dte)})"
    )
    texts, y, source = heldout_training_set(data_dir, seed)
    model = fit(texts, y, source, seed)
    pj, pd = model.score(jd), model.score(dte)
    t_f1 = best_f1_threshold(jdy, pj)
    t_rej = threshold_at_precision(jdy, pj, 0.8)
    report: dict[str, Any] = {
        "jigsaw_dev": {
            "n": len(jd),
            "positives": int(jdy.sum()),
            "roc_auc": round(float(roc_auc_score(jdy, pj)), 4),
            "at_review": at_threshold(jdy, pj, t_f1),
            "at_reject": at_threshold(jdy, pj, t_rej),
            "at_0.5": at_threshold(jdy, pj, 0.5),
        },
        "davidson_split": {
            "n": len(dte),
            "positives": int(dyte.sum()),
            "roc_auc": round(float(roc_auc_score(dyte, pd)), 4),
            "at_review": at_threshold(dyte, pd, t_f1),
            "at_reject": at_threshold(dyte, pd, t_rej),
        },
    }
    # Short clean text, unseen: sentences of the dev file's clean comments (another seed).
    dev_fragments = clean_fragments(jd, jdy, seed + 1)
    pf = model.score(dev_fragments)
    report["jigsaw_dev_clean_sentences"] = {
        "n": len(dev_fragments),
        "above_review": round(float((pf >= t_f1).mean()), 4),
        "above_reject": round(float((pf >= t_rej).mean()), 4),
    }
    print(f"  jigsaw_dev    ROC-AUC {report['jigsaw_dev']['roc_auc']:.4f}")
    for k in ("at_review", "at_reject", "at_0.5"):
        print(f"     {k:10s} {report['jigsaw_dev'][k]}")
    print(f"  davidson 30%  ROC-AUC {report['davidson_split']['roc_auc']:.4f}")
    for k in ("at_review", "at_reject"):
        print(f"     {k:10s} {report['davidson_split'][k]}")
    print(f"  jigsaw dev clean sentences {report['jigsaw_dev_clean_sentences']}")
    if compare_profanity:
        report["profanity_check"] = compare_with_profanity_check(jd, jdy, pj, dte, dyte, pd)
    return report


def compare_with_profanity_check(
    jd: list[str], jdy: np.ndarray, pj: np.ndarray, dte: list[str], dyte: np.ndarray, pd: np.ndarray
) -> dict[str, Any]:
    """alt-profanity-check on the same held-out rows (optimistic: it trained on both sources)."""
    try:
        from profanity_check import predict_prob
    except ImportError:
        print("  (alt-profanity-check not installed; comparison skipped)")
        return {}
    out: dict[str, Any] = {}
    for name, texts, y, ours in (("jigsaw_dev", jd, jdy, pj), ("davidson_split", dte, dyte, pd)):
        pc = np.asarray(predict_prob(list(texts)), dtype=float)
        row = {
            "ours": roc_auc_score(y, ours),
            "profanity_check": roc_auc_score(y, pc),
            "max": roc_auc_score(y, np.maximum(ours, pc)),
            "mean": roc_auc_score(y, (ours + pc) / 2),
        }
        out[name] = {k: round(float(v), 4) for k, v in row.items()}
        print(f"  ROC-AUC on {name:15s} " + "  ".join(f"{k}={v:.4f}" for k, v in row.items()))
    print("  (profanity-check was trained on Jigsaw+Davidson: its figures are optimistic)")
    return out


def write_heldout_model(
    data_dir: pathlib.Path, seed: int, out: pathlib.Path, report: dict[str, Any]
) -> int:
    """Save the evaluation model itself, for measuring the pipeline on unseen rows."""
    texts, y, source = heldout_training_set(data_dir, seed)
    jt, jy = load_csv(data_dir / JIGSAW_TRAIN, "toxic")
    n_jigsaw = len(jt)
    n_fragments = len(clean_fragments(jt, jy, seed))
    meta = {
        "name": NAME,
        "version": f"{VERSION}-heldout",
        "positive_class": "toxic",
        "trained_at": dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat(),
        "data_files": {JIGSAW_TRAIN: n_jigsaw,
                       f"{DAVIDSON} (70% split, seed {seed})": len(texts) - n_jigsaw - n_fragments,
                       "clean sentences of the Jigsaw comments": n_fragments},
        "source_indicators": SOURCE_NOTE,
        "estimator": f"LogisticRegression(C={C}, solver=liblinear, L2)",
        "heldout_metrics": report,
        "heldout_protocol": f"not trained on {JIGSAW_DEV} nor the 30% {DAVIDSON} split",
        "thresholds": {
            "review": report["jigsaw_dev"]["at_review"]["threshold"],
            "reject": report["jigsaw_dev"]["at_reject"]["threshold"],
        },
    }
    model = fit(texts, y, source, seed, meta)
    model.save(out)
    print(f"[train] wrote held-out model {out} ({out.stat().st_size / 1e6:.2f} MB)")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", type=pathlib.Path, default=pathlib.Path("../shared/data"))
    ap.add_argument(
        "--out", type=pathlib.Path, default=pathlib.Path("workers/checks/models/toxicity.npz")
    )
    ap.add_argument("--seed", type=int, default=20241124)
    ap.add_argument(
        "--evaluate",
        action="store_true",
        help="only print held-out figures; do not write an artefact",
    )
    ap.add_argument(
        "--no-compare", action="store_true", help="skip the alt-profanity-check comparison"
    )
    ap.add_argument(
        "--heldout-model",
        action="store_true",
        help="write the model --evaluate measures (without the Jigsaw dev file and the 30%% "
        "Davidson split) so `warden eval` on those is honest; use with --out /tmp/...",
    )
    args = ap.parse_args(argv)

    report = evaluate(args.data_dir, args.seed, compare_profanity=not args.no_compare)
    if args.evaluate:
        return 0
    if args.heldout_model:
        return write_heldout_model(args.data_dir, args.seed, args.out, report)

    files = [JIGSAW_TRAIN, JIGSAW_DEV, DAVIDSON]
    texts: list[str] = []
    labels: list[np.ndarray] = []
    sources: list[np.ndarray] = []
    counts: dict[str, int] = {}
    jigsaw_texts: list[str] = []
    jigsaw_labels: list[np.ndarray] = []
    for f in files:
        t, y = load_csv(args.data_dir / f, "toxic")
        texts += t
        labels.append(y)
        sources.append(np.full(len(t), DAVIDSON_SOURCE if f == DAVIDSON else 0))
        counts[f] = len(t)
        if f != DAVIDSON:
            jigsaw_texts += t
            jigsaw_labels.append(y)
    texts, y_all, source_all = with_fragments(
        texts, np.concatenate(labels), np.concatenate(sources), jigsaw_texts,
        np.concatenate(jigsaw_labels), args.seed)
    counts["clean sentences of the Jigsaw comments"] = len(texts) - sum(counts.values())
    print(f"[train] final model on {counts} (total {len(texts)})")
    jd_rep = report["jigsaw_dev"]
    meta = {
        "name": NAME,
        "version": VERSION,
        "positive_class": "toxic",
        "trained_at": dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat(),
        "data_files": counts,
        "source_indicators": SOURCE_NOTE,
        "estimator": f"LogisticRegression(C={C}, solver=liblinear, L2)",
        "heldout_metrics": report,
        "heldout_protocol": f"trained without {JIGSAW_DEV} and 30% of {DAVIDSON} "
        f"(stratified, seed {args.seed})",
        "thresholds": {
            "review": jd_rep["at_review"]["threshold"],
            "reject": jd_rep["at_reject"]["threshold"],
            "note": "review = best F1 on held-out Jigsaw dev; reject = precision >= 0.8 there",
        },
    }
    t0 = time.perf_counter()
    model = fit(texts, y_all, source_all, args.seed, meta)
    print(f"[train] fitted in {time.perf_counter() - t0:.1f}s")
    s = model.score([SANITY_CLEAN, SANITY_TOXIC])
    print(f"[sanity] clean={s[0]:.3f} toxic={s[1]:.3f}")
    model.save(args.out)
    print(f"[train] wrote {args.out} ({args.out.stat().st_size / 1e6:.2f} MB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
