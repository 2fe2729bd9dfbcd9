"""Tests of irispl, run by `corral test`: one or more per loader, step,
alert and command, each on its own empty database."""

import os
import shutil
import tempfile

from corral import qa
from corral.run import endpoints as ep

from . import alerts, commands, load, models, steps


def _observation(name, length):
    return models.Observation(name=name, sepal_length=length, sepal_width=3.0,
                              petal_length=1.5, petal_width=0.2)


class LoaderTest(qa.TestCase):
    """The loader stores the 150 flowers of iris.csv and their 3 species."""

    subject = load.Loader

    def validate(self):
        self.assertStreamCount(3, models.Name)
        self.assertStreamCount(150, models.Observation)
        setosa = self.session.query(models.Name).filter_by(
            name="Iris-setosa").one()
        self.assertStreamCount(50, models.Observation,
                               models.Observation.name_id == setosa.id)


class StatisticsCreatorTest(qa.TestCase):
    """A new species gets exactly one, empty, Statistics row."""

    subject = steps.StatisticsCreator

    def setup(self):
        self.save(models.Name(name="Iris-test"))

    def validate(self):
        self.assertStreamCount(1, models.Name)
        name = self.session.query(models.Name).first()
        self.assertStreamHas(
            models.Statistics, models.Statistics.name_id == name.id)
        self.assertStreamCount(1, models.Statistics)
        self.assertStreamHasNot(models.Statistics,
                                models.Statistics.mean_sepal_length != 0)


class _SpeciesStatisticsTest(qa.TestCase):
    """The statistics of one species come from its flowers only.

    A base for the tests of the three species steps below: the species
    under test has flowers of sepal length 4, 5 and 6, another species one
    of length 9.
    """

    species = None
    other = "Iris-other"

    def setup(self):
        empty = {f"{kind}_{m}": 0.0 for kind in ("mean", "min", "max")
                 for m in models.MEASURES}
        names = {}
        for species in (self.species, self.other):
            names[species] = models.Name(name=species)
            self.save(models.Statistics(name=names[species], **empty))
        for length in (4.0, 5.0, 6.0):
            self.save(_observation(names[self.species], length))
        self.save(_observation(names[self.other], 9.0))

    def validate(self):
        self.assertStreamHas(models.Statistics,
                             models.Statistics.mean_sepal_length == 5.0,
                             models.Statistics.min_sepal_length == 4.0,
                             models.Statistics.max_sepal_length == 6.0)
        # The other species is another step's work: still empty.
        self.assertStreamCount(1, models.Statistics,
                               models.Statistics.mean_sepal_length == 0.0)


class SetosaStatisticsTest(_SpeciesStatisticsTest):
    """The statistics of Iris setosa come from its flowers only."""

    subject = steps.SetosaStatistics
    species = "Iris-setosa"


class VersicolorStatisticsTest(_SpeciesStatisticsTest):
    """The statistics of Iris versicolor come from its flowers only."""

    subject = steps.VersicolorStatistics
    species = "Iris-versicolor"


class VirginicaStatisticsTest(_SpeciesStatisticsTest):
    """The statistics of Iris virginica come from its flowers only."""

    subject = steps.VirginicaStatistics
    species = "Iris-virginica"


class StatisticsAlertTest(qa.TestCase):
    """Computed statistics are written once to the alert's file."""

    subject = alerts.StatisticsAlert

    def setup(self):
        # Write to a scratch file instead of the project's statistics.log.
        self.folder = tempfile.mkdtemp()
        self.log = os.path.join(self.folder, "statistics.log")
        self.patch.object(alerts.StatisticsAlert, "alert_to",
                          [ep.File(self.log)])
        values = {f"{kind}_{m}": 1.5 for kind in ("mean", "min", "max")
                  for m in models.MEASURES}
        self.save(models.Statistics(name=models.Name(name="Iris-x"),
                                    **values))

    def validate(self):
        with open(self.log) as fp:
            lines = fp.read().splitlines()
        self.assertEqual(len(lines), 1)
        self.assertIn("Iris-x: sepal_length=1.500", lines[0])

    def teardown(self):
        shutil.rmtree(self.folder)


class StatsCommandTest(qa.TestCase):
    """`corral stats --measure petal_width` prints that measure only."""

    subject = commands.Stats
    cliargs = ["--measure", "petal_width"]

    def setup(self):
        values = {f"{kind}_{m}": 0.25 for kind in ("mean", "min", "max")
                  for m in models.MEASURES}
        self.save(models.Statistics(name=models.Name(name="Iris-y"),
                                    **values))

    def validate(self):
        out = self.command_status.out
        self.assertEqual(self.command_status.exit_status, 0)
        self.assertIn("Iris-y", out)
        self.assertIn("petal_width", out)
        self.assertNotIn("sepal_length", out)
