"""Dry runs of a site's policy over its past comments (``warden policy replay``).

The stored check results (``check_results``) are the scores the worker saw, so a replay
re-decides from them with ``workers.policy.decide``, the worker's own policy, and runs no
model: it answers "what would these thresholds have done?" in well under a second for
thousands of comments. Both sides of the comparison are recomputed from the same scores
(the site's current policy vs the proposed one), so only the thresholds and mode differ;
what a moderator later did to a comment is the reference, through their labels.

Author standing at replay time: trust is applied (trusted authors skip the hold band);
bans and "hold first-time authors" are not, since they would hide what the thresholds do.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from service.models import (
    Author,
    CheckResult,
    Comment,
    CommentStatus,
    LabelKind,
    ModerationLabel,
    ModerationMode,
    Site,
    TrustLevel,
    utcnow,
)
from workers.checks.base import Kind, Verdict
from workers.pipeline import policy_for
from workers.policy import Policy, Standing, decide

S = CommentStatus
CAUGHT = frozenset({S.SPAM, S.REJECTED})


class ReplayError(ValueError):
    """Bad input for a replay (unknown site, thresholds out of order)."""


@dataclass
class Tally:
    """Decisions on the comments moderators labelled, under one policy."""

    # Moderator said spam or reject ("should not be published").
    confirmed_caught: int = 0
    confirmed_held: int = 0
    confirmed_missed: int = 0  # approved by the policy
    # Moderator approved it.
    approved_ok: int = 0
    approved_held: int = 0
    approved_blocked: int = 0  # spam or rejected by the policy

    def add(self, label: LabelKind, status: CommentStatus) -> None:
        if label == LabelKind.HAM:
            if status == S.APPROVED:
                self.approved_ok += 1
            elif status == S.HELD:
                self.approved_held += 1
            else:
                self.approved_blocked += 1
        elif status in CAUGHT:
            self.confirmed_caught += 1
        elif status == S.HELD:
            self.confirmed_held += 1
        else:
            self.confirmed_missed += 1

    @property
    def agreements(self) -> int:
        return self.confirmed_caught + self.approved_ok

    @property
    def disagreements(self) -> int:
        """Held comments are neither: a human looks at them either way."""
        return self.confirmed_missed + self.approved_blocked

    def as_dict(self) -> dict[str, int]:
        return {**self.__dict__, "agreements": self.agreements,
                "disagreements": self.disagreements}


@dataclass
class ReplayReport:
    site_id: str
    current: dict[str, Any]
    proposed: dict[str, Any]
    since_days: float | None
    considered: int = 0
    by_status_now: Counter[str] = field(default_factory=Counter)
    by_status_proposed: Counter[str] = field(default_factory=Counter)
    changes: Counter[str] = field(default_factory=Counter)
    labelled: int = 0
    now: Tally = field(default_factory=Tally)
    under_proposed: Tally = field(default_factory=Tally)
    # Against moderators: what the change alone does.
    newly_missed: int = 0  # confirmed spam/reject, caught or held now, approved under proposed
    newly_caught: int = 0  # confirmed spam/reject, not caught now, caught under proposed
    approvals_newly_held: int = 0  # approved now, held under proposed
    approvals_newly_blocked: int = 0  # approved or held now, rejected/spam under proposed
    approvals_newly_released: int = 0  # approved by a moderator, held/blocked now, not then

    def as_dict(self) -> dict[str, Any]:
        return {
            "site": self.site_id, "since_days": self.since_days,
            "policy_now": self.current, "policy_proposed": self.proposed,
            "comments_considered": self.considered,
            "decisions_now": dict(self.by_status_now),
            "decisions_proposed": dict(self.by_status_proposed),
            "changed": sum(self.changes.values()),
            "changes": dict(sorted(self.changes.items())),
            "against_moderators": {
                "labelled_comments": self.labelled,
                "now": self.now.as_dict(),
                "proposed": self.under_proposed.as_dict(),
                "confirmed_spam_or_reject_newly_missed": self.newly_missed,
                "confirmed_spam_or_reject_newly_caught": self.newly_caught,
                "approvals_newly_held": self.approvals_newly_held,
                "approvals_newly_rejected_or_spam": self.approvals_newly_blocked,
                "approvals_newly_released": self.approvals_newly_released,
            },
        }


def _policy_dict(policy: Policy) -> dict[str, Any]:
    return {"mode": str(policy.mode), "hold_threshold": policy.hold_threshold,
            "reject_threshold": policy.reject_threshold}


def proposed_policy(site: Site, hold: float | None, reject: float | None,
                    mode: str | None) -> Policy:
    current = policy_for(site)
    policy = Policy(mode=ModerationMode(mode) if mode else current.mode,
                    hold_threshold=current.hold_threshold if hold is None else hold,
                    reject_threshold=current.reject_threshold if reject is None else reject)
    for name, value in (("hold", policy.hold_threshold), ("reject", policy.reject_threshold)):
        if not 0 <= value <= 1:
            raise ReplayError(f"{name} threshold {value} is outside 0..1")
    if policy.hold_threshold > policy.reject_threshold:
        raise ReplayError(f"hold threshold {policy.hold_threshold} is above reject threshold "
                          f"{policy.reject_threshold}: nothing could be held")
    return policy


def replay(session: Session, site_id: str, *, hold: float | None = None,
           reject: float | None = None, mode: str | None = None,
           since_days: float | None = None, kinds: dict[str, Kind] | None = None
           ) -> ReplayReport:
    """Re-decide the site's checked comments under the current and the proposed policy."""
    site = session.get(Site, site_id)
    if site is None:
        raise ReplayError(f"no site {site_id!r}")
    current = policy_for(site)
    proposed = proposed_policy(site, hold, reject, mode)
    kinds = kinds if kinds is not None else check_kinds()
    report = ReplayReport(site_id, _policy_dict(current), _policy_dict(proposed), since_days)

    query = (select(CheckResult.comment_id, CheckResult.check_name, CheckResult.check_version,
                    CheckResult.score, CheckResult.label, CheckResult.reasons)
             .join(Comment, Comment.id == CheckResult.comment_id)
             .where(Comment.site_id == site_id, Comment.status != S.DELETED))
    if since_days is not None:
        query = query.where(Comment.created_at >= utcnow() - timedelta(days=since_days))
    verdicts: dict[int, list[Verdict]] = defaultdict(list)
    for comment_id, name, version, score, label, reasons in session.execute(query):
        kind = kinds.get(name) or ("spam" if label == "spam" else "toxicity")
        verdicts[comment_id].append(Verdict(name, version, kind, float(score),
                                            list(reasons or [])))
    if not verdicts:
        return report
    ids = list(verdicts)
    trusted: set[int] = set()
    labels: dict[int, LabelKind] = {}
    for chunk in (ids[i:i + 500] for i in range(0, len(ids), 500)):
        trusted.update(session.scalars(
            select(Comment.id).join(Author, Author.id == Comment.author_id)
            .where(Comment.id.in_(chunk), Author.trust == TrustLevel.TRUSTED)))
        labels.update((comment_id, label) for comment_id, label in session.execute(
            select(ModerationLabel.comment_id, ModerationLabel.label)
            .where(ModerationLabel.comment_id.in_(chunk))))

    for comment_id in ids:
        standing = Standing(trusted=comment_id in trusted)
        now = decide(verdicts[comment_id], current, standing).status
        then = decide(verdicts[comment_id], proposed, standing).status
        report.considered += 1
        report.by_status_now[str(now)] += 1
        report.by_status_proposed[str(then)] += 1
        if now != then:
            report.changes[f"{now}->{then}"] += 1
        label = labels.get(comment_id)
        if label is None:
            continue
        report.labelled += 1
        report.now.add(label, now)
        report.under_proposed.add(label, then)
        if label == LabelKind.HAM:
            if now == S.APPROVED and then == S.HELD:
                report.approvals_newly_held += 1
            elif now not in CAUGHT and then in CAUGHT:
                report.approvals_newly_blocked += 1
            elif now != S.APPROVED and then == S.APPROVED:
                report.approvals_newly_released += 1
        else:
            if now != S.APPROVED and then == S.APPROVED:
                report.newly_missed += 1
            elif now not in CAUGHT and then in CAUGHT:
                report.newly_caught += 1
    return report


