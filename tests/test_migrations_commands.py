"""The migration commands around the main path: stamping by createdb, the
framework's own tables, rebuilding a table others point at, the
confirmation, and the mistakes a user can make, each answered with one
line that says what to do."""

import sqlite3
import textwrap

import pytest
import sqlalchemy as sa

from conftest import make_pipeline, run_corral
from corral_lib.db import duckdb_reflection
from test_migrations import copy_pipeline, store_rows

NEW_COLUMN = (
    "    petal_width = db.Column(db.Float, nullable=False)\n",
    "    petal_width = db.Column(db.Float, nullable=False)\n"
    "    magnitude = db.Column(db.Float, nullable=True)\n",
)

# A revision that changes the schema, then fails: everything it did must
# be rolled back.
BROKEN_REVISION = '''
"""add a column, then fail"""

from alembic import op
import sqlalchemy as sa

revision = "badc0ffee001"
down_revision = {down!r}
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("Observation") as batch_op:
        batch_op.add_column(sa.Column("half_done", sa.Integer()))
    op.execute("UPDATE no_such_table SET x = 1")


def downgrade():
    pass
'''


@pytest.fixture(scope="module")
def sqlite_template(tmp_path_factory):
    """A scaffolded iris pipeline with its SQLite database created."""
    project = make_pipeline(tmp_path_factory.mktemp("template"))
    result = run_corral("createdb", "--noinput", cwd=project)
    assert result.returncode == 0, result
    return project


@pytest.fixture
def project(sqlite_template, tmp_path):
    """A copy of the template, for a test to change at will."""
    return copy_pipeline(sqlite_template, tmp_path)


def _on(sqlite_template, tmp_path, url):
    """A copy of the template on another database, created."""
    project = copy_pipeline(sqlite_template, tmp_path, url)
    (project / "irispl-dev.db").unlink()
    _ok(project, "createdb", "--noinput")
    return project


def _ok(project, *args, input=None):
    result = run_corral(*args, cwd=project, input=input)
    assert result.returncode == 0, (args, result)
    return result


def _fails(project, *args, input=None):
    result = run_corral(*args, cwd=project, input=input)
    assert result.returncode == 1, (args, result)
    assert result.stderr.startswith("corral: error: "), result
    assert result.stderr.count("\n") == 1, result
    return result.stderr


def _add_column(project):
    models = project / "irispl" / "models.py"
    models.write_text(models.read_text().replace(*NEW_COLUMN))


def _columns(db_path, table):
    with sqlite3.connect(db_path) as conn:
        return [r[1] for r in conn.execute(f'PRAGMA table_info("{table}")')]


def _versions(db_path):
    with sqlite3.connect(db_path) as conn:
        return [r[0] for r in conn.execute("SELECT * FROM alembic_version")]


def test_createdb_stamps_a_new_database(project):
    _add_column(project)
    made = _ok(project, "makemigrations", "-m", "magnitude")
    revision = made.stdout.split()[2]
    (project / "irispl-dev.db").unlink()

    created = _ok(project, "createdb", "--noinput")
    assert f"Marked the new database as migrated to {revision}." in (
        created.stdout)
    assert "magnitude" in _columns(project / "irispl-dev.db", "Observation")
    again = _ok(project, "migrate")
    assert f"No migrations to apply; the database is at {revision}." in (
        again.stdout)
    # An existing database is not stamped: createdb changes nothing there.
    existing = _ok(project, "createdb", "--noinput")
    assert "Marked" not in existing.stdout

    # A revision to fill in by hand follows the newest one.
    by_hand = _ok(project, "makemigrations", "--empty", "-m", "by hand")
    assert "(by hand)" in by_hand.stdout
    written = by_hand.stdout.split(": ", 1)[1].splitlines()[0]
    text = (project / written).read_text()
    assert f"down_revision = {revision!r}" in text
    assert "def upgrade():\n    pass" in text


def test_unknown_database_revision_is_explained(project):
    with sqlite3.connect(project / "irispl-dev.db") as conn:
        conn.execute("CREATE TABLE alembic_version (version_num "
                     "VARCHAR(32) NOT NULL PRIMARY KEY)")
        conn.execute("INSERT INTO alembic_version VALUES ('deadbeef0000')")
    error = _fails(project, "migrate", "--noinput")
    assert "no revision file in irispl/migrations/versions has the id " \
        "'deadbeef0000'" in error
    assert "'corral alembic stamp --purge REVISION'" in error


