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


def runs_itself(text: str, path: tuple[str, ...]) -> bool:
    """An example line calls `regops <path>` (environment assignments before it are fine)."""
    call = re.compile(r"^(?:[A-Z_][A-Z0-9_]*=\S+\s+)*regops " + re.escape(" ".join(path)) + r"(\s|$)")
    return any(call.match(line) for line in examples(text))


@pytest.mark.parametrize("path", [p for p, _ in COMMANDS], ids=[" ".join(p) for p, _ in COMMANDS])
def test_every_command_has_an_example_of_itself(path):
    text = help_text(path)
    assert runs_itself(text, path), f"`regops {' '.join(path)} --help` needs an Example: line running it; found {examples(text)}"


def test_the_example_check_rejects_what_it_should():
    no_example = "Usage: regops frob\n\n  Frobs.\n\nOptions:\n  --help  Show this message and exit.\n"
    other_command = "  Example:\n    regops validate --config x\n"
    prefix_only = "  Example:\n    regops frobnicate\n"
    outside = "  Frobs, e.g. regops frob --now.\n"
    for text in (no_example, other_command, prefix_only, outside):
        assert not runs_itself(text, ("frob",)), text
    assert runs_itself("  Examples:\n    regops validate\n    KEY=k regops frob --now   # note\n", ("frob",))


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
