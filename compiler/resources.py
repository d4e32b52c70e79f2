"""Where the project's data directories (schemas/, templates/) are found.

In a source checkout or an editable install they sit beside the package; in a
wheel (pre-commit installs one) they are packaged as compiler.schemas and
compiler.templates.
"""

from __future__ import annotations

import functools
from pathlib import Path

_ROOT = Path(__file__).resolve().parent.parent


@functools.cache
def data_dir(name: str) -> Path:
    beside = _ROOT / name
    if beside.is_dir():
        return beside
    # Installed from a wheel: packaged as compiler/<name> next to this module.
    return Path(__file__).resolve().parent / name
