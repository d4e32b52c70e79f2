"""Shared helpers of the security and reliability suite (issue 6).

Imported by bare name (`import sechelpers`), like tests/lifecycle's `lchelpers`.
Nothing here edits the compiler; it only drives it and inspects what it did.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path

import yaml
from click.testing import CliRunner

from compiler.cli import cli
from compiler.sopsbin import sops_binary_path

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "basic"
BENCHMARKS = ROOT / "tests" / "benchmarks"
SECRET_FIELDS = ("password", "token", "serviceAccountKey", "accessKeyId", "secretAccessKey")
FIGURES_FILE = Path(os.environ.get("REGOPS_SECURITY_FIGURES", "/tmp/regops-security-figures.json"))

# Figures of the whole session, printed by conftest.py and written to FIGURES_FILE.
FIGURES: Counter = Counter()


def fleet_module():
    """tests/benchmarks/fleet.py (not a package: imported from its directory)."""
    if str(BENCHMARKS) not in sys.path:
        sys.path.insert(0, str(BENCHMARKS))
    import fleet

    return fleet


# --------------------------------------------------------------------------- configs and sops


def copy_example(dst: Path) -> Path:
    shutil.copytree(EXAMPLE, dst, ignore=shutil.ignore_patterns("rendered"))
    return dst


def sops_env(key: Path | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SOPS_")}
    env["SOPS_DISABLE_VERSION_CHECK"] = "1"
    if key is not None:
        env["SOPS_AGE_KEY_FILE"] = str(key)
    return env


def sops(args: list[str], key: Path | None, *, cwd: Path | None = None, input: bytes | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sops_binary_path(), *args], capture_output=True, env=sops_env(key), cwd=cwd, input=input, timeout=120, check=False)


def sops_decrypt_json(path: Path, key: Path) -> dict:
    proc = sops(["decrypt", "--output-type", "json", str(path)], key)
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")
    return json.loads(proc.stdout)


def registries_files(config: Path) -> list[Path]:
    files = [config / "registries.yaml"] if (config / "registries.yaml").is_file() else []
    return files + sorted((config / "registries").glob("*.yaml"))


def decrypted_registries(config: Path, key: Path) -> list[dict]:
    out = []
    for f in registries_files(config):
        out.extend(sops_decrypt_json(f, key).get("registries") or [])
    return out


# --------------------------------------------------------------------------- secrets and how they could leak


def secret_values(registries: Iterable[dict]) -> dict[str, str]:
    """Every secret a config holds, and the derived strings that reveal one: description -> text."""
    out: dict[str, str] = {}
    for reg in registries:
        auth = reg.get("auth") or {}
        name = reg.get("name", "?")
        for field in SECRET_FIELDS:
            value = auth.get(field)
            if isinstance(value, str) and value:
                out[f"{name}.{field}"] = value
        user, password = auth.get("username"), auth.get("password", auth.get("token"))
        if isinstance(user, str) and isinstance(password, str):
            out[f"{name}.user:password"] = f"{user}:{password}"
        key = auth.get("serviceAccountKey")
        if isinstance(key, str):
            data = json.loads(key)
            compact = json.dumps(data, separators=(",", ":"), ensure_ascii=False)
            out[f"{name}.compact-key"] = compact
            out[f"{name}._json_key:compact"] = f"_json_key:{compact}"
            private = data.get("private_key")
            if isinstance(private, str):
                out[f"{name}.private_key"] = private
                for i, line in enumerate(private.splitlines()):
                    if len(line) >= 24 and "-----" not in line:
                        out[f"{name}.private_key.line{i}"] = line
    return out


def _b64_cores(raw: bytes) -> list[str]:
    """base64 of `raw` at each of the 3 byte alignments it can have inside a longer base64 text.

    Only the characters fully determined by `raw` are kept, so the needle is
    found whatever bytes surround the secret in the encoded blob.
    """
    cores = []
    for k in range(3):
        enc = base64.b64encode(b"\0" * k + raw + b"\0\0\0").decode()
        start = -(-8 * k // 6)  # ceil
        end = (8 * (k + len(raw))) // 6
        cores.append(enc[start:end])
    return cores


def needles(secrets: dict[str, str], *, min_len: int = 8) -> dict[str, str]:
    """needle -> what it reveals: the value, its JSON/YAML/repr escapes, and its base64 at any alignment."""
    from compiler.rendering import quote

    out: dict[str, str] = {}
    for what, value in secrets.items():
        forms = {
            "plain": value,
            "json": json.dumps(value)[1:-1],
            "json-unicode": json.dumps(value, ensure_ascii=False)[1:-1],
            "repr": repr(value)[1:-1],
            "yaml-quoted": str(quote(value))[1:-1],
        }
        raw = value.encode("utf-8")
        forms["base64"] = base64.b64encode(raw).decode()
        for i, core in enumerate(_b64_cores(raw)):
            forms[f"base64@{i}"] = core
        forms["base64url"] = base64.urlsafe_b64encode(raw).decode().rstrip("=")
        for form, text in forms.items():
            if len(text) >= min_len:
                out.setdefault(text, f"{what} ({form})")
    return out


_ENC = re.compile(r"ENC\[AES256_GCM,[^\]]*\]")
_AGE = re.compile(r"-----BEGIN AGE ENCRYPTED FILE-----.*?-----END AGE ENCRYPTED FILE-----", re.DOTALL)


def plaintext_parts(text: str) -> str:
    """A file's text without ciphertext (ENC values, age-armoured data keys)."""
    return _AGE.sub("<age>", _ENC.sub("<enc>", text))


