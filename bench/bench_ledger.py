"""Benchmark the FIFO ledger at bank scale: read Parquet, loan ledger, customer ledger.

1,000,000 loans of 24 monthly installments (24M schedule rows, with seasonal balloons,
grace periods of zero-amount rows, irregular and duplicate due dates, rows shuffled),
~20M payments (on time, late, partial, missed, prepaid, overpaid) and ~700k customers, as
of 12 month-ends. The data is generated once (vectorised, not timed) into ``bench/data/``
by a separate process, so its memory does not count towards the measured peak.

Each measurement runs in a fresh process, once with the default environment (the headline
figure) and once without transparent huge pages (see ``ENVIRONMENTS``). Run
``python -m bench ledger`` (or ``python -m bench.bench_ledger``); set
``VISITRISK_BENCH_SCALE=0.01`` for a quick run on 1% of the loans. Target: <= 10 s wall in
total and <= 4 GB peak RSS on a 2-core machine.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from bench._measure import Phases, peak_rss_gb, write_result

SCALE = float(os.environ.get("VISITRISK_BENCH_SCALE", "1"))
N_LOANS = round(1_000_000 * SCALE)
N_CUSTOMERS = round(700_000 * SCALE)
N_INSTALLMENTS = 24
SEED = 20_260_101
AS_OF = np.arange("2025-02", "2026-02", dtype="datetime64[M]").astype("datetime64[D]") - 1
EXPORT_DATE = np.datetime64("2026-02-15")
DATA_DIR = Path(__file__).resolve().parent / "data" / f"ledger_{N_LOANS}"
TABLES = ("installments", "payments", "loans")
TARGET_SECONDS, TARGET_GB = 10.0, 4.0


# --------------------------------------------------------------------------------------
# Data generation (vectorised; run once, in its own process)
# --------------------------------------------------------------------------------------


def _ids(prefix: str, numbers: np.ndarray, width: int):
    """Zero-padded text ids built in Arrow (no Python string per row)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    digits = pc.utf8_lpad(pc.cast(pa.array(numbers), pa.string()), width=width, padding="0")
    return pc.binary_join_element_wise(prefix, digits, "")


def _schedule(rng: np.random.Generator):
    """Due days (int days, loan-major (n_loans, 24)) and amounts in cents."""
    start_month = np.datetime64("2022-09", "M") + rng.integers(0, 36, N_LOANS)
    day_of_month = rng.integers(1, 29, N_LOANS)
    months = start_month[:, None] + np.arange(1, N_INSTALLMENTS + 1)
    due = months.astype("datetime64[D]").astype(np.int64) + (day_of_month - 1)[:, None]

    principal = np.round(rng.lognormal(np.log(30_000), 0.8, N_LOANS), -2)
    monthly = np.rint(principal * 1.06 / N_INSTALLMENTS * 100)
    cents = np.repeat(monthly[:, None], N_INSTALLMENTS, axis=1)
    kind = rng.random(N_LOANS)
    # Farm loans: nothing due between harvests, a balloon every sixth month.
    seasonal = kind < 0.10
    harvest = (np.arange(N_INSTALLMENTS) % 6) == 5
    cents[seasonal] = np.where(harvest, 6 * monthly[seasonal, None], 0)
    # Grace period: the first three installments are zero-amount rows.
    grace = (kind >= 0.10) & (kind < 0.15)
    cents[grace, :3] = 0
    # Irregular schedules: dates moved by up to 12 days, some landing on the same day.
    irregular = (kind >= 0.15) & (kind < 0.20)
    due[irregular] += rng.integers(-12, 13, (int(irregular.sum()), N_INSTALLMENTS))
    due[irregular] = np.maximum.accumulate(due[irregular], axis=1)
    return due, cents


