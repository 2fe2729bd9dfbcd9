"""Running one processor in this process: read, call user code, commit.

A step's or alert's work is a query. It is read in chunks by primary key
(keyset pagination: each chunk starts after the last key of the one
before, so memory stays flat however large the table), each object is
handed to user code, and each chunk is committed before the next is read.
A crash therefore loses at most one chunk, and a re-run starts over from
whatever the conditions still select.

A chunk is worked in two phases, so that parallel processes on one
SQLite file only take turns for the writing:

1. Read and process, without the write lock: the objects are loaded and
   `process()` runs on each, in memory.
2. Write, under the write lock (db/lock.py): plain changes go out in bulk
   (bulk.py), the rest through the ordinary flush, and the chunk commits.

When a row's `process()` raises, or the chunk cannot be written, the
chunk's work is thrown away and the chunk is done again row by row, each
row inside its own SAVEPOINT: a row that raises is rolled back alone,
tried again (settings.FAILURE_RETRIES), then recorded in
`__corral_failures__` with its traceback, and the others are committed.
Later runs skip recorded rows until `corral failures --retry`. So
`process()` may run more than once for a row: keep it free of effects
outside the session, or make them harmless to repeat.

Alerts work the same way, except that sending is the effect: an alert
never redoes a row it has sent. What was sent is recorded in
`__corral_alerted__` in the same commit as the chunk; a crash between the
sending and that commit means those rows are sent again by the next run
(at least once, never silently lost).

With settings.STRICT the processor stops at its first error instead, and
its current chunk is rolled back.

A stop request (SIGINT/SIGTERM, see corral_lib.schedule.signals) is
honoured between two rows: a step rolls back its current chunk, an alert
first records what it has already sent.

Known shortcoming: nothing stops two programs from running the same step
on the same slice at the same time (say, a cron line that starts before
the last run ended); both may then process a row. The partitions of one
`corral run`, and `--partition` slices given to different machines, never
overlap.

Executors (corral_lib.schedule) decide where and how many of these runs
happen; this module is the unit they all share.
"""

from __future__ import annotations

import contextlib
import dataclasses
import gc
import logging
import os
import socket
import time
import traceback as tb_module
import weakref
import zlib
from typing import Callable, Iterator

import sqlalchemy as sa

from .. import db
from ..db.lock import lock_for
from ..db.tables import Alerted, Failure, RunRecord
from ..errors import CorralError, ProcessorError
from . import bulk
from .base import Alert, Loader, Processor, Step

logger = logging.getLogger("corral.run")

KEY_SEPARATOR = "|"
#: How many failures a RunResult keeps as text for the summary.
FAILURES_KEPT = 20


# -- what a run is asked to do, and what it did ------------------------


@dataclasses.dataclass(frozen=True)
class Partition:
    """Slice `index` (from 0) of `count`: the rows a process works on.

    For a single integer primary key the slice is `key mod count`;
    otherwise a CRC-32 of the key's text decides. Slices never overlap and
    together cover every row.
    """

    index: int = 0
    count: int = 1

    @classmethod
    def parse(cls, text: str) -> "Partition":
        """'I/N' with I from 1 to N, as `run --partition` takes it."""
        try:
            first, _, second = str(text).partition("/")
            index, count = int(first), int(second)
        except ValueError:
            index = count = 0
        if count < 1 or not 1 <= index <= count:
            raise CorralError(
                f"--partition {text!r}: write it as I/N with 1 <= I <= N, "
                "for example 2/4 for the second of four slices",
                returncode=2,
            )
        return cls(index - 1, count)

    def split(self, parts: int) -> list["Partition"]:
        """This slice cut into `parts` slices (one per process)."""
        parts = max(1, int(parts))
        return [
            Partition(self.index + self.count * j, self.count * parts)
            for j in range(parts)
        ]

    @property
    def whole(self) -> bool:
        return self.count == 1

    def __str__(self) -> str:
        return f"{self.index + 1}/{self.count}"


