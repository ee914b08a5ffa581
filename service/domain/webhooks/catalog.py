"""Event types a webhook endpoint can subscribe to.

An endpoint lists exact types, ``group.*`` wildcards (``comment.*``), or ``*`` for all.
Names are checked against this catalogue so a typo is refused instead of silently never
matching; a new event type is added here when code starts emitting it.
"""

from __future__ import annotations

from collections.abc import Iterable

ALL = "*"
PING = "ping"  # sent only by an admin's test, to one endpoint; not subscribable
DISABLED = "webhook.disabled"  # announced to the site's other endpoints, not the one it names

EVENT_TYPES: dict[str, str] = {
    "comment.created": "a reader submitted a comment",
    "comment.pending": "an edited comment went back to moderation",
    "comment.approved": "a comment was published",
    "comment.rejected": "a comment was rejected (toxicity, policy, a moderator)",
    "comment.held": "a comment waits for a moderator",
    "comment.spam": "a comment was marked as spam",
    "comment.deleted": "a comment was deleted",
    "comment.edited": "an author edited their comment",
    "comment.flagged": "a reader reported a comment",
    "comment.reviewed": "a moderator confirmed a comment's status (and cleared its reports)",
    "author.banned": "an author was banned",
    "author.suspended": "an author was suspended",
    "author.trusted": "an author was marked as trusted",
    "author.reset": "an author's ban, suspension or trust was lifted",
    "author.erased": "an author's personal data was erased on request",
    "webhook.disabled": "a webhook endpoint of the site was disabled after failing",
}

GROUPS = frozenset(name.split(".", 1)[0] for name in EVENT_TYPES)


def unknown_types(requested: Iterable[str]) -> list[str]:
    """The entries that are neither a known type, a known ``group.*``, nor ``*``."""
    return [name for name in requested if not _is_known(name)]


def _is_known(name: str) -> bool:
    if name == ALL or name in EVENT_TYPES:
        return True
    group, _, rest = name.partition(".")
    return rest == "*" and group in GROUPS


def matches(subscribed: Iterable[str], event_type: str) -> bool:
    group = event_type.split(".", 1)[0]
    wanted = set(subscribed)
    return ALL in wanted or event_type in wanted or f"{group}.*" in wanted
