"""Optional remote providers (Akismet, Perspective) behind the ordinary Check protocol.

Off unless their key is set. A provider that times out, errs or answers nonsense gives
"no opinion" (``None``): the comment is decided by the other checks, never held for it.
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING

from workers.checks.remote.akismet import AkismetCheck, AkismetClient
from workers.checks.remote.perspective import PerspectiveCheck

if TYPE_CHECKING:
    from config import Settings
    from workers.checks.base import Check


def remote_checks(settings: Settings) -> tuple[Check, ...]:
    """The enabled providers' checks for these settings (built once per configuration)."""
    return _remote_checks(
        settings.akismet_key, settings.akismet_url, settings.akismet_blog, settings.akismet_test,
        settings.perspective_key, settings.perspective_url, settings.perspective_languages,
        settings.remote_timeout_seconds)


@lru_cache(maxsize=8)
def _remote_checks(akismet_key: str, akismet_url: str, akismet_blog: str, akismet_test: bool,
                   perspective_key: str, perspective_url: str, languages: str,
                   timeout: float) -> tuple[Check, ...]:
    checks: list[Check] = []
    if akismet_key:
        checks.append(AkismetCheck(AkismetClient(akismet_key, akismet_url, timeout),
                                   blog=akismet_blog, is_test=akismet_test, languages=languages))
    if perspective_key:
        checks.append(PerspectiveCheck(perspective_key, perspective_url, timeout,
                                       languages=languages))
    return tuple(checks)


__all__ = ["AkismetCheck", "AkismetClient", "PerspectiveCheck", "remote_checks"]
