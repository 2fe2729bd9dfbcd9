"""The per-row functions, shared by the pipeline and the sqlite3 floor so
both do exactly the same arithmetic."""

import math


def magnitude(flux, flux_err):
    """Magnitude and signal-to-noise of a flux."""
    return -2.5 * math.log10(flux) + 25.0, flux / flux_err


def kind_of(mag, snr):
    """0 faint, 1 ordinary, 2 bright; 3 when the detection is poor."""
    if snr < 3.0:
        return 3
    if mag < 18.0:
        return 2
    return 1 if mag < 22.0 else 0


def heavy(x, rounds):
    """A CPU-bound stand-in for a real per-row computation."""
    total = 0.0
    for i in range(rounds):
        total += math.sin(x + i) * math.cos(x - i)
    return total
