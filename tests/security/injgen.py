"""Strategies and the oracle of the injection tests (test_sec_injection.py).

A drawn "world" is a set of registries of every provider, with hostile text in
every free-text field that reaches a manifest, and a flux and an argocd
cluster that receive all of them. `expected_*` say, independently of the
compiler's planning code, what each rendered object must be.
"""

from __future__ import annotations

import base64
import json
import re
import string

from hypothesis import assume
from hypothesis import strategies as st
from pyrage import x25519

from compiler.naming import chart_repository
from compiler.records import ClusterRecord, RegistryRecord, SettingsRecord

# Text that has broken YAML/JSON/template generators somewhere.
SPECIALS = [
    '"', "'", "\\", "\\n", "\n", "\r\n", "\r", "\t", "\x00", "\x07", "\x1b[31m", "\x7f",
    "{{", "}}", "{{ name }}", "{{ .password }}", "{%", "%}", "{% raw %}", "{% endraw %}", "{#", "#}",
    ": ", ":", "- ", "-", "---", "...", "# ", "#", "&anchor ", "*alias", "!!python/object/apply:os.system ['x']",
    "? ", "| ", "> ", "|-", "[", "]", "{", "}", ",", "%", "@", "`", "!", "<<: *a",
    "null", "~", "true", "no", "y", "0x1F", "1e3", "0o17", ".inf", "2001-12-14", "=",
    "\u2028", "\u2029", "\x85", "\ufeff", "\u00a0", "\u200b", "\u202e", "\ufffe", "\uffff",
    "\U0001f600", "\U00010000", "\U0010fffd", "\U0001d54f", "é", "ß", "中文", "\u0301",
    "ENC[AES256_GCM,data:AAAA,iv:AAAA,tag:AAAA,type:str]", "sops:", "apiVersion: v1\nkind: Secret\n",
    " ", "  ", "\n\n", "\\u2028", "\\x00", "%25", "%0A",
]

# Surrogate-free text: anything UTF-8 can carry (sops and YAML files are UTF-8).
_chars = st.characters(codec="utf-8")
_chunk = st.one_of(st.sampled_from(SPECIALS), st.text(_chars, max_size=12), st.text(string.printable, max_size=12))
nasty = st.lists(_chunk, max_size=6).map("".join)
long_text = st.builds(lambda s, n: ((s or "x") * n)[:n], st.lists(_chunk, min_size=1, max_size=4).map("".join), st.integers(1_000, 30_000))
text_value = st.one_of(nasty, nasty, nasty, nasty, nasty, nasty, long_text)
secret_value = text_value.filter(bool)  # empty secrets are a validation error

dns_label = st.from_regex(r"\A[a-z0-9]([-a-z0-9]{0,14}[a-z0-9])?\Z")
dns_subdomain = st.from_regex(r"\A[a-z0-9]([-a-z0-9]{0,10}[a-z0-9])?(\.[a-z0-9]([-a-z0-9]{0,6}[a-z0-9])?){0,2}\Z")
_component = r"[a-z0-9]{1,6}((\.|_|__|-{1,2})[a-z0-9]{1,6}){0,2}"
chart_path = st.from_regex(rf"\A{_component}(/{_component}){{0,2}}\Z")
interval = st.from_regex(r"\A([1-9][0-9]{0,2}(\.[0-9]{1,2})?(ns|us|µs|ms|s|m|h)){1,3}\Z")
prefix = st.from_regex(r"\A[a-z0-9]([-a-z0-9]{0,8}[a-z0-9])?[-.]?\Z")
host = st.builds(lambda labels, port: ".".join(labels) + (f":{port}" if port else ""), st.lists(dns_label, min_size=1, max_size=3), st.one_of(st.none(), st.integers(1, 65535)))

# A real certificate (the demo CA of examples/basic); free text may surround PEM blocks.
PEM = """-----BEGIN CERTIFICATE-----
MIIBvDCCAWOgAwIBAgIUGTSA5rF8jGhUs3w9KQHJSTyLZ0MwCgYIKoZIzj0EAwIw
OzEZMBcGA1UECgwQQWNtZSBDb3JwIChkZW1vKTEeMBwGA1UEAwwVQWNtZSBJbnRl
cm5hbCBEZW1vIENBMB4XDTI1MDEwMTAwMDAwMFoXDTQ0MTIyNzAwMDAwMFowOzEZ
MBcGA1UECgwQQWNtZSBDb3JwIChkZW1vKTEeMBwGA1UEAwwVQWNtZSBJbnRlcm5h
bCBEZW1vIENBMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEYzKHb/ybNyfUmBJu
OD9JaD1JBfIx5R7XezcV+s12d5noMHANyzMgNkHsD7ML5ZgrM0VjXdeNzeDa8yeU
awwtRKNFMEMwEgYDVR0TAQH/BAgwBgEB/wIBADAOBgNVHQ8BAf8EBAMCAYYwHQYD
VR0OBBYEFDWwblcHjQ1mSK0v29gcbR0fjUDrMAoGCCqGSM49BAMCA0cAMEQCIFHk
uPL6L+gBtLpF75WKFaXrw5/V9D2MGU8AXK6ApzPzAiA2nUPIiXa1kRzhhZsiHviM
6jxFpC8rDL7DkJPOq7ErKQ==
-----END CERTIFICATE-----
"""
ca_text = st.builds(lambda a, b: a + PEM + b, nasty.filter(lambda s: "-----" not in s), nasty.filter(lambda s: "-----" not in s))

