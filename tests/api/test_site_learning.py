"""Learning from moderators, on SQLite and PostgreSQL: decisions become labels (erased with
their author), `warden train` fits the site's model, the pipeline uses it, and
`warden policy replay` re-decides past comments from stored scores."""

from __future__ import annotations

import itertools
import json
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import delete, func, select

from config import Settings
from service.cli import main
from service.domain.lifecycle import Actor
from service.extensions import db
from service.models import (
    CheckResult,
    Comment,
    CommentStatus,
    ModerationLabel,
    Site,
    SiteModel,
)
from tests.api.conftest import auth
from tests.api.test_public import decide_all
from tests.learning_data import NEW_ORDINARY, ORDINARY, campaign
from workers.checks.site_models import SiteModelRegistry, registry
from workers.replay import ReplayError, replay
from workers.site_training import NotEnoughLabels, sites_due, train_site_model

pytestmark = pytest.mark.usefixtures("demo_site")

_addresses = itertools.count(1)


@pytest.fixture(autouse=True)
def _fresh_registry() -> Any:
    """Each test has its own database rows; a worker process would have its own cache."""
    registry.clear()
    yield
    registry.clear()


def post(client: FlaskClient, body: str, article: str = "story-1") -> int:
    """Submit from a new address each time (a campaign rotates addresses; the velocity
    checks are not what these tests are about)."""
    n = next(_addresses)
    answer = client.post("/api/v1/sites/demo/comments",
                         json={"article": article, "author_name": f"Reader {n}", "body": body},
                         environ_base={"REMOTE_ADDR": f"10.{n // 60000}.{n // 250 % 240}."
                                                      f"{n % 250 + 1}"})
    assert answer.status_code == 202, answer.get_json()
    return int(answer.get_json()["id"])


def decide(client: FlaskClient, key: str, ids: list[int], action: str) -> None:
    answer = client.post("/api/v1/moderation/decisions", headers=auth(key),
                         json={"ids": ids, "action": action})
    assert answer.status_code == 200
    assert all(r["ok"] for r in answer.get_json()["results"]), answer.get_json()


def statuses(app: Flask, ids: list[int]) -> dict[int, str]:
    with app.app_context():
        return {c.id: str(c.status) for c in db.session.scalars(
            select(Comment).where(Comment.id.in_(ids)))}


def labels(app: Flask) -> dict[int | None, tuple[str, str]]:
    with app.app_context():
        return {label.comment_id: (str(label.label), label.text)
                for label in db.session.scalars(select(ModerationLabel))}


def cli(settings: Settings, *args: str) -> Any:
    env = {"WARDEN_INSTANCE_DIR": settings.instance_dir,
           "WARDEN_DATABASE_URL": settings.database_url,
           "WARDEN_SECRET_KEY": settings.secret_key, "WARDEN_BROKER_URL": "filesystem://",
           "WARDEN_LOG_LEVEL": "WARNING"}
    return CliRunner().invoke(main, list(args), env=env)


# --------------------------------------------------------------------------- labels
def test_moderator_decisions_write_labels_replaced_by_later_ones(
        client: FlaskClient, app: Flask, keys: dict[str, str]) -> None:
    first, second, third = (post(client, f"Comment number {i} on the story.")
                            for i in range(3))
    decide_all(app)
    answer = client.post(f"/api/v1/moderation/comments/{first}/decision",
                         headers=auth(keys["mod"]), json={"action": "spam"})
    assert answer.status_code == 200
    decide(client, keys["mod"], [second, third], "approve")  # already approved: confirmed
    assert labels(app) == {first: ("spam", "Comment number 0 on the story."),
                           second: ("ham", "Comment number 1 on the story."),
                           third: ("ham", "Comment number 2 on the story.")}
    with app.app_context():
        label = db.session.scalar(select(ModerationLabel)
                                  .where(ModerationLabel.comment_id == first))
        assert label.source.startswith("moderator:key:")
        stamped = label.created_at
    # Repeating changes nothing; a different decision replaces the label (one per comment).
    client.post(f"/api/v1/moderation/comments/{first}/decision", headers=auth(keys["mod"]),
                json={"action": "spam"})
    with app.app_context():
        assert db.session.scalar(select(ModerationLabel.created_at)
                                 .where(ModerationLabel.comment_id == first)) == stamped
    decide(client, keys["mod"], [first], "approve")
    decide(client, keys["mod"], [third], "reject")
    assert {k: v[0] for k, v in labels(app).items()} == {first: "ham", second: "ham",
                                                         third: "toxic"}
    # A refused decision (deleted comment) writes no label.
    with app.app_context():
        db.session.execute(delete(ModerationLabel))
        db.session.get(Comment, second).status = CommentStatus.DELETED
        db.session.commit()
    bulk = client.post("/api/v1/moderation/decisions", headers=auth(keys["mod"]),
                       json={"ids": [second], "action": "spam"}).get_json()
    assert bulk["results"][0]["ok"] is False
    assert labels(app) == {}


