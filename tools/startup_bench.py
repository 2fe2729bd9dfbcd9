#!/usr/bin/env python3
"""Measure how fast `corral lssteps` starts, as the executable and from source.

    python tools/startup_bench.py [--runs N] [--exe dist/corral]
                                  [--source-python .venv/bin/python] [--json]

A pipeline is scaffolded in a scratch folder by the executable itself
(`corral create`), then `lssteps` is run there N times by each form after
one warm-up run, each in an empty environment (`env -i PATH=/usr/bin:/bin`)
as on a machine with nothing installed. The median wall time of each form
and the executable's size are printed. `lssteps` loads the pipeline's
settings and steps but opens no database, so it shows what a user waits
before any command starts working.

Only the standard library is used, so any Python 3 can run this.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CLEAN_ENV = {"PATH": "/usr/bin:/bin"}


def time_runs(argv: list[str], cwd: Path, runs: int) -> list[float]:
    """Wall seconds of `runs` runs of argv (after one untimed warm-up)."""
    def once() -> float:
        start = time.perf_counter()
        done = subprocess.run(argv, cwd=cwd, env=CLEAN_ENV,
                              capture_output=True, text=True)
        elapsed = time.perf_counter() - start
        if done.returncode != 0:
            sys.exit(f"startup_bench: {' '.join(argv)} failed in {cwd} "
                     f"(exit {done.returncode}): {done.stderr.strip()}")
        return elapsed

    once()
    return [once() for _ in range(runs)]


def measure(exe: Path, source_python: Path | None, runs: int) -> dict:
    exe = exe.resolve()
    result = {"executable": str(exe), "size_bytes": exe.stat().st_size,
              "runs": runs}
    with tempfile.TemporaryDirectory(prefix="corral-bench-") as scratch:
        project = Path(scratch) / "bench_pipeline"
        created = subprocess.run(
            [str(exe), "create", "bench_pipeline", str(project)],
            env=CLEAN_ENV, capture_output=True, text=True,
        )
        if created.returncode != 0:
            sys.exit(f"startup_bench: {exe} create failed: "
                     f"{created.stderr.strip()}")
        result["executable_seconds"] = time_runs(
            [str(exe), "lssteps"], project, runs
        )
        if source_python is not None:
            result["source_seconds"] = time_runs(
                [str(source_python), str(ROOT / "corral.py"), "lssteps"],
                project, runs,
            )
    for form in ("executable", "source"):
        if f"{form}_seconds" in result:
            result[f"{form}_median"] = statistics.median(
                result[f"{form}_seconds"]
            )
    return result


def report(result: dict) -> str:
    size = result["size_bytes"] / 2**20
    lines = [f"dist/corral size: {size:.1f} MiB",
             f"start-up of 'corral lssteps' (median of {result['runs']} "
             f"runs, env -i):",
             f"  executable  {result['executable_median']:.2f} s"]
    if "source_median" in result:
        lines.append(f"  source form {result['source_median']:.2f} s "
                     "(python corral.py)")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--exe", type=Path, default=ROOT / "dist" / "corral")
    parser.add_argument(
        "--source-python", type=Path, default=ROOT / ".venv" / "bin" / "python",
        help="the Python that runs corral.py for the source form's figure "
        "(skipped when it does not exist)",
    )
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--json", action="store_true",
                        help="print the measurements as JSON")
    args = parser.parse_args(argv)
    if not args.exe.is_file():
        sys.exit(f"startup_bench: {args.exe} does not exist; run 'make dist'")
    source = args.source_python if args.source_python.is_file() else None
    result = measure(args.exe, source, args.runs)
    print(json.dumps(result, indent=2) if args.json else report(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
