"""Moderator and admin API: access control on every route, queues, decisions, authors,
flags, audit and stats, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from service.domain.sites import create_site
from service.extensions import db
from service.models import (
    Article,
    AuditEntry,
    Author,
    CheckResult,
    Comment,
    CommentStatus,
    Event,
    Flag,
    LabelKind,
    ModerationLabel,
    Site,
)
from tests.api.conftest import auth
from tests.api.test_public import decide_all, submit
from tests.fault.checks import assert_counts_match_recount

pytestmark = pytest.mark.usefixtures("demo_site")

CLEAN = "Thanks for this clear report on the ceasefire talks; the timeline helped me a lot."
TOXIC = "You are a worthless idiot, shut your stupid mouth you moron."


def held_comment(client: FlaskClient, app: Flask, body: str = CLEAN, **extra: Any) -> int:
    """A comment a human must look at (the site holds everything while it is manual)."""
    with app.app_context():
        db.session.get(Site, "demo").mode = "manual"
        db.session.commit()
    comment_id = submit(client, body=body, **extra).get_json()["id"]
    decide_all(app)
    with app.app_context():
        db.session.get(Site, "demo").mode = "auto"
        db.session.commit()
    return comment_id


# (method, path, body, role needed); {cid} and {aid} are filled in per test.
ROUTES: list[tuple[str, str, dict[str, Any] | None, str]] = [
    ("GET", "/api/v1/moderation/comments?site=demo", None, "moderator"),
    ("GET", "/api/v1/moderation/comments/{cid}", None, "moderator"),
    ("POST", "/api/v1/moderation/comments/{cid}/decision", {"action": "approve"}, "moderator"),
    ("POST", "/api/v1/moderation/decisions", {"ids": ["{cid}"], "action": "approve"},
     "moderator"),
    ("GET", "/api/v1/moderation/authors/{aid}", None, "moderator"),
    ("POST", "/api/v1/moderation/authors/{aid}/ban", {}, "moderator"),
    ("POST", "/api/v1/moderation/authors/{aid}/suspend",
     {"until": "2099-01-01T00:00:00+00:00"}, "moderator"),
    ("POST", "/api/v1/moderation/authors/{aid}/trust", {}, "moderator"),
    ("POST", "/api/v1/moderation/authors/{aid}/reset", {}, "moderator"),
    ("GET", "/api/v1/moderation/audit?site=demo", None, "moderator"),
    ("GET", "/api/v1/moderation/stats?site=demo", None, "moderator"),
    ("POST", "/api/v1/moderation/simulate", {"site": "demo", "text": "hello"}, "moderator"),
    ("GET", "/api/v1/admin/sites/demo", None, "admin"),
    ("PATCH", "/api/v1/admin/sites/demo", {"flag_threshold": 2}, "admin"),
    ("GET", "/api/v1/admin/sites/demo/lists", None, "admin"),
    ("PUT", "/api/v1/admin/sites/demo/lists", {"blocked_words": ["x"]}, "admin"),
    ("GET", "/api/v1/admin/sites/demo/keys", None, "admin"),
    ("POST", "/api/v1/admin/sites/demo/keys", {"role": "moderator"}, "admin"),
    ("GET", "/api/v1/admin/sites/demo/articles", None, "admin"),
    ("PATCH", "/api/v1/admin/sites/demo/articles/{art}", {"is_open": False}, "admin"),
]


def fill(value: Any, ids: dict[str, int]) -> Any:
    if isinstance(value, str):
        for name, number in ids.items():
            if value == "{" + name + "}":
                return number
            value = value.replace("{" + name + "}", str(number))
        return value
    if isinstance(value, dict):
        return {k: fill(v, ids) for k, v in value.items()}
    if isinstance(value, list):
        return [fill(v, ids) for v in value]
    return value


@pytest.fixture
def ids(client: FlaskClient, app: Flask) -> dict[str, int]:
    comment_id = held_comment(client, app)
    with app.app_context():
        comment = db.session.get(Comment, comment_id)
        return {"cid": comment_id, "aid": comment.author_id, "art": comment.article_id}


def call(client: FlaskClient, method: str, path: str, body: dict[str, Any] | None,
         headers: dict[str, str]) -> Any:
    return client.open(path, method=method, json=body, headers=headers)


@pytest.mark.parametrize(("method", "path", "body", "role"), ROUTES,
                         ids=[f"{m} {p}" for m, p, _, _ in ROUTES])
def test_access_control_on_every_route(client: FlaskClient, app: Flask, keys: dict[str, str],
                                       ids: dict[str, int], method: str, path: str,
                                       body: dict[str, Any] | None, role: str) -> None:
    path, body = fill(path, ids), fill(body, ids)
    for headers, why in (({}, "no key"), (auth("cw_adm_nonsense"), "unknown key"),
                         (auth(keys["revoked"]), "revoked key"),
                         ({"Authorization": keys["admin"]}, "no Bearer scheme")):
        response = call(client, method, path, body, headers)
        assert response.status_code == 401, (why, response.get_json())
        assert response.get_json()["error"]["code"] == "unauthorized"
        assert "Access-Control-Allow-Origin" not in response.headers
    other = call(client, method, path, body, auth(keys["other_admin"]))
    if path.endswith("/decisions"):  # bulk: each id fails on its own, invisibly
        assert [r["error"]["code"] for r in other.get_json()["results"]] == ["not_found"]
    else:
        assert other.status_code == 404, other.get_json()
    if role == "admin":
        forbidden = call(client, method, path, body, auth(keys["mod"]))
        assert forbidden.status_code == 403
        assert forbidden.get_json()["error"]["code"] == "forbidden"
    allowed = call(client, method, path, body, auth(keys[role if role == "admin" else "mod"]))
    assert allowed.status_code in {200, 201}, allowed.get_json()
    assert call(client, method, path, body, auth(keys["operator"])).status_code in {200, 201}


def test_queue_items_carry_checks_flags_parent_and_history(client: FlaskClient, app: Flask,
                                                           keys: dict[str, str]) -> None:
    parent = submit(client, body=CLEAN)
    decide_all(app)
    reply_id = held_comment(client, app, body="I think you are wrong about this.",
                            parent_id=parent.get_json()["id"])
    toxic_id = submit(client, body=TOXIC).get_json()["id"]
    decide_all(app)
    held = client.get("/api/v1/moderation/comments?status=held", headers=auth(keys["mod"]))
    assert held.status_code == 200
    items = held.get_json()["items"]
    assert [i["id"] for i in items] == [reply_id]
    item = items[0]
    assert item["parent"]["id"] == parent.get_json()["id"]
    assert {c["name"] for c in item["checks"]} >= {"toxicity", "links", "behaviour"}
    assert item["author"]["comments_by_status"]["held"] == 1
    assert item["status_reason"] == "this site holds every comment for a moderator"
    rejected = client.get("/api/v1/moderation/comments?status=rejected&check=toxicity",
                          headers=auth(keys["mod"])).get_json()["items"]
    assert [i["id"] for i in rejected] == [toxic_id]
    assert any("toxicity" in r for c in rejected[0]["checks"] for r in c["reasons"])
    none = client.get("/api/v1/moderation/comments?status=rejected&check=links",
                      headers=auth(keys["mod"])).get_json()["items"]
    assert none == []
    by_article = client.get("/api/v1/moderation/comments?status=approved&article=story-1",
                            headers=auth(keys["mod"])).get_json()["items"]
    assert [i["id"] for i in by_article] == [parent.get_json()["id"]]


def test_queue_pagination_and_bad_queries(client: FlaskClient, app: Flask,
                                          keys: dict[str, str]) -> None:
    with app.app_context():
        db.session.get(Site, "demo").mode = "manual"
        db.session.commit()
    made = [submit(client, body=f"Remark number {i} on the plan.").get_json()["id"]
            for i in range(5)]
    decide_all(app)
    seen: list[int] = []
    cursor = None
    for _ in range(4):
        query = "/api/v1/moderation/comments?status=held&limit=2" + (
            f"&cursor={cursor}" if cursor else "")
        page = client.get(query, headers=auth(keys["mod"])).get_json()
        seen += [i["id"] for i in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == made
    for bad in ("status=bogus", "limit=0", "limit=999", "since=yesterday", "author=x",
                "cursor=%%%", "check=nope", "status=held&foo=bar", "stauts=spam"):
        response = client.get(f"/api/v1/moderation/comments?{bad}", headers=auth(keys["mod"]))
        assert response.status_code in {400, 422}, bad
        assert response.get_json()["error"]["message"]
    # An action the trail never writes ("approve" is the request, comment.approved the
    # entry) is refused with the list, not answered with an empty page.
    for action in ("approve", "comment.aproved", "comment.*"):
        wrong = client.get(f"/api/v1/moderation/audit?action={action}",
                           headers=auth(keys["mod"]))
        assert wrong.status_code == 422, action
        assert "comment.approved" in wrong.get_json()["error"]["fields"]["action"][0]
    held = client.get("/api/v1/moderation/audit?action=comment.held", headers=auth(keys["mod"]))
    assert sorted(int(e["subject_id"]) for e in held.get_json()["items"]) == made
    # A filter a route does not have is refused, not ignored: the answer would look
    # filtered and be wrong.
    for path in ("/api/v1/moderation/audit?untill=2026-01-01T00:00:00Z",
                 "/api/v1/moderation/stats?site=demo&day=3",
                 "/api/v1/admin/sites/demo/articles?open=false"):
        assert client.get(path, headers=auth(keys["admin"])).status_code == 422, path
    # So is a one-value filter given twice (it was read as its first value).
    for path in ("/api/v1/moderation/comments?status=held&status=spam",
                 "/api/v1/moderation/audit?action=comment.held&action=comment.spam",
                 "/api/v1/sites/demo/comments?article=a&article=b"):
        twice = client.get(path, headers=auth(keys["admin"]))
        assert twice.status_code == 422, path
        assert "more than once" in str(twice.get_json()["error"]["fields"]), path
    # Routes without any query parameter refuse one too (GET /sites?site=demo listed all).
    comment_id = seen[0]
    with app.app_context():
        author_id = db.session.get(Comment, comment_id).author_id
    for path in ("/api/v1/admin/sites", "/api/v1/admin/sites/demo",
                 "/api/v1/admin/sites/demo/lists", "/api/v1/admin/sites/demo/keys",
                 f"/api/v1/admin/sites/demo/authors/{author_id}/export",
                 f"/api/v1/moderation/comments/{comment_id}",
                 f"/api/v1/moderation/authors/{author_id}",
                 "/api/v1/admin/sites/demo/webhooks"):
        assert client.get(path, headers=auth(keys["admin"])).status_code == 200, path
        refused = client.get(f"{path}?site=demo&b=1", headers=auth(keys["admin"]))
        assert refused.status_code == 422, path
        assert refused.get_json()["error"]["fields"] == {"b": ["Unknown field."],
                                                         "site": ["Unknown field."]}
    # Who may not read the route hears that first, not about its parameters.
    assert client.get("/api/v1/admin/sites?x=1", headers=auth(keys["mod"])).status_code == 403
    audit = "/api/v1/moderation/audit?limit=500"
    entries = client.get(audit, headers=auth(keys["mod"])).get_json()["items"]
    middle = entries[len(entries) // 2]["created_at"]
    older = client.get(f"{audit}&until={quote(middle)}", headers=auth(keys["mod"])).get_json()
    assert older["items"]
    assert all(e["created_at"] < middle for e in older["items"])
    assert client.get("/api/v1/moderation/comments?site=other",
                      headers=auth(keys["mod"])).status_code == 404


def test_decisions_follow_the_lifecycle_and_are_idempotent(client: FlaskClient, app: Flask,
                                                           keys: dict[str, str]) -> None:
    comment_id = held_comment(client, app)
    url = f"/api/v1/moderation/comments/{comment_id}/decision"
    first = client.post(url, json={"action": "approve", "reason": "fine"},
                        headers=auth(keys["mod"]))
    assert first.status_code == 200
    assert first.get_json()["changed"] is True
    assert first.get_json()["comment"]["status"] == "approved"
    again = client.post(url, json={"action": "approve"}, headers=auth(keys["mod"]))
    assert again.get_json()["changed"] is False
    undo = client.post(url, json={"action": "spam"}, headers=auth(keys["mod"]))
    assert undo.get_json()["comment"]["status"] == "spam"
    assert client.get("/api/v1/sites/demo/counts?article=story-1").get_json()["counts"] == {
        "story-1": 0}
    for bad in ({"action": "delete"}, {}, {"action": "approve", "extra": 1},
                {"action": "approve", "reason": "x" * 501}):
        assert client.post(url, json=bad, headers=auth(keys["mod"])).status_code == 422
    assert client.post("/api/v1/moderation/comments/999999/decision",
                       json={"action": "approve"}, headers=auth(keys["mod"])).status_code == 404
    with app.app_context():
        trail = db.session.scalars(select(AuditEntry).where(
            AuditEntry.subject_type == "comment",
            AuditEntry.subject_id == str(comment_id)).order_by(AuditEntry.id)).all()
        assert [(e.from_status, e.to_status, e.actor_type) for e in trail] == [
            (None, "pending", "author"), ("pending", "held", "system"),
            ("held", "approved", "moderator"), ("approved", "spam", "moderator")]
        assert trail[2].reason == "fine"


def comment_trail(app: Flask, comment_id: int) -> list[tuple[str | None, str | None, str]]:
    with app.app_context():
        return [(e.from_status, e.to_status, e.actor_type) for e in db.session.scalars(
            select(AuditEntry).where(AuditEntry.subject_type == "comment",
                                     AuditEntry.subject_id == str(comment_id))
            .order_by(AuditEntry.id))]


def test_a_moderator_confirming_a_published_comment_wins_over_the_checks(
        client: FlaskClient, app: Flask, keys: dict[str, str]) -> None:
    """Post-moderation: approving a comment that is already public (before the worker got
    to it) is the moderator's decision, audited and labelled; the checks that run
    afterwards cannot pull it back. The same through the bulk route."""
    admin, moderator = auth(keys["admin"]), auth(keys["mod"])
    assert client.patch("/api/v1/admin/sites/demo", headers=admin,
                        json={"mode": "post"}).status_code == 200
    assert client.put("/api/v1/admin/sites/demo/lists", headers=admin,
                      json={"blocked_words": ["bananas"]}).status_code == 200
    one = submit(client, body="I really like bananas in the morning.").get_json()
    two = submit(client, body="Bananas at breakfast, every day.").get_json()
    assert one["status"] == two["status"] == "approved"
    url = f"/api/v1/moderation/comments/{one['id']}/decision"
    confirmed = client.post(url, headers=moderator, json={"action": "approve", "reason": "fine"})
    assert confirmed.get_json()["changed"] is True
    assert confirmed.get_json()["comment"]["status_reason"] == "fine"
    again = client.post(url, headers=moderator, json={"action": "approve"})
    assert again.get_json()["changed"] is False  # repeating changes nothing
    bulk = client.post("/api/v1/moderation/decisions", headers=moderator,
                       json={"ids": [two["id"]], "action": "approve"}).get_json()["results"]
    assert bulk == [{"id": two["id"], "ok": True, "status": "approved", "changed": True}]
    decide_all(app)
    assert client.get("/api/v1/sites/demo/counts?article=story-1").get_json()["counts"] == {
        "story-1": 2}
    for comment_id in (one["id"], two["id"]):
        assert comment_trail(app, comment_id) == [
            (None, "pending", "author"), ("pending", "approved", "system"),
            ("approved", "approved", "moderator")]
    with app.app_context():
        labels = {label.comment_id: (label.label, label.source) for label in
                  db.session.scalars(select(ModerationLabel))}
        assert {cid: kind for cid, (kind, _) in labels.items()} == {
            one["id"]: LabelKind.HAM, two["id"]: LabelKind.HAM}
        assert all(source.startswith("moderator:") for _, source in labels.values())


def test_a_moderator_approving_a_waiting_comment_is_not_decided_again(
        client: FlaskClient, app: Flask, keys: dict[str, str]) -> None:
    """Pre-moderation: a moderator approves a comment before the checks ran; the worker
    (which would reject it) leaves it alone, even if the site moved to post-moderation
    meanwhile. Confirming a rejection the checks made is the moderator's decision too."""
    admin, moderator = auth(keys["admin"]), auth(keys["mod"])
    client.put("/api/v1/admin/sites/demo/lists", headers=admin,
               json={"blocked_words": ["bananas"]})
    waiting = submit(client, body="I really like bananas in the morning.").get_json()
    approved = client.post(f"/api/v1/moderation/comments/{waiting['id']}/decision",
                           headers=moderator, json={"action": "approve"}).get_json()
    assert (approved["changed"], approved["comment"]["status"]) == (True, "approved")
    client.patch("/api/v1/admin/sites/demo", headers=admin, json={"mode": "post"})
    decide_all(app)
    assert comment_trail(app, waiting["id"]) == [
        (None, "pending", "author"), ("pending", "approved", "moderator")]
    assert client.get("/api/v1/sites/demo/counts?article=story-1").get_json()["counts"] == {
        "story-1": 1}
    client.patch("/api/v1/admin/sites/demo", headers=admin, json={"mode": "auto"})
    rejected = submit(client, body="Bananas, bananas, bananas.", article="other").get_json()
    decide_all(app)
    confirm = client.post(f"/api/v1/moderation/comments/{rejected['id']}/decision",
                          headers=moderator, json={"action": "reject"}).get_json()
    assert (confirm["changed"], confirm["comment"]["status"]) == (True, "rejected")
    assert comment_trail(app, rejected["id"])[-2:] == [
        ("pending", "rejected", "system"), ("rejected", "rejected", "moderator")]
    with app.app_context():
        labels = dict(db.session.execute(select(ModerationLabel.comment_id,
                                                 ModerationLabel.label)).all())
        assert labels == {waiting["id"]: LabelKind.HAM, rejected["id"]: LabelKind.TOXIC}


