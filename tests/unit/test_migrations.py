"""Migrations build the schema the models describe, from empty, on both backends."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask import Flask
from flask_migrate import downgrade
from flask_migrate import upgrade as alembic_upgrade
from sqlalchemy import inspect

from service.app import create_app
from service.extensions import db
from service.models import Base
from tests.support import (
    make_settings,
    postgres_available,
    postgres_database,
    require_service,
    reset_postgres_schema,
)


def _empty_database_app(backend: str, tmp_path: Path) -> Flask:
    """An app on an empty database of ``backend``, before any migration."""
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path / 'm.db'}"
    else:
        require_service("PostgreSQL", postgres_available())
        url = postgres_database("warden_test_migrations")
        reset_postgres_schema(url)
    return create_app(make_settings(tmp_path, url))


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_upgrade_from_empty_matches_models_and_downgrades(backend: str, tmp_path: Path) -> None:
    app = _empty_database_app(backend, tmp_path)
    with app.app_context():
        alembic_upgrade()
        with db.engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
        assert diff == [], f"models and migrations disagree: {diff}"
        downgrade(revision="base")
        assert set(inspect(db.engine).get_table_names()) <= {"alembic_version"}
        alembic_upgrade()
        db.engine.dispose()


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_hold_only_backfill_marks_the_stored_scores_that_only_held(
        backend: str, tmp_path: Path) -> None:
    """0012 adds check_results.may_reject: scores stored before it that could only hold
    (profanity, suspect words, toxicity a human was asked to decide) are marked so, or a
    replay at a lower threshold would show them as newly rejected."""
    from sqlalchemy import select

    from service.domain.sites import ensure_demo_site
    from service.domain.submissions import ClientInfo, Submission, submit_comment
    from service.models import CheckResult, Site

    app = _empty_database_app(backend, tmp_path)
    rows = [("profanity", 0.6, [], False), ("words", 0.6, ["suspect word"], False),
            ("words", 1.0, ["blocked word"], True),
            ("toxicity", 0.85, ["toxicity 0.95", "not corroborated by the profanity model "
                                "(0.10): a human decides"], False),
            ("toxicity", 0.85, ["swearing aimed at nobody: without it ..."], False),
            ("toxicity", 0.97, ["toxicity 0.97"], True), ("spam_text", 0.6, [], True)]
    with app.app_context():
        alembic_upgrade()
        session = db.session()
        ensure_demo_site(session)
        site = session.get(Site, "demo")
        for name, score, reasons, _ in rows:  # one comment each (one result per check)
            comment_id = submit_comment(session, site, Submission(article="m", body="Stored."),
                                        ClientInfo(), max_depth=5, max_body_chars=5000).id
            session.add(CheckResult(comment_id=comment_id, check_name=name, check_version="1",
                                    score=score, label="x", reasons=reasons))
        session.commit()
        downgrade(revision="0011")
        alembic_upgrade()
        marked = db.session.execute(select(CheckResult.check_name, CheckResult.score,
                                           CheckResult.may_reject)
                                    .order_by(CheckResult.id)).all()
        assert [tuple(m) for m in marked] == [(n, s, ok) for n, s, _, ok in rows]
        db.session.remove()
        db.engine.dispose()


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_deleted_from_backfill_keeps_deleted_rejections_in_the_authors_history(
        backend: str, tmp_path: Path) -> None:
    """0013: a comment rejected, then deleted by its author before it existed, gets the
    status it had from the audit trail, and the author's tally counts it again."""
    from sqlalchemy import select

    from service.domain.lifecycle import Actor, transition
    from service.domain.sites import ensure_demo_site
    from service.domain.submissions import ClientInfo, Submission, submit_comment
    from service.models import Author, Comment, CommentStatus, Site

    app = _empty_database_app(backend, tmp_path)
    with app.app_context():
        alembic_upgrade()
        session = db.session()
        ensure_demo_site(session)
        site = session.get(Site, "demo")
        ids = [submit_comment(session, site, Submission(article="m", body=f"Stored {i}."),
                              ClientInfo(), max_depth=5, max_body_chars=5000).id
               for i in range(3)]
        session.commit()
        comments = [session.get(Comment, i) for i in ids]
        transition(session, comments[0], CommentStatus.SPAM, Actor.system())
        transition(session, comments[1], CommentStatus.APPROVED, Actor.system())
        transition(session, comments[2], CommentStatus.REJECTED, Actor.system())
        session.commit()
        for comment in comments[:2]:
            transition(session, comment, CommentStatus.DELETED, Actor("author", "1"))
        session.commit()

        def tallies() -> list[tuple[int, int]]:
            rows = db.session.execute(select(Author.id, Author.rejected_count)
                                      .order_by(Author.id)).all()
            db.session.remove()  # no snapshot held across the migrations
            return [tuple(row) for row in rows]

        before = tallies()
        assert sum(count for _, count in before) == 2
        downgrade(revision="0012")  # the old definition: rejected or spam now
        assert sum(count for _, count in tallies()) == 1
        alembic_upgrade()
        assert tallies() == before
        assert sum(count for _, count in tallies()) == 2
        assert db.session.execute(select(Comment.id, Comment.deleted_from)
                                  .order_by(Comment.id)).all() == [
            (ids[0], CommentStatus.SPAM), (ids[1], CommentStatus.APPROVED), (ids[2], None)]
        db.session.remove()
        db.engine.dispose()


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_downgrade_and_upgrade_keep_the_rows(backend: str, tmp_path: Path) -> None:
    """Down to the first revision and back up with data in place: nothing is lost on the
    way. On SQLite a column change rebuilds the table (copy, DROP, rename), and with
    foreign keys on, the DROP of ``sites`` or ``comments`` cascaded into every table that
    refers to them."""
    from sqlalchemy import func, select

    from service.domain.sites import ensure_demo_site
    from service.domain.submissions import ClientInfo, Submission, submit_comment
    from service.models import Article, Author, CheckResult, Comment, Site

    app = _empty_database_app(backend, tmp_path)
    tables = (Site, Article, Author, Comment, CheckResult)
    with app.app_context():
        alembic_upgrade()
        session = db.session()
        ensure_demo_site(session)
        site = session.get(Site, "demo")
        for i in range(3):
            comment_id = submit_comment(session, site, Submission(article="m", body=f"Kept {i}."),
                                        ClientInfo(), max_depth=5, max_body_chars=5000).id
            session.add(CheckResult(comment_id=comment_id, check_name="toxicity",
                                    check_version="1", score=0.1, label="clean", reasons=[]))
        session.commit()

        def counts() -> list[int]:
            with db.engine.connect() as connection:
                return [connection.scalar(select(func.count()).select_from(t.__table__))
                        for t in tables]

        db.session.remove()
        before = counts()
        assert before == [1, 1, 3, 3, 3]
        downgrade(revision="0e904bd43f2f")  # the initial schema: every table above exists
        assert counts() == before
        alembic_upgrade()
        assert counts() == before
        if backend == "sqlite":  # switched off for the migration only
            with db.engine.connect() as connection:
                assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        db.engine.dispose()


