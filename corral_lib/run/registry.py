"""Finding the processors a pipeline's settings name, and selecting them."""

from __future__ import annotations

from ..conf import import_string, settings
from ..errors import CorralError, ImproperlyConfigured
from .base import Alert, Loader, Step, is_processor

_KINDS = {"LOADER": Loader, "STEPS": Step, "ALERTS": Alert}


def _load(setting: str, dotted: str):
    kind = _KINDS[setting]
    obj = import_string(dotted, f"settings.{setting} entry '{dotted}'")
    if not is_processor(obj, kind):
        raise ImproperlyConfigured(
            f"settings.{setting} entry '{dotted}' is not a subclass of "
            f"corral.run.{kind.__name__}; point it at a {kind.__name__} class"
        )
    return obj


def load_loader() -> type[Loader] | None:
    dotted = settings.LOADER
    return _load("LOADER", dotted) if dotted else None


def _load_list(setting: str) -> list:
    entries = settings.get(setting) or []
    if isinstance(entries, str):
        entries = [entries]
    return [_load(setting, dotted) for dotted in entries]


def load_steps() -> list[type[Step]]:
    """Every step in settings.STEPS, in that order."""
    return _load_list("STEPS")


def load_alerts() -> list[type[Alert]]:
    return _load_list("ALERTS")


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
