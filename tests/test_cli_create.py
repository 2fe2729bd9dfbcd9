"""`corral create`: what it writes, what it refuses, and that a fresh
scaffold works as generated."""

import os
import subprocess
import sys

import pytest

from conftest import ROOT, run_corral

EXPECTED_FILES = [
    "in_corral.py", "pipe/__init__.py", "pipe/settings.py",
    "pipe/pipeline.py", "pipe/models.py", "pipe/load.py", "pipe/steps.py",
    "pipe/alerts.py", "pipe/commands.py", "pipe/tests.py",
]


def test_create_writes_the_project(tmp_path):
    result = run_corral("create", "pipe", cwd=tmp_path)
    assert result.returncode == 0, result
    project = tmp_path / "pipe"
    for name in EXPECTED_FILES:
        assert (project / name).is_file(), name
    assert (project / "pipe" / "migrations").is_dir()
    assert not list(project.rglob("*-tpl"))
    settings = (project / "pipe" / "settings.py").read_text()
    assert 'CONNECTION = "sqlite:///pipe-dev.db"' in settings
    assert "{{" not in settings
    assert "corral createdb" in result.stdout


def test_create_into_given_directory(tmp_path):
    result = run_corral("create", "pipe", tmp_path / "elsewhere")
    assert result.returncode == 0, result
    assert (tmp_path / "elsewhere" / "in_corral.py").is_file()
    assert (tmp_path / "elsewhere" / "pipe" / "steps.py").is_file()


@pytest.mark.parametrize("name, reason", [
    ("3stars", "Python identifier"),
    ("my-pipe", "Python identifier"),
    ("class", "keyword"),
    ("json", "standard-library"),
    ("corral", "reserved"),
    ("test", "reserved"),
    ("pytest", "already importable"),
])
def test_create_refuses_bad_names(tmp_path, name, reason):
    result = run_corral("create", name, cwd=tmp_path)
    assert result.returncode == 2, result
    assert reason in result.stderr
    assert result.stderr.count("\n") == 1
    assert list(tmp_path.iterdir()) == []


def test_create_refuses_a_non_empty_target(tmp_path):
    target = tmp_path / "pipe"
    target.mkdir()
    (target / "notes.txt").write_text("mine")
    result = run_corral("create", "pipe", cwd=tmp_path)
    assert result.returncode == 2, result
    assert "already exists and is not empty" in result.stderr
    assert [p.name for p in target.iterdir()] == ["notes.txt"]


def test_fresh_scaffold_runs_as_generated(tmp_path):
    run_corral("create", "pipe", cwd=tmp_path)
    project = tmp_path / "pipe"
    for args in (["createdb", "--noinput"], ["load"], ["run", "--sync"],
                 ["check-alerts", "--sync"], ["count"]):
        result = run_corral(*args, cwd=project)
        assert result.returncode == 0, (args, result)
    assert "Example: 1" in result.stdout
    log = (project / "alerts.log").read_text()
    assert "first example" in log
    assert (project / "pipe-dev.db").is_file()


def test_in_corral_py_runs_commands(tmp_path):
    """`python in_corral.py COMMAND` works, from another directory too."""
    run_corral("create", "pipe", cwd=tmp_path)
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    env.pop("CORRAL_SETTINGS_MODULE", None)
    completed = subprocess.run(
        [sys.executable, str(tmp_path / "pipe" / "in_corral.py"), "lssteps"],
        cwd=tmp_path, env=env, capture_output=True, text=True,
    )
    assert completed.returncode == 0, completed.stderr
    assert "MyStep" in completed.stdout


def test_createdb_asks_before_creating(tmp_path):
    run_corral("create", "pipe", cwd=tmp_path)
    project = tmp_path / "pipe"
    refused = run_corral("createdb", cwd=project, input="no\n")
    assert refused.returncode == 0, refused
    assert "Do you want to create the database [Yes/no]?" in refused.stdout
    assert not (project / "pipe-dev.db").exists()
    accepted = run_corral("createdb", cwd=project, input="yes\n")
    assert accepted.returncode == 0, accepted
    assert "Created tables: Example, __corral_alerted__" in accepted.stdout
    no_answer = run_corral("createdb", cwd=project, input="")
    assert no_answer.returncode == 1
    assert "--noinput" in no_answer.stderr


def test_createdb_creates_only_missing_tables(tmp_path):
    run_corral("create", "pipe", cwd=tmp_path)
    project = tmp_path / "pipe"
    assert run_corral("createdb", "--noinput", cwd=project).returncode == 0
    assert run_corral("load", cwd=project).returncode == 0
    models = project / "pipe" / "models.py"
    models.write_text(models.read_text() + '''

class Extra(db.Model):
    __tablename__ = "Extra"
    id = db.Column(db.Integer, primary_key=True)
''')
    result = run_corral("createdb", "--noinput", cwd=project)
    assert result.returncode == 0, result
    assert "Created tables: Extra" in result.stdout
    count = run_corral("count", cwd=project)
    assert "Example: 1" in count.stdout, "existing rows must survive"
    again = run_corral("createdb", "--noinput", cwd=project)
    assert "nothing to create" in again.stdout
