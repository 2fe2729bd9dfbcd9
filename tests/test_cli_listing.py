"""lssteps, lsalerts and groups, and running by name or group."""

import pytest

from conftest import make_pipeline, run_corral


@pytest.fixture(scope="module")
def iris(tmp_path_factory):
    return make_pipeline(tmp_path_factory.mktemp("listing"))


def test_lssteps_grid(iris):
    result = run_corral("lssteps", cwd=iris)
    assert result.returncode == 0, result
    lines = result.stdout.splitlines()
    assert lines[0].startswith("+") and lines[2].startswith("+=")
    assert "Step Class" in lines[1] and "Process" in lines[1]
    names = [line.split("|")[1].strip() for line in lines
             if line.startswith("| ") and "Step Class" not in line]
    assert names == ["SetosaStatistics", "StatisticsCreator",
                     "VersicolorStatistics", "VirginicaStatistics"]
    assert "default:statistics" in result.stdout
    assert "TOTAL PROCESSES: 4" in result.stdout
    assert "DEBUG PROCESS: Enabled" in result.stdout


def test_lssteps_by_group(iris):
    result = run_corral("lssteps", "-g", "statistics", cwd=iris)
    assert result.returncode == 0, result
    assert "StatisticsCreator" not in result.stdout
    assert "TOTAL PROCESSES: 3" in result.stdout


def test_lsalerts_and_groups(iris):
    alerts = run_corral("lsalerts", cwd=iris)
    assert alerts.returncode == 0, alerts
    assert "StatisticsAlert" in alerts.stdout
    groups = run_corral("groups", cwd=iris)
    assert groups.returncode == 0, groups
    assert "default:statistics" in groups.stdout


def test_run_by_name_and_by_group(tmp_path):
    project = make_pipeline(tmp_path)
    for args in (["createdb", "--noinput"], ["load"]):
        assert run_corral(*args, cwd=project).returncode == 0
    only_group = run_corral("run", "--sync", "-sg", "statistics",
                            cwd=project)
    assert only_group.returncode == 0, only_group
    assert "StatisticsCreator" not in only_group.stdout
    assert "SetosaStatistics" in only_group.stdout
    stats = run_corral("stats", cwd=project)
    assert stats.returncode == 1, "no statistics before the creator ran"
    creator = run_corral("run", "--sync", "-s", "StatisticsCreator",
                         cwd=project)
    assert creator.returncode == 0, creator
    assert "SetosaStatistics" not in creator.stdout
    setosa = run_corral("run", "--sync", "--steps", "SetosaStatistics",
                        cwd=project)
    assert setosa.returncode == 0
    stats = run_corral("stats", "--measure", "sepal_length", cwd=project)
    assert "5.006" in stats.stdout
    means = {line.split("|")[1].strip(): line.split("|")[3].strip()
             for line in stats.stdout.splitlines() if "Iris-" in line}
    assert means == {"Iris-setosa": "5.006", "Iris-versicolor": "0",
                     "Iris-virginica": "0"}, "the other two are still empty"
    alert = run_corral("check-alerts", "--sync", "-a", "StatisticsAlert",
                       cwd=project)
    assert alert.returncode == 0, alert
    log = (project / "statistics.log").read_text().splitlines()
    assert len(log) == 1 and "Iris-setosa" in log[0]


def test_listing_cache_follows_changes(tmp_path):
    """A second lssteps reads the cache; editing a step file refreshes it."""
    project = make_pipeline(tmp_path)
    first = run_corral("lssteps", cwd=project)
    assert first.returncode == 0, first
    cache = project / "irispl" / "__pycache__" / "corral-processors.json"
    assert cache.is_file()
    steps = project / "irispl" / "steps.py"
    steps.write_text(steps.read_text().replace(
        'conditions = _pending("Iris-setosa")\n    groups = ["default", '
        '"statistics"]',
        'conditions = _pending("Iris-setosa")\n    groups = ["night"]\n'
        '    procno = 3'))
    second = run_corral("lssteps", "-g", "night", cwd=project)
    assert second.returncode == 0, second
    assert "SetosaStatistics" in second.stdout
    assert "| night" in second.stdout
    assert "VirginicaStatistics" not in second.stdout