@dataclasses.dataclass
class RunOptions:
    """How to run a processor; None means "from settings"."""

    chunk_size: int | None = None
    partition: Partition = Partition()
    retries: int | None = None
    strict: bool | None = None
    #: Anything with `is_set()`: checked between rows.
    stop: object | None = None
    #: Called with the RunResult after each chunk.
    progress: Callable | None = None
    #: Count the rows selected at start (for progress) first.
    count_total: bool = False
    #: Work only on the rows recorded as failed (`failures --retry`).
    only_failed: bool = False
    #: Write the run to __corral_runs__.
    history: bool = True
    batch: str | None = None

    def resolved(self) -> "RunOptions":
        from ..conf import settings

        values = dataclasses.replace(self)
        if values.chunk_size is None:
            values.chunk_size = settings.get("CHUNK_SIZE", 1000)
        values.chunk_size = max(1, int(values.chunk_size))
        if values.retries is None:
            values.retries = settings.get("FAILURE_RETRIES", 1)
        values.retries = max(0, int(values.retries))
        if values.strict is None:
            values.strict = bool(settings.get("STRICT", False))
        if values.batch is None:
            values.batch = new_batch()
        return values

    def stop_requested(self) -> bool:
        return self.stop is not None and self.stop.is_set()


def new_batch() -> str:
    """An id shared by the processes of one `corral run`."""
    return os.urandom(8).hex()


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
    partition: str = "1/1"
    #: Rows the selection held at start, when counted (progress).
    selected: int | None = None
    #: Rows inserted, updated or deleted: a round that changes nothing
    #: ends the repetition of rounds.
    changed: int = 0
    #: The signal's name when a stop request ended the run.
    interrupted: str | None = None
    #: "key: error" of the first failed rows.
    failures: list = dataclasses.field(default_factory=list)
    batch: str | None = None

    @property
    def ok(self) -> bool:
        return (self.error is None and self.failed == 0
                and self.interrupted is None)

    @property
    def name(self) -> str:
        return self.processor.rsplit(".", 1)[-1]

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "RunResult":
        return cls(**data)

    def merge(self, other: "RunResult") -> None:
        """Add another run of the same processor (partition, round)."""
        self.processed += other.processed
        self.created += other.created
        self.failed += other.failed
        self.changed += other.changed
        self.seconds = max(self.seconds, other.seconds)
        if other.selected is not None:
            self.selected = (self.selected or 0) + other.selected
        self.error = self.error or other.error
        self.traceback = self.traceback or other.traceback
        self.interrupted = self.interrupted or other.interrupted
        room = FAILURES_KEPT - len(self.failures)
        self.failures.extend(other.failures[:max(0, room)])


class Stopped(Exception):
    """A stop was requested; the run ends at a row boundary."""


# -- keys and selections ---------------------------------------------


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


def _integer_key(columns) -> bool:
    return len(columns) == 1 and isinstance(columns[0].type, sa.Integer)


def _model_of(processor_cls):
    model = processor_cls.model
    if model is None:
        raise ProcessorError(
            f"{processor_cls.retrieve_python_path()} has no 'model'; set it "
            "to the model class whose rows it processes"
        )
    return model


def _recorded_exists(path_column, table, processor_cls, columns):
    """EXISTS(a framework-table row for this processor and the outer row).

    The alerted and failures tables both key a row by (processor path,
    model table, key text) under a unique index, which answers this.
    """
    return (
        sa.select(sa.literal(1))
        .where(
            path_column == processor_cls.retrieve_python_path(),
            table.model_table == processor_cls.model.__table__.name,
            table.model_ids == key_expression(columns),
        )
        .exists()
    )


def alerted_exists(alert_cls, columns):
    """EXISTS(already alerted) for the outer row, answered by the index."""
    return _recorded_exists(Alerted.alert_path, Alerted, alert_cls, columns)


def failed_exists(processor_cls, columns):
    """EXISTS(recorded as failed) for the outer row, by the unique index."""
    return _recorded_exists(Failure.processor, Failure, processor_cls,
                            columns)


def has_failures(session, processor_cls) -> bool:
    path = processor_cls.retrieve_python_path()
    query = sa.select(Failure.id).where(Failure.processor == path).limit(1)
    return session.execute(query).first() is not None


