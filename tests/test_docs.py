"""Every built-in command has help text, an example, and a README entry."""

import re

import pytest

from conftest import ROOT
from corral_lib.cli.main import builtin_commands

README = (ROOT / "README.md").read_text()
COMMANDS = builtin_commands()


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c.get_title())
def test_command_has_help_and_example(command):
    assert command.get_help(), f"{command.get_title()} has no help"
    assert "example: corral " + command.get_title() in (
        command.get_description()), f"{command.get_title()} has no example"


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c.get_title())
def test_command_is_in_the_readme(command):
    pattern = r"\| `%s[ `]" % re.escape(command.get_title())
    assert re.search(pattern, README), (
        f"README's command table lacks {command.get_title()}")


def test_readme_names_the_two_set_up_commands():
    assert "make demo" in README and "make test" in README
