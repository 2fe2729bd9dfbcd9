"""The Quality Assurance Index (QAI) and the grade it earns.

    QAI = 2 * TP * (T / PN) * COV / (1 + exp(MSE / (tau * PFN)))

TP is 1 when every test passed and 0 otherwise, so one failing test sets
the index to zero. T is how many of the pipeline's processors (loader,
steps, alerts and commands) have at least one test, PN how many there are;
COV is the fraction of the pipeline's code lines the tests executed; MSE is
the number of style errors, tau the errors tolerated per file (QAI_TAU,
13 by default) and PFN the number of Python files. With no style errors the
denominator is 2, which the leading 2 cancels: the QAI is then 1 for a
pipeline whose every processor is tested, every line covered and every
test passing.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass

from ..errors import ImproperlyConfigured

DEFAULT_TAU = 13

# Lowest QAI (in percent) that earns each grade, as in American colleges.
DEFAULT_SCORE_CUALIFICATIONS = {
    0: "F",
    60: "D-",
    63: "D",
    67: "D+",
    70: "C-",
    73: "C",
    77: "C+",
    80: "B-",
    83: "B",
    87: "B+",
    90: "A-",
    93: "A",
    95: "A+",
}


@dataclass(frozen=True)
class QAIInputs:
    """The measurements the index is made of."""

    tests_passed: bool
    tested: int
    processors: int
    coverage: float
    style_errors: int
    python_files: int
    tau: float = DEFAULT_TAU

    @property
    def tp(self) -> float:
        return 1.0 if self.tests_passed else 0.0

    @property
    def tested_ratio(self) -> float:
        # A pipeline with nothing to test has tested none of it.
        return self.tested / self.processors if self.processors else 0.0

    @property
    def style_factor(self) -> float:
        """The denominator 1 + exp(MSE / (tau * PFN)); 2 with no errors."""
        files = max(self.python_files, 1)
        exponent = self.style_errors / (self.tau * files)
        # exp() overflows past ~709; the factor is then as good as infinite
        # and the index as good as zero.
        return 1.0 + math.exp(min(exponent, 700.0))

    @property
    def qai(self) -> float:
        return 2.0 * self.tp * self.tested_ratio * self.coverage / (
            self.style_factor
        )


def qai(tests_passed: bool, tested: int, processors: int, coverage: float,
        style_errors: int, python_files: int,
        tau: float = DEFAULT_TAU) -> float:
    """The QAI, a number in [0, 1], from its measurements."""
    return QAIInputs(tests_passed, tested, processors, coverage,
                     style_errors, python_files, tau).qai


def grade(qai_value: float, table: dict | None = None) -> str | None:
    """The grade whose lower limit (a percentage) the QAI reaches.

    None when the QAI is below every limit of the table (a custom table
    need not start at 0).
    """
    table = DEFAULT_SCORE_CUALIFICATIONS if table is None else table
    percent = qai_value * 100
    for limit, label in sorted(table.items(), reverse=True):
        if percent >= limit:
            return label
    return None


def score_table(settings) -> dict:
    """The grade table of the pipeline: its own or the manual's.

    The manual spells the setting both SCORE_CUALIFICATIONS and
    SCORE_CUALIFITACIONS; either is read, the first one winning.
    """
    for name in ("SCORE_CUALIFICATIONS", "SCORE_CUALIFITACIONS"):
        table = settings.get(name)
        if table is not None:
            return check_score_table(table, name)
    return dict(DEFAULT_SCORE_CUALIFICATIONS)


def check_score_table(table, name: str = "SCORE_CUALIFICATIONS") -> dict:
    if not isinstance(table, dict) or not table:
        raise ImproperlyConfigured(
            f"settings.{name} must be a non-empty dict of lowest percentage "
            "-> grade, for example {0: 'FAIL', 60: 'PASS'}"
        )
    for limit, label in table.items():
        if not isinstance(limit, numbers.Real) or isinstance(limit, bool):
            raise ImproperlyConfigured(
                f"settings.{name}: the key {limit!r} is not a number; keys "
                "are the lowest QAI percentage of each grade"
            )
        if not isinstance(label, str):
            raise ImproperlyConfigured(
                f"settings.{name}: the grade for {limit} is {label!r}; "
                "grades are strings such as 'A+'"
            )
    return dict(table)


def tau(settings) -> float:
    """settings.QAI_TAU, checked: style errors tolerated per file."""
    value = settings.get("QAI_TAU", DEFAULT_TAU)
    if value is None:
        value = DEFAULT_TAU
    if (
        not isinstance(value, numbers.Real)
        or isinstance(value, bool)
        or value <= 0
    ):
        raise ImproperlyConfigured(
            f"settings.QAI_TAU is {value!r}; set it to a positive number "
            f"(the default is {DEFAULT_TAU})"
        )
    return float(value)
