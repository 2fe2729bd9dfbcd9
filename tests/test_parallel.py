"""Parallel runs: worker processes, partitions, rounds and the file lock."""

import multiprocessing
import subprocess
import sys

import pytest
import sqlalchemy as sa

from conftest import (
    BACKENDS,
    FILE_SUFFIXES,
    ROOT,
    SERVER_FIXTURES,
    backend_url,
    make_pipeline,
    run_corral,
)
from test_cli_run import EXPECTED_MEANS, _statistics
from test_run_support import make_items_pipeline, query, table_rows, times


@pytest.mark.parametrize("backend", BACKENDS)
def test_parallel_run_gives_the_data_of_a_sync_run(tmp_path, backend,
                                                   request):
    """The iris steps feed each other: parallel rounds finish the chain."""
    url = backend_url(request, tmp_path, backend, "iris")
    project = make_pipeline(tmp_path, connection=url)
    if backend == "sqlite":
        # run-all: the loader, then the steps, then the alerts.
        commands = (["createdb", "--noinput"], ["run-all", "-q"])
    else:
        commands = (["createdb", "--noinput"], ["load"], ["run"],
                    ["check-alerts"])
    for args in commands:
        result = run_corral(*args, cwd=project)
        assert result.returncode == 0, result
    if backend == "sqlite":
        assert [line for line in result.stdout.splitlines()
                if line.startswith("==")] == [
            "== loader", "== steps", "== alerts"]
    assert _statistics(url) == EXPECTED_MEANS
    assert len((project / "statistics.log").read_text().splitlines()) == 3
    again = run_corral("run", "--once", cwd=project)
    assert again.returncode == 0, again
    assert _statistics(url) == EXPECTED_MEANS


@pytest.mark.parametrize("backend", BACKENDS)
def test_parallel_writers_never_see_locks(tmp_path, backend, request):
    """Two steps writing the same rows, one of them in three processes,
    plus a second `corral run` started at the same time. File databases
    take turns through the lock file; the servers need none."""
    url = backend_url(request, tmp_path, backend, "items")
    project = make_items_pipeline(tmp_path, url, items=600,
                                  steps=("Mark", "Other"), CHUNK_SIZE=50)
    second = subprocess.Popen(
        [sys.executable, str(ROOT / "corral.py"), "run", "-s", "Other",
         "--procs", "2", "--partition", "1/1"],
        cwd=project, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True,
    )
    first = run_corral("run", "--procs", "3", cwd=project)
    out, err = second.communicate(timeout=300)
    assert first.returncode == 0, first
    assert second.returncode == 0, (out, err)
    for text in (first.stderr, err):
        assert "locked" not in text.lower()
    assert set(times(url).values()) == {1}
    assert query(url, 'SELECT COUNT(*), SUM(other) FROM "Item"')[0] == (
        600, 600)
    if backend in FILE_SUFFIXES:
        assert (tmp_path / f"items.{FILE_SUFFIXES[backend]}.lock").exists()
    else:
        assert not list(tmp_path.glob("*.lock"))


@pytest.mark.parametrize("backend", BACKENDS)
def test_partition_slices_cover_every_row_once(tmp_path, backend, request):
    url = backend_url(request, tmp_path, backend, "items")
    project = make_items_pipeline(tmp_path, url, items=90, tags=40,
                                  steps=("Mark", "TagStep"))
    one = run_corral("run", "--partition", "1/3", "--once", cwd=project)
    assert one.returncode == 0, one
    marked = {i for i, n in times(url).items() if n}
    assert marked == {i for i in range(1, 91) if i % 3 == 0}
    tags_one = {c for c, n in query(url, 'SELECT code, times FROM "Tag"')
                if n}
    assert 0 < len(tags_one) < 40
    # The other two slices at once, in separate programs.
    others = [
        subprocess.Popen(
            [sys.executable, str(ROOT / "corral.py"), "run", "--partition",
             part, "--once", "--procs", "2"],
            cwd=project, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True)
        for part in ("2/3", "3/3")
    ]
    for process in others:
        out, err = process.communicate(timeout=300)
        assert process.returncode == 0, (out, err)
    assert set(times(url).values()) == {1}
    assert {n for _, n in query(url, 'SELECT code, times FROM "Tag"')} == {1}


