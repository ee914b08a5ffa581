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

from workers.checks.base import PhrasingCheck
from workers.checks.normalize import CONFUSABLES, LEET

_YOU = r"(?:you|u|ya|ye|yall|y'all)"
# "yourself", not "your self-esteem"; "kill yourself laughing" is praise.
_YOURSELF = r"(?:your\s*self|urself|yourselves|ya\s*self|yo\s*self)\b(?!-)(?!\s+laughing)"
# A real "I" ("ill" is a word: "pollution makes you ill and can kill you").
_I_WILL = (r"\b(?:i'll|i\s+will|i\s+shall|i'm\s+going\s+to|im\s+going\s+to|i\s+am\s+going\s+to"
           r"|i'm\s+gonna|im\s+gonna|i\s+am\s+gonna|i\s+gonna|i'd\s+love\s+to)")
_CLAUSE_END = r"\s*(?:[.!?]|$)"
_CLAUSE_START = r"(?:^|[.!?,;:])\s*"

INCITES_SELF_HARM = "tells the reader to harm themselves"
WISHES_HARM = "wishes death or harm on the reader"
THREATENS = "threatens violence"
GO_BACK = "tells someone to go back to their country"

#: Words between "I hope" and "you die" that make it the opposite ("I pray none of you die").
_NOT_IN_GAP = r"(?!(?:none|no|not|never|nobody)\b)"
#: Words between "I will" and "kill you" that make it something else: a negation ("I will
#: never hurt you"), a question or a report ("I'll tell you what will kill you").
_NOT_IN_THREAT_GAP = (r"(?!(?:never|not|no|if|what|whether|how|why|that|which|tell|know|ask"
                      r"|think|say|bet|wonder)\b)")
#: After "I will shoot you": an e-mail, not a bullet ("I'll shoot you a quick email").
_NOT_A_MESSAGE = (r"(?!\s+(?:(?:an?|the|my|our|some)\s+)?(?:\w+\s+)?(?:e-?mails?|message|note"
                  r"|text|line|dm|pm|link|invite|details|copy|reply|answer|update)\b)")

_HARM_VERBS = ("kill", "murder", "shoot", "stab", "hurt", "rape", "strangl", "slaughter",
               "hunt", "track", "fuck", "kick", "burn", "slit")

