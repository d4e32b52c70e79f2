"""GitHub annotations stay one line per problem, whatever the problem text holds."""

from __future__ import annotations

import pytest

from compiler.problems import Problem, Severity
from compiler.reporting import PROBLEM_REPORTERS

BREAKS = ["\n", "\r", "\r\n", "\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029"]


@pytest.mark.parametrize("brk", BREAKS, ids=[f"U+{ord(b[0]):04X}" for b in BREAKS])
def test_no_character_of_a_message_or_file_name_starts_a_new_line(brk):
    problems = [
        Problem(f"regis{brk}tries.yaml", 3, 5, Severity.ERROR, f"unknown field 'a{brk}::error::injected'", f"registries[0].a{brk}b", "schema"),
        Problem("clusters.yaml", 1, 1, Severity.WARNING, "plain", "", "rule"),
    ]
    out = PROBLEM_REPORTERS["github"](problems, 1, 1, 2)
    lines = out.splitlines()
    assert len(lines) == len(problems) + 1
    assert lines[0].startswith("::error file=regis") and lines[1].startswith("::warning ")
    assert not any(line.startswith("::error::injected") for line in lines)
