"""The pipeline's Python files, and their style errors (flake8).

The files measured (for coverage and style alike) are the modules of the
pipeline package and of its sub-packages: folders holding __init__.py.
Other folders, such as migrations/, hold code the tests never run.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
from pathlib import Path


def package_directory(project) -> Path:
    """The folder of the pipeline package."""
    import importlib

    module = importlib.import_module(project.package)
    return Path(module.__file__).resolve().parent


def python_files(package_dir: Path) -> list[Path]:
    """Every .py file of the package and its sub-packages, sorted."""
    found = []
    for folder, subfolders, files in os.walk(package_dir):
        here = Path(folder)
        subfolders[:] = sorted(
            d for d in subfolders if (here / d / "__init__.py").is_file()
        )
        found += [here / f for f in sorted(files) if f.endswith(".py")]
    return found


@dataclasses.dataclass(frozen=True)
class StyleError:
    """One flake8 error."""

    path: str
    line: int
    column: int
    code: str
    text: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}:{self.column}: {self.code} {self.text}"


def check_style(files: list[Path], root: Path) -> list[StyleError]:
    """flake8's errors in `files`, with paths relative to `root`.

    flake8 reads its configuration (setup.cfg, tox.ini, .flake8) from
    `root`, so a pipeline can set its own rules there; with none, PEP 8 as
    flake8 checks it by default (79 columns) applies.
    """
    from flake8.api import legacy
    from flake8.formatting.base import BaseFormatter
    from flake8.main.options import JobsArgument

    found: list = []

    class Collect(BaseFormatter):
        def handle(self, error):
            found.append(error)

        def format(self, error):
            return None

        def show_statistics(self, statistics):
            pass

        def show_benchmarks(self, benchmarks):
            pass

    if not files:
        return []
    with contextlib.chdir(root):
        # One job: a pipeline has a handful of files, and a process pool
        # would cost more than it saves.
        guide = legacy.get_style_guide(jobs=JobsArgument("1"))
        guide.init_report(Collect)
        guide.check_files([str(f) for f in files])
    errors = []
    for error in found:
        path = Path(error.filename).resolve()
        with contextlib.suppress(ValueError):
            path = path.relative_to(root.resolve())
        errors.append(StyleError(str(path), error.line_number,
                                 error.column_number, error.code, error.text))
    return sorted(errors, key=lambda e: (e.path, e.line, e.column))
