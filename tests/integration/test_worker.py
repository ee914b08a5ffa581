"""A real Celery worker process deciding comments, on both stacks."""

from __future__ import annotations

import signal
from datetime import timedelta

import pytest
from flask import Flask
from sqlalchemy import func, select, update

from service.domain.sites import ensure_demo_site
from service.domain.submissions import ClientInfo, Submission, submit_comment
from service.extensions import db
from service.models import (
    FINAL_STATUSES,
    Article,
    AuditEntry,
    CheckResult,
    Comment,
    CommentStatus,
    Site,
    utcnow,
)
from tests.integration.conftest import Stack
from tests.support import wait_until
from workers.dispatch import enqueue_moderation

pytestmark = [pytest.mark.worker, pytest.mark.slow]

CLEAN = "Thanks for this clear report on the ceasefire talks; the timeline helped me a lot."
TOXIC = "You are a worthless idiot, shut your stupid mouth you moron."
SPAMMY = "Check out my channel for free iPhones!!! http://bit.ly/xyz http://bit.ly/abc"


def add_comments(app: Flask, bodies: list[str], *, send: bool = True,
                 article: str = "story") -> list[int]:
    """Submit through the domain code, commit, and (optionally) enqueue, like the API."""
    with app.app_context():
        ensure_demo_site(db.session)
        site = db.session.get(Site, "demo")
        ids = []
        for i, body in enumerate(bodies):
            accepted = submit_comment(
                db.session, site, Submission(article=f"{article}-{i % 7}", body=body),
                ClientInfo(ip_hash=f"ip-{i}"), max_depth=5, max_body_chars=5000)
            ids.append(accepted.comment.id)
        db.session.commit()
        if send:
            for comment_id in ids:
                assert enqueue_moderation(comment_id)
    return ids


def statuses(app: Flask, ids: list[int]) -> dict[int, CommentStatus]:
    with app.app_context():
        rows = db.session.execute(select(Comment.id, Comment.status).where(Comment.id.in_(ids)))
        result = {row.id: row.status for row in rows}
        db.session.remove()
        return result


def all_final(app: Flask, ids: list[int]) -> bool:
    current = statuses(app, ids)
    return len(current) == len(ids) and all(s in FINAL_STATUSES for s in current.values())


def assert_counts_match_recount(app: Flask) -> None:
    with app.app_context():
        stored = dict(db.session.execute(select(Article.id, Article.approved_count)).all())
        recount = dict(db.session.execute(
            select(Comment.article_id, func.count())
            .where(Comment.status == CommentStatus.APPROVED).group_by(Comment.article_id)
        ).all())
        assert stored == {article: recount.get(article, 0) for article in stored}


def decisions_per_comment(app: Flask, ids: list[int]) -> dict[int, int]:
    with app.app_context():
        rows = db.session.execute(
            select(AuditEntry.subject_id, func.count())
            .where(AuditEntry.subject_type == "comment", AuditEntry.action != "comment.created")
            .group_by(AuditEntry.subject_id)
        ).all()
        return {int(subject): n for subject, n in rows if int(subject) in ids}


def test_worker_decides_clean_toxic_and_spam(stack: Stack, stack_app: Flask) -> None:
    stack.start("worker")
    ids = add_comments(stack_app, [CLEAN, TOXIC, SPAMMY])
    wait_until(lambda: all_final(stack_app, ids), 60, message="three decisions")
    decided = statuses(stack_app, ids)
    assert decided[ids[0]] == CommentStatus.APPROVED
    assert decided[ids[1]] in {CommentStatus.REJECTED, CommentStatus.HELD}
    assert decided[ids[2]] in {CommentStatus.SPAM, CommentStatus.HELD}
    with stack_app.app_context():
        results = db.session.scalars(select(CheckResult).where(CheckResult.comment_id == ids[1]))
        names = {r.check_name for r in results}
        assert {"profanity", "links", "bait", "behaviour"} <= names
        reason = db.session.get(Comment, ids[1]).status_reason
        assert "threshold" in reason
    assert_counts_match_recount(stack_app)


