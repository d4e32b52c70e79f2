"""The README's troubleshooting table covers every problem code regops can emit."""

from __future__ import annotations

from doc_codes import scan
from doc_readme import README, ROOT

EXIT_ROWS = {"(exit 2)", "(exit 3)"}


def documented() -> dict[str, int]:
    """Codes in the first column of the Troubleshooting table, with their row counts."""
    text = README.read_text(encoding="utf-8")
    section = text.split("\n## Troubleshooting\n", 1)[1].split("\n## ", 1)[0]
    rows: dict[str, int] = {}
    for line in section.splitlines():
        if not line.startswith("| ") or line.startswith(("| rule ", "| ---")):
            continue
        first = line.split(" | ", 1)[0].removeprefix("| ").strip()
        code = first.strip("`") if first.startswith("`") else first
        rows[code] = rows.get(code, 0) + 1
        assert line.count(" | ") == 3, f"troubleshooting row needs rule, symptom, cause, fix: {line[:80]}"
    return rows


def test_every_emitted_code_has_a_troubleshooting_row():
    found = scan()
    assert not found.unresolved, f"problem codes the scanner cannot read (use a literal or a module constant): {found.unresolved}"
    assert not found.missing, f"problems built without a rule code: {found.missing}"
    rows = documented()
    missing = sorted(set(found.codes) - set(rows))
    assert not missing, f"add rows to README.md's Troubleshooting table for: {missing} (emitted at {[found.codes[c][0] for c in missing]})"
    stale = sorted(set(rows) - set(found.codes) - EXIT_ROWS)
    assert not stale, f"README.md's Troubleshooting table lists codes regops no longer emits: {stale}"
    assert EXIT_ROWS <= set(rows), "the usage (exit 2) and internal error (exit 3) rows are missing"


def test_scanner_sees_every_rule_module_and_the_pipeline():
    """The scan agrees with the rule registry and finds the codes of every stage."""
    from compiler.rules import ALL_RULES

    found = scan()
    assert found.calls > 40
    assert {rule.RULE for rule in ALL_RULES} <= set(found.codes)
    from compiler import decryption, pipeline, schema_check

    assert {decryption.RULE, pipeline.RULE, schema_check.RULE, "manifest", "files"} <= set(found.codes)
    assert {c for c in found.codes if c.startswith("yaml-")} >= {"yaml-syntax", "yaml-structure", "yaml-read", "yaml-size", "yaml-encoding", "yaml-empty", "yaml-multidoc"}


def test_codes_reported_on_the_case_corpus_are_known():
    """What validation really reports on tests/cases is a subset of what the scan found."""
    from compiler.validation import validate_config

    seen: set[str] = set()
    configs = sorted((ROOT / "tests/cases").glob("*/*/config"))
    assert len(configs) > 50
    for config in configs:
        seen.update(p.rule for p in validate_config(config).problems)
    assert len(seen) > 15
    assert seen <= set(scan().codes), sorted(seen - set(scan().codes))


def test_scanner_finds_new_codes_and_refuses_what_it_cannot_read(tmp_path):
    pkg = tmp_path / "compiler"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "problems.py").write_text("class Problem:\n    pass\n")
    (pkg / "a.py").write_text(
        "from .problems import Problem\n"
        "RULE = 'from-constant'\n"
        "def _fail(where, message, rule):\n"
        "    return Problem(where, 0, 0, 'error', message, '', rule)\n"
        "def f(pos):\n"
        "    yield Problem('x', 0, 0, 'error', 'm', '', 'literal')\n"
        "    yield Problem('x', 0, 0, 'error', 'm', '', RULE)\n"
        "    yield _fail('x', 'm', *pos, 'after-star')\n"
        "    yield _fail('x', 'm', rule='keyword')\n"
        "    yield Problem('x', 0, 0, 'error', 'm', '', compute())\n"
        "    yield Problem('x', 0, 0, 'error', 'm')\n"
        "class Doc:\n"
        "    def problem(self, path, message, *, rule=''):\n"
        "        return Problem('f', 1, 1, 'error', message, path, rule)\n"
        "def g(doc):\n"
        "    return doc.problem((), 'm', rule='method')\n"
    )
    found = scan(pkg)
    assert set(found.codes) == {"from-constant", "literal", "after-star", "keyword", "method"}
    assert [w.rsplit(":", 1)[1] for w in found.unresolved] == ["10"]
    assert [w.rsplit(":", 1)[1] for w in found.missing] == ["11"]
