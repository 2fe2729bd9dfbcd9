"""The SQL prompt behind `corral dbshell`.

It has three front ends over one `SQLShell`:

- `run_prompt()`: a prompt-toolkit REPL with syntax highlighting, completion
  of keywords, tables and columns, a history file and history search;
- `run_plain()`: a line-based prompt that needs no terminal features;
- `run_script()`: SQL given with -c or piped on standard input, for scripts
  and machines with no terminal; it stops at the first error.

A statement ends at a `;` outside quotes and comments. Lines starting with
`.` (or `\\`) when no statement is pending are the shell's own commands
(`.help` lists them). Statements run through SQLAlchemy on one connection:
each commits on its own unless the user opened a transaction with BEGIN;
inside such a transaction each statement runs under a SAVEPOINT, so a
failing statement is undone alone and the transaction stays usable.
"""

from __future__ import annotations

import contextlib
import csv
import datetime
import decimal
import io
import json
import logging
import os
import re
import shlex
import signal
import subprocess
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, TextIO

import sqlalchemy as sa

from .errors import CorralError

logger = logging.getLogger("corral.dbshell")

FORMATS = ("grid", "plain", "csv", "json")
PROMPT = "SQL> "
CONTINUATION = "...> "
HISTORY_FILE = ".corral_dbshell_history"
#: The row limit of the interactive prompts (scripts have none by default).
DEFAULT_LIMIT = 1000
DEFAULT_PAGER = "less -SRFX"

# DuckDB cannot roll back to a savepoint; after an error inside BEGIN it
# only accepts ROLLBACK, so the shell rolls the whole transaction back.
_NO_SAVEPOINTS = {"duckdb"}
# Backends that fold unquoted names to lower case, so a table named
# "Observation" must be written with quotes.
_FOLDS_TO_LOWER = {"postgresql"}

_EXIT_WORDS = {"exit", "quit"}
# PostgreSQL statements that cannot run inside a transaction block.
_NO_TRANSACTION_BLOCK = re.compile(
    r"\s*(VACUUM|CREATE\s+DATABASE|DROP\s+DATABASE|ALTER\s+SYSTEM"
    r"|(CREATE|DROP)\s+TABLESPACE|CREATE\s+(UNIQUE\s+)?INDEX\s+CONCURRENTLY"
    r"|DROP\s+INDEX\s+CONCURRENTLY|REINDEX\b.*\bCONCURRENTLY)\b",
    re.I | re.S,
)
_ROLLBACK_TO = re.compile(r"ROLLBACK\s+(?:(?:TRANSACTION|WORK)\s+)?TO\b", re.I)


class SQLError(CorralError):
    """A statement failed; the message is the database's, on one line."""


class Cancelled(SQLError):
    """Ctrl-C stopped a running statement."""


def error_message(exc: BaseException) -> str:
    """The database's own message of a failed statement, on one line."""
    orig = getattr(exc, "orig", None) or exc
    text = str(orig).strip()
    for line in text.splitlines():
        if line.strip():
            return line.strip()
    return type(orig).__name__


# -- splitting text into statements -----------------------------------

_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_$]*")
_DOLLAR_TAG = re.compile(r"\$(?:[A-Za-z_][A-Za-z0-9_]*)?\$")


@dataclass
class Split:
    """The statements complete in a text, and what is left after them."""

    statements: list[tuple[str, int]]  # (text without ';', first line)
    rest: str
    rest_has_code: bool  # the rest holds SQL (or an unclosed quote)


