"""The committed JSON Schemas are what the models generate, and behave as the public contract."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from compiler import schema

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("kind", sorted(schema.KINDS.values()))
def test_committed_schema_is_generated(kind):
    committed = (ROOT / "schemas" / schema.file_name(kind)).read_text(encoding="utf-8")
    assert committed == schema.render(kind), f"schemas/{schema.file_name(kind)} is stale: run `make schemas`"


def _validator(kind):
    return jsonschema.Draft202012Validator(json.loads((ROOT / "schemas" / schema.file_name(kind)).read_text()))


ENC = "ENC[AES256_GCM,data:qg==,iv:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=,tag:AAAAAAAAAAAAAAAAAAAAAA==,type:str]"


def test_registries_schema_accepts_enc_values_and_sops_block():
    doc = {
        "apiVersion": "regops.io/v1alpha1",
        "kind": "Registries",
        "registries": [{"name": "hub", "provider": "docker", "auth": {"username": "u", "password": ENC}}],
        "sops": {"age": [{"recipient": "age1x", "enc": "..."}], "mac": ENC, "version": "3.11.0"},
    }
    assert list(_validator("Registries").iter_errors(doc)) == []


@pytest.mark.parametrize(
    "kind,doc,bad_key",
    [
        ("Registries", {"apiVersion": "regops.io/v1alpha1", "kind": "Registries", "registries": [{"name": "a", "provider": "docker", "pasword": "x"}]}, "pasword"),
        ("Clusters", {"apiVersion": "regops.io/v1alpha1", "kind": "Clusters", "clusters": [], "extra": 1}, "extra"),
        ("Settings", {"apiVersion": "regops.io/v1alpha1", "kind": "Settings", "outptu": "x"}, "outptu"),
    ],
)
def test_unknown_fields_are_rejected(kind, doc, bad_key):
    errors = list(_validator(kind).iter_errors(doc))
    assert [e.validator for e in errors] == ["additionalProperties"]
    assert bad_key in errors[0].message


@pytest.mark.parametrize("kind", sorted(schema.KINDS.values()))
def test_every_property_has_a_description(kind):
    """yaml-language-server shows descriptions on hover; none may be missing."""
    doc = schema.load(kind)
    missing = []

    def walk(node, where):
        for name, prop in (node.get("properties") or {}).items():
            if name not in ("apiVersion",) and "description" not in prop:
                missing.append(f"{where}.{name}")

    walk(doc, kind)
    for name, node in doc.get("$defs", {}).items():
        walk(node, name)
    assert missing == []


def test_defaults_are_in_the_schema():
    reg = schema.load("Registries")["$defs"]["Registry"]["properties"]
    assert reg["type"]["default"] == "private"
    assert reg["pushContainerImages"]["default"] is True
    assert reg["pushHelmPackages"]["default"] is False
    cl = schema.load("Clusters")["$defs"]["Cluster"]["properties"]
    assert cl["serviceAccounts"]["default"] == ["default"]
    st = schema.load("Settings")["properties"]
    assert (st["output"]["default"], st["secretNamePrefix"]["default"]) == ("rendered", "regcred-")
    assert (st["chartRefreshInterval"]["default"], st["ecrRefreshInterval"]["default"]) == ("10m", "1h")


def test_schema_command_prints_the_committed_schema():
    from click.testing import CliRunner

    from compiler.cli import cli

    result = CliRunner().invoke(cli, ["schema", "registries"])
    assert result.exit_code == 0
    assert result.output == (ROOT / "schemas" / "registries.schema.json").read_text()
