"""The widget-facing API through the test client, on SQLite and PostgreSQL."""

from __future__ import annotations

import time
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from service.domain.sites import forget_site_view
from service.extensions import db
from service.models import Article, AuditEntry, Comment, CommentStatus, Event, Site
from workers.pipeline import moderate

pytestmark = pytest.mark.usefixtures("demo_site")

SUBMIT = "/api/v1/sites/demo/comments"


def submit(client: FlaskClient, body: str = "A thoughtful comment.", article: str = "story-1",
           headers: dict[str, str] | None = None, **extra: Any) -> Any:
    return client.post(SUBMIT, json={"article": article, "author_name": "Ann", "body": body,
                                     **extra}, headers=headers or {})


def decide_all(app: Flask) -> None:
    """Run the real pipeline in-process (the worker's own code) for pending comments."""
    with app.app_context():
        ids = db.session.scalars(select(Comment.id).where(Comment.checked_at.is_(None))).all()
        for comment_id in ids:
            moderate(db.session, comment_id, max_attempts=5)


def approve_all(app: Flask) -> None:
    """What a moderator's approval does: the status, and the checks owe it nothing more."""
    from service.domain.lifecycle import Actor, transition

    with app.app_context():
        for comment in db.session.scalars(select(Comment)
                                          .where(Comment.status != CommentStatus.APPROVED)):
            transition(db.session, comment, CommentStatus.APPROVED, Actor("moderator", "test"))
            comment.checked_at = comment.checked_at or comment.created_at
        db.session.commit()


def row_counts(app: Flask) -> dict[str, int]:
    with app.app_context():
        return {model.__name__: db.session.scalar(select(func.count()).select_from(model)) or 0
                for model in (Article, Comment, AuditEntry, Event)}


def test_submit_returns_202_pending_with_author_token(client: FlaskClient, app: Flask) -> None:
    response = submit(client, article_url="https://news.example/story-1",
                      article_title="Story one")
    assert response.status_code == 202
    doc = response.get_json()
    assert doc["status"] == "pending"
    assert doc["author_token"].startswith("at_")
    assert doc["article"] == "story-1"
    assert doc["status_url"] == f"/api/v1/comments/{doc['id']}"
    with app.app_context():
        comment = db.session.get(Comment, doc["id"])
        assert comment.article.title == "Story one"
        assert comment.ip_hash
        assert comment.ip_hash != "127.0.0.1"
        events = db.session.scalars(select(Event.type)).all()
        assert events == ["comment.created"]


def test_own_comment_visible_with_token_only(client: FlaskClient) -> None:
    doc = submit(client).get_json()
    url = f"/api/v1/comments/{doc['id']}"
    mine = client.get(url, headers={"X-Author-Token": doc["author_token"]})
    assert mine.status_code == 200
    assert mine.get_json()["status"] == "pending"
    assert mine.get_json()["message"] == "Your comment is awaiting moderation."
    missing = client.get(url)
    assert missing.status_code == 401
    assert missing.get_json()["error"]["code"] == "unauthorized"
    wrong = client.get(url, headers={"X-Author-Token": "at_not-the-token"})
    assert wrong.status_code == 404


def test_thread_shows_only_approved_threaded_and_sanitised(client: FlaskClient,
                                                           app: Flask) -> None:
    first = submit(client, body="Great piece, *well* argued. <script>alert(1)</script>")
    root_id = first.get_json()["id"]
    token = first.get_json()["author_token"]
    toxic = submit(client, body="You are a worthless idiot, shut your stupid mouth you moron.")
    decide_all(app)
    reply = submit(client, body="I agree with you.", parent_id=root_id,
                   headers={"X-Author-Token": token})
    assert reply.status_code == 202
    decide_all(app)

    thread = client.get(SUBMIT, query_string={"article": "story-1"}).get_json()
    assert thread["article"]["approved_count"] == 2
    assert [c["id"] for c in thread["comments"]] == [root_id]
    root = thread["comments"][0]
    assert "<script>" not in root["html"]
    assert "&lt;script&gt;" in root["html"]
    assert "<em>well</em>" in root["html"]
    assert [r["id"] for r in root["replies"]] == [reply.get_json()["id"]]
    assert root["replies"][0]["parent_id"] == root_id
    assert toxic.get_json()["id"] not in {c["id"] for c in thread["comments"]}
    # The reply reused the author identity from the token.
    with app.app_context():
        authors = {c.author_id for c in db.session.scalars(select(Comment))
                   if c.id in (root_id, reply.get_json()["id"])}
        assert len(authors) == 1


