"""The progress writer on its own: when it shows, what it shows, how it ends (fake clock)."""

from __future__ import annotations

import io
import re

import pytest
from uxhelpers import screen as terminal_screen

from compiler import progress as pg


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Tty(io.StringIO):
    encoding = "utf-8"

    def isatty(self) -> bool:
        return True


class AsciiTty(Tty):
    encoding = "ascii"


def screen(raw: str) -> list[str]:
    return terminal_screen(raw, keep_blank=True)


def bar(stream=None, *, tty=True, delay=0.5, columns=80):
    clock = Clock()
    p = pg.Progress(stream if stream is not None else Tty(), tty=tty, delay=delay, clock=clock, width=lambda: columns)
    return p, clock


def test_nothing_before_the_delay_and_nothing_at_all_for_a_quick_run():
    p, clock = bar()
    p(0, 5)
    for done in range(1, 6):
        clock.now += 0.05
        p(done, 5)
    p.close()
    assert p.stream.getvalue() == ""


def test_delay_counts_from_the_first_count_not_from_creation():
    p, clock = bar()
    clock.now += 10  # a slow decryption before the clusters start shows nothing by itself
    p(0, 4)
    assert p.stream.getvalue() == ""
    clock.now += 0.6
    p(1, 4)
    assert "1/4 clusters" in p.stream.getvalue()


def test_terminal_line_shows_bar_counts_rate_and_eta():
    p, clock = bar()
    p(0, 100)
    clock.now += 2.0
    p(40, 100)  # 20 clusters a second so far
    shown = screen(p.stream.getvalue())[-1]
    assert shown.startswith("rendering [")
    assert "40/100 clusters" in shown
    assert "20/s" in shown
    assert "ETA 3.0s" in shown
    assert len(shown) <= 79  # never the full width: \r could not redraw a wrapped line
    filled = shown.count("█")
    assert filled == 30 * 40 // 100 and shown.count("░") == 30 - filled


def test_every_count_is_redrawn_so_a_burst_never_leaves_a_stale_count():
    p, clock = bar()
    p(0, 9)
    clock.now += 1.0
    for done in range(1, 10):
        p(done, 9)  # all at the same instant, as a finished chunk delivers them
    assert "9/9 clusters" in screen(p.stream.getvalue())[-1]


def test_no_rate_from_too_little_data():
    p, clock = bar(delay=0)
    p(0, 150)
    clock.now += 0.4
    p(1, 150)
    shown = screen(p.stream.getvalue())[-1]
    assert "1/150 clusters" in shown and "/s" not in shown and "ETA" not in shown


def test_rate_follows_the_last_seconds_not_the_slow_start():
    p, clock = bar(delay=0)
    p(0, 1000)
    clock.now += 10
    p(10, 1000)  # 1/s while workers warm up
    for _ in range(10):
        clock.now += 1
        p(p.done + 50, 1000)  # then 50/s
    assert "50/s" in screen(p.stream.getvalue())[-1]


def test_close_blanks_the_line_so_the_report_starts_clean():
    stream = Tty()
    p, clock = bar(stream)
    p(0, 3)
    clock.now += 1
    p(3, 3)
    assert "finishing" in screen(stream.getvalue())[-1]
    p.close()
    stream.write("prod-eu: 47 files (24 Secrets)\n")
    assert screen(stream.getvalue()) == ["prod-eu: 47 files (24 Secrets)", ""]
    assert "\x1b" not in stream.getvalue()  # plain carriage returns: any terminal, NO_COLOR or not


def test_a_shorter_line_covers_the_longer_one_before_it():
    p, clock = bar(delay=0)
    p(0, 1000)
    clock.now += 5
    p(999, 1000)
    clock.now += 0.1
    p(1000, 1000)
    assert screen(p.stream.getvalue())[-1].endswith("finishing")


@pytest.mark.parametrize("columns", [20, 40, 60, 80, 200])
def test_line_fits_the_terminal(columns):
    p, clock = bar(columns=columns, delay=0)
    p(0, 12345)
    clock.now += 3
    p(6000, 12345)
    shown = screen(p.stream.getvalue())[-1]
    assert 0 < len(shown) <= columns - 1
    if columns >= 80:
        assert "[" in shown  # room for a bar
    if columns <= 40:
        assert "[" not in shown  # counts first: the bar goes when space is short
    if columns == 200:
        assert shown.count("█") + shown.count("░") == 30  # the bar does not grow past 30 cells


