"""Decrypted values this process holds, so that -v tracebacks never show them.

Tracebacks print exception messages, and an exception raised deep in a
library may quote a value it was given. Decryption registers every secret
here (with its base64 and JSON-escaped forms); the CLI scrubs a traceback
before printing it. A registry of secrets is process state on purpose: it
must cover whatever code path raised.
"""

from __future__ import annotations

import base64
import json

_SECRETS: set[str] = set()
MASK = "[redacted]"


def register(value: str) -> None:
    if not isinstance(value, str) or len(value) < 4:
        return
    raw = value.encode("utf-8", "surrogatepass")
    forms = {value, json.dumps(value)[1:-1], base64.b64encode(raw).decode()}
    for line in value.splitlines():
        if len(line) >= 8:
            forms.add(line)
    _SECRETS.update(f for f in forms if len(f) >= 4)


def scrub(text: str) -> str:
    for secret in sorted(_SECRETS, key=len, reverse=True):
        if secret in text:
            text = text.replace(secret, MASK)
    return text
