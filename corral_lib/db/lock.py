"""The write lock that lets several processes share one database file.

SQLite and DuckDB keep a database in one file, and neither queues writers
from several processes the way a server does:

- SQLite lets one writer at a time in and makes the others wait up to the
  busy timeout. Worse, a transaction that read first and writes later
  cannot wait at all once another process committed in between: SQLite
  refuses it at once ("database is locked", SQLITE_BUSY_SNAPSHOT).
- DuckDB lets only one process open the file at all.

So every process of a pipeline takes a file lock (the filelock library)
beside the database file, `<database>.lock`, before it writes:

- SQLite: a transaction that begins while the lock is held begins with
  BEGIN IMMEDIATE (it owns SQLite's write lock from the start). A
  transaction that began as a reader takes the file lock at its first
  write; if it has not written yet it is restarted as BEGIN IMMEDIATE,
  which ends its read snapshot: later statements see what others committed
  meanwhile, as in PostgreSQL's default READ COMMITTED. The lock is let go
  when the transaction ends. Readers never wait: WAL mode lets them read
  while a writer works.
- DuckDB: the file is opened only while the lock is held; each connection
  takes the lock when it opens and lets it go after it closes (the engine
  keeps no connection open between uses).

PostgreSQL and MariaDB queue writers themselves; they get no lock file.

The lock is reentrant within a process: the runner holds it around a
chunk's writes while the engine's own hooks take it again underneath.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from pathlib import Path

from filelock import FileLock, Timeout
from sqlalchemy import event
from sqlalchemy.pool import NullPool

logger = logging.getLogger("corral.db.lock")

#: How long to wait before saying, in the log, that another process holds
#: the lock (the wait itself goes on until the lock is free).
WAIT_NOTICE_SECONDS = 60

# Statements that change the database; anything else reads.
_WRITE_HEADS = (
    "INSERT", "UPDATE", "DELETE", "REPLACE", "CREATE", "DROP", "ALTER",
)

_locks: dict[str, "WriteLock"] = {}
_locks_guard = threading.Lock()


class WriteLock:
    """A reentrant inter-process lock on `<database file>.lock`."""

    def __init__(self, database: Path):
        self.database = Path(database)
        self.path = self.database.with_name(self.database.name + ".lock")
        # Shared by the threads of a process (not thread-local): the
        # runner and the engine hooks run in the same thread anyway, and a
        # progress thread never writes.
        self._lock = FileLock(str(self.path), thread_local=False)
        self._owner_pid = os.getpid()
        # The reentrant count is kept here, and filelock is called only
        # for the outermost acquire and release: its own bookkeeping
        # costs some 60 microseconds a call, and the engine hooks ask
        # `held` on every transaction.
        self._depth = 0

    @property
    def held(self) -> bool:
        """True when this process holds the lock."""
        return self._depth > 0 and self._owner_pid == os.getpid()

    def acquire(self) -> None:
        if os.getpid() != self._owner_pid:
            # A forked child must not inherit its parent's count.
            self._lock = FileLock(str(self.path), thread_local=False)
            self._owner_pid = os.getpid()
            self._depth = 0
        if self._depth:
            self._depth += 1
            return
        while True:
            try:
                self._lock.acquire(timeout=WAIT_NOTICE_SECONDS)
                break
            except Timeout:
                logger.warning(
                    "still waiting for the write lock %s, held by another "
                    "process of this pipeline", self.path,
                )
        self._depth = 1

    def release(self) -> None:
        if self._depth == 0 or self._owner_pid != os.getpid():
            return
        self._depth -= 1
        if self._depth == 0:
            self._lock.release()

    def __enter__(self):
        self.acquire()
        return self

    def __exit__(self, *exc_info):
        self.release()
        return False

    def __repr__(self):
        return f"<WriteLock {self.path}>"


def write_lock(database: Path) -> WriteLock:
    """The one lock object of this process for a database file."""
    key = str(Path(database).resolve())
    with _locks_guard:
        lock = _locks.get(key)
        if lock is None or lock._owner_pid != os.getpid():
            lock = _locks[key] = WriteLock(Path(key))
        return lock


def lock_for(engine):
    """The engine's write lock, or a do-nothing context for servers."""
    lock = getattr(engine, "_corral_write_lock", None)
    return lock if lock is not None else contextlib.nullcontext()


