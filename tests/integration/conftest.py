"""Real processes on real services: `warden worker`, `warden beat`, `warden run`.

Two stacks: ``embedded`` (SQLite + filesystem broker, what the README's first command
runs) and ``production`` (PostgreSQL + Redis, what docker-compose.yml runs).
"""

from __future__ import annotations

import signal
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

import pytest
import redis
from flask import Flask

from config import Settings
from tests.support import (
    REDIS_URL,
    Process,
    empty_tables,
    make_settings,
    postgres_available,
    postgres_database,
    redis_available,
    require_service,
    reset_postgres_schema,
    upgrade,
    warden_command,
    warden_env,
)

STACKS = ("embedded", "production")


@dataclass
class Stack:
    name: str
    settings: Settings
    tmp: Path
    processes: list[Process] = field(default_factory=list)

    def start(self, *command: str, **env: str) -> Process:
        log = self.tmp / f"{command[0]}-{len(self.processes)}.log"
        process = Process(warden_command(*command), warden_env(self.settings, **env), log)
        self.processes.append(process)
        return process

    def stop_all(self) -> None:
        # A warm shutdown takes 3-4 s here; now and then billiard's pool processes wait up
        # to 30 s for the main process to read their last results ("could not ensure all
        # messages were consumed"), and `warden worker` SIGKILLs them after its 20 s. A
        # teardown does not test that: past 8 s the group is SIGKILLed.
        for process in self.processes:
            process.stop(signal.SIGTERM, timeout=8)


def build_settings(stack: str, tmp: Path) -> Settings:
    fast = {"sweep_interval_seconds": 1.0, "moderation_stale_seconds": 3.0}
    if stack == "embedded":
        return make_settings(tmp, f"sqlite:///{tmp / 'warden.db'}", **fast)
    require_service("PostgreSQL", postgres_available())
    require_service("Redis", redis_available())
    url = postgres_database("warden_test_it")
    reset_postgres_schema(url)
    redis.Redis.from_url(REDIS_URL).flushdb()
    return make_settings(tmp, url, broker_url=REDIS_URL, redis_url=REDIS_URL, **fast)


@pytest.fixture(params=STACKS)
def stack(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Stack]:
    settings = build_settings(request.param, tmp_path)
    upgrade(settings)
    current = Stack(request.param, settings, tmp_path)
    yield current
    current.stop_all()


@pytest.fixture
def stack_app(stack: Stack) -> Iterator[Flask]:
    """An in-process app on the stack's database and broker (sends to the real worker)."""
    from service.app import create_app

    app = create_app(stack.settings)
    yield app
    # The stack's processes first (this fixture is torn down before ``stack``): a worker
    # still busy with a late task deadlocked with the TRUNCATE (seen once in CI).
    stack.stop_all()
    empty_tables(app)


@pytest.fixture
def with_settings(stack: Stack) -> Callable[..., Settings]:
    def change(**values: object) -> Settings:
        stack.settings = replace(stack.settings, **values)
        return stack.settings

    return change
