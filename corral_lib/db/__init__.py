"""The pipeline's database: models, engine, sessions. Public as `corral.db`.

Everything in `sqlalchemy` and `sqlalchemy.orm` is available here
(`db.Column`, `db.Integer`, `db.relationship`, `db.backref`, ...), and so is
`sqlalchemy_utils` (loaded the first time one of its names is used, which
keeps commands that never touch it fast to start).
"""

from __future__ import annotations

import contextlib
from pathlib import Path

from sqlalchemy import *  # noqa: F401,F403  (the public `db` namespace)
from sqlalchemy.orm import *  # noqa: F401,F403

import sqlalchemy as _sa
from sqlalchemy import orm as _orm

from .base import Model
from .engine import (  # noqa: F401  (part of the public namespace)
    backend_name,
    check_connection,
    file_path,
    make_engine,
)
from . import tables  # noqa: F401  (registers the framework tables)

__all__ = ["Model", "Session", "session_scope", "setup", "get_engine"]


class _SessionFactory(_orm.sessionmaker):
    """A sessionmaker that binds itself to the pipeline's database on first
    use, so `db.Session()` works in commands, scripts and the shell alike."""

    def __call__(self, **kwargs):
        if kwargs.get("bind") is None and self.kw.get("bind") is None:
            get_engine()
        return super().__call__(**kwargs)


# Bound by setup(); every session of the pipeline comes from here. Objects
# stay usable after a commit (no reload per attribute), which the chunked
# runner relies on for speed.
Session = _SessionFactory(expire_on_commit=False)

_state: dict = {"engine": None, "url": None}


def setup(connection: str | None = None, base_dir: Path | None = None,
          engine=None, echo: bool = False, check: bool = False):
    """Bind `Session` to the pipeline's database and return the engine.

    With no arguments it uses `settings.CONNECTION`, relative file paths
    being taken from the project directory.
    """
    if engine is None:
        from ..conf import settings

        if connection is None:
            connection = settings.CONNECTION
            echo = echo or bool(settings.get("ECHO_SQL", False))
        if base_dir is None and settings.project is not None:
            base_dir = settings.project.directory
        engine = make_engine(connection, base_dir=base_dir, echo=echo)
    if check:
        check_connection(engine)
    old = _state["engine"]
    if old is not None and old is not engine:
        old.dispose()
    _state["engine"] = engine
    Session.configure(bind=engine)
    return engine


def get_engine():
    """The engine setup() bound, setting it up from settings if needed."""
    if _state["engine"] is None:
        setup()
    return _state["engine"]


def teardown() -> None:
    """Close every pooled connection of the pipeline's engine."""
    engine = _state["engine"]
    if engine is not None:
        engine.dispose()
    _state["engine"] = None


@contextlib.contextmanager
def session_scope(**kwargs):
    """A session that commits when the block ends and rolls back on error."""
    session = Session(**kwargs)
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def load_models_module():
    """Import the pipeline's models module so its tables are known."""
    from ..conf import import_pipeline_module, settings

    project = settings.project
    if project is None:
        return None
    return import_pipeline_module(f"{project.package}.models")


def create_all(engine=None) -> list[str]:
    """Create the tables that do not exist yet; return their names.

    Existing tables are left exactly as they are (changing them is what
    migrations are for).
    """
    engine = engine or get_engine()
    inspector = _sa.inspect(engine)
    existing = set(inspector.get_table_names())
    missing = [
        t for t in Model.metadata.sorted_tables if t.name not in existing
    ]
    Model.metadata.create_all(engine, tables=missing, checkfirst=True)
    return [t.name for t in missing]


def __getattr__(name):
    # sqlalchemy_utils costs a noticeable part of start-up; load it only
    # when a pipeline uses one of its names.
    import sqlalchemy_utils

    try:
        value = getattr(sqlalchemy_utils, name)
    except AttributeError:
        raise AttributeError(
            f"module 'corral.db' has no attribute {name!r}"
        ) from None
    globals()[name] = value
    return value