def begin_statement(engine) -> str:
    """BEGIN, or BEGIN IMMEDIATE when this process holds the write lock."""
    lock = getattr(engine, "_corral_write_lock", None)
    if lock is not None and lock.held:
        return "BEGIN IMMEDIATE"
    return "BEGIN"


# -- SQLite -----------------------------------------------------------


def _is_write(head: str, statement: str) -> bool:
    if head.startswith(_WRITE_HEADS):
        return True
    if head.startswith("WITH"):
        # A common table expression may front an INSERT/UPDATE/DELETE.
        words = set(statement.upper().split())
        return bool(words & {"INSERT", "UPDATE", "DELETE"})
    return False


def install_sqlite(engine, database: Path) -> WriteLock:
    """Guard every write transaction of a file SQLite engine by the lock.

    The engine's "begin" hook (engine.py) asks begin_statement() which
    BEGIN to emit; this adds the hooks that take the lock at the first
    write of a transaction and let it go when the transaction ends.
    """
    lock = write_lock(database)
    engine._corral_write_lock = lock

    @event.listens_for(engine, "begin")
    def _on_begin(connection):
        # Runs after engine.py's hook has emitted the BEGIN.
        connection.info["corral_txn"] = {
            "immediate": lock.held, "wrote": False, "savepoint": False,
            "auto_lock": False,
        }

    @event.listens_for(engine, "before_cursor_execute")
    def _before_execute(connection, cursor, statement, parameters, context,
                        executemany):
        txn = connection.info.get("corral_txn")
        if txn is None or txn["wrote"]:
            return
        head = statement.lstrip()[:10].upper()
        if head.startswith("SAVEPOINT"):
            txn["savepoint"] = True
            return
        if not _is_write(head, statement):
            return
        txn["wrote"] = True
        if not lock.held:
            lock.acquire()
            txn["auto_lock"] = True
        if not txn["immediate"] and not txn["savepoint"]:
            # Nothing written yet: end the read snapshot and start again
            # as the writer, so no other commit can stand in between.
            raw = connection.connection.driver_connection
            raw.execute("COMMIT")
            raw.execute("BEGIN IMMEDIATE")
            txn["immediate"] = True

    def _on_end(connection):
        txn = connection.info.pop("corral_txn", None)
        if txn is not None and txn["auto_lock"]:
            lock.release()

    event.listen(engine, "commit", _on_end)
    event.listen(engine, "rollback", _on_end)
    return lock


# -- DuckDB -----------------------------------------------------------


class LockingNullPool(NullPool):
    """Opens a connection only under the write lock; closes it on return.

    DuckDB lets one process at a time open a database file, so a
    connection must not outlive its use: each checkout opens the file with
    the lock held, each check-in closes it and then lets the lock go.
    """

    def __init__(self, creator, corral_lock: WriteLock | None = None, **kw):
        super().__init__(creator, **kw)
        self.corral_lock = corral_lock

    def _do_get(self):
        self.corral_lock.acquire()
        try:
            return super()._do_get()
        except BaseException:
            self.corral_lock.release()
            raise

    def _do_return_conn(self, record):
        try:
            super()._do_return_conn(record)
        finally:
            self.corral_lock.release()

    def recreate(self):
        pool = super().recreate()
        pool.__class__ = LockingNullPool
        pool.corral_lock = self.corral_lock
        return pool


def install_duckdb(engine, database: Path) -> WriteLock:
    """Make a file DuckDB engine open the file only under the lock."""
    lock = write_lock(database)
    engine._corral_write_lock = lock
    pool = engine.pool
    if not isinstance(pool, LockingNullPool):
        new_pool = pool.recreate()
        new_pool.__class__ = LockingNullPool
        new_pool.corral_lock = lock
        engine.pool = new_pool
    return lock
