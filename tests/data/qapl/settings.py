"""Settings of qapl, a small photometry pipeline for Corral's QA tests."""

import os

PATH = os.path.abspath(os.path.dirname(__file__))

CONNECTION = "sqlite:///qapl-dev.db"
TEST_CONNECTION = "sqlite:///:memory:"

PIPELINE_SETUP = None

LOADER = "qapl.load.Loader"
STEPS = ["qapl.steps.Magnitude", "qapl.steps.FlareFinder"]
ALERTS = ["qapl.alerts.FlareAlert"]

# Where the loader reads stars, and where the alert writes flares.
CATALOG_PATH = os.path.join(PATH, "catalog.csv")
ALERT_LOG = os.path.join(PATH, "flares.log")

# Stars brighter (smaller magnitude) than this are flares.
FLARE_MAGNITUDE = 6.0

LOG_LEVEL = "INFO"
