"""Signed webhooks through real `warden worker` and `warden beat` processes, on both stacks,
to a real HTTP receiver on 127.0.0.1 that verifies what it gets with standardwebhooks."""

from __future__ import annotations

import json
import signal
import time
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select
from standardwebhooks import WebhookVerificationError

from service.domain.sites import create_api_key, ensure_demo_site
from service.domain.submissions import ClientInfo, Submission, submit_comment
from service.domain.webhooks.endpoints import AdminContext, create_endpoint
from service.domain.webhooks.signing import SecretBox
from service.extensions import db
from service.models import (
    Comment,
    CommentStatus,
    Delivery,
    DeliveryAttempt,
    DeliveryStatus,
    Event,
    Site,
)
from service.sqlite import intends_to_write
from tests.integration.conftest import Stack
from tests.support import free_port, wait_until
from tests.webhook_receiver import Receiver
from workers.dispatch import enqueue_moderation

pytestmark = [pytest.mark.worker, pytest.mark.slow]

CLEAN = "Thanks for this clear report on the ceasefire talks; the timeline helped me a lot."
ALLOW_PRIVATE = {"WARDEN_WEBHOOK_ALLOW_PRIVATE": "true"}
ONE_CHILD = {"WARDEN_WORKER_CONCURRENCY": "1"}  # starts faster; one child is plenty here


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as running:
        yield running


def add_endpoint(app: Flask, url: str, types: list[str]) -> tuple[int, str]:
    """As an admin would, but saved on an app that allows loopback URLs (the receiver)."""
    with app.app_context():
        ensure_demo_site(db.session)
        ctx = AdminContext(actor_id="test", box=SecretBox(app.config["WARDEN"].secret_key),
                           allow_private=True)
        endpoint, secret = create_endpoint(db.session, "demo", ctx, url=url, event_types=types)
        db.session.commit()
        return endpoint.id, secret


def add_comment(app: Flask, body: str = CLEAN, *, moderate: bool = False) -> int:
    """Submit like the API does; the commit wakes the webhook dispatcher."""
    # As the API does on SQLite: take the write lock first (a read, then a write, fails at
    # once when a worker wrote in between).
    with app.app_context(), intends_to_write():
        site = db.session.get(Site, "demo")
        accepted = submit_comment(db.session, site, Submission(article="story", body=body),
                                  ClientInfo(ip_hash="ip"), max_depth=5, max_body_chars=5000)
        db.session.commit()
        if moderate:
            assert enqueue_moderation(accepted.comment.id)
        return accepted.comment.id


def admin_headers(app: Flask) -> dict[str, str]:
    with app.app_context():
        _, plain = create_api_key(db.session, "demo", "admin")
        db.session.commit()
    return {"Authorization": f"Bearer {plain}"}


def deliveries(app: Flask, endpoint_id: int) -> list[dict[str, Any]]:
    with app.app_context():
        rows = db.session.scalars(select(Delivery).where(Delivery.endpoint_id == endpoint_id)
                                  .order_by(Delivery.id)).all()
        result = [{"id": d.id, "status": d.status, "event_id": d.event_id, "tries": d.tries,
                   "last_error": d.last_error,
                   "attempts": [(a.status_code, a.error) for a in d.attempts]} for d in rows]
        db.session.remove()
        return result


def settled(app: Flask, endpoint_id: int, status: DeliveryStatus, count: int = 1) -> bool:
    rows = deliveries(app, endpoint_id)
    return len(rows) == count and all(row["status"] == status for row in rows)


