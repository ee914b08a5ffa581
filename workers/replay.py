"""Dry runs of a site's policy over its past comments (``warden policy replay``).

The stored check results (``check_results``) are the scores the worker saw, so a replay
re-decides from them with ``workers.policy.decide``, the worker's own policy, and runs no
model: it answers "what would these thresholds have done?" in well under a second for
thousands of comments. Both sides of the comparison are recomputed from the same scores
(the site's current policy vs the proposed one), so only the thresholds and mode differ;
what a moderator later did to a comment is the reference, through their labels.

Author standing at replay time: trust is applied (trusted authors skip the hold band);
bans and "hold first-time authors" are not, since they would hide what the thresholds do.

``rerun=True`` (``--rerun``) asks the other question a site has before going live: "what
would today's checks decide?" after a new site model (``warden train``), new word or link
lists, or a new shipped model. The local checks that read only the text and the site's
lists are run again over the stored text; the proposed side decides on those fresh scores,
the current side still on the stored ones (what really happened), so the report shows the
whole change. Two kinds of verdict are kept as stored: ``behaviour`` (velocity, repeats,
honeypot and time-to-submit are facts of the moment of submitting, not of today) and the
remote providers (a replay must not spend a provider's quota nor teach it test traffic).
The site's own model is not re-run on the comments it was trained on (moderators labelled
them before it was fitted): scored on its own training data it would look better than it
is, and the comparison with moderators' verdicts would say nothing.
"""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from collections.abc import Sequence
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
    SiteModel,
    TrustLevel,
    utcnow,
)
from workers.checks.base import Check, CommentContext, Kind, Verdict
from workers.pipeline import policy_for, run_checks, site_fields
from workers.policy import Policy, Standing, decide

S = CommentStatus
CAUGHT = frozenset({S.SPAM, S.REJECTED})
# Verdicts a rerun keeps as stored: facts of the moment of submitting.
NOT_RERUN = frozenset({"behaviour"})
RERUN_BATCH = 256


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
class Rerun:
    """What ``--rerun`` ran again, and how far today's scores moved from the stored ones."""

    checks: list[str]
    kept_stored: list[str] = field(default_factory=list)  # stored verdicts not re-run
    comments: int = 0
    scores_changed: Counter[str] = field(default_factory=Counter)  # check -> comments
    new_opinions: Counter[str] = field(default_factory=Counter)  # no stored verdict before
    failed: Counter[str] = field(default_factory=Counter)  # check -> comments (stored kept)
    # Comments the site's current model was trained on: its stored verdict kept for them.
    site_model_training_examples: int = 0
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {"checks": self.checks, "kept_stored": sorted(self.kept_stored),
                "comments": self.comments,
                "scores_changed": dict(sorted(self.scores_changed.items())),
                "new_opinions": dict(sorted(self.new_opinions.items())),
                "failed": dict(sorted(self.failed.items())),
                "site_model_training_examples": self.site_model_training_examples,
                "per_second": round(self.comments / self.seconds, 1) if self.seconds else None}


@dataclass
class ReplayReport:
    site_id: str
    current: dict[str, Any]
    proposed: dict[str, Any]
    since_days: float | None
    rerun: Rerun | None = None
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
            "rerun": self.rerun.as_dict() if self.rerun else None,
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
           since_days: float | None = None, kinds: dict[str, Kind] | None = None,
           rerun: bool = False, checks: Sequence[Check] | None = None) -> ReplayReport:
    """Re-decide the site's checked comments under the current and the proposed policy.

    ``rerun``: the proposed side decides on scores from the local checks run again now
    (``checks``, default the shipped local checks but ``behaviour``).
    """
    site = session.get(Site, site_id)
    if site is None:
        raise ReplayError(f"no site {site_id!r}")
    current = policy_for(site)
    proposed = proposed_policy(site, hold, reject, mode)
    kinds = kinds if kinds is not None else check_kinds()
    report = ReplayReport(site_id, _policy_dict(current), _policy_dict(proposed), since_days)

    query = (select(CheckResult.comment_id, CheckResult.check_name, CheckResult.check_version,
                    CheckResult.score, CheckResult.label, CheckResult.reasons,
                    CheckResult.may_reject)
             .join(Comment, Comment.id == CheckResult.comment_id)
             .where(Comment.site_id == site_id, Comment.status != S.DELETED))
    if since_days is not None:
        query = query.where(Comment.created_at >= utcnow() - timedelta(days=since_days))
    verdicts: dict[int, list[Verdict]] = defaultdict(list)
    for comment_id, name, version, score, label, reasons, may_reject in session.execute(query):
        kind = kinds.get(name) or ("spam" if label == "spam" else "toxicity")
        verdicts[comment_id].append(Verdict(name, version, kind, float(score),
                                            list(reasons or []), may_reject=may_reject))
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

    fresh = verdicts
    if rerun:
        rerun_checks = list(checks) if checks is not None else rerun_local_checks()
        report.rerun = Rerun(checks=[c.name for c in rerun_checks])
        fresh = _rerun(session, site, ids, verdicts, rerun_checks, report.rerun)

    for comment_id in ids:
        standing = Standing(trusted=comment_id in trusted)
        now = decide(verdicts[comment_id], current, standing).status
        then = decide(fresh[comment_id], proposed, standing).status
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


