"""How `corral` finds the pipeline: --project, CORRAL_PROJECT,
CORRAL_SETTINGS_MODULE, or in_corral.py at or above the working directory."""

from conftest import run_corral


def _scaffold(tmp_path):
    result = run_corral("create", "pipe", cwd=tmp_path)
    assert result.returncode == 0, result
    return tmp_path / "pipe"


def test_project_option(tmp_path):
    project = _scaffold(tmp_path)
    result = run_corral("--project", project, "lssteps", cwd=tmp_path)
    assert result.returncode == 0, result
    assert "MyStep" in result.stdout


def test_project_option_accepts_the_package_folder(tmp_path):
    project = _scaffold(tmp_path)
    result = run_corral("--project", project / "pipe", "lssteps", cwd="/")
    assert result.returncode == 0, result
    assert "MyStep" in result.stdout


def test_project_variable(tmp_path):
    project = _scaffold(tmp_path)
    result = run_corral("lsalerts", cwd=tmp_path,
                        env={"CORRAL_PROJECT": str(project)})
    assert result.returncode == 0, result
    assert "MyAlert" in result.stdout


def test_settings_module_variable(tmp_path):
    project = _scaffold(tmp_path)
    result = run_corral(
        "lssteps", cwd=tmp_path,
        env={"CORRAL_SETTINGS_MODULE": "pipe.settings",
             "PYTHONPATH": str(project)},
    )
    assert result.returncode == 0, result
    assert "MyStep" in result.stdout


def test_in_corral_found_from_a_subdirectory(tmp_path):
    project = _scaffold(tmp_path)
    result = run_corral("lssteps", cwd=project / "pipe" / "migrations")
    assert result.returncode == 0, result
    assert "MyStep" in result.stdout


def test_database_path_is_relative_to_the_project(tmp_path):
    """A relative SQLite path lands beside in_corral.py wherever corral runs."""
    project = _scaffold(tmp_path)
    result = run_corral("--project", project, "createdb", "--noinput",
                        cwd=tmp_path)
    assert result.returncode == 0, result
    assert (project / "pipe-dev.db").is_file()
    assert not (tmp_path / "pipe-dev.db").exists()


def test_no_pipeline_here(tmp_path):
    result = run_corral("lssteps", cwd=tmp_path)
    assert result.returncode == 1
    assert "no pipeline found" in result.stderr
    assert "--project" in result.stderr


def test_help_works_without_a_pipeline(tmp_path):
    result = run_corral("--help", cwd=tmp_path)
    assert result.returncode == 0, result
    assert "create" in result.stdout


def test_version(tmp_path):
    import corral

    result = run_corral("--version", cwd=tmp_path)
    assert result.returncode == 0
    assert result.stdout.startswith(f"corral {corral.VERSION}")
    assert "SQLAlchemy" in result.stdout
