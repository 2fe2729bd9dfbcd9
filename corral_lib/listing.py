"""What lssteps, lsalerts and groups show, without importing the pipeline.

Listing steps only needs each class's name, processes and groups, but
importing a steps module imports the models and SQLAlchemy, which takes
about half a second on a small machine. Whenever the listings import the
processors, what they need is written to the package's __pycache__ folder,
stamped with the size and modification time of every Python file of the
package; a later listing reads it back if no file changed.

A setting that depends on something other than those files (an environment
variable, say) can make a listing stale until a file of the package
changes.
"""

from __future__ import annotations

from .conf import settings
from .errors import CorralError

_CACHE_NAME = "corral-processors.json"


def _cache_path():
    project = settings.project
    if project is None or project.directory is None:
        return None
    return project.directory / project.package / "__pycache__" / _CACHE_NAME


def _fingerprint() -> list:
    from . import __version__

    project = settings.project
    package_dir = project.directory / project.package
    stamps = []
    for path in sorted(package_dir.rglob("*.py")):
        if "__pycache__" in path.parts:
            continue
        stat = path.stat()
        stamps.append([str(path.relative_to(package_dir)), stat.st_mtime_ns,
                       stat.st_size])
    return [__version__, project.settings_module, stamps]


def _summary(processor) -> dict:
    return {
        "name": processor.__name__,
        "path": processor.retrieve_python_path(),
        "procno": processor.get_procno(),
        "groups": list(processor.get_groups()),
    }


def write_listing_cache(steps, alerts) -> None:
    """Record what lssteps, lsalerts and groups show (see above)."""
    import json
    import os

    path = _cache_path()
    if path is None:
        return
    data = {
        "fingerprint": _fingerprint(),
        "STEPS": [_summary(p) for p in steps],
        "ALERTS": [_summary(p) for p in alerts],
    }
    try:
        path.parent.mkdir(exist_ok=True)
        scratch = path.with_suffix(f".{os.getpid()}.tmp")
        scratch.write_text(json.dumps(data), encoding="utf-8")
        os.replace(scratch, path)
    except OSError:
        pass  # a read-only project simply lists more slowly


def processor_summaries(setting: str) -> list:
    """Name, procno and groups of each processor of STEPS or ALERTS.

    Read from the listing cache when it is current, else by importing the
    processors (which refreshes the cache).
    """
    import json

    path = _cache_path()
    if path is not None:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            if data.get("fingerprint") == json.loads(
                json.dumps(_fingerprint())
            ):
                return [ProcessorSummary(**item) for item in data[setting]]
        except (OSError, ValueError, KeyError, TypeError):
            pass
    from .run.registry import load_alerts, load_steps

    steps, alerts = load_steps(), load_alerts()
    write_listing_cache(steps, alerts)
    chosen = steps if setting == "STEPS" else alerts
    return [ProcessorSummary(**_summary(p)) for p in chosen]


class ProcessorSummary:
    """What a listing shows of a processor, without the class itself."""

    def __init__(self, name, path, procno, groups):
        self.__name__ = name
        self.path = path
        self.procno = procno
        self.groups = tuple(groups)

    def get_procno(self) -> int:
        return self.procno

    def get_groups(self) -> tuple:
        return self.groups

    def retrieve_python_path(self) -> str:
        return self.path


def select(processors, names=None, groups=None, what="step"):
    """Keep the processors named (class name or dotted path) or grouped.

    An unknown name or group is an error that lists the valid ones.
    """
    chosen = list(processors)
    if names:
        by_name = {}
        for proc in chosen:
            by_name[proc.__name__] = proc
            by_name[proc.retrieve_python_path()] = proc
        unknown = [n for n in names if n not in by_name]
        if unknown:
            valid = ", ".join(p.__name__ for p in chosen) or "(none)"
            raise CorralError(
                f"no {what} named {', '.join(map(repr, unknown))}; the "
                f"{what}s are: {valid}",
                returncode=2,
            )
        wanted = {by_name[n] for n in names}
        chosen = [p for p in chosen if p in wanted]
    if groups:
        known = {g for p in processors for g in p.get_groups()}
        unknown = [g for g in groups if g not in known]
        if unknown:
            raise CorralError(
                f"no {what} group {', '.join(map(repr, unknown))}; the "
                f"groups are: {', '.join(sorted(known)) or '(none)'}",
                returncode=2,
            )
        chosen = [p for p in chosen if set(p.get_groups()) & set(groups)]
    return chosen
