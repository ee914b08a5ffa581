"""Moderator verdicts back to the remote providers (Akismet submit-spam / submit-ham).

Why an outbox: the moderator's request must not wait on, or fail with, Akismet. The report
row is written in the moderator's transaction (so a decision and its report exist together
or not at all); after the commit a task is sent, and the beat sweep re-sends whatever a
lost message, a killed worker or a provider error left due. Tries are bounded and spaced
out by ``WARDEN_REMOTE_FEEDBACK_RETRY_SCHEDULE``.

What counts as a verdict to report: a moderator marking a comment spam (submit-spam), and a
moderator approving a comment the pipeline had marked spam or held on a spam check's
word (submit-ham: a false positive). Nothing is reported for toxicity decisions.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import httpx
from flask import current_app, has_app_context
from sqlalchemy import event as sa_event
from sqlalchemy import exists, or_, select, update
from sqlalchemy.orm import Session

from service.domain.claims import claim_due
from service.domain.lifecycle import Actor
from service.models import (
    CheckResult,
    Comment,
    CommentStatus,
    ProviderReport,
    ReportStatus,
    Site,
    utcnow,
)
from workers.checks.base import CommentContext
from workers.checks.remote.akismet import AkismetClient, akismet_params
from workers.checks.remote.calls import NoOpinion
from workers.dispatch import enqueue_report

if TYPE_CHECKING:
    from config import Settings

log = logging.getLogger("warden.feedback")

S = CommentStatus
AKISMET = "akismet"
REPORTS_WRITTEN = "warden_provider_reports_written"
SWEEP_BATCH = 200
CLAIM_MARGIN = timedelta(seconds=10)

#: Sends one verdict ("spam" | "ham") with the comment's parameters; raises on failure.
Sender = Callable[[str, dict[str, str]], None]


def verdict_for(previous: CommentStatus, target: CommentStatus, spam_flagged: bool) -> str | None:
    """The feedback a moderator's move means, if any."""
    if target == S.SPAM:
        return "spam"
    if target == S.APPROVED and (previous == S.SPAM or (previous == S.HELD and spam_flagged)):
        return "ham"
    return None


def queue_reports(session: Session, comment: Comment, previous: CommentStatus,
                  actor: Actor) -> list[ProviderReport]:
    """In the moderator's transaction: one report per enabled provider that takes feedback."""
    settings = _settings()
    if settings is None or not settings.akismet_enabled:
        return []
    flagged = previous == S.HELD and comment.status == S.APPROVED and bool(session.scalar(
        select(exists().where(CheckResult.comment_id == comment.id,
                              CheckResult.label == "spam"))))
    verdict = verdict_for(previous, comment.status, flagged)
    if verdict is None:
        return []
    report = ProviderReport(comment_id=comment.id, site_id=comment.site_id, provider=AKISMET,
                            verdict=verdict, requested_by=actor.id,
                            status=ReportStatus.PENDING, tries=0, next_attempt_at=utcnow(),
                            enqueued_at=utcnow())
    session.add(report)
    session.flush()
    session.info.setdefault(REPORTS_WRITTEN, []).append(report.id)
    return [report]


@sa_event.listens_for(Session, "after_commit")
def _send_reports_after_commit(session: Session) -> None:
    if session.in_nested_transaction():
        return  # a savepoint is not the commit that makes the reports visible
    for report_id in session.info.pop(REPORTS_WRITTEN, ()):
        enqueue_report(report_id)


def _settings() -> Settings | None:
    return current_app.config.get("WARDEN") if has_app_context() else None


def retry_delays(settings: Settings) -> tuple[float, ...]:
    from config.settings import delays_of

    return delays_of(settings.remote_feedback_retry_schedule)


def claim_ttl(settings: Settings) -> timedelta:
    # A connect and a read time-out, plus time to record the result.
    return timedelta(seconds=2 * settings.remote_timeout_seconds) + CLAIM_MARGIN


