"""Photometry: magnitudes from fluxes, and flares among bright stars."""

import math

from corral import run
from corral.conf import settings

from . import models

# The magnitude of a star whose flux is 1.
ZERO_POINT = 25.0


class Magnitude(run.Step):
    """Compute each star's magnitude from its flux."""

    model = models.Star
    conditions = [models.Star.magnitude.is_(None)]
    groups = ["photometry"]

    def process(self, star):
        if star.flux <= 0:
            raise ValueError(f"{star.name}: flux {star.flux} is not positive")
        star.magnitude = ZERO_POINT - 2.5 * math.log10(star.flux)


class FlareFinder(run.Step):
    """Record a Flare for each star brighter than settings.FLARE_MAGNITUDE."""

    model = models.Star
    conditions = [
        models.Star.magnitude < settings.FLARE_MAGNITUDE,
        ~models.Star.flares.any(),
    ]
    groups = ["flares"]

    def process(self, star):
        return models.Flare(star=star, magnitude=star.magnitude)
