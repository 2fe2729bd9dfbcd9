"""Code that runs around every command of the qapl pipeline (none)."""

from corral import setup


class Setup(setup.PipelineSetup):
    """Nothing to prepare."""
