"""The site's own blocked and suspect words, matched through disguises.

Why a check of its own: models miss a community's particular slurs, spam brands and
names, and moderators need a control that acts at once. A blocked word rejects the
comment (score 1.0), a suspect word asks for a human (0.6); each reason names the list
entry. Matching is on whole tokens of the normalised text (:mod:`workers.checks.normalize`)
so "class" is not caught by "ass"; an entry ending in ``*`` also matches words that start
with it ("fuck*" catches "fucking"), and an entry of several words matches the phrase.
Letters may be repeated in the comment ("idiooot") but not dropped ("as" is not "ass").
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from workers.checks.base import CommentContext, Verdict
from workers.checks.normalize import fold, normalize_entry, runs, skeleton, tokens

BLOCKED_SCORE = 1.0
SUSPECT_SCORE = 0.6
MAX_REASONS = 3
# "i d i o t", "i.d.i.o.t": this many single-character tokens in a row are also read joined.
MIN_SPELLED_OUT = 3
# Leet symbols that may also be plain punctuation at a word's edge ("idiot!", "@name").
_EDGE_SYMBOLS = "|!¡@$+€"


@dataclass(frozen=True)
class _Entry:
    """One list entry, pre-normalised: per token its letters and minimum run lengths."""

    text: str
    parts: tuple[tuple[str, tuple[int, ...]], ...]
    prefix: bool  # trailing "*": the last token may continue


@dataclass(frozen=True)
class _Token:
    letters: str
    counts: tuple[int, ...]
    shown: str  # as written in the comment, for the reason


def _compile(entry: str) -> _Entry | None:
    raw = entry.strip()
    prefix = raw.endswith("*")
    parts = normalize_entry(raw.rstrip("*"))
    if not parts:
        return None
    return _Entry(raw, tuple(runs(p) for p in parts), prefix)


@lru_cache(maxsize=256)
def compile_list(entries: tuple[str, ...]) -> tuple[dict[str, list[_Entry]], list[_Entry]]:
    """Entries indexed by their first token's letters; prefix entries kept apart (cached)."""
    exact: dict[str, list[_Entry]] = {}
    prefixes: list[_Entry] = []
    for e in entries:
        compiled = _compile(e) if isinstance(e, str) else None
        if compiled is None:
            continue
        if compiled.prefix and len(compiled.parts) == 1:
            prefixes.append(compiled)
        else:
            exact.setdefault(compiled.parts[0][0], []).append(compiled)
    return exact, prefixes


def _covers(token: _Token, letters: str, counts: tuple[int, ...], prefix: bool) -> bool:
    """Same letters in order, each run at least as long as in the entry."""
    if prefix:
        n = len(letters)
        if token.letters[:n] != letters or len(token.counts) < n:
            return False
        # The entry's last run may continue in the comment ("fuckkk" for "fuck*").
        return all(a >= b for a, b in zip(token.counts[:n], counts, strict=True))
    return token.letters == letters and all(
        a >= b for a, b in zip(token.counts, counts, strict=True))


Position = list[_Token]  # the readings of one word of the comment


def _readings_of(token: str, shown: str) -> Position:
    trims = (token, token.strip(_EDGE_SYMBOLS), token.lstrip(_EDGE_SYMBOLS),
             token.rstrip(_EDGE_SYMBOLS))
    variants = {skeleton(t) for t in trims if t}
    return [_Token(*runs(v), shown) for v in sorted(variants)]


def comment_tokens(text: str) -> list[list[Position]]:
    """Readings of the comment, as sequences of positions: its words (each also with edge
    symbols trimmed: "idiot!"), and every run of single characters joined ("i d i o t")."""
    raw = tokens(fold(text))
    readings = [[_readings_of(t, t) for t in raw]]
    run: list[str] = []
    for t in [*raw, ""]:
        if len(t) == 1:
            run.append(t)
            continue
        if len(run) >= MIN_SPELLED_OUT:
            readings.append([_readings_of("".join(run), " ".join(run))])
        run = []
    return readings


def _window_matches(window: list[Position], entry: _Entry) -> bool:
    last = len(entry.parts) - 1
    return len(window) == len(entry.parts) and all(
        any(_covers(tok, letters, counts, entry.prefix and k == last) for tok in position)
        for k, (position, (letters, counts)) in enumerate(zip(window, entry.parts, strict=True))
    )


def find(text: str, entries: tuple[str, ...]) -> list[tuple[str, str]]:
    """(list entry, as written) for every entry found in ``text``, in list order."""
    exact, prefixes = compile_list(entries)
    if not exact and not prefixes:
        return []
    found: dict[str, str] = {}
    for reading in comment_tokens(text):
        for i, position in enumerate(reading):
            candidates = [e for tok in position for e in exact.get(tok.letters, ())]
            for entry in candidates:
                window = reading[i : i + len(entry.parts)]
                if entry.text not in found and _window_matches(window, entry):
                    found[entry.text] = " ".join(p[0].shown for p in window)
            for entry in prefixes:
                if entry.text not in found and any(
                        _covers(tok, *entry.parts[0], prefix=True) for tok in position):
                    found[entry.text] = position[0].shown
    order = {e: i for i, e in enumerate(entries)}
    return sorted(found.items(), key=lambda kv: order.get(kv[0], 0))


def _reason(kind: str, entry: str, shown: str) -> str:
    written = f" (written {shown!r})" if shown != entry.rstrip("*").strip().casefold() else ""
    return f"{kind} word {entry!r}{written}"


class WordsCheck:
    name = "words"
    version = "words-1"
    kind = "toxicity"

    def run_batch(self, contexts: Sequence[CommentContext]) -> list[Verdict]:
        return [self.run(c) for c in contexts]

    def run(self, ctx: CommentContext) -> Verdict:
        if not ctx.blocked_words and not ctx.suspect_words:
            return Verdict(self.name, self.version, "toxicity", 0.0, [])
        blocked = find(ctx.text, tuple(ctx.blocked_words))
        suspect = find(ctx.text, tuple(ctx.suspect_words)) if not blocked else []
        hits = blocked or suspect
        score = BLOCKED_SCORE if blocked else SUSPECT_SCORE if suspect else 0.0
        kind = "blocked" if blocked else "suspect"
        reasons = [_reason(kind, e, s) for e, s in hits[:MAX_REASONS]]
        if len(hits) > MAX_REASONS:
            reasons.append(f"and {len(hits) - MAX_REASONS} more {kind} word(s)")
        # A suspect word is the site asking for a human, whatever its thresholds.
        return Verdict(self.name, self.version, "toxicity", score, reasons,
                       may_reject=bool(blocked) or not suspect)
