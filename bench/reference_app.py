"""Bare Flask reference: the service's I/O with nothing else (SQLAlchemy Core, one table).

``run.py`` serves it with the same gunicorn settings as ``warden web``
(``gunicorn 'bench.reference_app:create_app()'``, database from ``BENCH_REF_DATABASE_URL``,
the service's own database) and calls :func:`setup` first to create and fill its table.

- ``GET /hello``                   JSON hello
- ``POST /items``                  insert one row
- ``GET /items?key=K&limit=N``     read N rows
- ``GET /counts?key=K1&key=K2...`` grouped counts: ``WHERE key IN (...) GROUP BY key``
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any

from flask import Flask, jsonify, request
from flask.typing import ResponseReturnValue
from sqlalchemy import (
    Column,
    DateTime,
    Engine,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    event,
    func,
    insert,
    select,
)

metadata = MetaData()
items = Table(
    "bench_ref_items", metadata,
    Column("id", Integer, primary_key=True),
    Column("key", String(64), nullable=False, index=True),
    Column("author_name", String(80), nullable=False),
    Column("html", Text, nullable=False),
    Column("created_at", DateTime, nullable=False, server_default=func.current_timestamp()),
)


def make_engine(url: str) -> Engine:
    """PostgreSQL: a plain pool. SQLite: WAL + busy timeout, like the service."""
    if not url.startswith("sqlite"):
        return create_engine(url, pool_size=10, max_overflow=10)
    engine = create_engine(url, connect_args={"timeout": 30})

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.execute("PRAGMA journal_mode=WAL")
        dbapi_connection.execute("PRAGMA synchronous=NORMAL")

    return engine


def create_app(url: str | None = None) -> Flask:
    engine = make_engine(url or os.environ["BENCH_REF_DATABASE_URL"])
    app = Flask(__name__)

    @app.get("/hello")
    def hello() -> ResponseReturnValue:
        return jsonify(hello="world")

    @app.post("/items")
    def add() -> ResponseReturnValue:
        doc: dict[str, str] = request.get_json() or {}
        with engine.begin() as conn:
            new_id = conn.execute(insert(items).values(
                key=doc["key"], author_name=doc["author_name"], html=doc["body"])
                .returning(items.c.id)).scalar_one()
        return jsonify(id=new_id), 202

    @app.get("/items")
    def read() -> ResponseReturnValue:
        query = (select(items).where(items.c.key == request.args["key"])
                 .order_by(items.c.id).limit(int(request.args.get("limit", 50))))
        with engine.connect() as conn:
            rows = conn.execute(query).all()
        return jsonify(items=[{"id": r.id, "author_name": r.author_name, "html": r.html,
                               "created_at": r.created_at.isoformat()} for r in rows])

    @app.get("/counts")
    def counts() -> ResponseReturnValue:
        keys = request.args.getlist("key")
        query = (select(items.c.key, func.count()).where(items.c.key.in_(keys))
                 .group_by(items.c.key))
        with engine.connect() as conn:
            found: dict[str, int] = dict(conn.execute(query).tuples().all())
        return jsonify(counts={key: found.get(key, 0) for key in keys})

    return app


def setup(url: str, rows: Iterable[tuple[str, str, str]]) -> None:
    """(Re)create the table and insert ``(key, author_name, html)`` rows."""
    engine = make_engine(url)
    metadata.drop_all(engine)
    metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(insert(items), [{"key": k, "author_name": a, "html": h} for k, a, h in rows])
    engine.dispose()
