"""What happened to a plan's customers: outcomes from the ledger, visits from the log.

Helpers of :func:`visitrisk.measure_plan`; see :mod:`visitrisk.measure`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from visitrisk.contract import PROBLEM_COLUMNS, DataError, Portfolio

__all__ = ["compliance_table", "outcome_mix", "outcomes", "problem", "visits_of_plan"]


def problem(table: str, column: str, rule: str, examples: Any, count: int, text: str) -> DataError:
    """Return a :class:`DataError` holding one problem."""
    row = {
        "table": table,
        "column": column,
        "rule": rule,
        "count": int(count),
        "examples": ", ".join(str(value) for value in list(examples)[:5]),
        "message": f"{table}: {text}",
    }
    return DataError(pd.DataFrame([row], columns=list(PROBLEM_COLUMNS)))


# ---------------------------------------------------------------------------------------------


def outcomes(
    portfolio: Portfolio, customer_ids: pd.Series, plan_as_of: pd.Timestamp, horizon: int
) -> tuple[pd.DataFrame, np.ndarray]:
    """DPD on every day of ``[d, d + horizon]``, cure and arrears recovered, per customer.

    Returns one row per customer of ``customer_ids`` (same order): ``days_past_due`` and
    ``arrears`` on ``d``, ``cured``, ``cure_date``, ``recovered_arrears`` (CNY); and the
    daily DPD matrix (customers x days, day 0 = ``d``).
    """
    from visitrisk.ledger import customer_ledger, loan_ledger

    loans = portfolio.loans[portfolio.loans["customer_id"].isin(customer_ids)]
    loans = loans[["loan_id", "customer_id"]]
    installments = portfolio.installments[portfolio.installments["loan_id"].isin(loans["loan_id"])]
    window_end = plan_as_of + pd.Timedelta(days=horizon)
    payments = portfolio.payments[
        portfolio.payments["loan_id"].isin(loans["loan_id"])
        & (portfolio.payments["payment_date"] <= window_end)
    ]
    dates = pd.date_range(plan_as_of, window_end, freq="D")
    loan_state = loan_ledger(installments, payments, dates)
    state = customer_ledger(loans, loan_state)
    n_dates = len(dates)
    # Both ledgers come sorted by id, then date: every id holds n_dates consecutive rows.
    ledger_ids = state["customer_id"].to_numpy()[::n_dates]
    position = pd.Index(ledger_ids).get_indexer(customer_ids)
    if (position < 0).any():
        without = customer_ids[position < 0]
        raise problem(
            "plan",
            "customer_id",
            "no_loans",
            without,
            len(without),
            f"{len(without)} customer(s) of the plan hold no loan in the loans table.",
        )
    dpd = state["days_past_due"].to_numpy().reshape(-1, n_dates)[position]
    arrears = state["arrears"].to_numpy().reshape(-1, n_dates)[position]

    # Arrears of d settled by d + horizon: payments settle the oldest dues first (FIFO), so
    # a loan's payments in the window repay its arrears of d before anything else.
    paid = loan_state["paid_to_date"].to_numpy().reshape(-1, n_dates)
    loan_arrears = loan_state["arrears"].to_numpy().reshape(-1, n_dates)[:, 0]
    repaid = np.clip(paid[:, -1] - paid[:, 0], 0, loan_arrears)
    loan_owner = (
        loans.set_index("loan_id")["customer_id"]
        .reindex(loan_state["loan_id"].to_numpy()[::n_dates])
        .to_numpy()
    )
    recovered = pd.Series(repaid).groupby(loan_owner).sum().reindex(customer_ids, fill_value=0.0)

    current = dpd[:, 1:] == 0
    cured = current.any(axis=1)
    first = np.where(cured, current.argmax(axis=1) + 1, 0)
    cure_date = pd.Series(dates[first], dtype="datetime64[us]").where(cured)
    frame = pd.DataFrame(
        {
            "days_past_due": dpd[:, 0],
            "arrears": arrears[:, 0],
            "cured": cured,
            "cure_date": cure_date.to_numpy(),
            "recovered_arrears": np.round(recovered.to_numpy(), 2),
            "recovered_share": np.divide(
                recovered.to_numpy(),
                arrears[:, 0],
                out=np.zeros(len(customer_ids)),
                where=arrears[:, 0] > 0,
            ),
        }
    )
    return frame, dpd


def visits_of_plan(
    portfolio: Portfolio,
    plan: pd.DataFrame,
    plan_id: str,
    plan_as_of: pd.Timestamp,
    window_end: pd.Timestamp,
    dpd: np.ndarray,
) -> tuple[pd.DataFrame, int]:
    """Per plan customer: the visit made for the plan, and visits outside it.

    Returns the columns to add to the customer frame and the number of visits logged
    under the plan for customers it did not plan to visit.
    """
    log = portfolio.visits
    log = log[(log["visit_date"] > plan_as_of) & (log["visit_date"] <= window_end)]
    planned_customers = plan.loc[plan["arm"] == "visit", "customer_id"]
    under_plan = log["plan_id"] == plan_id
    made = (
        log[under_plan & log["customer_id"].isin(planned_customers)]
        .sort_values(["customer_id", "visit_date"], kind="stable")
        .drop_duplicates("customer_id")
        .set_index("customer_id")
        .reindex(plan["customer_id"])
    )
    unplanned = int((under_plan & ~log["customer_id"].isin(planned_customers)).sum())
    outside = log.loc[~under_plan & log["customer_id"].isin(plan["customer_id"]), "customer_id"]

    planned_day = (plan["visit_date"] - plan_as_of).dt.days.to_numpy()
    inside = (planned_day >= 0) & (planned_day < dpd.shape[1])
    current = np.zeros(len(plan), dtype=bool)
    rows = np.flatnonzero(inside)
    current[rows] = dpd[rows, planned_day[rows].astype(np.int64)] == 0
    columns = pd.DataFrame(
        {
            "planned_date": plan["visit_date"].to_numpy(),
            "planned_officer_id": plan["officer_id"].to_numpy(),
            "visit_made": made["visit_date"].notna().to_numpy(),
            "visit_date": made["visit_date"].to_numpy(),
            "visit_officer_id": made["officer_id"].astype("str").to_numpy(),
            "visit_outcome": made["outcome"].astype("str").to_numpy(),
            "current_on_planned_day": current & (plan["arm"] == "visit").to_numpy(),
            "visited_outside_plan": plan["customer_id"].isin(outside).to_numpy(),
        }
    )
    return columns, unplanned


def compliance_table(customers: pd.DataFrame) -> pd.DataFrame:
    """Planned visits made, by plan and planned officer, with a total row (officer "all")."""
    planned = customers[customers["arm"] == "visit"].assign(
        not_made_current=lambda f: ~f["visit_made"] & f["current_on_planned_day"],
        not_made_other=lambda f: ~f["visit_made"] & ~f["current_on_planned_day"],
    )
    by_officer = planned.groupby(["plan_id", "planned_officer_id"], sort=True).agg(
        planned=("customer_id", "size"),
        made=("visit_made", "sum"),
        not_made_current=("not_made_current", "sum"),
        not_made_other=("not_made_other", "sum"),
    )
    by_officer = by_officer.reset_index().rename(columns={"planned_officer_id": "officer_id"})
    total = by_officer[["planned", "made", "not_made_current", "not_made_other"]].sum()
    plan_ids = customers["plan_id"].unique()
    total_row = pd.DataFrame(
        [{"plan_id": " ".join(plan_ids), "officer_id": "all", **total.to_dict()}]
    )
    table = pd.concat([by_officer, total_row], ignore_index=True)
    counts = ["planned", "made", "not_made_current", "not_made_other"]
    table[counts] = table[counts].astype(np.int64)
    table["share_made"] = table["made"] / table["planned"].where(table["planned"] > 0)
    return table


def outcome_mix(customers: pd.DataFrame) -> pd.DataFrame:
    """Count the outcomes of the visits made for the plan, with their shares."""
    outcome = customers.loc[customers["visit_made"], "visit_outcome"]
    counts = outcome.value_counts().sort_index()
    return pd.DataFrame(
        {
            "outcome": pd.array(counts.index.to_numpy(), dtype="str"),
            "visits": counts.to_numpy(dtype=np.int64),
            "share": (counts / max(len(outcome), 1)).to_numpy(),
        }
    )
