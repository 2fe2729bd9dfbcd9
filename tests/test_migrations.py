"""Schema migrations on a database that already holds data, on every
backend: change the models, makemigrations, migrate, and nothing stored is
lost; downgrade and upgrade again."""

import re
import shutil

import pytest
import sqlalchemy as sa

from conftest import make_pipeline, run_corral
from corral_lib.db import duckdb_reflection

# What the test does to examples/irispl/models.py: a new nullable column on
# a table that holds rows, a new table with a foreign key to it, and a
# changed column (NOT NULL dropped) on another table that holds rows.
NEW_COLUMN = """    petal_width = db.Column(db.Float, nullable=False)
    magnitude = db.Column(db.Float, nullable=True)
"""
NEW_TABLE = '''

class Flag(db.Model):
    """A note on one observation."""

    __tablename__ = "Flag"

    id = db.Column(db.Integer, primary_key=True)
    observation_id = db.Column(
        db.Integer, db.ForeignKey("Observation.id"), nullable=False
    )
    note = db.Column(db.String(100))
'''
CHANGED_COLUMN = (
    "min_petal_width = db.Column(db.Float, nullable=False)",
    "min_petal_width = db.Column(db.Float, nullable=True)",
)

# Written with the ORM through `corral exec`, so DuckDB's sequence for the
# new table's key is exercised as a pipeline would use it.
USE_NEW_SCHEMA = """
from corral import db
from irispl import models

with db.session_scope() as session:
    first = session.query(models.Observation).order_by(
        models.Observation.id).first()
    first.magnitude = 12.5
    session.add(models.Flag(observation_id=first.id, note="bright"))
    session.add(models.Flag(observation_id=first.id, note="again"))
"""

# The rows the test keeps an eye on: every iris flower, its species, and
# one Statistics row per species (so the changed table holds rows too).
# One `corral exec` stores them all; the loader and steps are other tests'.
STORE_ROWS = """
import csv

from corral import db
from corral.conf import settings
from irispl import models

with db.session_scope() as session, open(settings.IRIS_PATH) as fp:
    names = {}
    for row in csv.DictReader(fp):
        if row["Name"] not in names:
            names[row["Name"]] = models.Name(name=row["Name"])
        session.add(models.Observation(
            name=names[row["Name"]],
            sepal_length=float(row["SepalLength"]),
            sepal_width=float(row["SepalWidth"]),
            petal_length=float(row["PetalLength"]),
            petal_width=float(row["PetalWidth"])))
    for name in names.values():
        fields = {f"{kind}_{measure}": 0.0
                  for kind in ("mean", "min", "max")
                  for measure in models.MEASURES}
        widths = [o.petal_width for o in name.observations]
        fields.update(mean_petal_width=sum(widths) / len(widths),
                      min_petal_width=min(widths),
                      max_petal_width=max(widths))
        session.add(models.Statistics(name=name, **fields))
"""


def copy_pipeline(template, tmp_path, connection=None):
    """A copy of a scaffolded pipeline, on its own database."""
    project = tmp_path / "irispl"
    shutil.copytree(template, project)
    if connection:
        settings = project / "irispl" / "settings.py"
        settings.write_text(
            settings.read_text() + f"\nCONNECTION = {connection!r}\n")
    return project


def store_rows(project, tmp_path):
    script = tmp_path / "store_rows.py"
    script.write_text(STORE_ROWS)
    result = run_corral("exec", script, cwd=project)
    assert result.returncode == 0, result


@pytest.fixture(scope="module")
def scaffold(tmp_path_factory):
    """The iris example, scaffolded once for the module's tests."""
    return make_pipeline(tmp_path_factory.mktemp("scaffold"))


TABLES = {
    "Name": ["id", "name"],
    "Observation": ["id", "name_id", "sepal_length", "sepal_width",
                    "petal_length", "petal_width"],
    "Statistics": ["id", "name_id", "mean_sepal_length", "mean_petal_width",
                   "min_sepal_length", "min_petal_width",
                   "max_petal_width"],
}


def _engine(url):
    engine = sa.create_engine(url)
    # duckdb-engine cannot reflect with DuckDB 2.x; Corral's reflection can.
    duckdb_reflection.install(engine.dialect)
    return engine


