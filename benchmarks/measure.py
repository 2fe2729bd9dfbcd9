"""Run one processor of a benchmark project in this process and print what
it took as JSON: used by run.py in a fresh child process per measurement,
so each figure pays its own imports and has its own peak memory.

    python measure.py PROJECT_DIR load
    python measure.py PROJECT_DIR step Magnitude [Classify ...]
    python measure.py PROJECT_DIR alert Bright
"""

import json
import resource
import sys
import time
from pathlib import Path


def main(argv):
    project_dir, action, *names = argv
    root = Path(__file__).resolve().parent.parent
    sys.path.insert(0, str(root))
    import corral  # noqa: F401  (the public names the pipeline imports)
    from corral_lib import db
    from corral_lib.conf import activate, import_string, locate_project
    from corral_lib.run.runner import RunOptions, run_processor

    activate(locate_project(project_dir))
    db.load_models_module()
    db.create_all(db.get_engine())
    if action == "load":
        paths = ["benchpl.load.Loader"]
    else:
        module = "steps" if action == "step" else "alerts"
        paths = [f"benchpl.{module}.{name}" for name in names]
    figures = []
    for path in paths:
        cls = import_string(path, path)
        started = time.perf_counter()
        result = run_processor(cls, options=RunOptions())
        seconds = time.perf_counter() - started
        if result.error:
            raise SystemExit(f"{path} failed: {result.error}\n"
                             f"{result.traceback}")
        figures.append({"processor": path, "seconds": seconds,
                        "rows": result.processed})
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"runs": figures, "peak_rss_kb": peak_kb}))


if __name__ == "__main__":
    main(sys.argv[1:])