#: (label, anchors, pattern). The pattern runs on folded text (``_canonical``), and only when
#: one of its anchors is in it (a space marks a word boundary): most comments have none, and
#: the patterns cost 100-300 us on a long comment.
RULES: tuple[tuple[str, tuple[str, ...], re.Pattern[str]], ...] = (
    (INCITES_SELF_HARM, ("self", "selves"), re.compile(
        rf"\b(?:kill|hang|neck|end)\s+{_YOURSELF}"
        rf"|\bshoot\s+{_YOURSELF}(?!\s+in\s+the\s+foot)")),
    (INCITES_SELF_HARM, ("kys",), re.compile(r"\bkys\b")),
    (INCITES_SELF_HARM, ("slit",), re.compile(r"\bslit\s+your\s+(?:wrists?|throat)\b")),
    (INCITES_SELF_HARM, ("bleach",), re.compile(r"\bgo\s+drink\s+bleach\b")),
    (INCITES_SELF_HARM, ("jump off",), re.compile(
        rf"(?:{_CLAUSE_START}|\bgo\s+)jump\s+off\s+a\s+(?:bridge|cliff|building|roof)\b")),
    (WISHES_HARM, ("die", "cancer", "aids", "rape", "shot", "kill", "run over", "burn", " rot",
                   "choke", "drown"), re.compile(
        rf"\b(?:hope|wish|pray)(?:\s+{_NOT_IN_GAP}\w+){{0,3}}?\s+{_YOU}\s+(?:all\s+)?"
        r"(?:would\s+|will\s+)?"
        r"(?:die|get\s+(?:cancer|aids|raped|shot(?!\s+of)|killed|run\s+over)"
        rf"|(?:burn|rot)(?:\s+in\s+hell)?{_CLAUSE_END}|choke|drown)\b")),
    (WISHES_HARM, ("die", "shot", "kill", "hang", "hung", "rape", "execut", "lynch"), re.compile(
        rf"\b{_YOU}\s+(?:should|deserve\s+to|ought\s+to|need\s+to)\s+(?:all\s+)?"
        r"(?:die|be\s+(?:shot|killed|hanged|hung|raped|executed|lynched))\b")),
    (WISHES_HARM, ("dead",), re.compile(
        r"\bdrop\s+dead\b(?!\s+(?:gorgeous|beautiful|funny|serious|simple|date|easy))")),
    (WISHES_HARM, ("cancer", "aids"), re.compile(
        rf"{_CLAUSE_START}(?:go\s+)?(?:get|catch)\s+(?:cancer|aids)(?:\s+and\s+die)?"
        rf"{_CLAUSE_END}")),
    (WISHES_HARM, (" die",), re.compile(
        rf"\bgo\s+die\b|\b(?:please|pls|plz)\s+die\b"
        rf"|(?:{_CLAUSE_START}|\b(?:go|just|please|and)\s+)die\s+in\s+a\s+(?:fire|hole|ditch)\b"
        rf"|{_CLAUSE_START}die\s+(?:now|already|slowly|painfully)\b"
        rf"|\bwhy\s+don'?t\s+{_YOU}\s+(?:just\s+)?die\b")),
    (WISHES_HARM, ("something bad",), re.compile(
        rf"\bsomething\s+bad\s+(?:will|is\s+going\s+to)\s+happen\s+to\s+{_YOU}\b")),
    # "I will kill you", "I'll go to your house and kill you", "I'm gonna hurt you".
    (THREATENS, _HARM_VERBS, re.compile(
        rf"{_I_WILL}(?:\s+{_NOT_IN_THREAT_GAP}\w+){{0,6}}?\s+(?:"
        rf"(?:kill|murder|shoot|stab|hurt|rape|strangle|slaughter)\s+{_YOU}\b{_NOT_A_MESSAGE}"
        rf"|(?:hunt|track)\s+{_YOU}\s+down\b|fuck\s+{_YOU}\s+up\b|slit\s+(?:your|ur)\s+throat\b"
        r"|kick\s+(?:your|ur)\s+ass\b|burn\s+(?:your|ur)\s+(?:house|home|car)\b)")),
    (THREATENS, ("where you live", "where u live"), re.compile(
        rf"\bi\s+know\s+where\s+(?:you|u)\s+live\b"
        rf"|{_I_WILL}\s+find\s+out\s+where\s+(?:you|u)\s+live\b")),
    (THREATENS, ("dead",), re.compile(
        rf"\b{_YOU}(?:'re|re|\s+are)\s+(?:a\s+)?dead(?:\s+(?:man|meat))?{_CLAUSE_END}")),
    (GO_BACK, ("go back", "your country", "ur country", "came from"), re.compile(
        r"\bgo\s+back\s+(?:to\s+)?(?:(?:your|ur)\s+(?:own\s+)?(?:country|countries)"
        r"|where\s+(?:you|u)\s+came\s+from)\b")),
)
_ZERO_WIDTH = "\u200b\u200c\u200d\u2060\ufeff\u00ad"
_PREFILTER_TABLE = str.maketrans({**CONFUSABLES, **dict.fromkeys(_ZERO_WIDTH)})
FOLDED_BY_PREFILTER = frozenset(CONFUSABLES) | frozenset(_ZERO_WIDTH)
# A negation governing the matched words ("don't kill yourself over it", "never go back to
# your country"), not one earlier in a conditional ("if you don't stop I'll hurt you").
_NEGATED = re.compile(
    r"\b(?:don'?t|do\s+not|never|didn'?t|won'?t|wouldn'?t|shouldn'?t|not|no\s+need\s+to)"
    r"(?:\s+(?:ever|just|even|really|go|to))?\s*$")
