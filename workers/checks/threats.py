"""Threats and wishes of harm: what a human must see even when the words are mild.

Why a check of its own: the toxicity model learnt from talk-page comments and tweets with
few threats in them (14 of the 2,999 Jigsaw dev rows), so it scores by insults and
swearing, and "get cancer and die", "drop dead", "kys" or "go back to your country" pass
it (tox-lr-3: 0.13, 0.02, 0.00 and 0.11). Perspective answers this with a THREAT
attribute; here it is a list of the phrasings, read after folding case, look-alikes,
zero-width characters, digits used as letters and stretched letters ("k1ll yourselfff").

Every hit holds the comment for a human and never rejects it: news comments quote threats
("the suspect shouted 'I will kill you'") and joke with them ("I'm going to kill you if you
spoil the final"), and a moderator who sees a real one can reject and ban. Negated forms
("don't kill yourself over it") do not count.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence

from workers.checks.base import CommentContext, Verdict
from workers.checks.normalize import CONFUSABLES

#: At or above every hold threshold a site can set short of 1 (hold-only: never rejects).
SCORE = 0.9
_YOU = r"(?:you|u|ya|ye|yall|y'all)"
_YOURSELF = r"(?:your\s*self|urself|yourselves|ya\s*self|yo\s*self)"
_I_WILL = (r"\bi\s*(?:'ll|ll|\s+will|\s+shall|'m\s+going\s+to|m\s+going\s+to|\s+am\s+going\s+to"
           r"|'m\s+gonna|m\s+gonna|\s+am\s+gonna|\s+gonna|'d\s+love\s+to|\s+want\s+to)")

INCITES_SELF_HARM = "tells the reader to harm themselves"
WISHES_HARM = "wishes death or harm on the reader"
THREATENS = "threatens violence"
GO_BACK = "tells someone to go back to their country"

#: Words between "I hope" and "you die" that make it the opposite ("I pray none of you die").
_NOT_IN_GAP = r"(?!(?:none|no|not|never|nobody)\b)"
#: After "I will shoot you": an e-mail, not a bullet.
_NOT_A_MESSAGE = r"(?!\s+(?:an?\s+)?(?:e-?mail|message|note|text|line|dm|pm|link|invite)\b)"

_HARM_VERBS = ("kill", "k1ll", "murder", "shoot", "stab", "hurt", "rape", "strangl",
               "slaughter", "hunt", "track", "fuck", "kick", "burn", "slit")

#: (label, anchors, pattern). The pattern runs on folded text (``_canonical``), and only when
#: one of its anchors is in the text as typed, lowercased (a space marks a word boundary):
#: most comments have none, and the fold and the patterns cost 100-300 us on a long comment.
RULES: tuple[tuple[str, tuple[str, ...], re.Pattern[str]], ...] = (
    (INCITES_SELF_HARM, ("self", "selves"), re.compile(
        rf"\b(?:kill|hang|neck|off|end)\s+{_YOURSELF}\b"
        rf"|\bshoot\s+{_YOURSELF}\b(?!\s+in\s+the\s+foot)")),
    (INCITES_SELF_HARM, ("kys",), re.compile(r"\bkys\b")),
    (INCITES_SELF_HARM, ("slit",), re.compile(r"\bslit\s+your\s+(?:wrists?|throat)\b")),
    (INCITES_SELF_HARM, ("bleach",), re.compile(r"\bgo\s+drink\s+bleach\b")),
    (INCITES_SELF_HARM, ("jump off",), re.compile(
        r"\bjump\s+off\s+a\s+(?:bridge|cliff|building|roof)\b")),
    (WISHES_HARM, ("die", "cancer", "aids", "rape", "shot", "kill", "run over", "burn", " rot",
                   "choke", "drown"), re.compile(
        rf"\b(?:hope|wish|pray)(?:\s+{_NOT_IN_GAP}\w+){{0,3}}?\s+{_YOU}\s+(?:all\s+)?"
        r"(?:would\s+|will\s+)?"
        r"(?:die|get\s+(?:cancer|aids|raped|shot|killed|run\s+over)|burn|rot|choke|drown)\b")),
    (WISHES_HARM, ("die", "shot", "kill", "hang", "hung", "rape", "execut", "lynch"), re.compile(
        rf"\b{_YOU}\s+(?:should|deserve\s+to|ought\s+to|need\s+to)\s+(?:all\s+)?"
        r"(?:die|be\s+(?:shot|killed|hanged|hung|raped|executed|lynched))\b")),
    (WISHES_HARM, ("dead",), re.compile(
        r"\bdrop\s+dead\b(?!\s+(?:gorgeous|beautiful|funny|serious|simple|date|easy))")),
    (WISHES_HARM, ("cancer", "aids"), re.compile(
        r"(?:^|[.!?,;:])\s*(?:go\s+)?(?:get|catch)\s+(?:cancer|aids)\b")),
    (WISHES_HARM, (" die", "d1e"), re.compile(
        r"\bgo\s+die\b|\b(?:please|pls|plz)\s+die\b|\bdie\s+in\s+a\s+(?:fire|hole|ditch)\b"
        r"|(?:^|[.!?,;:])\s*die\s+(?:now|already|slowly|painfully)\b"
        rf"|\bwhy\s+don'?t\s+{_YOU}\s+(?:just\s+)?die\b")),
    (WISHES_HARM, ("something bad",), re.compile(
        rf"\bsomething\s+bad\s+(?:will|is\s+going\s+to)\s+happen\s+to\s+{_YOU}\b")),
    # "I will kill you", "I'll go to your house and kill you", "I'm gonna hurt you".
    (THREATENS, _HARM_VERBS, re.compile(
        rf"{_I_WILL}(?:\s+\w+){{0,6}}?\s+(?:"
        rf"(?:kill|murder|shoot|stab|hurt|rape|strangle|slaughter)\s+{_YOU}\b{_NOT_A_MESSAGE}"
        rf"|(?:hunt|track)\s+{_YOU}\s+down\b|fuck\s+{_YOU}\s+up\b|slit\s+(?:your|ur)\s+throat\b"
        r"|kick\s+(?:your|ur)\s+ass\b|burn\s+(?:your|ur)\s+(?:house|home|car)\b)")),
    (THREATENS, ("where you live", "where u live"), re.compile(
        r"\b(?:i\s+know|find\s+out)\s+where\s+(?:you|u)\s+live\b")),
    (THREATENS, ("dead",), re.compile(
        rf"\b{_YOU}(?:'re|re|\s+are)\s+(?:a\s+)?dead(?:\s+(?:man|meat))?\s*(?:[.!]|$)")),
    (GO_BACK, ("go back",), re.compile(
        r"\bgo\s+back\s+(?:to\s+)?(?:(?:your|ur)\s+(?:own\s+)?(?:country|countries)"
        r"|where\s+(?:you|u|they)\s+came\s+from)\b")),
)
_ZERO_WIDTH = "\u200b\u200c\u200d\u2060\ufeff\u00ad"
_PREFILTER_TABLE = str.maketrans({**CONFUSABLES, **dict.fromkeys(_ZERO_WIDTH)})
_FOLDED_BY_PREFILTER = frozenset(CONFUSABLES) | frozenset(_ZERO_WIDTH)
# "don't / do not / never / wouldn't ..." just before: advice or a report, not the act.
_NEGATED = re.compile(
    r"\b(?:don'?t|do\s+not|never|didn'?t|won'?t|wouldn'?t|shouldn'?t|not|no\s+need\s+to)"
    r"(?:\s+\w+){0,2}\s*$")
_DIGITS_AS_LETTERS = str.maketrans({"0": "o", "1": "i", "3": "e", "4": "a", "5": "s",
                                    "7": "t", "@": "a", "$": "s"})
_MAX_CHARS = 5000
_STRETCHED = re.compile(r"([a-z])\1{2,}")
_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "`": "'"})


def _lowered(text: str) -> str:
    """Lowercase, look-alikes and zero-width characters folded: what the anchors are
    looked for in. ``normalize.fold`` would also fold accents and fullwidth letters, but it
    costs 100 us on a long non-ASCII comment, which a check that runs on every comment
    cannot spend for disguises seen less often than these."""
    lowered = text[:_MAX_CHARS].lower()
    if not lowered.isascii() and not _FOLDED_BY_PREFILTER.isdisjoint(lowered):
        lowered = lowered.translate(_PREFILTER_TABLE)
    if "&" in lowered:
        lowered = html.unescape(lowered)
    return lowered


def _canonical(lowered: str) -> str:
    """What the patterns read: apostrophes, digits used as letters and stretched letters
    ("k1ll", "yourselfff") folded, spacing collapsed."""
    canonical = lowered.translate(_APOSTROPHES).translate(_DIGITS_AS_LETTERS)
    return " ".join(_STRETCHED.sub(r"\1", canonical).split())


def find_threats(text: str) -> list[tuple[str, str]]:
    """(label, the words matched) for each kind of threat in ``text``, negated forms left out."""
    lowered = _lowered(text)
    padded = f" {lowered} "
    candidates = [(label, pattern) for label, anchors, pattern in RULES
                  if any(anchor in padded for anchor in anchors)]
    if not candidates:
        return []
    canonical = _canonical(lowered)
    found: list[tuple[str, str]] = []
    for label, pattern in candidates:
        if any(label == seen for seen, _ in found):
            continue
        for match in pattern.finditer(canonical):
            if not _NEGATED.search(canonical[:match.start()]):
                found.append((label, match.group(0).strip(" .!?,;:")))
                break
    return found


class ThreatsCheck:
    name = "threats"
    version = "threats-1"
    kind = "toxicity"

    def run_batch(self, contexts: Sequence[CommentContext]) -> list[Verdict]:
        return [self.run(c) for c in contexts]

    def run(self, ctx: CommentContext) -> Verdict:
        found = find_threats(ctx.text)
        if not found:
            return Verdict(self.name, self.version, self.kind, 0.0, [])
        reasons = [f'{label}: "{words}"' for label, words in found]
        return Verdict(self.name, self.version, self.kind, SCORE, reasons, may_reject=False)
