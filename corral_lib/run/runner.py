"""Running one processor in this process: read, call user code, commit.

A step's or alert's work is a query. It is read in chunks by primary key
(keyset pagination: each chunk starts after the last key of the one
before), each object is handed to user code, and each chunk is committed
before the next is read. A crash therefore loses at most one chunk, and a
re-run starts over from whatever the conditions still select.

Executors (corral_lib.schedule) decide where and how many of these runs
happen; this module is the unit they all share.
"""

from __future__ import annotations

import dataclasses
import logging
import time
import traceback as tb_module
from typing import Iterator

import sqlalchemy as sa

from .. import db
from ..db.tables import Alerted
from ..errors import ProcessorError, one_line
from .base import Alert, Loader, Processor, Step

logger = logging.getLogger("corral.run")

KEY_SEPARATOR = "|"


@dataclasses.dataclass
class RunResult:
    """What one processor run did; every executor reports these."""

    processor: str
    kind: str
    processed: int = 0
    created: int = 0
    failed: int = 0
    seconds: float = 0.0
    error: str | None = None
    traceback: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None and self.failed == 0


def _chunk_size(chunk_size: int | None) -> int:
    if chunk_size is None:
        from ..conf import settings

        chunk_size = settings.get("CHUNK_SIZE", 1000)
    return max(1, int(chunk_size))


def primary_key(model) -> list[sa.Column]:
    return list(sa.inspect(model).primary_key)


def key_text(obj_or_row, columns) -> str:
    """The text form of a primary key stored in framework tables."""
    if isinstance(obj_or_row, db.Model):
        values = [getattr(obj_or_row, c.key) for c in columns]
    else:
        values = list(obj_or_row)
    return KEY_SEPARATOR.join(str(v) for v in values)


def key_expression(columns):
    """SQL for key_text(): the key columns cast to text, joined by '|'."""
    parts = [sa.cast(c, sa.String) for c in columns]
    expression = parts[0]
    for part in parts[1:]:
        expression = expression + KEY_SEPARATOR + part
    return expression


def selection(processor_cls) -> sa.Select:
    """The SELECT of primary keys a step or alert works on."""
    model = processor_cls.model
    if model is None:
        raise ProcessorError(
            f"{processor_cls.retrieve_python_path()} has no 'model'; set it "
            "to the model class whose rows it processes"
        )
    columns = primary_key(model)
    query = sa.select(*columns).where(*processor_cls.get_conditions())
    if issubclass(processor_cls, Alert):
        query = query.where(~alerted_exists(processor_cls, columns))
    return query


def alerted_exists(alert_cls, columns):
    """EXISTS(already alerted) for the outer row, answered by the index."""
    model = alert_cls.model
    return (
        sa.select(sa.literal(1))
        .where(
            Alerted.alert_path == alert_cls.retrieve_python_path(),
            Alerted.model_table == model.__table__.name,
            Alerted.model_ids == key_expression(columns),
        )
        .exists()
    )


def count_selected(session, processor_cls) -> int:
    query = selection(processor_cls).subquery()
    return session.execute(sa.select(sa.func.count()).select_from(query)).scalar()


def iter_key_chunks(session, processor_cls, chunk_size) -> Iterator[list]:
    """Yield lists of primary-key tuples, chunk by chunk.

    Without `ordering` this is keyset pagination on the primary key, so
    memory does not grow with the table. With `ordering` the keys are read
    in that order once, up front: the keys (not the objects) of the whole
    selection are held in memory for the run, which is the cost of a
    user-defined order that processing itself may change.
    """
    columns = primary_key(processor_cls.model)
    query = selection(processor_cls)
    ordering = processor_cls.get_ordering()
    if ordering:
        keys = [tuple(r) for r in session.execute(query.order_by(*ordering))]
        for start in range(0, len(keys), chunk_size):
            yield keys[start:start + chunk_size]
        return
    last = None
    while True:
        page = query
        if last is not None:
            if len(columns) == 1:
                page = page.where(columns[0] > last[0])
            else:
                page = page.where(sa.tuple_(*columns) > sa.tuple_(*last))
        page = page.order_by(*columns).limit(chunk_size)
        keys = [tuple(r) for r in session.execute(page)]
        if not keys:
            return
        yield keys
        last = keys[-1]


def load_objects(session, model, keys) -> list:
    """Load the objects of `keys`, in the order of `keys`."""
    columns = primary_key(model)
    if len(columns) == 1:
        where = columns[0].in_([k[0] for k in keys])
    else:
        where = sa.tuple_(*columns).in_(keys)
    found = {
        tuple(getattr(o, c.key) for c in columns): o
        for o in session.scalars(sa.select(model).where(where))
    }
    return [found[k] for k in keys if k in found]


