"""`regops render`: validate → decrypt → plan → render → check → seal → write.

The core returns a RenderResult and never prints; the CLI reports it.
"""

from __future__ import annotations

import dataclasses
from fnmatch import fnmatchcase
from pathlib import Path

from .problems import Problem, Severity

RULE = "render"


@dataclasses.dataclass(frozen=True)
class RenderRequest:
    config_dir: Path
    output: Path | None = None
    clusters: tuple[str, ...] = ()
    verbose: bool = False


@dataclasses.dataclass
class ClusterOutput:
    name: str
    files: dict[str, bytes]  # path inside the cluster dir -> bytes
    secrets: int


@dataclasses.dataclass
class RenderResult:
    problems: list[Problem]
    output: Path | None = None
    clusters: list[ClusterOutput] = dataclasses.field(default_factory=list)
    files_checked: int = 0
    registries: list = dataclasses.field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not any(p.severity is Severity.ERROR for p in self.problems)


def build(request: RenderRequest) -> RenderResult:
    """Everything up to the bytes of each file; nothing is written."""
    from .validation import validate_config

    validation = validate_config(request.config_dir)
    if not validation.ok:
        return RenderResult(validation.problems, files_checked=len(validation.files))
    config = validation.config

    from .decryption import decrypt_registries, needs_decryption

    encrypted = [(doc.file, doc.file) for doc in config.registry_docs if needs_decryption(doc)]
    decrypted = decrypt_registries(encrypted, verbose=request.verbose)
    if decrypted.problems:
        return RenderResult(decrypted.problems)

    registries = [loc.model for loc in config.registries]
    clusters = [loc.model for loc in config.clusters]
    if request.clusters:
        clusters = [c for c in clusters if any(fnmatchcase(c.name, g) for g in request.clusters)]
        if not clusters:
            return RenderResult([Problem(str(request.config_dir), 0, 0, Severity.ERROR, f"--cluster {' '.join(request.clusters)} matches no cluster", "", RULE)])

    problems: list[Problem] = []
    outputs = []
    for cluster in clusters:
        out, found = render_one(cluster, registries, config.settings, decrypted.auth)
        problems.extend(found)
        outputs.append(out)
    output = request.output or (request.config_dir / config.settings.output)
    return RenderResult(problems, output, outputs, len(validation.files), registries)


def render_one(cluster, registries, settings, auth) -> tuple[ClusterOutput, list[Problem]]:
    from . import manifests, sealing
    from .planning import plan_cluster
    from .rendering import RenderError, render_cluster
    from .serialize import dump

    plan = plan_cluster(cluster, registries, settings)
    provider_of = {r.name: r.provider for r in registries}
    problems: list[Problem] = []
    try:
        objects = render_cluster(plan, provider_of, auth)
    except RenderError as exc:
        return ClusterOutput(cluster.name, {}, 0), [Problem(cluster.name, 0, 0, Severity.ERROR, f"cluster '{cluster.name}': {exc}", "", RULE)]
    files: dict[str, bytes] = {}
    secrets = 0
    for obj in objects:
        if obj.path != "kustomization.yaml" and not obj.path.endswith("ksops-secrets.yaml"):
            for message in manifests.check(obj.obj, cluster.kubernetesVersion):
                problems.append(Problem(f"{cluster.name}/{obj.path}", 0, 0, Severity.ERROR, f"rendered object is invalid: {message}", "", "manifest"))
        if obj.secret:
            text = sealing.seal(obj.obj, list(plan.recipients))
            secrets += 1
        else:
            text = dump(obj.obj)
        files[obj.path] = text.encode("utf-8")
    return ClusterOutput(cluster.name, files, secrets), problems


def write(result: RenderResult) -> None:
    from .output import carry_over, stage, swap_in

    assert result.output is not None
    files: dict[str, bytes] = {}
    for cluster in result.clusters:
        for rel, content in cluster.files.items():
            files[f"{cluster.name}/{rel}"] = content
    from .catalog import catalog

    files["catalog.json"] = catalog(result.registries).encode("utf-8")
    staging = stage(result.output, files)
    carry_over(result.output, staging, {c.name for c in result.clusters} | {"catalog.json"})
    swap_in(result.output, staging)
