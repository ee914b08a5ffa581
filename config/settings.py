"""The one place where Comment Warden reads and validates its settings.

Every setting comes from an environment variable prefixed ``WARDEN_`` (12-factor), has a
documented default that runs the embedded shape (SQLite + a filesystem Celery broker under
``./instance``), and is coerced strictly: a bad value fails at start with a message that
names the variable instead of being guessed at.
"""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

PREFIX = "WARDEN_"


class SettingsError(ValueError):
    """A setting is missing or malformed; the message names the variable."""


def parse_bool(name: str, raw: str) -> bool:
    """Accept the usual spellings and refuse anything else rather than guess."""
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    raise SettingsError(f"{PREFIX}{name}: expected true/false, got {raw!r}")


def _int(lo: int, hi: int) -> Callable[[str, str], int]:
    def coerce(name: str, raw: str) -> int:
        try:
            value = int(raw.strip())
        except ValueError:
            raise SettingsError(f"{PREFIX}{name}: expected an integer, got {raw!r}") from None
        if not lo <= value <= hi:
            raise SettingsError(f"{PREFIX}{name}: {value} is outside {lo}..{hi}")
        return value

    return coerce


def _float(lo: float, hi: float) -> Callable[[str, str], float]:
    def coerce(name: str, raw: str) -> float:
        try:
            value = float(raw.strip())
        except ValueError:
            raise SettingsError(f"{PREFIX}{name}: expected a number, got {raw!r}") from None
        if not lo <= value <= hi:
            raise SettingsError(f"{PREFIX}{name}: {value} is outside {lo}..{hi}")
        return value

    return coerce


_RATE_LIMIT = re.compile(
    r"^\s*(\d+)\s*(/|per)\s*(\d+\s*)?(second|minute|hour|day|month|year)s?\s*$",
    re.IGNORECASE,
)


def _rate_limit(name: str, raw: str) -> str:
    """A flask-limiter expression such as ``5/minute;100/day``, or ``off``."""
    value = raw.strip()
    if value.lower() == "off":
        return "off"
    parts = [p for p in re.split(r"[;,]", value) if p.strip()]
    matches = [_RATE_LIMIT.match(p) for p in parts]
    if not parts or not all(matches):
        raise SettingsError(
            f"{PREFIX}{name}: expected e.g. '5/minute;100/day' or 'off', got {raw!r}"
        )
    if any(m.group(3) is not None and int(m.group(3)) == 0 for m in matches if m):
        raise SettingsError(f"{PREFIX}{name}: a window of 0 units never ends a count; "
                            f"expected e.g. '5/minute' or '5/10 minutes' (got {raw!r})")
    if any(int(m.group(1)) == 0 for m in matches if m):
        raise SettingsError(f"{PREFIX}{name}: a limit of 0 refuses every request; "
                            f"use 'off' for no limit (got {raw!r})")
    return value


def _str(name: str, raw: str) -> str:
    return raw.strip()


def _bool(name: str, raw: str) -> bool:
    return parse_bool(name, raw)


def _delays(name: str, raw: str) -> str:
    """Seconds between tries, e.g. ``10,60,300``; kept as text, parsed by ``delays_of``."""
    parts = [p.strip() for p in raw.split(",")]
    try:
        delays = [float(p) for p in parts]
    except ValueError:
        raise SettingsError(
            f"{PREFIX}{name}: expected seconds separated by commas, e.g. '10,60,300', got {raw!r}"
        ) from None
    if not 1 <= len(delays) <= 30 or not all(0.1 <= d <= 7 * 86_400 for d in delays):
        raise SettingsError(f"{PREFIX}{name}: 1 to 30 delays of 0.1..604800 seconds each")
    return ",".join(f"{d:g}" for d in delays)


def delays_of(text: str) -> tuple[float, ...]:
    return tuple(float(part) for part in text.split(","))


_LANGUAGE = re.compile(r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})?$")


def _languages(name: str, raw: str) -> str:
    """Comma-separated language codes such as ``en,de``, or ``auto`` (the provider guesses)."""
    value = raw.strip()
    if value.lower() == "auto":
        return "auto"
    codes = [part.strip() for part in value.split(",") if part.strip()]
    if not codes or not all(_LANGUAGE.match(code) for code in codes):
        raise SettingsError(f"{PREFIX}{name}: expected e.g. 'en' or 'en,de' or 'auto', "
                            f"got {raw!r}")
    return ",".join(codes)


def _log_level(name: str, raw: str) -> str:
    value = raw.strip().upper()
    if value not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
        raise SettingsError(f"{PREFIX}{name}: expected DEBUG/INFO/WARNING/ERROR, got {raw!r}")
    return value


