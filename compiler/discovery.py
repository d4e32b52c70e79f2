"""Which files make up a config directory (SPEC 1)."""

from __future__ import annotations

import dataclasses
from pathlib import Path


@dataclasses.dataclass(frozen=True)
class ConfigFiles:
    clusters: Path | None
    registries: list[Path]
    settings: Path | None

    def all(self) -> list[tuple[Path, str]]:
        """(path, expected kind) of every file, in a stable order."""
        out: list[tuple[Path, str]] = []
        if self.settings:
            out.append((self.settings, "Settings"))
        if self.clusters:
            out.append((self.clusters, "Clusters"))
        out.extend((p, "Registries") for p in self.registries)
        return out


def discover(config_dir: Path) -> ConfigFiles:
    clusters = config_dir / "clusters.yaml"
    settings = config_dir / "regops.yaml"
    registries: list[Path] = []
    if (config_dir / "registries.yaml").is_file():
        registries.append(config_dir / "registries.yaml")
    sub = config_dir / "registries"
    if sub.is_dir():
        registries.extend(sorted(p for p in sub.glob("*.yaml") if p.is_file()))
    return ConfigFiles(
        clusters=clusters if clusters.is_file() else None,
        registries=registries,
        settings=settings if settings.is_file() else None,
    )
