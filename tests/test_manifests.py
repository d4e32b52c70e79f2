"""compiler.manifests: strict schema checks of rendered objects (SPEC 3.5).

Also the provenance of schemas/crds/: `derive_crd_schema` turns an upstream CRD
into the committed JSON Schema; when ../shared/crds (the upstream CRDs) is
present, the committed files must equal what it derives. Regenerate with

    .venv/bin/python tests/test_manifests.py --write
"""

from __future__ import annotations

import base64
import copy
import json
import sys
import time
from pathlib import Path

import pytest

from compiler import manifests

ROOT = Path(__file__).resolve().parent.parent
CRDS_DIR = ROOT / "schemas" / "crds"
UPSTREAM = Path(__file__).resolve().parents[2] / "shared" / "crds"

# (upstream file, version) -> committed schema
CRDS = {
    ("source.toolkit.fluxcd.io_helmrepositories.yaml", "v1"),
    ("external-secrets.io_externalsecrets.yaml", "v1"),
    ("generators.external-secrets.io_ecrauthorizationtokens.yaml", "v1alpha1"),
}
# Written by hand (kinds of examples/flux and examples/argocd, no upstream CRD in
# ../shared/crds); tests/examples/test_wiring.py checks them.
HAND_WRITTEN = {
    "application-argoproj.io-v1alpha1.json",
    "gitrepository-source.toolkit.fluxcd.io-v1.json",
    "kustomization-kustomize.config.k8s.io-v1beta1.json",
    "kustomization-kustomize.toolkit.fluxcd.io-v1.json",
}

DNS1123_SUBDOMAIN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
DNS1123_LABEL = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"

# --------------------------------------------------------------------------- derivation


def _strict(node):
    """OpenAPI v3 (structural CRD schema) -> JSON Schema, closed like kubeconform -strict."""
    if isinstance(node, list):
        return [_strict(n) for n in node]
    if not isinstance(node, dict):
        return node
    out = {}
    for key, value in node.items():
        if key in ("properties", "patternProperties", "$defs"):
            out[key] = {name: _strict(sub) for name, sub in value.items()}
        elif key in ("items", "additionalProperties", "not") or key in ("allOf", "anyOf", "oneOf"):
            out[key] = _strict(value)
        else:  # enum, default, example, x-kubernetes-*: data, not schemas
            out[key] = copy.deepcopy(value)
    if out.pop("nullable", False) and "type" in out:
        out["type"] = [out["type"], "null"]
    if out.pop("x-kubernetes-int-or-string", False):
        out.pop("type", None)
        out["anyOf"] = [{"type": "integer"}, {"type": "string"}]
        out["x-kubernetes-int-or-string"] = True
    if (
        "properties" in out
        and "additionalProperties" not in out
        and not out.get("x-kubernetes-preserve-unknown-fields")
    ):
        out["additionalProperties"] = False
    return out


def derive_crd_schema(crd: dict, version: str) -> dict:
    """JSON Schema for objects of `crd` at `version`, as committed in schemas/crds/."""
    spec = crd["spec"]
    (entry,) = [v for v in spec["versions"] if v["name"] == version]
    upstream = entry["schema"]["openAPIV3Schema"]
    api_version = f"{spec['group']}/{version}"
    kind = spec["names"]["kind"]
    body = _strict(upstream)
    props = dict(body.get("properties", {}))
    props["apiVersion"] = {"type": "string", "enum": [api_version]}
    props["kind"] = {"type": "string", "enum": [kind]}
    props["metadata"] = {
        "type": "object",
        "properties": {
            "name": {"type": "string", "minLength": 1, "maxLength": 253, "pattern": DNS1123_SUBDOMAIN},
            "namespace": {"type": "string", "minLength": 1, "maxLength": 63, "pattern": DNS1123_LABEL},
            "labels": {"type": "object", "additionalProperties": {"type": "string"}},
            "annotations": {"type": "object", "additionalProperties": {"type": "string"}},
        },
        "required": ["name", "namespace"],
        "additionalProperties": False,
    }
    required = ["apiVersion", "kind", "metadata"] + (["spec"] if "spec" in props else [])
    schema = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$comment": f"Derived from the {kind} CRD ({spec['group']}, version {version}) by tests/test_manifests.py; do not edit.",
        "title": f"{kind} {api_version}",
    }
    for key, value in body.items():
        if key not in ("properties", "required", "additionalProperties"):
            schema[key] = value
    schema["properties"] = props
    schema["required"] = sorted(set(required) | set(body.get("required", [])))
    schema["additionalProperties"] = False
    return schema


