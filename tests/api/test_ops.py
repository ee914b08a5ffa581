"""Metrics and hostile input: JSON, chunked bodies, cursors, times, blank and invisible text."""

from __future__ import annotations

import base64

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.api.conftest import auth
from tests.api.test_public import SUBMIT, decide_all, row_counts, submit

pytestmark = pytest.mark.usefixtures("demo_site")


def test_metrics_expose_traffic_and_moderation_state(client: FlaskClient, app: Flask) -> None:
    submit(client)
    submit(client, body="You are a worthless idiot, shut your stupid mouth you moron.")
    regretted = submit(client, body="Posted in haste.").get_json()
    client.get("/api/v1/sites/demo/counts?article=story-1")
    before = client.get("/metrics").get_data(as_text=True)
    assert "warden_moderation_backlog 3.0" in before
    # Deleted by its author before the checks ran: nothing waits on it any more.
    assert client.delete(f"/api/v1/comments/{regretted['id']}", headers={
        "X-Author-Token": regretted["author_token"]}).status_code == 204
    assert "warden_moderation_backlog 2.0" in client.get("/metrics").get_data(as_text=True)
    decide_all(app)
    text = client.get("/metrics").get_data(as_text=True)
    assert 'warden_comments{site="demo",status="approved"} 1.0' in text
    assert 'warden_comments{site="demo",status="rejected"} 1.0' in text
    assert "warden_moderation_backlog 0.0" in text
    assert ('warden_http_requests_total{endpoint="/api/v1/sites/<string:site_id>/comments",'
            'method="POST",status="202"}') in text
    assert "warden_http_request_duration_seconds_bucket" in text


@pytest.mark.parametrize("raw", [
    b'{"article": "x", "body": NaN}',
    b'{"article": "x", "body": "hi", "n": Infinity}',
    b'{"article": "x", "body": "hi", "deep": ' + b"[" * 50 + b"]" * 50 + b"}",
    b"[" * 5000,  # past the parser's recursion limit
    b'{"article": "x", "body": "hi", "n": ' + b"1" * 5000 + b"}",  # past int()'s digit limit
    b'{"article": "x", "body": "hi", "n": 1e400}',  # parses as inf
])
def test_not_quite_json_is_refused(client: FlaskClient, app: Flask, raw: bytes) -> None:
    before = row_counts(app)
    response = client.post(SUBMIT, data=raw, content_type="application/json")
    assert response.status_code == 400
    assert "not usable" in response.get_json()["error"]["message"]
    assert row_counts(app) == before


@pytest.mark.parametrize("raw", [
    b'{"article": "x", "body": "bad \\ud800 surrogate"}',
    b'{"article": "x\\udfff", "body": "fine"}',
    b'{"article": "x", "body": "fine", "\\ud83d": 1}',
])
def test_lone_surrogates_are_refused_before_storage(client: FlaskClient, app: Flask,
                                                    raw: bytes) -> None:
    before = row_counts(app)
    response = client.post(SUBMIT, data=raw, content_type="application/json")
    assert response.status_code == 400
    assert "surrogate" in response.get_json()["error"]["message"]
    assert row_counts(app) == before


def test_emoji_pairs_are_text_not_surrogates(client: FlaskClient) -> None:
    paired = client.post(SUBMIT, data=b'{"article": "x", "body": "ok \\ud83d\\ude00"}',
                         content_type="application/json")
    assert paired.status_code == 202


def test_hashed_addresses_are_forgotten_after_retention(client: FlaskClient, app: Flask) -> None:
    from datetime import UTC, datetime, timedelta

    from service.extensions import db
    from service.models import Comment
    from workers.tasks.sweeps import forget_addresses

    old = submit(client).get_json()["id"]
    new = submit(client, body="A fresh remark.").get_json()["id"]
    with app.app_context():
        db.session.get(Comment, old).created_at = datetime.now(UTC) - timedelta(days=31)
        db.session.commit()
        assert forget_addresses.run() == 1
        assert db.session.get(Comment, old).ip_hash is None
        assert db.session.get(Comment, old).user_agent is None
        assert db.session.get(Comment, new).ip_hash is not None