def _outputs(processor, result, obj) -> list:
    """The new objects a process() call returned, checked."""
    if result is None:
        return []
    if isinstance(result, db.Model):
        items = [result]
    else:
        try:
            items = list(result)
        except TypeError:
            items = [result]
    for item in items:
        try:
            processor.validate(item)
        except TypeError as exc:
            where = f" on {obj!r}" if obj is not None else ""
            raise ProcessorError(
                f"{processor.retrieve_python_path()} returned something "
                f"that is not a model{where}: {exc}"
            ) from None
    return [i for i in items if isinstance(i, db.Model)]


def _finish(result: RunResult, started: float) -> RunResult:
    result.seconds = time.perf_counter() - started
    logger.info(
        "done %s: %d processed, %d created in %.2fs",
        result.processor, result.processed, result.created, result.seconds,
    )
    return result


def run_loader(loader_cls: type[Loader], chunk_size=None) -> RunResult:
    """Run the loader: add what generate() yields, committing in chunks."""
    chunk_size = _chunk_size(chunk_size)
    result = RunResult(loader_cls.retrieve_python_path(), "loader")
    started = time.perf_counter()
    logger.info("executing loader %s", result.processor)
    session = db.Session(bind=db.get_engine())
    try:
        with loader_cls(session) as loader:
            generated = loader.generate()
            if isinstance(generated, db.Model):
                generated = [generated]
            pending = 0
            for obj in generated or ():
                # Each yielded item is one object (a dict or a list is an
                # error, not a bundle), unless validate() was overridden.
                try:
                    loader.validate(obj)
                except TypeError as exc:
                    raise ProcessorError(
                        f"{result.processor} yielded something that is not "
                        f"a model (object #{result.created + 1}): {exc}"
                    ) from None
                if isinstance(obj, db.Model):
                    session.add(obj)
                    result.created += 1
                    pending += 1
                if pending >= chunk_size:
                    session.commit()
                    pending = 0
            session.commit()
        result.processed = result.created
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
    return _finish(result, started)


def run_selecting(processor_cls, chunk_size=None) -> RunResult:
    """Run a step or an alert over its selection, one chunk at a time."""
    chunk_size = _chunk_size(chunk_size)
    kind = "alert" if issubclass(processor_cls, Alert) else "step"
    result = RunResult(processor_cls.retrieve_python_path(), kind)
    started = time.perf_counter()
    logger.info("executing %s %s", kind, result.processor)
    session = db.Session(bind=db.get_engine())
    try:
        with processor_cls(session) as processor:
            for keys in iter_key_chunks(session, processor_cls, chunk_size):
                objects = load_objects(session, processor_cls.model, keys)
                for obj in objects:
                    _process_one(processor, obj, result)
                session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
    return _finish(result, started)


def _process_one(processor: Processor, obj, result: RunResult) -> None:
    session = processor.session
    if isinstance(processor, Alert):
        processor.process(obj)
        columns = primary_key(type(obj))
        session.add(
            Alerted(
                alert_path=processor.retrieve_python_path(),
                model_table=obj.__table__.name,
                model_ids=key_text(obj, columns),
            )
        )
    else:
        for item in _outputs(processor, processor.process(obj), obj):
            session.add(item)
            result.created += 1
    result.processed += 1


def run_processor(processor_cls, chunk_size=None) -> RunResult:
    """Run any processor in this process and report what it did.

    User code that raises is reported in the result (error and traceback),
    not raised, so a caller running several processors can go on. Mistakes
    the framework itself detects (ProcessorError) are reported the same way.
    """
    try:
        if issubclass(processor_cls, Loader):
            return run_loader(processor_cls, chunk_size)
        if issubclass(processor_cls, (Step, Alert)):
            return run_selecting(processor_cls, chunk_size)
        raise ProcessorError(f"{processor_cls!r} is not a processor")
    except (KeyboardInterrupt, SystemExit):
        raise
    except Exception as exc:
        kind = "loader" if issubclass(processor_cls, Loader) else (
            "alert" if issubclass(processor_cls, Alert) else "step"
        )
        # The traceback goes to the result (shown with --traceback) and to
        # debug logging, not to the terminal by default.
        logger.debug("%s failed", processor_cls.retrieve_python_path(),
                     exc_info=True)
        return RunResult(
            processor_cls.retrieve_python_path(), kind,
            error=one_line(exc),
            traceback=tb_module.format_exc(),
        )
