"""Signals a text model cannot see: honeypot, time-to-submit, repeats and velocity."""

from __future__ import annotations

import re
from collections.abc import Sequence

from workers.checks.base import CommentContext, Verdict, clamp

FAST_SUBMIT_MS = 2000
AUTHOR_BURST = 6
MIN_WORDS_FOR_REPEATS = 6
ADDRESS_BURST = 12
_RUN_OF_CHARS = re.compile(r"(.)\1{9,}")


class BehaviourCheck:
    name = "behaviour"
    version = "behaviour-1"
    kind = "spam"

    def run_batch(self, contexts: Sequence[CommentContext]) -> list[Verdict]:
        return [self.run(c) for c in contexts]

    def run(self, ctx: CommentContext) -> Verdict:
        scored: list[tuple[float, str]] = []
        if ctx.signals.get("honeypot"):
            scored.append((1.0, "the hidden form field was filled in (bots fill every field)"))
        elapsed = ctx.signals.get("elapsed_ms")
        if isinstance(elapsed, int) and elapsed < FAST_SUBMIT_MS:
            scored.append((0.7, f"sent {elapsed / 1000:.1f} s after the form appeared"))
        # Short stock phrases ("Great article!") repeat innocently; campaigns are longer.
        if len(ctx.text.split()) >= MIN_WORDS_FOR_REPEATS:
            elsewhere = ctx.duplicates_elsewhere
            if elsewhere >= 1:
                scored.append((min(0.2 * elsewhere, 0.95),
                               f"same text posted on {elsewhere} other article(s)"))
            elif ctx.duplicates_total >= 3:
                scored.append((0.5, f"same text posted {ctx.duplicates_total} times here"))
        # Addresses are shared (offices, mobile carriers), so they get more headroom.
        for who, count, limit in (("author", ctx.author_recent, AUTHOR_BURST),
                                  ("address", ctx.address_recent, ADDRESS_BURST)):
            if count >= limit:
                scored.append((min(0.5 + 0.05 * (count - limit), 0.95),
                               f"{count} comments from this {who} within 10 minutes"))
        if _RUN_OF_CHARS.search(ctx.text):
            scored.append((0.3, "long run of one repeated character"))
        if not scored:
            return Verdict(self.name, self.version, "spam", 0.0, [])
        best = max(s for s, _ in scored)
        # Independent signals add up a little beyond the strongest one.
        score = clamp(best + 0.1 * (len(scored) - 1))
        return Verdict(self.name, self.version, "spam", score, [r for _, r in scored])
