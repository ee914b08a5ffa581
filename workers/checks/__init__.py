"""Moderation checks, one module each; ``default_checks`` is the pipeline's list."""

from __future__ import annotations

from functools import lru_cache

from workers.checks.bait import BaitCheck
from workers.checks.base import Check, CommentContext, Verdict
from workers.checks.behaviour import BehaviourCheck
from workers.checks.links import LinksCheck
from workers.checks.models_text import SpamTextCheck, ToxicityCheck
from workers.checks.profanity import ProfanityCheck
from workers.checks.words import WordsCheck


@lru_cache(maxsize=1)
def default_checks() -> tuple[Check, ...]:
    """Built once per process: models load here, not per comment."""
    checks: list[Check] = [ToxicityCheck(), ProfanityCheck(), SpamTextCheck(), LinksCheck(),
                           BaitCheck(), BehaviourCheck(), WordsCheck()]
    return tuple(checks)


__all__ = ["Check", "CommentContext", "Verdict", "default_checks"]
