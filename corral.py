#!/usr/bin/env python3
"""Corral: the `corral` program and the public `corral` module.

Pipelines import the framework by its public names (`from corral import db,
run, qa, cli`, `from corral.conf import settings`, `corral.run.endpoints`,
`corral.setup.PipelineSetup`, ...). The code lives in the `corral_lib`
package; this module only maps each public name onto the library module that
implements it, and imports nothing heavy until a name is used, so commands
that need no database start fast.

Run as a script (`python corral.py COMMAND`) it is the same program as the
installed `corral` executable.
"""

import importlib
import importlib.abc
import importlib.util
import sys

# Public submodule -> library module. `corral.X.Y` resolves to the library
# module of `corral.X` plus `.Y`, so `corral.run.endpoints` needs no entry.
_PUBLIC_MODULES = {
    "cli": "corral_lib.cli",
    "conf": "corral_lib.conf",
    "core": "corral_lib.core",
    "db": "corral_lib.db",
    "exceptions": "corral_lib.errors",
    "libs": "corral_lib.libs",
    # The manual also spells it `corral.lib.django_integration`.
    "lib": "corral_lib.libs",
    "migrations": "corral_lib.migrations",
    "qa": "corral_lib.qa",
    "run": "corral_lib.run",
    "setup": "corral_lib.setup",
}


def _library_name(public_name):
    parts = public_name.split(".")
    head = _PUBLIC_MODULES.get(parts[1]) if len(parts) > 1 else None
    if head is None:
        return None
    return ".".join([head] + parts[2:])


class _AliasLoader(importlib.abc.Loader):
    """Hands out the library module itself under its public name."""

    def __init__(self, target):
        self.target = target

    def create_module(self, spec):
        return importlib.import_module(self.target)

    def exec_module(self, module):
        # The import system stamps the alias spec on the module it was
        # given; put the library's own back so tools that read __spec__
        # (reload, pickle's lookups, coverage) see the real module.
        module.__spec__ = importlib.util.find_spec(self.target)


class _AliasFinder(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname, path=None, target=None):
        if not fullname.startswith("corral."):
            return None
        library_name = _library_name(fullname)
        if library_name is None:
            return None
        if importlib.util.find_spec(library_name) is None:
            return None
        return importlib.util.spec_from_loader(
            fullname, _AliasLoader(library_name)
        )


# Make `corral` a namespace for submodule imports even when loaded as a
# plain module (corral.py) rather than a package.
__path__ = []
if not any(isinstance(f, _AliasFinder) for f in sys.meta_path):
    sys.meta_path.insert(0, _AliasFinder())


def __getattr__(name):
    if name in ("VERSION", "__version__"):
        from corral_lib import __version__

        return __version__
    if name in _PUBLIC_MODULES:
        return importlib.import_module(f"corral.{name}")
    raise AttributeError(f"module 'corral' has no attribute {name!r}")


def main(argv=None):
    """Entry point of the `corral` program."""
    if getattr(sys, "frozen", False):
        # In the single executable, the worker processes of a parallel run
        # start this same program; freeze_support() makes such a process do
        # its work and exit before any command line is read.
        import multiprocessing

        multiprocessing.freeze_support()
    from corral_lib.cli import run_from_command_line

    return run_from_command_line(argv)


if __name__ == "__main__":
    # Running `python corral.py` loads this file as `__main__`; register it
    # under its public name too so `import corral` inside the program does
    # not load a second copy.
    sys.modules.setdefault("corral", sys.modules[__name__])
    sys.exit(main())