def filters(processor_cls, partition: Partition = Partition(),
            skip_failed: bool = True, only_failed: bool = False) -> list:
    """The WHERE clauses of a processor's selection."""
    model = _model_of(processor_cls)
    columns = primary_key(model)
    where = list(processor_cls.get_conditions())
    if issubclass(processor_cls, Alert):
        where.append(~alerted_exists(processor_cls, columns))
    if only_failed:
        where.append(failed_exists(processor_cls, columns))
    elif skip_failed:
        where.append(~failed_exists(processor_cls, columns))
    if not partition.whole and _integer_key(columns):
        count = partition.count
        # Twice mod so negative keys land in 0..count-1 too.
        where.append(
            ((columns[0] % count) + count) % count == partition.index
        )
    return where


def selection(processor_cls, partition: Partition = Partition(),
              skip_failed: bool = True, only_failed: bool = False):
    """The SELECT of primary keys a step or alert works on."""
    columns = primary_key(_model_of(processor_cls))
    return sa.select(*columns).where(
        *filters(processor_cls, partition, skip_failed, only_failed)
    )


def _in_partition(key: tuple, columns, partition: Partition) -> bool:
    """The slice test for keys that are not a single integer."""
    if partition.whole or _integer_key(columns):
        return True
    text = key_text(key, columns).encode("utf-8")
    return zlib.crc32(text) % partition.count == partition.index


def count_selected(session, processor_cls,
                   partition: Partition = Partition(),
                   skip_failed: bool | None = None,
                   only_failed: bool = False) -> int:
    """How many rows the processor would select now."""
    if skip_failed is None:
        skip_failed = has_failures(session, processor_cls)
    columns = primary_key(_model_of(processor_cls))
    query = selection(processor_cls, partition, skip_failed, only_failed)
    if partition.whole or _integer_key(columns):
        subquery = query.subquery()
        return session.execute(
            sa.select(sa.func.count()).select_from(subquery)
        ).scalar()
    return sum(
        1 for row in session.execute(query)
        if _in_partition(tuple(row), columns, partition)
    )


def iter_key_chunks(session, processor_cls, chunk_size,
                    partition: Partition = Partition(),
                    skip_failed: bool = False,
                    only_failed: bool = False) -> Iterator[list]:
    """Yield lists of primary-key tuples, chunk by chunk.

    Without `ordering` this is keyset pagination on the primary key, so
    memory does not grow with the table. With `ordering` the keys are read
    in that order once, up front: the keys (not the objects) of the whole
    selection are held in memory for the run, which is the cost of a
    user-defined order that processing itself may change.
    """
    columns = primary_key(_model_of(processor_cls))
    query = selection(processor_cls, partition, skip_failed, only_failed)
    ordering = processor_cls.get_ordering()
    if ordering:
        keys = [
            tuple(r) for r in session.execute(query.order_by(*ordering))
            if _in_partition(tuple(r), columns, partition)
        ]
        session.rollback()
        for start in range(0, len(keys), chunk_size):
            yield keys[start:start + chunk_size]
        return
    last = None
    while True:
        page = query
        if last is not None:
            page = page.where(_after(columns, last))
        page = page.order_by(*columns).limit(chunk_size)
        rows = [tuple(r) for r in session.execute(page)]
        if not rows:
            return
        last = rows[-1]
        keys = [k for k in rows if _in_partition(k, columns, partition)]
        if keys:
            yield keys


def _after(columns, last):
    if len(columns) == 1:
        return columns[0] > last[0]
    return sa.tuple_(*columns) > sa.tuple_(*last)


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


