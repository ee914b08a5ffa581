"""Input fields several schemas share: article keys, points in time, pagination cursors."""

from __future__ import annotations

import base64
import binascii
import json
import unicodedata
from datetime import UTC, datetime
from typing import Any

from marshmallow import ValidationError, fields, validate

from service.domain.errors import DomainError
from service.domain.rendering import has_visible
from service.models import Article

# Ids in a cursor go into SQL as integers: past 64 bits the driver overflows (a 500).
CURSOR_ID_LIMIT = 2**63


ARTICLE_KEY_MAX = Article.__table__.c.key.type.length  # String(512), spaces aside


class ArticleKey(fields.Str):
    """A site's key for an article. Stored keys are stripped, so strip before validating:
    otherwise "   " passes ``Length(1, ...)`` and becomes the unreadable key ""."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("validate", [validate.Length(1, ARTICLE_KEY_MAX), _readable_key])
        super().__init__(**kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        return super()._deserialize(value, attr, data, **kwargs).strip()


def not_blank(value: str) -> None:
    """Names and titles are shown to people: spaces or zero-width characters alone are
    refused (send null where a field may be cleared)."""
    if not has_visible(value):
        raise ValidationError("Nothing visible in it.")


def _readable_key(key: str) -> None:
    """A key becomes a stored article an admin must find again: a line break or a key of
    zero-width characters would make one nobody can type or see."""
    if any(unicodedata.category(ch) == "Cc" for ch in key):
        raise ValidationError("No control characters (line breaks, tabs).")
    not_blank(key)


class RequestedArticleKey(fields.Str):
    """An article key as the page asked for it: checked stripped, like ``ArticleKey``, but
    kept as sent, so an answer keyed by it (counts) is found under the key the page used."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("validate", _key_length)
        super().__init__(**kwargs)


def _key_length(key: str) -> None:
    if not 1 <= len(key.strip()) <= ARTICLE_KEY_MAX:
        raise ValidationError(f"Between 1 and {ARTICLE_KEY_MAX} characters, spaces aside.")


class Instant(fields.AwareDateTime):
    """An aware ISO 8601 time that is also a time in UTC.

    ``9999-12-31T23:59:59-05:00`` parses, but is past ``datetime.max`` in UTC, and storing
    or comparing it converts it (an OverflowError, a 500). A day of margin at both ends
    keeps the value representable in any zone a driver may hand it back in.
    """

    EARLIEST = datetime(1, 1, 2, tzinfo=UTC)
    LATEST = datetime(9999, 12, 30, tzinfo=UTC)
    default_error_messages = {
        "out_of_range": "Must be between 0001-01-02 and 9999-12-30 (UTC).",
    }

    def _deserialize(self, value: Any, attr: str | None, data: Any,
                     **kwargs: Any) -> datetime:
        moment = super()._deserialize(value, attr, data, **kwargs)
        try:
            in_utc = moment.astimezone(UTC)
        except OverflowError:
            raise self.make_error("out_of_range") from None
        if not self.EARLIEST <= in_utc <= self.LATEST:
            raise self.make_error("out_of_range")
        return moment


def issued_cursor(token: str) -> None:
    """Refuse a pagination token that is not one the service issued: base64 JSON with a
    sort name and a database id (an int, not a float, bool or string, in 0 .. 2**63).

    The answer is the 400 every unreadable cursor gets (``Cursor.decode``), raised here
    because an absurd id (10**20, 1e300) decodes there and then overflows in SQL.
    """
    if not token:
        return  # "cursor=": the first page, as the views read it
    try:
        doc = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    except (binascii.Error, ValueError, UnicodeDecodeError, RecursionError):
        doc = None
    after = doc.get("a") if isinstance(doc, dict) else None
    if not (isinstance(doc, dict) and isinstance(doc.get("s"), str) and type(after) is int
            and 0 <= after < CURSOR_ID_LIMIT):
        raise DomainError("the cursor is not valid", fields={"cursor": ["Invalid cursor."]})


def cursor_arg() -> fields.Str:
    """The ``cursor`` query argument of a paginated list."""
    return fields.Str(load_default=None, validate=[validate.Length(max=200), issued_cursor])


class JsonBool(fields.Bool):
    """A JSON body's true or false, nothing else: marshmallow's Boolean also takes "yes",
    "off", 1 and "0", so a typo such as {"hide_flagged": "no"} would change a setting."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> bool:
        if not isinstance(value, bool):
            raise self.make_error("invalid")
        return value


class JsonFloat(fields.Float):
    """A JSON number (an integer is fine), not a string of digits nor true/false."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.make_error("invalid")
        return super()._deserialize(value, attr, data, **kwargs)
