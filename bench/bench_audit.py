"""Benchmark the visit-log audit (``audit_visits``) on a bank-sized field-visit log.

1,000,000 visit records over three years by 500 officers (50 branches, 200,000 customers),
with a staff table of working days, covered branches and about 20 absent days per officer
a year. The log is mostly clean; planted faults make every rule fire: officers over their
daily capacity, visits on absent days and weekends, customers both met and not found on
a day, visits outside the officer's branches, and five officers (in five branches) who
record almost only ``not_found``. The data is built in memory (vectorised, timed
separately, not part of the figure); ``load_portfolio`` validates it once before the audit
is timed.

Run ``python -m bench audit`` (or ``python -m bench.bench_audit``); set
``VISITRISK_BENCH_SCALE=0.01`` for a quick run on 1% of the visits. The figures go to
``bench/results/audit.json``. Target: <= 5 s wall and <= 2 GB peak RSS on a 2-core machine.
"""

from __future__ import annotations

import os

import numpy as np
import pandas as pd

from bench._measure import Phases, write_result

SCALE = float(os.environ.get("VISITRISK_BENCH_SCALE", "1"))
N_VISITS = round(1_000_000 * SCALE)
N_CUSTOMERS = max(round(200_000 * SCALE), 1_000)
N_OFFICERS, N_BRANCHES = 500, 50
FIRST_DAY, N_DAYS = np.datetime64("2023-12-04", "D"), 3 * 364
SEED = 20_261_129
TARGET_SECONDS, TARGET_GB = 5.0, 2.0


