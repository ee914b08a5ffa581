"""Contact bait: the phrases and numbers self-promotion needs to work.

Each pattern carries a weight measured against its cost. Promoting one's own channel,
videos or music, begging for subscribers and like-farming in a short comment hit only spam
on the YouTube file and nothing in ordinary prose (clean Wikipedia talk comments), so they
decide alone; a page or site of one's own and money pitches also hit only spam, but their
words are closer to prose, so they ask for a human; e-mail addresses and phone numbers
appear in honest comments, so they only add up. Hits combine as independent evidence
(1 - product of (1 - weight)).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from workers.checks.base import CommentContext, Verdict, clamp

LIKE_FARMING = "asks readers to like the comment"
#: A comment whose whole point is the ask ("like this comment if you're watching in 2015")
#: is at most this long; a reader who argues a point and adds "like if you agree" writes more.
SHORT_COMMENT_WORDS = 25

# (label, weight, pattern). Self-promotion of the poster's own channel, videos or music and
# the subscriber asks decide alone (0.9, the default reject threshold): on the YouTube dev
# file they hit 150 spam and no ham, and in the 5,927 clean Wikipedia talk comments they hit
# nothing once "follow me" needs "on" after it and a page or site is a weaker pattern of its
# own ("harass and follow me to articles", "someone will see my page" were the two hits).
PATTERNS: tuple[tuple[str, float, re.Pattern[str]], ...] = (
    ("promotes the poster's own channel, videos or music", 0.9, re.compile(
        r"\b(check(ing)?\s+out|visit|watch|see|listen\s+to|look\s+at|go\s+to)\s+(out\s+)?"
        r"(my|our)\s+(new(est)?\s+)?(channel|videos?|vids?|blog|music|profile|playlist|songs?|"
        r"track|cover)\b|\bmy\s+(youtube\s+)?channel\b", re.I)),
    ("asks readers to visit their page or site", 0.6, re.compile(
        r"\b(check(ing)?\s+out|visit|watch|see|look\s+at|go\s+to)\s+(out\s+)?(my|our)\s+"
        r"(new\s+)?(page|site|website)\b", re.I)),
    ("asks for subscribers or followers", 0.9, re.compile(
        r"\b(sub(scribe)?|sucscribe|subcribe)\s+(to\s+)?(me|my|our)\b|"
        r"\b(sub|follow|like)\s*(4|for)\s*(sub|follow|like)\b|\bsubscribers?\s+plz|"
        r"\bfollow\s+(me|us)\s+on\b|\bfollow\s+(my|our)\s+(channel|blog|page|account|"
        r"instagram|twitter|tiktok)\b", re.I)),
    # "Business could not make money" is prose; the pitch says how easy, where or what for.
    ("money-making pitch", 0.6, re.compile(
        r"\bearn(ing)?\s+(real\s+|free\s+|easy\s+|extra\s+)?(\$|money|cash|\d+\s*(dollars|usd|\$))|"
        r"\b(make|making)\s+(real\s+|easy\s+|extra\s+|free\s+)?(\$\s?\d+|money|cash)\s+"
        r"(online|today|now|fast|from\s+home|on\s+(social\s+media|the\s+internet|facebook|"
        r"youtube|instagram))\b|"
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
    # Like-farming: the ask itself ("like this comment if you're watching in 2015", "please
    # like this comment", "how many people like this comment"), not a reader who says "I like
    # this comment" or "I'd like this comment section moderated". Its weight depends on what
    # else the comment says (``like_farming_weight``).
    (LIKE_FARMING, 0.9, re.compile(
        r"^\W*(?:please\s+|pls\s+|plz\s+)?(?:do\s*n(?:o|&#39;|')?t\s+)?"
        r"(?:like|thumbs?\s+up)\s+(?:this|my)\s+comment\b(?!\s+(?:section|thread|box|field))|"
        r"\b(?:please|pls|plz)\s+(?:like|thumbs?\s+up)\s+(?:this|my)\s+comment\b|"
        r"\b(?:like|thumbs?\s+up)\s+(?:this|my)\s+comment\s*,?\s+(?:if|please|pls|plz)\b|"
        r"\bhow\s+many\s+(?:people\s+)?(?:can\s+|will\s+)?like\s+(?:this|my)\s+comment\b",
        re.I)),
)
_AGREEMENT_POLL = re.compile(r"\b(?:dis)?agree", re.I)


def like_farming_weight(text: str) -> float:
    """0.9 (decides) for the bare ask; 0.6 (a human looks) for "like this comment if you
    agree the mayor should resign", an opinion with a poll attached; 0.3 in a comment longer
    than SHORT_COMMENT_WORDS, where the ask rides on something the reader had to say."""
    if len(text.split()) > SHORT_COMMENT_WORDS:
        return 0.3
    if _AGREEMENT_POLL.search(text):
        return 0.6
    return 0.9


# Words each pattern cannot match without (lower-cased substrings): a few ``in`` tests let
# most comments skip the regular expressions, which were this check's whole cost.
ANCHORS: dict[str, tuple[str, ...]] = {
    "promotes the poster's own channel, videos or music": (
        "channel", "vid", "blog", "music", "profile", "playlist", "song", "track", "cover"),
    "asks readers to visit their page or site": ("page", "site"),
    "asks for subscribers or followers": ("sub", "scri", "follow", "like"),
    "money-making pitch": ("money", "cash", "dollar", "usd", "$", "home", "free", "promo",
                           "crypto"),
    "messenger contact": ("whats", "telegram", "wechat", "kik"),
    "e-mail address in the text": ("@",),
    "click-bait call to action": ("click", "bio"),
    LIKE_FARMING: ("comment",),
}
_THREE_DIGITS = re.compile(r"\d\d\d")


def _may_match(label: str, lowered: str, raw: str) -> bool:
    if label == "phone number":
        return _THREE_DIGITS.search(raw) is not None
    return any(a in lowered for a in ANCHORS[label])


class BaitCheck:
    name = "bait"
    version = "bait-3"
    kind = "spam"

    def run_batch(self, contexts: Sequence[CommentContext]) -> list[Verdict]:
        return [self.run(c) for c in contexts]

    def run(self, ctx: CommentContext) -> Verdict:
        lowered = ctx.text.lower()
        hits = [(label, like_farming_weight(ctx.text) if label == LIKE_FARMING else weight)
                for label, weight, pattern in PATTERNS
                if _may_match(label, lowered, ctx.text) and pattern.search(ctx.text)]
        miss = 1.0
        for _, weight in hits:
            miss *= 1.0 - weight
        return Verdict(self.name, self.version, "spam", clamp(1.0 - miss),
                       [label for label, _ in hits])
