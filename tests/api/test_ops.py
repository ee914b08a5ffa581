"""Metrics and hostile JSON."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.api.test_public import SUBMIT, decide_all, row_counts, submit

pytestmark = pytest.mark.usefixtures("demo_site")


def test_metrics_expose_traffic_and_moderation_state(client: FlaskClient, app: Flask) -> None:
    submit(client)
    submit(client, body="You are a worthless idiot, shut your stupid mouth you moron.")
    client.get("/api/v1/sites/demo/counts?article=story-1")
    before = client.get("/metrics").get_data(as_text=True)
    assert "warden_moderation_backlog 2.0" in before
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


def test_nul_in_json_text_is_refused(client: FlaskClient, app: Flask) -> None:
    before = row_counts(app)
    response = client.post(SUBMIT, json={"article": "a\x00b", "body": "hi"})
    assert response.status_code == 400
    assert row_counts(app) == before
