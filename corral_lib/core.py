"""Using a pipeline from other programs (a Django site, a notebook).
Public as `corral.core`."""

from __future__ import annotations

from .conf import activate, locate_project, settings
from .errors import ImproperlyConfigured


def setup_environment(project_dir: str | None = None):
    """Load the pipeline named by CORRAL_SETTINGS_MODULE (or the project
    found from the working directory), bind the database and run the
    pipeline's setup. Returns the settings."""
    project = locate_project(project_dir)
    if project is None:
        raise ImproperlyConfigured(
            "no pipeline found: set CORRAL_SETTINGS_MODULE to the pipeline's "
            "settings module, e.g. 'my_pipeline.settings'"
        )
    activate(project)
    settings._load()
    from . import db
    from .cli.main import _pipeline_setup

    db.setup()
    _pipeline_setup().setup()
    return settings
