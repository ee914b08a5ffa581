"""The lifecycle table and the policy, as pure logic."""

from __future__ import annotations

import pytest

from service.domain.lifecycle import ALLOWED, can_transition
from service.models import CommentStatus, ModerationMode
from workers.checks.base import Verdict
from workers.policy import Policy, Standing, decide, for_author

S = CommentStatus


@pytest.mark.parametrize(("current", "target", "allowed"), [
    (S.PENDING, S.APPROVED, True),
    (S.PENDING, S.SPAM, True),
    (S.HELD, S.APPROVED, True),
    (S.APPROVED, S.REJECTED, True),
    (S.REJECTED, S.APPROVED, True),
    (S.SPAM, S.APPROVED, True),
    (S.APPROVED, S.PENDING, True),
    (S.REJECTED, S.PENDING, False),
    (S.SPAM, S.PENDING, False),
    (S.DELETED, S.APPROVED, False),
])
def test_transitions(current: CommentStatus, target: CommentStatus, allowed: bool) -> None:
    assert can_transition(current, target) is allowed


def test_every_status_can_be_deleted_except_deleted() -> None:
    for status, targets in ALLOWED.items():
        assert (S.DELETED in targets) is (status != S.DELETED)
    assert set(ALLOWED) == set(CommentStatus)


def verdict(score: float, kind: str = "toxicity", name: str = "tox") -> Verdict:
    return Verdict(name, "1", kind, score, [f"{name} said so"])  # type: ignore[arg-type]


AUTO = Policy(ModerationMode.AUTO, hold_threshold=0.5, reject_threshold=0.9)


@pytest.mark.parametrize(("verdicts", "status", "by"), [
    ([verdict(0.1), verdict(0.2, "spam", "links")], S.APPROVED, "policy"),
    ([verdict(0.95)], S.REJECTED, "tox"),
    ([verdict(0.1), verdict(0.92, "spam", "links")], S.SPAM, "links"),
    ([verdict(0.6)], S.HELD, "tox"),
    ([verdict(0.9)], S.REJECTED, "tox"),
    ([verdict(0.5)], S.HELD, "tox"),
])
def test_policy_thresholds(verdicts: list[Verdict], status: CommentStatus, by: str) -> None:
    decision = decide(verdicts, AUTO, Standing())
    assert decision.status == status
    assert decision.decided_by == by
    assert "threshold" in decision.reason


def test_policy_reasons_are_readable() -> None:
    decision = decide([verdict(0.93)], AUTO, Standing())
    assert decision.reason == "tox 0.93 (tox said so) at or above reject threshold 0.90"


def test_author_standing_and_modes() -> None:
    assert decide([verdict(0.0)], AUTO, Standing(blocked=True)).status == S.REJECTED
    assert decide([verdict(0.6)], AUTO, Standing(trusted=True)).status == S.APPROVED
    assert decide([verdict(0.95)], AUTO, Standing(trusted=True)).status == S.REJECTED
    manual = Policy(ModerationMode.MANUAL)
    assert decide([verdict(0.0)], manual, Standing()).status == S.HELD


@pytest.mark.parametrize(("approved", "rejected", "hold", "reject"), [
    (0, 0, 0.5, 0.9),  # a newcomer: the site's thresholds
    (2, 0, 0.5, 0.9),  # not yet a regular
    (3, 0, 0.65, 0.9),  # a regular: held less, rejected as before
    (40, 1, 0.5, 0.9),  # one rejection among many approvals: no longer a regular
    (1, 1, 0.3, 0.8),  # as many rejected as approved: a suspect
    (0, 3, 0.3, 0.8),
])
def test_history_moves_the_thresholds(approved: int, rejected: int, hold: float,
                                      reject: float) -> None:
    moved, why = for_author(AUTO, Standing(approved=approved, rejected=rejected))
    assert (round(moved.hold_threshold, 4), round(moved.reject_threshold, 4)) == (hold, reject)
    assert bool(why) == ((hold, reject) != (0.5, 0.9))


def test_history_decides_and_says_so() -> None:
    suspect = Standing(approved=0, rejected=2)
    decision = decide([verdict(0.85, "spam", "spam_text")], AUTO, suspect)
    assert decision.status == S.SPAM
    assert decision.reason == (
        "spam_text 0.85 (spam_text said so) at or above reject threshold 0.80; thresholds "
        "lowered from 0.50 / 0.90: 2 of the author's 2 decided comments were rejected or spam")
    assert decide([verdict(0.85, "spam", "spam_text")], AUTO, Standing()).status == S.HELD
    regular = decide([verdict(0.6)], AUTO, Standing(approved=5))
    assert regular.status == S.APPROVED
    assert "raised from 0.50 / 0.90: 5 of the author's comments approved" in regular.reason
    # Thresholds that cannot move further stay, and say nothing; a site set below the
    # floor is never raised to it.
    low = Policy(ModerationMode.AUTO, hold_threshold=0.2, reject_threshold=0.2)
    assert for_author(low, suspect) == (low, "")
    lower = Policy(ModerationMode.AUTO, hold_threshold=0.1, reject_threshold=0.15)
    moved, why = for_author(lower, suspect)
    assert (moved.hold_threshold, moved.reject_threshold) == (0.1, 0.1)
    assert why.startswith("lowered from 0.10 / 0.15")
    # Explicit trust outranks history: the site's thresholds, and the hold band skipped.
    trusted = Standing(trusted=True, approved=1, rejected=1)
    assert for_author(AUTO, trusted) == (AUTO, "")
    assert decide([verdict(0.85, "spam", "spam_text")], AUTO, trusted).status == S.APPROVED
    # A ban outranks history; explicit trust still skips the (lowered) hold band.
    assert decide([verdict(0.0)], AUTO, Standing(blocked=True, approved=9)).status == S.REJECTED
    assert decide([verdict(0.5)], AUTO, Standing(trusted=True, rejected=1)).status == S.APPROVED


