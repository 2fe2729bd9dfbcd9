"""Finding the pipeline's tests, choosing which to run, and running them.

The tests are the qa.TestCase classes of the pipeline's `tests` module.
Each one tests a subject: the loader (settings.LOADER), a step
(settings.STEPS), an alert (settings.ALERTS) or a command of the
pipeline's commands.py. The selection flags of `corral test` choose
subjects kind by kind; the tests of the chosen subjects run in the order
of the settings (loader, steps, alerts, commands), each subject's tests in
the order they are written.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import sys
import unittest

from ..errors import CorralError, ImproperlyConfigured
from .testcase import TestCase, subject_kind, subject_name


@dataclasses.dataclass
class Selection:
    """Which subjects to test; every field left at its default means all.

    For each kind, `exclude_*` drops them all, and a list of names or
    groups keeps only those. Kinds are chosen independently: `-s Foo`
    keeps every loader, alert and command test too.
    """

    exclude_loader: bool = False
    exclude_steps: bool = False
    steps: list | None = None
    step_groups: list | None = None
    exclude_alerts: bool = False
    alerts: list | None = None
    alert_groups: list | None = None
    exclude_commands: bool = False
    commands: list | None = None


@dataclasses.dataclass
class Plan:
    """The subjects of the pipeline and the tests chosen to run."""

    #: Every subject of the pipeline: loader, steps, alerts, commands.
    subjects: list
    #: The TestCase classes chosen, in running order.
    tests: list
    #: Subjects chosen by the selection (a subset of `subjects`).
    chosen: list


@dataclasses.dataclass
class TestRecord:
    """The outcome of one test, as the reports show it."""

    __test__ = False  # not a pytest test class, despite the name

    test: str
    subject: str
    subject_path: str
    kind: str
    outcome: str = "ok"
    description: str = ""
    details: str = ""


def subject_path(subject) -> str:
    return f"{subject.__module__}.{subject.__qualname__}"


def pipeline_subjects() -> list:
    """The loader, steps, alerts and commands of the pipeline, in order."""
    from ..cli.main import pipeline_commands
    from ..conf import settings
    from ..run.registry import load_alerts, load_loader, load_steps

    subjects = []
    loader = load_loader()
    if loader is not None:
        subjects.append(loader)
    subjects += load_steps()
    subjects += load_alerts()
    subjects += pipeline_commands(settings.project)
    return subjects


def tests_module_name() -> str:
    from ..conf import settings

    return f"{settings.project.package}.tests"


def load_tests_module():
    """Import the pipeline's tests module, failing with one clear line."""
    from ..conf import import_pipeline_module

    name = tests_module_name()
    module = import_pipeline_module(name)
    if module is None:
        raise ImproperlyConfigured(
            f"the pipeline has no tests module '{name}'; write your "
            "qa.TestCase classes in tests.py inside the pipeline package"
        )
    return module


def collect_testcases(module) -> list:
    """The TestCase classes of a module, in the order they appear.

    A class without a subject is a base the tests share when another test
    derives from it or its name starts with an underscore; it is skipped.
    Any other class must name a loader, step, alert or command as its
    subject.
    """
    classes = []
    for obj in list(vars(module).values()):
        if (isinstance(obj, type) and issubclass(obj, TestCase)
                and obj is not TestCase and obj not in classes):
            classes.append(obj)
    found = []
    for cls in classes:
        if cls.subject is None and (cls.__name__.startswith("_") or any(
                other is not cls and issubclass(other, cls)
                for other in classes)):
            continue
        if subject_kind(cls.subject) is None:
            raise ImproperlyConfigured(
                f"{cls.__module__}.{cls.__qualname__}.subject is "
                f"{cls.subject!r}; set it to the Loader, Step, Alert or "
                "command class the test is about"
            )
        found.append(cls)
    return found


def _choose(subjects, selection: Selection) -> tuple[list, set]:
    """The subjects a selection keeps, and the kinds kept whole."""
    from ..run.registry import select

    by_kind = {kind: [s for s in subjects if subject_kind(s) == kind]
               for kind in ("loader", "step", "alert", "command")}
    whole = set()
    chosen = []
    if not selection.exclude_loader:
        chosen += by_kind["loader"]
        whole.add("loader")
    if not selection.exclude_steps:
        picked = select(by_kind["step"], selection.steps,
                        selection.step_groups, "step")
        chosen += picked
        if not selection.steps and not selection.step_groups:
            whole.add("step")
    if not selection.exclude_alerts:
        picked = select(by_kind["alert"], selection.alerts,
                        selection.alert_groups, "alert")
        chosen += picked
        if not selection.alerts and not selection.alert_groups:
            whole.add("alert")
    if not selection.exclude_commands:
        commands = by_kind["command"]
        if selection.commands:
            chosen += _select_commands(commands, selection.commands)
        else:
            chosen += commands
            whole.add("command")
    return chosen, whole


