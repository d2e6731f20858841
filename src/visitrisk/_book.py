"""The portfolio as integer-coded arrays, and every call into the ledger.

Private to :mod:`visitrisk.features` and :mod:`visitrisk.labels`. Identifiers are hashed
once per call; the ledger and the FIFO settlement run once for all the dates a call needs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from visitrisk._grouped import sort_order
from visitrisk._idcodes import encode_ids
from visitrisk.contract import Portfolio
from visitrisk.feature_catalog import VISIT_OUTCOMES
from visitrisk.ledger import (
    _NO_DAY,
    _days_of,
    _ledger_arrays,
    _raise_missing_dates,
    _settlement,
    _Table,
)

__all__: list[str] = []

#: A day number far beyond any real date: "not covered (yet)".
_NEVER = np.int64(2**40)
#: Rows per block where a pass over a whole table runs block by block.
_BLOCK = 1 << 20


def _day(stamp: pd.Timestamp) -> np.int64:
    return np.datetime64(stamp, "D").astype(np.int64)


def _days(values: pd.Series | pd.Index | np.ndarray) -> np.ndarray:
    """Day numbers (days since 1970-01-01) of a date column; NaT becomes ``_NEVER``.

    Days come as int32 when they fit (half the memory traffic of int64 over tens of
    millions of rows), else as int64, which also holds ``_NEVER`` for NaT.
    """
    array = np.asarray(values)
    if array.dtype.kind != "M":
        array = np.asarray(values, dtype="datetime64[us]")
    unit, _ = np.datetime_data(array.dtype)
    per_day = {"D": 1, "h": 24, "m": 1440, "s": 86_400, "ms": 86_400_000}.get(unit)
    per_day = per_day or {"us": 86_400_000_000, "ns": 86_400_000_000_000}[unit]
    ticks = array.view(np.int64)
    if len(ticks) == 0:
        return np.zeros(0, dtype=np.int32)
    low, high = int(ticks.min()), int(ticks.max())
    limit = np.iinfo(np.int32)
    if low != np.iinfo(np.int64).min and limit.min <= low // per_day <= high // per_day < limit.max:
        return _days_of(array)
    days = ticks // per_day if per_day > 1 else ticks.copy()  # floor: right before 1970 too
    not_a_time = ticks == np.iinfo(np.int64).min
    if not_a_time.any():
        days[not_a_time] = _NEVER
    return days


# --------------------------------------------------------------------------------------
# The portfolio as integer-coded arrays, computed once per call
# --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Book:
    """A portfolio with integer codes for customers and loans, hashed once per call.

    ``customers`` is sorted by ``customer_id`` and ``loans`` by ``loan_id``; a code is a
    position there. ``loans`` carries ``customer`` (code), ``origination_day`` and
    ``scheduled_cents`` (sum of its schedule); :func:`_restrict` adds
    ``regular_installment`` (median positive installment, CNY), ``last_due_day`` and
    ``large_threshold`` (CNY) for the loans it keeps. ``installments`` (``loan``,
    ``due_day``, ``cents``, ``amount_due``), ``payments`` (``loan``, ``pay_day``,
    ``cents``, ``amount``) and ``visits`` (``customer``, ``visit_day``, ``outcome``) hold
    codes, day numbers and values only: identifiers are never hashed again, and the ledger
    runs on these arrays directly. Schedule and payment codes and day numbers are int32
    when they fit (tens of millions of rows: half the memory traffic), ``cents`` are whole
    numbers in float64 as the ledger keeps them.
    """

    customers: pd.DataFrame
    loans: pd.DataFrame
    installments: pd.DataFrame
    payments: pd.DataFrame
    visits: pd.DataFrame
    branches: pd.DataFrame | None


def _column(frame: pd.DataFrame, name: str, dtype: str = "float64") -> pd.Series:
    """Return a column, or an all-missing one when the optional column is absent."""
    if name in frame.columns:
        return frame[name]
    return pd.Series(np.nan if dtype == "float64" else pd.NA, index=frame.index, dtype=dtype)


def _fixed_category(values: pd.Series, categories: tuple[str, ...]) -> pd.Categorical:
    """Map free text onto a fixed category list; unknown values become ``"other"``."""
    text = values.astype("str")
    known = text.where(text.isin(categories) | values.isna(), "other")
    return pd.Categorical(known.where(values.notna()), categories=list(categories))


def _rows_of(key: pd.Series, columns: dict[str, pd.Series]) -> dict[str, np.ndarray]:
    """Row of ``key`` holding each id of ``columns`` (-1 when absent), as int32.

    All the columns are encoded in one pass (:func:`visitrisk._idcodes.encode_ids`, which
    reads fixed-width ids as numbers without hashing), so no string is hashed twice. When
    an id repeats in ``key``, its first row wins.
    """
    vocabulary, codes = encode_ids({"\0key": key, **columns})
    key_codes = codes.pop("\0key")
    if len(vocabulary) == len(key) and (key_codes == np.arange(len(key))).all():
        return codes  # the key is sorted, unique and holds every id: codes are its rows
    row_of_code = np.full(len(vocabulary) + 1, -1, dtype=np.int32)
    # Reversed, so that the first row of a repeated id is written last; the extra last
    # slot answers the code -1 of a missing id.
    row_of_code[key_codes[::-1]] = np.arange(len(key) - 1, -1, -1, dtype=np.int32)
    row_of_code[-1] = -1
    return {name: row_of_code[table_codes] for name, table_codes in codes.items()}


def _frame(**columns: np.ndarray) -> pd.DataFrame:
    """Return a frame over the given arrays, without copying them."""
    return pd.DataFrame(columns, copy=False)


def _take(
    frame: pd.DataFrame, rows: np.ndarray | None, columns: tuple[str, ...] = ()
) -> pd.DataFrame:
    """Return some rows (and columns) of a frame of NumPy columns, faster than ``iloc``.

    ``rows`` is a boolean mask (cheaper than positions over tens of millions of rows),
    positions, or None for every row.
    """
    names = columns or tuple(frame.columns)
    if rows is None or (rows.all() if rows.dtype == bool else len(rows) == len(frame)):
        # every row, in order: no copy
        return _frame(**{name: frame[name].to_numpy() for name in names})
    return _frame(**{name: frame[name].to_numpy()[rows] for name in names})


def _sorted_by(table: pd.DataFrame, column: str) -> pd.DataFrame:
    if table[column].is_monotonic_increasing:
        return table.reset_index(drop=True)
    return table.sort_values(column, kind="stable", ignore_index=True)


def _category_codes(values: pd.Series, categories: tuple[str, ...]) -> np.ndarray:
    """Codes of ``pd.Categorical(values, categories)`` (-1: missing or unknown), in Arrow."""
    if not hasattr(values.array, "__arrow_array__"):
        return pd.Categorical(values, categories=list(categories)).codes
    found = pc.index_in(values.array.__arrow_array__(), value_set=pa.array(categories))
    return found.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int8)


def _make_book(portfolio: Portfolio) -> _Book:
    customers = portfolio.customers.sort_values("customer_id", kind="stable").reset_index(drop=True)
    loans = portfolio.loans.sort_values("loan_id", kind="stable").reset_index(drop=True)
    customer_rows = _rows_of(
        customers["customer_id"],
        {"loans": loans["customer_id"], "visits": portfolio.visits["customer_id"]},
    )
    loan_rows = _rows_of(
        loans["loan_id"],
        {
            "installments": portfolio.installments["loan_id"],
            "payments": portfolio.payments["loan_id"],
        },
    )
    loans["customer"] = customer_rows["loans"].astype(np.int64)
    loans["origination_day"] = _days(loans["origination_date"])

    source = portfolio.installments
    amount_due = source["amount_due"].to_numpy(dtype=np.float64)
    # Whole cents as float64 (exact below 2**53), as the ledger keeps them.
    cents = amount_due * 100
    installments = _frame(
        loan=loan_rows["installments"],
        due_day=_days(source["due_date"]),
        cents=np.rint(cents, out=cents),
        amount_due=amount_due,
    )
    source = portfolio.payments
    amount = source["amount"].to_numpy(dtype=np.float64)
    cents = amount * 100
    payments = _frame(
        loan=loan_rows["payments"],
        pay_day=_days(source["payment_date"]),
        cents=np.rint(cents, out=cents),
        amount=amount,
    )
    source = portfolio.visits
    visits = _frame(
        customer=customer_rows["visits"].astype(np.int64),
        visit_day=_days(source["visit_date"]),
        outcome=_category_codes(_column(source, "outcome", "str"), VISIT_OUTCOMES),
    )
    loans["scheduled_cents"] = _cents_per_loan(
        installments["loan"].to_numpy(), installments["cents"].to_numpy(), len(loans)
    )
    return _Book(customers, loans, installments, payments, visits, portfolio.branches)


def _cents_per_loan(loan: np.ndarray, cents: np.ndarray, n_loans: int) -> np.ndarray:
    """Sum whole cents (float64) per loan code, as int64.

    By blocks: ``bincount`` copies int32 codes to int64 first, and a full-length copy
    costs fresh memory pages. Sums of whole cents are exact in any order.
    """
    total = np.zeros(n_loans)
    for start in range(0, len(loan), _BLOCK):
        total += np.bincount(
            loan[start : start + _BLOCK], weights=cents[start : start + _BLOCK], minlength=n_loans
        )
    return np.round(total).astype(np.int64)


def _restrict(
    book: _Book, loan_rows: np.ndarray, payment_rows: np.ndarray, customer_rows: np.ndarray
) -> _Book:
    """Return the book limited to some loans' installments, payments and visits.

    Also computes the schedule statistics of the kept loans (the others get NaN).
    """
    installments = _take(book.installments, loan_rows[book.installments["loan"].to_numpy()])
    payments = _take(book.payments, payment_rows)
    visits = _take(book.visits, customer_rows[book.visits["customer"].to_numpy()])
    loans = book.loans.copy()
    loan = installments["loan"].to_numpy()
    positive = installments["cents"].to_numpy() > 0
    regular = (
        pd.Series(installments["amount_due"].to_numpy()[positive]).groupby(loan[positive]).median()
    )
    loans["regular_installment"] = regular.reindex(np.arange(len(loans))).to_numpy()
    last_due = np.full(len(loans), -_NEVER)
    np.maximum.at(last_due, loan, installments["due_day"].to_numpy().astype(np.int64))
    loans["last_due_day"] = last_due
    # A balloon: twice the loan's usual installment, or half its principal (a bullet loan).
    loans["large_threshold"] = np.fmin(
        2 * loans["regular_installment"].to_numpy(), 0.5 * loans["principal"].to_numpy()
    )
    return _Book(book.customers, loans, installments, payments, visits, book.branches)


# --------------------------------------------------------------------------------------
# Ledger pieces
# --------------------------------------------------------------------------------------
def _ledger_input(
    book: _Book, installment_rows: np.ndarray | None, payment_rows: np.ndarray | None
) -> tuple[_Table, _Table]:
    """Installments and payments of some rows (boolean masks; None: all) as ledger tables.

    The ledger's own checks on ids, dates and amounts (:mod:`visitrisk.ledger`) do not run
    here: codes come from the book, amounts were rounded to cents once, and a missing date
    (day ``_NEVER``) among the rows read is refused below.
    """
    inst = _take(book.installments, installment_rows, ("loan", "due_day", "cents"))
    pay = _take(book.payments, payment_rows, ("loan", "pay_day", "cents"))
    installments = _Table(*(inst[name].to_numpy() for name in inst.columns))
    payments = _Table(*(pay[name].to_numpy() for name in pay.columns))
    for table, column, rows in (
        ("installments", "due_date", installments),
        ("payments", "payment_date", payments),
    ):
        if len(rows.day) and rows.day.max() == _NEVER:
            missing = rows.day == _NEVER
            loans = book.loans["loan_id"].to_numpy()[np.unique(rows.loan[missing])]
            _raise_missing_dates(table, column, missing, loans)
    return installments, payments


_STATE_COLUMNS = ("due_to_date", "paid_to_date", "arrears", "days_past_due")


def _loan_states(
    book: _Book, loan_rows: np.ndarray, payment_rows: np.ndarray, dates: list[pd.Timestamp]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Loan ledger of the selected loans on every date: one ledger call for all dates.

    Returns the ledger's rows (``loan``, ``day`` and the state columns, one row per date
    for every loan with a schedule or payment row, by loan then day) and a complete table
    with the same columns for every selected loan on every date (zeros for a loan with
    nothing due or paid yet). Installments due after the last date are read as they are
    (the ledger puts them past every date and never looks at them again): filtering them
    out would cost a copy of most of the schedule.
    """
    days = np.unique([_day(stamp) for stamp in dates])
    installment_rows = None
    if not loan_rows.all():
        installment_rows = loan_rows[book.installments["loan"].to_numpy()]
    installments, payments = _ledger_input(book, installment_rows, payment_rows)
    # The ledger numbers the loans present 0, 1, ... in the book's (loan_id) order.
    present = np.zeros(len(book.loans), dtype=bool)
    present[installments.loan] = True
    present[payments.loan] = True
    used = np.flatnonzero(present)
    if len(used) < len(present):
        renumber = (np.cumsum(present, dtype=np.int32) - 1).astype(np.int32)
        installments.loan = renumber[installments.loan]
        payments.loan = renumber[payments.loan]
    due, paid, arrears, days_past_due, _ = _ledger_arrays(
        installments, payments, len(used), days.astype(np.int64)
    )
    del installments, payments
    raw = _frame(
        loan=np.repeat(used, len(days)),
        day=np.tile(days, len(used)),
        due_to_date=due.ravel(),
        paid_to_date=paid.ravel(),
        arrears=arrears.ravel(),
        days_past_due=days_past_due.ravel(),
    )

    selected = np.flatnonzero(loan_rows)
    where = np.searchsorted(selected, raw["loan"].to_numpy()) * len(days) + np.searchsorted(
        days, raw["day"].to_numpy()
    )
    columns = {}
    for name in _STATE_COLUMNS:
        values = np.zeros(len(selected) * len(days), dtype=raw[name].to_numpy().dtype)
        values[where] = raw[name].to_numpy()
        columns[name] = values
    complete = _frame(
        loan=np.repeat(selected, len(days)), day=np.tile(days, len(selected)), **columns
    )
    return raw, complete


