"""Settings of irispl, the example pipeline: statistics of Fisher's iris
measurements, per species."""

import os

PATH = os.path.abspath(os.path.dirname(__file__))
IRIS_PATH = os.path.join(PATH, "iris.csv")

CONNECTION = os.environ.get("IRISPL_CONNECTION", "sqlite:///irispl-dev.db")
TEST_CONNECTION = "sqlite:///:memory:"

DEBUG_PROCESS = True
PIPELINE_SETUP = None

LOADER = "irispl.load.Loader"

STEPS = [
    "irispl.steps.StatisticsCreator",
    "irispl.steps.SetosaStatistics",
    "irispl.steps.VirginicaStatistics",
    "irispl.steps.VersicolorStatistics",
]

ALERTS = ["irispl.alerts.StatisticsAlert"]

SHELL_LOCALS = {}
EMAIL = {"server": "localhost:25", "tls": False, "user": "", "password": ""}
LOG_LEVEL = "WARNING"
MIGRATIONS_SETTINGS = os.path.join(PATH, "migrations", "alembic.ini")
