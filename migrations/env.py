"""Alembic environment, run through Flask-Migrate inside the app (``warden db upgrade``)."""

import logging
from logging.config import fileConfig

from alembic import context
from flask import current_app

config = context.config
# Keep loggers that the app configured before the migration ran.
fileConfig(config.config_file_name, disable_existing_loggers=False)
logger = logging.getLogger("alembic.env")

target_db = current_app.extensions["migrate"].db
config.set_main_option(
    "sqlalchemy.url",
    target_db.engine.url.render_as_string(hide_password=False).replace("%", "%%"),
)


def get_metadata():
    return target_db.metadata


def run_migrations_offline():
    context.configure(url=config.get_main_option("sqlalchemy.url"),
                      target_metadata=get_metadata(), literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online():
    def process_revision_directives(context, revision, directives):
        if getattr(config.cmd_opts, "autogenerate", False):
            script = directives[0]
            if script.upgrade_ops.is_empty():
                directives[:] = []
                logger.info("No changes in schema detected.")

    conf_args = current_app.extensions["migrate"].configure_args
    if conf_args.get("process_revision_directives") is None:
        conf_args["process_revision_directives"] = process_revision_directives

    with target_db.engine.connect() as connection:
        sqlite = connection.dialect.name == "sqlite"
        if sqlite:
            # SQLite changes a column by rebuilding the table (copy, DROP, rename), and with
            # foreign keys on, that DROP cascades: rebuilding ``sites`` or ``comments``
            # deleted every article, comment and check result. The pragma only takes effect
            # outside a transaction, hence the driver connection (autocommit); the
            # references are checked before the migration commits instead.
            _set_sqlite_foreign_keys(connection, False)
        try:
            # SQLite's DDL is transactional too: all of an upgrade or none of it.
            context.configure(connection=connection, target_metadata=get_metadata(),
                              **({"transactional_ddl": True} if sqlite else {}), **conf_args)
            with context.begin_transaction():
                migration = context.get_context()
                heads_before = migration.get_current_heads()
                context.run_migrations()
                # Checked only when a step ran: `warden run` upgrades at every start, and
                # the check reads every reference in the database.
                if sqlite and migration.get_current_heads() != heads_before:
                    broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                    if broken:
                        raise RuntimeError(
                            f"after the migration {len(broken)} rows refer to missing rows "
                            f"(table, rowid, referred table, key: {tuple(broken[0])}); it "
                            "was rolled back")
            if sqlite and connection.in_transaction():
                connection.commit()  # before the pragma, which a transaction would ignore
        finally:
            if sqlite:
                if connection.in_transaction():
                    connection.rollback()
                _set_sqlite_foreign_keys(connection, True)


def _set_sqlite_foreign_keys(connection, on):
    driver_connection = connection.connection.dbapi_connection
    driver_connection.execute(f"PRAGMA foreign_keys={'ON' if on else 'OFF'}")


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
