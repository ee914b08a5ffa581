"""Stopping and starting this machine's own Redis and PostgreSQL (always restored)."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlparse

from tests.support import require_service, wait_until

REDIS_CLI = ["redis-cli", "-h", "127.0.0.1", "-p", "6379"]
# Exactly how CI starts it: nothing is kept on disk, so a restart empties every queue.
REDIS_SERVER = ["redis-server", "--daemonize", "yes", "--bind", "127.0.0.1", "-::1",
                "--port", "6379", "--save", "", "--appendonly", "no", "--dir",
                "/var/lib/redis", "--logfile", "/var/log/redis/ci.log"]


def _run(args: list[str], timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, timeout=timeout, check=False,
                          stdin=subprocess.DEVNULL)


def require_local_redis(broker_url: str) -> None:
    """The restart test drives the Redis on 127.0.0.1:6379 with redis-cli/redis-server."""
    parsed = urlparse(broker_url)
    local = (parsed.hostname, parsed.port or 6379) == ("127.0.0.1", 6379)
    tools = bool(shutil.which("redis-cli") and shutil.which("redis-server"))
    require_service("a local Redis on 127.0.0.1:6379 with redis-server", local and tools)


def redis_ping() -> bool:
    try:
        return _run([*REDIS_CLI, "ping"], timeout=5).stdout.strip() == "PONG"
    except subprocess.TimeoutExpired:
        return False


def redis_run_id() -> str | None:
    try:
        out = _run([*REDIS_CLI, "info", "server"], timeout=5).stdout
    except subprocess.TimeoutExpired:
        return None
    for line in out.splitlines():
        if line.startswith("run_id:"):
            return line.split(":", 1)[1].strip()
    return None


def redis_stop() -> None:
    _run([*REDIS_CLI, "shutdown", "nosave"], timeout=10)
    wait_until(lambda: not redis_ping(), 15, interval=0.1, message="Redis to stop")


def redis_start(timeout: float = 60) -> None:
    """Start Redis if it does not answer, and wait (bounded) until PING answers."""
    deadline = time.monotonic() + timeout
    while not redis_ping():
        assert time.monotonic() < deadline, "Redis could not be started again"
        subprocess.run(REDIS_SERVER, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, timeout=15, check=False,
                       start_new_session=True)
        _wait_briefly(redis_ping, 5)


def _wait_briefly(predicate: Callable[[], bool], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


def _pg_version() -> str:
    versions = sorted(os.listdir("/etc/postgresql"))
    assert len(versions) == 1, f"expected one PostgreSQL cluster version, found {versions}"
    return versions[0]


def require_local_postgres(database_url: str) -> None:
    """The outage test stops this machine's own cluster with pg_ctlcluster (as root)."""
    parsed = urlparse(database_url.replace("+psycopg", ""))
    local = parsed.hostname == "127.0.0.1" and (parsed.port or 5432) == 5432
    tools = bool(shutil.which("pg_ctlcluster") and shutil.which("pg_isready"))
    ok = local and tools and Path("/etc/postgresql").is_dir() and os.geteuid() == 0
    require_service("a local PostgreSQL cluster controllable with pg_ctlcluster as root", ok)


def pg_ctl(action: str) -> subprocess.CompletedProcess[str]:
    args = ["pg_ctlcluster", "--skip-systemctl-redirect", _pg_version(), "main", action]
    if action == "stop":
        args += ["-m", "fast"]
    return _run(args, timeout=60)


def pg_ready() -> bool:
    try:
        return _run(["pg_isready", "-h", "127.0.0.1", "-t", "2"], timeout=5).returncode == 0
    except subprocess.TimeoutExpired:
        return False


def pg_down() -> bool:
    """pg_ctlcluster status: 0 running, 3 not running (a stop may still be in progress)."""
    try:
        status = _run(["pg_ctlcluster", _pg_version(), "main", "status"], timeout=10)
    except subprocess.TimeoutExpired:
        return False
    return status.returncode == 3


def pg_start(timeout: float = 180) -> None:
    """Start the cluster if it is down, and wait (bounded) until pg_isready says so.

    Retries: a start issued while a slow stop is still finishing fails, and PostgreSQL must
    not be left down for the rest of the machine.
    """
    deadline = time.monotonic() + timeout
    while not pg_ready():
        assert time.monotonic() < deadline, "PostgreSQL could not be started again"
        if pg_down():
            with contextlib.suppress(subprocess.TimeoutExpired):
                pg_ctl("start")
        _wait_briefly(pg_ready, 5)
