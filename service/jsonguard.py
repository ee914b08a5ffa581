"""Refuse JSON that parses in Python but is not usable: NaN/Infinity, absurd nesting, numbers
too long to convert, duplicate keys (``{"body": "ok", "body": "..."}`` means whichever one
a parser keeps: a proxy that read the first would disagree with the service, which would
store the last), and lone surrogates (``"\ud800"`` is valid JSON but not text: PostgreSQL
cannot store it).

The body has already passed the size limit, so checking it here costs one parse of at
most ``WARDEN_MAX_REQUEST_BYTES``.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

MAX_DEPTH = 20
# No field takes a number anywhere near this long. Past 4300 digits Python refuses to convert
# an integer at all (a ValueError that webargs, parsing the body again, does not expect).
MAX_NUMBER_CHARS = 100
_SURROGATE = re.compile("[\ud800-\udfff]")
# NUL cannot be stored in PostgreSQL text; lone surrogates cannot be encoded at all.
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def check_text(value: str, where: str) -> None:
    """Refuse text no database column can hold, wherever it comes from (path, query)."""
    if _UNSTORABLE.search(value):
        raise BadJson(f"{where} contains a NUL character or invalid Unicode")


class BadJson(ValueError):
    pass


def _refuse_constant(name: str) -> Any:
    raise BadJson(f"{name} is not valid JSON")


def _number(text: str) -> str:
    if len(text) > MAX_NUMBER_CHARS:
        raise BadJson(f"a number is longer than {MAX_NUMBER_CHARS} characters")
    return text


def _parse_int(text: str) -> int:
    return int(_number(text))


def _parse_float(text: str) -> float:
    value = float(_number(text))
    if not math.isfinite(value):  # 1e400 parses as inf: Infinity by another name
        raise BadJson(f"{text} is out of range")
    return value


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise BadJson(f"key {key[:40]!r} appears more than once in a JSON object")
            seen.add(key)
    return obj


def check_json(data: bytes) -> None:
    """Raise BadJson for a body that parses but is not usable. Malformed JSON passes: the
    schema layer parses the body again and answers 400 "not valid JSON"; so whatever makes
    that second parse fail other than malformed JSON (nesting, number length) is refused
    here."""
    if not data.strip():
        return
    try:
        doc = json.loads(data, parse_constant=_refuse_constant, parse_int=_parse_int,
                         parse_float=_parse_float, object_pairs_hook=_object)
    except BadJson:
        raise
    except RecursionError:
        raise BadJson(f"JSON nested deeper than {MAX_DEPTH} levels") from None
    except (ValueError, UnicodeDecodeError):
        return  # malformed: the schema layer answers 400 "not valid JSON"
    _walk(doc)


def _walk(value: Any) -> None:
    stack = [(value, 1)]
    while stack:
        node, level = stack.pop()
        if level > MAX_DEPTH:
            raise BadJson(f"JSON nested deeper than {MAX_DEPTH} levels")
        if isinstance(node, str) and _SURROGATE.search(node):
            raise BadJson("text contains a lone surrogate (invalid Unicode)")
        if isinstance(node, str) and "\x00" in node:
            raise BadJson("text contains a NUL character")
        if isinstance(node, dict):
            stack.extend((k, level + 1) for k in node)
            stack.extend((v, level + 1) for v in node.values())
        elif isinstance(node, list):
            stack.extend((v, level + 1) for v in node)
