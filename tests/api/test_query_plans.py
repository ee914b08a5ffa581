"""The hot statements keep a selective plan whatever PostgreSQL knows about the tables.

psycopg prepares a statement on its fifth run and PostgreSQL may then keep one generic
plan for the connection's life, made without the values and with whatever statistics the
tables had (none before the first ANALYZE, a small table's if it grew since). A statement
that names a one-site column beside a selective one can be planned by the site's index and
then read every row of the site on every run. These tests take the statements the code
really runs, prepare each with ``plan_cache_mode = force_generic_plan`` on tables that were
never analysed, and read the plan: the submit's author lookup, the worker's velocity
counts, and the public thread and counts reads.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from psycopg import sql
from sqlalchemy import Engine, event, insert, select

from service.domain.security import token_digest
from service.extensions import db
from service.models import Author, Comment, CommentStatus
from tests.api.test_pipeline_batches import SUBMIT, submit_many
from workers.pipeline import _gather_facts

pytestmark = pytest.mark.parametrize("backend", ["postgresql"], indirect=True)

OTHER_AUTHORS = 2_000
OTHER_COMMENTS = 3_000


@contextmanager
def captured(engine: Engine) -> Iterator[list[tuple[str, dict[str, Any]]]]:
    """Every (SQL, parameters) the engine sends meanwhile."""
    seen: list[tuple[str, dict[str, Any]]] = []

    def record(_conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any,
               executemany: bool) -> None:
        if not executemany and isinstance(parameters, dict):
            seen.append((statement, dict(parameters)))

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


def generic_plan(engine: Engine, statement: str, parameters: dict[str, Any]) -> str:
    """EXPLAIN of ``statement`` as a prepared statement's generic plan."""
    names: list[str] = []

    def number(match: re.Match[str]) -> str:
        if match.group(1) not in names:
            names.append(match.group(1))
        return f"${names.index(match.group(1)) + 1}"

    numbered = re.sub(r"%\((\w+)\)s", number, statement)
    with engine.connect() as connection:
        raw = connection.connection.driver_connection
        assert raw is not None
        raw.execute("SET plan_cache_mode = force_generic_plan")
        raw.execute(f"PREPARE plan_probe AS {numbered}")
        values = sql.SQL(", ").join(sql.Literal(parameters[name]) for name in names)
        rows = raw.execute(sql.SQL("EXPLAIN EXECUTE plan_probe ({})").format(values)
                           if names else sql.SQL("EXPLAIN EXECUTE plan_probe")).fetchall()
        raw.execute("DEALLOCATE plan_probe")
        connection.rollback()
    return "\n".join(row[0] for row in rows)


def one_plan(seen: list[tuple[str, dict[str, Any]]], pattern: str) -> str:
    matching = [(s, p) for s, p in seen if re.search(pattern, s, re.S)]
    assert matching, f"no statement matched {pattern!r}"
    return generic_plan(db.engine, *matching[0])


def add_other_authors(site_id: str) -> None:
    db.session.execute(insert(Author), [
        {"site_id": site_id, "display_name": f"Reader {i}", "token_hash": f"other-{i:06d}"}
        for i in range(OTHER_AUTHORS)])
    db.session.commit()


def test_a_submit_finds_the_token_s_author_by_the_token_not_among_the_site_s_authors(
        app: Flask, client: FlaskClient, demo_site: str) -> None:
    first = client.post(SUBMIT, json={"article": "plans", "author_name": "Ann",
                                      "body": "The first comment of a returning reader."})
    token = first.get_json()["author_token"]
    with app.app_context():
        add_other_authors(demo_site)
        with captured(db.engine) as seen:
            again = client.post(SUBMIT, headers={"X-Author-Token": token},
                                json={"article": "plans", "author_name": "Ann",
                                      "body": "And a second one, with the token."})
            assert again.status_code == 202, again.get_json()
            renamed = client.post(SUBMIT, headers={"X-Author-Token": token},
                                  json={"article": "plans", "author_name": "Ann B.",
                                        "body": "A third, under a new name."})
            assert renamed.status_code == 202, renamed.get_json()
        author_plans = [generic_plan(db.engine, s, p) for s, p in seen
                        if re.search(r"FROM (sites .*JOIN )?authors\b", s, re.S)]
        # The read before the one-statement submit, and the transactional path's lookup.
        assert len(author_plans) >= 2, [s for s, _ in seen]
        for plan in author_plans:
            assert "uq_authors_token_hash" in plan, plan
            assert "ix_authors_site_id" not in plan, plan
        ids = {first.get_json()["id"], again.get_json()["id"], renamed.get_json()["id"]}
        authors = set(db.session.scalars(select(Comment.author_id).where(Comment.id.in_(ids))))
        assert len(authors) == 1, "the token's author wrote all three"