def test_a_root_comment_on_postgresql_is_two_statements(client: FlaskClient, app: Flask,
                                                         backend: str) -> None:
    """On PostgreSQL the common submit is one read and one write statement, no BEGIN or
    COMMIT round trip; the rare cases (a rename here) keep the transaction. The rows are the
    same either way."""
    from sqlalchemy import event as sa_event

    from service.models import Author

    assert submit(client, body="Opens the article.").status_code == 202  # creates story-1
    with app.app_context():
        engine = db.engine
    sent: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_rest: Any) -> None:
        sent.append(statement.lstrip().split()[0].upper())

    def checked_out(*_args: Any) -> None:
        sent.append("checkout")

    def submitted(**kwargs: Any) -> tuple[Any, list[str]]:
        sent.clear()
        sa_event.listen(engine, "before_cursor_execute", record)
        sa_event.listen(engine.pool, "checkout", checked_out)
        try:
            answer = submit(client, **kwargs)
        finally:
            sa_event.remove(engine, "before_cursor_execute", record)
            sa_event.remove(engine.pool, "checkout", checked_out)
        assert answer.status_code == 202, answer.get_json()
        return answer.get_json(), list(sent)

    new_author, new_sent = submitted(body="A new reader's remark.")
    same, same_sent = submitted(body="The same reader again.",
                                headers={"X-Author-Token": new_author["author_token"]})
    renamed, renamed_sent = submitted(body="Now signing as Ann B.", author_name="Ann B.",
                                      headers={"X-Author-Token": new_author["author_token"]})
    stranger, _ = submitted(body="A token from nowhere.",
                            headers={"X-Author-Token": "at_not-a-known-token"})
    # No name given: the known author keeps theirs (it was renamed "Anonymous").
    sent.clear()
    sa_event.listen(engine, "before_cursor_execute", record)
    sa_event.listen(engine.pool, "checkout", checked_out)
    try:
        unnamed = client.post(SUBMIT, json={"article": "story-1", "body": "No name given."},
                              headers={"X-Author-Token": new_author["author_token"]})
    finally:
        sa_event.remove(engine, "before_cursor_execute", record)
        sa_event.remove(engine.pool, "checkout", checked_out)
    assert unnamed.status_code == 202, unnamed.get_json()
    unnamed_sent = list(sent)
    if backend == "postgresql":
        # read + ids, then the write, on one pooled connection (``shared_autocommit``)
        assert new_sent == same_sent == unnamed_sent == ["checkout", "SELECT", "WITH"]
        assert "UPDATE" in renamed_sent  # the rename: the transactional path
    else:
        assert len([s for s in new_sent if s != "checkout"]) >= 4  # site, author, comment...
    assert same["author_token"] == renamed["author_token"] == new_author["author_token"]
    assert stranger["author_token"] != "at_not-a-known-token"
    with app.app_context():
        rows = {c.id: c for c in db.session.scalars(select(Comment))}
        mine = [rows[d["id"]] for d in (new_author, same, renamed)]
        assert [c.root_id for c in mine] == [c.id for c in mine]
        assert len({c.author_id for c in mine}) == 1
        assert rows[stranger["id"]].author_id != mine[0].author_id
        assert db.session.get(Author, mine[0].author_id).display_name == "Ann B."
        nameless = rows[unnamed.get_json()["id"]]
        assert (nameless.author_id, nameless.author_name) == (mine[0].author_id, "Ann B.")
        for d in (new_author, same, renamed, stranger):
            comment = rows[d["id"]]
            assert (comment.status, comment.depth, comment.enqueued_at is not None) == (
                CommentStatus.PENDING, 0, True)
            audit = db.session.scalars(select(AuditEntry).where(
                AuditEntry.subject_id == str(d["id"]))).one()
            assert (audit.action, audit.actor_id) == ("comment.created", str(comment.author_id))
            created = db.session.scalars(select(Event).where(
                Event.subject_id == str(d["id"]))).one()
            assert created.payload["data"]["comment"]["author_id"] == comment.author_id
            assert created.payload["data"]["article"]["key"] == "story-1"
    # A reply takes its id from the same sequence, after the ids the reads took.
    approve_all(app)
    reply = submit(client, body="A reply.", parent_id=same["id"]).get_json()
    assert reply["id"] > stranger["id"]


def test_submit_stores_comment_audit_and_event_with_thread_ids(client: FlaskClient,
                                                               app: Flask) -> None:
    """The submit path writes with prebuilt statements: check the rows it leaves."""
    first = submit(client, body="A root comment.").get_json()
    second = submit(client, body="Another root.").get_json()
    approve_all(app)  # replies go under published comments
    reply = submit(client, body="A reply.", parent_id=first["id"], author_name="Ann B.",
                   headers={"X-Author-Token": first["author_token"]}).get_json()
    approve_all(app)
    nested = submit(client, body="Deeper.", parent_id=reply["id"]).get_json()
    assert reply["author_token"] == first["author_token"]
    with app.app_context():
        rows = {c.id: c for c in db.session.scalars(select(Comment))}
        assert [(rows[d["id"]].root_id, rows[d["id"]].depth)
                for d in (first, second, reply, nested)] == [
            (first["id"], 0), (second["id"], 0), (first["id"], 1), (first["id"], 2)]
        assert rows[reply["id"]].author_id == rows[first["id"]].author_id
        assert rows[reply["id"]].author.display_name == "Ann B."
        assert rows[nested["id"]].author_id != rows[first["id"]].author_id
        comment = rows[nested["id"]]
        assert comment.status == CommentStatus.PENDING
        assert comment.enqueued_at is not None
        assert comment.checked_at is None
        assert comment.html == "<p>Deeper.</p>"
        audits = db.session.scalars(select(AuditEntry).where(
            AuditEntry.action == "comment.created").order_by(AuditEntry.id)).all()
        assert [(a.subject_id, a.to_status, a.actor_type, a.actor_id) for a in audits] == [
            (str(d["id"]), "pending", "author", str(rows[d["id"]].author_id))
            for d in (first, second, reply, nested)]
        event = db.session.scalars(select(Event).where(
            Event.subject_id == str(reply["id"]), Event.type == "comment.created")).one()
        assert event.payload["data"]["comment"]["parent_id"] == first["id"]
        assert event.payload["data"]["comment"]["author_name"] == "Ann B."
        assert event.payload["data"]["article"]["key"] == "story-1"


