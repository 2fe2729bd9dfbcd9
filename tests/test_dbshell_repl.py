"""The SQL prompt driven in-process through prompt-toolkit's pipe input,
against a small SQLite database: no terminal and no pipeline needed."""

import csv
import io
import json

import pytest
from prompt_toolkit.document import Document
from prompt_toolkit.input import create_pipe_input
from prompt_toolkit.output import DummyOutput

from corral_lib import dbshell
from corral_lib.db.engine import make_engine

SCHEMA = """
CREATE TABLE "Name" (id INTEGER PRIMARY KEY, name VARCHAR(50) UNIQUE);
CREATE TABLE "Observation" (
    id INTEGER PRIMARY KEY,
    name_id INTEGER NOT NULL REFERENCES "Name" (id),
    sepal_length FLOAT NOT NULL,
    petal_length FLOAT NOT NULL,
    petal_width FLOAT
);
INSERT INTO "Name" VALUES (1, 'Iris-setosa'), (2, 'Iris-virginica');
INSERT INTO "Observation" VALUES
    (1, 1, 5.1, 1.4, 0.2), (2, 1, 4.9, 1.4, NULL),
    (3, 2, 6.3, 6.0, 2.5), (4, 2, 5.8, 5.1, 1.9);
"""


@pytest.fixture
def engine(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'iris.db'}")
    with engine.begin() as conn:
        for statement in dbshell.split_statements(SCHEMA).statements:
            conn.exec_driver_sql(statement[0])
    yield engine
    engine.dispose()


def drive(engine, keys, history=None, **options):
    """Type `keys` at the prompt; return (stdout, stderr, shell)."""
    out, err = io.StringIO(), io.StringIO()
    shell = dbshell.SQLShell(engine, out, notes=out, **options)
    with create_pipe_input() as pipe:
        pipe.send_text(keys)
        pipe.close()  # Ctrl-D once everything typed is read
        dbshell.run_prompt(shell, history, errors=err, input=pipe,
                           output=DummyOutput())
    shell.close()
    return out.getvalue(), err.getvalue(), shell


def names(engine):
    with engine.connect() as conn:
        return conn.exec_driver_sql(
            'SELECT id, name FROM "Name" ORDER BY id').all()


def test_statement_spanning_lines_prints_a_grid_table(engine):
    out, err, _ = drive(
        engine, 'SELECT id, name\r  FROM "Name"\r  ORDER BY id;\r')
    assert err == ""
    assert out == (
        "+------+----------------+\n"
        "|   id | name           |\n"
        "+======+================+\n"
        "|    1 | Iris-setosa    |\n"
        "|    2 | Iris-virginica |\n"
        "+------+----------------+\n"
        "(2 rows)\n"
    )


def test_failing_statement_is_one_line_and_the_prompt_goes_on(engine):
    out, err, _ = drive(
        engine,
        "SELECT * FROM nope;\rSELECT count(*) AS n FROM Observation;\r")
    assert err == "ERROR: no such table: nope\n"
    assert "|   n |\n+=====+\n|   4 |" in out


def test_error_inside_begin_leaves_the_transaction_usable(engine):
    out, err, _ = drive(engine, (
        "BEGIN;\r"
        "INSERT INTO \"Name\" VALUES (3, 'Iris-versicolor');\r"
        "INSERT INTO \"Name\" VALUES (1, 'duplicate key');\r"
        "INSERT INTO \"Name\" VALUES (4, 'Iris-new');\r"
        "COMMIT;\r"
    ))
    assert err == "ERROR: UNIQUE constraint failed: Name.id\n"
    assert out.split("\n")[:4] == [
        "BEGIN", "1 row affected", "1 row affected", "COMMIT"]
    assert names(engine) == [(1, "Iris-setosa"), (2, "Iris-virginica"),
                             (3, "Iris-versicolor"), (4, "Iris-new")]


def test_rollback_undoes_the_open_transaction(engine):
    _, err, _ = drive(engine, (
        "BEGIN;\rDELETE FROM Observation;\rDELETE FROM \"Name\";\r"
        "ROLLBACK;\r"))
    assert err == ""
    assert len(names(engine)) == 2


def test_statements_outside_begin_commit_one_by_one(engine):
    _, err, _ = drive(engine, (
        "INSERT INTO \"Name\" VALUES (5, 'kept');\r"
        "INSERT INTO \"Name\" VALUES (5, 'clash');\r"))
    assert "UNIQUE constraint failed" in err
    assert names(engine)[-1] == (5, "kept")


