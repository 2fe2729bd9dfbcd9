"""Two chained steps, and two independent CPU-heavy ones."""

from corral import run
from corral.conf import settings

from . import models
from .work import heavy, kind_of, magnitude

Source = models.Source


class Magnitude(run.Step):
    model = Source
    conditions = [Source.mag.is_(None)]

    def process(self, source):
        source.mag, source.snr = magnitude(source.flux, source.flux_err)


class Classify(run.Step):
    model = Source
    conditions = [Source.mag.is_not(None), Source.kind.is_(None)]

    def process(self, source):
        source.kind = kind_of(source.mag, source.snr)


class HeavyA(run.Step):
    model = Source
    conditions = [Source.heavy_a.is_(None)]

    def process(self, source):
        source.heavy_a = heavy(source.ra, settings.HEAVY_ROUNDS)


class HeavyB(run.Step):
    model = Source
    conditions = [Source.heavy_b.is_(None)]

    def process(self, source):
        source.heavy_b = heavy(source.dec, settings.HEAVY_ROUNDS)
