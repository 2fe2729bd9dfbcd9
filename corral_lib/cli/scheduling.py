"""Commands around running processors: run-all, failures, status, plan,
and the options `run` and `check-alerts` share with them."""

from __future__ import annotations

from ..errors import CorralError
from .base import BaseCommand


def add_run_options(parser, loop: bool = True) -> None:
    """The options every processor-running command takes."""
    parser.add_argument(
        "--procs", type=int, metavar="N", default=None,
        help="processes per processor, overriding its procno and "
        "settings.DEBUG_PROCESS",
    )
    parser.add_argument(
        "--partition", metavar="I/N", default=None,
        help="work only on slice I of N of each processor's rows (e.g. 2/4 "
        "on the second of four machines)",
    )
    parser.add_argument(
        "--once", action="store_true",
        help="one round only (by default rounds repeat while the last one "
        "changed rows, up to settings.RUN_MAX_ROUNDS)",
    )
    if loop:
        parser.add_argument(
            "--loop", action="store_true",
            help="repeat until stopped (Ctrl-C or SIGTERM), sleeping when "
            "there is nothing to do",
        )
        parser.add_argument(
            "--every", type=float, metavar="SECONDS", default=None,
            help="with --loop: sleep this long when nothing changed "
            "(default: settings.LOOP_EVERY)",
        )
    parser.add_argument(
        "-q", "--quiet", action="store_true",
        help="no progress lines and no log below warnings",
    )
    parser.add_argument(
        "--executor", choices=["local", "dask"], default="local",
        help="where parallel processes run: local worker processes "
        "(default) or a Dask cluster (needs the 'dask' extra)",
    )
    parser.add_argument(
        "--scheduler", metavar="ADDRESS", default=None,
        help="with --executor dask: the scheduler to use (default: a "
        "local cluster)",
    )


def make_board(command, quiet: bool):
    from ..progress import ProgressBoard

    return ProgressBoard(stream=command.stderr, enabled=not quiet)


def run_processors(command, processors, *, sync=False, chunk_size=None,
                   procs=None, partition=None, once=False, loop=False,
                   every=None, quiet=False, executor="local",
                   scheduler=None, only_failed=False) -> list:
    """Run processors as the flags say, report, set the exit status.

    Returns the results of the last pass.
    """
    from ..conf import settings
    from ..run.runner import Partition
    from ..schedule import StopFlag
    from ..schedule.signals import stop_on_signals

    if procs is not None and procs < 1:
        raise CorralError("--procs must be 1 or more", returncode=2)
    part = Partition.parse(partition) if partition else None
    if every is None:
        every = float(settings.get("LOOP_EVERY", 60))
    if every < 0:
        raise CorralError("--every must be 0 or more seconds", returncode=2)
    stop = StopFlag()
    # Installed for the whole command, so a signal during --loop's sleep
    # stops it as cleanly as one during a run.
    with stop_on_signals(stop):
        return _run_passes(command, processors, stop, sync=sync,
                           chunk_size=chunk_size, procs=procs,
                           partition=part, once=once, loop=loop,
                           every=every, quiet=quiet, executor=executor,
                           scheduler=scheduler, only_failed=only_failed)


def _run_passes(command, processors, stop, *, loop, every, quiet,
                **flags) -> list:
    from ..schedule import execute
    from ..schedule.signals import exit_status

    log_level = "WARNING" if quiet else None
    while True:
        board = make_board(command, quiet)
        results = execute(processors, stop=stop, board=board,
                          log_level=log_level, **flags)
        interrupted = next((r.interrupted for r in results if r.interrupted),
                           None) or stop.reason
        report_results(command, results, exit_on_failure=not loop)
        if interrupted:
            raise CorralError(
                f"stopped by {interrupted}; work not committed was rolled "
                "back, run again to finish",
                returncode=exit_status(interrupted),
            )
        if not loop:
            return results
        if any(r.error for r in results):
            command.exit_with(1)
        if not sum(r.changed for r in results):
            if stop.sleep(every):
                raise CorralError(
                    f"stopped by {stop.reason} while waiting",
                    returncode=exit_status(stop.reason),
                )


