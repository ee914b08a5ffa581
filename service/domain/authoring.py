"""What a reader may do to comments after posting: edit, delete (own), and flag (any)."""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from service.domain.errors import Conflict, DomainError, NotFound
from service.domain.events import comment_payload, emit
from service.domain.lifecycle import Actor, lock_current, transition
from service.domain.rendering import (
    clean_text,
    fingerprint,
    render_html,
    require_usable_text,
)
from service.domain.security import token_digest
from service.models import (
    AuditEntry,
    Author,
    CheckResult,
    Comment,
    CommentStatus,
    Flag,
    FlagReason,
    Site,
    utcnow,
)

FLAG_LABELS = {
    FlagReason.SPAM: "Spam or advertising",
    FlagReason.ABUSE: "Abusive or insulting",
    FlagReason.HARASSMENT: "Harassment of a person",
    FlagReason.HATE: "Hate speech",
    FlagReason.MISINFORMATION: "False or misleading",
    FlagReason.OFF_TOPIC: "Off topic",
    FlagReason.PERSONAL_INFO: "Shares personal information",
    FlagReason.OTHER: "Something else",
}

EDITABLE = {CommentStatus.PENDING, CommentStatus.APPROVED, CommentStatus.HELD}


class EditWindowClosed(Conflict):
    code = "edit_window_closed"


class AlreadyFlagged(Conflict):
    code = "already_flagged"


class OwnComment(Conflict):
    code = "own_comment"


def own_comment(session: Session, comment_id: int, token: str) -> Comment:
    """The comment if ``token`` is its author's; 404 otherwise (existence is not revealed)."""
    comment = session.get(Comment, comment_id)
    if comment is None or not hmac.compare_digest(comment.author.token_hash, token_digest(token)):
        raise NotFound(f"no comment {comment_id} for this author token")
    return comment


def _check_window(comment: Comment, site: Site) -> None:
    if utcnow() - comment.created_at > timedelta(seconds=site.edit_window_seconds):
        raise EditWindowClosed(f"comments can be changed for {_duration(site.edit_window_seconds)}"
                               " after posting")


def _duration(seconds: int) -> str:
    """``600`` -> "10 minutes", ``90`` -> "90 seconds", ``0`` -> "0 seconds"."""
    if seconds % 3600 == 0 and seconds >= 3600:
        hours = seconds // 3600
        return f"{hours} hour{'s' if hours != 1 else ''}"
    if seconds % 60 == 0 and seconds >= 60:
        minutes = seconds // 60
        return f"{minutes} minute{'s' if minutes != 1 else ''}"
    return f"{seconds} second{'s' if seconds != 1 else ''}"


def edit_comment(session: Session, comment: Comment, body: str, *, max_body_chars: int) -> None:
    """Replace the text and send it through moderation again (links get edited in later)."""
    site = session.get(Site, comment.site_id)
    assert site is not None
    _check_window(comment, site)
    if comment.status not in EDITABLE:
        raise Conflict(f"a {comment.status} comment cannot be edited")
    text = require_usable_text(clean_text(body), max_body_chars)
    if text == comment.body:
        return
    comment.body = text
    comment.html = render_html(text)
    comment.fingerprint = fingerprint(text)
    session.execute(delete(CheckResult).where(CheckResult.comment_id == comment.id))
    session.execute(update(Comment).where(Comment.id == comment.id).values(
        checked_at=None, enqueued_at=utcnow(), moderation_attempts=0, lease_until=None))
    session.refresh(comment)
    author = Actor("author", str(comment.author_id))
    if awaits_review(comment):
        # Readers' reports hid it until a moderator decides: an edit must not be a way back
        # in. It stays held; the checks run again only so the moderator sees fresh scores
        # (the worker never decides a held comment).
        _record_edit(session, comment, author, "edited by its author; still held until reviewed")
    elif comment.status != CommentStatus.PENDING:
        transition(session, comment, CommentStatus.PENDING, author,
                   "edited by its author; moderated again")
    else:
        _record_edit(session, comment, author, "edited by its author before the checks decided")


def _record_edit(session: Session, comment: Comment, author: Actor, reason: str) -> None:
    """An edit that leaves the status as it was: audited and announced all the same (the
    trail must show that the text the checks saw is not the one first submitted)."""
    session.add(AuditEntry(site_id=comment.site_id, subject_type="comment",
                           subject_id=str(comment.id), action="comment.edited",
                           from_status=str(comment.status), to_status=str(comment.status),
                           actor_type=author.type, actor_id=author.id, reason=reason,
                           details={}))
    emit(session, comment.site_id, "comment.edited", str(comment.id), comment_payload(comment))


