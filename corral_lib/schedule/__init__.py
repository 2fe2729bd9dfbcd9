"""Executing processors: where, in how many processes, and how often.

`execute()` is the one entry point the commands use:

- `sync=True`: the processors run one after the other in this process,
  in the order given (settings.STEPS order for steps).
- otherwise each processor runs in worker processes (local.py, or a Dask
  cluster with executor="dask", see dask.py), all at once; a processor
  asking for N processes (its `procno`, or `procs`) gets N workers, each
  on its own partition of the rows.

Rounds: a step's input may be another step's output, so unless `once`
is given the whole set runs again while the last round changed anything,
at most settings.RUN_MAX_ROUNDS times. A parallel run therefore leaves
the data as `--sync` does, whatever order the processes ran in.

The results are RunResult objects, one per processor (its partitions and
rounds added up), whatever executor ran them.
"""

from __future__ import annotations

import logging

from ..run.runner import (
    Partition,
    RunOptions,
    RunResult,
    new_batch,
    run_processor,
)
from .signals import StopFlag, stop_on_signals

logger = logging.getLogger("corral.schedule")

__all__ = ["execute", "processes_for", "StopFlag", "RunResult"]


def processes_for(processor_cls, procs: int | None = None) -> int:
    """How many processes a processor gets.

    `procs` (run --procs) wins; else settings.DEBUG_PROCESS forces one;
    else the processor's own `procno`. A loader always gets one: its
    generate() cannot be split.
    """
    from ..conf import settings
    from ..run.base import Loader

    if issubclass(processor_cls, Loader):
        return 1
    if procs:
        return max(1, int(procs))
    if settings.get("DEBUG_PROCESS", True):
        return 1
    return max(1, processor_cls.get_procno())


def _kind(processor_cls) -> str:
    from ..run.base import Alert, Loader

    if issubclass(processor_cls, Loader):
        return "loader"
    return "alert" if issubclass(processor_cls, Alert) else "step"


def execute(processors, sync: bool = True, chunk_size=None, *,
            procs: int | None = None, partition: Partition | None = None,
            once: bool = True, stop: StopFlag | None = None, board=None,
            executor: str = "local", scheduler: str | None = None,
            only_failed: bool = False, log_level: str | None = None,
            max_rounds: int | None = None) -> list[RunResult]:
    """Run each processor class and return what each did."""
    from ..conf import settings

    processors = list(processors)
    if not processors:
        return []
    stop = stop if stop is not None else StopFlag()
    partition = partition or Partition()
    if max_rounds is None:
        max_rounds = 1 if once else int(settings.get("RUN_MAX_ROUNDS", 10))
    batch = new_batch()
    base = dict(chunk_size=chunk_size, count_total=board is not None
                and board.enabled, only_failed=only_failed, batch=batch)
    totals: dict[str, RunResult] = {}

    runner = None
    try:
        if not sync:
            # Made once here rather than raced for by every worker.
            from .. import db
            from ..run.runner import ensure_framework_tables

            ensure_framework_tables(db.get_engine())
            runner = _parallel_runner(executor, scheduler, log_level, board,
                                      stop)
        with stop_on_signals(stop, runner.on_signal if runner else None):
            for round_number in range(1, max(1, max_rounds) + 1):
                if board is not None and round_number > 1:
                    board.next_round()
                if sync:
                    results = _sync_round(processors, partition, base, stop,
                                          board)
                else:
                    results = runner.round(processors, partition, base,
                                           procs)
                for result in results:
                    if result.processor in totals:
                        totals[result.processor].merge(result)
                    else:
                        totals[result.processor] = result
                changed = sum(r.changed for r in results)
                logger.info("round %d: %d rows changed", round_number,
                            changed)
                if stop.is_set() or any(r.error for r in results):
                    break
                if not changed:
                    break
            else:
                if max_rounds > 1:
                    logger.warning(
                        "the steps still changed rows after %d rounds "
                        "(settings.RUN_MAX_ROUNDS); run again to go on",
                        max_rounds,
                    )
    finally:
        if runner is not None:
            runner.close()
        if board is not None:
            board.finish()
    ordered = []
    for processor_cls in processors:
        path = processor_cls.retrieve_python_path()
        if path in totals:
            ordered.append(totals[path])
    return ordered


def _sync_round(processors, partition, base, stop, board) -> list:
    results = []
    for processor_cls in processors:
        if stop.is_set():
            break
        progress = _board_feed(board) if board is not None else None
        options = RunOptions(partition=partition, stop=stop,
                             progress=progress, **base)
        results.append(run_processor(processor_cls, options=options))
    return results


def _board_feed(board):
    def progress(result):
        board.update(result.processor, result.partition, result.processed,
                     result.failed, result.selected)

    return progress


class _LocalRunner:
    """Feeds rounds to a LocalExecutor."""

    def __init__(self, log_level, board, stop):
        from ..conf import settings
        from .local import LocalExecutor

        self.executor = LocalExecutor(settings.project, log_level, board,
                                      stop)
        self._ids = 0

    def on_signal(self, signum):
        import signal

        self.executor.signal_workers(signal.SIGTERM)

    def round(self, processors, partition, base, procs) -> list:
        from .local import Task

        tasks = []
        for processor_cls in processors:
            for part in partition.split(processes_for(processor_cls, procs)):
                self._ids += 1
                tasks.append(Task(
                    self._ids, processor_cls.retrieve_python_path(),
                    _kind(processor_cls), part, dict(base),
                ))
        return self.executor.run_round(tasks)

    def close(self):
        self.executor.close()


def _parallel_runner(executor, scheduler, log_level, board, stop):
    from ..conf import settings
    from ..errors import CorralError

    if log_level is None:
        log_level = settings.get("LOG_LEVEL", "INFO")
    if executor == "local":
        return _LocalRunner(log_level, board, stop)
    if executor == "dask":
        from .dask import DaskRunner

        return DaskRunner(scheduler, log_level, board, stop)
    raise CorralError(
        f"--executor {executor!r}: use 'local' or 'dask'", returncode=2
    )
