"""Unit tests of compiler/loading.py: positions, duplicate keys, alias and depth bounds, encodings."""

from __future__ import annotations

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from compiler import loading
from compiler.loading import Document, load_bytes, load_file, load_text
from compiler.problems import Severity


def doc(text: str) -> Document:
    result = load_text(text, "f.yaml")
    assert result.problems == [], result.problems
    assert result.document is not None
    return result.document


def only_problem(result):
    assert result.document is None
    assert len(result.problems) == 1, result.problems
    problem = result.problems[0]
    assert problem.file == "f.yaml"
    assert problem.severity is Severity.ERROR
    return problem


NESTED = """\
apiVersion: regops.io/v1alpha1
kind: Registries
registries:
  - name: ghcr
    provider: other
    chartRepositories: [acme/charts, "team/x"]
    auth:
      username: bot
      password: ENC[x]
  - {name: quay, provider: quay}
"""


# --------------------------------------------------------------------------
# positions


def test_data_is_plain_python():
    d = doc(NESTED)
    assert d.data["registries"][0]["chartRepositories"] == ["acme/charts", "team/x"]
    assert d.data["registries"][1] == {"name": "quay", "provider": "quay"}
    assert d.file == "f.yaml"


@pytest.mark.parametrize(
    "path, where",
    [
        ((), (1, 1)),
        (("apiVersion",), (1, 13)),
        (("registries",), (4, 3)),
        (("registries", 0), (4, 5)),
        (("registries", 0, "name"), (4, 11)),
        (("registries", 0, "chartRepositories"), (6, 24)),
        (("registries", 0, "chartRepositories", 0), (6, 25)),
        (("registries", 0, "chartRepositories", 1), (6, 38)),
        (("registries", 0, "auth"), (8, 7)),
        (("registries", 0, "auth", "password"), (9, 17)),
        (("registries", 1), (10, 5)),
        (("registries", 1, "provider"), (10, 28)),
    ],
)
def test_value_positions(path, where):
    d = doc(NESTED)
    assert d.positions[path] == where
    assert d.where(path) == where


@pytest.mark.parametrize(
    "path, where",
    [
        (("apiVersion",), (1, 1)),
        (("registries",), (3, 1)),
        (("registries", 0, "name"), (4, 5)),
        (("registries", 0, "auth"), (7, 5)),
        (("registries", 0, "auth", "password"), (9, 7)),
        (("registries", 1, "provider"), (10, 18)),
    ],
)
def test_key_positions(path, where):
    d = doc(NESTED)
    assert d.key_positions[path] == where
    assert d.where(path, key=True) == where


def test_where_falls_back_to_the_nearest_parent():
    d = doc(NESTED)
    # a field that is absent: its mapping
    assert d.where(("registries", 0, "auth", "token")) == (8, 7)
    # keys: a list item has no key, so its own value position is used
    assert d.where(("registries", 0), key=True) == (4, 5)
    assert d.where(("registries", 0, "auth", "token"), key=True) == (7, 5)
    assert d.where(("nothing", "here")) == (1, 1)


def test_positions_after_comments_and_block_scalars():
    d = doc("# header\n\nca: |\n  line one\n  line two\nnext:\n    - a\n")
    assert d.positions[("ca",)] == (3, 5)
    assert d.data["ca"] == "line one\nline two\n"
    assert d.key_positions[("next",)] == (6, 1)
    assert d.positions[("next", 0)] == (7, 7)


def test_problem_and_get():
    d = doc(NESTED)
    p = d.problem(("registries", 0, "auth", "password"), "bad", rule="r")
    assert (p.file, p.line, p.col, p.path, p.rule) == ("f.yaml", 9, 17, "registries[0].auth.password", "r")
    k = d.problem(("registries", 0, "auth"), "bad", key=True, severity=Severity.WARNING)
    assert (k.line, k.col, k.severity) == (7, 5, Severity.WARNING)
    assert d.get(("registries", 1, "name")) == "quay"
    assert d.get(("registries", 5, "name"), "none") == "none"
    assert d.get(("kind", "x")) is None


