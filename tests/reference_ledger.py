"""A slow, obviously correct ledger: the data contract's FIFO rules, one loan and date at a time.

Written from the text of ``shared/DATA_CONTRACT.md`` in plain Python (floats with the
contract's half-cent tolerance, no cents arithmetic, no vectorisation) so that it shares no
idea with ``visitrisk.ledger`` beyond the contract itself. Only for tests: it is quadratic.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd

__all__ = ["reference_customer_ledger", "reference_loan_ledger", "reference_settle_installments"]

#: "Covered when cumulative paid is within half a cent of cumulative due."
HALF_CENT = 0.005


def _day(value) -> dt.date:
    return pd.Timestamp(value).date()


def _schedules(installments: pd.DataFrame) -> dict[str, list[tuple[dt.date, int, float]]]:
    """Installments of each loan as (due date, row position, amount), in due-date order."""
    schedules: dict[str, list[tuple[dt.date, int, float]]] = {}
    for position, row in enumerate(installments.itertuples(index=False)):
        schedules.setdefault(row.loan_id, []).append((_day(row.due_date), position, row.amount_due))
    for schedule in schedules.values():
        schedule.sort(key=lambda item: (item[0], item[1]))
    return schedules


def _payments(payments: pd.DataFrame) -> dict[str, list[tuple[dt.date, float]]]:
    received: dict[str, list[tuple[dt.date, float]]] = {}
    for row in payments.itertuples(index=False):
        received.setdefault(row.loan_id, []).append((_day(row.payment_date), row.amount))
    return received


def _loan_state(schedule, received, day: dt.date) -> dict:
    due = sum(amount for due_date, _, amount in schedule if due_date <= day)
    paid = sum(amount for payment_date, amount in received if payment_date <= day)
    arrears = max(due - paid, 0.0)
    days_past_due, oldest = 0, pd.NaT
    cumulative_due = 0.0
    for due_date, _, amount in schedule:
        if due_date > day:
            break
        cumulative_due += amount
        if amount == 0:  # zero-amount installments never make a loan past due
            continue
        if paid < cumulative_due - HALF_CENT:  # the oldest installment not fully covered
            days_past_due = (day - due_date).days
            oldest = pd.Timestamp(due_date) if days_past_due >= 1 else pd.NaT
            break
    return {
        "due_to_date": due,
        "paid_to_date": paid,
        "arrears": arrears if arrears > HALF_CENT else 0.0,
        "days_past_due": days_past_due,
        "oldest_unpaid_due_date": oldest,
    }


def reference_loan_ledger(installments, payments, as_of) -> pd.DataFrame:
    """Loop version of :func:`visitrisk.loan_ledger` (same columns, same row order)."""
    schedules, received = _schedules(installments), _payments(payments)
    dates = sorted({_day(value) for value in as_of})
    rows = []
    for loan_id in sorted(set(schedules) | set(received)):
        for day in dates:
            state = _loan_state(schedules.get(loan_id, []), received.get(loan_id, []), day)
            rows.append({"loan_id": loan_id, "as_of": pd.Timestamp(day), **state})
    columns = ["loan_id", "as_of", "due_to_date", "paid_to_date", "arrears", "days_past_due"]
    return pd.DataFrame(rows, columns=[*columns, "oldest_unpaid_due_date"])


def reference_customer_ledger(loans, loan_state) -> pd.DataFrame:
    """Loop version of :func:`visitrisk.customer_ledger`."""
    customer_of = dict(zip(loans["loan_id"], loans["customer_id"], strict=True))
    dates = sorted({pd.Timestamp(value) for value in loan_state["as_of"]})
    rows = []
    for customer_id in sorted(set(loans["customer_id"])):
        for day in dates:
            total = {"days_past_due": 0, "arrears": 0.0, "due_to_date": 0.0, "paid_to_date": 0.0}
            past_due = 0
            for row in loan_state.itertuples(index=False):
                if customer_of[row.loan_id] != customer_id or pd.Timestamp(row.as_of) != day:
                    continue
                total["days_past_due"] = max(total["days_past_due"], row.days_past_due)
                total["arrears"] += row.arrears
                total["due_to_date"] += row.due_to_date
                total["paid_to_date"] += row.paid_to_date
                past_due += row.days_past_due >= 1
            rows.append(
                {"customer_id": customer_id, "as_of": day, **total, "loans_past_due": past_due}
            )
    columns = ["customer_id", "as_of", "days_past_due", "arrears", "due_to_date", "paid_to_date"]
    return pd.DataFrame(rows, columns=[*columns, "loans_past_due"])


def reference_settle_installments(installments, payments) -> pd.DataFrame:
    """Loop version of :func:`visitrisk.settle_installments` (index = input row labels)."""
    schedules, received = _schedules(installments), _payments(payments)
    labels = list(installments.index)
    rows, index = [], []
    for loan_id in sorted(schedules):
        by_date: dict[dt.date, float] = {}
        for payment_date, amount in received.get(loan_id, []):
            by_date[payment_date] = by_date.get(payment_date, 0.0) + amount
        cumulative_due = 0.0
        for due_date, position, amount in schedules[loan_id]:
            cumulative_due += amount
            covered = pd.NaT
            if cumulative_due < HALF_CENT:  # nothing owed yet: covered on its own due date
                covered = pd.Timestamp(due_date)
            else:
                paid = 0.0
                for payment_date in sorted(by_date):
                    paid += by_date[payment_date]
                    if paid >= cumulative_due - HALF_CENT:
                        covered = pd.Timestamp(payment_date)
                        break
            late = float("nan") if covered is pd.NaT else max((covered.date() - due_date).days, 0)
            rows.append(
                {
                    "loan_id": loan_id,
                    "due_date": pd.Timestamp(due_date),
                    "amount_due": amount,
                    "cumulative_due": cumulative_due,
                    "covered_date": covered,
                    "days_late": late,
                }
            )
            index.append(labels[position])
    columns = ["loan_id", "due_date", "amount_due", "cumulative_due", "covered_date", "days_late"]
    return pd.DataFrame(rows, index=index, columns=columns)
