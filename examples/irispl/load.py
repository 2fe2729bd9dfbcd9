"""Reads iris.csv: one Observation per line, one Name per species."""

import csv

from corral import run
from corral.conf import settings

from irispl import models


class Loader(run.Loader):
    """Load every flower of iris.csv."""

    def setup(self):
        self.fp = open(settings.IRIS_PATH, encoding="utf-8")

    def teardown(self, *exc_info):
        if self.fp and not self.fp.closed:
            self.fp.close()

    def species(self, label):
        """The Name row of a species, stored the first time it is seen."""
        name = self.session.query(models.Name).filter(
            models.Name.name == label).first()
        if name is None:
            name = models.Name(name=label)
            self.save(name)
            self.session.commit()
        return name

    def generate(self):
        for row in csv.DictReader(self.fp):
            yield models.Observation(
                name=self.species(row["Name"]),
                sepal_length=float(row["SepalLength"]),
                sepal_width=float(row["SepalWidth"]),
                petal_length=float(row["PetalLength"]),
                petal_width=float(row["PetalWidth"]),
            )