def split_statements(text: str, backslash_escapes: bool = False) -> Split:
    """Cut `text` at each `;` outside quotes, comments and trigger bodies.

    Quotes are '...', "...", `...` and PostgreSQL's $tag$...$tag$; comments
    are -- to the end of the line and /* ... */. A CREATE TRIGGER statement
    ends at the `;` after the END that closes its BEGIN. Statements made
    only of comments are dropped. With `backslash_escapes` (MySQL), a
    backslash escapes the next character inside quotes. MySQL's DELIMITER
    is not understood, so a stored procedure with several statements in
    its body cannot be typed here.
    """
    statements: list[tuple[str, int]] = []
    n = len(text)
    i = start = 0
    has_code = False
    words: list[str] = []  # the first top-level words of the statement
    trigger = False
    depth = 0  # BEGIN/CASE ... END nesting inside a trigger

    def closing_quote(i: int, quote: str) -> int:
        j = i + 1
        while j < n:
            ch = text[j]
            if backslash_escapes and ch == "\\":
                j += 2
                continue
            if ch == quote:
                if j + 1 < n and text[j + 1] == quote:
                    j += 2
                    continue
                return j
            j += 1
        return -1

    while i < n:
        ch = text[i]
        if ch == "-" and text.startswith("--", i):
            end = text.find("\n", i)
            i = n if end < 0 else end
            continue
        if ch == "/" and text.startswith("/*", i):
            end = text.find("*/", i + 2)
            if end < 0:  # the comment goes on: more lines are needed
                return Split(statements, text[start:], True)
            i = end + 2
            continue
        if ch in "'\"`":
            has_code = True
            end = closing_quote(i, ch)
            if end < 0:
                return Split(statements, text[start:], True)
            i = end + 1
            continue
        if ch == "$":
            tag = _DOLLAR_TAG.match(text, i)
            if tag:
                has_code = True
                end = text.find(tag.group(), tag.end())
                if end < 0:
                    return Split(statements, text[start:], True)
                i = end + len(tag.group())
                continue
        if ch.isalpha() or ch == "_":
            word = _WORD.match(text, i)
            upper = word.group().upper()
            has_code = True
            if len(words) < 3:
                words.append(upper)
                trigger = "TRIGGER" in words and words[0] == "CREATE"
            if trigger and upper in ("BEGIN", "CASE"):
                depth += 1
            elif trigger and upper == "END" and depth:
                depth -= 1
            i = word.end()
            continue
        if ch == ";" and depth == 0:
            if has_code:
                body = text[start:i]
                first = start + len(body) - len(body.lstrip())
                statements.append((body.strip(), text.count("\n", 0, first) + 1))
            start = i + 1
            has_code, words, trigger = False, [], False
        elif not ch.isspace():
            has_code = True
        i += 1
    rest = text[start:]
    return Split(statements, rest, has_code)


def is_command(text: str) -> bool:
    """Whether `text` is one of the shell's own commands (.help, \\d...)."""
    return text.lstrip()[:1] in (".", "\\")


def is_complete(text: str, backslash_escapes: bool = False) -> bool:
    """Whether the prompt's text is ready to run when Enter is pressed."""
    stripped = text.strip()
    if not stripped or is_command(stripped):
        return True
    if stripped.lower() in _EXIT_WORDS:
        return True
    return not split_statements(text, backslash_escapes).rest_has_code


@dataclass
class Item:
    """One thing to run: an SQL statement, a shell command, or exit."""

    kind: str  # "sql", "command" or "exit"
    text: str
    line: int


class Collector:
    """Gathers lines into statements and commands, as a prompt reads them.

    A line starting with `.` or `\\` is a command when no statement is
    pending; `exit` or `quit` alone on a line leaves, as does the statement
    `exit;`.
    """

    def __init__(self, backslash_escapes: bool = False):
        self.backslash_escapes = backslash_escapes
        self.buffer = ""
        self.first_line = 0
        self.line = 0

    @property
    def pending(self) -> bool:
        return bool(self.buffer.strip())

    def feed(self, line: str) -> list[Item]:
        self.line += 1
        if not self.pending:
            stripped = line.strip()
            if is_command(stripped):
                return [Item("command", stripped, self.line)]
            if stripped.rstrip(";").strip().lower() in _EXIT_WORDS:
                return [Item("exit", stripped, self.line)]
            self.buffer, self.first_line = "", self.line
        self.buffer += line + "\n"
        split = split_statements(self.buffer, self.backslash_escapes)
        items = [self._item(text, self.first_line + line - 1)
                 for text, line in split.statements]
        if split.statements:
            consumed = len(self.buffer) - len(split.rest)
            self.first_line += self.buffer.count("\n", 0, consumed)
            self.buffer = split.rest if split.rest_has_code else ""
        return items

    def finish(self) -> list[Item]:
        """What is left at the end of the input, run as a last statement."""
        items = []
        if self.pending:
            split = split_statements(self.buffer + ";", self.backslash_escapes)
            items = [self._item(text, self.first_line + line - 1)
                     for text, line in split.statements]
            if split.rest_has_code:  # an unclosed quote: let the database say
                items.append(self._item(self.buffer.strip(), self.first_line))
        self.buffer = ""
        return items

    @staticmethod
    def _item(text: str, line: int) -> Item:
        if text.strip().lower() in _EXIT_WORDS:
            return Item("exit", text, line)
        return Item("sql", text, line)


# -- the database's catalogue ------------------------------------------


@dataclass
class Column:
    name: str
    type: str
    nullable: bool
    default: str | None
    key: str  # "PK", "FK -> table.column", or ""


def _duckdb(connection) -> bool:
    return connection.dialect.name == "duckdb"


