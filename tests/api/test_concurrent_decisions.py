"""A moderator (or an author) and the worker deciding the same comment at the same time.

PostgreSQL only: there, web requests read comments without holding a lock, so a request
can act on a status another process has changed since. (On SQLite every writing request
starts with ``BEGIN IMMEDIATE``, so the two can never interleave.) Counters must still
match the comments, the audit trail must record the real previous status, and the two
must not deadlock each other.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from service.domain import moderation as mod
from service.domain.authoring import delete_comment, own_comment
from service.domain.lifecycle import Actor, transition
from service.extensions import db
from service.models import Article, AuditEntry, Author, Comment, CommentStatus

pytestmark = pytest.mark.parametrize("backend", ["postgresql"], indirect=True)

SUBMIT = "/api/v1/sites/demo/comments"
MODERATOR = Actor("key", "test-moderator")


def submit(client: FlaskClient, article: str = "race-story") -> dict[str, Any]:
    answer = client.post(SUBMIT, json={"article": article, "author_name": "Reader",
                                       "body": "The timetable change explains a lot."})
    assert answer.status_code == 202, answer.get_json()
    return answer.get_json()


def approve_elsewhere(app: Flask, comment_id: int) -> None:
    """What a worker batch does, in its own connection, committed."""
    with app.app_context(), Session(db.engine) as other:
        comment = other.get(Comment, comment_id)
        assert comment is not None
        transition(other, comment, CommentStatus.APPROVED, Actor.system("toxicity"), "clean")
        other.commit()


def start_in_background(work: Callable[[threading.Event], None]
                        ) -> tuple[threading.Thread, list[BaseException]]:
    """Start ``work`` in a thread and wait until it sets the event it is given (or fails);
    its exception is kept for the main thread to report."""
    started = threading.Event()
    errors: list[BaseException] = []

    def run() -> None:
        try:
            work(started)
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)
        finally:
            started.set()

    thread = threading.Thread(target=run)
    thread.start()
    assert started.wait(10)
    return thread, errors


def finished(thread: threading.Thread, errors: list[BaseException], who: str) -> None:
    """The background work ended (no deadlock left it hanging) and did not fail."""
    thread.join(15)
    assert not thread.is_alive(), f"{who} never finished"
    assert not errors, f"{who} failed: {errors[0]!r}"


def counters_match(app: Flask) -> None:
    with app.app_context():
        stored = dict(db.session.execute(select(Article.id, Article.approved_count)).all())
        counted = dict(db.session.execute(
            select(Comment.article_id, func.count()).where(
                Comment.status == CommentStatus.APPROVED).group_by(Comment.article_id)).all())
        assert stored == {a: counted.get(a, 0) for a in stored}, "article counts drifted"
        for author in db.session.scalars(select(Author)):
            approved = db.session.scalar(select(func.count()).where(
                Comment.author_id == author.id, Comment.status == CommentStatus.APPROVED))
            assert author.approved_count == approved, "author counts drifted"


def test_a_moderator_acting_on_a_stale_read_uses_the_current_status(
        app: Flask, client: FlaskClient, demo_site: str) -> None:
    comment_id = submit(client)["id"]
    with app.app_context():
        comment = mod.get_comment(db.session, comment_id, None)  # the page shows "pending"
        assert comment.status == CommentStatus.PENDING
        approve_elsewhere(app, comment_id)  # the worker decides meanwhile
        assert mod.decide_comment(db.session, comment, "reject", MODERATOR, "off topic")
        db.session.commit()
        audit = db.session.scalars(select(AuditEntry).where(
            AuditEntry.subject_id == str(comment_id), AuditEntry.action == "comment.rejected")
        ).one()
        assert audit.from_status == "approved", "the audit names the status that was replaced"
    counters_match(app)


def test_an_author_deleting_while_the_worker_approves_keeps_counts_right(
        app: Flask, client: FlaskClient, demo_site: str) -> None:
    answer = submit(client)
    with app.app_context():
        comment = own_comment(db.session, answer["id"], answer["author_token"])
        approve_elsewhere(app, answer["id"])
        delete_comment(db.session, comment)
        db.session.commit()
    counters_match(app)


def test_a_moderator_and_a_worker_batch_on_one_comment_do_not_deadlock(
        app: Flask, client: FlaskClient, demo_site: str) -> None:
    """The batch holds the comment (its claim) and then wants the article and author rows;
    the moderator must queue behind the comment instead of taking those rows first."""
    comment_id = submit(client)["id"]

    def moderator(started: threading.Event) -> None:
        with app.app_context():
            comment = mod.get_comment(db.session, comment_id, None)
            started.set()
            mod.decide_comment(db.session, comment, "reject", MODERATOR, None)
            db.session.commit()

    with app.app_context(), Session(db.engine) as batch:
        batch.execute(text("SET lock_timeout = '10s'"))
        # The worker's claim: it now holds the comment row.
        batch.execute(text("UPDATE comments SET checked_at = now() WHERE id = :id"),
                      {"id": comment_id})
        thread, errors = start_in_background(moderator)
        # Give the moderator time to reach its first lock (deadlock_timeout is 1 s).
        thread.join(1.5)
        comment = batch.get(Comment, comment_id)
        assert comment is not None
        transition(batch, comment, CommentStatus.APPROVED, Actor.system("toxicity"), "clean")
        batch.commit()
    finished(thread, errors, "the moderator")
    with app.app_context():
        final = db.session.get(Comment, comment_id)
        assert final is not None
        assert final.status == CommentStatus.REJECTED, "the moderator, who came second, wins"
    counters_match(app)


def test_a_bulk_moderator_and_a_batch_claim_take_comment_rows_in_one_order(
        app: Flask, client: FlaskClient, demo_site: str) -> None:
    """A bulk action locks its comments in id order. The batch's claim used to lock the
    waiting comments first (skipping locked ones) and its own named comment last: with a
    moderator holding that one and wanting one of the others, each waited for the other."""
    from workers.pipeline import _lease

    low, high = submit(client)["id"], submit(client)["id"]
    leased: list[int] = []

    def batch_claim(started: threading.Event) -> None:
        with app.app_context():
            db.session.execute(text("SET lock_timeout = '10s'"))
            started.set()
            leased.extend(_lease(db.session, low, 10, timedelta(minutes=5))[0])

    with app.app_context(), Session(db.engine) as moderator:
        moderator.execute(text("SET lock_timeout = '5s'"))
        moderator.execute(text("SELECT id FROM comments WHERE id = :id FOR UPDATE"),
                          {"id": low})
        thread, errors = start_in_background(batch_claim)
        thread.join(1.5)  # the batch reaches its first lock meanwhile
        # The moderator's next comment in id order: free, unless the batch took it first.
        moderator.execute(text("SELECT id FROM comments WHERE id = :id FOR UPDATE"),
                          {"id": high})
        moderator.commit()
    finished(thread, errors, "the batch")
    assert leased == [low, high]


def test_simultaneous_retries_with_one_idempotency_key_get_the_first_comment(
        app: Flask, client: FlaskClient, demo_site: str) -> None:
    """A browser retrying a submit it thinks was lost, several times at once: one insert
    wins the unique key, and every retry answers with that comment and its token."""
    ready = threading.Barrier(6)
    answers: list[tuple[int, dict[str, Any]]] = []

    def retry() -> None:
        browser = app.test_client()
        ready.wait(timeout=10)
        answer = browser.post(SUBMIT, headers={"Idempotency-Key": "retried-at-once"},
                              json={"article": "race-story", "author_name": "Reader",
                                    "body": "Sent again and again on a bad connection."})
        answers.append((answer.status_code, answer.get_json()))

    threads = [threading.Thread(target=retry) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert [status for status, _ in answers] == [202] * 6, answers
    assert len({doc["id"] for _, doc in answers}) == 1
    assert len({doc["author_token"] for _, doc in answers}) == 1
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Comment)) == 1


def test_a_ban_and_a_worker_batch_do_not_deadlock(app: Flask, client: FlaskClient,
                                                  demo_site: str) -> None:
    """The batch holds the comment (its claim) and then wants the author row (the
    counters); the ban must queue behind the comment instead of updating the author
    first."""
    answer = submit(client)
    with app.app_context():
        author_id = db.session.get(Comment, answer["id"]).author_id

    def ban(started: threading.Event) -> None:
        with app.app_context():
            author = mod.get_author(db.session, author_id, None)
            started.set()
            mod.ban_author(db.session, author, MODERATOR, "spam run", remove_pending=True)
            db.session.commit()

    with app.app_context(), Session(db.engine) as batch:
        batch.execute(text("SET lock_timeout = '10s'"))
        batch.execute(text("UPDATE comments SET checked_at = now() WHERE id = :id"),
                      {"id": answer["id"]})
        thread, errors = start_in_background(ban)
        thread.join(1.5)  # the ban reaches its first lock (deadlock_timeout is 1 s)
        batch.execute(text("SELECT id FROM authors WHERE id = :id FOR UPDATE"),
                      {"id": author_id})
        batch.commit()
    finished(thread, errors, "the ban")
    with app.app_context():
        assert db.session.get(Author, author_id).banned_at is not None
        assert db.session.get(Comment, answer["id"]).status == CommentStatus.REJECTED
    counters_match(app)
