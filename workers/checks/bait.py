"""Contact bait: the phrases and numbers self-promotion needs to work.

Each pattern carries a weight measured against its cost: on the YouTube file the
self-promotion, subscriber and money patterns hit only spam, and they almost never occur in
ordinary prose (clean Wikipedia talk comments), so one of them asks for a human; e-mail
addresses and phone numbers also appear in honest comments, so they only add up. Hits
combine as independent evidence (1 - product of (1 - weight)): two strong ones reach the
hold band's top, three mark spam.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from workers.checks.base import CommentContext, Verdict, clamp

PATTERNS: tuple[tuple[str, float, re.Pattern[str]], ...] = (  # label, weight, pattern
    ("asks readers to visit their channel or page", 0.6, re.compile(
        r"\b(check(ing)?\s+out|visit|watch|see|listen\s+to|look\s+at|go\s+to)\s+(out\s+)?"
        r"(my|our)\s+(new(est)?\s+)?(channel|video|vids?|page|site|website|blog|music|"
        r"profile|playlist|songs?|track|cover)\b|\bmy\s+(youtube\s+)?channel\b", re.I)),
    ("asks for subscribers or followers", 0.6, re.compile(
        r"\b(sub(scribe)?|sucscribe|subcribe|follow)\s+(to\s+)?(me|my)\b|"
        r"\b(sub|follow|like)\s*(4|for)\s*(sub|follow|like)\b|\bsubscribers?\s+plz|"
        r"\bfollow\s+(me|us)\s+on\b", re.I)),
    ("money-making pitch", 0.6, re.compile(
        r"\b(make|earn|making|earning)\s+(real\s+)?(\$|money|cash|\d+\s*(dollars|usd|\$))|"
        r"\bwork(ing)?\s+from\s+home\b|\bfree\s+(gift\s*cards?|money|iphone|followers)\b|"
        r"\bpromo\s+code\b|\bcrypto\s+(signals|investment)\b", re.I)),
    ("messenger contact", 0.45, re.compile(r"\b(whats\s?app|telegram|wechat|kik)\s*[:@+]?\s*\w",
                                           re.I)),
    # A phone number: optional country code, then 3-3-4 digits; not an ISBN, an IP address
    # or a number inside a longer token (the old looser pattern matched 7% of clean prose).
    ("phone number", 0.45, re.compile(
        r"(?<![\w.:/-])(?:\+\d{1,3}[\s.-]?)?\(?\d{3}\)?[\s.-]?\d{3}[\s.-]?\d{4}(?![\w.:/-])")),
    ("e-mail address in the text", 0.3, re.compile(r"\b[\w.+-]+@[\w-]+\.[\w.]{2,}\b")),
    ("click-bait call to action", 0.45, re.compile(
        r"\bclick\s+(here|the\s+link|my)\b|\blink\s+in\s+(my\s+)?bio\b", re.I)),
)


# Words each pattern cannot match without (lower-cased substrings): a few ``in`` tests let
# most comments skip the regular expressions, which were this check's whole cost.
ANCHORS: dict[str, tuple[str, ...]] = {
    "asks readers to visit their channel or page": (
        "channel", "vid", "page", "site", "blog", "music", "profile", "playlist", "song",
        "track", "cover"),
    "asks for subscribers or followers": ("sub", "scri", "follow", "like"),
    "money-making pitch": ("money", "cash", "dollar", "usd", "$", "home", "free", "promo",
                           "crypto"),
    "messenger contact": ("whats", "telegram", "wechat", "kik"),
    "e-mail address in the text": ("@",),
    "click-bait call to action": ("click", "bio"),
}
_THREE_DIGITS = re.compile(r"\d\d\d")


def _may_match(label: str, lowered: str, raw: str) -> bool:
    if label == "phone number":
        return _THREE_DIGITS.search(raw) is not None
    return any(a in lowered for a in ANCHORS[label])


class BaitCheck:
    name = "bait"
    version = "bait-2"
    kind = "spam"

    def run_batch(self, contexts: Sequence[CommentContext]) -> list[Verdict]:
        return [self.run(c) for c in contexts]

    def run(self, ctx: CommentContext) -> Verdict:
        lowered = ctx.text.lower()
        hits = [(label, weight) for label, weight, pattern in PATTERNS
                if _may_match(label, lowered, ctx.text) and pattern.search(ctx.text)]
        miss = 1.0
        for _, weight in hits:
            miss *= 1.0 - weight
        return Verdict(self.name, self.version, "spam", clamp(1.0 - miss),
                       [label for label, _ in hits])
