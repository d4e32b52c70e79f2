"""Azure Container Registry, with a service principal as username/password."""

from __future__ import annotations

import re

from .base import AuthShape, Provider

# Registry names are 5-50 alphanumerics; sovereign clouds use other suffixes.
HOST_RE = re.compile(r"^[a-zA-Z0-9]{5,50}\.azurecr\.(io|cn|us)$")


class Azure(Provider):
    name = "azure"
    url_form = "<name>.azurecr.io"

    def auth_shape(self, method: str | None) -> AuthShape:
        return AuthShape(required=("username", "password"), secret=("password",))

    def check_host(self, host: str) -> str | None:
        if not HOST_RE.match(host):
            return f"Azure url must be {self.url_form} (a registry name of 5-50 letters and digits)"
        return None

    def credentials(self, auth: dict[str, str]) -> tuple[str, str]:
        return auth["username"], auth["password"]
