"""Dry runs: a text through the real checks and a site's policy, storing nothing."""

from __future__ import annotations

from typing import Any

from service.models import Author, Site
from workers.checks import CommentContext, default_checks
from workers.pipeline import policy_for, run_checks, site_fields, standing_of
from workers.policy import Standing, decide


def simulate(site: Site, text: str, parent_text: str | None, author: Author | None,
             *, user_ip: str | None = None, user_agent: str | None = None) -> dict[str, Any]:
    """``user_ip``/``user_agent`` stand in for a reader's (Akismet needs them): the API
    passes the moderator's own; remote providers are told it is a test (``is_test``)."""
    context = CommentContext(
        text=text, site_id=site.id, parent_text=parent_text,
        user_ip=user_ip, user_agent=user_agent,
        is_reply=parent_text is not None, is_test=True, **site_fields(site),
    )
    outcome = run_checks(default_checks(), [context])[0]
    # The worker's standing, for the named author's next comment; a stranger is new.
    standing = standing_of(author, site) if author else Standing(
        hold_first=site.hold_first_time_authors)
    decision = decide(outcome.verdicts, policy_for(site), standing, outcome.failed)
    return {
        "status": str(decision.status),
        "reason": decision.reason,
        "decided_by": decision.decided_by,
        "checks": [{"name": v.check, "version": v.version, "score": v.score, "label": v.label,
                    "may_reject": v.may_reject,
                    "reasons": v.reasons} for v in outcome.verdicts],
        "no_opinion": outcome.no_opinion,
    }
