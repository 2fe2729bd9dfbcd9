"""The tutorial's flow, end to end, on every backend: createdb, load, run,
check-alerts, and the statistics the iris data must give."""

import sqlalchemy as sa

from conftest import make_pipeline, run_corral

EXPECTED_MEANS = {
    "Iris-setosa": (5.006, 3.418, 1.464, 0.244),
    "Iris-versicolor": (5.936, 2.77, 4.26, 1.326),
    "Iris-virginica": (6.588, 2.974, 5.552, 2.026),
}


def _statistics(url):
    engine = sa.create_engine(url)
    # Lightweight table objects, not reflection: duckdb-engine cannot
    # reflect tables with current DuckDB releases.
    stats = sa.table("Statistics", *map(sa.column, [
        "name_id", "mean_sepal_length", "mean_sepal_width",
        "mean_petal_length", "mean_petal_width"]))
    name = sa.table("Name", sa.column("id"), sa.column("name"))
    query = sa.select(
        name.c.name, stats.c.mean_sepal_length, stats.c.mean_sepal_width,
        stats.c.mean_petal_length, stats.c.mean_petal_width,
    ).join_from(stats, name, stats.c.name_id == name.c.id)
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    engine.dispose()
    return {r[0]: tuple(round(v, 3) for v in r[1:]) for r in rows}


def test_iris_pipeline_on_each_backend(tmp_path, any_backend_url):
    project = make_pipeline(tmp_path, connection=any_backend_url)
    for args in (["createdb", "--noinput"], ["load"], ["run", "--sync"],
                 ["check-alerts", "--sync"]):
        result = run_corral(*args, cwd=project)
        assert result.returncode == 0, result
    url = any_backend_url
    assert _statistics(url) == EXPECTED_MEANS
    log = (project / "statistics.log").read_text().splitlines()
    assert len(log) == 3
    assert any("Iris-setosa: sepal_length=5.006" in line for line in log)

    # A second round changes nothing and alerts nobody twice.
    again = run_corral("run", "--sync", cwd=project)
    assert again.returncode == 0, again
    assert _statistics(url) == EXPECTED_MEANS
    alerts = run_corral("check-alerts", "--sync", cwd=project)
    assert alerts.returncode == 0, alerts
    assert len((project / "statistics.log").read_text().splitlines()) == 3