def test_a_sqlite_upgrade_that_fails_partway_changes_nothing(tmp_path: Path) -> None:
    """One transaction for the whole run on SQLite: a failure in its last step (0013, made
    to fail by a trigger) leaves the database at the revision it started from, without the
    steps before it (0011's indexes, 0012's column)."""
    import sqlite3

    from sqlalchemy.exc import IntegrityError

    from service.domain.sites import ensure_demo_site
    from service.domain.submissions import ClientInfo, Submission, submit_comment
    from service.models import Site

    app = _empty_database_app("sqlite", tmp_path)
    with app.app_context():
        alembic_upgrade()
        session = db.session()
        ensure_demo_site(session)
        submit_comment(session, session.get(Site, "demo"), Submission(article="m", body="Kept."),
                       ClientInfo(), max_depth=5, max_body_chars=5000)
        session.commit()
        db.session.remove()
        downgrade(revision="0010")
        db.engine.dispose()
        raw = sqlite3.connect(tmp_path / "m.db")
        raw.execute("CREATE TRIGGER boom BEFORE UPDATE ON authors "
                    "BEGIN SELECT RAISE(ABORT, 'boom'); END")
        raw.commit()
        with pytest.raises(IntegrityError, match="boom"):
            alembic_upgrade()
        assert raw.execute("SELECT version_num FROM alembic_version").fetchall() == [("0010",)]
        indexes = {row[1] for row in raw.execute("PRAGMA index_list(comments)")}
        assert "ix_comments_author_created" not in indexes
        assert "ix_comments_author_id" in indexes
        assert "may_reject" not in {row[1] for row in
                                    raw.execute("PRAGMA table_info(check_results)")}
        assert raw.execute("SELECT COUNT(*) FROM comments").fetchone() == (1,)
        raw.close()
        db.engine.dispose()
