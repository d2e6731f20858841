"""Time ``load_portfolio`` on a bank-sized synthetic portfolio.

Default size: 1,000,000 loans, 24,000,000 installments, 20,000,000 payments, 400,000
customers, 300,000 visits, 500 officers, 50 branches. Each source runs in its own process,
so its peak RSS (which includes building the data) is its own:

- ``frames``: typed DataFrames (dates datetime64, amounts float64, ids str);
- ``text``: every column as text, as a CSV would hold it (parsing cost, no disk);
- ``parquet`` / ``csv``: a folder written to ``bench/data/contract`` first (not timed).

Run ``PYTHONPATH=src python bench/bench_contract.py`` (``--scale 0.01`` for a quick check); the
figures go to ``bench/results/contract.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results" / "contract.json"
DATA = HERE / "data" / "contract"
SOURCES = ("frames", "text", "parquet", "csv")

N_LOANS = 1_000_000
INSTALLMENTS_PER_LOAN = 24
PAYMENTS_PER_LOAN = 20


def _ids(prefix: str, n: int) -> pd.Series:
    return pd.Series([f"{prefix}{i:07d}" for i in range(n)], dtype="str")


def synthetic_tables(scale: float, seed: int = 0) -> dict[str, pd.DataFrame]:
    """Return a valid portfolio with ``scale`` times the default size (typed frames)."""
    rng = np.random.default_rng(seed)
    n_loans = max(int(N_LOANS * scale), 10)
    n_customers = max(n_loans * 2 // 5, 5)
    branch_ids = _ids("B", 50)
    customer_ids = _ids("C", n_customers)
    loan_ids = _ids("L", n_loans)

    customers = pd.DataFrame(
        {
            "customer_id": customer_ids,
            "branch_id": branch_ids.take(rng.integers(0, 50, n_customers)).to_numpy(),
            "segment": pd.Series(["farmer", "salaried"], dtype="str")
            .take(rng.integers(0, 2, n_customers))
            .to_numpy(),
            "do_not_visit": rng.random(n_customers) < 0.01,
        }
    )
    owner = np.concatenate([np.arange(n_customers), rng.integers(0, n_customers, n_loans)])
    owner = owner[:n_loans]
    origination_day = rng.integers(0, 4 * 365, n_loans) + np.datetime64("2020-01-01", "D")
    principal = np.round(rng.uniform(1_000, 50_000, n_loans), 2)
    loans = pd.DataFrame(
        {
            "loan_id": loan_ids,
            "customer_id": customer_ids.take(owner).to_numpy(),
            "product": pd.Series(["farm_operating", "consumer"], dtype="str")
            .take(rng.integers(0, 2, n_loans))
            .to_numpy(),
            "origination_date": origination_day.astype("datetime64[us]"),
            "principal": principal,
            "maturity_date": (origination_day + 30 * INSTALLMENTS_PER_LOAN).astype(
                "datetime64[us]"
            ),
        }
    )

    loan_of_installment = np.repeat(np.arange(n_loans), INSTALLMENTS_PER_LOAN)
    month = np.tile(np.arange(1, INSTALLMENTS_PER_LOAN + 1), n_loans)
    due_day = origination_day[loan_of_installment] + 30 * month
    installments = pd.DataFrame(
        {
            "loan_id": loan_ids.take(loan_of_installment).to_numpy(),
            "due_date": due_day.astype("datetime64[us]"),
            "amount_due": np.round(principal[loan_of_installment] / INSTALLMENTS_PER_LOAN, 2),
        }
    )

    loan_of_payment = np.repeat(np.arange(n_loans), PAYMENTS_PER_LOAN)
    month = np.tile(np.arange(1, PAYMENTS_PER_LOAN + 1), n_loans)
    delay = rng.integers(-3, 20, len(loan_of_payment))
    payments = pd.DataFrame(
        {
            "loan_id": loan_ids.take(loan_of_payment).to_numpy(),
            "payment_date": (origination_day[loan_of_payment] + 30 * month + delay).astype(
                "datetime64[us]"
            ),
            "amount": np.round(principal[loan_of_payment] / INSTALLMENTS_PER_LOAN, 2),
        }
    )

    n_visits = max(int(300_000 * scale), 5)
    visits = pd.DataFrame(
        {
            "customer_id": customer_ids.take(rng.integers(0, n_customers, n_visits)).to_numpy(),
            "visit_date": (
                rng.integers(0, 5 * 365, n_visits) + np.datetime64("2020-06-01", "D")
            ).astype("datetime64[us]"),
            "officer_id": _ids("O", 500).take(rng.integers(0, 500, n_visits)).to_numpy(),
            "outcome": pd.Series(["met", "promise_to_pay", "not_found"], dtype="str")
            .take(rng.integers(0, 3, n_visits))
            .to_numpy(),
        }
    )
    staff = pd.DataFrame(
        {
            "officer_id": _ids("O", 500),
            "branch_id": branch_ids.take(np.arange(500) % 50).to_numpy(),
            "visits_per_day": rng.integers(2, 8, 500),
            "working_days": "Mon Tue Wed Thu Fri",
        }
    )
    branches = pd.DataFrame({"branch_id": branch_ids})
    return {
        "customers": customers,
        "loans": loans,
        "installments": installments,
        "payments": payments,
        "visits": visits,
        "staff": staff,
        "branches": branches,
    }


def _as_text(frame: pd.DataFrame) -> pd.DataFrame:
    """Every column as text, the way a CSV export holds it (Arrow casts: fast)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    table = pa.Table.from_pandas(frame, preserve_index=False)
    columns = {}
    for name, column in zip(table.column_names, table.columns, strict=True):
        if pa.types.is_timestamp(column.type):
            column = pc.cast(column, pa.date32())
        columns[name] = pc.cast(column, pa.string())
    return pa.table(columns).to_pandas()


