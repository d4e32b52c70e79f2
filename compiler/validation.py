"""`regops validate`: load → schema → typed models → rules, all problems in one run."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from . import schema_check
from .config import Config, Located
from .discovery import discover
from .loading import Document, load_file
from .problems import Problem, Severity, count


@dataclasses.dataclass
class ValidationResult:
    problems: list[Problem]
    files: list[str]
    config: Config | None

    @property
    def errors(self) -> int:
        return count(self.problems)[0]

    @property
    def warnings(self) -> int:
        return count(self.problems)[1]

    @property
    def ok(self) -> bool:
        return self.errors == 0


def validate_config(config_dir: Path) -> ValidationResult:
    files = discover(config_dir)
    problems: list[Problem] = []
    shown = str(config_dir)
    if files.clusters is None:
        problems.append(Problem(shown, 0, 0, Severity.ERROR, f"clusters.yaml not found in {shown}", "", "files"))
    if not files.registries:
        problems.append(
            Problem(shown, 0, 0, Severity.ERROR, f"no registries.yaml or registries/*.yaml in {shown}", "", "files")
        )

    docs: dict[str, list[Document]] = {"Settings": [], "Clusters": [], "Registries": []}
    structural: dict[int, list[Problem]] = {}
    names: list[str] = []
    for path, kind in files.all():
        name = str(path)
        names.append(name)
        loaded = load_file(path, name)
        problems.extend(loaded.problems)
        if loaded.document is None:
            continue
        found = schema_check.check(loaded.document, kind)
        structural[id(loaded.document)] = found
        problems.extend(found)
        docs[kind].append(loaded.document)

    config = _build(docs, structural)

    from .rules import ALL_RULES

    for rule in ALL_RULES:
        problems.extend(rule.check(config))

    order = {n: i for i, n in enumerate(names)}
    problems.sort(key=lambda p: (order.get(p.file, -1), p.line, p.col, p.message))
    return ValidationResult(_dedupe(problems), names, config)


def _build(docs: dict[str, list[Document]], structural: dict[int, list[Problem]]) -> Config:
    from .records import ClusterRecord, RegistryRecord, SettingsRecord, default_settings

    def clean(doc: Document, prefix: tuple) -> bool:
        want = ".".join(str(p) for p in prefix)
        for p in structural.get(id(doc), []):
            got = p.path.replace("[", ".").replace("]", "")
            if got == want or got.startswith(want + "."):
                return False
        return True

    def items(doc: Document, key: str, model) -> list[Located]:
        out = []
        values = doc.data.get(key) if isinstance(doc.data, dict) else None
        if not isinstance(values, list):
            return out
        for i, raw in enumerate(values):
            if not clean(doc, (key, i)):
                continue
            out.append(Located(model(raw), doc, (key, i)))
        return out

    registries = [loc for doc in docs["Registries"] for loc in items(doc, "registries", RegistryRecord)]
    clusters = [loc for doc in docs["Clusters"] for loc in items(doc, "clusters", ClusterRecord)]
    settings = default_settings()
    settings_doc = docs["Settings"][0] if docs["Settings"] else None
    if settings_doc is not None and not structural.get(id(settings_doc)):
        settings = SettingsRecord(settings_doc.data)
    return Config(
        registries=registries,
        clusters=clusters,
        settings=settings,
        settings_doc=settings_doc,
        registry_docs=docs["Registries"],
    )


def _dedupe(problems: list[Problem]) -> list[Problem]:
    seen: set[Problem] = set()
    out = []
    for p in problems:
        if p not in seen:
            seen.add(p)
            out.append(p)
    return out