def _select_commands(commands, names) -> list:
    by_name = {}
    for command in commands:
        by_name[command.__name__] = command
        by_name[command.get_title()] = command
    unknown = [n for n in names if n not in by_name]
    if unknown:
        valid = ", ".join(
            f"{c.get_title()} ({c.__name__})" for c in commands
        ) or "(none)"
        raise CorralError(
            f"no command named {', '.join(map(repr, unknown))}; the "
            f"pipeline's commands are: {valid}",
            returncode=2,
        )
    wanted = {by_name[n] for n in names}
    return [c for c in commands if c in wanted]


def make_plan(selection: Selection | None = None) -> Plan:
    """Collect the tests and keep those of the selected subjects.

    A test of a subject the settings do not list (a step missing from
    STEPS, say) runs when its whole kind is selected.
    """
    selection = selection or Selection()
    subjects = pipeline_subjects()
    testcases = collect_testcases(load_tests_module())
    chosen, whole = _choose(subjects, selection)
    ordered = []
    for subject in chosen:
        ordered += [t for t in testcases if t.subject is subject]
    known = set(subjects)
    for test in testcases:
        if test.subject not in known and test.get_kind() in whole:
            ordered.append(test)
    return Plan(subjects=subjects, tests=ordered, chosen=chosen)


class RecordingResult(unittest.TextTestResult):
    """unittest's text result that also keeps a TestRecord per test."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.records: list[TestRecord] = []
        self._by_test: dict[int, TestRecord] = {}

    def _record(self, test, outcome, details=""):
        record = self._by_test.get(id(test))
        if record is None:
            subject = getattr(test, "subject", None)
            record = TestRecord(
                test=(f"{type(test).__module__}.{type(test).__qualname__}"
                      if isinstance(test, TestCase) else str(test)),
                subject=subject_name(subject) if subject else "",
                subject_path=subject_path(subject) if subject else "",
                kind=subject_kind(subject) or "" if subject else "",
                description=(test.shortDescription() or "")
                if isinstance(test, TestCase) else "",
            )
            self._by_test[id(test)] = record
            self.records.append(record)
        # A test can fail in runTest and error again in tearDown; keep
        # the worst outcome and every message.
        rank = {"ok": 0, "skipped": 0, "expected failure": 0,
                "unexpected success": 1, "FAIL": 2, "ERROR": 3}
        if rank.get(outcome, 0) >= rank.get(record.outcome, 0):
            record.outcome = outcome
        if details:
            record.details = (record.details + "\n" + details).strip()

    def addSuccess(self, test):
        super().addSuccess(test)
        self._record(test, "ok")

    def addFailure(self, test, err):
        super().addFailure(test, err)
        self._record(test, "FAIL", self.failures[-1][1])

    def addError(self, test, err):
        super().addError(test, err)
        self._record(test, "ERROR", self.errors[-1][1])

    def addSkip(self, test, reason):
        super().addSkip(test, reason)
        self._record(test, "skipped", reason)

    def addExpectedFailure(self, test, err):
        super().addExpectedFailure(test, err)
        self._record(test, "expected failure")

    def addUnexpectedSuccess(self, test):
        super().addUnexpectedSuccess(test)
        self._record(test, "unexpected success")


@contextlib.contextmanager
def quiet_logging(enabled: bool = True):
    """Raise the framework's, the pipeline's and SQLAlchemy's loggers to
    ERROR for the block, so progress lines, and the warnings about a
    subject's failed rows that the test reports itself, do not bury the
    test output."""
    if not enabled:
        yield
        return
    from ..conf import settings

    names = ["corral", "sqlalchemy"]
    try:
        names.append(settings.PIPELINE_NAME)
    except CorralError:
        pass
    loggers = [logging.getLogger(n) for n in names]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        if lg.getEffectiveLevel() < logging.ERROR:
            lg.setLevel(logging.ERROR)
    try:
        yield
    finally:
        for lg, level in zip(loggers, levels):
            lg.setLevel(level)


def run_plan(plan: Plan, stream=None, verbosity: int = 1,
             failfast: bool = False,
             default_logging: bool = False) -> RecordingResult:
    """Run the plan's tests with unittest's text runner."""
    from .database import TestDatabase

    # A bad TEST_CONNECTION is one error before any test, not one per test.
    TestDatabase.from_settings()
    suite = unittest.TestSuite(test() for test in plan.tests)
    runner = unittest.TextTestRunner(
        stream=stream or sys.stderr, verbosity=verbosity, failfast=failfast,
        resultclass=RecordingResult,
    )
    with quiet_logging(not default_logging):
        return runner.run(suite)


def tested_subjects(plan: Plan, records) -> list:
    """The pipeline's subjects that at least one test ran on."""
    ran = {r.subject_path for r in records if r.outcome != "skipped"}
    return [s for s in plan.subjects if subject_path(s) in ran]
