"""What a person sees on a terminal, and what CI sees on pipes (real processes, a pseudo-terminal)."""

from __future__ import annotations

import re

import pytest
from uxhelpers import config_copy, env, frames, on_pipes, on_pty

FRAME = re.compile(r"^(rendering|checking|planning)( \[[█░#-]+\])? \d+/\d+ clusters(  [\d.]+/s  (ETA [\dhms.]+|finishing)|  finishing)?$")
NOW = {"REGOPS_PROGRESS_DELAY": "0"}  # the five demo clusters are quick: show the bar at once


def progress_frames(raw: str) -> list[str]:
    return [f for f in frames(raw) if f.startswith(("rendering", "checking", "planning"))]


@pytest.fixture
def cfg(tmp_path):
    return config_copy(tmp_path)


def test_render_on_a_terminal_shows_progress_then_a_clean_report(cfg, tmp_path):
    out = tmp_path / "out"
    run = on_pty(["render", "--config", str(cfg), "--output", str(out)], env(**NOW))
    assert run.code == 0, run.raw
    shown = progress_frames(run.raw)
    assert shown, run.raw
    assert all(FRAME.match(f) for f in shown), shown  # counts only: no names, no values
    assert any(f.startswith("rendering [") and "5/5 clusters" in f for f in shown)
    # The bar is blanked: what stays on screen is exactly what a pipe receives.
    piped = on_pipes(["render", "--config", str(cfg), "--output", str(tmp_path / "out2")], env(**NOW))
    assert piped.code == 0
    assert run.screen == [line.replace(str(tmp_path / "out2"), str(out)) for line in piped.raw.splitlines()]
    assert run.screen[-1].startswith(f"{out}: 138 added")


def test_check_on_a_terminal_says_checking(cfg, tmp_path):
    out = tmp_path / "out"
    assert on_pipes(["render", "--config", str(cfg), "--output", str(out)], env()).code == 0
    run = on_pty(["render", "--config", str(cfg), "--output", str(out), "--check", "--jobs", "1"], env(**NOW))
    assert run.code == 0, run.raw
    assert any(f.startswith("checking [") and "5/5 clusters" in f for f in progress_frames(run.raw))
    assert run.screen == [f"{out}: up to date"]


def test_no_progress_when_not_a_terminal(cfg, tmp_path):
    run = on_pipes(["render", "--config", str(cfg), "--output", str(tmp_path / "out"), "--jobs", "1"], env(**NOW))
    assert run.code == 0
    assert "rendering" not in run.stderr and "\r" not in run.stderr + run.raw
    assert run.stderr == ""


@pytest.mark.parametrize(
    ("args", "extra"),
    [
        (["render"], {"CI": "true"}),
        (["-q", "render"], {}),
        (["render", "--no-progress"], {}),
    ],
    ids=["CI", "quiet", "no-progress"],
)
def test_no_progress_on_a_terminal_when_told(cfg, tmp_path, args, extra):
    run = on_pty([*args, "--config", str(cfg), "--output", str(tmp_path / "out"), "--jobs", "1"], env(**NOW, **extra))
    assert run.code == 0, run.raw
    assert progress_frames(run.raw) == []
    assert "\r" not in run.raw.replace("\r\n", "\n")


def test_progress_asked_for_in_ci(cfg, tmp_path):
    run = on_pty(["render", "--progress", "--config", str(cfg), "--output", str(tmp_path / "out"), "--jobs", "1"], env(CI="true", **NOW))
    assert run.code == 0
    assert any("5/5 clusters" in f for f in progress_frames(run.raw))


def test_progress_asked_for_in_a_log_is_plain_lines(cfg, tmp_path):
    run = on_pipes(["render", "--progress", "--config", str(cfg), "--output", str(tmp_path / "out"), "--jobs", "1"], env(CI="true", **NOW))
    assert run.code == 0
    lines = run.stderr.splitlines()
    assert "\r" not in run.stderr and lines, run.stderr
    assert re.fullmatch(r"rendering: 5/5 clusters in [\d.]+s", lines[-1]), lines
    assert all(line.startswith("rendering: ") for line in lines)
    assert "rendering" not in run.raw  # stdout stays the report alone


def test_plan_shows_planning(cfg, tmp_path):
    run = on_pty(["plan", "--config", str(cfg), "--output", str(tmp_path / "out")], env(**NOW))
    assert run.code == 0, run.raw
    assert any(f.startswith("planning [") for f in progress_frames(run.raw))
    assert run.screen[0].startswith("cluster prod-eu (flux):")


def _broken(cfg):
    text = (cfg / "clusters.yaml").read_text()
    (cfg / "clusters.yaml").write_text(text.replace("syncTool: flux", "syncTool: fluxx", 1))
    return cfg


def test_colours_on_a_terminal(cfg):
    run = on_pty(["validate", "--config", str(_broken(cfg))], env())
    assert run.code == 1
    assert "\x1b[1;31merror\x1b[0m" in run.raw
    assert "\x1b[1;31m1 error" in run.raw  # the summary, bold and red
    assert "did you mean 'flux'?" in run.raw


def test_no_color_on_a_terminal(cfg):
    run = on_pty(["validate", "--config", str(_broken(cfg))], env(NO_COLOR="1"))
    assert run.code == 1
    assert "\x1b" not in run.raw
    assert "error: syncTool: 'fluxx'" in run.raw


def test_no_colours_on_pipes(cfg, tmp_path):
    bad = _broken(cfg)
    for args in (["validate", "--config", str(bad)], ["render", "--config", str(bad), "--output", str(tmp_path / "o")]):
        run = on_pipes(args, env())
        assert run.code == 1
        assert "\x1b" not in run.raw + run.stderr
        assert ": error: syncTool: 'fluxx'" in run.raw


def test_render_report_colours_on_a_terminal_and_not_with_no_color(cfg, tmp_path):
    out = tmp_path / "out"
    coloured = on_pty(["render", "--no-progress", "--config", str(cfg), "--output", str(out), "--jobs", "1"], env())
    assert coloured.code == 0
    assert f"\x1b[1m{out}: 138 added" in coloured.raw
    plain = on_pty(["render", "--check", "--no-progress", "--config", str(cfg), "--output", str(out), "--jobs", "1"], env(NO_COLOR="1"))
    assert plain.code == 0 and plain.raw == f"{out}: up to date\n"


def test_github_annotations_never_coloured_on_a_terminal(cfg):
    run = on_pty(["validate", "--config", str(_broken(cfg)), "--format", "github"], env(FORCE_COLOR="1"))
    assert run.code == 1
    assert "\x1b" not in run.raw
    assert run.raw.startswith("::error file=")
