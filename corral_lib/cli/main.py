"""Finding the command to run, preparing what it needs, and running it.

Every failure the user can fix ends here as one line on stderr,
`corral: error: ...`, and a non-zero exit status; `--traceback` shows the
whole trace instead.
"""

from __future__ import annotations

import argparse
import difflib
import importlib
import logging
import os
import sys
import traceback

from .. import __version__
from ..conf import (
    Project,
    activate,
    import_pipeline_module,
    import_string,
    locate_project,
    settings,
)
from ..errors import CorralError, ImproperlyConfigured, one_line
from .base import MODE_OUT, MODE_TEST, BaseCommand

PROG = "corral"


class _ParserExit(Exception):
    """argparse wanted to end the program (help, usage error)."""

    def __init__(self, status):
        self.status = status


class CommandParser(argparse.ArgumentParser):
    """An ArgumentParser that reports instead of ending the process."""

    def exit(self, status=0, message=None):
        if message:
            self._print_message(message, sys.stderr)
        raise _ParserExit(status)

    def error(self, message):
        self.print_usage(sys.stderr)
        self.exit(2, f"{self.prog}: error: {message}\n")


def _global_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--project", metavar="DIR",
        help="the pipeline's folder (holding in_corral.py); by default the "
        "CORRAL_PROJECT variable, CORRAL_SETTINGS_MODULE, or the nearest "
        "in_corral.py at or above the working directory",
    )
    parser.add_argument(
        "--path", metavar="DIR", action="append", default=[],
        help="put DIR on the import path before the pipeline is loaded "
        "(repeatable; also the CORRAL_PATH variable and the project's "
        "vendor/ folder)",
    )
    parser.add_argument(
        "--traceback", action="store_true",
        help="show the full Python traceback when a command fails",
    )


def version_text() -> str:
    """The version line, with the libraries that matter for bug reports."""
    import platform
    from importlib import metadata

    parts = [f"Python {platform.python_version()}"]
    dists = ["SQLAlchemy", "duckdb", "duckdb-engine", "alembic"]
    if getattr(sys, "frozen", False):
        # The single executable carries its own libraries (build.spec
        # bundles their metadata): name every one, so that a bug report
        # says exactly what ran.
        dists += ["SQLAlchemy-Utils", "PyMySQL", "prompt-toolkit", "Pygments",
                  "tabulate", "coverage", "flake8", "filelock"]
    for dist in dists:
        try:
            parts.append(f"{dist} {metadata.version(dist)}")
        except metadata.PackageNotFoundError:
            pass
    frozen = " (single executable)" if getattr(sys, "frozen", False) else ""
    return f"{PROG} {__version__}{frozen}; " + ", ".join(parts)


def builtin_commands() -> list[type[BaseCommand]]:
    from . import BUILTIN_MODULES

    commands = []
    for name in BUILTIN_MODULES:
        commands.extend(importlib.import_module(name).COMMANDS)
    return commands


def pipeline_commands(project: Project) -> list[type[BaseCommand]]:
    """The BaseCommand subclasses defined in the pipeline's commands.py."""
    name = f"{project.package}.commands"
    module = import_pipeline_module(name)
    if module is None:
        return []
    found = []
    for obj in vars(module).values():
        if (
            isinstance(obj, type)
            and issubclass(obj, BaseCommand)
            and obj.__module__ == module.__name__
        ):
            found.append(obj)
    return found


