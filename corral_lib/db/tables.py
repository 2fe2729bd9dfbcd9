"""The framework's own tables, kept beside the pipeline's.

Their names are `__corral_<what>__` so they never clash with a model.
"""

import datetime as dt

import sqlalchemy as sa

from .base import Model


def _utcnow():
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


class Alerted(Model):
    """One row per object an alert has reported, so it reports it once.

    The unique index on (alert_path, model_table, model_ids) is what the
    alert's anti-join uses: the check never loads the alerted keys into
    memory and costs the same however many objects were alerted before.
    """

    __tablename__ = "__corral_alerted__"
    __table_args__ = (
        sa.UniqueConstraint(
            "alert_path", "model_table", "model_ids",
            name="uq___corral_alerted___key",
        ),
    )

    id = sa.Column(sa.Integer, primary_key=True)
    alert_path = sa.Column(sa.String(255), nullable=False)
    model_table = sa.Column(sa.String(255), nullable=False)
    # The alerted object's primary key as text: "42", or "1|2" when the
    # key has several columns.
    model_ids = sa.Column(sa.String(255), nullable=False)
    created_at = sa.Column(sa.DateTime, nullable=False, default=_utcnow)

    def __repr__(self):
        return (
            f"<Alerted {self.alert_path} {self.model_table}"
            f"[{self.model_ids}]>"
        )


class Failure(Model):
    """A row a processor could not process, kept so later runs skip it.

    One row per processor and object. The unique index is what the
    runner's "not failed before" anti-join uses. `corral failures` lists
    these, `--retry` runs them again and `--clear` forgets them.
    """

    __tablename__ = "__corral_failures__"
    __table_args__ = (
        sa.UniqueConstraint(
            "processor", "model_table", "model_ids",
            name="uq___corral_failures___key",
        ),
    )

    id = sa.Column(sa.Integer, primary_key=True)
    # The processor's dotted path, as in settings.
    processor = sa.Column(sa.String(255), nullable=False)
    model_table = sa.Column(sa.String(255), nullable=False)
    # The object's primary key as text, as in __corral_alerted__.
    model_ids = sa.Column(sa.String(255), nullable=False)
    error = sa.Column(sa.Text, nullable=False)
    traceback = sa.Column(sa.Text)
    attempts = sa.Column(sa.Integer, nullable=False, default=1)
    created_at = sa.Column(sa.DateTime, nullable=False, default=_utcnow)
    updated_at = sa.Column(sa.DateTime, nullable=False, default=_utcnow)

    def __repr__(self):
        return f"<Failure {self.processor} {self.model_table}[{self.model_ids}]>"


class RunRecord(Model):
    """One processor run by one process: the history `corral status` reads.

    A run writes its row when it starts (status "running") and completes it
    when it ends; a row left "running" belongs to a process that died.
    The processes of one `corral run` share a `batch`.
    """

    __tablename__ = "__corral_runs__"
    __table_args__ = (
        sa.Index("ix___corral_runs___processor_started",
                 "processor", "started_at"),
    )

    id = sa.Column(sa.Integer, primary_key=True)
    batch = sa.Column(sa.String(32), nullable=False, index=True)
    processor = sa.Column(sa.String(255), nullable=False)
    kind = sa.Column(sa.String(16), nullable=False)
    # "1/1", or "2/4" for the second of four slices.
    partition = sa.Column(sa.String(32), nullable=False, default="1/1")
    host = sa.Column(sa.String(255))
    pid = sa.Column(sa.Integer)
    started_at = sa.Column(sa.DateTime, nullable=False, default=_utcnow)
    finished_at = sa.Column(sa.DateTime)
    seconds = sa.Column(sa.Float)
    selected = sa.Column(sa.Integer)
    processed = sa.Column(sa.Integer, nullable=False, default=0)
    created = sa.Column(sa.Integer, nullable=False, default=0)
    failed = sa.Column(sa.Integer, nullable=False, default=0)
    # running, ok, failed (rows failed or the processor stopped), error,
    # interrupted.
    status = sa.Column(sa.String(16), nullable=False, default="running")
    error = sa.Column(sa.Text)

    def __repr__(self):
        return f"<RunRecord {self.processor} {self.partition} {self.status}>"
