#!/usr/bin/env python3
"""Build the single `corral` executable, or reuse one built from the same source.

    python tools/build_dist.py [--python build/dist-venv/bin/python]
                               [--out dist/corral]

The executable is built by PyInstaller from build.spec, with the Python of
the build environment (`make dist-venv` makes it from requirements-dist.txt).
A build takes minutes, so each result is kept in build/exe-cache/KEY/corral,
where KEY is a hash of everything that goes into it: corral.py, corral_lib/,
project_template/, build.spec, tools/pyinstaller/, this file, the pins and
the build Python's version. A later call with the same KEY copies the kept
file instead of building. The key is computed from a copy of those files
and PyInstaller works on that copy, so an edit made meanwhile cannot slip
into a build filed under another key. Builds are serialised by a lock
file, so two callers at once (`make dist` and the test suite) build only
once.

The path of the executable is printed last, on its own line.
Only the standard library is used, so any Python 3 can run this.
"""

from __future__ import annotations

import argparse
import fcntl
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / "build" / "exe-cache"
WORKPATH = ROOT / "build" / "pyinstaller"
DEFAULT_PYTHON = ROOT / "build" / "dist-venv" / "bin" / "python"
PINS = ROOT / "requirements-dist.txt"
# Executables kept in the cache, the newest included (each is 72 MiB).
KEEP = 2
KEY_PATTERN = re.compile(r"[0-9a-f]{20}")

# What the executable is made of, relative to ROOT: files, and folders whose
# files all count.
INPUTS = [
    "corral.py",
    "corral_lib",
    "project_template",
    "build.spec",
    "requirements-dist.txt",
    "tools/pyinstaller",
    "tools/build_dist.py",
]


def source_files(root: Path = ROOT) -> list[Path]:
    """Every file the executable is built from, in a stable order."""
    found = []
    for name in INPUTS:
        path = root / name
        if path.is_file():
            found.append(path)
        elif path.is_dir():
            for item in path.rglob("*"):
                if "__pycache__" in item.parts or item.suffix == ".pyc":
                    continue
                if item.is_file():
                    found.append(item)
    return sorted(found, key=lambda p: p.relative_to(root).as_posix())


def build_key(python: Path, root: Path = ROOT) -> str:
    """The hash that names an executable built from the source in `root`."""
    digest = hashlib.sha256()
    version = subprocess.run(
        [str(python), "-c", "import sys; print(sys.version)"],
        capture_output=True, text=True, check=True,
    ).stdout
    digest.update(version.encode())
    for path in source_files(root):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()[:20]


def _prune(keep: Path) -> None:
    entries = sorted(
        (p for p in CACHE.iterdir()
         if p.is_dir() and p != keep and KEY_PATTERN.fullmatch(p.name)),
        key=lambda p: p.stat().st_mtime, reverse=True,
    )
    for old in entries[KEEP - 1:]:
        shutil.rmtree(old, ignore_errors=True)
    for log in CACHE.glob("*.log"):
        if not (CACHE / log.stem).is_dir():
            log.unlink()


def snapshot(where: Path) -> Path:
    """Copy the build's inputs into `where`; return the copy's root.

    The key is computed from the copy and PyInstaller works on it, so an
    edit made meanwhile cannot slip into a build filed under another key.
    """
    for path in source_files():
        copy = where / path.relative_to(ROOT)
        copy.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, copy)
    return where


def build(python: Path, key: str, source: Path) -> Path:
    """Run PyInstaller on the copy in `source`; move the result to the cache."""
    target = CACHE / key / "corral"
    log_path = CACHE / f"{key}.log"
    started = time.monotonic()
    print(f"building the executable with PyInstaller (log: {log_path}); "
          "this takes a few minutes", flush=True)
    with tempfile.TemporaryDirectory(dir=CACHE) as scratch, \
            open(log_path, "w") as log:
        done = subprocess.run(
            [str(python), "-m", "PyInstaller", "--noconfirm", "--log-level",
             "WARN", "--distpath", scratch, "--workpath", str(WORKPATH),
             str(source / "build.spec")],
            cwd=source, stdout=log, stderr=subprocess.STDOUT,
        )
        if done.returncode != 0:
            sys.exit(f"build_dist: PyInstaller failed (exit "
                     f"{done.returncode}); see {log_path}")
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(Path(scratch) / "corral", target)
    print(f"built in {time.monotonic() - started:.0f} s", flush=True)
    return target


def executable(python: Path) -> Path:
    """The cached executable for the current source, built if needed."""
    CACHE.mkdir(parents=True, exist_ok=True)
    with open(CACHE / ".lock", "w") as lock, \
            tempfile.TemporaryDirectory(dir=CACHE) as scratch:
        fcntl.flock(lock, fcntl.LOCK_EX)
        source = snapshot(Path(scratch) / "source")
        key = build_key(python, source)
        target = CACHE / key / "corral"
        if target.is_file():
            print(f"reusing the executable built from this source ({key})",
                  flush=True)
            os.utime(target.parent)
        else:
            target = build(python, key, source)
        _prune(target.parent)
        return target


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--python", type=Path, default=DEFAULT_PYTHON,
        help="the Python with PyInstaller and Corral's dependencies "
        "(default: build/dist-venv/bin/python, made by 'make dist-venv')",
    )
    parser.add_argument("--out", type=Path,
                        help="also copy the executable there")
    args = parser.parse_args(argv)
    if not args.python.exists():
        sys.exit(f"build_dist: {args.python} does not exist; run "
                 "'make dist-venv' first")
    target = executable(args.python)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        scratch = args.out.with_name(args.out.name + ".part")
        shutil.copy2(target, scratch)
        os.replace(scratch, args.out)
        target = args.out
    print(target)
    return 0


if __name__ == "__main__":
    sys.exit(main())