def build_parser(commands) -> tuple[CommandParser, dict]:
    parser = CommandParser(
        prog=PROG,
        description="Corral runs data pipelines: models, a loader, steps "
        "and alerts over one database.",
        epilog="Run 'corral COMMAND --help' for a command's options.",
    )
    parser.add_argument(
        "--version", action="store_true", help="show the version and exit"
    )
    _global_options(parser)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    by_title = {}
    for command_cls in commands:
        title = command_cls.get_title()
        if title in by_title:
            raise ImproperlyConfigured(
                f"two commands are titled '{title}': "
                f"{by_title[title][0].__name__} and {command_cls.__name__}"
            )
        command_parser = sub.add_parser(
            title,
            help=command_cls.get_help(),
            description=command_cls.get_description(),
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        by_title[title] = (command_cls, command_parser)
    return parser, by_title


def _first_positional(argv) -> str | None:
    skip_next = False
    for token in argv:
        if skip_next:
            skip_next = False
            continue
        if token in ("--project", "--path"):
            skip_next = True
            continue
        if token.startswith("-"):
            continue
        return token
    return None


def configure_logging(stderr, level=None) -> None:
    """Send the framework's and the pipeline's log records to stderr."""
    if level is None:
        level = settings.get("LOG_LEVEL", "INFO") if settings.configured else (
            "INFO"
        )
    pipeline = "corral"
    fmt = "[{PIPELINE}-%(levelname)s @ %(asctime)-15s] %(message)s"
    if settings.configured:
        try:
            pipeline = settings.PIPELINE_NAME
            fmt = settings.get("LOG_FORMAT") or fmt
        except CorralError:
            pass  # the command reports a broken pipeline if it needs one
    fmt = fmt.replace("{PIPELINE}", pipeline)
    handler = logging.StreamHandler(stderr)
    handler.setFormatter(logging.Formatter(fmt))
    handler._corral = True
    for name in ("corral", pipeline):
        logger = logging.getLogger(name)
        for old in [h for h in logger.handlers if getattr(h, "_corral", 0)]:
            logger.removeHandler(old)
        logger.addHandler(handler)
        logger.setLevel(level)
        logger.propagate = False


def _pipeline_setup():
    dotted = settings.get("PIPELINE_SETUP")
    if not dotted:
        from ..setup import PipelineSetup

        return PipelineSetup()
    cls = import_string(dotted, "settings.PIPELINE_SETUP")
    from ..setup import PipelineSetup

    if not (isinstance(cls, type) and issubclass(cls, PipelineSetup)):
        raise ImproperlyConfigured(
            f"settings.PIPELINE_SETUP '{dotted}' is not a subclass of "
            "corral.setup.PipelineSetup"
        )
    return cls()


def execute(command: BaseCommand, args: argparse.Namespace) -> int:
    """Run one parsed command with what its mode needs around it."""
    kwargs = {
        k: v for k, v in vars(args).items()
        if k not in ("command", "project", "path", "traceback", "version")
    }
    command.show_traceback = bool(args.traceback)
    mode = command.get_mode()
    if mode == MODE_OUT:
        command.handle(**kwargs)
        return command.exit_status
    settings._load()
    if mode == MODE_TEST:
        command.handle(**kwargs)
        return command.exit_status
    pipeline_setup = _pipeline_setup()
    pipeline_setup.setup()
    try:
        command.handle(**kwargs)
    finally:
        try:
            pipeline_setup.teardown()
        finally:
            # Only a command that used the database loaded the db module.
            db = sys.modules.get("corral_lib.db")
            if db is not None:
                db.teardown()
    return command.exit_status


def main(argv=None, stdout=None, stderr=None, stdin=None) -> int:
    """Run the program on `argv` and return its exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    stdout = stdout or sys.stdout
    stderr = stderr or sys.stderr
    pre = argparse.ArgumentParser(add_help=False)
    _global_options(pre)
    known, _ = pre.parse_known_args(argv)
    show_traceback = known.traceback or bool(os.environ.get("CORRAL_TRACEBACK"))
    try:
        return _main(argv, known, stdout, stderr, stdin)
    except CorralError as exc:
        if show_traceback:
            traceback.print_exc(file=stderr)
        stderr.write(f"{PROG}: error: {exc}\n")
        return exc.returncode
    except KeyboardInterrupt:
        stderr.write(f"{PROG}: interrupted\n")
        return 130
    except Exception as exc:
        if show_traceback:
            traceback.print_exc(file=stderr)
        where = _user_frame(exc)
        stderr.write(
            f"{PROG}: error: {one_line(exc)}{where} "
            "(run again with --traceback for the full trace)\n"
        )
        return 1


def _user_frame(exc) -> str:
    """' at file:line' for the deepest frame outside the framework."""
    frames = traceback.extract_tb(exc.__traceback__)
    framework = os.path.dirname(os.path.dirname(__file__))
    for frame in reversed(frames):
        if not frame.filename.startswith(framework) and (
            "site-packages" not in frame.filename
        ):
            return f" at {frame.filename}:{frame.lineno}"
    return ""


def _main(argv, known, stdout, stderr, stdin) -> int:
    old_streams = sys.stdout, sys.stderr
    project = locate_project(known.project)
    if project is not None:
        activate(project, known.path)
    commands = builtin_commands()
    wanted = _first_positional(argv)
    builtin_titles = {c.get_title() for c in commands}
    # The pipeline's commands.py imports its models, and so SQLAlchemy:
    # read it only when the command asked for may be one of its own.
    if project is not None and wanted not in builtin_titles:
        for command_cls in pipeline_commands(project):
            if command_cls.get_title() in builtin_titles:
                raise ImproperlyConfigured(
                    f"command {command_cls.__module__}.{command_cls.__name__}"
                    f" is titled '{command_cls.get_title()}', the name of a "
                    "built-in command; give it another options['title']"
                )
            commands.append(command_cls)
    parser, by_title = build_parser(commands)

    if wanted is not None and wanted not in by_title:
        close = difflib.get_close_matches(wanted, list(by_title), n=1)
        hint = f"; did you mean '{close[0]}'?" if close else ""
        extra = "" if project else " (no pipeline was found here)"
        raise CorralError(
            f"unknown command '{wanted}'{hint}{extra} See 'corral --help'.",
            returncode=2,
        )
    command_instances = {}
    for title, (command_cls, command_parser) in by_title.items():
        _global_options(command_parser)
        command = command_cls(command_parser, stdout, stderr, stdin)
        command.setup()
        command_instances[title] = command
    try:
        sys.stdout, sys.stderr = stdout, stderr
        try:
            args = parser.parse_args(argv)
        except _ParserExit as exit_:
            return exit_.status
        if args.version:
            stdout.write(version_text() + "\n")
            return 0
        if not args.command:
            parser.print_help(stdout)
            return 0
        configure_logging(stderr, "WARNING" if getattr(args, "quiet", False)
                          else None)
        return execute(command_instances[args.command], args)
    finally:
        sys.stdout, sys.stderr = old_streams


def run_from_command_line(argv=None) -> None:
    """What in_corral.py and the `corral` executable call."""
    sys.exit(main(argv))


def call_command(name: str, *args, stdout=None, stderr=None, stdin=None) -> int:
    """Run command `name` with string arguments; return its exit status."""
    return main([name, *map(str, args)], stdout=stdout, stderr=stderr,
                stdin=stdin)
