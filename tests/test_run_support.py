"""A scratch pipeline for the tests of parallel runs, failures and signals.

`items` pipeline: a loader makes ITEMS rows of Item; the step Mark counts
how often it saw each row (`times`), so "every row processed exactly once"
is a query; Other writes another column at the same time; Shout alerts
each marked row into shout.log. Settings decide which rows fail
(BAD_IDS), and at which row Mark pauses (PAUSE_AT): it writes the file
PAUSE_FLAG, then waits until RELEASE_FLAG exists (or a minute passes), so
a test can signal the run at a known row instead of guessing a time.

This module holds no tests; the test_parallel*, test_failures and
test_run_* modules import it.
"""

from __future__ import annotations

import shutil
import tempfile
import textwrap
from pathlib import Path

import sqlalchemy as sa

from conftest import run_corral

MODELS = '''
from corral import db


class Item(db.Model):
    __tablename__ = "Item"

    id = db.Column(db.Integer, primary_key=True)
    value = db.Column(db.Float, nullable=False)
    times = db.Column(db.Integer, nullable=False, default=0)
    other = db.Column(db.Integer, nullable=False, default=0)


class Tag(db.Model):
    """Rows keyed by text, for slicing keys that are not integers."""

    __tablename__ = "Tag"

    code = db.Column(db.String(20), primary_key=True)
    times = db.Column(db.Integer, nullable=False, default=0)
'''

LOAD = '''
from corral import run
from corral.conf import settings

from . import models


class Loader(run.Loader):
    def generate(self):
        for i in range(1, settings.ITEMS + 1):
            yield models.Item(value=float(i))
        for i in range(settings.TAGS):
            yield models.Tag(code=f"tag-{i:04d}")
'''

STEPS = '''
import os
import time

from corral import run
from corral.conf import settings

from . import models


def pause_here(item_id):
    if item_id != settings.PAUSE_AT or os.path.exists(settings.PAUSE_FLAG):
        return
    with open(settings.PAUSE_FLAG, "w") as fp:
        fp.write(str(os.getpid()))
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if os.path.exists(settings.RELEASE_FLAG):
            return
        time.sleep(0.05)


class Mark(run.Step):
    """Count each visit of an item."""

    model = models.Item
    conditions = [models.Item.times == 0]

    def process(self, item):
        pause_here(item.id)
        if item.id in settings.BAD_IDS:
            raise ValueError(f"item {item.id} is bad")
        item.times += 1


class Other(run.Step):
    """Writes another column of the same rows, at the same time."""

    model = models.Item
    conditions = [models.Item.other == 0]
    procno = 2

    def process(self, item):
        item.other = 1


class Lookup(run.Step):
    """Counts a visit, then queries: the query autoflushes the change."""

    model = models.Item
    conditions = [models.Item.times == 0]

    def process(self, item):
        item.times += 1
        self.session.query(models.Item).filter(
            models.Item.id == item.id).one()


class Follow(run.Step):
    """Reads what Lookup or Mark wrote: the second step of a chain."""

    model = models.Item
    conditions = [models.Item.times > 0, models.Item.other == 0]

    def process(self, item):
        item.other = 1


class TagStep(run.Step):
    model = models.Tag
    conditions = [models.Tag.times == 0]

    def process(self, tag):
        tag.times += 1
'''

ALERTS = '''
from corral import run
from corral.conf import settings
from corral.run import endpoints as ep

from . import models


class Flaky(ep.File):
    def process(self, obj, utcnow):
        if obj.id in settings.BAD_ALERT_IDS:
            raise OSError(f"cannot send item {obj.id}")
        super().process(obj, utcnow)


class Shout(run.Alert):
    model = models.Item
    conditions = [models.Item.times > 0]
    alert_to = [Flaky("shout.log")]

    def render_alert(self, utcnow, endpoint, obj):
        return f"item {obj.id}"
'''


_TEMPLATE: list = []


