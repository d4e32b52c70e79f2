"""`regops init` → edit → `sops encrypt -i` → `regops validate` → `regops render`, with the real sops binary."""

from __future__ import annotations

import json
import re

import pytest
import yaml
from inithelpers import (
    age_key,
    commented_blocks,
    regops,
    sops_decrypt,
    sops_encrypt,
    uncomment,
    uncomment_all,
    uncomment_cluster,
)

from compiler.schema import load as load_schema

ENC = re.compile(r"ENC\[AES256_GCM,data:[^\]]*\]")
PROVIDERS = tuple(load_schema("Registries")["$defs"]["Registry"]["properties"]["provider"]["enum"])


@pytest.fixture
def key(tmp_path):
    return age_key(tmp_path)


@pytest.fixture
def config(tmp_path, key):
    cfg = tmp_path / "cfg"
    result = regops("init", str(cfg), "--age-recipient", key[1])
    assert result.exit_code == 0, result.output
    return cfg


def strip_sops_block(text: str) -> str:
    head, sep, _ = text.partition("\nsops:\n")
    assert sep, "sops wrote no sops: block"
    return head + "\n"


def validate(cfg):
    return regops("validate", "--config", str(cfg))


def render(cfg, key):
    return regops("render", "--config", str(cfg), "--jobs", "1", key=key[0])


def test_quick_start_as_written(config, key):
    """The five steps: init with a recipient, (edit), encrypt, validate, render."""
    # Before encryption the placeholder password is a plaintext secret: validate refuses.
    before = validate(config)
    assert before.exit_code == 1
    assert "registries.yaml:" in before.output and "auth.password is a secret and must be SOPS-encrypted" in before.output

    enc = sops_encrypt(config)
    assert enc.returncode == 0, enc.stderr
    after = validate(config)
    assert after.exit_code == 0, after.output
    assert "0 errors, 0 warnings in 3 files" in after.output

    rendered = render(config, key)
    assert rendered.exit_code == 0, rendered.output
    out = config / "rendered"
    files = sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file() and not p.name.startswith("."))
    assert files == ["catalog.json", "prod/apps/secret-regcred-docker-hub.yaml", "prod/apps/serviceaccount-default.yaml", "prod/kustomization.yaml"]
    kustomization = yaml.safe_load((out / "prod" / "kustomization.yaml").read_text())
    assert kustomization["resources"] == ["apps/secret-regcred-docker-hub.yaml", "apps/serviceaccount-default.yaml"]
    catalog = json.loads((out / "catalog.json").read_text())
    assert [r["name"] for r in catalog["registries"]] == ["docker-hub"]
    # The cluster's recipient is the init key, so that key opens the rendered Secret.
    secret = yaml.safe_load(sops_decrypt(out / "prod" / "apps" / "secret-regcred-docker-hub.yaml", key[0]))
    assert secret["type"] == "kubernetes.io/dockerconfigjson"
    sa = yaml.safe_load((out / "prod" / "apps" / "serviceaccount-default.yaml").read_text())
    assert sa["imagePullSecrets"] == [{"name": "regcred-docker-hub"}]


def test_encrypting_changes_only_the_secret_values(config):
    """The scaffold is laid out as sops writes YAML: comments and layout survive encryption."""
    path = config / "registries.yaml"
    path.write_text(uncomment_all(path.read_text()))
    original = path.read_text()
    assert sops_encrypt(config).returncode == 0
    encrypted = strip_sops_block(path.read_text())
    # Every secret value became one ENC[...] value; everything else is byte for byte the same.
    secret_values = re.compile(r"^(\s+(?:password|token|accessKeyId|secretAccessKey): )REPLACE-ME$", re.MULTILINE)
    key_blocks = re.compile(r"^(\s+serviceAccountKey: )\|\n(?:\s+[{ ].*\n){2}", re.MULTILINE)
    expected = key_blocks.sub(lambda m: m.group(1) + "ENC\n", secret_values.sub(r"\1ENC", original))
    assert ENC.sub("ENC", encrypted) == expected
    assert "# Docker Hub, with an access token" in encrypted and encrypted.count("\n    # - name: ") == 0


def test_example_blocks_cover_every_provider_once(config):
    text = (config / "registries.yaml").read_text()
    data = yaml.safe_load(uncomment_all(text))
    providers = [r["provider"] for r in data["registries"]]
    assert sorted(providers) == sorted(PROVIDERS)
    live = yaml.safe_load(text)["registries"]
    assert [r["name"] for r in live] == ["docker-hub"], "exactly one example is live"
    assert len(commented_blocks(text)) == len(PROVIDERS) - 1


