"""Table reflection for DuckDB, read from DuckDB's own catalog functions.

duckdb-engine reflects tables with PostgreSQL's catalog queries. DuckDB
2.x lacks parts of that catalog (pg_collation, the REGCLASS type), so
`sqlalchemy.inspect(engine).get_columns(...)` fails there, and with it
everything that reflects: alembic's autogenerate and batch migrations.

`install(dialect)` gives one DuckDB dialect object reflection methods that
read `duckdb_columns()`, `duckdb_constraints()`, `duckdb_indexes()` and
`duckdb_tables()` instead. Only that object changes: other engines, and
the duckdb-engine package itself, are left alone.

DuckDB keeps no names for PRIMARY KEY, UNIQUE and FOREIGN KEY constraints
(it makes up names such as "Name_name_key"), so reflected constraint names
never match the names a model's naming convention gives; code that compares
constraints must match them by their columns (the migration environment
does).
"""

from __future__ import annotations

import re
import types
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine.reflection import ObjectKind, ObjectScope

# DuckDB type names -> generic SQLAlchemy types. Generic types, rather than
# PostgreSQL's, render back correctly when a table is rebuilt and compare
# equal to the types models declare.
_TYPES: dict[str, Any] = {
    "BOOLEAN": sa.Boolean,
    "TINYINT": sa.SmallInteger,
    "SMALLINT": sa.SmallInteger,
    "INTEGER": sa.Integer,
    "BIGINT": sa.BigInteger,
    "UTINYINT": sa.SmallInteger,
    "USMALLINT": sa.Integer,
    "UINTEGER": sa.BigInteger,
    "FLOAT": sa.Float,
    "DOUBLE": sa.Double,
    "VARCHAR": sa.String,
    "BLOB": sa.LargeBinary,
    "DATE": sa.Date,
    "TIME": sa.Time,
    "TIMESTAMP": sa.DateTime,
    "TIMESTAMP WITH TIME ZONE": lambda: sa.DateTime(timezone=True),
    "INTERVAL": sa.Interval,
    "UUID": sa.Uuid,
    "JSON": sa.JSON,
}


class DuckDBType(sa.types.UserDefinedType):
    """A DuckDB type with no SQLAlchemy counterpart (STRUCT, MAP, lists,
    ...), kept as its DuckDB spelling so a rebuilt table gets it back."""

    cache_ok = True

    def __init__(self, spec: str):
        self.spec = spec

    def get_col_spec(self, **kw) -> str:
        return self.spec

    def __repr__(self) -> str:
        return f"DuckDBType({self.spec!r})"


def column_type(spec: str):
    """The SQLAlchemy type for a DuckDB `data_type` string."""
    decimal = re.fullmatch(r"DECIMAL\((\d+),\s*(\d+)\)", spec)
    if decimal:
        return sa.Numeric(int(decimal.group(1)), int(decimal.group(2)))
    factory = _TYPES.get(spec)
    if factory is not None:
        return factory()
    return DuckDBType(spec)


def _relations(connection, schema, filter_names, scope, kind):
    """(database, schema, name) of the tables and views reflection asks
    for, in catalog order."""
    database, schema = _split_schema(schema)
    wanted_kinds = []
    if ObjectKind.TABLE in kind:
        wanted_kinds.append("duckdb_tables()")
    if ObjectKind.VIEW in kind:
        wanted_kinds.append("duckdb_views()")
    found = []
    for source in wanted_kinds:
        name_column = "table_name" if "tables" in source else "view_name"
        rows = connection.exec_driver_sql(
            f"SELECT database_name, schema_name, {name_column}, temporary "
            f"FROM {source} WHERE NOT internal "
            "AND schema_name = coalesce(?, current_schema()) "
            "AND (temporary OR database_name = "
            "coalesce(?, current_database()))",
            (schema, database),
        ).all()
        for db_name, schema_name, name, temporary in rows:
            if scope is ObjectScope.DEFAULT and temporary:
                continue
            if scope is ObjectScope.TEMPORARY and not temporary:
                continue
            if filter_names is not None and name not in filter_names:
                continue
            found.append((db_name, schema_name, name))
    return found


