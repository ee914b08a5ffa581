"""Contact bait: the phrases and numbers self-promotion needs to work.

Each pattern carries a weight measured against its cost. The asks that name what a YouTube
spammer sells ("check out my channel", "subscribe to me", "sub 4 sub", "follow me on
Instagram") and like-farming in a short comment hit only spam on the YouTube file and
nothing in ordinary prose (clean Wikipedia talk comments), so they decide alone. Their
looser forms, money pitches and a page or site of one's own also hit only spam there, but
news readers say them in earnest ("look at my track record", "I switched my channel to BBC
News"), so they ask for a human; e-mail addresses and phone numbers appear in honest
comments, so they only add up. Hits combine as independent evidence
(1 - product of (1 - weight)).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from workers.checks.base import CommentContext, Verdict, clamp

PROMOTES = "promotes the poster's own channel or videos"
MENTIONS = "mentions the poster's own channel, videos, music or page"
SUBSCRIBERS = "asks for subscribers or followers"
LIKE_FARMING = "asks readers to like the comment"
#: A weight, or how to weigh the hit given the comment's text.
Weight = float | Callable[[str], float]
#: A comment whose whole point is the ask ("like this comment if you're watching in 2015")
#: is at most this long; a reader who argues a point and adds "like if you agree" writes more.
SHORT_COMMENT_WORDS = 25

# A poll of readers' opinion or memory, or an ask with a civic purpose, is not like-farming.
_AGREEMENT_POLL = re.compile(
    r"\b(?:dis)?agree|\bif\s+you\s+remember\b|"
    r"\bso\s+(?:that\s+)?(?:the|they|our|people|everyone|council\w*|mps?)\b", re.I)


def like_farming_weight(text: str) -> float:
    """0.9 (decides) for the bare ask; 0.6 (a human looks) for "like this comment if you
    agree the mayor should resign" or "... so the council sees how many of us are angry",
    an opinion or a cause with a poll attached; 0.3 in a comment longer
    than SHORT_COMMENT_WORDS, where the ask rides on something the reader had to say."""
    if len(text.split()) > SHORT_COMMENT_WORDS:
        return 0.3
    if _AGREEMENT_POLL.search(text):
        return 0.6
    return 0.9


# (label, weight, pattern). Only the asks that name what a YouTube spammer sells decide alone
# (0.9, the default reject threshold): "check out / visit my channel", "subscribe to my
# channel", "my YouTube channel", "subscribe to me", "sub 4 sub", "follow me on Instagram".
# News readers use the looser forms in earnest ("I switched my channel to BBC News", "look
# at my track record", "I will not subscribe to my local paper again", "like for like sales
# fell 3 %", "follow me on this"), so those only hold (0.6): a human decides. Measured on
# the YouTube dev file, clean Wikipedia talk comments and 73 news-style sentences written to
# trip the patterns (README, "Moderation quality").
PATTERNS: tuple[tuple[str, Weight, re.Pattern[str]], ...] = (
    (PROMOTES, 0.9, re.compile(
        r"\b(check(ing)?\s+out|visit)\s+(out\s+)?(my|our)\s+(new(est)?\s+)?"
        r"(youtube\s+)?(chann?ell?|vids?|videos)\b|"
        r"\bcheck(ing)?\s+out\s+(my|our)\s+(new(est)?\s+)?(video|song|track|cover|music|playlist)\b|"
        r"\bmy\s+youtube\s+chann?ell?\b", re.I)),
    (MENTIONS, 0.6, re.compile(
        r"\b(visit|watch|see|listen\s+to|look\s+at|go\s+to)\s+(out\s+)?(my|our)\s+(new(est)?\s+)?"
        r"(channel|videos?|vids?|page|site|website|blog|music|profile|playlist|songs?|track|"
        r"cover)\b|\bmy\s+chann?ell?\b", re.I)),
    (SUBSCRIBERS, 0.9, re.compile(
        r"\b(subscribe|sucscribe|subcribe|suscribe)\s+(to\s+)?me\b|"
        r"\b(sub|subscribe|sucscribe|subcribe|suscribe)\s+(to\s+)?(my|our)\s+(new\s+)?"
        r"(youtube\s+)?(chann?ell?|vids?|videos?)\b|"
        r"\b(sub|follow)\s*(4|for)\s*(sub|follow)\b|\blike\s*4\s*like\b|\bsubscribers?\s+plz|"
        r"\bfollow\s+(me|us)\s+on\s+(@|youtube|twitter|instagram|insta|ig\b|tiktok|facebook|"
        r"twitch|soundcloud|spotify|snapchat)|\bsub\s+(to\s+)?me\s+(if|and|please|plz|pls)\b",
        re.I)),
    # "Business could not make money" and "workers earn money" are prose; the pitch says how
    # easy, where or what for.
    ("money-making pitch", 0.6, re.compile(
        r"\bearn(ing)?\s+(real\s+|free\s+|easy\s+)?(\$\s?\d+|\d+\s*(dollars|usd|\$))|"
        r"\bearn(ing)?\s+(real|free|easy)\s+(money|cash)\b|"
        r"\bearn(ing)?\s+(extra\s+)?(money|cash)\s+(online|fast|from\s+home|from\s+(the\s+)?games?|"
        r"for\s+gift)|"
        r"\b(make|making)\s+(real\s+|easy\s+|extra\s+|free\s+)?(\$\s?\d+|money|cash)\s+"
        r"(online|today|fast|from\s+home|on\s+(social\s+media|the\s+internet|facebook|youtube|"
        r"instagram))\b|"
        r"\bwork(ing)?\s+from\s+home\s+(and\s+(earn|make)|jobs?\s+(available|here|now))\b|"
        r"\bfree\s+(gift\s*cards?|iphone|followers)\b|"
        r"(?<!\bisn't\s)(?<!\bnot\s)(?<!\bbasically\s)\bfree\s+money\b(?!\s+for\b)|"
        r"\bpromo\s+code\b|\bcrypto\s+signals\b", re.I)),
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
    # this comment", "like this comment shows" or "this comment section". Its weight depends
    # on what else the comment says.
    (LIKE_FARMING, like_farming_weight, re.compile(
        r"^\W*(?:please\s+|pls\s+|plz\s+)?(?:do\s*n(?:o|&#39;|')?t\s+)?"
        r"(?:like|thumbs?\s+up)\s+(?:this|my)\s+comment\b"
        r"(?!\s+(?:section|thread|box|field|said|says|shows|above|earlier|on|in)\b)|"
        r"\b(?:please|pls|plz)\s+(?:like|thumbs?\s+up)\s+(?:this|my)\s+comment\b|"
        r"\b(?:like|thumbs?\s+up)\s+(?:this|my)\s+comment\s*,?\s+(?:if|please|pls|plz)\b|"
        r"\bhow\s+many\s+(?:people\s+)?(?:can\s+|will\s+)?like\s+(?:this|my)\s+comment\b",
        re.I)),
)
# What each pattern cannot match without (lower-cased substrings), as alternative ways, each
# a list of groups of which one word each must be there: "check out my channel" needs
# "check" or "visit", "my" or "our", and "chan" or "vid". A few ``in`` tests let most
# comments skip the regular expressions, which were this check's whole cost; a gate of
# single words ("free", "like", "page") still let a third of long comments through.
Ways = tuple[tuple[tuple[str, ...], ...], ...]
_OWN = ("my", "our")
ANCHORS: dict[str, Ways] = {
    PROMOTES: (
        (("check", "visit"), _OWN,
         ("chan", "vid", "song", "track", "cover", "music", "playlist")),
        (("youtube",), ("chan",))),
    MENTIONS: (
        (("visit", "watch", "see", "listen", "look", "go"), _OWN,
         ("chan", "vid", "page", "site", "blog", "music", "profile", "playlist", "song",
          "track", "cover")),
        (("my",), ("chan",))),
    SUBSCRIBERS: (
        (("cribe",), ("me",)),                        # subscribe (or a misspelling) to me
        (("sub", "cribe"), _OWN, ("chan", "vid")),    # subscribe to my channel
        (("sub", "follow"), ("4", "for")),            # sub 4 sub, follow for follow
        (("like",), ("4",)),                          # like4like
        (("subscriber",), ("plz",)),
        (("follow",), ("me", "us")),                  # follow me on Instagram
        (("sub",), ("me",))),                         # sub to me if...
    "money-making pitch": (
        (("earn",), ("$", "dollar", "usd", "money", "cash")),
        (("mak",), ("$", "money", "cash")),
        (("work",), ("home",)),
        (("free",), ("gift", "iphone", "follower", "money")),
        (("promo",),),
        (("crypto",),)),
    "messenger contact": ((("whats", "telegram", "wechat", "kik"),),),
    "e-mail address in the text": ((("@",),),),
    "click-bait call to action": ((("click", "bio"),),),
    LIKE_FARMING: ((("comment",), ("like", "thumb")),),
}
_THREE_DIGITS = re.compile(r"\d\d\d")
#: A weaker pattern that reads the same words as stronger ones ("subscribe to my channel"
#: also mentions "my channel"): when one of them matches, the phrase counts once, as the
#: stronger, not as two independent pieces of evidence.
WEAKER_FORM_OF = {MENTIONS: (PROMOTES, SUBSCRIBERS)}


# Under re.IGNORECASE "i" also matches the dotless i (U+0131) and "s" the long s (U+017F),
# which lower() keeps: the gates read them as the letters the patterns see.
_CASE_FOLDS = str.maketrans({"\u0131": "i", "\u017f": "s"})


def _may_match(label: str, lowered: str, raw: str) -> bool:
    if label == "phone number":
        return _THREE_DIGITS.search(raw) is not None
    return any(all(any(word in lowered for word in group) for group in way)
               for way in ANCHORS[label])


class BaitCheck:
    name = "bait"
    version = "bait-3"
    kind = "spam"

    def run_batch(self, contexts: Sequence[CommentContext]) -> list[Verdict]:
        return [self.run(c) for c in contexts]

    def run(self, ctx: CommentContext) -> Verdict:
        lowered = ctx.text.lower().translate(_CASE_FOLDS)
        hits = [(label, weight(ctx.text) if callable(weight) else weight)
                for label, weight, pattern in PATTERNS
                if _may_match(label, lowered, ctx.text) and pattern.search(ctx.text)]
        labels = {label for label, _ in hits}
        hits = [(label, weight) for label, weight in hits
                if labels.isdisjoint(WEAKER_FORM_OF.get(label, ()))]
        miss = 1.0
        for _, weight in hits:
            miss *= 1.0 - weight
        return Verdict(self.name, self.version, "spam", clamp(1.0 - miss),
                       [label for label, _ in hits])