def test_erasing_an_author_removes_their_labels_and_export_lists_them(
        client: FlaskClient, app: Flask, keys: dict[str, str]) -> None:
    mine = client.post("/api/v1/sites/demo/comments", json={
        "article": "story-1", "author_name": "Ann", "body": "Buy the Lumbo cushion today."})
    token = {"X-Author-Token": mine.get_json()["author_token"]}
    own = [mine.get_json()["id"], client.post("/api/v1/sites/demo/comments", headers=token, json={
        "article": "story-1", "author_name": "Ann", "body": "Ordinary words."}).get_json()["id"]]
    other = post(client, "Somebody else's comment.")
    decide_all(app)
    decide(client, keys["mod"], [own[0]], "spam")
    decide(client, keys["mod"], [own[1], other], "approve")
    with app.app_context():
        author_id = db.session.get(Comment, own[0]).author_id
    base = f"/api/v1/admin/sites/demo/authors/{author_id}"
    exported = client.get(f"{base}/export", headers=auth(keys["admin"])).get_json()
    assert [(x["comment_id"], x["label"], x["text"]) for x in exported["moderation_labels"]] \
        == [(own[0], "spam", "Buy the Lumbo cushion today."), (own[1], "ham", "Ordinary words.")]
    erased = client.post(f"{base}/erase", headers=auth(keys["admin"]),
                         json={"remove_unreplied": True}).get_json()
    # Their events: created and approved for both, spam for the first, and the
    # moderator's confirmation of the second's approval (comment.reviewed).
    assert erased == {"changed": True, "placeholders": 0, "removed": 2, "labels": 2,
                      "events_scrubbed": 6}
    assert labels(app) == {other: ("ham", "Somebody else's comment.")}


# --------------------------------------------------------------------------- training
def _label_directly(app: Flask, spam: list[str], ham: list[str]) -> None:
    """Labels as moderators' decisions write them (through the domain, no HTTP)."""
    from service.domain.moderation import decide_comment

    with app.app_context():
        actor = Actor("moderator", "key:test")
        comments = db.session.scalars(select(Comment).order_by(Comment.id)).all()
        by_body = {c.body: c for c in comments}
        for text in spam:
            decide_comment(db.session, by_body[text], "spam", actor, None)
        for text in ham:
            decide_comment(db.session, by_body[text], "approve", actor, None)
        db.session.commit()