def test_bulk_decisions_per_id_results_and_recount(client: FlaskClient, app: Flask,
                                                   keys: dict[str, str]) -> None:
    ids = [held_comment(client, app, body=f"Comment {i} about the council vote.")
           for i in range(4)]
    with app.app_context():
        other_site = create_site(db.session, "third", ["https://third.example"])
        db.session.commit()
        assert other_site.id == "third"
    response = client.post("/api/v1/moderation/decisions", headers=auth(keys["mod"]),
                           json={"ids": [*ids, 999999, ids[0]], "action": "approve"})
    assert response.status_code == 200
    results = response.get_json()["results"]
    assert [r["ok"] for r in results] == [True, True, True, True, False]
    assert results[-1]["error"]["code"] == "not_found"
    client.post("/api/v1/moderation/decisions", headers=auth(keys["mod"]),
                json={"ids": ids[:2], "action": "reject"})
    with app.app_context():
        stored = dict(db.session.execute(select(Article.key, Article.approved_count)).all())
        recount = dict(db.session.execute(
            select(Article.key, func.count(Comment.id)).join(Comment)
            .where(Comment.status == CommentStatus.APPROVED).group_by(Article.key)).all())
        assert stored == {key: recount.get(key, 0) for key in stored}
        assert stored["story-1"] == 2
    too_many = client.post("/api/v1/moderation/decisions", headers=auth(keys["mod"]),
                           json={"ids": list(range(1, 102)), "action": "approve"})
    assert too_many.status_code == 422
    assert "ids" in too_many.get_json()["error"]["fields"]
    empty = client.post("/api/v1/moderation/decisions", headers=auth(keys["mod"]),
                        json={"ids": [], "action": "approve"})
    assert empty.status_code == 422


