"""Finding the pipeline and reading its settings.

A pipeline is a project directory that holds `in_corral.py` and a Python
package with a `settings` module. `locate_project()` finds it, in this order:
the `--project DIR` option, the `CORRAL_PROJECT` variable, the
`CORRAL_SETTINGS_MODULE` variable (what in_corral.py sets), and finally a
directory holding in_corral.py at or above the working directory.

`settings` is the pipeline's settings module seen through the framework's
defaults: a name the pipeline does not define falls back to `DEFAULTS`.
"""

from __future__ import annotations

import ast
import importlib
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from .errors import CorralError, ImproperlyConfigured

SETTINGS_VARIABLE = "CORRAL_SETTINGS_MODULE"
PROJECT_VARIABLE = "CORRAL_PROJECT"
PATH_VARIABLE = "CORRAL_PATH"
ENTRY_FILE = "in_corral.py"

# What a pipeline gets for every setting it leaves out.
DEFAULTS: dict[str, Any] = {
    "DEBUG_PROCESS": True,
    "PIPELINE_SETUP": None,
    "CONNECTION": "sqlite:///:memory:",
    "TEST_CONNECTION": "sqlite:///:memory:",
    "LOADER": None,
    "STEPS": [],
    "ALERTS": [],
    "SHELL_LOCALS": {},
    "EMAIL": {},
    "LOG_LEVEL": "INFO",
    "LOG_FORMAT": "[{PIPELINE}-%(levelname)s @ %(asctime)-15s] %(message)s",
    "LOG_DATE_FORMAT": None,
    "ECHO_SQL": False,
    # How many objects a processor handles between two commits.
    "CHUNK_SIZE": 1000,
    # `run`/`check-alerts` repeat rounds until one changes nothing, at
    # most this many (a step's input may be another step's output).
    "RUN_MAX_ROUNDS": 10,
    # Extra attempts for an object whose process() raised, before it is
    # recorded in __corral_failures__ and skipped by later runs.
    "FAILURE_RETRIES": 1,
    # True: stop a processor at its first error, as the original did.
    "STRICT": False,
    # Seconds between two progress lines when stderr is not a terminal.
    "PROGRESS_INTERVAL": 10,
    # Seconds `run --loop` sleeps when a pass found nothing to do.
    "LOOP_EVERY": 60,
    "MIGRATIONS_SETTINGS": None,
    "QAI_TAU": 13,
    "SCORE_CUALIFICATIONS": None,
}


@dataclass(frozen=True)
class Project:
    """Where a pipeline lives: its directory and its settings module."""

    directory: Path | None
    settings_module: str

    @property
    def package(self) -> str:
        return self.settings_module.rsplit(".", 1)[0]


def _settings_module_from_entry(entry: Path) -> str | None:
    """Read the settings module an in_corral.py names, without running it.

    in_corral.py sets CORRAL_SETTINGS_MODULE with a string literal; the first
    string literal ending in ".settings" (or passed next to the variable's
    name) is taken.
    """
    try:
        tree = ast.parse(entry.read_text(encoding="utf-8"), str(entry))
    except (OSError, SyntaxError, UnicodeDecodeError) as exc:
        raise ImproperlyConfigured(
            f"{entry} cannot be read ({exc}); fix the file or recreate it "
            "with 'corral create'"
        ) from None
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        args = [a.value for a in node.args if isinstance(a, ast.Constant)]
        if len(args) >= 2 and args[0] == SETTINGS_VARIABLE:
            return str(args[1])
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            if node.value.endswith(".settings"):
                return node.value
    return None