def due_for_enqueue(session: Session, settings: Settings, *,
                    limit: int = SWEEP_BATCH) -> list[int]:
    """Due, unclaimed reports with no recent send; marked as sent now (committed)."""
    now = utcnow()
    ids = list(session.scalars(
        select(ProviderReport.id)
        .where(ProviderReport.status == ReportStatus.PENDING,
               ProviderReport.next_attempt_at <= now,
               or_(ProviderReport.claimed_until.is_(None), ProviderReport.claimed_until < now),
               or_(ProviderReport.enqueued_at.is_(None),
                   ProviderReport.enqueued_at < now - claim_ttl(settings)))
        .order_by(ProviderReport.next_attempt_at)
        .limit(limit)
    ))
    if ids:
        session.execute(update(ProviderReport).where(ProviderReport.id.in_(ids))
                        .values(enqueued_at=now))
    session.commit()
    return ids


def send_report(session: Session, report_id: int, settings: Settings,
                sender: Sender | None = None) -> ReportStatus | None:
    """One try of one report, if it is due and nobody else has it; None: nothing to do."""
    token = claim_due(session, ProviderReport, report_id, ReportStatus.PENDING,
                      claim_ttl(settings))
    if token is None:
        return None
    report = session.get(ProviderReport, report_id)
    comment = session.get(Comment, report.comment_id) if report else None
    if report is None or comment is None:  # deleted with the comment meanwhile
        session.commit()
        return None
    try:
        params = _params(session, comment, settings)
    except NoOpinion as exc:
        return _finish(session, report_id, token, ReportStatus.SKIPPED, str(exc), settings)
    verdict = report.verdict
    session.commit()  # no transaction (nor SQLite write lock) held during the call
    try:
        (sender or _akismet_sender(settings))(verdict, params)
    except NoOpinion as exc:
        return _finish(session, report_id, token, None, str(exc), settings)
    except httpx.HTTPError as exc:  # not str(exc): keep URLs out of the record and logs
        return _finish(session, report_id, token, None, f"request failed "
                       f"({type(exc).__name__})", settings)
    return _finish(session, report_id, token, ReportStatus.SENT, None, settings)


def _params(session: Session, comment: Comment, settings: Settings) -> dict[str, str]:
    if not settings.akismet_enabled:
        raise NoOpinion("Akismet is no longer enabled")
    if not comment.body:
        raise NoOpinion("the comment was erased")
    site = session.get(Site, comment.site_id)
    context = CommentContext(
        text=comment.body, site_id=comment.site_id, author_name=comment.author_name,
        user_ip=comment.ip_address, user_agent=comment.user_agent, referrer=comment.referrer,
        permalink=comment.article.url, is_reply=comment.parent_id is not None,
        site_url=next(iter(site.allowed_origins or ()), None) if site else None,
    )
    return akismet_params(context, blog=settings.akismet_blog, is_test=settings.akismet_test,
                          languages=settings.perspective_languages)


def _akismet_sender(settings: Settings) -> Sender:
    client = AkismetClient(settings.akismet_key, settings.akismet_url,
                           settings.remote_timeout_seconds)

    def send(verdict: str, params: dict[str, str]) -> None:
        with client.session() as http:
            client.submit(http, "spam" if verdict == "spam" else "ham", params)

    return send


def _finish(session: Session, report_id: int, token: str, status: ReportStatus | None,
            error: str | None, settings: Settings) -> ReportStatus | None:
    """Record a try under the claim; ``status=None`` is a failure: retry later or give up."""
    now = utcnow()
    report = session.get(ProviderReport, report_id)
    if report is None:
        session.rollback()
        return None
    provider, verdict = report.provider, report.verdict
    tries = report.tries + (status != ReportStatus.SKIPPED)
    values: dict[str, Any] = {"tries": tries, "last_error": error, "claimed_until": None,
                              "claim_token": None, "enqueued_at": None}
    delays = retry_delays(settings)
    if status is None and tries <= len(delays):
        values.update(next_attempt_at=now + timedelta(seconds=delays[tries - 1]))
    else:
        status = status or ReportStatus.FAILED
        values.update(status=status, next_attempt_at=None,
                      sent_at=now if status == ReportStatus.SENT else None)
    updated = session.execute(
        update(ProviderReport)
        .where(ProviderReport.id == report_id, ProviderReport.claim_token == token)
        .values(**values)
    ).rowcount
    session.commit()
    if updated != 1:
        log.warning("provider report %s: claim expired before the result was saved",
                    report_id)
        return None
    outcome = status or ReportStatus.PENDING
    if error:
        log.warning("%s report %s (%s) try %d: %s -> %s", provider, report_id, verdict, tries,
                    error, outcome)
    else:
        log.info("%s report %s (%s) sent", provider, report_id, verdict)
    return outcome
