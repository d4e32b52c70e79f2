"""examples/ci: the CI stage script, the GitHub Actions workflow and the pre-commit
config, each run against a copy of examples/basic (no network: regops comes from
this venv, installs go through a stand-in python)."""

from __future__ import annotations

import hashlib
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import click
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
CI = ROOT / "examples" / "ci"
SCRIPT = CI / "regops-ci.sh"
BASIC = ROOT / "examples" / "basic"
VENV_BIN = Path(sys.executable).parent
REAL_REGOPS = VENV_BIN / "regops"
SYSTEM_PATH = "/usr/bin:/bin"

# A stand-in regops: records which regops ran and its argv (fields split by \x1f), then runs the real one.
RECORDING_REGOPS = f"""#!/bin/sh
{{ printf '%s\\037' "$0" "$@"; printf '\\n'; }} >>"$REGOPS_ARGV_LOG"
exec {shlex.quote(str(REAL_REGOPS))} "$@"
"""

# A stand-in python3: `-m venv DIR` makes DIR/bin/python (this file); `DIR/bin/python -m pip
# install ... SPEC` logs SPEC and puts the recording regops into DIR/bin.
FAKE_PYTHON = """#!/bin/bash
set -eu
if [[ "$1 $2" == "-m venv" ]]; then mkdir -p "$3/bin"; cp "$0" "$3/bin/python"; exit 0; fi
if [[ "$1 $2 $3" == "-m pip install" ]]; then
    printf '%s\\n' "${!#}" >>"$FAKE_PIP_LOG"
    [[ -z "${FAKE_PIP_FAIL:-}" ]] || { echo "ERROR: no matching distribution" >&2; exit 1; }
    cp "$RECORDING_REGOPS" "$(dirname "$0")/regops"
    exit 0
fi
echo "fake python: unexpected arguments: $*" >&2
exit 99
"""

DOCKER_HUB_STALE = {
    "prod-eu/checkout/secret-regcred-docker-hub.yaml",
    "prod-eu/flux-system/secret-regcred-docker-hub-helm.yaml",
    "prod-eu/payments/secret-regcred-docker-hub.yaml",
    "prod-eu/storefront/secret-regcred-docker-hub.yaml",
    "prod-us/flux-system/secret-regcred-docker-hub-helm.yaml",
    "prod-us/payments/secret-regcred-docker-hub.yaml",
    "prod-us/storefront/secret-regcred-docker-hub.yaml",
    "staging/argocd/secret-docker-hub-acme-charts.yaml",
    "staging/qa/secret-regcred-docker-hub.yaml",
    "staging/storefront/secret-regcred-docker-hub.yaml",
    "dev-sandbox/gitops/secret-docker-hub-acme-charts.yaml",
    "dev-sandbox/preview/secret-regcred-docker-hub.yaml",
    "dev-sandbox/sandbox/secret-regcred-docker-hub.yaml",
}


# ---------------------------------------------------------------- helpers


class Stage:
    """Runs the script in a clean environment (nothing inherited, so neither a
    developer's key nor a real GITHUB_ACTIONS leaks in) and records regops calls."""

    def __init__(self, tmp_path: Path):
        self.tmp = tmp_path
        self.bin = tmp_path / "shim-bin"
        self.bin.mkdir()
        self.shim = self.bin / "regops"
        self.shim.write_text(RECORDING_REGOPS)
        self.shim.chmod(0o755)
        self.log = tmp_path / "regops-argv.log"
        self.pip_log = tmp_path / "pip.log"
        self.fake_python = tmp_path / "fake-python"
        self.fake_python.write_text(FAKE_PYTHON)
        self.fake_python.chmod(0o755)
        (tmp_path / "home").mkdir()

    def env(self, regops_on_path: bool = True, **extra: str) -> dict[str, str]:
        path = f"{self.bin}:{VENV_BIN}:{SYSTEM_PATH}" if regops_on_path else SYSTEM_PATH
        env = {
            "PATH": path,
            "HOME": str(self.tmp / "home"),
            "TMPDIR": str(self.tmp),
            "XDG_CACHE_HOME": os.environ.get("XDG_CACHE_HOME", str(self.tmp / "cache")),
            "SOPS_DISABLE_VERSION_CHECK": "1",
            "REGOPS_ARGV_LOG": str(self.log),
            "RECORDING_REGOPS": str(self.shim),
            "FAKE_PIP_LOG": str(self.pip_log),
        }
        env.update(extra)
        return env

    def run(self, cwd: Path, argv: list[str] | None = None, keep_log: bool = False, **env) -> subprocess.CompletedProcess:
        if not keep_log:
            self.log.unlink(missing_ok=True)
        return subprocess.run(argv or ["bash", str(SCRIPT)], check=False, cwd=cwd, env=env, capture_output=True, text=True, timeout=180)

    def calls(self) -> list[tuple[str, list[str]]]:
        """(which regops ran, its argv) for every regops call of the last run."""
        if not self.log.exists():
            return []
        out = []
        for line in self.log.read_text().splitlines():
            exe, *argv = line.split("\x1f")[:-1]
            out.append((exe, argv))
        return out

    def argvs(self) -> list[list[str]]:
        return [argv for _, argv in self.calls()]