def test_ban_rejects_waiting_and_new_comments_and_reset(client: FlaskClient, app: Flask,
                                                        keys: dict[str, str]) -> None:
    first = submit(client, body=CLEAN).get_json()
    token = first["author_token"]
    with app.app_context():
        author_id = db.session.get(Comment, first["id"]).author_id
    ban = client.post(f"/api/v1/moderation/authors/{author_id}/ban", headers=auth(keys["mod"]),
                      json={"reason": "troll", "remove_pending": True})
    assert ban.status_code == 200
    assert ban.get_json()["removed_pending"] == 1
    assert ban.get_json()["banned_at"]
    repeated = client.post(f"/api/v1/moderation/authors/{author_id}/ban",
                           headers=auth(keys["mod"]), json={"reason": "troll"})
    assert repeated.status_code == 200  # the same ban: no second entry or event (below)
    assert repeated.get_json()["banned_at"] == ban.get_json()["banned_at"]
    unexplained = client.post(f"/api/v1/moderation/authors/{author_id}/ban",
                              headers=auth(keys["mod"]), json={})
    assert unexplained.get_json()["ban_reason"] == "troll"  # kept, and no entry (below)
    later = submit(client, body="Another perfectly polite remark here.",
                   headers={"X-Author-Token": token}).get_json()
    decide_all(app)
    with app.app_context():
        assert db.session.get(Comment, first["id"]).status == CommentStatus.REJECTED
        assert db.session.get(Comment, later["id"]).status == CommentStatus.REJECTED
        assert "banned" in db.session.get(Comment, later["id"]).status_reason
    reset = client.post(f"/api/v1/moderation/authors/{author_id}/reset",
                        headers=auth(keys["mod"]), json={})
    assert reset.get_json()["banned_at"] is None
    again = client.post(f"/api/v1/moderation/authors/{author_id}/reset",
                        headers=auth(keys["mod"]), json={})  # nothing left to lift
    assert again.status_code == 200
    past = client.post(f"/api/v1/moderation/authors/{author_id}/suspend",
                       headers=auth(keys["mod"]), json={"until": "2001-01-01T00:00:00+00:00"})
    assert past.status_code == 422
    assert past.get_json()["error"]["fields"] == {"until": ["Must be in the future."]}
    naive = client.post(f"/api/v1/moderation/authors/{author_id}/suspend",
                        headers=auth(keys["mod"]), json={"until": "2099-01-01T00:00:00"})
    assert naive.status_code == 422
    trust = client.post(f"/api/v1/moderation/authors/{author_id}/trust",
                        headers=auth(keys["mod"]), json={"reason": "regular"})
    assert trust.get_json()["trust"] == "trusted"
    assert client.post(f"/api/v1/moderation/authors/{author_id}/trust",
                       headers=auth(keys["mod"]), json={}).get_json()["trust"] == "trusted"
    # The same instant written in another offset is the same suspension; kept in UTC.
    for until in ("2099-01-01T01:00:00+01:00", "2099-01-01T00:00:00+00:00"):
        suspended = client.post(f"/api/v1/moderation/authors/{author_id}/suspend",
                                headers=auth(keys["mod"]), json={"until": until})
        assert suspended.status_code == 200
    audit = client.get(f"/api/v1/moderation/audit?subject_type=author&subject_id={author_id}",
                       headers=auth(keys["mod"])).get_json()["items"]
    assert [e["action"] for e in audit] == ["author.suspended", "author.trusted",
                                            "author.reset", "author.banned"]
    with app.app_context():
        announced = db.session.scalars(select(Event.type).where(
            Event.subject_id == str(author_id), Event.type.like("author.%"))).all()
    assert sorted(announced) == ["author.banned", "author.reset", "author.suspended",
                                 "author.trusted"]
    with app.app_context():
        payload = db.session.scalars(select(Event.payload).where(
            Event.subject_id == str(author_id), Event.type == "author.suspended")).one()
    assert payload["data"]["author"]["suspended_until"] == "2099-01-01T00:00:00+00:00"