# --------------------------------------------------------------------------
# duplicate keys


def test_duplicate_key_nested():
    p = only_problem(load_text("a:\n  b: 1\n  c: 2\n  b: 3\n", "f.yaml"))
    assert (p.line, p.col, p.path, p.rule) == (4, 3, "a.b", "yaml-structure")
    assert p.message == "duplicate key 'b' (first defined at line 2)"


def test_duplicate_key_top_level_and_in_flow_mapping():
    p = only_problem(load_text("kind: A\nkind: B\n", "f.yaml"))
    assert (p.line, p.col, p.path) == (2, 1, "kind")
    p = only_problem(load_text("x: [{a: 1, b: 2, a: 3}]\n", "f.yaml"))
    assert (p.line, p.col, p.path) == (1, 18, "x[0].a")


def test_keys_that_differ_only_as_yaml_scalars_are_duplicates():
    # `on` and `"on"` are the same field name for regops
    p = only_problem(load_text('on: 1\n"on": 2\n', "f.yaml"))
    assert p.message.startswith("duplicate key 'on'")


def test_same_key_in_different_mappings_is_fine():
    d = doc("- name: a\n- name: b\n")
    assert d.data == [{"name": "a"}, {"name": "b"}]


# --------------------------------------------------------------------------
# scalars and keys


def test_non_string_keys_stay_strings():
    d = doc("on: 1\noff: 2\nyes: 3\ntrue: 4\n1: 5\n1.5: 6\nnull: 7\n~: 8\n2024-01-01: 9\n")
    assert list(d.data) == ["on", "off", "yes", "true", "1", "1.5", "null", "~", "2024-01-01"]
    assert d.key_positions[("1.5",)] == (6, 1)


def test_values_keep_yaml_types():
    d = doc("a: on\nb: 1.30\nc: 0x10\nd: ~\ne: '1.30'\nf: 2026-11-29T23:51:51Z\ng: !!binary aGk=\nh: !local x\n")
    assert d.data["a"] is True
    assert d.data["b"] == 1.3
    assert d.data["c"] == 16
    assert d.data["d"] is None
    assert d.data["e"] == "1.30"
    # timestamps, binary and local tags: the text, left to the schema
    assert d.data["f"] == "2026-11-29T23:51:51Z"
    assert d.data["g"] == "aGk="
    assert d.data["h"] == "x"


def test_merge_key_is_refused():
    p = only_problem(load_text("base: &b {a: 1}\nother:\n  <<: *b\n  c: 2\n", "f.yaml"))
    assert (p.line, p.col, p.path) == (3, 3, "other")
    assert "merge keys" in p.message


def test_complex_key_is_refused():
    p = only_problem(load_text("? [a, b]\n: 1\n", "f.yaml"))
    assert (p.line, p.col) == (1, 3)
    assert p.message == "mapping keys must be plain strings"


# --------------------------------------------------------------------------
# aliases, node and depth bounds


def test_aliases_within_the_bound_are_expanded():
    d = doc("a: &x [1, 2]\nb: *x\n")
    assert d.data == {"a": [1, 2], "b": [1, 2]}
    # an alias path gets the anchored node's position (which starts at its anchor)
    assert d.positions[("b",)] == (1, 4)
    assert d.positions[("b", 1)] == (1, 11)


def billion_laughs(levels: int, width: int) -> str:
    out = "l0: &a0 [" + ", ".join(["lol"] * width) + "]\n"
    for i in range(1, levels):
        out += f"l{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * width) + "]\n"
    return out


def test_alias_bomb_is_refused(monkeypatch):
    monkeypatch.setattr(loading, "MAX_NODES", 1000)
    p = only_problem(load_text(billion_laughs(5, 9), "f.yaml"))
    assert "more than 1000 nodes" in p.message
    assert p.rule == "yaml-structure"
    # the path is cut after three parts, so the message stays short
    assert p.path.count("[") + p.path.count(".") <= 2


