"""Running the pipeline's tests under cProfile (`corral profile`)."""

from __future__ import annotations

import cProfile
import io
import pstats

from .runner import Plan, run_plan


def profile_plan(plan: Plan, stream=None, **run_options):
    """Run the plan's tests under the profiler; (test result, pstats.Stats).

    Everything the tests do is measured, the creation and destruction of
    each test database included, since that is part of what a test costs.
    """
    profiler = cProfile.Profile()
    result = profiler.runcall(run_plan, plan, stream=stream, **run_options)
    stats = pstats.Stats(profiler, stream=io.StringIO())
    return result, stats