def test_framework_tables_are_migrated_too(project):
    """A database made before Corral gained a framework table gets it
    from a revision, with its indexes."""
    db_path = project / "irispl-dev.db"
    with sqlite3.connect(db_path) as conn:
        framework = [r[0] for r in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' "
            "AND name LIKE '\\_\\_corral\\_%' ESCAPE '\\'")]
        for table in framework:
            conn.execute(f'DROP TABLE "{table}"')
    assert "__corral_alerted__" in framework

    made = _ok(project, "makemigrations", "-m", "framework tables")
    for table in framework:
        assert f"+ table {table}" in made.stdout
    _ok(project, "migrate", "--noinput")
    with sqlite3.connect(db_path) as conn:
        tables = {r[0] for r in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert set(framework) <= tables
    same = _ok(project, "makemigrations")
    assert "No changes detected" in same.stdout


def test_sqlite_rebuilds_a_table_other_tables_point_at(project):
    """Batch mode rebuilds Name (drop, create, copy) while Observation's
    150 rows point at it; SQLite's foreign keys must not get in the way,
    and must hold afterwards."""
    store_rows(project, project.parent)
    models = project / "irispl" / "models.py"
    models.write_text(models.read_text().replace(
        "name = db.Column(db.String(50), unique=True)",
        "name = db.Column(db.String(50), unique=True, nullable=False)"))
    made = _ok(project, "makemigrations", "-m", "names are required")
    assert "~ column Name.name: nullable" in made.stdout
    _ok(project, "migrate", "--noinput")

    with sqlite3.connect(project / "irispl-dev.db") as conn:
        joined = conn.execute(
            'SELECT count(*) FROM "Observation" o JOIN "Name" n '
            "ON o.name_id = n.id").fetchone()[0]
        assert joined == 150
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
        with pytest.raises(sqlite3.IntegrityError, match="NOT NULL"):
            conn.execute('INSERT INTO "Name" (name) VALUES (NULL)')


def test_migrate_asks_first(project):
    _add_column(project)
    _ok(project, "makemigrations", "-m", "magnitude")
    # A second revision needs the first applied: autogenerate compares
    # with the database, which must be at the newest revision.
    error = _fails(project, "makemigrations", "-m", "again")
    assert "not at the newest revision" in error
    assert "'corral migrate' first" in error

    answered_no = _ok(project, "migrate", input="no\n")
    assert "Do you want to migrate the database [Yes/no]?" in (
        answered_no.stdout)
    assert "Nothing was changed." in answered_no.stdout
    assert "magnitude" not in _columns(project / "irispl-dev.db",
                                       "Observation")
    answered_yes = _ok(project, "migrate", input="yes\n")
    assert "The database is at" in answered_yes.stdout
    assert "magnitude" in _columns(project / "irispl-dev.db", "Observation")


def test_migrate_refuses_a_missing_database(project):
    (project / "irispl-dev.db").unlink()
    error = _fails(project, "migrate", "--noinput")
    assert "irispl-dev.db does not exist; create it with 'corral createdb'" in (
        error)
    # Connecting would have created an empty file: it must not exist.
    assert not (project / "irispl-dev.db").exists()
    error = _fails(project, "makemigrations")
    assert "does not exist" in error


def test_migrate_refuses_an_empty_database(project):
    (project / "irispl-dev.db").unlink()
    sqlite3.connect(project / "irispl-dev.db").close()
    error = _fails(project, "migrate", "--noinput")
    assert "has none of the pipeline's tables; create them with 'corral " \
        "createdb'" in error


def test_alembic_init_is_refused(project):
    error = _fails(project, "alembic", "init", "elsewhere")
    assert "migrations folder exists already" in error
    assert "alembic.ini" in error
    assert not (project / "elsewhere").exists()


def test_missing_migrations_folder_is_named(project):
    settings = project / "irispl" / "settings.py"
    settings.write_text(
        settings.read_text() + '\nMIGRATIONS_SETTINGS = "nowhere/alembic.ini"\n'
    )
    error = _fails(project, "makemigrations")
    assert error.startswith(
        "corral: error: settings.MIGRATIONS_SETTINGS: ")
    assert "nowhere/alembic.ini does not exist" in error


@pytest.mark.parametrize("backend", ["sqlite", "duckdb", "mysql"])
def test_failing_revision_is_named_and_rolled_back(request, sqlite_template,
                                                   tmp_path, backend):
    # PostgreSQL rolls schema changes back as SQLite and DuckDB do; MariaDB
    # is the backend that cannot, and the message differs there.
    if backend == "sqlite":
        project = request.getfixturevalue("project")
        url = f"sqlite:///{project / 'irispl-dev.db'}"
    else:
        url = request.getfixturevalue(f"{backend}_url")
        project = _on(sqlite_template, tmp_path, url)
    versions = project / "irispl" / "migrations" / "versions"
    (versions / "20990101_badc0ffee001_broken.py").write_text(
        textwrap.dedent(BROKEN_REVISION.format(down=None)))

    error = _fails(project, "migrate", "--noinput")
    assert "revision badc0ffee001 ('add a column, then fail', " in error
    assert "20990101_badc0ffee001_broken.py) failed during upgrade" in error
    assert "no_such_table" in error
    assert error.rstrip().endswith(
        "the database is at no revision (base)")
    engine = sa.create_engine(url)
    duckdb_reflection.install(engine.dialect)
    columns = [c["name"] for c in sa.inspect(engine).get_columns(
        "Observation")]
    engine.dispose()
    if backend == "mysql":
        # MariaDB commits schema changes at once, and says so.
        assert "MySQL/MariaDB applies each schema change at once" in error
        assert "half_done" in columns
    else:
        assert "its changes were rolled back" in error
        assert "half_done" not in columns


def test_duckdb_names_the_tables_that_block_a_rebuild(sqlite_template,
                                                      tmp_path, duckdb_url):
    """DuckDB cannot drop a table other tables' foreign keys point at, so
    it cannot rebuild it; the error says which tables are in the way."""
    project = _on(sqlite_template, tmp_path, duckdb_url)
    models = project / "irispl" / "models.py"
    models.write_text(models.read_text().replace(
        "name = db.Column(db.String(50), unique=True)",
        "name = db.Column(db.String(50), unique=True, nullable=False)"))
    made = _ok(project, "makemigrations", "-m", "names are required")
    assert "~ column Name.name: nullable" in made.stdout

    error = _fails(project, "migrate", "--noinput")
    assert "DuckDB cannot rebuild table 'Name'" in error
    assert "Observation, Statistics" in error
    assert "its changes were rolled back" in error
