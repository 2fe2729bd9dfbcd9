"""Processors and their execution. Public as `corral.run`.

`run.Loader`, `run.Step` and `run.Alert` are the classes pipelines derive
from; `corral.run.endpoints` holds the alert endpoints.
"""

from .base import Alert, Loader, Processor, Step
from .runner import RunResult, run_processor

__all__ = ["Alert", "Loader", "Processor", "Step", "RunResult", "run_processor"]
