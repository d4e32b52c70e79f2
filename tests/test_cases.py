"""The example-directory corpus of `regops validate` (tests/cases, see its README).

Every directory tests/cases/{valid,invalid}/<name>/ holds a config directory
(config/) and expected.yaml. Each case runs the CLI in-process in every output
format and checks:

* the exit code;
* every expected problem is reported exactly there: file, line, column,
  severity, field path, and a substring of the message — in the JSON output,
  as a `FILE:LINE:COL: severity: message [path]` line of the text output and as
  a GitHub annotation;
* no error (and, unless `other_warnings: allowed`, no warning) beyond the
  expected ones, so each case tests one thing;
* the summary line `N errors, M warnings in K files` comes last and agrees
  with the JSON document;
* no secret listed under `secrets:` — nor its base64 — appears in any output;
* nothing crashes (exit 3, traceback).

A case whose expectation the validator does not meet yet carries
`xfail: "<reason>"`; it is run as a strict xfail, so it fails loudly once fixed.
"""

from __future__ import annotations

import base64
import json
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from compiler.cli import cli

CASES = Path(__file__).parent / "cases"
FORMATS = ("text", "json", "github")
SUMMARY_RE = re.compile(r"^(\d+) errors?, (\d+) warnings? in (\d+) files?$")
CASE_KEYS = {"description", "exit", "problems", "secrets", "xfail", "generate", "other_warnings"}
PROBLEM_KEYS = {"file", "line", "col", "severity", "path", "message"}
OPTIONAL_PROBLEM_KEYS = {"not_in_message"}  # substrings the message must not contain (misleading advice)


# --------------------------------------------------------------------------
# helpers


@dataclass
class Case:
    name: str  # valid/<name> or invalid/<name>
    root: Path
    expected: dict[str, Any]

    @property
    def problems(self) -> list[dict[str, Any]]:
        return self.expected.get("problems") or []

    @property
    def secrets(self) -> list[str]:
        return [str(s) for s in self.expected.get("secrets") or []]


def load_case(root: Path) -> Case:
    expected = yaml.safe_load((root / "expected.yaml").read_text(encoding="utf-8")) or {}
    name = f"{root.parent.name}/{root.name}"
    unknown = set(expected) - CASE_KEYS
    assert not unknown, f"{name}: unknown keys in expected.yaml: {sorted(unknown)}"
    assert expected.get("exit") in (0, 1), f"{name}: expected.yaml needs exit: 0 or 1"
    assert (expected["exit"] == 0) == (root.parent.name == "valid"), f"{name}: exit does not match its folder"
    for p in expected.get("problems") or []:
        missing = PROBLEM_KEYS - set(p)
        assert not missing, f"{name}: problem {p} lacks {sorted(missing)}"
        extra = set(p) - PROBLEM_KEYS - OPTIONAL_PROBLEM_KEYS
        assert not extra, f"{name}: problem {p} has unknown keys {sorted(extra)}"
        assert p["severity"] in ("error", "warning"), f"{name}: bad severity in {p}"
    if expected["exit"] == 1:
        assert any(p["severity"] == "error" for p in expected.get("problems") or []), f"{name}: an invalid case lists no error"
    else:
        assert all(p["severity"] == "warning" for p in expected.get("problems") or []), f"{name}: a valid case lists an error"
    return Case(name, root, expected)


def all_cases() -> list[Case]:
    out = []
    for group in ("valid", "invalid"):
        for root in sorted((CASES / group).iterdir()):
            if (root / "expected.yaml").is_file():
                out.append(load_case(root))
    return out


def params() -> list:
    out = []
    for case in all_cases():
        marks = []
        if case.expected.get("xfail"):
            marks.append(pytest.mark.xfail(reason=str(case.expected["xfail"]), strict=True))
        out.append(pytest.param(case, id=case.name, marks=marks))
    return out