def parse_regops(argv: list[str]) -> tuple[str | None, dict]:
    """Parses a regops command line with the real click command; UsageError if invalid."""
    from compiler.cli import cli

    try:
        ctx = cli.make_context("regops", list(argv))
    except click.exceptions.Exit as exc:  # --version and --help end parsing early
        assert exc.exit_code == 0
        return None, {}
    rest = [*getattr(ctx, "_protected_args", []), *ctx.args]
    name, cmd, args = cli.resolve_command(ctx, rest)
    return name, cmd.make_context(name, args, parent=ctx).params


def assert_valid_calls(argvs: list[list[str]], cwd: Path, monkeypatch) -> list[str | None]:
    """Every recorded call parses (--config paths resolve from cwd, as they did in the run)."""
    monkeypatch.chdir(cwd)
    return [parse_regops(argv)[0] for argv in argvs]


def tree_digest(root: Path) -> str:
    h = hashlib.sha256()
    for p in sorted(root.rglob("*")):
        if p.is_file():
            h.update(str(p.relative_to(root)).encode() + b"\0" + p.read_bytes())
    return h.hexdigest()


def change_registry(cfg: Path, tmp: Path) -> None:
    """Renames docker-hub's user with the real sops (decrypt, edit, encrypt for .sops.yaml)."""
    from compiler.sopsbin import sops_binary_path

    env = dict(os.environ, SOPS_DISABLE_VERSION_CHECK="1", SOPS_AGE_KEY_FILE=str(cfg / "keys" / "config.agekey"))
    env.pop("SOPS_AGE_KEY", None)
    plain = subprocess.run([sops_binary_path(), "decrypt", "registries.yaml"], cwd=cfg, env=env, capture_output=True, text=True, check=True).stdout
    assert plain.count("username: acme-bot\n") == 1
    (tmp / "plain.yaml").write_text(plain.replace("username: acme-bot\n", "username: acme-ci-bot\n"))
    enc = subprocess.run([sops_binary_path(), "encrypt", "--filename-override", "registries.yaml", str(tmp / "plain.yaml")], cwd=cfg, env=env, capture_output=True, text=True, check=True).stdout
    (tmp / "plain.yaml").unlink()
    assert "acme-ci-bot" in enc and "ENC[AES256_GCM" in enc
    (cfg / "registries.yaml").write_text(enc)


def break_url(cfg: Path) -> int:
    """Gives quay's url a scheme (a validation error); returns its line number."""
    text = (cfg / "registries.yaml").read_text()
    lines = text.splitlines(keepends=True)
    (index,) = [i for i, line in enumerate(lines) if line.strip() == "url: quay.io"]
    lines[index] = lines[index].replace("url: quay.io", "url: https://quay.io")
    (cfg / "registries.yaml").write_text("".join(lines))
    return index + 1


def stale_paths(output: str) -> set[str]:
    """Files `regops render --check` lists in its text report (A/C/D lines)."""
    return {m.group(1) for m in re.finditer(r"^[ACD] (\S+)$", output, re.MULTILINE)}


@pytest.fixture
def stage(tmp_path):
    return Stage(tmp_path)


@pytest.fixture
def cfg(tmp_path):
    """A copy of examples/basic, rendered/ and keys/ included."""
    dest = tmp_path / "basic"
    shutil.copytree(BASIC, dest)
    return dest


def key_file_env(cfg: Path) -> dict[str, str]:
    return {"REGOPS_CONFIG": str(cfg), "SOPS_AGE_KEY_FILE": str(cfg / "keys" / "config.agekey")}