def test_sweep_spaces_out_resends_as_comments_age(client: FlaskClient, app: Flask,
                                                  settings: object) -> None:
    from datetime import UTC, datetime, timedelta

    from service.extensions import db
    from service.models import Comment
    from workers.tasks.sweeps import sweep_moderation

    young = submit(client).get_json()["id"]
    old = submit(client, body="An older remark.").get_json()["id"]
    now = datetime.now(UTC)
    with app.app_context():
        for comment_id, age in ((young, timedelta(seconds=40)), (old, timedelta(hours=4))):
            comment = db.session.get(Comment, comment_id)
            comment.created_at = now - age
            comment.enqueued_at = now - timedelta(minutes=2)  # the send was lost
        db.session.commit()
        assert sweep_moderation.run() == 2
        assert sweep_moderation.run() == 0  # just re-sent: nothing is due
        young_next = db.session.get(Comment, young).enqueued_at
        old_next = db.session.get(Comment, old).enqueued_at
        # Eligible again after max(stale, age/2): 30 s for the young one, capped at 1 h.
        assert young_next - now < timedelta(seconds=5)
        assert timedelta(minutes=59) < old_next - now + timedelta(seconds=30) \
            <= timedelta(hours=1, seconds=5)


@pytest.mark.parametrize("url", [
    "/api/v1/sites/demo/comments?article=a%00b",
    "/api/v1/sites/de%00mo/counts?article=a",
    "/api/v1/sites/demo/counts?article=ok&article=%00",
])
def test_unstorable_text_in_path_or_query_is_a_400(client: FlaskClient, url: str) -> None:
    response = client.get(url)
    assert response.status_code == 400
    assert "NUL" in response.get_json()["error"]["message"]


def test_undecodable_query_bytes_are_replaced_not_fatal(client: FlaskClient) -> None:
    response = client.get("/api/v1/sites/demo/counts?article=%ED%A0%80")  # a UTF-8 surrogate
    assert response.status_code == 200
    assert len(response.get_json()["counts"]) == 1


def test_duplicate_json_keys_are_refused(client: FlaskClient, app: Flask) -> None:
    """Which "body" counts would be up to the parser: refused, nothing stored."""
    before = row_counts(app)
    response = client.post(SUBMIT, data=b'{"article": "a", "body": "Fine words.", '
                           b'"author_name": "A", "body": "Other words."}',
                           content_type="application/json")
    assert response.status_code == 400
    assert response.get_json()["error"]["message"] == (
        "The request body is not usable: key 'body' appears more than once in a JSON object.")
    assert row_counts(app) == before
    nested = client.post(SUBMIT, data=b'{"article": "a", "body": "Fine words.", '
                         b'"client": {"t": 1, "t": 2}}', content_type="application/json")
    assert nested.status_code == 400


def test_nul_in_json_text_is_refused(client: FlaskClient, app: Flask) -> None:
    before = row_counts(app)
    response = client.post(SUBMIT, json={"article": "a\x00b", "body": "hi"})
    assert response.status_code == 400
    assert row_counts(app) == before


def _cursor(after: str) -> str:
    """A cursor token shaped like the service's, around raw JSON for the id."""
    raw = f'{{"s":"newest","a":{after}}}'.encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


@pytest.mark.parametrize("after", [str(10**20), "1e300", "Infinity", f'"{"9" * 30}"',
                                   "true", "-1"])
def test_absurd_cursor_ids_are_a_400(client: FlaskClient, keys: dict[str, str],
                                     after: str) -> None:
    submit(client)  # an article, a comment and an audit entry: every list has rows to query
    for url in (f"{SUBMIT}?article=story-1&sort=newest",
                "/api/v1/moderation/comments?status=pending&order=newest",
                "/api/v1/moderation/audit?subject_type=comment",
                "/api/v1/admin/sites/demo/articles?limit=5"):
        response = client.get(f"{url}&cursor={_cursor(after)}", headers=auth(keys["admin"]))
        assert response.status_code == 400, (url, response.get_json())
        assert response.get_json()["error"]["fields"] == {"cursor": ["Invalid cursor."]}


