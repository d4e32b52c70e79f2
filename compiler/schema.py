"""JSON Schemas of the input files: generated from the models, loaded for validation.

The committed files in schemas/ are the public contract (editors use them);
`regops schema` regenerates them and a test keeps them in step with the models.
Validation reads the committed JSON, so `regops validate` never builds pydantic
schemas at run time.
"""

from __future__ import annotations

import functools
import json
from typing import Any

from .resources import data_dir

KINDS = {"registries": "Registries", "clusters": "Clusters", "settings": "Settings"}
SCHEMA_BASE = "https://regops.io/schemas/v1alpha1/"


def generate(kind: str) -> dict[str, Any]:
    """Build the JSON Schema of one kind (Registries, Clusters, Settings) from its model."""
    from .models import MODELS

    schema = MODELS[kind].model_json_schema(mode="validation")
    _tidy(schema)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"{SCHEMA_BASE}{kind.lower()}.schema.json",
        **schema,
    }


def render(kind: str) -> str:
    return json.dumps(generate(kind), indent=2, ensure_ascii=False) + "\n"


def file_name(kind: str) -> str:
    return f"{kind.lower()}.schema.json"


@functools.cache
def load(kind: str) -> dict[str, Any]:
    with open(data_dir("schemas") / file_name(kind), encoding="utf-8") as fh:
        return json.load(fh)


@functools.cache
def validator(kind: str):
    import jsonschema

    schema = load(kind)
    cls = jsonschema.validators.validator_for(schema)
    return cls(schema)


@functools.cache
def fast_validator(kind: str):
    """fastjsonschema's compiled check of the kind's schema, or None when it cannot compile.

    About ten times faster than jsonschema on valid files (and its import is
    cheap). Only acceptance is trusted: a document it rejects is checked again
    by jsonschema, whose errors are what the user reads.
    """
    schema = _inline(load(kind), load(kind).get("$defs", {}), 0)
    if not isinstance(schema, dict):
        return None
    for key in ("$schema", "$id", "$defs"):
        schema.pop(key, None)
    try:
        import fastjsonschema

        def refuse(uri: str) -> Any:
            raise ValueError(f"remote $ref {uri} is never fetched")

        return fastjsonschema.compile(schema, handlers={"http": refuse, "https": refuse}, use_default=False)
    except Exception:  # noqa: BLE001 — a schema it cannot compile just takes the slow path
        return None


_ANNOTATIONS = {"description", "default", "title", "examples"}


def _inline(node: Any, defs: dict, depth: int) -> Any:
    """The schema with every local `#/$defs/X` reference replaced by X (ours are not recursive)."""
    if depth > 32:
        raise ValueError("schema references nest too deeply")
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/$defs/") and ref[8:] in defs:
            target = _inline(defs[ref[8:]], defs, depth + 1)
            rest = {k: _inline(v, defs, depth) for k, v in node.items() if k != "$ref"}
            if not set(rest) - _ANNOTATIONS:
                return {**target, **rest}
            return {"allOf": [target, rest]}  # sibling keywords apply together with the reference
        return {k: _inline(v, defs, depth) for k, v in node.items()}
    if isinstance(node, list):
        return [_inline(v, defs, depth) for v in node]
    return node


def _tidy(node: Any) -> None:
    """Drop pydantic's generated titles and the null defaults of optional fields."""
    if isinstance(node, dict):
        props = node.get("properties")
        if isinstance(props, dict):
            for prop in props.values():
                if isinstance(prop, dict):
                    prop.pop("title", None)
                    if "default" in prop and prop["default"] is None:
                        del prop["default"]
        for value in node.values():
            _tidy(value)
    elif isinstance(node, list):
        for value in node:
            _tidy(value)