def test_bad_partition_is_one_clear_line(tmp_path):
    project = make_items_pipeline(tmp_path, items=3)
    result = run_corral("run", "--partition", "4/3", cwd=project)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "corral: error: --partition '4/3': write it as I/N with 1 <= I <= "
        "N, for example 2/4 for the second of four slices"
    ]


def test_lssteps_shows_processes_and_debug_process(tmp_path):
    project = make_items_pipeline(tmp_path, items=3,
                                  steps=("Mark", "Other"),
                                  DEBUG_PROCESS=False)
    result = run_corral("lssteps", cwd=project)
    assert result.returncode == 0, result
    rows = {row[0]: row[1] for row in table_rows(result.stdout)}
    assert rows == {"Mark": "1", "Other": "2"}
    assert "TOTAL PROCESSES: 3" in result.stdout
    assert "DEBUG PROCESS: Disabled" in result.stdout
    plan = run_corral("plan", cwd=project)
    assert plan.returncode == 0, plan
    assert table_rows(plan.stdout)[1] == ["Other", "step", "2", "3", "0"]


def _make_framework_tables(url, barrier, answers):
    from corral_lib.run.runner import ensure_framework_tables

    engine = sa.create_engine(url)
    barrier.wait()
    try:
        ensure_framework_tables(engine)
        answers.put("ok")
    except Exception as exc:  # reported to the test, which fails on it
        answers.put(repr(exc))
    finally:
        engine.dispose()


@pytest.mark.parametrize("server", SERVER_FIXTURES.values())
def test_runs_starting_together_on_a_server_all_get_the_tables(
        request, server):
    """Servers get no lock file, so several `corral run`s started at once
    on a new database all try to make the framework tables; MariaDB makes
    them outside any transaction, one after the other."""
    url = request.getfixturevalue(server)
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(4)
    answers = context.Queue()
    workers = [
        context.Process(target=_make_framework_tables,
                        args=(url, barrier, answers))
        for _ in range(4)
    ]
    for worker in workers:
        worker.start()
    got = [answers.get(timeout=60) for _ in workers]
    for worker in workers:
        worker.join(timeout=60)
    assert got == ["ok"] * 4
    tables = {name for (name,) in query(
        url, "SELECT table_name FROM information_schema.tables")}
    assert {"__corral_failures__", "__corral_runs__",
            "__corral_alerted__"} <= tables


@pytest.mark.parametrize("sync", [True, False])
def test_rounds_go_on_when_a_step_flushed_its_changes_itself(tmp_path,
                                                             sync):
    """Follow reads what Lookup writes but comes first in settings.STEPS,
    so the chain needs a second round. Lookup's queries autoflush its
    changes before the chunk is written: they are changes all the same,
    and the round after them must run."""
    url = f"sqlite:///{tmp_path / 'items.db'}"
    project = make_items_pipeline(tmp_path, url, items=30,
                                  steps=("Follow", "Lookup"), CHUNK_SIZE=10)
    result = run_corral("run", *(["--sync"] if sync else []), cwd=project)
    assert result.returncode == 0, result
    assert query(url, 'SELECT times, other, COUNT(*) FROM "Item" '
                      "GROUP BY times, other") == [(1, 1, 30)]


@pytest.mark.parametrize("backend", BACKENDS)
def test_an_alert_in_three_processes_sends_each_row_once(tmp_path, backend,
                                                         request):
    url = backend_url(request, tmp_path, backend, "items")
    project = make_items_pipeline(tmp_path, url, items=300, CHUNK_SIZE=25)
    assert run_corral("run", "--sync", cwd=project).returncode == 0
    for _ in range(2):  # the second finds nothing new
        sent = run_corral("check-alerts", "--procs", "3", cwd=project)
        assert sent.returncode == 0, sent
        assert "locked" not in sent.stderr.lower()
    lines = (project / "shout.log").read_text().splitlines()
    assert sorted(lines) == sorted(f"item {i}" for i in range(1, 301))
    assert query(url, "SELECT COUNT(*), COUNT(DISTINCT model_ids) FROM "
                      "__corral_alerted__") == [(300, 300)]
