"""Running the checks and the policy for a comment: shared by the worker and ``warden eval``."""

from __future__ import annotations

import json
import logging
from bisect import bisect_left, bisect_right
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, func, insert, or_, select, text, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from service import sqlite
from service.domain.lifecycle import Actor, batched_counters, transition
from service.models import (
    Article,
    Author,
    CheckResult,
    Comment,
    CommentStatus,
    Site,
    TrustLevel,
    utcnow,
)
from service.models.base import UTCDateTime
from workers.checks import Check, CommentContext, Verdict, default_checks
from workers.policy import Decision, Policy, Standing, decide

log = logging.getLogger("warden.pipeline")

DUPLICATE_WINDOW = timedelta(days=7)
VELOCITY_WINDOW = timedelta(minutes=10)
DEFAULT_LEASE = timedelta(seconds=30)


@dataclass(frozen=True)
class Outcome:
    verdicts: list[Verdict]
    failed: list[str]
    # Checks that gave no opinion (a remote provider timed out or erred): not a failure.
    no_opinion: list[str] = field(default_factory=list)


def run_checks(checks: Sequence[Check], contexts: Sequence[CommentContext]) -> list[Outcome]:
    """Run every check over a batch; a check that raises counts as failed, not fatal.

    A ``None`` verdict is "no opinion" (a site without its own model, a remote provider
    that could not answer): skipped, so the other checks decide alone.
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


@dataclass
class _Facts:
    """What the batch's grouped queries found; one context each is built from it."""

    duplicates: dict[tuple[str, str], dict[int, int]]  # (site, fingerprint) -> article -> n
    # When the author's (the site's address's) comments were written, oldest first: a
    # comment's burst is what came in the window before it, not before the batch ran.
    by_author: dict[int, list[datetime]]
    by_address: dict[tuple[str, str], list[datetime]]
    parents: dict[int, str]
    unchecked_approved: dict[int, int]  # author -> published comments not yet checked


def _gather_facts(session: Session, comments: Sequence[Comment]) -> _Facts:
    """Duplicates, velocity and parents for a whole batch, a few queries for all of it."""
    now = utcnow()
    sites = {c.site_id for c in comments}
    duplicates: dict[tuple[str, str], dict[int, int]] = {}
    for site_id, fingerprint, article_id, n in session.execute(
        select(Comment.site_id, Comment.fingerprint, Comment.article_id, func.count())
        .where(Comment.site_id.in_(sites),
               Comment.fingerprint.in_({c.fingerprint for c in comments}),
               Comment.created_at >= now - DUPLICATE_WINDOW)
        .group_by(Comment.site_id, Comment.fingerprint, Comment.article_id)
    ):
        duplicates.setdefault((site_id, fingerprint), {})[article_id] = n
    # Every comment of the batch looks back from its own creation: after a backlog (a
    # worker down for an hour) a flood still counts as one. The rows read are the keys'
    # comments of the window, which the submit rate limits bound (10 a minute per address
    # and per author by default: at most about 100 each).
    since = min(c.created_at for c in comments) - VELOCITY_WINDOW
    recent = Comment.created_at >= since
    by_author: dict[int, list[datetime]] = defaultdict(list)
    for author_id, created_at in session.execute(
            select(Comment.author_id, Comment.created_at)
            .where(Comment.author_id.in_({c.author_id for c in comments}), recent)
            .order_by(Comment.created_at)):
        by_author[author_id].append(created_at)
    addresses = {c.ip_hash for c in comments if c.ip_hash}
    by_address: dict[tuple[str, str], list[datetime]] = defaultdict(list)
    if addresses:
        for site_id, ip_hash, created_at in session.execute(
                select(Comment.site_id, Comment.ip_hash, Comment.created_at)
                .where(Comment.site_id.in_(sites), Comment.ip_hash.in_(addresses), recent)
                .order_by(Comment.created_at)):
            by_address[(site_id, ip_hash)].append(created_at)
    parent_ids = {c.parent_id for c in comments if c.parent_id}
    parents: dict[int, str] = {}
    if parent_ids:
        parents = dict(session.execute(
            select(Comment.id, Comment.body).where(Comment.id.in_(parent_ids))).all())
    # Only post-moderation publishes before the checks; other batches skip the query.
    published = {c.author_id for c in comments if c.status == CommentStatus.APPROVED}
    unchecked_approved: dict[int, int] = {}
    if published:
        unchecked_approved = dict(session.execute(
            select(Comment.author_id, func.count())
            .where(Comment.author_id.in_(published), Comment.status == CommentStatus.APPROVED,
                   Comment.checked_at.is_(None))
            .group_by(Comment.author_id)).all())
    return _Facts(duplicates, by_author, by_address, parents, unchecked_approved)


