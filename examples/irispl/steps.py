"""Statistics per species: one step creates empty rows, three fill them."""

from corral import run

from . import models


class StatisticsCreator(run.Step):
    """Give every species an empty Statistics row."""

    model = models.Name
    conditions = []

    def process(self, name):
        exists = self.session.query(models.Statistics).filter(
            models.Statistics.name_id == name.id).first()
        if exists is None:
            empty = {f"{kind}_{m}": 0.0 for kind in ("mean", "min", "max")
                     for m in models.MEASURES}
            yield models.Statistics(name_id=name.id, **empty)


class _SpeciesStatistics(run.Step):
    """Fill the Statistics row of one species from its observations."""

    model = models.Statistics

    def process(self, stats):
        for measure in models.MEASURES:
            values = [getattr(o, measure) for o in stats.name.observations]
            setattr(stats, f"mean_{measure}", sum(values) / len(values))
            setattr(stats, f"min_{measure}", min(values))
            setattr(stats, f"max_{measure}", max(values))


def _pending(species):
    return [models.Statistics.name.has(name=species),
            models.Statistics.mean_sepal_length == 0.0]


class SetosaStatistics(_SpeciesStatistics):
    """Statistics of Iris setosa."""

    conditions = _pending("Iris-setosa")
    groups = ["default", "statistics"]


class VersicolorStatistics(_SpeciesStatistics):
    """Statistics of Iris versicolor."""

    conditions = _pending("Iris-versicolor")
    groups = ["default", "statistics"]


class VirginicaStatistics(_SpeciesStatistics):
    """Statistics of Iris virginica."""

    conditions = _pending("Iris-virginica")
    groups = ["default", "statistics"]