def test_flags_move_comment_to_flagged_queue_and_can_hide(client: FlaskClient, app: Flask,
                                                          keys: dict[str, str]) -> None:
    client.patch("/api/v1/admin/sites/demo", headers=auth(keys["admin"]),
                 json={"flag_threshold": 2, "hide_flagged": True})
    own = submit(client, body=CLEAN).get_json()
    comment_id = own["id"]
    decide_all(app)
    # Its author cannot report it (the widget offers no Report button there either).
    mine = client.post(f"/api/v1/comments/{comment_id}/flags", json={"reason": "spam"},
                       headers={"X-Author-Token": own["author_token"]})
    assert (mine.status_code, mine.get_json()["error"]["code"]) == (409, "own_comment")
    reasons = client.get("/api/v1/flag-reasons").get_json()["reasons"]
    assert {"id": "spam", "label": "Spam or advertising"} in reasons
    url = f"/api/v1/comments/{comment_id}/flags"
    reader = submit(client, article="elsewhere").get_json()["author_token"]
    first = client.post(url, json={"reason": "abuse", "note": "rude"},
                        headers={"X-Author-Token": reader})
    assert first.status_code == 201
    twice = client.post(url, json={"reason": "spam"}, headers={"X-Author-Token": reader})
    assert twice.status_code == 409
    assert twice.get_json()["error"]["code"] == "already_flagged"
    assert client.post(url, json={"reason": "nonsense"}).status_code == 422
    assert client.post("/api/v1/comments/999999/flags", json={"reason": "spam"}).status_code \
        == 404
    # An anonymous reader (known by address) on another address.
    second = client.post(url, json={"reason": "spam"},
                         environ_base={"REMOTE_ADDR": "198.51.100.7"})
    assert second.status_code == 201
    assert second.get_json()["counted"] is True
    flagged = client.get("/api/v1/moderation/comments?status=flagged",
                         headers=auth(keys["mod"])).get_json()["items"]
    assert [i["id"] for i in flagged] == [comment_id]
    assert [f["reason"] for f in flagged[0]["flags"]] == ["abuse", "spam"]
    assert [f["counted"] for f in flagged[0]["flags"]] == [True, True]
    assert flagged[0]["status"] == "held"  # hidden until reviewed
    assert client.get("/api/v1/sites/demo/counts?article=story-1").get_json()["counts"][
        "story-1"] == 0
    client.post(f"/api/v1/moderation/comments/{comment_id}/decision",
                headers=auth(keys["mod"]), json={"action": "approve"})
    assert client.get("/api/v1/moderation/comments?status=flagged",
                      headers=auth(keys["mod"])).get_json()["items"] == []
    assert client.get("/api/v1/sites/demo/counts?article=story-1").get_json()["counts"][
        "story-1"] == 1


def test_reviewing_reports_on_a_comment_a_moderator_approved_before_is_audited(
        client: FlaskClient, app: Flask, keys: dict[str, str]) -> None:
    """A moderator approved the comment; readers then report it; the same moderator
    reviews the reports and keeps it. Same status and same label as before, but a
    decision all the same: the trail and the stats must show it (they did not)."""
    moderator = auth(keys["mod"])
    client.patch("/api/v1/admin/sites/demo", headers=auth(keys["admin"]),
                 json={"flag_threshold": 1})
    comment_id = submit(client, body=CLEAN).get_json()["id"]
    decide_all(app)
    url = f"/api/v1/moderation/comments/{comment_id}/decision"
    assert client.post(url, headers=moderator, json={"action": "approve"}).status_code == 200
    assert client.post(f"/api/v1/comments/{comment_id}/flags",
                       json={"reason": "abuse"}).get_json()["counted"] is True
    before = comment_trail(app, comment_id)
    review = client.post(url, headers=moderator, json={"action": "approve",
                                                        "reason": "still fine"})
    assert review.get_json()["changed"] is True
    assert review.get_json()["comment"]["status_reason"] == "still fine"
    assert comment_trail(app, comment_id) == [*before, ("approved", "approved", "moderator")]
    with app.app_context():
        entry = db.session.scalars(select(AuditEntry).where(
            AuditEntry.subject_id == str(comment_id)).order_by(AuditEntry.id.desc())).first()
        assert entry is not None
        assert (entry.reason, entry.details) == ("still fine", {
            "action": "approve", "confirmed": True, "flags_reviewed": True})
        # Subscribers heard comment.flagged; they hear that the reports were dealt with.
        # (The first approve confirmed the checks' approval: reviewed too, no reports.)
        announced = db.session.scalars(select(Event).where(
            Event.subject_id == str(comment_id)).order_by(Event.created_at)).all()
        assert [(e.type, e.payload["data"].get("review")) for e in announced] == [
            ("comment.created", None), ("comment.approved", None),
            ("comment.reviewed", {"action": "approve", "flags_reviewed": False}),
            ("comment.flagged", None),
            ("comment.reviewed", {"action": "approve", "flags_reviewed": True})]
        comment_data = announced[-1].payload["data"]["comment"]
        assert (comment_data["status"], comment_data["status_reason"]) == (
            "approved", "still fine")
    assert client.get("/api/v1/moderation/comments?status=flagged",
                      headers=moderator).get_json()["items"] == []
    again = client.post(url, headers=moderator, json={"action": "approve"})
    assert again.get_json()["changed"] is False  # no reports left: nothing to review
    assert comment_trail(app, comment_id) == [*before, ("approved", "approved", "moderator")]


def test_reports_from_one_address_count_once(client: FlaskClient, app: Flask,
                                             keys: dict[str, str]) -> None:
    """Tokens cost nothing to mint: one person must not reach the threshold (and hide the
    comment) alone. Their later reports are kept for the moderator, not counted."""
    client.patch("/api/v1/admin/sites/demo", headers=auth(keys["admin"]),
                 json={"flag_threshold": 2, "hide_flagged": True})
    comment_id = submit(client, body=CLEAN).get_json()["id"]
    decide_all(app)
    url = f"/api/v1/comments/{comment_id}/flags"
    home = {"REMOTE_ADDR": "203.0.113.5"}
    tokens = [submit(client, article=f"elsewhere-{i}", body=f"{CLEAN} ({i})").get_json()[
        "author_token"] for i in range(3)]
    answers = [client.post(url, json={"reason": "abuse", "note": f"again {i}"},
                           headers={"X-Author-Token": token}, environ_base=home)
               for i, token in enumerate(tokens)]
    anonymous = client.post(url, json={"reason": "spam"}, environ_base=home)
    assert [a.status_code for a in [*answers, anonymous]] == [201, 201, 201, 201]
    assert [a.get_json()["counted"] for a in [*answers, anonymous]] == [True, False, False,
                                                                      False]
    with app.app_context():
        comment = db.session.get(Comment, comment_id)
        assert (comment.flag_count, comment.flagged_at, comment.status) == (
            1, None, CommentStatus.APPROVED)
    assert client.get("/api/v1/moderation/comments?status=flagged",
                      headers=auth(keys["mod"])).get_json()["items"] == []
    # A second reader elsewhere reaches the threshold; the moderator reads all five notes.
    other = client.post(url, json={"reason": "hate"}, environ_base={"REMOTE_ADDR": "192.0.2.9"})
    assert other.get_json()["counted"] is True
    flagged = client.get("/api/v1/moderation/comments?status=flagged",
                         headers=auth(keys["mod"])).get_json()["items"]
    assert [i["id"] for i in flagged] == [comment_id]
    assert (flagged[0]["flag_count"], flagged[0]["status"]) == (2, "held")
    assert [(f["reason"], f["counted"]) for f in flagged[0]["flags"]] == [
        ("abuse", True), ("abuse", False), ("abuse", False), ("spam", False), ("hate", True)]
    # The moderator keeps it up: the reviewed reports stop counting, so one new report does
    # not hide it again; a reader who reported before the review does not count twice.
    client.post(f"/api/v1/moderation/comments/{comment_id}/decision",
                headers=auth(keys["mod"]), json={"action": "approve"})
    for address in ("192.0.2.9", "192.0.2.10"):
        client.post(url, json={"reason": "other"}, environ_base={"REMOTE_ADDR": address})
    with app.app_context():
        comment = db.session.get(Comment, comment_id)
        assert (comment.flag_count, comment.flagged_at, comment.status) == (
            1, None, CommentStatus.APPROVED)