def test_thread_cursor_pagination_both_sorts(client: FlaskClient, app: Flask) -> None:
    ids = [submit(client, body=f"Point number {i} about the budget.").get_json()["id"]
           for i in range(5)]
    decide_all(app)
    for sort, expected in (("oldest", ids), ("newest", ids[::-1])):
        seen: list[int] = []
        cursor = None
        for _ in range(5):
            query = {"article": "story-1", "sort": sort, "limit": 2}
            if cursor:
                query["cursor"] = cursor
            page = client.get(SUBMIT, query_string=query).get_json()
            seen += [c["id"] for c in page["comments"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert seen == expected
    bad = client.get(SUBMIT, query_string={"article": "story-1", "cursor": "!!nope"})
    assert bad.status_code == 400
    assert "cursor" in bad.get_json()["error"]["fields"]
    other_sort = client.get(SUBMIT, query_string={"article": "story-1", "limit": 2})
    wrong = client.get(SUBMIT, query_string={"article": "story-1", "sort": "newest",
                                             "cursor": other_sort.get_json()["next_cursor"]})
    assert wrong.status_code == 400


def test_counts_for_many_articles(client: FlaskClient, app: Flask) -> None:
    submit(client, article="a")
    submit(client, article="a", body="Another fine remark.")
    submit(client, article="b")
    decide_all(app)
    doc = client.get("/api/v1/sites/demo/counts?article=a&article=b&article=unknown")
    assert doc.status_code == 200
    assert doc.get_json() == {"counts": {"a": 2, "b": 1, "unknown": 0}}
    too_many = client.get("/api/v1/sites/demo/counts",
                          query_string=[("article", f"k{i}") for i in range(101)])
    assert too_many.status_code == 422
    none = client.get("/api/v1/sites/demo/counts")
    assert none.status_code == 422
    # Keys are stored stripped, and answered as asked: count.js looks its elements'
    # data-warden-count values up in the answer exactly.
    spaced = client.get("/api/v1/sites/demo/counts",
                        query_string=[("article", "a "), ("article", " b"), ("article", "a")])
    assert spaced.get_json() == {"counts": {"a ": 2, " b": 1, "a": 2}}
    blank = client.get("/api/v1/sites/demo/counts", query_string=[("article", "   ")])
    assert blank.status_code == 422
    assert "article" in blank.get_json()["error"]["fields"]


BAD_SUBMITS: list[tuple[str, dict[str, Any], int, str]] = [
    ("empty body", {"article": "x", "body": ""}, 422, "body"),
    ("blank body", {"article": "x", "body": "   \n "}, 422, "body"),
    ("invisible body", {"article": "x", "body": "\u200b\u2060 \ufeff"}, 422, "body"),
    ("control characters only", {"article": "x", "body": "\x01\x7f\u202e"}, 422, "body"),
    ("blank glyphs and lone accents", {"article": "x", "body": "\u3164\u2800\u0301"}, 422,
     "body"),
    ("blank article", {"article": "   ", "body": "hi"}, 422, "article"),
    ("invisible article", {"article": "\u200b\u2060", "body": "hi"}, 422, "article"),
    ("article with a line break", {"article": "a\nb", "body": "hi"}, 422, "article"),
    ("missing article", {"body": "hello"}, 422, "article"),
    ("wrong types", {"article": 5, "author_name": [], "body": {}}, 422, "article"),
    ("unknown field", {"article": "x", "body": "hi", "admin": True}, 422, "admin"),
    ("bad email", {"article": "x", "body": "hi", "author_email": "nope"}, 422, "author_email"),
    ("parent as string", {"article": "x", "body": "hi", "parent_id": "1"}, 422, "parent_id"),
    ("unknown parent", {"article": "x", "body": "hi", "parent_id": 99999}, 400, "parent_id"),
    ("name too long", {"article": "x", "body": "hi", "author_name": "n" * 81}, 422,
     "author_name"),
    ("bad article url", {"article": "x", "body": "hi", "article_url": "javascript:alert(1)"},
     422, "article_url"),
]


@pytest.mark.parametrize(("what", "payload", "status", "field"), BAD_SUBMITS,
                         ids=[b[0] for b in BAD_SUBMITS])
def test_bad_submit_is_4xx_and_writes_nothing(client: FlaskClient, app: Flask, what: str,
                                              payload: dict[str, Any], status: int,
                                              field: str) -> None:
    before = row_counts(app)
    response = client.post(SUBMIT, json=payload)
    assert response.status_code == status, response.get_json()
    error = response.get_json()["error"]
    assert error["code"]
    assert error["message"]
    assert field in error.get("fields", {}), error
    assert row_counts(app) == before


def test_oversized_body_text_is_refused_not_truncated(client: FlaskClient, app: Flask,
                                                      settings: Any) -> None:
    limit = settings.max_body_chars
    emoji = "\U0001f600"
    ok = submit(client, body=emoji * limit)
    assert ok.status_code == 202
    with app.app_context():
        assert db.session.get(Comment, ok.get_json()["id"]).body == emoji * limit
    before = row_counts(app)
    over = submit(client, body=emoji * (limit + 1))
    assert over.status_code == 422
    assert over.get_json()["error"]["fields"] == {"body": [f"Longer than {limit} characters."]}
    assert row_counts(app) == before


def test_request_over_size_limit_gets_413_json(client: FlaskClient, app: Flask) -> None:
    before = row_counts(app)
    response = client.post(SUBMIT, data=b'{"article": "x", "body": "' + b"x" * 2_000_000 + b'"}',
                           content_type="application/json")
    assert response.status_code == 413
    assert response.get_json()["error"]["code"] == "payload_too_large"
    assert response.get_json()["error"]["message"] == (
        f"The request body is larger than the {app.config['MAX_CONTENT_LENGTH']:,} bytes "
        "allowed.")
    assert row_counts(app) == before


@pytest.mark.parametrize(("data", "content_type", "status"), [
    (b"not json", "application/json", 400),
    (b'{"article": "x", "body": "hi"', "application/json", 400),
    (b"article=x&body=hi", "application/x-www-form-urlencoded", 415),
    (b'{"article": "x", "body": "hi"}', "text/plain", 415),
    (b"[1, 2]", "application/json", 422),
])
def test_non_json_bodies_are_refused(client: FlaskClient, app: Flask, data: bytes,
                                     content_type: str, status: int) -> None:
    before = row_counts(app)
    response = client.post(SUBMIT, data=data, content_type=content_type)
    assert response.status_code == status
    assert response.get_json()["error"]["message"]
    assert row_counts(app) == before


def test_unknown_site_and_closed_article(client: FlaskClient, app: Flask) -> None:
    response = client.post("/api/v1/sites/nope/comments", json={"article": "x", "body": "hi"})
    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "not_found"
    assert client.get("/api/v1/sites/nope/comments?article=x").status_code == 404
    submit(client, article="closed")
    with app.app_context():
        article = db.session.scalars(select(Article).where(Article.key == "closed")).one()
        article.is_open = False
        db.session.commit()
    before = row_counts(app)
    closed = submit(client, article="closed")
    assert closed.status_code == 409
    assert closed.get_json()["error"]["code"] == "comments_closed"
    assert closed.get_json()["error"]["message"] == "comments are closed on this article"
    assert row_counts(app) == before


def test_an_article_closed_by_age_says_so_in_its_thread(client: FlaskClient, app: Flask,
                                                        keys: dict[str, str],
                                                        monkeypatch: Any) -> None:
    """The widget shows the form when the thread says ``is_open``: a site's
    close_after_days must close it there too, not only at the submit (a 409)."""
    from datetime import timedelta

    from service.models import utcnow
    from tests.api.conftest import auth

    first = submit(client, article="ageing")
    assert first.status_code == 202
    approve_all(app)
    fresh = client.get(SUBMIT, query_string={"article": "ageing"})
    assert (fresh.get_json()["article"]["is_open"], fresh.get_json()["article"]["closes_at"]) \
        == (True, None)
    assert client.patch("/api/v1/admin/sites/demo", headers=auth(keys["admin"]),
                        json={"close_after_days": 7}).status_code == 200
    with app.app_context():
        article = db.session.scalars(select(Article).where(Article.key == "ageing")).one()
        created = utcnow() - timedelta(days=6)
        article.created_at = created
        db.session.commit()
    week_page = client.get(SUBMIT, query_string={"article": "ageing"})
    week = week_page.get_json()["article"]
    assert week["is_open"] is True
    assert week["closes_at"] == (created + timedelta(days=7)).isoformat()
    # Two days on: nothing in the database changes, so neither does the thread's version.
    later = utcnow() + timedelta(days=2)
    import service.domain.submissions as submissions
    import service.domain.threads as threads
    monkeypatch.setattr(threads, "utcnow", lambda: later)
    monkeypatch.setattr(submissions, "utcnow", lambda: later)
    aged = client.get(SUBMIT, query_string={"article": "ageing"},
                      headers={"If-None-Match": week_page.headers["ETag"]})
    assert aged.status_code == 200, "a cached page must not keep saying open"
    assert aged.get_json()["article"]["is_open"] is False
    assert len(aged.get_json()["comments"]) == 1
    assert submit(client, article="ageing").status_code == 409


def test_reply_must_be_on_same_article_and_within_depth(client: FlaskClient, app: Flask,
                                                        settings: Any) -> None:
    parent = submit(client, article="one").get_json()
    other = submit(client, article="two", body="hi", parent_id=parent["id"])
    assert other.status_code == 400
    assert "parent_id" in other.get_json()["error"]["fields"]
    parent_id = parent["id"]
    for _ in range(settings.max_depth):
        approve_all(app)
        reply = submit(client, article="one", body="deeper", parent_id=parent_id)
        assert reply.status_code == 202
        parent_id = reply.get_json()["id"]
    too_deep = submit(client, article="one", body="deeper", parent_id=parent_id)
    assert too_deep.status_code == 400
    assert too_deep.get_json()["error"]["fields"] == {
        "parent_id": [f"Replies nest at most {settings.max_depth} levels deep."]}


def test_unknown_article_on_site_without_auto_create(client: FlaskClient, app: Flask) -> None:
    with app.app_context():
        db.session.get(Site, "demo").auto_create_articles = False
        db.session.commit()
    response = submit(client, article="never-seen")
    assert response.status_code == 404
    assert "article" in response.get_json()["error"]["fields"]
    # Its thread says so: the widget must not offer a form that can only fail.
    thread = client.get("/api/v1/sites/demo/comments?article=never-seen")
    assert thread.status_code == 200
    assert thread.get_json()["article"]["is_open"] is False
    with app.app_context():
        db.session.get(Site, "demo").auto_create_articles = True
        db.session.commit()
        forget_site_view("demo")  # as the admin route does
    reopened = client.get("/api/v1/sites/demo/comments?article=never-seen",
                          headers={"If-None-Match": thread.headers["ETag"]})
    assert reopened.status_code == 200, "another answer, another ETag"
    assert reopened.get_json()["article"]["is_open"] is True


def test_idempotency_key_replays_the_same_comment(client: FlaskClient, app: Flask) -> None:
    first = submit(client, headers={"Idempotency-Key": "k-1"}).get_json()
    again = submit(client, headers={"Idempotency-Key": "k-1",
                                    "X-Author-Token": first["author_token"]})
    assert again.status_code == 202
    assert again.get_json()["id"] == first["id"]
    # A first-time reader whose answer was lost retries without a token: same comment, and
    # the same token (derived from the key), so the reader can still see and edit it.
    lost = submit(client, headers={"Idempotency-Key": "k-1"})
    assert lost.status_code == 202
    assert (lost.get_json()["id"], lost.get_json()["author_token"]) == (
        first["id"], first["author_token"])
    other_text = submit(client, body="Something else entirely.",
                        headers={"Idempotency-Key": "k-1"})
    assert other_text.status_code == 409
    other_author = submit(client, headers={"Idempotency-Key": "k-1",
                                           "X-Author-Token": "at_someone-else"})
    assert other_author.status_code == 409
    # The same text elsewhere is another comment: not the retry of this one.
    token = {"Idempotency-Key": "k-1", "X-Author-Token": first["author_token"]}
    assert submit(client, article="story-2", headers=token).status_code == 409
    assert submit(client, parent_id=first["id"], headers=token).status_code == 409
    # A returning reader's own token is kept; the key then derives nothing.
    known = submit(client, body="From a known reader.",
                   headers={"Idempotency-Key": "k-2", "X-Author-Token": first["author_token"]})
    assert known.get_json()["author_token"] == first["author_token"]
    anonymous_retry = submit(client, body="From a known reader.",
                             headers={"Idempotency-Key": "k-2"})
    assert anonymous_retry.status_code == 409  # its token was not derived from the key
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Comment)) == 2