def test_a_hold_only_score_never_rejects_whatever_the_threshold() -> None:
    """Profanity, or toxicity the profanity model did not corroborate, is capped at 0.85:
    held under the default 0.9. A site at 0.8 (or a suspect author's lowered threshold)
    must not turn the cap into a rejection."""
    strict = Policy(ModerationMode.AUTO, hold_threshold=0.5, reject_threshold=0.8)
    swearing = Verdict("profanity", "1", "toxicity", 0.85, ["profanity 1.00"], may_reject=False)
    held = decide([swearing, verdict(0.1)], strict, Standing())
    assert (held.status, held.decided_by) == (S.HELD, "profanity")
    assert held.reason == ("profanity 0.85 (profanity 1.00) at or above reject threshold "
                           "0.80, but profanity can only hold a comment: a human decides")
    # A score that may reject still does; the hold-only one does not outrank it.
    rejected = decide([swearing, verdict(0.82)], strict, Standing())
    assert (rejected.status, rejected.decided_by) == (S.REJECTED, "tox")
    assert decide([swearing], strict, Standing(trusted=True)).status == S.APPROVED
    assert decide([swearing], strict, Standing(rejected=3)).status == S.HELD
    # Nor does it take part in spam checks agreeing.
    bait = Verdict("bait", "1", "spam", 0.7, [])
    hold_only_spam = Verdict("remote", "1", "spam", 0.8, [], may_reject=False)
    assert decide([bait, hold_only_spam], AUTO, Standing()).status == S.HELD


def test_failed_check_holds_for_a_human() -> None:
    decision = decide([verdict(0.0)], AUTO, Standing(), failed=["links"])
    assert decision.status == S.HELD
    assert "links" in decision.reason


def test_spam_checks_that_each_would_hold_decide_together() -> None:
    decision = decide([verdict(0.2), verdict(0.79, "spam", "spam_text"),
                       verdict(0.6, "spam", "bait")], AUTO, Standing())
    assert decision.status == S.SPAM
    assert decision.decided_by == "spam_text"
    assert decision.reason == ("spam_text 0.79 (spam_text said so) and bait 0.60 (bait said "
                               "so) agree: together 0.92, at or above reject threshold 0.90")


@pytest.mark.parametrize(("verdicts", "policy"), [
    # One of them would not hold alone: weak signals do not add up.
    ([verdict(0.85, "spam", "spam_text"), verdict(0.45, "spam", "bait")], AUTO),
    # Both hold, but together they stay under the reject threshold (1 - 0.4 * 0.4 = 0.84).
    ([verdict(0.6, "spam", "spam_text"), verdict(0.6, "spam", "links")], AUTO),
    # Toxicity checks read the same words: their agreement is no extra evidence.
    ([verdict(0.8, "toxicity", "toxicity"), verdict(0.7, "toxicity", "profanity")], AUTO),
    # The general and the site's spam model read the same words: one opinion, not two.
    ([verdict(0.8, "spam", "spam_text"), verdict(0.8, "spam", "site_spam")], AUTO),
    # Readers citing sources post several links: the link count is no second opinion.
    ([verdict(0.8, "spam", "spam_text"), verdict(0.8, "spam", "links")], AUTO),
    # A site that holds from 0.7 counts only signals from 0.7.
    ([verdict(0.79, "spam", "spam_text"), verdict(0.6, "spam", "bait")],
     Policy(ModerationMode.AUTO, hold_threshold=0.7, reject_threshold=0.9)),
])
def test_agreement_needs_two_spam_checks_that_each_hold(verdicts: list[Verdict],
                                                          policy: Policy) -> None:
    assert decide(verdicts, policy, Standing()).status == S.HELD


def test_agreement_leaves_bans_and_manual_sites_alone() -> None:
    both = [verdict(0.8, "spam", "spam_text"), verdict(0.8, "spam", "bait")]
    assert decide(both, AUTO, Standing(blocked=True)).reason.startswith("the author is banned")
    assert decide(both, Policy(ModerationMode.MANUAL), Standing()).status == S.HELD
    # A trusted author is spared holds, not decisions: agreement decides like one check would.
    assert decide(both, AUTO, Standing(trusted=True)).status == S.SPAM


def test_only_the_higher_word_model_joins_the_agreement() -> None:
    decision = decide([verdict(0.7, "spam", "site_spam"), verdict(0.8, "spam", "spam_text"),
                       verdict(0.6, "spam", "behaviour")], AUTO, Standing())
    assert decision.status == S.SPAM
    assert decision.reason.startswith("spam_text 0.80 (spam_text said so) and behaviour 0.60")
    assert "site_spam" not in decision.reason


def test_the_audit_trail_refuses_an_action_missing_from_its_catalogue() -> None:
    """The audit filter validates against AUDIT_ACTIONS; an action written without being
    added there would be unfilterable, so writing it fails in the tests that cover it."""
    from service.models import AuditEntry
    from service.models.audit import AUDIT_ACTIONS

    assert AuditEntry(action="comment.approved").action == "comment.approved"
    assert {"comment.pending", "comment.deleted", "author.exported"} <= AUDIT_ACTIONS
    with pytest.raises(ValueError, match=r"comment\.approve"):
        AuditEntry(action="comment.approve")
