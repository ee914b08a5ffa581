"""Extensions, created unbound here and bound to an app in ``create_app``."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_migrate import Migrate
from flask_smorest import Api
from flask_sqlalchemy import SQLAlchemy

from service.domain.security import client_network
from service.models.base import Base
from service.schemas.errors import ErrorSchema


class WardenApi(Api):
    """flask-smorest, documenting our one error shape instead of its own."""

    ERROR_SCHEMA = ErrorSchema


db = SQLAlchemy(model_class=Base)
migrate = Migrate()
api = WardenApi()


def reader_network() -> str:
    """Rate limits count per IPv4 address, or per IPv6 /64 (one reader holds a whole one)."""
    return client_network(get_remote_address())


limiter = Limiter(key_func=reader_network, default_limits=[])


View = TypeVar("View", bound=Callable[..., Any])


def limits_unless_off(off: Callable[[], bool],
                      *limits: Callable[[View], View]) -> Callable[[View], View]:
    """``limiter.limit(...)`` decorators that are not consulted at all while ``off()``.

    Their own ``exempt_when`` is asked only after flask-limiter has resolved the route's
    limits and its request identity: about a tenth of a submit's CPU for a limit the
    operator turned off (``WARDEN_RATE_LIMIT_SUBMIT=off``, e.g. behind a gateway that limits
    already). ``off`` is read per request, so a settings change needs no new decorators.
    """

    def decorate(view: View) -> View:
        limited = view
        for limit in reversed(limits):
            limited = limit(limited)

        @functools.wraps(limited)
        def dispatch(*args: Any, **kwargs: Any) -> Any:
            return view(*args, **kwargs) if off() else limited(*args, **kwargs)

        return dispatch  # type: ignore[return-value]

    return decorate
