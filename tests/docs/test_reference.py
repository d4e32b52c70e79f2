"""The README's field reference is generated from the committed schemas and kept current."""

from __future__ import annotations

from pathlib import Path

import pytest

from compiler import reference, schema

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"


def test_readme_reference_block_is_current():
    text = README.read_text(encoding="utf-8")
    assert reference.START in text and reference.END in text, "README.md lost its reference markers"
    assert reference.splice(text, reference.current_reference()) == text, (
        f"the field reference in README.md is stale: run `{reference.FIX_COMMAND}`"
    )


def test_check_command_reports_a_stale_block(tmp_path, capsys):
    stale = tmp_path / "README.md"
    stale.write_text(f"# x\n\n{reference.START}\nold table\n{reference.END}\n\ntail\n", encoding="utf-8")
    assert reference.main(["--check", str(stale)]) == 1
    assert reference.FIX_COMMAND in capsys.readouterr().err
    assert reference.main(["--write", str(stale)]) == 0
    written = stale.read_text(encoding="utf-8")
    assert "old table" not in written and written.endswith(f"{reference.END}\n\ntail\n")
    assert "`registries[].auth.password` **(secret)**" in written
    assert reference.main(["--check", str(stale)]) == 0


def test_missing_markers_are_an_error(tmp_path, capsys):
    plain = tmp_path / "README.md"
    plain.write_text("# no markers\n", encoding="utf-8")
    assert reference.main(["--write", str(plain)]) == 1
    assert "reference:start" in capsys.readouterr().err
    assert plain.read_text(encoding="utf-8") == "# no markers\n"


def _paths(root: dict, node: dict, prefix: str = ""):
    """Every field path of a schema, walked independently of the generator."""
    if "$ref" in node:
        node = root["$defs"][node["$ref"].rsplit("/", 1)[-1]]
    for name, prop in (node.get("properties") or {}).items():
        path = f"{prefix}.{name}" if prefix else name
        yield path
        target = root["$defs"][prop["$ref"].rsplit("/", 1)[-1]] if "$ref" in prop else prop
        if target.get("type") == "object":
            yield from _paths(root, target, path)
        elif target.get("type") == "array" and "$ref" in (target.get("items") or {}):
            yield from _paths(root, target["items"], f"{path}[]")


@pytest.mark.parametrize("kind", list(reference.FILES))
def test_every_schema_field_has_one_row_with_its_description(kind):
    doc = schema.load(kind)
    block = reference.current_reference()
    section = block.split(f"### {kind} ", 1)[1].split("\n### ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| `")]
    paths = list(_paths(doc, doc))
    assert len(paths) > 5
    assert [row.split("`")[1] for row in rows] == paths
    for row, path in zip(rows, paths):
        description = row.rstrip(" |").rsplit(" | ", 1)[1]
        assert description, f"{kind} {path} has no description"


def test_generator_columns():
    doc = {
        "$defs": {
            "Item": {
                "type": "object",
                "required": ["name"],
                "properties": {
                    "name": {"type": "string", "pattern": "^[a-z]+$", "maxLength": 9, "description": "Name | id."},
                    "mode": {"type": "string", "enum": ["a", "b"], "default": "a", "description": "Mode."},
                    "secret": {"type": "string", "description": "Hidden."},
                    "refs": {
                        "anyOf": [{"type": "string", "pattern": "^x$"}, {"type": "array", "items": {"type": "string", "pattern": "^x$"}}],
                        "description": "One or many.",
                    },
                },
            }
        },
        "type": "object",
        "required": ["items"],
        "properties": {
            "kind": {"const": "Thing", "type": "string", "description": "Kind."},
            "items": {"type": "array", "minItems": 1, "items": {"$ref": "#/$defs/Item"}, "description": "Items."},
        },
    }
    table = reference.reference({"Things": doc}, ["items[].secret"], {"^[a-z]+$": "lowercase"})
    rows = {line.split("`")[1]: [c.strip() for c in line.strip("|").split(" | ")] for line in table.splitlines() if line.startswith("| `")}
    assert list(rows) == ["kind", "items", "items[].name", "items[].mode", "items[].secret", "items[].refs"]
    assert rows["kind"][1:5] == ["string", "", "", "`Thing`"]
    assert rows["items"][1:5] == ["list of mapping", "yes", "", "at least one"]
    assert rows["items[].name"][2:6] == ["yes", "", "lowercase; at most 9 characters", "Name \\| id."]
    assert rows["items[].mode"][3:5] == ['`"a"`', "`a`, `b`"]
    assert rows["items[].secret"][0] == "`items[].secret` **(secret)**"
    assert rows["items[].refs"][1] == "string or list of string"
    assert rows["items[].refs"][4] == "matching `^x$`"


def test_every_secret_field_is_marked():
    from compiler.providers import SECRET_AUTH_FIELDS

    block = reference.current_reference()
    marked = {line.split("`")[1] for line in block.splitlines() if "**(secret)**" in line}
    assert marked == {f"registries[].auth.{f}" for f in SECRET_AUTH_FIELDS}
