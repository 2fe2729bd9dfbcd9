"""Reports the bright sources to a file."""

from corral import run
from corral.run import endpoints as ep

from . import models


class Bright(run.Alert):
    model = models.Source
    conditions = [models.Source.kind == 2]
    alert_to = [ep.File("bright.log")]

    def render_alert(self, utcnow, endpoint, obj):
        return f"{obj.id} {obj.ra:.6f} {obj.dec:.6f} {obj.mag:.3f}"
