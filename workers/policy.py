"""Scores + site policy + author standing -> a decision a moderator can read."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from service.models import CommentStatus, ModerationMode
from workers.checks.base import Verdict


@dataclass(frozen=True)
class Policy:
    mode: ModerationMode = ModerationMode.AUTO
    hold_threshold: float = 0.5
    reject_threshold: float = 0.9


@dataclass(frozen=True)
class Standing:
    blocked: bool = False
    trusted: bool = False
    # A first comment on a site that holds first-time authors for a human.
    hold_first: bool = False


@dataclass(frozen=True)
class Decision:
    status: CommentStatus
    reason: str
    decided_by: str  # the check that decided, or "policy"


def decide(verdicts: Sequence[Verdict], policy: Policy, standing: Standing,
           failed: Sequence[str] = ()) -> Decision:
    if standing.blocked:
        return Decision(CommentStatus.REJECTED, "the author is banned or suspended", "policy")
    if policy.mode == ModerationMode.MANUAL:
        return Decision(CommentStatus.HELD, "this site holds every comment for a moderator",
                        "policy")
    if failed:
        return Decision(CommentStatus.HELD,
                        f"check(s) {', '.join(failed)} could not run; a human should look",
                        "policy")
    if not verdicts:
        return Decision(CommentStatus.HELD, "no check ran", "policy")
    worst = max(verdicts, key=lambda v: v.score)
    why = f"{worst.check} {worst.score:.2f}"
    if worst.reasons:
        why += f" ({'; '.join(worst.reasons)})"
    if worst.score >= policy.reject_threshold:
        status = CommentStatus.SPAM if worst.kind == "spam" else CommentStatus.REJECTED
        return Decision(status, f"{why} at or above reject threshold "
                        f"{policy.reject_threshold:.2f}", worst.check)
    if worst.score >= policy.hold_threshold:
        if standing.trusted:
            return Decision(CommentStatus.APPROVED,
                            f"{why} above hold threshold, but the author is trusted", worst.check)
        return Decision(CommentStatus.HELD, f"{why} at or above hold threshold "
                        f"{policy.hold_threshold:.2f}", worst.check)
    if standing.hold_first:
        return Decision(CommentStatus.HELD, "first comment of a new author; this site has "
                        "a human look at those", "policy")
    return Decision(CommentStatus.APPROVED, f"every check below hold threshold "
                    f"{policy.hold_threshold:.2f} (highest: {worst.check} {worst.score:.2f})",
                    "policy")
