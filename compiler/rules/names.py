"""Registry names are unique across every registries file, cluster names across clusters.yaml,
and the lists of a cluster (namespaces, serviceAccounts) hold no repeats."""

from __future__ import annotations

from collections.abc import Iterator

from ..problems import Problem, Severity

RULE = "unique-names"


def check(config) -> Iterator[Problem]:
    yield from _unique(config.registries, "registry")
    yield from _unique(config.clusters, "cluster")
    for loc in config.clusters:
        for field in ("namespaces", "serviceAccounts", "extraImagePullSecrets"):
            seen: set[str] = set()
            for i, value in enumerate(getattr(loc.model, field)):
                if value in seen:
                    yield loc.problem((field, i), f"'{value}' is listed twice in {field}", severity=Severity.WARNING, rule=RULE)
                seen.add(value)


def _unique(items, what: str) -> Iterator[Problem]:
    first: dict[str, object] = {}
    for loc in items:
        name = loc.model.name
        if name in first:
            other = first[name]
            line, _ = other.doc.where(other.path + ("name",))
            yield loc.problem(("name",), f"{what} name '{name}' is already used at {other.doc.file}:{line}", rule=RULE)
        else:
            first[name] = loc
