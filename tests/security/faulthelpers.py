"""Helpers of the fault tests: tree comparison after kills, and running without root's permission bypass."""

from __future__ import annotations

import ctypes
import json
from pathlib import Path

from treekit import consistent  # noqa: F401  (re-exported: the tests use fh.consistent)

from compiler import state as st

_CAP_DAC_OVERRIDE = 1
_CAP_DAC_READ_SEARCH = 2


def tree(root: Path) -> dict[str, bytes | tuple]:
    out: dict[str, bytes | tuple] = {}
    if not root.exists():
        return out
    for p in sorted(root.rglob("*")):
        rel = str(p.relative_to(root))
        if p.is_symlink():
            out[rel] = ("symlink", str(p.readlink()))
        elif p.is_file():
            out[rel] = p.read_bytes()
    return out


def comparable(files: dict) -> dict:
    """A tree with ciphertext replaced by what the render state says about it (sealing is randomised).

    In the state files only the sha256 of sealed files is dropped (it hashes ciphertext); every other
    recorded fact (keyed fingerprints, ownership, cluster lists) must be the same.
    """
    def sealed(path: str) -> bool:
        data = files.get(path)
        return isinstance(data, bytes) and b"\nsops:\n" in data

    out: dict = {}
    for path, data in files.items():
        if isinstance(data, tuple):
            out[path] = data
        elif path.endswith(st.STATE_FILE):
            doc = json.loads(data)
            prefix = path[: -len(st.STATE_FILE)]
            entries = {}
            for rel, entry in (doc.get("files") or {}).items():
                entries[rel] = {k: v for k, v in entry.items() if not (k == "sha256" and sealed(prefix + rel))}
            out[path] = ({k: v for k, v in doc.items() if k != "files"}, entries)
        elif sealed(path):
            out[path] = "sealed"
        else:
            out[path] = data
    return out


class _Header(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _Data(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32)]


def drop_permission_bypass() -> bool:
    """In this (forked) process, drop CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH: root then obeys mode bits.

    Tests run as root in CI, where chmod 0555 alone stops nothing. Returns False
    when the capabilities cannot be changed here.
    """
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        header = _Header(0x20080522, 0)  # _LINUX_CAPABILITY_VERSION_3
        data = (_Data * 2)()
        if libc.capget(ctypes.byref(header), data) != 0:
            return False
        mask = ~((1 << _CAP_DAC_OVERRIDE) | (1 << _CAP_DAC_READ_SEARCH)) & 0xFFFFFFFF
        data[0].effective &= mask
        data[0].permitted &= mask
        return libc.capset(ctypes.byref(_Header(0x20080522, 0)), data) == 0
    except (OSError, AttributeError):
        return False
