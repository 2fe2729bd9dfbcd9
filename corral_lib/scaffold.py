"""`corral create`: a new pipeline project from project_template/.

Template files end in `-tpl` so that no tool (flake8, pytest, PyInstaller)
mistakes them for code of the framework; the suffix is dropped on copy.
The folder `project_name` becomes the pipeline package, and
`{{ project_name }}` in any file becomes the pipeline's name.
"""

from __future__ import annotations

import importlib.util
import keyword
import shutil
import sys
import tempfile
from pathlib import Path

from . import __version__
from .errors import CorralError

TEMPLATE_SUFFIX = "-tpl"
PLACEHOLDER_DIR = "project_name"
RESERVED = {"corral", "corral_lib", "test", "tests", "in_corral", "vendor"}


def template_dir() -> Path:
    """Where project_template/ is: beside the framework, or in the bundle."""
    base = Path(getattr(sys, "_MEIPASS", Path(__file__).resolve().parent.parent))
    return base / "project_template"


def check_name(name: str) -> None:
    """Refuse names that cannot be, or must not be, a package name."""
    def refuse(why):
        raise CorralError(f"cannot create pipeline {name!r}: {why}", 2)

    if not name.isidentifier() or not name.isascii():
        refuse("a pipeline name must be a Python identifier (letters, digits "
               "and underscores, not starting with a digit)")
    if keyword.iskeyword(name) or keyword.issoftkeyword(name):
        refuse("it is a Python keyword; choose another name")
    if name in RESERVED:
        refuse("the name is reserved by Corral; choose another name")
    if name in sys.stdlib_module_names:
        refuse("it is the name of a Python standard-library module, which "
               "the pipeline would hide; choose another name")
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        spec = None
    if spec is not None:
        refuse(f"a module of that name is already importable ({spec.origin})"
               "; choose another name")


def render(text: str, context: dict) -> str:
    for key, value in context.items():
        text = text.replace("{{ %s }}" % key, value)
    return text


def create_project(name: str, directory: str | None = None) -> Path:
    """Write a new pipeline project; return its folder.

    Everything is written into a scratch folder first and moved into place
    at the end, so a failure leaves nothing half-written.
    """
    check_name(name)
    target = Path(directory or name).resolve()
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise CorralError(
            f"cannot create pipeline {name!r}: {target} already exists and is "
            "not empty; choose another folder or remove it", 2
        )
    source = template_dir()
    if not source.is_dir():
        raise CorralError(f"the project template is missing ({source}); "
                          "reinstall Corral")
    context = {"project_name": name, "corral_version": __version__}
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent) as scratch:
        staging = Path(scratch) / "project"
        _copy_tree(source, staging, name, context)
        if target.exists():
            target.rmdir()
        shutil.move(str(staging), str(target))
    return target


def _copy_tree(source: Path, destination: Path, name: str, context) -> None:
    for path in sorted(source.rglob("*")):
        relative = path.relative_to(source)
        if "__pycache__" in relative.parts or relative.name == "README":
            continue
        parts = [name if p == PLACEHOLDER_DIR else p for p in relative.parts]
        out = destination.joinpath(*parts)
        if path.is_dir():
            out.mkdir(parents=True, exist_ok=True)
            continue
        if out.name.endswith(TEMPLATE_SUFFIX):
            out = out.with_name(out.name[: -len(TEMPLATE_SUFFIX)])
        out.parent.mkdir(parents=True, exist_ok=True)
        if path.suffix in (".csv", ".db") or path.name.endswith(".csv-tpl"):
            shutil.copyfile(path, out)
        else:
            out.write_text(render(path.read_text("utf-8"), context), "utf-8")
        shutil.copymode(path, out)
