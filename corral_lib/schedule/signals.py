"""Ctrl-C and SIGTERM: ask every run to stop cleanly, then exit.

The first SIGINT or SIGTERM only sets a flag. Runners look at it between
two rows: a step rolls back its current chunk, an alert records what it
has already sent, and the program exits with 128 + the signal's number
(130 for SIGINT, 143 for SIGTERM). A second signal stops at once
(KeyboardInterrupt): the database still rolls the open transaction back.
"""

from __future__ import annotations

import contextlib
import signal
import threading
import time

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class StopFlag:
    """Set by a stop signal (or by code); read by the runners."""

    def __init__(self):
        self._event = threading.Event()
        self.signum: int | None = None

    def is_set(self) -> bool:
        return self._event.is_set()

    def set(self, signum: int = signal.SIGTERM) -> None:
        if self.signum is None:
            self.signum = int(signum)
        self._event.set()

    @property
    def reason(self) -> str | None:
        if self.signum is None:
            return None
        return signal.Signals(self.signum).name

    def sleep(self, seconds: float) -> bool:
        """Sleep, waking early when a stop is requested; True if it was."""
        deadline = time.monotonic() + seconds
        while not self.is_set():
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            time.sleep(min(left, 0.2))
        return True


def exit_status(reason: str | None) -> int:
    """130 for SIGINT, 143 for SIGTERM, 1 for any other stop."""
    try:
        return 128 + int(signal.Signals[reason])
    except (KeyError, TypeError):
        return 1


@contextlib.contextmanager
def stop_on_signals(flag: StopFlag, on_signal=None):
    """Route SIGINT/SIGTERM to `flag` while the block runs.

    `on_signal(signum)` is called on the first signal (the local executor
    passes it on to its worker processes). Outside the main thread signals
    cannot be handled; the block then runs with the handlers as they are.
    """
    if threading.current_thread() is not threading.main_thread():
        yield flag
        return

    def handler(signum, frame):
        if flag.is_set():
            raise KeyboardInterrupt()
        flag.set(signum)
        if on_signal is not None:
            on_signal(signum)

    previous = {s: signal.signal(s, handler) for s in STOP_SIGNALS}
    try:
        yield flag
    finally:
        for signum, old in previous.items():
            signal.signal(signum, old)
