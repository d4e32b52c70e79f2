"""Fast read-only views of validated input, and the behaviour they share with the models.

The pydantic models are the source of the JSON Schemas, but building them costs
about 200 ms of start-up, which a pre-commit hook pays on every commit. Once a
document has passed its JSON Schema, these records give the same attribute
interface over the plain data, taking defaults from the committed schema.
"""

from __future__ import annotations

import functools
from typing import Any, ClassVar

from . import schema


class RegistryBehaviour:
    type: str
    credentialAccess: Any
    connection: str | None

    @property
    def is_private(self) -> bool:
        return self.type == "private"

    @property
    def source(self) -> str:
        return self.credentialAccess.source if self.credentialAccess else "registry-credentials"

    @property
    def effective_connection(self) -> str:
        return self.connection or "secure"


class CredentialAccessBehaviour:
    imagePullSecret: Any

    @property
    def pull_secret_names(self) -> list[str]:
        value = self.imagePullSecret
        if value is None:
            return []
        return [value] if isinstance(value, str) else list(value)


class ClusterBehaviour:
    controllerNamespace: str | None
    syncTool: str

    @property
    def controller_namespace(self) -> str:
        if self.controllerNamespace:
            return self.controllerNamespace
        return "flux-system" if self.syncTool == "flux" else "argocd"


class Record:
    """Attribute access over a dict that passed the schema; missing fields take the schema default."""

    _kind: ClassVar[str]
    _def: ClassVar[str | None]  # name under $defs, or None for the top level
    _nested: ClassVar[dict[str, type[Record]]] = {}

    def __init__(self, data: dict[str, Any]):
        self._data = data

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        data = self._data
        if name in data:
            value = data[name]
            nested = self._nested.get(name)
            if nested is not None and isinstance(value, dict):
                value = nested(value)
        else:
            defaults = _defaults(self._kind, self._def)
            if name not in defaults:
                raise AttributeError(name)
            value = defaults[name]
        # Cache on the instance: the next access is a plain attribute lookup.
        self.__dict__[name] = value
        return value

    def __eq__(self, other: object) -> bool:
        return type(self) is type(other) and self._data == other._data  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return id(self._data)


@functools.cache
def _defaults(kind: str, definition: str | None) -> dict[str, Any]:
    doc = schema.load(kind)
    node = doc["$defs"][definition] if definition else doc
    # Fields without a default read as None (optional and absent).
    return {k: v.get("default") for k, v in node.get("properties", {}).items()}


class AuthRecord(Record):
    _kind, _def = "Registries", "Auth"


class CredentialAccessRecord(CredentialAccessBehaviour, Record):
    _kind, _def = "Registries", "CredentialAccess"


class RegistryRecord(RegistryBehaviour, Record):
    _kind, _def = "Registries", "Registry"
    _nested = {"auth": AuthRecord, "credentialAccess": CredentialAccessRecord}


class RecipientsRecord(Record):
    _kind, _def = "Clusters", "Recipients"


class ClusterRecord(ClusterBehaviour, Record):
    _kind, _def = "Clusters", "Cluster"
    _nested = {"recipients": RecipientsRecord}


class SettingsRecord(Record):
    _kind, _def = "Settings", None


def default_settings() -> SettingsRecord:
    return SettingsRecord({"apiVersion": "regops.io/v1alpha1", "kind": "Settings"})
