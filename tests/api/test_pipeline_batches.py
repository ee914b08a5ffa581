"""Batched moderation: one task drains waiting comments, leases keep batches apart, and a
comment that already failed once is retried alone (on SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select, update

from service.domain.lifecycle import Actor, transition
from service.extensions import db
from service.models import Article, AuditEntry, Comment, CommentStatus, Event, utcnow
from workers.pipeline import moderate, moderate_batch

SUBMIT = "/api/v1/sites/demo/comments"
TOPICS = ["the bridge repairs", "the library hours", "the school budget", "bus timetables",
          "the harbour festival", "recycling rules", "the new clinic", "park benches",
          "street lighting", "the museum reopening", "council elections", "the bakery fire"]
TOXIC = "You are a worthless idiot, shut your stupid mouth you moron."


def submit_many(client: FlaskClient, n: int, article: str = "batch-story") -> list[int]:
    ids = []
    for i in range(n):
        answer = client.post(SUBMIT, json={"article": article, "author_name": f"Reader {i}",
                                           "body": f"I learned a lot about {TOPICS[i]} here; "
                                                   f"thanks for explaining it ({i})."},
                             environ_base={"REMOTE_ADDR": f"192.0.2.{i + 1}"})
        assert answer.status_code == 202, answer.get_json()
        ids.append(answer.get_json()["id"])
    return ids


def statuses(app: Flask, ids: list[int]) -> dict[int, Any]:
    with app.app_context():
        return dict(db.session.execute(select(Comment.id, Comment.status)
                                       .where(Comment.id.in_(ids))).all())


def test_one_task_decides_the_waiting_comments_with_its_own(
        app: Flask, client: FlaskClient, demo_site: str) -> None:
    ids = submit_many(client, 12)
    with app.app_context():
        decided = moderate_batch(db.session, ids[5], max_attempts=5, batch_size=8)
    assert ids[5] in decided, "the task's own comment is always in its batch"
    assert len(decided) == 8
    assert set(decided) - {ids[5]} == set(ids[:5] + ids[6:8]), "the others: oldest waiting"
    with app.app_context():
        # The next task, for a comment already decided, drains the 4 left; every later
        # task finds nothing to do. No comment is decided twice.
        again = {i: moderate(db.session, i, max_attempts=5, batch_size=8) for i in ids}
        assert all(decision is None for decision in again.values())
        article = db.session.scalar(select(Article).where(Article.key == "batch-story"))
        assert article is not None
        assert article.approved_count == 12
        audit = db.session.scalar(select(func.count()).select_from(AuditEntry).where(
            AuditEntry.action == "comment.approved"))
        assert audit == 12, "each comment decided exactly once"
    assert set(statuses(app, ids).values()) == {CommentStatus.APPROVED}


def test_a_leased_comment_is_left_to_its_batch(app: Flask, client: FlaskClient,
                                                demo_site: str) -> None:
    ids = submit_many(client, 3)
    with app.app_context():
        db.session.execute(update(Comment).where(Comment.id == ids[0])
                           .values(lease_until=utcnow() + timedelta(seconds=30)))
        db.session.commit()
        decided = moderate_batch(db.session, ids[0], max_attempts=5, batch_size=8)
        assert set(decided) == {ids[1], ids[2]}, (
            "a task whose comment is in another batch leaves it alone, but still drains")
        # The lease ran out (its batch died): the next try takes it, alone.
        db.session.execute(update(Comment).where(Comment.id == ids[0])
                           .values(lease_until=utcnow() - timedelta(seconds=1),
                                   moderation_attempts=1))
        db.session.commit()
        assert set(moderate_batch(db.session, ids[0], max_attempts=5, batch_size=8)) == {ids[0]}


def test_a_comment_on_its_second_try_runs_alone_and_is_not_drained(
        app: Flask, client: FlaskClient, demo_site: str) -> None:
    ids = submit_many(client, 4)
    with app.app_context():
        # ids[0] and ids[1] were in a batch that crashed: attempts counted, lease expired.
        db.session.execute(update(Comment).where(Comment.id.in_(ids[:2]))
                           .values(moderation_attempts=1,
                                   lease_until=utcnow() - timedelta(seconds=1)))
        db.session.commit()
        assert set(moderate_batch(db.session, ids[0], max_attempts=5, batch_size=8)) == {ids[0]}
        assert set(moderate_batch(db.session, ids[2], max_attempts=5, batch_size=8)) == {
            ids[2], ids[3]}, "a fresh comment's batch leaves the retried one to its own task"
        assert set(moderate_batch(db.session, ids[1], max_attempts=5, batch_size=8)) == {ids[1]}


def test_a_comment_past_its_attempts_is_held_without_holding_the_batch(
        app: Flask, client: FlaskClient, demo_site: str) -> None:
    ids = submit_many(client, 2)
    with app.app_context():
        db.session.execute(update(Comment).where(Comment.id == ids[0])
                           .values(moderation_attempts=5))
        db.session.commit()
        held = moderate_batch(db.session, ids[0], max_attempts=5, batch_size=8)
        assert held[ids[0]].status == CommentStatus.HELD
        assert "failed 5 times" in held[ids[0]].reason
        assert moderate_batch(db.session, ids[1], max_attempts=5, batch_size=8)[
            ids[1]].status == CommentStatus.APPROVED


def test_a_database_error_gives_the_batch_back_at_once(
        app: Flask, client: FlaskClient, demo_site: str, monkeypatch: Any) -> None:
    import pytest
    from sqlalchemy.exc import OperationalError

    from workers import pipeline

    ids = submit_many(client, 3)

    def deadlock(*_: Any, **__: Any) -> Any:
        raise OperationalError("UPDATE articles", {}, Exception("deadlock detected"))

    with app.app_context():
        monkeypatch.setattr(pipeline, "_decide_leased", deadlock)
        with pytest.raises(OperationalError):
            moderate_batch(db.session, ids[0], max_attempts=5, batch_size=8)
        rows = db.session.execute(select(Comment.lease_until, Comment.moderation_attempts)
                                  .where(Comment.id.in_(ids))).all()
        assert rows == [(None, 0)] * 3, "released, and the attempt not counted"
        monkeypatch.undo()
        # The task's retry drains them all again, as one batch.
        assert set(moderate_batch(db.session, ids[0], max_attempts=5, batch_size=8)) == set(ids)


def test_any_other_error_releases_the_batch_but_counts_the_attempt(
        app: Flask, client: FlaskClient, demo_site: str, monkeypatch: Any) -> None:
    import pytest

    from workers import pipeline

    ids = submit_many(client, 2)

    def broken(*_: Any, **__: Any) -> Any:
        raise RuntimeError("a bug")

    with app.app_context():
        monkeypatch.setattr(pipeline, "_decide_leased", broken)
        with pytest.raises(RuntimeError):
            moderate_batch(db.session, ids[0], max_attempts=5, batch_size=8)
        rows = db.session.execute(select(Comment.lease_until, Comment.moderation_attempts)
                                  .where(Comment.id.in_(ids))).all()
        assert rows == [(None, 1)] * 2


def test_a_task_for_a_decided_comment_still_drains_the_backlog(
        app: Flask, client: FlaskClient, demo_site: str) -> None:
    ids = submit_many(client, 5)
    with app.app_context():
        assert set(moderate_batch(db.session, ids[0], max_attempts=5, batch_size=2)) == {
            ids[0], ids[1]}
        assert set(moderate_batch(db.session, ids[0], max_attempts=5, batch_size=2)) == {
            ids[2], ids[3]}, "the named comment is done: the task drains the next two"
        assert set(moderate_batch(db.session, None, max_attempts=5, batch_size=2)) == {ids[4]}
        assert moderate_batch(db.session, None, max_attempts=5, batch_size=2) == {}


def test_a_batch_applies_its_counters_once_and_its_events_carry_the_final_count(
        app: Flask, client: FlaskClient, demo_site: str) -> None:
    from service.models import Author, Event

    ids = submit_many(client, 3, article="counted")
    with app.app_context():
        version_before = db.session.scalar(select(Article.thread_version)
                                           .where(Article.key == "counted"))
        decided = moderate_batch(db.session, ids[0], max_attempts=5, batch_size=8)
        assert {d.status for d in decided.values()} == {CommentStatus.APPROVED}
        article = db.session.scalar(select(Article).where(Article.key == "counted"))
        assert article is not None
        assert article.approved_count == 3
        assert article.thread_version != version_before
        payloads = db.session.scalars(select(Event.payload).where(
            Event.type == "comment.approved")).all()
        assert [p["data"]["article"]["approved_count"] for p in payloads] == [3, 3, 3]
        tallies = db.session.execute(select(Author.approved_count, Author.rejected_count)
                                     .join(Comment, Comment.author_id == Author.id)
                                     .where(Comment.id.in_(ids))).all()
        assert tallies == [(1, 0)] * 3


def test_an_edit_while_the_checks_run_is_not_decided_on_the_old_text(
        client: FlaskClient, app: Flask, demo_site: str, monkeypatch: Any) -> None:
    """The worker leases a clean comment and checks it; meanwhile its author edits it into
    abuse. The decision about the old text must not be applied to the new one: the claim
    skips the comment (the edit cleared its lease) and the next run checks the new text."""
    import workers.pipeline as pipeline

    answer = client.post(SUBMIT, json={"article": "edit-race", "author_name": "Reader",
                                       "body": "A calm and thoughtful note on the park."})
    assert answer.status_code == 202, answer.get_json()
    doc = answer.get_json()
    checks = pipeline.run_checks

    def edit_meanwhile(*args: Any, **kwargs: Any) -> Any:
        outcomes = checks(*args, **kwargs)
        edited = client.patch(f"/api/v1/comments/{doc['id']}", headers={
            "X-Author-Token": doc["author_token"]}, json={"body": TOXIC})
        assert edited.status_code == 200, edited.get_json()
        return outcomes

    monkeypatch.setattr(pipeline, "run_checks", edit_meanwhile)
    with app.app_context():
        assert moderate(db.session, doc["id"], max_attempts=5) is None  # not claimed
        comment = db.session.get(Comment, doc["id"])
        assert (comment.status, comment.body, comment.checked_at) == (
            CommentStatus.PENDING, TOXIC, None)
        assert not comment.check_results, "no scores of the old text are kept"
    monkeypatch.setattr(pipeline, "run_checks", checks)
    with app.app_context():
        decision = moderate(db.session, doc["id"], max_attempts=5)
        assert decision is not None
        assert decision.status == CommentStatus.REJECTED
    thread = client.get(SUBMIT, query_string={"article": "edit-race"}).get_json()
    assert thread["comments"] == []
    with app.app_context():
        trail = db.session.execute(select(AuditEntry.action, AuditEntry.actor_type)
                                   .where(AuditEntry.subject_id == str(doc["id"]))
                                   .order_by(AuditEntry.id)).all()
    assert [tuple(row) for row in trail] == [
        ("comment.created", "author"), ("comment.edited", "author"),
        ("comment.rejected", "system")]


def test_a_comment_deleted_while_the_checks_run_gets_no_scores(
        client: FlaskClient, app: Flask, demo_site: str, monkeypatch: Any) -> None:
    """Deleted (or erased) while its batch runs: the batch must not claim it, or it writes
    check results whose reasons quote the text that was just removed."""
    import workers.pipeline as pipeline

    answer = client.post(SUBMIT, json={"article": "delete-race", "author_name": "Reader",
                                       "body": TOXIC})
    assert answer.status_code == 202, answer.get_json()
    doc = answer.get_json()
    checks = pipeline.run_checks

    def delete_meanwhile(*args: Any, **kwargs: Any) -> Any:
        outcomes = checks(*args, **kwargs)
        assert client.delete(f"/api/v1/comments/{doc['id']}", headers={
            "X-Author-Token": doc["author_token"]}).status_code == 204
        return outcomes

    monkeypatch.setattr(pipeline, "run_checks", delete_meanwhile)
    with app.app_context():
        assert moderate(db.session, doc["id"], max_attempts=5) is None
        comment = db.session.get(Comment, doc["id"])
        assert comment.status == CommentStatus.DELETED
        assert comment.check_results == []


def test_a_batch_writes_one_entry_and_one_event_per_decision_in_order(
        app: Flask, client: FlaskClient, demo_site: str) -> None:
    """The batch's audit entries and events are written together at its end: each carries
    its comment's decision and the article's count after the batch, and an entry added
    before a transition keeps the lower id (the trail reads in the order things happened)."""
    ids = submit_many(client, 6, article="ordered-story")
    with app.app_context():
        comment = db.session.get(Comment, ids[0])
        assert comment is not None
        db.session.add(AuditEntry(site_id="demo", subject_type="site", subject_id="demo",
                                  action="site.updated", actor_type="admin", actor_id="test"))
        transition(db.session, comment, CommentStatus.HELD, Actor("moderator", "m"), "look")
        db.session.commit()
        first = db.session.scalars(select(AuditEntry.action).order_by(AuditEntry.id.desc())
                                   .limit(2)).all()
        assert first == ["comment.held", "site.updated"]
        decided = moderate_batch(db.session, None, max_attempts=5, batch_size=8)
        assert set(decided) == set(ids), "the held one is checked too, and stays held"
        entries = db.session.scalars(select(AuditEntry).where(
            AuditEntry.action == "comment.approved").order_by(AuditEntry.id)).all()
        assert [int(e.subject_id) for e in entries] == ids[1:]
        assert all(e.actor_type == "system" and e.details["scores"] for e in entries)
        events = db.session.scalars(select(Event).where(Event.type == "comment.approved")
                                    ).all()
        assert sorted(int(e.subject_id) for e in events) == ids[1:]
        counts = {e.payload["data"]["article"]["approved_count"] for e in events}
        assert counts == {5}, "every event of the batch carries the count after it"
        assert {e.payload["data"]["comment"]["status"] for e in events} == {"approved"}


def test_a_batch_stores_every_check_result_as_the_checks_gave_it(
        app: Flask, client: FlaskClient, demo_site: str) -> None:
    """On PostgreSQL the results go in as one row of arrays; on SQLite as an executemany:
    either way each verdict is one row with its own name, version, score, label, reasons."""
    from workers.checks import CommentContext, default_checks
    from workers.pipeline import run_checks

    ids = submit_many(client, 3)
    toxic = client.post(SUBMIT, json={"article": "batch-story", "author_name": "Rude",
                                      "body": TOXIC}).get_json()["id"]
    with app.app_context():
        before = utcnow()
        decided = moderate_batch(db.session, toxic, max_attempts=5, batch_size=8)
        assert set(decided) == {*ids, toxic}
        rows = db.session.scalars(select(Comment).where(Comment.id == toxic)).one().check_results
        expected = run_checks(default_checks(), [CommentContext(
            text=TOXIC, site_id="demo", author_name="Rude", article_key="batch-story")])[0]
        assert sorted(r.check_name for r in rows) == sorted(v.check for v in expected.verdicts)
        by_name = {r.check_name: r for r in rows}
        for verdict in expected.verdicts:
            row = by_name[verdict.check]
            assert row.check_version == verdict.version
            assert row.label == verdict.label
            assert isinstance(row.reasons, list)
            assert all(isinstance(reason, str) for reason in row.reasons)
            assert row.created_at.tzinfo is not None
            assert row.created_at >= before - timedelta(seconds=1)
        assert by_name["toxicity"].score > 0.5
        assert any("toxicity" in reason for reason in by_name["toxicity"].reasons)
        total = db.session.scalar(select(func.count()).select_from(Comment).join(
            Comment.check_results).where(Comment.id.in_([*ids, toxic])))
        assert total == 4 * len(rows), "every comment of the batch has all its results"
