"""Missing key, wrong key, MAC mismatch, truncated file: a clear error naming the file; nothing written."""

from __future__ import annotations

import shutil
from pathlib import Path

import pyrage
import pytest
from click.testing import CliRunner

from compiler.cli import cli

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "basic"


@pytest.fixture
def config(tmp_path) -> Path:
    dst = tmp_path / "cfg"
    shutil.copytree(EXAMPLE, dst, ignore=shutil.ignore_patterns("rendered"))
    return dst


def render(config: Path, out: Path, env: dict) -> tuple[int, str]:
    base = {"SOPS_AGE_KEY_FILE": None, "SOPS_AGE_KEY": None, "SOPS_AGE_KEY_CMD": None, "HOME": str(out.parent)}
    result = CliRunner(env={**base, **env}).invoke(cli, ["render", "--config", str(config), "--output", str(out)])
    return result.exit_code, result.output


def test_no_key(config, tmp_path):
    code, output = render(config, tmp_path / "out", {})
    assert code == 1
    assert "registries.yaml: error: cannot decrypt: no key can decrypt it" in output
    assert not (tmp_path / "out").exists()


def test_wrong_key(config, tmp_path):
    wrong = tmp_path / "wrong.agekey"
    wrong.write_text(str(pyrage.x25519.Identity.generate()) + "\n")
    code, output = render(config, tmp_path / "out", {"SOPS_AGE_KEY_FILE": str(wrong)})
    assert code == 1 and "no key can decrypt it" in output
    assert not (tmp_path / "out").exists()


def test_mac_mismatch(config, tmp_path):
    f = config / "registries.yaml"
    f.write_text(f.read_text().replace("pushHelmPackages: false", "pushHelmPackages: true", 1))
    code, output = render(config, tmp_path / "out", {"SOPS_AGE_KEY_FILE": str(config / "keys/config.agekey")})
    assert code == 1 and "registries.yaml: error: cannot decrypt: MAC mismatch" in output
    assert not (tmp_path / "out").exists()


def test_truncated_file(config, tmp_path):
    f = config / "registries" / "cloud.yaml"
    text = f.read_text()
    f.write_text(text[: text.index("\nsops:") + 30])
    code, output = render(config, tmp_path / "out", {"SOPS_AGE_KEY_FILE": str(config / "keys/config.agekey")})
    assert code == 1
    assert "cloud.yaml" in output and ("cannot decrypt" in output or "error" in output)
    assert not (tmp_path / "out").exists()


def test_failed_render_leaves_previous_tree(config, tmp_path):
    out = tmp_path / "out"
    key = {"SOPS_AGE_KEY_FILE": str(config / "keys/config.agekey")}
    assert render(config, out, key)[0] == 0
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    f = config / "registries.yaml"
    f.write_text(f.read_text().replace("pushHelmPackages: false", "pushHelmPackages: true", 1))
    assert render(config, out, key)[0] == 1
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before


def test_cluster_glob_leaves_other_clusters_untouched(config, tmp_path):
    out = tmp_path / "out"
    key = {"SOPS_AGE_KEY_FILE": str(config / "keys/config.agekey")}
    assert render(config, out, key)[0] == 0
    (out / "NOTES.md").write_text("not ours\n")
    before = {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in out.rglob("*") if p.is_file() and not p.relative_to(out).parts[0].startswith("prod-")}
    result = CliRunner(env=key).invoke(cli, ["render", "--config", str(config), "--output", str(out), "--cluster", "prod-*"])
    assert result.exit_code == 0, result.output
    assert "prod-eu:" in result.output and "staging:" not in result.output
    after = {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in out.rglob("*") if p.is_file() and not p.relative_to(out).parts[0].startswith("prod-")}
    assert {p: b for p, (b, _) in after.items() if p.name != "catalog.json"} == {p: b for p, (b, _) in before.items() if p.name != "catalog.json"}
    assert (out / "NOTES.md").read_text() == "not ours\n"


def test_invalid_rendered_object_blocks_the_write(config, tmp_path, monkeypatch):
    import compiler.manifests as manifests

    real = manifests.check

    def strict(obj, version):
        found = real(obj, version)
        return found + (["spec.url: broken on purpose"] if obj.get("kind") == "HelmRepository" else [])

    monkeypatch.setattr(manifests, "check", strict)
    code, output = render(config, tmp_path / "out", {"SOPS_AGE_KEY_FILE": str(config / "keys/config.agekey")})
    assert code == 1
    assert "helmrepository-docker-hub-acme-charts.yaml: error: rendered object is invalid: spec.url: broken on purpose" in output
    assert not (tmp_path / "out").exists()