def test_training_refuses_with_too_few_labels_then_trains_and_the_registry_refreshes(
        client: FlaskClient, app: Flask, settings: Settings) -> None:
    spam, ham = campaign(12, seed=3), ORDINARY[:12]
    for text in spam + ham:
        post(client, text)
    decide_all(app)
    _label_directly(app, spam[:4], ham)
    refused = cli(settings, "train", "--site", "demo", "--min-examples", "5")
    assert refused.exit_code == 1
    assert "site demo has 4 spam and 12 ham labels; training needs at least 5 of each" \
        in refused.output
    assert "Traceback" not in refused.output
    unknown = cli(settings, "train", "--site", "nope")
    assert unknown.exit_code == 1
    assert "no site 'nope'" in unknown.output
    with app.app_context():
        assert sites_due(db.session, 16) == ["demo"]
        assert sites_due(db.session, 17) == []
        with pytest.raises(NotEnoughLabels):
            train_site_model(db.session, "demo", min_examples=5)

    _label_directly(app, spam[4:], [])
    now = [0.0]
    mine = SiteModelRegistry(clock=lambda: now[0])
    with app.app_context():
        assert mine.current("demo") is None  # no model yet (and that answer is cached)
        first = train_site_model(db.session, "demo", min_examples=5)
        assert (first.version, first.n_spam, first.n_ham) == (1, 12, 12)
        assert 0 < first.review_at < first.reject_at < 1
        assert sites_due(db.session, 1) == []
        assert mine.current("demo") is None  # within the refresh interval: not yet seen
        now[0] += 31
        loaded = mine.current("demo")
        assert loaded is not None
        assert loaded.version == 1
        train_site_model(db.session, "demo", min_examples=5)
        assert mine.current("demo").version == 1
        now[0] += 31
        assert mine.current("demo").version == 2
        assert mine.current("other-site") is None
        # Versions are kept bounded.
        for _ in range(3):
            train_site_model(db.session, "demo", min_examples=5)
        assert db.session.scalars(select(SiteModel.version).order_by(SiteModel.version)
                                  ).all() == [3, 4, 5]


def test_beat_job_retrains_sites_with_enough_new_labels(
        client: FlaskClient, app: Flask) -> None:
    from workers.tasks.learning import retrain_site_models

    spam, ham = campaign(10, seed=4), ORDINARY[:10]
    for text in spam + ham:
        post(client, text)
    decide_all(app)
    _label_directly(app, spam, ham[:3])
    with app.app_context():
        app.config["WARDEN"] = replace(app.config["WARDEN"], retrain_min_new_labels=5,
                                       train_min_examples=5)
        assert retrain_site_models.run() == []  # due, but too few ham labels: skipped
    _label_directly(app, [], ham[3:])
    with app.app_context():
        assert retrain_site_models.run() == ["demo:v1"]
        assert retrain_site_models.run() == []  # nothing new since
        assert db.session.scalar(select(SiteModel.trained_by)) == "beat"


# --------------------------------------------------------------------------- the campaign
def post_campaign_and_ordinary(client: FlaskClient) -> tuple[list[str], list[int], list[int]]:
    """18 comments of one campaign and 20 ordinary ones over five stories: (the campaign's
    texts, their ids, the ordinary ids)."""
    old_campaign = campaign(18, seed=1)
    campaign_ids = [post(client, text, article=f"story-{i % 5}")
                    for i, text in enumerate(old_campaign)]
    ordinary_ids = [post(client, text, article=f"story-{i % 5}")
                    for i, text in enumerate(ORDINARY)]
    return old_campaign, campaign_ids, ordinary_ids