def iter_object_chunks(session, processor_cls, chunk_size,
                       partition: Partition = Partition(),
                       skip_failed: bool = False,
                       only_failed: bool = False):
    """Yield (objects, keys) chunk by chunk.

    A single integer key and no `ordering` (the common case) read each
    chunk's objects with one keyset query; otherwise the keys are read
    first and the objects loaded by key.
    """
    model = _model_of(processor_cls)
    columns = primary_key(model)
    if processor_cls.get_ordering() or not _integer_key(columns):
        for keys in iter_key_chunks(session, processor_cls, chunk_size,
                                    partition, skip_failed, only_failed):
            yield load_objects(session, model, keys), keys
        return
    column = columns[0]
    where = filters(processor_cls, partition, skip_failed, only_failed)
    mapper = sa.inspect(model)
    queries = bulk.page_queries(mapper, where, column, chunk_size)
    last = None
    while True:
        loaded = None
        if queries is not None:
            if last is None:
                loaded = bulk.load_chunk(session, mapper, queries[0])
            else:
                loaded = bulk.load_chunk(session, mapper, queries[1],
                                         {"corral_after": last})
        if loaded is None:
            page_where = where if last is None else [*where, column > last]
            page = sa.select(model).where(*page_where)
            page = page.order_by(column).limit(chunk_size)
            objects = list(session.scalars(page))
            keys = [(getattr(o, column.key),) for o in objects]
        else:
            objects, keys = loaded
        if not objects:
            return
        last = keys[-1][0]
        yield objects, keys


# -- pieces shared by the kinds of processor ---------------------------


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


def _pending_changes(session) -> int:
    """Objects the next flush will insert, update or delete."""
    dirty = sum(1 for o in session.dirty if session.is_modified(o))
    return len(session.new) + len(session.deleted) + dirty


# session.info key: objects written by the ORM's flushes since the count
# was last taken (see _count_flushed).
_FLUSHED = "corral_flushed"


def _count_flushed(session, flush_context) -> None:
    """after_flush hook of a run's session: count what the flush wrote.

    A query inside process() flushes the chunk's changes so far
    (autoflush), before the runner writes the chunk; they must still
    count as changes, or the rounds of a chain of steps would stop early.
    After a flush the session still shows what it was about to write.
    """
    session.info[_FLUSHED] = (
        session.info.get(_FLUSHED, 0) + _pending_changes(session)
    )


def _take_flushed(session) -> int:
    """Objects the ORM's flushes wrote since the last call."""
    return session.info.pop(_FLUSHED, 0)


def _write_chunk(session, objects=None) -> int:
    """Flush the chunk (plain changes in bulk) and commit; count changes:
    the bulk ones, and those the ORM's flushes wrote since the chunk began
    (the caller took the count when it began).

    The caller holds the write lock.
    """
    changed = 0
    if _BULK_UPDATES:
        changed, _ = bulk.flush_updates(session, objects)
    if session.new or session.deleted or session.dirty:
        session.flush()
    changed += _take_flushed(session)
    session.commit()
    return changed


_BULK_UPDATES = bulk.usable()


def _describe(exc: BaseException) -> str:
    if isinstance(exc, ProcessorError):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"


def _record_failure(session, processor_cls, key: str, exc, trace: str,
                    attempts: int) -> None:
    """Add or update the failure row of `key` (flushed with the chunk)."""
    path = processor_cls.retrieve_python_path()
    table = str(processor_cls.model.__table__.name)
    existing = session.scalars(
        sa.select(Failure).where(
            Failure.processor == path, Failure.model_table == table,
            Failure.model_ids == key,
        )
    ).first()
    now = _utcnow()
    if existing is None:
        session.add(Failure(
            processor=path, model_table=table, model_ids=key,
            error=_describe(exc), traceback=trace, attempts=attempts,
            created_at=now, updated_at=now,
        ))
    else:
        existing.error = _describe(exc)
        existing.traceback = trace
        existing.attempts = (existing.attempts or 0) + attempts
        existing.updated_at = now


def _forget_failure(session, processor_cls, key: str) -> None:
    session.execute(
        sa.delete(Failure).where(
            Failure.processor == processor_cls.retrieve_python_path(),
            Failure.model_table == processor_cls.model.__table__.name,
            Failure.model_ids == key,
        )
    )


def _utcnow():
    import datetime as dt

    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


def _note_failure(result: RunResult, key: str, exc) -> None:
    result.failed += 1
    if len(result.failures) < FAILURES_KEPT:
        result.failures.append(f"{key}: {_describe(exc)}")
    logger.warning("%s failed on %s: %s", result.processor, key,
                   _describe(exc))


