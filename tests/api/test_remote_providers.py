"""Remote providers through the API and the in-process pipeline, against fake servers.

Akismet and Perspective are off by default; these tests turn them on by pointing an app at
the fakes in tests/remote_fakes.py. The worker-process versions are in tests/integration.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, update

from config import Settings
from service.domain import feedback
from service.extensions import db
from service.models import CheckResult, Comment, ProviderReport, ReportStatus, Site
from tests.api.conftest import auth
from tests.api.test_public import decide_all, submit
from tests.remote_fakes import AKISMET_KEY, PERSPECTIVE_KEY, FakeProviders

pytestmark = pytest.mark.usefixtures("demo_site")

CLEAN = "Thanks for this clear report on the ceasefire talks; the timeline helped me a lot."
SIMULATE = "/api/v1/moderation/simulate"

# The article page, as the widget sends it in Referer with every submit.
PAGE = "https://news.example/2026/11/the-talks"


@pytest.fixture
def fake() -> Iterator[FakeProviders]:
    with FakeProviders() as running:
        yield running


def remote_settings(settings: Settings, fake: FakeProviders, **extra: Any) -> Settings:
    return replace(settings, akismet_key=AKISMET_KEY, akismet_url=fake.url,
                   perspective_key=PERSPECTIVE_KEY, perspective_url=fake.url,
                   remote_timeout_seconds=0.5, **extra)


@pytest.fixture
def remote(app: Flask, settings: Settings, fake: FakeProviders) -> Iterator[Flask]:
    """The same database as ``app`` (which empties it afterwards), providers on the fakes."""
    from service.app import create_app

    application = create_app(remote_settings(settings, fake))
    application.config["TESTING"] = True
    yield application
    with application.app_context():
        db.session.remove()
        db.engine.dispose()


def mod_key(app: Flask) -> dict[str, str]:
    from service.domain.sites import create_api_key

    with app.app_context():
        _, plain = create_api_key(db.session, "demo", "moderator")
        db.session.commit()
    return auth(plain)


def test_simulate_shows_the_remote_checks(remote: Flask, fake: FakeProviders) -> None:
    fake.akismet = "spam"
    client = remote.test_client()
    answer = client.post(SIMULATE, headers=mod_key(remote), json={"text": CLEAN})
    assert answer.status_code == 200
    doc = answer.get_json()
    checks = {c["name"]: c for c in doc["checks"]}
    assert checks["akismet"]["reasons"] == ["Akismet: spam"]
    assert checks["akismet"]["label"] == "spam"
    assert checks["perspective"]["reasons"] == ["perspective TOXICITY 0.03"]
    assert doc["status"] == "spam"
    assert doc["decided_by"] == "akismet"
    assert "akismet 0.90 (Akismet: spam)" in doc["reason"]
    assert doc["no_opinion"] == ["site_spam"]  # the demo site has no model of its own
    # A dry run: Akismet is told it is a test, with the moderator's address and browser.
    sent = fake.received("/1.1/comment-check")[0].form
    assert sent["is_test"] == "1"
    assert sent["user_ip"] == "127.0.0.1"
    assert sent["blog"].startswith("http")
    assert fake.violations == []


@pytest.mark.parametrize("mode", ["hang", "500", "garbage"])
def test_simulate_without_answers_decides_on_the_local_checks(remote: Flask,
                                                              fake: FakeProviders,
                                                              mode: str) -> None:
    fake.akismet = fake.perspective = mode
    started = time.monotonic()
    answer = remote.test_client().post(SIMULATE, headers=mod_key(remote), json={"text": CLEAN})
    assert answer.status_code == 200
    assert time.monotonic() - started < 5
    doc = answer.get_json()
    assert doc["status"] == "approved"
    assert doc["no_opinion"] == ["site_spam", "akismet", "perspective"]
    assert {c["name"] for c in doc["checks"]}.isdisjoint({"akismet", "perspective"})


def test_pipeline_marks_akismet_spam_and_survives_a_hanging_provider(
        remote: Flask, fake: FakeProviders) -> None:
    client = remote.test_client()
    spam = submit(client, body=CLEAN, author_name="akismet-guaranteed-spam",
                  headers={"Referer": PAGE}).get_json()["id"]
    decide_all(remote)
    fake.akismet = fake.perspective = "hang"
    quiet = submit(client, body="A second, equally calm remark about the talks.").get_json()["id"]
    decide_all(remote)
    with remote.app_context():
        marked = db.session.get(Comment, spam)
        assert marked.status == "spam"
        assert "akismet" in marked.status_reason
        assert "Akismet: spam" in marked.status_reason
        names = set(db.session.scalars(select(CheckResult.check_name)
                                       .where(CheckResult.comment_id == spam)))
        assert {"akismet", "perspective", "toxicity"} <= names
        assert db.session.get(Comment, quiet).status == "approved"
    assert fake.violations == []
    sent = fake.received("/1.1/comment-check")[0].form
    assert sent["user_ip"] == "127.0.0.1"
    assert sent["user_agent"].startswith("Werkzeug")
    assert sent["referrer"] == PAGE
    assert sent["comment_type"] == "comment"


def test_the_plain_address_is_kept_only_with_akismet_and_forgotten(
        client: FlaskClient, app: Flask, remote: Flask, keys: dict[str, str]) -> None:
    from workers.tasks.sweeps import forget_addresses

    page = {"Referer": PAGE + "?utm_source=newsletter&email=ann%40example.org#comments"}
    without = submit(client, headers=page).get_json()["id"]
    kept = submit(remote.test_client(), body="Another remark.", headers=page).get_json()["id"]
    old = submit(remote.test_client(), body="An old remark.", headers=page).get_json()["id"]
    with app.app_context():
        assert db.session.get(Comment, without).ip_address is None
        assert db.session.get(Comment, without).referrer is None
        assert db.session.get(Comment, kept).ip_address == "127.0.0.1"
        assert db.session.get(Comment, kept).referrer == PAGE
        author_id = db.session.get(Comment, kept).author_id
    exported = client.get(f"/api/v1/admin/sites/demo/authors/{author_id}/export",
                          headers=auth(keys["admin"])).get_json()
    assert exported["comments"][0]["ip_address"] == "127.0.0.1"
    assert exported["comments"][0]["referrer"] == PAGE
    with app.app_context():
        db.session.get(Comment, old).created_at = datetime.now(UTC) - timedelta(days=31)
        db.session.commit()
        assert forget_addresses.run() == 1
        assert db.session.get(Comment, old).ip_address is None
        assert db.session.get(Comment, old).referrer is None
        assert db.session.get(Comment, kept).ip_address == "127.0.0.1"
    erased = client.post(f"/api/v1/admin/sites/demo/authors/{author_id}/erase",
                         headers=auth(keys["admin"]), json={})
    assert erased.status_code == 200
    with app.app_context():
        assert db.session.get(Comment, kept).ip_address is None
        assert db.session.get(Comment, kept).referrer is None


def held(remote: Flask, body: str = CLEAN, **extra: Any) -> int:
    with remote.app_context():
        db.session.get(Site, "demo").mode = "manual"
        db.session.commit()
    comment_id = submit(remote.test_client(), body=body, **extra).get_json()["id"]
    decide_all(remote)
    with remote.app_context():
        db.session.get(Site, "demo").mode = "auto"
        db.session.commit()
    return comment_id


def decide(remote: Flask, comment_id: int, action: str, key: dict[str, str]) -> None:
    answer = remote.test_client().post(f"/api/v1/moderation/comments/{comment_id}/decision",
                                       headers=key, json={"action": action})
    assert answer.status_code == 200, answer.get_json()


def reports(app: Flask) -> list[tuple[int, str, str]]:
    with app.app_context():
        rows = db.session.scalars(select(ProviderReport).order_by(ProviderReport.id)).all()
        return [(r.comment_id, r.verdict, str(r.status)) for r in rows]


def run_tasks(app: Flask) -> list[ReportStatus]:
    """What the tasks sent after the moderator's commit do, in-process (one try each)."""
    with app.app_context():
        ids = db.session.scalars(select(ProviderReport.id)
                                 .where(ProviderReport.status == ReportStatus.PENDING)).all()
        statuses = [feedback.send_report(db.session, report_id, app.config["WARDEN"])
                    for report_id in ids]
    return [status for status in statuses if status is not None]


