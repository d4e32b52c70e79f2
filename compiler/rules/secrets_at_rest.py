"""Secret fields are SOPS ENC[...] values, and a file with such values has a sops: block.

This reads the documents as written (it runs even where the schema failed),
and it never puts a value into a message: a plaintext secret is reported by
file, line and field only.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from ..providers import SECRET_AUTH_FIELDS
from ..problems import Problem

RULE = "secrets-at-rest"
ENC_VALUE = re.compile(r"^ENC\[AES256_GCM,data:[A-Za-z0-9+/=]*,iv:[A-Za-z0-9+/=]+,tag:[A-Za-z0-9+/=]+,type:(str|int|float|bool|bytes|comment)\]$")


def check(config) -> Iterator[Problem]:
    for doc in config.registry_docs:
        yield from _document(doc)


def _document(doc) -> Iterator[Problem]:
    data = doc.data if isinstance(doc.data, dict) else {}
    registries = data.get("registries")
    encrypted = 0
    for i, reg in enumerate(registries if isinstance(registries, list) else []):
        auth = reg.get("auth") if isinstance(reg, dict) else None
        if not isinstance(auth, dict):
            continue
        for field in SECRET_AUTH_FIELDS:
            if field not in auth:
                continue
            value = auth[field]
            path = ("registries", i, "auth", field)
            if value is None:
                continue  # empty: the schema reports it as missing, not as plaintext
            if isinstance(value, str) and value.startswith("ENC["):
                if ENC_VALUE.match(value):
                    encrypted += 1
                else:
                    yield doc.problem(path, f"auth.{field} looks SOPS-encrypted but is not a well-formed ENC[AES256_GCM,...] value (damaged when edited?)", rule=RULE)
            else:
                yield doc.problem(path, f"auth.{field} is a secret and must be SOPS-encrypted, but it is plaintext; encrypt the file with sops (the value is not shown)", rule=RULE)
    sops = data.get("sops")
    if encrypted and not isinstance(sops, dict):
        yield doc.problem((), "file holds ENC[...] values but no sops: block, so nothing can decrypt them (values copied from another file?)", rule=RULE)
    elif isinstance(sops, dict):
        if "mac" not in sops:
            yield doc.problem(("sops",), "the sops: block has no mac; the file was not written by sops or was damaged", rule=RULE, key=True)
        keys = [k for k in ("age", "pgp", "kms", "gcp_kms", "azure_kv", "hc_vault", "key_groups") if sops.get(k)]
        if not keys:
            yield doc.problem(("sops",), "the sops: block names no key (age, pgp, kms, ...), so nothing can decrypt this file", rule=RULE, key=True)
