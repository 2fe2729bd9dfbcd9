"""The single `corral` executable, on a machine with no Python installed.

The executable is built with `make dist-venv` and tools/build_dist.py, or
reused when one was already built from the same source and pins (the
tool keeps it under build/exe-cache/). It is then copied out of the
repository and run with an empty environment (`env -i PATH=/usr/bin:/bin`)
and, where the system allows a private mount namespace (unshare), with the
repository and every Python installation on the machine hidden behind empty
folders, so nothing it needs can come from the build machine.

It drives a pipeline it scaffolds itself through every kind of command:
create, createdb, load, run (--sync and parallel worker processes),
check-alerts, test, qareport, dbshell -c, lssteps, exec, on SQLite and on
DuckDB, with one step importing a compiled package from the project's
vendor/ folder, installed there by pip as the README says. Each command's
outcome is recorded and the test fails at the end with every problem
found, so a command that does not work in the executable is named even
when an earlier one failed too.
"""

from __future__ import annotations

import base64
import hashlib
import importlib.util
import os
import re
import shlex
import shutil
import sqlite3
import subprocess
import sys
import tomllib
import warnings
import zipfile
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from conftest import EXAMPLES, ROOT

DIST_PYTHON = ROOT / "build" / "dist-venv" / "bin" / "python"
PINS = ROOT / "requirements-dist.txt"
CLEAN_ENV = {"PATH": "/usr/bin:/bin"}

EXPECTED_MEANS = {
    "Iris-setosa": (5.006, 3.418, 1.464, 0.244),
    "Iris-versicolor": (5.936, 2.77, 4.26, 1.326),
    "Iris-virginica": (6.588, 2.974, 5.552, 2.026),
}


def _pins() -> dict[str, str]:
    pins = {}
    for line in PINS.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, _, version = line.partition("==")
            pins[canonicalize_name(name)] = version
    return pins


