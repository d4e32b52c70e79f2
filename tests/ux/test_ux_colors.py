"""Colours: when they are on, what they mark, and that the text under them is unchanged."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path
from types import SimpleNamespace

import pytest
from click.testing import CliRunner

from compiler import reporting, style
from compiler.cli import cli
from compiler.problems import Problem, Severity

ANSI = re.compile(r"\x1b\[[0-9;]*m")
ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "basic"


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize(
    ("tty", "env", "on"),
    [
        (True, {}, True),
        (False, {}, False),
        (True, {"NO_COLOR": "1"}, False),
        (True, {"NO_COLOR": "0"}, False),  # any non-empty value (no-color.org)
        (True, {"NO_COLOR": ""}, True),  # empty means unset
        (False, {"FORCE_COLOR": "1"}, True),
        (False, {"CLICOLOR_FORCE": "1"}, True),
        (False, {"FORCE_COLOR": "0"}, False),
        (False, {"FORCE_COLOR": "1", "NO_COLOR": "1"}, False),  # NO_COLOR wins
        (True, {"TERM": "dumb"}, False),
        (False, {"FORCE_COLOR": "1", "TERM": "dumb"}, True),  # forcing is forcing
    ],
)
def test_when_colours_are_on(tty, env, on):
    assert style.enabled(Tty() if tty else io.StringIO(), env) is on


PROBLEMS = [
    Problem("clusters.yaml", 11, 15, Severity.ERROR, "syncTool: 'fluxx' is not one of: flux, argocd", "clusters[0].syncTool", "schema"),
    Problem("registries.yaml", 0, 0, Severity.WARNING, "'gov-west' matches no cluster", "", "access"),
]


def test_text_report_colours_levels_and_keeps_the_words():
    plain = reporting.text(PROBLEMS, 1, 1, 2)
    coloured = reporting.text(PROBLEMS, 1, 1, 2, color=True)
    assert coloured != plain
    assert ANSI.sub("", coloured) == plain
    first, second, summary = coloured.splitlines()
    assert "\x1b[1;31merror\x1b[0m" in first
    assert "\x1b[1;33mwarning\x1b[0m" in second
    assert summary.startswith("\x1b[1;31m")  # bold, red while there are errors
    clean = reporting.text([], 0, 0, 4, color=True)
    assert clean == "\x1b[1m0 errors, 0 warnings in 4 files\x1b[0m\n"


@pytest.mark.parametrize("fmt", ["json", "github"])
def test_machine_formats_are_never_coloured(fmt):
    out = reporting.problems_report(fmt, PROBLEMS, 1, 1, 2, color=True)
    assert "\x1b" not in out
    assert out == reporting.PROBLEM_REPORTERS[fmt](PROBLEMS, 1, 1, 2)


def _render_result(added=(), changed=(), removed=(), foreign=()):
    diff = SimpleNamespace(added=list(added), changed=list(changed), removed=list(removed), unchanged=3, foreign=list(foreign),
                           any=bool(added or changed or removed))
    clusters = [SimpleNamespace(name="prod-eu", files=4, secrets=2)]
    return SimpleNamespace(diff=diff, output=Path("rendered"), clusters=clusters, sealed=2, plans=[])


def test_render_check_report_marks_changes_in_their_colours():
    result = _render_result(added=["a.yaml"], changed=["c.yaml"], removed=["r.yaml"], foreign=["f.yaml"])
    plain = reporting.render_report(result, "text", check=True, quiet=False)
    coloured = reporting.render_report(result, "text", check=True, quiet=False, color=True)
    assert ANSI.sub("", coloured) == plain
    lines = coloured.splitlines()
    assert lines[0] == "\x1b[32mA\x1b[0m a.yaml"
    assert lines[1] == "\x1b[33mC\x1b[0m c.yaml"
    assert lines[2] == "\x1b[31mR\x1b[0m r.yaml"
    assert lines[3].startswith("\x1b[33m?\x1b[0m f.yaml")
    assert "\x1b[31mstale:" in lines[4]
    fresh = reporting.render_report(_render_result(), "text", check=True, quiet=False, color=True)
    assert "\x1b[32mup to date\x1b[0m" in fresh


@pytest.mark.parametrize("fmt", ["json", "github"])
def test_render_report_machine_formats_ignore_colour(fmt):
    result = _render_result(changed=["c.yaml"])
    assert reporting.render_report(result, fmt, check=True, quiet=False, color=True) == reporting.render_report(result, fmt, check=True, quiet=False)


def test_plan_report_colours_only_text():
    result = _render_result(added=["a.yaml"], removed=["r.yaml"])
    plain = reporting.plan_report(result, "text")
    coloured = reporting.plan_report(result, "text", color=True)
    assert ANSI.sub("", coloured) == plain and "\x1b[32m+\x1b[0m a.yaml" in coloured and "\x1b[31m-\x1b[0m r.yaml" in coloured
    doc = json.loads(reporting.plan_report(result, "json", color=True))
    assert doc["changes"]["added"] == ["a.yaml"]


def _validate(env):
    # CliRunner's stdout is not a terminal: colour only when forced.
    return CliRunner(env=env).invoke(cli, ["validate", "--config", str(EXAMPLE)])


def test_cli_forced_colour_and_no_color_wins():
    assert "\x1b[1m0 errors" in _validate({"FORCE_COLOR": "1", "NO_COLOR": None}).output
    assert "\x1b" not in _validate({"FORCE_COLOR": "1", "NO_COLOR": "1"}).output
    assert "\x1b" not in _validate({"FORCE_COLOR": None, "CLICOLOR_FORCE": None, "NO_COLOR": None}).output
