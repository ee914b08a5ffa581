"""The two shapes of Comment Warden under test, their data, and checks on that data.

- ``production``: PostgreSQL database ``warden_bench`` (next to the test admin URL) and
  Redis db 14 as broker and rate-limit store.
- ``embedded``: SQLite and the filesystem broker in a temporary instance folder.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import redis
from flask import Flask
from sqlalchemy import create_engine, event, func, select, text, update
from sqlalchemy.engine import Engine

from config import Settings
from tests.support import (
    POSTGRES_ADMIN_URL,
    REDIS_URL,
    make_settings,
    postgres_available,
    postgres_database,
    redis_available,
    reset_postgres_schema,
    upgrade,
    warden_command,
    warden_env,
)

SITE = "demo"
BENCH_DATABASE = "warden_bench"
BENCH_REDIS_DB = 14
THREAD_50 = "t50"
THREAD_500 = "t500"
ROOTS = 50
REPLIES_PER_ROOT = 9
COUNT_KEYS = [f"c{i:02d}" for i in range(20)]
QUEUES = ("moderation", "webhooks", "housekeeping")


def count_of(key: str) -> int:
    """Approved comments seeded on a counts article (1..5)."""
    return int(key[1:]) % 5 + 1


def seed_body(key: str, i: int) -> str:
    return (f"Comment {i} on {key}: a *clear* and useful report, thanks. The second "
            "paragraph of the timeline helped me understand what happened.")


def seed_plan() -> list[tuple[str, int, int | None]]:
    """(article, index, index of the root it replies to or None) for every seeded comment.

    ``t50``: 50 roots. ``t500``: 50 roots with 9 replies each (one page returns all 500).
    ``c00``..``c19``: 1-5 roots each, for the counts request.
    """
    plan: list[tuple[str, int, int | None]] = [(THREAD_50, i, None) for i in range(ROOTS)]
    for r in range(ROOTS):
        plan.append((THREAD_500, r * (REPLIES_PER_ROOT + 1), None))
        plan += [(THREAD_500, r * (REPLIES_PER_ROOT + 1) + j + 1, r * (REPLIES_PER_ROOT + 1))
                 for j in range(REPLIES_PER_ROOT)]
    for key in COUNT_KEYS:
        plan += [(key, i, None) for i in range(count_of(key))]
    return plan


@dataclass
class Stack:
    name: str
    settings: Settings
    workdir: Path
    redis_url: str | None
    _monitor: Engine | None = None

    @property
    def database_url(self) -> str:
        return self.settings.database_url

    def env(self, **extra: str) -> dict[str, str]:
        """Environment of a child ``warden`` process (production log level: INFO)."""
        return warden_env(self.settings, **extra)

    def command(self, *args: str) -> list[str]:
        return warden_command(*args)

    def db_pids(self) -> list[int]:
        """PostgreSQL backends serving ``warden_bench`` (their CPU is ours; SQLite's is
        inside the server processes already)."""
        if self.settings.is_sqlite:
            return []
        with self._monitor_engine().connect() as conn:
            return list(conn.scalars(text(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database()")))

    def _monitor_engine(self) -> Engine:
        if self._monitor is None:
            self._monitor = create_engine(self.database_url, pool_size=1, max_overflow=0)
        return self._monitor

    def autovacuum(self) -> str | None:
        """PostgreSQL's ``autovacuum`` setting (None on SQLite)."""
        if self.settings.is_sqlite:
            return None
        with self._monitor_engine().connect() as conn:
            return str(conn.scalar(text("SHOW autovacuum")))

    def analyze(self) -> None:
        """Refresh the planner's statistics, as autovacuum would have by then in production.

        Tables grow by tens of thousands of rows during a run. Where autovacuum is off (as
        on the machines this is developed on) they would otherwise keep the statistics of
        the empty tables of the start, and every connection the plans made from them (a
        bitmap of every waiting comment to claim 128 of them, for one): a server nobody
        runs. SQLite keeps its defaults, as the embedded service does.
        """
        if self.settings.is_sqlite:
            return
        with self._monitor_engine().connect() as conn:
            conn.execution_options(isolation_level="AUTOCOMMIT").execute(text("ANALYZE"))

    def close(self) -> None:
        if self._monitor is not None:
            self._monitor.dispose()

    def purge_broker(self) -> None:
        """Drop queued tasks (the HTTP phase enqueues thousands nobody consumes).

        Only the messages: a running worker keeps its queue folder (it dies without it)
        and Redis keeps the exchange bindings (without them new tasks are dropped).
        """
        if self.redis_url:
            client = redis.Redis.from_url(self.redis_url)
            for queue in QUEUES:
                keys = list(client.scan_iter(match=f"{queue}*"))
                if keys:
                    client.delete(*keys)
            return
        queue_dir = self.settings.broker_folder / "queue"
        for path in queue_dir.glob("*.msg"):
            path.unlink(missing_ok=True)


