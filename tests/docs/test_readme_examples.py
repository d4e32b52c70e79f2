"""Every example in README.md runs, or is checked, as written.

Shell blocks marked `<!-- test: STAGE -->` run with bash against the installed
regops and the real sops binary, in a temporary workspace; the stages of the
walk-through (quick start, then the rotations) share that workspace, its
working directory and its exported variables, as a reader's shell would.
After each stage the workspace is checked against what the README says.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pyrage
import pytest
import yaml
from doc_readme import EXAMPLE_LANGUAGES, README, ROOT, blocks, stage_text

from compiler.sopsbin import sops_binary_path

BIN = Path(sys.executable).parent
WALKTHROUGH = ("quickstart", "rotate-credential", "rotate-cluster-key", "rotate-config-key")
# Stages checked by their own test below; the walk-through's by CHECKS.
OWN_TESTS = ("keys-pyrage", "flux-age-secret", "demo-decrypt", "provider", "pre-commit", "modeline")

pytestmark = pytest.mark.skipif(not (BIN / "regops").exists() or not (BIN / "sops").exists(), reason="needs regops and sops installed in this venv")


# --- helpers ------------------------------------------------------------------


AGE_KEYGEN_SHIM = f"""#!{sys.executable}
# age-keygen for machines without the age package: the same files, made with pyrage.
import os, sys, pyrage
args = sys.argv[1:]
if args[:1] == ["-y"]:
    lines = open(args[1]).read().split()
    key = next(w for w in lines if w.startswith("AGE-SECRET-KEY-"))
    print(pyrage.x25519.Identity.from_str(key).to_public())