def test_an_idempotency_key_over_100_characters_is_refused_not_cut(
        client: FlaskClient, app: Flask) -> None:
    """Cut to 100 characters, two keys sharing their first 100 would be one: the second
    comment was answered 409, or with the first comment."""
    shared = "k" * 100
    first = submit(client, headers={"Idempotency-Key": shared})
    assert first.status_code == 202
    longer = submit(client, body="Another remark.", headers={"Idempotency-Key": shared + "-2"})
    assert longer.status_code == 422
    assert "Idempotency-Key" in longer.get_json()["error"]["fields"]
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Comment)) == 1


def test_only_a_published_comment_takes_replies(client: FlaskClient, app: Flask) -> None:
    """A reply under a held (hidden), waiting or removed comment would bring it back into
    the thread as a placeholder; the widget offers Reply on published comments only."""
    from service.domain.lifecycle import Actor, transition

    statuses = [CommentStatus.PENDING, CommentStatus.HELD, CommentStatus.REJECTED,
                CommentStatus.SPAM, CommentStatus.DELETED, CommentStatus.APPROVED]
    ids = [submit(client, body=f"Root number {i}.").get_json()["id"]
           for i in range(len(statuses))]
    with app.app_context():
        for comment_id, status in zip(ids, statuses, strict=True):
            if status != CommentStatus.PENDING:
                transition(db.session, db.session.get(Comment, comment_id), status,
                           Actor("moderator", "test"))
        db.session.commit()
    before = row_counts(app)
    answers = {str(status): submit(client, body="A reply.", parent_id=comment_id)
               for comment_id, status in zip(ids[:-1], statuses[:-1], strict=True)}
    assert {k: (a.status_code, a.get_json()["error"]["code"]) for k, a in answers.items()} \
        == dict.fromkeys(answers, (409, "conflict"))
    assert row_counts(app) == before
    assert submit(client, body="A reply.", parent_id=ids[-1]).status_code == 202


