"""YAML text for regops' own documents, written directly: block style, key order kept.

PyYAML's representer and event emitter cost about a millisecond per document;
a fleet writes tens of thousands. Documents here hold mappings, lists,
strings, booleans and ints. A string is written plain only when a
conservative pattern allows it *and* every reader (PyYAML and go-yaml v2 as
YAML 1.1, go-yaml v3, through which sops computes its MAC) reads it back as
that same string; otherwise it is quoted.
"""

from __future__ import annotations

import functools
import re
from typing import Any

import yaml


def emit(document: dict) -> str:
    """The YAML text of `document`; raises NotSimple for values it does not handle."""
    out: list[str] = []
    _emit_mapping(document, 0, out)
    return "\n".join(out) + "\n"


class NotSimple(Exception):
    """A value the text emitter does not write (the caller falls back to PyYAML)."""


_PLAIN_SAFE = re.compile(r"[A-Za-z0-9_./^][A-Za-z0-9_./+=@%,()\[\]^$|-]*(?::[A-Za-z0-9_./+=@%,()\[\]^$|-]+)*\Z")
_SINGLE_OK = re.compile(r"[\x20-\x7e]*\Z")
_QUOTE_ESCAPE = re.compile("[^\x20-\x7e]|[\"\\\\]")
_QUOTE_SHORT = {"\n": "\\n", "\t": "\\t", "\r": "\\r", '"': '\\"', "\\": "\\\\", "\x00": "\\0"}


def _quote_char(m: re.Match) -> str:
    ch = m.group(0)
    short = _QUOTE_SHORT.get(ch)
    if short is not None:
        return short
    code = ord(ch)
    if code < 0x100:
        return f"\\x{code:02x}"
    if code < 0x10000:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def _scalar_text(text: str) -> str:
    if _PLAIN_SAFE.match(text) and plain_is_string(text):
        return text
    if _SINGLE_OK.match(text) and not text.startswith(" ") and not text.endswith(" "):
        return "'" + text.replace("'", "''") + "'"  # as PyYAML writes them
    return '"' + _QUOTE_ESCAPE.sub(_quote_char, text) + '"'


_BLOCK_LINE = re.compile(r"[\x21-\x7e]([\x20-\x7e]*[\x21-\x7e])?\Z")


def _literal_ok(text: str) -> bool:
    """A '|' block reproduces `text` exactly: one final newline, printable ASCII lines, no edge spaces."""
    if not text.endswith("\n") or text.endswith("\n\n"):
        return False
    return all(_BLOCK_LINE.match(line) for line in text[:-1].split("\n"))


def _emit_value(value: Any, indent: int, out: list[str], prefix: str) -> None:
    """Append `value` after `prefix` (a "key:" or "-" already indented)."""
    pad = " " * indent
    if isinstance(value, str):
        if "\n" in value and _literal_ok(value):
            out.append(prefix + " |")
            out.extend(pad + "  " + line for line in value[:-1].split("\n"))
        else:
            out.append(prefix + " " + _scalar_text(value))
    elif isinstance(value, dict):
        if not value:
            out.append(prefix + " {}")
            return
        out.append(prefix)
        _emit_mapping(value, indent + 2, out)
    elif isinstance(value, list):
        if not value:
            out.append(prefix + " []")
            return
        out.append(prefix)
        _emit_sequence(value, indent, out)
    elif value is True or value is False:
        out.append(prefix + (" true" if value else " false"))
    elif type(value) is int:
        out.append(prefix + " " + str(value))
    else:
        raise NotSimple


def _emit_mapping(mapping: dict, indent: int, out: list[str]) -> None:
    pad = " " * indent
    for key, value in mapping.items():
        _emit_value(value, indent, out, pad + _scalar_text(key) + ":")


def _emit_sequence(items: list, indent: int, out: list[str]) -> None:
    pad = " " * indent
    for item in items:
        if isinstance(item, dict) and item:
            first = len(out)
            _emit_mapping(item, indent + 2, out)
            out[first] = pad + "- " + out[first][indent + 2 :]
        else:
            _emit_value(item, indent, out, pad + "-")



@functools.lru_cache(maxsize=16384)
def plain_is_string(text: str) -> bool:
    """Whether ``text`` written plain reads back as this string everywhere.

    Both YAML 1.1 readers (PyYAML; go-yaml v2 in older Kubernetes tooling,
    which also takes ``y``/``n`` for bools) and go-yaml v3, through which sops
    computes the MAC, must agree.
    """
    if text in _YAML11_SHORT_BOOLS or text == "":
        return False
    for _tag, regexp in _YAML11_RESOLVERS.get(text[0], ()):
        if regexp.match(text):
            return False
    return not _go_reads_as_non_string(text)


_YAML11_RESOLVERS = yaml.resolver.Resolver.yaml_implicit_resolvers
_YAML11_SHORT_BOOLS = frozenset("y Y n N".split())

# Plain scalars that go-yaml v3 (resolve.go) does not read as strings.  We
# quote a superset: quoting is always safe, leaving one plain is not.
_GO_SPECIAL = frozenset(
    "~ null Null NULL true True TRUE false False FALSE .nan .NaN .NAN .inf .Inf .INF "
    "+.inf +.Inf +.INF -.inf -.Inf -.INF <<".split()
) | {""}
_GO_DOT_FLOAT = re.compile(r"\.[0-9]+(?:[eE][-+]?[0-9]+)?\Z")
_GO_NUMBER = re.compile(
    r"""(?:
        [-+]?(?:0[xX][0-9a-fA-F]+|0[oO][0-7]+|0[bB][01]+)         # ParseInt base 0
      | [-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?  # decimal int, yamlStyleFloat
      | 0b[-+]?[01]+ | -0b[01]+ | 0o[-+]?[0-7]+ | -0o[0-7]+        # the 0b/0o fallbacks
    )\Z""",
    re.X,
)
_TIMESTAMP_START = re.compile(r"[0-9]{4}-")


def _go_reads_as_non_string(text: str) -> bool:
    if text in _GO_SPECIAL:
        return True
    first = text[0]
    if first == ".":
        return _GO_DOT_FLOAT.match(text) is not None
    if first in "+-0123456789":
        if _TIMESTAMP_START.match(text):
            return True
        return _GO_NUMBER.match(text.replace("_", "")) is not None  # go-yaml drops '_'
    return False