def report_results(command, results, exit_on_failure: bool = True) -> None:
    """Print the summary table; set a failing exit status if any failed.

    Each failure is named on stderr: the processor and its error, or how
    many of its rows failed and where to see them.
    """
    if not results:
        command.write("Nothing to run.")
        return
    from .processors import print_table

    rows = []
    for r in results:
        status = "ok"
        if r.interrupted:
            status = "STOPPED"
        elif not r.ok:
            status = "FAILED"
        rows.append([r.name, r.processed, r.created, r.failed,
                     f"{r.seconds:.2f}", status])
    print_table(command, rows,
                ["Processor", "Processed", "Created", "Failed", "Seconds",
                 "Status"])
    failed = [r for r in results if r.error or r.failed]
    for result in failed:
        if result.error:
            if command.show_traceback and result.traceback:
                command.stderr.write(result.traceback)
            hint = "" if command.show_traceback else (
                " (run again with --traceback for the full trace)"
            )
            command.stderr.write(
                f"corral: error: {result.kind} {result.processor} failed: "
                f"{result.error}{hint}\n"
            )
        if result.failed:
            first = f"; first: {result.failures[0]}" if result.failures else ""
            command.stderr.write(
                f"corral: error: {result.kind} {result.processor}: "
                f"{result.failed} row(s) failed and were recorded{first} "
                "(see 'corral failures')\n"
            )
    if failed and exit_on_failure:
        command.exit_with(1)


class RunAll(BaseCommand):
    """Run the loader, then the steps, then the alerts.

    Each phase runs in parallel processes (or in this process with
    --sync) and must finish before the next starts. A failing phase does
    not stop the later ones; the exit status says whether any failed.

    example: corral run-all --procs 2
    """

    options = {"title": "run-all"}

    def setup(self):
        self.parser.add_argument(
            "--sync", action="store_true",
            help="run everything in this process, steps in the order of "
            "settings",
        )
        self.parser.add_argument(
            "--chunk-size", type=int, metavar="N", default=None,
            help="objects handled between two commits (default: "
            "settings.CHUNK_SIZE)",
        )
        add_run_options(self.parser, loop=False)

    def handle(self, sync=False, chunk_size=None, **flags):
        from ..run.registry import load_alerts, load_loader, load_steps

        loader = load_loader()
        phases = [
            ("loader", [loader] if loader is not None else []),
            ("steps", load_steps()),
            ("alerts", load_alerts()),
        ]
        status = 0
        for title, processors in phases:
            if not processors:
                continue
            self.write(f"== {title}")
            run_processors(self, processors, sync=sync,
                           chunk_size=chunk_size,
                           **{**flags, "once": flags.get("once") or
                              title != "steps"})
            status = status or self.exit_status
            self.exit_status = 0
        self.exit_with(status)


class Failures(BaseCommand):
    """List the rows processors failed on; retry them or forget them.

    Rows are recorded when process() raised on them (after
    settings.FAILURE_RETRIES more attempts); runs skip them until they are
    retried or cleared.

    example: corral failures --retry -p MyStep
    """

    options = {"title": "failures"}

    def setup(self):
        self.parser.add_argument(
            "-p", "--processors", nargs="+", metavar="NAME",
            help="only these steps or alerts (class names)",
        )
        action = self.parser.add_mutually_exclusive_group()
        action.add_argument(
            "--retry", action="store_true",
            help="run the failed rows again, in this process; rows that "
            "now succeed are forgotten",
        )
        action.add_argument(
            "--clear", action="store_true",
            help="forget the failures, so the next runs try the rows again",
        )
        self.parser.add_argument(
            "--tracebacks", action="store_true",
            help="print each failure's traceback",
        )
        self.parser.add_argument(
            "-q", "--quiet", action="store_true",
            help="no progress lines with --retry",
        )

    def handle(self, processors=None, retry=False, clear=False,
               tracebacks=False, quiet=False):
        import sqlalchemy as sa

        from .. import db
        from ..db.tables import Failure
        from ..run.runner import ensure_framework_tables

        chosen = _chosen_processors(processors)
        paths = [p.retrieve_python_path() for p in chosen]
        engine = db.get_engine()
        ensure_framework_tables(engine)
        if retry:
            with db.session_scope() as session:
                having = set(session.scalars(
                    sa.select(Failure.processor).distinct()
                    .where(Failure.processor.in_(paths))
                ))
            todo = [p for p in chosen if p.retrieve_python_path() in having]
            if not todo:
                self.write("No failures to retry.")
                return
            run_processors(self, todo, sync=True, once=True, quiet=quiet,
                           only_failed=True)
            return
        if clear:
            from ..db.lock import lock_for

            with lock_for(engine), db.session_scope() as session:
                count = session.execute(
                    sa.delete(Failure).where(Failure.processor.in_(paths))
                ).rowcount
            self.write(f"Forgot {count} failure(s).")
            return
        with db.session_scope() as session:
            found = list(session.scalars(
                sa.select(Failure).where(Failure.processor.in_(paths))
                .order_by(Failure.processor, Failure.id)
            ))
        if not found:
            self.write("No failures.")
            return
        from .processors import print_table

        rows = [
            [f.processor.rsplit(".", 1)[-1], f.model_table, f.model_ids,
             f.attempts, f.updated_at.strftime("%Y-%m-%d %H:%M:%S"),
             _first_line(f.error, 60)]
            for f in found
        ]
        print_table(self, rows, ["Processor", "Table", "Key", "Attempts",
                                 "Last", "Error"])
        if tracebacks:
            for f in found:
                self.write(f"\n-- {f.processor} {f.model_table}"
                           f"[{f.model_ids}]")
                self.write((f.traceback or f.error).rstrip())
        self.write(f"{len(found)} failure(s); 'corral failures --retry' "
                   "runs them again, --clear forgets them.")


