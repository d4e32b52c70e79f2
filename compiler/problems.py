"""Problems: what validation finds, one object per finding.

Every stage that inspects user input returns these instead of raising or
printing, so the CLI can gather all of them and pick a reporter.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Iterable


class Severity(str, enum.Enum):
    ERROR = "error"
    WARNING = "warning"


@dataclasses.dataclass(frozen=True, order=True)
class Problem:
    file: str
    line: int  # 1-based; 0 when the problem has no place in a file
    col: int  # 1-based
    severity: Severity
    message: str
    path: str = ""  # field path in the document, e.g. registries[2].auth.password
    rule: str = ""  # short id of the check that found it

    def format(self) -> str:
        where = f"{self.file}:{self.line}:{self.col}" if self.line else self.file
        suffix = f" [{self.path}]" if self.path else ""
        return f"{where}: {self.severity.value}: {self.message}{suffix}"

    def as_dict(self) -> dict:
        return {
            "file": self.file,
            "line": self.line,
            "column": self.col,
            "severity": self.severity.value,
            "message": self.message,
            "path": self.path,
            "rule": self.rule,
        }


def format_path(parts: Iterable[str | int]) -> str:
    """Render ('registries', 2, 'auth') as registries[2].auth."""
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def count(problems: Iterable[Problem]) -> tuple[int, int]:
    errors = warnings = 0
    for p in problems:
        if p.severity is Severity.ERROR:
            errors += 1
        else:
            warnings += 1
    return errors, warnings
