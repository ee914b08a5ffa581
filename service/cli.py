"""The ``warden`` command: run the processes, manage the schema, sites and keys."""

from __future__ import annotations

import os
import re
import shutil
import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import click

from config import Settings, SettingsError


def _settings() -> Settings:
    try:
        return Settings.from_env()
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from None


def _app() -> Any:
    from service.app import create_app

    return create_app(_settings())


@contextmanager
def _database() -> Iterator[Any]:
    """An app context whose session is ended and connections closed on the way out."""
    from service.extensions import db as database

    with _app().app_context():
        try:
            yield database.session
        finally:
            database.session.remove()
            database.engine.dispose()


# A missing table or column, in SQLite's and PostgreSQL's words: migrations not applied.
_SCHEMA_BEHIND = re.compile(r"no such (table|column)|^(relation|column) \S+ does not exist")


class _Commands(click.Group):
    """A database that does not answer is one line for the operator, not a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        from sqlalchemy.engine import make_url
        from sqlalchemy.exc import InterfaceError, OperationalError, ProgrammingError

        try:
            return super().invoke(ctx)
        except (OperationalError, InterfaceError, ProgrammingError) as exc:
            lines = str(exc.orig or exc).strip().splitlines()
            reason = lines[0] if lines else type(exc.orig or exc).__name__
            behind = _SCHEMA_BEHIND.search(reason) is not None
            if isinstance(exc, ProgrammingError) and not behind:
                raise  # a bug, not the database: keep the traceback
            where = os.environ.get("WARDEN_DATABASE_URL", "").strip()
            shown = make_url(where).render_as_string(hide_password=True) if where else \
                f"the embedded SQLite database ({_settings().instance_dir}/warden.db)"
            message = f"database {shown}: {reason}"
            if behind:
                # Typically a command run outside the project folder: the default
                # WARDEN_INSTANCE_DIR is relative, so a new, empty database was opened.
                message += ("\nIts schema is missing or behind: run `warden db upgrade` first, "
                            "or run the command from the folder where `warden run` runs (the "
                            "default WARDEN_INSTANCE_DIR, `instance`, is taken from the "
                            "current folder), or set WARDEN_INSTANCE_DIR or "
                            "WARDEN_DATABASE_URL.")
            raise click.ClickException(message) from None


@click.group(cls=_Commands, context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """Comment Warden: comment moderation service.

    Settings come from WARDEN_* environment variables (see `warden settings`); with none
    set, everything runs embedded under ./instance (SQLite, filesystem broker).
    """


@main.command()
def run() -> None:
    """Upgrade the database, seed the demo site, then run web + worker + beat together.

    Ctrl-C stops all three.
    """
    from honcho.manager import Manager

    settings = _settings()
    _upgrade_and_seed()
    exe = [sys.executable, "-m", "service.cli"]
    env = {**os.environ, "WARDEN_INSTANCE_DIR": settings.instance_dir,
           "WARDEN_SECRET_KEY": settings.secret_key, "PYTHONUNBUFFERED": "1"}
    click.echo(f"Comment Warden on http://{settings.host}:{settings.port} "
               f"(database: {_redact(settings.database_url)}, broker: "
               f"{_redact(settings.broker_url)}); Ctrl-C stops.", err=True)
    manager = Manager()
    _signal_programs_not_groups(manager)
    for name in ("web", "worker", "beat"):
        # exec: honcho runs the command through sh; without it, the pid honcho signals
        # would be the shell's, not the program's (see _signal_programs_not_groups).
        manager.add_process(name, " ".join(["exec", *map(_quote, exe), name]), env=env)
    manager.loop()
    sys.exit(manager.returncode)


def _signal_programs_not_groups(manager: Any) -> None:
    """Make honcho send its stop signal to each program, not to its process group.

    Each program stops its own children: gunicorn its workers, Celery its pool. honcho's
    SIGTERM to the whole group killed the worker's pool processes under it ("exited with
    signal 15"), and the worker, still waiting for them, was then SIGKILLed.
    """
    from honcho import manager as honcho_manager
    from honcho.compat import ProcessManager

    # Time for the worker's warm shutdown (a running batch, the broker's last poll) before
    # honcho's SIGKILL; its own 5 s was sometimes too short on a busy machine.
    honcho_manager.KILL_WAIT = 25  # past the worker supervisor's own 20 s

    class ProgramsNotGroups(ProcessManager):  # type: ignore[misc]
        def terminate(self, pid: int) -> None:
            with suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)

    manager._procmgr = ProgramsNotGroups()


@main.command()
def web() -> None:
    """Serve the HTTP API with gunicorn on WARDEN_HOST:WARDEN_PORT."""
    settings = _settings()
    # gunicorn workers each count their own requests; this folder lets /metrics sum them.
    metrics_dir = Path(settings.instance_dir) / "prometheus"
    shutil.rmtree(metrics_dir, ignore_errors=True)
    metrics_dir.mkdir(parents=True)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir)
    args = [sys.executable, "-m", "gunicorn", "service.wsgi:app",
            "--config", "python:service.gunicorn_conf",
            "--bind", f"{settings.host}:{settings.port}",
            "--workers", str(settings.web_workers), "--threads", str(settings.web_threads),
            "--worker-class", "gthread", "--graceful-timeout", "20", "--timeout", "30",
            "--access-logfile", "-", "--forwarded-allow-ips", "127.0.0.1"]
    os.execv(sys.executable, args)


@main.command()
@click.option("--only", type=click.Choice(["checks", "webhooks"]), default=None,
              help="run one of the two Celery workers alone (to scale them apart): checks "
                   "= queues moderation and housekeeping (processes); webhooks = queue "
                   "webhooks (threads)")
def worker(only: str | None) -> None:
    """Run the Celery workers: the checks' and the webhook sender's (see --only)."""
    settings = _settings()
    if only:
        args = _celery_worker(settings, only)
        os.execv(args[0], args)
    from service.supervise import Child, supervise

    sys.exit(supervise([Child("checks worker", _celery_worker(settings, "checks")),
                        Child("webhooks worker", _celery_worker(settings, "webhooks"))]))


def _celery_worker(settings: Settings, part: str) -> list[str]:
    from workers.dispatch import QUEUE_HOUSEKEEPING, QUEUE_MODERATION, QUEUE_WEBHOOKS

    args = [sys.executable, "-m", "celery", "-A", "workers.celery_app:celery", "worker",
            "--loglevel", settings.log_level, "--without-gossip", "--without-mingle"]
    if part == "checks":
        return [*args, "--queues", f"{QUEUE_MODERATION},{QUEUE_HOUSEKEEPING}",
                "--concurrency", str(settings.worker_concurrency), "--hostname", "warden@%h"]
    # HTTP waits, not CPU: threads, so a slow receiver holds one of many, not a process.
    return [*args, "--queues", QUEUE_WEBHOOKS, "--pool", "threads",
            "--concurrency", str(settings.webhook_worker_threads),
            "--hostname", "warden-webhooks@%h"]


@main.command()
def beat() -> None:
    """Run Celery beat (the sweeps that recover lost work)."""
    settings = _settings()
    schedule = Path(settings.instance_dir) / "celerybeat-schedule"
    schedule.parent.mkdir(parents=True, exist_ok=True)
    args = [sys.executable, "-m", "celery", "-A", "workers.celery_app:celery", "beat",
            "--loglevel", settings.log_level, "--schedule", str(schedule)]
    os.execv(sys.executable, args)


@main.group()
def db() -> None:
    """Database schema (Alembic migrations)."""


@db.command("upgrade")
@click.option("--revision", default="head", show_default=True)
def db_upgrade(revision: str) -> None:
    """Apply migrations up to REVISION (never down: a database past it stays as it is)."""
    from alembic.runtime.migration import MigrationContext
    from alembic.util import CommandError
    from flask_migrate import upgrade

    from service.extensions import db as database

    if not revision.strip():
        raise click.BadParameter("give a revision, e.g. head or 0010", param_hint="--revision")
    with _app().app_context():
        try:
            upgrade(revision=revision)
        except CommandError as exc:
            raise click.ClickException(str(exc).splitlines()[0]) from None
        with database.engine.connect() as connection:
            current = MigrationContext.configure(connection).get_current_revision()
    click.echo(f"database at {current}", err=True)


@main.group()
def sites() -> None:
    """Sites (tenants)."""


@sites.command("create")
@click.argument("site_id")
@click.option("--origin", "origins", multiple=True, required=True,
              help="allowed origin of the embedding page, e.g. https://news.example")
@click.option("--mode", type=click.Choice(["auto", "manual", "post"]), default="auto",
              show_default=True, help="auto: checks decide; manual: humans; post: publish first")
@click.option("--name", default=None, help="display name")
def sites_create(site_id: str, origins: tuple[str, ...], mode: str, name: str | None) -> None:
    """Create site SITE_ID."""
    from service.domain.errors import DomainError
    from service.domain.sites import create_site
    from service.extensions import db as database

    with _app().app_context():
        try:
            site = create_site(database.session, site_id, list(origins), mode=mode, name=name)
            database.session.commit()
        except DomainError as exc:
            raise click.ClickException(exc.message) from None
        click.echo(f"created site {site.id} ({site.mode}); origins: "
                   f"{', '.join(site.allowed_origins)}")


@main.group()
def keys() -> None:
    """API keys for moderators and admins."""


@keys.command("create")
@click.option("--site", "site_id", default=None, help="the site the key works on")
@click.option("--all-sites", is_flag=True, help="an operator key valid on every site")
@click.option("--role", type=click.Choice(["moderator", "admin"]), required=True)
@click.option("--label", default=None, help="who or what the key is for")
def keys_create(site_id: str | None, all_sites: bool, role: str, label: str | None) -> None:
    """Create a key; it is printed once and only its hash is stored."""
    if bool(site_id) == all_sites:
        raise click.UsageError("give exactly one of --site ID or --all-sites")
    from service.domain.errors import DomainError
    from service.domain.sites import create_api_key
    from service.extensions import db as database

    with _app().app_context():
        try:
            key, plain = create_api_key(database.session, site_id, role, label)
            database.session.commit()
        except DomainError as exc:
            raise click.ClickException(exc.message) from None
        scope = key.site_id or "every site"
        click.echo(f"key {key.prefix}… ({key.role} on {scope}); store it now, "
                   "it is not shown again:", err=True)
        click.echo(plain)


def _not_nan(_ctx: click.Context, param: click.Parameter, value: float | None) -> float | None:
    if value is not None and value != value:  # NaN passes every range comparison
        raise click.BadParameter("not a number", param=param)
    return value


@main.command("eval")
@click.option("--data", "data_path", required=True, type=click.Path(dir_okay=False),
              help="labelled CSV with columns id,text,label (spam/ham or toxic/clean)")
@click.option("--json", "as_json", is_flag=True, help="print one JSON object instead")
@click.option("--site-mode", type=click.Choice(["auto", "manual", "post"]), default="auto",
              show_default=True, help="the site's moderation mode")
@click.option("--hold-threshold", type=click.FloatRange(0, 1), default=0.5, show_default=True,
              callback=_not_nan)
@click.option("--reject-threshold", type=click.FloatRange(0, 1), default=0.9, show_default=True,
              callback=_not_nan)
@click.option("--skip-check", "skip", multiple=True, help="leave this check out (repeatable)")
@click.option("--stream", is_flag=True,
              help="replay the rows as comments arriving on one site, by the `date` column "
                   "(else file order): repeats of a text, and the history of the `author` "
                   "column's authors, count as the worker counts them")
def eval_cmd(data_path: str, as_json: bool, site_mode: str, hold_threshold: float,
             reject_threshold: float, skip: tuple[str, ...], stream: bool) -> None:
    """Measure the real checks + policy offline on a labelled CSV (no server, no database).

    WARDEN_SPAM_MODEL / WARDEN_TOXICITY_MODEL point the text checks at another artefact.
    """
    import json

    from service.models import ModerationMode
    from workers.checks import offline_checks
    from workers.evaluation import EvaluationError, evaluate, format_report, load_labelled_csv
    from workers.policy import Policy

    try:
        data = load_labelled_csv(data_path)
        # Offline: no database, so no site's own model (site_spam) takes part.
        checks = [c for c in offline_checks() if c.name not in skip]
        unknown = set(skip) - {c.name for c in offline_checks()}
        if unknown:
            raise EvaluationError(f"unknown check(s) to skip: {', '.join(sorted(unknown))}")
        if hold_threshold > reject_threshold:
            raise EvaluationError(f"hold threshold {hold_threshold} is above reject "
                                  f"threshold {reject_threshold}")
        policy = Policy(mode=ModerationMode(site_mode), hold_threshold=hold_threshold,
                        reject_threshold=reject_threshold)
        with click.progressbar(length=len(data), label="checking", file=sys.stderr) as bar:
            result = evaluate(data, checks, policy, progress=bar.update, stream=stream)
    except EvaluationError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(json.dumps(result.as_dict()) if as_json else format_report(result))


@main.command("train")
@click.option("--site", "site_id", required=True, help="the site whose labels to learn from")
@click.option("--min-examples", type=click.IntRange(2, None), default=None,
              help="labels needed of each class (default: WARDEN_TRAIN_MIN_EXAMPLES)")
@click.option("--json", "as_json", is_flag=True, help="print one JSON object instead")
def train_cmd(site_id: str, min_examples: int | None, as_json: bool) -> None:
    """Fit the site's own spam model from its moderators' labels.

    Moderators' spam decisions are spam examples, approvals ham; the new version is stored
    in the database and every worker uses it within WARDEN_SITE_MODEL_REFRESH_SECONDS.
    """
    import json

    from workers.site_training import NotEnoughLabels, train_site_model

    settings = _settings()
    with _database() as session:
        try:
            report = train_site_model(
                session, site_id, trained_by="cli",
                min_examples=min_examples or settings.train_min_examples)
        except (LookupError, NotEnoughLabels, RuntimeError) as exc:
            raise click.ClickException(str(exc)) from None
    click.echo(json.dumps(report.as_dict()) if as_json else report.summary())


@main.group()
def policy() -> None:
    """Site policy what-ifs."""


@policy.command("replay")
@click.option("--site", "site_id", required=True)
@click.option("--hold-threshold", type=float, default=None,
              help="proposed hold threshold (default: the site's)")
@click.option("--reject-threshold", type=float, default=None,
              help="proposed reject threshold (default: the site's)")
@click.option("--mode", type=click.Choice(["auto", "manual", "post"]), default=None,
              help="proposed mode (default: the site's)")
@click.option("--since", "since_days", type=click.FloatRange(0, 36500, min_open=True),
              default=None, callback=_not_nan,
              help="only comments from the last DAYS days (at most 36500)")
@click.option("--rerun", is_flag=True,
              help="run the local text checks again (today's models, the site's model and "
                   "lists) and decide the proposed side on those scores")
@click.option("--json", "as_json", is_flag=True, help="print one JSON object instead")
def policy_replay(site_id: str, hold_threshold: float | None, reject_threshold: float | None,
                  mode: str | None, since_days: float | None, rerun: bool,
                  as_json: bool) -> None:
    """Re-decide the site's past comments from their stored check scores under proposed
    thresholds; count changed decisions and compare with moderators' verdicts.

    Changes nothing. Without --rerun it runs no model (stored scores only); with --rerun
    the text checks run again, and remote providers are never called.
    """
    import json

    from workers.replay import ReplayError, format_report, replay

    with _database() as session:
        try:
            report = replay(session, site_id, hold=hold_threshold, reject=reject_threshold,
                            mode=mode, since_days=since_days, rerun=rerun)
        except ReplayError as exc:
            raise click.ClickException(str(exc)) from None
    click.echo(json.dumps(report.as_dict()) if as_json else format_report(report))


@main.command("settings")
def settings_cmd() -> None:
    """List every WARDEN_* setting with its default."""
    for name, default, help_ in Settings.documented():
        click.echo(f"{name:34} {default or '(empty)':28} {help_}")


def _upgrade_and_seed() -> None:
    from flask_migrate import upgrade

    from service.domain.sites import ensure_demo_site
    from service.extensions import db as database

    with _app().app_context():
        upgrade()
        if ensure_demo_site(database.session):
            database.session.commit()
            click.echo("seeded site 'demo'", err=True)


def _redact(url: str) -> str:
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        return f"{scheme}://***@{rest.split('@', 1)[1]}"
    return url


def _quote(part: str) -> str:
    import shlex

    return shlex.quote(part)


if __name__ == "__main__":
    main()
