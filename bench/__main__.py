"""Run every ``bench/bench_*.py``, each in its own Python process, and list the results.

Usage: ``python -m bench [NAME ...]`` from the repository root (``make bench``); with names
(e.g. ``ledger``), only those benchmarks run.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

from bench._measure import RESULTS_DIR

BENCH_DIR = Path(__file__).resolve().parent


def main(names: list[str]) -> int:
    modules = sorted(path.stem for path in BENCH_DIR.glob("bench_*.py"))
    if names:
        unknown = sorted(set(names) - {module.removeprefix("bench_") for module in modules})
        if unknown:
            print(f"Unknown benchmark(s): {', '.join(unknown)}. Known: {modules}", file=sys.stderr)
            return 2
        modules = [module for module in modules if module.removeprefix("bench_") in names]
    failed = []
    for module in modules:
        print(f"== {module}", flush=True)
        started = time.time()
        # A fresh process per benchmark: its peak memory and imports are its own.
        done = subprocess.run(
            [sys.executable, "-m", f"bench.{module}"], cwd=BENCH_DIR.parent, check=False
        )
        if done.returncode:
            failed.append(module)
            continue
        for result in sorted(RESULTS_DIR.glob(f"{module.removeprefix('bench_')}*.json")):
            if result.stat().st_mtime >= started:
                summary = json.loads(result.read_text(encoding="utf-8"))
                print(json.dumps({k: v for k, v in summary.items() if k != "machine"}, indent=2))
    if failed:
        print(f"Failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
