"""Running regops the way a person does: on a pseudo-terminal, and the way CI does: on pipes."""

from __future__ import annotations

import dataclasses
import fcntl
import os
import pty
import re
import select
import shutil
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "basic"
KEY = EXAMPLE / "keys" / "config.agekey"
REGOPS = [sys.executable, "-m", "compiler"]
ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
# Every environment variable that changes what the terminal shows is set by each test.
UX_VARS = ("CI", "NO_COLOR", "FORCE_COLOR", "CLICOLOR_FORCE", "TERM", "COLUMNS", "REGOPS_PROGRESS_DELAY")


def env(**extra: str) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if k not in UX_VARS}
    base.update(SOPS_AGE_KEY_FILE=str(KEY), SOPS_DISABLE_VERSION_CHECK="1", TERM="xterm-256color", PYTHONPATH=str(ROOT))
    base.update(extra)
    return base


def config_copy(tmp_path: Path) -> Path:
    dst = tmp_path / "cfg"
    shutil.copytree(EXAMPLE, dst, ignore=shutil.ignore_patterns("rendered"))
    return dst


@dataclasses.dataclass
class Run:
    code: int
    raw: str  # everything the terminal received (both streams on a pty)
    stderr: str = ""  # pipes only

    @property
    def screen(self) -> list[str]:
        return screen(self.raw)


def on_pty(args: list[str], environ: dict[str, str], *, columns: int = 100, timeout: float = 120) -> Run:
    """Run regops with stdin, stdout and stderr on one pseudo-terminal, as in a shell."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 30, columns, 0, 0))
    proc = subprocess.Popen(REGOPS + args, stdin=slave, stdout=slave, stderr=slave, env=environ, cwd=ROOT, start_new_session=True)
    os.close(slave)
    chunks = []
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.5)
            if not ready:
                if proc.poll() is not None and not select.select([master], [], [], 0.2)[0]:
                    break
                continue
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO: the child closed its side
                break
            if not data:
                break
            chunks.append(data)
        code = proc.wait(timeout=max(1.0, deadline - time.monotonic()))
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(master)
    # The pty turns \n into \r\n; undo that so lines compare as written.
    return Run(code, b"".join(chunks).decode("utf-8", "replace").replace("\r\n", "\n"))


def on_pipes(args: list[str], environ: dict[str, str], timeout: float = 120) -> Run:
    """Run regops as CI does: nothing is a terminal."""
    proc = subprocess.run(REGOPS + args, check=False, env=environ, cwd=ROOT, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    return Run(proc.returncode, proc.stdout, proc.stderr)


def screen(raw: str, *, keep_blank: bool = False) -> list[str]:
    """What stays on a terminal: \\r returns to column 0, later text overwrites; colours dropped."""
    lines = []
    for physical in ANSI.sub("", raw).split("\n"):
        cells: list[str] = []
        col = 0
        for ch in physical:
            if ch == "\r":
                col = 0
                continue
            if col < len(cells):
                cells[col] = ch
            else:
                cells.append(ch)
            col += 1
        lines.append("".join(cells).rstrip())
    return lines if keep_blank else [line for line in lines if line]


def frames(raw: str) -> list[str]:
    """Every state the progress line went through (each redraw starts with \\r)."""
    return [part.rstrip() for part in ANSI.sub("", raw).replace("\n", "\r").split("\r") if part.strip()]
