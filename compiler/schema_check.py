"""Layer 2 of validation: each document against its kind's JSON Schema.

jsonschema's own messages quote whole instances and regexes; these are
rewritten into one sentence about one field, with a suggestion where a typo is
likely, and never with the value of anything under `auth`.
"""

from __future__ import annotations

import difflib
import re
from typing import Any

from . import schema
from .loading import Document
from .patterns import PATTERN_HINTS
from .problems import Problem

ENC_RE = re.compile(r"^ENC\[[A-Z0-9_]+,data:.*\]$", re.DOTALL)
SECRET_FIELD_REGEX = "^(password|token|serviceAccountKey|accessKeyId|secretAccessKey)$"
RULE = "schema"

_JSON_TYPES = {str: "a string", bool: "a boolean", int: "a number", float: "a number", list: "a list", dict: "a mapping", type(None): "empty (null)"}
_EXPECTED = {"string": "a string", "boolean": "true or false", "integer": "an integer", "number": "a number", "array": "a list", "object": "a mapping", "null": "empty"}


def check(doc: Document, kind: str) -> list[Problem]:
    if not isinstance(doc.data, dict):
        return [doc.problem((), f"expected a mapping with apiVersion: regops.io/v1alpha1 and kind: {kind}", rule=RULE)]
    problems = list(_encrypted_plain_fields(doc))
    fast = schema.fast_validator(kind)
    if fast is not None:
        try:
            fast(doc.data)
            return problems
        except Exception:  # noqa: BLE001 — rejected (or unsure): jsonschema explains it
            pass
    for error in schema.validator(kind).iter_errors(doc.data):
        if isinstance(error.instance, str) and ENC_RE.match(error.instance):
            continue  # reported once by _encrypted_plain_fields
        problems.extend(_explain(doc, error))
    return problems


from .providers import SECRET_AUTH_FIELDS as _SECRET_FIELDS  # noqa: E402


def _encrypted_plain_fields(doc: Document):
    """ENC[...] where a non-secret field belongs: the file was encrypted too widely."""
    stack: list[tuple[tuple, Any]] = [((), doc.data)]
    while stack:
        path, node = stack.pop()
        if isinstance(node, dict):
            for key, value in node.items():
                if not path and key == "sops":
                    continue
                stack.append((path + (key,), value))
        elif isinstance(node, list):
            stack.extend((path + (i,), v) for i, v in enumerate(node))
        elif isinstance(node, str) and ENC_RE.match(node):
            if len(path) >= 2 and path[-2] == "auth" and path[-1] in _SECRET_FIELDS:
                continue
            yield doc.problem(path, f"{_field(path)} is SOPS-encrypted, but regops reads every non-secret field without a key; "
                                    f"encrypt only the secret fields (encrypted_regex: {SECRET_FIELD_REGEX})", rule=RULE)


def _field(path: tuple) -> str:
    for part in reversed(path):
        if isinstance(part, str):
            return part
    return "value"


def _secret(path: tuple) -> bool:
    return "auth" in path


def _show(value: Any, path: tuple) -> str:
    if _secret(path):
        return "the value"
    text = repr(value) if not isinstance(value, str) else f"'{value}'"
    return text if len(text) <= 80 else text[:77] + "...'"


def _explain(doc: Document, error) -> list[Problem]:
    path = tuple(error.absolute_path)
    field = _field(path)
    instance = error.instance
    kind = error.validator

    if kind == "additionalProperties":
        allowed = sorted((error.schema.get("properties") or {}).keys())
        out = []
        for extra in instance:
            if extra in allowed:
                continue
            hint = _suggest(extra, allowed)
            msg = f"unknown field '{extra}'" + (f"; did you mean '{hint}'?" if hint else f"; expected one of: {', '.join(allowed)}")
            out.append(doc.problem(path + (extra,), msg, rule=RULE, key=True))
        return out
    if kind == "required":
        out = []
        for name in error.validator_value:
            if isinstance(instance, dict) and name not in instance:
                where = f" in {_field(path)}" if path else ""
                out.append(doc.problem(path, f"missing required field '{name}'{where}", rule=RULE, key=bool(path)))
        return out
    if kind == "enum":
        options = [str(o) for o in error.validator_value]
        hint = _suggest(str(instance), options) if isinstance(instance, str) else None
        msg = f"{field}: {_show(instance, path)} is not one of: {', '.join(options)}"
        if hint:
            msg += f"; did you mean '{hint}'?"
        return [doc.problem(path, msg, rule=RULE)]
    if kind == "const":
        return [doc.problem(path, f"{field} must be {error.validator_value}, not {_show(instance, path)}", rule=RULE)]
    if kind == "type":
        expected = error.validator_value
        expected = [expected] if isinstance(expected, str) else expected
        want = " or ".join(_EXPECTED.get(t, t) for t in expected)
        got = _JSON_TYPES.get(type(instance), type(instance).__name__)
        msg = f"{field} must be {want}, not {got}"
        if "string" in expected and isinstance(instance, (int, float)) and not isinstance(instance, bool) and not _secret(path):
            msg += f" (YAML read {instance!r} as a number; quote it)"
        elif "string" in expected and isinstance(instance, bool) and not _secret(path):
            msg += " (YAML reads yes/no/true/false/on/off as booleans; quote it)"
        return [doc.problem(path, msg, rule=RULE)]
    if kind == "pattern":
        hint = PATTERN_HINTS.get(error.validator_value, f"of the form {error.validator_value}")
        return [doc.problem(path, f"{field}: {_show(instance, path)} is not {hint}", rule=RULE)]
    if kind == "maxLength":
        return [doc.problem(path, f"{field} is {len(instance)} characters long; at most {error.validator_value} are allowed", rule=RULE)]
    if kind in ("minLength", "minItems"):
        return [doc.problem(path, f"{field} must not be empty", rule=RULE)]
    if kind in ("anyOf", "oneOf"):
        if field == "imagePullSecret":
            return [doc.problem(path, "imagePullSecret must be a Secret name (a DNS-1123 subdomain) or a list of them", rule=RULE)]
        import jsonschema.exceptions

        best = jsonschema.exceptions.best_match(error.context)
        if best is not None:
            return _explain(doc, best)
    return [doc.problem(path, f"{field}: {error.message if not _secret(path) else 'invalid value'}", rule=RULE)]


def _suggest(word: str, options: list[str]) -> str | None:
    match = difflib.get_close_matches(word, options, n=1, cutoff=0.6)
    if not match:
        lowered = {o.lower(): o for o in options}
        return lowered.get(word.lower())
    return match[0]
