"""Injection: hostile text in every field that reaches a manifest changes values, never structure.

Planning and rendering are driven in process from records built from dicts
(no sops for the bulk of the examples); a smaller number of worlds is sealed
and decrypted again by the real sops binary, which also reads the non-secret
objects back with its YAML parser (go-yaml, as kustomize and Flux do).
"""

from __future__ import annotations

import json
import os
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import injgen
import pytest
import sechelpers as sh
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from compiler import planning, rendering, sealing, serialize

LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
# Text regops writes itself (templates, the External Secrets go-template): a secret equal to part of it proves nothing.
STATIC_TEXT = "".join(p.read_text() for p in sorted((sh.ROOT / "templates").rglob("*.j2"))) + getattr(
    rendering, "_eso_dockerconfig", lambda _: '{{ .username }}{{ .password }}{{ printf "%s:%s" .username .password | b64enc }}')("")

FAST = settings(max_examples=int(os.environ.get("REGOPS_INJECTION_EXAMPLES", "80")), deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much])
SOPS = settings(max_examples=int(os.environ.get("REGOPS_SOPS_EXAMPLES", "20")), deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much])


def render_world(regs, clusters, settings_doc):
    reg_records, cluster_records, settings_record = injgen.records(regs, clusters, settings_doc)
    provider_of = {r["name"]: r["provider"] for r in regs}
    out = []
    for cluster, record in zip(clusters, cluster_records):
        plan = planning.plan_cluster(record, reg_records, settings_record)
        out.append((cluster, plan, rendering.render_cluster(plan, provider_of, injgen.auth_of(regs))))
    return out


def long_secrets(regs, clusters, settings_doc) -> list[str]:
    """Secret inputs distinctive enough that finding one in a non-secret object cannot be chance
    (and that do not occur in a non-secret input, such as the CA text, by the luck of the draw)."""
    public = repr([{k: v for k, v in r.items() if k not in ("auth", "_key")} for r in regs]) + repr(clusters) + repr(settings_doc)
    public += "".join(r.get("caCertificate", "") for r in regs) + STATIC_TEXT
    values = []
    for r in regs:
        candidates = [v for k, v in r["auth"].items() if k in sh.SECRET_FIELDS and isinstance(v, str)]
        creds = injgen.credentials(r)
        if creds:
            candidates.append(creds[1])
        values += [v for v in candidates if len(v) >= 12 and len(set(v)) >= 6 and v not in public]
    return values


def check_world(regs, clusters, settings_doc) -> list[tuple[dict, dict, str]]:
    """Every rendered object is exactly the intended one; returns (cluster, object, path) of the Secrets."""
    secrets = long_secrets(regs, clusters, settings_doc)
    sealed = []
    for cluster, plan, objects in render_world(regs, clusters, settings_doc):
        sh.FIGURES["injection_objects_checked"] += len(objects)
        paths = [o.path for o in objects]
        assert len(paths) == len(set(paths)), "two objects share a file"
        for o in objects:
            if o.path in ("kustomization.yaml", "ksops-secrets.yaml"):
                assert yaml.load(serialize.dump(o.obj), Loader=LOADER) == o.obj
                continue
            injgen.check_object(o.obj, o.path, regs, cluster, settings_doc)
            if o.secret:
                assert o.obj["kind"] == "Secret"
                sealed.append((cluster, o.obj, o.path))
                continue
            text = serialize.dump(o.obj)
            assert yaml.load(text, Loader=LOADER) == o.obj, f"{o.path} does not read back as itself"
            for value in secrets:
                assert value not in text, f"a secret value reached the non-secret object {o.path}"
        # every Secret is a Secret kind and every non-Secret is plain: nothing secret escapes sealing
        assert all(o.secret == (o.obj.get("kind") == "Secret") for o in objects if o.kubernetes)
    return sealed


@FAST
@given(injgen.world())
def test_hostile_values_render_to_exactly_the_intended_objects(w):
    regs, clusters, settings_doc = w
    sh.FIGURES["injection_worlds_in_process"] += 1
    check_world(regs, clusters, settings_doc)