def _project_from_directory(directory: Path, origin: str) -> Project:
    directory = directory.resolve()
    if not directory.is_dir():
        raise ImproperlyConfigured(
            f"{origin}: {directory} is not a directory; give the folder that "
            f"holds {ENTRY_FILE}"
        )
    entry = directory / ENTRY_FILE
    if entry.is_file():
        module = _settings_module_from_entry(entry)
        if module:
            return Project(directory, module)
    # The package folder itself was given: its parent is the project.
    if (directory / "settings.py").is_file() and (
        directory / "__init__.py"
    ).is_file():
        return Project(directory.parent, f"{directory.name}.settings")
    packages = sorted(
        p.name
        for p in directory.iterdir()
        if (p / "settings.py").is_file() and (p / "__init__.py").is_file()
    )
    if len(packages) == 1:
        return Project(directory, f"{packages[0]}.settings")
    raise ImproperlyConfigured(
        f"{origin}: no pipeline in {directory}; it should hold {ENTRY_FILE} "
        "and the pipeline package (create one with 'corral create NAME')"
    )


def _find_entry_upwards(start: Path) -> Path | None:
    for directory in [start, *start.parents]:
        if (directory / ENTRY_FILE).is_file():
            return directory
    return None


def locate_project(project_dir: str | None = None) -> Project | None:
    """Find the pipeline to work on, or None when there is none."""
    if project_dir:
        return _project_from_directory(Path(project_dir), "--project")
    if os.environ.get(PROJECT_VARIABLE):
        return _project_from_directory(
            Path(os.environ[PROJECT_VARIABLE]), PROJECT_VARIABLE
        )
    if os.environ.get(SETTINGS_VARIABLE):
        module = os.environ[SETTINGS_VARIABLE]
        found = _find_entry_upwards(Path.cwd())
        main = sys.modules.get("__main__")
        main_file = getattr(main, "__file__", None)
        if main_file and Path(main_file).name == ENTRY_FILE:
            # `python in_corral.py COMMAND` from anywhere.
            found = Path(main_file).resolve().parent
        return Project(found, module)
    found = _find_entry_upwards(Path.cwd())
    if found is not None:
        return _project_from_directory(found, str(found / ENTRY_FILE))
    return None


def extra_import_paths(project: Project | None) -> list[Path]:
    """Folders put on sys.path besides the project: vendor/ and CORRAL_PATH."""
    paths = []
    if project is not None and project.directory is not None:
        vendor = project.directory / "vendor"
        if vendor.is_dir():
            paths.append(vendor)
    for item in os.environ.get(PATH_VARIABLE, "").split(os.pathsep):
        if item:
            paths.append(Path(item).resolve())
    return paths


def activate(project: Project, extra_paths=()) -> None:
    """Make the project importable and point `settings` at it."""
    paths = [project.directory] if project.directory else []
    paths += extra_import_paths(project) + [Path(p) for p in extra_paths]
    for path in reversed(paths):
        text = str(path)
        if text in sys.path:
            sys.path.remove(text)
        sys.path.insert(0, text)
    os.environ[SETTINGS_VARIABLE] = project.settings_module
    settings._configure(project)


class LazySettings:
    """The pipeline's settings, loaded on first use, with defaults.

    Attribute assignment (as `mock.patch("corral.conf.settings.X", ...)`
    does) changes the value seen by the whole framework.
    """

    def __init__(self):
        self.__dict__["_module"] = None
        self.__dict__["_project"] = None
        self.__dict__["_overrides"] = {}

    def _configure(self, project: Project | None) -> None:
        self.__dict__["_project"] = project
        self.__dict__["_module"] = None
        self.__dict__["_overrides"] = {}

    @property
    def configured(self) -> bool:
        return self._project is not None or bool(
            os.environ.get(SETTINGS_VARIABLE)
        )

    @property
    def project(self) -> Project | None:
        self._load()
        return self._project

    def _load(self) -> ModuleType:
        if self._module is not None:
            return self._module
        project = self._project
        if project is None:
            project = locate_project()
            if project is None:
                raise ImproperlyConfigured(
                    "no pipeline found: run the command inside a pipeline "
                    f"(a folder holding {ENTRY_FILE}), or pass --project DIR, "
                    f"or set {PROJECT_VARIABLE}"
                )
            activate(project)
        module = import_settings(project.settings_module)
        self.__dict__["_module"] = module
        self.__dict__["_project"] = project
        return module

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        if name in self._overrides:
            return self._overrides[name]
        module = self._load()
        if hasattr(module, name):
            return getattr(module, name)
        if name == "PIPELINE_NAME":
            return self.project.package if self.project else "corral"
        if name in DEFAULTS:
            return DEFAULTS[name]
        raise AttributeError(
            f"setting {name} is not defined in {module.__name__}"
        )

    def get(self, name: str, default: Any = None) -> Any:
        try:
            return getattr(self, name)
        except AttributeError:
            return default

    def __setattr__(self, name: str, value: Any) -> None:
        self._overrides[name] = value

    def __delattr__(self, name: str) -> None:
        self._overrides.pop(name, None)

    def __dir__(self):
        names = set(DEFAULTS) | set(self._overrides)
        if self._module is not None:
            names |= {n for n in dir(self._module) if n.isupper()}
        return sorted(names)

    def __repr__(self) -> str:
        name = self._project.settings_module if self._project else None
        return f"<Settings {name or '(not loaded)'}>"


