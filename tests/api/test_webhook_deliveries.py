"""Delivery state on the database (SQLite and PostgreSQL): fan-out, claims, outcomes,
retries, giving up, disabling endpoints, and what the sweep sends. The HTTP try is a
stand-in here; tests/unit/test_webhook_sender.py and the integration tests cover it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from flask import Flask
from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session
from standardwebhooks import Webhook, WebhookVerificationError

from service.domain.sites import create_site
from service.domain.submissions import ClientInfo, Submission, submit_comment
from service.domain.webhooks import endpoints
from service.domain.webhooks.deliveries import (
    DeliveryPolicy,
    deliver,
    due_for_enqueue,
    fan_out,
)
from service.domain.webhooks.sender import Limits, Message, Outcome, classify
from service.domain.webhooks.signing import SecretBox
from service.extensions import db
from service.models import (
    AuditEntry,
    Comment,
    Delivery,
    DeliveryAttempt,
    DeliveryStatus,
    Event,
    Site,
    WebhookEndpoint,
)

pytestmark = pytest.mark.usefixtures("demo_site")

POLICY = DeliveryPolicy(schedule=(60.0, 120.0),
                        limits=Limits(timeout_seconds=5, max_response_bytes=100,
                                      allow_private=False),
                        disable_after=timedelta(hours=5))


class FakeSender:
    """Answers scripted outcomes (default: 200) and keeps every message it was given."""

    def __init__(self, *statuses: int) -> None:
        self.statuses = list(statuses)
        self.messages: list[Message] = []

    def __call__(self, message: Message, limits: Limits) -> Outcome:
        self.messages.append(message)
        status = self.statuses.pop(0) if self.statuses else 200
        ok, error, gone = classify(status)
        return Outcome(ok, 7, status_code=status, error=error, response_body="answer",
                       remote_address="93.184.216.34", gone=gone)


@pytest.fixture
def session(app: Flask) -> Iterator[Session]:
    with app.app_context():
        yield db.session


@pytest.fixture
def box(app: Flask) -> SecretBox:
    return SecretBox(app.config["WARDEN"].secret_key)


def add_endpoint(session: Session, box: SecretBox, types: list[str],
                 site: str = "demo") -> tuple[int, str]:
    ctx = endpoints.AdminContext(actor_id="test", box=box, allow_private=False)
    endpoint, secret = endpoints.create_endpoint(session, site, ctx,
                                                 url="https://hooks.example.com/in",
                                                 event_types=types)
    session.commit()
    return endpoint.id, secret


def add_comment(session: Session, body: str = "A fine and civil comment.") -> int:
    site = session.get(Site, "demo")
    accepted = submit_comment(session, site, Submission(article="story", body=body),
                              ClientInfo(ip_hash="ip"), max_depth=5, max_body_chars=5000)
    session.commit()
    return accepted.comment.id


def one_delivery(session: Session) -> Delivery:
    [delivery] = session.scalars(select(Delivery)).all()
    return delivery


def make_due(session: Session, delivery_id: int) -> None:
    session.execute(update(Delivery).where(Delivery.id == delivery_id)
                    .values(next_attempt_at=datetime.now(UTC) - timedelta(seconds=1)))
    session.commit()


def test_fan_out_once_to_matching_enabled_endpoints(session: Session, box: SecretBox) -> None:
    create_site(session, "other", ["https://other.example"])
    everything, _ = add_endpoint(session, box, ["*"])
    created_only, _ = add_endpoint(session, box, ["comment.created"])
    add_endpoint(session, box, ["author.*"])
    paused, _ = add_endpoint(session, box, ["*"])
    add_endpoint(session, box, ["*"], site="other")
    session.execute(update(WebhookEndpoint).where(WebhookEndpoint.id == paused)
                    .values(enabled=False))
    session.commit()
    add_comment(session)
    [event_id] = session.scalars(select(Event.id)).all()

    new_ids = fan_out(session)
    rows = session.scalars(select(Delivery).where(
        Delivery.status == DeliveryStatus.PENDING)).all()
    assert sorted(new_ids) == sorted(d.id for d in rows)
    assert {(d.endpoint_id, d.event_id) for d in rows} == {(everything, event_id),
                                                          (created_only, event_id)}
    assert all(d.next_attempt_at for d in rows)
    # The paused endpoint is not sent it; the miss is recorded, to redeliver once enabled.
    [missed] = session.scalars(select(Delivery).where(Delivery.endpoint_id == paused)).all()
    assert (missed.event_id, missed.status, missed.next_attempt_at) == (
        event_id, DeliveryStatus.FAILED, None)
    assert session.get(Event, event_id).dispatched_at is not None
    assert fan_out(session) == []


def test_signed_delivery_verifies_with_the_endpoints_secret(session: Session,
                                                            box: SecretBox) -> None:
    _, secret = add_endpoint(session, box, ["comment.created"])
    comment_id = add_comment(session)
    [delivery_id] = fan_out(session)
    sender = FakeSender()
    outcome = deliver(session, delivery_id, POLICY, box, sender)
    assert outcome is not None
    assert outcome.succeeded
    [message] = sender.messages
    event = Webhook(secret).verify(message.body, message.headers)
    delivery = session.get(Delivery, delivery_id)
    assert message.headers["webhook-id"] == delivery.event_id == event["id"]
    assert event["type"] == "comment.created"
    assert event["data"]["comment"]["id"] == comment_id
    assert event["data"]["article"]["key"] == "story"
    assert delivery.status == DeliveryStatus.SUCCEEDED
    assert delivery.next_attempt_at is None
    assert delivery.claim_token is None
    # A duplicate task (or the sweep) finds nothing to do: the receiver gets it once.
    assert deliver(session, delivery_id, POLICY, box, sender) is None
    assert len(sender.messages) == 1


def test_failures_are_retried_on_schedule_then_fail(session: Session, box: SecretBox) -> None:
    endpoint_id, _ = add_endpoint(session, box, ["*"])
    add_comment(session)
    [delivery_id] = fan_out(session)
    sender = FakeSender(500, 503, 502)

    before = datetime.now(UTC)
    deliver(session, delivery_id, POLICY, box, sender)
    delivery = session.get(Delivery, delivery_id)
    assert delivery.status == DeliveryStatus.PENDING
    assert delivery.tries == 1
    wait = delivery.next_attempt_at - before
    assert timedelta(seconds=47) <= wait <= timedelta(seconds=73)  # 60 s +/- 20%
    # Not due yet: a task arriving early claims nothing.
    assert deliver(session, delivery_id, POLICY, box, sender) is None
    assert due_for_enqueue(session, POLICY) == []

    make_due(session, delivery_id)
    deliver(session, delivery_id, POLICY, box, sender)
    delivery = session.get(Delivery, delivery_id)
    assert delivery.tries == 2
    assert timedelta(seconds=95) <= delivery.next_attempt_at - datetime.now(UTC) \
        <= timedelta(seconds=145)

    make_due(session, delivery_id)
    deliver(session, delivery_id, POLICY, box, sender)
    delivery = session.get(Delivery, delivery_id)
    assert delivery.status == DeliveryStatus.FAILED
    assert delivery.next_attempt_at is None
    assert delivery.last_status_code == 502
    attempts = session.scalars(select(DeliveryAttempt).order_by(DeliveryAttempt.id)).all()
    assert [a.status_code for a in attempts] == [500, 503, 502]
    assert all(a.duration_ms == 7 and a.response_body == "answer" for a in attempts)
    assert {m.headers["webhook-id"] for m in sender.messages} == {delivery.event_id}
    assert len({m.body for m in sender.messages}) == 1
    endpoint = session.get(WebhookEndpoint, endpoint_id)
    assert endpoint.enabled  # three failures in a minute are not "failing for long"
    assert endpoint.failing_since is not None


def test_a_success_clears_the_failure_run(session: Session, box: SecretBox) -> None:
    endpoint_id, _ = add_endpoint(session, box, ["*"])
    add_comment(session)
    [delivery_id] = fan_out(session)
    sender = FakeSender(500)
    deliver(session, delivery_id, POLICY, box, sender)
    assert session.get(WebhookEndpoint, endpoint_id).failing_since is not None
    make_due(session, delivery_id)
    deliver(session, delivery_id, POLICY, box, sender)
    endpoint = session.get(WebhookEndpoint, endpoint_id)
    assert endpoint.failing_since is None
    assert endpoint.last_success_at is not None


def test_410_gone_disables_the_endpoint_and_says_why(session: Session, box: SecretBox) -> None:
    gone_id, _ = add_endpoint(session, box, ["*"])
    watcher_id, _ = add_endpoint(session, box, ["webhook.disabled"])
    add_comment(session)
    add_comment(session, "Another fine and civil comment.")
    first, second = fan_out(session)
    deliver(session, first, POLICY, box, FakeSender(410))

    endpoint = session.get(WebhookEndpoint, gone_id)
    assert not endpoint.enabled
    assert "410 Gone" in endpoint.disabled_reason
    assert session.get(Delivery, first).status == DeliveryStatus.FAILED
    queued = session.get(Delivery, second)
    assert queued.status == DeliveryStatus.FAILED
    assert queued.last_error.startswith("endpoint disabled: 410 Gone")
    audit = session.scalars(select(AuditEntry).where(AuditEntry.action == "webhook.disabled"))
    assert [entry.actor_type for entry in audit] == ["system"]
    # The site's other endpoints hear about it.
    [announced] = fan_out(session)
    delivery = session.get(Delivery, announced)
    assert delivery.endpoint_id == watcher_id
    assert delivery.event.type == "webhook.disabled"
    assert delivery.event.payload["data"]["endpoint"]["id"] == gone_id
    # Not to the endpoint it names, not even as a missed one to redeliver later.
    assert session.scalars(select(Delivery.endpoint_id).where(
        Delivery.event_id == delivery.event_id)).all() == [watcher_id]
    # Events that come while it is off are recorded as failed for it (redeliverable).
    add_comment(session, "A third comment, while the endpoint is off.")
    assert fan_out(session) == []
    missed = session.scalars(select(Delivery).where(Delivery.endpoint_id == gone_id)
                             .order_by(Delivery.id.desc())).first()
    assert (missed.status, missed.tries, missed.last_error) == (
        DeliveryStatus.FAILED, 0, "endpoint disabled when the event came")


def test_an_endpoint_failing_too_long_is_disabled(session: Session, box: SecretBox) -> None:
    endpoint_id, _ = add_endpoint(session, box, ["*"])
    add_comment(session)
    [delivery_id] = fan_out(session)
    session.execute(update(WebhookEndpoint).where(WebhookEndpoint.id == endpoint_id)
                    .values(failing_since=datetime.now(UTC) - timedelta(hours=6)))
    session.commit()
    deliver(session, delivery_id, POLICY, box, FakeSender(500))
    endpoint = session.get(WebhookEndpoint, endpoint_id)
    assert not endpoint.enabled
    assert endpoint.disabled_reason.startswith("every try failed for 6.0 hours")
    assert endpoint.disabled_reason.endswith("last error: HTTP 500")
    assert session.get(Delivery, delivery_id).status == DeliveryStatus.FAILED


def test_a_disabled_endpoint_is_not_tried(session: Session, box: SecretBox) -> None:
    endpoint_id, _ = add_endpoint(session, box, ["*"])
    add_comment(session)
    [delivery_id] = fan_out(session)
    session.execute(update(WebhookEndpoint).where(WebhookEndpoint.id == endpoint_id)
                    .values(enabled=False, disabled_reason="paused"))
    session.commit()
    sender = FakeSender()
    assert deliver(session, delivery_id, POLICY, box, sender) is None
    assert sender.messages == []
    delivery = session.get(Delivery, delivery_id)
    assert delivery.status == DeliveryStatus.FAILED
    assert delivery.last_error == "endpoint disabled: paused"


def test_a_killed_workers_claim_expires_and_the_sweep_resends(session: Session,
                                                               box: SecretBox) -> None:
    add_endpoint(session, box, ["*"])
    add_comment(session)
    [delivery_id] = fan_out(session)
    # Just sent by the dispatcher: the sweep does not send it again yet.
    assert due_for_enqueue(session, POLICY) == []
    # A worker claimed it and died mid-request: nobody can claim it while the claim holds.
    now = datetime.now(UTC)
    session.execute(update(Delivery).where(Delivery.id == delivery_id).values(
        claimed_until=now + timedelta(seconds=30), claim_token="dead-worker",
        enqueued_at=now - timedelta(minutes=5)))
    session.commit()
    assert due_for_enqueue(session, POLICY) == []
    assert deliver(session, delivery_id, POLICY, box, FakeSender()) is None
    # Once the claim has expired the sweep sends it again, and the next worker delivers.
    session.execute(update(Delivery).where(Delivery.id == delivery_id)
                    .values(claimed_until=now - timedelta(seconds=1)))
    session.commit()
    assert due_for_enqueue(session, POLICY) == [delivery_id]
    assert due_for_enqueue(session, POLICY) == []  # marked as sent
    outcome = deliver(session, delivery_id, POLICY, box, FakeSender())
    assert outcome is not None
    assert outcome.succeeded


def test_the_sweep_sends_fewer_copies_the_longer_a_delivery_waits(session: Session,
                                                                   box: SecretBox) -> None:
    """Its last copy may still be queued behind a backlog: a copy every claim_ttl piled
    up thousands of messages while a slow subscriber held the senders."""
    add_endpoint(session, box, ["*"])
    add_comment(session)
    [delivery_id] = fan_out(session)
    now = datetime.now(UTC)

    def waited(due_ago: timedelta, sent_ago: timedelta) -> list[int]:
        session.execute(update(Delivery).where(Delivery.id == delivery_id).values(
            next_attempt_at=now - due_ago, enqueued_at=now - sent_ago))
        session.commit()
        return due_for_enqueue(session, POLICY)

    # Due 10 minutes: a copy sent 3 minutes ago may still be in the queue.
    assert waited(timedelta(minutes=10), timedelta(minutes=3)) == []
    # Sent more than half its wait ago: that copy is presumed lost, another goes.
    assert waited(timedelta(minutes=10), timedelta(minutes=6)) == [delivery_id]
    # Just due: the claim time alone decides, as before.
    assert waited(timedelta(seconds=30), timedelta(seconds=25)) == [delivery_id]
    assert waited(timedelta(seconds=30), timedelta(seconds=10)) == []


def test_a_result_saved_after_losing_the_claim_changes_nothing(
        session: Session, box: SecretBox, monkeypatch: pytest.MonkeyPatch) -> None:
    add_endpoint(session, box, ["*"])
    add_comment(session)
    [delivery_id] = fan_out(session)

    def slow_sender(message: Message, limits: Limits) -> Outcome:
        # Meanwhile the claim expired and another worker delivered it.
        session.execute(update(Delivery).where(Delivery.id == delivery_id).values(
            claim_token="someone-else", status=DeliveryStatus.SUCCEEDED,
            next_attempt_at=None))
        session.commit()
        return Outcome(False, 5, status_code=500, error="HTTP 500")

    deliver(session, delivery_id, POLICY, box, slow_sender)
    delivery = session.get(Delivery, delivery_id)
    assert delivery.status == DeliveryStatus.SUCCEEDED
    assert [a.status_code for a in session.scalars(select(DeliveryAttempt))] == [500]


def test_rotation_signs_with_both_secrets_until_the_overlap_ends(
        session: Session, box: SecretBox) -> None:
    endpoint_id, old_secret = add_endpoint(session, box, ["*"])
    ctx = endpoints.AdminContext(actor_id="test", box=box, allow_private=False)
    new_secret = endpoints.rotate_secret(session, session.get(WebhookEndpoint, endpoint_id),
                                         ctx, timedelta(hours=1))
    session.commit()
    add_comment(session)
    [during] = fan_out(session)
    sender = FakeSender()
    deliver(session, during, POLICY, box, sender)
    message = sender.messages[-1]
    assert len(message.headers["webhook-signature"].split(" ")) == 2
    for secret in (new_secret, old_secret):
        assert Webhook(secret).verify(message.body, message.headers)

    session.execute(update(WebhookEndpoint).where(WebhookEndpoint.id == endpoint_id)
                    .values(previous_secret_expires_at=datetime.now(UTC) - timedelta(seconds=1)))
    session.commit()
    add_comment(session, "Yet another fine and civil comment.")
    [after] = fan_out(session)
    deliver(session, after, POLICY, box, sender)
    message = sender.messages[-1]
    assert len(message.headers["webhook-signature"].split(" ")) == 1
    assert Webhook(new_secret).verify(message.body, message.headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(old_secret).verify(message.body, message.headers)


def test_emitting_events_wakes_the_dispatcher_after_commit(
        session: Session, monkeypatch: pytest.MonkeyPatch) -> None:
    import service.domain.events as events

    sent: list[bool] = []
    monkeypatch.setattr(events, "enqueue_event_dispatch", lambda: sent.append(True) or True)
    with session.begin_nested():
        events.emit(session, "demo", "comment.flagged", "1", {})
    assert sent == [], "a savepoint does not make the event visible"
    session.commit()
    assert sent == [True]
    session.commit()
    assert sent == [True], "a commit without new events sends nothing"


def test_body_carries_the_event_as_stored(session: Session, box: SecretBox) -> None:
    add_endpoint(session, box, ["comment.created"])
    add_comment(session)
    [delivery_id] = fan_out(session)
    sender = FakeSender()
    deliver(session, delivery_id, POLICY, box, sender)
    event = session.get(Delivery, delivery_id).event
    assert json.loads(sender.messages[0].body) == {"id": event.id, **event.payload}


def test_finished_history_is_pruned_after_retention_and_pending_work_is_kept(
        session: Session, box: SecretBox) -> None:
    from service.models import ProviderReport, ReportStatus
    from workers.tasks.sweeps import prune_history

    old = datetime.now(UTC) - timedelta(days=31)
    recent = datetime.now(UTC) - timedelta(days=29)
    endpoint_id, _secret = add_endpoint(session, box, [])
    site = session.get(Site, "demo")
    assert site is not None
    comment_id = submit_comment(session, site, Submission(article="a", body="Hello."),
                                ClientInfo(), max_depth=5, max_body_chars=5000).id
    session.execute(delete(Event))  # only the rows below
    session.flush()
    events = {name: Event(id=f"evt_{name}", site_id="demo", type="comment.approved",
                          subject_id="1", payload={}, created_at=created,
                          dispatched_at=dispatched)
              for name, created, dispatched in [
                  ("done", old, old), ("failed", old, old), ("retrying", old, old),
                  ("redelivered", old, old), ("undispatched", old, None),
                  ("recent", recent, recent)]}
    session.add_all(events.values())
    session.flush()
    for name, status, tried in [("done", DeliveryStatus.SUCCEEDED, old),
                                ("failed", DeliveryStatus.FAILED, old),
                                ("retrying", DeliveryStatus.PENDING, old),
                                # An admin sent it again yesterday: its history is recent.
                                ("redelivered", DeliveryStatus.SUCCEEDED, recent),
                                ("recent", DeliveryStatus.SUCCEEDED, recent)]:
        delivery = Delivery(endpoint_id=endpoint_id, event_id=events[name].id,
                            status=status, created_at=old, last_attempt_at=tried)
        session.add(delivery)
        session.flush()
        session.add(DeliveryAttempt(delivery_id=delivery.id, succeeded=True,
                                    status_code=200, duration_ms=5))
    for status, created in [(ReportStatus.SENT, old), (ReportStatus.PENDING, old),
                            (ReportStatus.SENT, recent)]:
        session.add(ProviderReport(comment_id=comment_id, site_id="demo",
                                   provider="akismet", verdict="spam", status=status,
                                   tries=1, created_at=created))
    session.commit()

    assert prune_history.run() == {"events": 2, "deliveries": 2, "provider_reports": 1}
    assert set(session.scalars(select(Event.id))) == {
        "evt_retrying", "evt_redelivered", "evt_undispatched", "evt_recent"}
    assert session.scalar(select(func.count()).select_from(DeliveryAttempt)) == 3
    assert sorted((str(r.status), r.created_at > old + timedelta(days=1)) for r in
                  session.scalars(select(ProviderReport))) == [
        ("pending", False), ("sent", True)]
    assert prune_history.run() == {"events": 0, "deliveries": 0, "provider_reports": 0}


def test_erasing_the_author_clears_receivers_answers_about_them(session: Session,
                                                                box: SecretBox) -> None:
    """A receiver may echo the payload back: the delivery log keeps its answer."""
    from service.domain.lifecycle import Actor
    from service.domain.privacy import erase_author

    add_endpoint(session, box, ["*"])
    comment_id = add_comment(session, "Words of a reader who will ask to be forgotten.")
    [delivery_id] = fan_out(session)
    outcome = deliver(session, delivery_id, POLICY, box, FakeSender())
    assert outcome is not None
    assert outcome.succeeded
    attempt = select(DeliveryAttempt.response_body).where(
        DeliveryAttempt.delivery_id == delivery_id)
    assert session.scalar(attempt) == "answer"
    author = session.get(Comment, comment_id).author
    erase_author(session, author, Actor("admin", "test"), remove_unreplied=False)
    session.commit()
    assert session.scalar(attempt) is None