def _write_folder(tables: dict[str, pd.DataFrame], fmt: str) -> Path:
    import pyarrow as pa
    import pyarrow.csv as pa_csv

    folder = DATA / fmt
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.iterdir():
        old.unlink()
    for name, frame in tables.items():
        if fmt == "parquet":
            frame.to_parquet(folder / f"{name}.parquet", index=False)
        else:
            pa_csv.write_csv(pa.Table.from_pandas(_as_text(frame)), folder / f"{name}.csv")
    return folder


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux


def _current_rss_mb() -> float:
    """Resident memory now (Linux), to tell the data's size from the peak."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def run_one(source: str, scale: float) -> dict[str, object]:
    """Build the data for one source, then time ``load_portfolio`` on it."""
    from visitrisk.contract import load_portfolio

    tables = synthetic_tables(scale)
    sizes = {name: len(frame) for name, frame in tables.items()}
    if source == "text":
        tables = {name: _as_text(frame) for name, frame in tables.items()}
    elif source in ("parquet", "csv"):
        folder = _write_folder(tables, source)
        del tables
    import pandera.pandas  # noqa: F401  (its import, ~0.5 s, is not validation)

    rss_before = _current_rss_mb()
    peak_before = _peak_rss_mb()
    load_before = os.getloadavg()[0]
    start, cpu_start = time.perf_counter(), time.process_time()
    portfolio = load_portfolio(**tables) if source in ("frames", "text") else load_portfolio(folder)
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu_start
    return {
        "source": source,
        "rows": sizes,
        "wall_seconds": round(wall, 2),
        "cpu_seconds": round(cpu, 2),
        "load_average_before": round(load_before, 1),
        "rss_mb_before_load": round(rss_before),
        "peak_rss_mb_before_load": round(peak_before),
        "peak_rss_mb": round(_peak_rss_mb()),
        "warnings": len(portfolio.warnings),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0, help="fraction of the default size")
    parser.add_argument("--sources", nargs="+", choices=SOURCES, default=list(SOURCES))
    parser.add_argument("--one", choices=SOURCES, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(run_one(args.one, args.scale)))
        return

    results = []
    for source in args.sources:
        done = subprocess.run(
            [sys.executable, __file__, "--one", source, "--scale", str(args.scale)],
            check=True,
            capture_output=True,
            text=True,
        )
        result = json.loads(done.stdout.strip().splitlines()[-1])
        print(
            f"{source:8s} wall {result['wall_seconds']:6.2f} s, cpu {result['cpu_seconds']:6.2f} s,"
            f" peak RSS {result['peak_rss_mb']:,} MB (load average before: "
            f"{result['load_average_before']})"
        )
        results.append(result)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(
        json.dumps(
            {
                "benchmark": "load_portfolio (read, type, validate)",
                "scale": args.scale,
                "machine": f"{platform.machine()}, {platform.python_version()}",
                "results": results,
            },
            indent=2,
        )
        + "\n",
        encoding="utf-8",
    )


if __name__ == "__main__":
    main()