def import_settings(module_name: str) -> ModuleType:
    """Import a settings module, turning every failure into one clear line."""
    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name and module_name.startswith(exc.name):
            raise ImproperlyConfigured(
                f"settings module '{module_name}' was not found; check "
                f"{SETTINGS_VARIABLE} or the name in {ENTRY_FILE}"
            ) from exc
        raise ImproperlyConfigured(
            f"settings module '{module_name}' imports '{exc.name}', which "
            "is not installed; install it or put it in the project's vendor/"
        ) from exc
    except SyntaxError as exc:
        raise ImproperlyConfigured(
            f"settings module '{module_name}' has a syntax error at "
            f"{exc.filename}:{exc.lineno}: {exc.msg}"
        ) from exc
    except Exception as exc:
        raise ImproperlyConfigured(
            f"settings module '{module_name}' failed to load: "
            f"{type(exc).__name__}: {exc}"
        ) from exc


def import_pipeline_module(name: str, missing_ok: bool = True):
    """Import one of the pipeline's own modules (models, commands, tests).

    Returns None when the module itself does not exist and `missing_ok`;
    any other failure (a missing dependency, a syntax error, an exception
    at import time) becomes one line that names the module.
    """
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        package = name.rsplit(".", 1)[0]
        if missing_ok and exc.name in (name, package):
            return None
        if exc.name in (name, package):
            raise ImproperlyConfigured(
                f"the pipeline has no module '{name}'"
            ) from exc
        raise ImproperlyConfigured(
            f"{name} imports '{exc.name}', which is not installed; install "
            "it or put it in the project's vendor/ folder"
        ) from exc
    except SyntaxError as exc:
        raise ImproperlyConfigured(
            f"{name} has a syntax error at {exc.filename}:{exc.lineno}: "
            f"{exc.msg}"
        ) from exc
    except CorralError:
        raise
    except Exception as exc:
        raise ImproperlyConfigured(
            f"importing {name} failed: {type(exc).__name__}: {exc}"
        ) from exc


def import_string(dotted: str, what: str) -> Any:
    """Import `package.module.Name`; `what` names the setting for errors."""
    if not isinstance(dotted, str) or "." not in dotted:
        raise ImproperlyConfigured(
            f"{what}: {dotted!r} is not a dotted path such as "
            "'my_pipeline.steps.MyStep'"
        )
    module_name, _, attr = dotted.rpartition(".")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        raise ImproperlyConfigured(
            f"{what}: cannot import '{dotted}': no module named '{exc.name}'"
        ) from exc
    except SyntaxError as exc:
        raise ImproperlyConfigured(
            f"{what}: cannot import '{dotted}': syntax error at "
            f"{exc.filename}:{exc.lineno}: {exc.msg}"
        ) from exc
    except Exception as exc:
        raise ImproperlyConfigured(
            f"{what}: importing '{module_name}' failed: "
            f"{type(exc).__name__}: {exc}"
        ) from exc
    try:
        return getattr(module, attr)
    except AttributeError:
        raise ImproperlyConfigured(
            f"{what}: module '{module_name}' has no '{attr}'; check the "
            "spelling in settings"
        ) from None


settings = LazySettings()