def test_a_repeated_campaign_labelled_by_moderators_is_caught_after_training(
        client: FlaskClient, app: Flask, keys: dict[str, str], settings: Settings) -> None:
    old_campaign, campaign_ids, ordinary_ids = post_campaign_and_ordinary(client)
    decide_all(app)
    # Before: the shipped checks let the whole campaign through.
    assert set(statuses(app, campaign_ids).values()) == {"approved"}
    assert set(statuses(app, ordinary_ids).values()) == {"approved"}
    with app.app_context():
        assert db.session.scalar(select(func.max(CheckResult.score)).where(
            CheckResult.comment_id.in_(campaign_ids),
            CheckResult.check_name.in_(["spam_text", "bait", "links", "behaviour"]))) < 0.5

    # Moderators clean up: the campaign is spam, the rest confirmed.
    decide(client, keys["mod"], campaign_ids, "spam")
    decide(client, keys["mod"], ordinary_ids, "approve")
    trained = cli(settings, "train", "--site", "demo", "--json")
    assert trained.exit_code == 0, trained.output
    report = json.loads(trained.output)
    assert (report["version"], report["n_spam"], report["n_ham"]) == (1, 18, 20)
    print("\ncampaign training:", json.dumps({k: report[k] for k in (
        "seconds", "review_at", "reject_at", "metrics", "artefact_bytes")}))
    assert report["metrics"]["review"]["recall"] >= 0.9
    summary = cli(settings, "train", "--site", "demo")
    assert "model v2 from 18 spam and 20 ham labels" in summary.output

    # As every worker does within WARDEN_SITE_MODEL_REFRESH_SECONDS.
    registry.clear()

    # A rerun does not grade the model on its own training comments.
    with app.app_context():
        stored_only = replay(db.session, "demo").as_dict()
        rerun = replay(db.session, "demo", rerun=True).as_dict()
    assert stored_only["changed"] == 0
    assert stored_only["rerun"] is None
    assert rerun["rerun"]["site_model_training_examples"] == 38
    assert rerun["changed"] == 0
    fresh = [t for t in campaign(30, seed=2) if t not in old_campaign][:8]
    new_campaign_ids = [post(client, text, article="story-9") for text in fresh]
    new_ordinary_ids = [post(client, text, article="story-9") for text in NEW_ORDINARY]
    decide_all(app)
    caught = statuses(app, new_campaign_ids)
    assert set(caught.values()) <= {"spam", "held"}, caught
    assert list(caught.values()).count("spam") >= 6, caught
    assert set(statuses(app, new_ordinary_ids).values()) == {"approved"}
    with app.app_context():
        reason = db.session.get(Comment, new_campaign_ids[0]).status_reason
        result = db.session.scalar(select(CheckResult).where(
            CheckResult.comment_id == new_campaign_ids[0],
            CheckResult.check_name == "site_spam"))
    assert reason.startswith("site_spam ")
    assert result.check_version == "v2"
    assert "moderators marked spam on this site" in result.reasons[0]
    assert "lumbo" in result.reasons[0]

    # Another site's comments get no opinion from demo's model.
    with app.app_context():
        from service.domain.sites import create_site

        create_site(db.session, "elsewhere", ["https://elsewhere.example"])
        db.session.commit()
    other = client.post("/api/v1/sites/elsewhere/comments", json={
        "article": "a", "author_name": "Bo", "body": fresh[0]}).get_json()["id"]
    decide_all(app)
    with app.app_context():
        names = set(db.session.scalars(select(CheckResult.check_name)
                                       .where(CheckResult.comment_id == other)))
    assert "site_spam" not in names
    assert "spam_text" in names


# --------------------------------------------------------------------------- replay
def _constructed(app: Flask, client: FlaskClient, keys: dict[str, str]) -> dict[str, int]:
    """Seven checked comments whose stored scores and labels are set by hand."""
    rows = {  # name: (check, score, moderator action or None)
        "a": ("spam_text", 0.95, "spam"), "b": ("spam_text", 0.80, "spam"),
        "c": ("spam_text", 0.60, "approve"), "d": ("spam_text", 0.40, "approve"),
        "e": ("spam_text", 0.75, "approve"), "f": ("spam_text", 0.20, None),
        "g": ("toxicity", 0.55, "reject"),
    }
    ids = {name: post(client, f"Constructed comment {name}.") for name in rows}
    decide_all(app)
    with app.app_context():
        db.session.execute(delete(CheckResult))
        for name, (check, score, _action) in rows.items():
            db.session.add(CheckResult(comment_id=ids[name], check_name=check,
                                       check_version="1", score=score,
                                       label="ok" if score < 0.5 else "x", reasons=[]))
        db.session.commit()
    for name, (_check, _score, action) in rows.items():
        if action:
            decide(client, keys["mod"], [ids[name]], action)
    return ids


