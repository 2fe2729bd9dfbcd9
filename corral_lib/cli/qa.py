"""Quality assurance commands: test, qareport, profile, create-doc and
create-models-diagram."""

from __future__ import annotations

import shutil
from pathlib import Path

from ..errors import CorralError
from .base import MODE_OUT, MODE_TEST, BaseCommand


def _add_selection(parser) -> None:
    """The flags that choose which subjects' tests run."""
    parser.add_argument(
        "-el", "--exclude-loader", action="store_true",
        help="leave out the loader's tests",
    )
    steps = parser.add_mutually_exclusive_group()
    steps.add_argument(
        "-es", "--exclude-steps", action="store_true",
        help="leave out the steps' tests",
    )
    steps.add_argument(
        "-s", "--steps", nargs="+", metavar="NAME",
        help="only the tests of these steps (class names)",
    )
    steps.add_argument(
        "-sg", "--step-groups", nargs="+", metavar="GROUP",
        help="only the tests of the steps in these groups",
    )
    alerts = parser.add_mutually_exclusive_group()
    alerts.add_argument(
        "-ea", "--exclude-alerts", action="store_true",
        help="leave out the alerts' tests",
    )
    alerts.add_argument(
        "-a", "--alerts", nargs="+", metavar="NAME",
        help="only the tests of these alerts (class names)",
    )
    alerts.add_argument(
        "-ag", "--alert-groups", nargs="+", metavar="GROUP",
        help="only the tests of the alerts in these groups",
    )
    commands = parser.add_mutually_exclusive_group()
    commands.add_argument(
        "-ec", "--exclude-commands", action="store_true",
        help="leave out the tests of the pipeline's commands",
    )
    commands.add_argument(
        "-c", "--commands", nargs="+", metavar="NAME",
        help="only the tests of these commands (names or class names)",
    )


def _add_run_options(parser) -> None:
    parser.add_argument(
        "-f", "--failfast", action="store_true",
        help="stop at the first failing test",
    )
    verbosity = parser.add_mutually_exclusive_group()
    verbosity.add_argument(
        "-v", "--verbose", dest="verbosity", action="store_const", const=1,
        default=0, help="a dot per test",
    )
    verbosity.add_argument(
        "-vv", "--vverbose", dest="verbosity", action="store_const",
        const=2, help="a line per test, with its description",
    )
    parser.add_argument(
        "-dl", "--default-logging", action="store_true",
        help="keep the pipeline's log levels (by default only errors are "
        "logged while the tests run)",
    )


def _selection(options: dict):
    """The Selection the parsed flags describe (their dests match its
    fields)."""
    import dataclasses

    from ..qa.runner import Selection

    fields = {f.name for f in dataclasses.fields(Selection)}
    return Selection(**{k: v for k, v in options.items() if k in fields})


def _add_output(parser, what: str) -> None:
    parser.add_argument(
        "-o", "--output", metavar="FILE",
        help=f"write the {what} to FILE instead of the terminal",
    )


def _pandoc_hint(command, path: Path) -> None:
    """Say how to turn a Markdown file into HTML or PDF, if pandoc is here."""
    if shutil.which("pandoc") is None:
        return
    stem = path.with_suffix("")
    command.write("")
    command.write("To convert it to other formats with pandoc:")
    command.write(f"  pandoc {path} -o {stem}.html   # HTML")
    command.write(f"  pandoc {path} -o {stem}.pdf    # PDF (needs LaTeX)")


def _write_text(path: Path, text: str) -> None:
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise CorralError(f"cannot write {path}: {exc.strerror}") from exc


class Test(BaseCommand):
    """Run the pipeline's tests (the qa.TestCase classes of tests.py).

    Each test gets its own empty database (settings.TEST_CONNECTION). The
    flags of each kind (loader, steps, alerts, commands) choose among that
    kind only: 'corral test -s MyStep -el -ea -ec' runs MyStep's tests
    alone. The exit status is 0 only when every test run passed.

    example: corral test -vv -s StatisticsCreator
    """

    options = {"title": "test", "mode": MODE_TEST}

    def setup(self):
        _add_run_options(self.parser)
        _add_selection(self.parser)

    def handle(self, failfast=False, verbosity=0, default_logging=False,
               **selection):
        from ..qa.runner import make_plan, run_plan

        plan = make_plan(_selection(selection))
        result = run_plan(plan, stream=self.stderr, verbosity=verbosity,
                          failfast=failfast, default_logging=default_logging)
        if not result.wasSuccessful():
            self.exit_with(1)


