"""The throw-away databases of `corral test`: one per test, made from
settings.TEST_CONNECTION, holding every model's table, destroyed after.

In-memory SQLite (the default) and DuckDB live as long as their engine.
A file database is deleted before and after each test; a server database
(PostgreSQL, MySQL/MariaDB) is created and dropped, so TEST_CONNECTION must
name a database the tests may destroy. It may never be the pipeline's own
CONNECTION: that is refused before anything is touched.
"""

from __future__ import annotations

import contextlib
import logging
from pathlib import Path

from .. import db
from ..db.engine import backend_name, file_path, make_engine, resolve_url
from ..errors import ImproperlyConfigured

logger = logging.getLogger("corral.qa")

DEFAULT_TEST_CONNECTION = "sqlite:///:memory:"

# Files SQLite and DuckDB keep beside a database file.
_SIDE_SUFFIXES = ("-wal", "-shm", "-journal", ".wal")


def _base_dir():
    from ..conf import settings

    project = settings.project if settings.configured else None
    return project.directory if project is not None else None


def check_test_connection(url: str, connection: str | None,
                          base_dir: Path | None) -> None:
    """Refuse a TEST_CONNECTION that is the pipeline's own database."""
    test_url = resolve_url(url, base_dir)
    if file_path(test_url) is None and backend_name(test_url) in (
        "sqlite", "duckdb"
    ):
        return  # in memory: a new database for every engine
    if not connection:
        return
    own = resolve_url(connection, base_dir)
    same = test_url.render_as_string(hide_password=False) == (
        own.render_as_string(hide_password=False)
    )
    if same:
        raise ImproperlyConfigured(
            f"settings.TEST_CONNECTION is the pipeline's own database "
            f"({test_url.render_as_string(hide_password=True)}); the tests "
            "destroy their database after each test, so point "
            "TEST_CONNECTION elsewhere (by default 'sqlite:///:memory:')"
        )


class TestDatabase:
    """One test's database: create() it, use the engine, destroy() it."""

    __test__ = False  # not a pytest test class, despite the name

    def __init__(self, url: str, base_dir: Path | None = None):
        self.url = url
        self.base_dir = base_dir
        self.engine = None
        parsed = resolve_url(url, base_dir)
        self.backend = parsed.get_backend_name()
        self.path = file_path(parsed)
        self.in_memory = self.path is None and self.backend in (
            "sqlite", "duckdb"
        )
        self.is_server = self.path is None and not self.in_memory
        self._parsed = parsed

    @classmethod
    def from_settings(cls) -> "TestDatabase":
        from ..conf import settings

        url = settings.get("TEST_CONNECTION") or DEFAULT_TEST_CONNECTION
        base_dir = _base_dir()
        check_test_connection(url, settings.get("CONNECTION"), base_dir)
        return cls(url, base_dir)

    def _remove_files(self) -> None:
        if self.path is None:
            return
        for candidate in [self.path] + [
            Path(str(self.path) + suffix) for suffix in _SIDE_SUFFIXES
        ]:
            with contextlib.suppress(FileNotFoundError):
                candidate.unlink()

    def create(self):
        """A fresh, empty database with every model's table; its engine."""
        db.load_models_module()
        self._remove_files()
        if self.is_server:
            # Imported here: it costs a third of a second, which tests on
            # SQLite or DuckDB need not pay.
            import sqlalchemy_utils

            if sqlalchemy_utils.database_exists(self._parsed):
                sqlalchemy_utils.drop_database(self._parsed)
            sqlalchemy_utils.create_database(self._parsed)
        self.engine = make_engine(self.url, base_dir=self.base_dir)
        db.check_connection(self.engine, "TEST_CONNECTION")
        db.Model.metadata.create_all(self.engine)
        return self.engine

    def destroy(self) -> None:
        """Close every connection and delete the database."""
        if self.engine is not None:
            self.engine.dispose()
            self.engine = None
        self._remove_files()
        if self.is_server:
            import sqlalchemy_utils

            if sqlalchemy_utils.database_exists(self._parsed):
                sqlalchemy_utils.drop_database(self._parsed)


@contextlib.contextmanager
def bound_to(engine):
    """Bind `db.Session` (what processors and commands use) to `engine`
    for the block, then put back whatever was bound before.

    db.setup() would dispose the engine bound before, which would empty an
    in-memory pipeline database a caller still uses; this only swaps.
    """
    previous_engine = db._state["engine"]
    previous_bind = db.Session.kw.get("bind")
    db._state["engine"] = engine
    db.Session.configure(bind=engine)
    try:
        yield engine
    finally:
        db._state["engine"] = previous_engine
        db.Session.configure(bind=previous_bind)
