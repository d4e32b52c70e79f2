"""Colours for text reports, only where a person reads them.

On when the stream is a terminal. NO_COLOR (any non-empty value, no-color.org)
turns them off and wins over everything; FORCE_COLOR or CLICOLOR_FORCE (non-empty,
not "0") turn them on for pipes, e.g. a CI log viewer that renders ANSI. TERM=dumb
turns them off. JSON and GitHub annotations are never coloured.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TextIO

_CODES = {"red": "31", "green": "32", "yellow": "33", "bold": "1", "dim": "2"}


def enabled(stream: TextIO, env: Mapping[str, str] | None = None) -> bool:
    env = os.environ if env is None else env
    if env.get("NO_COLOR"):
        return False
    if any(env.get(name, "") not in ("", "0") for name in ("FORCE_COLOR", "CLICOLOR_FORCE")):
        return True
    if env.get("TERM") == "dumb":
        return False
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


class Palette:
    """paint(text, 'red', 'bold'); returns text unchanged when colours are off."""

    def __init__(self, on: bool):
        self.on = on

    def paint(self, text: str, *styles: str) -> str:
        if not self.on or not text:
            return text
        return f"\x1b[{';'.join(_CODES[s] for s in styles)}m{text}\x1b[0m"

