"""Benchmark: features + scoring, pandas against Spark ``local[2]``, on the same Parquet book.

The book is ``bench_features``' vectorised generator (one 24-month loan per customer, 24
schedule rows each, ~15 % delinquent), cached under ``bench/data/``. A DR model is fitted
once on a small simulated portfolio and saved as the MLflow pyfunc that the pipeline logs.
Each engine then runs in a fresh child process:

- **pandas**: ``load_portfolio`` (reads and validates the Parquet files), ``build_features``
  as of 2026-11-30, and the pyfunc's ``predict`` on the features;
- **spark**: ``visitrisk.spark.build_features`` (validation and township counts pass, then
  features pass) and ``visitrisk.spark.score`` (``explain=False``), the scores written to
  Parquet so that every stage really runs.

Memory: a sampler thread in the child reads ``/proc`` every 0.25 s and keeps the peak of
the summed resident memory of the child and all its descendants (for Spark: the driver's
Python, the JVM that is driver and executor in local mode, and the Python workers), besides
each part's own peak. Wall times are ``time.perf_counter``. Results go to
``bench/results/spark.json``.

Run from the repository root: ``python -m bench.bench_spark`` (``--customers`` to scale).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from bench._measure import Phases, write_result
from bench.bench_features import AS_OF, ensure_data

BENCH = Path(__file__).resolve().parent
MODEL_DIR = BENCH / "data" / "spark_model"
PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


# ----------------------------------------------------------------------------- memory
def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", encoding="ascii") as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        tree.setdefault(int(fields[1]), []).append(int(entry.name))
    return tree


def _rss(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/statm", encoding="ascii") as handle:
            return int(handle.read().split()[1]) * PAGE
    except OSError:
        return 0


def _kind(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            command = handle.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return "other"
    if "java" in command.split(" ", 1)[0]:
        return "jvm"
    if "pyspark.daemon" in command or "pyspark/daemon" in command or "worker" in command:
        return "python_workers"
    return "other"


class TreeMemory:
    """Peak resident memory of this process and all its descendants, sampled."""

    def __init__(self, interval: float = 0.25) -> None:
        self.interval = interval
        self.peak_total = 0
        self.peak_by_kind: dict[str, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        root = os.getpid()
        while not self._stop.is_set():
            tree = _children()
            pending, by_kind = list(tree.get(root, [])), {"driver_python": _rss(root)}
            while pending:
                pid = pending.pop()
                pending.extend(tree.get(pid, []))
                kind = _kind(pid)
                by_kind[kind] = by_kind.get(kind, 0) + _rss(pid)
            self.peak_total = max(self.peak_total, sum(by_kind.values()))
            for kind, value in by_kind.items():
                self.peak_by_kind[kind] = max(self.peak_by_kind.get(kind, 0), value)
            self._stop.wait(self.interval)

    def __enter__(self) -> TreeMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def report(self) -> dict:
        """Return the peaks in GB (10**9 bytes)."""
        return {
            "peak_total_gb": round(self.peak_total / 1e9, 2),
            "peak_by_process_kind_gb": {k: round(v / 1e9, 2) for k, v in self.peak_by_kind.items()},
        }


# ----------------------------------------------------------------------------- model
def ensure_model() -> Path:
    """Fit a DR model on a small simulated portfolio once; save it as the pipeline's pyfunc."""
    if (MODEL_DIR / "MLmodel").exists():
        return MODEL_DIR
    import visitrisk as vr
    from visitrisk._spark_run import _save_pyfunc
    from visitrisk.labels import monthly_snapshots

    portfolio = vr.simulate_portfolio(3000, seed=0, history_months=18).portfolio
    training = vr.build_training_set(portfolio, monthly_snapshots(portfolio)[-4:])
    model = vr.UpliftModel(learner="dr", random_state=0, n_jobs=1).fit(training)
    MODEL_DIR.parent.mkdir(parents=True, exist_ok=True)
    _save_pyfunc(model, training.X, MODEL_DIR)
    return MODEL_DIR


