"""Helpers for the `regops init` tests: age keys, the real sops binary, the CLI, example blocks."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pyrage
from click.testing import CliRunner

from compiler.cli import cli
from compiler.sopsbin import sops_binary_path

ROOT = Path(__file__).resolve().parents[2]
# How a commented-out list entry is written in the scaffold's registries.yaml.
ITEM_PREFIX = "    # "
BLOCK_START = re.compile(r"^    # - name: (?P<name>\S+)$")


def age_key(directory: Path, name: str = "config") -> tuple[Path, str]:
    """A fresh age identity in `directory`/<name>.agekey; returns (file, public key)."""
    identity = pyrage.x25519.Identity.generate()
    path = directory / f"{name}.agekey"
    path.write_text(f"{identity}\n")
    return path, str(identity.to_public())


def sops_env(key: Path | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SOPS_")}
    env["SOPS_DISABLE_VERSION_CHECK"] = "1"
    if key is not None:
        env["SOPS_AGE_KEY_FILE"] = str(key)
    return env


def sops_encrypt(config: Path, name: str = "registries.yaml") -> subprocess.CompletedProcess:
    """`sops encrypt -i NAME` run in the config directory, as the next steps say."""
    return subprocess.run([sops_binary_path(), "encrypt", "-i", name], cwd=config, capture_output=True, text=True, env=sops_env(), timeout=60, check=False)


def sops_decrypt(path: Path, key: Path) -> str:
    return subprocess.run([sops_binary_path(), "decrypt", str(path)], capture_output=True, text=True, env=sops_env(key), check=True, timeout=60).stdout


def regops(*args: str, key: Path | None = None):
    """Run the CLI in-process; returns the click Result (exit_code, stdout, stderr)."""
    env = {"SOPS_AGE_KEY_FILE": str(key)} if key else {}
    return CliRunner(env=env).invoke(cli, list(args))


def commented_blocks(text: str) -> dict[str, tuple[int, int]]:
    """name -> (first line, end line) of each commented-out `- name:` entry."""
    lines = text.splitlines()
    blocks = {}
    i = 0
    while i < len(lines):
        m = BLOCK_START.match(lines[i])
        if not m:
            i += 1
            continue
        j = i + 1
        while j < len(lines) and lines[j].startswith(ITEM_PREFIX + "  "):
            j += 1
        blocks[m.group("name")] = (i, j)
        i = j
    return blocks


def uncomment(text: str, name: str) -> str:
    """The text with the commented-out entry `name` made live (one level of '# ' removed)."""
    lines = text.splitlines(keepends=True)
    start, end = commented_blocks(text)[name]
    for k in range(start, end):
        lines[k] = "    " + lines[k][len(ITEM_PREFIX):]
    return "".join(lines)


def uncomment_all(text: str) -> str:
    for name in commented_blocks(text):
        text = uncomment(text, name)
    return text


def uncomment_cluster(text: str) -> str:
    """clusters.yaml with its commented-out second cluster made live."""
    out = []
    live = False
    for line in text.splitlines(keepends=True):
        if line.startswith("  # - name: "):
            live = True
        if live and line.startswith("  # "):
            line = "  " + line[4:]
        elif live:
            live = False
        out.append(line)
    return "".join(out)