def redis_bench_url() -> str:
    parsed = urlparse(REDIS_URL)
    return f"{parsed.scheme}://{parsed.netloc}/{BENCH_REDIS_DB}"


def prepare(name: str, workdir: Path, workers: int, threads: int,
            batch_size: int = 128) -> Stack:
    """A fresh, migrated database and an empty broker for ``name``."""
    common: dict[str, Any] = {"web_workers": workers, "web_threads": threads,
                              "moderation_batch_size": batch_size,
                              "log_level": "WARNING"}  # the bench process itself; children: INFO
    if name == "production":
        if not (postgres_available() and redis_available()):
            raise RuntimeError(f"the production stack needs PostgreSQL ({POSTGRES_ADMIN_URL}) "
                               f"and Redis ({REDIS_URL}); one is not reachable")
        url = postgres_database(BENCH_DATABASE)
        reset_postgres_schema(url)
        broker = redis_bench_url()
        redis.Redis.from_url(broker).flushdb()
        settings = make_settings(workdir / "instance", url, broker_url=broker, redis_url=broker,
                                 **common)
        stack = Stack(name, settings, workdir, broker)
    elif name == "embedded":
        instance = workdir / "instance"
        settings = make_settings(instance, f"sqlite:///{instance / 'warden.db'}", **common)
        stack = Stack(name, settings, workdir, None)
    else:
        raise ValueError(f"unknown stack {name!r}")
    upgrade(stack.settings)
    return stack


def make_app(stack: Stack) -> Flask:
    from service.app import create_app

    return create_app(stack.settings)


def seed(app: Flask) -> dict[str, int]:
    """The demo site, the threads and the counts articles, all approved through the domain
    code (so ``approved_count`` is maintained as in production). Returns comments per key.

    Seeded comments are marked checked and their outbox events dispatched: the state of a
    service whose worker and webhook fan-out have caught up.
    """
    from service.domain.lifecycle import Actor, transition
    from service.domain.sites import ensure_demo_site
    from service.domain.submissions import ClientInfo, Submission, submit_comment
    from service.extensions import db
    from service.models import Comment as CommentModel
    from service.models import CommentStatus, Event, Site

    per_key: dict[str, int] = {}
    with app.app_context():
        session = db.session()
        ensure_demo_site(session)
        session.commit()
        site = session.get(Site, SITE)
        assert site is not None
        ids: dict[tuple[str, int], int] = {}
        for key, i, parent in seed_plan():
            parent_id = ids[(key, parent)] if parent is not None else None
            accepted = submit_comment(
                session, site,
                Submission(article=key, body=seed_body(key, i), author_name=f"Reader {i}",
                           parent_id=parent_id),
                ClientInfo(ip_hash=f"seed-{i % 50}"), max_depth=5, max_body_chars=5000)
            transition(session, accepted.comment, CommentStatus.APPROVED,
                       Actor.system("bench-seed"), "seeded approved")
            ids[(key, i)] = accepted.comment.id
            per_key[key] = per_key.get(key, 0) + 1
        now = _now()
        db.session.execute(update(CommentModel).where(CommentModel.checked_at.is_(None))
                           .values(checked_at=now))
        db.session.execute(update(Event).where(Event.dispatched_at.is_(None))
                           .values(dispatched_at=now))
        db.session.commit()
        db.session.remove()
    return per_key


def drain_outbox(app: Flask) -> int:
    """Mark undispatched events as dispatched (what a caught-up fan-out leaves)."""
    from service.models import Event

    return _stamp_unset(app, Event.dispatched_at)


def settle_waiting(app: Flask) -> int:
    """Take the HTTP phase's submits (thousands, never checked: no worker ran then) out of
    the worker's queue, as if decided. Otherwise the first worker run drains them with its
    own comments and its rate counts only its own: 147/s where the worker did 544."""
    from service.models import Comment as CommentModel

    return _stamp_unset(app, CommentModel.checked_at)


