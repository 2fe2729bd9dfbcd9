"""Commands on the database schema: makemigrations, migrate, and alembic
for everything else alembic can do."""

from __future__ import annotations

import argparse
import contextlib

from ..errors import CorralError
from .base import BaseCommand, add_noinput

# Alembic commands that open the database, and so need it to exist: a
# missing SQLite or DuckDB file would otherwise be created empty.
_DATABASE_COMMANDS = {"upgrade", "downgrade", "stamp", "current", "check"}


def _status(command):
    """A context manager factory printing 'text... done' or '... FAILED'."""

    @contextlib.contextmanager
    def status(text):
        command.stdout.write(f"  {text}...")
        command.stdout.flush()
        try:
            yield
        except BaseException:
            command.stdout.write(" FAILED\n")
            raise
        command.stdout.write(" done\n")

    return status


def _database(action):
    from .. import db
    from ..migrations import check_database

    db.load_models_module()
    engine = db.get_engine()
    check_database(engine, action)
    return engine


class MakeMigrations(BaseCommand):
    """Write a revision with the changes between the models and the database.

    Compares the pipeline's models, and Corral's own tables, with the
    database (alembic autogenerate) and writes the differences as a new
    revision in the migrations folder (settings.MIGRATIONS_SETTINGS).
    Nothing is written when nothing changed. Read the revision, then apply
    it with `corral migrate`.

    example: corral makemigrations -m "add magnitude to Observation"
    """

    options = {"title": "makemigrations"}

    def setup(self):
        self.parser.add_argument(
            "-m", "--message",
            help="what the revision does, in a few words (default: made "
            "from the changes found)",
        )
        self.parser.add_argument(
            "--empty", action="store_true",
            help="write a revision with no changes, to fill in by hand "
            "(moving data, for instance)",
        )

    def handle(self, message=None, empty=False):
        from ..migrations import display_path, get_config, make_revision

        config = get_config(self.stdout)
        if not empty:
            # Autogenerate compares with the database: it must exist.
            _database("makemigrations")
        script, changes = make_revision(config, message, empty=empty)
        if script is None:
            self.write("No changes detected; no revision written.")
            return
        self.write(
            f"Wrote revision {script.revision} ({script.doc}): "
            f"{display_path(script.path)}"
        )
        for change in changes:
            self.write(f"  {change}")
        self.write("Read it, then apply it with 'corral migrate'.")


class Migrate(BaseCommand):
    """Upgrade the database to the newest revision of the migrations.

    Lists the revisions the database lacks and, once confirmed, applies
    them oldest first, each in its own transaction: a failing revision is
    rolled back (where the database allows it) and the error names it.

    example: corral migrate --noinput
    """

    options = {"title": "migrate"}

    def setup(self):
        add_noinput(self.parser, "migrate")

    def handle(self, interactive=True):
        from ..migrations import (
            current_revisions,
            describe_revisions,
            get_config,
            pending_revisions,
            upgrade,
        )

        config = get_config(self.stdout)
        engine = _database("migrate")
        pending = pending_revisions(config, engine)
        if not pending:
            now = describe_revisions(current_revisions(engine))
            self.write(f"No migrations to apply; the database is at {now}.")
            return
        where = engine.url.render_as_string(hide_password=True)
        self.write(f"Revisions to apply to {where}:")
        for script in pending:
            self.write(f"  {script.revision}  {script.doc}")
        if interactive and not self.ask_yes_no(
            "Do you want to migrate the database"
        ):
            self.write("Nothing was changed.")
            return
        upgrade(config, status=_status(self))
        now = describe_revisions(current_revisions(engine))
        self.write(f"The database is at {now}.")


class Alembic(BaseCommand):
    """Run an alembic command on the pipeline's migrations.

    Any alembic command (history, current, heads, show, downgrade, stamp,
    merge, ...) runs with the pipeline loaded, on settings.CONNECTION and
    the migrations folder of settings.MIGRATIONS_SETTINGS. `init` is
    refused: `corral create` made the folder already.

    example: corral alembic history
    example: corral alembic downgrade -1
    """

    options = {"title": "alembic"}

    def setup(self):
        self.parser.add_argument(
            "-x", action="append", default=[], metavar="KEY=VALUE",
            help="an argument for env.py (alembic's -x), repeatable",
        )
        self.parser.add_argument(
            "args", nargs=argparse.REMAINDER,
            help="the alembic command and its arguments; 'corral alembic' "
            "alone lists them",
        )

    def handle(self, args=(), x=()):
        from alembic.config import CommandLine

        from ..migrations import (
            STATUS_KEY,
            alembic_errors,
            config_path,
            get_config,
            reporting_state,
            versions_dir,
        )

        args = list(args)
        line = CommandLine(prog="corral alembic")
        if not args or args[0] in ("-h", "--help"):
            line.parser.print_help(self.stdout)
            return
        if args[0] == "init":
            raise CorralError(
                "alembic init: the pipeline's migrations folder exists "
                f"already ({config_path().parent}, made by 'corral create'); "
                "settings.MIGRATIONS_SETTINGS names its alembic.ini"
            )
        try:
            options = line.parser.parse_args(
                [a for pair in x for a in ("-x", pair)] + args
            )
        except SystemExit as exc:
            self.exit_with(exc.code or 0)
            return
        if not hasattr(options, "cmd"):
            line.parser.print_help(self.stdout)
            return
        config = get_config(self.stdout, cmd_opts=options)
        config.attributes[STATUS_KEY] = _status(self)
        function, positional, keywords = options.cmd
        if function.__name__ in _DATABASE_COMMANDS or getattr(
            options, "autogenerate", False
        ):
            if not getattr(options, "sql", False):
                _database(f"alembic {function.__name__}")
        with reporting_state(), alembic_errors(versions_dir(config)):
            function(
                config,
                *[getattr(options, k, None) for k in positional],
                **{k: getattr(options, k, None) for k in keywords},
            )


COMMANDS = [MakeMigrations, Migrate, Alembic]
