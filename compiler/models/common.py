"""Pieces shared by the input models: API version, name patterns, the sops block."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.json_schema import SkipJsonSchema

API_VERSION = "regops.io/v1alpha1"

# Kubernetes' own grammars (apimachinery validation).
DNS1123_LABEL = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
DNS1123_SUBDOMAIN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
# Go's time.ParseDuration, restricted to what Flux and ESO intervals use.
GO_DURATION = r"^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$"

# Human wording for pattern failures, keyed by pattern (used by the schema reporter).
PATTERN_HINTS = {
    DNS1123_LABEL: "a DNS-1123 label: lowercase letters, digits and '-', starting and ending with a letter or digit",
    DNS1123_SUBDOMAIN: "a DNS-1123 subdomain: lowercase letters, digits, '-' and '.', starting and ending with a letter or digit",
    GO_DURATION: "a duration such as 30s, 10m, 1h or 1h30m",
}

Optional = SkipJsonSchema[None]

Label = Annotated[str, Field(pattern=DNS1123_LABEL, max_length=63)]
Subdomain = Annotated[str, Field(pattern=DNS1123_SUBDOMAIN, max_length=253)]


class Strict(BaseModel):
    """Unknown fields are errors everywhere (SPEC 2.1, layer 2)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)


SopsBlock = Annotated[
    dict[str, Any],
    Field(description="Metadata written by sops when the file is encrypted. regops reads it and never edits it."),
]

ApiVersion = Annotated[Literal["regops.io/v1alpha1"], Field(description="Always regops.io/v1alpha1.")]
