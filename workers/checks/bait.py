"""Contact bait: the phrases and numbers self-promotion needs to work."""

from __future__ import annotations

import re
from collections.abc import Sequence

from workers.checks.base import CommentContext, Verdict, clamp

PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("asks readers to visit their channel or page", re.compile(
        r"\b(check(ing)?\s+out|visit|watch|see|go\s+to)\s+(out\s+)?my\s+"
        r"(new\s+)?(channel|video|vids?|page|site|website|blog|music|profile|playlist|song)",
        re.I)),
    ("asks for subscribers or followers", re.compile(
        r"\b(sub(scribe)?|follow)\s+(to\s+)?(me|my)\b|\bsub\s*4\s*sub\b|\bsubscribers?\s+plz",
        re.I)),
    ("money-making pitch", re.compile(
        r"\b(make|earn|making|earning)\s+(\$|money|cash|\d+\s*(dollars|usd|\$))|"
        r"\bwork(ing)?\s+from\s+home\b|\bfree\s+(gift|money|iphone|followers)\b|"
        r"\bpromo\s+code\b|\bcrypto\s+(signals|investment)\b", re.I)),
    ("phone or messenger contact", re.compile(
        r"\b(whats\s?app|telegram|wechat|kik)\b|(\+?\d[\d\s().-]{8,}\d)", re.I)),
    ("e-mail address in the text", re.compile(r"\b[\w.+-]+@[\w-]+\.[\w.]{2,}\b")),
    ("click-bait call to action", re.compile(
        r"\bclick\s+(here|the\s+link|my)\b|\blink\s+in\s+(my\s+)?bio\b", re.I)),
)


class BaitCheck:
    name = "bait"
    version = "bait-1"
    kind = "spam"

    def run_batch(self, contexts: Sequence[CommentContext]) -> list[Verdict]:
        return [self.run(c) for c in contexts]

    def run(self, ctx: CommentContext) -> Verdict:
        hits = [label for label, pattern in PATTERNS if pattern.search(ctx.text)]
        score = clamp(0.45 * len(hits))
        return Verdict(self.name, self.version, "spam", score, hits)