def _derived() -> dict[str, str]:
    import yaml

    out = {}
    for file_name, version in sorted(CRDS):
        crd = yaml.safe_load((UPSTREAM / file_name).read_text(encoding="utf-8"))
        schema = derive_crd_schema(crd, version)
        api_version = f"{crd['spec']['group']}/{version}"
        name = manifests.crd_schema_file(api_version, crd["spec"]["names"]["kind"])
        out[name] = json.dumps(schema, indent=2, ensure_ascii=False) + "\n"
    return out


@pytest.mark.skipif(not UPSTREAM.is_dir(), reason="no ../shared/crds (upstream CRDs) beside this checkout")
def test_committed_crd_schemas_are_derived_from_upstream():
    derived = _derived()
    committed = {p.name: p.read_text(encoding="utf-8") for p in CRDS_DIR.glob("*.json") if p.name not in HAND_WRITTEN}
    assert sorted(committed) == sorted(derived)
    for name, text in derived.items():
        assert committed[name] == text, f"schemas/crds/{name} is stale: run `python tests/test_manifests.py --write`"


def test_derivation_closes_objects_and_respects_open_ones():
    crd = {
        "spec": {
            "group": "example.io",
            "names": {"kind": "Thing"},
            "versions": [
                {
                    "name": "v1",
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "properties": {
                                "spec": {
                                    "type": "object",
                                    "properties": {
                                        "open": {"type": "object", "x-kubernetes-preserve-unknown-fields": True, "properties": {"a": {"type": "string"}}},
                                        "map": {"type": "object", "additionalProperties": {"type": "string"}},
                                        "when": {"type": "string", "nullable": True},
                                    },
                                }
                            },
                        }
                    },
                }
            ],
        }
    }
    s = derive_crd_schema(crd, "v1")
    assert s["additionalProperties"] is False
    spec = s["properties"]["spec"]
    assert spec["additionalProperties"] is False
    assert "additionalProperties" not in spec["properties"]["open"]
    assert spec["properties"]["map"]["additionalProperties"] == {"type": "string"}
    assert spec["properties"]["when"]["type"] == ["string", "null"]


def test_every_shipped_crd_schema_is_found_by_apiversion_and_kind():
    for path in CRDS_DIR.glob("*.json"):
        schema = json.loads(path.read_text(encoding="utf-8"))
        (api_version,) = schema["properties"]["apiVersion"]["enum"]
        (kind,) = schema["properties"]["kind"]["enum"]
        assert manifests.crd_schema_file(api_version, kind) == path.name
        assert manifests.validator("1.31", api_version, kind) is not None


# --------------------------------------------------------------------------- fixtures

VERSIONS = ["1.31", "1.33"]
LABELS = {"app.kubernetes.io/managed-by": "regops", "regops.io/registry": "hub"}
PASSWORD = "hunter2-s3cr3t-value"


def dockerconfig_secret():
    auth = base64.b64encode(f"user:{PASSWORD}".encode()).decode()
    cfg = {"auths": {"registry.example.com": {"username": "user", "password": PASSWORD, "auth": auth}}}
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "regops-hub", "namespace": "apps", "labels": dict(LABELS)},
        "type": "kubernetes.io/dockerconfigjson",
        "data": {".dockerconfigjson": base64.b64encode(json.dumps(cfg).encode()).decode()},
    }


def service_account():
    return {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": {
            "name": "default",
            "namespace": "apps",
            "labels": {"app.kubernetes.io/managed-by": "regops"},
            "annotations": {
                "kustomize.toolkit.fluxcd.io/prune": "disabled",
                "argocd.argoproj.io/sync-options": "Prune=false,Delete=false",
            },
        },
        "imagePullSecrets": [{"name": "regops-hub"}, {"name": "regops-quay"}],
    }


def config_map():
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "argocd-tls-certs-cm", "namespace": "argocd", "labels": dict(LABELS)},
        "data": {"registry.example.com": "-----BEGIN CERTIFICATE-----\n...\n-----END CERTIFICATE-----\n"},
    }


