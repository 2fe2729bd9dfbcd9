"""Running the pipeline's tests under coverage, in a fresh process.

Coverage only sees the lines that run after it starts. By the time a
command runs, the pipeline's settings, models and commands are already
imported, so their module-level lines (class bodies, columns, settings)
would count as never run. The tests are therefore run in a new Python
process (multiprocessing's "spawn", which works in the single executable
too) that starts coverage before it imports anything of the pipeline, and
reports back through two files: coverage's data file and a JSON file with
the tests' outcomes.
"""

from __future__ import annotations

import dataclasses
import io
import json
import multiprocessing
import os
import tempfile
from pathlib import Path

from ..errors import CorralError


@dataclasses.dataclass(frozen=True)
class FileCoverage:
    """The statements of one file and those the tests never ran."""

    path: str
    statements: int
    missing: int
    missing_lines: str

    @property
    def covered(self) -> int:
        return self.statements - self.missing

    @property
    def percent(self) -> float:
        return 100.0 * self.covered / self.statements if self.statements else (
            100.0
        )


@dataclasses.dataclass
class MeasuredRun:
    """What the measuring process found."""

    records: list
    output: str
    tests_run: int
    successful: bool
    files: list  # FileCoverage per pipeline file
    subjects: list  # [dotted path, kind, name] of every pipeline subject
    html_dir: Path | None = None

    @property
    def statements(self) -> int:
        return sum(f.statements for f in self.files)

    @property
    def covered(self) -> int:
        return sum(f.covered for f in self.files)

    @property
    def coverage(self) -> float:
        """The fraction of the pipeline's statements the tests ran."""
        return self.covered / self.statements if self.statements else 0.0


def _child(job: dict) -> None:
    """The measuring process: coverage first, then the pipeline."""
    import coverage

    cov = coverage.Coverage(
        data_file=job["data_file"], source=[job["package_dir"]],
        config_file=False,
    )
    cov.start()
    outcome: dict = {}
    try:
        outcome = _run_in_child(job)
    except CorralError as exc:
        outcome = {"error": str(exc)}
    except Exception as exc:  # reported by the parent as one line
        outcome = {"error": f"{type(exc).__name__}: {exc}"}
    finally:
        cov.stop()
        cov.save()
        Path(job["result_file"]).write_text(json.dumps(outcome),
                                            encoding="utf-8")


def _run_in_child(job: dict) -> dict:
    from ..conf import Project, activate, settings
    from .runner import make_plan, run_plan, subject_path
    from .testcase import subject_kind, subject_name

    project = Project(Path(job["project_dir"]), job["settings_module"])
    activate(project, job["extra_paths"])
    settings._load()
    plan = make_plan()
    stream = io.StringIO()
    result = run_plan(plan, stream=stream, verbosity=2,
                      default_logging=job["default_logging"])
    return {
        "records": [dataclasses.asdict(r) for r in result.records],
        "output": stream.getvalue(),
        "tests_run": result.testsRun,
        "successful": result.wasSuccessful(),
        "subjects": [[subject_path(s), subject_kind(s), subject_name(s)]
                     for s in plan.subjects],
    }


def measure(project, files: list[Path], package_dir: Path,
            extra_paths=(), html_dir: Path | None = None,
            default_logging: bool = False) -> MeasuredRun:
    """Run every test of the pipeline under coverage; what it found."""
    from .runner import TestRecord

    with tempfile.TemporaryDirectory(prefix="corral-qa-") as scratch:
        job = {
            "data_file": os.path.join(scratch, ".coverage"),
            "result_file": os.path.join(scratch, "result.json"),
            "package_dir": str(package_dir),
            "project_dir": str(project.directory),
            "settings_module": project.settings_module,
            "extra_paths": [str(p) for p in extra_paths],
            "default_logging": default_logging,
        }
        process = multiprocessing.get_context("spawn").Process(
            target=_child, args=(job,), name="corral-qa-coverage",
        )
        process.start()
        process.join()
        result_file = Path(job["result_file"])
        if not result_file.is_file():
            raise CorralError(
                "the tests stopped before they finished (exit status "
                f"{process.exitcode}); run 'corral test' to see why"
            )
        outcome = json.loads(result_file.read_text(encoding="utf-8"))
        if "error" in outcome:
            raise CorralError(outcome["error"])
        file_coverage = _analyse(job["data_file"], files, project.directory,
                                 html_dir)
    return MeasuredRun(
        records=[TestRecord(**r) for r in outcome["records"]],
        output=outcome["output"],
        tests_run=outcome["tests_run"],
        successful=outcome["successful"],
        files=file_coverage,
        subjects=outcome["subjects"],
        html_dir=html_dir,
    )


def _analyse(data_file: str, files: list[Path], root: Path,
             html_dir: Path | None) -> list[FileCoverage]:
    import coverage

    cov = coverage.Coverage(data_file=data_file, config_file=False)
    cov.load()
    measured = []
    for path in files:
        # A file no test imported has every statement missing.
        _, statements, _, missing, missing_text = cov.analysis2(str(path))
        measured.append(FileCoverage(
            path=str(path.relative_to(root)), statements=len(statements),
            missing=len(missing), missing_lines=missing_text,
        ))
    if html_dir is not None:
        try:
            cov.html_report(directory=str(html_dir),
                            include=[str(p) for p in files],
                            title="Coverage of the pipeline's tests")
        except (coverage.CoverageException, OSError) as exc:
            raise CorralError(
                f"cannot write the coverage pages to {html_dir}: {exc}"
            ) from exc
    return measured
