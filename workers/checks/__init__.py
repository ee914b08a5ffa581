"""Moderation checks, one module each; ``default_checks`` is the pipeline's list."""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING

from workers.checks.base import Check, CommentContext, Verdict

if TYPE_CHECKING:
    from config import Settings


#: Every check's name, local and remote: the web process filters queues by them without
#: importing the checks (their models' libraries cost each web worker about 60 MB).
CHECK_NAMES = ("toxicity", "profanity", "threats", "identity_attack", "spam_text", "links",
               "bait", "behaviour", "words", "site_spam", "akismet", "perspective")


@lru_cache(maxsize=1)
def local_checks() -> tuple[Check, ...]:
    """Built once per process: models load here, not per comment.

    The check modules are imported here, not at the top: the web process imports this
    package for its types (feedback, simulate), and the models' libraries (scikit-learn,
    SciPy) cost each web worker about 60 MB it never uses.
    """
    from workers.checks.bait import BaitCheck
    from workers.checks.behaviour import BehaviourCheck
    from workers.checks.identity import IdentityAttackCheck
    from workers.checks.links import LinksCheck
    from workers.checks.models_text import SpamTextCheck, ToxicityCheck
    from workers.checks.profanity import ProfanityCheck
    from workers.checks.site_spam import SiteSpamCheck
    from workers.checks.threats import ThreatsCheck
    from workers.checks.words import WordsCheck

    checks: list[Check] = [ToxicityCheck(), ProfanityCheck(), ThreatsCheck(),
                           IdentityAttackCheck(), SpamTextCheck(), LinksCheck(), BaitCheck(),
                           BehaviourCheck(), WordsCheck(), SiteSpamCheck()]
    return tuple(checks)


def default_checks(settings: Settings | None = None) -> tuple[Check, ...]:
    """The local checks, plus the remote providers whose key is set.

    Without ``settings`` the current Flask app's are used (the worker's tasks and the
    simulate endpoint run inside one); outside an app (``warden eval``, the worker's
    warm-up) only the local checks run, so nothing is sent to a provider there.
    """
    if settings is None:
        settings = _app_settings()
    if settings is None or not (settings.akismet_key or settings.perspective_key):
        return local_checks()
    from workers.checks.remote import remote_checks

    return local_checks() + remote_checks(settings)


def offline_checks() -> tuple[Check, ...]:
    """The local checks that need no database (``warden eval``): no per-site models."""
    return tuple(c for c in local_checks() if not getattr(c, "site_specific", False))


def _app_settings() -> Settings | None:
    from flask import current_app, has_app_context

    if not has_app_context():
        return None
    return current_app.config.get("WARDEN")


__all__ = ["Check", "CommentContext", "Verdict", "default_checks", "local_checks",
           "offline_checks"]
