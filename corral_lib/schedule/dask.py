"""Running processors as tasks on a Dask cluster (`--executor dask`).

The tasks are the local executor's: one processor on one partition of its
rows. Without `--scheduler` a local cluster of one single-threaded worker
process per core is started for the call; with `--scheduler ADDRESS` the
tasks go to that cluster, whose workers must be able to import the
pipeline from the same project path and reach its database (a server
database, for workers on other machines; a file database only works when
every worker shares the file system and its locks).

Progress comes back through a distributed Queue; a stop request (Ctrl-C,
SIGTERM) is passed to the tasks through a distributed Variable they read
between rows. Needs the `dask` extra: pip install 'corral-pipeline[dask]'.
"""

from __future__ import annotations

import logging
import os
import time
import uuid

from ..errors import CorralError
from ..run.runner import RunOptions, RunResult

logger = logging.getLogger("corral.schedule.dask")

#: Seconds between two progress messages of a task, and two looks at the
#: stop Variable.
PROGRESS_EVERY = 0.5


class _RemoteStop:
    """The runner's stop flag, read from a distributed Variable."""

    def __init__(self, name: str):
        from distributed import Variable

        self.variable = Variable(name)
        self.checked = 0.0
        self.value = False

    def is_set(self) -> bool:
        now = time.monotonic()
        if not self.value and now - self.checked >= PROGRESS_EVERY:
            self.checked = now
            try:
                self.value = bool(self.variable.get(timeout=0.1))
            except Exception:
                self.value = False
        return self.value


def _dask_task(project, log_level, path, kind, partition, options,
               queue_name, stop_name, task_id) -> dict:
    """Run one task in a Dask worker; returns RunResult.to_dict()."""
    import sys

    from distributed import Queue

    from ..cli.main import configure_logging
    from ..conf import activate, import_string, settings
    from ..run.runner import run_processor

    if settings._project != project:
        activate(project)
        configure_logging(sys.stderr, log_level)
    queue = Queue(queue_name)
    last = [0.0]

    def progress(result):
        now = time.monotonic()
        if now - last[0] >= PROGRESS_EVERY:
            last[0] = now
            queue.put((task_id, result.processed, result.failed,
                       result.selected))

    try:
        processor_cls = import_string(path, f"{kind} {path}")
    except Exception as exc:
        return RunResult(path, kind, partition=str(partition),
                         error=str(exc)).to_dict()
    run_options = RunOptions(partition=partition, stop=_RemoteStop(stop_name),
                             progress=progress, **options)
    result = run_processor(processor_cls, options=run_options)
    queue.put((task_id, result.processed, result.failed, result.selected))
    return result.to_dict()


class DaskRunner:
    """Feeds rounds of tasks to a Dask cluster."""

    def __init__(self, scheduler, log_level, board, stop):
        try:
            from distributed import Client, LocalCluster, Queue, Variable
        except ImportError:
            raise CorralError(
                "--executor dask needs Dask's distributed package; install "
                "it with: pip install 'corral-pipeline[dask]'"
            ) from None
        from ..conf import settings

        self.project = settings.project
        self.log_level = log_level
        self.board = board
        self.stop = stop
        self.cluster = None
        try:
            if scheduler:
                self.client = Client(scheduler, timeout=30)
            else:
                self.cluster = LocalCluster(
                    n_workers=os.cpu_count() or 1, threads_per_worker=1,
                    processes=True, dashboard_address=None,
                )
                self.client = Client(self.cluster)
        except OSError as exc:
            raise CorralError(
                f"--scheduler {scheduler!r}: cannot reach the Dask "
                f"scheduler ({exc})"
            ) from None
        tag = uuid.uuid4().hex[:12]
        self.queue_name = f"corral-progress-{tag}"
        self.stop_name = f"corral-stop-{tag}"
        self.queue = Queue(self.queue_name, client=self.client)
        self.stop_variable = Variable(self.stop_name, client=self.client)
        self.stop_variable.set(False)
        self._ids = 0

    def on_signal(self, signum):
        try:
            self.stop_variable.set(True)
        except Exception:
            logger.warning("could not pass the stop on to the Dask tasks")

    def round(self, processors, partition, base, procs) -> list:
        from . import _kind, processes_for

        futures, labels = [], {}
        for processor_cls in processors:
            path = processor_cls.retrieve_python_path()
            for part in partition.split(processes_for(processor_cls, procs)):
                self._ids += 1
                labels[self._ids] = (path, str(part))
                futures.append((self._ids, path, _kind(processor_cls), part,
                                self.client.submit(
                                    _dask_task, self.project, self.log_level,
                                    path, _kind(processor_cls), part,
                                    dict(base), self.queue_name,
                                    self.stop_name, self._ids, pure=False,
                                )))
        while not all(f.done() for *_, f in futures):
            self._drain(labels)
            if self.board is not None:
                self.board.show()
            time.sleep(0.2)
        self._drain(labels)
        results = []
        for _, path, kind, part, future in futures:
            try:
                results.append(RunResult.from_dict(future.result()))
            except Exception as exc:
                results.append(RunResult(
                    path, kind, partition=str(part),
                    error=f"the Dask task failed: {type(exc).__name__}: "
                    f"{exc}",
                ))
        return results

    def _drain(self, labels) -> None:
        try:
            count = self.queue.qsize()
        except Exception:
            return
        for _ in range(count):
            task_id, processed, failed, selected = self.queue.get(timeout=1)
            path, part = labels.get(task_id, (None, None))
            if path and self.board is not None:
                self.board.update(path, part, processed, failed, selected)

    def close(self):
        try:
            self.client.close()
        finally:
            if self.cluster is not None:
                self.cluster.close()