REQUIRED_KEY_FIELDS = ("type", "project_id", "private_key", "client_email")


@st.composite
def gcp_key(draw):
    """(key file text, the object it holds): valid JSON, nasty strings inside, any whitespace."""
    data = {
        "type": "service_account",
        "project_id": draw(text_value),
        "private_key_id": draw(nasty),
        "private_key": draw(text_value),
        "client_email": draw(nasty),
    }
    extra = draw(st.dictionaries(nasty.filter(lambda k: k not in data), st.one_of(nasty, st.integers(-(2**53), 2**53), st.booleans(), st.none()), max_size=3))
    data.update(extra)
    indent = draw(st.sampled_from([None, 0, 2, 4, "\t"]))
    text = json.dumps(data, indent=indent, ensure_ascii=draw(st.booleans()))
    if indent is not None and draw(st.booleans()):
        text = text.replace("\n", "\r\n")
    lead, trail = draw(st.sampled_from(["", " ", "\n", "\r\n\t "])), draw(st.sampled_from(["", "\n", " \n\n"]))
    return lead + text + trail, data


def _registry(provider, url, auth, **extra):
    return st.fixed_dictionaries({"provider": st.just(provider), "url": url, "auth": st.fixed_dictionaries(auth), **extra})


def _with_name(strategy):
    return lambda name: strategy.map(lambda r: {"name": name, **r})


def _gcp(provider, url):
    return gcp_key().flatmap(lambda k: _registry(provider, url, {"serviceAccountKey": st.just(k[0])}, _key=st.just(k[1])))


REGISTRY = {
    "docker": _with_name(_registry("docker", st.just("docker.io"), {"username": text_value, "password": secret_value})),
    "azure": _with_name(_registry("azure", dns_label.map(lambda s: s + ".azurecr.io"), {"username": text_value, "password": secret_value})),
    "quay": _with_name(_registry("quay", st.one_of(st.just("quay.io"), host), {"username": text_value, "token": secret_value})),
    "other-ca": _with_name(_registry("other", host, {"username": text_value, "password": secret_value},
                                     connection=st.just("secure-with-ca"), caCertificate=ca_text)),
    "other-insecure": _with_name(_registry("other", host, {"username": text_value, "password": secret_value}, connection=st.just("insecure"))),
    "gcr": _with_name(_gcp("gcr", st.sampled_from(["gcr.io", "us.gcr.io", "eu.gcr.io", "asia.gcr.io"]))),
    "artifact-registry": _with_name(_gcp("artifact-registry", st.sampled_from(["europe-west1-docker.pkg.dev", "us-east4-docker.pkg.dev"]))),
    "ecr": _with_name(_registry("ecr", st.just("123456789012.dkr.ecr.eu-west-1.amazonaws.com"),
                                {"method": st.just("user-auth"), "accessKeyId": secret_value, "secretAccessKey": secret_value})),
}
KINDS = sorted(REGISTRY)

IDENTITIES = {"flux": x25519.Identity.generate(), "argocd": x25519.Identity.generate()}