def test_same_task_many_times_decides_once(stack: Stack, stack_app: Flask) -> None:
    ids = add_comments(stack_app, [CLEAN, TOXIC], send=False)
    with stack_app.app_context():
        for _ in range(5):
            for comment_id in ids:
                enqueue_moderation(comment_id)
    stack.start("worker", WARDEN_WORKER_CONCURRENCY="4")
    wait_until(lambda: all_final(stack_app, ids), 60, message="decisions")
    wait_until(lambda: _queue_drained(stack_app, ids), 30, message="duplicate tasks to run")
    assert decisions_per_comment(stack_app, ids) == dict.fromkeys(ids, 1)
    with stack_app.app_context():
        per_check = db.session.execute(
            select(CheckResult.comment_id, CheckResult.check_name, func.count())
            .group_by(CheckResult.comment_id, CheckResult.check_name)
        ).all()
        assert {n for *_, n in per_check} == {1}
    assert_counts_match_recount(stack_app)


def _queue_drained(app: Flask, ids: list[int]) -> bool:
    with app.app_context():
        attempts = db.session.scalars(select(Comment.moderation_attempts)
                                      .where(Comment.id.in_(ids))).all()
        db.session.remove()
    # Every one of the 5 sends per comment ran (the duplicates found it already decided
    # without counting an attempt, or counted one and then lost the claim).
    return all(a >= 1 for a in attempts)


def test_sweep_recovers_a_lost_enqueue(stack: Stack, stack_app: Flask) -> None:
    """The process died between commit and enqueue: beat's sweep still gets it decided."""
    ids = add_comments(stack_app, [CLEAN, TOXIC], send=False)
    with stack_app.app_context():
        db.session.execute(update(Comment).where(Comment.id.in_(ids))
                           .values(enqueued_at=utcnow() - timedelta(minutes=5)))
        db.session.commit()
    stack.start("worker")
    stack.start("beat")
    wait_until(lambda: all_final(stack_app, ids), 60, message="sweep to recover both")
    assert decisions_per_comment(stack_app, ids) == dict.fromkeys(ids, 1)


def test_comment_that_keeps_crashing_is_parked_as_held(stack: Stack, stack_app: Flask) -> None:
    ids = add_comments(stack_app, [CLEAN], send=False)
    with stack_app.app_context():
        db.session.execute(update(Comment).where(Comment.id.in_(ids))
                           .values(moderation_attempts=stack.settings.moderation_max_attempts))
        db.session.commit()
        enqueue_moderation(ids[0])
    stack.start("worker")
    wait_until(lambda: all_final(stack_app, ids), 60, message="parking")
    with stack_app.app_context():
        comment = db.session.get(Comment, ids[0])
        assert comment.status == CommentStatus.HELD
        assert "moderation failed" in comment.status_reason


def test_worker_killed_mid_flight_loses_nothing(stack: Stack, stack_app: Flask) -> None:
    bodies = [CLEAN if i % 3 else TOXIC for i in range(120)]
    ids = add_comments(stack_app, bodies)
    # Batches of 2: with the default 64 the two processes can decide all 120 between two
    # polls below, and the kill would land after the work instead of in the middle of it.
    first = stack.start("worker", WARDEN_WORKER_CONCURRENCY="2",
                        WARDEN_MODERATION_BATCH_SIZE="2")
    wait_until(lambda: sum(s in FINAL_STATUSES for s in statuses(stack_app, ids).values()) > 0,
               60, interval=0.01, message="the first decisions")
    first.stop(signal.SIGKILL, timeout=10)
    done_at_kill = sum(s in FINAL_STATUSES for s in statuses(stack_app, ids).values())
    assert done_at_kill < len(ids), "the worker finished before it could be killed"
    stack.start("worker")
    stack.start("beat")
    wait_until(lambda: all_final(stack_app, ids), 120, interval=0.5, message="all decisions")
    assert decisions_per_comment(stack_app, ids) == dict.fromkeys(ids, 1)
    assert_counts_match_recount(stack_app)