def test_events_arrive_signed_and_failures_are_retried_with_growing_delays(
        stack: Stack, stack_app: Flask, receiver: Receiver) -> None:
    everything, secret_all = add_endpoint(stack_app, receiver.url("/all"), ["*"])
    flaky, secret_flaky = add_endpoint(stack_app, receiver.url("/flaky"), ["comment.created"])
    receiver.answer("/flaky", 500, 500)
    stack.start("worker", WARDEN_WEBHOOK_RETRY_SCHEDULE="1,4", **ALLOW_PRIVATE, **ONE_CHILD)
    stack.start("beat")
    comment_id = add_comment(stack_app, moderate=True)

    # Every event written with the state changes reaches the subscriber, verified.
    got = receiver.wait_for("/all", 2, timeout=60)
    events = [request.verify(secret_all) for request in got]
    assert sorted(e["type"] for e in events) == ["comment.approved", "comment.created"]
    assert all(e["data"]["comment"]["id"] == comment_id for e in events)
    assert all(request.webhook_id == event["id"] for request, event in zip(got, events,
                                                                             strict=True))
    with stack_app.app_context():
        stored = set(db.session.scalars(select(Event.id)))
    assert {e["id"] for e in events} <= stored

    # 500, 500, then 200: three tries of one event, same id and body, waits growing.
    tries = receiver.wait_for("/flaky", 3, timeout=60)
    assert len({t.webhook_id for t in tries}) == 1
    assert len({t.body for t in tries}) == 1
    assert all(t.verify(secret_flaky)["type"] == "comment.created" for t in tries)
    first_wait, second_wait = tries[1].at - tries[0].at, tries[2].at - tries[1].at
    assert 0.8 <= first_wait < second_wait, (first_wait, second_wait)
    assert second_wait >= 3.2
    wait_until(lambda: settled(stack_app, flaky, DeliveryStatus.SUCCEEDED), 30,
               message="the flaky delivery to be recorded as delivered")
    [record] = deliveries(stack_app, flaky)
    assert record["tries"] == 3
    assert [code for code, _ in record["attempts"]] == [500, 500, 200]
    assert record["event_id"] == tries[0].webhook_id
    wait_until(lambda: settled(stack_app, everything, DeliveryStatus.SUCCEEDED, 2), 30,
               message="both deliveries to the catch-all endpoint")

    # A receiver refuses a tampered payload, and a signature made with another secret.
    sample = tries[-1]
    tampered = replace(sample, body=sample.body.replace(b'"comment.created"',
                                                        b'"comment.deleted"'))
    assert tampered.body != sample.body
    with pytest.raises(WebhookVerificationError):
        tampered.verify(secret_flaky)
    with pytest.raises(WebhookVerificationError):
        sample.verify(secret_all)


def test_refused_and_unreachable_deliveries_fail_then_redelivery_completes(
        stack: Stack, stack_app: Flask, receiver: Receiver) -> None:
    # A name that resolves to loopback is refused at send time when private is not allowed.
    private, private_secret = add_endpoint(
        stack_app, receiver.url("/private", host="localhost"), ["comment.created"])
    strict = stack.start("worker", WARDEN_WEBHOOK_RETRY_SCHEDULE="1,1", **ONE_CHILD)
    stack.start("beat")
    add_comment(stack_app)
    wait_until(lambda: settled(stack_app, private, DeliveryStatus.FAILED), 60,
               message="the private-address delivery to fail")
    [refused] = deliveries(stack_app, private)
    assert len(refused["attempts"]) == 3
    assert all(code is None and "loopback" in error for code, error in refused["attempts"])
    assert receiver.received() == []
    strict.stop(signal.SIGKILL, timeout=10)

    # With private addresses allowed, a receiver that is down for the whole schedule...
    down_port = free_port()
    down, down_secret = add_endpoint(stack_app, f"http://127.0.0.1:{down_port}/down", ["*"])
    stack.start("worker", WARDEN_WEBHOOK_RETRY_SCHEDULE="1,1", **ALLOW_PRIVATE, **ONE_CHILD)
    client, headers = stack_app.test_client(), admin_headers(stack_app)
    base = "/api/v1/admin/sites/demo/webhooks"
    assert client.post(f"{base}/{down}/ping", headers=headers).status_code == 202
    wait_until(lambda: settled(stack_app, down, DeliveryStatus.FAILED), 60,
               message="the ping to the down receiver to fail")
    [failed] = deliveries(stack_app, down)
    assert [code for code, _ in failed["attempts"]] == [None, None, None]
    assert "could not connect" in failed["last_error"]

    # ...gets it once it is back and an admin redelivers; so does the refused one.
    with Receiver(down_port) as back:
        for endpoint_id, delivery in ((down, failed), (private, refused)):
            answer = client.post(f"{base}/{endpoint_id}/deliveries/{delivery['id']}/redeliver",
                                 headers=headers)
            assert answer.status_code == 202, answer.get_json()
        [late] = back.wait_for("/down", 1, timeout=30)
        assert late.webhook_id == failed["event_id"]
        assert late.verify(down_secret)["type"] == "ping"
        [allowed] = receiver.wait_for("/private", 1, timeout=30)
        assert allowed.verify(private_secret)["id"] == refused["event_id"]
        for endpoint_id in (down, private):
            wait_until(lambda e=endpoint_id: settled(stack_app, e, DeliveryStatus.SUCCEEDED),
                       30, message="the redeliveries to be recorded")
        # The admin sees the whole history of the failed delivery and its redelivery.
        detail = client.get(f"{base}/{down}/deliveries/{failed['id']}", headers=headers)
        codes = [a["status_code"] for a in detail.get_json()["attempts"]]
        assert codes == [None, None, None, 200]