def _first_line(text: str | None, width: int) -> str:
    line = (text or "").strip().splitlines()[0] if text else ""
    return line if len(line) <= width else line[:width - 3] + "..."


def _chosen_processors(names):
    from ..run.registry import load_alerts, load_steps, select

    everything = load_steps() + load_alerts()
    return select(everything, names, None, "step or alert")


class Status(BaseCommand):
    """Show each processor's last run: start, duration, rows, failures.

    Read from the run history (__corral_runs__); the processes of one
    `corral run` are added up.

    example: corral status
    """

    options = {"title": "status"}

    def handle(self):
        import sqlalchemy as sa

        from .. import db
        from ..db.tables import RunRecord
        from ..run.registry import load_alerts, load_loader, load_steps
        from ..run.runner import ensure_framework_tables

        loader = load_loader()
        processors = ([loader] if loader else []) + load_steps() + \
            load_alerts()
        ensure_framework_tables(db.get_engine())
        rows = []
        with db.session_scope() as session:
            for processor in processors:
                path = processor.retrieve_python_path()
                last = session.scalars(
                    sa.select(RunRecord).where(RunRecord.processor == path)
                    .order_by(RunRecord.started_at.desc(),
                              RunRecord.id.desc()).limit(1)
                ).first()
                if last is None:
                    rows.append([processor.__name__, "never", "", "", "",
                                 "", ""])
                    continue
                runs = list(session.scalars(
                    sa.select(RunRecord).where(
                        RunRecord.processor == path,
                        RunRecord.batch == last.batch,
                    )
                ))
                rows.append(_status_row(processor.__name__, runs))
        from .processors import print_table

        print_table(self, rows, ["Processor", "Last start", "Seconds",
                                 "Processed", "Failed", "Rows/s", "Status"])


def _status_row(name, runs) -> list:
    start = min(r.started_at for r in runs)
    ends = [r.finished_at for r in runs if r.finished_at is not None]
    seconds = (max(ends) - start).total_seconds() if ends else None
    processed = sum(r.processed or 0 for r in runs)
    failed = sum(r.failed or 0 for r in runs)
    statuses = {r.status for r in runs}
    for status in ("running", "interrupted", "error", "failed", "ok"):
        if status in statuses:
            break
    # The processor's own time, not the wall time between processes.
    busy = max((r.seconds or 0.0) for r in runs)
    rate = f"{processed / busy:,.0f}" if busy > 0 else ""
    processes = len({r.partition for r in runs})
    parts = f" ({processes} processes)" if processes > 1 else ""
    return [name, start.strftime("%Y-%m-%d %H:%M:%S") + " UTC",
            f"{seconds:.2f}" if seconds is not None else "",
            processed, failed, rate, status + parts]


class Plan(BaseCommand):
    """Show how many rows each step and alert would select now.

    Nothing is run or written. Rows recorded as failed are not selected;
    their number is shown apart.

    example: corral plan --partition 1/2
    """

    options = {"title": "plan"}

    def setup(self):
        self.parser.add_argument(
            "--partition", metavar="I/N", default=None,
            help="count only slice I of N of each processor's rows",
        )

    def handle(self, partition=None):
        import sqlalchemy as sa

        from .. import db
        from ..db.tables import Failure
        from ..run.registry import load_alerts, load_steps
        from ..run.runner import (
            Partition,
            count_selected,
            ensure_framework_tables,
        )
        from ..schedule import processes_for

        part = Partition.parse(partition) if partition else Partition()
        ensure_framework_tables(db.get_engine())
        rows = []
        with db.session_scope() as session:
            for kind, processors in (("step", load_steps()),
                                     ("alert", load_alerts())):
                for processor in processors:
                    selected = count_selected(session, processor, part)
                    failed = session.execute(
                        sa.select(sa.func.count()).select_from(Failure)
                        .where(Failure.processor ==
                               processor.retrieve_python_path())
                    ).scalar()
                    rows.append([processor.__name__, kind,
                                 processes_for(processor), selected, failed])
        from .processors import print_table

        print_table(self, rows, ["Processor", "Kind", "Processes",
                                 "Selected", "Failed before"])


COMMANDS = [RunAll, Failures, Status, Plan]
