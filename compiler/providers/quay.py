"""Quay: quay.io or a self-hosted Quay; robot accounts log in with a token."""

from __future__ import annotations

from .base import AuthShape, Provider


class Quay(Provider):
    name = "quay"
    default_url = "quay.io"
    url_form = "quay.io or a self-hosted host[:port]"

    def auth_shape(self, method: str | None) -> AuthShape:
        return AuthShape(required=("username", "token"), secret=("token",))

    def credentials(self, auth: dict[str, str]) -> tuple[str, str]:
        return auth["username"], auth["token"]