def prepare(case: Case, tmp_path: Path) -> Path:
    """The config directory to validate: the case's own, or a generated copy.

    `generate: {file: F, size: N}` pads file F with comment lines up to N bytes
    (too large to commit); the copy lives in tmp_path.
    """
    source = case.root / "config"
    spec = case.expected.get("generate")
    if not spec:
        return source
    target = tmp_path / "config"
    shutil.copytree(source, target)
    path = target / spec["file"]
    data = path.read_bytes()
    size = int(spec["size"])
    line = b"#" + b"x" * 99 + b"\n"
    missing = size - len(data)
    assert missing >= 0
    data += line * (missing // len(line))
    data += b"#" * (size - len(data))
    path.write_bytes(data)
    assert path.stat().st_size == size
    return target


def config_files(config: Path) -> list[Path]:
    """The files regops reads from `config` (SPEC 1), found independently of compiler.discovery."""
    found = [config / n for n in ("regops.yaml", "clusters.yaml", "registries.yaml") if (config / n).is_file()]
    if (config / "registries").is_dir():
        found += sorted(p for p in (config / "registries").glob("*.yaml") if p.is_file())
    return found


def shown(config: Path, rel: str) -> str:
    """The file name as regops prints it: the path as given on the command line."""
    return str(config) if rel in (".", "") else str(config / rel)


def relative(config: Path, file: str) -> str:
    path = Path(file)
    if path == config:
        return "."
    return path.relative_to(config).as_posix()


def expected_message(config: Path, message: str) -> str:
    # `{config}` in an expected message stands for the config directory as given.
    return str(message).replace("{config}", str(config))


def run(config: Path, fmt: str):
    runner = CliRunner()
    return runner.invoke(cli, ["validate", "--config", str(config), "--format", fmt], catch_exceptions=False)


def secret_forms(secret: str) -> set[str]:
    """The secret, and every base64 spelling of it that survives inside a longer base64 text."""
    raw = secret.encode("utf-8")
    forms = {secret}
    for encode in (base64.b64encode, base64.urlsafe_b64encode):
        forms.add(encode(raw).decode().rstrip("="))
        # Embedded in a longer value the secret may start at any of 3 byte offsets;
        # the whole groups after that offset then appear verbatim.
        for offset in range(3):
            rest = raw[offset:]
            whole = rest[: len(rest) // 3 * 3]
            if len(whole) >= 6:
                forms.add(encode(whole).decode())
    return forms


def match_problems(case: Case, config: Path, actual: list[dict]) -> tuple[list[str], list[dict]]:
    """(expected problems that are missing, actual problems nobody expected)."""
    unmatched = list(actual)
    missing = []
    for want in case.problems:
        hit = None
        for got in unmatched:
            if (
                relative(config, got["file"]) == want["file"]
                and got["line"] == want["line"]
                and got["column"] == want["col"]
                and got["severity"] == want["severity"]
                and got["path"] == want["path"]
                and expected_message(config, want["message"]) in got["message"]
                and not any(bad in got["message"] for bad in want.get("not_in_message") or [])
            ):
                hit = got
                break
        if hit is None:
            missing.append(f"{want['file']}:{want['line']}:{want['col']}: {want['severity']}: ...{want['message']}... [{want['path']}]")
        else:
            unmatched.remove(hit)
    return missing, unmatched


def describe(problems: list[dict]) -> str:
    return "\n".join(f"  {p['file']}:{p['line']}:{p['column']}: {p['severity']}: {p['message']} [{p['path']}]" for p in problems)


# --------------------------------------------------------------------------
# the corpus


def test_corpus_size():
    cases = all_cases()
    valid = [c for c in cases if c.name.startswith("valid/")]
    invalid = [c for c in cases if c.name.startswith("invalid/")]
    assert len(valid) >= 4
    assert len(invalid) >= 30


@pytest.mark.parametrize("case", params())
def test_case(case: Case, tmp_path: Path) -> None:
    config = prepare(case, tmp_path)
    results = {fmt: run(config, fmt) for fmt in FORMATS}

    for fmt, result in results.items():
        both = result.stdout + result.stderr
        assert result.exit_code != 3 and "Traceback" not in both, f"{fmt}: internal error:\n{both}"
        assert result.exit_code == case.expected["exit"], f"{fmt}: exit {result.exit_code}, expected {case.expected['exit']}:\n{both}"

    # JSON: exact places, and nothing unexpected
    doc = json.loads(results["json"].stdout)
    actual = doc["problems"]
    missing, unexpected = match_problems(case, config, actual)
    assert not missing, "not reported:\n  " + "\n  ".join(missing) + "\nreported:\n" + describe(actual)
    if case.expected.get("other_warnings") != "allowed":
        assert not unexpected, "reported but not expected:\n" + describe(unexpected)
    else:
        errors = [p for p in unexpected if p["severity"] == "error"]
        assert not errors, "errors reported but not expected:\n" + describe(errors)
    errors = sum(p["severity"] == "error" for p in actual)
    files = len(config_files(config))
    assert (doc["errors"], doc["warnings"], doc["files"]) == (errors, len(actual) - errors, files)
    assert doc["valid"] is (case.expected["exit"] == 0)

    # text: one line per problem, summary last
    text = results["text"].stdout.splitlines()
    m = SUMMARY_RE.match(text[-1]) if text else None
    assert m, f"text output does not end with the summary line:\n{results['text'].stdout}"
    assert (int(m[1]), int(m[2]), int(m[3])) == (doc["errors"], doc["warnings"], files)
    assert text[-1] == doc["summary"]
    assert len(text) == len(actual) + 1
    for want in case.problems:
        file = shown(config, want["file"])
        where = f"{file}:{want['line']}:{want['col']}" if want["line"] else file
        head = f"{where}: {want['severity']}: "
        tail = f" [{want['path']}]" if want["path"] else ""
        message = expected_message(config, want["message"])
        absent = want.get("not_in_message") or []
        assert any(
            line.startswith(head)
            and line.endswith(tail)
            and message in line[len(head) :]
            and not any(bad in line[len(head) :] for bad in absent)
            for line in text
        ), f"text output lacks {head}...{message}...{tail}:\n{results['text'].stdout}"

    # github: one annotation per problem, summary last
    annotations = results["github"].stdout.splitlines()
    assert annotations and annotations[-1] == doc["summary"]
    for want in case.problems:
        file = shown(config, want["file"]).replace("%", "%25").replace(":", "%3A").replace(",", "%2C")
        head = f"::{want['severity']} file={file}" + (f",line={want['line']},col={want['col']}," if want["line"] else ",")
        message = expected_message(config, want["message"]).replace("%", "%25")
        assert any(
            a.startswith(head) and message in a.split("::", 2)[-1] for a in annotations
        ), f"github output lacks {head}...{message}:\n{results['github'].stdout}"

    # no secret, nor its base64, in any output
    for secret in case.secrets:
        for form in secret_forms(secret):
            for fmt, result in results.items():
                assert form not in result.stdout + result.stderr, f"{fmt} output shows the secret {secret!r} (as {form!r})"


def test_secrets_are_in_their_case():
    """A listed secret must really be in the case's files, or the no-leak check proves nothing."""
    for case in all_cases():
        if not case.secrets:
            continue
        files = b"".join(p.read_bytes() for p in (case.root / "config").rglob("*") if p.is_file())
        for secret in case.secrets:
            assert secret.encode() in files, f"{case.name}: secret {secret!r} is not in its config files"


def test_secret_forms_find_embedded_base64():
    secret = "hunter2-plaintext"
    for prefix in (b"", b"a", b"ab", b"abc"):
        blob = base64.b64encode(prefix + secret.encode() + b"tail").decode()
        assert any(form in blob for form in secret_forms(secret))


def test_byte_exact_fixtures_survived_checkout():
    """Cases about encodings only test something if git kept their bytes (see cases/.gitattributes)."""
    bom = (CASES / "valid/bom-crlf/config/clusters.yaml").read_bytes()
    assert bom.startswith(b"\xef\xbb\xbf") and b"\r\n" in bom and b"\n" not in bom.replace(b"\r\n", b"")
    assert b"\xfc" in (CASES / "invalid/yaml-not-utf8/config/registries.yaml").read_bytes()
    assert b"\x07" in (CASES / "invalid/yaml-control-character-after-non-ascii/config/registries.yaml").read_bytes()