def _ids(prefix: str, numbers: np.ndarray, width: int) -> pd.Series:
    """Zero-padded text ids built in Arrow (no Python string per row)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    digits = pc.utf8_lpad(pc.cast(pa.array(numbers), pa.string()), width=width, padding="0")
    return pd.Series(pc.binary_join_element_wise(prefix, digits, ""), dtype="str")


def _weekdays(n_weeks: int) -> np.ndarray:
    """Day offsets of Monday to Friday of ``n_weeks`` weeks, from a Monday."""
    return (7 * np.arange(n_weeks)[:, None] + np.arange(5)).ravel()


def _tables(rng: np.random.Generator) -> tuple[dict[str, pd.DataFrame], dict[str, int]]:
    """Return a minimal loan book, a staff table and a visit log with planted faults."""
    customer_branch = rng.integers(0, N_BRANCHES, N_CUSTOMERS)
    customers = pd.DataFrame(
        {
            "customer_id": _ids("C", np.arange(N_CUSTOMERS), 7),
            "branch_id": _ids("B", customer_branch, 3),
        }
    )
    loans = pd.DataFrame(
        {
            "loan_id": _ids("L", np.arange(N_CUSTOMERS), 7),
            "customer_id": customers["customer_id"],
            "product": "consumer",
            "origination_date": np.datetime64("2023-01-02", "us"),
            "principal": 10_000.0,
        }
    )
    installments = pd.DataFrame(
        {
            "loan_id": loans["loan_id"],
            "due_date": np.datetime64("2023-02-02", "us"),
            "amount_due": 10_100.0,
        }
    )
    payments = installments.rename(columns={"due_date": "payment_date", "amount_due": "amount"})

    officer_branch = np.arange(N_OFFICERS) % N_BRANCHES
    capacity = rng.choice([4, 5, 6, 8], N_OFFICERS)
    covers = np.where(rng.random(N_OFFICERS) < 0.2, (officer_branch + 1) % N_BRANCHES, -1)
    n_absent = rng.poisson(60, N_OFFICERS)
    absent_officer = np.repeat(np.arange(N_OFFICERS), n_absent)
    absent_day = FIRST_DAY + rng.integers(0, N_DAYS, len(absent_officer))
    absent_text = pd.Series(np.datetime_as_string(absent_day, unit="D"), dtype="str")
    absent_dates = absent_text.groupby(absent_officer).agg(" ".join)
    staff = pd.DataFrame(
        {
            "officer_id": _ids("O", np.arange(N_OFFICERS), 4),
            "branch_id": _ids("B", officer_branch, 3),
            "visits_per_day": capacity,
            "working_days": "Mon Tue Wed Thu Fri",
            "covers_branches": pd.Series(
                np.where(covers >= 0, _ids("B", np.maximum(covers, 0), 3), None), dtype="str"
            ),
            "absent_dates": absent_dates.reindex(np.arange(N_OFFICERS)).to_numpy(),
        }
    )

    # Clean visits fill free capacity slots: a working day the officer is present, a
    # customer of the officer's home branch, outcomes at the same rates everywhere.
    n_weeks = N_DAYS // 7
    slot_officer = np.repeat(np.arange(N_OFFICERS), capacity * 5 * n_weeks)
    slot_day = np.concatenate(
        [np.repeat(FIRST_DAY + _weekdays(n_weeks), c).astype(np.int64) for c in capacity]
    )
    absent_keys = absent_officer * 100_000 + (absent_day - FIRST_DAY).astype(np.int64)
    present = ~np.isin(slot_officer * 100_000 + slot_day - FIRST_DAY.astype(np.int64), absent_keys)
    slot = rng.choice(np.flatnonzero(present), N_VISITS, replace=False)
    officer, day = slot_officer[slot], slot_day[slot].astype("datetime64[D]")
    week = (day - FIRST_DAY).astype(np.int64) // 7
    by_branch = np.argsort(customer_branch, kind="stable")
    first = np.searchsorted(customer_branch[by_branch], np.arange(N_BRANCHES))
    size = np.bincount(customer_branch, minlength=N_BRANCHES)
    branch = officer_branch[officer]
    customer = by_branch[first[branch] + (rng.random(N_VISITS) * size[branch]).astype(np.int64)]
    outcomes = np.array(["met", "promise_to_pay", "not_found", "refused", "other"])
    outcome = rng.choice(len(outcomes), N_VISITS, p=[0.45, 0.25, 0.15, 0.1, 0.05])

    planted = {}
    faulty = rng.random(N_VISITS)
    weekend = faulty < 0.002
    day[weekend] = FIRST_DAY + 7 * week[weekend] + 5
    planted["weekend"] = int(weekend.sum())
    cross = (faulty >= 0.002) & (faulty < 0.004)
    officer[cross] = (officer[cross] + 7) % N_OFFICERS  # an officer of another branch
    planted["other_branch"] = int(cross.sum())
    absent = (faulty >= 0.004) & (faulty < 0.005)
    pick = rng.integers(0, len(absent_officer), int(absent.sum()))
    officer[absent], day[absent] = absent_officer[pick], absent_day[pick]
    planted["on_absent_day"] = int(absent.sum())
    suspicious = np.arange(5) * (N_BRANCHES + 1)  # one officer in each of branches 0-4
    mostly_not_found = np.isin(officer, suspicious) & (rng.random(N_VISITS) < 0.9)
    outcome[mostly_not_found] = 2
    planted["mostly_not_found_officer_records"] = int(np.isin(officer, suspicious).sum())
    planted["mostly_not_found_officers"] = [f"O{number:04d}" for number in suspicious]
    # One officer logs a whole day's visits twice over.
    busy = np.flatnonzero(officer == 11)[:40]
    day[busy] = FIRST_DAY + 2
    planted["over_capacity_day"] = len(busy)
    # Contradictions: repeat some met records as not_found the same day.
    repeated = np.flatnonzero(outcome == 0)[: max(N_VISITS // 1000, 1)]
    customer = np.concatenate([customer, customer[repeated]])
    day = np.concatenate([day, day[repeated]])
    officer = np.concatenate([officer, officer[repeated]])
    outcome = np.concatenate([outcome, np.full(len(repeated), 2)])
    planted["met_and_not_found_pairs"] = len(repeated)

    visits = pd.DataFrame(
        {
            "customer_id": customers["customer_id"].take(customer).to_numpy(),
            "visit_date": day.astype("datetime64[us]"),
            "officer_id": staff["officer_id"].take(officer).to_numpy(),
            "outcome": pd.Series(outcomes[outcome], dtype="str"),
        }
    )
    tables = {
        "customers": customers,
        "loans": loans,
        "installments": installments,
        "payments": payments,
        "visits": visits,
        "staff": staff,
    }
    return tables, planted


def main() -> None:
    from visitrisk import audit_visits, load_portfolio

    phases = Phases()
    with phases("build_data"):
        tables, planted = _tables(np.random.default_rng(SEED))
    with phases("load_portfolio"):
        portfolio = load_portfolio(**tables)
    del tables
    import scipy.stats  # noqa: F401  (its import, ~0.5 s, is not the audit)

    with phases("audit_visits"):
        flags = audit_visits(portfolio)
    seconds = phases.seconds["audit_visits"]
    result = {
        "scale": SCALE,
        "visits": len(portfolio.visits),
        "officers": N_OFFICERS,
        "customers": N_CUSTOMERS,
        "audit_seconds": round(seconds, 3),
        "visits_per_second": round(len(portfolio.visits) / seconds),
        "phases_seconds": {name: round(value, 3) for name, value in phases.seconds.items()},
        "phases_usage": phases.usage,
        "planted": planted,
        "flagged_records": int(flags["visit_index"].nunique()),
        "flags_by_reason": flags["reason"].value_counts().to_dict(),
        "outcome_mix_officers": sorted(
            flags.loc[flags["reason"] == "outcome_mix", "officer_id"].unique().tolist()
        ),
        "planted_outcome_mix_officers": planted.pop("mostly_not_found_officers"),
        "skipped_checks": flags.attrs["skipped_checks"],
        "target_seconds": TARGET_SECONDS,
        "target_peak_rss_gb": TARGET_GB,
    }
    path = write_result("audit", result)
    print(
        f"audit_visits: {len(portfolio.visits):,} visits in {seconds:.2f} s "
        f"({result['visits_per_second']:,} a second); {result['flagged_records']:,} records "
        f"flagged {result['flags_by_reason']}; results in {path}"
    )


if __name__ == "__main__":
    main()
