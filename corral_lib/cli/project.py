"""Commands that need no pipeline: creating one."""

from __future__ import annotations

from .base import MODE_OUT, BaseCommand


class Create(BaseCommand):
    """Create a new pipeline project.

    Writes DIR (./NAME by default) holding in_corral.py and the package
    NAME with settings, models, loader, steps, alerts, commands and tests.

    example: corral create my_pipeline
    """

    options = {"title": "create", "mode": MODE_OUT}

    def setup(self):
        self.parser.add_argument(
            "name", help="the pipeline's name, a Python identifier"
        )
        self.parser.add_argument(
            "directory", nargs="?",
            help="the folder to create (default: ./NAME); must be new or "
            "empty",
        )

    def handle(self, name, directory=None):
        from ..scaffold import create_project

        target = create_project(name, directory)
        self.write(f"Created pipeline '{name}' in {target}")
        self.write("Next:")
        self.write(f"  cd {target}")
        self.write("  corral createdb    # create the database and tables")
        self.write("  corral load        # run the loader")
        self.write("  corral run         # run the steps")


COMMANDS = [Create]