@st.composite
def world(draw):
    """Registries of every provider with hostile values, and a flux and an argocd cluster that get them all."""
    # Registry names start with "r" and the Secret name prefix with "q": generated names can never collide.
    names = draw(st.lists(dns_label.map(lambda s: s[:44]), min_size=3, max_size=3, unique=True))
    names = [f"r{n}-{i}" for i, n in enumerate(names)]
    access = {"mode": "auto-inject", "clusters": ["*"]}

    def charts(reg_name):
        paths = draw(st.lists(chart_path, min_size=1, max_size=2, unique_by=lambda p: chart_repository(reg_name, p)))
        return {"useAsChartRepository": True, "chartRepositories": paths}

    kinds = draw(st.lists(st.sampled_from(KINDS), min_size=1, max_size=3, unique=True))
    regs = [draw(REGISTRY[kind](names[i])) for i, kind in enumerate(kinds)]
    for reg in regs:
        reg["credentialAccess"] = dict(access)
        reg.update(charts(reg["name"]))
    # two registries' repositories mapping to one object name is a validation error (generated-names rule)
    chart_names = [chart_repository(r["name"], p) for r in regs for p in r["chartRepositories"]]
    assume(len(chart_names) == len(set(chart_names)))
    namespaces = draw(st.lists(dns_label.filter(lambda n: n not in ("flux-system", "argocd")), min_size=1, max_size=2, unique=True))
    service_accounts = draw(st.lists(dns_subdomain, min_size=1, max_size=2, unique=True))
    extra = draw(st.lists(dns_subdomain, max_size=2, unique=True))
    controller = draw(dns_label.filter(lambda n: n not in namespaces))
    clusters = []
    for tool in ("flux", "argocd"):
        clusters.append({
            "name": f"c-{tool}", "syncTool": tool, "kubernetesVersion": "1.33",
            "namespaces": namespaces, "serviceAccounts": service_accounts, "extraImagePullSecrets": extra,
            "recipients": {"age": [str(IDENTITIES[tool].to_public())]},
            "controllerNamespace": controller if draw(st.booleans()) else None, "externalSecrets": True,
        })
        if clusters[-1]["controllerNamespace"] is None:
            del clusters[-1]["controllerNamespace"]
    settings = {"apiVersion": "regops.io/v1alpha1", "kind": "Settings",
                "secretNamePrefix": "q" + draw(prefix), "chartRefreshInterval": draw(interval), "ecrRefreshInterval": draw(interval)}
    return regs, clusters, settings


def records(regs, clusters, settings):
    reg_records = [RegistryRecord({k: v for k, v in r.items() if not k.startswith("_")}) for r in regs]
    return reg_records, [ClusterRecord(c) for c in clusters], SettingsRecord(settings)


def auth_of(regs) -> dict[str, dict[str, str]]:
    return {r["name"]: {k: v for k, v in r["auth"].items() if isinstance(v, str)} for r in regs}


# --------------------------------------------------------------------------- oracle


def b64(text: str) -> str:
    return base64.b64encode(text.encode("utf-8")).decode("ascii")


def credentials(reg) -> tuple[str, str] | None:
    auth = reg["auth"]
    if reg["provider"] in ("gcr", "artifact-registry"):
        # The key as written, minus whitespace outside strings (escapes and numbers kept verbatim).
        compact = re.sub(r'("(?:\\.|[^"\\])*")|\s+', lambda m: m.group(1) or "", auth["serviceAccountKey"])
        assert json.loads(compact) == reg["_key"]
        return "_json_key", compact
    if reg["provider"] == "ecr":
        return None
    return auth["username"], auth.get("password", auth.get("token"))


def server(reg) -> str:
    return "https://index.docker.io/v1/" if reg["provider"] == "docker" else reg["url"]


def oci_host(reg) -> str:
    return "registry-1.docker.io" if reg["provider"] == "docker" else reg["url"]


def expected_metadata(name, namespace, registry, extra_labels=None, annotations=None) -> dict:
    labels = {"app.kubernetes.io/managed-by": "regops"}
    if registry:
        labels["regops.io/registry"] = registry
    labels.update(extra_labels or {})
    meta = {"name": name, "namespace": namespace, "labels": labels}
    if annotations:
        meta["annotations"] = annotations
    return meta


def secret(name, ns, registry, type_, data=None, string_data=None, extra_labels=None) -> dict:
    obj = {"apiVersion": "v1", "kind": "Secret", "metadata": expected_metadata(name, ns, registry, extra_labels), "type": type_}
    if data:
        obj["data"] = data
    if string_data:
        obj["stringData"] = string_data
    return obj