# Digits and symbols read as letters (the word lists' spelling, ``normalize.LEET``), inside
# a word only ("k1ll", "sh00t"; not "option 1"). Not "!", "|" or "+": after a word they are
# punctuation ("die!").
_LEET_CHARS = "013457@$"
_LEET = str.maketrans({c: LEET[c] for c in _LEET_CHARS})
_LEET_RUN = f"[{re.escape(_LEET_CHARS)}]+"
_LEET_IN_WORD = re.compile(rf"(?<=[a-z]){_LEET_RUN}|{_LEET_RUN}(?=[a-z])")
_DISGUISED = re.compile(rf"[a-z]{_LEET_RUN}[a-z]")
#: Every rule's anchors once: the gate every comment goes through.
_ALL_ANCHORS = tuple(dict.fromkeys(anchor for _, anchors, _ in RULES for anchor in anchors))
MAX_CHARS = 5000
_STRETCHED = re.compile(r"([a-z])\1{2,}")
_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "`": "'"})


def lowered_for_patterns(text: str) -> str:
    """Lowercase, look-alikes and zero-width characters folded. ``normalize.fold`` would
    also fold accents and fullwidth letters, but it costs 100 us on a long non-ASCII
    comment, which a check that runs on every comment cannot spend for disguises seen less
    often than these."""
    lowered = text[:MAX_CHARS].lower()
    if not lowered.isascii() and not FOLDED_BY_PREFILTER.isdisjoint(lowered):
        lowered = lowered.translate(_PREFILTER_TABLE)
    if "&" in lowered:
        lowered = html.unescape(lowered)
    return lowered.translate(_APOSTROPHES)


def canonical_forms(lowered: str) -> list[str]:
    """What the patterns read: digits used as letters and spacing folded, and stretched
    letters read both as one and as two ("kiiill" is "kill", "yourselfff" "yourself")."""
    text = _LEET_IN_WORD.sub(lambda m: m.group(0).translate(_LEET), lowered)
    text = " ".join(text.split())
    if not _STRETCHED.search(text):
        return [text]
    return [_STRETCHED.sub(r"\1", text), _STRETCHED.sub(r"\1\1", text)]


def _may_contain(lowered: str) -> bool:
    """Whether any rule could match: an anchor as typed, or digits inside a word that may
    hide one ("k1ll", "sh00t"). Most comments have neither, and for them the folds (as
    costly as the patterns) are skipped. Stretched letters and runs of spaces are folded
    only past this gate: "kiiill yourself" passes it by "self", "go diiie" does not (they
    are too common in harmless comments, "soooo good", to open the gate alone)."""
    padded = f" {lowered} "
    return (any(anchor in padded for anchor in _ALL_ANCHORS)
            or _DISGUISED.search(lowered) is not None)


def find_threats(text: str) -> list[tuple[str, str]]:
    """(label, the words matched) for each kind of threat in ``text``, negated forms left out."""
    lowered = lowered_for_patterns(text)
    if not _may_contain(lowered):
        return []
    found: list[tuple[str, str]] = []
    for canonical in canonical_forms(lowered):
        padded = f" {canonical} "
        for label, anchors, pattern in RULES:
            if any(label == seen for seen, _ in found):
                continue
            if not any(anchor in padded for anchor in anchors):
                continue
            for match in pattern.finditer(canonical):
                if not _NEGATED.search(canonical[:match.start()]):
                    found.append((label, match.group(0).strip(" .!?,;:")))
                    break
    order = [label for label, _, _ in RULES]
    return sorted(found, key=lambda hit: order.index(hit[0]))


class ThreatsCheck(PhrasingCheck):
    name = "threats"
    version = "threats-1"

    def find(self, text: str) -> list[tuple[str, str]]:
        return find_threats(text)