def _known_cover_day(covered_day: np.ndarray, as_of_day: np.int64) -> np.ndarray:
    """Day an installment was fully paid, as known at the end of ``as_of_day``."""
    return np.where(covered_day <= as_of_day, covered_day, _NEVER)


def _settle(
    book: _Book, loan_rows: np.ndarray | None = None, payment_rows: np.ndarray | None = None
) -> pd.DataFrame:
    """FIFO settlement of the positive installments of the selected loans (None: all).

    Zero-amount installments are left out: FIFO covers them together with the last
    positive installment before them, so they never change days past due or lateness.
    Rows come sorted by loan, due day, then schedule row.
    """
    installment_rows = None
    if loan_rows is not None:
        installment_rows = loan_rows[book.installments["loan"].to_numpy()]
    installments, payments = _ledger_input(book, installment_rows, payment_rows)
    order, cumulative, covered = _settlement(installments, payments)
    positive = installments.cents[order] > 0
    order, cumulative, covered = order[positive], cumulative[positive], covered[positive]
    loan = installments.loan[order].astype(np.int64)
    return _frame(
        loan=loan,
        customer=book.loans["customer"].to_numpy()[loan],
        due_day=installments.day[order].astype(np.int64),
        cents=installments.cents[order].astype(np.int64),
        cumulative_cents=cumulative,
        covered_day=np.where(covered == _NO_DAY, _NEVER, covered),
    )


