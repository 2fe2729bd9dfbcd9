"""The public names pipelines written from the manual import."""

import subprocess
import sys

from conftest import ROOT


def test_public_names_resolve_to_the_library():
    import corral
    from corral import cli, conf, db, qa, run  # noqa: F401
    from corral.conf import settings
    from corral.run import endpoints as ep
    import corral.setup

    import corral_lib

    assert corral.VERSION == corral_lib.__version__
    assert db.Model.metadata is corral_lib.db.Model.metadata
    assert settings is corral_lib.conf.settings
    assert ep.File is corral_lib.run.endpoints.File
    assert issubclass(run.Step, run.Processor)
    assert corral.setup.PipelineSetup.__name__ == "PipelineSetup"
    assert callable(cli.run_from_command_line)
    assert callable(cli.BaseCommand)
    assert corral.run.endpoints.__spec__.name == "corral_lib.run.endpoints"


def test_db_namespace_holds_sqlalchemy_orm_and_utils():
    from corral import db

    for name in ("Column", "Integer", "Float", "String", "ForeignKey",
                 "relationship", "backref", "select", "func", "and_",
                 "UUIDType", "EmailType", "database_exists"):
        assert hasattr(db, name), name


def test_session_scope_commits_and_rolls_back(tmp_path):
    from corral import db

    class Thing(db.Model):
        __tablename__ = "api_test_thing"
        id = db.Column(db.Integer, primary_key=True)
        label = db.Column(db.String(20))

    engine = db.make_engine(f"sqlite:///{tmp_path / 'api.db'}")
    db.setup(engine=engine)
    try:
        Thing.__table__.create(engine)
        with db.session_scope() as session:
            session.add(Thing(label="kept"))
        try:
            with db.session_scope() as session:
                session.add(Thing(label="dropped"))
                raise RuntimeError("abort")
        except RuntimeError:
            pass
        with db.session_scope() as session:
            labels = [t.label for t in session.query(Thing)]
        assert labels == ["kept"]
    finally:
        db.teardown()
        db.Model.metadata.remove(Thing.__table__)


def test_importing_corral_is_light():
    """`import corral` alone loads neither SQLAlchemy nor the CLI."""
    code = ("import sys, corral; print(sorted(m for m in sys.modules "
            "if m.startswith(('sqlalchemy', 'corral_lib.cli'))))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT,
                         capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_python_corral_py_is_the_program():
    out = subprocess.run([sys.executable, str(ROOT / "corral.py"), "--help"],
                         capture_output=True, text=True)
    assert out.returncode == 0
    assert "usage: corral" in out.stdout
