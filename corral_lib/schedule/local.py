"""Running processors in local worker processes (the default `run`).

Each task is one processor on one partition of its rows. The workers are
started with the 'spawn' method: a fresh interpreter that imports the
pipeline again (it works the same in the single executable), activates
the project and opens its own engine; nothing is shared with the parent
but the queues. Workers live for the whole call, so later rounds do not
pay their start-up again.

A worker reports progress and its result through a queue. A worker that
dies (kill -9, out of memory) is noticed, its task reported as failed,
and a fresh worker takes its place for the next round.

On SIGINT/SIGTERM the parent passes SIGTERM on to the workers; each stops
at a row boundary (see corral_lib.run.runner), reports, and exits.
"""

from __future__ import annotations

import dataclasses
import logging
import multiprocessing
import os
import queue as queue_module
import signal
import sys
import time

from ..run.runner import Partition, RunOptions, RunResult

logger = logging.getLogger("corral.schedule")

#: Seconds between two progress messages of a worker.
PROGRESS_EVERY = 0.5


@dataclasses.dataclass
class Task:
    """One processor on one slice of its rows."""

    id: int
    path: str
    kind: str
    partition: Partition
    options: dict

    @property
    def label(self) -> str:
        return f"{self.path.rsplit('.', 1)[-1]} {self.partition}"


def _worker_main(worker_id, project, log_level, tasks, messages):
    """The body of a worker process."""
    from .signals import StopFlag

    stop = StopFlag()

    def on_signal(signum, frame):
        if stop.is_set():
            raise KeyboardInterrupt()
        stop.set(signum)

    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, on_signal)

    from .. import db
    from ..cli.main import _pipeline_setup, configure_logging
    from ..conf import activate, import_string

    activate(project)
    configure_logging(sys.stderr, log_level)
    setup = _pipeline_setup()
    setup.setup()
    try:
        while not stop.is_set():
            try:
                task = tasks.get(timeout=0.2)
            except queue_module.Empty:
                continue
            if task is None:
                break
            messages.put(("start", worker_id, task.id, os.getpid()))
            result = _run_task(task, stop, messages, worker_id,
                               import_string)
            messages.put(("done", worker_id, task.id, result.to_dict()))
    finally:
        try:
            setup.teardown()
        finally:
            db.teardown()
    _quick_exit(messages)


def _quick_exit(messages) -> None:
    """End a worker that has finished its work and cleaned up.

    Everything it wrote is committed and its engine is disposed; what is
    left is the interpreter's own teardown, some 0.1 s with SQLAlchemy
    loaded, which the parent would wait for at every `corral run`. So the
    worker flushes its output and its last messages and leaves at once,
    as the children multiprocessing forks always do. Python exit hooks
    (atexit) of the pipeline's code do not run in a worker.
    """
    messages.close()
    messages.join_thread()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(0)


def _run_task(task, stop, messages, worker_id, import_string) -> RunResult:
    from ..run.runner import run_processor

    last = [0.0]

    def progress(result):
        now = time.monotonic()
        if now - last[0] >= PROGRESS_EVERY:
            last[0] = now
            messages.put(("progress", worker_id, task.id, result.processed,
                          result.failed, result.selected))

    try:
        processor_cls = import_string(task.path, f"{task.kind} {task.path}")
    except Exception as exc:
        return RunResult(task.path, task.kind, partition=str(task.partition),
                         error=str(exc))
    options = RunOptions(partition=task.partition, stop=stop,
                         progress=progress, **task.options)
    return run_processor(processor_cls, options=options)


