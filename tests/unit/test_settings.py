"""Settings are coerced strictly and name the variable when they are wrong."""

from __future__ import annotations

from pathlib import Path

import pytest

from config import Settings, SettingsError


def test_defaults_run_embedded(tmp_path: Path) -> None:
    settings = Settings.from_env({"WARDEN_INSTANCE_DIR": str(tmp_path)})
    assert settings.database_url == f"sqlite:///{tmp_path / 'warden.db'}"
    assert settings.broker_url == "filesystem://"
    assert settings.is_sqlite
    # The generated secret is stable across processes and private to the owner.
    key_file = tmp_path / "secret_key"
    assert key_file.read_text() == settings.secret_key
    assert key_file.stat().st_mode & 0o777 == 0o600
    assert Settings.from_env({"WARDEN_INSTANCE_DIR": str(tmp_path)}).secret_key == \
        settings.secret_key


def test_values_are_coerced(tmp_path: Path) -> None:
    settings = Settings.from_env({
        "WARDEN_INSTANCE_DIR": str(tmp_path),
        "WARDEN_PORT": "9001",
        "WARDEN_DATABASE_URL": "postgresql+psycopg://u:p@db/warden",
        "WARDEN_BROKER_URL": "redis://redis:6379/0",
        "WARDEN_RATE_LIMIT_SUBMIT": "off",
        "WARDEN_SWEEP_INTERVAL_SECONDS": "2.5",
        "WARDEN_SECRET_KEY": "x" * 32,
    })
    assert settings.port == 9001
    assert not settings.is_sqlite
    assert settings.rate_limit_submit == "off"
    assert settings.sweep_interval_seconds == 2.5


@pytest.mark.parametrize(("name", "value"), [
    ("PORT", "eighty"),
    ("PORT", "70000"),
    ("DATABASE_URL", "mysql://db/warden"),
    ("BROKER_URL", "kafka://x"),
    ("RATE_LIMIT_SUBMIT", "lots"),
    ("RATE_LIMIT_SUBMIT", "0/minute"),  # refuses everything; "off" is the way to say none
    ("RATE_LIMIT_FLAG", "10/minute;0/day"),
    ("RATE_LIMIT_SUBMIT", "5/0 minute"),  # a window of no length
    ("RATE_LIMIT_SUBMIT", "5/00 minutes"),
    ("MAX_BODY_CHARS", "0"),
    ("LOG_LEVEL", "chatty"),
    ("SECRET_KEY", "short"),
    ("AKISMET_URL", "ftp://akismet.example"),
    ("PERSPECTIVE_LANGUAGES", "english please"),
    ("REMOTE_TIMEOUT_SECONDS", "0"),
    ("REMOTE_FEEDBACK_RETRY_SCHEDULE", "soon"),
])
def test_bad_values_name_the_variable(tmp_path: Path, name: str, value: str) -> None:
    with pytest.raises(SettingsError, match=f"WARDEN_{name}"):
        Settings.from_env({"WARDEN_INSTANCE_DIR": str(tmp_path), f"WARDEN_{name}": value})


def test_every_setting_is_documented_in_the_readme() -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    for name, _default, _help in Settings.documented():
        assert f"`{name}`" in readme, name


def test_remote_providers_are_off_by_default_and_keys_stay_secret(tmp_path: Path) -> None:
    settings = Settings.from_env({"WARDEN_INSTANCE_DIR": str(tmp_path)})
    assert not settings.akismet_enabled
    assert not settings.perspective_enabled
    on = Settings.from_env({"WARDEN_INSTANCE_DIR": str(tmp_path),
                            "WARDEN_AKISMET_KEY": "ak-1234567890",
                            "WARDEN_PERSPECTIVE_KEY": "pk-1234567890",
                            "WARDEN_PERSPECTIVE_LANGUAGES": "en, de"})
    assert on.akismet_enabled
    assert on.perspective_enabled
    assert on.perspective_languages == "en,de"
    assert "ak-1234567890" not in repr(on)
    assert "pk-1234567890" not in repr(on)
    rows = {name: default for name, default, _help in Settings.documented()}
    assert rows["WARDEN_AKISMET_KEY"] == rows["WARDEN_PERSPECTIVE_KEY"] == ""
    assert rows["WARDEN_AKISMET_URL"] == "https://rest.akismet.com"
