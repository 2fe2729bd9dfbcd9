"""Processors: the Loader, the Steps and the Alerts a pipeline defines.

A processor is a class. The framework makes one instance per run, gives it a
session on the pipeline's database (`self.session`), calls `setup()`, feeds
it work, and calls `teardown()` with the error that stopped it, if any. The
runner (runner.py) decides how the work is read, chunked and committed.
"""

from __future__ import annotations

import datetime as dt
import inspect
from typing import Any, ClassVar, Iterable

from ..db.base import Model

DEFAULT_GROUPS = ("default",)


class Processor:
    """What the Loader, Steps and Alerts share."""

    #: How many processes run this processor at once (see `run --procs`).
    procno: ClassVar[int] = 1
    #: Names used by `-sg/-ag` and `lssteps -g` to select processors.
    groups: ClassVar[Iterable[str]] = DEFAULT_GROUPS

    def __init__(self, session):
        self.session = session

    # -- identity -----------------------------------------------------

    @classmethod
    def get_groups(cls) -> tuple[str, ...]:
        groups = cls.groups
        if isinstance(groups, str):
            groups = [groups]
        return tuple(groups) or DEFAULT_GROUPS

    @classmethod
    def get_procno(cls) -> int:
        return int(cls.procno)

    @classmethod
    def retrieve_python_path(cls) -> str:
        return f"{cls.__module__}.{cls.__qualname__}"

    @classmethod
    def describe(cls) -> str:
        return inspect.getdoc(cls) or ""

    # -- life cycle ---------------------------------------------------

    def setup(self) -> None:
        """Called once before any work; open files or connections here."""

    def teardown(self, exc_type=None, exc_value=None, traceback=None) -> None:
        """Called once after the work, with the error that stopped it."""

    def __enter__(self):
        self.setup()
        return self

    def __exit__(self, exc_type, exc_value, traceback):
        self.teardown(exc_type, exc_value, traceback)
        return False

    # -- helpers for user code ----------------------------------------

    def save(self, obj: Model) -> None:
        """Add a model instance to this processor's session."""
        self.session.add(obj)

    def delete(self, obj: Model) -> None:
        """Delete a stored model instance in this processor's session."""
        self.session.delete(obj)

    def validate(self, obj: Any) -> None:
        """Refuse anything that is not a model instance.

        Override to accept other objects; they are then ignored by the
        framework and yours to handle.
        """
        if not isinstance(obj, Model):
            raise TypeError(
                f"expected a model instance, got {type(obj).__name__}: "
                f"{obj!r:.80}"
            )


class Loader(Processor):
    """Feeds raw data into the pipeline: `generate()` yields model objects.

    Objects yielded are added to the session and committed in chunks.
    """

    def generate(self) -> Iterable[Model] | Model | None:
        raise NotImplementedError(
            f"{self.retrieve_python_path()} must define generate()"
        )


class _SelectingProcessor(Processor):
    """A processor that works on the stored objects its conditions select."""

    #: The model whose rows this processor works on.
    model: ClassVar[type[Model] | None] = None
    #: SQLAlchemy expressions a row must satisfy to be selected.
    conditions: ClassVar[Iterable[Any]] = ()
    #: Order in which the selected rows are handed to `process()`.
    ordering: ClassVar[Iterable[Any] | None] = None

    @classmethod
    def get_conditions(cls) -> list:
        return list(cls.conditions or ())

    @classmethod
    def get_ordering(cls) -> list:
        return list(cls.ordering or ())

    def process(self, obj: Model):
        raise NotImplementedError(
            f"{self.retrieve_python_path()} must define process(obj)"
        )


class Step(_SelectingProcessor):
    """Transforms the rows of `model` that match `conditions`.

    `process(obj)` may change `obj` in place and may return nothing, one new
    model object, or an iterable (a generator, say) of new objects; new
    objects are saved.
    """


class Alert(_SelectingProcessor):
    """Reports the rows of `model` that match `conditions` to `alert_to`.

    Each object is reported once per alert: what was sent is remembered in
    the `__corral_alerted__` table. `render_alert()` makes the text.
    """

    #: Endpoints (see corral.run.endpoints) every object is sent to.
    alert_to: ClassVar[Iterable[Any]] = ()

    def setup(self) -> None:
        for endpoint in self.alert_to:
            endpoint.setup(self)

    def teardown(self, exc_type=None, exc_value=None, traceback=None) -> None:
        for endpoint in self.alert_to:
            endpoint.teardown(exc_type, exc_value, traceback)

    def render_alert(self, utcnow: dt.datetime, endpoint, obj: Model) -> str:
        """The text sent about `obj` to `endpoint`; override to change it."""
        from ..conf import settings

        pipeline = settings.get("PIPELINE_NAME", "corral")
        return (
            f"[{pipeline}-ALERT @ {utcnow.isoformat()}] "
            f"Check the object '{obj!r}'"
        )

    def process(self, obj: Model) -> None:
        """Send `obj` to every endpoint."""
        utcnow = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
        for endpoint in self.alert_to:
            endpoint.process(obj, utcnow)


def is_processor(obj, kind: type[Processor]) -> bool:
    return inspect.isclass(obj) and issubclass(obj, kind) and obj is not kind
