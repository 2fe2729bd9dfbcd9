"""The pipeline described by its own code: a Markdown manual
(`corral create-doc`) and a Graphviz class diagram of its models
(`corral create-models-diagram`)."""

from __future__ import annotations

import inspect
import shutil
import subprocess
from pathlib import Path

import sqlalchemy as sa

from .. import __version__, db
from ..errors import CorralError


# -- reading the pipeline ------------------------------------------------


def pipeline_models() -> list:
    """The pipeline's model classes, in the order their tables were
    declared; the framework's own tables are left out."""
    db.load_models_module()
    order = {name: i for i, name in enumerate(db.Model.metadata.tables)}
    models = []
    for mapper in db.Model.registry.mappers:
        cls = mapper.class_
        if cls.__module__.startswith("corral_lib."):
            continue
        models.append(cls)
    return sorted(models, key=lambda c: (
        order.get(sa.inspect(c).local_table.name, len(order)), c.__name__))


def column_facts(column) -> list[str]:
    """What matters about a column besides its name and type."""
    facts = []
    if column.primary_key:
        facts.append("primary key")
    for fk in column.foreign_keys:
        facts.append(f"-> {fk.target_fullname}")
    if column.unique:
        facts.append("unique")
    if column.index:
        facts.append("indexed")
    if not column.nullable and not column.primary_key:
        facts.append("required")
    default = column.default
    if default is not None:
        if getattr(default, "is_scalar", False):
            facts.append(f"default {default.arg!r}")
        elif getattr(default, "is_callable", False):
            fn = getattr(default.arg, "__wrapped__", default.arg)
            facts.append(f"default {getattr(fn, '__name__', 'computed')}()")
    return facts


def type_name(column) -> str:
    try:
        return str(column.type)
    except Exception:  # a custom type that cannot render without a dialect
        return type(column.type).__name__


def relationships(model) -> list[tuple[str, str, bool]]:
    """(attribute, target class name, many) for each relationship."""
    found = []
    for rel in sa.inspect(model).relationships:
        found.append((rel.key, rel.mapper.class_.__name__, bool(rel.uselist)))
    return found


def sql_text(expression) -> str:
    """A condition or ordering as SQL, with its values written in."""
    try:
        text = str(expression.compile(compile_kwargs={"literal_binds": True}))
    except Exception:
        text = str(expression)
    return " ".join(text.split())


def _doc(obj) -> str:
    return inspect.getdoc(obj) or ""


def _own_doc(cls, base) -> str:
    """The class's docstring unless it only inherits the framework's."""
    doc = inspect.getdoc(cls) or ""
    return "" if doc == (inspect.getdoc(base) or "") else doc


# -- the Markdown manual ---------------------------------------------------


def create_doc() -> str:
    """The manual of the pipeline now loaded in settings, in Markdown."""
    import importlib

    from ..conf import settings

    package = importlib.import_module(settings.project.package)
    lines = [f"# {settings.PIPELINE_NAME}", ""]
    intro = _doc(package) or _doc(importlib.import_module(
        settings.project.settings_module))
    if intro:
        lines += [intro, ""]
    lines += [f"Documentation written by Corral {__version__} from the "
              "pipeline's code.", ""]
    lines += _models_doc()
    lines += _processors_doc()
    lines += _commands_doc()
    return "\n".join(lines).rstrip("\n") + "\n"


def _table(headers, rows) -> list[str]:
    def cell(text):
        return str(text).replace("|", "\\|").replace("\n", " ")

    out = ["| " + " | ".join(headers) + " |",
           "|" + "|".join(" --- " for _ in headers) + "|"]
    out += ["| " + " | ".join(cell(c) for c in row) + " |" for row in rows]
    return out


def _models_doc() -> list[str]:
    lines = ["## Models", ""]
    models = pipeline_models()
    if not models:
        return lines + ["The pipeline defines no models.", ""]
    for model in models:
        table = sa.inspect(model).local_table
        lines += [f"### {model.__name__}", ""]
        doc = _own_doc(model, db.Model)
        if doc:
            lines += [doc, ""]
        lines += [f"Table `{table.name}`, class "
                  f"`{model.__module__}.{model.__qualname__}`.", ""]
        rows = [[f"`{c.name}`", type_name(c), ", ".join(column_facts(c)),
                 c.doc or c.comment or ""] for c in table.columns]
        lines += _table(["Column", "Type", "Attributes", "Notes"], rows)
        lines.append("")
        rels = relationships(model)
        if rels:
            lines += ["Relations:", ""]
            for key, target, many in rels:
                what = f"a list of {target}" if many else f"one {target}"
                lines.append(f"- `{key}`: {what}")
            lines.append("")
    return lines


def _processor_facts(cls) -> list[str]:
    facts = [f"- **Class**: `{cls.retrieve_python_path()}`"]
    model = getattr(cls, "model", None)
    if model is not None:
        facts.append(f"- **Model**: {model.__name__}")
        conditions = cls.get_conditions()
        if conditions:
            facts.append("- **Conditions**:")
            facts += [f"    - `{sql_text(c)}`" for c in conditions]
        else:
            facts.append("- **Conditions**: none (every row)")
        ordering = cls.get_ordering()
        if ordering:
            facts.append("- **Ordering**: " + ", ".join(
                f"`{sql_text(o)}`" for o in ordering))
    endpoints = list(getattr(cls, "alert_to", []) or [])
    if endpoints:
        facts.append("- **Alerts to**: " + ", ".join(
            f"`{e!r}`" for e in endpoints))
    if model is not None:
        facts.append(f"- **Groups**: {', '.join(cls.get_groups())}")
        facts.append(f"- **Processes**: {cls.get_procno()}")
    return facts


