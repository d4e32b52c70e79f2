"""-q prints only problems, -v adds details; each command, in process."""

from __future__ import annotations

import re

import pytest
from click.testing import CliRunner
from uxhelpers import KEY, config_copy

from compiler.cli import cli

ENV = {"SOPS_AGE_KEY_FILE": str(KEY), "SOPS_DISABLE_VERSION_CHECK": "1", "NO_COLOR": None, "FORCE_COLOR": None, "CLICOLOR_FORCE": None}


def run(*args):
    return CliRunner(env=ENV).invoke(cli, list(args))


@pytest.fixture
def cfg(tmp_path):
    return config_copy(tmp_path)


@pytest.fixture
def broken(cfg):
    text = (cfg / "clusters.yaml").read_text()
    (cfg / "clusters.yaml").write_text(text.replace("syncTool: flux", "syncTool: fluxx", 1))
    return cfg


def test_validate_quiet_prints_nothing_when_valid(cfg):
    result = run("-q", "validate", "--config", str(cfg))
    assert result.exit_code == 0 and result.output == ""


def test_validate_quiet_prints_only_the_problems(broken):
    loud = run("validate", "--config", str(broken))
    quiet = run("-q", "validate", "--config", str(broken))
    assert quiet.exit_code == loud.exit_code == 1
    assert loud.stdout.splitlines()[:-1] == quiet.stdout.splitlines()
    assert all(": error: " in line or ": warning: " in line for line in quiet.stdout.splitlines())


def test_validate_verbose_names_every_file_checked_on_stderr(cfg):
    plain = run("validate", "--config", str(cfg))
    verbose = run("-v", "validate", "--config", str(cfg))
    assert verbose.stdout == plain.stdout  # the report itself is the same
    checked = verbose.stderr.splitlines()
    assert len(checked) == 4 and all(line.startswith("checked ") for line in checked)
    assert f"checked {cfg / 'clusters.yaml'}" in checked


def test_render_quiet_failure_prints_only_problems(broken, tmp_path):
    result = run("-q", "render", "--config", str(broken), "--output", str(tmp_path / "out"))
    assert result.exit_code == 1
    assert result.stdout.strip() and all(": error: " in line or ": warning: " in line for line in result.stdout.splitlines())
    assert result.stderr == ""  # no summary, no "nothing was written"
    loud = run("render", "--config", str(broken), "--output", str(tmp_path / "out"))
    assert "nothing was written" in loud.stderr and loud.stdout.splitlines()[-1].startswith("1 error")


def test_render_quiet_success_is_silent_and_verbose_lists_every_file(cfg, tmp_path):
    out = tmp_path / "out"
    verbose = run("-v", "render", "--config", str(cfg), "--output", str(out))
    assert verbose.exit_code == 0
    added = [line for line in verbose.stdout.splitlines() if line.startswith("A ")]
    assert len(added) == 138
    quiet = run("-q", "render", "--config", str(cfg), "--output", str(out))
    assert quiet.exit_code == 0 and quiet.output == ""
    # a render that rewrites files is just as quiet: what it wrote is no problem
    victim = next(p for p in sorted(out.rglob("*.yaml")) if "kustomization" not in p.name and p.parent != out)
    victim.write_text(victim.read_text() + "# edited by hand\n")
    (out / "notes.txt").write_text("mine\n")
    quiet = run("-q", "render", "--config", str(cfg), "--output", str(out))
    assert quiet.exit_code == 0 and quiet.output == ""
    assert "edited by hand" not in victim.read_text()


def test_render_check_quiet_still_lists_drift(cfg, tmp_path):
    out = tmp_path / "out"
    assert run("render", "--config", str(cfg), "--output", str(out)).exit_code == 0
    victim = next(p for p in sorted(out.rglob("*.yaml")) if "kustomization" not in p.name and p.parent != out)
    victim.write_text(victim.read_text() + "# edited by hand\n")
    result = run("-q", "render", "--check", "--config", str(cfg), "--output", str(out))
    assert result.exit_code == 1
    assert result.stdout == f"C {victim.relative_to(out)}\n"  # the problem, no summary


def test_plan_verbose_lists_each_object(cfg, tmp_path):
    plain = run("plan", "--config", str(cfg), "--output", str(tmp_path / "out"))
    verbose = run("-v", "plan", "--config", str(cfg), "--output", str(tmp_path / "out"))
    assert plain.exit_code == verbose.exit_code == 0
    extra = [line for line in verbose.stdout.splitlines() if line not in plain.stdout.splitlines()]
    assert extra and all(re.fullmatch(r"    \S+\.yaml: [A-Za-z]+ \S+", line) for line in extra), extra
    assert "    checkout/secret-regcred-acr-prod.yaml: Secret checkout/regcred-acr-prod" in extra
    assert "    checkout/serviceaccount-default.yaml: ServiceAccount checkout/default" in extra


def test_schema_write_verbose_names_the_files(tmp_path):
    silent = run("schema", "--write", str(tmp_path / "a"))
    assert silent.exit_code == 0 and silent.output == ""
    verbose = run("-v", "schema", "--write", str(tmp_path / "b"))
    assert verbose.exit_code == 0
    wrote = sorted(verbose.stderr.splitlines())
    assert wrote == sorted(f"wrote {p}" for p in (tmp_path / "b").iterdir())
    assert len(wrote) == 3


def test_verify_quiet_on_invalid_input_prints_only_the_problems(broken):
    loud = run("verify", "--config", str(broken))
    quiet = run("-q", "verify", "--config", str(broken))
    assert quiet.exit_code == loud.exit_code == 1
    assert "no registry was checked" in loud.stderr and quiet.stderr == ""
    assert loud.stdout.splitlines()[:-1] == quiet.stdout.splitlines() and quiet.stdout