def _url(schemes: tuple[str, ...]) -> Callable[[str, str], str]:
    def coerce(name: str, raw: str) -> str:
        value = raw.strip()
        scheme = value.split(":", 1)[0].split("+", 1)[0].lower()
        if scheme not in schemes or ":" not in value:
            raise SettingsError(
                f"{PREFIX}{name}: expected a URL with scheme {'/'.join(schemes)}, got {raw!r}"
            )
        return value

    return coerce


# name -> (coercer, help). Defaults live on the dataclass below.
_COERCERS: dict[str, tuple[Callable[[str, str], Any], str]] = {
    "INSTANCE_DIR": (_str, "folder for the embedded database, broker and secret key"),
    "DATABASE_URL": (_url(("sqlite", "postgresql")), "SQLAlchemy URL; SQLite under instance/"),
    "BROKER_URL": (_url(("filesystem", "redis", "rediss", "amqp")), "Celery broker"),
    "REDIS_URL": (_url(("redis", "rediss")), "Redis for rate limits (empty: in memory)"),
    "SECRET_KEY": (_str, "salt for hashed IPs; generated under instance/ when empty"),
    "HOST": (_str, "address the web process binds"),
    "PORT": (_int(1, 65535), "port the web process binds"),
    "WEB_WORKERS": (_int(1, 64), "gunicorn worker processes"),
    "WEB_THREADS": (_int(1, 64), "threads per gunicorn worker"),
    "TRUSTED_PROXIES": (_int(0, 5), "reverse proxies in front of the web process whose "
                        "X-Forwarded-For/-Proto are believed (0: none, the peer is the reader)"),
    "WORKER_CONCURRENCY": (_int(1, 64), "Celery worker processes for the checks and housekeeping"),
    "WEBHOOK_WORKER_THREADS": (_int(1, 128), "threads of the worker that sends webhooks and "
                               "provider feedback (HTTP waits; a slow receiver holds one)"),
    "MAX_BODY_CHARS": (_int(1, 100_000), "longest comment body, in characters"),
    "MAX_REQUEST_BYTES": (_int(1024, 10_000_000), "largest request body accepted"),
    "MAX_DEPTH": (_int(0, 20), "deepest reply level (0 = no replies)"),
    "PAGE_SIZE": (_int(1, 200), "top-level comments per thread page"),
    "SWEEP_INTERVAL_SECONDS": (_float(0.5, 3600), "how often beat sweeps for stale work"),
    "MODERATION_STALE_SECONDS": (_float(1, 86_400), "re-enqueue comments pending this long"),
    "MODERATION_MAX_ATTEMPTS": (_int(1, 100), "tries before a comment is parked as held"),
    "MODERATION_BATCH_SIZE": (_int(1, 500), "comments a worker checks together at most"),
    "RATE_LIMIT_SUBMIT": (_rate_limit, "submits per address"),
    "RATE_LIMIT_FLAG": (_rate_limit, "flags per address"),
    "LOG_LEVEL": (_log_level, "log level"),
    "DATA_DIR": (_str, "labelled comments for tests and evaluation"),
    "IP_RETENTION_DAYS": (_int(1, 3650), "days addresses and user agents are kept"),
    "HISTORY_RETENTION_DAYS": (_int(1, 3650),
                               "days finished webhook events, deliveries and provider "
                               "reports are kept"),
    "WEBHOOK_RETRY_SCHEDULE": (_delays, "seconds between webhook tries, comma-separated"),
    "WEBHOOK_ALLOW_PRIVATE": (_bool, "allow webhook URLs on private/loopback addresses"),
    "WEBHOOK_TIMEOUT_SECONDS": (_float(0.5, 60), "total time allowed for one webhook request"),
    "WEBHOOK_MAX_RESPONSE_BYTES": (_int(0, 1_000_000), "response bytes read and kept per try"),
    "WEBHOOK_DISABLE_AFTER_HOURS": (_float(0.0003, 8760), "disable an endpoint failing this long"),
    "TRAIN_MIN_EXAMPLES": (_int(2, 100_000), "spam and ham labels each a site model needs"),
    "RETRAIN_INTERVAL_SECONDS": (_float(10, 604_800), "how often beat looks for sites to retrain"),
    "RETRAIN_MIN_NEW_LABELS": (_int(1, 1_000_000), "new labels since the last model to retrain"),
    "SITE_MODEL_REFRESH_SECONDS": (_float(1, 3600), "how often workers look for new site models"),
    "AKISMET_KEY": (_str, "Akismet API key (secret); empty: Akismet is off"),
    "AKISMET_BLOG": (_str, "site URL sent to Akismet; empty: each site's first origin"),
    "AKISMET_URL": (_url(("http", "https")), "Akismet API base URL"),
    "AKISMET_TEST": (_bool, "send is_test=1 so Akismet learns nothing (staging)"),
    "PERSPECTIVE_KEY": (_str, "Perspective API key (secret); empty: Perspective is off"),
    "PERSPECTIVE_URL": (_url(("http", "https")), "Perspective API base URL"),
    "PERSPECTIVE_LANGUAGES": (_languages, "languages of the comments, or auto"),
    "REMOTE_TIMEOUT_SECONDS": (_float(0.1, 30), "connect and read time-out per remote call"),
    "REMOTE_FEEDBACK_RETRY_SCHEDULE": (_delays, "seconds between tries of a spam/ham report"),
}

