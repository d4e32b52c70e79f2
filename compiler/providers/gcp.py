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
    def no_constants(name: str):
        raise ValueError(name)

    try:
        data = json.loads(text, parse_constant=no_constants)
    except ValueError as exc:
        if not isinstance(exc, json.JSONDecodeError):
            raise KeyError_("serviceAccountKey holds NaN or Infinity, which JSON does not allow") from None
        raise KeyError_(f"serviceAccountKey is not JSON (line {exc.lineno} column {exc.colno} of the key)") from None
    except RecursionError:
        raise KeyError_("serviceAccountKey nests too deeply") from None
    if not isinstance(data, dict):
        raise KeyError_("serviceAccountKey must be a JSON object")
    missing = [f for f in REQUIRED_KEY_FIELDS if f not in data]
    if missing:
        raise KeyError_(f"serviceAccountKey lacks {', '.join(missing)}: it is not a service-account key file")
    if data.get("type") != "service_account":
        raise KeyError_('serviceAccountKey must have "type": "service_account"')
    return _strip_whitespace(text)


def _strip_whitespace(text: str) -> str:
    """The JSON text without insignificant whitespace; strings, escapes and numbers kept as written.

    Re-serialising through Python would turn 1e400 into Infinity and choke on
    escaped lone surrogates; the key must reach the registry byte for byte.
    """
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch == '"':
            j = i + 1
            while j < n and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            out.append(text[i : j + 1])
            i = j + 1
        elif ch in " \t\r\n":
            i += 1
        else:
            out.append(ch)
            i += 1
    return "".join(out)


def credentials(auth: dict[str, str]) -> tuple[str, str]:
    return "_json_key", compact_key(auth["serviceAccountKey"])


class ServiceAccountKeyProvider(Provider):
    """GCR and Artifact Registry log in alike: `_json_key` and the compact key."""

    def auth_shape(self, method: str | None) -> AuthShape:
        return AuthShape(required=("serviceAccountKey",), secret=("serviceAccountKey",))

    def credentials(self, auth: dict[str, str]) -> tuple[str, str]:
        return credentials(auth)