def list_tables(connection) -> list[tuple[str, str]]:
    """The (name, "table" or "view") of the default schema, sorted."""
    if _duckdb(connection):
        # duckdb-engine's inspector queries pg_catalog tables DuckDB 2
        # lacks; DuckDB's own catalogue functions answer the same question.
        rows = connection.exec_driver_sql(
            "SELECT table_name, 'table' FROM duckdb_tables() "
            "WHERE schema_name = current_schema() "
            "AND database_name = current_database() "
            "UNION ALL SELECT view_name, 'view' FROM duckdb_views() "
            "WHERE NOT internal AND schema_name = current_schema() "
            "AND database_name = current_database()"
        ).all()
        return sorted((r[0], r[1]) for r in rows)
    inspector = sa.inspect(connection)
    names = [(n, "table") for n in inspector.get_table_names()]
    names += [(n, "view") for n in inspector.get_view_names()]
    return sorted(names)


def resolve_table(connection, name: str) -> str:
    """The table's exact name, matching `name` case-insensitively if need be."""
    name = name.strip().rstrip(";").strip()
    if len(name) > 1 and name[0] == name[-1] and name[0] in "\"`":
        name = name[1:-1]
    names = [n for n, _ in list_tables(connection)]
    if name in names:
        return name
    folded = [n for n in names if n.lower() == name.lower()]
    if len(folded) == 1:
        return folded[0]
    raise SQLError(f"no table or view named {name!r}; '.tables' lists them")


def describe_table(connection, name: str) -> list[Column]:
    """The columns of a table or view, with their keys."""
    name = resolve_table(connection, name)
    if _duckdb(connection):
        return _duckdb_columns(connection, name)
    inspector = sa.inspect(connection)
    try:
        primary = set(
            inspector.get_pk_constraint(name).get("constrained_columns") or ()
        )
        foreign = {}
        for fk in inspector.get_foreign_keys(name):
            for col, ref in zip(fk["constrained_columns"],
                                fk["referred_columns"]):
                foreign[col] = f"{fk['referred_table']}.{ref}"
    except NotImplementedError:  # views on some backends
        primary, foreign = set(), {}
    columns = []
    for col in inspector.get_columns(name):
        columns.append(Column(
            col["name"], str(col["type"]), bool(col.get("nullable", True)),
            None if col.get("default") is None else str(col["default"]),
            _key_text(col["name"], primary, foreign),
        ))
    return columns


def _key_text(column: str, primary: set, foreign: dict) -> str:
    keys = []
    if column in primary:
        keys.append("PK")
    if column in foreign:
        keys.append(f"FK -> {foreign[column]}")
    return ", ".join(keys)


def _duckdb_columns(connection, name: str) -> list[Column]:
    quoted = name.replace("'", "''")
    where = (f"table_name = '{quoted}' AND schema_name = current_schema() "
             "AND database_name = current_database()")
    primary, foreign = set(), {}
    for kind, cols, ref_table, ref_cols in connection.exec_driver_sql(
        "SELECT constraint_type, constraint_column_names, referenced_table, "
        f"referenced_column_names FROM duckdb_constraints() WHERE {where}"
    ):
        if kind == "PRIMARY KEY":
            primary.update(cols)
        elif kind == "FOREIGN KEY":
            for col, ref in zip(cols, ref_cols):
                foreign[col] = f"{ref_table}.{ref}"
    rows = connection.exec_driver_sql(
        "SELECT column_name, data_type, is_nullable, column_default "
        "FROM information_schema.columns WHERE table_name = "
        f"'{quoted}' AND table_schema = current_schema() AND "
        "table_catalog = current_database() ORDER BY ordinal_position"
    ).all()
    return [
        Column(r[0], r[1], r[2] == "YES", r[3],
               _key_text(r[0], primary, foreign))
        for r in rows
    ]


def catalog(connection) -> dict[str, list[str]]:
    """Every table and view of the default schema with its column names."""
    if _duckdb(connection):
        found: dict[str, list[str]] = {n: [] for n, _ in list_tables(connection)}
        for table, column in connection.exec_driver_sql(
            "SELECT table_name, column_name FROM information_schema.columns "
            "WHERE table_schema = current_schema() AND table_catalog = "
            "current_database() ORDER BY table_name, ordinal_position"
        ):
            found.setdefault(table, []).append(column)
        return found
    inspector = sa.inspect(connection)
    found = {}
    for table, _kind in list_tables(connection):
        try:
            found[table] = [c["name"] for c in inspector.get_columns(table)]
        except sa.exc.SQLAlchemyError:
            found[table] = []
    return found


# -- formatting results ------------------------------------------------


def _cell(value):
    """A value as the table formats show it: ints and floats stay numbers,
    the rest becomes text (a Decimal keeps its exact digits, '1.50')."""
    if isinstance(value, memoryview):
        value = bytes(value)
    if isinstance(value, (bytes, bytearray)):
        return "\\x" + bytes(value).hex()
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return value
    return value if value is None else str(value)


def _json_value(value):
    if isinstance(value, (datetime.date, datetime.time)):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, memoryview):
        value = bytes(value)
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).hex()
    if isinstance(value, uuid.UUID):
        return str(value)
    return str(value)


