"""A local, non-Git cache of (size, mtime, inode) → sha256 for files in an output tree.

A no-op render must confirm that no committed file was edited by hand, which
means hashing every file — tens of thousands on a fleet. When a file's stat
matches what this machine saw when it last hashed or wrote it, the hash is
reused. The cache lives outside the repository (XDG cache directory), holds
only hashes of files that are in Git anyway, and is simply rebuilt when absent.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
from pathlib import Path

Entry = tuple[int, int, int, str]  # size, mtime_ns, inode, sha256


def cache_dir(output: Path) -> Path:
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "regops"
    digest = hashlib.sha256(os.path.realpath(output).encode("utf-8", "surrogateescape")).hexdigest()[:24]
    return base / f"stat-{digest}"


def _part(output: Path, part: str) -> Path:
    # one file per cluster directory: workers read their own, a render rewrites only what it wrote
    return cache_dir(output) / f"{part or '_root'}.json"


def load(output: Path, part: str) -> dict[str, Entry]:
    """The entries of one cluster directory (`part`; '' for the root of the output)."""
    try:
        data = json.loads(_part(output, part).read_bytes())
        return {k: tuple(v) for k, v in data.items()}  # type: ignore[misc]
    except (OSError, ValueError, TypeError, AttributeError):
        return {}


def save(output: Path, entries: dict[str, Entry]) -> None:
    """Record `entries` (keys `<cluster>/<path>`), merged into each cluster's part."""
    parts: dict[str, dict[str, Entry]] = {}
    for key, value in entries.items():
        parts.setdefault(key.split("/", 1)[0] if "/" in key else "", {})[key] = value
    for part, new in parts.items():
        path = _part(output, part)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            merged = {**load(output, part), **new}
            tmp = path.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_text(json.dumps(merged, separators=(",", ":")))
            os.replace(tmp, path)
        except OSError:
            pass  # a cache: never worth failing a render for


def entry(path: Path, sha256: str) -> Entry | None:
    try:
        info = os.lstat(path)
    except OSError:
        return None
    return (info.st_size, info.st_mtime_ns, info.st_ino, sha256)


def intact(path: Path | str, rel: str, sha256: str, cache: dict[str, Entry], seen: dict[str, Entry], st: os.stat_result | None = None) -> bool:
    """True when the file at `path` holds bytes with this sha256; records what it learnt in `seen`.

    `st` is the file's lstat when the caller already has it (a directory scan).
    """
    if st is None:
        try:
            st = os.lstat(path)  # one system call; a symlink is never followed
        except OSError:
            return False
    if not stat.S_ISREG(st.st_mode):
        return False
    hit = cache.get(rel)
    if hit is not None and hit[0] == st.st_size and hit[1] == st.st_mtime_ns and hit[2] == st.st_ino:
        return hit[3] == sha256
    try:
        with open(path, "rb") as fh:
            actual = hashlib.sha256(fh.read()).hexdigest()
    except OSError:
        return False
    seen[rel] = (st.st_size, st.st_mtime_ns, st.st_ino, actual)
    return actual == sha256