def _load_build_dist():
    spec = importlib.util.spec_from_file_location(
        "build_dist", ROOT / "tools" / "build_dist.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# -- the build's inputs (fast) -----------------------------------------


def test_every_runtime_dependency_is_pinned_for_the_executable():
    """Each pyproject dependency has an exact pin inside its range."""
    pins = _pins()
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    problems = []
    for text in project["dependencies"]:
        requirement = Requirement(text)
        pinned = pins.get(canonicalize_name(requirement.name))
        if pinned is None:
            problems.append(f"{requirement.name} is not pinned")
        elif not requirement.specifier.contains(pinned, prereleases=True):
            problems.append(f"{requirement.name}=={pinned} is outside "
                            f"'{requirement.specifier}'")
    assert not problems, f"{PINS.name}: " + "; ".join(problems)
    assert "pyinstaller" in pins and "argparse-manpage" in pins


def test_build_key_follows_the_source_and_ignores_bytecode(tmp_path):
    """The cache key changes with a source file, not with __pycache__."""
    build_dist = _load_build_dist()
    (tmp_path / "corral_lib" / "__pycache__").mkdir(parents=True)
    (tmp_path / "corral.py").write_text("print('corral')\n")
    module = tmp_path / "corral_lib" / "conf.py"
    module.write_text("A = 1\n")
    python = Path(sys.executable)
    first = build_dist.build_key(python, tmp_path)

    (tmp_path / "corral_lib" / "__pycache__" / "conf.pyc").write_bytes(b"x")
    assert build_dist.build_key(python, tmp_path) == first
    module.write_text("A = 2\n")
    assert build_dist.build_key(python, tmp_path) != first
    names = [p.name for p in build_dist.source_files(tmp_path)]
    assert names == ["corral.py", "conf.py"]


# -- the executable itself (slow) --------------------------------------


@pytest.fixture(scope="module")
def executable(tmp_path_factory) -> Path:
    """The executable for this source, copied out of the repository."""
    venv = subprocess.run(["make", "-s", "dist-venv"], cwd=ROOT,
                          capture_output=True, text=True, timeout=900)
    assert venv.returncode == 0, venv.stdout + venv.stderr
    built = subprocess.run(
        [str(DIST_PYTHON), str(ROOT / "tools" / "build_dist.py")],
        cwd=ROOT, capture_output=True, text=True, timeout=1200,
    )
    assert built.returncode == 0, built.stdout + built.stderr
    cached = Path(built.stdout.strip().splitlines()[-1])
    copy = tmp_path_factory.mktemp("bin") / "corral"
    shutil.copy2(cached, copy)
    return copy


def _hidden_paths() -> list[str]:
    """Every Python installation here, and the repository itself."""
    candidates = {sys.base_prefix, str(ROOT)}
    for base in ("/usr/lib", "/usr/local/lib"):
        candidates.update(str(p) for p in Path(base).glob("python3*"))
    return sorted(p for p in candidates if Path(p).is_dir())


def _can_hide() -> bool:
    probe = subprocess.run(
        ["unshare", "--mount", "--propagation", "private", "sh", "-c",
         f"mount -t tmpfs hidden {shlex.quote(str(ROOT))}"],
        capture_output=True,
    ) if shutil.which("unshare") else None
    if probe is None or probe.returncode != 0:
        warnings.warn("unshare cannot make a private mount namespace here: "
                      "the executable runs with an empty environment but "
                      "with the machine's Python installations visible")
        return False
    return True


class Scenario:
    """Runs the executable and records what went wrong, command by command."""

    def __init__(self, exe: Path, hide: list[str]):
        self.exe = exe
        self.hide = hide
        self.problems: list[str] = []

    def command(self, args, env) -> list[str]:
        assignments = [f"{k}={v}" for k, v in {**CLEAN_ENV, **env}.items()]
        command = ["env", "-i", *assignments, str(self.exe), *args]
        if not self.hide:
            return command
        mounts = " && ".join(f"mount -t tmpfs hidden {shlex.quote(p)}"
                             for p in self.hide)
        return ["unshare", "--mount", "--propagation", "private", "sh", "-c",
                f'{mounts} && exec "$@"', "sh", *command]

    def run(self, *args, cwd, env=None, status=0, check=None):
        """Run `corral ARGS`; note a wrong exit status or a failed check."""
        args = [str(a) for a in args]
        done = subprocess.run(self.command(args, env or {}), cwd=cwd,
                              capture_output=True, text=True, timeout=300)
        found = []
        if done.returncode != status:
            found.append(f"exit status {done.returncode}, expected {status}")
        if "Traceback" in done.stderr and "--traceback" not in args:
            found.append("printed a traceback")
        if check is not None and not found:
            try:
                check(done)
            except AssertionError as exc:
                found.append(str(exc) or "check failed")
        if found:
            self.problems.append(
                f"corral {' '.join(args)}: {'; '.join(found)}\n"
                f"--- stdout\n{done.stdout[-2000:]}\n"
                f"--- stderr\n{done.stderr[-2000:]}"
            )
        return done

    def expect(self, condition: bool, problem: str) -> None:
        if not condition:
            self.problems.append(problem)


STARCAT_C = r"""
#define PY_SSIZE_T_CLEAN
#include <Python.h>

static PyObject *checksum(PyObject *self, PyObject *text) {
    Py_ssize_t size;
    const char *bytes = PyUnicode_AsUTF8AndSize(text, &size);
    if (bytes == NULL) return NULL;
    unsigned long total = 0;
    for (Py_ssize_t i = 0; i < size; i++)
        total = (total * 31 + (unsigned char)bytes[i]) & 0xffffffffUL;
    return PyLong_FromUnsignedLong(total);
}

static PyMethodDef methods[] = {
    {"checksum", checksum, METH_O, "A 32-bit hash of a string."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_fast", NULL, -1, methods,
};

PyMODINIT_FUNC PyInit__fast(void) { return PyModule_Create(&module); }
"""


def _checksum(text: str) -> int:
    total = 0
    for byte in text.encode():
        total = (total * 31 + byte) & 0xFFFFFFFF
    return total


def _starcat_wheel(where: Path) -> Path:
    """A binary wheel of 'starcat', a package with a compiled module.

    It stands for what a pipeline brings along (numpy, astropy, a private
    library): compiled for the executable's Python, unknown to the
    executable. Built here with the C compiler so the test needs no network.
    """
    info = subprocess.run(
        [str(DIST_PYTHON), "-c",
         "import sys, sysconfig; print(sysconfig.get_paths()['include']); "
         "print(sysconfig.get_config_var('EXT_SUFFIX')); "
         "print(f'cp{sys.version_info[0]}{sys.version_info[1]}')"],
        capture_output=True, text=True, check=True,
    ).stdout.split()
    include, suffix, tag = info
    source = where / "_fast.c"
    source.write_text(STARCAT_C)
    compiled = where / f"_fast{suffix}"
    cc = subprocess.run(["cc", "-shared", "-fPIC", "-O2", f"-I{include}",
                         str(source), "-o", str(compiled)],
                        capture_output=True, text=True)
    assert cc.returncode == 0, f"compiling starcat failed: {cc.stderr}"

    files = {
        "starcat/__init__.py": (
            '"""Catalogue labels, computed by a compiled module."""\n\n'
            "from ._fast import checksum\n\n\n"
            "def label(name):\n"
            '    return f"{name}#{checksum(name)}"\n'
        ).encode(),
        f"starcat/_fast{suffix}": compiled.read_bytes(),
        "starcat-1.0.dist-info/METADATA": (
            b"Metadata-Version: 2.1\nName: starcat\nVersion: 1.0\n"
        ),
        "starcat-1.0.dist-info/WHEEL": (
            f"Wheel-Version: 1.0\nGenerator: test_dist\nRoot-Is-Purelib: "
            f"false\nTag: {tag}-{tag}-linux_x86_64\n"
        ).encode(),
    }
    record = []
    for name, data in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest())
        record.append(f"{name},sha256={digest.rstrip(b'=').decode()},"
                      f"{len(data)}")
    record.append("starcat-1.0.dist-info/RECORD,,")
    files["starcat-1.0.dist-info/RECORD"] = ("\n".join(record) + "\n").encode()
    wheel = where / f"starcat-1.0-{tag}-{tag}-linux_x86_64.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return wheel


