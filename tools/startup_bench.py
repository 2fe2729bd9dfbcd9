#!/usr/bin/env python3
"""Measure how fast `corral lssteps` starts, as the executable and from source.

    python tools/startup_bench.py [--runs N] [--exe dist/corral]
                                  [--source-python .venv/bin/python] [--json]

A pipeline is scaffolded in a scratch folder by the executable itself
(`corral create`), then `lssteps` is run there N times by each form after
one warm-up run, each in an empty environment (`env -i PATH=/usr/bin:/bin`)
as on a machine with nothing installed. The median wall time of each form
and the executable's size are printed, with the load average, and the same
again at a real-time priority where that is allowed (root), which comes
close to an idle machine's figure on a busy one. `lssteps` loads the
pipeline's settings and steps but opens no database, so it shows what a
user waits before any command starts working.

Only the standard library is used, so any Python 3 can run this.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CLEAN_ENV = {"PATH": "/usr/bin:/bin"}


def realtime_prefix() -> list[str] | None:
    """`chrt` at a real-time priority, when this user may use it.

    On a shared machine the other processes' load slows every start-up;
    a real-time priority lets the measured program take a core as on an
    idle machine (caches and memory are still shared), so both figures are
    printed.
    """
    chrt = shutil.which("chrt")
    if chrt is None or os.geteuid() != 0:
        return None
    probe = subprocess.run([chrt, "-f", "10", "true"], capture_output=True)
    return [chrt, "-f", "10"] if probe.returncode == 0 else None


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
              "runs": runs, "load_average": os.getloadavg()}
    with tempfile.TemporaryDirectory(prefix="corral-bench-") as scratch:
        project = Path(scratch) / "bench_pipeline"
        created = subprocess.run(
            [str(exe), "create", "bench_pipeline", str(project)],
            env=CLEAN_ENV, capture_output=True, text=True,
        )
        if created.returncode != 0:
            sys.exit(f"startup_bench: {exe} create failed: "
                     f"{created.stderr.strip()}")
        forms = {"executable": [str(exe), "lssteps"]}
        if source_python is not None:
            forms["source"] = [str(source_python), str(ROOT / "corral.py"),
                               "lssteps"]
        prefixes = {"": []}
        realtime = realtime_prefix()
        if realtime:
            prefixes["realtime_"] = realtime
        for kind, prefix in prefixes.items():
            for form, argv in forms.items():
                seconds = time_runs(prefix + argv, project, runs)
                result[f"{kind}{form}_seconds"] = seconds
                result[f"{kind}{form}_median"] = statistics.median(seconds)
    return result


def report(result: dict) -> str:
    size = result["size_bytes"] / 2**20
    load = ", ".join(f"{x:.1f}" for x in result["load_average"])
    lines = [f"{result['executable']}: {size:.1f} MiB",
             f"start-up of 'corral lssteps', median of {result['runs']} runs "
             f"with env -i (load average {load}):"]
    for kind, title in (("", "as is"),
                        ("realtime_", "at real-time priority")):
        if f"{kind}executable_median" not in result:
            continue
        line = f"  {title:<22} executable {result[kind + 'executable_median']:.2f} s"
        if f"{kind}source_median" in result:
            line += f", source form {result[kind + 'source_median']:.2f} s"
        lines.append(line)
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
