"""Commands for working inside the pipeline: shell and exec."""

from __future__ import annotations

import os
import sys

from ..errors import CorralError
from .base import BaseCommand


def shell_namespace():
    """What `corral shell` preloads, grouped by module for the banner.

    Returns (namespace, [(module name, [names])]): the pipeline's models,
    the settings, an open session and settings.SHELL_LOCALS.
    """
    from .. import db
    from ..conf import settings

    namespace, groups = {}, []
    models = db.load_models_module()
    if models is not None:
        names = sorted(
            n for n, v in vars(models).items()
            if isinstance(v, type) and issubclass(v, db.Model)
            and v is not db.Model and v.__module__ == models.__name__
        )
        namespace.update({n: getattr(models, n) for n in names})
        groups.append((models.__name__, names))
    session = db.Session()
    namespace.update({"session": session, "settings": settings, "db": db})
    groups.append(("sqlalchemy.orm.session", ["session"]))
    groups.append(("corral", ["db", "settings"]))
    extra = dict(settings.get("SHELL_LOCALS") or {})
    if extra:
        namespace.update(extra)
        groups.append(("settings.SHELL_LOCALS", sorted(extra)))
    return namespace, groups


def banner(groups) -> str:
    lines = [f"LOAD: {', '.join(names)} ({module})"
             for module, names in groups if names]
    lines.append("-" * 80)
    return "\n".join(lines)


class Shell(BaseCommand):
    """Open a Python prompt with the models, settings and a session loaded.

    example: corral shell --shell plain
    """

    options = {"title": "shell"}
    shells = ("plain",)

    def setup(self):
        self.parser.add_argument(
            "--shell", choices=self.shells, default=None,
            help="which prompt to open (default: the best one installed)",
        )

    def handle(self, shell=None):
        namespace, groups = shell_namespace()
        try:
            self.run_plain(namespace, banner(groups))
        finally:
            namespace["session"].close()

    def run_plain(self, namespace, text):
        import code

        try:
            import readline  # noqa: F401  (line editing when available)
        except ImportError:
            pass
        code.interact(banner=text, local=namespace, exitmsg="")


class Exec(BaseCommand):
    """Run a Python script inside the pipeline's environment.

    The script runs as __main__ with sys.argv set to the script and its
    arguments; its exit status becomes the command's.

    example: corral exec report.py --night 2026-12-01
    """

    options = {"title": "exec"}

    def setup(self):
        self.parser.add_argument("script", help="the Python file to run")
        self.parser.add_argument(
            "args", nargs="...", help="arguments passed to the script"
        )

    def handle(self, script, args=()):
        import runpy

        if not os.path.isfile(script):
            raise CorralError(f"exec: no such script: {script}", 2)
        old_argv = sys.argv
        sys.argv = [script, *args]
        try:
            runpy.run_path(script, run_name="__main__")
        except SystemExit as exc:
            code = exc.code
            if code is None:
                code = 0
            elif not isinstance(code, int):
                self.stderr.write(f"{code}\n")
                code = 1
            self.exit_with(code)
        finally:
            sys.argv = old_argv


COMMANDS = [Shell, Exec]