@contextlib.contextmanager
def _quiet_gc():
    """Keep the cyclic garbage collector off the framework's own objects.

    Loading and flushing ORM objects allocates a lot, which makes the
    collector walk every object the program holds (SQLAlchemy's and the
    pipeline's modules, mappers, compiled statements) again and again;
    freezing what exists at start takes them out of those walks. Garbage
    made during the run is still collected. No collection is run first:
    it would cost some 20 ms a run, and garbage frozen with the rest
    becomes collectable again when the run ends.
    """
    gc.freeze()
    thresholds = gc.get_threshold()
    gc.set_threshold(max(thresholds[0], GC_THRESHOLD), *thresholds[1:])
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)
        gc.unfreeze()


#: The collector's first threshold while a processor runs. A chunk makes
#: some six tracked objects per row (the object, its dict, its ORM state
#: and what that holds), and by default a collection runs every 700
#: allocations, each walking every object the chunk holds; the objects
#: die by reference counting anyway once the chunk is committed. Raised,
#: a collection runs about once per several chunks instead, which made
#: a step about a quarter faster in `make bench`; reference cycles left
#: by user code are still collected, only less often.
GC_THRESHOLD = 50_000


# Engines whose framework tables are known to exist (weakly held: a
# QA test makes and drops a fresh engine per test).
_tables_checked = weakref.WeakSet()


def ensure_framework_tables(engine) -> None:
    """Create __corral_failures__ and __corral_runs__ if they are missing.

    Databases made before these tables existed get them on first run,
    without `createdb`; the pipeline's own tables are never touched.
    """
    if engine in _tables_checked:
        return
    tables = [Failure.__table__, RunRecord.__table__, Alerted.__table__]

    def missing():
        existing = set(sa.inspect(engine).get_table_names())
        return [t for t in tables if t.name not in existing]

    error = None
    with lock_for(engine):
        for attempt in range(_TABLE_ATTEMPTS):
            absent = missing()
            if not absent:
                break
            time.sleep(0.1 * attempt)
            for table in absent:
                try:
                    table.create(engine, checkfirst=True)
                except sa.exc.SQLAlchemyError as exc:
                    # Servers get no lock file: another `corral run` may
                    # be making the same table (on MariaDB, outside any
                    # transaction, one table after the other). Look again.
                    error = exc
        else:
            absent = missing()
            if absent:
                if error is not None:
                    raise error
                raise CorralError(
                    "could not make the framework tables "
                    f"{', '.join(t.name for t in absent)}; check that the "
                    "database user may create tables"
                )
    _tables_checked.add(engine)


#: How many times ensure_framework_tables() looks for tables that another
#: process may be creating at the same moment.
_TABLE_ATTEMPTS = 5


class _History:
    """The run's row in __corral_runs__, written at start and at the end.

    Written through its own short transactions, outside the runner's, so
    a run rolled back still leaves its record.
    """

    def __init__(self, engine, result: RunResult):
        self.engine = engine
        self.result = result
        self.id = None

    def start(self) -> None:
        values = dict(
            batch=self.result.batch or "", processor=self.result.processor,
            kind=self.result.kind, partition=self.result.partition,
            host=socket.gethostname()[:255], pid=os.getpid(),
            started_at=_utcnow(), status="running",
        )
        try:
            with lock_for(self.engine), self.engine.begin() as conn:
                self.id = conn.execute(
                    sa.insert(RunRecord).values(**values)
                    .returning(RunRecord.id)
                ).scalar() if _returning(self.engine) else None
                if self.id is None:
                    conn.execute(sa.insert(RunRecord).values(**values))
                    self.id = conn.execute(
                        sa.select(sa.func.max(RunRecord.id)).where(
                            RunRecord.pid == values["pid"],
                            RunRecord.processor == values["processor"],
                        )
                    ).scalar()
        except sa.exc.SQLAlchemyError:
            logger.warning("could not record the start of %s in %s",
                           self.result.processor, RunRecord.__tablename__,
                           exc_info=True)

    def finish(self) -> None:
        if self.id is None:
            return
        result = self.result
        if result.interrupted:
            status = "interrupted"
        elif result.error:
            status = "error"
        elif result.failed:
            status = "failed"
        else:
            status = "ok"
        try:
            with lock_for(self.engine), self.engine.begin() as conn:
                conn.execute(
                    sa.update(RunRecord).where(RunRecord.id == self.id)
                    .values(
                        finished_at=_utcnow(), seconds=result.seconds,
                        selected=result.selected,
                        processed=result.processed, created=result.created,
                        failed=result.failed, status=status,
                        error=result.error,
                    )
                )
        except sa.exc.SQLAlchemyError:
            logger.warning("could not record the end of %s in %s",
                           result.processor, RunRecord.__tablename__,
                           exc_info=True)