def _sops_json(args: list[str], key_file: Path | None) -> dict:
    proc = sh.sops(args, key_file)
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")
    return json.loads(proc.stdout)


@pytest.fixture(scope="module")
def key_files(tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("injection-keys")
    out = {}
    for tool, ident in injgen.IDENTITIES.items():
        p = d / f"{tool}.agekey"
        p.write_text(str(ident) + "\n")
        out[tool] = p
    (d / "empty.sops.yaml").write_text("")
    out["config"] = d / "empty.sops.yaml"
    return out


@SOPS
@given(injgen.world())
def test_sealed_secrets_decrypt_with_sops_to_the_input_bytes(key_files, w):
    regs, clusters, settings_doc = w
    sh.FIGURES["injection_worlds_through_sops"] += 1
    sealed = check_world(regs, clusters, settings_doc)
    # one Secret of each kind per registry and cluster (namespaces repeat the same object)
    seen, sample = set(), []
    for cluster, obj, path in sealed:
        what = (cluster["syncTool"], obj["metadata"]["labels"].get("regops.io/registry"), obj["metadata"]["name"])
        if what not in seen:
            seen.add(what)
            sample.append((cluster, obj, path))
    sealed = sample[:: max(1, len(sample) // 10)]
    with tempfile.TemporaryDirectory() as tmp:
        jobs = []
        for i, (cluster, obj, path) in enumerate(sealed):
            f = Path(tmp) / f"{i}.yaml"
            f.write_text(sealing.seal(obj, cluster["recipients"]["age"]), encoding="utf-8")
            jobs.append((cluster, obj, path, f))
        # non-secret objects that carry free text, read back by sops' go-yaml
        plain = []
        for cluster, plan, objects in render_world(regs, clusters, settings_doc):
            for o in objects:
                if o.obj.get("kind") in ("ConfigMap", "HelmRepository") and len(plain) < 4:
                    f = Path(tmp) / f"plain-{len(plain)}.yaml"
                    f.write_text(serialize.dump(o.obj), encoding="utf-8")
                    plain.append((cluster, o.obj, f))

        def decrypt(job):
            cluster, _obj, _path, f = job
            return job, _sops_json(["decrypt", "--output-type", "json", str(f)], key_files[cluster["syncTool"]])

        def reparse(job):
            cluster, _obj, f = job
            args = ["--config", str(key_files["config"]), "encrypt", "--age", cluster["recipients"]["age"][0],
                    "--encrypted-regex", "^never-a-key$", "--input-type", "yaml", "--output-type", "json", str(f)]
            return job, _sops_json(args, None)

        with ThreadPoolExecutor(4) as pool:
            decrypted = list(pool.map(decrypt, jobs))
            reparsed = list(pool.map(reparse, plain))
    for (cluster, obj, path, _), got in decrypted:
        assert got == obj, f"{path}: sops decrypts something else than was sealed"
        injgen.check_object(got, path, regs, cluster, settings_doc)  # each credential equals its input, byte for byte
        sh.FIGURES["injection_secrets_decrypted_by_sops"] += 1
    for (cluster, obj, _), got in reparsed:
        got.pop("sops")
        assert got == obj, "go-yaml reads a non-secret object differently"


@settings(max_examples=int(os.environ.get("REGOPS_QUOTE_EXAMPLES", "2000")), deadline=None)
@given(st.one_of(st.text(), st.text(st.sampled_from(sorted({c for s in injgen.SPECIALS for c in s} | {"a", " "}))), st.lists(st.sampled_from(injgen.SPECIALS)).map("".join)))
def test_quote_round_trips_through_yaml(value):
    sh.FIGURES["quote_values"] += 1
    quoted = rendering.quote(value)
    assert "\n" not in quoted and quoted.startswith('"') and quoted.endswith('"')
    assert yaml.safe_load(quoted) == value
    assert yaml.safe_load(f"k: {quoted}\n") == {"k": value}
    assert yaml.load(f"- {quoted}\n", Loader=yaml.CSafeLoader) == [value]


@pytest.mark.parametrize("template", ["secret.yaml.j2", "configmap.yaml.j2"])
@given(key=injgen.nasty, value=injgen.nasty)
@settings(max_examples=150, deadline=None)
def test_template_keys_and_values_cannot_add_fields(template, key, value):
    """Even keys of data maps (fixed by regops today) are quoted: a hostile key cannot add a field."""
    context = {"name": "n", "namespace": "ns", "registry": "r", "extra_labels": {key: value}, "annotations": {key: value},
               "data": {key: value}, "string_data": {}, "type": "Opaque"}
    obj = rendering.render_template(template, context)
    assert obj["data"] == {key: value}
    assert obj["metadata"]["labels"] == {"app.kubernetes.io/managed-by": "regops", "regops.io/registry": "r", key: value}
    assert set(obj) <= {"apiVersion", "kind", "metadata", "type", "data"}


def test_template_refuses_unquoted_interpolation(tmp_path):
    import jinja2

    env = rendering.environment().overlay(loader=jinja2.DictLoader({"x.j2": "a: {{ v }}\n"}))
    with pytest.raises(rendering.RenderError):
        env.get_template("x.j2").render(v="b\nkind: Secret")


def _gcp_world(key_text: str):
    reg = {"name": "gar", "provider": "artifact-registry", "url": "europe-west1-docker.pkg.dev", "auth": {"serviceAccountKey": key_text},
           "credentialAccess": {"mode": "auto-inject", "clusters": ["*"]}}
    cluster = {"name": "c", "syncTool": "flux", "kubernetesVersion": "1.33", "namespaces": ["ns"],
               "recipients": {"age": [str(injgen.IDENTITIES["flux"].to_public())]}}
    settings_doc = {"apiVersion": "regops.io/v1alpha1", "kind": "Settings", "secretNamePrefix": "regcred-",
                    "chartRefreshInterval": "10m", "ecrRefreshInterval": "1h"}
    return [reg], [cluster], settings_doc


def _pull_password(objects) -> str:
    import base64

    (secret,) = [o.obj for o in objects if o.secret]
    config = json.loads(base64.b64decode(secret["data"][".dockerconfigjson"]))
    return config["auths"]["europe-west1-docker.pkg.dev"]["password"]


def test_gcp_key_with_escaped_lone_surrogate_is_a_clear_error_or_kept():
    key = json.dumps({"type": "service_account", "project_id": "p", "private_key": "k\ud800", "client_email": "e"})
    assert "\\ud800" in key  # valid JSON text (RFC 8259 grammar), ASCII only
    regs, clusters, settings_doc = _gcp_world(key)
    try:
        ((_, _, objects),) = render_world(regs, clusters, settings_doc)
    except rendering.RenderError:
        return  # a clear error is fine
    assert json.loads(_pull_password(objects)) == json.loads(key)


def test_gcp_key_numbers_survive_compaction():
    key = '{"type": "service_account", "project_id": "p", "private_key": "k", "client_email": "e", "n": 1e400}'
    regs, clusters, settings_doc = _gcp_world(key)
    ((_, _, objects),) = render_world(regs, clusters, settings_doc)
    password = _pull_password(objects)

    def strict(text):
        raise ValueError(f"not JSON: {text}")

    json.loads(password, parse_constant=strict)


def test_a_one_megabyte_password_survives_render_seal_and_sops(key_files):
    password = ("p\u2028\"'{{ x }}: #\n---\U0001f600" * 40_000)[:1_000_000]
    regs = [{"name": "rbig-0", "provider": "other", "url": "big.example.com", "auth": {"username": "u", "password": password},
             "credentialAccess": {"mode": "auto-inject", "clusters": ["*"]}}]
    _, clusters, settings_doc = _gcp_world("{}")
    clusters[0]["namespaces"] = ["ns"]
    ((cluster, _, objects),) = render_world(regs, clusters, settings_doc)
    (secret,) = [o for o in objects if o.secret]
    injgen.check_object(secret.obj, secret.path, regs, cluster, settings_doc)
    f = key_files["flux"].parent / "big.yaml"
    f.write_text(sealing.seal(secret.obj, cluster["recipients"]["age"]), encoding="utf-8")
    got = _sops_json(["decrypt", "--output-type", "json", str(f)], key_files["flux"])
    injgen.check_object(got, secret.path, regs, cluster, settings_doc)
