"""Tests of qapl: each passes. failing_tests.py holds failing ones."""

import os
import shutil
import tempfile

from corral import qa
from corral.conf import settings

from . import alerts, commands, load, models, steps


class LoaderTest(qa.TestCase):
    """The loader stores every star of the catalogue."""

    subject = load.Loader

    def validate(self):
        self.assertStreamCount(3, models.Star)
        self.assertStreamHas(models.Star, models.Star.name == "Vega")
        self.assertStreamCount(0, models.Star,
                               models.Star.magnitude.isnot(None))


class LoaderSkipsKnownStarsTest(qa.TestCase):
    """A star stored before is not loaded twice; the catalogue is mocked."""

    subject = load.Loader

    def setup(self):
        self.folder = tempfile.mkdtemp()
        path = os.path.join(self.folder, "catalog.csv")
        with open(path, "w") as fp:
            fp.write("name,flux\nDeneb,5e7\nSirius,9e8\n")
        self.patch("corral.conf.settings.CATALOG_PATH", path)
        self.save(models.Star(name="Sirius", flux=1.0))

    def validate(self):
        self.assertStreamCount(2, models.Star)
        self.assertStreamCount(1, models.Star, models.Star.name == "Sirius")
        sirius = self.session.query(models.Star).filter_by(
            name="Sirius").one()
        self.assertEqual(sirius.flux, 1.0)

    def teardown(self):
        shutil.rmtree(self.folder)


class MagnitudeTest(qa.TestCase):
    """A flux of 100 is magnitude 20 with the zero point 25."""

    subject = steps.Magnitude

    def setup(self):
        self.save(models.Star(name="Capella", flux=100.0))

    def validate(self):
        star = self.session.query(models.Star).one()
        self.assertAlmostEqual(star.magnitude, 20.0)


class MagnitudeBadFluxTest(qa.TestCase):
    """A star without flux makes the step fail and keeps no magnitude."""

    subject = steps.Magnitude
    subject_may_fail = True

    def setup(self):
        self.save(models.Star(name="Dark", flux=0.0))

    def validate(self):
        self.assertIsNotNone(self.subject_error)
        self.assertIn("flux 0.0 is not positive", self.subject_error)
        self.assertStreamHasNot(models.Star, models.Star.magnitude.isnot(None))


class IsolationFirstTest(qa.TestCase):
    """Stores a star named Twin; the next test stores one too."""

    subject = steps.Magnitude

    def setup(self):
        self.save(models.Star(name="Twin", flux=10.0))

    def validate(self):
        self.assertStreamCount(1, models.Star)


class IsolationSecondTest(IsolationFirstTest):
    """Names are unique: this fails if the first test's star is still
    there."""


class MockPatchTest(qa.TestCase):
    """Each kind of patch is in force during the test."""

    subject = steps.Magnitude

    def setup(self):
        self.patch.object(steps, "ZERO_POINT", 0.0)
        self.patch.dict(os.environ, {"QAPL_MARK": "on"})
        self.patch.multiple(steps.Magnitude, groups=["patched"])
        self.patch("corral.conf.settings.FLARE_MAGNITUDE", -99.0)
        self.save(models.Star(name="Rigel", flux=100.0))

    def validate(self):
        star = self.session.query(models.Star).one()
        self.assertAlmostEqual(star.magnitude, -5.0)
        self.assertEqual(os.environ["QAPL_MARK"], "on")
        self.assertEqual(steps.Magnitude.groups, ["patched"])
        self.assertEqual(settings.FLARE_MAGNITUDE, -99.0)


class MockUndoneTest(qa.TestCase):
    """The patches of the test before are undone."""

    subject = steps.Magnitude

    def setup(self):
        self.save(models.Star(name="Rigel", flux=100.0))

    def validate(self):
        star = self.session.query(models.Star).one()
        self.assertAlmostEqual(star.magnitude, 20.0)
        self.assertEqual(steps.ZERO_POINT, 25.0)
        self.assertNotIn("QAPL_MARK", os.environ)
        self.assertEqual(steps.Magnitude.groups, ["photometry"])
        self.assertEqual(settings.FLARE_MAGNITUDE, 6.0)


class FlareFinderTest(qa.TestCase):
    """Only the star brighter than the limit gets a flare."""

    subject = steps.FlareFinder

    def setup(self):
        self.save(models.Star(name="Bright", flux=1e9, magnitude=2.5))
        self.save(models.Star(name="Faint", flux=10.0, magnitude=22.5))

    def validate(self):
        self.assertStreamCount(1, models.Flare)
        bright = self.session.query(models.Star).filter_by(
            name="Bright").one()
        self.assertStreamHas(models.Flare, models.Flare.star_id == bright.id)


class FlareAlertTest(qa.TestCase):
    """Each flare is written once to the (mocked) alert log."""

    subject = alerts.FlareAlert

    def setup(self):
        self.folder = tempfile.mkdtemp()
        self.log = os.path.join(self.folder, "flares.log")
        self.patch("corral.conf.settings.ALERT_LOG", self.log)
        star = models.Star(name="Nova", flux=1e9, magnitude=2.5)
        self.save(models.Flare(star=star, magnitude=2.5))

    def validate(self):
        with open(self.log) as fp:
            lines = fp.read().splitlines()
        self.assertEqual(lines, ["FLARE Nova magnitude 2.50"])

    def teardown(self):
        shutil.rmtree(self.folder)


class SummaryTest(qa.TestCase):
    """summary counts the stars and the flares."""

    subject = commands.Summary

    def setup(self):
        star = models.Star(name="Polaris", flux=1e8, magnitude=5.0)
        self.save(star)
        self.save(models.Star(name="Mizar", flux=1e7, magnitude=7.5))
        self.save(models.Flare(star=star, magnitude=5.0))

    def validate(self):
        status = self.command_status
        self.assertEqual(status.exit_status, 0)
        self.assertEqual(status.out.splitlines(), ["stars: 2", "flares: 1"])


class SummaryBrighterThanTest(SummaryTest):
    """summary --brighter-than 6 counts only Polaris."""

    cliargs = ["--brighter-than", "6"]

    def validate(self):
        self.assertEqual(self.command_status.kwargs["brighter_than"], 6.0)
        self.assertIn("stars: 1", self.command_status.out)


class SummaryEmptyTest(qa.TestCase):
    """With no stars, summary says what to run and exits with 1."""

    subject = commands.Summary

    def validate(self):
        self.assertEqual(self.command_status.exit_status, 1)
        self.assertIn("run 'corral load' first", self.command_status.out)


class SummaryNoMagnitudeTest(qa.TestCase):
    """--brighter-than before any magnitude is an error of one line."""

    subject = commands.Summary
    subject_may_fail = True

    def setup(self):
        self.cliargs.extend(["--brighter-than", "6"])
        self.save(models.Star(name="Unmeasured", flux=5.0))

    def validate(self):
        self.assertEqual(self.command_status.exit_status, 1)
        self.assertIn("no star has a magnitude yet",
                      self.command_status.err)