def _unique(names: Iterable[str]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for name in names:
        count = seen.get(name, 0) + 1
        seen[name] = count
        out.append(name if count == 1 else f"{name}_{count}")
    return out


def format_rows(columns: list[str], rows: list, fmt: str) -> str:
    """Render a result in one of FORMATS (no trailing newline)."""
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(columns)
        for row in rows:
            writer.writerow(["" if v is None else _cell(v) for v in row])
        return buffer.getvalue().rstrip("\n")
    if fmt == "json":
        keys = _unique(columns)
        return json.dumps([dict(zip(keys, row)) for row in rows], indent=2,
                          ensure_ascii=False, default=_json_value)
    from tabulate import tabulate

    cells = [[_cell(v) for v in row] for row in rows]
    # Numbers line up on their decimal point; text (even text that looks
    # like a number, such as '007') is shown exactly as stored.
    text_columns = [
        index for index in range(len(columns))
        if any(isinstance(r[index], str) for r in cells)
    ]
    text = tabulate(
        cells, headers=list(columns),
        tablefmt="grid" if fmt == "grid" else "plain",
        missingval="NULL", disable_numparse=text_columns or False,
        numalign="decimal", stralign="left", floatfmt="",
    )
    if fmt == "grid":
        text = _drop_row_rules(text, cells)
    return text


def _drop_row_rules(text: str, cells) -> str:
    """Keep only the top, header and bottom rules of a grid table.

    tabulate's grid draws a rule between rows; a result is easier to read
    without them, unless a value spans lines and the rules tell rows apart.
    """
    if any(isinstance(v, str) and "\n" in v for row in cells for v in row):
        return text
    lines = text.split("\n")
    if len(lines) <= 4:
        return text
    rule = lines[0]
    body = [line for line in lines[3:-1] if line != rule]
    return "\n".join(lines[:3] + body + lines[-1:])


# -- the shell ---------------------------------------------------------

HELP = """\
Statements end with ';' and may span lines. Commands (also with '\\'):
  .help                 this list
  .tables               the tables and views (also \\dt)
  .describe TABLE       a table's columns, types, defaults and keys (\\d)
  .format [FORMAT]      show or set the output format: grid, plain, csv,
                        json
  .limit [N]            show or set how many rows a result shows (0: all)
  .timing [on|off]      print how long each statement took
  .pager [on|off]       show results through $PAGER ({pager})
  .quit                 leave (also 'exit;', \\q or Ctrl-D)
BEGIN opens a transaction that lasts until COMMIT or ROLLBACK; otherwise
each statement is committed when it ends. Ctrl-C cancels the statement
being typed or running."""

_COMMANDS = {
    "help": "help", "h": "help", "?": "help",
    "tables": "tables", "dt": "tables",
    "describe": "describe", "d": "describe", "schema": "describe",
    "format": "format", "mode": "format",
    "limit": "limit",
    "timing": "timing",
    "pager": "pager",
    "quit": "quit", "exit": "quit", "q": "quit",
}
COMMAND_NAMES = sorted({"help", "tables", "describe", "format", "limit",
                        "timing", "pager", "quit"})


class SQLShell:
    """Runs statements and commands on one connection and prints results.

    `out` gets results, `notes` row counts, timings and notices (the
    prompts pass the terminal, scripts pass stderr or None so that a CSV
    or JSON result on stdout stays clean). A failing statement raises
    SQLError and leaves the connection usable.
    """

    def __init__(self, engine: sa.Engine, out: TextIO,
                 notes: TextIO | None = None, fmt: str = "grid",
                 limit: int = 0, timing: bool = False,
                 pager: bool = False):
        if fmt not in FORMATS:
            raise CorralError(
                f"unknown output format {fmt!r}; use one of "
                f"{', '.join(FORMATS)}"
            )
        self.engine = engine
        self.out = out
        self.notes = notes
        self.fmt = fmt
        self.limit = limit
        self.timing = timing
        self.pager = pager
        self.finished = False
        self.in_transaction = False
        self.backend = engine.dialect.name
        self.backslash_escapes = self.backend in ("mysql", "mariadb")
        self.connection = engine.connect()
        self.connection.execution_options(no_parameters=True)
        self._catalog: dict[str, list[str]] | None = None
        self._cancelled = False

    # -- entry points --------------------------------------------------

    def run_item(self, item: Item) -> None:
        """Run one statement or command; SQLError when it fails."""
        if item.kind == "exit":
            self.finished = True
        elif item.kind == "command":
            self.command(item.text)
        else:
            self.execute(item.text)

    def execute(self, sql: str) -> None:
        """Run one SQL statement and print its result."""
        words = sql.split(None, 2)
        first = words[0].upper() if words else ""
        second = words[1].upper().rstrip(";") if len(words) > 1 else ""
        if first == "BEGIN" or (first == "START" and second == "TRANSACTION"):
            return self._begin()
        if first in ("COMMIT", "END") or (
            first == "ROLLBACK" and not _ROLLBACK_TO.match(sql)
        ):
            return self._finish_transaction(first != "ROLLBACK")
        savepoint = first not in ("SAVEPOINT", "RELEASE", "ROLLBACK")
        if (self.backend == "postgresql" and not self.in_transaction
                and _NO_TRANSACTION_BLOCK.match(sql)):
            outcome = self._autocommit(lambda: self._run(sql))
        else:
            outcome = self._guarded(lambda: self._run(sql), savepoint)
        if first in ("CREATE", "ALTER", "DROP", "RENAME"):
            self._catalog = None  # names changed: reload for completion
        self._show(*outcome)

    def command(self, line: str) -> None:
        """Run a shell command such as `.tables` or `\\timing on`."""
        body = line.strip()[1:].strip().rstrip(";")
        name, _, arg = body.partition(" ")
        arg = arg.strip()
        action = _COMMANDS.get(name.lower())
        if action is None:
            raise SQLError(
                f"unknown command {line.strip()!r}; '.help' lists the commands"
            )
        getattr(self, f"_cmd_{action}")(arg)

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.connection.rollback()
        self.connection.close()

    def table_names(self) -> dict[str, list[str]]:
        """Tables and their columns for completion (loaded once, kept)."""
        if self._catalog is None:
            try:
                self._catalog = self._guarded(
                    lambda: catalog(self.connection), savepoint=True
                )
            except SQLError as exc:
                logger.debug("no catalogue for completion: %s", exc)
                return {}
        return self._catalog

    # -- transactions --------------------------------------------------

    def _begin(self) -> None:
        # SQLAlchemy opens the transaction, with a plain BEGIN: options
        # typed after BEGIN (SQLite's IMMEDIATE, an isolation level) are
        # not passed on. On PostgreSQL and MySQL, SET TRANSACTION as the
        # first statement inside sets the isolation level instead.
        if self.in_transaction:
            self._note("A transaction is already open.")
            return
        self.connection.rollback()  # end what reading may have begun
        self.connection.begin()
        self.in_transaction = True
        self._note("BEGIN")

    def _finish_transaction(self, commit: bool) -> None:
        if not self.in_transaction:
            self._note("No transaction is open.")
            return
        self.in_transaction = False
        try:
            if commit:
                self.connection.commit()
            else:
                self.connection.rollback()
        except (sa.exc.SQLAlchemyError, KeyboardInterrupt) as exc:
            self._recover()
            raise SQLError(error_message(exc)) from exc
        self._note("COMMIT" if commit else "ROLLBACK")

    def _guarded(self, work: Callable, savepoint: bool):
        """Run `work()` as the transaction rules say; SQLError on failure.

        Outside BEGIN the work is committed, or rolled back when it fails.
        Inside BEGIN it runs under a SAVEPOINT where the backend has them,
        so a failure undoes only this statement.
        """
        nested = None
        try:
            if self.in_transaction and savepoint and (
                self.backend not in _NO_SAVEPOINTS
            ):
                nested = self.connection.begin_nested()
            with self._interruptible():
                value = work()
            if nested is not None:
                nested.commit()
            elif not self.in_transaction:
                self.connection.commit()
            return value
        except (sa.exc.SQLAlchemyError, KeyboardInterrupt) as exc:
            cancelled = self._cancelled or isinstance(exc, KeyboardInterrupt)
            error = Cancelled if cancelled else SQLError
            message = "Cancelled." if cancelled else error_message(exc)
            if nested is not None and self._undo(nested):
                raise error(message) from exc
            if self.in_transaction:
                message += " The open transaction was rolled back."
                self.in_transaction = False
            self._recover()
            raise error(message) from exc

    def _autocommit(self, work: Callable):
        """Run `work()` outside any transaction.

        Statements run inside a transaction SQLAlchemy opens, and a few
        PostgreSQL statements refuse that (VACUUM, CREATE DATABASE...);
        those run with the connection in autocommit for the moment.
        """
        self.connection.rollback()
        self.connection.execution_options(isolation_level="AUTOCOMMIT")
        try:
            return self._guarded(work, savepoint=False)
        finally:
            with contextlib.suppress(sa.exc.SQLAlchemyError):
                self.connection.rollback()
                self.connection.execution_options(
                    isolation_level=self.engine.dialect.default_isolation_level
                )

    def _undo(self, nested) -> bool:
        """Roll back to the statement's savepoint; False when the whole
        transaction is lost (the connection broke)."""
        try:
            nested.rollback()
        except Exception:
            return False
        return self.connection.in_transaction() and not (
            self.connection.invalidated
        )

    def _recover(self) -> None:
        """Leave the connection usable after a failure."""
        try:
            self.connection.rollback()
        except Exception:
            with contextlib.suppress(Exception):
                self.connection.invalidate()
                self.connection.close()
            self.connection = self.engine.connect()
            self.connection.execution_options(no_parameters=True)

    @contextlib.contextmanager
    def _interruptible(self):
        """Let Ctrl-C cancel a running statement and keep the shell.

        Python runs a signal handler only between its own instructions, so
        a query running inside a C library must give it the chance: SQLite
        calls a progress handler every few thousand steps, which runs the
        handler, which interrupts the query. psycopg and PyMySQL wait in
        Python, where the KeyboardInterrupt arrives (psycopg then cancels
        the query on the server).
        """
        self._cancelled = False
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        driver = self.connection.connection.driver_connection
        interrupt = getattr(driver, "interrupt", None)
        progress = getattr(driver, "set_progress_handler", None)

        def on_sigint(_signum, _frame):
            self._cancelled = True
            if interrupt is None:
                raise KeyboardInterrupt
            interrupt()

        previous = signal.signal(signal.SIGINT, on_sigint)
        if progress is not None:
            progress(lambda: 1 if self._cancelled else 0, 10_000)
        try:
            yield
        finally:
            if progress is not None:
                progress(None, 0)
            signal.signal(signal.SIGINT, previous)

    # -- running and showing -------------------------------------------

    def _run(self, sql: str):
        started = time.perf_counter()
        result = self.connection.exec_driver_sql(sql)
        if not result.returns_rows:
            count = result.rowcount
            return None, None, False, count, time.perf_counter() - started
        columns = list(result.keys())
        if self.limit:
            rows = result.fetchmany(self.limit + 1)
            more = len(rows) > self.limit
            rows = rows[:self.limit]
        else:
            rows, more = result.fetchall(), False
        result.close()
        return columns, rows, more, None, time.perf_counter() - started

    def _show(self, columns, rows, more, count, elapsed) -> None:
        if columns is None:
            if count is not None and count >= 0:
                self._note(f"{count} row{'s' if count != 1 else ''} affected")
            else:
                self._note("OK")
        else:
            self._write(format_rows(columns, rows, self.fmt))
            if more:
                self._note(
                    f"(stopped at the row limit of {self.limit}; '.limit N' "
                    "or --limit N changes it, 0 shows every row)"
                )
            else:
                self._note(f"({len(rows)} row{'s' if len(rows) != 1 else ''})")
        if self.timing:
            self._note(f"Time: {elapsed * 1000:.1f} ms")

    def _write(self, text: str) -> None:
        if self.pager and _is_terminal(self.out):
            command = os.environ.get("PAGER") or DEFAULT_PAGER
            try:
                subprocess.run(shlex.split(command), input=text + "\n",
                               text=True, check=False)
                return
            except OSError as exc:
                self._note(f"The pager {command!r} did not start ({exc}); "
                           "'.pager off' turns it off.")
        self.out.write(text + "\n")
        self.out.flush()

    def _note(self, text: str) -> None:
        if self.notes is not None:
            self.notes.write(text + "\n")
            self.notes.flush()

    def _say(self, text: str) -> None:
        self.out.write(text + "\n")
        self.out.flush()

    # -- commands ------------------------------------------------------

    def _cmd_help(self, _arg: str) -> None:
        self._say(HELP.format(pager=os.environ.get("PAGER") or DEFAULT_PAGER))

    def _cmd_tables(self, _arg: str) -> None:
        names = self._guarded(lambda: list_tables(self.connection), True)
        self._write(format_rows(["name", "type"], names, self.fmt))

    def _cmd_describe(self, arg: str) -> None:
        if not arg:
            return self._cmd_tables(arg)
        columns = self._guarded(
            lambda: describe_table(self.connection, arg), True
        )
        rows = [(c.name, c.type, "YES" if c.nullable else "NO",
                 c.default or "", c.key) for c in columns]
        self._write(format_rows(
            ["column", "type", "nullable", "default", "key"], rows, self.fmt
        ))

    def _cmd_format(self, arg: str) -> None:
        if not arg:
            self._say(f"format: {self.fmt}")
        elif arg.lower() in FORMATS:
            self.fmt = arg.lower()
        else:
            raise SQLError(
                f"unknown format {arg!r}; use one of {', '.join(FORMATS)}"
            )

    def _cmd_limit(self, arg: str) -> None:
        if not arg:
            self._say(f"limit: {self.limit or 'none'}")
            return
        try:
            value = int(arg)
            if value < 0:
                raise ValueError
        except ValueError:
            raise SQLError(
                f"'.limit {arg}': give a whole number of rows (0: no limit)"
            ) from None
        self.limit = value

    def _toggle(self, name: str, arg: str) -> None:
        if arg.lower() in ("on", "off"):
            setattr(self, name, arg.lower() == "on")
        elif not arg:
            setattr(self, name, not getattr(self, name))
        else:
            raise SQLError(f"'.{name} {arg}': use on or off")
        self._say(f"{name}: {'on' if getattr(self, name) else 'off'}")

    def _cmd_timing(self, arg: str) -> None:
        self._toggle("timing", arg)

    def _cmd_pager(self, arg: str) -> None:
        self._toggle("pager", arg)

    def _cmd_quit(self, _arg: str) -> None:
        self.finished = True


def _is_terminal(stream) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


# -- completion --------------------------------------------------------

SQL_KEYWORDS = """
ADD ALL ALTER AND ANY AS ASC BEGIN BETWEEN BY CASE CAST CHECK COLUMN COMMIT
CONSTRAINT CREATE CROSS DEFAULT DELETE DESC DISTINCT DROP ELSE END EXCEPT
EXISTS EXPLAIN FALSE FOREIGN FROM FULL GROUP HAVING IN INDEX INNER INSERT
INTERSECT INTO IS JOIN KEY LEFT LIKE LIMIT NOT NULL OFFSET ON OR ORDER OUTER
PRIMARY REFERENCES RIGHT ROLLBACK SELECT SET TABLE THEN TRUE UNION UNIQUE
UPDATE USING VALUES VIEW WHEN WHERE WITH
AVG COALESCE COUNT LENGTH LOWER MAX MIN ROUND SUM UPPER
""".split()


class SQLCompleter:
    """Completes SQL keywords, table names and column names.

    After `table.` only that table's columns are offered. Names that must be
    quoted on the backend (upper case on PostgreSQL, spaces, reserved words)
    are inserted quoted.
    """

    def __init__(self, shell: SQLShell):
        self.shell = shell
        self.preparer = shell.engine.dialect.identifier_preparer
        self.completer = _prompt_toolkit_completer(self)

    def quote(self, name: str) -> str:
        plain = re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name)
        reserved = name.lower() in self.preparer.reserved_words
        folds = self.shell.backend in _FOLDS_TO_LOWER and name != name.lower()
        if plain and not reserved and not folds:
            return name
        return self.preparer.quote_identifier(name)

    def candidates(self, text_before_cursor: str) -> list[tuple[str, str, str]]:
        """(text to insert, what to show, kind) for the text typed so far."""
        text = text_before_cursor
        if is_command(text) and " " not in text.strip():
            typed = text.strip()[1:]
            return [(name, text.strip()[0] + name, "command")
                    for name in COMMAND_NAMES if name.startswith(typed)]
        tables = self.shell.table_names()
        qualified = re.search(r'(?:"([^"]+)"|`([^`]+)`|(\w+))\.("?\w*)$', text)
        if qualified:
            table = next(g for g in qualified.groups()[:3] if g)
            typed = qualified.group(4).lstrip('"').lower()
            columns = next((cols for name, cols in tables.items()
                            if name.lower() == table.lower()), [])
            return [(self.quote(c), c, "column") for c in columns
                    if c.lower().startswith(typed)]
        word = re.search(r'["`]?\w*$', text).group()
        typed = word.lstrip('"`').lower()
        found, seen = [], set()
        for table in sorted(tables):
            if table.lower().startswith(typed):
                found.append((self.quote(table), table, "table"))
                seen.add(table)
        for table in sorted(tables):
            for column in tables[table]:
                if column.lower().startswith(typed) and column not in seen:
                    found.append((self.quote(column), column, "column"))
                    seen.add(column)
        if not word.startswith(('"', "`")):
            lower = word[:1].islower()
            for keyword in SQL_KEYWORDS:
                if keyword.lower().startswith(typed) and keyword not in seen:
                    shown = keyword.lower() if lower else keyword
                    found.append((shown, shown, "keyword"))
        return found

    def get_completions(self, document, _event):
        from prompt_toolkit.completion import Completion

        text = document.text_before_cursor
        if is_command(text) and " " not in text.strip():
            replace = len(text.strip()) - 1
        elif re.search(r'\.("?\w*)$', text) and not is_command(text):
            replace = len(re.search(r'\.("?\w*)$', text).group(1))
        else:
            replace = len(re.search(r'["`]?\w*$', text).group())
        for insert, shown, kind in self.candidates(text):
            yield Completion(insert, start_position=-replace, display=shown,
                             display_meta=kind)


