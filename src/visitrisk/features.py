"""Point-in-time customer features as of any date.

:func:`build_features` turns a :class:`~visitrisk.contract.Portfolio` into one row per
customer, indexed by ``customer_id``, computed only from what the bank knew at the end of
the as-of date:

- payments and visits dated after ``as_of`` are never read, and loans originated after
  ``as_of`` do not exist yet;
- the repayment schedule of a loan on book *is* known in advance, so future due dates of
  the schedule feed the schedule features (amount falling due in the next 30 days);
- an installment fully paid after ``as_of`` counts as "not yet paid" as of ``as_of``.

Every column is documented in :mod:`visitrisk.feature_catalog` (English and Chinese,
unit, meaning of a missing value). Missing values stay NaN: LightGBM handles them.
Categorical columns have a fixed category list, so training and scoring frames agree.

Design for scale: the functions work on whole customers (any subset of customers with all
their loans, installments, payments and visits gives the same rows for those customers;
``township_delinquency_rate`` also needs the whole township, so partition by township or
branch), so they can run per partition. Identifiers are hashed once per call, the ledger
runs once for all the dates a call needs, and everything after the population is chosen
reads only the population's rows.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass

import numpy as np
import pandas as pd

from visitrisk._book import (
    _Book,
    _day,
    _loan_states,
    _make_book,
    _refuse_reversals,
    _restrict,
    _settle,
    _snapshot_state,
    _take,
)
from visitrisk._feature_groups import _compute, _Frame, _township_counts
from visitrisk.contract import Portfolio
from visitrisk.feature_catalog import feature_registry

__all__ = ["POPULATIONS", "build_features", "feature_registry"]

#: Accepted values of the ``population`` parameter of :func:`build_features`.
POPULATIONS: tuple[str, ...] = ("delinquent", "all")


# --------------------------------------------------------------------------------------
# Parameters
# --------------------------------------------------------------------------------------
def _param_error(name: str, function: str, expected: str, got: object) -> ValueError:
    return ValueError(
        f"The {name!r} parameter of {function} must be {expected}. Got {got!r} instead."
    )


def _as_timestamp(value: object, name: str, function: str) -> pd.Timestamp:
    """Parse a date parameter; a time of day other than midnight is refused."""
    if isinstance(value, (str, _dt.date, np.datetime64, pd.Timestamp)):
        try:
            stamp = pd.Timestamp(value)
        except ValueError:
            stamp = None
        if stamp is not None and not pd.isna(stamp) and stamp == stamp.normalize():
            return stamp.tz_localize(None) if stamp.tzinfo is not None else stamp
    raise _param_error(name, function, "a date such as '2026-11-30'", value)


def _check_min_dpd(min_dpd: object, function: str) -> int:
    if isinstance(min_dpd, bool) or not isinstance(min_dpd, (int, np.integer)) or min_dpd < 1:
        raise _param_error("min_dpd", function, "a positive int (days)", min_dpd)
    return int(min_dpd)


# --------------------------------------------------------------------------------------
# Assembly
# --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Snapshot:
    """What one as-of date yields: features and the customer state behind them."""

    as_of: pd.Timestamp
    features: pd.DataFrame
    customer_state: pd.DataFrame  # customers with an open loan: customer, days_past_due, arrears


def _states_on_dates(
    book: _Book, stamps: list[pd.Timestamp], last_day: np.int64
) -> list[tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, np.ndarray]]:
    """Loan ledger rows, loan state, customer state and open loans on each date.

    One ledger call covers every date; loans originated after ``last_day`` and payments
    after it are never read.
    """
    loan_origination = book.loans["origination_day"].to_numpy()
    payments_known = book.payments["pay_day"].to_numpy() <= last_day
    on_book = loan_origination <= last_day
    raw_states, all_states = _loan_states(book, on_book, payments_known, stamps)
    raw_day = raw_states["day"].to_numpy()
    raw_origination = loan_origination[raw_states["loan"].to_numpy()]
    state_day = all_states["day"].to_numpy()
    state_origination = loan_origination[all_states["loan"].to_numpy()]
    states = []
    for day in (_day(stamp) for stamp in stamps):
        loan_state = _take(all_states, (state_day == day) & (state_origination <= day))
        raw_state = _take(raw_states, (raw_day == day) & (raw_origination <= day))
        customer_state, open_loan = _snapshot_state(book, raw_state, loan_state)
        states.append((raw_state, loan_state, customer_state, open_loan))
    return states


def _township_counts_on_dates(portfolio: Portfolio, stamps: list[pd.Timestamp]) -> pd.DataFrame:
    """Township counts behind ``township_delinquency_rate`` on each date, in one table.

    Columns ``day`` (day number), ``township``, ``size`` (customers with an open loan) and
    ``sum`` (those of them at 1+ days past due). Counts of disjoint sets of whole customers
    add up to the counts of their union.
    """
    book = _make_book(portfolio)
    days = [_day(stamp) for stamp in stamps]
    tables = [
        _township_counts(book, customer_state).reset_index().assign(day=day)
        for day, (_, _, customer_state, _) in zip(
            days, _states_on_dates(book, stamps, max(days)), strict=True
        )
    ]
    return pd.concat(tables, ignore_index=True)[["day", "township", "size", "sum"]]


def _features_on_dates(
    book: _Book,
    stamps: list[pd.Timestamp],
    select: object,
    payments_until: np.int64 | None = None,
    township_counts: pd.DataFrame | None = None,
    *,
    visits_before_day: bool = False,
) -> tuple[list[_Snapshot], pd.DataFrame]:
    """Features of the selected customers on each date, with each ledger computed once.

    ``select(customer_state, stamp)`` returns the customer codes of the population.
    Payments are read up to ``payments_until`` (default: the last date). Each date still
    sees only its own past: the ledger on day d counts payments up to d, an installment
    covered after d is unpaid on d, and payment and visit rows after d are dropped.
    Also returns the FIFO settlement of the population's loans (payments up to
    ``payments_until``), so that labels can reuse it. ``township_counts`` (columns
    ``day``, ``township``, ``size``, ``sum``, see :func:`_township_counts_on_dates`)
    replaces the book's own township counts when the book is one partition of a portfolio.
    With ``visits_before_day`` the visits of each date itself are left out too: the
    training set counts them as treatment, made after the day's state is known.
    """
    days = [_day(stamp) for stamp in stamps]
    last_day = max(days)
    if payments_until is not None:
        last_day = max(last_day, payments_until)
    loan_origination = book.loans["origination_day"].to_numpy()
    payments_known = book.payments["pay_day"].to_numpy() <= last_day
    on_book = loan_origination <= last_day

    populations, states = [], []
    for stamp, (_, loan_state, customer_state, open_loan) in zip(
        stamps, _states_on_dates(book, stamps, last_day), strict=True
    ):
        population = np.unique(np.asarray(select(customer_state, stamp), dtype=np.int64))
        populations.append(population)
        states.append((loan_state, customer_state, open_loan))

    # From here on only the population's loans, payments and visits are read.
    members = np.zeros(len(book.customers), dtype=bool)
    for population in populations:
        members[population] = True
    population_loans = members[book.loans["customer"].to_numpy()] & on_book
    population_payments = payments_known & population_loans[book.payments["loan"].to_numpy()]
    _refuse_reversals(book, population_payments)
    book = _restrict(book, population_loans, population_payments, members)
    settled = _settle(book)  # the restricted book holds exactly those loans and payments
    payments, visits = book.payments, book.visits

    snapshots = []
    for stamp, day, population, (loan_state, customer_state, open_loan) in zip(
        stamps, days, populations, states, strict=True
    ):
        position = np.full(len(book.customers), -1, dtype=np.int64)
        position[population] = np.arange(len(population))
        frame = _Frame(stamp, day, population, position)
        counts = None
        if township_counts is not None:
            counts = township_counts.loc[township_counts["day"].to_numpy() == day]
            counts = counts.set_index("township")[["size", "sum"]]
        features = _compute(
            frame,
            book,
            loan_state,
            customer_state,
            open_loan,
            settled,
            _take(payments, payments["pay_day"].to_numpy() <= day),
            _take(visits, visits["visit_day"].to_numpy() < day + (not visits_before_day)),
            counts,
        )
        snapshots.append(_Snapshot(stamp, features, customer_state))
    return snapshots, settled


def _make_selector(population: str, min_dpd: int) -> object:
    def select(customer_state: pd.DataFrame, stamp: pd.Timestamp) -> np.ndarray:
        if population == "all":
            return customer_state["customer"].to_numpy()
        delinquent = customer_state["days_past_due"].to_numpy() >= min_dpd
        return customer_state["customer"].to_numpy()[delinquent]

    return select


def build_features(
    portfolio: Portfolio,
    as_of: str | _dt.date | pd.Timestamp,
    population: str = "delinquent",
    min_dpd: int = 1,
) -> pd.DataFrame:
    """Compute customer features as of the end of a date, from data known on that date only.

    Parameters
    ----------
    portfolio : Portfolio
        A validated portfolio (:func:`visitrisk.load_portfolio`).
    as_of : str, date or Timestamp
        The as-of date (a day; no time of day). Payments and visits dated after it, and
        loans originated after it, are never read. The schedule of loans on book is known
        in advance and feeds the schedule features.
    population : {"delinquent", "all"}, default "delinquent"
        ``"delinquent"``: customers at ``min_dpd`` or more days past due on ``as_of``;
        ``"all"``: customers with at least one open loan (originated on or before
        ``as_of`` and not fully paid).
    min_dpd : int, default 1
        Days past due that make a customer delinquent (days).

    Returns
    -------
    pandas.DataFrame
        One row per customer of the population, indexed by ``customer_id`` (ascending),
        one column per feature of :func:`feature_registry`, in registry order.
        Categorical columns have the registry's fixed categories; missing values are NaN
        (see the registry's ``missing_en`` for what each means). Personal data columns
        (name, national_id, phone) are never used.

    Raises
    ------
    ValueError
        If a parameter is invalid.

    Examples
    --------
    >>> import visitrisk as vr
    >>> X = vr.build_features(portfolio, as_of="2026-11-30")  # doctest: +SKIP
    """
    stamp = _as_timestamp(as_of, "as_of", "build_features")
    if population not in POPULATIONS:
        raise _param_error("population", "build_features", "'delinquent' or 'all'", population)
    min_dpd = _check_min_dpd(min_dpd, "build_features")
    return _features_as_of(portfolio, stamp, population, min_dpd)


def _features_as_of(
    portfolio: Portfolio,
    stamp: pd.Timestamp,
    population: str,
    min_dpd: int,
    township_counts: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """:func:`build_features` after its checks, optionally with outside township counts."""
    book = _make_book(portfolio)
    (snapshot,), _ = _features_on_dates(
        book, [stamp], _make_selector(population, min_dpd), township_counts=township_counts
    )
    return snapshot.features
