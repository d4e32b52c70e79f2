"""Model of the `kind: Clusters` file (SPEC 1.2)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from ..records import ClusterBehaviour
from .common import ApiVersion, Label, Optional, SopsBlock, Strict, Subdomain


class Recipients(Strict):
    """Who can decrypt this cluster's rendered Secrets."""

    age: list[str] = Field([], description="age recipients (age1...).")


class Cluster(ClusterBehaviour, Strict):
    """A cluster that receives rendered output."""

    name: Label = Field(description="Unique; a DNS-1123 label. Also the output directory of this cluster.")
    syncTool: Literal["flux", "argocd"] = Field(description="flux or argocd: who applies the rendered tree.")
    kubernetesVersion: str = Field(
        pattern=r"^[0-9]+\.[0-9]+(\.[0-9]+)?$",
        description='Kubernetes version, quoted ("1.31"); rendered manifests are validated against its schemas.',
    )
    namespaces: list[Label] = Field(
        min_length=1, description="Namespaces whose workloads pull from the registries."
    )
    serviceAccounts: list[Subdomain] = Field(
        ["default"],
        description="ServiceAccounts patched in each namespace (default [default]).",
    )
    extraImagePullSecrets: list[Subdomain] = Field(
        [],
        description="Pull secrets managed elsewhere that must stay on those ServiceAccounts.",
    )
    recipients: Recipients = Field(description="Who can decrypt this cluster's Secrets; at least one in all.")
    controllerNamespace: Label | Optional = Field(
        None,
        description="Where chart-repository objects go; default flux-system (flux) or argocd (argocd).",
    )
    externalSecrets: bool = Field(
        False, description="External Secrets Operator runs here (needed for ECR user-auth)."
    )



class ClustersFile(Strict):
    """clusters.yaml: the clusters that receive rendered output."""

    apiVersion: ApiVersion
    kind: Literal["Clusters"] = Field(description="Always Clusters.")
    clusters: list[Cluster] = Field(description="The clusters that receive output.")
    sops: SopsBlock | Optional = None
