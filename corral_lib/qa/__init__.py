"""Quality assurance for pipelines. Public as `corral.qa`.

`qa.TestCase` is what a pipeline's tests.py derives from: a unit test of
one loader, step, alert or command against its own throw-away database.
The rest of the package runs those tests (runner), measures coverage and
style, computes the Quality Assurance Index (qai), writes the QA report
(report) and the pipeline's documentation and model diagram (doc).
"""

from .testcase import CommandStatus, Patcher, TestCase

__all__ = ["CommandStatus", "Patcher", "TestCase"]