def _returning(engine) -> bool:
    return bool(getattr(engine.dialect, "insert_returning", False))


# -- the loader -------------------------------------------------------


def run_loader(loader_cls: type[Loader], chunk_size=None,
               options: RunOptions | None = None) -> RunResult:
    """Run the loader: add what generate() yields, committing in chunks.

    Plain new objects are inserted in bulk (bulk.Inserter) and do not get
    their primary keys back; objects the loader saves itself, and objects
    with relationships to unsaved objects, go through the session as
    usual. A query inside generate() therefore does not see the objects
    yielded in the same chunk: save() an object (as the iris example does
    with species) when later rows must find it.
    """
    options = (options or RunOptions(chunk_size=chunk_size)).resolved()
    result = RunResult(loader_cls.retrieve_python_path(), "loader",
                       batch=options.batch)
    return _run(loader_cls, result, options, _load_body)


def _load_body(loader_cls, session, lock, result, options) -> None:
    inserter = bulk.Inserter()
    pending = 0
    created = 0

    def write():
        nonlocal pending
        with lock:
            inserter.flush(session)
            if session.new or session.dirty or session.deleted:
                session.flush()
            session.commit()
        pending = 0
        result.created = result.processed = created
        _progress(result, options)

    stop = options.stop
    chunk_size = options.chunk_size
    offer = inserter.offer
    with loader_cls(session) as loader:
        # The default validate() accepts any model instance; a loader that
        # overrides it gets it called on everything it yields.
        checked = type(loader).validate is not Processor.validate
        generated = loader.generate()
        if isinstance(generated, db.Model):
            generated = [generated]
        for obj in generated or ():
            if stop is not None and stop.is_set():
                raise Stopped()
            if checked or not isinstance(obj, db.Model):
                # Each yielded thing is one object (a list or tuple of
                # them is taken too); a dict or anything else is refused
                # by validate().
                batch = obj if isinstance(obj, (list, tuple)) else [obj]
                items = _outputs(loader, batch, None)
            else:
                items = (obj,)
            for item in items:
                if not offer(item):
                    session.add(item)
                pending += 1
                created += 1
            if pending >= chunk_size:
                write()
        write()
    result.changed = result.created


# -- steps and alerts ---------------------------------------------------


def run_selecting(processor_cls, chunk_size=None,
                  options: RunOptions | None = None) -> RunResult:
    """Run a step or an alert over its selection, one chunk at a time."""
    options = (options or RunOptions(chunk_size=chunk_size)).resolved()
    kind = "alert" if issubclass(processor_cls, Alert) else "step"
    result = RunResult(processor_cls.retrieve_python_path(), kind,
                       partition=str(options.partition),
                       batch=options.batch)
    return _run(processor_cls, result, options, _select_body)


def _select_body(processor_cls, session, lock, result, options) -> None:
    _model_of(processor_cls)
    skip_failed = (
        not options.only_failed and has_failures(session, processor_cls)
    )
    if options.count_total:
        result.selected = count_selected(
            session, processor_cls, options.partition, skip_failed,
            options.only_failed,
        )
        session.rollback()
    _progress(result, options)
    chunk = _alert_chunk if issubclass(processor_cls, Alert) else _step_chunk
    with processor_cls(session) as processor:
        for objects, keys in iter_object_chunks(
            session, processor_cls, options.chunk_size, options.partition,
            skip_failed, options.only_failed,
        ):
            chunk(processor, session, lock, objects, keys, result, options)
            _progress(result, options)


