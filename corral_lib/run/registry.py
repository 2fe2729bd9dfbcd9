"""Finding the processors a pipeline's settings name, and selecting them."""

from __future__ import annotations

from ..conf import import_string, settings
from ..errors import ImproperlyConfigured
from ..listing import select  # noqa: F401  (kept importable from here)
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
