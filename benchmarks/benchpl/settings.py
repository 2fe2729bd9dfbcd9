"""Settings of the benchmark pipeline; benchmarks/run.py appends the
connection and the catalogue's path."""

import os

PATH = os.path.abspath(os.path.dirname(__file__))

CONNECTION = "sqlite:///bench.db"
DEBUG_PROCESS = False
PIPELINE_SETUP = None
LOADER = "benchpl.load.Loader"
STEPS = ["benchpl.steps.Magnitude", "benchpl.steps.Classify"]
ALERTS = ["benchpl.alerts.Bright"]
LOG_LEVEL = "WARNING"
CHUNK_SIZE = 1000
CATALOGUE = os.path.join(PATH, "catalogue.csv")
HEAVY_ROUNDS = 60