def _payments(rng: np.random.Generator, due: np.ndarray, cents: np.ndarray):
    """Payment rows (loan, day, cents) for each installment, by loan behaviour."""
    shape = due.shape
    behaviour = rng.choice(5, N_LOANS, p=[0.55, 0.15, 0.10, 0.12, 0.08])
    on_time, late, partial, missed, prepaid = (behaviour == k for k in range(5))
    delay = rng.integers(-6, 1, shape)
    delay[late] = rng.integers(1, 75, (int(late.sum()), shape[1]))
    delay[partial] = rng.integers(-3, 20, (int(partial.sum()), shape[1]))
    amount = cents.astype(np.float64)
    amount[partial] = np.rint(amount[partial] * rng.uniform(0.3, 0.95, (int(partial.sum()), 1)))
    # Overpayments by a few on-time payers, carried forward by FIFO.
    over = on_time[:, None] & (rng.random(shape) < 0.03)
    amount[over] += rng.integers(1, 50_000, int(over.sum()))

    index = np.arange(shape[1])
    paying = cents > 0
    stops_at = rng.integers(2, shape[1], N_LOANS)
    paying[missed] &= index[None, :] < stops_at[missed, None]
    # Anyone may skip a month and catch up with the next installment.
    skipped = paying & (rng.random(shape) < 0.02)
    delay[skipped] += rng.integers(25, 45, int(skipped.sum()))
    # Prepaid loans settle everything from a random installment on in one payment.
    lump_at = rng.integers(1, shape[1] - 2, N_LOANS)
    remaining = np.cumsum(amount[:, ::-1], axis=1)[:, ::-1]
    lump = prepaid[:, None] & (index[None, :] == lump_at[:, None])
    amount[lump] = remaining[lump]
    paying[prepaid[:, None] & (index[None, :] > lump_at[:, None])] = False

    day = due + delay
    paying &= day <= EXPORT_DATE.astype(np.int64)
    loan = np.broadcast_to(np.arange(N_LOANS)[:, None], shape)
    loan, day, amount = loan[paying], day[paying], amount[paying]
    # Many pay in two goes (a mobile transfer, then cash at the branch a few days later).
    split = np.flatnonzero(rng.random(len(loan)) < 0.3)
    first = np.rint(amount[split] * rng.uniform(0.2, 0.8, len(split)))
    rest = amount[split] - first
    amount[split] = first
    later = day[split] + rng.integers(0, 10, len(split))
    keep = later <= EXPORT_DATE.astype(np.int64)
    return (
        np.concatenate([loan, loan[split][keep]]),
        np.concatenate([day, later[keep]]),
        np.concatenate([amount, rest[keep]]),
    )


