"""Google Artifact Registry: <region>-docker.pkg.dev with a service-account key."""

from __future__ import annotations

import re

from .gcp import ServiceAccountKeyProvider

HOST_RE = re.compile(r"^[a-z]+(-[a-z]+)*[0-9]*-docker\.pkg\.dev$")


class ArtifactRegistry(ServiceAccountKeyProvider):
    name = "artifact-registry"
    url_form = "<region>-docker.pkg.dev"

    def check_host(self, host: str) -> str | None:
        if not HOST_RE.match(host):
            return f"Artifact Registry url must be {self.url_form} (e.g. europe-west1-docker.pkg.dev)"
        return None