def _context(comment: Comment, site: Site, facts: _Facts) -> CommentContext:
    per_article = dict(facts.duplicates.get((comment.site_id, comment.fingerprint), {}))
    if comment.created_at >= utcnow() - DUPLICATE_WINDOW and per_article.get(comment.article_id):
        per_article[comment.article_id] -= 1  # the comment itself is not a duplicate
    total = sum(per_article.values())
    elsewhere = sum(1 for article_id, n in per_article.items()
                    if n and article_id != comment.article_id)
    return CommentContext(
        text=comment.body, site_id=comment.site_id, author_name=comment.author_name,
        article_key=comment.article.key, parent_text=facts.parents.get(comment.parent_id or 0),
        signals=dict(comment.client_signals or {}), duplicates_elsewhere=elsewhere,
        duplicates_total=total,
        author_recent=count_in_window(facts.by_author.get(comment.author_id, []),
                                      comment.created_at),
        address_recent=(count_in_window(
            facts.by_address.get((comment.site_id, comment.ip_hash), []), comment.created_at)
            if comment.ip_hash else 0),
        user_ip=comment.ip_address, user_agent=comment.user_agent, referrer=comment.referrer,
        permalink=comment.article.url, is_reply=comment.parent_id is not None,
        **site_fields(site),
    )


def count_in_window(times: list[datetime], moment: datetime) -> int:
    """Comments in ``times`` (sorted) written in the velocity window up to ``moment``,
    the comment itself included."""
    return bisect_right(times, moment) - bisect_left(times, moment - VELOCITY_WINDOW)


def site_fields(site: Site) -> dict[str, Any]:
    """What a check reads of the site (its lists and home page), as a context's fields:
    the worker, the simulate endpoint and a replay's rerun build contexts alike."""
    return {
        "blocked_words": tuple(site.blocked_words or ()),
        "suspect_words": tuple(site.suspect_words or ()),
        "allowed_link_domains": tuple(site.allowed_link_domains or ()),
        "blocked_link_domains": tuple(site.blocked_link_domains or ()),
        "site_url": next(iter(site.allowed_origins or ()), None),
    }


def policy_for(site: Site) -> Policy:
    return Policy(mode=site.mode, hold_threshold=site.hold_threshold,
                  reject_threshold=site.reject_threshold)


def standing_of(author: Author, site: Site, unchecked_approved: int = 0) -> Standing:
    """The author's standing on ``site``. ``unchecked_approved``: their comments published
    before any check ran (post-moderation), this one included; they are not history yet,
    or a new author posting four at once would be a regular by the time they are checked."""
    approved = max(author.approved_count - unchecked_approved, 0)
    trusted = author.trust == TrustLevel.TRUSTED
    return Standing(blocked=author.is_blocked(utcnow()), trusted=trusted,
                    hold_first=site.hold_first_time_authors and approved == 0 and not trusted,
                    approved=approved, rejected=author.rejected_count)


def moderate(session: Session, comment_id: int, *, max_attempts: int, batch_size: int = 1,
             lease: timedelta = DEFAULT_LEASE) -> Decision | None:
    """Decide ``comment_id`` exactly once, with up to ``batch_size - 1`` other waiting
    comments drained alongside it; safe to call again for the same id.

    Returns this comment's decision, or None when it was decided before (or is being
    decided by another run right now); waiting comments are drained either way.
    """
    return moderate_batch(session, comment_id, max_attempts=max_attempts,
                          batch_size=batch_size, lease=lease).get(comment_id)


def moderate_batch(session: Session, comment_id: int | None, *, max_attempts: int,
                   batch_size: int = 64, lease: timedelta = DEFAULT_LEASE
                   ) -> dict[int, Decision]:
    """Lease a batch, check it outside the write lock, then claim and record it.

    Batching is what makes a worker fast: the models score many texts per call and the
    decisions share one transaction. ``comment_id`` None only drains. The database is the
    record of what waits, so a batch that dies loses nothing: its comments' leases expire
    and the sweep sends them again.
    """
    ids, leased_until = _lease(session, comment_id, batch_size, lease)
    if not ids:
        return {}
    try:
        return _decide_leased(session, ids, max_attempts, leased_until)
    except BaseException as exc:
        _release(session, ids, transient=isinstance(exc, OperationalError))
        raise