def test_an_edit_does_not_release_a_comment_hidden_by_reader_reports(
        client: FlaskClient, app: Flask, keys: dict[str, str]) -> None:
    """Reports hid it until a moderator reviews it: the author's edit is kept and checked
    again (fresh scores for the moderator), but only a moderator can publish it."""
    client.patch("/api/v1/admin/sites/demo", headers=auth(keys["admin"]),
                 json={"flag_threshold": 1, "hide_flagged": True})
    doc = submit(client, body=CLEAN).get_json()
    decide_all(app)
    assert client.post(f"/api/v1/comments/{doc['id']}/flags",
                       json={"reason": "harassment"}).status_code == 201
    edited = client.patch(f"/api/v1/comments/{doc['id']}", json={"body": CLEAN + "!"},
                          headers={"X-Author-Token": doc["author_token"]})
    assert edited.status_code == 200
    assert edited.get_json()["status"] == "held"
    assert edited.get_json()["body"] == CLEAN + "!"
    decide_all(app)
    assert client.get("/api/v1/sites/demo/counts?article=story-1").get_json()["counts"] == {
        "story-1": 0}
    flagged = client.get("/api/v1/moderation/comments?status=flagged",
                         headers=auth(keys["mod"])).get_json()["items"]
    assert [(i["id"], i["status"], i["body"]) for i in flagged] == [
        (doc["id"], "held", CLEAN + "!")]
    assert flagged[0]["checks"], "the edited text was checked again"
    assert comment_trail(app, doc["id"]) == [
        (None, "pending", "author"), ("pending", "approved", "system"),
        ("approved", "approved", "system"), ("approved", "held", "system"),
        ("held", "held", "author")]
    client.post(f"/api/v1/moderation/comments/{doc['id']}/decision",
                headers=auth(keys["mod"]), json={"action": "approve"})
    assert client.get("/api/v1/sites/demo/counts?article=story-1").get_json()["counts"] == {
        "story-1": 1}


def test_an_edit_of_a_comment_the_checks_held_is_checked_again(
        client: FlaskClient, app: Flask, keys: dict[str, str]) -> None:
    """Held by the checks (a suspect word), fixed by its author: moderated again, and
    published if the new text passes."""
    client.put("/api/v1/admin/sites/demo/lists", headers=auth(keys["admin"]),
               json={"suspect_words": ["bananas"]})
    doc = submit(client, body=CLEAN + " Bananas.").get_json()
    decide_all(app)
    token = {"X-Author-Token": doc["author_token"]}
    assert client.get(f"/api/v1/comments/{doc['id']}", headers=token).get_json()[
        "status"] == "held"
    edited = client.patch(f"/api/v1/comments/{doc['id']}", json={"body": CLEAN},
                          headers=token)
    assert edited.get_json()["status"] == "pending"
    decide_all(app)
    assert client.get(f"/api/v1/comments/{doc['id']}", headers=token).get_json()[
        "status"] == "approved"


def test_a_burst_from_one_address_is_held_from_the_comment_that_makes_it(
        client: FlaskClient, app: Flask) -> None:
    """Each comment counts the address's comments in the 10 minutes up to its own creation:
    checked later (here, after all twelve were written) the first eleven are no burst."""
    address = {"REMOTE_ADDR": "198.51.100.40"}
    ids = [client.post("/api/v1/sites/demo/comments", environ_base=address, json={
        "article": f"burst-{i % 3}", "author_name": f"Reader {i}",
        "body": f"{CLEAN} Point number {i}."}).get_json()["id"] for i in range(13)]
    decide_all(app)
    with app.app_context():
        decided = {c.id: (str(c.status), c.status_reason or "") for c in
                   db.session.scalars(select(Comment).where(Comment.id.in_(ids)))}
    assert [decided[i][0] for i in ids] == ["approved"] * 11 + ["held"] * 2
    assert "12 comments from this address within 10 minutes" in decided[ids[11]][1]
    assert "13 comments from this address within 10 minutes" in decided[ids[12]][1]


@pytest.mark.parametrize("mode", ["auto", "post"])
def test_a_site_can_hold_first_time_authors(client: FlaskClient, app: Flask,
                                            keys: dict[str, str], mode: str) -> None:
    """Off by default; on, an author's first comment waits for a human (on a post-moderated
    site it is published at once, then pulled back by the checks), and once a moderator has
    approved one, their next is decided by the checks alone."""
    client.patch("/api/v1/admin/sites/demo", headers=auth(keys["admin"]),
                 json={"hold_first_time_authors": True, "mode": mode})
    first = submit(client, body=CLEAN).get_json()
    assert first["status"] == ("approved" if mode == "post" else "pending")
    # A second one before any check ran: published too on a post-moderated site, but not
    # history yet (the author has had nothing approved by the checks or a moderator).
    quick = submit(client, body=f"{CLEAN} Quick.",
                   headers={"X-Author-Token": first["author_token"]}).get_json()
    decide_all(app)
    with app.app_context():
        for doc in (first, quick):
            comment = db.session.get(Comment, doc["id"])
            assert comment is not None
            assert (comment.status, comment.status_reason) == (
                CommentStatus.HELD, "first comment of a new author; this site has a human "
                "look at those")
    assert client.post(f"/api/v1/moderation/comments/{first['id']}/decision",
                       headers=auth(keys["mod"]), json={"action": "approve"}).status_code == 200
    second = submit(client, body=f"{CLEAN} Again.",
                    headers={"X-Author-Token": first["author_token"]}).get_json()
    decide_all(app)
    with app.app_context():
        assert db.session.get(Comment, second["id"]).status == CommentStatus.APPROVED
    client.patch("/api/v1/admin/sites/demo", headers=auth(keys["admin"]),
                 json={"hold_first_time_authors": False})
    other = submit(client, body=f"{CLEAN} Someone new.").get_json()
    decide_all(app)
    with app.app_context():
        assert db.session.get(Comment, other["id"]).status == CommentStatus.APPROVED


def test_an_authors_history_moves_the_thresholds(client: FlaskClient, app: Flask,
                                                keys: dict[str, str]) -> None:
    """The same held-band score (bait 0.6 for a pitch of one's own site, against reject
    0.65) is held for a newcomer, marked spam from a lower reject point for an author whose
    comments were rejected, and let through for a regular (hold threshold raised past it).
    A site's suspect word asks for a human whatever the thresholds: held for all three."""
    admin = auth(keys["admin"])
    client.put("/api/v1/admin/sites/demo/lists", headers=admin,
               json={"suspect_words": ["bananas"], "blocked_words": ["grapefruit"]})
    client.patch("/api/v1/admin/sites/demo", headers=admin,
                 json={"hold_threshold": 0.5, "reject_threshold": 0.65})
    pitch = "Visit my website for more on the council budget story."
    suspect = "I keep thinking about the bananas in this story."

    def status_of(doc: dict[str, Any]) -> tuple[str, str]:
        with app.app_context():
            comment = db.session.get(Comment, doc["id"])
            assert comment is not None
            return str(comment.status), comment.status_reason or ""

    newcomer = submit(client, body=pitch).get_json()
    offender = submit(client, body="Grapefruit to the lot of you.").get_json()
    regular = submit(client, body=f"{CLEAN} (one)").get_json()
    decide_all(app)
    assert status_of(newcomer)[0] == "held"
    assert status_of(offender)[0] == "rejected"
    for i in ("two", "three"):
        submit(client, body=f"{CLEAN} ({i})", headers={"X-Author-Token": regular["author_token"]})
    decide_all(app)
    offender_token = {"X-Author-Token": offender["author_token"]}
    regular_token = {"X-Author-Token": regular["author_token"]}
    again = submit(client, body=pitch, headers=offender_token).get_json()
    kept = submit(client, body=pitch, headers=regular_token).get_json()
    asks = [submit(client, body=suspect, headers=token).get_json()
            for token in ({}, offender_token, regular_token)]
    decide_all(app)
    status, reason = status_of(again)
    assert status == "spam", reason
    assert reason.endswith("thresholds lowered from 0.50 / 0.65: the author's only decided "
                           "comment was rejected or spam"), reason
    status, reason = status_of(kept)
    assert status == "approved", reason
    assert "raised from 0.50 / 0.65: 3 of the author's comments approved" in reason, reason
    assert [status_of(doc)[0] for doc in asks] == ["held", "held", "held"]
    assert "words can only hold a comment" in status_of(asks[1])[1]
    # Stored with the scores (a replay reads it), and shown to moderators.
    with app.app_context():
        stored = dict(db.session.execute(select(CheckResult.check_name, CheckResult.may_reject)
                                         .where(CheckResult.comment_id == asks[1]["id"])).all())
    assert (stored["words"], stored["spam_text"]) == (False, True)
    shown = client.get(f"/api/v1/moderation/comments/{asks[1]['id']}",
                       headers=auth(keys["mod"])).get_json()["checks"]
    assert {c["name"]: c["may_reject"] for c in shown}["words"] is False