def _scaffold() -> Path:
    """`corral create itemspl` once per test process; copied per test."""
    if not _TEMPLATE:
        folder = Path(tempfile.mkdtemp(prefix="corral-items-"))
        result = run_corral("create", "itemspl", folder / "itemspl")
        assert result.returncode == 0, result
        _TEMPLATE.append(folder / "itemspl")
    return _TEMPLATE[0]


def create_items(url: str, items: int, tags: int = 0) -> None:
    """The pipeline's tables and rows, made directly (as createdb and load
    would, minus two program starts per test)."""
    metadata = sa.MetaData()
    item = sa.Table(
        "Item", metadata,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("value", sa.Float, nullable=False),
        sa.Column("times", sa.Integer, nullable=False),
        sa.Column("other", sa.Integer, nullable=False),
    )
    tag = sa.Table(
        "Tag", metadata,
        sa.Column("code", sa.String(20), primary_key=True),
        sa.Column("times", sa.Integer, nullable=False),
    )
    engine = sa.create_engine(url)
    try:
        metadata.create_all(engine)
        with engine.begin() as conn:
            if items:
                conn.execute(item.insert(), [
                    {"id": i, "value": float(i), "times": 0, "other": 0}
                    for i in range(1, items + 1)
                ])
            if tags:
                conn.execute(tag.insert(), [
                    {"code": f"tag-{i:04d}", "times": 0}
                    for i in range(tags)
                ])
    finally:
        engine.dispose()


def make_items_pipeline(tmp_path: Path, connection: str | None = None,
                        items: int = 200, tags: int = 0, steps=("Mark",),
                        **settings) -> Path:
    """The items pipeline with its rows; keyword settings are written."""
    connection = connection or f"sqlite:///{tmp_path / 'items.db'}"
    project = tmp_path / "itemspl"
    shutil.copytree(_scaffold(), project)
    package = project / "itemspl"
    for name, text in (("models.py", MODELS), ("load.py", LOAD),
                       ("steps.py", STEPS), ("alerts.py", ALERTS)):
        (package / name).write_text(textwrap.dedent(text))
    values = {
        "CONNECTION": connection,
        "ITEMS": items,
        "TAGS": tags,
        "BAD_IDS": [],
        "BAD_ALERT_IDS": [],
        "PAUSE_AT": None,
        "PAUSE_FLAG": str(tmp_path / "paused"),
        "RELEASE_FLAG": str(tmp_path / "release"),
        "STEPS": [f"itemspl.steps.{s}" for s in steps],
        "ALERTS": ["itemspl.alerts.Shout"],
        "LOG_LEVEL": "WARNING",
        "PIPELINE_SETUP": None,
    }
    values.update(settings)
    text = (package / "settings.py").read_text()
    text += "\n" + "".join(f"{k} = {v!r}\n" for k, v in values.items())
    (package / "settings.py").write_text(text)
    create_items(connection, items, tags)
    return project


def set_setting(project: Path, name: str, value) -> None:
    settings = project / "itemspl" / "settings.py"
    settings.write_text(settings.read_text() + f"\n{name} = {value!r}\n")


def query(url: str, sql: str):
    """Rows of `sql`, its "quoted" names quoted as the database wants."""
    engine = sa.create_engine(url)
    if engine.dialect.name in ("mysql", "mariadb"):
        sql = sql.replace('"', "`")
    try:
        with engine.connect() as conn:
            return conn.exec_driver_sql(sql).all()
    finally:
        engine.dispose()


def times(url: str) -> dict[int, int]:
    """Item id -> how many times Mark processed it."""
    return dict(query(url, 'SELECT id, times FROM "Item" ORDER BY id'))


def table_rows(text: str) -> list[list[str]]:
    """The body rows of a grid table printed by a command, as cells."""
    rows = [
        [cell.strip() for cell in line.split("|")[1:-1]]
        for line in text.splitlines() if line.startswith("| ")
    ]
    return rows[1:]
