"""`corral shell`, `exec`, `notebook` and `sqlitebrowser` run as programs on
a scaffolded iris pipeline."""

import importlib.util
import json
import os
import subprocess
import sys
import textwrap

import pytest

from conftest import ROOT, make_pipeline, run_corral

HAVE_IPYTHON = importlib.util.find_spec("IPython") is not None
HAVE_BPYTHON = importlib.util.find_spec("bpython") is not None
HAVE_JUPYTER = importlib.util.find_spec("ipykernel") is not None and (
    importlib.util.find_spec("notebook") is not None
    or importlib.util.find_spec("jupyterlab") is not None)


@pytest.fixture(scope="module")
def loaded(tmp_path_factory):
    """The iris pipeline on SQLite, loaded, with a name in SHELL_LOCALS."""
    project = make_pipeline(tmp_path_factory.mktemp("shell"))
    settings = project / "irispl" / "settings.py"
    settings.write_text(settings.read_text() + textwrap.dedent("""
        import math
        SHELL_LOCALS = {"answer": 42, "sqrt": math.sqrt}
    """))
    for args in (["createdb", "--noinput"], ["load"]):
        result = run_corral(*args, cwd=project)
        assert result.returncode == 0, result
    return project


BANNER = (
    "LOAD: Name, Observation, Statistics (irispl.models)\n"
    "LOAD: session (sqlalchemy.orm.session)\n"
    "LOAD: db, settings (corral)\n"
    "LOAD: answer, sqrt (settings.SHELL_LOCALS)\n"
    + "-" * 80 + "\n"
)


def test_plain_shell_with_piped_code(loaded):
    result = run_corral("shell", "--shell", "plain", cwd=loaded, input=(
        "print(session.query(Observation).count())\n"
        "print(answer, sqrt(16), settings.PIPELINE_NAME)\n"
        "for name in session.query(Name).order_by(Name.id):\n"
        "    print(name.name)\n"
        "\n"
    ))
    assert result.returncode == 0, result
    assert result.stdout.startswith(BANNER)
    printed = [line.lstrip("> .") for line in result.stdout[len(BANNER):]
               .splitlines()]
    assert printed[:5] == ["150", "42 4.0 irispl", "Iris-setosa",
                           "Iris-versicolor", "Iris-virginica"]


@pytest.mark.skipif(HAVE_IPYTHON or HAVE_BPYTHON,
                    reason="IPython or bpython is installed here")
def test_default_shell_is_plain_without_ipython_or_bpython(loaded):
    result = run_corral("shell", cwd=loaded, input="print(len(Name.__name__))\n")
    assert result.returncode == 0, result
    assert result.stdout.startswith(BANNER)
    assert ">>> 4\n" in result.stdout


def test_shell_command_option(loaded):
    result = run_corral("shell", "-c",
                        "print(session.get(Name, 2).name, answer)", cwd=loaded)
    assert result.returncode == 0, result
    assert result.stdout == "Iris-versicolor 42\n"


@pytest.mark.parametrize("shell, installed, package", [
    ("ipython", HAVE_IPYTHON, "ipython"),
    ("bpython", HAVE_BPYTHON, "bpython"),
])
def test_missing_shell_says_what_to_install(loaded, shell, installed, package):
    if installed:
        pytest.skip(f"{shell} is installed here")
    result = run_corral("shell", "--shell", shell, cwd=loaded)
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1
    assert f"pip install {package}" in result.stderr
    assert "--shell plain" in result.stderr


@pytest.mark.skipif(HAVE_JUPYTER, reason="Jupyter is installed here")
def test_notebook_without_jupyter_says_what_to_install(loaded):
    result = run_corral("notebook", cwd=loaded)
    assert result.returncode == 1
    assert result.stderr == (
        "corral: error: notebook: Jupyter is not installed; install it with "
        "'pip install notebook' (or 'pip install jupyterlab')\n")


