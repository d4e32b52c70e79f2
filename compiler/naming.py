"""Names of generated objects — one place, used by validation and rendering alike.

SPEC fixes `<prefix><R>` for pull Secrets and `<R>-<P>` for chart repositories;
the helper objects around them (AWS keys, ECR generators, Helm credentials, CA
Secrets) get suffixes here so they can never be confused with a pull Secret.
"""

from __future__ import annotations

import dataclasses

WORKLOAD = "workload"  # every namespace of the cluster
CONTROLLER = "controller"  # the cluster's controllerNamespace


def pull_secret(prefix: str, registry: str) -> str:
    return f"{prefix}{registry}"


def aws_keys_secret(prefix: str, registry: str) -> str:
    return f"{prefix}{registry}-aws"


def ecr_generator(prefix: str, registry: str) -> str:
    return f"{prefix}{registry}-ecr"


def helm_credentials_secret(prefix: str, registry: str) -> str:
    return f"{prefix}{registry}-helm"


def ca_secret(prefix: str, registry: str) -> str:
    return f"{prefix}{registry}-ca"


def chart_repository(registry: str, path: str) -> str:
    # '/' per SPEC 3.3; '_' is legal in OCI paths but not in Kubernetes names.
    return f"{registry}-{path.replace('/', '-').replace('_', '-')}"


def is_ecr_user_auth(reg) -> bool:
    return reg.provider == "ecr" and reg.auth is not None and reg.auth.method != "iam-role"


def pulls_with_own_secret(reg) -> bool:
    """The registry gets a regops-made pull Secret (a SOPS Secret, or an ExternalSecret for ECR)."""
    if not reg.is_private or reg.source != "registry-credentials":
        return False
    if reg.provider == "ecr":
        return is_ecr_user_auth(reg)
    return True


@dataclasses.dataclass(frozen=True)
class GeneratedName:
    scope: str  # WORKLOAD or CONTROLLER
    kind: str
    name: str
    what: str  # a few words for error messages


def generated(reg, sync_tool: str, prefix: str) -> list[GeneratedName]:
    """Every object name `reg` produces in a cluster of `sync_tool` it is available to."""
    out: list[GeneratedName] = []
    if pulls_with_own_secret(reg):
        out.append(GeneratedName(WORKLOAD, "Secret", pull_secret(prefix, reg.name), "pull Secret"))
        if reg.provider == "ecr":
            out.append(GeneratedName(WORKLOAD, "ExternalSecret", pull_secret(prefix, reg.name), "ECR ExternalSecret"))
            out.append(GeneratedName(WORKLOAD, "Secret", aws_keys_secret(prefix, reg.name), "AWS keys Secret"))
            out.append(GeneratedName(WORKLOAD, "ECRAuthorizationToken", ecr_generator(prefix, reg.name), "ECR token generator"))
    if reg.useAsChartRepository:
        out.extend(_chart_names(reg, sync_tool, prefix))
    return out


def _chart_names(reg, sync_tool: str, prefix: str) -> list[GeneratedName]:
    out: list[GeneratedName] = []
    private = reg.is_private and reg.auth is not None
    ecr = reg.provider == "ecr"
    if sync_tool == "flux":
        for path in reg.chartRepositories:
            out.append(GeneratedName(CONTROLLER, "HelmRepository", chart_repository(reg.name, path), f"HelmRepository for {path}"))
        if private and not (ecr and reg.auth.method == "iam-role"):
            out.append(GeneratedName(CONTROLLER, "Secret", helm_credentials_secret(prefix, reg.name), "Helm credentials Secret"))
            if ecr:
                out.append(GeneratedName(CONTROLLER, "ExternalSecret", helm_credentials_secret(prefix, reg.name), "ECR ExternalSecret"))
        if reg.effective_connection == "secure-with-ca":
            out.append(GeneratedName(CONTROLLER, "Secret", ca_secret(prefix, reg.name), "CA Secret"))
    else:
        for path in reg.chartRepositories:
            name = chart_repository(reg.name, path)
            out.append(GeneratedName(CONTROLLER, "Secret", name, f"Argo CD repository Secret for {path}"))
            if ecr:
                out.append(GeneratedName(CONTROLLER, "ExternalSecret", name, f"ECR ExternalSecret for {path}"))
    if ecr and private:
        if sync_tool == "argocd" or reg.auth.method != "iam-role":
            out.append(GeneratedName(CONTROLLER, "ECRAuthorizationToken", ecr_generator(prefix, reg.name), "ECR token generator"))
        if reg.auth.method != "iam-role":
            out.append(GeneratedName(CONTROLLER, "Secret", aws_keys_secret(prefix, reg.name), "AWS keys Secret"))
    return out
