"""Checks on rendered output trees, shared by the lifecycle and security tests."""

from __future__ import annotations

import json
from pathlib import Path

from compiler import state as st


def consistent(root: Path) -> bool:
    """Every file the render states list exists and has the sha256 they record."""
    for state_file in root.rglob(st.STATE_FILE):
        doc = json.loads(state_file.read_bytes())
        for rel, entry in doc["files"].items():
            f = state_file.parent / rel
            if not f.is_file() or st.sha256(f.read_bytes()) != entry["sha256"]:
                return False
    return True
