"""Docker Hub: one public name (docker.io), two endpoints behind it."""

from __future__ import annotations

from .base import AuthShape, Provider

HOSTS = ("docker.io", "index.docker.io", "registry-1.docker.io")


class Docker(Provider):
    name = "docker"
    default_url = "docker.io"
    url_form = "docker.io"

    def auth_shape(self, method: str | None) -> AuthShape:
        return AuthShape(required=("username", "password"), secret=("password",))

    def check_host(self, host: str) -> str | None:
        if host not in HOSTS:
            return "Docker Hub url is docker.io (use provider other for another registry)"
        return None

    def docker_server(self, host: str) -> str:
        # What `kubectl create secret docker-registry` and `docker login` write for Docker Hub.
        return "https://index.docker.io/v1/"

    def oci_host(self, host: str) -> str:
        return "registry-1.docker.io"

    def credentials(self, auth: dict[str, str]) -> tuple[str, str]:
        return auth["username"], auth["password"]