def _release(session: Session, ids: Sequence[int], *, transient: bool) -> None:
    """Give a failed batch's comments back at once rather than after the lease.

    A database hiccup (deadlock, lost connection) is not the comments' fault: their attempt
    is not counted, so they can be drained again. Any other error keeps the attempt, so a
    comment that keeps failing still ends up held. (A killed process runs none of this;
    then the lease expires.)
    """
    try:
        session.rollback()
        values: dict[str, Any] = {"lease_until": None}
        if transient:
            values["moderation_attempts"] = Comment.moderation_attempts - 1
        session.execute(update(Comment).where(Comment.id.in_(ids), Comment.checked_at.is_(None))
                        .values(**values).execution_options(synchronize_session=False))
        session.commit()
    except Exception:  # the database may still be away: then the leases expire instead
        log.warning("could not release the leases of %d comments", len(ids), exc_info=True)
        session.rollback()


def _decide_leased(session: Session, ids: list[int], max_attempts: int,
                   leased_until: datetime) -> dict[int, Decision]:
    # Read in a plain snapshot (no SQLite write lock), end it, and only then run the checks:
    # remote providers may take seconds, and no transaction stays open meanwhile. The
    # write lock is taken only for the short claim-and-record below.
    decisions: dict[int, tuple[Decision, Outcome]] = {}
    to_check: list[tuple[int, CommentContext, Policy, Standing]] = []
    with sqlite.reading():
        comments = _load(session, ids)
        sites = {site.id: site for site in session.scalars(
            select(Site).where(Site.id.in_({c.site_id for c in comments})))}
        fresh = []
        for comment in comments:
            if comment.moderation_attempts > max_attempts:
                decisions[comment.id] = (Decision(
                    CommentStatus.HELD, f"moderation failed {max_attempts} times; a human "
                    "should look", "policy"), Outcome([], []))
            else:
                fresh.append(comment)
        if fresh:
            facts = _gather_facts(session, fresh)
            to_check = [(c.id, _context(c, sites[c.site_id], facts),
                         policy_for(sites[c.site_id]),
                         standing_of(c.author, sites[c.site_id],
                                     facts.unchecked_approved.get(c.author_id, 0)))
                        for c in fresh]
        session.rollback()
    if to_check:
        outcomes = run_checks(default_checks(), [context for _, context, _, _ in to_check])
        for (comment_id, _, policy, standing), outcome in zip(to_check, outcomes, strict=True):
            decisions[comment_id] = (decide(outcome.verdicts, policy, standing,
                                            outcome.failed), outcome)

    # Claim: only one run can flip checked_at from NULL, whatever the races; and only the
    # comments still under this run's lease. An author's edit (or a moderator's decision)
    # clears the lease: the decision above is about the old text, and the edited one is
    # checked by the run the edit sent.
    claimed = set(session.scalars(
        update(Comment).where(Comment.id.in_(ids), Comment.checked_at.is_(None),
                              Comment.lease_until == leased_until,
                              # Deleted meanwhile (by its author, or erased): nothing to
                              # record, and its check reasons would quote the text.
                              Comment.status != CommentStatus.DELETED)
        .values(checked_at=utcnow(), lease_until=None).returning(Comment.id)
        .execution_options(synchronize_session=False)))
    if not claimed:
        session.rollback()
        return {}
    comments = _load(session, sorted(claimed))
    if session.get_bind().dialect.name == "postgresql":
        # Take the counter rows in one global order before any update: two batches (or a
        # batch and a moderator) touching the same articles and authors cannot deadlock.
        session.execute(select(Article.id).where(Article.id.in_({c.article_id for c in comments}))
                        .order_by(Article.id).with_for_update())
        session.execute(select(Author.id).where(Author.id.in_({c.author_id for c in comments}))
                        .order_by(Author.id).with_for_update())
    now = utcnow()
    results = [{"comment_id": comment.id, "check_name": verdict.check,
                "check_version": verdict.version, "score": verdict.score,
                "label": verdict.label, "reasons": verdict.reasons,
                "may_reject": verdict.may_reject, "created_at": now}
               for comment in comments for verdict in decisions[comment.id][1].verdicts]
    if results:
        _insert_results(session, results)
    recorded: dict[int, Decision] = {}
    with batched_counters(session):
        for comment in comments:
            decision, outcome = decisions[comment.id]
            # The checks decide a waiting comment, and may pull back one published at once
            # (post-moderation): an approved comment claimed here was never checked, and
            # only post-moderation publishes one so; whatever the site's mode is now (a
            # switch from post to auto must not leave it public unchecked). Anything else
            # was put where it is by someone else: a held comment waits for a human
            # whatever its new scores; a moderator who decided set checked_at, so their
            # comments are never claimed here.
            undecided = comment.status in (CommentStatus.PENDING, CommentStatus.APPROVED)
            if undecided:
                transition(session, comment, decision.status,
                           Actor.system(decision.decided_by), decision.reason,
                           _details(outcome))
            recorded[comment.id] = decision
    session.commit()
    for comment_id_, decision in recorded.items():
        log.info("comment %s -> %s: %s", comment_id_, decision.status, decision.reason,
                 extra={"comment_id": comment_id_, "decision": str(decision.status)})
    return recorded