@pytest.mark.parametrize("name", ["ecr", "acr", "gar", "gcr", "quay", "harbor"])
def test_each_commented_example_validates_and_renders_once_encrypted(config, key, name):
    path = config / "registries.yaml"
    path.write_text(uncomment(path.read_text(), name))
    provider = next(r["provider"] for r in yaml.safe_load(path.read_text())["registries"] if r["name"] == name)
    if provider != "ecr":  # iam-role has no secret: nothing to find in plaintext
        plain = validate(config)
        assert plain.exit_code == 1
        assert plain.output.count("must be SOPS-encrypted, but it is plaintext") == 2
    assert sops_encrypt(config).returncode == 0
    result = validate(config)
    assert result.exit_code == 0, result.output
    rendered = render(config, key)
    assert rendered.exit_code == 0, rendered.output
    apps = config / "rendered" / "prod" / "apps"
    pull_secret = apps / f"secret-regcred-{name}.yaml"
    # ECR with the node role renders no pull Secret (SPEC 3.2); the others do.
    assert pull_secret.exists() == (provider != "ecr")
    if provider == "other":
        assert (config / "rendered" / "prod" / "flux-system" / "helmrepository-harbor-myproject-charts.yaml").exists()


def test_ecr_user_auth_alternative_needs_external_secrets(config, key):
    path = config / "registries.yaml"
    text = uncomment(path.read_text(), "ecr")
    text = text.replace("        method: iam-role\n", "")
    for field in ("method: user-auth", "accessKeyId: REPLACE-ME", "secretAccessKey: REPLACE-ME"):
        assert f"        # {field}\n" in text
        text = text.replace(f"        # {field}\n", f"        {field}\n")
    path.write_text(text)
    assert sops_encrypt(config).returncode == 0
    refused = validate(config)
    assert refused.exit_code == 1 and "externalSecrets" in refused.output
    clusters = config / "clusters.yaml"
    clusters.write_text(clusters.read_text().replace("    externalSecrets: false ", "    externalSecrets: true  ", 1))
    result = validate(config)
    assert result.exit_code == 0, result.output


def test_everything_uncommented_validates_and_renders(config, key):
    """Every registry example, the Argo CD cluster and every setting at once."""
    reg = config / "registries.yaml"
    reg.write_text(uncomment_all(reg.read_text()))
    clusters = config / "clusters.yaml"
    clusters.write_text(uncomment_cluster(clusters.read_text()))
    settings = config / "regops.yaml"
    # Every setting of the schema is there, commented out at its default.
    fields = {k: v for k, v in load_schema("Settings")["properties"].items() if "default" in v}
    text = settings.read_text()
    for name in fields:
        text = re.sub(rf"^# ({name}: )", r"\1", text, flags=re.MULTILINE)
    settings.write_text(text)
    assert {k: v for k, v in yaml.safe_load(text).items() if k in fields} == {k: v["default"] for k, v in fields.items()}
    assert [c["name"] for c in yaml.safe_load(clusters.read_text())["clusters"]] == ["prod", "staging"]
    assert sops_encrypt(config).returncode == 0
    result = validate(config)
    assert result.exit_code == 0, result.output
    rendered = render(config, key)
    assert rendered.exit_code == 0, rendered.output
    out = config / "rendered"
    assert (out / "staging" / "argocd").is_dir() and (out / "prod" / "flux-system").is_dir()


def test_without_recipient_the_placeholders_must_be_replaced(tmp_path, key):
    cfg = tmp_path / "cfg"
    result = regops("init", str(cfg))
    assert result.exit_code == 0, result.output
    assert "age-keygen" in result.output and "--age-recipient" in result.output
    # sops cannot encrypt for the placeholder, and validate names the cluster's placeholder.
    refused = sops_encrypt(cfg)
    assert refused.returncode != 0 and "ENC[" not in (cfg / "registries.yaml").read_text()
    invalid = validate(cfg)
    assert invalid.exit_code == 1
    assert re.search(r"clusters\.yaml:\d+:\d+: error: age recipient .* does not start with age1", invalid.output)
    # Put the public key where the placeholders are, as the next steps say: then it all works.
    for name in (".sops.yaml", "clusters.yaml"):
        path = cfg / name
        text = path.read_text()
        assert "REPLACE-ME-with-an-age-public-key" in text
        path.write_text(text.replace("REPLACE-ME-with-an-age-public-key", key[1]))
    assert sops_encrypt(cfg).returncode == 0
    assert validate(cfg).exit_code == 0
    assert render(cfg, key).exit_code == 0
