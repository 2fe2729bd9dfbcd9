"""Reads the catalogue CSV: ra, dec, flux, flux_err per line."""

import csv

from corral import run
from corral.conf import settings

from . import models


class Loader(run.Loader):
    def setup(self):
        self.fp = open(settings.CATALOGUE, newline="", encoding="utf-8")

    def teardown(self, *exc_info):
        self.fp.close()

    def generate(self):
        reader = csv.reader(self.fp)
        next(reader)
        for ra, dec, flux, flux_err in reader:
            yield models.Source(ra=float(ra), dec=float(dec),
                                flux=float(flux), flux_err=float(flux_err))
