"""Model of the optional `kind: Settings` file, regops.yaml (SPEC 1.3)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from ..patterns import NAME_PREFIX
from .common import DNS1123_SUBDOMAIN, GO_DURATION, ApiVersion, Optional, SopsBlock, Strict


class SettingsFile(Strict):
    """regops.yaml: output directory and defaults."""

    apiVersion: ApiVersion
    kind: Literal["Settings"] = Field(description="Always Settings.")
    output: str = Field("rendered", min_length=1, description="Output directory, relative to the config directory.")
    secretNamePrefix: str = Field(
        "regcred-",
        pattern=NAME_PREFIX,
        max_length=100,
        description="Prefix of generated Secret names (default regcred-).",
    )
    chartRefreshInterval: str = Field(
        "10m", pattern=GO_DURATION, description="spec.interval of Flux HelmRepository objects (default 10m); Argo CD has no per-repository interval."
    )
    ecrRefreshInterval: str = Field(
        "1h", pattern=GO_DURATION, description="refreshInterval of ECR ExternalSecrets (default 1h); tokens last 12h."
    )
    sops: SopsBlock | Optional = None


DEFAULT_SETTINGS = SettingsFile(apiVersion="regops.io/v1alpha1", kind="Settings")

# DNS1123_SUBDOMAIN is imported for the names rule, which checks prefix + name as a whole.
__all__ = ["SettingsFile", "DEFAULT_SETTINGS", "DNS1123_SUBDOMAIN"]
