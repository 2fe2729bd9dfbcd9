"""irispl's own commands."""

from corral import cli, db

from . import models


class Stats(cli.BaseCommand):
    """Print the computed statistics of each species."""

    options = {"title": "stats"}

    def setup(self):
        self.parser.add_argument(
            "--measure", choices=models.MEASURES, default=None,
            help="only this measurement")

    def handle(self, measure=None):
        from tabulate import tabulate

        measures = [measure] if measure else models.MEASURES
        rows = []
        with db.session_scope() as session:
            query = session.query(models.Statistics).join(models.Name)
            for stats in query.order_by(models.Name.name):
                for m in measures:
                    rows.append([stats.name.name, m,
                                 round(getattr(stats, "mean_" + m), 3),
                                 getattr(stats, "min_" + m),
                                 getattr(stats, "max_" + m)])
        if not rows:
            self.write("No statistics yet: run 'corral run' first.")
            return self.exit_with(1)
        self.write(tabulate(rows, headers=["Species", "Measure", "Mean",
                                           "Min", "Max"], tablefmt="grid"))
