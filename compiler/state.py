"""Render state: which files regops owns, and keyed fingerprints of what they hold.

Sealing draws a fresh data key and IVs, so the same Secret never encrypts to
the same bytes twice. To keep re-renders byte-identical, each cluster keeps a
state file listing its owned files with

- `sha256` of the file's bytes as written (ciphertext for Secrets: public), and
- for Secrets, `hmac`: HMAC-SHA256 of the plaintext object, its recipients and
  the sealing parameters, keyed with a random key that is itself stored only
  SOPS-encrypted for the config's recipients (`.regops-key.yaml`).

An unchanged fingerprint and an untouched file mean the existing ciphertext is
kept. Nothing in plaintext allows an offline guess of a secret (SPEC 3.6), and
CI needs only the config key, never the clusters' keys.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import json
import re
from pathlib import Path
from typing import Any

API_VERSION = "regops.io/v1alpha1"
STATE_FILE = ".regops-state.json"
KEY_FILE = ".regops-key.yaml"
KEY_REGEX = r"^hmacKey$"


@dataclasses.dataclass
class FileState:
    sha256: str
    hmac: str | None = None  # Secrets: keyed fingerprint of the plaintext and recipients
    input: str | None = None  # keyed fingerprint of everything the file was rendered from

    def as_dict(self) -> dict[str, str]:
        out = {"sha256": self.sha256}
        if self.hmac:
            out["hmac"] = self.hmac
        if self.input:
            out["input"] = self.input
        return out


@dataclasses.dataclass
class DirState:
    """State of one cluster directory, or of the output root (catalog and key)."""

    files: dict[str, FileState]
    clusters: list[str] | None = None  # root only: the cluster directories regops owns
    input: str | None = None  # keyed fingerprint of everything the directory was rendered from

    def dumps(self) -> bytes:
        # One line per file, each through the C JSON encoder: fast for 10^4 files, diff-friendly.
        head: dict[str, Any] = {"apiVersion": API_VERSION, "kind": "RenderState"}
        if self.input:
            head["input"] = self.input
        if self.clusters is not None:
            head["clusters"] = sorted(self.clusters)
        lines = [json.dumps(k) + ": " + json.dumps(v.as_dict()) for k, v in sorted(self.files.items())]
        body = json.dumps(head)[:-1] + ', "files": {\n ' + ",\n ".join(lines) + "\n}}\n" if lines else json.dumps({**head, "files": {}}) + "\n"
        return body.encode("utf-8")


def load(path: Path) -> DirState | None:
    """The state at `path`, or None when there is none or it is unreadable (then nothing is owned)."""
    try:
        doc = json.loads(path.read_bytes())
    except (OSError, ValueError):
        return None
    if not isinstance(doc, dict) or doc.get("kind") != "RenderState":
        return None
    files = {}
    for name, entry in (doc.get("files") or {}).items():
        # The state is committed to Git, so it is input too: an entry that could
        # point out of its directory (../, absolute) is ignored, never followed.
        if safe_relative(name) and isinstance(entry, dict) and isinstance(entry.get("sha256"), str):
            files[name] = FileState(entry["sha256"], entry.get("hmac"), entry.get("input"))
    clusters = doc.get("clusters")
    if isinstance(clusters, list):
        clusters = [c for c in clusters if isinstance(c, str) and _LABEL.match(c)]
    cluster_input = doc.get("input") if isinstance(doc.get("input"), str) else None
    return DirState(files, list(clusters) if isinstance(clusters, list) else None, cluster_input)


_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_SAFE_PATH = re.compile(r"(?!\.\.?(?:/|\Z))[A-Za-z0-9._-]+(?:/(?!\.\.?(?:/|\Z))[A-Za-z0-9._-]+)*\Z")


def safe_relative(path: object) -> bool:
    """A relative path of plain names: no '..', no '.', no absolute or empty parts."""
    return isinstance(path, str) and len(path) <= 1024 and _SAFE_PATH.match(path) is not None


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def secret_fingerprint(key: bytes, obj: dict, recipients: tuple[str, ...], params: str) -> str:
    message = b"\0".join(
        [
            json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8"),
            "\n".join(sorted(recipients)).encode("utf-8"),
            params.encode("utf-8"),
        ]
    )
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def input_fingerprint(key: bytes, parts: tuple) -> str:
    """Keyed fingerprint of a file's inputs (they include credentials, hence the key)."""
    return hmac.new(key, repr(parts).encode("utf-8", "surrogatepass"), hashlib.sha256).hexdigest()