def test_replay_counts_changes_and_disagreements_with_moderators(
        client: FlaskClient, app: Flask, keys: dict[str, str], settings: Settings) -> None:
    ids = _constructed(app, client, keys)
    with app.app_context():
        lower = replay(db.session, "demo", hold=0.3, reject=0.7).as_dict()
        higher = replay(db.session, "demo", hold=0.85, reject=0.97).as_dict()
        manual = replay(db.session, "demo", mode="manual").as_dict()
        old = db.session.get(Comment, ids["a"])
        old.created_at = old.created_at - timedelta(days=10)
        db.session.commit()
        assert replay(db.session, "demo", since_days=5).considered == 6
        assert replay(db.session, "demo", since_days=11).considered == 7
    assert lower["comments_considered"] == 7
    assert lower["decisions_now"] == {"spam": 1, "held": 4, "approved": 2}
    assert lower["decisions_proposed"] == {"spam": 3, "held": 3, "approved": 1}
    assert lower["changes"] == {"approved->held": 1, "held->spam": 2}
    mods = lower["against_moderators"]
    assert mods["labelled_comments"] == 6
    assert mods["now"] == {"confirmed_caught": 1, "confirmed_held": 2, "confirmed_missed": 0,
                           "approved_ok": 1, "approved_held": 2, "approved_blocked": 0,
                           "agreements": 2, "disagreements": 0}
    assert mods["proposed"]["approved_blocked"] == 1  # e: 0.75 ham -> spam
    assert (mods["confirmed_spam_or_reject_newly_caught"], mods["approvals_newly_held"],
            mods["approvals_newly_rejected_or_spam"]) == (1, 1, 1)
    assert mods["confirmed_spam_or_reject_newly_missed"] == 0

    assert higher["changes"] == {"held->approved": 4, "spam->held": 1}
    hm = higher["against_moderators"]
    assert hm["confirmed_spam_or_reject_newly_missed"] == 2  # b and g
    assert hm["approvals_newly_released"] == 2  # c and e
    assert hm["proposed"]["confirmed_missed"] == 2
    assert manual["decisions_proposed"] == {"held": 7}

    # The command: JSON, text, and clear errors.
    out = cli(settings, "policy", "replay", "--site", "demo", "--hold-threshold", "0.3",
              "--reject-threshold", "0.7", "--json")
    assert out.exit_code == 0, out.output
    assert json.loads(out.output)["changes"] == lower["changes"]
    text = cli(settings, "policy", "replay", "--site", "demo", "--reject-threshold", "0.7")
    assert "decisions that would change: 2" in text.output
    assert "held -> spam: 2" in text.output
    print("\nreplay:", text.output)
    bad = cli(settings, "policy", "replay", "--site", "demo", "--hold-threshold", "0.8",
              "--reject-threshold", "0.6")
    assert bad.exit_code == 1
    assert "above reject threshold" in bad.output
    assert "no site 'nope'" in cli(settings, "policy", "replay", "--site", "nope").output
    out_of_range = cli(settings, "policy", "replay", "--site", "demo", "--hold-threshold", "2")
    assert out_of_range.exit_code == 1
    assert "outside 0..1" in out_of_range.output
    with app.app_context(), pytest.raises(ReplayError):
        replay(db.session, "demo", hold=0.9, reject=0.5)
    with app.app_context():
        assert db.session.get(Site, "demo").hold_threshold == 0.5  # nothing was changed


def test_replay_keeps_hold_only_scores_held_under_a_lower_reject_threshold(
        client: FlaskClient, app: Flask) -> None:
    """The worker stores whether a score may reject: a replay at reject 0.7 must not
    reject what profanity (0.85, hold-only) held, while the same score that may reject
    would be rejected."""
    ids = [post(client, f"Stored comment {i}.") for i in range(2)]
    decide_all(app)
    with app.app_context():
        db.session.execute(delete(CheckResult))
        for comment_id, name, may_reject in ((ids[0], "profanity", False),
                                             (ids[1], "toxicity", True)):
            db.session.add(CheckResult(comment_id=comment_id, check_name=name,
                                       check_version="1", score=0.85, label="toxicity",
                                       reasons=[], may_reject=may_reject))
        db.session.commit()
        report = replay(db.session, "demo", reject=0.7).as_dict()
    assert report["decisions_now"] == {"held": 2}
    assert report["decisions_proposed"] == {"held": 1, "rejected": 1}
    assert report["changes"] == {"held->rejected": 1}


