"""Executing processors: where and in how many processes they run.

`execute()` is the one entry point the commands use. With `sync=True` the
processors run one after the other in this process, in the order given
(settings.STEPS order for steps). The results are RunResult objects
whatever executor ran them.
"""

from __future__ import annotations

from ..run.runner import RunResult, run_processor


def execute(processors, sync: bool = True, chunk_size=None) -> list[RunResult]:
    """Run each processor class and return what each did."""
    return [run_processor(p, chunk_size) for p in processors]