@pytest.mark.parametrize("moment", ["0001-01-01T00:00:00+05:00", "9999-12-31T23:59:59-05:00"])
def test_times_outside_the_calendar_in_utc_are_a_422(client: FlaskClient, app: Flask,
                                                     keys: dict[str, str], moment: str) -> None:
    from service.extensions import db
    from service.models import Author, Comment

    comment_id = submit(client).get_json()["id"]
    with app.app_context():
        author_id = db.session.get(Comment, comment_id).author_id
    for url, field in (("/api/v1/moderation/comments", "since"),
                       ("/api/v1/moderation/comments", "until"),
                       ("/api/v1/moderation/audit", "since")):
        response = client.get(url, query_string={field: moment}, headers=auth(keys["mod"]))
        assert response.status_code == 422, (url, field, response.get_json())
        assert field in response.get_json()["error"]["fields"]
    suspend = client.post(f"/api/v1/moderation/authors/{author_id}/suspend",
                          json={"until": moment}, headers=auth(keys["mod"]))
    assert suspend.status_code == 422
    assert "until" in suspend.get_json()["error"]["fields"]
    with app.app_context():
        assert db.session.get(Author, author_id).suspended_until is None


# A chunked body has no Content-Length. gunicorn terminates its stream and says so in the
# environ (without that werkzeug reads nothing of it).
CHUNKED = {"Transfer-Encoding": "chunked"}
TERMINATED = {"wsgi.input_terminated": True}


@pytest.mark.parametrize(("data", "content_type", "status"), [
    (b'{"article": "x", "body": "bad \\ud800 surrogate"}', "application/json", 400),
    (b'{"article": "a\\u0000b", "body": "hi"}', "application/json", 400),
    (b'{"article": "x", "body": "hi"}', "text/plain", 415),
    (b'{"article": "x", "body": "' + b"x" * 2_000_000 + b'"}', "application/json", 413),
], ids=["surrogate", "nul", "not json", "too large"])
def test_chunked_bodies_get_the_same_checks(client: FlaskClient, app: Flask, data: bytes,
                                            content_type: str, status: int) -> None:
    before = row_counts(app)
    response = client.post(SUBMIT, data=data, headers={**CHUNKED, "Content-Type": content_type},
                           environ_overrides=TERMINATED)
    assert response.request.content_length is None  # as werkzeug sees a chunked request
    assert response.status_code == status, response.get_json()
    assert response.get_json()["error"]["message"]
    assert row_counts(app) == before


def test_a_chunked_json_body_is_read_whole(client: FlaskClient) -> None:
    response = client.post(SUBMIT, data=b'{"article": "x", "body": "Sent in chunks."}',
                           headers={**CHUNKED, "Content-Type": "application/json"},
                           environ_overrides=TERMINATED)
    assert response.status_code == 202


@pytest.mark.parametrize("url", [
    "/api/v1/sites/demo/comments?article=%20%20%20",
    "/api/v1/sites/demo/counts?article=ok&article=%20%20",
])
def test_a_blank_article_key_is_a_422_on_reads_too(client: FlaskClient, url: str) -> None:
    response = client.get(url)
    assert response.status_code == 422
    assert "article" in response.get_json()["error"]["fields"]


def test_article_keys_are_read_as_they_are_stored(client: FlaskClient, app: Flask) -> None:
    submit(client, article=" story-1 ")
    decide_all(app)
    thread = client.get(SUBMIT, query_string={"article": "story-1 "}).get_json()
    assert (thread["article"]["key"], len(thread["comments"])) == ("story-1", 1)


def test_a_name_of_only_invisible_characters_falls_back(client: FlaskClient,
                                                        app: Flask) -> None:
    from service.extensions import db
    from service.models import Comment

    response = submit(client, author_name="\u200b\u2060\ufeff")
    assert response.status_code == 202
    with app.app_context():
        assert db.session.get(Comment, response.get_json()["id"]).author_name == "Anonymous"