def check_kinds() -> dict[str, Kind]:
    """name -> kind of the shipped checks (class attributes: no model is loaded)."""
    from workers.checks import default_checks

    return {c.name: c.kind for c in default_checks()}


def format_report(report: ReplayReport) -> str:
    d = report.as_dict()
    now, new = d["policy_now"], d["policy_proposed"]
    mods = d["against_moderators"]
    lines = [
        f"site {report.site_id}: {report.considered} checked comments"
        + (f" from the last {report.since_days:g} days" if report.since_days else ""),
        f"  now:      mode {now['mode']}, hold {now['hold_threshold']:.2f}, "
        f"reject {now['reject_threshold']:.2f} -> {_statuses(d['decisions_now'])}",
        f"  proposed: mode {new['mode']}, hold {new['hold_threshold']:.2f}, "
        f"reject {new['reject_threshold']:.2f} -> {_statuses(d['decisions_proposed'])}",
        f"  decisions that would change: {d['changed']}"
        + ("".join(f"\n    {k.replace('->', ' -> ')}: {v}" for k, v in d["changes"].items())),
        f"  against moderators' verdicts ({mods['labelled_comments']} labelled comments):",
    ]
    for name, tally in (("now", mods["now"]), ("proposed", mods["proposed"])):
        lines.append(
            f"    {name:9} agree {tally['agreements']}, disagree {tally['disagreements']} | "
            f"confirmed spam/rejects: caught {tally['confirmed_caught']}, held "
            f"{tally['confirmed_held']}, missed {tally['confirmed_missed']} | approvals: "
            f"approved {tally['approved_ok']}, held {tally['approved_held']}, rejected/spam "
            f"{tally['approved_blocked']}")
    lines.append(
        f"    confirmed spam/rejects newly missed: {mods['confirmed_spam_or_reject_newly_missed']}"
        f", newly caught: {mods['confirmed_spam_or_reject_newly_caught']}; approvals newly "
        f"held: {mods['approvals_newly_held']}, newly rejected/spam: "
        f"{mods['approvals_newly_rejected_or_spam']}, newly released: "
        f"{mods['approvals_newly_released']}")
    return "\n".join(lines)


def _statuses(counts: dict[str, int]) -> str:
    return ", ".join(f"{k} {v}" for k, v in sorted(counts.items())) or "nothing"
