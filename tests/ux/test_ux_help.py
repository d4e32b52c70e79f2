"""Every command's --help carries an example of itself, commands added later included."""

from __future__ import annotations

import re

import click
import pytest
from click.testing import CliRunner

from compiler.cli import cli


def walk(group: click.Group, path: tuple[str, ...] = ()):
    ctx = click.Context(group, info_name="regops")
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        if command is None or command.hidden:
            continue
        yield (*path, name), command
        if isinstance(command, click.Group):
            yield from walk(command, (*path, name))


COMMANDS = list(walk(cli))


def help_text(path: tuple[str, ...]) -> str:
    result = CliRunner().invoke(cli, [*path, "--help"], terminal_width=100)
    assert result.exit_code == 0, result.output
    return result.output


def examples(text: str) -> list[str]:
    """The indented lines under an 'Example:' or 'Examples:' heading."""
    found, inside = [], False
    for line in text.splitlines():
        if re.fullmatch(r"\s*Examples?:\s*", line):
            inside = True
            continue
        if inside and line.startswith("    ") and line.strip():
            found.append(line.strip())
        elif inside:
            inside = False
    return found


def test_the_walk_finds_the_commands():
    names = {p[0] for p, _ in COMMANDS}
    assert {"validate", "render", "plan", "schema"} <= names


@pytest.mark.parametrize("path", [p for p, _ in COMMANDS], ids=[" ".join(p) for p, _ in COMMANDS])
def test_every_command_has_an_example_of_itself(path):
    lines = examples(help_text(path))
    call = re.compile(r"^(?:[A-Z_][A-Z0-9_]*=\S+\s+)*regops " + re.escape(" ".join(path)) + r"(\s|$)")
    assert any(call.match(line) for line in lines), f"`regops {' '.join(path)} --help` needs an Example: line running it; found {lines}"


def test_top_level_help_has_an_example_and_the_environment():
    text = help_text(())
    assert any(line.startswith("regops ") for line in examples(text))
    assert "NO_COLOR" in text and "CI=true" in text
    for path, _ in COMMANDS:
        if len(path) == 1:
            assert path[0] in text


@pytest.mark.parametrize("path", [("render",), ("plan",)])
def test_progress_option_is_documented(path):
    text = help_text(path)
    assert "--progress / --no-progress" in text
