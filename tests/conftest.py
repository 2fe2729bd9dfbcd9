"""Shared fixtures: scratch pipelines and ways to run `corral` on them.

Pipelines are run through the real program in a subprocess: each pipeline
package registers its models in the process that imports it, so running
several pipelines in one test process would let them see each other.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
DATA = ROOT / "tests" / "data"
PG_URL = os.environ.get(
    "CORRAL_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432"
)
MYSQL_URL = os.environ.get("CORRAL_TEST_MYSQL", "mysql+pymysql://root@127.0.0.1:3306")


class Result:
    def __init__(self, completed):
        self.returncode = completed.returncode
        self.stdout = completed.stdout
        self.stderr = completed.stderr

    def __repr__(self):
        return (f"<exit {self.returncode}\n--- stdout\n{self.stdout}\n"
                f"--- stderr\n{self.stderr}>")


def run_corral(*args, cwd=None, env=None, input=None, timeout=300):
    """Run `python corral.py ARGS` and return exit status and output."""
    full_env = dict(os.environ)
    full_env.pop("CORRAL_SETTINGS_MODULE", None)
    full_env.pop("CORRAL_PROJECT", None)
    full_env.update(env or {})
    completed = subprocess.run(
        [sys.executable, str(ROOT / "corral.py"), *map(str, args)],
        cwd=cwd, env=full_env, input=input, capture_output=True, text=True,
        timeout=timeout,
    )
    return Result(completed)


@pytest.fixture
def corral():
    return run_corral


def make_pipeline(tmp_path: Path, name: str = "irispl",
                  example: str | None = "irispl",
                  connection: str | None = None) -> Path:
    """Scaffold a pipeline with `corral create`, then copy an example in."""
    target = tmp_path / name
    result = run_corral("create", name, target)
    assert result.returncode == 0, result
    if example:
        for path in (EXAMPLES / example).iterdir():
            if path.is_file():
                shutil.copy(path, target / name / path.name)
    if connection:
        settings = target / name / "settings.py"
        settings.write_text(
            settings.read_text() + f"\nCONNECTION = {connection!r}\n"
        )
    return target


@pytest.fixture
def iris_project(tmp_path):
    return make_pipeline(tmp_path)


def _server_database(base_url: str, driver_check):
    """Create a uniquely named database on a server; yield its URL."""
    import sqlalchemy as sa

    name = f"corral_test_{uuid.uuid4().hex[:10]}"
    try:
        driver_check()
        admin_db = "/postgres" if "postgresql" in base_url else ""
        admin = sa.create_engine(base_url + admin_db,
                                 isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.exec_driver_sql(f"CREATE DATABASE {name}")
    except Exception as exc:  # the reason is printed by the skip
        pytest.skip(f"database server not reachable at {base_url}: {exc}")
    try:
        yield f"{base_url}/{name}"
    finally:
        with admin.connect() as conn:
            if "postgresql" in base_url:
                conn.exec_driver_sql(
                    f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
            else:
                conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {name}")
        admin.dispose()


@pytest.fixture
def postgres_url():
    """A fresh PostgreSQL database on 127.0.0.1:5432, dropped afterwards."""
    yield from _server_database(PG_URL, lambda: __import__("psycopg"))


@pytest.fixture
def mysql_url():
    """A fresh MariaDB/MySQL database on 127.0.0.1:3306, dropped afterwards."""
    yield from _server_database(MYSQL_URL, lambda: __import__("pymysql"))


@pytest.fixture
def duckdb_url(tmp_path):
    return f"duckdb:///{tmp_path / 'pipeline.duckdb'}"


#: The file suffix of each embedded backend's database.
FILE_SUFFIXES = {"sqlite": "db", "duckdb": "duckdb"}
SERVER_FIXTURES = {"postgresql": "postgres_url", "mysql": "mysql_url"}
#: Every backend Corral runs on, for @pytest.mark.parametrize.
BACKENDS = [*FILE_SUFFIXES, *SERVER_FIXTURES]


def backend_url(request, tmp_path, backend: str, stem: str = "pipeline"):
    """A database of `backend` for one test: the file `stem.<suffix>` in
    tmp_path, or a fresh server database (skipped when unreachable)."""
    if backend in SERVER_FIXTURES:
        return request.getfixturevalue(SERVER_FIXTURES[backend])
    return f"{backend}:///{tmp_path / (stem + '.' + FILE_SUFFIXES[backend])}"


@pytest.fixture(params=BACKENDS)
def any_backend_url(request, tmp_path):
    """Each backend in turn (servers skip when unreachable)."""
    return backend_url(request, tmp_path, request.param)