def leaks_in(text: str, found_needles: dict[str, str]) -> list[str]:
    text = plaintext_parts(text)
    return sorted({what for needle, what in found_needles.items() if needle in text})


def tree_texts(root: Path) -> dict[str, str]:
    """Every regular file under `root` and beside it (staging leftovers), as text."""
    out = {}
    bases = [root] + ([p for p in root.parent.iterdir() if p.name.startswith(f".{root.name}.regops-")] if root.parent.is_dir() else [])
    for base in bases:
        if not base.exists():
            continue
        for p in sorted(base.rglob("*")):
            if p.is_file() and not p.is_symlink():
                out[str(p)] = p.read_bytes().decode("utf-8", "replace")
    return out


def scan(texts: dict[str, str], found_needles: dict[str, str]) -> dict[str, list[str]]:
    """where -> leaked secrets; only the places that leak."""
    FIGURES["leak_scans"] += len(texts)
    hits = {}
    for where, text in texts.items():
        found = leaks_in(text, found_needles)
        if found:
            hits[where] = found
    return hits


# --------------------------------------------------------------------------- running regops


class Run:
    def __init__(self, code: int, stdout: str, stderr: str, exception: BaseException | None = None):
        self.code, self.stdout, self.stderr, self.exception = code, stdout, stderr, exception

    @property
    def output(self) -> str:
        return self.stdout + self.stderr

    def __repr__(self) -> str:
        return f"Run(code={self.code}, stdout={self.stdout[-2000:]!r}, stderr={self.stderr[-2000:]!r})"


def regops(args: list[str], key: Path | None = None, env: dict | None = None) -> Run:
    """`regops ARGS` in process (so monkeypatched faults apply); stdout and stderr apart."""
    base = {"SOPS_AGE_KEY_FILE": str(key) if key else None, "SOPS_AGE_KEY": None, "SOPS_AGE_KEY_CMD": None}
    result = CliRunner(env={**base, **(env or {})}).invoke(cli, args)
    FIGURES["cli_runs"] += 1
    if result.exit_code == 3:
        FIGURES["internal_errors_exit3"] += 1
    return Run(result.exit_code, result.stdout, result.stderr, result.exception)


def snapshot(root: Path) -> dict[str, tuple]:
    """path -> (bytes, mtime_ns) of every file, and symlink targets; also what lies beside the root."""
    out: dict[str, tuple] = {}
    if root.exists():
        for p in sorted(root.rglob("*")):
            rel = str(p.relative_to(root))
            if p.is_symlink():
                out[rel] = ("symlink", os.readlink(p))
            elif p.is_file():
                out[rel] = (p.read_bytes(), p.stat().st_mtime_ns)
    return out


def leftovers(root: Path) -> list[str]:
    if not root.parent.is_dir():
        return []
    # the spare (the tree before the last swap, kept to stage the next one) is no leftover
    spare = f".{root.name}.regops-spare"
    return sorted(p.name for p in root.parent.iterdir() if p.name.startswith(f".{root.name}.regops-") and p.name != spare)


# --------------------------------------------------------------------------- forked children


def fork(fn: Callable[[], int | None], *, quiet: bool = True) -> int:
    """Run fn() in a forked child (warm imports, no interpreter start-up); return its pid.

    The child never returns into pytest: it leaves with os._exit, its exit
    code being fn's return value (or SystemExit's code; 99 for any other exception).
    """
    pid = os.fork()
    if pid:
        return pid
    code = 99
    try:
        if quiet:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, 1)
            os.dup2(devnull, 2)
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        code = fn() or 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    except BaseException:  # noqa: BLE001
        code = 99
    finally:
        os._exit(code)


def wait(pid: int, timeout: float = 120) -> int:
    """Exit status of a forked child: its exit code, or -signal."""
    deadline = time.monotonic() + timeout
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            raise TimeoutError(f"child {pid} did not finish in {timeout}s")
        time.sleep(0.002)


def cli_in_child(args: list[str], key: Path | None, out_file: Path | None = None) -> Callable[[], int]:
    """A function for fork(): runs `regops ARGS` and returns its exit code (output to out_file)."""

    def run() -> int:
        os.environ.pop("SOPS_AGE_KEY", None)
        os.environ.pop("SOPS_AGE_KEY_CMD", None)
        if key is not None:
            os.environ["SOPS_AGE_KEY_FILE"] = str(key)
        else:
            os.environ.pop("SOPS_AGE_KEY_FILE", None)
        if out_file is not None:
            fd = os.open(out_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            os.dup2(fd, 1)
            os.dup2(fd, 2)
            sys.stdout = os.fdopen(1, "w", buffering=1, closefd=False)
            sys.stderr = os.fdopen(2, "w", buffering=1, closefd=False)
        try:
            cli.main(args=args, prog_name="regops", standalone_mode=True)
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
            sys.stdout.flush()
            sys.stderr.flush()
            return code
        return 0

    return run


def load_yaml(path: Path):
    return yaml.safe_load(path.read_text())


def dump_yaml(path: Path, data) -> None:
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True))


def write_figures() -> dict:
    figures = dict(sorted(FIGURES.items()))
    try:
        FIGURES_FILE.write_text(json.dumps(figures, indent=1) + "\n")
    except OSError:
        pass
    return figures
