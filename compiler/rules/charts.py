"""chartRepositories is given exactly when useAsChartRepository is true, and each entry is an OCI repository path."""

from __future__ import annotations

import re
from collections.abc import Iterator

from ..naming import chart_repository
from ..problems import Problem

RULE = "charts"

# OCI distribution spec repository name grammar (path components separated by '/').
_COMPONENT = r"[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*"
PATH_RE = re.compile(rf"^{_COMPONENT}(/{_COMPONENT})*$")


def check(config) -> Iterator[Problem]:
    for loc in config.registries:
        reg = loc.model
        if reg.useAsChartRepository and not reg.chartRepositories:
            yield loc.problem(("useAsChartRepository",), "useAsChartRepository is true, so chartRepositories must list at least one repository path", rule=RULE)
        if not reg.useAsChartRepository and reg.chartRepositories:
            yield loc.problem(("chartRepositories",), "chartRepositories is set, but useAsChartRepository is not true", rule=RULE, key=True)
        seen: set[str] = set()
        names: dict[str, str] = {}
        for i, path in enumerate(reg.chartRepositories):
            name = chart_repository(reg.name, path)
            if name in names and names[name] != path:
                yield loc.problem(("chartRepositories", i), f"'{path}' and '{names[name]}' both become the object name '{name}'; rename one repository path", rule=RULE)
            names.setdefault(name, path)
            if "://" in path or path.startswith("/") or path.endswith("/"):
                yield loc.problem(("chartRepositories", i), f"'{path}' must be a repository path under the registry, like acme/charts (no scheme, host or slashes at the ends)", rule=RULE)
            elif not PATH_RE.match(path):
                yield loc.problem(("chartRepositories", i), f"'{path}' is not an OCI repository path (lowercase letters, digits, '.', '_', '-', separated by '/')", rule=RULE)
            if path in seen:
                yield loc.problem(("chartRepositories", i), f"'{path}' is listed twice", rule=RULE)
            seen.add(path)