def helm_repository():
    return {
        "apiVersion": "source.toolkit.fluxcd.io/v1",
        "kind": "HelmRepository",
        "metadata": {"name": "ecr-charts", "namespace": "flux-system", "labels": dict(LABELS)},
        "spec": {
            "type": "oci",
            "url": "oci://123456789012.dkr.ecr.eu-west-1.amazonaws.com/charts",
            "interval": "10m",
            "secretRef": {"name": "ecr-charts"},
            "certSecretRef": {"name": "ecr-charts-ca"},
            "provider": "aws",
            "insecure": True,
        },
    }


def external_secret():
    return {
        "apiVersion": "external-secrets.io/v1",
        "kind": "ExternalSecret",
        "metadata": {"name": "regops-ecr", "namespace": "apps", "labels": dict(LABELS)},
        "spec": {
            "refreshInterval": "6h",
            "target": {
                "name": "regops-ecr",
                "creationPolicy": "Owner",
                "template": {
                    "engineVersion": "v2",
                    "type": "kubernetes.io/dockerconfigjson",
                    "metadata": {"labels": dict(LABELS)},
                    "data": {
                        ".dockerconfigjson": '{"auths":{"{{ .proxy_endpoint }}":{"username":"{{ .username }}","password":"{{ .password }}","auth":"{{ printf "%s:%s" .username .password | b64enc }}"}}}'
                    },
                },
            },
            "dataFrom": [
                {
                    "sourceRef": {
                        "generatorRef": {
                            "apiVersion": "generators.external-secrets.io/v1alpha1",
                            "kind": "ECRAuthorizationToken",
                            "name": "regops-ecr",
                        }
                    }
                }
            ],
        },
    }


def ecr_token():
    return {
        "apiVersion": "generators.external-secrets.io/v1alpha1",
        "kind": "ECRAuthorizationToken",
        "metadata": {"name": "regops-ecr", "namespace": "apps", "labels": dict(LABELS)},
        "spec": {
            "region": "eu-west-1",
            "auth": {
                "secretRef": {
                    "accessKeyIDSecretRef": {"name": "regops-ecr-aws", "key": "access-key-id"},
                    "secretAccessKeySecretRef": {"name": "regops-ecr-aws", "key": "secret-access-key"},
                }
            },
        },
    }


# --------------------------------------------------------------------------- core kinds


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("make", [dockerconfig_secret, service_account, config_map])
def test_valid_core_objects_pass(make, version):
    assert manifests.check(make(), version) == []


@pytest.mark.parametrize("version", VERSIONS)
def test_unknown_field_on_secret_fails_strict(version):
    obj = dockerconfig_secret()
    obj["spec"] = {"x": 1}
    assert manifests.check(obj, version) == ["spec: unknown field (strict schema)"]


def test_unknown_metadata_field_fails_strict():
    obj = service_account()
    obj["metadata"]["labelz"] = {"a": "b"}
    assert manifests.check(obj, "1.31") == ["metadata.labelz: unknown field (strict schema)"]


def test_wrong_type_fails():
    obj = service_account()
    obj["imagePullSecrets"] = ["regops-hub"]
    problems = manifests.check(obj, "1.31")
    assert problems and all(p.startswith("imagePullSecrets[0]") for p in problems), problems
    obj = config_map()
    obj["metadata"]["labels"] = ["x"]
    assert manifests.check(obj, "1.31") == ['metadata.labels: must be a mapping (got ["x"])']


def test_secret_values_are_never_echoed():
    obj = dockerconfig_secret()
    value = obj["data"][".dockerconfigjson"]
    obj["data"]["broken"] = {"nested": PASSWORD}
    obj["stringData"] = [PASSWORD]
    obj["type"] = {"password": PASSWORD}
    obj["spec"] = PASSWORD
    problems = manifests.check(obj, "1.31")
    assert len(problems) == 4, problems
    text = "\n".join(problems)
    for secret in (PASSWORD, value, value[:20]):
        assert secret not in text
    assert "data.broken: must be a string" in text
    assert "spec: unknown field (strict schema)" in text


def test_secret_values_hidden_even_under_anyof_and_at_the_root():
    obj = dockerconfig_secret()
    obj["metadata"]["name"] = 42
    text = "\n".join(manifests.check(obj, "1.31"))
    assert "metadata.name" in text and "42" not in text


def test_apiversion_group_must_really_match():
    # networking.example.com maps to the same file name as networking.k8s.io
    obj = {"apiVersion": "networking.example.com/v1", "kind": "Ingress", "metadata": {"name": "x"}}
    assert manifests.check(obj, "1.31") == ["no schema for networking.example.com/v1 Ingress"]
    obj["apiVersion"] = "networking.k8s.io/v1"
    assert manifests.check(obj, "1.31") == []


