"""The real pipeline (checks + default policy) on the labelled dev files: quality floors.

Floors sit a little below what `warden eval` measured when they were set (README,
"Moderation quality"), so a regression in a model, a calibration point, a rule or the
policy fails here. Generalisation is measured with models that never saw the rows: a
toxicity model without the Jigsaw dev file and the 30 % Davidson split, and a spam model
without one video, both trained here (a few seconds each) by the training scripts' code.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from training import moderator_loop, train_spam, train_toxicity
from training.eval_sets import SEED
from workers.checks import Check, offline_checks
from workers.evaluation import Evaluation, LabelledSet, evaluate, load_labelled_csv
from workers.policy import Policy

pytestmark = pytest.mark.data

HELD_OUT_VIDEO = "KatyPerry"


def fresh_checks() -> list[Check]:
    """New instances of the shipped checks, so a model override applies to them only."""
    return [type(c)() for c in offline_checks()]


def run(data: LabelledSet, monkeypatch: pytest.MonkeyPatch, **models: Path) -> Evaluation:
    for env, path in models.items():
        monkeypatch.setenv(env, str(path))
    return evaluate(data, fresh_checks(), Policy())


def subset(data: LabelledSet, keep: np.ndarray) -> LabelledSet:
    idx = np.nonzero(keep)[0]
    return LabelledSet(data.path, data.task, [data.ids[i] for i in idx],
                       [data.texts[i] for i in idx], [data.parents[i] for i in idx],
                       data.labels[idx])


_TRAINED: dict[str, Path] = {}


@pytest.fixture
def models(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Held-out models (trained once per run): toxicity without its dev rows, spam
    without one video. ``data_dir`` is per test (it skips or fails), so the cache is here."""
    if not _TRAINED:
        out = tmp_path_factory.mktemp("models")
        texts, y, source = train_toxicity.heldout_training_set(data_dir, SEED)
        train_toxicity.fit(texts, y, source, SEED, {"name": "toxicity", "version": "test"}).save(
            out / "toxicity.npz")
        spam_texts, spam_y, _video = train_spam.load_spam_without(
            data_dir / train_spam.SPAM, [HELD_OUT_VIDEO])
        extra = train_spam.load_clean(data_dir / train_spam.EXTRA_HAM)
        train_spam.fit(spam_texts, spam_y, extra, {"name": "spam", "version": "test"}).save(
            out / "spam.npz")
        _TRAINED.update(toxicity=out / "toxicity.npz", spam=out / "spam.npz")
    return _TRAINED