class _Broken:
    """A check that raises: the rerun keeps the stored verdict and counts the failure."""

    name = "toxicity"
    version = "broken"
    kind = "toxicity"

    def run_batch(self, contexts: Any) -> list[Any]:
        raise RuntimeError("model file unreadable")


def test_replay_rerun_sees_a_new_blocked_word_and_keeps_stored_scores_on_failure(
        client: FlaskClient, app: Flask, keys: dict[str, str], settings: Settings) -> None:
    word = post(client, "The zorblax vendors were at the market again this morning.")
    plain = post(client, "The fish vendors were at the market again this morning.")
    decide_all(app)
    assert set(statuses(app, [word, plain]).values()) == {"approved"}
    lists = client.put("/api/v1/admin/sites/demo/lists", headers=auth(keys["admin"]),
                       json={"blocked_words": ["zorblax"]})
    assert lists.status_code == 200, lists.get_json()
    with app.app_context():
        stored_only = replay(db.session, "demo").as_dict()
        rerun = replay(db.session, "demo", rerun=True).as_dict()
        broken = replay(db.session, "demo", rerun=True, checks=[_Broken()]).as_dict()
    assert stored_only["changed"] == 0  # stored scores never saw the list
    assert rerun["changes"] in ({"approved->rejected": 1}, {"approved->spam": 1})
    assert rerun["rerun"]["scores_changed"] == {"words": 1}
    assert rerun["decisions_proposed"]["approved"] == 1
    assert broken["rerun"]["failed"] == {"toxicity": 2}
    assert broken["changed"] == 0
    with app.app_context():  # a replay writes nothing
        assert statuses(app, [word, plain]) == {word: "approved", plain: "approved"}
        assert db.session.scalar(select(func.count()).select_from(CheckResult)
                                 .where(CheckResult.check_version == "broken")) == 0


def test_replay_rerun_shows_what_a_new_site_model_does_to_comments_it_never_saw(
        client: FlaskClient, app: Flask, keys: dict[str, str], settings: Settings) -> None:
    old_campaign, campaign_ids, ordinary_ids = post_campaign_and_ordinary(client)
    # Arrived before any site model existed, never labelled: the held-out part.
    unseen = [t for t in campaign(30, seed=2) if t not in old_campaign][:8]
    for text in [*unseen, *NEW_ORDINARY]:
        post(client, text, article="story-9")
    decide_all(app)
    decide(client, keys["mod"], campaign_ids, "spam")
    decide(client, keys["mod"], ordinary_ids, "approve")
    assert cli(settings, "train", "--site", "demo").exit_code == 0
    registry.clear()

    with app.app_context():
        rerun = replay(db.session, "demo", rerun=True).as_dict()
    total = 38 + len(unseen) + len(NEW_ORDINARY)
    assert rerun["decisions_now"] == {"approved": total}
    assert "site_spam" in rerun["rerun"]["checks"]
    assert rerun["rerun"]["kept_stored"] == ["behaviour"]
    assert rerun["rerun"]["site_model_training_examples"] == 38
    assert rerun["rerun"]["new_opinions"] == {"site_spam": len(unseen) + len(NEW_ORDINARY)}
    caught = sum(n for change, n in rerun["changes"].items()
                 if change in {"approved->spam", "approved->held"})
    assert caught == rerun["changed"], rerun["changes"]  # nothing else moves
    assert 6 <= caught <= len(unseen), rerun["changes"]
    assert rerun["decisions_proposed"]["approved"] >= 38 + len(NEW_ORDINARY)
    assert rerun["against_moderators"]["labelled_comments"] == 38
    assert rerun["against_moderators"]["confirmed_spam_or_reject_newly_caught"] == 0
    text = cli(settings, "policy", "replay", "--site", "demo", "--rerun")
    assert text.exit_code == 0, text.output
    assert "kept stored: behaviour" in text.output
    assert "site_spam kept as stored on 38 comments its model was trained on" in text.output
    print("\nreplay --rerun:", text.output)
