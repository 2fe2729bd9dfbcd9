"""qa.TestCase: a unit test of one loader, step, alert or command.

The life of every test, as the manual describes it:

1. a new test database (settings.TEST_CONNECTION) with every model's table;
2. `setup()` runs with its own session (`self.session`), which is then
   committed and closed;
3. the subject runs with its own session, exactly as `corral run` would run
   it (a command gets the arguments in `self.cliargs`);
4. `validate()` runs with a new session;
5. `teardown()` runs with a new session, even when validate failed;
6. the database is destroyed and every mock started with `self.patch` is
   undone.

Nothing but the database passes between the phases, so a test checks what
the subject really stored, not Python objects it happened to keep.
"""

from __future__ import annotations

import contextlib
import dataclasses
import inspect
import io
import traceback as tb_module
import unittest
from unittest import mock

from .. import db
from ..errors import CorralError
from .database import TestDatabase, bound_to

# Leave this module's frames out of the tracebacks unittest prints, so a
# failing assertion points at the line of the user's validate().
__unittest = True

#: How many rows of a model a failing stream assertion shows.
ROWS_SHOWN = 10
_ROW_WIDTH = 160

KINDS = ("loader", "step", "alert", "command")


def subject_kind(subject) -> str | None:
    """'loader', 'step', 'alert' or 'command' for a subject class."""
    from ..cli.base import BaseCommand
    from ..run.base import Alert, Loader, Step

    if not inspect.isclass(subject):
        return None
    for cls, kind in ((Loader, "loader"), (Step, "step"), (Alert, "alert"),
                      (BaseCommand, "command")):
        if issubclass(subject, cls) and subject is not cls:
            return kind
    return None


def subject_name(subject) -> str:
    """How a subject is named in listings: its class name."""
    return getattr(subject, "__name__", repr(subject))


class Patcher:
    """`self.patch`: unittest.mock's patchers, undone after the test.

    `self.patch("pkg.module.NAME", value)`, `self.patch.object(obj, "attr",
    value)`, `self.patch.dict(mapping, {...})` and
    `self.patch.multiple(obj, a=1, b=2)` take the arguments of mock.patch,
    mock.patch.object, mock.patch.dict and mock.patch.multiple and return
    what the patch put in place (the mock, the value or the dict).
    """

    def __init__(self):
        self._active = []

    def _start(self, patcher):
        started = patcher.start()
        self._active.append(patcher)
        return started

    def __call__(self, target, *args, **kwargs):
        return self._start(mock.patch(target, *args, **kwargs))

    def object(self, target, attribute, *args, **kwargs):
        return self._start(mock.patch.object(target, attribute, *args,
                                             **kwargs))

    def dict(self, in_dict, values=(), clear=False, **kwargs):
        return self._start(mock.patch.dict(in_dict, values, clear, **kwargs))

    def multiple(self, target, *args, **kwargs):
        return self._start(mock.patch.multiple(target, *args, **kwargs))

    @property
    def active(self) -> int:
        return len(self._active)

    def stop_all(self) -> None:
        """Undo every patch, the last one first."""
        while self._active:
            self._active.pop().stop()


@dataclasses.dataclass(frozen=True)
class CommandStatus:
    """What a command subject did: its arguments, output and exit status."""

    arguments: tuple
    kwargs: dict
    out: str
    err: str
    exit_status: int


