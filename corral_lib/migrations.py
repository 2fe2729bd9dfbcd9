"""Schema migrations of a pipeline's database, with alembic.

A pipeline made by `corral create` has a `migrations/` folder in its
package: alembic.ini, env.py, the revision template script.py.mako and
versions/. `settings.MIGRATIONS_SETTINGS` names its alembic.ini (by default
`<package>/migrations/alembic.ini`). This module turns that into an alembic
`Config`, and runs what the commands need:

- `make_revision()`  compares the models with the database and writes the
                     difference as a revision (`corral makemigrations`);
- `upgrade()`        applies the revisions the database lacks
                     (`corral migrate`);
- `stamp_new_database()`  marks a database `createdb` just made as being at
                     the newest revision, since its tables already match;
- `run_environment()`  what the pipeline's env.py calls: the connection,
                     the models, batch mode, one transaction per revision.

Revisions are written in alembic's batch mode on every backend. SQLite
cannot alter most columns in place, so there batch mode rebuilds the table
(copy, drop, rename); on the server databases it emits plain ALTER TABLE.
A revision written against a developer's SQLite file therefore also runs
on the PostgreSQL or MariaDB server, and the other way round.

DuckDB needs more help (see `DuckDBImpl`): it alters a table in place only
while no index or foreign key involves it, so there batch operations
rebuild the table too; and a table that other tables' foreign keys point at
cannot be rebuilt at all (DuckDB forbids dropping it), so on DuckDB such a
table can only gain nullable columns.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import re
from argparse import Namespace
from pathlib import Path
from typing import Any, Callable, Iterator

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.ddl.impl import DefaultImpl
from alembic.operations import ops as alembic_ops
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.script.revision import RevisionError
from alembic.util import CommandError

from .errors import CorralError, DatabaseError, ImproperlyConfigured

logger = logging.getLogger("corral.migrations")

VERSION_TABLE = "alembic_version"

# Keys of Config.attributes through which the commands talk to env.py.
STATUS_KEY = "corral_status"


class MigrationError(CorralError):
    """A migration cannot be written or applied."""


class RevisionFailed(MigrationError):
    """A revision raised while it ran; the message names it."""

    def __init__(self, script, direction: str, reason: str,
                 transactional: bool, backend: str):
        self.script = script
        self.direction = direction
        where = display_path(script.path)
        if transactional:
            undo = "its changes were rolled back"
        else:
            backend = {"mysql": "MySQL/MariaDB"}.get(backend, backend)
            undo = (
                f"{backend} applies each schema change at once, so what the "
                "revision did before the failure stays applied: check the "
                "database by hand"
            )
        super().__init__(
            f"revision {script.revision} ('{script.doc}', {where}) failed "
            f"during {direction}: {reason}; {undo}; fix the revision and "
            "run the command again"
        )


# -- configuration --------------------------------------------------------


def config_path() -> Path:
    """The alembic.ini of the pipeline (settings.MIGRATIONS_SETTINGS)."""
    from .conf import settings

    configured = settings.get("MIGRATIONS_SETTINGS")
    if configured:
        path = Path(configured)
        if not path.is_absolute() and settings.project.directory:
            path = settings.project.directory / path
        return path
    project = settings.project
    package_dir = Path(project.directory or ".") / project.package
    return package_dir / "migrations" / "alembic.ini"


def get_config(stdout=None, quiet: bool = True, x_args=None,
               cmd_opts: Namespace | None = None) -> Config:
    """An alembic Config for the pipeline's migrations folder.

    `quiet` silences alembic's own progress lines; the commands print
    their own. Relative paths in the ini are taken from its folder, so the
    commands work from any working directory.
    """
    from .conf import settings

    path = config_path()
    if not path.is_file():
        origin = ("settings.MIGRATIONS_SETTINGS"
                  if settings.get("MIGRATIONS_SETTINGS")
                  else "the default migrations folder")
        raise ImproperlyConfigured(
            f"{origin}: {path} does not exist; point MIGRATIONS_SETTINGS at "
            "the alembic.ini of the pipeline's migrations folder (a new "
            "pipeline made with 'corral create' has one to copy)"
        )
    if cmd_opts is None:
        cmd_opts = Namespace(quiet=quiet, x=list(x_args or []))
    kwargs = {"stdout": stdout} if stdout is not None else {}
    config = Config(str(path), cmd_opts=cmd_opts, **kwargs)
    location = config.get_main_option("script_location") or str(path.parent)
    location_path = Path(location)
    if not location_path.is_absolute():
        location_path = path.parent / location_path
    if not (location_path / "env.py").is_file():
        raise ImproperlyConfigured(
            f"{path}: script_location {location_path} holds no env.py; "
            "point it at the migrations folder (script_location = %(here)s "
            "means the folder of alembic.ini)"
        )
    # ConfigParser interpolates '%': escape it in the path.
    config.set_main_option(
        "script_location", str(location_path).replace("%", "%%")
    )
    return config


def display_path(path) -> str:
    """A path relative to the working directory when it is below it."""
    path = Path(path)
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


# -- translating alembic's errors -----------------------------------------


@contextlib.contextmanager
def alembic_errors(versions: Path | None = None) -> Iterator[None]:
    """Turn alembic's exceptions into one-line CorralErrors with a remedy;
    `versions` is the folder of revision files, for the messages."""
    try:
        yield
    except (CommandError, RevisionError) as exc:
        raise MigrationError(_explain(str(exc), versions)) from exc


def _explain(message: str, versions: Path | None) -> str:
    first = message.strip().splitlines()[0] if message.strip() else message
    folder = f" in {display_path(versions)}" if versions else ""
    if "Target database is not up to date" in first:
        return (
            "the database is not at the newest revision; apply the pending "
            "revisions with 'corral migrate' first, then make the new one"
        )
    if "Multiple heads are present" in first or "multiple heads" in first:
        return (
            "the migrations have several newest revisions (heads), as when "
            "two people wrote revisions at the same time; join them with "
            "'corral alembic merge heads -m \"merge\"'"
        )
    unknown = re.search(
        r"(?:Can't locate revision identified by|No such revision or "
        r"branch) '([^']*)'", first)
    if unknown:
        return (
            f"no revision file{folder} has the id '{unknown.group(1)}' (if "
            "the database names it, its file was removed since); restore "
            "the file, or mark the database as being at a revision that "
            "exists with 'corral alembic stamp --purge REVISION'"
        )
    return f"alembic: {first}"


# -- the database ---------------------------------------------------------


def check_database(engine, action: str) -> None:
    """Refuse to work on a database that does not exist or is empty.

    Connecting to a missing SQLite or DuckDB file would create an empty
    one; that is checked before connecting.
    """
    from . import db
    from .db.engine import file_path

    backend = engine.dialect.name
    path = file_path(engine.url)
    if backend in ("sqlite", "duckdb") and path is None:
        raise DatabaseError(
            "CONNECTION is an in-memory database, which starts empty every "
            f"time; {action} needs a database file or server"
        )
    if path is not None and not path.exists():
        raise DatabaseError(
            f"the database {path} does not exist; create it with 'corral "
            "createdb' (a new database is made from the current models and "
            "is already up to date)"
        )
    try:
        db.check_connection(engine)
    except DatabaseError as exc:
        text = str(exc)
        if "does not exist" in text or "Unknown database" in text:
            text += (
                "; create the database on the server, then run 'corral "
                "createdb'"
            )
        raise DatabaseError(text) from exc
    tables = set(sa.inspect(engine).get_table_names())
    modelled = {t.name for t in db.Model.metadata.sorted_tables}
    if VERSION_TABLE not in tables and not tables & modelled:
        where = path or engine.url.render_as_string(hide_password=True)
        raise DatabaseError(
            f"the database {where} has none of the pipeline's tables; "
            "create them with 'corral createdb'"
        )


def current_revisions(engine) -> tuple[str, ...]:
    """The revisions the database is marked as being at (may be empty)."""
    with engine.connect() as connection:
        context = MigrationContext.configure(connection)
        return tuple(context.get_current_heads())


def describe_revisions(revisions) -> str:
    return ", ".join(revisions) if revisions else "no revision (base)"


def pending_revisions(config: Config, engine) -> list:
    """The revision scripts an upgrade to the newest would apply, oldest
    first."""
    script_dir = ScriptDirectory.from_config(config)
    current = current_revisions(engine)
    with alembic_errors(versions_dir(config)):
        found = script_dir.iterate_revisions("heads", current or "base")
        return list(reversed(list(found)))


def newest_revisions(config: Config) -> tuple[str, ...]:
    return tuple(ScriptDirectory.from_config(config).get_heads())


def versions_dir(config: Config) -> Path:
    return Path(config.get_main_option("script_location")) / "versions"


# -- commands -------------------------------------------------------------


def upgrade(config: Config, revision: str = "heads",
            status: Callable | None = None) -> None:
    """Apply the revisions up to `revision` (the newest by default).

    `status(text)` is a context manager wrapped around each revision, for
    progress lines. A failing revision raises a MigrationError that names
    it and says which revision the database is left at.
    """
    config.attributes[STATUS_KEY] = status
    with reporting_state(), alembic_errors(versions_dir(config)):
        command.upgrade(config, revision)


@contextlib.contextmanager
def reporting_state() -> Iterator[None]:
    """Add the revision the database is left at to a RevisionFailed."""
    from . import db

    try:
        yield
    except RevisionFailed as exc:
        now = describe_revisions(current_revisions(db.get_engine()))
        raise MigrationError(f"{exc}; the database is at {now}") from exc


def stamp(config: Config, revision: str = "heads") -> None:
    """Mark the database as being at `revision`, changing nothing else."""
    with alembic_errors(versions_dir(config)):
        command.stamp(config, revision)


def stamp_new_database(engine, created: list[str]) -> str | None:
    """After createdb: mark a brand-new database as up to date.

    A database whose every table createdb just made already has the newest
    schema, so it is stamped at the newest revision and `migrate` has
    nothing to do. A database that held tables before is left alone: only
    its revisions know what it has. Returns a line to show, or None.
    """
    from . import db

    tables = {t.name for t in db.Model.metadata.sorted_tables}
    if not created or set(created) != tables:
        return None
    try:
        config = get_config()
    except ImproperlyConfigured as exc:
        from .conf import settings

        if settings.get("MIGRATIONS_SETTINGS"):
            logger.warning("the new database was not stamped: %s", exc)
        return None
    heads = newest_revisions(config)
    if not heads or current_revisions(engine):
        return None
    stamp(config, "heads")
    return f"Marked the new database as migrated to {', '.join(heads)}."


def make_revision(config: Config, message: str | None = None,
                  empty: bool = False):
    """Write a revision with the differences between models and database.

    Returns (script, changes): the alembic Script written, or None when
    nothing changed (and `empty` is false), and the changes as lines such
    as "+ column Observation.magnitude".
    """
    found: dict[str, Any] = {"changes": []}

    def collect(context, revision, directives):
        if not directives:
            return
        script = directives[0]
        upgrade_ops = script.upgrade_ops
        diffs = upgrade_ops.as_diffs() if upgrade_ops is not None else []
        found["changes"] = [describe_change(d) for d in diffs]
        if not diffs and not empty:
            directives[:] = []
            return
        if not script.message:
            script.message = _default_message(found["changes"])

    if empty and not message:
        # Without autogenerate alembic calls no hook to name it.
        message = "empty revision"
    with alembic_errors(versions_dir(config)):
        if len(newest_revisions(config)) > 1:
            raise CommandError("Multiple heads are present")
        result = command.revision(
            config, message=message, autogenerate=not empty,
            process_revision_directives=collect,
        )
    script = result[0] if isinstance(result, list) and result else result
    return (script or None), found["changes"]


def _default_message(changes: list[str]) -> str:
    """'add column Observation.magnitude and 2 more' from the changes."""
    if not changes:
        return "empty revision"
    verbs = {"+": "add", "-": "remove", "~": "change"}
    first = f"{verbs[changes[0][0]]} {changes[0][2:]}"
    more = f" and {len(changes) - 1} more" if len(changes) > 1 else ""
    return f"{first}{more}"


def describe_change(diff) -> str:
    """One line for an alembic autogenerate difference."""
    if isinstance(diff, list):
        # Changes to one column come grouped: ("modify_type", schema,
        # table, column, ...) and its siblings.
        kinds = [d[0].replace("modify_", "") for d in diff]
        table, column = diff[0][2], diff[0][3]
        return f"~ column {table}.{column}: {' and '.join(kinds)}"
    kind = diff[0]
    sign = "+" if kind.startswith("add") else "-"
    obj = diff[-1]
    if kind in ("add_table", "remove_table"):
        return f"{sign} table {obj.name}"
    if kind in ("add_column", "remove_column"):
        return f"{sign} column {diff[2]}.{obj.name}"
    if kind in ("add_index", "remove_index"):
        return f"{sign} index {obj.name} on {obj.table.name}"
    if kind in ("add_fk", "remove_fk"):
        columns = ", ".join(c.name for c in obj.columns)
        return (f"{sign} foreign key {obj.table.name}({columns}) -> "
                f"{obj.referred_table.name}")
    if kind in ("add_constraint", "remove_constraint"):
        columns = ", ".join(c.name for c in obj.columns)
        return (f"{sign} unique constraint on {obj.table.name}({columns})")
    return f"~ {kind.replace('_', ' ')}"


# -- env.py ---------------------------------------------------------------


def run_environment(context, **options) -> None:
    """Run alembic's environment for the pipeline; env.py calls this.

    `options` go to alembic's `context.configure()` and override Corral's
    choices (for example `include_object=...` to leave a table out of
    autogenerate, or `compare_server_default=True`).
    """
    from . import db

    db.load_models_module()
    user_hook = options.pop("process_revision_directives", None)
    configure: dict[str, Any] = {
        "target_metadata": db.Model.metadata,
        # Batch mode everywhere: see the module docstring.
        "render_as_batch": True,
        "compare_type": True,
        # A failing revision rolls back alone; the ones before it stay.
        "transaction_per_migration": True,
        "process_revision_directives": _portable_order(user_hook),
    }
    configure.update(options)
    engine = db.get_engine()
    if context.is_offline_mode():
        context.configure(
            url=engine.url, literal_binds=True,
            dialect_opts={"paramstyle": "named"}, **configure,
        )
        with context.begin_transaction():
            context.run_migrations()
        return
    if engine.dialect.name == "sqlite":
        # Corral's SQLite engine begins transactions itself (see
        # corral_lib.db.engine), so there schema changes roll back too.
        configure.setdefault("transactional_ddl", True)
    status = context.config.attributes.get(STATUS_KEY)
    with engine.connect() as connection:
        if connection.dialect.name == "duckdb":
            from .db import duckdb_reflection

            duckdb_reflection.install(connection.dialect)
        with _sqlite_foreign_keys_off(connection):
            context.configure(connection=connection, **configure)
            _guard_revisions(context, status)
            with context.begin_transaction():
                context.run_migrations()


@contextlib.contextmanager
def _sqlite_foreign_keys_off(connection) -> Iterator[None]:
    """Turn SQLite's foreign keys off while revisions run.

    Batch mode rebuilds a table by dropping it; with foreign keys on,
    SQLite would first delete (or refuse to delete) the rows other tables
    point at. The pragma only works outside a transaction, so it goes
    straight to the driver before alembic begins one.
    """
    if connection.dialect.name != "sqlite":
        yield
        return
    raw = connection.connection.driver_connection
    raw.execute("PRAGMA foreign_keys = OFF")
    try:
        yield
    finally:
        if connection.in_transaction():
            connection.rollback()
        broken = raw.execute("PRAGMA foreign_key_check").fetchall()
        raw.execute("PRAGMA foreign_keys = ON")
        for table in sorted({row[0] for row in broken}):
            logger.warning(
                "after the migration, rows of table %s point at rows that "
                "do not exist (see PRAGMA foreign_key_check)", table,
            )


def _guard_revisions(context, status: Callable | None) -> None:
    """Wrap each revision's upgrade() and downgrade() so that a failure
    names the revision, and so progress can be shown around each."""
    migration_context = context.get_context()
    impl = migration_context.impl
    for script in context.script.walk_revisions():
        module = script.module
        for direction in ("upgrade", "downgrade"):
            function = getattr(module, direction, None)
            if function is None or getattr(function, "_corral_guard", 0):
                continue
            setattr(module, direction, _guarded(
                function, script, direction, status, impl
            ))


def _guarded(function, script, direction, status, impl):
    verb = "Applying" if direction == "upgrade" else "Unapplying"
    label = f"{verb} {script.revision} ({script.doc})"

    @functools.wraps(function)
    def run(*args, **kwargs):
        try:
            with (status(label) if status else contextlib.nullcontext()):
                return function(*args, **kwargs)
        except Exception as exc:
            raise RevisionFailed(
                script, direction, _reason(exc), impl.transactional_ddl,
                impl.dialect.name,
            ) from exc

    run._corral_guard = True
    return run


def _reason(exc: BaseException) -> str:
    if isinstance(exc, sa.exc.DBAPIError) and exc.orig is not None:
        text = str(exc.orig).strip()
        name = type(exc.orig).__name__
    elif isinstance(exc, CorralError):
        return str(exc)
    else:
        text, name = str(exc).strip(), type(exc).__name__
    first = text.splitlines()[0] if text else ""
    return f"{name}: {first}" if first else name


def _portable_order(user_hook):
    """Order autogenerated operations so revisions run everywhere.

    Alembic creates new tables first. Changes to existing tables go
    first here, then dropped and new tables, and last the changes that
    need a new table (its indexes, or a foreign key to it). The downgrade, the reverse,
    then drops new tables before undoing the column changes: on DuckDB a
    table that a new table's foreign key points at could not be changed
    back otherwise.
    """

    def hook(context, revision, directives):
        if user_hook is not None:
            user_hook(context, revision, directives)
        for script in directives:
            pairs = zip(script.upgrade_ops_list, script.downgrade_ops_list)
            for upgrade_ops, downgrade_ops in pairs:
                if upgrade_ops.ops:
                    upgrade_ops.ops[:] = _reorder(upgrade_ops.ops)
                    downgrade_ops.ops[:] = upgrade_ops.reverse().ops

    return hook


def _reorder(operations: list) -> list:
    new_tables = {
        op.table_name for op in operations
        if isinstance(op, alembic_ops.CreateTableOp)
    }
    first, drops, creates, last = [], [], [], []
    for op in operations:
        if isinstance(op, alembic_ops.CreateTableOp):
            creates.append(op)
        elif isinstance(op, alembic_ops.DropTableOp):
            drops.append(op)
        elif (getattr(op, "table_name", None) in new_tables
              or _referred_tables(op) & new_tables):
            # The indexes of a new table, or a foreign key to one.
            last.append(op)
        else:
            first.append(op)
    return first + drops + creates + last


def _referred_tables(op) -> set[str]:
    """Tables an operation's new foreign keys point at."""
    found = set()
    inner = op.ops if isinstance(op, alembic_ops.ModifyTableOps) else [op]
    for item in inner:
        if isinstance(item, alembic_ops.AddColumnOp):
            for fk in item.column.foreign_keys:
                found.add(fk.target_fullname.rsplit(".", 1)[0])
        elif isinstance(item, alembic_ops.CreateForeignKeyOp):
            found.add(item.referent_table)
    return found


