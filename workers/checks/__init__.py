"""Moderation checks, one module each; ``default_checks`` is the pipeline's list."""

from __future__ import annotations

from functools import lru_cache

from workers.checks.bait import BaitCheck
from workers.checks.base import Check, CommentContext, Verdict
from workers.checks.behaviour import BehaviourCheck
from workers.checks.links import LinksCheck
from workers.checks.models_text import SpamTextCheck, ToxicityCheck
from workers.checks.profanity import ProfanityCheck
from workers.checks.site_spam import SiteSpamCheck
from workers.checks.words import WordsCheck


@lru_cache(maxsize=1)
def default_checks() -> tuple[Check, ...]:
    """Built once per process: models load here, not per comment."""
    checks: list[Check] = [ToxicityCheck(), ProfanityCheck(), SpamTextCheck(), LinksCheck(),
                           BaitCheck(), BehaviourCheck(), WordsCheck(), SiteSpamCheck()]
    return tuple(checks)


def offline_checks() -> tuple[Check, ...]:
    """The default checks that need no database (``warden eval``): no per-site models."""
    return tuple(c for c in default_checks() if not getattr(c, "site_specific", False))


__all__ = ["Check", "CommentContext", "Verdict", "default_checks", "offline_checks"]
