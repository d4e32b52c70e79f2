"""Safe YAML loading that keeps the line and column of every node.

PyYAML's safe loader already refuses arbitrary tags, but it silently keeps the
last of two duplicate keys, expands aliases without limit and reads any size.
Here the file is composed into nodes (libyaml when available) and converted by
hand, so that each of those becomes a Problem pointing into the user's file,
and every value's position is kept for later error messages.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import Any

import yaml

from .problems import Problem, Severity, format_path

MAX_FILE_BYTES = 4 * 1024 * 1024
# Configs have thousands of nodes; a billion-laughs file has billions.
MAX_NODES = 500_000
MAX_DEPTH = 64

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_MERGE_TAG = "tag:yaml.org,2002:merge"

Path_ = tuple[str | int, ...]


@dataclasses.dataclass
class Document:
    """One parsed YAML document and where each of its nodes came from."""

    file: str
    data: Any
    # position of each value node, and of each mapping key, as (line, col), 1-based
    positions: dict[Path_, tuple[int, int]]
    key_positions: dict[Path_, tuple[int, int]]

    def where(self, path: Path_, *, key: bool = False) -> tuple[int, int]:
        """Best known position for `path`: the node itself, else its nearest parent."""
        table = self.key_positions if key else self.positions
        p = tuple(path)
        while p:
            if p in table:
                return table[p]
            if key and p in self.positions:
                return self.positions[p]
            p = p[:-1]
        return self.positions.get((), (1, 1))

    def problem(
        self,
        path: Path_,
        message: str,
        *,
        severity: Severity = Severity.ERROR,
        rule: str = "",
        key: bool = False,
    ) -> Problem:
        line, col = self.where(path, key=key)
        return Problem(self.file, line, col, severity, message, format_path(path), rule)

    def get(self, path: Path_, default: Any = None) -> Any:
        node = self.data
        for part in path:
            try:
                node = node[part]
            except (KeyError, IndexError, TypeError):
                return default
        return node


@dataclasses.dataclass
class LoadResult:
    document: Document | None
    problems: list[Problem]


class _LoadError(Exception):
    def __init__(self, message: str, mark: Any = None, path: Path_ = ()):
        super().__init__(message)
        self.message = message
        self.mark = mark
        self.path = path


def load_file(path: Path | str, display: str | None = None) -> LoadResult:
    """Read one single-document YAML file; never raises for bad input."""
    display = display or str(path)
    try:
        with open(path, "rb") as fh:
            raw = fh.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        return LoadResult(None, [_fail(display, f"cannot read file: {exc.strerror or exc}", 0, 0, "yaml-read")])
    if len(raw) > MAX_FILE_BYTES:
        return LoadResult(
            None,
            [_fail(display, f"file is larger than {MAX_FILE_BYTES // (1024 * 1024)} MiB; regops refuses to read it", 0, 0, "yaml-size")],
        )
    return load_bytes(raw, display)


def load_bytes(raw: bytes, display: str) -> LoadResult:
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        line_start = raw.rfind(b"\n", 0, exc.start) + 1
        col = len(raw[line_start : exc.start].decode("utf-8", "replace")) + 1
        return LoadResult(
            None,
            [_fail(display, f"file is not valid UTF-8 (byte 0x{raw[exc.start]:02x} at offset {exc.start})", line, col, "yaml-encoding")],
        )
    return load_text(text, display)


def load_text(text: str, display: str) -> LoadResult:
    try:
        nodes = list(yaml.compose_all(text, Loader=_Loader))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem, context = _redact(exc.problem), _redact(exc.context)
        message = f"invalid YAML: {problem or context}"
        if context and problem:
            message = f"invalid YAML: {problem} ({context})"
        return LoadResult(None, [_fail(display, message, *_pos(mark), "yaml-syntax")])
    except yaml.YAMLError as exc:  # ReaderError and friends carry no mark
        line, col = _reader_position(exc, text)
        return LoadResult(None, [_fail(display, f"invalid YAML: {_reader_message(exc)}", line, col, "yaml-syntax")])

    if not nodes or nodes[0] is None:
        return LoadResult(None, [_fail(display, "file is empty; expected one YAML document", 1, 1, "yaml-empty")])
    if len(nodes) > 1:
        line, col = _pos(nodes[1].start_mark)
        return LoadResult(
            None,
            [_fail(display, f"file holds {len(nodes)} YAML documents; regops expects exactly one per file", line, col, "yaml-multidoc")],
        )

    converter = _Converter()
    try:
        data = converter.convert(nodes[0], (), 0)
    except _LoadError as exc:
        line, col = _pos(exc.mark)
        return LoadResult(None, [Problem(display, line, col, Severity.ERROR, exc.message, format_path(exc.path), "yaml-structure")])
    return LoadResult(Document(display, data, converter.positions, converter.key_positions), [])


class _Converter:
    """Turns a node graph into plain Python data, recording positions."""

    def __init__(self) -> None:
        self.positions: dict[Path_, tuple[int, int]] = {}
        self.key_positions: dict[Path_, tuple[int, int]] = {}
        self.count = 0
        self._scalars = yaml.constructor.SafeConstructor()

    def convert(self, node: yaml.Node, path: Path_, depth: int) -> Any:
        self.count += 1
        if self.count > MAX_NODES:
            raise _LoadError(
                f"document expands to more than {MAX_NODES} nodes (an alias bomb?); regops refuses to expand it",
                node.start_mark,
                path[:3],
            )
        if depth > MAX_DEPTH:
            raise _LoadError(f"document nests deeper than {MAX_DEPTH} levels (a recursive alias?)", node.start_mark, path[:3])
        self.positions.setdefault(path, _pos(node.start_mark))
        if isinstance(node, yaml.ScalarNode):
            try:
                return self._scalar(node)
            except ValueError:
                # e.g. an integer past Python's digit limit; the value is not echoed
                raise _LoadError("a number in this file is too large to read", node.start_mark, path[:3]) from None
        if isinstance(node, yaml.SequenceNode):
            return [self.convert(child, path + (i,), depth + 1) for i, child in enumerate(node.value)]
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node, path, depth)
        raise _LoadError(f"unsupported YAML node {type(node).__name__}", node.start_mark, path)

    def _mapping(self, node: yaml.MappingNode, path: Path_, depth: int) -> dict:
        out: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE_TAG:
                raise _LoadError("YAML merge keys (<<) are not supported; write the fields out", key_node.start_mark, path)
            if not isinstance(key_node, yaml.ScalarNode):
                raise _LoadError("mapping keys must be plain strings", key_node.start_mark, path)
            # Keys are field names: keep their text, so `on:` or `1:` never turn into bools or ints.
            key = key_node.value
            if key in out:
                first = self.key_positions[path + (key,)]
                raise _LoadError(
                    f"duplicate key {key!r} (first defined at line {first[0]})",
                    key_node.start_mark,
                    path + (key,),
                )
            self.key_positions[path + (key,)] = _pos(key_node.start_mark)
            out[key] = self.convert(value_node, path + (key,), depth + 1)
        return out

    def _scalar(self, node: yaml.ScalarNode) -> Any:
        tag = node.tag
        if tag == "tag:yaml.org,2002:str":
            return node.value
        if tag == "tag:yaml.org,2002:null":
            return None
        if tag == "tag:yaml.org,2002:bool":
            return self._scalars.construct_yaml_bool(node)
        if tag == "tag:yaml.org,2002:int":
            return self._scalars.construct_yaml_int(node)
        if tag == "tag:yaml.org,2002:float":
            return self._scalars.construct_yaml_float(node)
        # timestamps, binary and unknown local tags: keep the text; the schema decides
        return node.value


def _pos(mark: Any) -> tuple[int, int]:
    if mark is None:
        return (1, 1)
    return (mark.line + 1, mark.column + 1)


def _fail(file: str, message: str, line: int, col: int, rule: str) -> Problem:
    return Problem(file, line, col, Severity.ERROR, message, "", rule)


def _redact(text: str | None) -> str | None:
    """Alias and anchor names are user text (a password starting with '*' is an alias): never echo them."""
    if text and ("alias" in text or "anchor" in text):
        return re.sub(r"'[^']*'", "", text).replace("  ", " ").strip()
    return text


def _reader_position(exc: yaml.YAMLError, text: str) -> tuple[int, int]:
    position = getattr(exc, "position", None)
    if isinstance(position, int) and _Loader is not yaml.SafeLoader:
        # libyaml counts UTF-8 bytes; turn the offset into a character index.
        position = len(text.encode("utf-8")[:position].decode("utf-8", "ignore"))
    if isinstance(position, int):
        line = text.count("\n", 0, position) + 1
        col = position - (text.rfind("\n", 0, position) + 1) + 1
        return line, col
    return 1, 1


def _reader_message(exc: yaml.YAMLError) -> str:
    reason = getattr(exc, "reason", None)
    character = getattr(exc, "character", None)
    if reason and isinstance(character, str):
        return f"{reason} (character U+{ord(character):04X})"
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__