def rerun_local_checks() -> list[Check]:
    from workers.checks import local_checks

    return [c for c in local_checks() if c.name not in NOT_RERUN]


def _rerun(session: Session, site: Site, ids: list[int], stored: dict[int, list[Verdict]],
           checks: Sequence[Check], rerun: Rerun) -> dict[int, list[Verdict]]:
    """Each comment's verdicts with those of ``checks`` replaced by a run over its text now.

    A check that gives no opinion now (a site without a model) drops its stored verdict;
    one that fails keeps it (and is counted), as the worker would not decide on a failure.
    """
    started = time.perf_counter()
    names = {c.name for c in checks}
    rerun.kept_stored = sorted({v.check for vs in stored.values() for v in vs} - names)
    trained_on = _site_model_examples(session, site.id) if SITE_MODEL in names else set()
    fresh: dict[int, list[Verdict]] = {}
    for chunk in (ids[i:i + RERUN_BATCH] for i in range(0, len(ids), RERUN_BATCH)):
        rows = session.execute(select(Comment.id, Comment.body, Comment.parent_id)
                               .where(Comment.id.in_(chunk))).all()
        parent_ids = {row.parent_id for row in rows if row.parent_id}
        parents = dict(session.execute(select(Comment.id, Comment.body)
                                       .where(Comment.id.in_(parent_ids))).all()
                       ) if parent_ids else {}
        by_id = {row.id: row for row in rows}
        order = [i for i in chunk if by_id.get(i) is not None and by_id[i].body]
        contexts = [_text_context(site, by_id[i].body, parents.get(by_id[i].parent_id or 0))
                    for i in order]
        for comment_id, outcome in zip(order, run_checks(checks, contexts), strict=True):
            rerun_here = names
            if comment_id in trained_on:
                rerun_here = names - {SITE_MODEL}
                rerun.site_model_training_examples += 1
            new = {v.check: v for v in outcome.verdicts if v.check in rerun_here}
            old = {v.check: v for v in stored[comment_id]}
            for name in rerun_here & old.keys() & new.keys():
                if abs(old[name].score - new[name].score) >= SCORE_CHANGE:
                    rerun.scores_changed[name] += 1
            for name in new.keys() - old.keys():
                rerun.new_opinions[name] += 1
            for name in set(outcome.failed):
                rerun.failed[name] += 1
            keep = [v for v in stored[comment_id]
                    if v.check not in rerun_here or v.check in outcome.failed]
            fresh[comment_id] = keep + list(new.values())
            rerun.comments += 1
    rerun.seconds = time.perf_counter() - started
    # Comments without text (erased) keep their stored verdicts.
    return {comment_id: fresh.get(comment_id, vs) for comment_id, vs in stored.items()}


# A score that moved by at least this much counts as changed in the rerun's summary.
SCORE_CHANGE = 0.05
SITE_MODEL = "site_spam"


def _site_model_examples(session: Session, site_id: str) -> set[int]:
    """Comments labelled before the site's current model was fitted: its training set."""
    trained_at = session.scalar(select(SiteModel.created_at).where(SiteModel.site_id == site_id)
                                .order_by(SiteModel.version.desc()).limit(1))
    if trained_at is None:
        return set()
    return {comment_id for comment_id in session.scalars(
        select(ModerationLabel.comment_id).where(ModerationLabel.site_id == site_id,
                                                 ModerationLabel.created_at <= trained_at,
                                                 ModerationLabel.comment_id.is_not(None)))
            if comment_id is not None}


def _text_context(site: Site, text: str, parent_text: str | None) -> CommentContext:
    """What a text check reads: the text, its parent and the site's lists (as today)."""
    return CommentContext(text=text, site_id=site.id, parent_text=parent_text,
                          is_reply=parent_text is not None, **site_fields(site))


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
        *([_rerun_line(d["rerun"])] if d["rerun"] else []),
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


def _rerun_line(rerun: dict[str, Any]) -> str:
    changed = ", ".join(f"{k} {v}" for k, v in rerun["scores_changed"].items()) or "none"
    failed = ", ".join(f"{k} {v}" for k, v in rerun["failed"].items())
    new = ", ".join(f"{k} {v}" for k, v in rerun["new_opinions"].items()) or "none"
    return (f"  rerun: {', '.join(rerun['checks'])} over {rerun['comments']} texts "
            f"({rerun['per_second'] or 0:g}/s); proposed decides on today's scores, kept "
            f"stored: {', '.join(rerun['kept_stored']) or 'nothing'}\n"
            f"    scores moved by >= {SCORE_CHANGE}: {changed}; new opinions: {new}"
            + (f"\n    failed (stored score kept): {failed}" if failed else "")
            + (f"\n    site_spam kept as stored on {rerun['site_model_training_examples']} "
               f"comments its model was trained on" if rerun["site_model_training_examples"]
               else ""))


def _statuses(counts: dict[str, int]) -> str:
    return ", ".join(f"{k} {v}" for k, v in sorted(counts.items())) or "nothing"