# PostgreSQL takes a batch's results (about nine a comment) as one row of arrays: psycopg's
# executemany sent and the type layer processed each row apart, the largest piece of a
# batch's SQL time after the checks.
_INSERT_RESULTS_ARRAYS = text(
    "INSERT INTO check_results (comment_id, check_name, check_version, score, label, reasons,"
    " may_reject, created_at) SELECT r.comment_id, r.check_name, r.check_version, r.score,"
    " r.label, r.reasons::json, r.may_reject, :created_at FROM"
    " unnest(CAST(:comment_ids AS integer[]), CAST(:check_names AS varchar[]),"
    " CAST(:check_versions AS varchar[]), CAST(:scores AS double precision[]),"
    " CAST(:labels AS varchar[]), CAST(:reasons AS text[]), CAST(:may_reject AS boolean[]))"
    " AS r(comment_id, check_name, check_version, score, label, reasons, may_reject)"
    ).bindparams(bindparam("created_at", type_=UTCDateTime()))


def _insert_results(session: Session, results: list[dict[str, Any]]) -> None:
    """Nothing reads the results' ids back, so no ORM (its bulk path cost as much again per
    row): one statement of arrays on PostgreSQL, one executemany elsewhere."""
    connection = session.connection()
    if connection.dialect.name != "postgresql":
        connection.execute(insert(CheckResult.__table__), results)
        return
    connection.execute(_INSERT_RESULTS_ARRAYS, {
        "created_at": results[0]["created_at"],
        "comment_ids": [r["comment_id"] for r in results],
        "check_names": [r["check_name"] for r in results],
        "check_versions": [r["check_version"] for r in results],
        "scores": [float(r["score"]) for r in results],
        "labels": [r["label"] for r in results],
        "reasons": [json.dumps(r["reasons"]) for r in results],
        "may_reject": [bool(r["may_reject"]) for r in results],
    })


def _details(outcome: Outcome) -> dict[str, Any]:
    """What the audit entry keeps of the checks: scores, and who had no opinion."""
    details: dict[str, Any] = {"scores": {v.check: round(v.score, 4)
                                          for v in outcome.verdicts}}
    if outcome.no_opinion:
        details["no_opinion"] = list(outcome.no_opinion)
    return details


def _lease(session: Session, comment_id: int | None, batch_size: int,
           lease: timedelta) -> tuple[list[int], datetime]:
    """Take the named comment (if it still waits) and the oldest other waiting ones.

    The lease (and the attempt count) is committed before any check runs, so a check that
    kills the process still leaves a trace. A comment on a second try runs alone, and
    batches only drain comments on their first: one bad comment that keeps crashing its
    batch must not take the good ones down with it. A task whose own comment is already
    decided (or in another batch) still drains: every task is a wake-up for the backlog.
    """
    now = utcnow()
    free = or_(Comment.lease_until.is_(None), Comment.lease_until < now)
    waiting = (Comment.checked_at.is_(None), Comment.status != CommentStatus.DELETED, free)
    ids: list[int] = []
    drain = batch_size > 1
    postgres = session.get_bind().dialect.name == "postgresql"
    if comment_id is not None:
        # Locked first, while the claim holds nothing: the only row it ever waits for.
        # Taken last (by the UPDATE), after the skip-locked others, it deadlocked with a
        # bulk moderator action holding it and wanting one of those (both lock comments).
        named = select(Comment.moderation_attempts).where(Comment.id == comment_id, *waiting)
        attempts = session.scalar(named.with_for_update() if postgres else named)
        if attempts is not None:
            ids.append(comment_id)
            drain = drain and attempts == 0
    if drain:
        others = (select(Comment.id).where(*waiting, Comment.moderation_attempts == 0,
                                           Comment.id != (comment_id or 0))
                  .order_by(Comment.id).limit(batch_size - len(ids)))
        if postgres:
            others = others.with_for_update(skip_locked=True)
        ids += session.scalars(others).all()
    until = now + lease
    if not ids:
        session.rollback()
        return [], until
    leased = sorted(session.scalars(
        update(Comment).where(Comment.id.in_(ids), Comment.checked_at.is_(None), free)
        .values(lease_until=until, moderation_attempts=Comment.moderation_attempts + 1)
        .returning(Comment.id).execution_options(synchronize_session=False)))
    session.commit()
    return leased, until


def _load(session: Session, ids: Sequence[int]) -> list[Comment]:
    """The comments with their article and author, in one query (and fresh, not cached)."""
    return list(session.scalars(select(Comment).where(Comment.id.in_(ids))
                                .order_by(Comment.id)
                                .execution_options(populate_existing=True)).unique())
