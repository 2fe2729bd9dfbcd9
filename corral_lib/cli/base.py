"""The contract every command follows, built-in or a pipeline's own.

A command is a class deriving from `BaseCommand`:

1. `options` declares what it is: its `title` (the name typed on the
   command line; the class name in lower case when left out), its `help`
   (the docstring's first line when left out) and its `mode`: "out" needs
   no pipeline (help, scaffolding), "in" works inside the pipeline (its
   settings loaded, `PIPELINE_SETUP` run around it, the database opened on
   first use), "test" works inside the pipeline against a throw-away
   database.
2. `setup()` adds the command's arguments to `self.parser` (an argparse
   parser).
3. `handle(**args)` does the work, printing through `self.stdout`. It fails
   by raising `CorralError` (one line for the user), or sets the exit status
   with `self.exit_with(status)`.
"""

from __future__ import annotations

import argparse
import inspect
import sys
from typing import ClassVar

from ..errors import CorralError

MODE_OUT = "out"
MODE_IN = "in"
MODE_TEST = "test"
MODES = (MODE_OUT, MODE_IN, MODE_TEST)


class BaseCommand:
    """Base of every `corral` command."""

    options: ClassVar[dict] = {}
    #: Set by the program from --traceback: show full traces of failures.
    show_traceback: bool = False

    def __init__(self, parser: argparse.ArgumentParser | None = None,
                 stdout=None, stderr=None, stdin=None):
        self.parser = parser
        self.stdout = stdout or sys.stdout
        self.stderr = stderr or sys.stderr
        self.stdin = stdin or sys.stdin
        self.exit_status = 0

    # -- declarations -------------------------------------------------

    @classmethod
    def get_title(cls) -> str:
        return cls.options.get("title") or cls.__name__.lower()

    @classmethod
    def get_mode(cls) -> str:
        mode = cls.options.get("mode", MODE_IN)
        if mode not in MODES:
            raise CorralError(
                f"command {cls.__module__}.{cls.__name__}: options['mode'] "
                f"is {mode!r}; use one of {', '.join(MODES)}"
            )
        return mode

    @classmethod
    def get_help(cls) -> str:
        if cls.options.get("help"):
            return cls.options["help"]
        doc = inspect.getdoc(cls)
        if doc and cls is not BaseCommand and doc != inspect.getdoc(
            BaseCommand
        ):
            return doc.strip().splitlines()[0]
        return ""

    @classmethod
    def get_description(cls) -> str:
        doc = inspect.getdoc(cls)
        if doc and doc != inspect.getdoc(BaseCommand):
            return doc
        return cls.get_help()

    # -- behaviour ----------------------------------------------------

    def setup(self) -> None:
        """Add this command's arguments to self.parser."""

    def handle(self, **kwargs) -> None:
        raise NotImplementedError(
            f"command {self.get_title()} must define handle()"
        )

    def exit_with(self, status: int) -> None:
        """Set the exit status the program ends with."""
        self.exit_status = int(status)

    def write(self, text: str = "") -> None:
        self.stdout.write(text + "\n")

    def ask_yes_no(self, question: str, default: bool = True) -> bool:
        """Ask a [Yes/no] question on the terminal; True for yes.

        An empty answer takes the default. With no answer to read (stdin
        closed), nothing is assumed: the command stops and says to use
        --noinput.
        """
        choices = "[Yes/no]" if default else "[yes/No]"
        while True:
            self.stdout.write(f"{question} {choices}? ")
            self.stdout.flush()
            line = self.stdin.readline()
            if not line:
                self.stdout.write("\n")
                raise CorralError(
                    "no answer could be read; run again with --noinput to "
                    "proceed without asking"
                )
            answer = line.strip().lower()
            if not answer:
                return default
            if answer in ("y", "yes"):
                return True
            if answer in ("n", "no"):
                return False
            self.stdout.write("Please answer yes or no.\n")


def add_noinput(parser, what: str) -> None:
    """--noinput (alias --no-input): do `what` without asking first."""
    parser.add_argument(
        "--noinput", "--no-input", dest="interactive", action="store_false",
        help=f"{what} without asking for confirmation",
    )