@pytest.mark.parametrize("fmt", dbshell.FORMATS)
def test_each_output_format(engine, fmt):
    out, err, _ = drive(engine, (
        f".format {fmt}\r"
        "SELECT id, name, petal_width FROM Observation JOIN \"Name\" "
        "USING (id) ORDER BY id;\r"))
    assert err == ""
    body = out.rsplit("(2 rows)", 1)[0]
    if fmt == "grid":
        assert body.splitlines()[2] == "+======+================+===============+"
        assert "|    2 | Iris-virginica |        NULL   |" in body
    elif fmt == "plain":
        assert body.splitlines() == [
            "  id  name              petal_width",
            "   1  Iris-setosa               0.2",
            "   2  Iris-virginica         NULL",
        ]
    elif fmt == "csv":
        assert list(csv.reader(io.StringIO(body))) == [
            ["id", "name", "petal_width"], ["1", "Iris-setosa", "0.2"],
            ["2", "Iris-virginica", ""]]
    else:
        assert json.loads(body) == [
            {"id": 1, "name": "Iris-setosa", "petal_width": 0.2},
            {"id": 2, "name": "Iris-virginica", "petal_width": None}]


def test_limit_and_timing_commands(engine):
    out, err, shell = drive(
        engine, ".limit 2\r.timing on\rSELECT id FROM Observation;\r",
        limit=1000)
    assert err == ""
    assert shell.limit == 2
    lines = out.splitlines()
    assert lines[0] == "timing: on"
    assert lines[1:6] == ["+------+", "|   id |", "+======+",
                          "|    1 |", "|    2 |"]
    assert "|    3 |" not in out
    assert "stopped at the row limit of 2" in out
    assert lines[-1].startswith("Time: ") and lines[-1].endswith(" ms")


def test_bad_commands_say_what_to_do(engine):
    _, err, _ = drive(engine, ".limit many\r.format xml\r.frobnicate\r")
    assert err.splitlines() == [
        "ERROR: '.limit many': give a whole number of rows (0: no limit)",
        "ERROR: unknown format 'xml'; use one of grid, plain, csv, json",
        "ERROR: unknown command '.frobnicate'; '.help' lists the commands",
    ]


def test_help_lists_the_commands(engine):
    out, _, _ = drive(engine, ".help\r")
    for command in dbshell.COMMAND_NAMES:
        assert f".{command}" in out


def test_tables_and_describe(engine):
    out, err, _ = drive(
        engine, ".format csv\r.tables\r\\d observation\r")
    assert err == ""
    tables, columns = out.split("column,type,nullable,default,key\n")
    assert tables == "name,type\nName,table\nObservation,table\n"
    assert columns.splitlines() == [
        "id,INTEGER,YES,,PK",
        "name_id,INTEGER,NO,,FK -> Name.id",
        "sepal_length,FLOAT,NO,,",
        "petal_length,FLOAT,NO,,",
        "petal_width,FLOAT,YES,,",
    ]


def test_describe_unknown_table(engine):
    _, err, _ = drive(engine, ".describe Nope\r")
    assert err == "ERROR: no table or view named 'Nope'; '.tables' lists them\n"


@pytest.mark.parametrize("leave", ["exit;", "quit", ".quit", "\\q"])
def test_leaving_stops_reading(engine, leave):
    out, err, shell = drive(engine, f"{leave}\rSELECT 'after' AS late;\r")
    assert shell.finished
    assert "after" not in out and err == ""


def test_ctrl_c_drops_the_statement_being_typed(engine):
    out, err, _ = drive(engine, "SELECT * FROM\r  Obs\x03SELECT 42 AS answer;\r")
    assert err == ""
    assert "|       42 |" in out


def test_several_statements_on_one_line(engine):
    out, err, _ = drive(engine, "SELECT 1 AS a; SELECT nope; SELECT 3 AS c;\r")
    assert err == "ERROR: no such column: nope\n"
    assert "|   1 |" in out and "|   3 |" in out


def test_history_file_keeps_whole_statements(engine, tmp_path):
    history = tmp_path / dbshell.HISTORY_FILE
    drive(engine, "SELECT 1\r  AS one;\r", history=history)
    text = history.read_text()
    assert "+SELECT 1\n+  AS one;" in text


def test_history_goes_beside_the_database_file(tmp_path):
    project = tmp_path / "project"
    project.mkdir()
    assert dbshell.history_path(
        f"sqlite:///{tmp_path / 'data.db'}", project
    ) == tmp_path / dbshell.HISTORY_FILE
    assert dbshell.history_path(
        "postgresql://user@host/db", project
    ) == project / dbshell.HISTORY_FILE
    assert dbshell.history_path("sqlite://", None) is None


def completions(shell, text):
    completer = dbshell.SQLCompleter(shell).completer
    found = completer.get_completions(Document(text), None)
    return [(c.text, c.start_position) for c in found]


def test_completion_offers_tables_columns_and_keywords(engine):
    shell = dbshell.SQLShell(engine, io.StringIO())
    try:
        assert completions(shell, "SELECT * FROM Obs") == [
            ("Observation", -3)]
        assert completions(shell, "select petal_") == [
            ("petal_length", -6), ("petal_width", -6)]
        assert completions(shell, "SELECT Observation.s") == [
            ("sepal_length", -1)]
        assert completions(shell, 'SELECT "Name".') == [
            ("id", 0), ("name", 0)]
        assert ("select", -3) in completions(shell, "sel")
        assert ("SELECT", -3) in completions(shell, "SEL")
        assert completions(shell, ".ta") == [("tables", -2)]
        # A table created at the prompt is offered from then on.
        shell.execute("CREATE TABLE galaxies (redshift FLOAT)")
        assert completions(shell, "SELECT reds") == [("redshift", -4)]
    finally:
        shell.close()


