"""The idle-only liveness check of PostgreSQL connections, and lone reads outside a
transaction (service/dbpool.py)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine

from service.dbpool import ping_when_idle
from tests.support import POSTGRES_ADMIN_URL, postgres_available, require_service

IDLE = 0.3


@pytest.fixture
def engine() -> Iterator[Engine]:
    require_service("PostgreSQL", postgres_available())
    engine = create_engine(POSTGRES_ADMIN_URL, pool_size=1, max_overflow=0)
    ping_when_idle(engine, idle_seconds=IDLE)
    yield engine
    engine.dispose()


def backend_pid(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.scalar(text("SELECT pg_backend_pid()")))


def kill(pid: int) -> None:
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        assert conn.scalar(text("SELECT pg_terminate_backend(:p)"), {"p": pid})
    admin.dispose()


def test_a_connection_in_steady_use_is_not_pinged(engine: Engine,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    pings: list[object] = []
    real_ping = engine.dialect.do_ping
    monkeypatch.setattr(engine.dialect, "do_ping", lambda c: pings.append(c) or real_ping(c))
    first = backend_pid(engine)
    for _ in range(50):
        assert backend_pid(engine) == first
    assert pings == [], "a connection returned milliseconds ago needs no round trip"
    time.sleep(IDLE + 0.1)
    assert backend_pid(engine) == first
    assert len(pings) == 1, "after sitting idle it is checked once"


def test_a_connection_that_died_while_idle_is_replaced_unseen(engine: Engine) -> None:
    first = backend_pid(engine)
    kill(first)  # what a PostgreSQL restart does to every pooled connection
    time.sleep(IDLE + 0.1)
    second = backend_pid(engine)  # no error: the ping found it dead, the pool reconnected
    assert second != first


def test_a_lone_read_runs_outside_a_transaction_and_stays_prepared(engine: Engine) -> None:
    from psycopg.pq import TransactionStatus
    from sqlalchemy.orm import Session

    from service.dbpool import single_read

    query = text("SELECT count(*) FROM pg_class WHERE relname = :name")
    with Session(engine) as session:
        for _ in range(8):  # psycopg prepares a statement from its 5th run
            with single_read(session) as conn:
                assert conn.scalar(query, {"name": "pg_class"}) == 1
                status = conn.connection.driver_connection.info.transaction_status
                assert status == TransactionStatus.IDLE, "no BEGIN: nothing to roll back"
            session.rollback()  # what every read-only request ends with
        assert not session.in_transaction()
    with engine.connect() as conn:
        prepared = conn.connection.driver_connection._prepared._names
        assert any(b"pg_class" in key[0] for key in prepared), "a ROLLBACK would drop it"


def test_inside_the_sessions_transaction_the_read_sees_its_writes(engine: Engine) -> None:
    from sqlalchemy.orm import Session

    from service.dbpool import single_read

    with Session(engine) as session:
        session.execute(text("CREATE TEMP TABLE lone_read (n int)"))
        session.execute(text("INSERT INTO lone_read VALUES (1)"))
        with single_read(session) as conn:
            assert conn.scalar(text("SELECT count(*) FROM lone_read")) == 1
        session.rollback()


def _sqlite_engine(path: Path) -> Engine:
    from service import sqlite

    engine = create_engine(f"sqlite:///{path}")
    sqlite.configure(engine)
    return engine


def test_on_sqlite_a_lone_read_of_a_request_that_will_not_write_has_no_begin(
        tmp_path: Path) -> None:
    from sqlalchemy import event
    from sqlalchemy.orm import Session

    from service.dbpool import single_read

    engine = _sqlite_engine(tmp_path / "lone.db")
    statements: list[str] = []
    event.listen(engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
    with Session(engine) as session:
        with single_read(session) as conn:
            assert conn.scalar(text("SELECT 1")) == 1
            assert not conn.connection.driver_connection.in_transaction
        assert not session.in_transaction(), "nothing for the request to roll back"
    assert statements == ["SELECT 1"]
    engine.dispose()


def test_on_sqlite_a_request_that_will_write_reads_inside_its_begin_immediate(
        tmp_path: Path) -> None:
    from sqlalchemy import event
    from sqlalchemy.orm import Session

    from service import sqlite
    from service.dbpool import single_read

    engine = _sqlite_engine(tmp_path / "write.db")
    statements: list[str] = []
    event.listen(engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
    with Session(engine) as session, sqlite.intends_to_write():
        with single_read(session) as conn:
            assert conn.scalar(text("SELECT 1")) == 1
        assert session.in_transaction(), "the read and the write share one transaction"
        session.rollback()
    assert statements == ["BEGIN IMMEDIATE", "SELECT 1"]
    engine.dispose()