VENDORED_STEP = '''
"""A step that needs a package the executable does not bundle."""

import multiprocessing

import starcat

from corral import db, run

from . import models


class CatalogueStep(run.Step):
    """Give every species a catalogue label made by the vendored package."""

    model = models.Name
    conditions = [models.Name.id.notin_(db.select(models.Label.name_id))]

    def process(self, name):
        yield models.Label(
            name_id=name.id, text=starcat.label(name.name),
            in_worker=multiprocessing.parent_process() is not None,
        )
'''

LABEL_MODEL = '''

class Label(db.Model):
    """A species' catalogue label, written by steps_vendored.CatalogueStep."""

    __tablename__ = "Label"

    id = db.Column(db.Integer, primary_key=True)
    name_id = db.Column(db.Integer, db.ForeignKey("Name.id"), unique=True)
    text = db.Column(db.String(100), nullable=False)
    in_worker = db.Column(db.Boolean, nullable=False)
'''


def _make_pipeline(scenario: Scenario, base: Path) -> Path:
    """Scaffold with the executable, add irispl's code and a vendored step."""
    scenario.run("create", "irispl", base / "irispl", cwd=base,
                 check=lambda r: _contains(r.stdout, "Created pipeline"))
    project = base / "irispl"
    package = project / "irispl"
    assert (project / "in_corral.py").is_file(), scenario.problems
    for path in EXAMPLES.joinpath("irispl").iterdir():
        if path.is_file():
            shutil.copy(path, package / path.name)
    with open(package / "models.py", "a") as models:
        models.write(LABEL_MODEL)
    (package / "steps_vendored.py").write_text(VENDORED_STEP.lstrip())
    settings = package / "settings.py"
    settings.write_text(settings.read_text().replace(
        '"irispl.steps.VersicolorStatistics",',
        '"irispl.steps.VersicolorStatistics",\n'
        '    "irispl.steps_vendored.CatalogueStep",',
    ))
    wheel = _starcat_wheel(base)
    pip = subprocess.run(
        [str(DIST_PYTHON), "-m", "pip", "install", "--quiet", "--no-index",
         "--no-deps", "--target", str(project / "vendor"), str(wheel)],
        capture_output=True, text=True,
    )
    assert pip.returncode == 0, f"pip install --target vendor: {pip.stderr}"
    return project


def _contains(text: str, wanted: str) -> None:
    assert wanted in text, f"{wanted!r} is not in the output"


def _cell(value: str):
    """A check that a result table shows `value` in a cell of its own."""
    def check(result):
        assert re.search(rf"\|\s*{re.escape(value)}\s*\|", result.stdout), (
            f"no table cell holding {value!r}")
    return check


def _statistics(database: Path) -> dict:
    with sqlite3.connect(database) as conn:
        rows = conn.execute(
            'SELECT n.name, s.mean_sepal_length, s.mean_sepal_width, '
            's.mean_petal_length, s.mean_petal_width FROM "Statistics" s '
            'JOIN "Name" n ON n.id = s.name_id').fetchall()
    return {r[0]: tuple(round(v, 3) for v in r[1:]) for r in rows}


