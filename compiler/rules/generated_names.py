"""Generated object names fit Kubernetes' limits and never collide.

Two registries whose generated objects would get the same kind, namespace and
name in some cluster are an error (SPEC 3.3), as is a generated Secret that
would overwrite a Secret the config says is managed elsewhere.

Names depend only on the registry, the sync tool and the prefix, so they are
computed once per (registry, sync tool) and clusters are only consulted for
the rare name that two registries share.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterator

from ..naming import WORKLOAD, generated
from ..problems import Problem

RULE = "generated-names"
MAX_NAME = 253
_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


def check(config) -> Iterator[Problem]:
    prefix = config.settings.secretNamePrefix
    clusters = {c.model.name: c.model for c in config.clusters}
    tools = sorted({c.syncTool for c in clusters.values()})
    claims: dict[tuple[str, str], list] = defaultdict(list)  # (kind, name) -> [(index, gen, tool)]
    for index, loc in enumerate(config.registries):
        if not config.available[index]:
            continue
        bad: set[str] = set()
        for tool in tools:
            for gen in generated(loc.model, tool, prefix):
                claims[(gen.kind, gen.name)].append((index, gen, tool))
                if (len(gen.name) > MAX_NAME or not _SUBDOMAIN.match(gen.name)) and gen.name not in bad:
                    bad.add(gen.name)
                    yield loc.problem(("name",), f"generated {gen.what} name '{gen.name[:80]}' is not a valid Kubernetes name (a DNS-1123 subdomain of at most {MAX_NAME} characters)", rule=RULE)
    yield from _collisions(config, clusters, claims)
    yield from _overwrites(config, clusters, claims)


def _namespaces(cluster, scope: str) -> set[str]:
    return set(cluster.namespaces) if scope == WORKLOAD else {cluster.controller_namespace}


def _collisions(config, clusters, claims) -> Iterator[Problem]:
    reported: set[tuple] = set()
    for (kind, name), owners in claims.items():
        if len({i for i, _, _ in owners}) < 2:
            continue
        for a, gen_a, tool_a in owners:
            for b, gen_b, tool_b in owners:
                if a >= b or tool_a != tool_b or (a, b, kind, name) in reported:
                    continue
                for cname in sorted(config.available[a] & config.available[b]):
                    cluster = clusters[cname]
                    if cluster.syncTool != tool_a:
                        continue
                    shared = _namespaces(cluster, gen_a.scope) & _namespaces(cluster, gen_b.scope)
                    if shared:
                        reported.add((a, b, kind, name))
                        first, second = config.registries[a], config.registries[b]
                        yield second.problem(("name",), f"{gen_b.what} '{name}' of registry '{second.model.name}' collides with the {gen_a.what} of registry '{first.model.name}' in cluster '{cname}', namespace '{sorted(shared)[0]}'; rename one registry", rule=RULE)
                        break


def _overwrites(config, clusters, claims) -> Iterator[Problem]:
    """A generated Secret named like a Secret the config says someone else manages."""
    external: dict[str, list[tuple[str, frozenset[str]]]] = defaultdict(list)  # name -> [(what, clusters)]
    for cluster in clusters.values():
        for n in cluster.extraImagePullSecrets:
            external[n].append(("extraImagePullSecrets", frozenset([cluster.name])))
    for index, loc in enumerate(config.registries):
        if loc.model.source == "image-pull-secret" and loc.model.credentialAccess:
            for n in loc.model.credentialAccess.pull_secret_names:
                external[n].append((f"imagePullSecret of registry '{loc.model.name}'", config.available[index]))
    reported: set[tuple] = set()
    for name, owners in external.items():
        for index, gen, tool in claims.get(("Secret", name), []):
            if gen.scope != WORKLOAD or (index, name) in reported:
                continue
            for what, where in owners:
                hit = sorted(c for c in config.available[index] & where if clusters[c].syncTool == tool)
                if hit:
                    reported.add((index, name))
                    loc = config.registries[index]
                    yield loc.problem(("name",), f"{gen.what} '{name}' of registry '{loc.model.name}' would overwrite the Secret named by {what} in cluster '{hit[0]}'", rule=RULE)
                    break
