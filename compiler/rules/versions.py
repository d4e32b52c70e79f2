"""kubernetesVersion is one whose schemas kubernetes-validate ships (rendered manifests are checked against it)."""

from __future__ import annotations

from collections.abc import Iterator

from ..kube_versions import minor, shipped
from ..problems import Problem

RULE = "kubernetes-version"


def check(config) -> Iterator[Problem]:
    known = shipped()
    if not known:
        return
    for loc in config.clusters:
        version = loc.model.kubernetesVersion
        if minor(version) not in known:
            yield loc.problem(("kubernetesVersion",), f"kubernetesVersion '{version}' has no schemas in kubernetes-validate; use one of {known[0]} to {known[-1]}", rule=RULE)
