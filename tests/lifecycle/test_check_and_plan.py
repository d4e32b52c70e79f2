"""render --check, regops plan and the regops-render-check hook (issue 4, items 4-6)."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

import yaml
from click.testing import CliRunner
from lchelpers import ROOT

from compiler.cli import cli


def test_check_fails_on_a_stale_tree_and_passes_after_render(config):
    assert config.render()[0] == 0
    config.edit_yaml("regops.yaml", lambda d: d.update(chartRefreshInterval="15m"))
    before = config.snapshot()
    code, output = config.render("--check")
    assert code == 1
    assert "C prod-eu/flux-system/helmrepository-docker-hub-acme-charts.yaml" in output
    assert "stale:" in output
    assert config.snapshot() == before  # --check writes nothing
    assert config.render()[0] == 0
    code, output = config.render("--check")
    assert code == 0 and output.strip().endswith("up to date")


def test_check_lists_added_and_removed(config):
    assert config.render()[0] == 0
    config.edit_yaml("clusters.yaml", lambda d: next(c for c in d["clusters"] if c["name"] == "gov-west")["namespaces"].append("gov-batch"))
    code, output = config.render("--check", "--format", "json")
    assert code == 1
    doc = json.loads(output)
    assert "gov-west/gov-batch/serviceaccount-default.yaml" in doc["added"]
    assert doc["removed"] == [] and doc["upToDate"] is False


def test_check_in_github_format_annotates(config):
    assert config.render()[0] == 0
    config.edit_yaml("regops.yaml", lambda d: d.update(chartRefreshInterval="15m"))
    code, output = config.render("--check", "--format", "github")
    assert code == 1 and output.startswith("::error file=")


def test_plan_shows_reaches_and_changes_without_secrets(config):
    env = {"SOPS_AGE_KEY_FILE": str(config.key)}
    result = CliRunner(env=env).invoke(cli, ["plan", "--config", str(config.path)])
    assert result.exit_code == 0, result.output
    out = result.output
    assert "cluster prod-eu (flux):" in out
    assert "  ecr-govcloud: node-iam-role -> gov-apps" in out
    assert "artifactory-mirror: existing-pull-secret artifactory-pull ->" in out
    assert "ecr-prod: external-secrets regcred-ecr-prod -> checkout/app-runner, checkout/default" in out
    assert "docker-hub: chart-repository docker-hub-acme-charts -> flux-system" in out
    assert "+ prod-eu/payments/secret-regcred-docker-hub.yaml" in out
    for needle in ("demo-password-not-real", "demo-token-not-real", "wJalrXUtnFEMI", "PRIVATE KEY"):
        assert needle not in out
    js = CliRunner(env=env).invoke(cli, ["plan", "--config", str(config.path), "--format", "json"])
    doc = json.loads(js.output)
    prod = next(c for c in doc["clusters"] if c["cluster"] == "prod-eu")
    assert {"registry": "docker-hub", "namespace": "payments", "serviceAccount": "default", "mechanism": "pull-secret", "via": "regcred-docker-hub"} in prod["reaches"]
    assert "demo-password-not-real" not in js.output
    assert not config.out.exists()  # plan writes nothing


def test_render_check_hook_as_written(config):
    hooks = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())
    hook = next(h for h in hooks if h["id"] == "regops-render-check")
    assert hook["pass_filenames"] is False
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}", SOPS_AGE_KEY_FILE=str(config.key))
    argv = shlex.split(hook["entry"]) + hook.get("args", [])
    assert config.render()[0] == 0
    ok = subprocess.run(argv, cwd=config.path, env=env, capture_output=True, text=True, timeout=120)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    config.edit_yaml("regops.yaml", lambda d: d.update(chartRefreshInterval="15m"))
    stale = subprocess.run(argv, cwd=config.path, env=env, capture_output=True, text=True, timeout=120)
    assert stale.returncode == 1 and "stale:" in stale.stdout
