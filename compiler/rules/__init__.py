"""Semantic rules (SPEC 2.1 layers 3 and 4), one small module each.

Each module has a RULE id, a docstring saying what it checks, and
`check(config) -> Iterator[Problem]`. They only read the Config.
"""

from . import access, auth, charts, connection, defaults, ecr_access, generated_names, names, recipients, secrets_at_rest, urls, versions

ALL_RULES = (
    names,
    defaults,
    urls,
    auth,
    charts,
    connection,
    access,
    ecr_access,
    generated_names,
    recipients,
    versions,
    secrets_at_rest,
)
