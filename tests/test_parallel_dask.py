"""The Dask executor: the same tasks on a local Dask cluster."""

import pytest

from conftest import run_corral
from test_run_support import make_items_pipeline, table_rows, times

pytest.importorskip(
    "distributed", reason="the 'dask' extra (distributed) is not installed")


def test_dask_executor_runs_partitions_and_records_failures(tmp_path):
    url = f"sqlite:///{tmp_path / 'items.db'}"
    project = make_items_pipeline(tmp_path, url, items=120, BAD_IDS=[50],
                                  FAILURE_RETRIES=0, CHUNK_SIZE=25,
                                  steps=("Mark", "Other"))
    result = run_corral("run", "--executor", "dask", "--procs", "2",
                        cwd=project)
    assert result.returncode == 1, result
    assert "item 50 is bad" in result.stderr
    done = times(url)
    assert done[50] == 0
    assert {n for i, n in done.items() if i != 50} == {1}
    rows = {r[0]: r for r in table_rows(result.stdout)}
    assert rows["Mark"][1:4] == ["119", "0", "1"]
    assert rows["Other"][1] == "120"
