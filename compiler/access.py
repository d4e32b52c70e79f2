"""Which clusters a registry is available to (SPEC 3.1). Pure functions."""

from __future__ import annotations

from fnmatch import fnmatchcase


def matches(patterns: list[str], cluster: str) -> bool:
    return any(fnmatchcase(cluster, p) for p in patterns)


def selects(credential_access, cluster: str) -> bool:
    """True when `credential_access` (a CredentialAccess or None) makes a registry available to `cluster`."""
    if credential_access is None:
        return False
    hit = matches(credential_access.clusters, cluster)
    return hit if credential_access.mode == "auto-inject" else not hit


def availability(registries: list, cluster_names: list[str]) -> list[frozenset[str]]:
    """For each registry (in order), the names of the clusters it is available to.

    Each pattern is matched once against all names instead of once per
    (registry, cluster) pair: a 40 x 200 fleet would otherwise run ~500k fnmatch calls.
    """
    from fnmatch import filter as fnfilter

    every = frozenset(cluster_names)
    out = []
    for reg in registries:
        access = reg.credentialAccess
        if access is None:
            out.append(frozenset())
            continue
        hit: set[str] = set()
        for pattern in access.clusters:
            if any(c in pattern for c in "*?["):
                hit.update(fnfilter(cluster_names, pattern))
            elif pattern in every:
                hit.add(pattern)
        out.append(frozenset(hit) if access.mode == "auto-inject" else every - hit)
    return out
