#!/usr/bin/env python3
"""Write corral.1, the manual page, with argparse-manpage (`make man`).

    python tools/build_manpage.py [--output corral.1]

The page is generated from the parser the program itself uses
(`corral_lib.cli.main.build_parser(builtin_commands())`), with each
command's own arguments added by its setup(), so it cannot drift from
`corral --help`. A pipeline's own commands are not in it: they exist only
inside that pipeline. Needs argparse-manpage and Corral's dependencies,
both in the build environment `make dist-venv` installs.
"""

from __future__ import annotations

import io
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def corral_parser():
    """The `corral` parser with every built-in command and its arguments."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from corral_lib.cli.main import build_parser, builtin_commands

    parser, by_title = build_parser(builtin_commands())
    quiet = io.StringIO()
    for command_cls, command_parser in by_title.values():
        command_cls(command_parser, quiet, quiet, io.StringIO()).setup()
    return parser


def main(argv=None) -> int:
    import argparse

    from argparse_manpage import cli

    options = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    options.add_argument("--output", default=str(ROOT / "corral.1"),
                         help="where to write the page (default: corral.1)")
    args = options.parse_args(argv)

    sys.path.insert(0, str(ROOT))
    from corral_lib import __version__

    # argparse wraps usage lines at the terminal's width; a fixed, wide one
    # makes the page the same wherever it is built (man wraps it itself).
    os.environ["COLUMNS"] = "1000"

    # argparse-manpage is driven through its own command line, the
    # documented interface, pointed at corral_parser() above.
    sys.argv = [
        "argparse-manpage",
        "--pyfile", str(Path(__file__).resolve()),
        "--function", "corral_parser",
        "--prog", "corral",
        "--project-name", "Corral",
        "--version", __version__,
        "--manual-title", "Corral manual",
        "--description", "run data pipelines: models, a loader, steps and "
        "alerts over one database",
        "--output", args.output,
    ]
    cli.main()
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
