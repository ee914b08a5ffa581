"""Canonical spelling of comment text for per-site word lists.

Why: a word list is only worth having if "idiot" also catches it in Cyrillic, "i d i o t",
"1d10t", "idiooot", "i\u200bdiot" and "ⓘⓓⓘⓞⓣ", while "assassin" stays clean when "ass" is
blocked. So both the list entries and the comment are folded the same way (:func:`fold`,
:func:`skeleton`) and compared token by token (:mod:`workers.checks.words`), with repeated
letters compared by run length rather than squeezed away (squeezing would make "as" equal
"ass").

No dependency: NFKC already maps fullwidth, mathematical, circled and superscript letters;
the small table below adds the look-alikes NFKC leaves alone (Cyrillic, Greek, small
capitals, IPA). It is not all of Unicode TR39, on purpose: those are the ones seen in abuse.
"""

from __future__ import annotations

import html
import re
import unicodedata
from functools import lru_cache

# Look-alikes that survive NFKC + casefold, by the Latin letter(s) they imitate: Cyrillic,
# Greek, Latin small capitals, IPA and stroked letters (escaped: they are look-alikes).
_LOOKALIKES: tuple[tuple[str, str], ...] = (
    ("3", "\u0437"),  # Cyr ze
    ("a", "\u0430\u03b1\u0251\u1d00"),  # Cyr a, Gr alpha, Lat alpha, small cap a
    ("ae", "\u00e6"),  # Lat ae
    ("b", "\u0432\u044c\u03b2\u0299"),  # Cyr ve, Cyr soft sign, Gr beta, small cap b
    ("c", "\u0441\u1d04"),  # Cyr es, small cap c
    ("d", "\u0501\u1d05\u0111"),  # Cyr komi de, small cap d, Lat d with stroke
    ("e", "\u0435\u0451\u03b5\u1d07"),  # Cyr ie, Cyr io, Gr epsilon, small cap e
    ("f", "\ua730"),  # small cap f
    ("g", "\u0261\u0262"),  # Lat script g, small cap g
    ("h", "\u043d\u04bb\u029c"),  # Cyr en, Cyr shha, small cap h
    ("i", "\u0456\u0457\u03b9\u0131\u0269\u026a"),  # Cyr byelorussian-ukrainian i, Cyr yi, Gr io...
    ("j", "\u0458\u0237\u1d0a"),  # Cyr je, Lat dotless j, small cap j
    ("k", "\u043a\u03ba\u1d0b"),  # Cyr ka, Gr kappa, small cap k
    ("l", "\u04cf\u029f\u0142"),  # Cyr palochka, small cap l, Lat l with stroke
    ("m", "\u043c\u1d0d"),  # Cyr em, small cap m
    ("n", "\u043f\u03b7\u0274"),  # Cyr pe, Gr eta, small cap n
    ("o", "\u043e\u03bf\u03c3\u1d0f\u00f8"),  # Cyr o, Gr omicron, Gr sigma, small cap o, Lat o w...
    ("oe", "\u0153"),  # Lat oe
    ("p", "\u0440\u03c1\u1d18"),  # Cyr er, Gr rho, small cap p
    ("q", "\u051b\u01eb"),  # Cyr qa, Lat o with ogonek
    ("r", "\u0280"),  # small cap r
    ("s", "\u0455\u03c2\ua731"),  # Cyr dze, Gr final sigma, small cap s
    ("ss", "\u00df"),  # Lat sharp s
    ("t", "\u0442\u03c4\u1d1b\u0167"),  # Cyr te, Gr tau, small cap t, Lat t with stroke
    ("u", "\u03c5\u03bc\u1d1c"),  # Gr upsilon, Gr mu, small cap u
    ("v", "\u03bd\u1d20"),  # Gr nu, small cap v
    ("w", "\u051d\u03c9\u1d21"),  # Cyr we, Gr omega, small cap w
    ("x", "\u0445\u03c7"),  # Cyr ha, Gr chi
    ("y", "\u0443\u04af\u03b3\u028f"),  # Cyr u, Cyr straight u, Gr gamma, small cap y
    ("z", "\u1d22"),  # small cap z
)
CONFUSABLES: dict[str, str] = {c: latin for latin, chars in _LOOKALIKES for c in chars}
# Regional indicator symbols (flag letters) read as letters.
CONFUSABLES.update({chr(0x1F1E6 + i): chr(ord("a") + i) for i in range(26)})