def test_postgresql_completion_and_statements_outside_transactions(
        postgres_url):
    engine = make_engine(postgres_url)
    with engine.begin() as conn:
        conn.exec_driver_sql(
            'CREATE TABLE "Observation" (id INTEGER, "sepalLength" FLOAT, '
            "petal_width FLOAT)")
    shell = dbshell.SQLShell(engine, io.StringIO())
    try:
        assert completions(shell, "SELECT * FROM Obs") == [
            ('"Observation"', -3)]
        assert completions(shell, "SELECT sep") == [('"sepalLength"', -3)]
        assert completions(shell, "SELECT petal") == [("petal_width", -5)]
        # VACUUM refuses to run in a transaction block: it runs outside one,
        # and the statements after it are transactional again.
        shell.execute('VACUUM ANALYZE "Observation"')
        shell.execute("BEGIN")
        shell.execute('INSERT INTO "Observation" (id) VALUES (1)')
        shell.execute("ROLLBACK")
        shell.execute('SELECT count(*) AS n FROM "Observation"')
        assert "|   0 |" in shell.out.getvalue()
    finally:
        shell.close()
        engine.dispose()


def test_plain_prompt_reads_lines(engine):
    out, err = io.StringIO(), io.StringIO()
    shell = dbshell.SQLShell(engine, out, notes=out)
    stdin = io.StringIO("SELECT count(*)\nAS n FROM \"Name\";\nSELECT x;\n.quit\n")
    dbshell.run_plain(shell, stdin, out, err)
    shell.close()
    assert out.getvalue().startswith("SQL> ...> +-----+")
    assert "|   2 |" in out.getvalue()
    assert err.getvalue() == "ERROR: no such column: x\n"


def test_script_stops_at_the_first_error_naming_its_line(engine):
    out = io.StringIO()
    shell = dbshell.SQLShell(engine, out)
    script = ("INSERT INTO \"Name\" VALUES (7, 'seven');\n\n"
              "SELECT *\nFROM missing;\nINSERT INTO \"Name\" VALUES (8, 'x');")
    with pytest.raises(dbshell.SQLError) as failure:
        dbshell.run_script(shell, script)
    shell.close()
    assert str(failure.value) == "SQL error at line 3: no such table: missing"
    assert [r[0] for r in names(engine)] == [1, 2, 7]


def test_split_statements_respects_quotes_comments_and_triggers():
    text = (
        "SELECT 'a;b', \"c;d\" -- not; here\n;\n"
        "/* a; comment */ SELECT $$x;y$$;\n"
        "-- only a comment\n;\n"
        "CREATE TRIGGER t AFTER INSERT ON x BEGIN\n"
        "  UPDATE y SET n = CASE WHEN 1 THEN 2 END;\n"
        "  DELETE FROM z;\nEND;\n"
        "SELECT 'unfinished"
    )
    split = dbshell.split_statements(text)
    assert [s for s, _ in split.statements] == [
        "SELECT 'a;b', \"c;d\" -- not; here",
        "/* a; comment */ SELECT $$x;y$$",
        "CREATE TRIGGER t AFTER INSERT ON x BEGIN\n"
        "  UPDATE y SET n = CASE WHEN 1 THEN 2 END;\n"
        "  DELETE FROM z;\nEND",
    ]
    assert [line for _, line in split.statements] == [1, 3, 6]
    assert split.rest_has_code
    assert dbshell.is_complete("SELECT 1;\n-- done")
    assert not dbshell.is_complete("SELECT 1; /* a comment going on")
    assert not dbshell.is_complete("SELECT 1; SELECT")
    assert dbshell.split_statements(
        r"SELECT 'it\'s;';", backslash_escapes=True
    ).statements == [(r"SELECT 'it\'s;'", 1)]


def test_values_are_shown_as_stored():
    import datetime
    from decimal import Decimal

    rows = [("007", Decimal("1.50"), b"\x01\xff", datetime.date(2026, 12, 1))]
    grid = dbshell.format_rows(["code", "amount", "raw", "night"], rows, "grid")
    assert "| 007    | 1.50     | \\x01ff | 2026-12-01 |" in grid
    assert json.loads(dbshell.format_rows(["code", "amount", "raw", "night"],
                                          rows, "json")) == [
        {"code": "007", "amount": 1.5, "raw": "01ff", "night": "2026-12-01"}]


def test_command_line_offers_the_same_formats():
    from corral_lib.cli.shells import DB_FORMATS

    assert DB_FORMATS == dbshell.FORMATS
