"""Google Container Registry: four fixed hosts, service-account key."""

from __future__ import annotations

from . import gcp
from .base import AuthShape, Provider

HOSTS = ("gcr.io", "us.gcr.io", "eu.gcr.io", "asia.gcr.io")


class Gcr(Provider):
    name = "gcr"
    url_form = "gcr.io, us.gcr.io, eu.gcr.io or asia.gcr.io"

    def auth_shape(self, method: str | None) -> AuthShape:
        return AuthShape(required=("serviceAccountKey",), secret=("serviceAccountKey",))

    def check_host(self, host: str) -> str | None:
        if host not in HOSTS:
            return f"GCR url must be one of {self.url_form}"
        return None

    def credentials(self, auth: dict[str, str]) -> tuple[str, str]:
        return gcp.credentials(auth)