def test_deleting_rejected_comments_does_not_clear_the_authors_history(
        client: FlaskClient, app: Flask, keys: dict[str, str]) -> None:
    """A spammer whose comment was rejected deletes it within the edit window, then pitches
    again: the rejection still lowers their thresholds. It was a recount of the comments
    rejected now, so deleting them came back as a clean history."""
    admin = auth(keys["admin"])
    client.put("/api/v1/admin/sites/demo/lists", headers=admin,
               json={"blocked_words": ["grapefruit"]})
    client.patch("/api/v1/admin/sites/demo", headers=admin,
                 json={"hold_threshold": 0.5, "reject_threshold": 0.65})
    offender = submit(client, body="Grapefruit to the lot of you.").get_json()
    token = {"X-Author-Token": offender["author_token"]}
    decide_all(app)
    assert client.get(f"/api/v1/comments/{offender['id']}", headers=token
                      ).get_json()["status"] == "rejected"
    assert client.delete(f"/api/v1/comments/{offender['id']}", headers=token).status_code == 204
    pitch = submit(client, body="Visit my website for more on the council budget story.",
                   headers=token).get_json()
    decide_all(app)
    with app.app_context():
        deleted = db.session.get(Comment, offender["id"])
        assert deleted is not None
        assert (deleted.status, deleted.deleted_from) == (CommentStatus.DELETED,
                                                          CommentStatus.REJECTED)
        # The deleted rejection and the new spam.
        assert deleted.author.rejected_count == 2
        again = db.session.get(Comment, pitch["id"])
        assert again is not None
        assert again.status == CommentStatus.SPAM, again.status_reason
        assert "thresholds lowered from 0.50 / 0.65" in (again.status_reason or "")
    assert_counts_match_recount(app)


def test_edit_and_delete_own_comment(client: FlaskClient, app: Flask,
                                     keys: dict[str, str]) -> None:
    doc = submit(client, body=CLEAN).get_json()
    token = {"X-Author-Token": doc["author_token"]}
    decide_all(app)
    reply = submit(client, body="Good point.", parent_id=doc["id"]).get_json()
    decide_all(app)
    url = f"/api/v1/comments/{doc['id']}"
    assert client.get(url, headers=token).get_json()["decided_at"] is not None
    edited = client.patch(url, json={"body": "Edited: still a fine report."}, headers=token)
    assert edited.status_code == 200
    assert edited.get_json()["status"] == "pending"
    assert edited.get_json()["decided_at"] is None  # the old decision is not this text's
    assert client.get("/api/v1/sites/demo/counts?article=story-1").get_json()["counts"][
        "story-1"] == 1
    decide_all(app)
    assert client.get(url, headers=token).get_json()["status"] == "approved"
    assert client.patch(url, json={"body": ""}, headers=token).status_code == 422
    assert client.patch(url, json={"body": "x"}).status_code == 401
    assert client.patch(url, json={"body": "x"},
                        headers={"X-Author-Token": "at_wrong"}).status_code == 404
    assert client.delete(url, headers=token).status_code == 204
    thread = client.get("/api/v1/sites/demo/comments?article=story-1").get_json()
    placeholder = thread["comments"][0]
    assert placeholder["deleted"] is True
    assert placeholder["html"] == ""
    assert placeholder["author_name"] is None
    assert placeholder["replies"][0]["id"] == reply["id"]
    assert thread["article"]["approved_count"] == 1
    assert client.delete(url, headers=token).status_code == 204  # idempotent
    with app.app_context():
        comment = db.session.get(Comment, reply["id"])
        comment.created_at = datetime.now(UTC) - timedelta(hours=1)
        db.session.commit()
    late = client.delete(f"/api/v1/comments/{reply['id']}",
                         headers={"X-Author-Token": reply["author_token"]})
    assert late.status_code == 409
    assert late.get_json()["error"]["code"] == "edit_window_closed"
    assert late.get_json()["error"]["message"] == (
        "comments can be changed for 10 minutes after posting")
    with app.app_context():
        comment = db.session.get(Comment, int(url.rsplit("/", 1)[1]))
        comment.created_at = datetime.now(UTC) - timedelta(hours=1)
        db.session.commit()
    # Deleting what is deleted already changes nothing, also after the window.
    assert client.delete(url, headers=token).status_code == 204
    client.patch("/api/v1/admin/sites/demo", headers=auth(keys["admin"]),
                 json={"edit_window_seconds": 30})
    short = client.patch(f"/api/v1/comments/{reply['id']}", json={"body": "Changed."},
                         headers={"X-Author-Token": reply["author_token"]})
    assert short.get_json()["error"]["message"] == (
        "comments can be changed for 30 seconds after posting")


