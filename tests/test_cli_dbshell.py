"""`corral dbshell` run as a program: -c and piped SQL on every backend, the
plain prompt with piped input, and the full prompt in a real terminal."""

import csv
import io
import json
import os
import sys
import time

import pexpect
import pytest

from conftest import ROOT, make_pipeline, run_corral


@pytest.fixture(scope="module")
def loaded(tmp_path_factory):
    """The iris pipeline on SQLite with the iris data loaded."""
    project = make_pipeline(tmp_path_factory.mktemp("dbshell"))
    for args in (["createdb", "--noinput"], ["load"]):
        result = run_corral(*args, cwd=project)
        assert result.returncode == 0, result
    return project


def quoted(url, name):
    return f"`{name}`" if url.startswith("mysql") else f'"{name}"'


def csv_blocks(text):
    """Split the output of several CSV results at their header lines."""
    blocks, current = [], None
    for line in text.splitlines():
        if line in ("id,name", "name,type", "column,type,nullable,default,key"):
            current = []
            blocks.append(current)
        current.append(line)
    return [list(csv.DictReader(io.StringIO("\n".join(b)))) for b in blocks]


def test_non_interactive_forms_on_each_backend(tmp_path, any_backend_url):
    project = make_pipeline(tmp_path, connection=any_backend_url)
    created = run_corral("createdb", "--noinput", cwd=project)
    assert created.returncode == 0, created
    name = quoted(any_backend_url, "Name")

    # SQL piped on standard input: the first failing statement ends the run
    # with the database's message on one line, and what came before it
    # stays committed.
    failed = run_corral("dbshell", cwd=project, input=(
        f"INSERT INTO {name} (id, name) VALUES (1, 'Iris-setosa');\n"
        f"INSERT INTO {name} (id, name)\n  VALUES (2, 'Iris-virginica');\n"
        f"SELECT count(*) AS n FROM {name};\n"
        "SELECT * FROM no_such_table;\n"
        "SELECT 'not reached' AS late;\n"
    ))
    assert failed.returncode == 1, failed
    errors = [line for line in failed.stderr.splitlines()
              if line.startswith("corral: error:")]
    assert len(errors) == 1, failed
    assert errors[0].startswith("corral: error: SQL error at line 5: ")
    assert "no_such_table" in errors[0]
    assert "Traceback" not in failed.stderr
    assert "|   2 |" in failed.stdout and "not reached" not in failed.stdout

    # -c with statements and the catalogue commands, as CSV: listing and
    # describing tables are the same commands on every backend.
    result = run_corral(
        "dbshell", "--format", "csv", "-c",
        f"SELECT id, name FROM {name} ORDER BY id;\n"
        ".tables\n.describe observation", cwd=project)
    assert result.returncode == 0, result
    rows, tables, described = csv_blocks(result.stdout)
    assert rows == [{"id": "1", "name": "Iris-setosa"},
                    {"id": "2", "name": "Iris-virginica"}]
    assert {"Name", "Observation", "Statistics", "__corral_alerted__"} <= {
        row["name"] for row in tables}
    assert [row["column"] for row in described] == [
        "id", "name_id", "sepal_length", "sepal_width", "petal_length",
        "petal_width"]
    keys = {row["column"]: row["key"] for row in described}
    assert keys["id"] == "PK"
    assert keys["name_id"] == "FK -> Name.id"
    assert keys["sepal_length"] == ""
    nullable = {row["column"]: row["nullable"] for row in described}
    assert nullable["name_id"] == "NO"


def test_one_failing_statement_with_c(loaded):
    result = run_corral("dbshell", "-c", "SELECT * FROM no_such_table",
                        cwd=loaded)
    assert result.returncode == 1
    assert result.stderr == (
        "corral: error: SQL error: no such table: no_such_table\n")


