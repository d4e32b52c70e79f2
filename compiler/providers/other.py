"""Any other registry (Harbor, Nexus, GitLab, ...): username/password, optional CA or insecure."""

from __future__ import annotations

from .base import AuthShape, Provider


class Other(Provider):
    name = "other"

    def auth_shape(self, method: str | None) -> AuthShape:
        return AuthShape(required=("username", "password"), secret=("password",))

    def credentials(self, auth: dict[str, str]) -> tuple[str, str]:
        return auth["username"], auth["password"]
