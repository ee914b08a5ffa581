"""Remote providers through real `warden worker` and `warden beat` processes, on both
stacks, against the fake Akismet and Perspective in tests/remote_fakes.py."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from service.domain.sites import create_api_key, ensure_demo_site
from service.extensions import db
from service.models import Comment, ProviderReport, Site, utcnow
from tests.integration.conftest import Stack
from tests.remote_fakes import AKISMET_KEY, PERSPECTIVE_KEY, FakeProviders
from tests.support import empty_tables, wait_until

pytestmark = [pytest.mark.worker, pytest.mark.slow]

CLEAN = "Thanks for this clear report on the ceasefire talks; the timeline helped me a lot."
FINAL = {"approved", "rejected", "held", "spam"}
ONE_CHILD = {"WARDEN_WORKER_CONCURRENCY": "1"}


@pytest.fixture
def fake() -> Iterator[FakeProviders]:
    with FakeProviders() as running:
        yield running


@pytest.fixture
def remote_env(fake: FakeProviders) -> dict[str, str]:
    return {"WARDEN_AKISMET_KEY": AKISMET_KEY, "WARDEN_AKISMET_URL": fake.url,
            "WARDEN_PERSPECTIVE_KEY": PERSPECTIVE_KEY, "WARDEN_PERSPECTIVE_URL": fake.url,
            "WARDEN_REMOTE_TIMEOUT_SECONDS": "1", "WARDEN_REMOTE_FEEDBACK_RETRY_SCHEDULE": "1,1",
            **ONE_CHILD}


@pytest.fixture
def web(stack: Stack, fake: FakeProviders) -> Iterator[Flask]:
    """The web side, in process, with Akismet on (it stores the address, writes reports)."""
    from service.app import create_app

    app = create_app(replace(stack.settings, akismet_key=AKISMET_KEY, akismet_url=fake.url,
                             perspective_key=PERSPECTIVE_KEY, perspective_url=fake.url,
                             remote_timeout_seconds=1.0))
    app.config["TESTING"] = True
    with app.app_context():
        ensure_demo_site(db.session)
        db.session.commit()
    yield app
    empty_tables(app)


def submit(app: Flask, body: str = CLEAN, author: str = "Ann") -> int:
    answer = app.test_client().post("/api/v1/sites/demo/comments", json={
        "article": "story", "author_name": author, "body": body,
        "article_url": "http://localhost:8000/story"})
    assert answer.status_code == 202, answer.get_json()
    return answer.get_json()["id"]


def comment(app: Flask, comment_id: int) -> dict[str, Any]:
    with app.app_context():
        row = db.session.get(Comment, comment_id)
        assert row is not None
        doc = {"status": str(row.status), "reason": row.status_reason,
               "checks": {r.check_name: r.reasons for r in row.check_results}}
        db.session.remove()
        return doc


def decided(app: Flask, comment_id: int, timeout: float = 60) -> dict[str, Any]:
    return wait_until(lambda: (doc := comment(app, comment_id))["status"] in FINAL and doc,
                      timeout, interval=0.1, message=f"a decision on comment {comment_id}")


def test_akismet_spam_is_marked_spam_and_a_hanging_provider_still_ends(
        stack: Stack, web: Flask, fake: FakeProviders, remote_env: dict[str, str]) -> None:
    worker = stack.start("worker", **remote_env)
    spam = submit(web, author="akismet-guaranteed-spam")
    doc = decided(web, spam, timeout=90)  # the first waits for the worker to boot
    assert doc["status"] == "spam", (doc, worker.log_tail())
    assert "akismet" in doc["reason"]
    assert doc["checks"]["akismet"] == ["Akismet: spam"]
    assert doc["checks"]["perspective"] == ["perspective TOXICITY 0.03"]

    fake.akismet = fake.perspective = "hang"
    quiet = submit(web, body="Another calm remark about the talks and the timeline.")
    doc = decided(web, quiet)
    assert doc["status"] == "approved", doc
    assert "akismet" not in doc["checks"]
    assert "perspective" not in doc["checks"]
    assert "gave no opinion" in worker.log_tail(200)
    assert AKISMET_KEY not in worker.log_path.read_text()
    assert PERSPECTIVE_KEY not in worker.log_path.read_text()
    sent = fake.received("/1.1/comment-check")[0].form
    assert sent["user_ip"] == "127.0.0.1"
    assert sent["permalink"] == "http://localhost:8000/story"
    assert fake.violations == []


def moderator(app: Flask) -> dict[str, str]:
    with app.app_context():
        _, plain = create_api_key(db.session, "demo", "moderator")
        db.session.commit()
    return {"Authorization": f"Bearer {plain}"}


def held(app: Flask, body: str) -> int:
    with app.app_context():
        db.session.get(Site, "demo").mode = "manual"
        db.session.commit()
    comment_id = submit(app, body=body)
    assert decided(app, comment_id, timeout=90)["status"] == "held"
    return comment_id


def decide(app: Flask, comment_id: int, action: str, key: dict[str, str]) -> None:
    answer = app.test_client().post(f"/api/v1/moderation/comments/{comment_id}/decision",
                                    headers=key, json={"action": action})
    assert answer.status_code == 200, answer.get_json()


def report_states(app: Flask) -> list[tuple[str, str, int]]:
    with app.app_context():
        rows = db.session.scalars(select(ProviderReport).order_by(ProviderReport.id)).all()
        states = [(r.verdict, str(r.status), r.tries) for r in rows]
        db.session.remove()
        return states


def test_moderator_verdicts_reach_akismet_through_the_worker(
        stack: Stack, web: Flask, fake: FakeProviders, remote_env: dict[str, str]) -> None:
    stack.start("worker", **remote_env)
    stack.start("beat", **remote_env)
    key = moderator(web)
    first = held(web, CLEAN)
    fake.submit_failures = 1  # the first submit fails; the sweep retries a second later

    decide(web, first, "spam", key)
    [spam] = fake.wait_for("/1.1/submit-spam", 2, timeout=60)[-1:]
    assert spam.form["comment_content"] == CLEAN
    assert spam.form["user_ip"] == "127.0.0.1"
    wait_until(lambda: report_states(web) == [("spam", "sent", 2)], 30,
               message="the spam report to be recorded as sent on the second try")

    decide(web, first, "approve", key)  # restored from spam: a false positive
    [ham] = fake.wait_for("/1.1/submit-ham", 1, timeout=60)
    assert ham.form["comment_content"] == CLEAN
    wait_until(lambda: report_states(web)[-1] == ("ham", "sent", 1), 30,
               message="the ham report to be recorded as sent")

    # A report whose task was lost (broker down at the commit) is sent by the sweep.
    with web.app_context():
        db.session.add(ProviderReport(comment_id=first, site_id="demo", provider="akismet",
                                      verdict="spam", status="pending", tries=0,
                                      next_attempt_at=utcnow(), enqueued_at=None))
        db.session.commit()
    fake.wait_for("/1.1/submit-spam", 3, timeout=60)
    assert fake.violations == []