def _split_schema(schema):
    """duckdb-engine spells an attached database's schema 'db.schema'."""
    if schema and "." in schema:
        database, _, name = schema.partition(".")
        return database.strip('"'), name.strip('"')
    return None, schema


def _catalog_rows(connection, function, relations, columns, order):
    """Rows of a duckdb_*() function for the given relations, grouped by
    relation name."""
    grouped: dict[str, list] = {name: [] for _, _, name in relations}
    if not relations:
        return grouped
    keys = {(db, sc, name) for db, sc, name in relations}
    rows = connection.exec_driver_sql(
        f"SELECT database_name, schema_name, table_name, {columns} "
        f"FROM {function} ORDER BY {order}"
    ).all()
    for row in rows:
        if (row[0], row[1], row[2]) in keys:
            grouped[row[2]].append(row[3:])
    return grouped


def _keyed(schema, grouped):
    return [((schema, name), value) for name, value in grouped.items()]


def get_multi_columns(self, connection, schema=None, filter_names=None,
                      scope=ObjectScope.DEFAULT, kind=ObjectKind.TABLE,
                      **kw):
    relations = _relations(connection, schema, filter_names, scope, kind)
    grouped = _catalog_rows(
        connection, "duckdb_columns()", relations,
        "column_name, data_type, is_nullable, column_default, comment",
        "table_name, column_index",
    )
    result = {}
    for name, rows in grouped.items():
        result[name] = [
            {
                "name": column,
                "type": column_type(data_type),
                "nullable": bool(nullable),
                "default": default,
                # DuckDB numbers rows only through sequences; saying
                # "autoincrement" here would make SQLAlchemy write SERIAL,
                # which DuckDB does not know, when a table is rebuilt.
                "autoincrement": False,
                "comment": comment,
            }
            for column, data_type, nullable, default, comment in rows
        ]
    return _keyed(schema, result)


def _constraints(connection, relations, constraint_type):
    grouped = _catalog_rows(
        connection, "duckdb_constraints()", relations,
        "constraint_type, constraint_name, constraint_column_names, "
        "referenced_table, referenced_column_names, expression",
        "table_name, constraint_index",
    )
    return {
        name: [r[1:] for r in rows if r[0] == constraint_type]
        for name, rows in grouped.items()
    }


def get_multi_pk_constraint(self, connection, schema=None, filter_names=None,
                            scope=ObjectScope.DEFAULT,
                            kind=ObjectKind.TABLE, **kw):
    relations = _relations(connection, schema, filter_names, scope, kind)
    result = {}
    for name, rows in _constraints(
        connection, relations, "PRIMARY KEY"
    ).items():
        if rows:
            constraint, columns = rows[0][0], list(rows[0][1])
            result[name] = {"name": constraint,
                            "constrained_columns": columns}
        else:
            result[name] = {"name": None, "constrained_columns": []}
    return _keyed(schema, result)


def get_multi_foreign_keys(self, connection, schema=None, filter_names=None,
                           scope=ObjectScope.DEFAULT, kind=ObjectKind.TABLE,
                           **kw):
    relations = _relations(connection, schema, filter_names, scope, kind)
    result = {}
    for name, rows in _constraints(
        connection, relations, "FOREIGN KEY"
    ).items():
        result[name] = [
            {
                "name": constraint,
                "constrained_columns": list(columns),
                "referred_schema": None,
                "referred_table": referred,
                "referred_columns": list(referred_columns),
                "options": {},
            }
            for constraint, columns, referred, referred_columns, _ in rows
        ]
    return _keyed(schema, result)


def get_multi_unique_constraints(self, connection, schema=None,
                                 filter_names=None,
                                 scope=ObjectScope.DEFAULT,
                                 kind=ObjectKind.TABLE, **kw):
    relations = _relations(connection, schema, filter_names, scope, kind)
    result = {
        name: [{"name": r[0], "column_names": list(r[1])} for r in rows]
        for name, rows in _constraints(
            connection, relations, "UNIQUE"
        ).items()
    }
    return _keyed(schema, result)


def get_multi_check_constraints(self, connection, schema=None,
                                filter_names=None, scope=ObjectScope.DEFAULT,
                                kind=ObjectKind.TABLE, **kw):
    relations = _relations(connection, schema, filter_names, scope, kind)
    result = {
        name: [{"name": r[0], "sqltext": r[4]} for r in rows if r[4]]
        for name, rows in _constraints(connection, relations, "CHECK").items()
    }
    return _keyed(schema, result)


