"""README.md as data: its fenced code blocks and the markers that say how each is tested.

A block is marked by an HTML comment on the last non-blank line before its fence:

    <!-- test: STAGE -->          run or checked by tests/docs (STAGE names how)
    <!-- not tested: REASON -->   deliberately not run, with the reason
"""

from __future__ import annotations

import dataclasses
import re
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
# Languages whose blocks are examples a reader runs or copies; each needs a marker.
EXAMPLE_LANGUAGES = {"sh", "bash", "shell", "console", "yaml", "yml"}

_FENCE = re.compile(r"^(?P<indent>\s*)```(?P<lang>[A-Za-z0-9_+-]*)\s*$")
_MARKER = re.compile(r"^\s*<!--\s*(?:test:\s*(?P<stage>[a-z0-9-]+)|not tested:\s*(?P<reason>.+?))\s*-->\s*$")


@dataclasses.dataclass(frozen=True)
class Block:
    lang: str
    text: str
    line: int  # 1-based line of the opening fence
    stage: str | None  # from <!-- test: STAGE -->
    untested: str | None  # reason from <!-- not tested: REASON -->


def blocks(text: str | None = None) -> list[Block]:
    lines = (README.read_text(encoding="utf-8") if text is None else text).splitlines()
    out: list[Block] = []
    i = 0
    while i < len(lines):
        m = _FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        start = i
        j = i + 1
        while j < len(lines) and not re.match(rf"^{re.escape(m.group('indent'))}```\s*$", lines[j]):
            j += 1
        body = textwrap.dedent("\n".join(lines[start + 1 : j])) + "\n"
        k = start - 1
        while k >= 0 and not lines[k].strip():
            k -= 1
        marker = _MARKER.match(lines[k]) if k >= 0 else None
        out.append(
            Block(
                lang=m.group("lang").lower(),
                text=body,
                line=start + 1,
                stage=marker.group("stage") if marker else None,
                untested=marker.group("reason") if marker else None,
            )
        )
        i = j + 1
    return out


def stage_text(stage: str, found: list[Block] | None = None) -> str:
    """The blocks of one stage, in README order, as one script."""
    parts = [b.text for b in (found if found is not None else blocks()) if b.stage == stage]
    return "".join(parts)
