"""qapl's own command."""

from corral import cli, db
from corral.exceptions import CorralError

from . import models


class Summary(cli.BaseCommand):
    """Print how many stars and flares the pipeline holds."""

    options = {"title": "summary"}

    def setup(self):
        self.parser.add_argument(
            "--brighter-than", type=float, default=None, metavar="MAG",
            help="count only the stars brighter than MAG")

    def handle(self, brighter_than=None):
        Star = models.Star
        with db.session_scope() as session:
            stars = session.query(Star)
            if not stars.count():
                self.write("No stars yet: run 'corral load' first.")
                return self.exit_with(1)
            if brighter_than is not None:
                if not stars.filter(Star.magnitude.isnot(None)).count():
                    raise CorralError(
                        "no star has a magnitude yet: run 'corral run' first")
                stars = stars.filter(Star.magnitude < brighter_than)
            self.write(f"stars: {stars.count()}")
            self.write(f"flares: {session.query(models.Flare).count()}")