def test_a_token_of_another_site_is_a_new_author_here(
        app: Flask, client: FlaskClient, demo_site: str) -> None:
    """Found by the token alone, an author of another site must not be taken for ours."""
    from service.domain.sites import create_site

    with app.app_context():
        create_site(db.session, "elsewhere", ["https://elsewhere.example"])
        db.session.execute(insert(Author), [{"site_id": "elsewhere", "display_name": "Bo",
                                             "token_hash": token_digest("at_foreign")}])
        db.session.commit()
    answer = client.post(SUBMIT, headers={"X-Author-Token": "at_foreign"},
                         json={"article": "plans", "author_name": "Bo",
                               "body": "A token another site gave me."})
    assert answer.status_code == 202, answer.get_json()
    assert answer.get_json()["author_token"] != "at_foreign"
    with app.app_context():
        comment = db.session.get(Comment, answer.get_json()["id"])
        assert comment is not None
        assert comment.author.site_id == demo_site


def add_other_comments(like: int) -> None:
    """Copies of comment ``like`` (same author, other addresses): a table of some size, so
    that a plan reads it as the size it is and not as the few pages of a new table."""
    table = Comment.__table__
    row = dict(db.session.execute(select(table).where(table.c.id == like)).one()._mapping)
    del row["id"]
    db.session.execute(insert(table), [{**row, "ip_hash": f"other-{i % 500}",
                                        "fingerprint": f"other-{i}"}
                                       for i in range(OTHER_COMMENTS)])
    db.session.commit()


def test_the_worker_s_velocity_counts_read_their_own_indexes(
        app: Flask, client: FlaskClient, demo_site: str) -> None:
    ids = submit_many(client, 6)
    with app.app_context():
        add_other_comments(ids[0])
        comments = db.session.scalars(select(Comment).where(Comment.id.in_(ids))).all()
        with captured(db.engine) as seen:
            _gather_facts(db.session, comments)
        by_address = one_plan(seen, r"comments\.ip_hash IN")
        by_author = one_plan(seen, r"comments\.author_id IN")
        db.session.rollback()
    assert "ix_comments_site_address" in by_address, by_address
    assert "ix_comments_author_created" in by_author, by_author


def test_the_public_reads_use_the_thread_and_article_key_indexes(
        app: Flask, client: FlaskClient, demo_site: str) -> None:
    from service.domain.lifecycle import Actor, transition

    ids = submit_many(client, 3, article="plans-thread")
    with app.app_context():
        add_other_comments(ids[0])  # waiting comments of the same article: not in the thread
        for comment in db.session.scalars(select(Comment).where(Comment.id.in_(ids))):
            transition(db.session, comment, CommentStatus.APPROVED, Actor.system("test"), "ok")
        db.session.commit()
        with captured(db.engine) as seen:
            thread = client.get(f"{SUBMIT}?article=plans-thread")
            counts = client.get("/api/v1/sites/demo/counts?article=plans-thread&article=none")
        assert thread.status_code == 200, thread.get_json()
        assert len(thread.get_json()["comments"]) == 3
        assert counts.get_json()["counts"] == {"plans-thread": 3, "none": 0}
        comments_plan = one_plan(seen, r"FROM comments\b")
        counts_plan = one_plan(seen, r"articles\.approved_count.*FROM articles")
    assert "ix_comments_thread" in comments_plan, comments_plan
    assert "uq_articles_site_key" in counts_plan, counts_plan