def check_object(obj: dict, path: str, regs: list[dict], cluster: dict, settings: dict) -> None:
    """Assert that `obj`, rendered for `cluster` at `path`, is exactly what the inputs mean."""
    by_name = {r["name"]: r for r in regs}
    prefix = settings["secretNamePrefix"]
    kind = obj.get("kind")
    meta = obj.get("metadata") or {}
    ns, name = meta.get("namespace"), meta.get("name")
    registry = (meta.get("labels") or {}).get("regops.io/registry")
    reg = by_name.get(registry)
    controller = cluster.get("controllerNamespace") or ("flux-system" if cluster["syncTool"] == "flux" else "argocd")
    assert path == f"{ns}/{kind.lower()}-{name}.yaml", (path, ns, kind, name)

    if kind == "Secret" and name == f"{prefix}{registry}" and reg["provider"] != "ecr":
        user, password = credentials(reg)
        assert ns in cluster["namespaces"]
        assert set(obj) == {"apiVersion", "kind", "metadata", "type", "data"}
        assert obj["metadata"] == expected_metadata(name, ns, registry) and obj["type"] == "kubernetes.io/dockerconfigjson"
        assert set(obj["data"]) == {".dockerconfigjson"}
        raw = base64.b64decode(obj["data"][".dockerconfigjson"], validate=True)
        config = json.loads(raw.decode("utf-8"))
        entry = {"username": user, "password": password, "auth": b64(f"{user}:{password}")}
        assert config == {"auths": {server(reg): entry}}
        got = config["auths"][server(reg)]
        assert got["password"].encode("utf-8") == password.encode("utf-8")
        assert base64.b64decode(got["auth"]) == f"{user}:{password}".encode()
        return
    if kind == "Secret" and name == f"{prefix}{registry}-aws":
        a = reg["auth"]
        assert obj == secret(name, ns, registry, "Opaque", {"access-key-id": b64(a["accessKeyId"]), "secret-access-key": b64(a["secretAccessKey"])})
        assert base64.b64decode(obj["data"]["secret-access-key"]) == a["secretAccessKey"].encode("utf-8")
        return
    if kind == "Secret" and name == f"{prefix}{registry}-helm":
        assert cluster["syncTool"] == "flux" and ns == controller
        user, password = credentials(reg)
        assert obj == secret(name, ns, registry, "Opaque", {"username": b64(user), "password": b64(password)})
        assert base64.b64decode(obj["data"]["password"]) == password.encode("utf-8")
        return
    if kind == "Secret" and name == f"{prefix}{registry}-ca":
        assert obj == secret(name, ns, registry, "Opaque", {"ca.crt": b64(reg["caCertificate"])})
        assert base64.b64decode(obj["data"]["ca.crt"]) == reg["caCertificate"].encode("utf-8")
        return
    if kind == "Secret":  # Argo CD repository Secret
        assert cluster["syncTool"] == "argocd" and ns == controller
        path_of = {chart_repository(registry, p): p for p in reg["chartRepositories"]}
        repo = path_of[name]
        fields = {"type": "helm", "name": name, "url": f"{oci_host(reg)}/{repo}", "enableOCI": "true"}
        creds = credentials(reg)
        fields.update(username=creds[0], password=creds[1])
        if reg.get("connection") == "insecure":
            fields["insecure"] = "true"
        assert obj == secret(name, ns, registry, "Opaque", string_data=fields, extra_labels={"argocd.argoproj.io/secret-type": "repository"})
        assert obj["stringData"]["password"].encode("utf-8") == creds[1].encode("utf-8")
        return
    if kind == "HelmRepository":
        path_of = {chart_repository(registry, p): p for p in reg["chartRepositories"]}
        spec = {"type": "oci", "url": f"oci://{oci_host(reg)}/{path_of[name]}", "interval": settings["chartRefreshInterval"]}
        spec["secretRef"] = {"name": f"{prefix}{registry}-helm"}
        if reg.get("connection") == "secure-with-ca":
            spec["certSecretRef"] = {"name": f"{prefix}{registry}-ca"}
        if reg.get("connection") == "insecure":
            spec["insecure"] = True
        assert obj == {"apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "HelmRepository", "metadata": expected_metadata(name, ns, registry), "spec": spec}
        return
    if kind == "ConfigMap":
        assert name == "argocd-tls-certs-cm" and ns == controller
        ca_regs = [r for r in regs if r.get("connection") == "secure-with-ca"]
        data = {r["url"].split(":")[0]: r["caCertificate"].strip() + "\n" for r in ca_regs}
        assert obj == {"apiVersion": "v1", "kind": "ConfigMap", "metadata": expected_metadata(name, ns, None, {"app.kubernetes.io/part-of": "argocd"}), "data": data}
        return
    if kind == "ServiceAccount":
        pulls = {f"{prefix}{r['name']}" for r in regs} | set(cluster["extraImagePullSecrets"])
        annotations = {"kustomize.toolkit.fluxcd.io/prune": "disabled", "argocd.argoproj.io/sync-options": "Prune=false,Delete=false"}
        assert obj == {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": expected_metadata(name, ns, None, annotations=annotations),
                       "imagePullSecrets": [{"name": n} for n in sorted(pulls)]}
        return
    if kind == "ExternalSecret":
        assert reg["provider"] == "ecr"
        assert obj["metadata"] == expected_metadata(name, ns, registry)
        assert obj["spec"]["refreshInterval"] == settings["ecrRefreshInterval"]
        assert obj["spec"]["dataFrom"][0]["sourceRef"]["generatorRef"]["name"] == f"{prefix}{registry}-ecr"
        return
    if kind == "ECRAuthorizationToken":
        assert obj["metadata"] == expected_metadata(f"{prefix}{registry}-ecr", ns, registry)
        assert obj["spec"]["region"] == "eu-west-1"
        return
    raise AssertionError(f"unexpected object {kind} {name} at {path}")