def _labels(database: Path) -> list[tuple]:
    with sqlite3.connect(database) as conn:
        return conn.execute(
            'SELECT n.name, l.text, l.in_worker FROM "Label" l '
            'JOIN "Name" n ON n.id = l.name_id ORDER BY n.name').fetchall()


def _interactive_dbshell(scenario: Scenario, project: Path) -> None:
    import pexpect

    # pexpect's pseudo-terminal does not answer prompt-toolkit's cursor
    # position request; without this, keys typed while the prompt waits
    # for that answer can be lost on a busy machine.
    command = scenario.command(["dbshell"], {"TERM": "xterm",
                                             "PROMPT_TOOLKIT_NO_CPR": "1"})
    child = pexpect.spawn(command[0], command[1:], cwd=str(project),
                          encoding="utf-8", timeout=60,
                          dimensions=(40, 120))
    transcript = []
    try:
        child.expect("SQL>")
        transcript.append(child.before)
        # Let the prompt finish drawing and switch the terminal to raw
        # mode before typing, as a person would: keys sent while the
        # frozen program is still starting its event loop may be dropped.
        child.expect([pexpect.TIMEOUT, "never-printed"], timeout=2)
        child.sendline('SELECT COUNT(*) AS species FROM "Name";')
        child.expect(r"\(1 row\)")
        transcript.append(child.before)
        # Ctrl-D only means "leave" to a prompt that is waiting for input.
        child.expect("SQL>")
        child.expect([pexpect.TIMEOUT, "never-printed"], timeout=2)
        child.sendcontrol("d")
        child.expect(pexpect.EOF)
        transcript.append(child.before)
    except (pexpect.TIMEOUT, pexpect.EOF):
        transcript.append(child.before or "")
    child.close()
    text = "".join(t for t in transcript if isinstance(t, str))
    scenario.expect(
        child.exitstatus == 0 and re.search(r"\|\s*3\s*\|", text) is not None,
        f"interactive dbshell: exit {child.exitstatus}; it showed:\n"
        f"{text[-1500:]}",
    )


def _qai_line(text: str) -> str:
    found = re.findall(r"^QAI [0-9.]+% - grade \S+$", text, re.MULTILINE)
    assert found, "no 'QAI ...% - grade ...' line"
    return found[-1]


