"""Extensions, created unbound here and bound to an app in ``create_app``."""

from __future__ import annotations

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
