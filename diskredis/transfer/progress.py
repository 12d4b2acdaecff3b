"""A progress line on stderr (percentage, rate, ETA) and the summary tools print.

Room: presentation only. Imports: the standard library.
"""

from __future__ import annotations

import sys
import time
from collections import Counter
from typing import TextIO

_REDRAW = 0.25  # seconds between redraws: cheap, and readable


def _size(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return "%.1f %s" % (n, unit) if unit != "B" else "%d B" % n
        n /= 1024
    return "%.1f TB" % n  # pragma: no cover


class Progress:
    """`label [#####     ] 45%  123456 keys  20000 keys/s  12.0 MB  ETA 6 s`.

    `total` is in the unit `advance(position=...)` counts (input bytes, or keys);
    without it the bar shows counts and rates only. Silent when `quiet` or when the
    stream is not a terminal and `always` is False (logs get the summary only)."""

    def __init__(
        self,
        label: str,
        total: int | None = None,
        out: TextIO | None = None,
        quiet: bool = False,
        always: bool = False,
    ) -> None:
        self.label = label
        self.total = total
        self.out = out or sys.stderr
        self.show = not quiet and (always or self.out.isatty())
        self.start = time.monotonic()
        self.last = 0.0
        self.items = 0
        self.bytes = 0
        self.position = 0
        self.drawn = False

    def advance(self, items: int = 1, nbytes: int = 0, position: int | None = None) -> None:
        self.items += items
        self.bytes += nbytes
        if position is not None:
            self.position = position
        if self.show:
            now = time.monotonic()
            if now - self.last >= _REDRAW:
                self.last = now
                self._draw(now)

    def _draw(self, now: float) -> None:
        took = max(now - self.start, 1e-9)
        line = "%s " % self.label
        if self.total:
            done = min(self.position / self.total, 1.0)
            bar = int(done * 24)
            line += "[%s%s] %3d%%  " % ("#" * bar, " " * (24 - bar), done * 100)
        line += "%d keys  %.0f keys/s  %s" % (self.items, self.items / took, _size(self.bytes))
        if self.total and 0 < self.position < self.total:
            line += "  ETA %.0f s" % (took * (self.total - self.position) / self.position)
        self.out.write("\r" + line.ljust(100)[:100])
        self.out.flush()
        self.drawn = True

    def finish(self) -> float:
        """End the line; returns the seconds taken."""
        took = time.monotonic() - self.start
        if self.drawn:
            self.out.write("\r" + " " * 100 + "\r")
            self.out.flush()
        return took


def summary(
    verb: str,
    by_type: Counter[str],
    nbytes: int,
    took: float,
    skipped: Counter[str],
    noun: str = "keys",
) -> str:
    """`restored 1200 keys (1000 string, 200 hash), 1.2 MB in 0.8 s (1500 keys/s)`,
    then what was skipped and why."""
    total = sum(by_type.values())
    parts = ", ".join("%d %s" % (n, t) for t, n in sorted(by_type.items()))
    text = "%s %d %s%s, %s in %.1f s (%.0f %s/s)" % (
        verb,
        total,
        noun,
        " (%s)" % parts if parts else "",
        _size(nbytes),
        took,
        total / max(took, 1e-9),
        noun,
    )
    for why, n in sorted(skipped.items()):
        text += "\nskipped %d %s: %s" % (n, noun, why)
    return text