def _snapshot(url):
    """Every row of the example's tables, in the columns the test keeps."""
    engine = _engine(url)
    rows = {}
    with engine.connect() as conn:
        for name, columns in TABLES.items():
            table = sa.table(name, *map(sa.column, columns))
            query = sa.select(*table.c).order_by(table.c.id)
            rows[name] = [tuple(r) for r in conn.execute(query)]
    engine.dispose()
    return rows


def _versions(url):
    """The revisions alembic's version table holds."""
    engine = _engine(url)
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT version_num FROM alembic_version"))
        found = [r[0] for r in rows]
    engine.dispose()
    return found


def _schema(url):
    engine = _engine(url)
    inspector = sa.inspect(engine)
    tables = set(inspector.get_table_names())
    columns = {c["name"] for c in inspector.get_columns("Observation")}
    nullable = {c["name"]: c["nullable"]
                for c in inspector.get_columns("Statistics")}
    engine.dispose()
    return tables, columns, nullable["min_petal_width"]


def _corral(project, *args, input=None):
    result = run_corral(*args, cwd=project, input=input)
    assert result.returncode == 0, (args, result)
    return result


def _edit_models(project):
    path = project / "irispl" / "models.py"
    text = path.read_text()
    assert NEW_COLUMN.splitlines()[0] in text and CHANGED_COLUMN[0] in text
    text = text.replace(NEW_COLUMN.splitlines()[0] + "\n", NEW_COLUMN)
    text = text.replace(*CHANGED_COLUMN) + NEW_TABLE
    path.write_text(text)


@pytest.fixture
def backend_url(any_backend_url):
    """SQLite, DuckDB, PostgreSQL and MariaDB in turn (see conftest)."""
    return any_backend_url


def test_migration_keeps_every_row(scaffold, tmp_path, backend_url):
    project = copy_pipeline(scaffold, tmp_path, backend_url)
    _corral(project, "createdb", "--noinput")
    store_rows(project, tmp_path)
    before = _snapshot(backend_url)
    assert len(before["Observation"]) == 150
    assert len(before["Statistics"]) == 3

    _edit_models(project)
    made = _corral(project, "makemigrations", "-m", "magnitude and flags")
    assert "+ table Flag" in made.stdout
    assert "+ column Observation.magnitude" in made.stdout
    assert "~ column Statistics.min_petal_width: nullable" in made.stdout
    revision = re.search(r"Wrote revision (\w+)", made.stdout).group(1)
    files = list((project / "irispl" / "migrations" / "versions").glob(
        f"*_{revision}_*.py"))
    assert len(files) == 1
    assert "batch_alter_table" in files[0].read_text()

    migrated = _corral(project, "migrate", "--noinput")
    assert f"Applying {revision} (magnitude and flags)... done" in (
        migrated.stdout)
    assert f"The database is at {revision}." in migrated.stdout
    assert _snapshot(backend_url) == before
    tables, columns, min_nullable = _schema(backend_url)
    assert "Flag" in tables and "magnitude" in columns and min_nullable

    script = tmp_path / "use.py"
    script.write_text(USE_NEW_SCHEMA)
    _corral(project, "exec", script)
    engine = _engine(backend_url)
    with engine.connect() as conn:
        flags = conn.execute(sa.text('SELECT count(*) FROM "Flag"')
                             if "mysql" not in backend_url
                             else sa.text("SELECT count(*) FROM Flag"))
        assert flags.scalar() == 2
        observation = sa.table("Observation", sa.column("id"),
                               sa.column("magnitude"))
        bright = conn.execute(sa.select(observation.c.id).where(
            observation.c.magnitude == 12.5)).all()
        assert len(bright) == 1
    engine.dispose()
    # The migrated database matches the models exactly: a difference found
    # here would be a reflection, comparison or rebuild error.
    assert "No changes detected" in _corral(
        project, "makemigrations").stdout

    # Back down: the new table and column go, the rows stay.
    down = _corral(project, "alembic", "downgrade", "-1")
    assert f"Unapplying {revision}" in down.stdout
    tables, columns, min_nullable = _schema(backend_url)
    assert "Flag" not in tables and "magnitude" not in columns
    assert not min_nullable
    assert _snapshot(backend_url) == before
    assert _versions(backend_url) == []

    # And up again.
    again = _corral(project, "migrate", "--noinput")
    assert f"The database is at {revision}." in again.stdout
    assert _snapshot(backend_url) == before
    assert _versions(backend_url) == [revision]