def test_json_result(loaded):
    result = run_corral("dbshell", "--format", "json", "-c",
                        "SELECT id, name FROM Name ORDER BY id", cwd=loaded)
    assert result.returncode == 0, result
    assert json.loads(result.stdout) == [
        {"id": 1, "name": "Iris-setosa"}, {"id": 2, "name": "Iris-versicolor"},
        {"id": 3, "name": "Iris-virginica"}]


def test_row_limit_in_a_script(loaded):
    result = run_corral("dbshell", "--format", "csv", "--limit", "3", "-c",
                        "SELECT id FROM Observation ORDER BY id", cwd=loaded)
    assert result.returncode == 0, result
    assert result.stdout == "id\n1\n2\n3\n"
    assert "stopped at the row limit of 3" in result.stderr


def test_plain_prompt_with_piped_input(loaded):
    result = run_corral("dbshell", "--shell", "plain", cwd=loaded, input=(
        "SELECT count(*) AS n\nFROM Observation;\n"
        "SELECT * FROM nope;\n"
        ".format csv\n"
        "SELECT name FROM Name WHERE id = 1;\n"
    ))
    assert result.returncode == 0, result
    assert result.stdout.startswith("Connected to: sqlite:///")
    assert "SQL> ...> +-----+\n|   n |\n+=====+\n| 150 |\n" in result.stdout
    assert "name\nIris-setosa\n" in result.stdout
    assert result.stderr == "ERROR: no such table: nope\n"


def test_prompt_in_a_real_terminal(loaded):
    """Type at the prompt through a pseudo-terminal and read the screen."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CORRAL_")}
    env.update(TERM="xterm", PROMPT_TOOLKIT_NO_CPR="1",
               PAGER="sed 's/^/paged: /'")
    child = pexpect.spawn(
        sys.executable, [str(ROOT / "corral.py"), "dbshell"], cwd=str(loaded),
        env=env, dimensions=(40, 160), encoding="utf-8", timeout=30,
    )
    try:
        child.expect_exact("SQL>")
        child.send("SELECT id, name\r")
        child.expect_exact("...>")  # the statement goes on
        child.send('FROM "Name" ORDER BY id;\r')
        child.expect_exact("(3 rows)")
        assert (
            "+------+-----------------+\r\n"
            "|   id | name            |\r\n"
            "+======+=================+\r\n"
            "|    1 | Iris-setosa     |\r\n"
            "|    2 | Iris-versicolor |\r\n"
            "|    3 | Iris-virginica  |\r\n"
            "+------+-----------------+\r\n"
        ) in child.before

        # Tab completes the table name.
        child.expect_exact("SQL>")
        child.send("SELECT count(*) AS n FROM Observ\t")
        child.expect_exact("ation")
        child.send(";\r")
        child.expect_exact("(1 row)")
        assert "| 150 |" in child.before

        # Ctrl-C cancels a query that would never end, and the prompt stays.
        child.expect_exact("SQL>")
        child.send("WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 "
                   "FROM c) SELECT count(*) FROM c;\r")
        child.expect_exact("\r\n")
        time.sleep(0.5)  # let the query start; not a measurement
        child.sendintr()
        child.expect_exact("Cancelled.")
        child.expect_exact("SQL>")
        child.send("SELECT 'still here' AS s;\r")
        child.expect_exact("(1 row)")
        assert "| still here |" in child.before

        # With the pager on, results go through $PAGER.
        child.expect_exact("SQL>")
        child.send(".pager on\r")
        child.expect_exact("pager: on")
        child.expect_exact("SQL>")
        child.send("SELECT name FROM Name WHERE id = 1;\r")
        child.expect_exact("paged: | Iris-setosa |")

        child.expect_exact("SQL>")
        child.send("\x04")  # Ctrl-D leaves
        child.expect(pexpect.EOF)
    finally:
        child.close(force=True)
    assert child.exitstatus == 0
    history = (loaded / ".corral_dbshell_history").read_text()
    assert '+SELECT id, name\n+FROM "Name" ORDER BY id;\n' in history
