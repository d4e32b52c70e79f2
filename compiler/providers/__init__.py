"""One module per registry provider: the only place that knows ECR from Quay."""

from __future__ import annotations

from .artifact_registry import ArtifactRegistry
from .azure import Azure
from .base import HOST_RE, SCHEME_RE, AuthShape, Provider
from .docker import Docker
from .ecr import Ecr
from .gcr import Gcr
from .other import Other
from .quay import Quay

PROVIDERS: dict[str, Provider] = {
    p.name: p for p in (Ecr(), Docker(), Azure(), ArtifactRegistry(), Gcr(), Quay(), Other())
}

# Fields that must be SOPS-encrypted at rest, whatever the provider.
SECRET_AUTH_FIELDS = ("password", "token", "serviceAccountKey", "accessKeyId", "secretAccessKey")
ALL_AUTH_FIELDS = ("method", "username", "password", "token", "serviceAccountKey", "accessKeyId", "secretAccessKey")


def get(name: str) -> Provider:
    return PROVIDERS[name]


def host_of(provider: str, url: str | None) -> str | None:
    """The registry's host[:port], falling back to the provider's default url."""
    return url if url is not None else PROVIDERS[provider].default_url


__all__ = ["ALL_AUTH_FIELDS", "SECRET_AUTH_FIELDS", "AuthShape", "HOST_RE", "PROVIDERS", "Provider", "SCHEME_RE", "get", "host_of"]