@pytest.mark.parametrize(
    "api_version,kind",
    [("v1", "Frobnicator"), ("source.toolkit.fluxcd.io/v1", "../x"), ("v1", "../secret"), ("example.com/v1", "Widget"), ("source.toolkit.fluxcd.io/v1beta2", "HelmRepository"), ("v1", "secret"), ("v1", "SecretReference")],
)
def test_unknown_kind_is_a_problem(api_version, kind):
    obj = {"apiVersion": api_version, "kind": kind, "metadata": {"name": "x", "namespace": "y"}}
    assert manifests.check(obj, "1.31") == [f"no schema for {api_version} {kind}"]


def test_missing_kind_and_bad_version():
    assert manifests.check({"metadata": {}}, "1.31") == ["apiVersion: is missing or not a non-empty string", "kind: is missing or not a non-empty string"]
    assert "no schemas for Kubernetes 1.99" in manifests.check(service_account(), "1.99")[0]
    assert "no schemas for Kubernetes 1.99" in manifests.check(helm_repository(), "1.99")[0]
    assert manifests.check(service_account(), "v1.31.4") == []
    assert manifests.check(service_account(), "latest") == ["Kubernetes version 'latest' is not of the form 1.31"]


def test_validator_is_built_once():
    a = manifests.validator("1.31", "v1", "Secret")
    assert a is manifests.validator("1.31", "v1", "Secret")
    assert a is not manifests.validator("1.33", "v1", "Secret")
    h = manifests.validator("1.31", "source.toolkit.fluxcd.io/v1", "HelmRepository")
    assert h is manifests.validator("1.31", "source.toolkit.fluxcd.io/v1", "HelmRepository")


def test_check_all():
    bad = dockerconfig_secret()
    bad["spec"] = {}
    assert manifests.check_all([service_account(), bad, config_map()], "1.31") == {1: ["spec: unknown field (strict schema)"]}


# --------------------------------------------------------------------------- custom resources


@pytest.mark.parametrize("make", [helm_repository, external_secret, ecr_token])
def test_valid_custom_resources_pass(make):
    for version in VERSIONS:
        assert manifests.check(make(), version) == []


def test_helm_repository_minimal_public_passes():
    obj = helm_repository()
    obj["spec"] = {"type": "oci", "url": "oci://registry-1.docker.io/bitnamicharts", "interval": "1h"}
    assert manifests.check(obj, "1.31") == []


def test_helm_repository_invalid():
    obj = helm_repository()
    del obj["spec"]["url"]
    obj["spec"]["type"] = "OCI"
    obj["spec"]["insecureSkipVerify"] = True
    assert manifests.check(obj, "1.31") == [
        "spec.insecureSkipVerify: unknown field (strict schema)",
        'spec.type: must be one of "default", "oci" (got "OCI")',
        "spec.url: required field is missing",
    ]


def test_helm_repository_bad_url_interval_and_provider():
    obj = helm_repository()
    obj["spec"].update(url="registry.example.com/charts", interval="10 minutes", provider="ecr")
    problems = manifests.check(obj, "1.31")
    assert [p.split(":")[0] for p in problems] == ["spec.interval", "spec.provider", "spec.url"]


def test_custom_resource_metadata_is_strict():
    obj = helm_repository()
    del obj["metadata"]["namespace"]
    obj["metadata"]["labels"]["n"] = 1
    obj["status"] = {}
    obj["metadata"]["generateName"] = "x-"
    assert manifests.check(obj, "1.31") == [
        "metadata.generateName: unknown field (strict schema)",
        "metadata.labels.n: must be a string (got 1)",
        "metadata.namespace: required field is missing",
    ]