@pytest.mark.slow
def test_executable_runs_a_pipeline_with_nothing_installed(executable,
                                                           tmp_path):
    hide = _hidden_paths() if _can_hide() else []
    corral = Scenario(executable, hide)
    # A non-ASCII folder: with no locale set, only UTF-8 mode lets the
    # program print and open such paths.
    base = tmp_path / "données"
    base.mkdir()
    pins = _pins()
    bundled_python = subprocess.run(
        [str(DIST_PYTHON), "-c", "import platform; "
         "print(platform.python_version())"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()

    def version(result):
        for dist in ("sqlalchemy", "duckdb", "alembic", "flake8", "coverage",
                     "prompt-toolkit", "pygments"):
            _contains(result.stdout.lower(), f"{dist} {pins[dist]}")
        _contains(result.stdout, "(single executable)")
        _contains(result.stdout, f"Python {bundled_python}")

    corral.run("--version", cwd=base, check=version)
    corral.run("--help", cwd=base,
               check=lambda r: _contains(r.stdout, "createdb"))
    project = _make_pipeline(corral, base)
    database = project / "irispl-dev.db"
    run = corral.run

    run("createdb", "--noinput", cwd=project,
        check=lambda r: _contains(r.stdout, "Label"))
    run("load", cwd=project)
    run("lssteps", cwd=project,
        check=lambda r: _contains(r.stdout, "CatalogueStep"))

    # --sync: the first step, in this process.
    run("run", "--sync", "-s", "StatisticsCreator", cwd=project)
    corral.expect(
        database.exists() and len(_statistics(database)) == 3,
        "run --sync -s StatisticsCreator did not create 3 Statistics rows",
    )
    # In parallel: the other steps, in worker processes of the executable,
    # one of them importing the vendored package.
    run("run", cwd=project)
    if database.exists():
        corral.expect(_statistics(database) == EXPECTED_MEANS,
                      f"statistics after the parallel run: "
                      f"{_statistics(database)}")
        expected_labels = [(name, f"{name}#{_checksum(name)}", 1)
                           for name in sorted(EXPECTED_MEANS)]
        corral.expect(_labels(database) == expected_labels,
                      f"labels from the vendored package: "
                      f"{_labels(database)} != {expected_labels} (the last "
                      "field is 1 when a worker process made the row)")
    run("run", "--sync", cwd=project)

    alerts = project / "statistics.log"
    run("check-alerts", cwd=project)
    run("check-alerts", "--sync", cwd=project)
    corral.expect(alerts.exists() and len(alerts.read_text().splitlines()) == 3,
                  "check-alerts did not write each species once to "
                  "statistics.log")

    run("dbshell", "-c", 'SELECT COUNT(*) AS n FROM "Observation"',
        cwd=project, check=_cell("150"))
    run("test", cwd=project, check=lambda r: _contains(
        r.stdout + r.stderr, "OK"))
    report = run("qareport", cwd=project)
    # The same report from the source form: the executable's coverage and
    # flake8 must measure what the installed libraries measure.
    source = subprocess.run(
        [sys.executable, str(ROOT / "corral.py"), "qareport"], cwd=project,
        capture_output=True, text=True, timeout=300,
        env={**os.environ, "CORRAL_PROJECT": str(project)},
    )
    try:
        frozen_qai = _qai_line(report.stdout)
        source_qai = _qai_line(source.stdout)
        corral.expect(frozen_qai == source_qai,
                      f"qareport: the executable says {frozen_qai!r}, the "
                      f"source form {source_qai!r}")
    except AssertionError as exc:
        corral.expect(False, f"qareport output: {exc}\n--- executable\n"
                      f"{report.stdout[-1500:]}\n--- source form\n"
                      f"{source.stdout[-1500:]}{source.stderr[-1500:]}")

    # The SQL prompt, on a terminal (prompt-toolkit and pygments inside).
    _interactive_dbshell(corral, project)

    # A migration: alembic writes the revision from its bundled templates.
    with open(project / "irispl" / "models.py", "a") as models:
        models.write(
            '\n\nclass Night(db.Model):\n    """An observing night."""\n\n'
            '    __tablename__ = "Night"\n\n'
            "    id = db.Column(db.Integer, primary_key=True)\n"
        )
    run("makemigrations", "-m", "add nights", cwd=project,
        check=lambda r: _contains(r.stdout, "+ table Night"))
    run("migrate", "--noinput", cwd=project)
    run("dbshell", "-c", 'SELECT COUNT(*) AS nights FROM "Night"',
        cwd=project, check=_cell("0"))

    # Import paths: --path, CORRAL_PATH and the project's vendor/ folder.
    for folder, value in (("extra_a", "from --path"),
                          ("extra_b", "from CORRAL_PATH")):
        (base / folder).mkdir()
        (base / folder / f"{folder}_mod.py").write_text(f"VALUE = {value!r}\n")
    script = base / "paths.py"
    script.write_text(
        "import sys\n"
        "import extra_a_mod, extra_b_mod, starcat\n"
        "print(extra_a_mod.VALUE, '|', extra_b_mod.VALUE, '|',\n"
        "      starcat.label('é'), '| utf8', sys.flags.utf8_mode)\n"
    )
    run("--path", base / "extra_a", "exec", script, cwd=project,
        env={"CORRAL_PATH": base / "extra_b"},
        check=lambda r: _contains(
            r.stdout, f"from --path | from CORRAL_PATH | é#{_checksum('é')}"
            " | utf8 1"))

    # Errors read as in the source form: one line, a traceback on request.
    def one_line(result):
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("corral: error: "), (
            "not one 'corral: error:' line")
        _contains(lines[0], "extra_a_mod")

    run("exec", script, cwd=project, status=1, check=one_line)
    run("--traceback", "exec", script, cwd=project, status=1,
        check=lambda r: _contains(r.stderr, "Traceback (most recent call"))
    run("--project", base / "nowhere", "lssteps", cwd=base, status=1,
        check=lambda r: _contains(r.stderr, "corral: error: --project"))

    # DuckDB: its engine is unpacked from the executable on first use.
    duck = {"IRISPL_CONNECTION": f"duckdb:///{base / 'iris.duckdb'}"}
    run("createdb", "--noinput", cwd=project, env=duck)
    run("load", cwd=project, env=duck)
    run("run", "--sync", cwd=project, env=duck)
    run("dbshell", "-c", 'SELECT COUNT(*) AS n FROM "Label"', cwd=project,
        env=duck, check=_cell("3"))

    assert not corral.problems, "\n\n".join(corral.problems)
