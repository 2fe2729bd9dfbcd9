"""A row whose process() raises is rolled back alone, recorded, skipped,
and can be retried or forgotten; STRICT restores stop-at-first-error."""

import pytest

from conftest import BACKENDS, backend_url, run_corral
from test_run_support import (
    make_items_pipeline,
    query,
    set_setting,
    table_rows,
    times,
)


@pytest.mark.parametrize("backend", BACKENDS)
def test_one_bad_row_is_recorded_and_the_others_processed(tmp_path,
                                                          backend, request):
    url = backend_url(request, tmp_path, backend, "items")
    project = make_items_pipeline(tmp_path, url, items=50, BAD_IDS=[17],
                                  CHUNK_SIZE=10, FAILURE_RETRIES=2)
    result = run_corral("run", "--sync", cwd=project)
    assert result.returncode == 1, result
    assert ("corral: error: step itemspl.steps.Mark: 1 row(s) failed and "
            "were recorded; first: 17: ValueError: item 17 is bad (see "
            "'corral failures')") in result.stderr
    marked = times(url)
    assert marked[17] == 0
    assert {n for i, n in marked.items() if i != 17} == {1}
    rows = query(url, "SELECT processor, model_table, model_ids, attempts, "
                      "error, traceback FROM __corral_failures__")
    assert len(rows) == 1
    processor, table, key, attempts, error, trace = rows[0]
    assert (processor, table, key, attempts) == (
        "itemspl.steps.Mark", "Item", "17", 3)
    assert error == "ValueError: item 17 is bad"
    assert "raise ValueError" in trace

    listing = run_corral("failures", cwd=project)
    assert listing.returncode == 0, listing
    [row] = table_rows(listing.stdout)
    assert row[:4] == ["Mark", "Item", "17", "3"]
    assert row[5] == "ValueError: item 17 is bad"
    assert "1 failure(s)" in listing.stdout

    # Later runs skip the recorded row.
    again = run_corral("run", "--sync", cwd=project)
    assert again.returncode == 0, again
    assert table_rows(again.stdout)[0][:4] == ["Mark", "0", "0", "0"]

    # The code is fixed: --retry processes the row and forgets it.
    set_setting(project, "BAD_IDS", [])
    retried = run_corral("failures", "--retry", cwd=project)
    assert retried.returncode == 0, retried
    assert set(times(url).values()) == {1}
    assert query(url, "SELECT COUNT(*) FROM __corral_failures__") == [(0,)]
    assert run_corral("failures", cwd=project).stdout.strip() == (
        "No failures.")


def test_retry_that_fails_again_keeps_the_row_and_clear_forgets_it(
        tmp_path):
    url = f"sqlite:///{tmp_path / 'items.db'}"
    project = make_items_pipeline(tmp_path, url, items=20, BAD_IDS=[3, 4],
                                  FAILURE_RETRIES=0)
    assert run_corral("run", "--sync", cwd=project).returncode == 1
    retried = run_corral("failures", "--retry", "-p", "Mark", cwd=project)
    assert retried.returncode == 1, retried
    assert query(url, "SELECT model_ids, attempts FROM __corral_failures__ "
                      "ORDER BY model_ids") == [("3", 2), ("4", 2)]
    cleared = run_corral("failures", "--clear", cwd=project)
    assert cleared.stdout.strip() == "Forgot 2 failure(s)."
    # Forgotten rows are selected again by the next run.
    plan = run_corral("plan", cwd=project)
    assert table_rows(plan.stdout)[0] == ["Mark", "step", "1", "2", "0"]


def test_strict_stops_at_the_first_error_and_rolls_back_its_chunk(
        tmp_path):
    url = f"sqlite:///{tmp_path / 'items.db'}"
    project = make_items_pipeline(tmp_path, url, items=30, BAD_IDS=[15],
                                  CHUNK_SIZE=10, STRICT=True)
    result = run_corral("run", "--sync", cwd=project)
    assert result.returncode == 1, result
    assert ("corral: error: step itemspl.steps.Mark failed: ValueError: "
            "item 15 is bad") in result.stderr
    marked = times(url)
    # The first chunk (1-10) was committed, the one holding 15 was not.
    assert [i for i, n in marked.items() if n] == list(range(1, 11))
    assert query(url, "SELECT COUNT(*) FROM __corral_failures__") == [(0,)]


def test_an_alert_that_cannot_send_one_row_sends_the_others(tmp_path):
    url = f"sqlite:///{tmp_path / 'items.db'}"
    project = make_items_pipeline(tmp_path, url, items=12,
                                  BAD_ALERT_IDS=[5], FAILURE_RETRIES=1)
    assert run_corral("run", "--sync", cwd=project).returncode == 0
    result = run_corral("check-alerts", "--sync", cwd=project)
    assert result.returncode == 1, result
    assert "OSError: cannot send item 5" in result.stderr
    sent = (project / "shout.log").read_text().splitlines()
    assert sent == [f"item {i}" for i in range(1, 13) if i != 5]
    assert query(url, "SELECT model_ids, attempts FROM __corral_failures__"
                 ) == [("5", 2)]
    # Nothing is sent twice, and the failed row waits for --retry.
    again = run_corral("check-alerts", "--sync", cwd=project)
    assert again.returncode == 0, again
    set_setting(project, "BAD_ALERT_IDS", [])
    assert run_corral("failures", "--retry", cwd=project).returncode == 0
    sent = (project / "shout.log").read_text().splitlines()
    assert sorted(sent) == sorted(f"item {i}" for i in range(1, 13))
