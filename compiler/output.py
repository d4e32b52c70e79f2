"""Writing the output tree: build it aside, then swap it in with one atomic step.

The new tree is staged in a sibling directory and exchanged with the old one
by renameat2(RENAME_EXCHANGE), so at every instant the output path holds a
complete tree. Where the exchange is unavailable, two renames are used and the
window between them is reported as a limitation in the README.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path

_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def _exchange(a: Path, b: Path) -> bool:
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        fn = libc.renameat2
    except (OSError, AttributeError):
        return False
    fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    rc = fn(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE)
    return rc == 0


def stage(output: Path, files: Mapping[str, bytes]) -> Path:
    """Write `files` (relative path -> bytes) into a new directory beside `output`."""
    output.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{output.name}.regops-new-", dir=output.parent))
    for rel, content in files.items():
        target = staging / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        with open(target, "wb") as fh:
            fh.write(content)
    return staging


def carry_over(output: Path, staging: Path, replaced: set[str]) -> None:
    """Copy top-level entries of the old tree that this render does not replace.

    Clusters left out by --cluster and files regops did not write stay as they
    were (copied with their metadata, symlinks as symlinks).
    """
    if not output.is_dir():
        return
    for entry in output.iterdir():
        if entry.name in replaced or (staging / entry.name).exists():
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.copytree(entry, staging / entry.name, symlinks=True)
        else:
            shutil.copy2(entry, staging / entry.name, follow_symlinks=False)


def swap_in(output: Path, staging: Path) -> None:
    """Make `staging` the output tree; the old tree is removed afterwards."""
    if not output.exists():
        os.rename(staging, output)
        return
    if _exchange(staging, output):
        shutil.rmtree(staging, ignore_errors=True)
        return
    old = Path(tempfile.mkdtemp(prefix=f".{output.name}.regops-old-", dir=output.parent))
    os.rmdir(old)
    os.rename(output, old)
    os.rename(staging, output)
    shutil.rmtree(old, ignore_errors=True)
