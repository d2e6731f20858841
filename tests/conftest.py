"""Fixtures shared by the whole test suite."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest


def _dates(*values: str) -> pd.Series:
    return pd.Series(pd.to_datetime(list(values)))


def _monthly(first: str, periods: int) -> np.ndarray:
    return pd.date_range(first, periods=periods, freq=pd.DateOffset(months=1)).to_numpy()


@pytest.fixture
def tiny_tables() -> dict[str, pd.DataFrame]:
    """Return a small valid portfolio as raw DataFrames, one per contract table (fresh copy).

    - branches ``B01``, ``B02``; staff ``O01`` (B01, 6 visits/day, covers B02, absent
      2026-04-06) and ``O02`` (B02, 4 visits/day, Mon Wed Fri).
    - customers ``C001`` (B01, two loans), ``C002`` (B01), ``C003`` (B02, do_not_visit).
    - loans ``L001`` (C001, 1,200 CNY from 2026-01-05, 5 monthly installments of 245 from
      2026-02-05), ``L002`` (C001, 3 x 205 from 2026-03-10), ``L003`` (C002, 3 x 305 from
      2026-02-15), ``L004`` (C003, 6 x 510 from 2026-02-20).
    - payments: L001 pays 02-05 and 03-05 on time, then a late partial 100 on 04-12;
      L002 pays 03-10, then late on 04-25; L003 pays 02-15, then a late partial 150 on
      03-20; L004 pays 02-20, 03-20, 04-20 on time.
    - visits: C002 on 2026-04-01 (O01, promise_to_pay), C003 on 2026-04-02 (O02,
      not_found), C001 on 2026-04-20 (O01, met).

    Valid under the contract with no warnings.
    """
    branches = pd.DataFrame(
        {
            "branch_id": ["B01", "B02"],
            "name": ["Lishu", "Gongzhuling"],
            "latitude": [43.31, 43.50],
            "longitude": [124.33, 124.82],
        }
    )
    customers = pd.DataFrame(
        {
            "customer_id": ["C001", "C002", "C003"],
            "branch_id": ["B01", "B01", "B02"],
            "segment": ["farmer", "small_business", "salaried"],
            "township": ["Yushu", "Yushu", "Fanjia"],
            "village": ["Dongcun", "Xicun", "Nancun"],
            "latitude": [43.35, 43.28, np.nan],
            "longitude": [124.30, 124.41, np.nan],
            "do_not_visit": [False, False, True],
        }
    )
    loans = pd.DataFrame(
        {
            "loan_id": ["L001", "L002", "L003", "L004"],
            "customer_id": ["C001", "C001", "C002", "C003"],
            "product": ["farm_operating", "consumer", "microbusiness", "mortgage"],
            "origination_date": _dates("2026-01-05", "2026-02-10", "2026-01-15", "2026-01-20"),
            "principal": [1200.0, 600.0, 900.0, 3000.0],
            "maturity_date": _dates("2026-06-05", "2026-05-10", "2026-04-15", "2026-07-20"),
            "annual_rate": [0.0435, 0.06, 0.055, 0.039],
        }
    )
    schedule = {
        "L001": (_monthly("2026-02-05", 5), 245.0),
        "L002": (_monthly("2026-03-10", 3), 205.0),
        "L003": (_monthly("2026-02-15", 3), 305.0),
        "L004": (_monthly("2026-02-20", 6), 510.0),
    }
    installments = pd.DataFrame(
        {
            "loan_id": [loan for loan, (days, _) in schedule.items() for _ in days],
            "due_date": pd.Series(np.concatenate([days for days, _ in schedule.values()])),
            "amount_due": [amount for days, amount in schedule.values() for _ in days],
        }
    )
    payments = pd.DataFrame(
        {
            "loan_id": ["L001"] * 3 + ["L002"] * 2 + ["L003"] * 2 + ["L004"] * 3,
            "payment_date": _dates(
                "2026-02-05",
                "2026-03-05",
                "2026-04-12",
                "2026-03-10",
                "2026-04-25",
                "2026-02-15",
                "2026-03-20",
                "2026-02-20",
                "2026-03-20",
                "2026-04-20",
            ),
            "amount": [245.0, 245.0, 100.0, 205.0, 205.0, 305.0, 150.0, 510.0, 510.0, 510.0],
        }
    )
    visits = pd.DataFrame(
        {
            "customer_id": ["C002", "C003", "C001"],
            "visit_date": _dates("2026-04-01", "2026-04-02", "2026-04-20"),
            "officer_id": ["O01", "O02", "O01"],
            "outcome": ["promise_to_pay", "not_found", "met"],
        }
    )
    staff = pd.DataFrame(
        {
            "officer_id": ["O01", "O02"],
            "branch_id": ["B01", "B02"],
            "visits_per_day": [6, 4],
            "working_days": ["Mon Tue Wed Thu Fri", "Mon Wed Fri"],
            "covers_branches": ["B02", None],
            "absent_dates": ["2026-04-06", None],
        }
    )
    return {
        "customers": customers,
        "loans": loans,
        "installments": installments,
        "payments": payments,
        "visits": visits,
        "staff": staff,
        "branches": branches,
    }
