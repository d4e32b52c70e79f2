"""`regops init`: what it writes, what it refuses, and the .sops.yaml rule against the schema."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from inithelpers import ROOT, age_key, regops

from compiler.schema import load as load_schema
from compiler.schema_check import SECRET_FIELD_REGEX

WRITTEN = {
    "clusters.yaml",
    "registries.yaml",
    "regops.yaml",
    ".sops.yaml",
    "schemas/clusters.schema.json",
    "schemas/registries.schema.json",
    "schemas/settings.schema.json",
}


def tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture
def key(tmp_path):
    return age_key(tmp_path)


def test_writes_the_scaffold_and_next_steps(tmp_path, key):
    cfg = tmp_path / "new" / "cfg"
    result = regops("init", str(cfg), "--age-recipient", key[1])
    assert result.exit_code == 0, result.output
    assert set(tree(cfg)) == WRITTEN
    for name in ("clusters.yaml", "registries.yaml", "regops.yaml", ".sops.yaml"):
        assert isinstance(yaml.safe_load((cfg / name).read_text()), dict), name
    assert f"age: {key[1]}\n" in (cfg / ".sops.yaml").read_text()
    assert yaml.safe_load((cfg / "clusters.yaml").read_text())["clusters"][0]["recipients"]["age"] == [key[1]]
    out = result.stdout
    for step in (f"cd {cfg} && sops encrypt -i registries.yaml", f"regops validate --config {cfg}", f"regops render --config {cfg}"):
        assert step in out
    assert "age-keygen" not in out  # a recipient was given: no key to create
    assert result.stderr == ""


def test_default_directory_is_the_current_one(tmp_path, key, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = regops("init", "--age-recipient", key[1])
    assert result.exit_code == 0, result.output
    assert WRITTEN <= set(tree(tmp_path))
    assert "sops encrypt -i registries.yaml" in result.stdout and "cd " not in result.stdout
    assert "regops validate\n" in result.stdout


def test_quiet_prints_nothing(tmp_path, key):
    result = regops("-q", "init", str(tmp_path / "cfg"), "--age-recipient", key[1])
    assert result.exit_code == 0
    assert result.output == ""
    assert set(tree(tmp_path / "cfg")) == WRITTEN


def test_refuses_to_overwrite_and_writes_nothing(tmp_path, key):
    cfg = tmp_path / "cfg"
    cfg.mkdir()
    (cfg / "registries.yaml").write_text("mine\n")
    os.symlink("nowhere", cfg / ".sops.yaml")  # a dangling symlink counts as existing too
    before = tree(cfg)
    result = regops("init", str(cfg), "--age-recipient", key[1])
    assert result.exit_code == 1
    assert "registries.yaml" in result.stderr and ".sops.yaml" in result.stderr and "--force" in result.stderr
    assert "clusters.yaml" not in result.stderr  # only the files that exist are named
    assert result.stdout == ""
    assert tree(cfg) == before
    assert sorted(os.listdir(cfg)) == [".sops.yaml", "registries.yaml"]


def test_second_init_refused_then_force_overwrites(tmp_path, key):
    cfg = tmp_path / "cfg"
    assert regops("init", str(cfg), "--age-recipient", key[1]).exit_code == 0
    scaffold = tree(cfg)
    (cfg / "clusters.yaml").write_text("edited\n")
    (cfg / "notes.txt").write_text("not ours\n")
    edited = tree(cfg)
    refused = regops("init", str(cfg), "--age-recipient", key[1])
    assert refused.exit_code == 1
    for name in WRITTEN:
        assert name in refused.stderr
    assert tree(cfg) == edited
    forced = regops("init", str(cfg), "--age-recipient", key[1], "--force")
    assert forced.exit_code == 0, forced.output
    after = tree(cfg)
    assert after.pop("notes.txt") == b"not ours\n"  # files init does not write are left alone
    assert after == scaffold
    assert not [p for p in os.listdir(cfg) if p.startswith(".regops-init-")]


@pytest.mark.parametrize(
    ("value", "why"),
    [
        ("age1qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqq", "bad checksum"),
        ("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIK", "does not start with age1"),
        ("", "does not start with age1"),
    ],
)
def test_invalid_recipient_is_a_usage_error(tmp_path, value, why):
    cfg = tmp_path / "cfg"
    result = regops("init", str(cfg), "--age-recipient", value)
    assert result.exit_code == 2
    assert "--age-recipient" in result.output and why in result.output
    assert not cfg.exists()


def test_secret_key_as_recipient_is_refused_without_echoing_it(tmp_path):
    import pyrage

    secret = str(pyrage.x25519.Identity.generate())
    cfg = tmp_path / "cfg"
    result = regops("init", str(cfg), "--age-recipient", secret)
    assert result.exit_code == 2
    assert "SECRET key" in result.output
    assert secret[15:].lower() not in result.output.lower()  # not even part of the key material
    assert not cfg.exists()


def test_several_recipients(tmp_path):
    keys = [age_key(tmp_path, f"k{i}")[1] for i in range(2)]
    cfg = tmp_path / "cfg"
    result = regops("init", str(cfg), "--age-recipient", keys[0], "--age-recipient", keys[1])
    assert result.exit_code == 0, result.output
    rule = yaml.safe_load((cfg / ".sops.yaml").read_text())["creation_rules"][0]
    assert rule["age"] == f"{keys[0]},{keys[1]}"


def test_directory_that_is_a_file(tmp_path, key):
    target = tmp_path / "cfg"
    target.write_text("a file\n")
    result = regops("init", str(target), "--age-recipient", key[1])
    assert result.exit_code == 2
    assert target.read_text() == "a file\n"


def test_schemas_directory_symlink_is_refused(tmp_path, key):
    cfg = tmp_path / "cfg"
    cfg.mkdir()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    os.symlink(elsewhere, cfg / "schemas")
    result = regops("init", str(cfg), "--age-recipient", key[1], "--force")
    assert result.exit_code == 1
    assert "schemas" in result.stderr and "not a directory" in result.stderr
    assert os.listdir(elsewhere) == [] and sorted(os.listdir(cfg)) == ["schemas"]


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only directories")
def test_unwritable_directory_is_a_clear_error(tmp_path, key):
    cfg = tmp_path / "cfg"
    cfg.mkdir()
    cfg.chmod(0o555)
    try:
        result = regops("init", str(cfg), "--age-recipient", key[1])
    finally:
        cfg.chmod(0o755)
    assert result.exit_code == 1
    assert "cannot write" in result.stderr
    assert os.listdir(cfg) == []


def test_failed_write_leaves_nothing_behind(tmp_path, key, monkeypatch):
    """A write that fails half-way (disk full, ...) removes what it staged and the directories it made."""
    from compiler import scaffold

    real = os.replace
    calls = []

    def failing_replace(src, dst):
        calls.append(dst)
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(scaffold.os, "replace", failing_replace)
    cfg = tmp_path / "new" / "cfg"
    result = regops("init", str(cfg), "--age-recipient", key[1])
    monkeypatch.setattr(scaffold.os, "replace", real)
    assert calls, "the write was attempted"
    assert result.exit_code == 1
    assert "No space left on device" in result.stderr
    assert not (tmp_path / "new").exists()


def test_sops_rule_encrypts_exactly_the_schemas_secret_fields(tmp_path, key):
    cfg = tmp_path / "cfg"
    assert regops("init", str(cfg), "--age-recipient", key[1]).exit_code == 0
    (rule,) = yaml.safe_load((cfg / ".sops.yaml").read_text())["creation_rules"]
    regex = re.compile(rule["encrypted_regex"])
    schema = load_schema("Registries")
    auth = schema["$defs"]["Auth"]["properties"]
    marked_secret = {name for name, prop in auth.items() if "Secret: must be a SOPS-encrypted" in prop.get("description", "")}
    assert marked_secret == {"password", "token", "serviceAccountKey", "accessKeyId", "secretAccessKey"}
    assert {name for name in auth if regex.search(name)} == marked_secret
    # sops matches keys at every depth: no other field anywhere in the schema may match.
    others = set(_property_names(schema)) | {n for d, node in schema["$defs"].items() if d != "Auth" for n in _property_names(node)}
    assert {"name", "url", "clusters", "imagePullSecret", "username", "method"} <= others | set(auth)
    assert not {name for name in others if regex.search(name)}
    # One rule for the whole project: validation's hint and the demo config say the same.
    assert rule["encrypted_regex"] == SECRET_FIELD_REGEX
    demo = yaml.safe_load((ROOT / "examples" / "basic" / ".sops.yaml").read_text())["creation_rules"][0]
    assert rule["encrypted_regex"] == demo["encrypted_regex"]


def _property_names(node):
    """Names of every property declared in `node`, nested objects included ($defs and $ref not followed)."""
    if isinstance(node, dict):
        for name, prop in (node.get("properties") or {}).items():
            yield name
            yield from _property_names(prop)
        for k, v in node.items():
            if k not in ("properties", "$defs"):
                yield from _property_names(v)
    elif isinstance(node, list):
        for v in node:
            yield from _property_names(v)


@pytest.mark.parametrize("path", ["registries.yaml", "registries/team-a.yaml", "sub/dir/registries.yaml", "registries/x.yaml"])
def test_sops_rule_matches_registries_files(tmp_path, key, path):
    cfg = tmp_path / "cfg"
    assert regops("init", str(cfg), "--age-recipient", key[1]).exit_code == 0
    (rule,) = yaml.safe_load((cfg / ".sops.yaml").read_text())["creation_rules"]
    assert re.search(rule["path_regex"], path)


@pytest.mark.parametrize("path", ["clusters.yaml", "regops.yaml", "myregistries.yaml", "registries/nested/a.yaml", "registries.yml.bak"])
def test_sops_rule_leaves_other_files_alone(tmp_path, key, path):
    cfg = tmp_path / "cfg"
    assert regops("init", str(cfg), "--age-recipient", key[1]).exit_code == 0
    (rule,) = yaml.safe_load((cfg / ".sops.yaml").read_text())["creation_rules"]
    assert not re.search(rule["path_regex"], path)


def test_modelines_point_at_the_written_schemas(tmp_path, key):
    cfg = tmp_path / "cfg"
    assert regops("init", str(cfg), "--age-recipient", key[1]).exit_code == 0
    for name, kind in (("clusters.yaml", "Clusters"), ("registries.yaml", "Registries"), ("regops.yaml", "Settings")):
        first = (cfg / name).read_text().splitlines()[0]
        m = re.fullmatch(r"# yaml-language-server: \$schema=(\S+)", first)
        assert m, first
        # yaml-language-server resolves a relative path against the file's own directory.
        target = (cfg / name).parent / m.group(1)
        assert target.read_bytes() == (ROOT / "schemas" / f"{kind.lower()}.schema.json").read_bytes()


def test_init_does_not_import_the_heavy_modules(tmp_path, key):
    code = (
        "import sys; from compiler.cli import main; sys.argv = ['regops', '-q', 'init', sys.argv[1], '--age-recipient', sys.argv[2]]\n"
        "try:\n    main()\nexcept SystemExit as e:\n    assert not e.code, e.code\n"
        "heavy = [m for m in ('pydantic', 'jinja2', 'httpx', 'jsonschema', 'kubernetes_validate') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    proc = subprocess.run([sys.executable, "-c", code, str(tmp_path / "cfg"), key[1]], capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "cfg" / "registries.yaml").is_file()


def test_help_shows_an_example():
    result = regops("init", "--help")
    assert result.exit_code == 0
    assert "regops init config --age-recipient age1..." in result.output