elif args[:1] == ["-o"] and len(args) == 2:
    k = pyrage.x25519.Identity.generate()
    fd = os.open(args[1], os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.write(fd, f"# public key: {{k.to_public()}}\\n{{k}}\\n".encode())
    os.close(fd)
    print(f"Public key: {{k.to_public()}}", file=sys.stderr)
else:
    sys.exit("age-keygen shim: only -o FILE and -y FILE")
"""


def environment(ws: Path) -> dict[str, str]:
    """A reader's shell: regops and sops on PATH, age-keygen (or a pyrage stand-in), no keys of ours."""
    home = ws / "home"
    home.mkdir(exist_ok=True)
    path = [str(BIN)]
    if shutil.which("age-keygen") is None:
        shim = ws / "shim"
        shim.mkdir(exist_ok=True)
        (shim / "age-keygen").write_text(AGE_KEYGEN_SHIM)
        (shim / "age-keygen").chmod(0o755)
        path.append(str(shim))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SOPS_", "GIT_", "REGOPS_"))}
    env.update(
        PATH=os.pathsep.join(path + [os.environ.get("PATH", "/usr/bin:/bin")]),
        HOME=str(home),
        XDG_CONFIG_HOME=str(home / ".config"),
        XDG_CACHE_HOME=str(ws / "cache"),
        SOPS_DISABLE_VERSION_CHECK="1",
        GIT_AUTHOR_NAME="Reader",
        GIT_AUTHOR_EMAIL="reader@example.invalid",
        GIT_COMMITTER_NAME="Reader",
        GIT_COMMITTER_EMAIL="reader@example.invalid",
        GIT_CONFIG_NOSYSTEM="1",
        KUBECONFIG=str(ws / "no-kubeconfig"),  # never a real cluster
    )
    env.pop("EDITOR", None)
    env.pop("VISUAL", None)
    return env


def run_stage(ws: Path, stage: str, *, cwd: Path | None = None, prelude: str = "") -> subprocess.CompletedProcess:
    """Run one stage's blocks with bash; cwd and exported variables carry over to the next stage."""
    script = stage_text(stage)
    assert script.strip(), f"README.md has no block marked <!-- test: {stage} -->"
    state = ws / ".stage"
    state.mkdir(exist_ok=True)
    start = cwd or ws
    prologue = textwrap.dedent(
        f"""\
        set -euo pipefail
        if [ -f '{state}/env' ]; then . '{state}/env'; fi
        cd "$(cat '{state}/cwd' 2>/dev/null || echo '{start}')"
        trap 'export -p > "{state}/env"; pwd > "{state}/cwd"' EXIT
        """
    ) + prelude
    proc = subprocess.run(["bash", "-c", prologue + script], cwd=start, env=environment(ws), check=False, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, f"README stage {stage!r} failed (exit {proc.returncode})\n--- script\n{script}\n--- stdout\n{proc.stdout}\n--- stderr\n{proc.stderr}"
    return proc


def snapshot(root: Path) -> dict[str, str]:
    """sha256 of every file Git would show (tracked or new; ignored files are regops' local business)."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=root, capture_output=True, text=True, check=True
    ).stdout.split("\0")
    return {rel: hashlib.sha256((root / rel).read_bytes()).hexdigest() for rel in sorted(filter(None, listed)) if (root / rel).is_file()}


def changed(before: dict[str, str], after: dict[str, str]) -> set[str]:
    return {p for p in before.keys() | after.keys() if before.get(p) != after.get(p)}


def decrypt(path: Path, key: Path) -> subprocess.CompletedProcess:
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(key.parent), "SOPS_DISABLE_VERSION_CHECK": "1", "SOPS_AGE_KEY_FILE": str(key)}
    return subprocess.run([sops_binary_path(), "decrypt", str(path)], env=env, check=False, capture_output=True, text=True, timeout=60)


def opened(path: Path, key: Path) -> dict:
    proc = decrypt(path, key)
    assert proc.returncode == 0, f"{path.name} does not open with {key.name}"
    return yaml.safe_load(proc.stdout)


def auths(secret: dict) -> dict:
    return json.loads(base64.b64decode(secret["data"][".dockerconfigjson"]))["auths"]


def public_key(key_file: Path) -> str:
    secret = next(w for w in key_file.read_text().split() if w.startswith("AGE-SECRET-KEY-"))
    return str(pyrage.x25519.Identity.from_str(secret).to_public())


# --- every example is marked ----------------------------------------------------


def test_every_example_block_is_marked_and_known():
    found = blocks()
    examples = [b for b in found if b.lang in EXAMPLE_LANGUAGES]
    assert len(examples) >= 10
    unmarked = [f"README.md:{b.line} ({b.lang})" for b in examples if b.stage is None and b.untested is None]
    assert not unmarked, f"README examples without <!-- test: ... --> or <!-- not tested: ... -->: {unmarked}"
    stages = {b.stage for b in found if b.stage}
    unknown = stages - set(WALKTHROUGH) - set(OWN_TESTS)
    assert not unknown, f"README marks stages no test runs: {sorted(unknown)}"
    assert stages == set(WALKTHROUGH) | set(OWN_TESTS), f"stages missing from README.md: {sorted(set(WALKTHROUGH) | set(OWN_TESTS) - stages)}"
    untested_shell = [b for b in examples if b.untested and b.lang in ("sh", "bash")]
    # Only a few things cannot run here (a cluster, the suite itself, installing): keep it that way.
    assert len(untested_shell) <= 3, [b.line for b in untested_shell]


def test_marker_parser_reads_markers_and_fences():
    text = "x\n<!-- test: one -->\n\n```sh\necho a\n```\n<!-- not tested: why -->\n  ```yaml\n  k: v\n  ```\n```\nplain\n```\n"
    got = blocks(text)
    assert [(b.lang, b.stage, b.untested, b.text) for b in got] == [
        ("sh", "one", None, "echo a\n"),
        ("yaml", None, "why", "k: v\n"),
        ("", None, None, "plain\n"),
    ]


# --- the walk-through: quick start, then rotations ------------------------------------


def check_quickstart(ws: Path, proc, before) -> None:
    cfg, keys = ws / "my-config", ws / "keys"
    registries = yaml.safe_load((cfg / "registries.yaml").read_text())
    auth = registries["registries"][0]["auth"]
    assert auth["username"] == "acme-bot"
    assert auth["password"].startswith("ENC[AES256_GCM,")
    assert "dckr_pat_not_a_real_token" not in (cfg / "registries.yaml").read_text()
    # the render summary the README shows, line for line
    (shown,) = [b.text for b in blocks() if b.lang == "" and b.text.startswith("prod: ")]
    assert "rendered: 9 added" in shown
    for line in shown.splitlines():
        assert line in proc.stdout.splitlines(), f"README shows {line!r}; the render printed:\n{proc.stdout}"
    for cluster in ("prod", "staging"):
        for rel in ("kustomization.yaml", "apps/secret-regcred-docker-hub.yaml", "apps/serviceaccount-default.yaml"):
            assert (cfg / "rendered" / cluster / rel).is_file(), f"rendered/{cluster}/{rel}"
        sa = yaml.safe_load((cfg / "rendered" / cluster / "apps/serviceaccount-default.yaml").read_text())
        assert sa["imagePullSecrets"] == [{"name": "regcred-docker-hub"}]
    assert (cfg / "rendered/staging/ksops-secrets.yaml").is_file()
    assert not (cfg / "rendered/prod/ksops-secrets.yaml").exists()
    prod_secret = cfg / "rendered/prod/apps/secret-regcred-docker-hub.yaml"
    entry = auths(opened(prod_secret, keys / "prod.agekey"))["https://index.docker.io/v1/"]
    assert (entry["username"], entry["password"]) == ("acme-bot", "dckr_pat_not_a_real_token")
    assert decrypt(prod_secret, keys / "staging.agekey").returncode != 0
    assert decrypt(prod_secret, keys / "config.agekey").returncode != 0
    assert ".dockerconfigjson:" in proc.stdout  # the README's own decrypt command printed it
    status = subprocess.run(["git", "status", "--porcelain"], cwd=cfg, capture_output=True, text=True, check=True)
    assert status.stdout == ""
    assert not any(p.startswith("keys") for p in snapshot(cfg)), "no key inside the config repository"


def check_rotate_credential(ws: Path, proc, before) -> None:
    cfg, keys = ws / "my-config", ws / "keys"
    delta = changed(before, snapshot(cfg))
    assert delta == {
        "registries.yaml",
        "rendered/prod/apps/secret-regcred-docker-hub.yaml",
        "rendered/prod/.regops-state.json",
        "rendered/staging/apps/secret-regcred-docker-hub.yaml",
        "rendered/staging/.regops-state.json",
    }
    assert sorted(line.split()[-1] for line in proc.stdout.splitlines() if line.startswith(" M ")) == sorted(delta)
    for cluster in ("prod", "staging"):
        secret = opened(cfg / f"rendered/{cluster}/apps/secret-regcred-docker-hub.yaml", keys / f"{cluster}.agekey")
        assert auths(secret)["https://index.docker.io/v1/"]["password"] == "dckr_pat_rotated_example"
    assert "dckr_pat_rotated_example" not in (cfg / "registries.yaml").read_text()


def check_rotate_cluster_key(ws: Path, proc, before) -> None:
    cfg, keys = ws / "my-config", ws / "keys"
    assert changed(before, snapshot(cfg)) == {
        "clusters.yaml",
        "rendered/prod/apps/secret-regcred-docker-hub.yaml",
        "rendered/prod/.regops-state.json",
    }
    clusters = yaml.safe_load((cfg / "clusters.yaml").read_text())["clusters"]
    assert clusters[0]["recipients"]["age"] == [public_key(keys / "prod-2.agekey")]
    secret = cfg / "rendered/prod/apps/secret-regcred-docker-hub.yaml"
    assert opened(secret, keys / "prod-2.agekey")["type"] == "kubernetes.io/dockerconfigjson"
    assert decrypt(secret, keys / "prod.agekey").returncode != 0
    both = ws / "both.agekey"  # the README: one key file may hold both keys
    both.write_text((keys / "prod.agekey").read_text() + (keys / "prod-2.agekey").read_text())
    assert decrypt(secret, both).returncode == 0


def check_rotate_config_key(ws: Path, proc, before) -> None:
    cfg, keys = ws / "my-config", ws / "keys"
    assert changed(before, snapshot(cfg)) == {
        ".sops.yaml",
        "registries.yaml",
        "rendered/.regops-key.yaml",
        "rendered/.regops-state.json",
    }
    assert "rendered: up to date" in proc.stdout
    assert opened(cfg / "registries.yaml", keys / "config-2.agekey")["registries"][0]["auth"]["password"] == "dckr_pat_rotated_example"
    assert decrypt(cfg / "registries.yaml", keys / "config.agekey").returncode != 0
    assert decrypt(cfg / "rendered/.regops-key.yaml", keys / "config-2.agekey").returncode == 0
    assert decrypt(cfg / "rendered/.regops-key.yaml", keys / "config.agekey").returncode != 0
    # "If the old key is already gone, delete rendered/.regops-key.yaml": a new one, every Secret re-encrypted once
    before = snapshot(cfg)
    (cfg / "rendered/.regops-key.yaml").unlink()
    env = environment(ws) | {"SOPS_AGE_KEY_FILE": str(keys / "config-2.agekey")}
    again = subprocess.run([str(BIN / "regops"), "render"], cwd=cfg, env=env, check=False, capture_output=True, text=True)
    assert again.returncode == 0, again.stdout + again.stderr
    rewritten = changed(before, snapshot(cfg))
    secrets = {p for p in before if "/apps/secret-" in p}
    assert secrets and secrets <= rewritten and "rendered/.regops-key.yaml" in rewritten


CHECKS = {
    "quickstart": check_quickstart,
    "rotate-credential": check_rotate_credential,
    "rotate-cluster-key": check_rotate_cluster_key,
    "rotate-config-key": check_rotate_config_key,
}


def test_walkthrough_runs_as_written(tmp_path):
    """regops init → edit → sops encrypt → validate → render, then every rotation, exactly as the README says."""
    subprocess.run([str(BIN / "regops"), "init", "--help"], check=True, capture_output=True)
    assert set(CHECKS) == set(WALKTHROUGH)
    for stage in WALKTHROUGH:
        cfg = tmp_path / "my-config"
        before = snapshot(cfg) if cfg.is_dir() else {}
        proc = run_stage(tmp_path, stage)
        CHECKS[stage](tmp_path, proc, before)


# --- keys with pyrage, the demo, the provider snippets, the YAML examples -------------


def test_pyrage_key_generation_as_written(tmp_path):
    proc = run_stage(tmp_path, "keys-pyrage")
    for name in ("config", "prod", "staging"):
        key = tmp_path / "keys" / f"{name}.agekey"
        assert stat.S_IMODE(key.stat().st_mode) == 0o600, f"{key.name} must be private"
        comment = next(line for line in key.read_text().splitlines() if line.startswith("# public key: "))
        assert comment.removeprefix("# public key: ") == public_key(key)
    assert proc.stdout.strip() == public_key(tmp_path / "keys" / "config.agekey")
    if shutil.which("age-keygen"):
        # the files are what age-keygen itself reads
        real = subprocess.run(["age-keygen", "-y", str(tmp_path / "keys/prod.agekey")], capture_output=True, text=True, check=True)
        assert real.stdout.strip() == public_key(tmp_path / "keys/prod.agekey")


def test_age_keygen_stand_in_matches_age_keygen(tmp_path):
    """The stand-in the walk-through uses where age is not installed behaves like age-keygen."""
    shim = tmp_path / "age-keygen"
    shim.write_text(AGE_KEYGEN_SHIM)
    shim.chmod(0o755)
    made = subprocess.run([str(shim), "-o", str(tmp_path / "k.agekey")], capture_output=True, text=True, check=True)
    printed = subprocess.run([str(shim), "-y", str(tmp_path / "k.agekey")], capture_output=True, text=True, check=True).stdout.strip()
    assert made.stderr.strip() == f"Public key: {printed}" and printed == public_key(tmp_path / "k.agekey")
    assert subprocess.run([str(shim), "-o", str(tmp_path / "k.agekey")], check=False, capture_output=True).returncode != 0, "never overwrites a key"
    if shutil.which("age-keygen"):
        real = subprocess.run(["age-keygen", "-y", str(tmp_path / "k.agekey")], capture_output=True, text=True, check=True)
        assert real.stdout.strip() == printed


def test_flux_age_secret_command_builds_the_secret_it_says(tmp_path):
    """Everything up to `kubectl apply` runs for real (client side); what would be applied is checked."""
    if shutil.which("kubectl") is None:
        pytest.skip("kubectl is not installed")
    keys = tmp_path / "keys"
    keys.mkdir()
    for name in ("prod", "prod-2"):
        identity = pyrage.x25519.Identity.generate()
        (keys / f"{name}.agekey").write_text(f"# public key: {identity.to_public()}\n{identity}\n")
    (tmp_path / "my-config").mkdir()
    applied = tmp_path / "applied.yaml"
    # `kubectl apply` needs a cluster: it is the one call replaced, by a capture of its input.
    prelude = f'kubectl() {{ if [ "$1" = apply ]; then cat > "{applied}"; else command kubectl "$@"; fi; }}\n'
    run_stage(tmp_path, "flux-age-secret", cwd=tmp_path / "my-config", prelude=prelude)
    secret = yaml.safe_load(applied.read_text())
    assert (secret["kind"], secret["metadata"]["name"], secret["metadata"]["namespace"]) == ("Secret", "sops-age", "flux-system")
    assert sorted(secret["data"]) == ["prod-2.agekey", "prod.agekey"]
    for name, value in secret["data"].items():
        assert base64.b64decode(value).decode() == (keys / name).read_text()


def test_demo_decrypt_command_as_written(tmp_path):
    if not (ROOT / ".venv/bin/sops").exists():
        pytest.skip("the README's demo command uses the repository's .venv")
    proc = run_stage(tmp_path, "demo-decrypt", cwd=ROOT)
    secret = yaml.safe_load(proc.stdout)
    assert secret["type"] == "kubernetes.io/dockerconfigjson" and "sops" not in secret
    assert "https://index.docker.io/v1/" in auths(secret)


def provider_snippets() -> list[str]:
    return [b.text for b in blocks() if b.stage == "provider"]


def _pull_auth(root: Path, cluster: str, registry: str, key: Path) -> dict:
    (entry,) = auths(opened(root / cluster / "apps" / f"secret-regcred-{registry}.yaml", key)).values()
    return entry


def test_provider_snippets_encrypt_validate_and_render_as_described(tmp_path):
    snippets = provider_snippets()
    assert len(snippets) >= 7
    items = [item for s in snippets for item in yaml.safe_load(s)]
    assert all(isinstance(i, dict) and "name" in i for i in items)
    keys = {}
    for name in ("config", "flux", "argo", "argo-old"):
        identity = pyrage.x25519.Identity.generate()
        keys[name] = tmp_path / f"{name}.agekey"
        keys[name].write_text(f"{identity}\n")
        keys[name].chmod(0o600)
    cfg = tmp_path / "config"
    cfg.mkdir()
    body = "".join(textwrap.indent(s, "  ") for s in snippets)  # as written: block scalars, comments and all
    (cfg / "registries.yaml").write_text(f"apiVersion: regops.io/v1alpha1\nkind: Registries\nregistries:\n{body}")
    (cfg / "clusters.yaml").write_text(
        textwrap.dedent(
            f"""\
            apiVersion: regops.io/v1alpha1
            kind: Clusters
            clusters:
              - {{name: flux-1, syncTool: flux, kubernetesVersion: "1.31", namespaces: [apps], externalSecrets: true, recipients: {{age: [{public_key(keys['flux'])}]}}}}
              - {{name: argo-1, syncTool: argocd, kubernetesVersion: "1.31", namespaces: [apps], externalSecrets: true, recipients: {{age: [{public_key(keys['argo'])}, {public_key(keys['argo-old'])}]}}}}
            """
        )
    )
    from compiler.schema_check import SECRET_FIELD_REGEX

    (cfg / ".sops.yaml").write_text(
        f"creation_rules:\n  - path_regex: registries\\.yaml$\n    encrypted_regex: '{SECRET_FIELD_REGEX}'\n    age: {public_key(keys['config'])}\n"
    )
    env = environment(tmp_path)
    subprocess.run([str(BIN / "sops"), "encrypt", "-i", "registries.yaml"], cwd=cfg, env=env, check=True, capture_output=True)
    validated = subprocess.run([str(BIN / "regops"), "validate", "--config", str(cfg)], env=env, check=False, capture_output=True, text=True)
    assert validated.returncode == 0 and "0 errors, 0 warnings" in validated.stdout, validated.stdout
    env["SOPS_AGE_KEY_FILE"] = str(keys["config"])
    rendered = subprocess.run([str(BIN / "regops"), "render", "--config", str(cfg)], env=env, check=False, capture_output=True, text=True)
    assert rendered.returncode == 0, rendered.stdout + rendered.stderr
    out = cfg / "rendered"
    by_name = {i["name"]: i for i in items}

    def load(rel: str) -> dict:
        return yaml.safe_load((out / rel).read_text())

    def check_docker_hub():
        entry = auths(opened(out / "flux-1/apps/secret-regcred-docker-hub.yaml", keys["flux"]))["https://index.docker.io/v1/"]
        assert entry["username"] == "acme-bot"
        repo = load("flux-1/flux-system/helmrepository-docker-hub-acme-charts.yaml")["spec"]
        assert repo["url"] == "oci://registry-1.docker.io/acme/charts" and repo["secretRef"] == {"name": "regcred-docker-hub-helm"}
        helm = opened(out / "flux-1/flux-system/secret-regcred-docker-hub-helm.yaml", keys["flux"])
        assert helm["type"] == "Opaque" and sorted(helm["data"]) == ["password", "username"]

    def check_ecr_prod():
        assert not (out / "flux-1/apps/secret-regcred-ecr-prod.yaml").exists(), "no static ECR token"
        gen = load("flux-1/apps/ecrauthorizationtoken-regcred-ecr-prod-ecr.yaml")
        assert gen["apiVersion"] == "generators.external-secrets.io/v1alpha1" and gen["spec"]["region"] == "eu-west-1"
        assert gen["spec"]["auth"]["secretRef"]["accessKeyIDSecretRef"]["name"] == "regcred-ecr-prod-aws"
        es = load("flux-1/apps/externalsecret-regcred-ecr-prod.yaml")
        assert es["apiVersion"] == "external-secrets.io/v1" and es["spec"]["refreshInterval"] == "1h"
        assert es["spec"]["target"]["name"] == "regcred-ecr-prod"
        assert es["spec"]["target"]["template"]["type"] == "kubernetes.io/dockerconfigjson"
        aws = opened(out / "flux-1/apps/secret-regcred-ecr-prod-aws.yaml", keys["flux"])
        assert base64.b64decode(aws["data"]["access-key-id"]).decode() == "AKIAIOSFODNN7EXAMPLE"
        assert load("flux-1/flux-system/externalsecret-regcred-ecr-prod-helm.yaml")["spec"]["target"]["name"] == "regcred-ecr-prod-helm"
        argo = load("argo-1/argocd/externalsecret-ecr-prod-charts-platform.yaml")["spec"]["target"]["template"]
        assert argo["metadata"]["labels"] == {"argocd.argoproj.io/secret-type": "repository"}

    def check_ecr_nodes():
        touched = [p for p in out.rglob("*.yaml") if "ecr-nodes" in p.name]
        assert touched == [], "iam-role renders nothing for images"

    def check_acr_prod():
        entry = _pull_auth(out, "flux-1", "acr-prod", keys["flux"])
        assert entry["username"] == "00000000-0000-0000-0000-000000000000"
        assert "acmeprod.azurecr.io" in auths(opened(out / "flux-1/apps/secret-regcred-acr-prod.yaml", keys["flux"]))

    def check_gar_europe():
        entry = auths(opened(out / "flux-1/apps/secret-regcred-gar-europe.yaml", keys["flux"]))["europe-west1-docker.pkg.dev"]
        pasted = by_name["gar-europe"]["auth"]["serviceAccountKey"]
        assert "\n" in pasted and "  " in pasted  # the snippet really is indented, multi-line JSON
        assert entry["username"] == "_json_key"
        assert entry["password"] == json.dumps(json.loads(pasted), separators=(",", ":"))

    def check_quay_acme():
        entry = auths(opened(out / "flux-1/apps/secret-regcred-quay-acme.yaml", keys["flux"]))["quay.io"]
        assert (entry["username"], entry["password"]) == ("acme+deploy", "not-a-real-robot-token")

    def check_harbor():
        pem = by_name["harbor"]["caCertificate"]
        ca = opened(out / "flux-1/flux-system/secret-regcred-harbor-ca.yaml", keys["flux"])
        assert base64.b64decode(ca["data"]["ca.crt"]).decode().strip() == pem.strip()
        assert load("flux-1/flux-system/helmrepository-harbor-library-charts.yaml")["spec"]["certSecretRef"] == {"name": "regcred-harbor-ca"}
        tls = load("argo-1/argocd/configmap-argocd-tls-certs-cm.yaml")
        assert tls["data"]["harbor.acme.internal"].strip() == pem.strip()

    def check_nexus_dev():
        assert load("flux-1/flux-system/helmrepository-nexus-dev-helm.yaml")["spec"]["insecure"] is True
        repo = opened(out / "argo-1/argocd/secret-nexus-dev-helm.yaml", keys["argo"])
        assert repo["stringData"]["insecure"] == "true" and repo["stringData"]["url"] == "nexus.dev.acme.internal:5000/helm"

    def check_artifactory_mirror():
        assert not list(out.rglob("*artifactory-mirror*"))

    # two recipients (README: rotating a cluster key): each key opens the cluster's Secrets, no other key does
    for key in ("argo", "argo-old"):
        assert decrypt(out / "argo-1/apps/secret-regcred-quay-acme.yaml", keys[key]).returncode == 0
    assert decrypt(out / "argo-1/apps/secret-regcred-quay-acme.yaml", keys["flux"]).returncode != 0

    def check_ghcr_public():
        assert "secretRef" not in load("flux-1/flux-system/helmrepository-ghcr-public-stefanprodan-charts.yaml")["spec"]
        repo = opened(out / "argo-1/argocd/secret-ghcr-public-stefanprodan-charts.yaml", keys["argo"])
        assert repo["stringData"]["enableOCI"] == "true" and "username" not in repo["stringData"]

    checks = {
        "docker-hub": check_docker_hub,
        "ecr-prod": check_ecr_prod,
        "ecr-nodes": check_ecr_nodes,
        "acr-prod": check_acr_prod,
        "gar-europe": check_gar_europe,
        "quay-acme": check_quay_acme,
        "harbor": check_harbor,
        "nexus-dev": check_nexus_dev,
        "artifactory-mirror": check_artifactory_mirror,
        "ghcr-public": check_ghcr_public,
    }
    assert set(checks) == set(by_name), "every README provider snippet needs its check here"
    for check in checks.values():
        check()
    # ServiceAccounts: every pull Secret and the existing one; nothing for ECR iam-role or public
    for cluster in ("flux-1", "argo-1"):
        names = [e["name"] for e in load(f"{cluster}/apps/serviceaccount-default.yaml")["imagePullSecrets"]]
        assert names == sorted(
            ["artifactory-pull", "regcred-acr-prod", "regcred-docker-hub", "regcred-ecr-prod", "regcred-gar-europe", "regcred-harbor", "regcred-nexus-dev", "regcred-quay-acme"]
        )


def test_pre_commit_example_names_real_hooks():
    (block,) = [b for b in blocks() if b.stage == "pre-commit"]
    config = yaml.safe_load(block.text)
    offered = {h["id"]: h for h in yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())}
    used = [h for repo in config["repos"] for h in repo["hooks"]]
    assert {h["id"] for h in used} == {"regops-validate", "regops-render-check"} <= set(offered)
    from compiler.cli import cli

    for hook in used:
        command = offered[hook["id"]]["entry"].split()[1]
        options = {o for p in cli.commands[command].params for o in p.opts}
        flags = [a for a in hook.get("args", []) if a.startswith("-")]
        assert set(flags) <= options, f"{hook['id']}: {flags} are not options of regops {command}"


def test_modeline_example_points_at_a_shipped_schema():
    (block,) = [b for b in blocks() if b.stage == "modeline"]
    url = block.text.split("$schema=", 1)[1].strip()
    assert (ROOT / "schemas" / url.rsplit("/", 1)[-1]).is_file()
    assert url.rsplit("/", 2)[-2] == "schemas"


def test_links_resolve():
    """Every #anchor names a heading (GitHub's slugs) and every relative link a file of the repository."""
    import re

    text = README.read_text(encoding="utf-8")
    prose = re.sub(r"```.*?```", "", text, flags=re.DOTALL)
    slugs = {re.sub(r"[^\w\- ]", "", h.strip().lower()).replace(" ", "-") for h in re.findall(r"^#{1,6} (.+)$", prose, flags=re.MULTILINE)}
    targets = re.findall(r"\]\(([^)\s]+)\)", prose)
    assert len(targets) > 10
    for target in targets:
        if target.startswith("#"):
            assert target[1:] in slugs, f"README link {target} names no heading"
        elif not re.match(r"^[a-z]+://", target):
            assert (ROOT / target.split("#", 1)[0]).exists(), f"README link {target} names no file"
