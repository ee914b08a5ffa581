"""Akismet and Perspective checks against fake servers that speak their protocols.

Every way a provider can fail (time-out, refused connection, HTTP 500, garbage, an
"invalid" key) must give "no opinion": the comment is decided by the other checks, never
held because of the provider, and the key never reaches the logs.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator

import pytest

from config import Settings
from service.models import CommentStatus
from tests.remote_fakes import AKISMET_KEY, PERSPECTIVE_KEY, FakeProviders
from tests.support import free_port
from workers.checks import CommentContext, default_checks, local_checks
from workers.checks.remote import AkismetCheck, AkismetClient, PerspectiveCheck
from workers.pipeline import run_checks
from workers.policy import Policy, Standing, decide

TIMEOUT = 0.5
READER = {"user_ip": "203.0.113.7", "user_agent": "Mozilla/5.0 (X11; Linux x86_64)",
          "permalink": "https://news.example/story-1", "site_url": "https://news.example"}
CLEAN = "Thanks for the clear write-up on the council budget; the tables helped."


@pytest.fixture
def fake() -> Iterator[FakeProviders]:
    with FakeProviders() as running:
        yield running


def akismet(url: str, key: str = AKISMET_KEY, **kwargs: object) -> AkismetCheck:
    return AkismetCheck(AkismetClient(key, url, TIMEOUT), **kwargs)  # type: ignore[arg-type]


def perspective(url: str, key: str = PERSPECTIVE_KEY) -> PerspectiveCheck:
    return PerspectiveCheck(key, url, TIMEOUT, languages="en")


def context(text: str = CLEAN, author: str = "Reader", **extra: object) -> CommentContext:
    return CommentContext(text=text, author_name=author, **{**READER, **extra})  # type: ignore[arg-type]


def test_akismet_spam_scores_high_with_a_readable_reason(fake: FakeProviders) -> None:
    check = akismet(fake.url)
    spam, blatant, ham = check.run_batch([
        context(author="akismet-guaranteed-spam"),
        context(text="cheap viagra-test-123 here"),
        context(),
    ])
    assert spam is not None
    assert spam.score == pytest.approx(0.90)
    assert spam.label == "spam"
    assert spam.reasons == ["Akismet: spam"]
    assert blatant is not None
    assert blatant.score == pytest.approx(0.97)
    assert "blatant" in blatant.reasons[0]
    assert ham is not None
    assert ham.score < 0.1
    assert ham.label == "ok"
    assert fake.violations == []
    [sent] = [c.form for c in fake.received("/1.1/comment-check")
              if c.form["comment_author"] == "akismet-guaranteed-spam"]
    assert sent["api_key"] == AKISMET_KEY
    assert sent["user_ip"] == READER["user_ip"]
    assert sent["user_agent"] == READER["user_agent"]
    assert sent["permalink"] == READER["permalink"]
    assert sent["blog"] == READER["site_url"]
    assert sent["comment_type"] == "comment"
    assert sent["blog_charset"] == "UTF-8"
    assert "is_test" not in sent


def test_akismet_spam_decides_spam_and_the_decision_names_it(fake: FakeProviders) -> None:
    checks = (*local_checks(), akismet(fake.url))
    [outcome] = run_checks(checks, [context(author="akismet-guaranteed-spam")])
    decision = decide(outcome.verdicts, Policy(), Standing(), outcome.failed)
    assert decision.status == CommentStatus.SPAM
    assert decision.decided_by == "akismet"
    assert "akismet 0.90 (Akismet: spam) at or above reject threshold 0.90" in decision.reason


def test_akismet_replies_and_test_mode(fake: FakeProviders) -> None:
    check = akismet(fake.url, blog="https://blog.example", is_test=True)
    check.run_batch([context(is_reply=True)])
    sent = fake.received("/1.1/comment-check")[0].form
    assert sent["comment_type"] == "reply"
    assert sent["blog"] == "https://blog.example"  # WARDEN_AKISMET_BLOG wins over the origin
    assert sent["is_test"] == "1"


def test_perspective_toxic_scores_high_naming_the_attributes(fake: FakeProviders) -> None:
    toxic, clean = perspective(fake.url).run_batch([context("You are an idiot."), context()])
    assert toxic is not None
    assert toxic.score > 0.9
    assert toxic.kind == "toxicity"
    assert toxic.reasons == ["perspective TOXICITY 0.97, INSULT 0.91"]
    assert clean is not None
    assert clean.score < 0.1
    assert clean.reasons == ["perspective TOXICITY 0.03"]
    assert fake.violations == []
    [call] = [c for c in fake.received("/v1alpha1/comments:analyze")
              if c.json["comment"]["text"] == CLEAN]
    assert call.query == {"key": PERSPECTIVE_KEY}
    assert call.json["doNotStore"] is True
    assert call.json["languages"] == ["en"]
    assert set(call.json["requestedAttributes"]) == {
        "TOXICITY", "SEVERE_TOXICITY", "INSULT", "THREAT", "IDENTITY_ATTACK", "PROFANITY"}


FAILURES = ["500", "hang", "garbage", "invalid"]


@pytest.mark.parametrize("mode", FAILURES)
def test_akismet_failures_give_no_opinion_and_do_not_hold(
        fake: FakeProviders, mode: str, caplog: pytest.LogCaptureFixture) -> None:
    fake.akismet = mode
    _assert_no_opinion(akismet(fake.url), caplog)


@pytest.mark.parametrize("mode", [m for m in FAILURES if m != "invalid"])
def test_perspective_failures_give_no_opinion_and_do_not_hold(
        fake: FakeProviders, mode: str, caplog: pytest.LogCaptureFixture) -> None:
    fake.perspective = mode
    _assert_no_opinion(perspective(fake.url), caplog)


def test_wrong_keys_give_no_opinion(fake: FakeProviders,
                                    caplog: pytest.LogCaptureFixture) -> None:
    _assert_no_opinion(akismet(fake.url, key="wrong-akismet-key-123"), caplog,
                       secrets=("wrong-akismet-key-123",))
    _assert_no_opinion(perspective(fake.url, key="wrong-perspective-key-456"), caplog,
                       secrets=("wrong-perspective-key-456",))
    assert "unable to verify your API key" in caplog.text  # Akismet's debug help is kept


def test_unreachable_provider_gives_no_opinion(caplog: pytest.LogCaptureFixture) -> None:
    closed = f"http://127.0.0.1:{free_port()}"
    _assert_no_opinion(akismet(closed), caplog)
    _assert_no_opinion(perspective(closed), caplog)


def test_no_stored_address_gives_no_opinion_without_a_call(
        fake: FakeProviders, caplog: pytest.LogCaptureFixture) -> None:
    check = akismet(fake.url)
    assert check.run_batch([context(user_ip=None)]) == [None]
    assert fake.received("/1.1/comment-check") == []


def _assert_no_opinion(check: AkismetCheck | PerspectiveCheck, caplog: pytest.LogCaptureFixture,
                       secrets: tuple[str, ...] = ()) -> None:
    warden = logging.getLogger("warden")
    warden.addHandler(caplog.handler)  # the warden logger does not propagate to the root
    try:
        caplog.set_level(logging.DEBUG)
        started = time.monotonic()
        [outcome] = run_checks((*local_checks(), check), [context()])
        elapsed = time.monotonic() - started
    finally:
        warden.removeHandler(caplog.handler)
    assert elapsed < TIMEOUT * 2 + 2  # the time-out bounds the wait
    assert check.name not in outcome.failed
    assert check.name in outcome.no_opinion
    assert all(v.check != check.name for v in outcome.verdicts)
    decision = decide(outcome.verdicts, Policy(), Standing(), outcome.failed)
    assert decision.status == CommentStatus.APPROVED, decision.reason
    warnings = [r for r in caplog.records if r.name == "warden.remote"]
    assert warnings
    assert warnings[-1].levelno == logging.WARNING
    assert "no opinion" in warnings[-1].getMessage()
    for secret in (AKISMET_KEY, PERSPECTIVE_KEY, *secrets):
        assert secret not in caplog.text


def test_a_batch_runs_in_parallel(fake: FakeProviders) -> None:
    fake.akismet = "hang"
    started = time.monotonic()
    verdicts = akismet(fake.url).run_batch([context() for _ in range(16)])
    elapsed = time.monotonic() - started
    assert verdicts == [None] * 16
    assert elapsed < TIMEOUT * 16 / 2  # 8 at a time: about two time-outs, not sixteen


def test_default_checks_add_providers_only_with_a_key(tmp_path: object) -> None:
    base = Settings(secret_key="x" * 20)
    assert default_checks(base) == local_checks()
    both = Settings(secret_key="x" * 20, akismet_key="k1", perspective_key="k2")
    names = [c.name for c in default_checks(both)]
    assert names[-2:] == ["akismet", "perspective"]
    assert default_checks() == local_checks()  # outside an app (eval, warm-up): local only
    assert "k1" not in repr(both)
    assert "k2" not in repr(both)
    assert all("k1" not in repr(c) and "k2" not in repr(c) for c in default_checks(both))


def test_check_names_cover_every_check() -> None:
    """The queue's ``check`` filter accepts these names (the web process lists them
    without importing the checks)."""
    from workers.checks import CHECK_NAMES

    every = {c.name for c in local_checks()} | {AkismetCheck.name, PerspectiveCheck.name}
    assert set(CHECK_NAMES) == every
