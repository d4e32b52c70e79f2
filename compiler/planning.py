"""Which registry reaches which cluster, namespace and ServiceAccount, and by what (SPEC 3.1–3.4).

Pure: no I/O and no secrets. The plan names every object a render will
produce (an Intent each) and every way a registry reaches a ServiceAccount (a
Reach each), so `regops plan` can show it to a reviewer and the renderer only
has to fill templates.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from . import naming, providers
from .access import selects
from .providers.ecr import parse_host

# Mechanisms, as `regops plan` names them.
PULL_SECRET = "pull-secret"
EXISTING_PULL_SECRET = "existing-pull-secret"
EXTERNAL_SECRETS = "external-secrets"
NODE_IAM_ROLE = "node-iam-role"
CHART_REPOSITORY = "chart-repository"
SERVICE_ACCOUNT = "service-account"
CA_BUNDLE = "ca-bundle"
EXTRA_PULL_SECRET = "extra-pull-secret"

MANAGED_BY = "regops"


@dataclasses.dataclass(frozen=True)
class Intent:
    """One object a render will write."""

    namespace: str
    kind: str
    name: str
    template: str  # templates/<template>.yaml.j2
    mechanism: str
    registry: str | None
    params: Mapping[str, Any]  # non-secret template values
    secret: bool = False  # a Secret: sealed for the cluster's recipients

    @property
    def path(self) -> str:
        """File of this object inside the cluster's directory."""
        return f"{self.namespace}/{self.kind.lower()}-{self.name}.yaml"


@dataclasses.dataclass(frozen=True)
class Reach:
    """Registry R reaches ServiceAccount S in namespace N through a mechanism."""

    registry: str
    namespace: str
    service_account: str | None
    mechanism: str
    via: str | None  # the pull Secret's name, where there is one


@dataclasses.dataclass(frozen=True)
class ClusterPlan:
    cluster: str
    sync_tool: str
    kubernetes_version: str
    recipients: tuple[str, ...]
    intents: tuple[Intent, ...]
    reaches: tuple[Reach, ...]
    registries: tuple[str, ...]  # names of the registries available here


def host(reg) -> str:
    return providers.host_of(reg.provider, reg.url) or ""


def plan_cluster(cluster, registries: list, settings, available: list | None = None) -> ClusterPlan:
    """The plan of one cluster. `registries` and `cluster` are records or models.

    `available`, when the caller already knows it, is the sublist of
    `registries` available to the cluster (a fleet computes it once per registry).
    """
    prefix = settings.secretNamePrefix
    if available is None:
        available = [r for r in registries if selects(r.credentialAccess, cluster.name)]
    intents: list[Intent] = []
    reaches: list[Reach] = []
    pull_names: set[str] = set(cluster.extraImagePullSecrets)

    for reg in available:
        names = _workload(reg, cluster, prefix, settings, intents, reaches)
        pull_names.update(names)

    for ns in cluster.namespaces:
        for sa in cluster.serviceAccounts:
            intents.append(
                Intent(
                    namespace=ns,
                    kind="ServiceAccount",
                    name=sa,
                    template="serviceaccount",
                    mechanism=SERVICE_ACCOUNT,
                    registry=None,
                    params={"pull_secrets": sorted(pull_names)},
                )
            )
    for name in cluster.extraImagePullSecrets:
        for ns in cluster.namespaces:
            for sa in cluster.serviceAccounts:
                reaches.append(Reach("", ns, sa, EXTRA_PULL_SECRET, name))

    charts = [r for r in available if r.useAsChartRepository]
    controller = cluster.controller_namespace
    for reg in charts:
        if cluster.syncTool == "flux":
            _flux_charts(reg, controller, prefix, settings, intents, reaches)
        else:
            _argocd_charts(reg, controller, prefix, settings, intents, reaches)
    if cluster.syncTool == "argocd":
        _argocd_tls(charts, controller, intents)

    # A controller namespace that is also a workload namespace may get the same
    # ECR helper objects twice; identical intents are one object.
    unique = {(i.path, i.template, repr(sorted(i.params.items()))): i for i in intents}
    intents = sorted(unique.values(), key=lambda i: i.path)
    return ClusterPlan(
        cluster=cluster.name,
        sync_tool=cluster.syncTool,
        kubernetes_version=cluster.kubernetesVersion,
        recipients=tuple(cluster.recipients.age),
        intents=tuple(intents),
        reaches=tuple(reaches),
        registries=tuple(sorted(r.name for r in available)),
    )


def _workload(reg, cluster, prefix, settings, intents, reaches) -> list[str]:
    """Pull access in every namespace; returns the Secret names to put on ServiceAccounts."""
    if not reg.is_private:
        return []
    if reg.source == "image-pull-secret":
        names = reg.credentialAccess.pull_secret_names
        for ns in cluster.namespaces:
            for sa in cluster.serviceAccounts:
                for n in names:
                    reaches.append(Reach(reg.name, ns, sa, EXISTING_PULL_SECRET, n))
        return list(names)
    if reg.provider == "ecr" and not naming.is_ecr_user_auth(reg):
        for ns in cluster.namespaces:
            reaches.append(Reach(reg.name, ns, None, NODE_IAM_ROLE, None))
        return []
    name = naming.pull_secret(prefix, reg.name)
    for ns in cluster.namespaces:
        if reg.provider == "ecr":
            _ecr_objects(reg, ns, prefix, intents)
            intents.append(
                Intent(
                    namespace=ns,
                    kind="ExternalSecret",
                    name=name,
                    template="ecr-externalsecret-pull",
                    mechanism=EXTERNAL_SECRETS,
                    registry=reg.name,
                    params={
                        "generator": naming.ecr_generator(prefix, reg.name),
                        "server": host(reg),
                        "refresh": settings.ecrRefreshInterval,
                    },
                )
            )
            mechanism = EXTERNAL_SECRETS
        else:
            intents.append(
                Intent(
                    namespace=ns,
                    kind="Secret",
                    name=name,
                    template="pull-secret",
                    mechanism=PULL_SECRET,
                    registry=reg.name,
                    params={"server": providers.get(reg.provider).docker_server(host(reg))},
                    secret=True,
                )
            )
            mechanism = PULL_SECRET
        for sa in cluster.serviceAccounts:
            reaches.append(Reach(reg.name, ns, sa, mechanism, name))
    return [name]


