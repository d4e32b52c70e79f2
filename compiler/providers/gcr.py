"""Google Container Registry: four fixed hosts, service-account key."""

from __future__ import annotations

from .gcp import ServiceAccountKeyProvider

HOSTS = ("gcr.io", "us.gcr.io", "eu.gcr.io", "asia.gcr.io")


class Gcr(ServiceAccountKeyProvider):
    name = "gcr"
    url_form = "gcr.io, us.gcr.io, eu.gcr.io or asia.gcr.io"

    def check_host(self, host: str) -> str | None:
        if host not in HOSTS:
            return f"GCR url must be one of {self.url_form}"
        return None
