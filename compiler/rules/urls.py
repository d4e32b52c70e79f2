"""Registry URLs are host[:port] in the provider's form (SPEC 2.2).

A scheme or a path is the most common mistake, so the message carries the
corrected value.
"""

from __future__ import annotations

from collections.abc import Iterator

from .. import providers
from ..problems import Problem

RULE = "url"


def check(config) -> Iterator[Problem]:
    for loc in config.registries:
        reg = loc.model
        provider = providers.get(reg.provider)
        if reg.url is None:
            if provider.default_url is None:
                yield loc.problem(("name",), f"registry '{reg.name}' needs a url ({provider.url_form})", rule=RULE, key=True)
            continue
        message = problem_with(reg.url, provider)
        if message:
            yield loc.problem(("url",), message, rule=RULE)


def problem_with(url: str, provider) -> str | None:
    text = url.strip()
    authority = text.split("://", 1)[-1].split("/", 1)[0]
    if "@" in authority:
        # user:password@host: the value is a credential, so it is not repeated here.
        return "url must not contain credentials (user:password@host): put them in auth, encrypted (the value is not shown)"
    m = providers.SCHEME_RE.match(text)
    if m:
        rest = m.group("rest").rstrip("/")
        host = rest.split("/", 1)[0]
        return f"url takes no scheme: write '{host}', not '{url}'" + (
            "; put repository paths in chartRepositories" if "/" in rest else ""
        )
    if "/" in text:
        host, path = text.split("/", 1)
        if not path.strip("/"):
            return f"url takes no trailing slash: write '{host}'"
        return f"url is host[:port] without a path: write '{host}' and put repository paths ('{path}') in chartRepositories"
    match = providers.HOST_RE.match(text)
    if not match or text != url:
        return f"url '{url}' is not a valid host[:port]"
    port = match.group("port")
    if port is not None and not 0 < int(port) < 65536:
        return f"url '{url}' has port {port}, outside 1-65535"
    return provider.check_host(text)