def _step_chunk(processor, session, lock, objects, keys, result,
                options) -> None:
    if options.only_failed:
        # Few rows, each to be accounted for: straight to row by row.
        session.rollback()
        _careful_step_chunk(processor, session, lock, keys, result,
                            options, {})
        return
    created = 0
    failure = None
    _take_flushed(session)  # count the chunk's own flushes only
    # The loop below runs once per row: names are looked up once here.
    process = processor.process
    stop = options.stop
    add = session.add
    obj = None
    try:
        for obj in objects:
            if stop is not None and stop.is_set():
                raise Stopped()
            output = process(obj)
            if output is not None:
                for item in _outputs(processor, output, obj):
                    add(item)
                    created += 1
    except Stopped:
        raise
    except Exception as exc:
        if options.strict:
            raise
        columns = primary_key(type(obj))
        failure = (key_text(obj, columns), exc, tb_module.format_exc())
    if failure is None:
        try:
            with lock:
                result.changed += _write_chunk(session, objects)
            result.processed += len(objects)
            result.created += created
            return
        except Exception as exc:
            if options.strict:
                raise
            logger.info("%s: writing a chunk failed (%s); doing it again "
                        "row by row", result.processor, _describe(exc))
    session.rollback()
    # The row that failed here has had its first attempt.
    tried = {failure[0]: (1, failure[1], failure[2])} if failure else {}
    _careful_step_chunk(processor, session, lock, keys, result, options,
                        tried)


def _careful_step_chunk(processor, session, lock, keys, result, options,
                        tried: dict) -> None:
    """Do a chunk row by row, each row in its own SAVEPOINT.

    DuckDB has no SAVEPOINT: there each row gets its own transaction.
    """
    model = processor.model
    columns = primary_key(model)
    nested = _supports_savepoints(session)
    with lock:
        objects = load_objects(session, model, keys)
        for obj in objects:
            if options.stop_requested():
                raise Stopped()
            key = key_text(obj, columns)
            attempts, exc, trace = tried.get(key, (0, None, None))
            while True:
                if attempts > options.retries:
                    _record_failure(session, type(processor), key, exc,
                                    trace, attempts)
                    if not nested:
                        session.commit()
                    _note_failure(result, key, exc)
                    break
                savepoint = session.begin_nested() if nested else None
                _take_flushed(session)  # this attempt's flushes only
                try:
                    created = 0
                    for item in _outputs(processor, processor.process(obj),
                                         obj):
                        session.add(item)
                        created += 1
                    session.flush()
                    changed = _take_flushed(session)
                    if options.only_failed:
                        _forget_failure(session, type(processor), key)
                    if nested:
                        savepoint.commit()
                    else:
                        session.commit()
                except Exception as error:
                    # `error` is unbound after this block; keep it.
                    exc, trace = error, tb_module.format_exc()
                    if nested:
                        savepoint.rollback()
                    else:
                        session.rollback()
                    if options.strict:
                        raise
                    attempts += 1
                    continue
                result.processed += 1
                result.created += created
                result.changed += changed
                break
        session.commit()


def _supports_savepoints(session) -> bool:
    return session.get_bind().dialect.name != "duckdb"


def _alert_chunk(processor, session, lock, objects, keys, result,
                 options) -> None:
    columns = primary_key(processor.model)
    sent: list[str] = []
    failed: list = []
    stopped = strict_error = None
    for obj in objects:
        if options.stop_requested():
            stopped = Stopped()
            break
        key = key_text(obj, columns)
        attempts = 0
        while True:
            try:
                processor.process(obj)
            except Exception as exc:
                attempts += 1
                if options.strict:
                    strict_error = exc
                    break
                if attempts <= options.retries:
                    continue
                failed.append((key, exc, tb_module.format_exc(), attempts))
                break
            sent.append(key)
            break
        if strict_error is not None:
            break
    # What was sent is recorded even when stopping or failing, so the
    # next run does not send it again.
    _record_alerted(processor, session, lock, sent, failed, result, options)
    result.processed += len(sent)
    result.changed += len(sent)
    for key, exc, _, _ in failed:
        _note_failure(result, key, exc)
    if strict_error is not None:
        raise strict_error
    if stopped is not None:
        raise stopped


