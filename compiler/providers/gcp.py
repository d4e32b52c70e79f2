"""Service-account JSON keys shared by GCR and Artifact Registry.

Keys are pasted with all kinds of whitespace (YAML folding, editors, CRLF). We
parse the JSON and write it back compact, so what reaches the cluster is the
key itself, not how it was pasted.
"""

from __future__ import annotations

import json

from .base import AuthShape, Provider

REQUIRED_KEY_FIELDS = ("type", "project_id", "private_key", "client_email")


class KeyError_(ValueError):
    """A serviceAccountKey that is not a service-account JSON key (message has no key material)."""


def compact_key(text: str) -> str:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise KeyError_(f"serviceAccountKey is not JSON (line {exc.lineno} column {exc.colno} of the key)") from None
    if not isinstance(data, dict):
        raise KeyError_("serviceAccountKey must be a JSON object")
    missing = [f for f in REQUIRED_KEY_FIELDS if f not in data]
    if missing:
        raise KeyError_(f"serviceAccountKey lacks {', '.join(missing)}: it is not a service-account key file")
    if data.get("type") != "service_account":
        raise KeyError_('serviceAccountKey must have "type": "service_account"')
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False)


def credentials(auth: dict[str, str]) -> tuple[str, str]:
    return "_json_key", compact_key(auth["serviceAccountKey"])


class ServiceAccountKeyProvider(Provider):
    """GCR and Artifact Registry log in alike: `_json_key` and the compact key."""

    def auth_shape(self, method: str | None) -> AuthShape:
        return AuthShape(required=("serviceAccountKey",), secret=("serviceAccountKey",))

    def credentials(self, auth: dict[str, str]) -> tuple[str, str]:
        return credentials(auth)
