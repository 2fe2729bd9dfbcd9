"""Reports every computed Statistics row to statistics.log."""

from corral import run
from corral.run import endpoints as ep

from . import models


class StatisticsAlert(run.Alert):
    """Write the means of each species once they are computed."""

    model = models.Statistics
    conditions = [models.Statistics.mean_sepal_length > 0]
    alert_to = [ep.File("statistics.log")]

    def render_alert(self, utcnow, endpoint, obj):
        means = ", ".join(
            f"{m}={getattr(obj, 'mean_' + m):.3f}" for m in models.MEASURES)
        return f"{utcnow:%Y-%m-%d %H:%M:%S} {obj.name.name}: {means}"
