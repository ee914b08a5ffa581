"""Shared fixtures: settings, databases on both backends, app, client, labelled data.

Backends. Every API and domain test runs twice: on SQLite (the embedded default) and on
PostgreSQL. Locally, a PostgreSQL or Redis that is not running skips its half with a
message; under CI (``CI=true``) a missing service fails those tests loudly instead.

Isolation. Tests commit for real (the code under test commits, and worker processes must
see the rows), and every table is emptied after each test.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from config import Settings
from tests.support import (
    BACKENDS,
    DATA_DIR,
    IN_CI,
    empty_tables,
    make_settings,
    postgres_available,
    postgres_database,
    redis_available,
    require_service,
    reset_postgres_schema,
    upgrade,
)


def pytest_report_header() -> list[str]:
    return [
        f"warden: CI={IN_CI} postgres={'up' if postgres_available() else 'DOWN'} "
        f"redis={'up' if redis_available() else 'DOWN'} data={DATA_DIR} "
        f"({'present' if DATA_DIR.is_dir() else 'absent'})"
    ]


@pytest.fixture(scope="session")
def migrated(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Settings]:
    """Per backend, a database migrated to head once per session."""
    done: dict[str, Settings] = {}

    def get(backend: str) -> Settings:
        if backend not in done:
            tmp = tmp_path_factory.mktemp(f"db-{backend}")
            if backend == "sqlite":
                settings = make_settings(tmp, f"sqlite:///{tmp / 'warden.db'}")
            else:
                require_service("PostgreSQL", postgres_available())
                url = postgres_database("warden_test_api")
                reset_postgres_schema(url)
                settings = make_settings(tmp, url)
            upgrade(settings)
            done[backend] = settings
        return done[backend]

    return get


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    if request.param == "postgresql":
        require_service("PostgreSQL", postgres_available())
    return request.param


@pytest.fixture
def settings(backend: str, migrated: Callable[[str], Settings]) -> Settings:
    return migrated(backend)


@pytest.fixture
def app(settings: Settings) -> Iterator[Flask]:
    from service.app import create_app

    application = create_app(settings)
    application.config["TESTING"] = True
    yield application
    empty_tables(application)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def session(app: Flask) -> Iterator[Any]:
    from service.extensions import db

    with app.app_context():
        yield db.session


@pytest.fixture
def demo_site(app: Flask) -> str:
    from service.domain.sites import ensure_demo_site
    from service.extensions import db

    with app.app_context():
        ensure_demo_site(db.session)
        db.session.commit()
    return "demo"


@pytest.fixture
def data_dir() -> Path:
    """The labelled comments; absent locally means skip, absent under CI means fail."""
    if not DATA_DIR.is_dir():
        message = f"labelled data not found at {DATA_DIR} (set WARDEN_DATA_DIR)"
        if IN_CI:
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    return DATA_DIR


