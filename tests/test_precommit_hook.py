"""The hook in .pre-commit-hooks.yaml works as written, run the way pre-commit runs it."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent


def _hook(hook_id: str) -> dict:
    hooks = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())
    return next(h for h in hooks if h["id"] == hook_id)


def _run_entry(hook: dict, cwd: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    argv = shlex.split(hook["entry"]) + list(hook.get("args", []))
    return subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=60)


def test_validate_hook_shape():
    hook = _hook("regops-validate")
    assert hook["pass_filenames"] is False
    assert hook["language"] == "python"


def test_validate_hook_passes_a_good_config(tmp_path):
    shutil.copytree(ROOT / "examples" / "basic", tmp_path / "cfg")
    result = _run_entry(_hook("regops-validate"), tmp_path / "cfg")
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip().endswith("0 errors, 0 warnings in 4 files")


def test_validate_hook_fails_a_bad_config(tmp_path):
    cfg = tmp_path / "cfg"
    shutil.copytree(ROOT / "examples" / "basic", cfg)
    text = (cfg / "registries.yaml").read_text()
    assert "url: quay.io" in text
    (cfg / "registries.yaml").write_text(text.replace("url: quay.io", "url: https://quay.io", 1))
    result = _run_entry(_hook("regops-validate"), cfg)
    assert result.returncode == 1
    assert "registries.yaml:" in result.stdout
    assert "write 'quay.io', not 'https://quay.io'" in result.stdout
    assert result.stdout.strip().endswith("1 error, 0 warnings in 4 files")


def test_verify_hook_is_manual_and_runs_as_written(tmp_path):
    """regops-verify needs keys and network: only on demand (CI), never on a developer's commit."""
    hook = _hook("regops-verify")
    assert hook["pass_filenames"] is False and hook["language"] == "python"
    assert hook["stages"] == ["manual"]
    cfg = tmp_path / "cfg"
    shutil.copytree(ROOT / "examples" / "basic", cfg, ignore=shutil.ignore_patterns("rendered"))
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}", SOPS_DISABLE_VERSION_CHECK="1")
    argv = shlex.split(hook["entry"]) + ["--registry", "ecr-*"]  # ECR is skipped: no network needed
    env.pop("SOPS_AGE_KEY", None)
    env["SOPS_AGE_KEY_FILE"] = str(cfg / "keys" / "config.agekey")
    ok = subprocess.run(argv, cwd=cfg, env=env, capture_output=True, text=True, timeout=60)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert ok.stdout.strip().endswith("2 registries checked: 2 skipped")
    env["SOPS_AGE_KEY_FILE"] = str(tmp_path / "no-such-key")
    failed = subprocess.run(argv, cwd=cfg, env=env, capture_output=True, text=True, timeout=60)
    assert failed.returncode == 1 and "cannot decrypt" in failed.stdout
