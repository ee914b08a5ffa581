"""Migrations build the schema the models describe, from empty, on both backends."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade
from flask_migrate import upgrade as alembic_upgrade
from sqlalchemy import inspect

from service.app import create_app
from service.extensions import db
from service.models import Base
from tests.support import (
    make_settings,
    postgres_available,
    postgres_database,
    require_service,
    reset_postgres_schema,
)


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_upgrade_from_empty_matches_models_and_downgrades(backend: str, tmp_path: Path) -> None:
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path / 'm.db'}"
    else:
        require_service("PostgreSQL", postgres_available())
        url = postgres_database("warden_test_migrations")
        reset_postgres_schema(url)
    app = create_app(make_settings(tmp_path, url))
    with app.app_context():
        alembic_upgrade()
        with db.engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
        assert diff == [], f"models and migrations disagree: {diff}"
        downgrade(revision="base")
        assert set(inspect(db.engine).get_table_names()) <= {"alembic_version"}
        alembic_upgrade()
        db.engine.dispose()
