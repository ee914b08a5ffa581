"""Fault-test fixtures: a stack of real processes plus an in-process app on its database.

The stacks are those of tests/integration (``embedded``: SQLite + filesystem broker;
``production``: PostgreSQL + Redis), but on their own database (``warden_test_fault``) and
Redis database (13), so a fault run does not trample an integration run (or bench/, which
uses 14).
"""

from __future__ import annotations

import fcntl
import signal
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import httpx
import pytest
import redis
from flask import Flask

from config import Settings
from service.domain.sites import ensure_demo_site
from service.extensions import db
from tests.integration.conftest import STACKS, Stack
from tests.support import (
    REDIS_URL,
    Process,
    free_port,
    make_settings,
    postgres_available,
    postgres_database,
    redis_available,
    require_service,
    reset_postgres_schema,
    upgrade,
    wait_until,
)

FAULT_REDIS_URL = urlparse(REDIS_URL)._replace(path="/13").geturl()
FAST = {"sweep_interval_seconds": 1.0, "moderation_stale_seconds": 3.0}
LOCK_WAIT = 200  # seconds; the longest fault test takes about 90


@dataclass
class Web:
    process: Process
    base_url: str

    def client(self, timeout: float = 10) -> httpx.Client:
        # No keep-alive: each request opens its own connection, so a reset the client sees
        # is the server's doing, never a stale pooled connection.
        return httpx.Client(base_url=self.base_url, timeout=timeout,
                            limits=httpx.Limits(max_keepalive_connections=0))

    def wait_ready(self, path: str = "/readyz", timeout: float = 60) -> Web:
        with httpx.Client(base_url=self.base_url, timeout=5) as probe:

            def ready() -> bool:
                assert self.process.popen.poll() is None, self.process.log_tail()
                try:
                    return probe.get(path).status_code == 200
                except httpx.TransportError:
                    return False

            wait_until(ready, timeout, interval=0.2, message=f"web {path}")
        return self


@dataclass
class FaultStack(Stack):
    app: Flask | None = None

    @property
    def flask(self) -> Flask:
        assert self.app is not None
        return self.app

    def start_web(self, **env: str) -> Web:
        """Start `warden web` on a free port (never 8000); see ``Web.wait_ready``."""
        port = free_port()
        while port == 8000:
            port = free_port()
        process = self.start("web", WARDEN_PORT=str(port), **env)
        return Web(process, f"http://127.0.0.1:{port}")

    def web(self, **env: str) -> Web:
        """Start `warden web` and wait until /readyz answers 200."""
        return self.start_web(**env).wait_ready()

    def kill_all(self) -> None:
        """Teardown: graceful stops are what test_graceful_shutdown tests, not every test."""
        for process in self.processes:
            process.stop(signal.SIGKILL, timeout=10)


def fault_settings(name: str, tmp: Path) -> Settings:
    if name == "embedded":
        return make_settings(tmp, f"sqlite:///{tmp / 'warden.db'}", **FAST)
    require_service("PostgreSQL", postgres_available())
    require_service("Redis", redis_available())
    url = postgres_database("warden_test_fault")
    reset_postgres_schema(url)
    redis.Redis.from_url(FAULT_REDIS_URL).flushdb()
    return make_settings(tmp, url, broker_url=FAULT_REDIS_URL, redis_url=FAULT_REDIS_URL,
                         **FAST)


def _stack(name: str, tmp: Path) -> Iterator[FaultStack]:
    from service.app import create_app

    settings = fault_settings(name, tmp)
    upgrade(settings)
    app = create_app(settings)
    with app.app_context():
        ensure_demo_site(db.session)
        db.session.commit()
    current = FaultStack(name, settings, tmp, app=app)
    try:
        yield current
    finally:
        current.kill_all()
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


@pytest.fixture(autouse=True)
def one_fault_test_at_a_time() -> Iterator[None]:
    """Machine-wide: two pytest runs must not stop PostgreSQL or restart Redis under each
    other, nor share warden_test_fault; a second run waits (bounded) for the first.

    The flock is taken by a blocking call in a helper thread (a waiter gets the lock as soon
    as it is released; polling would keep losing it to the holder's next test).
    """
    handle = (Path(tempfile.gettempdir()) / "warden-fault-tests.lock").open("w")
    acquired, abandoned = threading.Event(), threading.Event()

    def take() -> None:
        fcntl.flock(handle, fcntl.LOCK_EX)
        acquired.set()
        if abandoned.is_set():
            handle.close()  # the test gave up waiting: let the lock go at once

    threading.Thread(target=take, daemon=True).start()
    if not acquired.wait(LOCK_WAIT):
        abandoned.set()
        pytest.fail(f"another test run held the fault-test lock for {LOCK_WAIT}s")
    try:
        yield
    finally:
        handle.close()  # closing the file releases the flock


@pytest.fixture(params=STACKS)
def any_stack(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[FaultStack]:
    yield from _stack(request.param, tmp_path)


@pytest.fixture
def production(tmp_path: Path) -> Iterator[FaultStack]:
    yield from _stack("production", tmp_path)


@pytest.fixture
def embedded(tmp_path: Path) -> Iterator[FaultStack]:
    yield from _stack("embedded", tmp_path)


def redis_client(settings: Settings) -> Any:
    return redis.Redis.from_url(settings.broker_url, socket_timeout=5)