class Profile(BaseCommand):
    """Run the pipeline's tests under cProfile and list the costliest
    functions.

    Takes the selection flags of 'corral test'. '-o FILE' keeps the
    profile for pstats or snakeviz.

    example: corral profile -n 20 -s StatisticsCreator -o tests.prof
    """

    options = {"title": "profile", "mode": MODE_TEST}

    def setup(self):
        self.parser.add_argument(
            "-n", "--limit", type=int, default=30, metavar="N",
            help="how many functions to list (default: 30)",
        )
        self.parser.add_argument(
            "--sort", default="cumulative",
            choices=["cumulative", "tottime", "calls"],
            help="order of the list (default: cumulative time)",
        )
        _add_output(self.parser, "profile data (pstats format)")
        _add_run_options(self.parser)
        _add_selection(self.parser)

    def handle(self, limit=30, sort="cumulative", output=None,
               failfast=False, verbosity=0, default_logging=False,
               **selection):
        from ..qa.profiling import profile_plan
        from ..qa.runner import make_plan

        plan = make_plan(_selection(selection))
        result, stats = profile_plan(
            plan, stream=self.stderr, verbosity=verbosity,
            failfast=failfast, default_logging=default_logging,
        )
        stats.stream = self.stdout
        stats.sort_stats(sort).print_stats(max(1, limit))
        if output:
            path = Path(output)
            try:
                stats.dump_stats(path)
            except OSError as exc:
                raise CorralError(
                    f"cannot write {path}: {exc.strerror}"
                ) from exc
            self.write(f"The profile was written to {path}; read it with "
                       f"'python -m pstats {path}' or 'snakeviz {path}'.")
        if not result.wasSuccessful():
            self.exit_with(1)


class QAReport(BaseCommand):
    """Run the tests under coverage, check the style, and write the QA
    report with the pipeline's Quality Assurance Index (QAI).

    The report (Markdown) gives the tests' results, the coverage and the
    style errors of each file, how many processors are tested, the QAI
    and its grade (settings.QAI_TAU, settings.SCORE_CUALIFICATIONS).

    example: corral qareport -o report.md --coverage-html
    """

    options = {"title": "qareport", "mode": MODE_TEST}

    def setup(self):
        _add_output(self.parser, "report")
        self.parser.add_argument(
            "--not-explain-qai", dest="explain_qai", action="store_false",
            help="leave out the explanation of the QAI and the grades",
        )
        self.parser.add_argument(
            "-et", "--exclude-test-output", dest="test_output",
            action="store_false",
            help="leave the tests' full output out of the report",
        )
        self.parser.add_argument(
            "--coverage-html", nargs="?", const="", metavar="DIR",
            help="also write the coverage as HTML pages to DIR (by default "
            "beside the report: REPORT-coverage/)",
        )
        self.parser.add_argument(
            "-dl", "--default-logging", action="store_true",
            help="keep the pipeline's log levels while the tests run",
        )

    def handle(self, output=None, explain_qai=True, test_output=True,
               coverage_html=None, default_logging=False):
        from ..qa.report import build_report, render_markdown

        html_dir = None
        if coverage_html is not None:
            if coverage_html:
                html_dir = Path(coverage_html)
            elif output:
                html_dir = Path(output).with_suffix("").with_name(
                    Path(output).stem + "-coverage")
            else:
                html_dir = Path("coverage-html")
        self.stderr.write(
            "Running the tests under coverage and checking the style...\n")
        report = build_report(coverage_html=html_dir,
                              default_logging=default_logging)
        text = render_markdown(report, explain_qai=explain_qai,
                               test_output=test_output)
        if not output:
            self.stdout.write(text)
        else:
            path = Path(output)
            _write_text(path, text)
            self.write(f"The QA report was written to {path}.")
            _pandoc_hint(self, path)
        if html_dir is not None:
            self.write(f"The coverage pages are in {html_dir}/index.html")
        self.write(f"QAI {report.qai * 100:.2f}% - grade "
                   f"{report.grade or '(none)'}")


class CreateDoc(BaseCommand):
    """Write the pipeline's manual in Markdown, from its own code and
    docstrings: models, loader, steps, alerts and commands.

    example: corral create-doc -o doc.md
    """

    options = {"title": "create-doc", "mode": MODE_OUT}

    def setup(self):
        _add_output(self.parser, "documentation")

    def handle(self, output=None):
        from ..conf import settings
        from ..qa.doc import create_doc

        settings._load()
        text = create_doc()
        if not output:
            self.stdout.write(text)
            return
        path = Path(output)
        _write_text(path, text)
        self.write(f"The documentation was written to {path}.")
        _pandoc_hint(self, path)


class CreateModelsDiagram(BaseCommand):
    """Write a class diagram of the pipeline's models in Graphviz dot.

    With '-o FILE.png' or '-o FILE.svg' the picture is drawn directly
    (Graphviz's 'dot' program must be installed); any other name gets the
    dot text.

    example: corral create-models-diagram -o models.dot
    """

    options = {"title": "create-models-diagram", "mode": MODE_OUT}

    def setup(self):
        _add_output(self.parser, "diagram")

    def handle(self, output=None):
        from ..conf import settings
        from ..qa.doc import models_diagram, render_dot

        settings._load()
        text = models_diagram()
        if not output:
            self.stdout.write(text)
            return
        path = Path(output)
        picture = path.suffix.lower().lstrip(".")
        if picture in ("png", "svg"):
            render_dot(text, path, picture)
            self.write(f"The diagram was drawn in {path}.")
            return
        _write_text(path, text)
        self.write(f"The diagram was written to {path}.")
        if shutil.which("dot"):
            self.write("To draw it:")
            self.write(f"  dot -Tpng {path} -o {path.with_suffix('.png')}")
        else:
            self.write("Draw it with Graphviz (https://graphviz.org): "
                       f"dot -Tpng {path} -o {path.with_suffix('.png')}")


COMMANDS = [Test, QAReport, Profile, CreateDoc, CreateModelsDiagram]