# Leetspeak: digits and symbols used inside words. "1", "l", "|", "!" all look like "i",
# so they share one letter on both sides of the comparison.
LEET: dict[str, str] = {
    "0": "o", "1": "i", "l": "i", "|": "i", "!": "i", "¡": "i", "3": "e", "€": "e", "4": "a",
    "@": "a", "5": "s", "$": "s", "7": "t", "+": "t", "8": "b", "9": "g", "6": "g",
}
_CONFUSABLE_TABLE = str.maketrans(CONFUSABLES)
_LEET_TABLE = str.maketrans(LEET)
_LEET_SYMBOLS = "".join(c for c in LEET if not c.isalnum())
#: A token: letters, digits, and the leet symbols between them ("sh!t", "$hit", "@ss").
_TOKEN = re.compile(rf"[\w{re.escape(_LEET_SYMBOLS)}]+")
_SPACES = re.compile(r"\s+")
_ASCII_CONTROLS = dict.fromkeys([*range(9), *range(14, 28), 127])
_MAX_CHARS = 20_000


def _strip_invisible_and_marks(text: str) -> str:
    """Drop format characters (zero-width, bidi, BOM, soft hyphen, tags) and combining marks."""
    return "".join(
        c for c in unicodedata.normalize("NFKD", text)
        if unicodedata.category(c) not in ("Cf", "Mn", "Me", "Cc") or c.isspace()
    )


def fold(text: str) -> str:
    """Case, accents, compatibility forms, look-alikes and invisibles folded away.

    Keeps punctuation and spacing (tokens are split later). Iterates to a fixed point so
    the result is stable: folding it again changes nothing.
    """
    if not text:
        return ""
    t = html.unescape(text[:_MAX_CHARS])
    for _ in range(4):
        before = t
        if t.isascii():  # the common case: no marks, look-alikes or format characters
            t = t.translate(_ASCII_CONTROLS).lower()
        else:
            t = _strip_invisible_and_marks(t)
            # Look-alikes mapped before and after case folding (final sigma folds to sigma).
            t = unicodedata.normalize("NFKC", t).translate(_CONFUSABLE_TABLE)
            t = t.casefold().translate(_CONFUSABLE_TABLE)
        t = html.unescape(t)
        if t == before:
            break
    return _SPACES.sub(" ", t).strip()


def skeleton(token: str) -> str:
    """A folded token with leetspeak read as letters ("1d10t" -> "idiot", "l" -> "i")."""
    return token.translate(_LEET_TABLE)


def tokens(folded: str) -> list[str]:
    """Word tokens of folded text, leet symbols kept inside them."""
    return _TOKEN.findall(folded)


def normalize_text(text: str) -> str:
    """The canonical form of ``text`` for word lists: folded tokens, leet read as letters.

    Idempotent, never raises, and the same function is applied to list entries, so what
    a moderator types in the list and what a commenter disguises meet in one spelling.
    """
    return " ".join(skeleton(t) for t in tokens(fold(text)))


def runs(word: str) -> tuple[str, tuple[int, ...]]:
    """Run-length form: ("idiot", (1, 1, 1, 2, 1)) for "idiioot" -> letters and counts."""
    letters: list[str] = []
    counts: list[int] = []
    for c in word:
        if letters and letters[-1] == c:
            counts[-1] += 1
        else:
            letters.append(c)
            counts.append(1)
    return "".join(letters), tuple(counts)


@lru_cache(maxsize=4096)
def normalize_entry(entry: str) -> tuple[str, ...]:
    """A list entry as normalised tokens (a phrase has several); empty if nothing is left."""
    return tuple(normalize_text(entry).split())


__all__ = [
    "CONFUSABLES",
    "LEET",
    "fold",
    "normalize_entry",
    "normalize_text",
    "runs",
    "skeleton",
    "tokens",
]
