"""The whole loop with real processes, on both stacks: a campaign gets through, moderators
label it, the beat job retrains the site's model, and the running worker (no restart)
catches the campaign's new variants while ordinary comments are still approved."""

from __future__ import annotations

import pytest
from flask import Flask
from sqlalchemy import select

from service.domain.lifecycle import Actor
from service.domain.moderation import decide_comment
from service.extensions import db
from service.models import Comment, CommentStatus, SiteModel
from tests.integration.conftest import Stack
from tests.integration.test_worker import add_comments, all_final, statuses
from tests.learning_data import NEW_ORDINARY, ORDINARY, campaign
from tests.support import wait_until

pytestmark = [pytest.mark.worker, pytest.mark.slow]


def _moderate(app: Flask, ids: list[int], action: str) -> None:
    with app.app_context():
        for comment_id in ids:
            comment = db.session.get(Comment, comment_id)
            decide_comment(db.session, comment, action, Actor("moderator", "key:it"), None)
        db.session.commit()
        db.session.remove()


def _model_version(app: Flask) -> int | None:
    with app.app_context():
        version = db.session.scalar(select(SiteModel.version).where(SiteModel.site_id == "demo"))
        db.session.remove()
        return version


def test_beat_retrains_and_the_running_worker_catches_the_campaign(
        stack: Stack, stack_app: Flask) -> None:
    learning = {"WARDEN_RETRAIN_INTERVAL_SECONDS": "10", "WARDEN_RETRAIN_MIN_NEW_LABELS": "30",
                "WARDEN_TRAIN_MIN_EXAMPLES": "10", "WARDEN_SITE_MODEL_REFRESH_SECONDS": "1"}
    stack.start("worker", **learning)
    stack.start("beat", **learning)
    old = campaign(18, seed=1)
    spam_ids = add_comments(stack_app, old, article="a")
    ham_ids = add_comments(stack_app, ORDINARY, article="b")
    wait_until(lambda: all_final(stack_app, spam_ids + ham_ids), 90, message="decisions")
    assert set(statuses(stack_app, spam_ids).values()) == {CommentStatus.APPROVED}

    _moderate(stack_app, spam_ids, "spam")
    _moderate(stack_app, ham_ids, "approve")
    wait_until(lambda: _model_version(stack_app), 60, message="the beat job to train")

    fresh = [t for t in campaign(30, seed=2) if t not in old][:8]
    new_spam = add_comments(stack_app, fresh, article="c")
    new_ham = add_comments(stack_app, NEW_ORDINARY, article="d")
    wait_until(lambda: all_final(stack_app, new_spam + new_ham), 90, message="new decisions")
    caught = statuses(stack_app, new_spam)
    assert set(caught.values()) <= {CommentStatus.SPAM, CommentStatus.HELD}, caught
    assert list(caught.values()).count(CommentStatus.SPAM) >= 6, caught
    assert set(statuses(stack_app, new_ham).values()) == {CommentStatus.APPROVED}
