"""How much a site's own model (``warden train``) adds once its moderators have labelled.

The spam target is measured on a video the shipped model never saw. A real site is also
a place the shipped model never saw, but it is not left there: its moderators decide
comments, every decision is a label, and ``warden train`` fits the site's own model on
them. This replays that onboarding on each YouTube video, in the order comments were
posted:

1. the general spam model is trained without the video (as ``train_spam --exclude-video``);
2. the site runs in ``manual`` mode for its first ``--label-first`` comments: moderators
   decide each one, so each is a spam or ham label (toxicity decisions make no spam label,
   and this file has no toxic labels);
3. the site's model is fitted, cross-validated and calibrated by the production code of
   ``warden train`` (``workers.site_training``);
4. the rest of the video is decided by the real pipeline (``workers.evaluation``, the code
   ``warden eval`` runs) without and with the site's model.

The rows are read from the data directory and never written anywhere.

    python -m training.moderator_loop --data-dir ../shared/data --label-first 100
    python -m training.moderator_loop --label-first 50 --label-first 100 --json
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import pathlib
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

REPO = pathlib.Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from config import Settings  # noqa: E402
from training.train_spam import EXTRA_HAM, SPAM, load_clean  # noqa: E402
from training.train_spam import fit as fit_general  # noqa: E402
from workers.checks import offline_checks  # noqa: E402
from workers.checks.base import Check  # noqa: E402
from workers.checks.models_text import SpamTextCheck  # noqa: E402
from workers.checks.site_models import LoadedSiteModel  # noqa: E402
from workers.checks.site_spam import SiteSpamCheck  # noqa: E402
from workers.evaluation import Evaluation, LabelledSet, evaluate  # noqa: E402
from workers.site_training import choose_points, cross_validate  # noqa: E402
from workers.site_training import fit as fit_site  # noqa: E402

SITE = "replayed-video"
DEFAULT_MIN_EXAMPLES = Settings().train_min_examples  # WARDEN_TRAIN_MIN_EXAMPLES' default


@dataclass(frozen=True)
class Row:
    id: str
    text: str
    spam: bool
    video: str
    date: str


@dataclass(frozen=True)
class OneSiteModel:
    """What ``SiteSpamCheck`` asks its registry for, holding the one model fitted here."""

    loaded: LoadedSiteModel

    def current(self, site_id: str) -> LoadedSiteModel | None:
        return self.loaded if site_id == self.loaded.site_id else None


def load_rows(path: pathlib.Path) -> list[Row]:
    with path.open(newline="", encoding="utf-8") as fh:
        return [Row(r["id"], r["text"], r["label"] == "spam", r["video"], r["date"])
                for r in csv.DictReader(fh)]


def in_posting_order(rows: Sequence[Row]) -> list[Row]:
    """Oldest first (ISO 8601 dates sort as text); undated rows last, in file order."""
    return sorted(rows, key=lambda r: (r.date == "", r.date))


def labelled_set(rows: Sequence[Row], name: str) -> LabelledSet:
    return LabelledSet(name, "spam", [r.id for r in rows], [r.text for r in rows],
                       [None] * len(rows), np.array([r.spam for r in rows], dtype=np.int8))


def general_spam_check(rows: Sequence[Row], video: str, extra_ham: Sequence[str],
                       workdir: pathlib.Path) -> SpamTextCheck:
    """``spam_text`` with a model that never saw ``video`` (through its documented override)."""
    others = [r for r in rows if r.video != video]
    model = fit_general([r.text for r in others], np.array([r.spam for r in others], dtype=int),
                        extra_ham)
    path = workdir / f"spam-without-{video}.npz"
    model.save(path)
    previous = os.environ.get(SpamTextCheck.override_env)
    os.environ[SpamTextCheck.override_env] = str(path)
    try:
        check = SpamTextCheck()
        check.model  # noqa: B018 - load now, while the override names this artefact
    finally:
        if previous is None:
            os.environ.pop(SpamTextCheck.override_env, None)
        else:
            os.environ[SpamTextCheck.override_env] = previous
    return check


def site_model(labelled: Sequence[Row]) -> tuple[LoadedSiteModel, dict[str, Any]]:
    """``warden train``'s fit, cross-validation and calibration on the moderators' labels."""
    texts = [r.text for r in labelled]
    y = np.array([r.spam for r in labelled], dtype=np.int64)
    oof, folds = cross_validate(texts, y)
    review_at, reject_at, points = choose_points(y, oof)
    model = fit_site(texts, y)
    n_spam = int(y.sum())
    loaded = LoadedSiteModel(SITE, 1, model, review_at, reject_at, n_spam, len(y) - n_spam)
    return loaded, {"n_spam": n_spam, "n_ham": len(y) - n_spam, "folds": folds,
                    "review_at": round(review_at, 4), "reject_at": round(reject_at, 4),
                    "cv_reject": points["reject"]}


def _summary(ev: Evaluation) -> dict[str, Any]:
    d = ev.decision
    return {"precision": d["precision"], "recall": d["recall"], "f1": d["f1"],
            "hold_rate": d["hold_rate"], "recall_incl_hold": d["recall_incl_hold"],
            "spam_only_f1": ev.own_kind["f1"], "statuses": ev.statuses}


def replay_video(rows: Sequence[Row], video: str, label_first: int, extra_ham: Sequence[str],
                 prose: LabelledSet | None, workdir: pathlib.Path,
                 min_examples: int = DEFAULT_MIN_EXAMPLES) -> dict[str, Any]:
    ordered = in_posting_order([r for r in rows if r.video == video])
    labelled, rest = ordered[:label_first], ordered[label_first:]
    general = general_spam_check(rows, video, extra_ham, workdir)
    without: list[Check] = [general if c.name == "spam_text" else c for c in offline_checks()]
    rest_set = labelled_set(rest, f"{video}: comments after the first {label_first}")
    report: dict[str, Any] = {
        "video": video, "labelled": len(labelled), "evaluated": len(rest),
        "evaluated_spam": int(sum(r.spam for r in rest)),
        "last_labelled_date": labelled[-1].date if labelled else None,
        "without_site_model": _summary(evaluate(rest_set, without)),
    }
    n_spam = sum(r.spam for r in labelled)
    if min(n_spam, len(labelled) - n_spam) < min_examples:
        # ``warden train`` refuses here (WARDEN_TRAIN_MIN_EXAMPLES): no site model yet.
        report["site_model"] = {"refused": True, "n_spam": n_spam,
                                "n_ham": len(labelled) - n_spam, "min_examples": min_examples}
        return report
    loaded, trained = site_model(labelled)
    with_site = [*without, SiteSpamCheck(OneSiteModel(loaded))]
    report["site_model"] = trained
    report["with_site_model"] = _summary(evaluate(rest_set, with_site, site_id=SITE))
    if prose is not None:
        # The site's model is trained on this video's comments: how it treats ordinary prose
        # says whether it could run on a site whose readers write differently.
        ev = evaluate(prose, with_site, site_id=SITE)
        report["prose_marked_spam_with_site_model"] = ev.statuses.get("spam", 0)
        report["prose_n"] = ev.n
    return report


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", type=pathlib.Path, default=pathlib.Path("../shared/data"))
    ap.add_argument("--label-first", type=int, action="append", metavar="N",
                    help="moderators label each video's first N comments (repeatable; "
                         "default 100)")
    ap.add_argument("--video", action="append", metavar="NAME",
                    help="only this video (repeatable; default: every video in the file)")
    ap.add_argument("--prose", action="store_true",
                    help="also count the clean Jigsaw dev comments the site model marks spam")
    ap.add_argument("--min-examples", type=int, default=DEFAULT_MIN_EXAMPLES, metavar="N",
                    help="spam and ham labels each before a site model is trained, as "
                         "WARDEN_TRAIN_MIN_EXAMPLES (default %(default)s)")
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    args = ap.parse_args(argv)
    rows = load_rows(args.data_dir / SPAM)
    videos = args.video or sorted({r.video for r in rows})
    unknown = sorted(set(videos) - {r.video for r in rows})
    if unknown:
        ap.error(f"unknown video(s) {unknown}")
    extra_ham = load_clean(args.data_dir / EXTRA_HAM)
    prose = None
    if args.prose:
        clean = load_clean(args.data_dir / "toxicity_jigsaw_wiki_dev.csv")
        prose = LabelledSet("jigsaw dev clean", "spam", [str(i) for i in range(len(clean))],
                            clean, [None] * len(clean), np.zeros(len(clean), dtype=np.int8))
    results = []
    with tempfile.TemporaryDirectory(prefix="warden-loop-") as tmp:
        for n in args.label_first or [100]:
            for video in videos:
                results.append(replay_video(rows, video, n, extra_ham, prose, pathlib.Path(tmp),
                                            args.min_examples))
                if not args.json:
                    _print(results[-1])
    if args.json:
        print(json.dumps({"results": results}, indent=2))
    return 0


def _print(r: dict[str, Any]) -> None:
    m = r["site_model"]
    if m.get("refused"):
        print(f"{r['video']}: moderators label the first {r['labelled']} comments "
              f"({m['n_spam']} spam, {m['n_ham']} ham): too few of one class for a site model "
              f"(needs {m['min_examples']} each); the next {r['evaluated']} get "
              f"F1 {r['without_site_model']['f1']:.3f} without one")
        return
    print(f"{r['video']}: moderators label the first {r['labelled']} comments "
          f"({m['n_spam']} spam, {m['n_ham']} ham, up to {r['last_labelled_date']}); "
          f"site model holds from {m['review_at']:.2f}, marks spam from {m['reject_at']:.2f}")
    print(f"  the next {r['evaluated']} ({r['evaluated_spam']} spam), decided by the pipeline:")
    for key in ("without_site_model", "with_site_model"):
        s = r[key]
        print(f"    {key.replace('_', ' '):20s} P {s['precision']:.3f}  R {s['recall']:.3f}  "
              f"F1 {s['f1']:.3f}  spam-only F1 {s['spam_only_f1']:.3f}  "
              f"held {s['hold_rate']:.1%}  {s['statuses']}")
    if "prose_n" in r:
        print(f"    clean prose marked spam with the site model: "
              f"{r['prose_marked_spam_with_site_model']} of {r['prose_n']}")


if __name__ == "__main__":
    raise SystemExit(main())
