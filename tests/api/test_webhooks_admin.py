"""Webhook admin API: access control, endpoint lifecycle, secrets, pings, deliveries and
redelivery, on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, update

from service.domain.webhooks.signing import SecretBox
from service.extensions import db
from service.models import (
    AuditEntry,
    Delivery,
    DeliveryAttempt,
    DeliveryStatus,
    Event,
    WebhookEndpoint,
)
from tests.api.conftest import auth

pytestmark = pytest.mark.usefixtures("demo_site")

BASE = "/api/v1/admin/sites/demo/webhooks"
HOOK = {"url": "https://hooks.example.com/warden", "event_types": ["comment.*"],
        "description": "CMS bridge"}


def create(client: FlaskClient, key: str, **changes: Any) -> Any:
    return client.post(BASE, json={**HOOK, **changes}, headers=auth(key))


def delivery_for(app: Flask, endpoint_id: int, status: DeliveryStatus,
                 created_at: datetime | None = None) -> int:
    """A delivery row as the worker leaves it (with one logged attempt)."""
    with app.app_context():
        event = Event(id=f"evt_{uuid.uuid4().hex}", site_id="demo",
                      type="comment.approved", subject_id="1",
                      payload={"type": "comment.approved", "timestamp": "t", "data": {}},
                      dispatched_at=datetime.now(UTC))
        db.session.add(event)
        delivery = Delivery(endpoint_id=endpoint_id, event_id=event.id, status=status, tries=3,
                            next_attempt_at=None, last_status_code=500, last_error="HTTP 500",
                            created_at=created_at or datetime.now(UTC))
        db.session.add(delivery)
        db.session.flush()
        db.session.add(DeliveryAttempt(delivery_id=delivery.id, succeeded=False,
                                       status_code=500, duration_ms=12, error="HTTP 500",
                                       response_body='{"error": "down"}'))
        db.session.commit()
        return delivery.id


# (method, path suffix, body); {id} is the endpoint, {did} a delivery of it.
ROUTES: list[tuple[str, str, dict[str, Any] | None]] = [
    ("GET", "", None),
    ("POST", "", HOOK),
    ("GET", "/{id}", None),
    ("PATCH", "/{id}", {"description": "x"}),
    ("DELETE", "/{id}", None),
    ("POST", "/{id}/rotate-secret", {}),
    ("POST", "/{id}/ping", None),
    ("GET", "/{id}/deliveries", None),
    ("GET", "/{id}/deliveries/{did}", None),
    ("POST", "/{id}/deliveries/{did}/redeliver", None),
    ("POST", "/{id}/redeliver", {"since": "2020-01-01T00:00:00+00:00"}),
]


@pytest.mark.parametrize(("method", "suffix", "body"), ROUTES)
def test_every_route_needs_an_admin_key_for_the_site(client: FlaskClient, app: Flask,
                                                    keys: dict[str, str], method: str,
                                                    suffix: str,
                                                    body: dict[str, Any] | None) -> None:
    endpoint_id = create(client, keys["admin"]).get_json()["id"]
    delivery_id = delivery_for(app, endpoint_id, DeliveryStatus.FAILED)
    path = BASE + suffix.format(id=endpoint_id, did=delivery_id)

    def call(headers: dict[str, str], target: str = path) -> Any:
        return client.open(target, method=method, json=body, headers=headers)

    assert call({}).status_code == 401
    assert call(auth("cw_adm_not-a-real-key")).status_code == 401
    assert call(auth(keys["revoked"])).status_code == 401
    assert call({"Authorization": "Basic abc"}).status_code == 401
    forbidden = call(auth(keys["mod"]))
    assert forbidden.status_code == 403
    assert forbidden.get_json()["error"]["code"] == "forbidden"
    # Another site's admin cannot even learn that the site or endpoint exists.
    hidden = call(auth(keys["other_admin"]))
    assert hidden.status_code == 404
    assert hidden.get_json()["error"]["code"] == "not_found"
    # The other site's own admin sees no demo endpoint through its own site either.
    if "{id}" in suffix:
        other_path = path.replace("/sites/demo/", "/sites/other/")
        assert call(auth(keys["other_admin"]), other_path).status_code == 404
    with app.app_context():
        assert db.session.get(WebhookEndpoint, endpoint_id) is not None
    assert call(auth(keys["operator"])).status_code < 300
    # No CORS on admin routes, even for an origin the site allows.
    answer = call({**auth(keys["admin"]), "Origin": "http://127.0.0.1:8000"})
    assert "Access-Control-Allow-Origin" not in answer.headers


def test_create_returns_the_secret_once_and_stores_it_encrypted(
        client: FlaskClient, app: Flask, keys: dict[str, str]) -> None:
    created = create(client, keys["admin"])
    assert created.status_code == 201
    doc = created.get_json()
    secret = doc["secret"]
    assert secret.startswith("whsec_")
    assert doc["url"] == HOOK["url"]
    assert doc["event_types"] == ["comment.*"]
    assert doc["enabled"] is True
    assert doc["disabled_reason"] is None
    shown = client.get(f"{BASE}/{doc['id']}", headers=auth(keys["admin"])).get_json()
    assert "secret" not in shown
    listed = client.get(BASE, headers=auth(keys["admin"])).get_json()["items"]
    assert [item["id"] for item in listed] == [doc["id"]]
    assert all("secret" not in item for item in listed)
    with app.app_context():
        row = db.session.get(WebhookEndpoint, doc["id"])
        assert secret not in row.secret_encrypted
        assert SecretBox(app.config["WARDEN"].secret_key).open(row.secret_encrypted) == secret
        actions = db.session.scalars(select(AuditEntry.action)
                                     .where(AuditEntry.subject_type == "webhook")).all()
        assert actions == ["webhook.created"]
        assert all(secret not in str(entry.details) for entry in
                   db.session.scalars(select(AuditEntry)))


@pytest.mark.parametrize(("body", "field"), [
    ({**HOOK, "colour": "red"}, "colour"),
    ({"event_types": ["*"]}, "url"),
    ({"url": HOOK["url"]}, "event_types"),
    ({**HOOK, "event_types": []}, "event_types"),
    ({**HOOK, "event_types": ["comment.aproved"]}, "event_types"),
    ({**HOOK, "event_types": "comment.created"}, "event_types"),
    ({**HOOK, "url": "ftp://hooks.example.com/"}, "url"),
    ({**HOOK, "url": "not a url"}, "url"),
    ({**HOOK, "url": "http://127.0.0.1:9000/hook"}, "url"),
    ({**HOOK, "url": "http://10.1.2.3/hook"}, "url"),
    ({**HOOK, "url": "http://localhost:9000/hook"}, "url"),
    ({**HOOK, "url": "http://169.254.169.254/latest"}, "url"),
    ({**HOOK, "url": "https://" + "a" * 2050 + ".example/"}, "url"),
    ({**HOOK, "enabled": "sometimes"}, "enabled"),
    ({**HOOK, "description": "d" * 501}, "description"),
])
def test_bad_bodies_are_refused_and_write_nothing(client: FlaskClient, app: Flask,
                                                  keys: dict[str, str], body: dict[str, Any],
                                                  field: str) -> None:
    response = client.post(BASE, json=body, headers=auth(keys["admin"]))
    assert response.status_code == 422
    error = response.get_json()["error"]
    assert error["code"] == "validation_error"
    assert field in error["fields"]
    with app.app_context():
        assert db.session.scalars(select(WebhookEndpoint)).all() == []


def test_non_json_and_broken_json_are_refused(client: FlaskClient,
                                              keys: dict[str, str]) -> None:
    as_form = client.post(BASE, data="url=x", headers={**auth(keys["admin"]),
                                                       "Content-Type": "text/plain"})
    assert as_form.status_code == 415
    broken = client.post(BASE, data="{nope", headers={**auth(keys["admin"]),
                                                      "Content-Type": "application/json"})
    assert broken.status_code == 400
    assert broken.get_json()["error"]["code"] == "bad_request"


def test_patch_changes_fields_and_refuses_bad_ones(client: FlaskClient, app: Flask,
                                                  keys: dict[str, str]) -> None:
    endpoint_id = create(client, keys["admin"]).get_json()["id"]
    path = f"{BASE}/{endpoint_id}"
    changed = client.patch(path, json={"event_types": ["*"], "description": "all"},
                           headers=auth(keys["admin"]))
    assert changed.status_code == 200
    assert changed.get_json()["event_types"] == ["*"]
    assert changed.get_json()["description"] == "all"
    for bad in ({}, {"url": "http://192.168.0.1/"}, {"event_types": ["x"]}, {"secret": "s"}):
        response = client.patch(path, json=bad, headers=auth(keys["admin"]))
        assert response.status_code == 422, bad
    assert client.patch(f"{BASE}/999999", json={"description": "x"},
                        headers=auth(keys["admin"])).status_code == 404
    with app.app_context():
        assert db.session.get(WebhookEndpoint, endpoint_id).event_types == ["*"]


def test_disable_fails_pending_and_enable_clears_the_reason(client: FlaskClient, app: Flask,
                                                           keys: dict[str, str]) -> None:
    endpoint_id = create(client, keys["admin"]).get_json()["id"]
    pending = delivery_for(app, endpoint_id, DeliveryStatus.PENDING)
    path = f"{BASE}/{endpoint_id}"
    off = client.patch(path, json={"enabled": False}, headers=auth(keys["admin"])).get_json()
    assert off["enabled"] is False
    assert off["disabled_reason"] == "disabled by an admin"
    assert off["disabled_at"] is not None
    with app.app_context():
        row = db.session.get(Delivery, pending)
        assert row.status == DeliveryStatus.FAILED
        assert row.last_error == "endpoint disabled: disabled by an admin"
    refused = client.post(f"{path}/ping", headers=auth(keys["admin"]))
    assert refused.status_code == 409
    assert "enable it first" in refused.get_json()["error"]["message"]
    on = client.patch(path, json={"enabled": True}, headers=auth(keys["admin"])).get_json()
    assert on["enabled"] is True
    assert on["disabled_reason"] is None
    assert on["failing_since"] is None
    with app.app_context():
        actions = db.session.scalars(select(AuditEntry.action)
                                     .where(AuditEntry.subject_type == "webhook")
                                     .order_by(AuditEntry.id)).all()
        assert actions == ["webhook.created", "webhook.disabled", "webhook.enabled"]


def test_rotate_secret_overlaps_then_replaces(client: FlaskClient, app: Flask,
                                              keys: dict[str, str]) -> None:
    created = create(client, keys["admin"]).get_json()
    path = f"{BASE}/{created['id']}/rotate-secret"
    rotated = client.post(path, json={"overlap_hours": 2}, headers=auth(keys["admin"]))
    assert rotated.status_code == 200
    doc = rotated.get_json()
    assert doc["secret"].startswith("whsec_")
    assert doc["secret"] != created["secret"]
    ends = datetime.fromisoformat(doc["previous_secret_expires_at"])
    assert timedelta(hours=1.9) < ends - datetime.now(UTC) <= timedelta(hours=2)
    shown = client.get(f"{BASE}/{created['id']}", headers=auth(keys["admin"])).get_json()
    assert shown["previous_secret_expires_at"] is not None
    with app.app_context():
        row = db.session.get(WebhookEndpoint, created["id"])
        box = SecretBox(app.config["WARDEN"].secret_key)
        assert box.open(row.secret_encrypted) == doc["secret"]
        assert box.open(row.previous_secret_encrypted) == created["secret"]
    at_once = client.post(path, json={"overlap_hours": 0}, headers=auth(keys["admin"]))
    assert at_once.get_json()["previous_secret_expires_at"] is None
    for bad in ({"overlap_hours": -1}, {"overlap_hours": 1000}, {"hours": 1}):
        assert client.post(path, json=bad, headers=auth(keys["admin"])).status_code == 422


def test_ping_makes_one_delivery_for_this_endpoint_only(client: FlaskClient, app: Flask,
                                                        keys: dict[str, str]) -> None:
    target = create(client, keys["admin"], event_types=["*"]).get_json()["id"]
    bystander = create(client, keys["admin"], event_types=["*"]).get_json()["id"]
    pinged = client.post(f"{BASE}/{target}/ping", headers=auth(keys["admin"]))
    assert pinged.status_code == 202
    doc = pinged.get_json()
    assert doc["event_type"] == "ping"
    assert doc["status"] == "pending"
    assert doc["event_id"].startswith("evt_")
    with app.app_context():
        deliveries = db.session.scalars(select(Delivery)).all()
        assert [(d.endpoint_id, d.event_id) for d in deliveries] == [(target, doc["event_id"])]
        event = db.session.get(Event, doc["event_id"])
        assert event.dispatched_at is not None  # never fanned out to the bystander
        assert event.payload["data"]["endpoint"]["id"] == target
    assert bystander != target


def test_deliveries_list_detail_and_pages(client: FlaskClient, app: Flask,
                                          keys: dict[str, str]) -> None:
    endpoint_id = create(client, keys["admin"]).get_json()["id"]
    ids = [delivery_for(app, endpoint_id, status) for status in
           (DeliveryStatus.FAILED, DeliveryStatus.SUCCEEDED, DeliveryStatus.FAILED)]
    path = f"{BASE}/{endpoint_id}/deliveries"
    first = client.get(f"{path}?limit=2", headers=auth(keys["admin"])).get_json()
    assert [d["id"] for d in first["items"]] == [ids[2], ids[1]]
    rest = client.get(f"{path}?limit=2&cursor={first['next_cursor']}",
                      headers=auth(keys["admin"])).get_json()
    assert [d["id"] for d in rest["items"]] == [ids[0]]
    assert rest["next_cursor"] is None
    failed = client.get(f"{path}?status=failed", headers=auth(keys["admin"])).get_json()
    assert [d["id"] for d in failed["items"]] == [ids[2], ids[0]]
    detail = client.get(f"{path}/{ids[0]}", headers=auth(keys["admin"])).get_json()
    assert detail["payload"]["type"] == "comment.approved"
    assert detail["last_error"] == "HTTP 500"
    [attempt] = detail["attempts"]
    assert attempt["status_code"] == 500
    assert attempt["duration_ms"] == 12
    assert attempt["response_body"] == '{"error": "down"}'
    for bad in ("?status=lost", "?limit=0", "?cursor=%%%"):
        assert client.get(path + bad, headers=auth(keys["admin"])).status_code in {400, 422}
    assert client.get(f"{path}/999999", headers=auth(keys["admin"])).status_code == 404


def test_redeliver_one_and_a_range(client: FlaskClient, app: Flask,
                                   keys: dict[str, str]) -> None:
    endpoint_id = create(client, keys["admin"]).get_json()["id"]
    old = datetime.now(UTC) - timedelta(days=3)
    old_failed = delivery_for(app, endpoint_id, DeliveryStatus.FAILED, created_at=old)
    failed = [delivery_for(app, endpoint_id, DeliveryStatus.FAILED) for _ in range(2)]
    succeeded = delivery_for(app, endpoint_id, DeliveryStatus.SUCCEEDED)
    path = f"{BASE}/{endpoint_id}"

    one = client.post(f"{path}/deliveries/{succeeded}/redeliver", headers=auth(keys["admin"]))
    assert one.status_code == 202
    assert one.get_json()["status"] == "pending"
    assert one.get_json()["tries"] == 0

    since = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    ranged = client.post(f"{path}/redeliver", json={"since": since},
                         headers=auth(keys["admin"]))
    assert ranged.status_code == 202
    assert ranged.get_json() == {"redelivered": 2, "delivery_ids": failed, "more": False}
    with app.app_context():
        rows = {d.id: d for d in db.session.scalars(select(Delivery))}
        assert rows[old_failed].status == DeliveryStatus.FAILED
        for delivery_id in [*failed, succeeded]:
            assert rows[delivery_id].status == DeliveryStatus.PENDING
            assert rows[delivery_id].tries == 0
            assert rows[delivery_id].next_attempt_at is not None
        # A worker holding the claim right now: redelivering it is refused, not doubled.
        db.session.execute(update(Delivery).where(Delivery.id == old_failed)
                           .values(claimed_until=datetime.now(UTC) + timedelta(minutes=1)))
        db.session.commit()
    busy = client.post(f"{path}/deliveries/{old_failed}/redeliver", headers=auth(keys["admin"]))
    assert busy.status_code == 409
    for bad in ({}, {"since": "yesterday"}, {"since": since, "status": "lost"},
                {"since": since, "until": "2000-01-01T00:00:00+00:00"}):
        assert client.post(f"{path}/redeliver", json=bad,
                           headers=auth(keys["admin"])).status_code == 422, bad


def test_redelivering_a_range_sends_what_a_disabled_endpoint_missed(
        client: FlaskClient, app: Flask, keys: dict[str, str]) -> None:
    """Events of the time an endpoint was off are not sent to it, but recorded as failed
    deliveries: "redeliver what it missed" sends them (they had no delivery row at all,
    so nothing could)."""
    from service.domain.webhooks.deliveries import fan_out

    def event_row(type_: str) -> str:
        with app.app_context():
            event = Event(id=f"evt_{uuid.uuid4().hex}", site_id="demo", type=type_,
                          subject_id="1", payload={"type": type_, "timestamp": "t", "data": {}})
            db.session.add(event)
            db.session.commit()
            fan_out(db.session)
            return event.id

    admin = auth(keys["admin"])
    endpoint_id = create(client, keys["admin"]).get_json()["id"]  # comment.* only
    assert client.patch(f"{BASE}/{endpoint_id}", json={"enabled": False},
                        headers=admin).status_code == 200
    missed = [event_row("comment.created"), event_row("comment.approved")]
    event_row("author.banned")  # not an event this endpoint takes
    with app.app_context():
        kept = db.session.scalars(select(Delivery).order_by(Delivery.id)).all()
        assert [(d.event_id, d.status, d.tries, d.last_error) for d in kept] == [
            (e, DeliveryStatus.FAILED, 0, "endpoint disabled when the event came")
            for e in missed]
    path = f"{BASE}/{endpoint_id}/redeliver"
    since = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    assert client.post(path, json={"since": since}, headers=admin).status_code == 409
    assert client.patch(f"{BASE}/{endpoint_id}", json={"enabled": True},
                        headers=admin).status_code == 200
    succeeded_only = client.post(path, json={"since": since, "status": "succeeded"},
                                 headers=admin).get_json()
    assert succeeded_only["redelivered"] == 0  # never delivered is not a success
    sent = client.post(path, json={"since": since}, headers=admin).get_json()
    assert (sent["redelivered"], sent["more"]) == (2, False)
    with app.app_context():
        rows = db.session.scalars(select(Delivery).order_by(Delivery.id)).all()
        assert [(d.id, d.event_id, d.status) for d in rows] == [
            (i, e, DeliveryStatus.PENDING) for i, e in zip(sent["delivery_ids"], missed,
                                                           strict=True)]
    again = client.post(path, json={"since": since}, headers=admin).get_json()
    assert again["redelivered"] == 0


def test_delete_removes_endpoint_and_its_deliveries(client: FlaskClient, app: Flask,
                                                    keys: dict[str, str]) -> None:
    endpoint_id = create(client, keys["admin"]).get_json()["id"]
    delivery_for(app, endpoint_id, DeliveryStatus.FAILED)
    deleted = client.delete(f"{BASE}/{endpoint_id}", headers=auth(keys["admin"]))
    assert deleted.status_code == 204
    assert "Content-Type" not in deleted.headers  # no body, no media type
    assert client.get(f"{BASE}/{endpoint_id}", headers=auth(keys["admin"])).status_code == 404
    assert client.delete(f"{BASE}/{endpoint_id}", headers=auth(keys["admin"])).status_code == 404
    with app.app_context():
        assert db.session.scalars(select(Delivery)).all() == []
        assert db.session.scalars(select(DeliveryAttempt)).all() == []


def test_unknown_site_is_404_for_an_operator(client: FlaskClient,
                                             keys: dict[str, str]) -> None:
    response = client.get("/api/v1/admin/sites/nosuch/webhooks", headers=auth(keys["operator"]))
    assert response.status_code == 404


def test_openapi_documents_the_webhook_routes(client: FlaskClient) -> None:
    paths = client.get("/openapi.json").get_json()["paths"]
    for suffix in ("", "/{endpoint_id}", "/{endpoint_id}/rotate-secret",
                   "/{endpoint_id}/ping", "/{endpoint_id}/deliveries",
                   "/{endpoint_id}/deliveries/{delivery_id}/redeliver",
                   "/{endpoint_id}/redeliver"):
        assert f"/api/v1/admin/sites/{{site_id}}/webhooks{suffix}" in paths


def test_actions_without_input_refuse_what_is_sent_and_change_nothing(
        client: FlaskClient, app: Flask, keys: dict[str, str]) -> None:
    """Ping, redelivery and deletes take no query and no body: what is sent anyway is a
    422 naming it (a ping given ``{"event_type": ...}`` would otherwise look obeyed)."""
    admin = auth(keys["admin"])
    endpoint_id = create(client, keys["admin"]).get_json()["id"]
    delivery_id = delivery_for(app, endpoint_id, DeliveryStatus.FAILED)
    made = client.post("/api/v1/admin/sites/demo/keys", headers=admin,
                       json={"role": "moderator"}).get_json()
    routes = [("POST", f"{BASE}/{endpoint_id}/ping"),
              ("POST", f"{BASE}/{endpoint_id}/deliveries/{delivery_id}/redeliver"),
              ("DELETE", f"{BASE}/{endpoint_id}"),
              ("DELETE", f"/api/v1/admin/keys/{made['id']}")]

    def state() -> tuple[Any, ...]:
        with app.app_context():
            return (db.session.scalars(select(Delivery.id).order_by(Delivery.id)).all(),
                    db.session.get(Delivery, delivery_id).status,
                    db.session.get(WebhookEndpoint, endpoint_id) is not None,
                    client.get("/api/v1/moderation/comments",
                               headers=auth(made["key"])).status_code,
                    db.session.scalar(select(db.func.count()).select_from(AuditEntry)))

    before = state()
    for method, path in routes:
        unknown = client.open(path, method=method, headers=admin, query_string={"x": "1"})
        assert unknown.status_code == 422, (method, path)
        assert unknown.get_json()["error"]["fields"] == {"x": ["Unknown field."]}
        body = client.open(path, method=method, headers=admin,
                           json={"event_type": "comment.approved", "a": 1})
        assert body.status_code == 422, path
        assert body.get_json()["error"]["fields"] == {"a": ["Unknown field."],
                                                      "event_type": ["Unknown field."]}
        for not_an_object in ("[]", '"ping"', "1", "null"):
            refused = client.open(path, method=method, data=not_an_object,
                                  headers={**admin, "Content-Type": "application/json"})
            assert refused.status_code == 422, (path, not_an_object)
            assert "takes no body" in str(refused.get_json()["error"]["fields"])
        broken = client.open(path, method=method, data="{nope",
                             headers={**admin, "Content-Type": "application/json"})
        assert broken.status_code == 400, path
        assert broken.get_json()["error"]["fields"] == {"json": ["Invalid JSON body."]}
    assert state() == before
    # No input is an empty body or {}; both work.
    assert client.post(f"{BASE}/{endpoint_id}/ping", headers=admin, json={}).status_code == 202
    assert client.post(f"{BASE}/{endpoint_id}/ping", headers=admin).status_code == 202
    with app.app_context():
        assert len(db.session.scalars(select(Delivery)).all()) == len(before[0]) + 2
