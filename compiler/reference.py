"""The README's field reference, generated from the committed JSON Schemas.

`reference()` is pure (schema dicts in, Markdown out); the command line
rewrites the block between the markers in README.md, or checks it is current:

    python -m compiler.reference --write README.md    # make reference
    python -m compiler.reference --check README.md
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from . import patterns

START = "<!-- reference:start -->"
END = "<!-- reference:end -->"
# Kinds in the order a user meets them, with the files that hold them.
FILES = {
    "Registries": "`registries.yaml`, `registries/*.yaml`",
    "Clusters": "`clusters.yaml`",
    "Settings": "`regops.yaml` (optional)",
}
FIX_COMMAND = "make reference"
# The allowed-values column names a grammar; the long wording is in error messages.
SHORT_HINTS = {
    patterns.DNS1123_LABEL: "DNS-1123 label",
    patterns.DNS1123_SUBDOMAIN: "DNS-1123 subdomain",
    patterns.GO_DURATION: "duration (`30s`, `10m`, `1h30m`)",
    patterns.NAME_PREFIX: "DNS-1123 subdomain prefix (may end in `-` or `.`)",
}


class MarkersMissing(ValueError):
    pass


def reference(
    schemas: Mapping[str, Mapping[str, Any]],
    secret_paths: Iterable[str] = (),
    pattern_hints: Mapping[str, str] | None = None,
) -> str:
    """Markdown: one table per kind of every field path, its type, requiredness, default, allowed values, description.

    `secret_paths` are field paths (as in the table, e.g. `registries[].auth.password`)
    marked as secret; `pattern_hints` words regex patterns for people.
    """
    secret = set(secret_paths)
    hints = dict(pattern_hints or {})
    out: list[str] = []
    for kind, schema in schemas.items():
        out.append(f"### {kind} — {FILES.get(kind, kind)}")
        out.append("")
        if schema.get("description"):
            out.append(_cell(schema["description"]))
            out.append("")
        out.append("| field | type | required | default | allowed values | description |")
        out.append("| --- | --- | --- | --- | --- | --- |")
        for path, prop, required in _fields(schema, schema, ""):
            name = f"`{path}`" + (" **(secret)**" if path in secret else "")
            out.append(
                "| "
                + " | ".join(
                    [
                        name,
                        _cell(_type(schema, prop)),
                        "yes" if required else "",
                        _cell(f"`{json.dumps(prop['default'], ensure_ascii=False)}`") if "default" in prop else "",
                        _cell(_allowed(schema, prop, hints)),
                        _cell(prop.get("description", "")),
                    ]
                )
                + " |"
            )
        out.append("")
    return "\n".join(out).rstrip("\n") + "\n"


def _fields(root: Mapping, node: Mapping, prefix: str) -> Iterator[tuple[str, Mapping, bool]]:
    """(path, property schema, required) of every field under `node`, depth first, in schema order."""
    node = _resolve(root, node)
    required = set(node.get("required") or ())
    for name, prop in (node.get("properties") or {}).items():
        path = f"{prefix}.{name}" if prefix else name
        yield path, prop, name in required
        target = _resolve(root, prop)
        if target.get("type") == "object" and target.get("properties"):
            yield from _fields(root, target, path)
        elif target.get("type") == "array":
            items = _resolve(root, target.get("items") or {})
            if items.get("properties"):
                yield from _fields(root, items, f"{path}[]")


def _resolve(root: Mapping, node: Mapping) -> Mapping:
    ref = node.get("$ref")
    if not ref:
        return node
    if not ref.startswith("#/"):
        raise ValueError(f"only local $refs are supported, not {ref}")
    target: Any = root
    for part in ref[2:].split("/"):
        target = target[part]
    return target


def _type(root: Mapping, prop: Mapping) -> str:
    if "anyOf" in prop or "oneOf" in prop:
        return " or ".join(_type(root, p) for p in prop.get("anyOf") or prop.get("oneOf"))
    target = _resolve(root, prop)
    kind = target.get("type")
    if kind == "array":
        return f"list of {_type(root, target.get('items') or {})}"
    if kind == "object":
        return "mapping"
    if isinstance(kind, list):
        return " or ".join(kind)
    return kind or "any"


def _allowed(root: Mapping, prop: Mapping, hints: Mapping[str, str]) -> str:
    if "anyOf" in prop or "oneOf" in prop:
        options = [_resolve(root, p) for p in prop.get("anyOf") or prop.get("oneOf")]
        # `X or a list of X` (imagePullSecret): say X once.
        if len(options) == 2 and options[1].get("type") == "array" and options[1].get("items") == options[0]:
            return _allowed(root, options[0], hints)
        parts = [_allowed(root, p, hints) for p in options]
        return "; ".join(dict.fromkeys(p for p in parts if p))
    target = _resolve(root, prop)
    if target.get("type") == "array":
        inner = _allowed(root, target.get("items") or {}, hints)
        parts = ["at least one"] if target.get("minItems") else []
        if inner:
            parts.append(f"each {inner}")
        return "; ".join(parts)
    if "const" in target:
        return f"`{target['const']}`"
    if "enum" in target:
        return ", ".join(f"`{v}`" for v in target["enum"])
    parts = []
    if "pattern" in target:
        parts.append(hints.get(target["pattern"], f"matching `{target['pattern']}`"))
    if target.get("minLength"):
        parts.append("not empty")
    if "maxLength" in target:
        parts.append(f"at most {target['maxLength']} characters")
    return "; ".join(parts)


def _cell(text: str) -> str:
    """Table-cell safe: one line, pipes escaped."""
    return " ".join(str(text).split()).replace("|", "\\|")


def splice(document: str, block: str) -> str:
    """`document` with the text between the reference markers replaced by `block`."""
    start, end = document.find(START), document.find(END)
    if start < 0 or end < start:
        raise MarkersMissing(f"the document has no {START} ... {END} block")
    head = document[: start + len(START)]
    return f"{head}\n{block}{document[end:]}"


def current_reference() -> str:
    """The reference of the committed schemas, secret fields marked."""
    from . import schema
    from .providers import SECRET_AUTH_FIELDS

    schemas = {kind: schema.load(kind) for kind in FILES}
    secrets = [f"registries[].auth.{f}" for f in SECRET_AUTH_FIELDS]
    return reference(schemas, secrets, SHORT_HINTS)


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m compiler.reference", description=__doc__.splitlines()[0])
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--write", metavar="FILE", type=Path, help="rewrite the reference block of FILE")
    group.add_argument("--check", metavar="FILE", type=Path, help="exit 1 when the reference block of FILE is stale")
    args = parser.parse_args(argv)
    block = current_reference()
    target = args.write or args.check
    if target is None:
        sys.stdout.write(block)
        return 0
    try:
        text = target.read_text(encoding="utf-8")
        updated = splice(text, block)
    except (OSError, MarkersMissing) as exc:
        print(f"{target}: {exc}", file=sys.stderr)
        return 1
    if args.check:
        if updated != text:
            print(f"{target}: the field reference is stale; run `{FIX_COMMAND}`", file=sys.stderr)
            return 1
        return 0
    if updated != text:
        target.write_text(updated, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
