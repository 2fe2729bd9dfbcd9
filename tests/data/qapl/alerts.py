"""Reports each flare to a log file."""

from corral import run
from corral.conf import settings
from corral.run import endpoints as ep

from . import models


class AlertLog(ep.File):
    """An ep.File whose path is read from settings.ALERT_LOG at each run."""

    def __init__(self):
        super().__init__(path=None)

    def setup(self, alert):
        self.path = settings.ALERT_LOG
        super().setup(alert)

    def __repr__(self):
        return "AlertLog(settings.ALERT_LOG)"


class FlareAlert(run.Alert):
    """Write one line per flare to settings.ALERT_LOG."""

    model = models.Flare
    conditions = []
    alert_to = [AlertLog()]
    groups = ["default", "report"]

    def render_alert(self, utcnow, endpoint, obj):
        return f"FLARE {obj.star.name} magnitude {obj.magnitude:.2f}"
