"""The QA report: tests, coverage, style, the QAI and its grade, in
Markdown (`corral qareport`)."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

from .. import __version__
from .qai import QAIInputs, grade
from .style import StyleError


@dataclasses.dataclass
class SubjectSummary:
    """A processor or command of the pipeline and how many tests it has."""

    path: str
    kind: str
    name: str
    tests: int


@dataclasses.dataclass
class QAReport:
    """Everything the report says, measured; render_markdown() writes it."""

    pipeline: str
    created_at: dt.datetime
    records: list
    test_output: str
    tests_run: int
    successful: bool
    subjects: list  # SubjectSummary
    files: list  # measure.FileCoverage
    style_errors: list  # StyleError
    tau: float
    score_table: dict
    coverage_html: Path | None = None

    @property
    def inputs(self) -> QAIInputs:
        statements = sum(f.statements for f in self.files)
        covered = sum(f.covered for f in self.files)
        return QAIInputs(
            tests_passed=self.successful,
            tested=sum(1 for s in self.subjects if s.tests),
            processors=len(self.subjects),
            coverage=covered / statements if statements else 0.0,
            style_errors=len(self.style_errors),
            python_files=len(self.files),
            tau=self.tau,
        )

    @property
    def qai(self) -> float:
        return self.inputs.qai

    @property
    def grade(self) -> str | None:
        return grade(self.qai, self.score_table)

    def count(self, outcome: str) -> int:
        return sum(1 for r in self.records if r.outcome == outcome)


def build_report(coverage_html: Path | None = None,
                 default_logging: bool = False) -> QAReport:
    """Measure the pipeline now loaded in settings and make its report."""
    from ..conf import extra_import_paths, settings
    from .measure import measure
    from .qai import score_table, tau
    from .style import check_style, package_directory, python_files

    project = settings.project
    tau_value = tau(settings)
    table = score_table(settings)
    package_dir = package_directory(project)
    files = python_files(package_dir)
    # sys.path entries the user added with --path travel to the child
    # through multiprocessing's own copy of sys.path.
    measured = measure(project, files, package_dir,
                       extra_paths=extra_import_paths(project),
                       html_dir=coverage_html,
                       default_logging=default_logging)
    style_errors = check_style(files, project.directory)
    tests_per_subject: dict = {}
    for record in measured.records:
        if record.outcome != "skipped":
            tests_per_subject[record.subject_path] = (
                tests_per_subject.get(record.subject_path, 0) + 1
            )
    subjects = [
        SubjectSummary(path, kind, name, tests_per_subject.get(path, 0))
        for path, kind, name in measured.subjects
    ]
    return QAReport(
        pipeline=settings.PIPELINE_NAME,
        created_at=dt.datetime.now().replace(microsecond=0),
        records=measured.records,
        test_output=measured.output,
        tests_run=measured.tests_run,
        successful=measured.successful,
        subjects=subjects,
        files=measured.files,
        style_errors=style_errors,
        tau=tau_value,
        score_table=table,
        coverage_html=coverage_html,
    )


# -- Markdown ------------------------------------------------------------


def _cell(text) -> str:
    """Text safe inside a Markdown table cell."""
    return str(text).replace("|", "\\|").replace("\n", " ")


def _table(headers, rows) -> list[str]:
    lines = ["| " + " | ".join(headers) + " |",
             "|" + "|".join(" --- " for _ in headers) + "|"]
    for row in rows:
        lines.append("| " + " | ".join(_cell(c) for c in row) + " |")
    return lines


def _fence(text: str) -> list[str]:
    fence = "```"
    while fence in text:
        fence += "`"
    return [fence, text.rstrip("\n"), fence]


def _percent(value: float) -> str:
    return f"{value * 100:.2f}%"


def render_markdown(report: QAReport, explain_qai: bool = True,
                    test_output: bool = True) -> str:
    """The report as a Markdown document."""
    lines = [f"# Quality report of {report.pipeline}", ""]
    lines += [f"Made by Corral {__version__} on "
              f"{report.created_at:%Y-%m-%d at %H:%M}.", ""]
    lines += _summary(report)
    lines += _tests_section(report, test_output)
    lines += _subjects_section(report)
    lines += _coverage_section(report)
    lines += _style_section(report)
    if explain_qai:
        lines += _explanation(report)
    return "\n".join(lines).rstrip("\n") + "\n"


def _summary(report: QAReport) -> list[str]:
    inputs = report.inputs
    failed = report.count("FAIL") + report.count("ERROR")
    tests = (f"{report.tests_run} run, {failed} failed"
             if report.tests_run else "none")
    rows = [
        ["QAI", _percent(report.qai)],
        ["Grade", report.grade or "(below every grade)"],
        ["Tests", f"{tests} ({'all passed' if report.successful else 'FAILED'})"
         if report.tests_run else tests],
        ["Processors tested (T / PN)",
         f"{inputs.tested} of {inputs.processors}"],
        ["Coverage (COV)", _percent(inputs.coverage)],
        ["Style errors (MSE)",
         f"{inputs.style_errors} in {inputs.python_files} files (PFN)"],
        ["Style tolerance (tau)", f"{inputs.tau:g} errors per file"],
    ]
    return ["## Summary", ""] + _table(["Measure", "Value"], rows) + [""]


def _tests_section(report: QAReport, test_output: bool) -> list[str]:
    lines = ["## Tests", ""]
    if not report.records:
        lines += ["The pipeline has no tests: write qa.TestCase classes in "
                  "its tests.py.", ""]
        return lines
    rows = [[f"`{r.test}`", f"{r.kind} {r.subject}", r.outcome,
             r.description] for r in report.records]
    lines += _table(["Test", "Subject", "Result", "Description"], rows)
    lines.append("")
    bad = [r for r in report.records if r.outcome in ("FAIL", "ERROR")]
    for record in bad:
        lines += [f"### {record.outcome}: `{record.test}`", ""]
        lines += _fence(record.details) + [""]
    if test_output and report.test_output:
        lines += ["### Output of the tests", ""]
        lines += _fence(report.test_output) + [""]
    return lines


def _subjects_section(report: QAReport) -> list[str]:
    lines = ["## Processors and commands", ""]
    if not report.subjects:
        return lines + ["The pipeline has no loader, steps, alerts or "
                        "commands.", ""]
    rows = [[s.kind, f"`{s.path}`", s.tests if s.tests else "**untested**"]
            for s in report.subjects]
    lines += _table(["Kind", "Class", "Tests"], rows)
    inputs = report.inputs
    lines += ["", f"{inputs.tested} of {inputs.processors} have at least one "
              "test.", ""]
    return lines


def _coverage_section(report: QAReport) -> list[str]:
    lines = ["## Coverage", ""]
    rows = [[f"`{f.path}`", f.statements, f.missing, f"{f.percent:.1f}%",
             f.missing_lines or "-"] for f in report.files]
    statements = sum(f.statements for f in report.files)
    missing = sum(f.missing for f in report.files)
    rows.append(["**Total**", statements, missing,
                 f"**{_percent(report.inputs.coverage)}**", ""])
    lines += _table(["File", "Statements", "Missed", "Cover",
                     "Missed lines"], rows)
    lines.append("")
    if report.coverage_html is not None:
        index = Path(report.coverage_html) / "index.html"
        lines += [f"Line by line: [{index}]({index.as_posix()})", ""]
    return lines


def _style_section(report: QAReport) -> list[str]:
    lines = ["## Style", ""]
    if not report.style_errors:
        return lines + ["flake8 finds no style error.", ""]
    per_file: dict[str, int] = {}
    for error in report.style_errors:
        per_file[error.path] = per_file.get(error.path, 0) + 1
    rows = [[f"`{path}`", count] for path, count in sorted(per_file.items())]
    lines += _table(["File", "Errors"], rows) + [""]
    lines += ["Every error (see PEP 8, https://peps.python.org/pep-0008/):",
              ""]
    lines += _fence("\n".join(str(e) for e in report.style_errors)) + [""]
    return lines


def _explanation(report: QAReport) -> list[str]:
    inputs = report.inputs
    lines = [
        "## About the QAI",
        "",
        "The Quality Assurance Index sums the pipeline's quality up in one "
        "number between 0 and 1:",
        "",
        "    QAI = 2 * TP * (T / PN) * COV / (1 + exp(MSE / (tau * PFN)))",
        "",
        f"- **TP** = {inputs.tp:g}: 1 when every test passes, else 0. "
        "One failing test sets the QAI to zero: a pipeline whose own tests "
        "fail guarantees no result.",
        f"- **T / PN** = {inputs.tested} / {inputs.processors}: the "
        "processors (loader, steps, alerts) and commands with at least one "
        "test, out of all of them. A low value asks for tests of the "
        "untested stages.",
        f"- **COV** = {inputs.coverage:.4f}: the fraction of the pipeline's "
        "statements (tests included) that the tests run. A low value asks "
        "for more thorough tests.",
        f"- **MSE** = {inputs.style_errors}: the style errors flake8 finds, "
        "a measure of how hard the code is to maintain.",
        f"- **tau** = {inputs.tau:g}: the style errors tolerated per file "
        "(settings.QAI_TAU, 13 by default); a larger tau penalises style "
        "errors less.",
        f"- **PFN** = {inputs.python_files}: the pipeline's Python files.",
        "",
        "With no style error the denominator is 2, so the leading 2 makes "
        "a fully tested, fully covered pipeline score 1. Here: "
        f"2 x {inputs.tp:g} x {inputs.tested_ratio:.4f} x "
        f"{inputs.coverage:.4f} / {inputs.style_factor:.4f} = "
        f"{report.qai:.4f}.",
        "",
        "### Grades",
        "",
        "The grade is the highest one whose lower limit the QAI reaches "
        "(settings.SCORE_CUALIFICATIONS changes the table):",
        "",
    ]
    rows = [[f"{limit:g}%", label]
            for limit, label in sorted(report.score_table.items())]
    lines += _table(["QAI from", "Grade"], rows) + [""]
    return lines


__all__ = ["QAReport", "StyleError", "build_report", "render_markdown"]
