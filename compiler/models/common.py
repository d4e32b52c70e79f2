"""Pieces shared by the input models: API version, name patterns, the sops block."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.json_schema import SkipJsonSchema

API_VERSION = "regops.io/v1alpha1"

from ..patterns import DNS1123_LABEL, DNS1123_SUBDOMAIN, GO_DURATION, PATTERN_HINTS  # noqa: F401  (re-exported)

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