def test_ascii_terminal_gets_an_ascii_bar():
    p, clock = bar(AsciiTty(), delay=0)
    p(0, 4)
    clock.now += 1
    p(2, 4)
    shown = screen(p.stream.getvalue())[-1]
    assert "[###############---------------]" in shown


def test_plain_lines_for_a_log_few_of_them_and_a_closing_line():
    stream = io.StringIO()
    p, clock = bar(stream, tty=False)
    p(0, 100)
    for done in range(1, 101):
        clock.now += 0.2  # 20 seconds in all
        p(done, 100)
    p.close()
    lines = stream.getvalue().splitlines()
    assert "\r" not in stream.getvalue()
    assert 3 <= len(lines) <= 6, lines  # one every 5 s at most, not one per cluster
    assert lines[0].startswith("rendering: 3/100 clusters")
    assert lines[-1] == "rendering: 100/100 clusters in 20s"


def test_plain_lines_say_when_the_work_stopped_early():
    stream = io.StringIO()
    p, clock = bar(stream, tty=False, delay=0)
    p(0, 10)
    clock.now += 1
    p(4, 10)
    p.close()
    assert stream.getvalue().splitlines()[-1] == "rendering: stopped at 4/10 clusters"


def test_a_broken_stderr_does_not_fail_the_render():
    class Broken(Tty):
        def write(self, text):
            raise BrokenPipeError(32, "Broken pipe")

    p, clock = bar(Broken(), delay=0)
    p(0, 2)
    clock.now += 1
    p(1, 2)  # must not raise
    p(2, 2)
    p.close()
    assert p.broken


FRAME = re.compile(r"^(rendering|checking|planning)( \[[█░#-]+\])? \d+/\d+ clusters(  [\d.]+/s  (ETA [\dhms.]+|finishing)|  finishing)?$")


def test_frames_hold_only_counts():
    """The line format itself: label, bar, numbers; nothing from the config can appear."""
    p, clock = bar(delay=0)
    p(0, 50)
    for done in range(1, 51):
        clock.now += 0.3
        p(done, 50)
        assert FRAME.match(screen(p.stream.getvalue())[-1]), screen(p.stream.getvalue())[-1]


@pytest.mark.parametrize(
    ("flag", "tty", "quiet", "env", "expected"),
    [
        (None, True, False, {}, "tty"),
        (None, False, False, {}, None),  # piped or redirected stderr
        (None, True, True, {}, None),  # -q
        (None, True, False, {"CI": "true"}, None),
        (None, True, False, {"CI": "1"}, None),
        (None, True, False, {"CI": "false"}, "tty"),
        (None, True, False, {"CI": ""}, "tty"),
        (None, True, False, {"TERM": "dumb"}, "lines"),
        (True, True, False, {"CI": "true"}, "tty"),  # asked for
        (True, False, False, {"CI": "true"}, "lines"),  # asked for in a CI log
        (True, True, True, {}, "tty"),  # --progress wins over -q: it is the more specific ask
        (False, True, False, {}, None),
    ],
)
def test_when_progress_is_shown(flag, tty, quiet, env, expected):
    stream = Tty() if tty else io.StringIO()
    assert pg.mode(flag, quiet=quiet, stream=stream, env=env) == expected


@pytest.mark.parametrize(("value", "expected"), [(None, 0.5), ("0", 0.0), ("2.5", 2.5), ("-1", 0.0), ("soon", 0.5)])
def test_delay_from_environment(value, expected):
    env = {} if value is None else {pg.DELAY_ENV: value}
    assert pg.delay_from(env) == expected


@pytest.mark.parametrize(("seconds", "text"), [(0.04, "0.0s"), (3.21, "3.2s"), (42.4, "42s"), (125, "2m05s"), (7260, "2h01m")])
def test_durations(seconds, text):
    assert pg._duration(seconds) == text


def test_close_blanks_the_full_width_so_an_echoed_interrupt_goes_too():
    stream = Tty()
    p, clock = bar(stream, columns=100, delay=0)
    p(0, 150)
    clock.now += 1
    p(43, 150)
    stream.write("^C")  # the terminal echoes Ctrl-C after the bar
    p.close()
    assert screen(stream.getvalue()) == [""]