def test_a_site_max_depth_of_zero_allows_no_replies(client: FlaskClient, app: Flask) -> None:
    with app.app_context():
        db.session.get(Site, "demo").max_depth = 0
        db.session.commit()
    root = submit(client, body="A root comment.").get_json()
    reply = submit(client, body="A reply.", parent_id=root["id"])
    assert reply.status_code == 400
    assert reply.get_json()["error"]["fields"] == {"parent_id": ["This site takes no replies."]}
    assert client.get("/api/v1/sites/demo").get_json()["max_depth"] == 0


def test_honeypot_comment_becomes_spam(client: FlaskClient, app: Flask) -> None:
    doc = submit(client, body="Nice article!", website="http://bot.example").get_json()
    decide_all(app)
    with app.app_context():
        comment = db.session.get(Comment, doc["id"])
        assert comment.status == CommentStatus.SPAM
        assert "hidden form field" in comment.status_reason


def test_post_and_manual_modes(client: FlaskClient, app: Flask) -> None:
    with app.app_context():
        db.session.get(Site, "demo").mode = "post"
        db.session.commit()
    published = submit(client, article="p").get_json()
    assert published["status"] == "approved"
    assert client.get("/api/v1/sites/demo/counts?article=p").get_json()["counts"]["p"] == 1
    pulled = submit(client, article="p", body="You are a worthless idiot, shut up moron.")
    decide_all(app)
    with app.app_context():
        assert db.session.get(Comment, pulled.get_json()["id"]).status in {
            CommentStatus.REJECTED, CommentStatus.HELD}
        db.session.get(Site, "demo").mode = "manual"
        db.session.commit()
    held = submit(client, article="m").get_json()
    decide_all(app)
    with app.app_context():
        assert db.session.get(Comment, held["id"]).status == CommentStatus.HELD
        assert db.session.get(Comment, published["id"]).status == CommentStatus.APPROVED
    assert client.get("/api/v1/sites/demo/counts?article=p").get_json()["counts"]["p"] == 1


def test_a_switch_from_post_to_auto_still_checks_what_post_published(
        client: FlaskClient, app: Flask) -> None:
    """Published at once under post-moderation, not yet checked when the site switches to
    auto: the checks must still be able to pull it back (they looked at the site's mode
    now, and left it public)."""
    with app.app_context():
        db.session.get(Site, "demo").mode = "post"
        db.session.commit()
    published = submit(client, article="switch",
                       body="You are a worthless idiot, shut your stupid mouth you moron.")
    assert published.get_json()["status"] == "approved"
    with app.app_context():
        db.session.get(Site, "demo").mode = "auto"
        db.session.commit()
    decide_all(app)
    with app.app_context():
        assert db.session.get(Comment, published.get_json()["id"]).status == (
            CommentStatus.REJECTED)
    assert client.get("/api/v1/sites/demo/counts?article=switch").get_json()["counts"] == {
        "switch": 0}


def test_cors_only_for_the_sites_origins(client: FlaskClient) -> None:
    allowed = {"Origin": "http://localhost:8000"}
    foreign = {"Origin": "https://evil.example"}
    ok = client.get("/api/v1/sites/demo/counts?article=a", headers=allowed)
    assert ok.headers["Access-Control-Allow-Origin"] == "http://localhost:8000"
    assert "Origin" in ok.headers["Vary"]
    # Cacheable by shared caches, so the copy for a request without Origin varies too.
    for path in ("/api/v1/sites/demo/counts?article=a", "/api/v1/sites/demo/comments?article=a"):
        plain = client.get(path)
        assert "public" in plain.headers["Cache-Control"]
        assert "Origin" in plain.headers.get("Vary", ""), path
    assert "Access-Control-Allow-Origin" not in client.get(
        "/api/v1/sites/demo/counts?article=a", headers=foreign).headers
    preflight = client.options(SUBMIT, headers={
        **allowed, "Access-Control-Request-Method": "POST"})
    assert preflight.headers["Access-Control-Allow-Origin"] == "http://localhost:8000"
    assert "X-Author-Token" in preflight.headers["Access-Control-Allow-Headers"]
    bad_preflight = client.options(SUBMIT, headers={
        **foreign, "Access-Control-Request-Method": "POST"})
    assert "Access-Control-Allow-Origin" not in bad_preflight.headers
    refused = submit(client, headers=foreign)
    assert refused.status_code == 403
    assert refused.get_json()["error"]["code"] == "origin_not_allowed"
    assert "Access-Control-Allow-Origin" not in client.get(
        "/healthz", headers=allowed).headers


def test_site_settings_tell_any_page_whether_it_may_use_the_site(client: FlaskClient) -> None:
    """A widget embedded on a page the site does not allow, or naming a site that does not
    exist, would otherwise only see a CORS failure, which looks like a network error."""
    allowed = client.get("/api/v1/sites/demo", headers={"Origin": "http://localhost:8000"})
    assert allowed.get_json()["origin_allowed"] is True
    foreign = client.get("/api/v1/sites/demo", headers={"Origin": "https://evil.example"})
    assert foreign.status_code == 200
    assert foreign.headers["Access-Control-Allow-Origin"] == "*"
    assert foreign.get_json()["origin_allowed"] is False
    assert "Origin" in foreign.headers["Vary"]  # the answer depends on it: caches must key it
    assert client.get("/api/v1/sites/demo").get_json()["origin_allowed"] is None
    missing = client.get("/api/v1/sites/nope", headers={"Origin": "https://evil.example"})
    assert missing.status_code == 404
    assert missing.headers["Access-Control-Allow-Origin"] == "*"
    assert missing.get_json()["error"]["code"] == "not_found"
    # The site's other routes still answer CORS only for its origins.
    assert "Access-Control-Allow-Origin" not in client.get(
        "/api/v1/sites/demo/comments?article=a", headers={"Origin": "https://evil.example"}
    ).headers


