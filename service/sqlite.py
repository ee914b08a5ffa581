"""SQLite as the embedded default: WAL, proper transactions, and write intent up front.

pysqlite's own transaction handling begins transactions late and lets a SAVEPOINT commit
on release; we switch it off and emit BEGIN ourselves (the SQLAlchemy-documented recipe).
A transaction that will write starts with BEGIN IMMEDIATE: it waits for the write lock at
the start (busy_timeout) instead of failing with "database is locked" when a read
snapshot turns out to be stale at its first write.
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session

write_intent: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "warden_sqlite_write_intent", default=False
)


@contextmanager
def intends_to_write() -> Iterator[None]:
    token = write_intent.set(True)
    try:
        yield
    finally:
        write_intent.reset(token)


@contextmanager
def reading() -> Iterator[None]:
    """A read-only stretch inside write work: start it as a plain (deferred) transaction."""
    token = write_intent.set(False)
    try:
        yield
    finally:
        write_intent.reset(token)


@contextmanager
def writes_after_reading(session: Session) -> Iterator[None]:
    """A write in a request that began as a read (a GET): the read transaction ends first
    and the write takes its own, which asks for the write lock up front.

    A read snapshot cannot become a writer once another connection has committed since it
    began: SQLite answers "database is locked" at once (busy_timeout does not apply), which
    a request turns into a 503. On PostgreSQL this is just two short transactions.
    """
    session.commit()
    with intends_to_write():
        yield
        session.commit()


def _on_connect(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


#: Execution option of a connection for one statement outside any transaction
#: (``dbpool.single_read``): SQLite's autocommit gives that statement its own snapshot.
NO_BEGIN = "warden_no_begin"


def _on_begin(conn: Connection) -> None:
    if conn.get_execution_options().get(NO_BEGIN):
        return
    conn.exec_driver_sql("BEGIN IMMEDIATE" if write_intent.get() else "BEGIN")


def configure(engine: Engine) -> None:
    event.listen(engine, "connect", _on_connect)
    event.listen(engine, "begin", _on_begin)