def test_report_addresses_are_forgotten_after_retention(client: FlaskClient, app: Flask) -> None:
    from datetime import UTC, datetime, timedelta

    from sqlalchemy import select

    from service.extensions import db
    from service.models import Flag
    from tests.api.test_public import approve_all
    from workers.tasks.sweeps import forget_addresses

    old, new = (submit(client, body=f"A remark to report ({i}).").get_json()["id"]
                for i in range(2))
    approve_all(app)
    token = submit(client, article="elsewhere").get_json()["author_token"]
    for comment_id in (old, new):
        assert client.post(f"/api/v1/comments/{comment_id}/flags",
                           json={"reason": "spam"}).status_code == 201
        assert client.post(f"/api/v1/comments/{comment_id}/flags", json={"reason": "spam"},
                           headers={"X-Author-Token": token}).status_code == 201
    with app.app_context():
        address = db.session.scalars(select(Flag.ip_hash).where(Flag.comment_id == old)).first()
        assert address
        for flag in db.session.scalars(select(Flag).where(Flag.comment_id == old)):
            flag.created_at = datetime.now(UTC) - timedelta(days=31)
        db.session.commit()
        forget_addresses.run()
        flags = db.session.scalars(select(Flag).order_by(Flag.id)).all()
        kept = [(f.comment_id, f.reporter.split(":")[0], f.ip_hash is not None) for f in flags]
        assert kept == [(old, "erased", False), (old, "author", False),
                        (new, "ip", True), (new, "author", True)]
        # The old token-less report was keyed by the address: no trace of it is left.
        assert not [f for f in flags if f.comment_id == old and address in f.reporter]


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_reads_that_write_are_not_refused_while_others_write(
        client: FlaskClient, app: Flask, keys: dict[str, str]) -> None:
    """A GET starts as a read; its writes (a key's last use, the export's audit entry) used
    to upgrade that snapshot, which SQLite refuses at once ("database is locked", a 503)
    when another connection committed in between. The other commit is made to land
    exactly there: right after the request's first read."""
    from sqlalchemy import event, select, text, update

    from service.extensions import db
    from service.models import ApiKey, Author, Comment

    submit(client)
    with app.app_context():
        engine = db.engine
        author_id = db.session.scalars(select(Author.id)).first()
        # Every key unused for long: the next authenticated call records its use.
        db.session.execute(update(ApiKey).values(last_used_at=None))
        db.session.commit()
    interleaved: list[str] = []

    def commit_elsewhere(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        if statement.startswith("SELECT") and not interleaved:
            interleaved.append(statement)
            with engine.connect() as other:
                other.execute(text("UPDATE comments SET user_agent = 'other writer'"))
                other.commit()

    for path, key in (("/api/v1/moderation/comments?status=pending", "mod"),
                      (f"/api/v1/admin/sites/demo/authors/{author_id}/export", "admin")):
        interleaved.clear()
        event.listen(engine, "after_cursor_execute", commit_elsewhere)
        try:
            answer = client.get(path, headers=auth(keys[key]))
        finally:
            event.remove(engine, "after_cursor_execute", commit_elsewhere)
        assert interleaved, "the other writer committed during the request"
        assert answer.status_code == 200, answer.get_json()
    with app.app_context():
        assert db.session.scalar(select(Comment.user_agent)) == "other writer"


def test_metrics_still_answer_while_the_database_is_down(app: Flask, settings: object) -> None:
    """The request counters matter most during an outage; the scrape must not fail with
    the database gauges."""
    from dataclasses import replace

    from service.app import create_app

    down = create_app(replace(settings, database_url=(  # type: ignore[type-var]
        "postgresql+psycopg://postgres@127.0.0.1:1/unreachable?connect_timeout=1")))
    client = down.test_client()
    assert client.get("/api/v1/sites/demo/counts?article=a").status_code == 503
    scraped = client.get("/metrics")
    assert scraped.status_code == 200
    text = scraped.get_data(as_text=True)
    assert "warden_database_up 0.0" in text
    assert "warden_http_requests_total" in text
    assert "warden_moderation_backlog" not in text
    assert "warden_database_up 1.0" in app.test_client().get("/metrics").get_data(as_text=True)
