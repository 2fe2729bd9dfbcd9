"""PipelineSetup: code a pipeline runs around every command. Public as
`corral.setup`.

settings.PIPELINE_SETUP names a subclass; without one the default below is
used. `setup()` runs after the settings and the database are ready and
before the command; `teardown()` runs after it, even when it failed.
"""


class PipelineSetup:
    """Override setup() and teardown() to prepare the pipeline's world."""

    def setup(self):
        """Runs before every command that loads the pipeline."""

    def teardown(self):
        """Runs after every such command."""