def _index_columns(expressions: str) -> list[str]:
    """Column names from duckdb_indexes().expressions.

    DuckDB lists them as `[a, Mixed, '"B c"']`: plain names bare, names
    that need quoting in double quotes wrapped again in single quotes.
    """
    items, current, quote = [], "", None
    for char in expressions.strip()[1:-1]:
        if quote:
            quote = None if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char == ",":
            items.append(current)
            current = ""
            continue
        current += char
    items.append(current)
    names = []
    for item in items:
        item = item.strip()
        if len(item) > 1 and item[0] == item[-1] == "'":
            item = item[1:-1].replace("''", "'")
        if len(item) > 1 and item[0] == item[-1] == '"':
            item = item[1:-1].replace('""', '"')
        names.append(item)
    return [n for n in names if n]


def get_multi_indexes(self, connection, schema=None, filter_names=None,
                      scope=ObjectScope.DEFAULT, kind=ObjectKind.TABLE,
                      **kw):
    relations = _relations(connection, schema, filter_names, scope, kind)
    grouped = _catalog_rows(
        connection, "duckdb_indexes()", relations,
        "index_name, is_unique, expressions", "table_name, index_name",
    )
    result = {
        name: [_index(*row) for row in rows] for name, rows in grouped.items()
    }
    return _keyed(schema, result)


def _index(name, unique, expressions) -> dict:
    items = _index_columns(expressions)
    index = {
        "name": name,
        # An expression (lower(name)) is None among the columns and is
        # listed in "expressions", as SQLAlchemy expects.
        "column_names": [None if "(" in i else i for i in items],
        "unique": bool(unique),
        "dialect_options": {},
    }
    if any("(" in i for i in items):
        index["expressions"] = items
    return index


def get_multi_table_comment(self, connection, schema=None, filter_names=None,
                            scope=ObjectScope.DEFAULT,
                            kind=ObjectKind.TABLE, **kw):
    relations = _relations(connection, schema, filter_names, scope, kind)
    comments = dict(connection.exec_driver_sql(
        "SELECT table_name, comment FROM duckdb_tables()"
    ).all())
    return [((schema, name), {"text": comments.get(name)})
            for _, _, name in relations]


def get_multi_table_options(self, connection, schema=None, filter_names=None,
                            scope=ObjectScope.DEFAULT,
                            kind=ObjectKind.TABLE, **kw):
    relations = _relations(connection, schema, filter_names, scope, kind)
    return [((schema, name), {}) for _, _, name in relations]


def get_indexes(self, connection, table_name, schema=None, **kw):
    # duckdb-engine replaces this one with a warning and an empty list;
    # route it to the catalog like the other single-table methods.
    data = self.get_multi_indexes(
        connection, schema=schema, filter_names=[table_name],
        scope=ObjectScope.ANY, kind=ObjectKind.ANY, **kw,
    )
    return self._value_or_raise(data, table_name, schema)


_METHODS = (
    get_multi_columns,
    get_multi_pk_constraint,
    get_multi_foreign_keys,
    get_multi_unique_constraints,
    get_multi_check_constraints,
    get_multi_indexes,
    get_multi_table_comment,
    get_multi_table_options,
    get_indexes,
)


def install(dialect) -> None:
    """Make this DuckDB dialect object reflect through DuckDB's catalog.

    Does nothing for other dialects, and nothing the second time.
    """
    if dialect.name != "duckdb" or getattr(dialect, "_corral_reflection",
                                           False):
        return
    for function in _METHODS:
        setattr(dialect, function.__name__,
                types.MethodType(function, dialect))
    dialect._corral_reflection = True


def referencing_tables(connection, table_name: str) -> list[str]:
    """The other tables whose foreign keys point at `table_name`."""
    rows = connection.exec_driver_sql(
        "SELECT DISTINCT table_name FROM duckdb_constraints() "
        "WHERE constraint_type = 'FOREIGN KEY' AND referenced_table = ? "
        "AND table_name <> ? ORDER BY table_name",
        (table_name, table_name),
    ).all()
    return [r[0] for r in rows]
