"""Exit codes and the internal-error path of the CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from compiler import __version__
from compiler.cli import cli

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "basic"


def run(*args):
    return CliRunner().invoke(cli, list(args))


def test_valid_config_exits_0_with_summary():
    result = run("validate", "--config", str(EXAMPLE))
    assert result.exit_code == 0
    assert result.output.splitlines()[-1] == "0 errors, 0 warnings in 4 files"


def test_json_format_is_machine_readable():
    result = run("validate", "--config", str(EXAMPLE), "--format", "json")
    doc = json.loads(result.output)
    assert doc["valid"] is True and doc["errors"] == 0 and doc["files"] == 4


@pytest.mark.parametrize(
    "args",
    [
        ["validate", "--no-such-option"],
        ["validate", "--config", "/nonexistent/dir"],
        ["validate", "--format", "xml"],
        ["no-such-command"],
        ["schema", "nope"],
    ],
)
def test_usage_errors_exit_2(args):
    assert run(*args).exit_code == 2


def test_internal_error_exits_3_without_traceback_or_secret(monkeypatch):
    def boom(_):
        raise RuntimeError("s3cr3t-value-in-exception")

    monkeypatch.setattr("compiler.validation.validate_config", boom)
    result = CliRunner().invoke(cli, ["validate", "--config", str(EXAMPLE)])
    assert result.exit_code == 3
    assert "internal error (RuntimeError)" in result.output
    assert "Traceback" not in result.output
    assert "s3cr3t-value-in-exception" not in result.output


def test_internal_error_with_verbose_shows_traceback(monkeypatch):
    def boom(_):
        raise RuntimeError("boom")

    monkeypatch.setattr("compiler.validation.validate_config", boom)
    result = CliRunner().invoke(cli, ["-v", "validate", "--config", str(EXAMPLE)])
    assert result.exit_code == 3
    assert "Traceback" in result.output


def test_version():
    assert run("--version").output.strip() == f"regops, version {__version__}"


def test_validate_path_does_not_import_render_libraries():
    """regops validate must start fast: none of the render path's heavy imports."""
    code = (
        "import sys; from compiler.cli import main; sys.argv=['regops','validate','--config',%r];\n"
        "try:\n main()\nexcept SystemExit: pass\n"
        "heavy=[m for m in ('jinja2','kubernetes_validate','cryptography','pyrage','pydantic','httpx') if m in sys.modules]\n"
        "print('HEAVY', heavy)"
    ) % str(EXAMPLE)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "HEAVY []" in out