def _processors_doc() -> list[str]:
    from ..run.base import Alert, Loader, Step
    from ..run.registry import load_alerts, load_loader, load_steps

    lines = ["## Loader", ""]
    loader = load_loader()
    if loader is None:
        lines += ["The pipeline has no loader (settings.LOADER).", ""]
    else:
        lines += [f"### {loader.__name__}", ""]
        doc = _own_doc(loader, Loader)
        lines += ([doc, ""] if doc else []) + _processor_facts(loader) + [""]
    for title, found, base in (("Steps", load_steps(), Step),
                               ("Alerts", load_alerts(), Alert)):
        lines += [f"## {title}", ""]
        if not found:
            lines += [f"The pipeline has no {title.lower()} "
                      f"(settings.{title.upper()}).", ""]
            continue
        if title == "Steps":
            lines += ["In the order of settings.STEPS, which is the order "
                      "`corral run --sync` runs them.", ""]
        for number, cls in enumerate(found, 1):
            lines += [f"### {number}. {cls.__name__}", ""]
            doc = _own_doc(cls, base)
            lines += ([doc, ""] if doc else []) + _processor_facts(cls)
            lines.append("")
    return lines


def command_usage(command_cls) -> str:
    """The --help text of a command, or '' if it cannot be built (its
    setup() may need what only a run provides)."""
    from ..cli.main import CommandParser

    title = command_cls.get_title()
    parser = CommandParser(prog=f"corral {title}",
                           description=command_cls.get_help())
    try:
        command_cls(parser).setup()
    except Exception:
        return ""
    return parser.format_help().strip()


def _commands_doc() -> list[str]:
    from ..cli.base import BaseCommand
    from ..cli.main import pipeline_commands
    from ..conf import settings

    lines = ["## Commands", ""]
    commands = pipeline_commands(settings.project)
    if not commands:
        return lines + ["The pipeline adds no commands of its own.", ""]
    lines += ["The pipeline's own commands, besides Corral's (see "
              "`corral --help`).", ""]
    for cls in commands:
        lines += [f"### corral {cls.get_title()}", ""]
        doc = _own_doc(cls, BaseCommand) or cls.get_help()
        if doc:
            lines += [doc, ""]
        usage = command_usage(cls)
        if usage:
            lines += ["```", usage, "```", ""]
        lines += [f"Class `{cls.__module__}.{cls.__qualname__}`.", ""]
    return lines


# -- the class diagram -------------------------------------------------------


def _record_escape(text: str) -> str:
    """Text safe inside a Graphviz record label."""
    for char in "\\{}|<>\"":
        text = text.replace(char, "\\" + char)
    return text


def models_diagram() -> str:
    """A Graphviz dot class diagram of the pipeline's models.

    Each model is a record node: its name, its columns (name : type and
    what matters about them) and its relationships. Each foreign key is an
    edge from the model that holds it to the model it points at, labelled
    with the column.
    """
    from ..conf import settings

    models = pipeline_models()
    by_table = {sa.inspect(m).local_table.name: m for m in models}
    lines = [
        f"digraph {_dot_id(settings.PIPELINE_NAME + '_models')} {{",
        '    graph [rankdir="BT", fontname="Helvetica", '
        f'label="Models of {settings.PIPELINE_NAME}"];',
        '    node [shape="record", fontname="Helvetica", fontsize="10"];',
        '    edge [fontname="Helvetica", fontsize="9", arrowhead="vee"];',
        "",
    ]
    for model in models:
        table = sa.inspect(model).local_table
        columns = []
        for column in table.columns:
            facts = [f for f in column_facts(column)
                     if not f.startswith("->")]
            text = f"{column.name} : {type_name(column)}"
            if facts:
                text += f" ({', '.join(facts)})"
            columns.append(_record_escape(text) + "\\l")
        rels = [
            _record_escape(f"{key} : {'[' + t + ']' if many else t}") + "\\l"
            for key, t, many in relationships(model)
        ]
        label = "{" + _record_escape(model.__name__) + "|" + "".join(
            columns) + ("|" + "".join(rels) if rels else "") + "}"
        lines.append(f'    {_dot_id(model.__name__)} [label="{label}"];')
    lines.append("")
    for model in models:
        table = sa.inspect(model).local_table
        for column in table.columns:
            for fk in column.foreign_keys:
                target = by_table.get(fk.column.table.name)
                if target is None:
                    continue
                many = "1" if column.unique else "*"
                one = "0..1" if column.nullable else "1"
                lines.append(
                    f"    {_dot_id(model.__name__)} -> "
                    f"{_dot_id(target.__name__)} "
                    f'[label="{column.name}", taillabel="{many}", '
                    f'headlabel="{one}"];'
                )
    lines.append("}")
    return "\n".join(lines) + "\n"


def _dot_id(name: str) -> str:
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def render_dot(text: str, path: Path, fmt: str) -> None:
    """Draw dot text into a PNG or SVG file with Graphviz's `dot`."""
    dot = shutil.which("dot")
    if dot is None:
        raise CorralError(
            f"cannot draw {path}: Graphviz's 'dot' program is not installed; "
            "install Graphviz, or write the dot text with "
            f"-o {path.with_suffix('.dot')} and draw it elsewhere"
        )
    completed = subprocess.run(
        [dot, f"-T{fmt}", "-o", str(path)], input=text, text=True,
        capture_output=True,
    )
    if completed.returncode != 0:
        reason = completed.stderr.strip().splitlines()
        raise CorralError(
            f"dot could not draw {path}: "
            f"{reason[0] if reason else 'exit status ' + str(completed.returncode)}"
        )