def _ecr_objects(reg, ns: str, prefix: str, intents: list[Intent]) -> None:
    """The ECRAuthorizationToken generator (and, for user-auth, the AWS keys Secret) in `ns`."""
    region = parse_host(host(reg)).region
    aws = naming.aws_keys_secret(prefix, reg.name) if naming.is_ecr_user_auth(reg) else None
    if aws:
        intents.append(
            Intent(ns, "Secret", aws, "aws-keys-secret", EXTERNAL_SECRETS, reg.name, {}, secret=True)
        )
    intents.append(
        Intent(
            ns,
            "ECRAuthorizationToken",
            naming.ecr_generator(prefix, reg.name),
            "ecr-generator",
            EXTERNAL_SECRETS,
            reg.name,
            {"region": region, "aws_secret": aws},
        )
    )


def chart_url(reg, path: str, *, scheme: bool) -> str:
    h = providers.get(reg.provider).oci_host(host(reg))
    return f"{'oci://' if scheme else ''}{h}/{path}"


def _flux_charts(reg, ns, prefix, settings, intents, reaches) -> None:
    ecr = reg.provider == "ecr"
    private = reg.is_private and reg.auth is not None
    iam_role = ecr and private and reg.auth.method == "iam-role"
    secret_name = naming.helm_credentials_secret(prefix, reg.name) if private and not iam_role else None
    ca_name = naming.ca_secret(prefix, reg.name) if reg.effective_connection == "secure-with-ca" else None
    if secret_name and ecr:
        _ecr_objects(reg, ns, prefix, intents)
        intents.append(
            Intent(
                ns,
                "ExternalSecret",
                secret_name,
                "ecr-externalsecret-helm",
                EXTERNAL_SECRETS,
                reg.name,
                {"generator": naming.ecr_generator(prefix, reg.name), "refresh": settings.ecrRefreshInterval},
            )
        )
    elif secret_name:
        intents.append(Intent(ns, "Secret", secret_name, "helm-credentials-secret", CHART_REPOSITORY, reg.name, {}, secret=True))
    if ca_name:
        intents.append(
            Intent(ns, "Secret", ca_name, "ca-secret", CHART_REPOSITORY, reg.name, {"ca": reg.caCertificate}, secret=True)
        )
    for path in reg.chartRepositories:
        name = naming.chart_repository(reg.name, path)
        intents.append(
            Intent(
                ns,
                "HelmRepository",
                name,
                "flux-helmrepository",
                CHART_REPOSITORY,
                reg.name,
                {
                    "url": chart_url(reg, path, scheme=True),
                    "interval": settings.chartRefreshInterval,
                    "secret": secret_name,
                    "ca_secret": ca_name,
                    "provider": "aws" if iam_role else None,
                    "insecure": reg.effective_connection == "insecure",
                },
            )
        )
        reaches.append(Reach(reg.name, ns, None, CHART_REPOSITORY, name))


def _argocd_charts(reg, ns, prefix, settings, intents, reaches) -> None:
    ecr = reg.provider == "ecr" and reg.is_private and reg.auth is not None
    if ecr:
        _ecr_objects(reg, ns, prefix, intents)
    for path in reg.chartRepositories:
        name = naming.chart_repository(reg.name, path)
        params = {
            "repo_name": name,
            "url": chart_url(reg, path, scheme=False),
            "insecure": reg.effective_connection == "insecure",
        }
        if ecr:
            intents.append(
                Intent(
                    ns,
                    "ExternalSecret",
                    name,
                    "ecr-externalsecret-argocd",
                    EXTERNAL_SECRETS,
                    reg.name,
                    {**params, "generator": naming.ecr_generator(prefix, reg.name), "refresh": settings.ecrRefreshInterval},
                )
            )
        else:
            with_credentials = reg.is_private and reg.auth is not None
            intents.append(
                Intent(ns, "Secret", name, "argocd-repository", CHART_REPOSITORY, reg.name, {**params, "credentials": with_credentials}, secret=True)
            )
        reaches.append(Reach(reg.name, ns, None, CHART_REPOSITORY, name))


ARGOCD_TLS_CM = "argocd-tls-certs-cm"


def _argocd_tls(charts: list, ns: str, intents: list[Intent]) -> None:
    """Argo CD trusts custom CAs from one ConfigMap keyed by hostname (no port)."""
    certs: dict[str, list[str]] = {}
    for reg in charts:
        if reg.effective_connection == "secure-with-ca" and reg.caCertificate:
            hostname = providers.base.split_port(host(reg))[0]
            pem = reg.caCertificate.strip() + "\n"
            if pem not in certs.setdefault(hostname, []):
                certs[hostname].append(pem)
    if certs:
        intents.append(
            Intent(
                ns,
                "ConfigMap",
                ARGOCD_TLS_CM,
                "argocd-tls-certs",
                CA_BUNDLE,
                None,
                {"certs": {h: "".join(pems) for h, pems in sorted(certs.items())}},
            )
        )
