"""The warden command, in-process through click's runner."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from service.cli import main
from service.domain.security import token_digest
from service.extensions import db
from service.models import ApiKey, Site


@pytest.fixture
def runner(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    for name in ("WARDEN_DATABASE_URL", "WARDEN_BROKER_URL", "WARDEN_REDIS_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("WARDEN_INSTANCE_DIR", str(tmp_path))
    return CliRunner()


def test_help_explains_each_command(runner: CliRunner) -> None:
    result = runner.invoke(main, ["--help"])
    assert result.exit_code == 0
    for command in ("run", "web", "worker", "beat", "db", "sites", "keys", "settings"):
        assert command in result.output


def test_sites_and_keys(runner: CliRunner, tmp_path: Path) -> None:
    assert runner.invoke(main, ["db", "upgrade"]).exit_code == 0
    created = runner.invoke(main, ["sites", "create", "news", "--origin", "https://news.example",
                                   "--mode", "post"])
    assert created.exit_code == 0, created.output
    again = runner.invoke(main, ["sites", "create", "news", "--origin", "https://news.example"])
    assert again.exit_code != 0
    assert "already exists" in again.output
    bad = runner.invoke(main, ["sites", "create", "Bad Id!", "--origin", "https://x.example"])
    assert bad.exit_code != 0
    key = runner.invoke(main, ["keys", "create", "--site", "news", "--role", "moderator"])
    assert key.exit_code == 0, key.output
    plain = key.stdout.strip().splitlines()[-1]
    assert plain.startswith("cw_mod_")
    no_site = runner.invoke(main, ["keys", "create", "--site", "nope", "--role", "admin"])
    assert no_site.exit_code != 0

    from service.app import create_app
    from tests.support import make_settings

    app = create_app(make_settings(tmp_path, f"sqlite:///{tmp_path / 'warden.db'}"))
    with app.app_context():
        site = db.session.get(Site, "news")
        assert site.mode == "post"
        assert site.allowed_origins == ["https://news.example"]
        stored = db.session.scalars(select(ApiKey)).one()
        assert stored.key_hash == token_digest(plain)
        assert plain not in {stored.key_hash, stored.prefix}
        db.engine.dispose()


def test_a_database_without_tables_says_where_it_is_and_what_to_do(
        runner: CliRunner, tmp_path: Path) -> None:
    """A command run outside the project folder opens a new, empty embedded database (the
    default instance folder is relative): the answer names it and the way out."""
    result = runner.invoke(main, ["keys", "create", "--site", "demo", "--role", "moderator"])
    assert result.exit_code == 1, result.output
    first, hint = result.output.strip().splitlines()
    assert first == (f"Error: database the embedded SQLite database ({tmp_path}/warden.db): "
                     "no such table: sites")
    assert "schema is missing or behind: run `warden db upgrade`" in hint
    assert "WARDEN_INSTANCE_DIR" in hint
    assert "Traceback" not in result.output


def test_bad_setting_fails_at_start_naming_it(runner: CliRunner,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WARDEN_PORT", "not-a-port")
    result = runner.invoke(main, ["db", "upgrade"])
    assert result.exit_code != 0
    assert "WARDEN_PORT" in result.output


def test_an_unreachable_database_is_one_line_without_the_password(
        runner: CliRunner, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WARDEN_DATABASE_URL",
                       "postgresql+psycopg://warden:s3cret@127.0.0.1:1/warden")
    for command in (["db", "upgrade"], ["sites", "create", "news", "--origin",
                                        "https://news.example"]):
        result = runner.invoke(main, command)
        assert result.exit_code == 1, result.output
        assert result.output.startswith(
            "Error: database postgresql+psycopg://warden:***@127.0.0.1:1/warden: ")
        assert "s3cret" not in result.output
        assert "Traceback" not in result.output
        assert len(result.output.strip().splitlines()) == 1


def test_out_of_range_arguments_are_one_line_errors(runner: CliRunner, tmp_path: Path) -> None:
    assert runner.invoke(main, ["db", "upgrade"]).exit_code == 0
    assert runner.invoke(main, ["sites", "create", "news", "--origin",
                                "https://news.example"]).exit_code == 0
    for command in (["policy", "replay", "--site", "news", "--since", "inf"],
                    ["policy", "replay", "--site", "news", "--since", "nan"],
                    ["policy", "replay", "--site", "news", "--since", "1e308"],
                    ["db", "upgrade", "--revision", ""]):
        result = runner.invoke(main, command)
        assert result.exit_code == 2, (command, result.output)
        assert "Traceback" not in result.output
        assert "Invalid value" in result.output, result.output
    data = tmp_path / "few.csv"
    data.write_text("id,text,label\n1,hello,ham\n2,buy now,spam\n")
    upside_down = runner.invoke(main, ["eval", "--data", str(data), "--hold-threshold", "0.95"])
    assert upside_down.exit_code == 1
    assert "hold threshold 0.95 is above reject threshold 0.9" in upside_down.output
    for option in ("--hold-threshold", "--reject-threshold"):
        # NaN passes every range comparison: it held nothing, and --json printed NaN.
        result = runner.invoke(main, ["eval", "--data", str(data), option, "nan", "--json"])
        assert result.exit_code == 2, (option, result.output)
        assert "not a number" in result.output
        assert "Traceback" not in result.output


def test_db_upgrade_says_where_the_database_is(runner: CliRunner) -> None:
    """Asked for an older revision, upgrade does not go down, and says so truthfully."""
    head = runner.invoke(main, ["db", "upgrade"])
    assert head.exit_code == 0
    assert head.output.strip().splitlines()[-1].startswith("database at ")
    older = runner.invoke(main, ["db", "upgrade", "--revision", "0005"])
    assert older.exit_code == 0
    assert "database at 0005" not in older.output
    assert older.output.strip().splitlines()[-1] == head.output.strip().splitlines()[-1]