class TestCase(unittest.TestCase):
    """A test of one subject: a Loader, a Step, an Alert or a command.

    Set `subject`, store what the subject needs in `setup()` with
    `self.save(obj)`, and check what it left in `validate()` with the
    stream assertions (`assertStreamHas`, `assertStreamHasNot`,
    `assertStreamCount`) and the usual unittest ones.

    For a command, put its command-line arguments in `cliargs` (a class
    attribute, or `self.cliargs` in setup()); `self.command_status` then
    holds what it printed and its exit status.

    A subject that raises fails the test with its error. A test of how a
    subject fails sets `subject_may_fail = True` and looks at
    `self.subject_error` in validate().
    """

    #: The Loader, Step, Alert or command class under test.
    subject = None
    #: Command-line arguments given to a command subject.
    cliargs: tuple = ()
    #: What a command subject reads from its standard input.
    command_input: str = ""
    #: True to let the subject fail; validate() checks self.subject_error.
    subject_may_fail: bool = False

    def __init__(self, methodName: str = "runTest"):
        super().__init__(methodName)
        self.cliargs = list(type(self).cliargs)
        self.subject_result = None
        self.command_status: CommandStatus | None = None
        self.subject_error: str | None = None
        self._session = None
        self._patch = Patcher()
        self._database: TestDatabase | None = None
        self._binding = None

    # -- what users override -------------------------------------------

    def setup(self) -> None:
        """Store what the subject needs (self.save); optional."""

    def validate(self) -> None:
        """Check what the subject left in the stream."""
        raise NotImplementedError(
            f"{type(self).__qualname__} must define validate() to check what "
            "its subject did"
        )

    def teardown(self) -> None:
        """Clean up what the test made outside the database; optional."""

    # -- identity --------------------------------------------------------

    @classmethod
    def get_subject(cls):
        return cls.subject

    @classmethod
    def get_kind(cls) -> str | None:
        return subject_kind(cls.subject)

    def __str__(self) -> str:
        cls = type(self)
        kind = cls.get_kind() or "subject"
        return (f"{cls.__module__}.{cls.__qualname__} "
                f"[{kind} {subject_name(cls.subject)}]")

    def __repr__(self) -> str:
        return f"<{type(self).__qualname__} of {subject_name(self.subject)}>"

    def shortDescription(self) -> str | None:
        doc = inspect.getdoc(type(self))
        if doc and doc != inspect.getdoc(TestCase):
            return doc.strip().splitlines()[0]
        return None

    # -- the life cycle ----------------------------------------------------

    def setUp(self):
        # Cleanups run even when setUp fails half-way, so the database and
        # the patches never outlive the test.
        self.addCleanup(self._release)
        if self.get_kind() is None:
            raise CorralError(
                f"{type(self).__qualname__}.subject is {self.subject!r}; set "
                "it to the Loader, Step, Alert or command class under test"
            )
        self._database = TestDatabase.from_settings()
        engine = self._database.create()
        self._binding = bound_to(engine)
        self._binding.__enter__()

    def runTest(self):
        with self._phase():
            self.setup()
        self._run_subject()
        with self._phase():
            self.validate()

    def tearDown(self):
        with self._phase():
            self.teardown()

    def _release(self):
        try:
            if self._binding is not None:
                self._binding.__exit__(None, None, None)
                self._binding = None
        finally:
            try:
                if self._database is not None:
                    self._database.destroy()
            finally:
                self._patch.stop_all()

    @contextlib.contextmanager
    def _phase(self):
        """A session for one phase: committed at the end, then closed."""
        with db.session_scope() as session:
            self._session = session
            try:
                yield session
            finally:
                self._session = None

    # -- running the subject ---------------------------------------------

    def _run_subject(self):
        if self.get_kind() == "command":
            self._run_command()
        else:
            self._run_processor()
        if self.subject_error and not self.subject_may_fail:
            raise self.failureException(
                f"the subject {subject_name(self.subject)} failed: "
                f"{self.subject_error}"
            )

    def _run_processor(self):
        from ..run.runner import run_processor

        result = run_processor(self.subject)
        self.subject_result = result
        traces = self._row_tracebacks() if getattr(result, "failed", 0) else []
        self.subject_error = describe_failure(result, traces)

    def _row_tracebacks(self) -> list[str]:
        """The tracebacks the runner stored for the subject's failed rows."""
        from ..db import tables

        failure = getattr(tables, "Failure", None)
        if failure is None:
            return []
        session = db.Session()
        try:
            rows = session.query(failure.traceback).filter(
                failure.processor == self.subject.retrieve_python_path()
            ).order_by(failure.id).limit(ROWS_SHOWN)
            return [trace for (trace,) in rows if trace]
        except Exception:  # the message is still useful without them
            return []
        finally:
            session.close()

    def _run_command(self):
        from ..cli.main import CommandParser, _ParserExit

        title = self.subject.get_title()
        parser = CommandParser(prog=f"corral {title}")
        out, err = io.StringIO(), io.StringIO()
        command = self.subject(parser, stdout=out, stderr=err,
                               stdin=io.StringIO(self.command_input))
        arguments = tuple(str(a) for a in self.cliargs)
        kwargs: dict = {}
        status = 0
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                command.setup()
                kwargs = vars(parser.parse_args(list(arguments)))
            except _ParserExit as exit_:
                if exit_.status:
                    raise self.failureException(
                        f"the command {title} refused cliargs "
                        f"{list(arguments)}: {err.getvalue().strip()}"
                    ) from None
                command = None  # --help: nothing more to run
            if command is not None:
                try:
                    command.handle(**kwargs)
                    status = command.exit_status
                except CorralError as exc:
                    err.write(f"corral: error: {exc}\n")
                    status = exc.returncode
                    self.subject_error = str(exc)
                except Exception as exc:
                    err.write(f"corral: error: {type(exc).__name__}: {exc}\n")
                    status = 1
                    self.subject_error = (
                        f"{type(exc).__name__}: {exc}\n"
                        + tb_module.format_exc()
                    )
        self.command_status = CommandStatus(
            arguments=arguments, kwargs=kwargs, out=out.getvalue(),
            err=err.getvalue(), exit_status=status,
        )

    # -- helpers for setup(), validate() and teardown() --------------------

    @property
    def session(self):
        """The session of the phase running now (None between phases)."""
        return self._session

    @property
    def patch(self) -> Patcher:
        return self._patch

    def save(self, obj) -> None:
        """Add a model object to the stream (the current session)."""
        if not isinstance(obj, db.Model):
            raise TypeError(
                f"save() takes a model object, got {type(obj).__name__}"
            )
        self._require_session("save()").add(obj)

    def delete(self, obj) -> None:
        """Delete a stored model object from the stream."""
        if not isinstance(obj, db.Model):
            raise TypeError(
                f"delete() takes a model object, got {type(obj).__name__}"
            )
        self._require_session("delete()").delete(obj)

    def _require_session(self, what: str):
        if self._session is None:
            raise RuntimeError(
                f"{what} works only inside setup(), validate() or teardown()"
            )
        return self._session

    # -- stream assertions ----------------------------------------------------

    def _query(self, model, conditions, what):
        session = self._require_session(what)
        query = session.query(model)
        if conditions:
            query = query.filter(*conditions)
        return query

    def assertStreamHas(self, model, *conditions, msg=None):
        """At least one row of `model` matches every condition."""
        query = self._query(model, conditions, "assertStreamHas()")
        if query.count() == 0:
            text = (f"no {model.__name__} row"
                    f"{self._matching(conditions) or ' in the stream'}.\n"
                    + self._stream_state(model, None))
            self.fail(self._formatMessage(msg, text))

    def assertStreamHasNot(self, model, *conditions, msg=None):
        """No row of `model` matches every condition."""
        query = self._query(model, conditions, "assertStreamHasNot()")
        found = query.count()
        if found:
            text = (f"expected no {model.__name__} row"
                    f"{self._matching(conditions)}, found {found}.\n"
                    + self._stream_state(model, conditions))
            self.fail(self._formatMessage(msg, text))

    def assertStreamCount(self, expected, model, *conditions, msg=None):
        """Exactly `expected` rows of `model` match every condition."""
        query = self._query(model, conditions, "assertStreamCount()")
        found = query.count()
        if found != expected:
            text = (f"{found} != {expected}: expected {expected} "
                    f"{model.__name__} row(s){self._matching(conditions)}, "
                    f"found {found}.\n"
                    + self._stream_state(model, conditions))
            self.fail(self._formatMessage(msg, text))

    def _matching(self, conditions) -> str:
        """' matching <the conditions as SQL>', or '' without conditions."""
        if not conditions:
            return ""
        return " matching " + self._describe(conditions)

    def _describe(self, conditions) -> str:
        dialect = self._session.get_bind().dialect
        parts = []
        for condition in conditions:
            try:
                text = str(condition.compile(
                    dialect=dialect, compile_kwargs={"literal_binds": True}
                ))
            except Exception:
                text = str(condition)
            parts.append(text)
        return " AND ".join(parts)

    def _stream_state(self, model, conditions) -> str:
        """The rows of `model` (matching `conditions`, if given), shown."""
        query = self._query(model, conditions, "a stream assertion")
        total = query.count()
        where = " matching" if conditions else ""
        lines = [f"The stream holds {total} {model.__name__} row(s){where}"
                 + (":" if total else ".")]
        for obj in query.limit(ROWS_SHOWN):
            try:
                text = repr(obj)
            except Exception as exc:  # a broken __repr__ must not hide it
                text = f"<{model.__name__}: repr failed: {exc}>"
            if len(text) > _ROW_WIDTH:
                text = text[:_ROW_WIDTH - 3] + "..."
            lines.append(f"  {text}")
        if total > ROWS_SHOWN:
            lines.append(f"  ... and {total - ROWS_SHOWN} more")
        if conditions:
            everything = self._query(model, (), "a stream assertion").count()
            lines.append(f"({everything} {model.__name__} row(s) in all)")
        return "\n".join(lines)


def describe_failure(result, row_tracebacks=()) -> str | None:
    """Why a processor run failed, as text, or None if it did not.

    `row_tracebacks` are the tracebacks the runner recorded for the rows
    that failed; the first one is shown, since it points at the line of
    the user's code that raised.
    """
    if result is None:
        return None
    error = getattr(result, "error", None)
    failed = getattr(result, "failed", 0) or 0
    if not error and not failed:
        return None
    lines = []
    if error:
        lines.append(str(error))
    if failed:
        failures = list(getattr(result, "failures", None) or [])
        lines.append(f"{failed} row(s) failed" + (":" if failures else ""))
        lines += [f"  {item}" for item in failures[:ROWS_SHOWN]]
    trace = getattr(result, "traceback", None)
    if not trace and row_tracebacks:
        trace = row_tracebacks[0]
    if trace:
        lines.append(trace.rstrip())
    return "\n".join(lines)