def generate(data_dir: Path) -> None:
    """Write installments, payments and loans as Parquet, rows shuffled."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    started = time.perf_counter()
    rng = np.random.default_rng(SEED)
    data_dir.mkdir(parents=True, exist_ok=True)
    due, cents = _schedule(rng)
    pay_loan, pay_day, pay_cents = _payments(rng, due, cents)
    loan_ids = _ids("LN", np.arange(N_LOANS), 8)

    order = rng.permutation(due.size)
    installments = pa.table(
        {
            "loan_id": loan_ids.take(pa.array(order // N_INSTALLMENTS)),
            "due_date": pa.array(due.ravel()[order].astype("datetime64[D]")),
            "amount_due": pa.array(cents.ravel()[order] / 100),
        }
    )
    pq.write_table(installments, data_dir / "installments.parquet")
    del installments

    order = rng.permutation(len(pay_loan))
    payments = pa.table(
        {
            "loan_id": loan_ids.take(pa.array(pay_loan[order])),
            "payment_date": pa.array(pay_day[order].astype("datetime64[D]")),
            "amount": pa.array(pay_cents[order] / 100),
        }
    )
    pq.write_table(payments, data_dir / "payments.parquet")
    n_payments = len(payments)
    del payments

    # Every customer has a loan; some have several.
    customer = np.concatenate(
        [np.arange(N_CUSTOMERS), rng.integers(0, N_CUSTOMERS, N_LOANS - N_CUSTOMERS)]
    )
    loans = pa.table(
        {
            "loan_id": loan_ids,
            "customer_id": _ids("CU", rng.permutation(customer), 8),
            "origination_date": pa.array((due[:, 0] - 30).astype("datetime64[D]")),
        }
    )
    pq.write_table(loans, data_dir / "loans.parquet")
    sizes = {
        "loans": N_LOANS,
        "customers": N_CUSTOMERS,
        "installments": int(due.size),
        "zero_amount_installments": int((cents == 0).sum()),
        "payments": n_payments,
        "generation_seconds": round(time.perf_counter() - started, 1),
    }
    (data_dir / "sizes.json").write_text(json.dumps(sizes, indent=2), encoding="utf-8")


# --------------------------------------------------------------------------------------
# The measured run
# --------------------------------------------------------------------------------------


def _read(data_dir: Path):
    import pyarrow.parquet as pq

    def read(table: str, **options):
        # DATE columns become datetime64 (not Python date objects); one block per column
        # and Arrow memory released as it converts keep the peak low.
        return pq.read_table(data_dir / f"{table}.parquet", **options).to_pandas(
            date_as_object=False, split_blocks=True, self_destruct=True
        )

    # Ids stay Arrow text (pandas ``str``), not Python objects. Reading them as categoricals
    # (``read_dictionary``) is far slower here: the file holds one dictionary per page
    # group and pandas has to unify 184 of them.
    installments = read("installments")
    payments = read("payments")
    loans = read("loans", columns=["loan_id", "customer_id"])
    return installments, payments, loans


#: Process environments measured. "default" is what a user gets; "no_huge_pages" turns off
#: transparent huge pages for NumPy and moves Arrow to jemalloc (both documented switches).
#: On this virtual machine a fresh 2 MB huge page costs far more than 512 small ones, and
#: the ledger touches several GB of fresh memory, so the second is markedly faster here.
ENVIRONMENTS = {
    "default": {},
    "no_huge_pages": {"NUMPY_MADVISE_HUGEPAGE": "0", "ARROW_DEFAULT_MEMORY_POOL": "jemalloc"},
}


def measure() -> dict:
    """Time the three phases in this process; return the figures."""
    import pandas as pd  # noqa: F401 (import time is not part of any phase)

    from visitrisk import customer_ledger, loan_ledger

    load_before = os.getloadavg()[0]
    phases = Phases()
    with phases("read"):
        installments, payments, loans = _read(DATA_DIR)
    with phases("loan_ledger"):
        loan_state = loan_ledger(installments, payments, AS_OF)
    with phases("customer_ledger"):
        customer_state = customer_ledger(loans, loan_state)
    total, peak = phases.total(), peak_rss_gb()
    return {
        "seconds": {name: round(value, 3) for name, value in phases.seconds.items()},
        "total_seconds": round(total, 3),
        "peak_rss_gb": round(peak, 3),
        "met_targets": bool(total <= TARGET_SECONDS and peak <= TARGET_GB),
        "usage": {
            name: {key: round(value, 3) for key, value in usage.items()}
            for name, usage in phases.usage.items()
        },
        "load_average_before": round(load_before, 2),
        "states": {
            "loan_state_rows": len(loan_state),
            "customer_state_rows": len(customer_state),
            "loan_states_past_due": int((loan_state["days_past_due"] > 0).sum()),
            "customer_states_past_due": int((customer_state["days_past_due"] > 0).sum()),
        },
    }


def main() -> None:
    if "--generate" in sys.argv:
        generate(DATA_DIR)
        return
    if "--measure" in sys.argv:
        print(json.dumps(measure()))
        return
    if not all((DATA_DIR / f"{table}.parquet").exists() for table in TABLES):
        print(f"Generating the benchmark data in {DATA_DIR} (once, not timed)...", flush=True)
        # In another process, so generation memory does not count towards the peak.
        subprocess.run([sys.executable, "-m", "bench.bench_ledger", "--generate"], check=True)
    sizes = json.loads((DATA_DIR / "sizes.json").read_text(encoding="utf-8"))

    runs = {}
    for name, variables in ENVIRONMENTS.items():
        # A fresh process per environment: the variables act at import, the peak is its own.
        done = subprocess.run(
            [sys.executable, "-m", "bench.bench_ledger", "--measure"],
            env={**os.environ, **variables},
            check=True,
            capture_output=True,
            text=True,
        )
        runs[name] = {"environment": variables, **json.loads(done.stdout.splitlines()[-1])}
        print(
            f"{name}: total {runs[name]['total_seconds']:.2f} s "
            f"({runs[name]['seconds']}), peak RSS {runs[name]['peak_rss_gb']:.2f} GB",
            flush=True,
        )
    default = runs["default"]
    result = {
        "scale": SCALE,
        "seconds": default["seconds"],
        "total_seconds": default["total_seconds"],
        "peak_rss_gb": default["peak_rss_gb"],
        "targets": {"total_seconds": TARGET_SECONDS, "peak_rss_gb": TARGET_GB},
        "met_targets": default["met_targets"],
        "sizes": {**sizes, "as_of_dates": len(AS_OF), **default.pop("states")},
        "runs": runs,
    }
    name = "ledger" if SCALE == 1 else f"ledger_scale_{SCALE:g}"
    print(f"-> {write_result(name, result)}")


if __name__ == "__main__":
    main()