class LocalExecutor:
    """A set of worker processes fed one round of tasks at a time."""

    def __init__(self, project, log_level: str, board=None, stop=None):
        self.context = multiprocessing.get_context("spawn")
        self.project = project
        self.log_level = log_level
        self.board = board
        self.stop = stop
        self.tasks = self.context.Queue()
        self.messages = self.context.Queue()
        self.workers: dict[int, multiprocessing.Process] = {}
        self._next_id = 0

    # -- workers ------------------------------------------------------

    def _start_worker(self) -> None:
        worker_id = self._next_id
        self._next_id += 1
        process = self.context.Process(
            target=_worker_main,
            args=(worker_id, self.project, self.log_level, self.tasks,
                  self.messages),
            name=f"corral-worker-{worker_id}",
            daemon=True,
        )
        # The child starts with SIGINT ignored (an ignored signal stays
        # ignored across exec) until it installs its own handler, so a
        # Ctrl-C during its start-up cannot kill it half-way.
        old = signal.getsignal(signal.SIGINT)
        try:
            if _main_thread():
                signal.signal(signal.SIGINT, signal.SIG_IGN)
            process.start()
        finally:
            if _main_thread():
                signal.signal(signal.SIGINT, old)
        self.workers[worker_id] = process

    def ensure_workers(self, count: int) -> None:
        for worker_id, process in list(self.workers.items()):
            if not process.is_alive():
                del self.workers[worker_id]
        while len(self.workers) < count:
            self._start_worker()

    def signal_workers(self, signum=signal.SIGTERM) -> None:
        for process in self.workers.values():
            if process.is_alive() and process.pid:
                try:
                    os.kill(process.pid, signum)
                except ProcessLookupError:
                    pass

    # -- one round ----------------------------------------------------

    def run_round(self, tasks: list[Task]) -> list[RunResult]:
        """Run `tasks` at once, one per worker; return their results."""
        self.ensure_workers(len(tasks))
        by_id = {t.id: t for t in tasks}
        for task in tasks:
            self.tasks.put(task)
        results: dict[int, RunResult] = {}
        running: dict[int, int] = {}  # worker id -> task id
        while len(results) < len(tasks):
            try:
                message = self.messages.get(timeout=0.2)
            except queue_module.Empty:
                message = None
            if message is not None:
                self._handle(message, by_id, results, running)
                continue
            if self.board is not None:
                self.board.show()
            self._check_workers(by_id, results, running)
            if not any(p.is_alive() for p in self.workers.values()):
                # Every worker has gone: stopped, or dead before starting.
                self._drain(by_id, results, running)
                for task in tasks:
                    if task.id not in results:
                        results[task.id] = _not_run(task, self.stop)
        return [results[t.id] for t in tasks]

    def _handle(self, message, by_id, results, running) -> None:
        kind, worker_id, task_id = message[:3]
        task = by_id.get(task_id)
        if task is None:
            return
        if kind == "start":
            running[worker_id] = task_id
        elif kind == "progress":
            processed, failed, selected = message[3:]
            if self.board is not None:
                self.board.update(task.path, str(task.partition), processed,
                                  failed, selected)
        elif kind == "done":
            running.pop(worker_id, None)
            result = RunResult.from_dict(message[3])
            results[task_id] = result
            if self.board is not None:
                self.board.update(task.path, str(task.partition),
                                  result.processed, result.failed,
                                  result.selected)

    def _drain(self, by_id, results, running) -> None:
        while True:
            try:
                message = self.messages.get(timeout=0.1)
            except queue_module.Empty:
                return
            self._handle(message, by_id, results, running)

    def _check_workers(self, by_id, results, running) -> None:
        for worker_id, task_id in list(running.items()):
            process = self.workers.get(worker_id)
            if process is None or process.is_alive():
                continue
            # Its last messages may still be in the pipe.
            self._drain(by_id, results, running)
            if task_id in results:
                continue
            running.pop(worker_id, None)
            task = by_id[task_id]
            code = process.exitcode
            how = (f"signal {signal.Signals(-code).name}" if code and code < 0
                   else f"exit status {code}")
            results[task_id] = RunResult(
                task.path, task.kind, partition=str(task.partition),
                error=f"the worker process running it died ({how}); its "
                "uncommitted chunk was lost and is redone by the next run",
            )

    def close(self) -> None:
        """Stop the workers: politely, then firmly."""
        for _ in self.workers:
            self.tasks.put(None)
        deadline = time.monotonic() + 10
        for process in self.workers.values():
            process.join(max(0.1, deadline - time.monotonic()))
        for process in self.workers.values():
            if process.is_alive():
                process.terminate()
                process.join(5)
        self.workers = {}
        self.tasks.close()
        self.messages.close()


def _not_run(task: Task, stop) -> RunResult:
    if stop is not None and stop.is_set():
        return RunResult(task.path, task.kind, partition=str(task.partition),
                         interrupted=stop.reason or "stop")
    return RunResult(task.path, task.kind, partition=str(task.partition),
                     error="no worker process could run it (they exited "
                     "before starting; see the messages above)")


def _main_thread() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()
