"""What every check is: a name, a version, and text + context -> score in 0..1 + reasons.

Checks are pure over their inputs (the context is gathered once, before they run), so the
worker, ``warden eval`` and the simulate endpoint run exactly the same code.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

Kind = Literal["spam", "toxicity"]


@dataclass(frozen=True)
class CommentContext:
    """Everything a check may look at, gathered once per comment."""

    text: str
    site_id: str = ""
    author_name: str = ""
    article_key: str = ""
    parent_text: str | None = None
    signals: dict[str, Any] = field(default_factory=dict)
    # Times the same normalised text was seen on this site in the look-back window,
    # on other articles and in all.
    duplicates_elsewhere: int = 0
    duplicates_total: int = 0
    # Comments from the same author / hashed address in the velocity window.
    author_recent: int = 0
    address_recent: int = 0
    # The site's own lists (admin API), compared after normalisation.
    blocked_words: tuple[str, ...] = ()
    suspect_words: tuple[str, ...] = ()
    allowed_link_domains: tuple[str, ...] = ()
    blocked_link_domains: tuple[str, ...] = ()
    # For remote providers (Akismet): the reader's address and browser, the article's URL
    # and the site's home page. The address is only stored while Akismet is enabled.
    user_ip: str | None = None
    user_agent: str | None = None
    referrer: str | None = None
    permalink: str | None = None
    site_url: str | None = None
    is_reply: bool = False
    # A dry run (simulate): providers are told it is a test, so they learn nothing.
    is_test: bool = False


@dataclass(frozen=True)
class Verdict:
    check: str
    version: str
    kind: Kind
    score: float
    reasons: list[str]
    #: False: the score may hold the comment for a human, never reject it or mark it spam,
    #: whatever the site's reject threshold (profanity is not abuse; an uncorroborated
    #: toxicity score asks for a human). A cap below the default threshold said this only
    #: until a site (or an author's history) lowered the threshold.
    may_reject: bool = True

    @property
    def label(self) -> str:
        if self.score >= 0.5:
            return self.kind
        return "ok"


class Check(Protocol):
    name: str
    version: str
    kind: Kind

    def run_batch(self, contexts: Sequence[CommentContext]) -> Sequence[Verdict | None]:
        """One entry per context; ``None`` means "no opinion" (a remote provider could not
        answer), which neither holds the comment nor counts as a failed check."""
        ...


class PhrasingCheck:
    """A hold-only check over phrasings (threats, identity attacks): each kind that
    ``find`` reports in the text is a reason, and any holds the comment for a human at
    ``score``, never rejecting it (news comments quote such words to condemn them)."""

    name: str
    version: str
    kind: Kind = "toxicity"
    #: At or above every hold threshold a site can set short of 1.
    score = 0.9

    def find(self, text: str) -> list[tuple[str, str]]:
        """(kind, the words matched) for each kind found."""
        raise NotImplementedError

    def run_batch(self, contexts: Sequence[CommentContext]) -> list[Verdict]:
        return [self.run(c) for c in contexts]

    def run(self, ctx: CommentContext) -> Verdict:
        found = self.find(ctx.text)
        if not found:
            return Verdict(self.name, self.version, self.kind, 0.0, [])
        reasons = [f'{label}: "{words}"' for label, words in found]
        return Verdict(self.name, self.version, self.kind, self.score, reasons,
                       may_reject=False)


def clamp(score: float) -> float:
    return max(0.0, min(1.0, float(score)))


HOLD_POINT = 0.5
REJECT_POINT = 0.9


def calibrate(raw: float, review_at: float, reject_at: float) -> float:
    """Map a model's probability onto the policy's common scale.

    Models differ in calibration, so each declares where its own probability is worth a
    human look (``review_at``) and where it is confident (``reject_at``); those points map
    to 0.5 and 0.9, where the default site thresholds sit, linearly in between and beyond.
    """
    raw = clamp(raw)
    if raw <= review_at:
        return HOLD_POINT * raw / review_at if review_at > 0 else HOLD_POINT
    if raw <= reject_at:
        span = (raw - review_at) / (reject_at - review_at)
        return HOLD_POINT + (REJECT_POINT - HOLD_POINT) * span
    return REJECT_POINT + (1 - REJECT_POINT) * (raw - reject_at) / (1 - reject_at)