def _stamp_unset(app: Flask, column: Any) -> int:
    """Set ``column`` to now wherever it is NULL; return how many rows changed."""
    from service.extensions import db

    with app.app_context():
        result = db.session.execute(update(column.class_).where(column.is_(None))
                                    .values({column.key: _now()}))
        n = getattr(result, "rowcount", 0)
        db.session.commit()
        db.session.remove()
    return int(n or 0)


def _now() -> Any:
    from service.models import utcnow

    return utcnow()


def reference_rows() -> list[tuple[str, str, str]]:
    """The bare reference's table holds the same keys and texts as the seeded threads."""
    from service.domain.rendering import render_html

    return [(key, f"Reader {i}", render_html(seed_body(key, i))) for key, i, _ in seed_plan()]


@dataclass(frozen=True)
class Recount:
    articles: int
    mismatches: int
    examples: list[tuple[str, int, int]]

    @property
    def ok(self) -> bool:
        return self.mismatches == 0

    def describe(self) -> str:
        if self.ok:
            return f"recount OK: {self.articles} articles, approved_count == COUNT(approved)"
        shown = ", ".join(f"{k}: stored {s} vs counted {c}" for k, s, c in self.examples)
        return f"recount MISMATCH on {self.mismatches} of {self.articles} articles: {shown}"


def recount(app: Flask) -> Recount:
    """Stored ``articles.approved_count`` against COUNT of approved comments, per article."""
    from service.extensions import db
    from service.models import Article, Comment, CommentStatus

    with app.app_context():
        stored = {row.id: (row.key, row.approved_count) for row in db.session.execute(
            select(Article.id, Article.key, Article.approved_count))}
        counted = dict(db.session.execute(
            select(Comment.article_id, func.count())
            .where(Comment.status == CommentStatus.APPROVED).group_by(Comment.article_id)
        ).all())
        db.session.remove()
    bad = [(key, n, counted.get(article, 0)) for article, (key, n) in stored.items()
           if n != counted.get(article, 0)]
    return Recount(len(stored), len(bad), bad[:5])


@dataclass(frozen=True)
class Profile:
    """One endpoint run in-process through the Flask test client (no HTTP server)."""

    ms_per_request: float
    statements: float  # SQL statements per request
    checkouts: float  # pool checkouts per request (PostgreSQL: a ping only after 1 s idle)
    sample: list[str]  # the statements of the last request


@contextmanager
def _counting(engine: Engine) -> Iterator[dict[str, Any]]:
    seen: dict[str, Any] = {"statements": 0, "checkouts": 0, "last": []}

    def on_execute(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        seen["statements"] += 1
        seen["last"].append(" ".join(statement.split())[:160])

    def on_checkout(*_: Any) -> None:
        seen["checkouts"] += 1

    event.listen(engine, "before_cursor_execute", on_execute)
    event.listen(engine.pool, "checkout", on_checkout)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", on_execute)
        event.remove(engine.pool, "checkout", on_checkout)


def profile(app: Flask, method: str, path: str, body_template: str | None = None,
            engine: Engine | None = None, seconds: float = 1.5) -> Profile:
    """Requests per second of one thread in-process, and SQL statements per request."""
    client = app.test_client()
    if engine is None:
        from service.extensions import db

        with app.app_context():
            engine = db.engine

    def once(n: int) -> None:
        body = body_template.replace("{n}", f"p{n}") if body_template else None
        # A browser sends Origin with every POST (the widget's submits check it).
        headers = {"Origin": "http://127.0.0.1:8000"} if method == "POST" else {}
        response = client.open(path, method=method, data=body, headers=headers,
                               content_type="application/json")
        if response.status_code >= 400:
            raise RuntimeError(f"{method} {path} -> {response.status_code}: "
                               f"{response.get_data(as_text=True)[:300]}")

    once(0)  # warm caches
    n, begin = 0, time.perf_counter()
    with _counting(engine) as seen:
        while time.perf_counter() - begin < seconds or n < 5:
            seen["last"] = []
            n += 1
            once(n)
    elapsed = time.perf_counter() - begin
    return Profile(ms_per_request=elapsed / n * 1000, statements=seen["statements"] / n,
                   checkouts=seen["checkouts"] / n, sample=list(seen["last"]))
