"""Killing or stopping a run: nothing half-written, and a re-run finishes.

The step pauses at a known row (it writes a flag file and waits), so the
signal arrives mid-chunk by construction, not by timing.
"""

import os
import signal
import subprocess
import sys
import time

import pytest
import sqlalchemy as sa

from conftest import BACKENDS, ROOT, backend_url, run_corral
from test_run_support import make_items_pipeline, times


def _start(project, *args):
    return subprocess.Popen(
        [sys.executable, str(ROOT / "corral.py"), *args], cwd=project,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        start_new_session=True,
    )


def _wait_for(path, process, seconds=120):
    deadline = time.monotonic() + seconds
    while not path.exists():
        if process.poll() is not None:
            raise AssertionError(process.communicate())
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.05)


@pytest.mark.parametrize("backend", BACKENDS)
def test_sigkill_halfway_then_rerun_processes_every_row_once(
        tmp_path, backend, request):
    url = backend_url(request, tmp_path, backend, "items")
    project = make_items_pipeline(tmp_path, url, items=100, CHUNK_SIZE=10,
                                  PAUSE_AT=55)
    run = _start(project, "run", "--procs", "2")
    _wait_for(tmp_path / "paused", run)
    os.killpg(run.pid, signal.SIGKILL)
    run.wait(30)
    done = times(url)
    assert set(done.values()) <= {0, 1}
    # The chunk holding row 55 was not committed.
    assert done[55] == 0
    assert 0 < sum(done.values()) < 100
    again = run_corral("run", cwd=project)
    assert again.returncode == 0, again
    assert set(times(url).values()) == {1}


@pytest.mark.parametrize("backend", BACKENDS)
def test_sigterm_rolls_back_the_current_chunk_and_exits_143(
        tmp_path, backend, request):
    url = backend_url(request, tmp_path, backend, "items")
    project = make_items_pipeline(tmp_path, url, items=60, CHUNK_SIZE=10,
                                  PAUSE_AT=35)
    run = _start(project, "run")
    _wait_for(tmp_path / "paused", run)
    run.send_signal(signal.SIGTERM)
    # Let the paused row finish: the stop is honoured at the next row.
    (tmp_path / "release").write_text("")
    out, err = run.communicate(timeout=120)
    assert run.returncode == 143, (out, err)
    assert "corral: error: stopped by SIGTERM" in err
    assert "STOPPED" in out
    done = times(url)
    assert [i for i, n in done.items() if n] == list(range(1, 31))
    again = run_corral("run", cwd=project)
    assert again.returncode == 0, again
    assert set(times(url).values()) == {1}


def test_ctrl_c_in_a_sync_run_exits_130(tmp_path):
    url = f"sqlite:///{tmp_path / 'items.db'}"
    project = make_items_pipeline(tmp_path, url, items=30, CHUNK_SIZE=10,
                                  PAUSE_AT=12)
    run = _start(project, "run", "--sync")
    _wait_for(tmp_path / "paused", run)
    run.send_signal(signal.SIGINT)
    (tmp_path / "release").write_text("")
    out, err = run.communicate(timeout=120)
    assert run.returncode == 130, (out, err)
    assert "stopped by SIGINT" in err
    assert [i for i, n in times(url).items() if n] == list(range(1, 11))


# Not DuckDB: the test reads the database while the loop runs, and DuckDB
# lets one process at a time open the file.
@pytest.mark.parametrize("backend", ["sqlite", "postgresql", "mysql"])
def test_loop_processes_new_rows_until_stopped(tmp_path, backend, request):
    url = backend_url(request, tmp_path, backend, "items")
    project = make_items_pipeline(tmp_path, url, items=5)
    run = _start(project, "run", "--sync", "--loop", "--every", "0.2", "-q")
    deadline = time.monotonic() + 120
    while set(times(url).values()) != {1}:
        assert run.poll() is None, run.communicate()
        assert time.monotonic() < deadline
        time.sleep(0.1)
    engine = sa.create_engine(url)
    item = sa.table("Item", *(sa.column(c)
                              for c in ("id", "value", "times", "other")))
    with engine.begin() as conn:
        # Core quotes the mixed-case name as each database wants.
        conn.execute(item.insert().values(id=6, value=6.0, times=0,
                                          other=0))
    engine.dispose()
    while times(url).get(6) != 1:
        assert run.poll() is None, run.communicate()
        assert time.monotonic() < deadline
        time.sleep(0.1)
    run.send_signal(signal.SIGTERM)
    out, err = run.communicate(timeout=60)
    assert run.returncode == 143, (out, err)
    assert set(times(url).values()) == {1}
