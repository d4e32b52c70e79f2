"""connection and caCertificate belong to provider other; secure-with-ca needs a PEM caCertificate."""

from __future__ import annotations

from collections.abc import Iterator

from ..pem import check_certificates
from ..problems import Problem

RULE = "connection"


def check(config) -> Iterator[Problem]:
    for loc in config.registries:
        reg = loc.model
        if reg.provider != "other":
            for field in ("connection", "caCertificate"):
                if getattr(reg, field) is not None:
                    yield loc.problem((field,), f"{field} is only for provider other; {reg.provider} registries use public TLS", rule=RULE, key=True)
            continue
        mode = reg.effective_connection
        if mode == "secure-with-ca" and reg.caCertificate is None:
            yield loc.problem(("connection",), "connection secure-with-ca needs caCertificate (PEM)", rule=RULE)
        if reg.caCertificate is not None:
            if mode != "secure-with-ca":
                yield loc.problem(("caCertificate",), f"caCertificate is only used with connection: secure-with-ca (this registry is {mode})", rule=RULE, key=True)
            _, error = check_certificates(reg.caCertificate)
            if error:
                yield loc.problem(("caCertificate",), f"caCertificate {error}", rule=RULE)