def _delinquency_spells(
    customer: np.ndarray, due_day: np.ndarray, cover_day: np.ndarray, end_day: np.int64
) -> pd.DataFrame:
    """Maximal runs of consecutive days at 1+ days past due, per customer, up to ``end_day``.

    Why this is exact: under FIFO with non-negative payments, installments of a loan are
    covered in due-date order and stay covered, so the unpaid installments on day t are a
    suffix of the schedule and the loan's DPD on t is ``t - due`` of the oldest of them,
    i.e. ``max(t - due_i)`` over installments i with ``due_i <= t < cover_i``. Hence the
    loan (and the customer, a maximum over loans) is at 1+ DPD on day t exactly when some
    installment has ``due_i + 1 <= t <= cover_i - 1``. An installment falling due on t adds
    ``t - t = 0`` that day, so it can start a run only the next day and can never end one;
    a run ends only on a cover day, i.e. a payment day. The customer's runs are therefore
    the union of the intervals ``[due_i + 1, cover_i - 1]`` (clipped at ``end_day``), and
    the customer cures on the day after a run ends.

    Returns
    -------
    pandas.DataFrame
        Columns ``customer``, ``start_day`` and ``end_day`` (inclusive), sorted.
        A run with ``end_day == end_day`` argument is still open on that day.
    """
    start = np.asarray(due_day, dtype=np.int64) + 1
    end = np.minimum(np.asarray(cover_day, dtype=np.int64) - 1, end_day)
    keep = start <= end
    owner, start, end = np.asarray(customer, dtype=np.int64)[keep], start[keep], end[keep]
    if len(owner) == 0:
        return pd.DataFrame(
            {name: np.array([], dtype=np.int64) for name in ("customer", "start_day", "end_day")}
        )
    order = sort_order(owner, start - start.min())
    owner, start, end = owner[order], start[order], end[order]
    reach = _cummax_within(owner, end)
    begins = np.ones(len(owner), dtype=bool)
    # A run goes on while the next interval starts no later than the day after the reach.
    begins[1:] = (owner[1:] != owner[:-1]) | (start[1:] > reach[:-1] + 1)
    first = np.flatnonzero(begins)
    last = np.append(first[1:], len(owner)) - 1
    return _frame(customer=owner[first], start_day=start[first], end_day=reach[last])


