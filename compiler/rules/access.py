"""credentialAccess: globs that select nothing, source/imagePullSecret pairing, public registries without charts."""

from __future__ import annotations

from collections.abc import Iterator
from fnmatch import fnmatchcase

from ..problems import Problem, Severity

RULE = "credential-access"


def check(config) -> Iterator[Problem]:
    names = [c.model.name for c in config.clusters]
    matches: dict[str, bool] = {}  # pattern -> matches some cluster; fleets repeat patterns
    for loc in config.registries:
        reg = loc.model
        access = reg.credentialAccess
        if access is None:
            continue
        for i, pattern in enumerate(access.clusters):
            if pattern not in matches:
                matches[pattern] = any(fnmatchcase(n, pattern) for n in names)
            if names and not matches[pattern]:
                yield loc.problem(("credentialAccess", "clusters", i), f"'{pattern}' matches no cluster in clusters.yaml", severity=Severity.WARNING, rule=RULE)
        if access.mode == "auto-inject" and not access.clusters:
            yield loc.problem(("credentialAccess", "clusters"), "auto-inject with no clusters makes the registry available nowhere", severity=Severity.WARNING, rule=RULE, key=True)
        if access.source == "image-pull-secret" and not access.pull_secret_names:
            yield loc.problem(("credentialAccess", "source"), "source image-pull-secret needs imagePullSecret: the name(s) of the existing Secret(s)", rule=RULE)
        if access.source != "image-pull-secret" and access.imagePullSecret is not None:
            yield loc.problem(("credentialAccess", "imagePullSecret"), "imagePullSecret is only used with source: image-pull-secret", rule=RULE, key=True)
        if not reg.is_private and not reg.useAsChartRepository:
            yield loc.problem(("credentialAccess",), f"public registry '{reg.name}' needs no pull credentials; credentialAccess only decides where its chart repositories go, and it has none", severity=Severity.WARNING, rule=RULE, key=True)
