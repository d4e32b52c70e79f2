"""Auth fields match the provider and ECR's method; auth is present exactly when needed.

A private registry needs auth when regops renders its credentials (source
registry-credentials, or used as a chart repository); with source
image-pull-secret the credentials live in the existing Secret. A public
registry has no auth.
"""

from __future__ import annotations

from collections.abc import Iterator

from .. import providers
from ..problems import Problem

RULE = "auth"


def check(config) -> Iterator[Problem]:
    for loc in config.registries:
        reg = loc.model
        if not reg.is_private:
            if reg.auth is not None:
                yield loc.problem(("auth",), f"public registry '{reg.name}' has auth; remove it or set type: private", rule=RULE, key=True)
            continue
        if reg.auth is None:
            needs = reg.source == "registry-credentials" or reg.useAsChartRepository
            if needs:
                why = "it is used as a chart repository" if reg.source != "registry-credentials" else "regops renders its pull Secret"
                yield loc.problem(("name",), f"private registry '{reg.name}' needs auth: {why}", rule=RULE, key=True)
            continue
        yield from _fields(loc)


def _fields(loc) -> Iterator[Problem]:
    reg = loc.model
    auth = reg.auth
    provider = providers.get(reg.provider)
    given = [f for f in providers.ALL_AUTH_FIELDS if getattr(auth, f) is not None]
    if reg.provider == "ecr" and auth.method is None:
        yield loc.problem(("auth",), "ECR auth needs method: user-auth (accessKeyId, secretAccessKey) or iam-role", rule=RULE, key=True)
        return
    if reg.provider != "ecr" and auth.method is not None:
        yield loc.problem(("auth", "method"), f"auth.method is for ECR only; provider {reg.provider} does not take it", rule=RULE, key=True)
    shape = provider.auth_shape(auth.method)
    allowed = set(shape.required)
    what = f"provider {reg.provider}" + (f" with method {auth.method}" if reg.provider == "ecr" else "")
    for field in given:
        if field not in allowed and not (field == "method" and reg.provider != "ecr"):
            yield loc.problem(("auth", field), f"{what} does not take auth.{field}; it takes {', '.join(shape.required)}", rule=RULE, key=True)
    for field in shape.required:
        if getattr(auth, field) is None:
            yield loc.problem(("auth",), f"{what} needs auth.{field}", rule=RULE, key=True)