def test_rate_limit_on_submit(app: Flask, settings: Any) -> None:
    from dataclasses import replace

    from service.app import create_app

    limited = create_app(replace(settings, rate_limit_submit="2/minute"))
    limited_client = limited.test_client()
    answers = [submit(limited_client) for _ in range(3)]
    assert [a.status_code for a in answers] == [202, 202, 429]
    # Accepted submits carry no quota headers (each would cost a Redis round trip).
    assert "X-RateLimit-Remaining" not in answers[0].headers
    blocked = submit(limited_client)
    assert blocked.get_json()["error"]["code"] == "rate_limited"
    assert 0 < int(blocked.headers["Retry-After"]) <= 61  # the window, rounded up
    assert blocked.headers["X-RateLimit-Limit"] == "2"
    assert blocked.headers["X-RateLimit-Remaining"] == "0"
    assert int(blocked.headers["X-RateLimit-Reset"]) > time.time()
    with limited.app_context():
        db.engine.dispose()


def test_behind_a_trusted_proxy_readers_are_told_apart(app: Flask, settings: Any) -> None:
    """Behind a reverse proxy every request comes from the proxy: without
    WARDEN_TRUSTED_PROXIES all readers share one rate-limit bucket and one address."""
    from dataclasses import replace

    from service.app import create_app

    proxied = create_app(replace(settings, rate_limit_submit="1/minute", trusted_proxies=1))
    client = proxied.test_client()

    def via_proxy(reader: str, n: int) -> Any:
        return submit(client, body=f"Remark {n}.", headers={"X-Forwarded-For": reader})

    answers = [via_proxy("203.0.113.1", 1), via_proxy("203.0.113.2", 2),
               via_proxy("203.0.113.1", 3),
               via_proxy("2001:db8:5:6::1", 4), via_proxy("2001:db8:5:6::2", 5)]
    # One per reader per minute; an IPv6 reader is its /64.
    assert [a.status_code for a in answers] == [202, 202, 429, 202, 429]
    with proxied.app_context():
        hashes = db.session.scalars(select(Comment.ip_hash).order_by(Comment.id)).all()
        db.session.remove()  # its connection back to the pool, which dispose then closes
        db.engine.dispose()
    assert len(hashes) == 3
    assert len(set(hashes)) == 3
    direct = create_app(replace(settings, rate_limit_submit="1/minute"))
    plain = direct.test_client()
    ignored = [submit(plain, body=f"Plain {n}.", headers={"X-Forwarded-For": f"198.51.100.{n}"})
               for n in range(2)]
    assert [a.status_code for a in ignored] == [202, 429]  # the header is not believed
    with direct.app_context():
        db.engine.dispose()


def test_rate_limits_hold_when_their_redis_is_away(app: Flask, settings: Any) -> None:
    """Redis for the shared counters unreachable: each process counts on its own (the
    limits were silently off), and /readyz says so without taking the process out."""
    from dataclasses import replace

    from service.app import create_app

    away = create_app(replace(settings, rate_limit_submit="2/minute",
                              redis_url="redis://127.0.0.1:1/0"))  # nothing listens there
    client = away.test_client()
    answers = [submit(client, body=f"Remark {i}.") for i in range(3)]
    assert [a.status_code for a in answers] == [202, 202, 429]
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.get_json()["checks"]["rate_limits"].startswith("degraded: Redis unreachable")
    with away.app_context():
        db.engine.dispose()


def test_openapi_and_docs(client: FlaskClient) -> None:
    spec = client.get("/openapi.json").get_json()
    paths = spec["paths"]
    for path in ("/api/v1/sites/{site_id}/comments", "/api/v1/sites/{site_id}/counts",
                 "/api/v1/comments/{comment_id}"):
        assert path in paths
    assert "202" in paths["/api/v1/sites/{site_id}/comments"]["post"]["responses"]
    assert client.get("/docs").status_code == 200


def test_unknown_route_and_method_are_json(client: FlaskClient) -> None:
    missing = client.get("/api/v1/nothing-here")
    assert missing.status_code == 404
    assert missing.get_json()["error"]["code"] == "not_found"
    wrong = client.delete(SUBMIT)
    assert wrong.status_code == 405
    assert wrong.get_json()["error"]["code"] == "method_not_allowed"


def test_health_and_readiness(client: FlaskClient) -> None:
    assert client.get("/healthz").get_json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    checks = ready.get_json()["checks"]
    assert (checks["database"], checks["broker"]) == ("ok", "ok")
    assert checks["rate_limits"].startswith("ok")


def test_thread_of_an_article_nobody_commented_on_is_empty(client: FlaskClient) -> None:
    response = client.get(SUBMIT, query_string={"article": "brand-new"})
    assert response.status_code == 200
    assert response.get_json() == {
        "article": {"key": "brand-new", "url": None, "title": None, "is_open": True,
                    "closes_at": None, "approved_count": 0},
        "comments": [], "next_cursor": None}


def test_thread_and_counts_revalidate_with_etags(client: FlaskClient, app: Flask) -> None:
    first = submit(client).get_json()
    decide_all(app)
    page = client.get(SUBMIT, query_string={"article": "story-1"})
    etag = page.headers["ETag"]
    assert etag.startswith('W/"')
    assert "must-revalidate" in page.headers["Cache-Control"]
    same = client.get(SUBMIT, query_string={"article": "story-1"},
                      headers={"If-None-Match": etag})
    assert same.status_code == 304
    assert same.data == b""
    # Any change to what the thread shows changes the validator: a reply is approved...
    submit(client, body="A reply.", parent_id=first["id"])
    decide_all(app)
    changed = client.get(SUBMIT, query_string={"article": "story-1"},
                         headers={"If-None-Match": etag})
    assert changed.status_code == 200
    assert len(changed.get_json()["comments"][0]["replies"]) == 1
    # ...and the author deleting the root (kept as a placeholder) changes it again.
    etag = changed.headers["ETag"]
    assert client.delete(f"/api/v1/comments/{first['id']}",
                         headers={"X-Author-Token": first["author_token"]}).status_code == 204
    after_delete = client.get(SUBMIT, query_string={"article": "story-1"},
                              headers={"If-None-Match": etag})
    assert after_delete.status_code == 200
    assert after_delete.get_json()["comments"][0]["deleted"] is True
    counts = client.get("/api/v1/sites/demo/counts?article=story-1")
    assert client.get("/api/v1/sites/demo/counts?article=story-1",
                      headers={"If-None-Match": counts.headers["ETag"]}).status_code == 304