def _prompt_toolkit_completer(names: SQLCompleter):
    """`names` as prompt-toolkit's Completer. prompt-toolkit is imported
    here, not with the module, so that -c and piped SQL start faster."""
    from prompt_toolkit.completion import Completer

    class NameCompleter(Completer):
        def get_completions(self, document, complete_event):
            return names.get_completions(document, complete_event)

    return NameCompleter()


# -- front ends --------------------------------------------------------


def history_path(url, project_dir: Path | None) -> Path | None:
    """Where the prompt keeps its history: beside the database file, or in
    the project directory for server and in-memory databases."""
    from .db.engine import file_path

    path = file_path(url)
    folder = path.parent if path is not None else project_dir
    if folder is None or not os.access(folder, os.W_OK):
        return None
    return Path(folder) / HISTORY_FILE


def banner(engine: sa.Engine) -> str:
    url = engine.url.render_as_string(hide_password=True)
    return (f"Connected to: {url}\n"
            "Type '.help' for commands; 'exit;' or Ctrl-D leaves.")


def _report(shell: SQLShell, errors: TextIO, item: Item) -> None:
    """Run one item at a prompt: a failure is printed, never fatal."""
    try:
        shell.run_item(item)
    except Cancelled as exc:
        errors.write(f"{exc}\n")
        errors.flush()
    except SQLError as exc:
        errors.write(f"ERROR: {exc}\n")
        errors.flush()
    except KeyboardInterrupt:
        # Ctrl-C before the statement began or while its result printed:
        # the database is untouched or the statement already done.
        errors.write("Cancelled.\n")
        errors.flush()