#: Settings whose values are secrets: never printed, logged or shown in a repr.
SECRET_SETTINGS = frozenset({"SECRET_KEY", "AKISMET_KEY", "PERSPECTIVE_KEY"})


@dataclass(frozen=True)
class Settings:
    """Validated settings; build with :meth:`from_env` or :meth:`for_instance`."""

    instance_dir: str = "instance"
    database_url: str = ""
    broker_url: str = "filesystem://"
    redis_url: str = ""
    secret_key: str = field(default="", repr=False)
    host: str = "127.0.0.1"
    port: int = 8000
    web_workers: int = 2
    web_threads: int = 4
    trusted_proxies: int = 0
    worker_concurrency: int = 2
    webhook_worker_threads: int = 8
    max_body_chars: int = 5000
    max_request_bytes: int = 64 * 1024
    max_depth: int = 5
    page_size: int = 50
    sweep_interval_seconds: float = 5.0
    moderation_stale_seconds: float = 30.0
    moderation_max_attempts: int = 5
    moderation_batch_size: int = 128
    rate_limit_submit: str = "10/minute;200/day"
    rate_limit_flag: str = "20/minute"
    log_level: str = "INFO"
    data_dir: str = "../shared/data"
    ip_retention_days: int = 30
    history_retention_days: int = 30
    webhook_retry_schedule: str = "10,60,300,1800,3600,7200,14400,28800,43200"
    webhook_allow_private: bool = False
    webhook_timeout_seconds: float = 10.0
    webhook_max_response_bytes: int = 4096
    webhook_disable_after_hours: float = 120.0
    train_min_examples: int = 10
    retrain_interval_seconds: float = 3600.0
    retrain_min_new_labels: int = 50
    site_model_refresh_seconds: float = 30.0
    akismet_key: str = field(default="", repr=False)
    akismet_blog: str = ""
    akismet_url: str = "https://rest.akismet.com"
    akismet_test: bool = False
    perspective_key: str = field(default="", repr=False)
    perspective_url: str = "https://commentanalyzer.googleapis.com"
    perspective_languages: str = "en"
    remote_timeout_seconds: float = 3.0
    remote_feedback_retry_schedule: str = "10,60,300,1800,7200"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Read ``WARDEN_*`` variables, then fill derived defaults."""
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for name, (coerce, _help) in _COERCERS.items():
            raw = env.get(PREFIX + name)
            if raw is not None and raw.strip() != "":
                values[name.lower()] = coerce(name, raw)
        values.update(overrides)
        return cls(**values).resolved()

    def resolved(self) -> Settings:
        """Fill the defaults that depend on other settings (instance paths, secret key)."""
        instance = Path(self.instance_dir).expanduser().resolve()
        database_url = self.database_url or f"sqlite:///{instance / 'warden.db'}"
        secret = self.secret_key or _instance_secret(instance)
        if len(secret) < 16:
            raise SettingsError(f"{PREFIX}SECRET_KEY: must be at least 16 characters")
        return replace(
            self, instance_dir=str(instance), database_url=database_url, secret_key=secret
        )

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def webhook_retry_delays(self) -> tuple[float, ...]:
        return delays_of(self.webhook_retry_schedule)

    @property
    def akismet_enabled(self) -> bool:
        return bool(self.akismet_key)

    @property
    def perspective_enabled(self) -> bool:
        return bool(self.perspective_key)

    @property
    def broker_folder(self) -> Path:
        return Path(self.instance_dir) / "broker"

    @staticmethod
    def documented() -> list[tuple[str, str, str]]:
        """(variable, default, help) rows for the README table and ``warden settings``."""
        defaults = {f.name: f.default for f in fields(Settings)}
        return [
            (PREFIX + name, "" if name in SECRET_SETTINGS else str(defaults[name.lower()]), help_)
            for name, (_c, help_) in _COERCERS.items()
        ]


def _instance_secret(instance: Path) -> str:
    """Create (once) a random key under instance/ so the embedded default needs no setup."""
    path = instance / "secret_key"
    if path.exists():
        return path.read_text().strip()
    instance.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_urlsafe(32)
    # Write aside, then link into place: the link is atomic, so a second process started
    # at the same moment either wins or reads the complete key of the first.
    tmp = instance / f".secret_key.{os.getpid()}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, secret.encode())
    finally:
        os.close(fd)
    try:
        os.link(tmp, path)
    except FileExistsError:
        secret = path.read_text().strip()
    finally:
        tmp.unlink()
    return secret
