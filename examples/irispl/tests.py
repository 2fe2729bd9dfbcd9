"""Tests of irispl, run by `corral test`."""

from corral import qa

from . import models, steps


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