@pytest.mark.parametrize("removal", ["reject", "spam", "flags"])
def test_an_approved_reply_under_a_removed_root_stays_under_a_placeholder(
        client: FlaskClient, app: Flask, keys: dict[str, str], removal: str) -> None:
    """The reply is counted, so the thread shows it: its removed root (rejected, spam,
    or hidden by reader reports) stays as a placeholder with nothing of its own, like a
    deleted one; a removed root without approved replies is not listed at all."""
    from tests.api.conftest import auth

    root = submit(client, body="Root remark on the budget.", article="e2").get_json()
    decide_all(app)
    reply = submit(client, body="A reply to it.", article="e2",
                   parent_id=root["id"]).get_json()
    lonely = submit(client, body="Another remark, nobody answered.", article="e2").get_json()
    decide_all(app)
    before = client.get(SUBMIT, query_string={"article": "e2"})
    assert len(before.get_json()["comments"]) == 2
    if removal == "flags":
        client.patch("/api/v1/admin/sites/demo", headers=auth(keys["admin"]),
                     json={"flag_threshold": 1, "hide_flagged": True})
    for comment_id in (root["id"], lonely["id"]):
        if removal == "flags":
            response = client.post(f"/api/v1/comments/{comment_id}/flags",
                                   json={"reason": "harassment"})
        else:
            response = client.post(f"/api/v1/moderation/comments/{comment_id}/decision",
                                   headers=auth(keys["mod"]), json={"action": removal})
        assert response.status_code in {200, 201}
    assert client.get("/api/v1/sites/demo/counts?article=e2").get_json()["counts"] == {"e2": 1}
    page = client.get(SUBMIT, query_string={"article": "e2", "limit": 1},
                      headers={"If-None-Match": before.headers["ETag"]})
    assert page.status_code == 200
    doc = page.get_json()
    assert doc["next_cursor"] is None
    [placeholder] = doc["comments"]
    replies = placeholder.pop("replies")
    assert placeholder == {"id": root["id"], "parent_id": None, "author_name": None,
                           "html": "", "deleted": True,
                           "created_at": before.get_json()["comments"][0]["created_at"]}
    assert [(r["id"], r["deleted"], r["author_name"]) for r in replies] == [
        (reply["id"], False, "Ann")]
    assert "A reply to it." in replies[0]["html"]
    assert "Root remark" not in page.get_data(as_text=True)