def test_toxicity_on_unseen_wikipedia_comments(data_dir: Path, models: dict[str, Path],
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    data = load_labelled_csv(data_dir / "toxicity_jigsaw_wiki_dev.csv")
    result = run(data, monkeypatch, WARDEN_TOXICITY_MODEL=models["toxicity"])
    assert result.checks["toxicity"]["roc_auc"] >= 0.93  # measured 0.951 (tox-lr-1: 0.948)
    assert result.checks["toxicity"]["avg_precision"] >= 0.77  # measured 0.82 (0.81)
    rejections = result.own_kind
    assert rejections["precision"] >= 0.85  # measured 0.95 (0.94): a false rejection silences
    assert rejections["recall"] >= 0.54  # measured 0.59 (tox-lr-1: 0.56)
    assert result.decision["hold_rate"] <= 0.08  # measured 0.057 (0.070)


def test_identities_named_in_clean_sentences_are_not_rejected(
        data_dir: Path, models: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    """Short sentences of the dev file's clean comments ("Re: Gay Rights", "I would like to
    come out and admit my homosexuality"): the held-out model rejected 18 of 3,670, 6 of
    them for the identity they name alone; those now wait for a human."""
    dev = load_labelled_csv(data_dir / "toxicity_jigsaw_wiki_dev.csv")
    sentences = train_toxicity.clean_fragments(dev.texts, dev.labels, SEED + 1)  # as training
    data = LabelledSet("jigsaw-dev-clean-sentences", "toxicity",
                       [str(i) for i in range(len(sentences))], sentences,
                       [None] * len(sentences), np.zeros(len(sentences), dtype=np.int8))
    result = run(data, monkeypatch, WARDEN_TOXICITY_MODEL=models["toxicity"])
    assert result.statuses.get("rejected", 0) <= 14  # measured 12 (18 before the rule)


def test_toxicity_on_unseen_tweets(data_dir: Path, models: dict[str, Path],
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    _train, test, _ytr, yte = train_toxicity.davidson_split(data_dir, SEED)
    data = LabelledSet("davidson-30%", "toxicity", [str(i) for i in range(len(test))], test,
                       [None] * len(test), np.asarray(yte, dtype=np.int8))
    result = run(data, monkeypatch, WARDEN_TOXICITY_MODEL=models["toxicity"])
    assert result.checks["toxicity"]["roc_auc"] >= 0.95  # measured 0.969 (tox-lr-1: 0.971)
    # tox-lr-1 rejected more tweets because it learnt that tweets are toxic (0.965); tox-lr-2
    # holds 104 more of them for a human (rejection recall 0.943 -> 0.868, precision 0.992).
    assert result.own_kind["f1"] >= 0.90  # measured 0.926


def test_spam_on_an_unseen_video(data_dir: Path, models: dict[str, Path],
                                 monkeypatch: pytest.MonkeyPatch) -> None:
    data = load_labelled_csv(data_dir / "spam_youtube_dev.csv")
    with (data_dir / "spam_youtube_dev.csv").open(newline="", encoding="utf-8") as fh:
        videos = np.array([r["video"] for r in csv.DictReader(fh)])
    result = run(subset(data, videos == HELD_OUT_VIDEO), monkeypatch,
                 WARDEN_SPAM_MODEL=models["spam"])
    assert result.checks["spam_text"]["roc_auc"] >= 0.96  # measured 0.987
    assert result.own_kind["precision"] >= 0.95  # measured 0.992 (spam-lr-1: 1.0)
    assert result.own_kind["f1"] >= 0.83  # measured 0.853 (bait-2: 0.846; spam-lr-1: 0.833)
    assert result.decision["f1"] >= 0.81  # measured 0.835 (bait-2: 0.828; rude comments
    # rejected as toxic count here)


def test_spam_shipped_model_in_sample(data_dir: Path) -> None:
    """The shipped model saw these rows: a floor for the wiring, not for generalisation."""
    result = evaluate(load_labelled_csv(data_dir / "spam_youtube_dev.csv"), fresh_checks())
    assert result.decision["f1"] >= 0.93  # measured 0.973
    assert result.own_kind["f1"] >= 0.97  # measured 0.997


def test_youtube_ham_is_rarely_rejected_as_toxic(data_dir: Path) -> None:
    """The shipped toxicity model never saw YouTube comments: rude fans, swearing as
    emphasis ("holy shit, 2 billion views"). A rejection silences a reader."""
    data = load_labelled_csv(data_dir / "spam_youtube_dev.csv")
    result = evaluate(subset(data, data.labels == 0), fresh_checks())
    assert result.statuses.get("rejected", 0) <= 32  # measured 28 of 552 (tox-lr-1: 32;
    # 52 before the 2026-12-03 rules)


def test_ordinary_prose_is_not_marked_spam(data_dir: Path) -> None:
    data = load_labelled_csv(data_dir / "toxicity_jigsaw_wiki_dev.csv")
    clean = subset(data, data.labels == 0)
    result = evaluate(clean, fresh_checks())
    spam_rate = result.statuses.get("spam", 0) / result.n
    assert spam_rate <= 0.008  # measured 0.0037 (10 of 2,677; spam-lr-1: 11)
    assert result.decision["hold_rate"] <= 0.05  # measured 0.019 (spam-lr-1: 0.029)


def test_site_model_learns_an_unseen_video_from_its_first_labels(
        data_dir: Path, tmp_path: Path) -> None:
    """The onboarding ``training.moderator_loop`` replays: moderators label a video's first
    100 comments, ``warden train``'s code fits the site's model, and the pipeline decides
    the next 250 better with it than without (the general model never saw the video)."""
    rows = moderator_loop.load_rows(data_dir / train_spam.SPAM)
    extra = train_spam.load_clean(data_dir / train_spam.EXTRA_HAM)
    report = moderator_loop.replay_video(rows, HELD_OUT_VIDEO, 100, extra, None, tmp_path)
    assert (report["labelled"], report["evaluated"]) == (100, 250)
    without, with_site = report["without_site_model"], report["with_site_model"]
    assert without["f1"] <= 0.86  # measured 0.816 (bait-2: 0.810; spam-lr-1: 0.783)
    assert with_site["f1"] >= without["f1"] + 0.04  # measured 0.890 (+0.074; bait-2 +0.075)
    assert with_site["recall"] >= 0.82  # measured 0.869 (0.748 without)
    assert with_site["precision"] >= without["precision"] - 0.02  # measured 0.912 (0.899)