# ---------------------------------------------------------------- the script


def test_script_is_executable_bash():
    assert os.access(SCRIPT, os.X_OK)
    assert SCRIPT.read_text().startswith("#!/usr/bin/env bash\n")
    assert "set -euo pipefail" in SCRIPT.read_text()


@pytest.mark.skipif(shutil.which("shellcheck") is None, reason="shellcheck not installed")
def test_script_passes_shellcheck():
    result = subprocess.run(["shellcheck", str(SCRIPT)], check=False, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout


@pytest.mark.parametrize("key_from", ["file", "env"])
def test_committed_tree_passes_and_install_is_skipped(stage, cfg, tmp_path, monkeypatch, key_from):
    key = (cfg / "keys" / "config.agekey").read_text()
    keyenv = {"SOPS_AGE_KEY_FILE": str(cfg / "keys" / "config.agekey")} if key_from == "file" else {"SOPS_AGE_KEY": key}
    before = tree_digest(cfg)
    # A spec that cannot install: had the script tried, it would have failed.
    env = stage.env(REGOPS_CONFIG=str(cfg), REGOPS_SPEC="regops @ file:///nonexistent", REGOPS_VENV=str(tmp_path / "venv"), PYTHON=str(stage.fake_python), **keyenv)
    result = stage.run(tmp_path, **env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"regops found at {stage.shim}; install skipped" in result.stderr
    assert not (tmp_path / "venv").exists() and not stage.pip_log.exists()
    assert "rendered: up to date" in result.stdout
    assert "rendered tree is up to date" in result.stderr
    assert stage.argvs() == [
        ["--version"],
        ["validate", "--config", str(cfg), "--format", "text"],
        ["render", "--check", "--config", str(cfg), "--format", "text"],
    ]
    assert assert_valid_calls(stage.argvs(), tmp_path, monkeypatch) == [None, "validate", "render"]
    assert tree_digest(cfg) == before
    secret_line = next(line for line in key.splitlines() if line.startswith("AGE-SECRET-KEY-"))
    assert secret_line not in result.stdout + result.stderr
    assert "demo-password-not-real" not in result.stdout + result.stderr


def test_registry_change_fails_the_drift_gate_naming_the_stale_files(stage, cfg, tmp_path):
    change_registry(cfg, tmp_path)
    before = tree_digest(cfg)
    result = stage.run(tmp_path, **stage.env(**key_file_env(cfg)))
    assert result.returncode == 1, result.stdout + result.stderr
    assert stale_paths(result.stdout) == DOCKER_HUB_STALE
    assert "C prod-eu/checkout/secret-regcred-docker-hub.yaml" in result.stdout
    assert "rendered: stale: 0 added, 13 changed, 0 removed" in result.stdout
    assert "regops-ci: error: rendered tree is stale" in result.stderr
    assert tree_digest(cfg) == before  # the gate writes nothing


def test_removed_rendered_file_fails_the_drift_gate(stage, cfg, tmp_path):
    (cfg / "rendered" / "gov-west" / "kustomization.yaml").unlink()
    result = stage.run(tmp_path, **stage.env(**key_file_env(cfg)))
    assert result.returncode == 1
    assert stale_paths(result.stdout) == {"gov-west/kustomization.yaml"}
    assert "rendered tree is stale" in result.stderr
    assert not (cfg / "rendered" / "gov-west" / "kustomization.yaml").exists()


def test_invalid_config_fails_with_file_and_line_before_any_render(stage, cfg, tmp_path):
    line = break_url(cfg)
    result = stage.run(tmp_path, **stage.env(**key_file_env(cfg)))
    assert result.returncode == 1
    assert f"{cfg}/registries.yaml:{line}:12: error: url takes no scheme" in result.stdout
    assert "is invalid (problems listed above); nothing was rendered" in result.stderr
    assert [argv[0] for argv in stage.argvs()] == ["--version", "validate"]


def test_github_actions_gets_annotations(stage, cfg, tmp_path, monkeypatch):
    change_registry(cfg, tmp_path)
    result = stage.run(tmp_path, **stage.env(GITHUB_ACTIONS="true", **key_file_env(cfg)))
    assert result.returncode == 1
    assert f"::error file={cfg}/rendered/prod-eu/checkout/secret-regcred-docker-hub.yaml,title=regops render --check::" in result.stdout
    assert "::error title=regops-ci::rendered tree is stale" in result.stderr
    argvs = stage.argvs()
    assert [a[a.index("--format") + 1] for a in argvs[1:]] == ["github", "github"]
    assert_valid_calls(argvs, tmp_path, monkeypatch)
    # An explicit format wins over the GitHub default.
    result = stage.run(tmp_path, **stage.env(GITHUB_ACTIONS="true", REGOPS_FORMAT="text", **key_file_env(cfg)))
    assert "C prod-eu/checkout/secret-regcred-docker-hub.yaml" in result.stdout


def test_render_mode_renders_for_a_commit_step(stage, cfg, tmp_path):
    change_registry(cfg, tmp_path)
    stale_file = cfg / "rendered" / "prod-eu" / "checkout" / "secret-regcred-docker-hub.yaml"
    old = stale_file.read_bytes()
    result = stage.run(tmp_path, **stage.env(REGOPS_MODE="render", **key_file_env(cfg)))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "rendered: 0 added, 13 changed, 0 removed" in result.stdout
    assert "commit the changes in the output directory" in result.stderr
    assert stale_file.read_bytes() != old
    assert [argv[:2] for argv in stage.argvs()][1:] == [["validate", "--config"], ["render", "--config"]]
    after = stage.run(tmp_path, **stage.env(**key_file_env(cfg)))
    assert after.returncode == 0, after.stdout + after.stderr


def test_render_mode_on_invalid_config_changes_nothing(stage, cfg, tmp_path):
    break_url(cfg)
    before = tree_digest(cfg / "rendered")
    result = stage.run(tmp_path, **stage.env(REGOPS_MODE="render", **key_file_env(cfg)))
    assert result.returncode == 1
    assert tree_digest(cfg / "rendered") == before


def test_cluster_globs_shard_the_check(stage, cfg, tmp_path, monkeypatch):
    change_registry(cfg, tmp_path)  # stales prod-*, staging, dev-sandbox; not gov-west
    (tmp_path / "gov-decoy").touch()  # a shell glob would expand gov-* to this file
    result = stage.run(tmp_path, **stage.env(REGOPS_CLUSTERS="gov-*", **key_file_env(cfg)))
    assert result.returncode == 0, result.stdout + result.stderr
    assert stage.argvs()[-1][-2:] == ["--cluster", "gov-*"]
    result = stage.run(tmp_path, **stage.env(REGOPS_CLUSTERS=" gov-*   staging ", **key_file_env(cfg)))
    assert result.returncode == 1
    assert stale_paths(result.stdout) == {p for p in DOCKER_HUB_STALE if p.startswith("staging/")}
    assert stage.argvs()[-1][-4:] == ["--cluster", "gov-*", "--cluster", "staging"]
    monkeypatch.chdir(tmp_path)
    _, params = parse_regops(stage.argvs()[-1])
    assert params["clusters"] == ("gov-*", "staging") and params["check"] is True


def test_validate_mode_needs_no_key(stage, cfg, tmp_path):
    result = stage.run(tmp_path, **stage.env(REGOPS_MODE="validate", REGOPS_CONFIG=str(cfg)))
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == "0 errors, 0 warnings in 4 files"
    assert [argv[0] for argv in stage.argvs()] == ["--version", "validate"]
    assert "SOPS_AGE_KEY" not in result.stderr


def test_check_without_any_key_setting_says_where_sops_looks(stage, cfg, tmp_path):
    result = stage.run(tmp_path, **stage.env(REGOPS_CONFIG=str(cfg)))
    assert result.returncode == 1
    assert "neither SOPS_AGE_KEY nor SOPS_AGE_KEY_FILE is set" in result.stderr
    assert "nothing was written" in result.stderr


@pytest.mark.parametrize(
    "settings, message",
    [
        ({"SOPS_AGE_KEY": ""}, "SOPS_AGE_KEY is set but empty: is the CI secret defined"),
        ({"SOPS_AGE_KEY_FILE": "/nonexistent/config.agekey"}, "SOPS_AGE_KEY_FILE '/nonexistent/config.agekey' is not a readable file"),
        ({"REGOPS_MODE": "deploy"}, "REGOPS_MODE must be validate, check or render, not 'deploy'"),
        ({"REGOPS_FORMAT": "json"}, "REGOPS_FORMAT must be text or github, not 'json'"),
        ({"REGOPS_INSTALL": "sometimes"}, "REGOPS_INSTALL must be auto, never or always, not 'sometimes'"),
        ({"REGOPS_CONFIG": "/nonexistent/config"}, "REGOPS_CONFIG '/nonexistent/config' is not a directory"),
    ],
)
def test_bad_settings_exit_2_before_regops_runs_anything(stage, cfg, tmp_path, settings, message):
    env = stage.env(REGOPS_CONFIG=str(cfg))
    env.update(settings)
    result = stage.run(tmp_path, **env)
    assert result.returncode == 2
    assert f"regops-ci: error: {message}" in result.stderr
    assert all(argv == ["--version"] for argv in stage.argvs())


def test_bad_settings_are_annotations_on_github(stage, cfg, tmp_path):
    result = stage.run(tmp_path, **stage.env(GITHUB_ACTIONS="true", REGOPS_CONFIG=str(cfg), SOPS_AGE_KEY=""))
    assert result.returncode == 2
    assert "::error title=regops-ci::SOPS_AGE_KEY is set but empty" in result.stderr
    # A newline in a setting cannot end the annotation and start another workflow command.
    result = stage.run(tmp_path, **stage.env(GITHUB_ACTIONS="true", REGOPS_CONFIG="50%\n::warning::x\r"))
    assert result.returncode == 2
    assert result.stderr.splitlines()[-1] == "::error title=regops-ci::REGOPS_CONFIG '50%25%0A::warning::x%0D' is not a directory"


def test_broken_regops_on_path_exits_3(stage, cfg, tmp_path):
    broken = tmp_path / "broken-bin"
    broken.mkdir()
    (broken / "regops").write_text("#!/bin/sh\nexit 127\n")
    (broken / "regops").chmod(0o755)
    env = stage.env(REGOPS_CONFIG=str(cfg))
    env["PATH"] = f"{broken}:{env['PATH']}"
    result = stage.run(tmp_path, **env)
    assert result.returncode == 3
    assert f"'regops --version' failed: is the regops at {broken}/regops installed correctly?" in result.stderr


# ---------------------------------------------------------------- installing


@pytest.mark.parametrize(
    "settings, spec",
    [
        ({"REGOPS_SPEC": "regops @ git+https://example.invalid/regops@v0.1.0"}, "regops @ git+https://example.invalid/regops@v0.1.0"),
        ({"REGOPS_VERSION": "0.1.0"}, "regops==0.1.0"),
        ({"REGOPS_SPEC": "regops==0.1.0", "REGOPS_VERSION": "9.9.9"}, "regops==0.1.0"),
    ],
)
def test_installs_into_a_venv_when_regops_is_absent(stage, cfg, tmp_path, settings, spec):
    assert shutil.which("regops", path=SYSTEM_PATH) is None
    venv = tmp_path / "venv"
    env = stage.env(regops_on_path=False, PYTHON=str(stage.fake_python), REGOPS_VENV=str(venv), **key_file_env(cfg), **settings)
    result = stage.run(tmp_path, **env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"installing '{spec}' into {venv}" in result.stderr
    assert stage.pip_log.read_text() == spec + "\n"
    assert {exe for exe, _ in stage.calls()} == {f"{venv}/bin/regops"}
    assert [argv[0] for argv in stage.argvs()] == ["--version", "validate", "render"]
    # A second run in the same job reuses the venv.
    result = stage.run(tmp_path, **dict(env, REGOPS_MODE="validate"))
    assert result.returncode == 0 and {exe for exe, _ in stage.calls()} == {f"{venv}/bin/regops"}


def test_default_venv_is_under_runner_temp(stage, cfg, tmp_path):
    runner_temp = tmp_path / "runner-temp"
    runner_temp.mkdir()
    env = stage.env(regops_on_path=False, PYTHON=str(stage.fake_python), RUNNER_TEMP=str(runner_temp), REGOPS_VERSION="0.1.0", REGOPS_MODE="validate", REGOPS_CONFIG=str(cfg))
    result = stage.run(tmp_path, **env)
    assert result.returncode == 0, result.stderr
    assert (runner_temp / "regops-venv" / "bin" / "regops").exists()


def test_install_always_replaces_the_regops_on_path(stage, cfg, tmp_path):
    venv = tmp_path / "venv"
    env = stage.env(REGOPS_INSTALL="always", PYTHON=str(stage.fake_python), REGOPS_VENV=str(venv), REGOPS_VERSION="0.1.0", REGOPS_MODE="validate", REGOPS_CONFIG=str(cfg))
    result = stage.run(tmp_path, **env)
    assert result.returncode == 0, result.stderr
    assert "install skipped" not in result.stderr
    assert {exe for exe, _ in stage.calls()} == {f"{venv}/bin/regops"}


def test_failed_install_exits_4(stage, cfg, tmp_path):
    env = stage.env(regops_on_path=False, PYTHON=str(stage.fake_python), REGOPS_VENV=str(tmp_path / "venv"), REGOPS_VERSION="0.1.0", FAKE_PIP_FAIL="1", REGOPS_CONFIG=str(cfg))
    result = stage.run(tmp_path, **env)
    assert result.returncode == 4
    assert "regops-ci: error: pip could not install 'regops==0.1.0'" in result.stderr
    assert stage.calls() == []


@pytest.mark.parametrize(
    "settings, message",
    [
        ({}, "regops is not on PATH; set REGOPS_SPEC"),
        ({"REGOPS_INSTALL": "never", "REGOPS_VERSION": "0.1.0"}, "regops is not on PATH and REGOPS_INSTALL=never"),
    ],
)
def test_absent_regops_without_an_install_source_exits_2(stage, cfg, tmp_path, settings, message):
    env = stage.env(regops_on_path=False, PYTHON=str(stage.fake_python), REGOPS_VENV=str(tmp_path / "venv"), REGOPS_CONFIG=str(cfg), **settings)
    result = stage.run(tmp_path, **env)
    assert result.returncode == 2
    assert message in result.stderr
    assert not stage.pip_log.exists() and not (tmp_path / "venv").exists()


# ---------------------------------------------------------------- the GitHub Actions workflow


def load_workflow() -> dict:
    wf = yaml.safe_load((CI / "github-actions.yml").read_text())
    wf["on"] = wf.pop(True, wf.get("on"))  # YAML 1.1 reads the key `on` as true
    return wf


def expand(value: str, secrets: dict[str, str]) -> str:
    """Evaluates the only expression the workflow may use in run/env: ${{ secrets.NAME }}."""

    def one(m: re.Match) -> str:
        expr = m.group(1).strip()
        assert expr.startswith("secrets."), f"unsupported expression in a step: {expr}"
        return secrets[expr.removeprefix("secrets.")]

    return re.sub(r"\$\{\{(.*?)\}\}", one, str(value))


def run_job(stage: Stage, repo: Path, job_id: str, secrets: dict[str, str]) -> tuple[int, str]:
    """Runs a job's `run` steps as GitHub does (bash -e, workflow+job+step env); the
    checkout and setup-python steps are what the test already provides."""
    wf = load_workflow()
    job = wf["jobs"][job_id]
    env = stage.env(GITHUB_ACTIONS="true", GITHUB_WORKSPACE=str(repo))
    for scope in (wf, job):
        env.update({k: expand(v, secrets) for k, v in scope.get("env", {}).items()})
    output = ""
    stage.log.unlink(missing_ok=True)
    for step in job["steps"]:
        if "uses" in step:
            continue
        step_env = dict(env, **{k: expand(v, secrets) for k, v in step.get("env", {}).items()})
        result = stage.run(repo, ["bash", "-e", "-c", expand(step["run"], secrets)], keep_log=True, **step_env)
        output += result.stdout + result.stderr
        if result.returncode:
            return result.returncode, output
    return 0, output


def git(repo: Path, *args: str) -> str:
    env = dict(os.environ, GIT_CONFIG_NOSYSTEM="1", HOME=str(repo.parent / "home"), GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@example.invalid", GIT_COMMITTER_NAME="t", GIT_COMMITTER_EMAIL="t@example.invalid")
    return subprocess.run(["git", *args], cwd=repo, env=env, capture_output=True, text=True, check=True).stdout


@pytest.fixture
def config_repo(tmp_path, stage):
    """A config repository laid out as the examples assume, with a bare `origin`."""
    repo = tmp_path / "repo"
    shutil.copytree(BASIC, repo / "config")
    (repo / "ci").mkdir()
    shutil.copy2(SCRIPT, repo / "ci" / "regops-ci.sh")
    (repo / ".github" / "workflows").mkdir(parents=True)
    shutil.copy2(CI / "github-actions.yml", repo / ".github" / "workflows" / "regops.yml")
    shutil.copy2(CI / "pre-commit-config.yaml", repo / ".pre-commit-config.yaml")
    git(tmp_path, "init", "-q", "--bare", "-b", "main", "origin.git")
    git(repo.parent, "init", "-q", "-b", "main", "repo")
    git(repo, "add", "--all")
    git(repo, "commit", "-q", "-m", "config")
    git(repo, "remote", "add", "origin", str(tmp_path / "origin.git"))
    git(repo, "push", "-q", "-u", "origin", "main")
    return repo


def test_workflow_shape():
    wf = load_workflow()
    assert set(wf["on"]) == {"pull_request", "push"}
    assert wf["on"]["push"]["branches"] == ["main"]
    assert wf["permissions"] == {"contents": "read"}
    jobs = wf["jobs"]
    assert set(jobs) == {"validate", "render-check", "render"}
    for job_id, job in jobs.items():
        for step in job["steps"]:
            if "uses" in step:
                assert re.fullmatch(r"actions/(checkout|setup-python)@v\d+", step["uses"]), step["uses"]
        script_steps = [s for s in job["steps"] if s.get("run") == "bash ci/regops-ci.sh"]
        assert len(script_steps) == 1, job_id
    modes = {job_id: next(s["env"]["REGOPS_MODE"] for s in job["steps"] if s.get("run") == "bash ci/regops-ci.sh") for job_id, job in jobs.items()}
    assert modes == {"validate": "validate", "render-check": "check", "render": "render"}
    assert "secrets." not in yaml.safe_dump(jobs["validate"])  # validate gets no key
    assert jobs["render-check"]["needs"] == jobs["render"]["needs"] == "validate"
    assert jobs["render-check"]["if"] == "github.event_name == 'pull_request'"
    assert jobs["render"]["if"] == "github.event_name == 'push' && github.ref == 'refs/heads/main'"
    assert jobs["render"]["permissions"] == {"contents": "write"}
    assert wf["env"]["REGOPS_CONFIG"] == "config"


def test_workflow_install_spec_is_a_pip_requirement_for_regops():
    requirements = pytest.importorskip("packaging.requirements")
    assert requirements.Requirement(load_workflow()["env"]["REGOPS_SPEC"]).name == "regops"


def test_workflow_on_a_pull_request_then_on_main(stage, config_repo, tmp_path, monkeypatch):
    secrets = {"SOPS_AGE_KEY": (config_repo / "config" / "keys" / "config.agekey").read_text()}
    # The committed tree passes every job. (The first render may refresh render state
    # files when the demo's state predates the running regops; that is not drift.)
    for job in ("validate", "render-check", "render"):
        code, out = run_job(stage, config_repo, job, secrets)
        assert code == 0, f"{job}: {out}"
        assert_valid_calls(stage.argvs(), config_repo, monkeypatch)
    head = git(config_repo, "rev-parse", "origin/main")
    code, out = run_job(stage, config_repo, "render", secrets)
    assert code == 0 and "rendered tree unchanged; nothing to commit" in out
    assert git(config_repo, "rev-parse", "origin/main") == head

    # A pull request changes a registry without rendering: validate passes, the gate fails.
    change_registry(config_repo / "config", tmp_path)
    git(config_repo, "commit", "-q", "-m", "docker-hub: new user", "--", "config/registries.yaml")
    assert run_job(stage, config_repo, "validate", secrets)[0] == 0
    code, out = run_job(stage, config_repo, "render-check", secrets)
    assert code == 1
    annotated = set(re.findall(r"^::error file=config/rendered/(\S+?),title=regops render --check::", out, re.MULTILINE))
    assert annotated == DOCKER_HUB_STALE
    assert "::error title=regops-ci::rendered tree is stale" in out

    # Merged to main: the render job renders and pushes exactly the stale files.
    git(config_repo, "push", "-q", "origin", "main")
    code, out = run_job(stage, config_repo, "render", secrets)
    assert code == 0, out
    pushed = git(config_repo, "log", "-1", "--format=%an|%s", "origin/main").strip()
    assert pushed == "github-actions[bot]|regops render"
    changed = {p.removeprefix("config/rendered/") for p in git(config_repo, "diff", "--name-only", "origin/main~1", "origin/main").split()}
    states = {p for p in changed if p.endswith("/.regops-state.json")}
    assert changed - states == DOCKER_HUB_STALE
    assert states == {f"{c}/.regops-state.json" for c in ("prod-eu", "prod-us", "staging", "dev-sandbox")}
    assert git(config_repo, "rev-parse", "origin/main~2") == head
    assert git(config_repo, "status", "--porcelain") == ""
    assert run_job(stage, config_repo, "render-check", secrets)[0] == 0


def test_workflow_on_an_invalid_config_and_on_a_fork(stage, config_repo):
    line = break_url(config_repo / "config")
    code, out = run_job(stage, config_repo, "validate", {})
    assert code == 1
    assert f"::error file=config/registries.yaml,line={line},col=12,title=regops registries[1].url::url takes no scheme" in out
    git(config_repo, "checkout", "-q", "--", "config/registries.yaml")
    # Pull requests from forks get secrets as empty strings.
    code, out = run_job(stage, config_repo, "render-check", {"SOPS_AGE_KEY": ""})
    assert code == 2
    assert "::error title=regops-ci::SOPS_AGE_KEY is set but empty" in out


# ---------------------------------------------------------------- pre-commit and the README


def test_precommit_example_uses_our_hooks_and_they_pass(stage, config_repo, monkeypatch):
    ours = {h["id"]: h for h in yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())}
    example = yaml.safe_load((CI / "pre-commit-config.yaml").read_text())
    (repo,) = example["repos"]
    assert repo["repo"].startswith("https://") and re.fullmatch(r"v\d+\.\d+\.\d+", repo["rev"])
    used = [h["id"] for h in repo["hooks"]]
    assert used == ["regops-validate", "regops-render-check"]
    assert set(used) <= set(ours)
    # regops-validate only runs when a config file changed: config/ must match its filter.
    assert re.search(ours["regops-validate"]["files"], "config/registries.yaml")
    env = stage.env(SOPS_AGE_KEY_FILE=str(config_repo / "config" / "keys" / "config.agekey"))
    for hook in repo["hooks"]:
        argv = shlex.split(ours[hook["id"]]["entry"]) + hook["args"]  # pass_filenames: false
        assert ours[hook["id"]]["pass_filenames"] is False
        monkeypatch.chdir(config_repo)
        assert parse_regops(argv[1:])[1]["config_dir"] == Path("config")
        result = stage.run(config_repo, argv, **env)
        assert result.returncode == 0, result.stdout + result.stderr
        assert stage.argvs() == [argv[1:]]
    (config_repo / "config" / "rendered" / "gov-west" / "kustomization.yaml").unlink()
    render_check = shlex.split(ours["regops-render-check"]["entry"]) + repo["hooks"][1]["args"]
    result = stage.run(config_repo, render_check, **env)
    assert result.returncode == 1
    assert stale_paths(result.stdout) == {"gov-west/kustomization.yaml"}


def test_readme_commands_and_settings_exist(config_repo, monkeypatch):
    readme = (CI / "README.md").read_text()
    script_text = SCRIPT.read_text()
    documented = set(re.findall(r"^#\s+(REGOPS_\w+|PYTHON)\b", script_text, re.MULTILINE))
    assert {"REGOPS_MODE", "REGOPS_CONFIG", "REGOPS_CLUSTERS", "REGOPS_FORMAT", "REGOPS_INSTALL", "REGOPS_SPEC", "REGOPS_VERSION", "REGOPS_VENV", "PYTHON"} == documented
    for text in (readme, (CI / "github-actions.yml").read_text()):
        used = set(re.findall(r"\bREGOPS_[A-Z_]+", text))
        assert used <= documented
        for name in used:  # documented and read, not only mentioned
            assert re.search(r"\$\{?" + name + r"\b", script_text), name
    blocks = re.findall(r"^ *```\n(.*?)^ *```", readme, re.MULTILINE | re.DOTALL)
    commands = [shlex.split(line, comments=True) for block in blocks for line in block.splitlines()]
    regops_calls = []
    for words in commands:
        while words and re.fullmatch(r"[A-Z_]+=.*", words[0]):
            words = words[1:]
        if words[:1] == ["regops"]:
            regops_calls.append(words[1:])
        elif words[:1] == ["bash"]:
            assert words[1:] == ["ci/regops-ci.sh"]
    assert len(regops_calls) == 2
    monkeypatch.chdir(config_repo)
    assert [parse_regops(argv)[0] for argv in regops_calls] == ["validate", "render"]
