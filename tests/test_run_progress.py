"""Progress lines, run history (`status`), `plan`, and the board itself."""

import io
import sys

import pexpect

from conftest import ROOT, run_corral
from corral_lib.progress import ProgressBoard
from test_run_support import make_items_pipeline, set_setting, table_rows


def test_progress_line_on_a_terminal_and_quiet(tmp_path):
    project = make_items_pipeline(tmp_path, items=40)
    child = pexpect.spawn(sys.executable, [str(ROOT / "corral.py"), "run",
                                           "--sync"], cwd=str(project),
                          encoding="utf-8", timeout=120)
    child.expect(r"Mark: [\d,]+/40 rows, [\d,]+ rows/s, 0 failed")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    set_setting(project, "BAD_IDS", [])
    quiet = run_corral("run", "--sync", "-q", cwd=project)
    assert quiet.returncode == 0 and quiet.stderr == ""


def test_plain_progress_lines_when_not_a_terminal(tmp_path):
    project = make_items_pipeline(tmp_path, items=30, PROGRESS_INTERVAL=0,
                                  CHUNK_SIZE=10)
    result = run_corral("run", "--sync", cwd=project)
    assert result.returncode == 0, result
    lines = [line for line in result.stderr.splitlines()
             if line.startswith("[progress @ ")]
    assert lines and lines[-1].endswith("Mark: 30/30 rows, " +
                                        lines[-1].split(", ")[1] +
                                        ", 0 failed")


def test_status_reads_the_run_history_and_plan_counts(tmp_path):
    project = make_items_pipeline(tmp_path, items=25, BAD_IDS=[7],
                                  FAILURE_RETRIES=0, steps=("Mark", "Other"))
    never = run_corral("status", cwd=project)
    assert never.returncode == 0, never
    assert [r[:2] for r in table_rows(never.stdout)] == [
        ["Loader", "never"], ["Mark", "never"], ["Other", "never"],
        ["Shout", "never"]]
    plan = run_corral("plan", cwd=project)
    assert [r[:4] for r in table_rows(plan.stdout)] == [
        ["Mark", "step", "1", "25"], ["Other", "step", "1", "25"],
        ["Shout", "alert", "1", "0"]]
    assert run_corral("run", "--procs", "2", cwd=project).returncode == 1
    status = run_corral("status", cwd=project)
    rows = {r[0]: r for r in table_rows(status.stdout)}
    assert rows["Mark"][3:5] == ["24", "1"]
    assert rows["Mark"][6] == "failed (2 processes)"
    assert rows["Other"][3:5] == ["25", "0"]
    assert rows["Other"][6] == "ok (2 processes)"
    assert rows["Shout"][1] == "never"
    plan = run_corral("plan", cwd=project)
    assert [r[:5] for r in table_rows(plan.stdout)] == [
        ["Mark", "step", "1", "0", "1"], ["Other", "step", "1", "0", "0"],
        ["Shout", "alert", "1", "24", "0"]]


def test_board_adds_up_partitions_and_throttles_plain_lines():
    out = io.StringIO()
    board = ProgressBoard(stream=out, interval=3600, tty=False)
    board.update("p.Step", "1/2", 10, 0, 50)
    board.update("p.Step", "2/2", 15, 1, 50)
    assert out.getvalue() == ""  # not due yet
    board.show(force=True)
    assert "Step: 25/100 rows" in out.getvalue()
    assert "1 failed in 2 processes" in out.getvalue()
    tty = io.StringIO()
    board = ProgressBoard(stream=tty, interval=3600, tty=True)
    board.update("p.A", "1/1", 1, 0, None)
    board.update("p.B", "1/1", 2, 0, 9)
    board.show(force=True)
    board.show(force=True)
    text = tty.getvalue()
    assert "\x1b[1F" in text and "\x1b[2F" in text  # redrawn in place
    assert "B: 2/9 rows" in text and "A: 1 rows" in text
    board.next_round()
    board.update("p.B", "1/1", 3, 0, 4)
    board.show(force=True)
    assert "B: 5/13 rows" in tty.getvalue()