def awaits_review(comment: Comment) -> bool:
    """Held while it is in the flagged queue: reader reports put it before a moderator
    (hidden by ``hide_flagged``, or held by the checks after the reports), so only a
    moderator's decision, which clears the reports, releases it. A comment the checks
    alone held is not waiting for anyone: its author may fix it and have it checked again.
    """
    return comment.status == CommentStatus.HELD and comment.flagged_at is not None


def delete_comment(session: Session, comment: Comment) -> None:
    if comment.status == CommentStatus.DELETED:
        return  # idempotent, inside the window or after it
    site = session.get(Site, comment.site_id)
    assert site is not None
    _check_window(comment, site)
    transition(session, comment, CommentStatus.DELETED, Actor("author", str(comment.author_id)),
               "deleted by its author")


@dataclass(frozen=True)
class FlagOutcome:
    flag: Flag
    crossed_threshold: bool


def flag_comment(session: Session, comment_id: int, reason: str, note: str | None, *,
                 author_token: str | None, ip_hash: str | None) -> FlagOutcome:
    """Record one reader's report; at the site's threshold the comment joins the flagged
    queue (and, if the site says so, is hidden until a moderator decides).

    Readers are counted once per hashed address too: tokens cost nothing to mint, so a
    report from an address that has reported this comment already is kept (the moderator
    reads its note) but does not count towards the threshold. Readers behind one shared
    address count as one, which errs towards leaving a comment up.
    """
    comment = session.get(Comment, comment_id)
    if comment is not None:
        # Two reports from one address must not both find themselves first.
        lock_current(session, comment)
    if comment is None or comment.status != CommentStatus.APPROVED:
        raise NotFound(f"no published comment {comment_id}")
    reporter = _reporter(session, comment, author_token, ip_hash)
    counted = ip_hash is None or session.scalar(
        select(Flag.id).where(Flag.comment_id == comment.id, Flag.ip_hash == ip_hash,
                              Flag.counted).limit(1)) is None
    flag = Flag(comment_id=comment.id, site_id=comment.site_id, reason=FlagReason(reason),
                note=clean_text(note or "")[:1000] or None, reporter=reporter,
                ip_hash=ip_hash, counted=counted)
    try:
        with session.begin_nested():
            session.add(flag)
    except IntegrityError:
        raise AlreadyFlagged("you already reported this comment") from None
    if not counted:
        return FlagOutcome(flag, False)
    session.execute(update(Comment).where(Comment.id == comment.id)
                    .values(flag_count=Comment.flag_count + 1))
    session.refresh(comment)
    site = session.get(Site, comment.site_id)
    assert site is not None
    crossed = comment.flagged_at is None and comment.flag_count >= site.flag_threshold
    if crossed:
        comment.flagged_at = utcnow()
        session.add(AuditEntry(site_id=comment.site_id, subject_type="comment",
                               subject_id=str(comment.id), action="comment.flagged",
                               from_status=str(comment.status), to_status=str(comment.status),
                               actor_type="system", actor_id="flags",
                               reason=_reports(comment.flag_count),
                               details={"threshold": site.flag_threshold}))
        emit(session, comment.site_id, "comment.flagged", str(comment.id),
             comment_payload(comment))
        if site.hide_flagged:
            transition(session, comment, CommentStatus.HELD, Actor.system("flags"),
                       f"hidden after {_reports(comment.flag_count)}, until reviewed")
    return FlagOutcome(flag, crossed)


def _reports(count: int) -> str:
    return "1 reader report" if count == 1 else f"{count} reader reports"


def _reporter(session: Session, comment: Comment, token: str | None,
              ip_hash: str | None) -> str:
    """Who reports, once per comment: the author behind the token, else the address."""
    if token:
        digest = token_digest(token)
        # By the token alone, the site compared after (see submissions._token_author_on).
        known = session.execute(select(Author.id, Author.site_id)
                                .where(Author.token_hash == digest)).first()
        if known is not None and known.site_id == comment.site_id:
            if known.id == comment.author_id:
                # The widget shows no Report button on one's own comment; the API agrees
                # (a report is a reader's judgement of someone else's words).
                raise OwnComment("you cannot report your own comment")
            return f"author:{digest[:32]}"
    if ip_hash:
        return f"ip:{ip_hash}"
    raise DomainError("a report needs an author token or a client address")
