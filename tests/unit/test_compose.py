"""docker-compose.yml cannot run here (no Docker engine), so check what it declares."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from config.settings import _COERCERS, PREFIX
from service.cli import main

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_production_services_with_health_checks(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert {"web", "worker", "beat", "postgres", "redis"} <= set(services)
    for name in ("web", "worker", "beat", "postgres", "redis"):
        assert services[name].get("healthcheck", {}).get("test"), f"{name} has no health check"


def test_commands_are_real_warden_commands(compose: dict[str, Any]) -> None:
    runner = CliRunner()
    for name, service in compose["services"].items():
        command = service.get("command")
        if not command or command[0] != "warden":
            continue
        result = runner.invoke(main, [*command[1:], "--help"])
        assert result.exit_code == 0, f"{name}: `{' '.join(command)}` is not a warden command"
    assert compose["services"]["web"]["command"] == ["warden", "web"]
    assert compose["services"]["worker"]["command"] == ["warden", "worker"]
    assert compose["services"]["beat"]["command"] == ["warden", "beat"]


def test_environment_uses_known_settings_and_real_services(compose: dict[str, Any]) -> None:
    known = {PREFIX + name for name in _COERCERS}
    for name in ("web", "worker", "beat", "migrate"):
        env = compose["services"][name]["environment"]
        unknown = {k for k in env if k.startswith(PREFIX)} - known
        assert not unknown, f"{name} sets unknown settings {unknown}"
        assert env["WARDEN_DATABASE_URL"].startswith("postgresql+psycopg://")
        assert "@postgres:5432/" in env["WARDEN_DATABASE_URL"]
        assert env["WARDEN_BROKER_URL"].startswith("redis://redis:6379")
        assert re.fullmatch(r"\$\{WARDEN_SECRET_KEY:\?.+\}", env["WARDEN_SECRET_KEY"])
        depends = compose["services"][name]["depends_on"]
        assert depends["postgres"]["condition"] == "service_healthy"


def test_web_listens_where_the_port_is_published(compose: dict[str, Any]) -> None:
    web = compose["services"]["web"]
    assert web["environment"]["WARDEN_HOST"] == "0.0.0.0"
    assert f"{web['environment']['WARDEN_PORT']}:8000" in web["ports"]


def test_no_secret_values_in_the_file() -> None:
    text = (ROOT / "docker-compose.yml").read_text()
    assert not re.search(r"(PASSWORD|SECRET_KEY):\s*['\"]?[A-Za-z0-9]{8,}", text)
