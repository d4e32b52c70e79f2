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