def test_node_bound_is_inclusive(monkeypatch):
    text = "a: [1, 2, 3]\n"  # root, a, 1, 2, 3
    monkeypatch.setattr(loading, "MAX_NODES", 5)
    assert load_text(text, "f.yaml").problems == []
    monkeypatch.setattr(loading, "MAX_NODES", 4)
    assert "more than 4 nodes" in only_problem(load_text(text, "f.yaml")).message


def test_default_node_bound_takes_a_real_bomb():
    p = only_problem(load_text(billion_laughs(9, 9), "f.yaml"))
    assert "more than 500000 nodes (an alias bomb?)" in p.message


def test_recursive_alias_is_refused():
    p = only_problem(load_text("a: &r\n  - b: *r\n", "f.yaml"))
    assert "nests deeper than 64 levels" in p.message
    assert p.path == "a[0].b"


def test_depth_bound():
    ok = "a: " + "[" * 63 + "x" + "]" * 63 + "\n"  # the scalar is at depth 64
    assert load_text(ok, "f.yaml").problems == []
    deep = "a: " + "[" * 64 + "x" + "]" * 64 + "\n"
    p = only_problem(load_text(deep, "f.yaml"))
    assert "nests deeper than 64 levels" in p.message
    assert p.path == "a[0][0]"


# --------------------------------------------------------------------------
# documents


@pytest.mark.parametrize("text", ["", "\n\n", "# just a comment\n", "\ufeff"])
def test_empty_file(text):
    p = only_problem(load_text(text, "f.yaml") if not text.startswith("\ufeff") else load_bytes(text.encode(), "f.yaml"))
    assert (p.line, p.col, p.rule) == (1, 1, "yaml-empty")


def test_explicit_null_document_is_loaded_as_none():
    # not a loading error: the schema says it is not a mapping
    for text in ("---\n", "~\n", "---\n...\n"):
        assert load_text(text, "f.yaml").document.data is None


def test_multi_document_points_at_the_second():
    p = only_problem(load_text("a: 1\n---\nb: 2\n---\nc: 3\n", "f.yaml"))
    assert (p.line, p.col, p.rule) == (3, 1, "yaml-multidoc")
    assert "3 YAML documents" in p.message


def test_document_markers_around_one_document_are_fine():
    d = doc("---\na: 1\n...\n")
    assert d.data == {"a": 1}
    assert d.positions[("a",)] == (2, 4)


def test_syntax_error_position_and_message():
    p = only_problem(load_text("a:\n  b: 1\n c: 2\n", "f.yaml"))
    assert p.rule == "yaml-syntax"
    assert p.message.startswith("invalid YAML: ")
    assert (p.line, p.col) == (3, 2)


# --------------------------------------------------------------------------
# bytes, encodings, line endings


def test_bom_is_skipped_and_columns_are_unchanged():
    d = load_bytes(b"\xef\xbb\xbfkind: Clusters\nx: [1]\n", "f.yaml").document
    assert d.data == {"kind": "Clusters", "x": [1]}
    assert d.key_positions[("kind",)] == (1, 1)
    assert d.positions[("kind",)] == (1, 7)
    assert d.positions[("x", 0)] == (2, 5)


def test_crlf_line_endings():
    text = "a:\r\n  b: 1\r\n  c: [x, y]\r\nd: |\r\n  two\r\n  lines\r\n"
    d = load_bytes(text.encode(), "f.yaml").document
    assert d.data == {"a": {"b": 1, "c": ["x", "y"]}, "d": "two\nlines\n"}
    assert d.positions[("a", "c", 1)] == (3, 10)
    assert d.key_positions[("d",)] == (4, 1)


def test_crlf_duplicate_key_line():
    p = only_problem(load_bytes(b"a: 1\r\nb: 2\r\na: 3\r\n", "f.yaml"))
    assert (p.line, p.col) == (3, 1)
    assert "first defined at line 1" in p.message