def test_admin_sites_lists_keys_articles(client: FlaskClient, app: Flask,
                                         keys: dict[str, str]) -> None:
    admin, operator = auth(keys["admin"]), auth(keys["operator"])
    assert client.post("/api/v1/admin/sites", headers=admin,
                       json={"id": "new", "allowed_origins": ["https://n.example"]}
                       ).status_code == 403
    created = client.post("/api/v1/admin/sites", headers=operator, json={
        "id": "new", "allowed_origins": ["https://n.example/"], "mode": "post",
        "reject_threshold": 0.8})
    assert created.status_code == 201, created.get_json()
    assert created.get_json()["allowed_origins"] == ["https://n.example"]
    assert created.get_json()["reject_threshold"] == 0.8
    assert client.post("/api/v1/admin/sites", headers=operator, json={
        "id": "new", "allowed_origins": ["https://n.example"]}).status_code == 409
    # Stored as a browser sends them, or posts from https://cased.example would be refused.
    cased = client.post("/api/v1/admin/sites", headers=operator, json={
        "id": "cased", "allowed_origins": ["HTTPS://Cased.Example:443/", "https://cased.example",
                                           "http://cased.example:8080"]})
    assert cased.get_json()["allowed_origins"] == ["https://cased.example",
                                                   "http://cased.example:8080"]
    posted = client.post("/api/v1/sites/cased/comments", headers={
        "Origin": "https://cased.example"}, json={"article": "a", "body": "Fine words."})
    assert posted.status_code == 202, posted.get_json()
    # Integers are integers: 0.5 s of edit window is not 0 (no editing at all).
    # And true is true: "no" is not false, "0.5" is not a number (nothing changes).
    for field, value in (("edit_window_seconds", 0.5), ("max_depth", 3.9),
                         ("flag_threshold", 2.5), ("close_after_days", "7"),
                         ("hide_flagged", "no"), ("hide_flagged", 1),
                         ("auto_create_articles", "on"),
                         ("hold_threshold", "0.5"), ("reject_threshold", True),
                         ("name", "   ")):
        answer = client.patch("/api/v1/admin/sites/cased", headers=operator,
                              json={field: value})
        assert (field, answer.status_code) == (field, 422)
    # Nothing to change is refused the same way on every partial update, naming the fields.
    hook = client.post("/api/v1/admin/sites/cased/webhooks", headers=operator, json={
        "url": "https://hooks.example/w", "event_types": ["*"]}).get_json()["id"]
    for method, path, named in (("PATCH", "/api/v1/admin/sites/cased", "allowed_origins"),
                                ("PUT", "/api/v1/admin/sites/cased/lists", "blocked_words"),
                                ("PATCH", f"/api/v1/admin/sites/cased/webhooks/{hook}",
                                 "event_types")):
        empty = client.open(path, method=method, headers=operator, json={})
        assert (path, empty.status_code) == (path, 422)
        message = empty.get_json()["error"]["fields"]["_schema"][0]
        assert message.startswith("send at least one of "), message
        assert named in message, message
    for bad in ({"id": "Bad!", "allowed_origins": ["https://x.example"]},
                {"id": "ok", "allowed_origins": []},
                {"id": "ok", "allowed_origins": ["https://x.example/path"]},
                {"id": "ok", "allowed_origins": ["https://x.example"], "hold_threshold": 0.9,
                 "reject_threshold": 0.5}):
        assert client.post("/api/v1/admin/sites", headers=operator, json=bad).status_code \
            == 422, bad
    patched = client.patch("/api/v1/admin/sites/demo", headers=admin,
                           json={"hold_threshold": 0.95})
    assert patched.status_code == 422  # above the stored reject threshold
    assert patched.get_json()["error"]["fields"] == {"hold_threshold": ["Above reject_threshold."]}
    no_origins = client.patch("/api/v1/admin/sites/demo", headers=admin,
                              json={"allowed_origins": []})
    assert no_origins.status_code == 422  # as on creation: no browser could post
    lists = client.put("/api/v1/admin/sites/demo/lists", headers=admin, json={
        "blocked_words": [" Slur ", "slur"], "blocked_link_domains": ["spam.example"]})
    assert lists.get_json()["blocked_words"] == ["slur"]
    assert client.put("/api/v1/admin/sites/demo/lists", headers=admin,
                      json={"blocked_link_domains": ["not a domain"]}).status_code == 422
    for matches_nothing in (["*"], ["   "], ["--"]):  # nothing left once normalised
        refused = client.put("/api/v1/admin/sites/demo/lists", headers=admin,
                             json={"suspect_words": matches_nothing})
        assert refused.status_code == 422, matches_nothing
        assert "match nothing" in str(refused.get_json()["error"]["fields"])
    assert client.get("/api/v1/admin/sites/demo/lists", headers=admin).get_json()[
        "suspect_words"] == []
    made = client.post("/api/v1/admin/sites/demo/keys", headers=admin,
                       json={"role": "moderator", "label": "night shift"}).get_json()
    assert client.get("/api/v1/moderation/comments", headers=auth(made["key"])).status_code \
        == 200
    listed = client.get("/api/v1/admin/sites/demo/keys", headers=admin).get_json()["items"]
    assert made["key"] not in str(listed)
    assert client.delete(f"/api/v1/admin/keys/{made['id']}", headers=admin).status_code == 200
    assert client.get("/api/v1/moderation/comments", headers=auth(made["key"])).status_code \
        == 401
    # The first comment names the article's page: kept only on the site's own origins.
    submit(client, article="to-close", article_url="https://evil.example/phish",
           article_title="Fake headline")
    article = client.get("/api/v1/admin/sites/demo/articles", headers=admin).get_json()[
        "items"][0]
    assert (article["key"], article["url"]) == ("to-close", None)
    submit(client, article="own-page", article_url="http://localhost:8000/news/own-page")
    own = [a for a in client.get("/api/v1/admin/sites/demo/articles", headers=admin)
           .get_json()["items"] if a["key"] == "own-page"]
    assert own[0]["url"] == "http://localhost:8000/news/own-page"
    path = f"/api/v1/admin/sites/demo/articles/{article['id']}"
    fixed = client.patch(path, headers=admin, json={
        "url": "http://localhost:8000/news/to-close", "title": "The real headline"})
    assert (fixed.get_json()["url"], fixed.get_json()["title"], fixed.get_json()["is_open"]) \
        == ("http://localhost:8000/news/to-close", "The real headline", True)
    assert client.patch(path, headers=admin, json={}).status_code == 422
    blank = client.patch(path, headers=admin, json={"title": " \u200b "})
    assert (blank.status_code, blank.get_json()["error"]["fields"]) == (
        422, {"title": ["Nothing visible in it."]})
    assert client.patch(path, headers=admin, json={"url": "javascript:alert(1)"}).status_code \
        == 422
    closed = client.patch(path, headers=admin, json={"is_open": False})
    assert closed.get_json()["is_open"] is False
    assert closed.get_json()["title"] == "The real headline"
    article_audit = f"/api/v1/moderation/audit?subject_type=article&subject_id={article['id']}"
    entries = len(client.get(article_audit, headers=admin).get_json()["items"])
    again = client.patch(path, headers=admin, json={"is_open": False})  # already closed
    assert again.status_code == 200
    assert len(client.get(article_audit, headers=admin).get_json()["items"]) == entries
    assert client.patch(path, headers=admin, json={"is_open": "no"}).status_code == 422
    assert submit(client, article="to-close").status_code == 409
    audit = client.get("/api/v1/moderation/audit?subject_type=site",
                       headers=admin).get_json()["items"]
    assert audit[0]["details"]["changes"]["blocked_words"][1] == ["slur"]


def test_stats_and_simulate(client: FlaskClient, app: Flask, keys: dict[str, str]) -> None:
    comment_id = held_comment(client, app)
    client.post(f"/api/v1/moderation/comments/{comment_id}/decision",
                headers=auth(keys["mod"]), json={"action": "approve"})
    submit(client, body=TOXIC)
    decide_all(app)
    stats = client.get("/api/v1/moderation/stats", headers=auth(keys["mod"])).get_json()
    assert stats["queues"]["approved"] == 1
    assert stats["queues"]["rejected"] == 1
    today = stats["decisions_per_day"][-1]["by_actor_and_outcome"]
    assert today == {"system:held": 1, "moderator:approved": 1, "system:rejected": 1}
    assert stats["held_wait_seconds"]["count"] == 1
    assert client.get("/api/v1/moderation/stats", headers=auth(keys["operator"])).status_code \
        == 400
    # An unknown site is a 404 whichever key asks (a scoped key cannot tell it from another
    # site's; the all-sites key said 400 before).
    for key in ("mod", "operator"):
        for method, path, body in (("GET", "/api/v1/moderation/stats?site=nosuch", None),
                                   ("POST", "/api/v1/moderation/simulate",
                                    {"text": CLEAN, "site": "nosuch"})):
            answer = client.open(path, method=method, json=body, headers=auth(keys[key]))
            assert (key, answer.status_code, answer.get_json()["error"]["code"]) == (
                key, 404, "not_found")
    with app.app_context():
        before = db.session.scalar(select(func.count()).select_from(Comment))
    simulated = client.post("/api/v1/moderation/simulate", headers=auth(keys["mod"]),
                            json={"text": TOXIC}).get_json()
    assert simulated["status"] == "rejected"
    assert {c["name"] for c in simulated["checks"]} >= {"toxicity", "links"}
    # What a submit would refuse is refused here too, not approved.
    blank = client.post("/api/v1/moderation/simulate", headers=auth(keys["mod"]),
                        json={"text": " \u200b\n "})
    assert blank.status_code == 422
    assert blank.get_json()["error"]["fields"] == {
        "text": ["Nothing visible is left after cleaning."]}
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Comment)) == before


