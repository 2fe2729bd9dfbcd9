"""Tests of qapl that fail, one per kind of subject, each in a known way.

Not imported by tests.py; the framework's tests add them when needed.
"""

from corral import qa

from . import alerts, commands, load, models, steps


class LoaderCountFailsTest(qa.TestCase):
    """Expects 99 stars; the catalogue has 3."""

    subject = load.Loader

    def validate(self):
        self.assertStreamCount(99, models.Star)


class MagnitudeRaisesTest(qa.TestCase):
    """The step fails on a negative flux, and the test was not told to
    expect it."""

    subject = steps.Magnitude

    def setup(self):
        self.save(models.Star(name="Negative", flux=-1.0))

    def validate(self):
        self.assertStreamCount(1, models.Star)


class FlareAlertHasNotFailsTest(qa.TestCase):
    """Claims no flare exists while one does."""

    subject = alerts.FlareAlert

    def setup(self):
        self.patch("corral.conf.settings.ALERT_LOG", "/dev/null")
        star = models.Star(name="Nova", flux=1e9, magnitude=2.5)
        self.save(models.Flare(star=star, magnitude=2.5))

    def validate(self):
        self.assertStreamHasNot(models.Flare)


class SummaryOutputFailsTest(qa.TestCase):
    """Expects 5 stars in the output; there are none."""

    subject = commands.Summary

    def validate(self):
        self.assertIn("stars: 5", self.command_status.out)
