"""Small random portfolios for property tests (seeded, several loans per customer)."""

from __future__ import annotations

import numpy as np
import pandas as pd

OUTCOMES = [
    "met",
    "promise_to_pay",
    "paid_on_site",
    "restructure_requested",
    "refused",
    "not_found",
    "other",
]


def random_tables(seed: int, n_customers: int = 12, start: str = "2024-01-01") -> dict:
    """Contract tables with late, partial, early, over- and zero payments."""
    rng = np.random.default_rng(seed)
    origin = pd.Timestamp(start)
    customers = pd.DataFrame(
        {
            "customer_id": [f"C{i:03d}" for i in range(n_customers)],
            "branch_id": rng.choice(["B1", "B2"], n_customers),
            "segment": rng.choice(["farmer", "salaried", "cooperative", "fisher"], n_customers),
            "township": rng.choice(["T1", "T2", "T3"], n_customers),
            "latitude": np.where(
                rng.random(n_customers) < 0.8, 30 + rng.random(n_customers), np.nan
            ),
            "longitude": 110 + rng.random(n_customers),
            "do_not_visit": rng.random(n_customers) < 0.1,
        }
    )
    loans, installments, payments = [], [], []
    for c in customers["customer_id"]:
        for k in range(rng.integers(1, 3)):
            loan_id = f"{c}-L{k}"
            start_day = origin + pd.Timedelta(days=int(rng.integers(0, 240)))
            n = int(rng.integers(3, 13))
            amount = float(rng.integers(50, 500))
            due = [start_day + pd.DateOffset(months=m + 1) for m in range(n)]
            amounts = np.full(n, amount)
            amounts[rng.random(n) < 0.1] = 0.0
            if rng.random() < 0.3:
                amounts[-1] = amount * 6  # balloon
            principal = float(amounts.sum() * 0.9) + 1
            loans.append(
                (
                    loan_id,
                    c,
                    rng.choice(["farm_operating", "consumer", "leasing"]),
                    start_day,
                    principal,
                )
            )
            installments += [(loan_id, d, a) for d, a in zip(due, amounts, strict=True)]
            behaviour = rng.random()
            for d, a in zip(due, amounts, strict=True):
                if a == 0 or rng.random() < behaviour * 0.5:
                    continue
                delay = int(rng.choice([-5, 0, 0, 3, 20, 45, 90]))
                day = max(d + pd.Timedelta(days=delay), start_day)
                if rng.random() < 0.3:
                    part = round(a * float(rng.choice([0.3, 0.5])), 2)
                    payments.append((loan_id, day, part))
                    payments.append(
                        (
                            loan_id,
                            day + pd.Timedelta(days=int(rng.integers(1, 40))),
                            round(a - part + float(rng.choice([0, 0, 10])), 2),
                        )
                    )
                else:
                    payments.append((loan_id, day, a))
    loans = pd.DataFrame(
        loans, columns=["loan_id", "customer_id", "product", "origination_date", "principal"]
    )
    installments = pd.DataFrame(installments, columns=["loan_id", "due_date", "amount_due"])
    payments = pd.DataFrame(payments, columns=["loan_id", "payment_date", "amount"])
    n_visits = 3 * n_customers
    visits = pd.DataFrame(
        {
            "customer_id": rng.choice(customers["customer_id"], n_visits),
            "visit_date": origin + pd.to_timedelta(rng.integers(30, 700, n_visits), unit="D"),
            "officer_id": "O1",
            "outcome": rng.choice(OUTCOMES, n_visits),
        }
    )
    branches = pd.DataFrame(
        {"branch_id": ["B1", "B2"], "latitude": [30.5, 30.2], "longitude": [110.5, 110.1]}
    )
    return {
        "customers": customers,
        "loans": loans,
        "installments": installments,
        "payments": payments,
        "visits": visits,
        "branches": branches,
    }
