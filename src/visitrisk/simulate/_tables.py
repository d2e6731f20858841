"""From simulator arrays to the contract tables (typed pandas DataFrames)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from visitrisk.simulate._dynamics import Recorder, State
from visitrisk.simulate._world import (
    LATENT_GROUPS,
    NOT_DELINQUENT,
    OUTCOMES,
    PRODUCTS,
    SEGMENTS,
    WEEKDAYS,
    World,
)

__all__: list[str] = []

_LEAVE_KNOWN_DAYS = 90


def _ids(prefix: str, count: int, width: int) -> pd.array:
    """``prefix`` + zero-padded 1-based numbers, as a pandas ``str`` array."""
    numbers = np.char.zfill((np.arange(count) + 1).astype(str), width)
    return pd.array(np.char.add(prefix, numbers), dtype="str")


def _dates(days: np.ndarray) -> np.ndarray:
    return np.asarray(days).astype("datetime64[D]").astype("datetime64[s]")


def _text(values: np.ndarray) -> pd.array:
    return pd.array(values, dtype="str")


class Ids:
    """Identifiers of branches, customers, loans and officers of a world."""

    def __init__(self, world: World) -> None:
        n_customers = len(world.people)
        self.branch = _ids("B", len(world.places.branch_lat), 3)
        self.customer = _ids("C", n_customers, max(7, len(str(n_customers))))
        n_loans = len(world.book.loan_customer)
        self.loan = _ids("L", n_loans, max(8, len(str(n_loans))))
        self.officer = _ids("E", len(world.staff.branch), 4)


def contract_tables(
    world: World, state: State, recorder: Recorder, ids: Ids
) -> dict[str, pd.DataFrame]:
    """Every contract table of the book at the end of ``state.day``."""
    places, people, book = world.places, world.people, world.book
    branches = pd.DataFrame(
        {
            "branch_id": ids.branch,
            "name": _text(places.branch_name),
            "latitude": places.branch_lat.round(6),
            "longitude": places.branch_lon.round(6),
        }
    )
    customers = pd.DataFrame(
        {
            "customer_id": ids.customer,
            "branch_id": ids.branch.take(people.branch),
            "segment": _text(np.array(SEGMENTS)[people.segment]),
            "township": _text(places.township_name[people.township]),
            "village": _text(places.village_name[people.village]),
            "latitude": people.lat.round(6),
            "longitude": people.lon.round(6),
            "do_not_visit": people.do_not_visit,
            "name": _text(people.name),
            "national_id": _text(people.national_id),
            "phone": _text(people.phone),
        }
    )

    granted = np.flatnonzero(state.loan_active)
    loans = pd.DataFrame(
        {
            "loan_id": ids.loan.take(granted),
            "customer_id": ids.customer.take(book.loan_customer[granted]),
            "product": _text(np.array(PRODUCTS)[book.loan_product[granted]]),
            "origination_date": _dates(book.loan_origination[granted]),
            "principal": book.loan_principal[granted],
            "maturity_date": _dates(book.loan_maturity[granted]),
            "annual_rate": book.loan_rate[granted],
        }
    )

    rows = np.flatnonzero(state.loan_active[book.installment_loan])
    # Rows are in due-date order already; a stable sort by loan keeps it within each loan.
    rows = rows[np.argsort(book.installment_loan[rows], kind="stable")]
    installments = pd.DataFrame(
        {
            "loan_id": ids.loan.take(book.installment_loan[rows]),
            "due_date": _dates(book.installment_due[rows]),
            "amount_due": book.installment_cents[rows] / 100,
        }
    )

    pay_loan, pay_day, pay_cents = (
        np.concatenate([part[k] for part in recorder.payments])
        if recorder.payments
        else np.zeros(0, dtype=np.int64)
        for k in range(3)
    )
    by_loan = np.argsort(pay_loan, kind="stable")
    order = by_loan[np.argsort(pay_day[by_loan], kind="stable")]
    payments = pd.DataFrame(
        {
            "loan_id": ids.loan.take(pay_loan[order]),
            "payment_date": _dates(pay_day[order]),
            "amount": pay_cents[order] / 100,
        }
    )

    visits = _visits(world, recorder, ids)
    return {
        "branches": branches,
        "customers": customers,
        "loans": loans,
        "installments": installments,
        "payments": payments,
        "visits": visits,
        "staff": _staff(world, ids),
    }


def _visits(world: World, recorder: Recorder, ids: Ids) -> pd.DataFrame:
    if recorder.visits:
        customer, day, officer, outcome, planned = (
            np.concatenate([part[k] for part in recorder.visits]) for k in range(5)
        )
    else:
        customer, day, officer, outcome = (np.zeros(0, dtype=np.int64) for _ in range(4))
        planned = np.zeros(0, dtype=bool)
    order = np.lexsort((customer, day))
    customer, day, officer, outcome, planned = (
        a[order] for a in (customer, day, officer, outcome, planned)
    )
    # A weekly plan per pilot branch: PLAN-<Monday of the week>-<branch>.
    monday = _dates(day - (day + 3) % 7).astype("datetime64[D]").astype(str)
    branch = ids.branch.take(world.people.branch[customer]).to_numpy(dtype=str)
    plan = np.char.add(
        np.char.add(np.char.add("PLAN-", np.char.replace(monday, "-", "")), "-"), branch
    )
    return pd.DataFrame(
        {
            "customer_id": ids.customer.take(customer),
            "visit_date": _dates(day),
            "officer_id": ids.officer.take(officer),
            "outcome": _text(np.array(OUTCOMES)[outcome]),
            "plan_id": pd.array(np.where(planned, plan, None), dtype="str"),
        }
    )


def _staff(world: World, ids: Ids) -> pd.DataFrame:
    staff = world.staff
    working = np.full(len(staff.branch), "", dtype=object)
    for k, name in enumerate(WEEKDAYS):
        working = working + np.where(staff.weekdays[:, k], name + " ", "")
    # HR knows leave a few months ahead; the world holds more for forward simulation.
    known = staff.absent_day <= world.as_of + _LEAVE_KNOWN_DAYS
    absences = pd.Series(_dates(staff.absent_day[known]).astype("datetime64[D]").astype(str))
    absent = absences.groupby(staff.absent_officer[known]).agg(" ".join)
    absent_dates = absent.reindex(np.arange(len(staff.branch)))
    covers = np.where(staff.covers >= 0, ids.branch.to_numpy(dtype=str)[staff.covers], None)
    return pd.DataFrame(
        {
            "officer_id": ids.officer,
            "branch_id": ids.branch.take(staff.branch),
            "visits_per_day": staff.visits_per_day.astype(np.int64),
            "working_days": _text(np.char.strip(working.astype(str))),
            "covers_branches": pd.array(covers, dtype="str"),
            "absent_dates": pd.array(absent_dates.to_numpy(dtype=object), dtype="str"),
        }
    )


def truth_table(world: World, truth: dict[str, np.ndarray], day: int, ids: Ids) -> pd.DataFrame:
    """Return the ground-truth frame of one as-of day."""
    customers = truth["customer"]
    return pd.DataFrame(
        {
            "customer_id": ids.customer.take(customers),
            "as_of": _dates(np.full(len(customers), day)),
            "days_past_due": truth["days_past_due"].astype(np.int64),
            "arrears": truth["arrears"],
            "p_cure_visit": truth["p_cure_visit"],
            "p_cure_no_visit": truth["p_cure_no_visit"],
            "uplift": truth["uplift"],
            # The window strategies' truth needs a replayed history; NaN where there is none.
            **{
                column: truth.get(column, np.full(len(customers), np.nan))
                for column in ("p_cure_visit_window", "p_cure_no_visit_window", "uplift_window")
            },
            "propensity": truth["propensity"],
            "latent_group": _text(np.array(LATENT_GROUPS)[world.people.latent_group[customers]]),
            "visit_response": world.people.visit_response[customers],
        }
    )


def spells_table(state: State, recorder: Recorder, ids: Ids) -> pd.DataFrame:
    """Return the delinquency spells.

    Each has the due date of the installment first missed, and the day the customer paid
    everything back (DPD 0 again); NaT while still delinquent.

    DPD is >= 1 from the day after ``missed_due_date`` until the day before ``cured_date``.
    """
    closed = (
        [np.concatenate([part[k] for part in recorder.spells]) for k in range(3)]
        if (recorder.spells)
        else [np.zeros(0, dtype=np.int64)] * 3
    )
    open_customers = np.flatnonzero(state.since != NOT_DELINQUENT)
    customer = np.concatenate([closed[0], open_customers])
    since = np.concatenate([closed[1], state.since[open_customers]])
    cured = np.concatenate([closed[2], np.full(len(open_customers), -1)])
    order = np.lexsort((since, customer))
    cured_dates = pd.Series(_dates(cured[order])).where(cured[order] >= 0)
    return pd.DataFrame(
        {
            "customer_id": ids.customer.take(customer[order]),
            "missed_due_date": _dates(since[order]),
            "cured_date": cured_dates.to_numpy(),
        }
    )
