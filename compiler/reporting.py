"""Reporters: the same result as text, JSON or GitHub Actions annotations."""

from __future__ import annotations

import json
from collections.abc import Callable

from .problems import Problem


def summary(errors: int, warnings: int, files: int) -> str:
    def plural(n: int, word: str) -> str:
        return f"{n} {word}{'' if n == 1 else 's'}"

    return f"{plural(errors, 'error')}, {plural(warnings, 'warning')} in {plural(files, 'file')}"


def text(problems: list[Problem], errors: int, warnings: int, files: int) -> str:
    lines = [p.format() for p in problems]
    lines.append(summary(errors, warnings, files))
    return "\n".join(lines) + "\n"


def as_json(problems: list[Problem], errors: int, warnings: int, files: int) -> str:
    doc = {
        "valid": errors == 0,
        "errors": errors,
        "warnings": warnings,
        "files": files,
        "problems": [p.as_dict() for p in problems],
        "summary": summary(errors, warnings, files),
    }
    return json.dumps(doc, indent=2) + "\n"


def _escape_data(s: str) -> str:
    return s.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(s: str) -> str:
    return _escape_data(s).replace(":", "%3A").replace(",", "%2C")


def github(problems: list[Problem], errors: int, warnings: int, files: int) -> str:
    lines = []
    for p in problems:
        props = [f"file={_escape_property(p.file)}"]
        if p.line:
            props += [f"line={p.line}", f"col={p.col}"]
        props.append(f"title={_escape_property('regops ' + (p.path or p.rule or 'config'))}")
        lines.append(f"::{p.severity.value} {','.join(props)}::{_escape_data(p.message)}")
    lines.append(summary(errors, warnings, files))
    return "\n".join(lines) + "\n"


PROBLEM_REPORTERS: dict[str, Callable[[list[Problem], int, int, int], str]] = {
    "text": text,
    "json": as_json,
    "github": github,
}
