"""The `corral` program. Public as `corral.cli`.

`run_from_command_line()` is what in_corral.py and the `corral` executable
call; `call_command()` runs a command from Python with its own output
streams (the tests and the executors use it). Commands live in the modules
of BUILTIN_MODULES, one per family, plus the pipeline's own `commands.py`.
"""

from __future__ import annotations

from .base import MODE_IN, MODE_OUT, MODE_TEST, BaseCommand
from .main import call_command, main, run_from_command_line

# One module per family of commands. Each module lists its command classes
# in COMMANDS; they are imported at start-up, so keep them free of heavy
# imports (do those inside handle()).
BUILTIN_MODULES = [
    "corral_lib.cli.project",
    "corral_lib.cli.processors",
    "corral_lib.cli.scheduling",
    "corral_lib.cli.shells",
    "corral_lib.cli.qa",
    "corral_lib.cli.migrations",
]

__all__ = [
    "BaseCommand",
    "MODE_IN",
    "MODE_OUT",
    "MODE_TEST",
    "BUILTIN_MODULES",
    "call_command",
    "main",
    "run_from_command_line",
]