def test_external_secret_invalid():
    obj = external_secret()
    obj["spec"]["target"]["template"]["engineVersion"] = "v1"
    obj["spec"]["dataFrom"][0]["sourceRef"]["generatorRef"]["kind"] = "EcrAuthorizationToken"
    obj["spec"]["target"]["template"]["typo"] = 1
    obj["apiVersion"] = "external-secrets.io/v1"
    assert manifests.check(obj, "1.31") == [
        'spec.dataFrom[0].sourceRef.generatorRef.kind: must be one of "ACRAccessToken", "BeyondtrustWorkloadCredentialsDynamicSecret", "ClusterGenerator", "CloudsmithAccessToken", "ECRAuthorizationToken", "Fake", "GCRAccessToken", "GithubAccessToken", "GitlabDeployToken", "QuayAccessToken", "Password", "SSHKey", "STSSessionToken", "UUID", "VaultDynamicSecret", "Webhook", "Grafana", "MFA" (got "EcrAuthorizationToken")',
        'spec.target.template.engineVersion: must be one of "v2" (got "v1")',
        "spec.target.template.typo: unknown field (strict schema)",
    ]


def test_external_secret_v1beta1_is_not_shipped():
    obj = external_secret()
    obj["apiVersion"] = "external-secrets.io/v1beta1"
    assert manifests.check(obj, "1.31") == ["no schema for external-secrets.io/v1beta1 ExternalSecret"]


def test_ecr_token_without_auth_uses_controller_identity():
    obj = ecr_token()
    del obj["spec"]["auth"]
    assert manifests.check(obj, "1.31") == []


def test_ecr_token_invalid():
    obj = ecr_token()
    obj["spec"]["auth"]["secretRef"]["accessKeyIDSecretRef"]["keyName"] = "x"
    obj["spec"]["regin"] = "eu-west-1"
    del obj["spec"]["region"]
    assert manifests.check(obj, "1.31") == [
        "spec.auth.secretRef.accessKeyIDSecretRef.keyName: unknown field (strict schema)",
        "spec.regin: unknown field (strict schema)",
        "spec.region: required field is missing",
    ]


# --------------------------------------------------------------------------- timing (by hand)


def _time(n=2000):
    objs = [dockerconfig_secret(), service_account(), config_map(), helm_repository(), external_secret(), ecr_token()]
    t0 = time.perf_counter()
    for o in objs:
        assert manifests.check(o, "1.32") == []
    cold = (time.perf_counter() - t0) / len(objs)
    t0 = time.perf_counter()
    for i in range(n):
        manifests.check(objs[i % len(objs)], "1.32")
    warm = (time.perf_counter() - t0) / n
    return cold, warm


if __name__ == "__main__":
    if sys.argv[1:] == ["--write"]:
        CRDS_DIR.mkdir(parents=True, exist_ok=True)
        for name, text in _derived().items():
            (CRDS_DIR / name).write_text(text, encoding="utf-8")
            print("wrote", CRDS_DIR / name)
    elif sys.argv[1:] == ["--time"]:
        cold, warm = _time()
        print(f"cold {cold * 1e3:.2f} ms/object, warm {warm * 1e6:.1f} µs/object")
    else:
        sys.exit("usage: tests/test_manifests.py --write | --time")


def test_fast_path_agrees_with_jsonschema_on_rendered_objects():
    """fastjsonschema only ever accepts what jsonschema accepts (its rejections are re-checked)."""
    import copy
    import random

    import yaml

    from compiler import manifests

    root = Path(__file__).resolve().parents[1] / "examples" / "basic" / "rendered"
    objs = []
    for f in sorted(root.rglob("*.yaml")):
        if f.name in ("kustomization.yaml", "ksops-secrets.yaml", ".regops-key.yaml"):
            continue
        obj = yaml.safe_load(f.read_text())
        obj.pop("sops", None)
        objs.append(obj)
    assert len(objs) > 50
    rng = random.Random(7)
    mutations = [
        lambda o: o.__setitem__("zzz", 1),
        lambda o: o["metadata"].__setitem__("labelz", {}),
        lambda o: o["metadata"].__setitem__("name", 5),
        lambda o: o.pop("metadata"),
        lambda o: o.get("spec", o).__setitem__("unknown", True),
    ]
    checked = 0
    for obj in objs:
        for variant in [obj] + [copy.deepcopy(obj) for _ in range(3)]:
            if variant is not obj:
                rng.choice(mutations)(variant)
            slow = manifests.validator("1.31", variant["apiVersion"], variant["kind"])
            fast = manifests._fast_validator(manifests.schema_identity("1.31", variant["apiVersion"], variant["kind"]), slow)
            assert fast is not None
            slow_ok = not list(slow.iter_errors(variant))
            try:
                fast(variant)
                fast_ok = True
            except Exception:
                fast_ok = False
            assert fast_ok == slow_ok, (variant.get("kind"), variant)
            checked += 1
    assert checked > 200
