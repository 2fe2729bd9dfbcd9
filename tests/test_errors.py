"""Bad input gets one clear line and a non-zero exit, never a traceback;
--traceback shows the trace."""

import pytest

from conftest import run_corral


@pytest.fixture
def project(tmp_path):
    assert run_corral("create", "pipe", cwd=tmp_path).returncode == 0
    return tmp_path / "pipe"


def _append(path, text):
    path.write_text(path.read_text() + "\n" + text + "\n")


def _replace(path, old, new):
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))


def _one_error_line(result, *fragments):
    assert result.returncode != 0, result
    assert "Traceback" not in result.stderr, result
    errors = [line for line in result.stderr.splitlines()
              if line.startswith("corral: error:")]
    assert len(errors) == 1, result
    for fragment in fragments:
        assert fragment in errors[0], result
    return errors[0]


def test_missing_settings_module(tmp_path):
    result = run_corral("lssteps", cwd=tmp_path,
                        env={"CORRAL_SETTINGS_MODULE": "nowhere.settings"})
    _one_error_line(result, "'nowhere.settings' was not found")


def test_broken_settings_module(project):
    _append(project / "pipe" / "settings.py", "STEPS = [")
    result = run_corral("lssteps", cwd=project)
    _one_error_line(result, "syntax error", "settings.py")


def test_settings_module_raising(project):
    _append(project / "pipe" / "settings.py", "1 / 0")
    result = run_corral("run", "--sync", cwd=project)
    _one_error_line(result, "'pipe.settings' failed to load",
                    "ZeroDivisionError")


def test_steps_entry_that_does_not_import(project):
    _replace(project / "pipe" / "settings.py", "pipe.steps.MyStep",
             "pipe.stepz.MyStep")
    result = run_corral("run", "--sync", cwd=project)
    _one_error_line(result, "settings.STEPS entry 'pipe.stepz.MyStep'",
                    "no module named 'pipe.stepz'")


def test_steps_entry_that_is_not_a_step(project):
    _replace(project / "pipe" / "settings.py", "pipe.steps.MyStep",
             "pipe.models.Example")
    result = run_corral("lssteps", cwd=project)
    _one_error_line(result, "'pipe.models.Example' is not a subclass",
                    "corral.run.Step")


def test_unknown_step_name(project):
    result = run_corral("run", "--sync", "-s", "Nope", cwd=project)
    assert result.returncode == 2
    _one_error_line(result, "no step named 'Nope'", "MyStep")


def test_unknown_group(project):
    result = run_corral("check-alerts", "--sync", "-ag", "nightly",
                        cwd=project)
    assert result.returncode == 2
    _one_error_line(result, "no alert group 'nightly'", "default")


def test_connection_that_cannot_be_opened(project):
    _append(project / "pipe" / "settings.py",
            'CONNECTION = "postgresql+psycopg://nobody@127.0.0.1:1/none"')
    result = run_corral("createdb", "--noinput", cwd=project)
    _one_error_line(result, "cannot open the database of CONNECTION",
                    "127.0.0.1")


def test_connection_in_a_missing_folder(project):
    _append(project / "pipe" / "settings.py",
            'CONNECTION = "sqlite:///no/such/folder/x.db"')
    result = run_corral("createdb", "--noinput", cwd=project)
    _one_error_line(result, "does not exist", "CONNECTION")


def test_connection_that_is_not_a_url(project):
    _append(project / "pipe" / "settings.py", 'CONNECTION = "my database"')
    result = run_corral("createdb", "--noinput", cwd=project)
    _one_error_line(result, "is not a database URL")


def test_loader_yielding_something_else(project):
    assert run_corral("createdb", "--noinput", cwd=project).returncode == 0
    _replace(project / "pipe" / "load.py",
             'yield models.Example(name="first example")',
             'yield {"name": "not a model"}')
    result = run_corral("load", cwd=project)
    _one_error_line(result, "pipe.load.Loader", "not a model", "dict")
    count = run_corral("count", cwd=project)
    assert "Example: 0" in count.stdout


def test_loader_that_raises_gives_failure_status(project):
    assert run_corral("createdb", "--noinput", cwd=project).returncode == 0
    _replace(project / "pipe" / "load.py",
             "existing = self.session", "raise OSError('disk on fire')\n"
             "        existing = self.session")
    result = run_corral("load", cwd=project)
    _one_error_line(result, "loader pipe.load.Loader failed",
                    "OSError: disk on fire")
    traced = run_corral("load", "--traceback", cwd=project)
    assert traced.returncode == 1
    assert "Traceback" in traced.stderr
    assert "load.py" in traced.stderr


def test_step_that_raises_gives_failure_status(project):
    for args in (["createdb", "--noinput"], ["load"]):
        assert run_corral(*args, cwd=project).returncode == 0
    _replace(project / "pipe" / "steps.py", "example.checked = True",
             "raise ValueError(f'bad row {example.id}')")
    result = run_corral("run", "--sync", cwd=project)
    _one_error_line(result, "pipe.steps.MyStep", "ValueError: bad row 1")


def test_unknown_command_suggests_a_close_one(project):
    result = run_corral("lsstep", cwd=project)
    assert result.returncode == 2
    _one_error_line(result, "unknown command 'lsstep'", "'lssteps'")


def test_error_in_a_pipeline_command(project):
    _replace(project / "pipe" / "commands.py", "total = session",
             "total = 1 / 0\n            total = session")
    result = run_corral("count", cwd=project)
    line = _one_error_line(result, "ZeroDivisionError")
    assert "commands.py" in line
    traced = run_corral("count", "--traceback", cwd=project)
    assert "Traceback" in traced.stderr