def test_author_export_and_erase(client: FlaskClient, app: Flask, keys: dict[str, str]) -> None:
    admin = auth(keys["admin"])
    mine = submit(client, body=CLEAN, author_email="ann@example.org").get_json()
    token = {"X-Author-Token": mine["author_token"]}
    lonely = submit(client, body="A second remark nobody answers.", headers=token).get_json()
    decide_all(app)
    reply = submit(client, body="Replying to Ann.", parent_id=mine["id"]).get_json()
    decide_all(app)
    with app.app_context():
        author_id = db.session.get(Comment, mine["id"]).author_id
    base = f"/api/v1/admin/sites/demo/authors/{author_id}"
    exported = client.get(f"{base}/export", headers=admin)
    assert exported.status_code == 200
    doc = exported.get_json()
    assert [c["id"] for c in doc["comments"]] == [mine["id"], lonely["id"]]
    assert doc["author"]["email_hash"]
    assert doc["comments"][0]["created_at"].endswith("+00:00")
    assert client.get(f"{base}/export", headers=auth(keys["mod"])).status_code == 403
    assert client.get(f"{base}/export", headers=auth(keys["other_admin"])).status_code == 404
    client.post(f"/api/v1/moderation/authors/{author_id}/trust", headers=auth(keys["mod"]),
                json={})  # an author.* event that names them
    # Moderators' reasons quote the text and name the person: audited and announced.
    assert client.post(f"/api/v1/moderation/comments/{lonely['id']}/decision",
                       headers=auth(keys["mod"]), json={
                           "action": "reject", "reason": "'nobody answers' is bait"}
                       ).status_code == 200
    assert client.post(f"/api/v1/moderation/authors/{author_id}/ban", headers=auth(keys["mod"]),
                       json={"reason": "Ann from Leeds, again"}).status_code == 200
    # Another reader's report quotes the comment.
    assert client.post(f"/api/v1/comments/{mine['id']}/flags", json={
        "reason": "other", "note": f"it says: {CLEAN[:30]}"}).status_code == 201
    erased = client.post(f"{base}/erase", headers=admin, json={"remove_unreplied": True})
    # The rejected comment's row is gone, and its rejection with it: the tallies stay a
    # recount of the rows.
    assert_counts_match_recount(app)
    # created + approved for each comment, the rejection, author.trusted and author.banned.
    assert erased.get_json() == {"changed": True, "placeholders": 1, "removed": 1,
                                 "labels": 1, "events_scrubbed": 7}
    with app.app_context():
        # Nothing in the webhook outbox quotes the text or the name any more, including
        # the comment.deleted events of the erasure itself.
        payloads = [json.dumps(e.payload) for e in db.session.scalars(select(Event))
                    if e.subject_id != str(reply["id"])]  # the replier is an "Ann" too
        assert any('"status": "deleted"' in p and '"[erased]"' in p for p in payloads)
        assert not [p for p in payloads if CLEAN in p or "nobody answers" in p or '"Ann"' in p]
        # Check reasons in earlier events quote words of the text: those go too.
        reasons = {e.payload["data"]["comment"]["status_reason"]
                   for e in db.session.scalars(select(Event).where(
                       Event.type.startswith("comment."),
                       Event.subject_id.in_([str(mine["id"]), str(lonely["id"])])))}
        assert reasons <= {None, "[erased]", "author data erased"}, reasons
        assert db.session.scalar(select(func.count()).select_from(CheckResult).where(
            CheckResult.comment_id == mine["id"])) == 0
    thread = client.get("/api/v1/sites/demo/comments?article=story-1").get_json()
    assert thread["article"]["approved_count"] == 1
    assert thread["comments"][0]["deleted"] is True
    assert thread["comments"][0]["replies"][0]["id"] == reply["id"]
    assert client.get(f"/api/v1/comments/{mine['id']}", headers=token).status_code == 404
    with app.app_context():
        kept = db.session.get(Comment, mine["id"])
        assert (kept.body, kept.ip_hash, kept.author_name) == ("", None, "[erased]")
        assert db.session.get(Comment, lonely["id"]) is None
    audit = client.get(f"/api/v1/moderation/audit?subject_type=author&subject_id={author_id}",
                       headers=admin).get_json()["items"]
    assert [e["action"] for e in audit] == ["author.erased", "author.banned", "author.trusted",
                                            "author.exported"]
    # The trail stays (who, what, when); the words about the text and the person go.
    trail = client.get("/api/v1/moderation/audit?limit=100", headers=admin).get_json()["items"]
    mentions = [e for e in trail if "nobody answers" in json.dumps(e) or "Ann" in json.dumps(e)]
    assert mentions == []
    assert {e["reason"] for e in trail if e["action"] in {"author.banned", "comment.rejected"}
            } == {"[erased]"}
    with app.app_context():
        assert db.session.get(Author, author_id).ban_reason == "[erased]"
        assert db.session.scalars(select(Flag.note).where(Flag.comment_id == mine["id"])
                                  ).all() == [None]
        banned = db.session.scalars(select(Event).where(Event.type == "author.banned")).one()
        assert banned.payload["data"]["reason"] == "[erased]"
        events = db.session.scalar(select(func.count()).select_from(Event))
    # Erasing again changes nothing: no second audit entry, no second author.erased event.
    again = client.post(f"{base}/erase", headers=admin, json={"remove_unreplied": False})
    assert again.get_json() == {"changed": False, "placeholders": 1, "removed": 0,
                                "labels": 0, "events_scrubbed": 0}
    audit = client.get(f"/api/v1/moderation/audit?subject_type=author&subject_id={author_id}",
                       headers=admin).get_json()["items"]
    assert [e["action"] for e in audit].count("author.erased") == 1
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Event)) == events


def test_an_erased_newest_comment_id_is_never_handed_out_again(
        client: FlaskClient, app: Flask, keys: dict[str, str]) -> None:
    """SQLite would give max(id) + 1 again after the newest rows are deleted: the audit
    trail and webhook subscribers would then see two comments under one id."""
    first = submit(client, body="An early remark.").get_json()["id"]
    newest = submit(client, body="The newest remark, soon erased.").get_json()["id"]
    with app.app_context():
        author_id = db.session.get(Comment, newest).author_id
    erased = client.post(f"/api/v1/admin/sites/demo/authors/{author_id}/erase",
                         headers=auth(keys["admin"]), json={"remove_unreplied": True})
    assert erased.get_json()["removed"] == 1
    after = submit(client, body="A remark after the erasure.").get_json()["id"]
    assert first < newest < after
    audit = client.get(f"/api/v1/moderation/audit?subject_type=comment&subject_id={after}",
                       headers=auth(keys["admin"])).get_json()["items"]
    assert [e["action"] for e in audit] == ["comment.created"], "one comment per id"


def test_public_reads_see_a_site_change_made_in_this_process_at_once(
        client: FlaskClient, keys: dict[str, str]) -> None:
    counts = "/api/v1/sites/demo/counts?article=x"
    origin = {"Origin": "https://news.example"}
    assert "Access-Control-Allow-Origin" not in client.get(counts, headers=origin).headers
    assert client.patch("/api/v1/admin/sites/demo", headers=auth(keys["admin"]),
                        json={"allowed_origins": ["https://news.example"]}).status_code == 200
    answer = client.get(counts, headers=origin)
    assert answer.headers["Access-Control-Allow-Origin"] == "https://news.example"
    assert client.get("/api/v1/sites/nowhere/counts?article=x").status_code == 404
    create_site_via = client.post("/api/v1/admin/sites", headers=auth(keys["operator"]),
                                  json={"id": "nowhere", "allowed_origins": ["https://n.example"]})
    assert create_site_via.status_code == 201
    assert client.get("/api/v1/sites/nowhere/counts?article=x").status_code == 200, (
        "an unknown site is never cached as missing")


def test_origins_are_stored_as_browsers_send_them_or_refused(
        client: FlaskClient, keys: dict[str, str]) -> None:
    """An internationalised host is stored in its ASCII form, the one a browser puts in
    Origin; an origin that could never match a browser's (a wildcard, user info, a bad port
    or host name) is a 422 naming why, not a site that silently takes no comment."""
    operator = auth(keys["operator"])
    created = client.post("/api/v1/admin/sites", headers=operator, json={
        "id": "idn", "allowed_origins": ["https://Bücher.example", "https://пример.рф:443"]})
    assert created.status_code == 201, created.get_json()
    assert created.get_json()["allowed_origins"] == ["https://xn--bcher-kva.example",
                                                     "https://xn--e1afmkfd.xn--p1ai"]
    for origin in ("https://xn--bcher-kva.example", "https://xn--e1afmkfd.xn--p1ai"):
        posted = client.post("/api/v1/sites/idn/comments", headers={"Origin": origin},
                             json={"article": "a", "body": "Guten Tag."})
        assert posted.status_code == 202, (origin, posted.get_json())
    refused = {"https://*.news.example": "Wildcards",
               "https://user:pw@news.example": "user name",
               "https://news.example:99999": "port",
               "https://news..example": "host name",
               "https://-news.example": "host name",
               "http://[zz]:80": "IPv6",
               "ftp://news.example": "Not an origin"}
    for origin, why in refused.items():
        answer = client.patch("/api/v1/admin/sites/idn", headers=operator,
                              json={"allowed_origins": [origin]})
        assert answer.status_code == 422, origin
        assert why in str(answer.get_json()["error"]["fields"]), (origin, answer.get_json())
    site = client.get("/api/v1/admin/sites/idn", headers=operator).get_json()
    assert site["allowed_origins"] == ["https://xn--bcher-kva.example",
                                       "https://xn--e1afmkfd.xn--p1ai"], "nothing changed"