def test_notebook_kernel_loads_the_pipeline_from_anywhere(loaded, tmp_path):
    """The kernel spec's command and environment, run from another folder,
    give IPython the same names as `corral shell` (an object with IPython's
    push() method stands in for the IPython shell)."""
    from corral_lib.cli.shells import write_kernel_spec
    from corral_lib.conf import Project

    spec_dir = write_kernel_spec(
        str(tmp_path), "corral-irispl", Project(loaded, "irispl.settings"))
    spec = json.loads(open(os.path.join(spec_dir, "kernel.json")).read())
    assert spec["display_name"] == "Corral: irispl"
    assert spec["argv"][1:3] == ["-m", "ipykernel_launcher"]
    extension = spec["argv"][-1]
    assert extension == "--IPKernelApp.extensions=['corral_lib.cli.shells']"

    code = textwrap.dedent("""
        import importlib
        pushed = {}
        class Shell:
            def push(self, names):
                pushed.update(names)
        module = importlib.import_module("corral_lib.cli.shells")
        module.load_ipython_extension(Shell())
        print(pushed["session"].query(pushed["Observation"]).count(),
              pushed["answer"])
    """)
    env = {k: v for k, v in os.environ.items() if not k.startswith("CORRAL_")}
    env.update(spec["env"])
    completed = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, env=env,
        capture_output=True, text=True, timeout=120)
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.startswith(BANNER)
    assert completed.stdout.endswith("150 42\n")


EXEC_SCRIPT = """\
import sys

from corral import db
from irispl.models import Observation

import helper

print("name:", __name__)
print("argv:", sys.argv)
with db.session_scope() as session:
    print("rows:", session.query(Observation).count())
print("helper:", helper.VALUE)
if len(sys.argv) > 1:
    sys.exit(int(sys.argv[1]) if sys.argv[1].isdigit() else sys.argv[1])
"""


@pytest.fixture
def script(tmp_path):
    folder = tmp_path / "scripts"
    folder.mkdir()
    (folder / "helper.py").write_text("VALUE = 'beside the script'\n")
    path = folder / "report.py"
    path.write_text(EXEC_SCRIPT)
    return path


def test_exec_runs_a_script_as_main_with_its_arguments(loaded, script):
    result = run_corral("exec", script, "3", "--night", "2026-12-01",
                        cwd=loaded)
    assert result.returncode == 3, result
    assert result.stdout.splitlines() == [
        "name: __main__",
        f"argv: ['{script}', '3', '--night', '2026-12-01']",
        "rows: 150",
        "helper: beside the script",
    ]


def test_exec_script_ending_normally_exits_zero(loaded, script):
    result = run_corral("exec", script, cwd=loaded)
    assert result.returncode == 0, result
    assert "rows: 150" in result.stdout


def test_exec_script_exiting_with_a_message(loaded, script):
    result = run_corral("exec", script, "bad-night", cwd=loaded)
    assert result.returncode == 1
    assert result.stderr == "bad-night\n"


def test_exec_missing_script(loaded):
    result = run_corral("exec", "nowhere.py", cwd=loaded)
    assert result.returncode == 2
    assert result.stderr == "corral: error: exec: no such script: nowhere.py\n"


def test_sqlitebrowser_opens_the_database_file(loaded, tmp_path):
    """A stand-in sqlitebrowser on PATH records what it was given."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    record = tmp_path / "args.txt"
    program = bin_dir / "sqlitebrowser"
    program.write_text(f'#!/bin/sh\necho "$@" > {record}\nexit 5\n')
    program.chmod(0o755)
    result = run_corral("sqlitebrowser", cwd=loaded,
                        env={"PATH": f"{bin_dir}:/usr/bin:/bin"})
    assert result.returncode == 5, result
    assert record.read_text() == f"{loaded / 'irispl-dev.db'}\n"


def test_sqlitebrowser_not_installed(loaded, tmp_path):
    result = run_corral("sqlitebrowser", cwd=loaded,
                        env={"PATH": str(tmp_path)})
    assert result.returncode == 1
    assert result.stderr.startswith(
        "corral: error: sqlitebrowser is not installed or not on PATH;")
    assert "corral dbshell" in result.stderr


def test_sqlitebrowser_refuses_other_databases(tmp_path, duckdb_url):
    project = make_pipeline(tmp_path, connection=duckdb_url)
    result = run_corral("sqlitebrowser", cwd=project)
    assert result.returncode == 1
    assert result.stderr == (
        "corral: error: sqlitebrowser opens SQLite databases only, and "
        "CONNECTION is a duckdb database; use 'corral dbshell' instead\n")


def test_commands_are_listed_in_help():
    result = run_corral("--help", cwd=ROOT)
    for command in ("shell", "dbshell", "notebook", "exec", "sqlitebrowser"):
        assert f"    {command} " in result.stdout