def test_worker_killed_during_delivery_still_delivers(stack: Stack, stack_app: Flask,
                                                      receiver: Receiver) -> None:
    endpoint_id, secret = add_endpoint(stack_app, receiver.url("/slow"), ["comment.created"])
    release = receiver.hold_first("/slow")
    timing = {"WARDEN_WEBHOOK_RETRY_SCHEDULE": "1,2", "WARDEN_WEBHOOK_TIMEOUT_SECONDS": "5",
              **ALLOW_PRIVATE, **ONE_CHILD}
    first = stack.start("worker", **timing)
    stack.start("beat")
    add_comment(stack_app)
    receiver.wait_for("/slow", 1, timeout=60)  # the worker is inside the request now
    first.stop(signal.SIGKILL, timeout=10)
    release.set()
    assert deliveries(stack_app, endpoint_id)[0]["status"] == DeliveryStatus.PENDING

    stack.start("worker", **timing)
    got = receiver.wait_for("/slow", 2, timeout=60)
    assert got[0].webhook_id == got[1].webhook_id
    assert got[1].verify(secret)["type"] == "comment.created"
    wait_until(lambda: settled(stack_app, endpoint_id, DeliveryStatus.SUCCEEDED), 30,
               message="the delivery to be recorded after the kill")
    with stack_app.app_context():
        payload = json.loads(got[1].body)
        assert db.session.scalar(select(Delivery.event_id)) == payload["id"]
        assert db.session.scalar(select(DeliveryAttempt.status_code)
                                 .order_by(DeliveryAttempt.id.desc())) == 200


# The pools are the same on both stacks: the production one (Redis) is enough here.
@pytest.mark.parametrize("stack", ["production"], indirect=True)
def test_a_slow_subscriber_does_not_hold_up_moderation(stack: Stack, stack_app: Flask,
                                                       receiver: Receiver) -> None:
    """Deliveries wait on the subscriber; the checks must not wait for them. In one pool
    they did: each delivery held a worker process for up to the webhook time-out."""
    add_endpoint(stack_app, receiver.url("/slow"), ["comment.created", "comment.approved"])
    receiver.delay("/slow", 12)  # answers only after the sender gave up (10 s)
    stack.start("worker", WARDEN_WEBHOOK_TIMEOUT_SECONDS="10", **ALLOW_PRIVATE, **ONE_CHILD)
    stack.start("beat")
    first = add_comment(stack_app, moderate=True)
    wait_until(lambda: decided(stack_app, [first]), 90, message="the first decision (boot)")
    receiver.wait_for("/slow", 1, timeout=30)  # the sender is inside a slow request now
    started = time.monotonic()
    ids = [add_comment(stack_app, f"{CLEAN} Point {n}.", moderate=True) for n in range(8)]
    # Decided while every delivery is still waiting for the subscriber's answer.
    # (In one shared process they waited for the delivery in progress: 10 s.)
    wait_until(lambda: decided(stack_app, ids), 8, interval=0.1,
               message="decisions while the subscriber does not answer")
    print(f"\n[{stack.name}] 8 comments decided in {time.monotonic() - started:.1f}s while "
          "no delivery was answered")


def decided(app: Flask, ids: list[int]) -> bool:
    with app.app_context():
        statuses = db.session.scalars(select(Comment.status).where(Comment.id.in_(ids))).all()
        db.session.remove()
    return len(statuses) == len(ids) and CommentStatus.PENDING not in statuses