def run_prompt(shell: SQLShell, history: Path | None = None,
               errors: TextIO | None = None, input=None, output=None) -> None:
    """The prompt-toolkit REPL; returns when the user leaves."""
    from prompt_toolkit import PromptSession
    from prompt_toolkit.auto_suggest import AutoSuggestFromHistory
    from prompt_toolkit.filters import completion_is_selected
    from prompt_toolkit.history import FileHistory, InMemoryHistory
    from prompt_toolkit.key_binding import KeyBindings
    from prompt_toolkit.lexers import PygmentsLexer
    from pygments.lexers.sql import MySqlLexer, PostgresLexer, SqlLexer

    errors = errors or shell.out
    bindings = KeyBindings()

    @bindings.add("enter", filter=completion_is_selected)
    def _take_completion(event):
        event.current_buffer.complete_state = None

    @bindings.add("enter", filter=~completion_is_selected)
    def _enter(event):
        buffer = event.current_buffer
        if is_complete(buffer.text, shell.backslash_escapes):
            buffer.validate_and_handle()
        else:
            buffer.insert_text("\n")

    lexer = {"postgresql": PostgresLexer, "mysql": MySqlLexer,
             "mariadb": MySqlLexer}.get(shell.backend, SqlLexer)
    session = PromptSession(
        PROMPT, multiline=True, key_bindings=bindings,
        prompt_continuation=lambda width, _line, _soft: CONTINUATION.rjust(
            width),
        lexer=PygmentsLexer(lexer),
        completer=SQLCompleter(shell).completer,
        complete_while_typing=False,
        history=FileHistory(str(history)) if history else InMemoryHistory(),
        enable_history_search=True,
        auto_suggest=AutoSuggestFromHistory(),
        input=input, output=output,
    )
    while not shell.finished:
        try:
            text = session.prompt()
        except KeyboardInterrupt:
            continue  # Ctrl-C drops what was typed
        except EOFError:
            break
        collector = Collector(shell.backslash_escapes)
        items = []
        for line in text.split("\n"):
            items.extend(collector.feed(line))
        items.extend(collector.finish())
        for item in items:
            _report(shell, errors, item)
            if shell.finished:
                break