def test_not_utf8():
    p = only_problem(load_bytes(b"a: 1\nb: caf\xe9\n", "f.yaml"))
    assert (p.line, p.col, p.rule) == (2, 7, "yaml-encoding")
    assert p.message == "file is not valid UTF-8 (byte 0xe9 at offset 11)"


def test_utf16_is_not_utf8():
    p = only_problem(load_bytes("a: 1\n".encode("utf-16"), "f.yaml"))
    assert (p.line, p.col) == (1, 1)


def test_not_utf8_column_counts_characters():
    p = only_problem(load_bytes("b: é \xff\n".encode("utf-8").replace(b"\xc3\xbf", b"\xff"), "f.yaml"))
    assert (p.line, p.col) == (1, 6)


def test_control_character():
    p = only_problem(load_text("a: 1\nb: x\x07\n", "f.yaml"))
    assert (p.line, p.col) == (2, 5)
    assert "control characters are not allowed" in p.message


def test_control_character_after_non_ascii():
    p = only_problem(load_text("# Müller, Jürgen\nb: x\x07\n", "f.yaml"))
    assert (p.line, p.col) == (2, 5)


def test_non_ascii_text_keeps_character_columns():
    d = doc("name: Jürgen\nü: [ä, ö]\n")
    assert d.positions[("ü", 1)] == (2, 8)


# --------------------------------------------------------------------------
# files


def test_load_file(tmp_path):
    path = tmp_path / "r.yaml"
    path.write_text("a: 1\n", encoding="utf-8")
    result = load_file(path)
    assert result.problems == []
    assert result.document.file == str(path)
    assert load_file(path, "shown.yaml").document.file == "shown.yaml"


def test_load_file_size_bound(tmp_path, monkeypatch):
    monkeypatch.setattr(loading, "MAX_FILE_BYTES", 64)
    path = tmp_path / "r.yaml"
    path.write_bytes(b"a: 1\n" + b"#" * 58 + b"\n")  # exactly 64 bytes
    assert load_file(path).problems == []
    path.write_bytes(b"a: 1\n" + b"#" * 59 + b"\n")  # 65
    result = load_file(path, "r.yaml")
    assert result.document is None
    (p,) = result.problems
    assert (p.file, p.line, p.col, p.rule) == ("r.yaml", 0, 0, "yaml-size")


def test_load_file_missing(tmp_path):
    result = load_file(tmp_path / "nope.yaml", "nope.yaml")
    (p,) = result.problems
    assert (p.line, p.rule) == (0, "yaml-read")
    assert p.message.startswith("cannot read file")


# --------------------------------------------------------------------------
# secrets in loader messages


@pytest.mark.parametrize(
    "loader",
    [
        pytest.param(getattr(yaml, "CSafeLoader", None), id="libyaml"),
        pytest.param(yaml.SafeLoader, id="pure-python"),
    ],
)
def test_syntax_errors_do_not_quote_values(monkeypatch, loader):
    if loader is None:
        pytest.skip("PyYAML built without libyaml")
    monkeypatch.setattr(loading, "_Loader", loader)
    p = only_problem(load_text("auth:\n  password: *Hunter2IsMyPassword\n", "f.yaml"))
    assert (p.line, p.col) == (2, 13)
    assert "Hunter2" not in p.message


# --------------------------------------------------------------------------
# robustness


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("ab:- []{}&*!|>'\"#\n\t\r,?<%@`~\x07\ufeffé")), max_size=60))
def test_load_text_never_raises(text):
    result = load_text(text, "f.yaml")
    assert (result.document is None) == bool(result.problems)
    for p in result.problems:
        assert p.line >= 1 and p.col >= 1


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=40))
def test_load_bytes_never_raises(raw):
    result = load_bytes(raw, "f.yaml")
    assert (result.document is None) == bool(result.problems)
