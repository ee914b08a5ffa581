"""Moderators' decisions as labelled examples, written in the decision's own transaction.

A decision and its label commit together or not at all, so the training set never holds a
verdict the moderation record does not (and vice versa). One label per comment: a later
decision on the same comment replaces the earlier one (the moderator changed their mind).
"""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from service.domain.lifecycle import Actor
from service.models import Comment, LabelKind, ModerationLabel, utcnow

# approve -> ham; spam -> spam; reject -> toxic (a rejection on a news site is about
# abuse, not advertising: replays count it as a confirmed rejection, the spam model
# ignores it).
LABEL_FOR_ACTION = {"approve": LabelKind.HAM, "spam": LabelKind.SPAM, "reject": LabelKind.TOXIC}


def record_label(session: Session, comment: Comment, action: str, actor: Actor) -> bool:
    """Store (or replace) the label a moderator's ``action`` on ``comment`` means.

    Returns False when the comment already had this label for this text: the moderator
    repeated a verdict they gave before.
    """
    label = LABEL_FOR_ACTION[action]
    source = f"{actor.type}:{actor.id}" if actor.id else actor.type
    existing = session.scalar(select(ModerationLabel)
                              .where(ModerationLabel.comment_id == comment.id))
    if existing is None:
        try:
            with session.begin_nested():
                session.add(ModerationLabel(site_id=comment.site_id, comment_id=comment.id,
                                            author_id=comment.author_id, text=comment.body,
                                            label=label, source=source[:80]))
            return True
        except IntegrityError:
            # Another moderator's decision on this comment committed its label first.
            existing = session.scalar(select(ModerationLabel)
                                      .where(ModerationLabel.comment_id == comment.id))
            if existing is None:
                raise
    if existing.label == label and existing.text == comment.body:
        return False  # a repeated decision changes nothing, not even the label's time
    existing.label = label
    existing.text = comment.body
    existing.source = source[:80]
    existing.created_at = utcnow()
    return True


def erase_labels(session: Session, author_id: int) -> int:
    """Delete every label made from this author's text (privacy erasure)."""
    return int(session.execute(delete(ModerationLabel)
                               .where(ModerationLabel.author_id == author_id)).rowcount or 0)


def labels_of_author(session: Session, author_id: int) -> list[ModerationLabel]:
    return list(session.scalars(select(ModerationLabel)
                                .where(ModerationLabel.author_id == author_id)
                                .order_by(ModerationLabel.id)))
