"""At most one registry in the whole config is the default."""

from __future__ import annotations

from collections.abc import Iterator

from ..problems import Problem

RULE = "single-default"


def check(config) -> Iterator[Problem]:
    defaults = [loc for loc in config.registries if loc.model.default]
    for loc in defaults[1:]:
        first = defaults[0]
        line, _ = first.doc.where(first.path + ("default",))
        yield loc.problem(
            ("default",),
            f"registry '{loc.model.name}' is marked default, but '{first.model.name}' already is "
            f"({first.doc.file}:{line}); at most one registry may be the default",
            rule=RULE,
        )