def sweep(app: Flask) -> list[ReportStatus]:
    """What the beat sweep does: send what is due and not sent recently."""
    with app.app_context():
        settings = app.config["WARDEN"]
        statuses = [feedback.send_report(db.session, report_id, settings)
                    for report_id in feedback.due_for_enqueue(db.session, settings)]
    return [status for status in statuses if status is not None]


def test_moderator_verdicts_become_spam_and_ham_reports(remote: Flask,
                                                        fake: FakeProviders) -> None:
    key = mod_key(remote)
    missed = held(remote, headers={"Referer": PAGE})
    decide(remote, missed, "spam", key)  # a false negative: submit-spam
    assert reports(remote) == [(missed, "spam", "pending")]
    assert fake.received("/1.1/submit-spam") == []  # never inline in the request
    assert sweep(remote) == []  # its task was just sent: the sweep leaves it alone
    assert run_tasks(remote) == [ReportStatus.SENT]
    [call] = fake.received("/1.1/submit-spam")
    assert call.form["comment_content"] == CLEAN
    assert call.form["user_ip"] == "127.0.0.1"
    assert call.form["referrer"] == PAGE
    assert call.form["api_key"] == AKISMET_KEY

    decide(remote, missed, "approve", key)  # restored from spam: submit-ham
    assert run_tasks(remote) == [ReportStatus.SENT]
    assert len(fake.received("/1.1/submit-ham")) == 1

    ordinary = held(remote, body="A calm and ordinary remark.")
    decide(remote, ordinary, "approve", key)  # held for another reason: nothing to report
    decide(remote, ordinary, "reject", key)  # toxicity is not Akismet's business
    assert [r[:2] for r in reports(remote)] == [(missed, "spam"), (missed, "ham")]
    assert fake.violations == []


