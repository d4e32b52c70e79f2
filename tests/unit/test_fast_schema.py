"""The compiled (fastjsonschema) schema check accepts exactly what jsonschema accepts.

schema_check trusts the fast check's acceptance and asks jsonschema only about
rejected documents, so a document the fast check wrongly accepted would go
unreported. These tests compare the two on every example and case document and
on generated variations of valid ones.
"""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as hs

from compiler import schema

ROOT = Path(__file__).resolve().parents[2]
KINDS = {"Registries": "registries", "Clusters": "clusters", "Settings": "settings"}


def documents() -> list[tuple[str, str, object]]:
    out = []
    for path in sorted([*ROOT.glob("tests/cases/*/*/config/**/*.yaml"), *ROOT.glob("examples/*/*.yaml"), *ROOT.glob("examples/*/registries/*.yaml")]):
        try:
            docs = list(yaml.safe_load_all(path.read_text()))
        except (yaml.YAMLError, UnicodeDecodeError):
            continue
        for doc in docs:
            if isinstance(doc, dict) and doc.get("kind") in KINDS:
                out.append((str(path.relative_to(ROOT)), KINDS[doc["kind"]], doc))
    return out


DOCS = documents()


def accepts_slow(kind: str, doc) -> bool:
    return not any(True for _ in schema.validator(kind).iter_errors(doc))


def accepts_fast(kind: str, doc) -> bool:
    try:
        schema.fast_validator(kind)(doc)
        return True
    except Exception:  # noqa: BLE001
        return False


def test_every_kind_compiles():
    assert all(schema.fast_validator(kind) is not None for kind in KINDS.values())


def test_the_corpus_has_both_outcomes():
    outcomes = {accepts_slow(kind, doc) for _, kind, doc in DOCS}
    assert len(DOCS) > 100 and outcomes == {True, False}


@pytest.mark.parametrize("where,kind,doc", DOCS, ids=[f"{w}:{i}" for i, (w, _, _) in enumerate(DOCS)])
def test_fast_and_slow_agree_on_every_example(where, kind, doc):
    assert accepts_fast(kind, doc) == accepts_slow(kind, doc), where


VALID = [(kind, doc) for _, kind, doc in DOCS if accepts_slow(kind, doc)]
SCALARS = hs.one_of(
    hs.none(), hs.booleans(), hs.integers(-3, 70000), hs.floats(allow_nan=False, allow_infinity=False),
    hs.text(max_size=12), hs.sampled_from(["", "flux", "argocd", "docker-hub", "ecr", "secure", "insecure", "1.30", "a" * 300, "ENC[AES256_GCM,data:x,iv:y,tag:z,type:str]"]),
    hs.lists(hs.text(max_size=4), max_size=2), hs.dictionaries(hs.text(max_size=4), hs.text(max_size=4), max_size=2),
)


def _paths(node, prefix=()):
    yield prefix
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _paths(value, prefix + (key,))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _paths(value, prefix + (i,))


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(hs.data())
def test_fast_and_slow_agree_on_variations_of_valid_documents(data):
    kind, doc = data.draw(hs.sampled_from(VALID))
    doc = copy.deepcopy(doc)
    for _ in range(data.draw(hs.integers(1, 3))):
        paths = [p for p in _paths(doc) if p]
        if not paths:
            break
        path = data.draw(hs.sampled_from(paths))
        parent = doc
        for part in path[:-1]:
            parent = parent[part]
        action = data.draw(hs.sampled_from(["replace", "delete", "add"]))
        if action == "replace":
            parent[path[-1]] = data.draw(SCALARS)
        elif action == "delete":
            del parent[path[-1]]
        elif isinstance(parent, dict):
            parent[data.draw(hs.sampled_from(["extra", "Name", "url", "auth", "namespaces", "provider"]))] = data.draw(SCALARS)
    assert accepts_fast(kind, doc) == accepts_slow(kind, doc)
