"""Commands on the pipeline's database and processors: createdb, load,
run, check-alerts, and the listings lssteps, lsalerts and groups."""

from __future__ import annotations

from ..errors import CorralError
from .base import BaseCommand, add_noinput


def print_table(command, rows, headers) -> None:
    from tabulate import tabulate

    command.write(tabulate(rows, headers=headers, tablefmt="grid"))


def report_results(command, results) -> None:
    """Print the summary table; set a failing exit status if any failed."""
    from .scheduling import report_results as report

    report(command, results)


def _add_chunk_size(parser):
    parser.add_argument(
        "--chunk-size", type=int, metavar="N", default=None,
        help="objects handled between two commits (default: "
        "settings.CHUNK_SIZE)",
    )


class CreateDB(BaseCommand):
    """Create the pipeline's database tables that do not exist yet.

    Existing tables are left as they are; use migrations to change them.

    example: corral createdb --noinput
    """

    options = {"title": "createdb"}

    def setup(self):
        add_noinput(self.parser, "create")

    def handle(self, interactive=True):
        from .. import db

        if interactive and not self.ask_yes_no(
            "Do you want to create the database"
        ):
            self.write("Nothing was created.")
            return
        db.load_models_module()
        engine = db.get_engine()
        db.check_connection(engine)
        created = db.create_all(engine)
        if created:
            self.write("Created tables: " + ", ".join(sorted(created)))
        else:
            self.write("Every table exists already; nothing to create.")
        # A brand-new database matches the newest migration already.
        from ..migrations import stamp_new_database

        stamped = stamp_new_database(engine, created)
        if stamped:
            self.write(stamped)


class Load(BaseCommand):
    """Run the pipeline's loader (settings.LOADER) to feed raw data in.

    example: corral load
    """

    options = {"title": "load"}

    def setup(self):
        _add_chunk_size(self.parser)

    def handle(self, chunk_size=None):
        from ..run.registry import load_loader
        from ..schedule import execute

        loader = load_loader()
        if loader is None:
            raise CorralError(
                "settings.LOADER is not set; point it at your Loader class, "
                "for example 'my_pipeline.load.Loader'"
            )
        results = execute([loader], sync=True, chunk_size=chunk_size)
        report_results(self, results)


def _add_selection(parser, what, short):
    parser.add_argument(
        f"-{short}", f"--{what}s", dest="names", nargs="+", metavar="NAME",
        help=f"only the {what}s with these class names",
    )
    parser.add_argument(
        f"-{short}g", f"--{what}-groups", dest="groups", nargs="+",
        metavar="GROUP", help=f"only the {what}s in these groups",
    )
    parser.add_argument(
        "--sync", action="store_true",
        help=f"run the {what}s one after the other in this process, in the "
        "order of settings",
    )
    _add_chunk_size(parser)


class Run(BaseCommand):
    """Run the pipeline's steps (settings.STEPS), in parallel processes.

    Each step runs in its own processes (its procno, or --procs), each on
    a slice of its rows; rounds repeat while a round changes rows, so one
    call finishes a chain of steps. --sync runs them one after the other
    in this process, in the order of settings.STEPS. Work is committed in
    chunks: an interrupted run loses at most a chunk, and running again
    finishes it.

    example: corral run --sync -sg statistics
    """

    options = {"title": "run"}

    def setup(self):
        from .scheduling import add_run_options

        _add_selection(self.parser, "step", "s")
        add_run_options(self.parser)

    def handle(self, names=None, groups=None, **flags):
        from ..run.registry import load_steps, select
        from .scheduling import run_processors

        steps = select(load_steps(), names, groups, "step")
        run_processors(self, steps, **flags)


class CheckAlerts(BaseCommand):
    """Run the pipeline's alerts (settings.ALERTS), in parallel processes.

    Each object is reported once per alert; --sync runs the alerts one
    after the other in this process.

    example: corral check-alerts --sync -a StatisticsAlert
    """

    options = {"title": "check-alerts"}

    def setup(self):
        from .scheduling import add_run_options

        _add_selection(self.parser, "alert", "a")
        add_run_options(self.parser)

    def handle(self, names=None, groups=None, **flags):
        from ..run.registry import load_alerts, select
        from .scheduling import run_processors

        alerts = select(load_alerts(), names, groups, "alert")
        run_processors(self, alerts, **flags)


def _listing(command, processors, groups, title):
    from ..conf import settings
    from ..listing import select

    chosen = select(processors, None, groups, title.split()[0].lower())
    rows = [
        [p.__name__, p.get_procno(), ":".join(p.get_groups())]
        for p in sorted(chosen, key=lambda p: p.__name__)
    ]
    print_table(command, rows, [title, "Process", "Groups"])
    debug = settings.get("DEBUG_PROCESS", True)
    total = len(rows) if debug else sum(r[1] for r in rows)
    command.write(f"  TOTAL PROCESSES: {total}")
    command.write(f"  DEBUG PROCESS: {'Enabled' if debug else 'Disabled'}")


class LsSteps(BaseCommand):
    """List the pipeline's steps with their processes and groups.

    example: corral lssteps -g statistics
    """

    options = {"title": "lssteps"}

    def setup(self):
        self.parser.add_argument(
            "-g", "--groups", nargs="+", metavar="GROUP",
            help="only the steps in these groups",
        )

    def handle(self, groups=None):
        from ..listing import processor_summaries

        _listing(self, processor_summaries("STEPS"), groups, "Step Class")


class LsAlerts(BaseCommand):
    """List the pipeline's alerts with their processes and groups.

    example: corral lsalerts
    """

    options = {"title": "lsalerts"}

    def setup(self):
        self.parser.add_argument(
            "-g", "--groups", nargs="+", metavar="GROUP",
            help="only the alerts in these groups",
        )

    def handle(self, groups=None):
        from ..listing import processor_summaries

        _listing(self, processor_summaries("ALERTS"), groups, "Alert Class")


class Groups(BaseCommand):
    """List the groups of the pipeline's steps and alerts.

    example: corral groups
    """

    options = {"title": "groups"}

    def handle(self):
        from ..listing import processor_summaries

        rows = []
        for kind, processors in (("Steps", processor_summaries("STEPS")),
                                 ("Alerts", processor_summaries("ALERTS"))):
            found = sorted({g for p in processors for g in p.get_groups()})
            rows.append([kind, ":".join(found)])
        print_table(self, rows, ["Processors", "Groups"])


COMMANDS = [CreateDB, Load, Run, CheckAlerts, LsSteps, LsAlerts, Groups]