def test_thread_reads_take_a_fixed_number_of_queries(client: FlaskClient, app: Flask) -> None:
    """No N+1: a page of 20 roots with replies costs the same queries as a page of 2."""
    from sqlalchemy import event

    from service.domain.sites import forget_site_view
    from service.domain.threads import PAGES

    def queries_for(article: str) -> int:
        PAGES.clear()
        statements: list[str] = []
        with app.app_context():
            forget_site_view("demo")
            engine = db.engine
        listener = lambda *args: statements.append(args[2])  # noqa: E731
        event.listen(engine, "before_cursor_execute", listener)
        try:
            assert client.get(SUBMIT, query_string={"article": article}).status_code == 200
        finally:
            event.remove(engine, "before_cursor_execute", listener)
        return len([s for s in statements if s.lstrip().upper().startswith("SELECT")])

    for article, roots in (("small", 2), ("large", 20)):
        for i in range(roots):
            root = submit(client, article=article, body=f"Root {i} about the plan.").get_json()
            submit(client, article=article, body="A reply.", parent_id=root["id"])
    decide_all(app)
    approve_all(app)  # whatever the checks thought of 44 comments from one address
    assert queries_for("small") == queries_for("large") == 4  # site, article, roots, replies
    with app.app_context():
        engine = db.engine
    statements: list[str] = []
    event.listen(engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
    thread = client.get(SUBMIT, query_string={"article": "large"})
    assert thread.status_code == 200
    # The article (with its version) only: the site came from the process's site cache
    # and the page from the page cache. No BEGIN either, on SQLite as on PostgreSQL: one
    # statement is its own snapshot.
    assert [s.split()[0].upper() for s in statements] == ["SELECT"]
    statements.clear()
    counts = client.get("/api/v1/sites/demo/counts?article=large&article=small")
    assert counts.get_json()["counts"]["large"] == thread.get_json()["article"]["approved_count"]
    assert [s.split()[0].upper() for s in statements] == ["SELECT"]


def test_an_app_without_limits_does_not_switch_off_another_apps_limits(
        app: Flask, settings: Any) -> None:
    """The limiter is one per process; each app still keeps its own limits."""
    from dataclasses import replace

    from service.app import create_app

    limited = create_app(replace(settings, rate_limit_submit="2/minute"))
    unlimited = create_app(replace(settings, rate_limit_submit="off", rate_limit_flag="off"))
    assert [submit(unlimited.test_client(), body=f"Free remark {i}.").status_code
            for i in range(3)] == [202, 202, 202]
    limited_client = limited.test_client()
    assert [submit(limited_client, body=f"Counted remark {i}.").status_code
            for i in range(3)] == [202, 202, 429]
    for one in (limited, unlimited):
        with one.app_context():
            db.engine.dispose()


def test_refused_submits_count_towards_the_limit_unless_turned_away_before_the_route(
        app: Flask, settings: Any) -> None:
    """As the README says: a 422 uses up the address's budget (a flood of bad submits is
    still a flood); a 415 never reaches the route and does not."""
    from dataclasses import replace

    from service.app import create_app

    limited = create_app(replace(settings, rate_limit_submit="2/minute"))
    client = limited.test_client()
    for _ in range(3):
        wrong_type = client.post(SUBMIT, data="article=a", content_type="text/plain")
        assert wrong_type.status_code == 415
    assert client.post(SUBMIT, json={"article": "a", "body": 5}).status_code == 422
    assert [submit(client, body=f"Counted remark {i}.").status_code
            for i in range(2)] == [202, 429]
    with limited.app_context():
        db.engine.dispose()


def test_rate_limit_per_author_follows_the_token_across_addresses(app: Flask,
                                                                  settings: Any) -> None:
    from dataclasses import replace

    from service.app import create_app

    limited = create_app(replace(settings, rate_limit_submit="2/minute"))
    limited_client = limited.test_client()
    token = submit(limited_client).get_json()["author_token"]
    codes = [
        limited_client.post(SUBMIT, json={"article": "story-1", "body": f"Remark {i}."},
                            headers={"X-Author-Token": token},
                            environ_base={"REMOTE_ADDR": f"10.0.0.{i}"}).status_code
        for i in range(3)
    ]
    assert codes == [202, 202, 429]  # three addresses, one author: the third is over
    fresh = limited_client.post(SUBMIT, json={"article": "story-1", "body": "Hello."},
                                environ_base={"REMOTE_ADDR": "10.0.0.99"})
    assert fresh.status_code == 202  # another reader on another address is unaffected
    with limited.app_context():
        db.engine.dispose()


def test_secrets_never_reach_the_logs(client: FlaskClient, app: Flask,
                                      caplog: pytest.LogCaptureFixture,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    import logging

    from service.domain.sites import create_api_key

    caplog.set_level(logging.DEBUG)
    # warden.* does not propagate to the root logger that caplog listens on.
    monkeypatch.setattr(logging.getLogger("warden"), "handlers",
                        [*logging.getLogger("warden").handlers, caplog.handler])
    with app.app_context():
        _key, plain = create_api_key(db.session, "demo", "admin")
        db.session.commit()
    doc = submit(client).get_json()
    client.get(f"/api/v1/comments/{doc['id']}", headers={"X-Author-Token": doc["author_token"]})
    made = client.post("/api/v1/admin/sites/demo/webhooks",
                       headers={"Authorization": f"Bearer {plain}"},
                       json={"url": "https://hooks.example/warden", "event_types": ["*"]})
    assert made.status_code == 201
    client.get("/api/v1/moderation/comments", headers={"Authorization": f"Bearer {plain}"})
    decide_all(app)
    remote_keys = _use_remote_providers(app, plain)
    logged = caplog.text
    assert "gave no opinion" in logged  # the failure paths below were logged, keys aside
    for secret in (plain, doc["author_token"], made.get_json()["secret"], *remote_keys):
        assert secret not in logged


def _use_remote_providers(app: Flask, admin_key: str) -> tuple[str, ...]:
    """Akismet and Perspective on fakes: answers, failures, a refused key, feedback."""
    from dataclasses import replace

    from service.app import create_app
    from service.domain import feedback
    from service.models import ProviderReport
    from tests.remote_fakes import AKISMET_KEY, PERSPECTIVE_KEY, FakeProviders

    wrong = ("wrong-akismet-key-0b7e1", "wrong-perspective-key-77c3")
    with FakeProviders() as fake:
        for akismet_key, perspective_key, mode in [(AKISMET_KEY, PERSPECTIVE_KEY, "auto"),
                                                   (AKISMET_KEY, PERSPECTIVE_KEY, "500"),
                                                   (AKISMET_KEY, PERSPECTIVE_KEY, "hang"),
                                                   (*wrong, "auto")]:
            fake.akismet = fake.perspective = fake.submit = mode
            remote = create_app(replace(app.config["WARDEN"], akismet_key=akismet_key,
                                        akismet_url=fake.url, perspective_key=perspective_key,
                                        perspective_url=fake.url, remote_timeout_seconds=0.3))
            client = remote.test_client()
            comment_id = submit(client, body="You idiot, buy my pills.").get_json()["id"]
            decide_all(remote)
            client.post("/api/v1/moderation/simulate", headers={
                "Authorization": f"Bearer {admin_key}"}, json={"text": "Hello there."})
            client.post(f"/api/v1/moderation/comments/{comment_id}/decision", headers={
                "Authorization": f"Bearer {admin_key}"}, json={"action": "spam"})
            with remote.app_context():
                for report_id in db.session.scalars(select(ProviderReport.id)).all():
                    feedback.send_report(db.session, report_id, remote.config["WARDEN"])
                db.session.remove()
                db.engine.dispose()
        assert fake.received("/1.1/submit-spam")
    return (AKISMET_KEY, PERSPECTIVE_KEY, *wrong)


def test_deleting_ones_comment_refuses_query_parameters(client: FlaskClient,
                                                        app: Flask) -> None:
    """A delete takes nothing but the token: ``?hard=1`` or ``{"hard": true}`` is refused,
    not read as a plain delete (the comment stays as it was)."""
    made = submit(client).get_json()
    token = {"X-Author-Token": made["author_token"]}
    refused = client.delete(f"/api/v1/comments/{made['id']}?hard=1", headers=token)
    assert refused.status_code == 422
    assert refused.get_json()["error"]["fields"] == {"hard": ["Unknown field."]}
    with_body = client.delete(f"/api/v1/comments/{made['id']}", headers=token,
                              json={"hard": True})
    assert with_body.status_code == 422
    assert with_body.get_json()["error"]["fields"] == {"hard": ["Unknown field."]}
    with app.app_context():
        assert db.session.get(Comment, made["id"]).status == CommentStatus.PENDING
    assert client.delete(f"/api/v1/comments/{made['id']}", headers=token).status_code == 204


def test_a_limit_turned_off_is_not_consulted_while_the_others_count(
        app: Flask, settings: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Submits off, flags on (the limiter runs in the process): a submit never reaches
    flask-limiter, which would resolve the route's limits only to find them exempt."""
    from dataclasses import replace

    from service.app import create_app
    from service.extensions import limiter

    mixed = create_app(replace(settings, rate_limit_submit="off", rate_limit_flag="1/minute"))
    client = mixed.test_client()
    consulted: list[str | None] = []
    real_check = limiter._check_request_limit

    def spy(*args: Any, **kwargs: Any) -> None:
        consulted.append(kwargs.get("callable_name"))
        return real_check(*args, **kwargs)

    monkeypatch.setattr(limiter, "_check_request_limit", spy)
    codes = [submit(client, body=f"Unlimited remark {i}.").status_code for i in range(4)]
    assert codes == [202] * 4
    assert not [name for name in consulted if name and name.endswith("Comments.post")]
    first = submit(client, body="One to report.").get_json()["id"]
    flags = [client.post(f"/api/v1/comments/{first}/flags", json={"reason": "spam"},
                         environ_base={"REMOTE_ADDR": "10.0.0.7"}).status_code
             for _ in range(2)]
    assert flags[-1] == 429  # the flag limit still counts
    with mixed.app_context():
        db.engine.dispose()
