"""Live progress of running processors, for the person watching.

On a terminal each processor gets one line, redrawn in place: rows done
of the rows selected at start, rows per second, failures. When stderr is
not a terminal (cron, a log file) the same facts are written as plain
lines every settings.PROGRESS_INTERVAL seconds. `-q/--quiet` turns both
off. Every executor feeds the same board, so the display does not depend
on where the processors run.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import sys
import time

#: Fastest redraw of the terminal lines, in seconds.
TTY_REFRESH = 0.25


@dataclasses.dataclass
class _Line:
    name: str
    started: float
    # partition -> (processed, failed, selected)
    parts: dict = dataclasses.field(default_factory=dict)
    # what earlier rounds added up to
    base: tuple = (0, 0, 0)
    reported: int = -1

    def totals(self) -> tuple[int, int, int | None]:
        done = self.base[0] + sum(p[0] for p in self.parts.values())
        failed = self.base[1] + sum(p[1] for p in self.parts.values())
        selected = [p[2] for p in self.parts.values()]
        total = None if any(s is None for s in selected) else (
            self.base[2] + sum(selected))
        return done, failed, total

    def next_round(self) -> None:
        done, failed, total = self.totals()
        self.base = (done, failed, total or 0)
        self.parts = {}

    def text(self, now: float) -> str:
        done, failed, total = self.totals()
        elapsed = max(now - self.started, 1e-6)
        rate = done / elapsed
        of = f"/{total:,}" if total is not None else ""
        processes = len(self.parts)
        where = f" in {processes} processes" if processes > 1 else ""
        return (f"{self.name}: {done:,}{of} rows, {rate:,.0f} rows/s, "
                f"{failed} failed{where}")


class ProgressBoard:
    """Collects progress reports and shows them, throttled."""

    def __init__(self, stream=None, enabled: bool = True,
                 interval: float | None = None, tty: bool | None = None):
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = enabled
        if tty is None:
            isatty = getattr(self.stream, "isatty", None)
            tty = bool(isatty and isatty())
        self.tty = tty
        if interval is None:
            from .conf import settings

            interval = settings.get("PROGRESS_INTERVAL", 10)
        self.interval = float(interval)
        self.lines: dict[str, _Line] = {}
        self._drawn = 0
        # The first plain line comes one interval after the start, so a
        # short run prints none.
        self._last = 0.0 if self.tty else time.monotonic()

    def update(self, processor: str, partition: str, processed: int,
               failed: int, selected: int | None) -> None:
        """Record where one process of a processor is; redraw if due."""
        if not self.enabled:
            return
        now = time.monotonic()
        line = self.lines.get(processor)
        if line is None:
            name = processor.rsplit(".", 1)[-1]
            line = self.lines[processor] = _Line(name, now)
        line.parts[partition] = (processed, failed, selected)
        self.show(now)

    def show(self, now: float | None = None, force: bool = False) -> None:
        if not self.enabled or not self.lines:
            return
        now = time.monotonic() if now is None else now
        if self.tty:
            if force or now - self._last >= TTY_REFRESH:
                self._draw(now)
                self._last = now
        elif force or now - self._last >= self.interval:
            self._log(now)
            self._last = now

    def _draw(self, now: float) -> None:
        out = []
        if self._drawn:
            out.append(f"\x1b[{self._drawn}F")
        for line in self.lines.values():
            out.append("\x1b[2K" + line.text(now) + "\n")
        self.stream.write("".join(out))
        self.stream.flush()
        self._drawn = len(self.lines)

    def _log(self, now: float) -> None:
        stamp = dt.datetime.now().strftime("%Y-%m-%d %H:%M:%S")
        for line in self.lines.values():
            done = line.totals()[0]
            if done == line.reported:
                continue
            line.reported = done
            self.stream.write(f"[progress @ {stamp}] {line.text(now)}\n")
        self.stream.flush()

    def next_round(self) -> None:
        """A new round starts: keep what the last one did as a base."""
        for line in self.lines.values():
            line.next_round()

    def finish(self) -> None:
        """Show the final state (terminal) and forget the lines."""
        if self.enabled and self.tty and self.lines:
            self._draw(time.monotonic())
        self.lines = {}
        self._drawn = 0
        self._last = 0.0
