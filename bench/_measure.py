"""Shared measuring helpers: wall time per phase, peak memory, machine info, result files."""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import resource
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["RESULTS_DIR", "Phases", "machine_info", "peak_rss_gb", "write_result"]

RESULTS_DIR = Path(__file__).resolve().parent / "results"


def peak_rss_gb() -> float:
    """Return the peak resident memory of this process so far, in GB (10**9 bytes)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # Linux reports kilobytes, macOS bytes.
    scale = 1 if sys.platform == "darwin" else 1024
    return peak * scale / 1e9


def machine_info() -> dict:
    """Return what a reader needs to compare figures across machines."""
    import numpy as np
    import pandas as pd

    try:
        load = os.getloadavg()
    except OSError:
        load = None
    return {
        "date": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "cpu_count": os.cpu_count(),
        "load_average_1_5_15": load,
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "pandas": pd.__version__,
        "pyarrow": _version("pyarrow"),
    }


def _version(module: str) -> str | None:
    try:
        return __import__(module).__version__
    except ImportError:
        return None


class Phases:
    """Wall-clock seconds of named phases, with the process's CPU use during each.

    Wall time (``time.perf_counter``) is the figure that counts. ``getrusage`` adds, per
    phase, user and system CPU seconds (all threads) and minor page faults: on a shared or
    virtualised machine they show whether time went to computing, to waiting for a core
    (wall much larger than CPU), or to the kernel handing out fresh memory (system time).

    Examples
    --------
    >>> phases = Phases()
    >>> with phases("read"):
    ...     pass
    >>> sorted(phases.seconds), sorted(phases.usage["read"])
    (['read'], ['page_faults', 'system_seconds', 'user_seconds'])
    """

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self.usage: dict[str, dict[str, float]] = {}

    @contextmanager
    def __call__(self, name: str) -> Iterator[None]:
        start, before = time.perf_counter(), resource.getrusage(resource.RUSAGE_SELF)
        try:
            yield
        finally:
            self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - start
            after = resource.getrusage(resource.RUSAGE_SELF)
            usage = self.usage.setdefault(
                name, {"user_seconds": 0.0, "system_seconds": 0.0, "page_faults": 0}
            )
            usage["user_seconds"] += after.ru_utime - before.ru_utime
            usage["system_seconds"] += after.ru_stime - before.ru_stime
            usage["page_faults"] += after.ru_minflt - before.ru_minflt

    def total(self) -> float:
        """Return the sum of all phases, in seconds."""
        return sum(self.seconds.values())


def write_result(name: str, result: dict) -> Path:
    """Write ``result`` plus machine info to ``bench/results/<name>.json``.

    ``result`` gets this process's peak memory as ``peak_rss_gb`` unless it already holds
    one (measured in a child process, say).
    """
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / f"{name}.json"
    payload = {
        "benchmark": name,
        "peak_rss_gb": round(peak_rss_gb(), 3),
        **result,
        "machine": machine_info(),
    }
    path.write_text(json.dumps(payload, indent=2, default=str) + "\n", encoding="utf-8")
    return path
