"""Rendering examples/basic end to end, checked with the real sops binary (SPEC 3.1–3.5)."""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from compiler.cli import cli
from compiler.sopsbin import sops_binary_path

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "basic"
KEYS = EXAMPLE / "keys"
CRDS = ROOT.parent / "shared" / "crds"


def sops_decrypt(path: Path, key: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SOPS_")}
    env.update(SOPS_AGE_KEY_FILE=str(key), SOPS_DISABLE_VERSION_CHECK="1")
    return subprocess.run([sops_binary_path(), "decrypt", "--output-type", "json", str(path)], capture_output=True, env=env, timeout=60)


@pytest.fixture(scope="module")
def inputs() -> dict[str, dict]:
    """The example's registries, decrypted: name -> registry."""
    out = {}
    for f in [EXAMPLE / "registries.yaml", *sorted((EXAMPLE / "registries").glob("*.yaml"))]:
        proc = sops_decrypt(f, KEYS / "config.agekey")
        assert proc.returncode == 0, proc.stderr
        for reg in json.loads(proc.stdout)["registries"]:
            out[reg["name"]] = reg
    return out


@pytest.fixture(scope="module")
def rendered(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("render") / "out"
    env = {"SOPS_AGE_KEY_FILE": str(KEYS / "config.agekey")}
    result = CliRunner(env=env).invoke(cli, ["render", "--config", str(EXAMPLE), "--output", str(out)])
    assert result.exit_code == 0, result.output
    return out


@pytest.fixture(scope="module")
def clusters() -> list[dict]:
    return yaml.safe_load((EXAMPLE / "clusters.yaml").read_text())["clusters"]


@pytest.fixture(scope="module")
def decrypted(rendered, clusters) -> dict[str, dict]:
    """cluster/path -> object, every Secret decrypted (and MAC-verified) by sops with its cluster's key."""
    out = {}
    for cluster in clusters:
        base = rendered / cluster["name"]
        for f in sorted(base.rglob("*.yaml")):
            rel = f"{cluster['name']}/{f.relative_to(base)}"
            text = f.read_text()
            if "\nsops:\n" in text:
                proc = sops_decrypt(f, KEYS / f"{cluster['name']}.agekey")
                assert proc.returncode == 0, (rel, proc.stderr)
                out[rel] = json.loads(proc.stdout)
            else:
                out[rel] = yaml.safe_load(text)
    return out


def secret_data(obj: dict) -> dict[str, str]:
    if "stringData" in obj:
        return obj["stringData"]
    return {k: base64.b64decode(v).decode() for k, v in obj.get("data", {}).items()}


def test_every_secret_is_sealed_and_nothing_else_is(rendered, decrypted):
    for rel, obj in decrypted.items():
        text = (rendered / rel).read_text()
        if obj.get("kind") == "Secret":
            assert "\nsops:\n" in text and "encrypted_regex: ^(data|stringData)$" in text, rel
            assert f"name: {obj['metadata']['name']}" in text  # metadata stays readable
        else:
            assert "sops:" not in text, rel


def test_pull_secrets_are_kubectl_dockerconfigjson(decrypted, inputs):
    seen = set()
    for rel, obj in decrypted.items():
        if obj.get("type") != "kubernetes.io/dockerconfigjson":
            continue
        reg = inputs[obj["metadata"]["labels"]["regops.io/registry"]]
        config = json.loads(secret_data(obj)[".dockerconfigjson"])
        ((server, entry),) = config["auths"].items()
        auth = reg["auth"]
        if reg["provider"] in ("gcr", "artifact-registry"):
            user, password = "_json_key", json.dumps(json.loads(auth["serviceAccountKey"]), separators=(",", ":"))
        elif reg["provider"] == "quay":
            user, password = auth["username"], auth["token"]
        else:
            user, password = auth["username"], auth["password"]
        expected_server = "https://index.docker.io/v1/" if reg["provider"] == "docker" else reg["url"]
        assert server == expected_server
        assert entry == {"username": user, "password": password, "auth": base64.b64encode(f"{user}:{password}".encode()).decode()}
        assert list(entry) == ["username", "password", "auth"]  # kubectl's field order
        seen.add(reg["provider"])
    assert seen == {"docker", "azure", "artifact-registry", "gcr", "quay", "other"}


def test_no_static_ecr_token_anywhere(decrypted):
    for rel, obj in decrypted.items():
        if obj.get("kind") == "ExternalSecret":
            ref = obj["spec"]["dataFrom"][0]["sourceRef"]["generatorRef"]
            assert ref["kind"] == "ECRAuthorizationToken"
        if obj.get("type") == "kubernetes.io/dockerconfigjson":
            assert "amazonaws.com" not in secret_data(obj)[".dockerconfigjson"], rel


def test_ecr_user_auth_objects(decrypted, inputs):
    aws = {rel: o for rel, o in decrypted.items() if rel.endswith("secret-regcred-ecr-prod-aws.yaml")}
    assert aws
    auth = inputs["ecr-prod"]["auth"]
    for obj in aws.values():
        assert secret_data(obj) == {"access-key-id": auth["accessKeyId"], "secret-access-key": auth["secretAccessKey"]}
    gen = decrypted["prod-eu/payments/ecrauthorizationtoken-regcred-ecr-prod-ecr.yaml"]
    assert gen["spec"]["region"] == "eu-west-1"
    assert gen["spec"]["auth"]["secretRef"]["accessKeyIDSecretRef"] == {"name": "regcred-ecr-prod-aws", "key": "access-key-id"}
    es = decrypted["prod-eu/payments/externalsecret-regcred-ecr-prod.yaml"]
    assert es["spec"]["refreshInterval"] == "1h"
    assert es["spec"]["target"]["template"]["type"] == "kubernetes.io/dockerconfigjson"


def test_ecr_iam_role_renders_nothing_for_pulls_and_provider_aws_for_flux(decrypted):
    gov = {rel: o for rel, o in decrypted.items() if rel.startswith("gov-west/")}
    assert not any("ecr-govcloud" in json.dumps(o.get("imagePullSecrets", [])) for o in gov.values())
    (repo,) = [o for o in gov.values() if o["kind"] == "HelmRepository"]
    assert repo["spec"]["provider"] == "aws" and "secretRef" not in repo["spec"]
    assert repo["spec"]["url"] == "oci://210987654321.dkr.ecr.us-gov-west-1.amazonaws.com/charts/gov-apps"


def test_service_accounts_have_complete_sorted_lists(decrypted, clusters):
    for cluster in clusters:
        for ns in cluster["namespaces"]:
            for sa in cluster.get("serviceAccounts", ["default"]):
                obj = decrypted[f"{cluster['name']}/{ns}/serviceaccount-{sa}.yaml"]
                names = [s["name"] for s in obj["imagePullSecrets"]]
                assert names == sorted(set(names))
                assert set(cluster.get("extraImagePullSecrets", [])) <= set(names)
                assert obj["metadata"]["annotations"] == {
                    "kustomize.toolkit.fluxcd.io/prune": "disabled",
                    "argocd.argoproj.io/sync-options": "Prune=false,Delete=false",
                }
                assert set(obj) == {"apiVersion", "kind", "metadata", "imagePullSecrets"}
                # every pull Secret regops renders in this namespace is on the list
                own = {o["metadata"]["name"] for r, o in decrypted.items() if r.startswith(f"{cluster['name']}/{ns}/") and o.get("type") == "kubernetes.io/dockerconfigjson"}
                assert own <= set(names)


def test_flux_chart_repositories(decrypted, inputs):
    hub = decrypted["prod-eu/flux-system/helmrepository-docker-hub-acme-charts.yaml"]["spec"]
    assert hub == {"type": "oci", "url": "oci://registry-1.docker.io/acme/charts", "interval": "10m", "secretRef": {"name": "regcred-docker-hub-helm"}}
    creds = secret_data(decrypted["prod-eu/flux-system/secret-regcred-docker-hub-helm.yaml"])
    assert creds == {"username": inputs["docker-hub"]["auth"]["username"], "password": inputs["docker-hub"]["auth"]["password"]}
    harbor = decrypted["prod-eu/flux-system/helmrepository-harbor-internal-library-charts.yaml"]["spec"]
    assert harbor["certSecretRef"] == {"name": "regcred-harbor-internal-ca"}
    ca = secret_data(decrypted["prod-eu/flux-system/secret-regcred-harbor-internal-ca.yaml"])
    assert ca["ca.crt"].strip() == inputs["harbor-internal"]["caCertificate"].strip()
    public = decrypted["prod-eu/flux-system/helmrepository-ghcr-public-stefanprodan-charts.yaml"]["spec"]
    assert "secretRef" not in public


def test_argocd_repositories(decrypted, inputs):
    repo = decrypted["dev-sandbox/gitops/secret-nexus-dev-helm-hosted.yaml"]
    assert repo["metadata"]["labels"]["argocd.argoproj.io/secret-type"] == "repository"
    data = repo["stringData"]
    assert data["url"] == "nexus.dev.acme.internal:5000/helm-hosted"
    assert (data["type"], data["enableOCI"], data["insecure"]) == ("helm", "true", "true")
    assert data["password"] == inputs["nexus-dev"]["auth"]["password"]
    public = decrypted["dev-sandbox/gitops/secret-ghcr-public-stefanprodan-charts.yaml"]["stringData"]
    assert "username" not in public and "password" not in public
    cm = decrypted["staging/argocd/configmap-argocd-tls-certs-cm.yaml"]
    assert cm["data"]["harbor.acme.internal"].strip() == inputs["harbor-internal"]["caCertificate"].strip()
    es = decrypted["staging/argocd/externalsecret-ecr-prod-charts-payments.yaml"]["spec"]["target"]["template"]
    assert es["metadata"]["labels"] == {"argocd.argoproj.io/secret-type": "repository"}
    assert es["data"]["url"] == "123456789012.dkr.ecr.eu-west-1.amazonaws.com/charts/payments"


def test_kustomizations_list_every_file(rendered, clusters):
    for cluster in clusters:
        base = rendered / cluster["name"]
        files = sorted(str(f.relative_to(base)) for f in base.rglob("*.yaml") if f.name not in ("kustomization.yaml", "ksops-secrets.yaml"))
        k = yaml.safe_load((base / "kustomization.yaml").read_text())
        listed = list(k.get("resources", []))
        if cluster["syncTool"] == "argocd":
            assert k["generators"] == ["ksops-secrets.yaml"]
            gen = yaml.safe_load((base / "ksops-secrets.yaml").read_text())
            assert (gen["apiVersion"], gen["kind"]) == ("viaduct.ai/v1", "ksops")
            listed += [f.removeprefix("./") for f in gen["files"]]
        assert listed == sorted(listed) or cluster["syncTool"] == "argocd"
        assert sorted(listed) == files


def test_isolation_other_keys_cannot_decrypt(rendered, clusters):
    names = [c["name"] for c in clusters]
    for i, name in enumerate(names):
        other = names[(i + 1) % len(names)]
        secret = next(f for f in sorted((rendered / name).rglob("secret-*.yaml")))
        assert sops_decrypt(secret, KEYS / f"{other}.agekey").returncode != 0


def test_unavailable_registries_leave_no_trace(rendered, inputs, clusters):
    from fnmatch import fnmatchcase

    def available(reg, cluster):
        access = reg.get("credentialAccess")
        if not access:
            return False
        hit = any(fnmatchcase(cluster, p) for p in access.get("clusters", []))
        return hit if access["mode"] == "auto-inject" else not hit

    for cluster in clusters:
        text = "\n".join(f.read_text() for f in (rendered / cluster["name"]).rglob("*.yaml"))
        for reg in inputs.values():
            if not available(reg, cluster["name"]):
                assert reg["name"] not in text, (cluster["name"], reg["name"])


def test_catalog_is_non_secret(rendered, inputs):
    catalog = json.loads((rendered / "catalog.json").read_text())
    assert sorted(r["name"] for r in catalog["registries"]) == sorted(inputs)
    text = (rendered / "catalog.json").read_text()
    for reg in inputs.values():
        for key, value in (reg.get("auth") or {}).items():
            if key not in ("username", "method"):
                assert value not in text


def test_edited_metadata_fails_the_mac(rendered, tmp_path):
    src = rendered / "prod-eu/payments/secret-regcred-docker-hub.yaml"
    tampered = tmp_path / "t.yaml"
    tampered.write_text(src.read_text().replace("name: regcred-docker-hub", "name: regcred-evil", 1))
    proc = sops_decrypt(tampered, KEYS / "prod-eu.agekey")
    assert proc.returncode != 0 and b"MAC mismatch" in proc.stderr


@pytest.mark.skipif(not CRDS.is_dir(), reason="../shared/crds not present")
def test_helm_repositories_match_upstream_crd(decrypted):
    import jsonschema

    crd = yaml.safe_load((CRDS / "source.toolkit.fluxcd.io_helmrepositories.yaml").read_text())
    schema = next(v for v in crd["spec"]["versions"] if v["name"] == "v1")["schema"]["openAPIV3Schema"]
    repos = [o for o in decrypted.values() if o.get("kind") == "HelmRepository"]
    assert repos
    for obj in repos:
        jsonschema.validate(obj, schema)
        assert set(obj["spec"]) <= set(schema["properties"]["spec"]["properties"])


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl not installed")
def test_parity_with_kubectl(decrypted, inputs):
    obj = decrypted["prod-eu/payments/secret-regcred-docker-hub.yaml"]
    auth = inputs["docker-hub"]["auth"]
    out = subprocess.run(
        ["kubectl", "create", "secret", "docker-registry", "x", "--dry-run=client", "-o", "json",
         "--docker-server=https://index.docker.io/v1/", f"--docker-username={auth['username']}", f"--docker-password={auth['password']}"],
        capture_output=True, text=True, check=True,
    ).stdout
    theirs = json.loads(base64.b64decode(json.loads(out)["data"][".dockerconfigjson"]))
    assert json.loads(secret_data(obj)[".dockerconfigjson"]) == theirs


def test_golden(decrypted, data_regression):
    """The decrypted content of every rendered file (not ciphertext)."""
    data_regression.check({rel: obj for rel, obj in sorted(decrypted.items())})


def test_committed_demo_output_is_current():
    """examples/basic/rendered is committed: `make demo` must find nothing to change."""
    env = {"SOPS_AGE_KEY_FILE": str(KEYS / "config.agekey")}
    result = CliRunner(env=env).invoke(cli, ["render", "--config", str(EXAMPLE), "--check"])
    assert result.exit_code == 0, result.output
    assert result.output.strip().endswith("up to date")


def test_committed_demo_state_is_current(tmp_path):
    """Rendering a copy of the demo rewrites no byte, render state included."""
    config = tmp_path / "cfg"
    shutil.copytree(EXAMPLE, config)
    before = {p: p.read_bytes() for p in (config / "rendered").rglob("*") if p.is_file()}
    result = CliRunner(env={"SOPS_AGE_KEY_FILE": str(KEYS / "config.agekey")}).invoke(cli, ["render", "--config", str(config)])
    assert result.exit_code == 0, result.output
    after = {p: p.read_bytes() for p in (config / "rendered").rglob("*") if p.is_file()}
    assert [str(p.relative_to(config)) for p in before if before[p] != after.get(p)] == []
    assert after.keys() == before.keys()