def test_approving_a_comment_held_on_a_spam_check_reports_ham(remote: Flask,
                                                              fake: FakeProviders) -> None:
    comment_id = held(remote)
    with remote.app_context():
        # As if held on bait's word (manual mode holds everything, but runs every check).
        db.session.execute(update(CheckResult).where(CheckResult.comment_id == comment_id,
                                                     CheckResult.check_name == "bait")
                           .values(score=0.6, label="spam", reasons=["a pitch"]))
        db.session.commit()
    decide(remote, comment_id, "approve", mod_key(remote))
    assert reports(remote) == [(comment_id, "ham", "pending")]


def test_no_reports_without_akismet(client: FlaskClient, app: Flask,
                                    keys: dict[str, str]) -> None:
    comment_id = submit(client).get_json()["id"]
    decide_all(app)
    client.post(f"/api/v1/moderation/comments/{comment_id}/decision",
                headers=auth(keys["mod"]), json={"action": "spam"})
    assert reports(app) == []


def test_reports_retry_with_backoff_then_fail(app: Flask, settings: Settings,
                                              fake: FakeProviders) -> None:
    from service.app import create_app

    flaky = create_app(remote_settings(settings, fake, remote_feedback_retry_schedule="0.2,0.4"))
    comment_id = held(flaky)
    decide(flaky, comment_id, "spam", mod_key(flaky))
    fake.submit = "500"
    assert run_tasks(flaky) == [ReportStatus.PENDING]
    assert sweep(flaky) == []  # not due yet
    tries = 1
    deadline = time.monotonic() + 10
    while reports(flaky)[0][2] == "pending" and time.monotonic() < deadline:
        time.sleep(0.1)
        tries += len(sweep(flaky))  # retries are sent by the sweep when due
    assert reports(flaky) == [(comment_id, "spam", "failed")]
    assert tries == 3  # one more than the schedule's two delays
    assert len(fake.received("/1.1/submit-spam")) == 3
    with flaky.app_context():
        report = db.session.scalars(select(ProviderReport)).one()
        assert report.last_error == "akismet submit-spam answered HTTP 500"
        db.session.remove()
        db.engine.dispose()


def test_reports_are_skipped_when_the_address_is_gone(remote: Flask,
                                                      fake: FakeProviders) -> None:
    comment_id = held(remote)
    decide(remote, comment_id, "spam", mod_key(remote))
    with remote.app_context():
        db.session.get(Comment, comment_id).ip_address = None  # forgotten after retention
        db.session.commit()
    assert run_tasks(remote) == [ReportStatus.SKIPPED]
    assert fake.received("/1.1/submit-spam") == []
    with remote.app_context():
        assert db.session.scalars(select(ProviderReport.last_error)).one() == \
            "no reader address stored for this comment"