def _record_alerted(processor, session, lock, sent, failed, result,
                    options) -> None:
    alert_cls = type(processor)
    path = alert_cls.retrieve_python_path()
    # str(): a Table's name is a quoted_name, a str subclass that the
    # sqlite3 driver adapts per row through a slow attribute lookup.
    table_name = str(processor.model.__table__.name)
    now = _utcnow()
    names = ("alert_path", "model_table", "model_ids", "created_at")
    rows = [(path, table_name, key, now) for key in sent]
    shape = (Alerted.__table__, names)
    try:
        with lock:
            if rows:
                bulk._insert_rows(session.connection(), shape, rows)
            for key, exc, trace, attempts in failed:
                _record_failure(session, alert_cls, key, exc, trace,
                                attempts)
            if options.only_failed:
                for key in sent:
                    _forget_failure(session, alert_cls, key)
            _write_chunk(session)
        return
    except sa.exc.SQLAlchemyError as exc:
        logger.info("%s: recording a chunk failed (%s); recording row by "
                    "row", result.processor, _describe(exc))
        session.rollback()
    # Row by row: a row another process recorded meanwhile is skipped.
    nested = _supports_savepoints(session)
    with lock:
        for row in rows:
            savepoint = session.begin_nested() if nested else None
            try:
                session.execute(
                    sa.insert(Alerted).values(**dict(zip(names, row)))
                )
                if nested:
                    savepoint.commit()
                else:
                    session.commit()
            except sa.exc.IntegrityError:
                if nested:
                    savepoint.rollback()
                else:
                    session.rollback()
        for key, exc, trace, attempts in failed:
            _record_failure(session, alert_cls, key, exc, trace, attempts)
        if options.only_failed:
            for key in sent:
                _forget_failure(session, alert_cls, key)
        session.commit()


# -- running any processor --------------------------------------------


def _progress(result: RunResult, options: RunOptions) -> None:
    if options.progress is not None:
        options.progress(result)


def _run(processor_cls, result: RunResult, options: RunOptions,
         body) -> RunResult:
    """Run `body` with a session, the history record and error capture.

    User code that raises is reported in the result (error and
    traceback), not raised, so a caller running several processors can go
    on. A hard interrupt (a second Ctrl-C) is raised after the chunk is
    rolled back.
    """
    started = time.perf_counter()
    logger.info("executing %s %s (partition %s)", result.kind,
                result.processor, result.partition)
    engine = db.get_engine()
    history = None
    session = None
    try:
        ensure_framework_tables(engine)
        if options.history:
            history = _History(engine, result)
            history.start()
        session = db.Session(bind=engine)
        sa.event.listen(session, "after_flush", _count_flushed)
        with _quiet_gc():
            body(processor_cls, session, lock_for(engine), result, options)
    except Stopped:
        session.rollback()
        result.interrupted = getattr(options.stop, "reason", None) or "stop"
        logger.info("%s stopped on request", result.processor)
    except (KeyboardInterrupt, SystemExit):
        if session is not None:
            session.rollback()
        result.interrupted = "SIGINT"
        raise
    except Exception as exc:
        if session is not None:
            with contextlib.suppress(Exception):
                session.rollback()
        logger.debug("%s failed", result.processor, exc_info=True)
        result.error = _describe(exc)
        result.traceback = tb_module.format_exc()
    finally:
        if session is not None:
            with contextlib.suppress(Exception):
                session.close()
        result.seconds = time.perf_counter() - started
        if history is not None:
            history.finish()
    logger.info(
        "done %s: %d processed, %d created, %d failed in %.2fs",
        result.processor, result.processed, result.created, result.failed,
        result.seconds,
    )
    return result


def run_processor(processor_cls, chunk_size=None,
                  options: RunOptions | None = None) -> RunResult:
    """Run any processor in this process and report what it did."""
    if options is None:
        options = RunOptions(chunk_size=chunk_size)
    if isinstance(processor_cls, type) and issubclass(processor_cls, Loader):
        return run_loader(processor_cls, options=options)
    if isinstance(processor_cls, type) and issubclass(
        processor_cls, (Step, Alert)
    ):
        return run_selecting(processor_cls, options=options)
    name = getattr(processor_cls, "__name__", repr(processor_cls))
    return RunResult(name, "?", error=f"{processor_cls!r} is not a processor")


__all__ = [
    "Partition", "Processor", "RunOptions", "RunResult", "Stopped",
    "count_selected", "key_text", "load_objects", "run_processor",
    "selection",
]
