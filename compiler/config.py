"""The loaded config: typed models, each still tied to its place in the user's file."""

from __future__ import annotations

import dataclasses
import functools
from typing import Generic, TypeVar

from .loading import Document, Path_
from .problems import Problem, Severity

T = TypeVar("T")


@dataclasses.dataclass(frozen=True)
class Located(Generic[T]):
    """A model plus the document and path it was parsed from, for error positions."""

    model: T
    doc: Document
    path: Path_

    def problem(self, sub: Path_, message: str, *, severity: Severity = Severity.ERROR, rule: str = "", key: bool = False) -> Problem:
        return self.doc.problem(self.path + tuple(sub), message, severity=severity, rule=rule, key=key)

    def raw(self, *sub: str | int):
        """The value as written in the file (before defaults)."""
        return self.doc.get(self.path + sub)

    def has(self, *sub: str | int) -> bool:
        parent = self.doc.get(self.path + sub[:-1])
        return isinstance(parent, dict) and sub[-1] in parent


@dataclasses.dataclass
class Config:
    """Everything in a config directory that passed the structural checks.

    Items with schema errors are left out, so the semantic rules can still
    check the rest in the same run.
    """

    registries: list[Located]  # Located[Registry]
    clusters: list[Located]  # Located[Cluster]
    settings: object  # SettingsFile
    settings_doc: Document | None
    registry_docs: list[Document]

    @functools.cached_property
    def available(self) -> list[frozenset[str]]:
        """Per registry (same order as `registries`), the clusters it is available to."""
        from .access import availability

        return availability([r.model for r in self.registries], [c.model.name for c in self.clusters])
