"""Test helpers shared by fixtures and tests: services, settings, real processes.

Backends. Every API and domain test runs twice: on SQLite (the embedded default) and on
PostgreSQL. Locally, a PostgreSQL or Redis that is not running skips its half with a
message; under CI (``CI=true``) a missing service fails those tests loudly instead.

Isolation. Tests commit for real (the code under test commits, and worker processes must
see the rows), and every table is emptied after each test.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
from flask import Flask
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from config import Settings

ROOT = Path(__file__).resolve().parent.parent
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
POSTGRES_ADMIN_URL = os.environ.get(
    "WARDEN_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
REDIS_URL = os.environ.get("WARDEN_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
DATA_DIR = Path(os.environ.get("WARDEN_DATA_DIR", str(ROOT.parent / "shared" / "data")))
BACKENDS = ("sqlite", "postgresql")


def _tcp_open(url: str, default_port: int) -> bool:
    parsed = urlparse(url.replace("+psycopg", ""))
    try:
        with socket.create_connection((parsed.hostname or "127.0.0.1",
                                       parsed.port or default_port), timeout=1):
            return True
    except OSError:
        return False


def require_service(name: str, available: bool) -> None:
    """Skip locally, fail loudly under CI: CI must never skip a real-service test."""
    if available:
        return
    message = f"{name} is not reachable"
    if IN_CI:
        pytest.fail(f"{message}, and CI requires it (start it; see .ci/run)", pytrace=False)
    pytest.skip(f"{message}; the {name} half of the suite is skipped locally")


def postgres_available() -> bool:
    return _tcp_open(POSTGRES_ADMIN_URL, 5432)


def redis_available() -> bool:
    return _tcp_open(REDIS_URL, 6379)


# Lets two checkouts run their suites on one machine without sharing databases.
DATABASE_SUFFIX = os.environ.get("WARDEN_TEST_DB_SUFFIX", "")


def postgres_database(name: str) -> str:
    """Create (if needed) a dedicated database next to the admin one; return its URL."""
    name += DATABASE_SUFFIX
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        exists = conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name})
        if not exists:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(hide_password=False)


def reset_postgres_schema(url: str) -> None:
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()


def make_settings(tmp: Path, database_url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "instance_dir": str(tmp),
        "database_url": database_url,
        "broker_url": "filesystem://",
        "secret_key": "test-secret-key-0123456789",
        "rate_limit_submit": "off",
        "rate_limit_flag": "off",
        "log_level": "WARNING",
        "data_dir": str(DATA_DIR),
    }
    values.update(overrides)
    return Settings(**values).resolved()


def upgrade(settings: Settings) -> None:
    from flask_migrate import upgrade as alembic_upgrade

    from service.app import create_app
    from service.extensions import db

    with create_app(settings).app_context():
        alembic_upgrade()
        db.engine.dispose()


def empty_tables(app: Flask) -> None:
    from service.extensions import db
    from service.models import Base

    with app.app_context():
        db.session.remove()
        names = [t.name for t in reversed(Base.metadata.sorted_tables)]
        with db.engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(text(f"TRUNCATE {', '.join(names)} RESTART IDENTITY CASCADE"))
            else:
                for name in names:
                    conn.execute(text(f"DELETE FROM {name}"))  # noqa: S608 - table names
        db.engine.dispose()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def warden_env(settings: Settings, **extra: str) -> dict[str, str]:
    """Environment for a child `warden ...` process matching ``settings``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("WARDEN_")}
    env.update({
        "WARDEN_INSTANCE_DIR": settings.instance_dir,
        "WARDEN_DATABASE_URL": settings.database_url,
        "WARDEN_BROKER_URL": settings.broker_url,
        "WARDEN_SECRET_KEY": settings.secret_key,
        "WARDEN_RATE_LIMIT_SUBMIT": settings.rate_limit_submit,
        "WARDEN_RATE_LIMIT_FLAG": settings.rate_limit_flag,
        "WARDEN_SWEEP_INTERVAL_SECONDS": str(settings.sweep_interval_seconds),
        "WARDEN_MODERATION_STALE_SECONDS": str(settings.moderation_stale_seconds),
        "WARDEN_MODERATION_MAX_ATTEMPTS": str(settings.moderation_max_attempts),
        "WARDEN_MODERATION_BATCH_SIZE": str(settings.moderation_batch_size),
        "WARDEN_WORKER_CONCURRENCY": str(settings.worker_concurrency),
        "WARDEN_LOG_LEVEL": "INFO",
        "PYTHONUNBUFFERED": "1",
    })
    if settings.redis_url:
        env["WARDEN_REDIS_URL"] = settings.redis_url
    env.update(extra)
    return env


class Process:
    """A real child process (its own process group), stopped and reaped by the fixture."""

    def __init__(self, args: list[str], env: dict[str, str], log_path: Path) -> None:
        self.log_path = log_path
        self._log = log_path.open("wb")
        self.popen = subprocess.Popen(
            args, env=env, cwd=ROOT, stdout=self._log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def signal_group(self, sig: int) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.popen.pid, sig)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> int | None:
        """Stop the process (a no-op if it is gone), reap it, close the log.

        SIGKILL goes to the whole group; any other signal to the program alone, as
        ``docker stop`` and Kubernetes send it, and each program stops its own children.
        A group-wide SIGTERM killed Celery's pool processes while they read the pool's
        queue, and the worker's warm shutdown hung on their lock until its 20 s grace.
        After the exit or the time-out, whatever is left of the group is SIGKILLed.
        """
        if sig == signal.SIGKILL:
            self.signal_group(sig)
        else:
            self.popen.send_signal(sig)  # nothing if it has already exited
        try:
            return self.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None
        finally:
            self.signal_group(signal.SIGKILL)
            self.popen.wait(timeout=10)  # at once when already reaped
            self._log.close()

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


def warden_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "service.cli", *args]


def wait_until(predicate: Callable[[], Any], timeout: float, interval: float = 0.1,
               message: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {message}")