def _cummax_within(group: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Return the running maximum of ``values`` restarting at each (sorted) ``group``.

    Lifting each group above the one before it makes one running maximum over all rows
    restart per group; falls back to pandas when the lifted values could overflow.
    """
    low = int(values.min())
    span = int(values.max()) - low + 1
    if int(group.max()) * span >= 2**62:
        return pd.Series(values).groupby(group, sort=False).cummax().to_numpy()
    lift = group * span - low
    return np.maximum.accumulate(values + lift) - lift


def _snapshot_state(
    book: _Book, raw_state: pd.DataFrame, loan_state: pd.DataFrame
) -> tuple[pd.DataFrame, np.ndarray]:
    """Return the state of customers with an open loan, and which loans are open.

    The customer's state sums the ledger rows of its loans as
    :func:`visitrisk.ledger.customer_ledger` does (days past due: the maximum; arrears: a
    sum of whole cents; loans past due: a count), on codes instead of ids.
    """
    loan = loan_state["loan"].to_numpy()
    paid_cents = np.round(loan_state["paid_to_date"].to_numpy() * 100).astype(np.int64)
    open_loan = np.zeros(len(book.loans), dtype=bool)
    open_loan[loan] = book.loans["scheduled_cents"].to_numpy()[loan] > paid_cents
    has_open = np.zeros(len(book.customers), dtype=bool)
    has_open[book.loans["customer"].to_numpy()[open_loan]] = True

    owner = book.loans["customer"].to_numpy()[raw_state["loan"].to_numpy()]
    known = owner >= 0
    owner = owner[known]
    # Customers whose open loans have nothing due or paid yet are current, with no arrears.
    row_dpd = raw_state["days_past_due"].to_numpy()[known]
    late = row_dpd > 0
    days_past_due = np.zeros(len(book.customers), dtype=np.int64)
    np.maximum.at(days_past_due, owner[late], row_dpd[late])
    loans_past_due = np.bincount(owner[late], minlength=len(book.customers)).astype(np.int64)
    arrears_cents = raw_state["arrears"].to_numpy()[known] * 100.0
    arrears = np.bincount(
        owner, weights=np.rint(arrears_cents, out=arrears_cents), minlength=len(book.customers)
    ).astype(np.float64)
    arrears /= 100.0
    customer = np.flatnonzero(has_open)
    state = _frame(
        customer=customer,
        days_past_due=days_past_due[customer],
        arrears=arrears[customer],
        loans_past_due=loans_past_due[customer],
    )
    return state, open_loan


def _refuse_reversals(book: _Book, rows: np.ndarray) -> None:
    """Stop on reversals: delinquency runs assume a covered installment stays covered."""
    reversal = rows & (book.payments["amount"].to_numpy() < 0)
    if reversal.any():
        codes = np.unique(book.payments["loan"].to_numpy()[reversal])
        loans = book.loans["loan_id"].to_numpy()[codes]
        raise ValueError(
            "Table 'payments', column 'amount': delinquency history and cure labels do not "
            f"support reversals (negative payments) yet; {len(loans)} loan(s) have them, e.g. "
            f"{', '.join(map(str, loans[:5]))}. Net each reversal against the payment it "
            "cancels before building features."
        )
