"""What every provider module defines, and the host[:port] grammar they share."""

from __future__ import annotations

import dataclasses
import re
from typing import ClassVar

_LABEL = r"[a-zA-Z0-9]([-a-zA-Z0-9]*[a-zA-Z0-9])?"
HOST_RE = re.compile(rf"^(?P<host>{_LABEL}(\.{_LABEL})*|\[[0-9a-fA-F:.]+\])(:(?P<port>[0-9]{{1,5}}))?$")
SCHEME_RE = re.compile(r"^(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*)://(?P<rest>.*)$")


@dataclasses.dataclass(frozen=True)
class AuthShape:
    """Auth fields a provider takes: required ones and those that must be encrypted."""

    required: tuple[str, ...]
    secret: tuple[str, ...]


class Provider:
    """Base of the provider modules; subclasses override what differs."""

    name: ClassVar[str]
    default_url: ClassVar[str | None] = None
    url_form: ClassVar[str] = "host[:port]"

    def auth_shape(self, method: str | None) -> AuthShape:
        raise NotImplementedError

    def check_host(self, host: str) -> str | None:
        """Return an error message when `host` (already host[:port]) is not this provider's form."""
        return None

    def docker_server(self, host: str) -> str:
        """Key of the `auths` map in a dockerconfigjson (what kubectl writes for --docker-server)."""
        return host

    def oci_host(self, host: str) -> str:
        """Host of the OCI distribution endpoint, for chart repository URLs."""
        return host

    def credentials(self, auth: dict[str, str]) -> tuple[str, str]:
        """Username and password for a dockerconfigjson or a Helm repository."""
        raise NotImplementedError


def split_port(host: str) -> tuple[str, int | None]:
    m = HOST_RE.match(host)
    if not m:
        return host, None
    return m.group("host"), int(m.group("port")) if m.group("port") else None
