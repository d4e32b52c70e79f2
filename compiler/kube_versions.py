"""Kubernetes versions whose schemas kubernetes-validate ships, found without importing it."""

from __future__ import annotations

import functools
import importlib.util
import os
import re

_DIR_RE = re.compile(r"^v(\d+)\.(\d+)\.(\d+)-local-strict$")


@functools.cache
def shipped() -> tuple[str, ...]:
    """'1.31', '1.32', ... sorted by version."""
    spec = importlib.util.find_spec("kubernetes_validate")
    if spec is None or not spec.submodule_search_locations:
        return ()
    found = set()
    for location in spec.submodule_search_locations:
        base = os.path.join(location, "kubernetes-json-schema")
        if os.path.isdir(base):
            for entry in os.listdir(base):
                m = _DIR_RE.match(entry)
                if m:
                    found.add((int(m.group(1)), int(m.group(2))))
    return tuple(f"{a}.{b}" for a, b in sorted(found))


def minor(version: str) -> str:
    """'1.31.4' → '1.31'."""
    return ".".join(version.split(".")[:2])