# -- DuckDB ---------------------------------------------------------------


class DuckDBImpl(DefaultImpl):
    """How alembic changes a DuckDB database (alembic has no DuckDB support
    of its own; defining this class registers it for the "duckdb" dialect).

    - New tables get the sequence that numbers their integer primary key,
      as `createdb` gives them (see corral_lib.db.engine), and lose it when
      dropped.
    - DuckDB refuses most ALTER TABLEs on a table that an index or a
      foreign key involves, so batch operations other than adding a
      nullable column or an index rebuild the table: its rows go to a
      scratch table, the table is dropped and created anew, and the rows
      come back. (Alembic's own rebuild renames the new table into place,
      which leaves DuckDB's foreign-key bookkeeping pointing at the old
      name.)
    - A table that other tables' foreign keys point at cannot be dropped,
      so it cannot be rebuilt either; such a change fails with a message
      naming those tables. This is DuckDB's limit, not alembic's.
    """

    __dialect__ = "duckdb"
    transactional_ddl = True

    _rebuilding = None

    def requires_recreate_in_batch(self, batch_op) -> bool:
        for name, args, _kw in batch_op.batch:
            if name == "add_column" and args[1].nullable:
                continue
            if name in ("create_index", "drop_index"):
                continue
            return True
        return False

    def prep_table_for_batch(self, batch_impl, table) -> None:
        from .db.duckdb_reflection import referencing_tables

        referencing = referencing_tables(self.connection, table.name)
        if referencing:
            raise MigrationError(
                f"DuckDB cannot rebuild table {table.name!r}, which this "
                "change needs, while foreign keys of "
                f"{', '.join(referencing)} point at it (DuckDB then only "
                "adds nullable columns to it); make the change a nullable "
                "new column, or drop those tables' foreign keys earlier in "
                "the revision"
            )
        self._rebuilding = batch_impl

    def create_table(self, table, **kw) -> None:
        batch = self._rebuilding
        if batch is not None and table is batch.new_table:
            # The scratch copy: plain columns, no constraints to trip over.
            scratch = sa.Table(
                table.name, sa.MetaData(),
                *[sa.Column(c.name, c.type) for c in table.columns],
            )
            super().create_table(scratch)
            return
        from .db.engine import add_duckdb_sequences

        add_duckdb_sequences(table.metadata)
        for column in table.primary_key.columns:
            if isinstance(column.default, sa.Sequence):
                self._exec(sa.schema.CreateSequence(
                    column.default, if_not_exists=True
                ))
        super().create_table(table, **kw)

    def drop_table(self, table, **kw) -> None:
        batch = self._rebuilding
        if batch is not None and table in (batch.table, batch.new_table):
            super().drop_table(table, **kw)
            return
        key = self._primary_key_columns(table.name)
        super().drop_table(table, **kw)
        if len(key) == 1:
            self._exec(sa.schema.DropSequence(
                sa.Sequence(f"{table.name}_{key[0]}_seq"), if_exists=True
            ))

    def rename_table(self, old_table_name, new_table_name, schema=None):
        batch = self._rebuilding
        if batch is None or old_table_name != batch.temp_table_name:
            return super().rename_table(
                old_table_name, new_table_name, schema=schema
            )
        self._rebuilding = None
        table = batch.new_table
        table.name = new_table_name
        try:
            self._exec(sa.schema.CreateTable(table))
            names = [c.name for c in table.columns]
            scratch = sa.table(old_table_name, *map(sa.column, names))
            self._exec(table.insert().from_select(
                names, sa.select(*scratch.c)
            ))
        finally:
            table.name = old_table_name
        quoted = self.dialect.identifier_preparer.quote(old_table_name)
        self._exec(sa.text(f"DROP TABLE {quoted}"))

    def _primary_key_columns(self, table_name: str) -> list[str]:
        rows = self.connection.exec_driver_sql(
            "SELECT constraint_column_names FROM duckdb_constraints() "
            "WHERE table_name = ? AND constraint_type = 'PRIMARY KEY'",
            (table_name,),
        ).all()
        return list(rows[0][0]) if rows else []

    def compare_type(self, inspector_column, metadata_column) -> bool:
        """True when a column's type in the database differs from the
        model's, allowing for how DuckDB spells types."""
        from .db.duckdb_reflection import DuckDBType

        reflected, declared = inspector_column.type, metadata_column.type
        if isinstance(reflected, DuckDBType):
            if isinstance(declared, sa.Enum):
                # Changed enum values are not detected on DuckDB.
                return not reflected.spec.startswith("ENUM(")
            spelled = declared.compile(dialect=self.dialect)
            return spelled.replace(" ", "").upper() != (
                reflected.spec.replace(" ", "").upper()
            )
        if isinstance(reflected, sa.String) and isinstance(declared, sa.String):
            # DuckDB has one string type, VARCHAR, and ignores lengths:
            # String(50), Text and Unicode all come back as VARCHAR.
            return False
        return super().compare_type(inspector_column, metadata_column)

    def correct_for_autogen_constraints(self, conn_uniques, conn_indexes,
                                        metadata_unique_constraints,
                                        metadata_indexes) -> None:
        # DuckDB keeps no constraint names, so a model's unique constraint
        # matches the database's one by its columns, not by its name.
        by_columns = {
            tuple(sorted(c.name for c in uq.columns)): uq
            for uq in metadata_unique_constraints
        }
        for uq in list(conn_uniques):
            key = tuple(sorted(c.name for c in uq.columns))
            if key in by_columns:
                conn_uniques.discard(uq)
                metadata_unique_constraints.discard(by_columns.pop(key))
