"""Generated object names fit Kubernetes' limits and never collide.

Two registries whose generated objects would get the same kind, namespace and
name in some cluster are an error (SPEC 3.3), as is a generated Secret that
would overwrite a Secret the config says is managed elsewhere.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from ..access import selects
from ..naming import WORKLOAD, generated
from ..problems import Problem

RULE = "generated-names"
MAX_NAME = 253
_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


def check(config) -> Iterator[Problem]:
    prefix = config.settings.secretNamePrefix
    reported: set[tuple] = set()
    for cl in config.clusters:
        cluster = cl.model
        controller = cluster.controller_namespace
        external = {n: "extraImagePullSecrets" for n in cluster.extraImagePullSecrets}
        for loc in config.registries:
            access = loc.model.credentialAccess
            if loc.model.source == "image-pull-secret" and selects(access, cluster.name):
                for n in access.pull_secret_names:
                    external.setdefault(n, f"imagePullSecret of registry '{loc.model.name}'")
        owners: dict[tuple[str, str, str], tuple] = {}
        for loc in config.registries:
            for gen in generated(loc.model, cluster, prefix):
                key_bad = ("bad", loc.model.name, gen.name)
                if (len(gen.name) > MAX_NAME or not _SUBDOMAIN.match(gen.name)) and key_bad not in reported:
                    reported.add(key_bad)
                    yield loc.problem(("name",), f"generated {gen.what} name '{gen.name[:80]}' is not a valid Kubernetes name (a DNS-1123 subdomain of at most {MAX_NAME} characters)", rule=RULE)
                namespaces = cluster.namespaces if gen.scope == WORKLOAD else [controller]
                for ns in namespaces:
                    slot = (ns, gen.kind, gen.name)
                    if slot in owners and owners[slot][0] is not loc:
                        other, other_what = owners[slot]
                        pair = ("pair", frozenset((other.model.name, loc.model.name)), gen.kind, gen.name)
                        if pair not in reported:
                            reported.add(pair)
                            yield loc.problem(("name",), f"{gen.what} '{gen.name}' of registry '{loc.model.name}' collides with the {other_what} of registry '{other.model.name}' in cluster '{cluster.name}', namespace '{ns}'; rename one registry", rule=RULE)
                    owners.setdefault(slot, (loc, gen.what))
                    if gen.kind == "Secret" and gen.scope == WORKLOAD and gen.name in external:
                        key = ("external", loc.model.name, gen.name)
                        if key not in reported:
                            reported.add(key)
                            yield loc.problem(("name",), f"{gen.what} '{gen.name}' of registry '{loc.model.name}' would overwrite the Secret named by {external[gen.name]} in cluster '{cluster.name}'", rule=RULE)