def run_plain(shell: SQLShell, stdin: TextIO, stdout: TextIO,
              errors: TextIO | None = None) -> None:
    """A line-based prompt reading `stdin`: no terminal features needed."""
    errors = errors or stdout
    collector = Collector(shell.backslash_escapes)
    while not shell.finished:
        stdout.write(CONTINUATION if collector.pending else PROMPT)
        stdout.flush()
        try:
            line = stdin.readline()
        except KeyboardInterrupt:
            stdout.write("\n")
            collector = Collector(shell.backslash_escapes)
            continue
        if not line:
            stdout.write("\n")
            for item in collector.finish():
                _report(shell, errors, item)
            break
        for item in collector.feed(line.rstrip("\r\n")):
            _report(shell, errors, item)
            if shell.finished:
                break


def run_script(shell: SQLShell, text: str) -> None:
    """Run SQL and commands from a script; SQLError at the first failure,
    naming the line where the failing statement starts."""
    collector = Collector(shell.backslash_escapes)
    lines = text.split("\n")

    def items():
        for line in lines:
            yield from collector.feed(line)
        yield from collector.finish()

    for item in items():
        try:
            shell.run_item(item)
        except Cancelled:
            raise KeyboardInterrupt from None  # the program ends, status 130
        except SQLError as exc:
            several = "\n" in text.strip("\n")
            where = f" at line {item.line}" if several else ""
            raise SQLError(f"SQL error{where}: {exc}") from exc
        if shell.finished:
            break
