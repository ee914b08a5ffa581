"""Running the checks and the policy for a comment: shared by the worker and ``warden eval``."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from service import sqlite
from service.domain.lifecycle import Actor, transition
from service.domain.submissions import POST_MODERATION_REASON
from service.models import (
    CheckResult,
    Comment,
    CommentStatus,
    ModerationMode,
    Site,
    TrustLevel,
    utcnow,
)
from workers.checks import Check, CommentContext, Verdict, default_checks
from workers.policy import Decision, Policy, Standing, decide

log = logging.getLogger("warden.pipeline")

DUPLICATE_WINDOW = timedelta(days=7)
VELOCITY_WINDOW = timedelta(minutes=10)


@dataclass(frozen=True)
class Outcome:
    verdicts: list[Verdict]
    failed: list[str]
    # Checks that gave no opinion (a remote provider timed out or erred): not a failure.
    no_opinion: list[str] = field(default_factory=list)


def run_checks(checks: Sequence[Check], contexts: Sequence[CommentContext]) -> list[Outcome]:
    """Run every check over a batch; a check that raises counts as failed, not fatal.

    A ``None`` verdict is "no opinion": skipped, so the other checks decide alone.
    """
    per_comment: list[list[Verdict]] = [[] for _ in contexts]
    failed: list[list[str]] = [[] for _ in contexts]
    silent: list[list[str]] = [[] for _ in contexts]
    for check in checks:
        try:
            verdicts = check.run_batch(contexts)
        except Exception:
            log.exception("check %s failed", check.name)
            for names in failed:
                names.append(check.name)
            continue
        for bucket, quiet, verdict in zip(per_comment, silent, verdicts, strict=True):
            if verdict is None:
                quiet.append(check.name)
            else:
                bucket.append(verdict)
    return [Outcome(v, f, q) for v, f, q in zip(per_comment, failed, silent, strict=True)]


def gather_context(session: Session, comment: Comment, site: Site) -> CommentContext:
    now = utcnow()
    same_text = select(Comment.article_id).where(
        Comment.site_id == comment.site_id,
        Comment.fingerprint == comment.fingerprint,
        Comment.id != comment.id,
        Comment.created_at >= now - DUPLICATE_WINDOW,
    ).subquery()
    total = session.scalar(select(func.count()).select_from(same_text)) or 0
    elsewhere = session.scalar(
        select(func.count(func.distinct(same_text.c.article_id))).where(
            same_text.c.article_id != comment.article_id
        )
    ) or 0
    recent = Comment.created_at >= now - VELOCITY_WINDOW
    author_recent = session.scalar(
        select(func.count()).where(Comment.author_id == comment.author_id, recent)
    ) or 0
    address_recent = 0
    if comment.ip_hash:
        address_recent = session.scalar(
            select(func.count()).where(Comment.site_id == comment.site_id,
                                       Comment.ip_hash == comment.ip_hash, recent)
        ) or 0
    parent_text = None
    if comment.parent_id:
        parent_text = session.scalar(select(Comment.body).where(Comment.id == comment.parent_id))
    return CommentContext(
        text=comment.body, site_id=comment.site_id, author_name=comment.author_name,
        article_key=comment.article.key, parent_text=parent_text,
        signals=dict(comment.client_signals or {}), duplicates_elsewhere=elsewhere,
        duplicates_total=total, author_recent=author_recent, address_recent=address_recent,
        author_approved=comment.author.approved_count,
        author_rejected=comment.author.rejected_count,
        blocked_words=tuple(site.blocked_words or ()),
        suspect_words=tuple(site.suspect_words or ()),
        allowed_link_domains=tuple(site.allowed_link_domains or ()),
        blocked_link_domains=tuple(site.blocked_link_domains or ()),
        user_ip=comment.ip_address, user_agent=comment.user_agent,
        permalink=comment.article.url, site_url=next(iter(site.allowed_origins or ()), None),
        is_reply=comment.parent_id is not None,
    )


def policy_for(site: Site) -> Policy:
    return Policy(mode=site.mode, hold_threshold=site.hold_threshold,
                  reject_threshold=site.reject_threshold)


def standing_of(comment: Comment, site: Site) -> Standing:
    author = comment.author
    first_time = author.approved_count == 0 and author.trust != TrustLevel.TRUSTED
    return Standing(blocked=author.is_blocked(utcnow()), trusted=author.trust == TrustLevel.TRUSTED,
                    hold_first=site.hold_first_time_authors and first_time)


def moderate(session: Session, comment_id: int, *, max_attempts: int) -> Decision | None:
    """Decide one comment exactly once; safe to call again for the same id."""
    comment = session.get(Comment, comment_id)
    if comment is None or comment.checked_at is not None:
        return None
    # Count the attempt in its own commit first, so a check that kills the process still
    # leaves a trace and a comment that keeps crashing ends up held, not looping forever.
    session.execute(update(Comment).where(Comment.id == comment_id)
                    .values(moderation_attempts=Comment.moderation_attempts + 1))
    session.commit()
    # Read and run the checks without holding SQLite's write lock (a plain snapshot), then
    # end that snapshot: the write lock is taken only for the short claim-and-record below.
    with sqlite.reading():
        comment = session.get(Comment, comment_id)
        assert comment is not None
        if comment.checked_at is not None:
            session.rollback()
            return None
        site = session.get(Site, comment.site_id)
        assert site is not None
        if comment.moderation_attempts > max_attempts:
            decision = Decision(CommentStatus.HELD, f"moderation failed {max_attempts} "
                                "times; a human should look", "policy")
            outcome = Outcome([], [])
        else:
            context = gather_context(session, comment, site)
            outcome = run_checks(default_checks(), [context])[0]
            decision = decide(outcome.verdicts, policy_for(site), standing_of(comment, site),
                              outcome.failed)
        session.rollback()

    # Claim the comment: only one run can flip checked_at from NULL, whatever the races.
    claimed = session.execute(
        update(Comment).where(Comment.id == comment_id, Comment.checked_at.is_(None))
        .values(checked_at=utcnow())
    ).rowcount
    if claimed != 1:
        session.rollback()
        return None
    comment = session.get(Comment, comment_id)
    site = session.get(Site, comment.site_id) if comment else None
    assert comment is not None
    assert site is not None
    for verdict in outcome.verdicts:
        session.add(CheckResult(comment_id=comment.id, check_name=verdict.check,
                                check_version=verdict.version, score=verdict.score,
                                label=verdict.label, reasons=verdict.reasons))
    # A moderator who already decided wins; post-moderated comments can still be pulled back.
    undecided = comment.status == CommentStatus.PENDING or (
        comment.status == CommentStatus.APPROVED and site.mode == ModerationMode.POST
        and (comment.status_reason or "").startswith(POST_MODERATION_REASON)
    )
    if undecided:
        transition(session, comment, decision.status, Actor.system(decision.decided_by),
                   decision.reason, {"scores": {v.check: round(v.score, 4)
                                                for v in outcome.verdicts}})
    session.commit()
    log.info("comment %s -> %s: %s", comment_id, decision.status, decision.reason,
             extra={"comment_id": comment_id, "decision": str(decision.status)})
    return decision
