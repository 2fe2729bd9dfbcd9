"""A pipeline's own commands (commands.py) and PIPELINE_SETUP."""

import pytest

from conftest import run_corral

COMMANDS = '''
from corral import cli, db

from . import models


class Greet(cli.BaseCommand):
    """Say hello to someone."""

    options = {"title": "greet"}

    def setup(self):
        self.parser.add_argument("who")
        self.parser.add_argument("--times", type=int, default=1)

    def handle(self, who, times):
        for _ in range(times):
            print(f"hello {who}")


class Fail(cli.BaseCommand):
    options = {"title": "fail-with", "help": "exit with a given status"}

    def setup(self):
        self.parser.add_argument("status", type=int)

    def handle(self, status):
        self.exit_with(status)


class Rows(cli.BaseCommand):
    """Count Example rows through db.Session."""

    def handle(self):
        session = db.Session()
        print("rows:", session.query(models.Example).count())
        session.close()
'''

SETUP = '''
from pathlib import Path

from corral import setup
from corral.conf import settings


class Setup(setup.PipelineSetup):
    def setup(self):
        Path(settings.PATH, "trace.txt").open("a").write("setup\\n")

    def teardown(self):
        Path(settings.PATH, "trace.txt").open("a").write("teardown\\n")
'''


@pytest.fixture
def project(tmp_path):
    assert run_corral("create", "pipe", cwd=tmp_path).returncode == 0
    project = tmp_path / "pipe"
    (project / "pipe" / "commands.py").write_text(COMMANDS)
    (project / "pipe" / "pipeline.py").write_text(SETUP)
    return project


def test_pipeline_commands_are_listed_in_help(project):
    result = run_corral("--help", cwd=project)
    assert result.returncode == 0
    assert "greet" in result.stdout
    assert "Say hello to someone." in result.stdout
    assert "fail-with" in result.stdout
    assert "exit with a given status" in result.stdout
    assert "rows" in result.stdout, "title defaults to the class name"


def test_pipeline_command_runs_with_its_arguments(project):
    result = run_corral("greet", "Vera", "--times", "2", cwd=project)
    assert result.returncode == 0, result
    assert result.stdout.splitlines() == ["hello Vera", "hello Vera"]
    usage = run_corral("greet", cwd=project)
    assert usage.returncode == 2
    assert "the following arguments are required: who" in usage.stderr


def test_exit_with_sets_the_status(project):
    assert run_corral("fail-with", "3", cwd=project).returncode == 3
    assert run_corral("fail-with", "0", cwd=project).returncode == 0


def test_commands_can_use_the_database(project):
    for args in (["createdb", "--noinput"], ["load"]):
        assert run_corral(*args, cwd=project).returncode == 0
    result = run_corral("rows", cwd=project)
    assert result.returncode == 0, result
    assert "rows: 1" in result.stdout


def test_pipeline_setup_runs_around_every_command(project):
    trace = project / "pipe" / "trace.txt"
    assert run_corral("greet", "x", cwd=project).returncode == 0
    assert trace.read_text() == "setup\nteardown\n"
    run_corral("fail-with", "4", cwd=project)
    assert trace.read_text() == "setup\nteardown\n" * 2


def test_pipeline_setup_is_optional(project):
    settings = project / "pipe" / "settings.py"
    text = settings.read_text().replace(
        'PIPELINE_SETUP = "pipe.pipeline.Setup"', "")
    settings.write_text(text)
    result = run_corral("greet", "x", cwd=project)
    assert result.returncode == 0, result
    assert not (project / "pipe" / "trace.txt").exists()


def test_pipeline_setup_that_is_not_a_setup(project):
    settings = project / "pipe" / "settings.py"
    settings.write_text(settings.read_text().replace(
        '"pipe.pipeline.Setup"', '"pipe.models.Example"'))
    result = run_corral("greet", "x", cwd=project)
    assert result.returncode == 1
    assert "PIPELINE_SETUP 'pipe.models.Example' is not a subclass" in (
        result.stderr)


def test_pipeline_command_may_not_shadow_a_built_in(project):
    commands = project / "pipe" / "commands.py"
    commands.write_text(commands.read_text() + '''

class MyRun(cli.BaseCommand):
    options = {"title": "createdb"}

    def handle(self):
        pass
''')
    result = run_corral("--help", cwd=project)
    assert result.returncode == 1
    assert "titled 'createdb', the name of a built-in command" in (
        result.stderr)
