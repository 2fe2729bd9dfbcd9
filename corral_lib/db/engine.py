"""Turning `settings.CONNECTION` into an engine with the backend's needs met.

- SQLite: WAL journal (readers never wait for the writer), a busy timeout,
  foreign keys enforced, and real SAVEPOINT support.
- DuckDB: integer primary keys get sequences, since DuckDB has no
  autoincrement; models written for SQLite work unchanged.
- PostgreSQL, MySQL/MariaDB: ordinary pooled engines that check a
  connection before using it.

Relative file paths in SQLite and DuckDB URLs are taken from the project
directory (where in_corral.py is), not from the working directory, so a
pipeline run by cron from anywhere finds its database.
"""

from __future__ import annotations

import logging
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.pool import NullPool, StaticPool

from ..errors import DatabaseError
from . import lock

logger = logging.getLogger("corral.db")

# Driver module -> the extra that installs it, for the error message.
_DRIVER_EXTRAS = {
    "psycopg": "postgresql",
    "psycopg2": "postgresql",
    "pymysql": "mysql",
    "MySQLdb": "mysql",
    "mysqlclient": "mysql",
    "duckdb_engine": "duckdb",
}

SQLITE_BUSY_TIMEOUT_MS = 60_000


def backend_name(url) -> str:
    """'sqlite', 'duckdb', 'postgresql', 'mysql', ... for a URL."""
    return make_url(str(url)).get_backend_name()


def file_path(url) -> Path | None:
    """The database file of an SQLite or DuckDB URL, or None."""
    url = make_url(str(url))
    if url.get_backend_name() not in ("sqlite", "duckdb"):
        return None
    database = url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database)


def resolve_url(url: str, base_dir: Path | None) -> sa.URL:
    """Parse a URL, making a relative database file path absolute."""
    try:
        parsed = make_url(url)
    except Exception as exc:
        raise DatabaseError(
            f"CONNECTION {url!r} is not a database URL ({exc}); write it as "
            "'sqlite:///file.db' or 'postgresql://user@host/name'"
        ) from None
    path = file_path(parsed)
    if path is not None and not path.is_absolute() and base_dir is not None:
        parsed = parsed.set(database=str((base_dir / path).resolve()))
    return parsed


def _configure_sqlite(engine: Engine, in_memory: bool) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        # Let SQLAlchemy, not the sqlite3 module, decide when transactions
        # begin; otherwise SAVEPOINTs silently do nothing.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys = ON")
        if not in_memory:
            cursor.execute("PRAGMA journal_mode = WAL")
            cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection):
        # BEGIN IMMEDIATE when this process holds the write lock (lock.py).
        connection.exec_driver_sql(lock.begin_statement(engine))


def add_duckdb_sequences(metadata: sa.MetaData) -> None:
    """Give each single integer primary key a sequence, as DuckDB needs.

    SQLite and the server databases number such keys by themselves; DuckDB
    only does it through a sequence named in the column's default.
    """
    for table in metadata.tables.values():
        columns = list(table.primary_key.columns)
        if len(columns) != 1:
            continue
        column = columns[0]
        if not isinstance(column.type, sa.Integer):
            continue
        if column.default is not None or column.server_default is not None:
            continue
        if column.autoincrement is False:
            continue
        sequence = sa.Sequence(f"{table.name}_{column.name}_seq")
        sequence._set_parent_with_dispatch(column)
        sequence.metadata = metadata


def make_engine(url: str, base_dir: Path | None = None, echo=False) -> Engine:
    """Create the engine for a CONNECTION URL, configured for its backend."""
    parsed = resolve_url(url, base_dir)
    backend = parsed.get_backend_name()
    kwargs: dict = {"echo": echo}
    in_memory = file_path(parsed) is None
    if backend == "sqlite":
        if in_memory:
            # One shared connection, so every session sees the same
            # in-memory database (the QA test databases rely on it).
            kwargs["poolclass"] = StaticPool
            kwargs["connect_args"] = {"check_same_thread": False}
        else:
            kwargs["connect_args"] = {"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}
    elif backend == "duckdb":
        from .base import Model

        add_duckdb_sequences(Model.metadata)
        if in_memory:
            kwargs["poolclass"] = StaticPool
        else:
            # No connection is kept open between uses: DuckDB lets one
            # process at a time open the file (see lock.py).
            kwargs["poolclass"] = NullPool
    else:
        kwargs["pool_pre_ping"] = True
    path = file_path(parsed)
    if path is not None and not path.parent.is_dir():
        raise DatabaseError(
            f"CONNECTION {url!r}: the folder {path.parent} does not exist; "
            "create it or change CONNECTION in settings"
        )
    try:
        engine = sa.create_engine(parsed, **kwargs)
    except ModuleNotFoundError as exc:
        extra = _DRIVER_EXTRAS.get(exc.name or "", backend)
        raise DatabaseError(
            f"CONNECTION {url!r} needs the database driver '{exc.name}'; "
            f"install it with: pip install 'corral-pipeline[{extra}]'"
        ) from exc
    except sa.exc.ArgumentError as exc:
        raise DatabaseError(f"CONNECTION {url!r} is not usable: {exc}") from exc
    if backend == "sqlite":
        _configure_sqlite(engine, in_memory)
    # Parallel writers on a database file take turns through a file lock.
    if backend == "sqlite" and path is not None:
        lock.install_sqlite(engine, path)
    elif backend == "duckdb" and path is not None:
        lock.install_duckdb(engine, path)
    return engine


def check_connection(engine: Engine, setting: str = "CONNECTION") -> None:
    """Open one connection, or fail with a line that says why."""
    try:
        with engine.connect():
            pass
    except sa.exc.DBAPIError as exc:
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else exc
        raise DatabaseError(
            f"cannot open the database of {setting} "
            f"({engine.url.render_as_string(hide_password=True)}): {reason}"
        ) from exc
