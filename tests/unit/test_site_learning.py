"""Site learning without a database: fitting, cross-validation, calibration points, the
site_spam check's "no opinion", the pipeline skipping it, the beat schedule, the CLI help."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from service.cli import main
from tests.learning_data import NEW_ORDINARY, ORDINARY, campaign
from tests.support import make_settings
from workers.checks import CommentContext, default_checks, offline_checks
from workers.checks.site_models import LoadedSiteModel, SiteModelRegistry
from workers.checks.site_spam import SiteSpamCheck
from workers.checks.textmodel import LinearTextModel
from workers.pipeline import run_checks
from workers.policy import Policy, Standing, decide
from workers.site_training import choose_points, cross_validate, fit


def _trained() -> tuple[LinearTextModel, list[str]]:
    spam = campaign(18, seed=1)
    y = np.array([1] * len(spam) + [0] * len(ORDINARY))
    return fit(spam + ORDINARY, y), spam


def test_a_trained_model_scores_new_campaign_text_high_and_ordinary_text_low() -> None:
    model, seen = _trained()
    fresh = [t for t in campaign(30, seed=2) if t not in seen][:8]
    assert model.score(fresh).min() > 0.7
    assert model.score(NEW_ORDINARY).max() < 0.3
    assert "lumbo" in " ".join(model.top_terms(fresh[0]))
    # The artefact round-trips through bytes (what the database stores), no pickle.
    again = LinearTextModel.from_bytes(model.to_bytes())
    assert np.allclose(again.score(fresh), model.score(fresh))


def test_cross_validation_keeps_copies_of_a_text_in_one_fold() -> None:
    """A repeated text must not be "caught" only because its twin was in training."""
    spam = campaign(6, seed=5) * 3  # each variant three times
    texts = spam + ORDINARY
    y = np.array([1] * len(spam) + [0] * len(ORDINARY))
    oof, folds = cross_validate(texts, y)
    assert folds == 5
    by_text: dict[str, set[float]] = {}
    for text, score in zip(texts, oof, strict=True):
        by_text.setdefault(text, set()).add(round(float(score), 6))
    assert all(len(scores) == 1 for scores in by_text.values())  # same fold, same model


def test_calibration_points_from_out_of_fold_scores() -> None:
    y = np.array([1] * 10 + [0] * 10)
    separated = np.array([0.9] * 10 + [0.1] * 10)
    review_at, reject_at, points = choose_points(y, separated)
    assert review_at == pytest.approx(0.8)  # best F1 at 0.9, clipped into 0.2..0.8
    assert reject_at == pytest.approx(0.9)
    assert points["reject"]["reached"] is True
    # Overlapping scores: precision never reaches 0.95, so the model only ever holds.
    muddled = np.array([0.7] * 10 + [0.7] * 5 + [0.1] * 5)
    review_at, reject_at, points = choose_points(y, muddled)
    assert points["reject"]["reached"] is False
    assert reject_at == pytest.approx(0.99)
    assert review_at < reject_at


def test_site_spam_gives_no_opinion_without_a_model_and_run_checks_skips_it() -> None:
    check = SiteSpamCheck()
    contexts = [CommentContext(text="hello", site_id="demo"), CommentContext(text="x")]
    assert check.run_batch(contexts) == [None, None]  # no app, no database: no models
    assert "site_spam" in [c.name for c in default_checks()]
    assert "site_spam" not in [c.name for c in offline_checks()]
    outcome = run_checks([check], contexts)[0]
    assert outcome.verdicts == []
    assert outcome.failed == []


def test_site_spam_scores_only_sites_with_a_model_and_explains_itself() -> None:
    model, seen = _trained()
    loaded = LoadedSiteModel("demo", 3, model, review_at=0.2, reject_at=0.8, n_spam=18,
                             n_ham=20)

    class Fixed(SiteModelRegistry):
        def current(self, site_id: str) -> LoadedSiteModel | None:
            return loaded if site_id == "demo" else None

    check = SiteSpamCheck(Fixed())
    fresh = next(t for t in campaign(30, seed=2) if t not in seen)
    verdicts = check.run_batch([CommentContext(text=fresh, site_id="demo"),
                                CommentContext(text=fresh, site_id="other"),
                                CommentContext(text=NEW_ORDINARY[0], site_id="demo")])
    spam, other, ordinary = verdicts
    assert other is None
    assert spam is not None
    assert ordinary is not None
    assert (spam.check, spam.version, spam.kind) == ("site_spam", "v3", "spam")
    assert spam.score >= 0.9
    assert "resembles comments moderators marked spam on this site" in spam.reasons[0]
    assert "model v3 from 18 spam and 20 approved examples" in spam.reasons[0]
    assert ordinary.score < 0.5
    assert ordinary.reasons == []
    assert decide([spam], Policy(), Standing()).status == "spam"


def test_training_thousands_of_labels_takes_seconds() -> None:
    spam = campaign(60, seed=7) * 25
    ham = [f"{text} ({i})" for i in range(50) for text in ORDINARY]
    y = np.array([1] * len(spam) + [0] * len(ham))
    started = time.perf_counter()
    oof, _ = cross_validate(spam + ham, y)
    fit(spam + ham, y)
    assert time.perf_counter() - started < 30  # about 1.5 s for 2,500 labels on one core
    assert oof[y == 1].mean() > 0.8


def test_beat_schedule_retrains_site_models(tmp_path: Path) -> None:
    from workers.celery_setup import make_celery

    settings = make_settings(tmp_path, f"sqlite:///{tmp_path / 'x.db'}",
                             retrain_interval_seconds=600.0)
    app = make_celery(settings, set_as_current=False)
    job = app.conf.beat_schedule["retrain-site-models"]
    assert job["task"] == "warden.retrain_site_models"
    assert job["schedule"] == 600.0
    assert app.conf.task_routes["warden.retrain_site_models"] == {"queue": "housekeeping"}


def test_help_lists_train_and_policy_replay() -> None:
    runner = CliRunner()
    top = runner.invoke(main, ["--help"])
    assert "train" in top.output
    assert "policy" in top.output
    replay = runner.invoke(main, ["policy", "replay", "--help"])
    for option in ("--site", "--hold-threshold", "--reject-threshold", "--mode", "--since",
                   "--json"):
        assert option in replay.output
    assert "--min-examples" in runner.invoke(main, ["train", "--help"]).output


def test_beat_schedule_prunes_history_hourly_on_the_housekeeping_queue(tmp_path: Path) -> None:
    from workers.celery_setup import make_celery

    app = make_celery(make_settings(tmp_path, f"sqlite:///{tmp_path / 'x.db'}"),
                      set_as_current=False)
    job = app.conf.beat_schedule["prune-history"]
    assert (job["task"], job["schedule"]) == ("warden.prune_history", 3600.0)
    assert app.conf.task_routes["warden.prune_history"] == {"queue": "housekeeping"}
