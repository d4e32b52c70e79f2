"""Render progress on stderr: clusters done of total, rate and time left.

Nothing appears until the clusters have taken a short while (the delay counts
from the first count), so quick renders print nothing. On a
terminal one line is redrawn in place with a carriage return (no escape codes,
so it works on any terminal and ignores NO_COLOR) and blanked at the end, so
the report that follows starts on a clean line. Elsewhere (asked for with
--progress, e.g. in a CI log) it writes a plain line now and then instead.
Only counts are ever shown, never names or values from the config.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from typing import TextIO

DELAY = 0.5  # seconds before anything is shown
LOG_EVERY = 5.0  # plain lines: at most one every five seconds
WINDOW = 5.0  # the rate is measured over the last few seconds: workers speed up as their caches fill
DELAY_ENV = "REGOPS_PROGRESS_DELAY"  # tests and demos shorten the delay with it


def in_ci(env: Mapping[str, str]) -> bool:
    """CI=true (GitHub Actions, GitLab, ...); CI=false or CI=0 say otherwise."""
    return env.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def mode(flag: bool | None, *, quiet: bool, stream: TextIO, env: Mapping[str, str]) -> str | None:
    """'tty' (redrawn line), 'lines' (plain lines) or None (nothing).

    --progress forces it on, --no-progress off; by default it is on when
    stream is a terminal, unless -q or CI is set.
    """
    if flag is False:
        return None
    tty = _isatty(stream) and env.get("TERM") != "dumb"  # a dumb terminal may not honour \r
    if flag is True:
        return "tty" if tty else "lines"
    if quiet or in_ci(env) or not _isatty(stream):
        return None
    return "tty" if tty else "lines"


def delay_from(env: Mapping[str, str]) -> float:
    try:
        return max(0.0, float(env.get(DELAY_ENV, DELAY)))
    except ValueError:
        return DELAY


class Progress:
    """Callable as progress(done, total); close() when the work ends, however it ends."""

    def __init__(self, stream: TextIO, *, tty: bool, delay: float = DELAY, label: str = "rendering",
                 clock: Callable[[], float] = time.monotonic, width: Callable[[], int] | None = None):
        self.stream = stream
        self.tty = tty
        self.delay = delay
        self.label = label
        self.clock = clock
        self.width = width or (lambda: _columns(stream))
        self.began: float | None = None  # the first count: the clusters' work starts
        self.samples: list[tuple[float, int]] = []  # (time, done) within the last WINDOW seconds
        self.done = self.total = 0
        self.last_draw: float | None = None
        self.drawn = 0  # length of the line on screen (tty)
        self.shown = False
        self.broken = False

    def __call__(self, done: int, total: int) -> None:
        now = self.clock()
        if self.began is None:
            self.began = now
        self.done, self.total = done, total
        self.samples.append((now, done))
        while len(self.samples) > 2 and now - self.samples[1][0] >= WINDOW:
            del self.samples[0]  # keep one sample at or beyond the window's start
        if self.broken or now - self.began < self.delay:
            return
        if not self.tty and self.last_draw is not None and (done == total or now - self.last_draw < LOG_EVERY):
            return  # a log gets a line now and then; the closing line gives the end
        # The terminal line is redrawn on every count: results arrive in bursts, and
        # a skipped count could stay on screen until the next burst.
        self.last_draw = now
        self._draw(now)

    def close(self) -> None:
        """Blank the terminal line, or end the plain lines with the time taken."""
        if not self.shown or self.broken:
            return
        if self.tty:
            # The whole width: a ^C the terminal echoed after the bar goes too.
            self._write("\r" + " " * max(self.drawn, self.width() - 1) + "\r")
        elif self.done == self.total:
            self._write(f"{self.label}: {self.done}/{self.total} clusters in {_duration(self.clock() - (self.began or 0.0))}\n")
        else:
            self._write(f"{self.label}: stopped at {self.done}/{self.total} clusters\n")
        self.shown = False

    def line(self, now: float, columns: int = 0) -> str:
        """The text shown for the current counts (columns: fit a bar into that width)."""
        done, total = self.done, self.total
        parts = [f"{done}/{total} clusters"]
        since, base = self.samples[0] if self.samples else (now, 0)
        if done - base >= 2 and now - since >= 1.0:  # fewer say nothing about the rate
            rate = (done - base) / (now - since)
            parts.append(f"{rate:.0f}/s" if rate >= 10 else f"{rate:.1f}/s")
            parts.append("finishing" if done >= total else f"ETA {_duration((total - done) / rate)}")
        elif done >= total:
            parts.append("finishing")
        counts = "  ".join(parts)
        if not self.tty:
            return f"{self.label}: {counts}"
        # Stay a column short of the edge: a full line would wrap and \r could not redraw it.
        room = columns - 1 - len(self.label) - len(counts) - 4  # spaces and brackets
        bar = ""
        if room >= 10:
            cells = min(room, 30)
            filled = cells * done // total if total else cells
            full, empty = ("█", "░") if _can_encode(self.stream, "█░") else ("#", "-")
            bar = f" [{full * filled}{empty * (cells - filled)}]"
        text = f"{self.label}{bar} {counts}"
        return text[: max(0, columns - 1)] if columns else text

    def _draw(self, now: float) -> None:
        if self.tty:
            text = self.line(now, self.width())
            pad = max(0, self.drawn - len(text))
            self._write("\r" + text + " " * pad)
            self.drawn = len(text)
        else:
            self._write(self.line(now) + "\n")
        self.shown = True

    def _write(self, text: str) -> None:
        try:
            self.stream.write(text)
            self.stream.flush()
        except (OSError, ValueError):  # a closed or broken stderr must not fail the render
            self.broken = True


def start(flag: bool | None, *, quiet: bool, stream: TextIO, env: Mapping[str, str] | None = None,
          label: str = "rendering") -> Progress | None:
    """A Progress for this run, or None when none is wanted."""
    env = os.environ if env is None else env
    kind = mode(flag, quiet=quiet, stream=stream, env=env)
    if kind is None:
        return None
    return Progress(stream, tty=kind == "tty", delay=delay_from(env), label=label)


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def _columns(stream: TextIO) -> int:
    try:
        return os.get_terminal_size(stream.fileno()).columns or 80
    except (AttributeError, ValueError, OSError):
        return 80


def _can_encode(stream: TextIO, chars: str) -> bool:
    try:
        chars.encode(getattr(stream, "encoding", None) or "ascii")
        return True
    except (UnicodeEncodeError, LookupError):
        return False


def _duration(seconds: float) -> str:
    seconds = max(0.0, seconds)
    if seconds < 10:
        return f"{seconds:.1f}s"
    whole = round(seconds)
    if whole < 60:
        return f"{whole}s"
    minutes, secs = divmod(whole, 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"
