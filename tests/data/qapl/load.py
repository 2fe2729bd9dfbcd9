"""Reads the star catalogue: one Star per line of settings.CATALOG_PATH."""

import csv

from corral import run
from corral.conf import settings

from . import models


class Loader(run.Loader):
    """Load every star of the catalogue that is not stored yet."""

    def setup(self):
        self.fp = open(settings.CATALOG_PATH, encoding="utf-8")

    def teardown(self, *exc_info):
        self.fp.close()

    def generate(self):
        known = {name for (name,) in self.session.query(models.Star.name)}
        for row in csv.DictReader(self.fp):
            if row["name"] not in known:
                yield models.Star(name=row["name"], flux=float(row["flux"]))
