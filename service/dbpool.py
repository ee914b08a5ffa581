"""PostgreSQL connections: checked before use only when they have sat idle, and lone reads
outside a transaction (``single_read``).

``pool_pre_ping`` costs a round trip (``SELECT 1``) on every checkout: on a busy web process
that is one more statement per request, for connections used milliseconds before. Here a
connection that sat idle for ``IDLE_PING_SECONDS`` (the database may have restarted, a
firewall may have dropped it) is pinged as before, and a dead one is replaced by the pool
before the request sees it. A connection that dies while in steady use fails its statement
instead: SQLAlchemy then recycles every older connection of the pool, and that request
answers 503, as during any database outage.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import Session, scoped_session

from service import sqlite

IDLE_PING_SECONDS = 1.0
_RETURNED = "warden_returned_at"


def ping_when_idle(engine: Engine, idle_seconds: float = IDLE_PING_SECONDS) -> None:
    """Install the idle-only liveness check on ``engine``'s pool (instead of pre-ping)."""
    dbapi_error = engine.dialect.loaded_dbapi.Error

    def on_connect(_dbapi_connection: Any, record: Any) -> None:
        record.info[_RETURNED] = time.monotonic()  # just opened: alive

    def on_checkin(_dbapi_connection: Any, record: Any) -> None:
        if record is not None:
            record.info[_RETURNED] = time.monotonic()

    def on_checkout(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        returned = record.info.get(_RETURNED)
        if returned is not None and time.monotonic() - returned < idle_seconds:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except dbapi_error as exc:
            # The pool discards this connection and checks out another (3 tries).
            raise DisconnectionError("the connection died while idle") from exc

    event.listen(engine.pool, "connect", on_connect)
    event.listen(engine.pool, "checkin", on_checkin)
    event.listen(engine.pool, "checkout", on_checkout)


@dataclass
class _SharedConnection:
    engine: Engine
    connection: Connection | None = None


_SHARED: ContextVar[_SharedConnection | None] = ContextVar("warden_shared_autocommit",
                                                           default=None)


@contextmanager
def shared_autocommit(session: Session | scoped_session[Session], *,
                      enabled: bool = True) -> Iterator[None]:
    """Let the autocommit statements inside share one connection, checked out once.

    A submit's two statements (the site read and the insert) each checked out a pooled
    connection, switched it to autocommit and switched it back on return. Inside this
    block the first one checks a connection out and the others reuse it (with the other
    changes of that commit, 6 % fewer instructions per submit under callgrind). It goes
    back to the pool when the block ends, so use it only where the session's own
    transaction is unlikely to need a second connection meanwhile. Outside PostgreSQL, or
    not ``enabled``, it does nothing.
    """
    if isinstance(session, scoped_session):
        session = session()
    bind = session.get_bind()
    if not enabled or bind.dialect.name != "postgresql" or _SHARED.get() is not None:
        yield
        return
    shared = _SharedConnection(bind)
    token = _SHARED.set(shared)
    try:
        yield
    finally:
        _SHARED.reset(token)
        if shared.connection is not None:
            shared.connection.close()


@contextmanager
def autocommit_connection(engine: Engine) -> Iterator[Connection]:
    """A connection in autocommit on ``engine``: the ``shared_autocommit`` block's, else
    one of its own for the ``with`` block."""
    shared = _SHARED.get()
    if shared is not None and shared.engine is engine:
        if shared.connection is None:
            shared.connection = engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        yield shared.connection
        return
    with engine.connect() as connection:
        yield connection.execution_options(isolation_level="AUTOCOMMIT")


@contextmanager
def single_read(session: Session | scoped_session[Session]) -> Iterator[Connection]:
    """A connection for one SELECT that needs no transaction around it.

    On PostgreSQL, when ``session`` has none open, the statement runs in autocommit: no
    BEGIN and no ROLLBACK round trip, and the statement stays prepared (psycopg drops all
    its prepared statements on every ROLLBACK, which ends each read-only request). One
    statement is one snapshot, so a lone read loses nothing. On SQLite the same holds for
    a request that will not write. Otherwise, or inside the session's transaction, it is
    the session's connection.
    """
    if isinstance(session, scoped_session):
        session = session()  # this thread's session (the proxy has no in_transaction)
    bind = session.get_bind()
    if session.in_transaction():
        yield session.connection()
    elif bind.dialect.name == "postgresql":
        with autocommit_connection(bind) as connection:
            yield connection
    elif bind.dialect.name == "sqlite" and not sqlite.write_intent.get():
        # The same on SQLite for a request that will not write: no BEGIN statement and no
        # rollback of a session transaction (a thread or counts read was 2 statements).
        # A request that will write keeps the read inside its BEGIN IMMEDIATE.
        with bind.connect() as connection:
            yield connection.execution_options(**{sqlite.NO_BEGIN: True})
    else:
        yield session.connection()