# ----------------------------------------------------------------------------- engines
def run_pandas(folder: Path, model_dir: Path) -> dict:
    import mlflow.pyfunc

    import visitrisk as vr

    phases = Phases()
    with TreeMemory() as memory:
        with phases("load_and_validate"):
            portfolio = vr.load_portfolio(folder)
        with phases("features"):
            features = vr.build_features(portfolio, AS_OF)
        with phases("score"):
            model = mlflow.pyfunc.load_model(str(model_dir))
            scores = model.predict(features)
    return {
        "scored_customers": len(scores),
        "seconds": {name: round(value, 2) for name, value in phases.seconds.items()},
        "seconds_total": round(phases.total(), 2),
        **memory.report(),
    }


def run_spark(folder: Path, model_dir: Path, buckets: int, driver_memory: str) -> dict:
    from visitrisk import spark as vs

    phases = Phases()
    with TreeMemory() as memory:
        with phases("session"):
            spark = vs.spark_session(
                "local[2]",
                config={
                    "spark.driver.memory": driver_memory,
                    "spark.sql.shuffle.partitions": str(buckets),
                    "spark.ui.enabled": "false",
                },
            )
            spark.sparkContext.setLogLevel("ERROR")
        with phases("features_and_score"):
            tables = vs.read_tables(spark, folder)
            features = vs.build_features(tables, AS_OF, buckets=buckets)
            scores = vs.score(features, str(model_dir), explain=False)
            out = Path(tempfile.mkdtemp(prefix="visitrisk-bench-")) / "scores.parquet"
            scores.write.parquet(str(out))
        scored = spark.read.parquet(str(out)).count()
        spark.stop()
    return {
        "scored_customers": scored,
        "buckets": buckets,
        "driver_memory": driver_memory,
        "seconds": {name: round(value, 2) for name, value in phases.seconds.items()},
        "seconds_total": round(phases.total(), 2),
        "seconds_without_session": round(phases.seconds["features_and_score"], 2),
        **memory.report(),
    }


def _child(args: list[str]) -> dict:
    done = subprocess.run(
        [sys.executable, "-m", "bench.bench_spark", "--child", *args],
        check=True,
        cwd=BENCH.parent,
        capture_output=True,
        text=True,
        env=os.environ | {"PYTHONHASHSEED": "0", "MLFLOW_DISABLE_TELEMETRY": "true"},
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--buckets", type=int, default=64)
    parser.add_argument("--driver-memory", default="6g")
    parser.add_argument("--engines", default="pandas,spark")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        engine, folder, model_dir, *rest = args.child
        if engine == "pandas":
            result = run_pandas(Path(folder), Path(model_dir))
        else:
            result = run_spark(Path(folder), Path(model_dir), int(rest[0]), rest[1])
        print(json.dumps(result))
        return

    folder = ensure_data(args.customers, args.seed)
    model_dir = ensure_model()
    report: dict = {
        "customers": args.customers,
        "as_of": str(AS_OF.date()),
        "load_average_1_5_15_before": os.getloadavg(),
    }
    for engine in args.engines.split(","):
        extra = [str(args.buckets), args.driver_memory] if engine == "spark" else []
        started = time.perf_counter()
        report[engine] = _child([engine, str(folder), str(model_dir), *extra])
        report[engine]["wall_seconds_child_process"] = round(time.perf_counter() - started, 2)
        report[engine]["load_average_1_5_15_after"] = os.getloadavg()
        print(engine, json.dumps(report[engine]), flush=True)
    report["note"] = (
        "Each engine ran in its own child process. peak_total_gb is the sampled peak of the "
        "summed RSS of that child and all its descendants (driver Python, JVM, Python "
        "workers); peak_by_process_kind_gb gives each kind's own peak. The machine has 2 "
        "cores shared with other jobs: see the load averages."
    )
    write_result("spark", report)


if __name__ == "__main__":
    main()
