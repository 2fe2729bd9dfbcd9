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
