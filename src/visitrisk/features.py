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
their loans, installments, payments and visits gives the same rows for those customers), so
they can run per partition. The ledger is computed once for all the dates a call needs.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from visitrisk.contract import Portfolio
from visitrisk.feature_catalog import (
    DPD_BUCKETS,
    FEATURES,
    PRODUCTS,
    ROLL_DIRECTIONS,
    SEGMENTS,
    VISIT_OUTCOMES,
    feature_registry,
)
from visitrisk.ledger import customer_ledger, loan_ledger, settle_installments

__all__ = ["POPULATIONS", "build_features", "feature_registry"]

#: Accepted values of the ``population`` parameter of :func:`build_features`.
POPULATIONS: tuple[str, ...] = ("delinquent", "all")

#: A day number far beyond any real date: "not covered (yet)".
_NEVER = np.int64(2**40)
_DAYS_PER_MONTH = 365.25 / 12
#: Window of a promise to pay: a payment within this many days keeps it (days).
_PROMISE_DAYS = 14
#: A cure this many days after a visit counts as a cure after a visit (days).
_CURE_AFTER_VISIT_DAYS = 30
_EARTH_RADIUS_KM = 6371.0088


# --------------------------------------------------------------------------------------
# Parameters and day numbers
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


def _day(stamp: pd.Timestamp) -> np.int64:
    return np.datetime64(stamp, "D").astype(np.int64)


def _days(values: pd.Series | pd.Index | np.ndarray) -> np.ndarray:
    """Day numbers (days since 1970-01-01) of a date column; NaT becomes ``_NEVER``."""
    array = np.asarray(values)
    if array.dtype.kind != "M":
        array = np.asarray(values, dtype="datetime64[us]")
    unit, _ = np.datetime_data(array.dtype)
    per_day = {"D": 1, "h": 24, "m": 1440, "s": 86_400, "ms": 86_400_000}.get(unit)
    per_day = per_day or {"us": 86_400_000_000, "ns": 86_400_000_000_000}[unit]
    ticks = array.view(np.int64)
    days = ticks // per_day if per_day > 1 else ticks.copy()  # floor: right before 1970 too
    not_a_time = ticks == np.iinfo(np.int64).min
    if not_a_time.any():
        days[not_a_time] = _NEVER
    return days


def _months_before(stamp: pd.Timestamp, months: int) -> np.int64:
    return _day(stamp - pd.DateOffset(months=months))


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
    ``amount``) and ``visits`` (``customer``, ``visit_day``, ``outcome``) hold codes, day
    numbers and values only: identifiers are never hashed again.
    """

    customers: pd.DataFrame
    loans: pd.DataFrame
    installments: pd.DataFrame
    payments: pd.DataFrame
    visits: pd.DataFrame
    branches: pd.DataFrame | None

    @property
    def loan_ids(self) -> pd.Index:
        return pd.Index(self.loans["loan_id"])


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


def _arrow_strings(values: pd.Series | pd.Index) -> pa.Array:
    array = values.array
    array = pa.array(array) if hasattr(array, "__arrow_array__") else pa.array(np.asarray(array))
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    return (
        array
        if pa.types.is_string(array.type) or pa.types.is_large_string(array.type)
        else (pc.cast(array, pa.large_string()))
    )


def _codes(ids: pd.Series, vocabulary: pd.Index) -> np.ndarray:
    """Position of every id in ``vocabulary`` (-1 when absent), hashed in Arrow."""
    if isinstance(ids.dtype, pd.CategoricalDtype):
        # Parquet dictionary columns arrive as categoricals: hash the categories only.
        lookup = _codes(pd.Series(ids.cat.categories), vocabulary)
        codes = ids.cat.codes.to_numpy().astype(np.int64)
        return np.where(codes >= 0, lookup[np.maximum(codes, 0)], -1)
    values = _arrow_strings(ids)
    # Cast the (small) vocabulary to the ids' string type, never the (large) ids.
    value_set = pc.cast(_arrow_strings(vocabulary), values.type)
    if len(values) > 2 * len(value_set) > 0:
        # Schedules and payment logs come grouped by loan: hash one id per run only.
        changes = pc.not_equal(values.slice(1), values.slice(0, len(values) - 1))
        starts = np.flatnonzero(
            np.concatenate([[True], changes.fill_null(True).to_numpy(zero_copy_only=False)])
        )
        if len(starts) * 4 < len(values):
            heads = pc.index_in(values.take(pa.array(starts)), value_set=value_set)
            heads = heads.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64)
            return np.repeat(heads, np.diff(np.append(starts, len(values))))
    found = pc.index_in(values, value_set=value_set)
    return found.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64)


def _frame(**columns: np.ndarray) -> pd.DataFrame:
    """Return a frame over the given arrays, without copying them."""
    return pd.DataFrame(columns, copy=False)


def _sorted_by(table: pd.DataFrame, column: str) -> pd.DataFrame:
    if table[column].is_monotonic_increasing:
        return table.reset_index(drop=True)
    return table.sort_values(column, kind="stable", ignore_index=True)


def _make_book(portfolio: Portfolio) -> _Book:
    customers = portfolio.customers.sort_values("customer_id", kind="stable").reset_index(drop=True)
    customer_ids = pd.Index(customers["customer_id"])
    loans = portfolio.loans.sort_values("loan_id", kind="stable").reset_index(drop=True)
    loan_ids = pd.Index(loans["loan_id"])
    loans["customer"] = _codes(loans["customer_id"], customer_ids)
    loans["origination_day"] = _days(loans["origination_date"])

    source = portfolio.installments
    amount_due = source["amount_due"].to_numpy(dtype=np.float64)
    installments = _frame(
        loan=_codes(source["loan_id"], loan_ids),
        due_date=source["due_date"].to_numpy(),
        due_day=_days(source["due_date"]),
        cents=np.round(amount_due * 100).astype(np.int64),
        amount_due=amount_due,
    )
    source = portfolio.payments
    payments = _frame(
        loan=_codes(source["loan_id"], loan_ids),
        payment_date=source["payment_date"].to_numpy(),
        pay_day=_days(source["payment_date"]),
        amount=source["amount"].to_numpy(dtype=np.float64),
    )
    source = portfolio.visits
    visits = _frame(
        customer=_codes(source["customer_id"], customer_ids),
        visit_day=_days(source["visit_date"]),
        outcome=pd.Categorical(_column(source, "outcome", "str"), categories=VISIT_OUTCOMES).codes,
    )
    scheduled = np.bincount(
        installments["loan"].to_numpy(), weights=installments["cents"], minlength=len(loans)
    )
    loans["scheduled_cents"] = np.round(scheduled).astype(np.int64)
    return _Book(customers, loans, installments, payments, visits, portfolio.branches)


def _restrict(
    book: _Book, loan_rows: np.ndarray, payment_rows: np.ndarray, customer_rows: np.ndarray
) -> _Book:
    """Return the book limited to some loans' installments, payments and visits.

    Also computes the schedule statistics of the kept loans (the others get NaN).
    """
    installments = book.installments.iloc[
        np.flatnonzero(loan_rows[book.installments["loan"].to_numpy()])
    ]
    payments = book.payments.iloc[np.flatnonzero(payment_rows)]
    visits = book.visits.iloc[np.flatnonzero(customer_rows[book.visits["customer"].to_numpy()])]
    loans = book.loans.copy()
    loan = installments["loan"].to_numpy()
    positive = installments["cents"].to_numpy() > 0
    regular = (
        pd.Series(installments["amount_due"].to_numpy()[positive]).groupby(loan[positive]).median()
    )
    loans["regular_installment"] = regular.reindex(np.arange(len(loans))).to_numpy()
    last_due = np.full(len(loans), -_NEVER)
    np.maximum.at(last_due, loan, installments["due_day"].to_numpy())
    loans["last_due_day"] = last_due
    # A balloon: twice the loan's usual installment, or half its principal (a bullet loan).
    loans["large_threshold"] = np.fmin(
        2 * loans["regular_installment"].to_numpy(), 0.5 * loans["principal"].to_numpy()
    )
    return _Book(book.customers, loans, installments, payments, visits, book.branches)


# --------------------------------------------------------------------------------------
# Grouped reductions over integer positions
# --------------------------------------------------------------------------------------
def _sum_by(position: np.ndarray, values: np.ndarray, size: int) -> np.ndarray:
    return np.bincount(position, weights=values, minlength=size).astype(np.float64)


def _count_by(position: np.ndarray, size: int) -> np.ndarray:
    return np.bincount(position, minlength=size).astype(np.int64)


def _max_by(position: np.ndarray, values: np.ndarray, size: int, fill: float) -> np.ndarray:
    result = np.full(size, fill, dtype=np.result_type(values, type(fill)))
    np.maximum.at(result, position, values)
    return result


def _min_by(position: np.ndarray, values: np.ndarray, size: int, fill: float) -> np.ndarray:
    result = np.full(size, fill, dtype=np.result_type(values, type(fill)))
    np.minimum.at(result, position, values)
    return result


def _ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(
            denominator > 0, numerator / np.where(denominator > 0, denominator, 1), np.nan
        )


def _bucket(days_past_due: np.ndarray) -> np.ndarray:
    """Bucket codes 0..4 of DPD: 0, 1-29, 30-59, 60-89, 90+."""
    return np.searchsorted(np.array([1, 30, 60, 90]), days_past_due, side="right")


# --------------------------------------------------------------------------------------
# Ledger pieces
# --------------------------------------------------------------------------------------
def _ledger_tables(
    book: _Book, installment_rows: np.ndarray, payment_rows: np.ndarray
) -> tuple[pd.DataFrame, pd.DataFrame, np.ndarray]:
    """Return installments and payments in the ledger's input format, and the loans present.

    Identifiers are categoricals over the sorted ids of the loans present, so the ledger
    reuses the codes instead of hashing millions of strings again. The frames keep a
    ``RangeIndex`` over ``installment_rows`` and ``payment_rows``.
    """
    installments = book.installments.iloc[installment_rows]
    payments = book.payments.iloc[payment_rows]
    used = np.unique(np.concatenate([installments["loan"].to_numpy(), payments["loan"].to_numpy()]))
    dtype = pd.CategoricalDtype(book.loan_ids[used], ordered=False)

    def ids(codes: pd.Series) -> pd.Categorical:
        return pd.Categorical.from_codes(np.searchsorted(used, codes.to_numpy()), dtype=dtype)

    return (
        _frame(
            loan_id=ids(installments["loan"]),
            due_date=installments["due_date"].to_numpy(),
            amount_due=installments["amount_due"].to_numpy(),
        ),
        _frame(
            loan_id=ids(payments["loan"]),
            payment_date=payments["payment_date"].to_numpy(),
            amount=payments["amount"].to_numpy(),
        ),
        used,
    )


_STATE_COLUMNS = ("due_to_date", "paid_to_date", "arrears", "days_past_due")


def _loan_states(
    book: _Book, loan_rows: np.ndarray, payment_rows: np.ndarray, dates: list[pd.Timestamp]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Loan ledger of the selected loans on every date: one ledger call for all dates.

    Installments due after the last date cannot change arrears or days past due on any of
    the dates (FIFO covers older installments first), so the ledger only reads those due
    by then. Returns the ledger's own rows (for :func:`customer_ledger`) and a complete
    numeric table with ``loan``, ``day`` and the state columns for every selected loan on
    every date (zeros for a loan with nothing due or paid yet).
    """
    days = np.unique([_day(stamp) for stamp in dates])
    inst_loan = book.installments["loan"].to_numpy()
    due_by_then = loan_rows[inst_loan] & (book.installments["due_day"].to_numpy() <= days[-1])
    installments, payments, used = _ledger_tables(
        book, np.flatnonzero(due_by_then), np.flatnonzero(payment_rows)
    )
    raw = loan_ledger(installments, payments, dates)
    # The ledger returns one row per loan present and date, sorted by loan_id then date;
    # check that cheaply rather than hashing every id again.
    expected = np.repeat(used, len(days))
    same = len(raw) == len(expected) and pc.all(
        pc.equal(
            _arrow_strings(raw["loan_id"]),
            pc.cast(_arrow_strings(book.loan_ids), _arrow_strings(raw["loan_id"][:0]).type).take(
                pa.array(expected)
            ),
        )
    ).as_py() in (True, None)
    raw["loan"] = expected if same else _codes(raw["loan_id"], book.loan_ids)
    raw["day"] = _days(raw["as_of"])

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


def _settle(book: _Book, loan_rows: np.ndarray, payment_rows: np.ndarray) -> pd.DataFrame:
    """FIFO settlement of the positive installments of the selected loans.

    Zero-amount installments are left out: FIFO covers them together with the last
    positive installment before them, so they never change days past due or lateness.
    """
    installment_rows = np.flatnonzero(loan_rows[book.installments["loan"].to_numpy()])
    installments, payments, _ = _ledger_tables(book, installment_rows, np.flatnonzero(payment_rows))
    settled = settle_installments(installments, payments)
    # The settlement's index holds our input row labels: back to codes without hashing.
    source = book.installments.iloc[installment_rows[settled.index.to_numpy()]]
    cents = source["cents"].to_numpy()
    positive = cents > 0
    loan = source["loan"].to_numpy()[positive]
    return pd.DataFrame(
        {
            "loan": loan,
            "customer": book.loans["customer"].to_numpy()[loan],
            "due_day": source["due_day"].to_numpy()[positive],
            "cents": cents[positive],
            "cumulative_cents": np.round(
                settled["cumulative_due"].to_numpy()[positive] * 100
            ).astype(np.int64),
            "covered_day": _days(settled["covered_date"].to_numpy()[positive]),
        }
    ).sort_values(["loan", "due_day"], kind="stable", ignore_index=True)


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
    start = due_day + 1
    end = np.minimum(cover_day - 1, end_day)
    keep = start <= end
    intervals = pd.DataFrame({"customer": customer[keep], "start": start[keep], "end": end[keep]})
    intervals = intervals.sort_values(["customer", "start"], kind="stable", ignore_index=True)
    if intervals.empty:
        return pd.DataFrame(
            {name: np.array([], dtype=np.int64) for name in ("customer", "start_day", "end_day")}
        )
    reach = intervals.groupby("customer", sort=False)["end"].cummax().to_numpy()
    owner = intervals["customer"].to_numpy()
    begins = np.ones(len(intervals), dtype=bool)
    # A run goes on while the next interval starts no later than the day after the reach.
    begins[1:] = (owner[1:] != owner[:-1]) | (intervals["start"].to_numpy()[1:] > reach[:-1] + 1)
    first = np.flatnonzero(begins)
    last = np.append(first[1:], len(intervals)) - 1
    return pd.DataFrame(
        {
            "customer": owner[first],
            "start_day": intervals["start"].to_numpy()[first],
            "end_day": reach[last],
        }
    )


# --------------------------------------------------------------------------------------
# Feature groups: each returns columns aligned to the population positions
# --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Frame:
    """The population of one as-of date and the lookups shared by feature groups."""

    as_of: pd.Timestamp
    day: np.int64
    customers: np.ndarray  # customer codes, ascending
    position: np.ndarray  # customer code -> row in the feature frame, -1 outside

    @property
    def size(self) -> int:
        return len(self.customers)


def _state_features(
    frame: _Frame, book: _Book, loan_state: pd.DataFrame, customer_state: pd.DataFrame
) -> dict[str, object]:
    """State on the as-of date (loan state restricted to loans on book)."""
    loans = book.loans
    state = loan_state.loc[frame.position[loans["customer"].to_numpy()[loan_state["loan"]]] >= 0]
    loan = state["loan"].to_numpy()
    row = frame.position[loans["customer"].to_numpy()[loan]]
    paid_cents = np.round(state["paid_to_date"].to_numpy() * 100).astype(np.int64)
    outstanding_cents = np.maximum(loans["scheduled_cents"].to_numpy()[loan] - paid_cents, 0)
    is_open = outstanding_cents > 0
    principal = loans["principal"].to_numpy()[loan]
    scheduled = loans["scheduled_cents"].to_numpy()[loan]
    arrears = state["arrears"].to_numpy()
    dpd = state["days_past_due"].to_numpy()
    regular = loans["regular_installment"].to_numpy()[loan]

    open_principal = _sum_by(row[is_open], principal[is_open], frame.size)
    share_unpaid = _ratio(outstanding_cents.astype(np.float64), scheduled.astype(np.float64))
    outstanding_principal = _sum_by(
        row[is_open], (principal * np.nan_to_num(share_unpaid))[is_open], frame.size
    )
    behind = _ratio(arrears, np.nan_to_num(regular))
    has_regular = np.isfinite(behind)
    installments_behind = _max_by(row[has_regular], behind[has_regular], frame.size, -np.inf)
    installments_behind[np.isinf(installments_behind)] = np.nan

    products = pd.DataFrame(
        {"row": row[is_open], "product": loans["product"].to_numpy()[loan][is_open]}
    )
    n_products = _count_by(products.drop_duplicates()["row"].to_numpy(), frame.size)
    # Most overdue open loan: highest DPD, then arrears, then outstanding, then loan_id.
    ranked = pd.DataFrame(
        {
            "row": row,
            "dpd": dpd,
            "arrears": arrears,
            "outstanding": outstanding_cents,
            "loan": loan,
        }
    ).loc[is_open]
    ranked = ranked.sort_values(
        ["row", "dpd", "arrears", "outstanding", "loan"],
        ascending=[True, False, False, False, True],
        kind="stable",
    ).drop_duplicates("row")
    main_product = pd.Series(pd.NA, index=np.arange(frame.size), dtype="str")
    main_product.iloc[ranked["row"].to_numpy()] = loans["product"].to_numpy()[ranked["loan"]]

    customer_rows = frame.position[customer_state["customer"].to_numpy()]
    inside = customer_rows >= 0
    days_past_due = np.zeros(frame.size, dtype=np.int64)
    days_past_due[customer_rows[inside]] = customer_state["days_past_due"].to_numpy()[inside]
    total_arrears = np.zeros(frame.size)
    total_arrears[customer_rows[inside]] = customer_state["arrears"].to_numpy()[inside]
    loans_past_due = np.zeros(frame.size, dtype=np.int64)
    loans_past_due[customer_rows[inside]] = customer_state["loans_past_due"].to_numpy()[inside]

    return {
        "days_past_due": days_past_due,
        "dpd_bucket": pd.Categorical.from_codes(_bucket(days_past_due), categories=DPD_BUCKETS),
        "arrears": total_arrears,
        "arrears_to_principal": _ratio(total_arrears, open_principal),
        "installments_behind": installments_behind,
        "outstanding_principal": outstanding_principal,
        "total_exposure": _sum_by(row, outstanding_cents / 100, frame.size),
        "n_loans": _count_by(row[is_open], frame.size),
        "n_products": n_products,
        "loans_past_due": loans_past_due,
        "main_product": _fixed_category(main_product, PRODUCTS),
    }


def _history_grid(as_of: pd.Timestamp) -> tuple[list[pd.Timestamp], pd.Timestamp, pd.Timestamp]:
    """Return the 12 month-ends in ``(as_of - 12 months, as_of]``, a month and a year ago."""
    month_ends = pd.date_range(as_of - pd.DateOffset(months=12), as_of, freq="ME")
    month_ends = [stamp for stamp in month_ends if stamp > as_of - pd.DateOffset(months=12)]
    return month_ends, as_of - pd.DateOffset(months=1), as_of - pd.DateOffset(months=12)


def _history_features(
    frame: _Frame,
    book: _Book,
    settled: pd.DataFrame,
    days_past_due: np.ndarray,
) -> tuple[dict[str, object], pd.DataFrame]:
    """Delinquency history; also returns the customer's delinquency runs (spells).

    Days past due on past dates come from the FIFO settlement known on the as-of date
    (see :func:`_delinquency_spells` for the identity used): on day t an installment i
    adds ``t - due_i`` while ``due_i < t < cover_i``, and the customer's DPD is the largest
    such term, exactly what the ledger reports on day t.
    """
    month_ends, month_ago, year_ago = _history_grid(frame.as_of)
    customer_of_loan = book.loans["customer"].to_numpy()
    settled_row = frame.position[settled["customer"].to_numpy()]
    due = settled["due_day"].to_numpy()
    cover = _known_cover_day(settled["covered_day"].to_numpy(), frame.day)
    late = cover - due >= 2  # the others never reach 1 day past due
    late_row, late_due, late_cover = settled_row[late], due[late], cover[late]

    def dpd_on(stamp: pd.Timestamp) -> np.ndarray:
        day = _day(stamp)
        open_on_day = (late_due < day) & (late_cover > day)
        return _max_by(late_row[open_on_day], day - late_due[open_on_day], frame.size, 0)

    columns: dict[str, object] = {}
    # DPD on day t from installment i is t - due_i while due_i < t < cover_i: its maximum
    # over a window ending on the as-of date is reached on its last delinquent day there.
    last_late_day = np.minimum(cover - 1, frame.day)
    for months in (3, 6, 12):
        window_start = _months_before(frame.as_of, months)
        in_window = (last_late_day > window_start) & (last_late_day > due)
        columns[f"max_dpd_{months}m"] = _max_by(
            settled_row[in_window], (last_late_day - due)[in_window], frame.size, 0
        )
    month_end_dpd = np.stack([dpd_on(stamp) for stamp in month_ends])
    for threshold in (30, 60, 90):
        columns[f"months_{threshold}plus_12m"] = (month_end_dpd >= threshold).sum(axis=0)

    spells = _delinquency_spells(settled_row, due, cover, frame.day)
    cure_day = spells["end_day"].to_numpy() + 1
    cured = cure_day <= frame.day
    recent = cured & (cure_day > _months_before(frame.as_of, 12))
    columns["past_cures_12m"] = _count_by(spells["customer"].to_numpy()[recent], frame.size)

    move = np.sign(_bucket(days_past_due) - _bucket(dpd_on(month_ago))) + 1
    columns["roll_direction"] = pd.Categorical.from_codes(move, categories=ROLL_DIRECTIONS)

    on_book_year_ago = book.loans["origination_day"].to_numpy() <= _day(year_ago)
    had_loan = np.zeros(frame.size, dtype=bool)
    loan_rows = frame.position[customer_of_loan]
    had_loan[loan_rows[(loan_rows >= 0) & on_book_year_ago]] = True
    columns["dpd_1y_ago"] = np.where(had_loan, dpd_on(year_ago), np.nan)

    open_spell = ~cured
    since_current = np.zeros(frame.size)
    since_current[spells["customer"].to_numpy()[open_spell]] = (
        frame.day - spells["start_day"].to_numpy()[open_spell] + 1
    )
    columns["days_since_current"] = since_current
    spells = spells.assign(cure_day=np.where(cured, cure_day, _NEVER))
    return columns, spells


def _payment_features(
    frame: _Frame, book: _Book, settled: pd.DataFrame, payments: pd.DataFrame, regular: np.ndarray
) -> dict[str, object]:
    """Payment behaviour from the settlement known at the as-of date."""
    columns: dict[str, object] = {}
    customer_of_loan = book.loans["customer"].to_numpy()
    pay_row = frame.position[customer_of_loan[payments["loan"].to_numpy()]]
    pay_day = payments["pay_day"].to_numpy()
    amount = payments["amount"].to_numpy()

    inst = book.installments
    inst_row = frame.position[customer_of_loan[inst["loan"].to_numpy()]]
    inst_keep = inst_row >= 0
    inst_row = inst_row[inst_keep]
    inst_due = inst["due_day"].to_numpy()[inst_keep]
    inst_amount = inst["amount_due"].to_numpy()[inst_keep]
    for months in (1, 3, 6):
        start = _months_before(frame.as_of, months)
        paid = _sum_by(pay_row[pay_day > start], amount[pay_day > start], frame.size)
        window = (inst_due > start) & (inst_due <= frame.day)
        due = _sum_by(inst_row[window], inst_amount[window], frame.size)
        columns[f"paid_to_due_{months}m"] = _ratio(paid, np.where(due >= 0.005, due, 0))

    due_day = settled["due_day"].to_numpy()
    cover = _known_cover_day(settled["covered_day"].to_numpy(), frame.day)
    settled_row = frame.position[settled["customer"].to_numpy()]
    start_12m = _months_before(frame.as_of, 12)
    window = (due_day > start_12m) & (due_day < frame.day)
    late = cover > due_day
    paid_by_due = _paid_cents_by(payments, settled["loan"].to_numpy(), due_day)
    cumulative = settled["cumulative_cents"].to_numpy()
    partial = (paid_by_due > cumulative - settled["cents"].to_numpy()) & (paid_by_due < cumulative)
    n_window = _count_by(settled_row[window], frame.size)
    columns["share_late_12m"] = _ratio(
        _count_by(settled_row[window & late], frame.size).astype(float), n_window
    )
    columns["share_partial_12m"] = _ratio(
        _count_by(settled_row[window & partial], frame.size).astype(float), n_window
    )
    paid_in_window = window & (cover <= frame.day)
    days_late = np.maximum(cover - due_day, 0).astype(np.float64)
    n_paid = _count_by(settled_row[paid_in_window], frame.size)
    columns["mean_days_late_12m"] = _ratio(
        _sum_by(settled_row[paid_in_window], days_late[paid_in_window], frame.size), n_paid
    )
    max_late = _max_by(settled_row[paid_in_window], days_late[paid_in_window], frame.size, -1.0)
    columns["max_days_late_12m"] = np.where(n_paid > 0, max_late, np.nan)
    columns["late_caught_up_12m"] = _count_by(settled_row[paid_in_window & late], frame.size)
    # FIFO leaves the unpaid installments of a loan as the latest ones: counting them gives
    # the run of consecutive misses.
    missed = (due_day < frame.day) & (cover > frame.day)
    missed_per_loan = _count_by(settled["loan"].to_numpy()[missed], len(book.loans))
    loan_rows = frame.position[customer_of_loan]
    columns["consecutive_missed"] = _max_by(
        loan_rows[loan_rows >= 0], missed_per_loan[loan_rows >= 0], frame.size, 0
    )

    last_day = _max_by(pay_row, pay_day, frame.size, -_NEVER)
    ever_paid = last_day > -_NEVER
    columns["days_since_last_payment"] = np.where(ever_paid, frame.day - last_day, np.nan)
    on_last_day = pay_day == last_day[pay_row]
    last_amount = _sum_by(pay_row[on_last_day], amount[on_last_day], frame.size)
    columns["last_payment_to_installment"] = np.where(
        ever_paid, _ratio(last_amount, regular), np.nan
    )
    return columns


def _paid_cents_by(payments: pd.DataFrame, loan: np.ndarray, day: np.ndarray) -> np.ndarray:
    """Cumulative cents paid on each ``loan`` up to and including ``day`` (vectorised)."""
    base = min(payments["pay_day"].to_numpy().min(initial=0), day.min(initial=0))
    span = np.int64(2**32)
    # Days relative to the earliest one keep every key of a loan inside [loan * span, ...).
    keys = payments["loan"].to_numpy() * span + (payments["pay_day"].to_numpy() - base)
    order = np.argsort(keys, kind="stable")
    keys = keys[order]
    cents = np.round(payments["amount"].to_numpy()[order] * 100).astype(np.int64)
    running = np.concatenate([[0], np.cumsum(cents)])
    upto = np.searchsorted(keys, loan * span + (day - base), side="right")
    before_loan = np.searchsorted(keys, loan * span, side="left")
    return running[upto] - running[before_loan]


def _schedule_features(
    frame: _Frame, book: _Book, loan_state: pd.DataFrame, open_loan: np.ndarray
) -> dict[str, object]:
    """Schedule features: the schedule of a loan on book is known in advance."""
    loans = book.loans
    customer_of_loan = loans["customer"].to_numpy()
    loan_rows = frame.position[customer_of_loan]
    on_book = (loan_rows >= 0) & (loans["origination_day"].to_numpy() <= frame.day)
    first_day = _min_by(
        loan_rows[on_book], loans["origination_day"].to_numpy()[on_book], frame.size, _NEVER
    )
    columns: dict[str, object] = {
        "months_on_book": (frame.day - first_day) / _DAYS_PER_MONTH,
    }
    open_rows = on_book & open_loan
    last_due = _max_by(
        loan_rows[open_rows], loans["last_due_day"].to_numpy()[open_rows], frame.size, -_NEVER
    )
    columns["remaining_term_months"] = np.where(
        last_due > -_NEVER, np.maximum(last_due - frame.day, 0) / _DAYS_PER_MONTH, np.nan
    )

    # Arrears that the coming schedule would add if nothing more were paid: the amount
    # falling due net of what was prepaid.
    inst = book.installments
    inst_loan = inst["loan"].to_numpy()
    keep = open_rows[inst_loan]
    inst_loan = inst_loan[keep]
    inst_due = inst["due_day"].to_numpy()[keep]
    inst_cents = inst["cents"].to_numpy()[keep]
    paid_cents = np.zeros(len(loans), dtype=np.int64)
    paid_cents[loan_state["loan"].to_numpy()] = np.round(
        loan_state["paid_to_date"].to_numpy() * 100
    ).astype(np.int64)
    due_now = np.bincount(
        inst_loan[inst_due <= frame.day],
        weights=inst_cents[inst_due <= frame.day],
        minlength=len(loans),
    )
    arrears_now = np.maximum(due_now - paid_cents, 0)
    for days in (30, 60):
        horizon = inst_due <= frame.day + days
        due_then = np.bincount(
            inst_loan[horizon], weights=inst_cents[horizon], minlength=len(loans)
        )
        added = (np.maximum(due_then - paid_cents, 0) - arrears_now) / 100
        columns[f"due_next_{days}d"] = _sum_by(loan_rows[open_rows], added[open_rows], frame.size)
    large = (
        (inst_due > frame.day)
        & (inst["amount_due"].to_numpy()[keep] >= loans["large_threshold"].to_numpy()[inst_loan])
        & (inst_cents > 0)
    )
    next_large = _min_by(
        loan_rows[inst_loan[large]], inst_due[large] - frame.day, frame.size, _NEVER
    )
    columns["days_to_next_large_due"] = np.where(next_large < _NEVER, next_large, np.nan)
    return columns


def _visit_features(
    frame: _Frame,
    book: _Book,
    visits: pd.DataFrame,
    payments: pd.DataFrame,
    spells: pd.DataFrame,
) -> dict[str, object]:
    """Visit history up to the as-of date."""
    columns: dict[str, object] = {}
    row = frame.position[visits["customer"].to_numpy()]
    day = visits["visit_day"].to_numpy()
    code = visits["outcome"].to_numpy().astype(np.int64)
    for days in (90, 180, 365):
        recent = day > frame.day - days
        columns[f"visits_{days}d"] = _count_by(row[recent], frame.size)
    last = _max_by(row, day, frame.size, -_NEVER)
    visited = last > -_NEVER
    columns["days_since_last_visit"] = np.where(visited, frame.day - last, np.nan)
    order = np.lexsort((code, day, row))
    final = np.flatnonzero(np.append(row[order][1:] != row[order][:-1], len(row) > 0))
    last_code = np.full(frame.size, -1, dtype=np.int64)
    last_code[row[order][final]] = code[order][final]
    columns["last_visit_outcome"] = pd.Categorical.from_codes(last_code, categories=VISIT_OUTCOMES)
    year = day > frame.day - 365
    known = year & (code >= 0)
    refused = known & (code == VISIT_OUTCOMES.index("refused"))
    columns["share_refused_365d"] = _ratio(
        _count_by(row[refused], frame.size).astype(float), _count_by(row[known], frame.size)
    )
    promise = year & (code == VISIT_OUTCOMES.index("promise_to_pay"))
    columns["promises_365d"] = _count_by(row[promise], frame.size)

    # A promise is kept by any payment in [visit, visit + 14 days]; younger promises are
    # not settled yet on the as-of date, so they do not count either way.
    customer_of_loan = book.loans["customer"].to_numpy()
    pay_row = frame.position[customer_of_loan[payments["loan"].to_numpy()]]
    settled_promise = promise & (day <= frame.day - _PROMISE_DAYS)
    next_payment = _next_event_day(
        pay_row, payments["pay_day"].to_numpy(), row[settled_promise], day[settled_promise]
    )
    broken = next_payment > day[settled_promise] + _PROMISE_DAYS
    columns["broken_promises_365d"] = _count_by(row[settled_promise][broken], frame.size)

    cure_day = spells["cure_day"].to_numpy()
    recent_cure = (cure_day <= frame.day) & (cure_day > frame.day - 365)
    cure_row = spells["customer"].to_numpy()[recent_cure]
    previous_visit = _previous_event_day(row, day, cure_row, cure_day[recent_cure])
    after_visit = cure_day[recent_cure] - previous_visit <= _CURE_AFTER_VISIT_DAYS
    columns["cures_after_visit_365d"] = _count_by(cure_row[after_visit], frame.size)
    return columns


def _event_keys(row: np.ndarray, day: np.ndarray) -> np.ndarray:
    # Rows are < 2**22 per partition-sized call and days < 2**40: the key fits in int64.
    return row.astype(np.int64) * (2 * _NEVER) + day


def _next_event_day(
    event_row: np.ndarray, event_day: np.ndarray, row: np.ndarray, day: np.ndarray
) -> np.ndarray:
    """Day of the first event of the same row on or after ``day`` (``_NEVER`` if none)."""
    keys = np.sort(_event_keys(event_row, event_day))
    found = np.searchsorted(keys, _event_keys(row, day), side="left")
    hit = np.append(keys, 0)[found]
    same = (found < len(keys)) & (hit // (2 * _NEVER) == row)
    return np.where(same, hit - row * (2 * _NEVER), _NEVER)


def _previous_event_day(
    event_row: np.ndarray, event_day: np.ndarray, row: np.ndarray, day: np.ndarray
) -> np.ndarray:
    """Day of the last event of the same row on or before ``day`` (``-_NEVER`` if none)."""
    keys = np.sort(_event_keys(event_row, event_day))
    found = np.searchsorted(keys, _event_keys(row, day), side="right") - 1
    hit = np.append(keys, 0)[found]
    same = (found >= 0) & (hit // (2 * _NEVER) == row)
    return np.where(same, hit - row * (2 * _NEVER), -_NEVER)


def _context_features(
    frame: _Frame, book: _Book, customer_state: pd.DataFrame
) -> dict[str, object]:
    """Segment, township delinquency (customer excluded), distance to branch, month."""
    customers = book.customers.iloc[frame.customers]
    columns: dict[str, object] = {
        "segment": _fixed_category(_column(customers, "segment", "str"), SEGMENTS)
    }
    # Township rate over customers with an open loan on the as-of date.
    township = _column(book.customers, "township", "str").to_numpy()[
        customer_state["customer"].to_numpy()
    ]
    delinquent = customer_state["days_past_due"].to_numpy() >= 1
    counts = (
        pd.DataFrame({"township": township, "delinquent": delinquent})
        .groupby("township", dropna=True)["delinquent"]
        .agg(["size", "sum"])
    )
    own = _column(customers, "township", "str")
    size = counts["size"].reindex(own).to_numpy(dtype=np.float64)
    n_delinquent = counts["sum"].reindex(own).to_numpy(dtype=np.float64)
    member = np.zeros(len(book.customers), dtype=bool)
    member[customer_state["customer"].to_numpy()] = True
    own_delinquent = np.zeros(len(book.customers))
    own_delinquent[customer_state["customer"].to_numpy()] = delinquent
    self_member = member[frame.customers]
    others = size - self_member
    columns["township_delinquency_rate"] = _ratio(
        n_delinquent - own_delinquent[frame.customers], np.nan_to_num(others)
    )

    latitude = _column(customers, "latitude").to_numpy(dtype=np.float64)
    longitude = _column(customers, "longitude").to_numpy(dtype=np.float64)
    if book.branches is not None and {"latitude", "longitude"} <= set(book.branches.columns):
        branch = book.branches.set_index("branch_id")
        branch_latitude = branch["latitude"].reindex(customers["branch_id"]).to_numpy(float)
        branch_longitude = branch["longitude"].reindex(customers["branch_id"]).to_numpy(float)
        columns["distance_to_branch_km"] = _haversine_km(
            latitude, longitude, branch_latitude, branch_longitude
        )
    else:
        columns["distance_to_branch_km"] = np.full(frame.size, np.nan)
    columns["month_of_year"] = np.full(frame.size, frame.as_of.month, dtype=np.int64)
    return columns


def _haversine_km(
    latitude: np.ndarray, longitude: np.ndarray, to_latitude: np.ndarray, to_longitude: np.ndarray
) -> np.ndarray:
    phi, to_phi = np.radians(latitude), np.radians(to_latitude)
    half_dphi = (to_phi - phi) / 2
    half_dlambda = np.radians(to_longitude - longitude) / 2
    chord = np.sin(half_dphi) ** 2 + np.cos(phi) * np.cos(to_phi) * np.sin(half_dlambda) ** 2
    return 2 * _EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(chord, 0, 1)))


# --------------------------------------------------------------------------------------
# Assembly
# --------------------------------------------------------------------------------------
def _feature_dtype(name: str) -> str:
    feature = FEATURES[name]
    if feature.unit == "category":
        return "category"
    if not feature.missing_en and feature.unit in ("days", "count", "month"):
        return "int64"
    return "float64"


@dataclass(frozen=True)
class _Snapshot:
    """What one as-of date yields: features and the customer state behind them."""

    as_of: pd.Timestamp
    features: pd.DataFrame
    customer_state: pd.DataFrame  # customers with an open loan: customer, days_past_due, arrears


def _snapshot_state(
    book: _Book, raw_state: pd.DataFrame, loan_state: pd.DataFrame
) -> tuple[pd.DataFrame, np.ndarray]:
    """Return the state of customers with an open loan, and which loans are open."""
    loan = loan_state["loan"].to_numpy()
    paid_cents = np.round(loan_state["paid_to_date"].to_numpy() * 100).astype(np.int64)
    open_loan = np.zeros(len(book.loans), dtype=bool)
    open_loan[loan] = book.loans["scheduled_cents"].to_numpy()[loan] > paid_cents
    ledger_columns = [name for name in raw_state.columns if name not in ("loan", "day")]
    customers = customer_ledger(book.loans[["loan_id", "customer_id"]], raw_state[ledger_columns])
    customers = customers.reset_index() if "customer_id" not in customers.columns else customers
    code = _codes(customers["customer_id"], pd.Index(book.customers["customer_id"]))
    has_open = np.zeros(len(book.customers), dtype=bool)
    has_open[book.loans["customer"].to_numpy()[open_loan]] = True
    # Customers whose open loans have nothing due or paid yet are current, with no arrears.
    days_past_due = np.zeros(len(book.customers), dtype=np.int64)
    arrears = np.zeros(len(book.customers))
    loans_past_due = np.zeros(len(book.customers), dtype=np.int64)
    days_past_due[code] = customers["days_past_due"].to_numpy(dtype=np.int64)
    arrears[code] = customers["arrears"].to_numpy(dtype=np.float64)
    loans_past_due[code] = customers["loans_past_due"].to_numpy(dtype=np.int64)
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


def _features_on_dates(
    book: _Book,
    stamps: list[pd.Timestamp],
    select: object,
    payments_until: np.int64 | None = None,
) -> tuple[list[_Snapshot], pd.DataFrame]:
    """Features of the selected customers on each date, with each ledger computed once.

    ``select(customer_state, stamp)`` returns the customer codes of the population.
    Payments are read up to ``payments_until`` (default: the last date). Each date still
    sees only its own past: the ledger on day d counts payments up to d, an installment
    covered after d is unpaid on d, and payment and visit rows after d are dropped.
    Also returns the FIFO settlement of the population's loans (payments up to
    ``payments_until``), so that labels can reuse it.
    """
    days = [_day(stamp) for stamp in stamps]
    last_day = max(days)
    if payments_until is not None:
        last_day = max(last_day, payments_until)
    loan_origination = book.loans["origination_day"].to_numpy()
    payments_known = book.payments["pay_day"].to_numpy() <= last_day
    on_book = loan_origination <= last_day
    raw_states, all_states = _loan_states(book, on_book, payments_known, stamps)
    raw_day = raw_states["day"].to_numpy()
    raw_origination = loan_origination[raw_states["loan"].to_numpy()]
    state_day = all_states["day"].to_numpy()
    state_origination = loan_origination[all_states["loan"].to_numpy()]

    populations, states = [], []
    for stamp, day in zip(stamps, days, strict=True):
        loan_state = all_states.loc[(state_day == day) & (state_origination <= day)]
        raw_state = raw_states.loc[(raw_day == day) & (raw_origination <= day)]
        customer_state, open_loan = _snapshot_state(book, raw_state, loan_state)
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
    settled = _settle(book, population_loans, population_payments)
    book = _restrict(book, population_loans, population_payments, members)
    payments, visits = book.payments, book.visits

    snapshots = []
    for stamp, day, population, (loan_state, customer_state, open_loan) in zip(
        stamps, days, populations, states, strict=True
    ):
        position = np.full(len(book.customers), -1, dtype=np.int64)
        position[population] = np.arange(len(population))
        frame = _Frame(stamp, day, population, position)
        features = _compute(
            frame,
            book,
            loan_state,
            customer_state,
            open_loan,
            settled,
            payments.loc[payments["pay_day"].to_numpy() <= day],
            visits.loc[visits["visit_day"].to_numpy() <= day],
        )
        snapshots.append(_Snapshot(stamp, features, customer_state))
    return snapshots, settled


def _compute(
    frame: _Frame,
    book: _Book,
    loan_state: pd.DataFrame,
    customer_state: pd.DataFrame,
    open_loan: np.ndarray,
    settled: pd.DataFrame,
    payments: pd.DataFrame,
    visits: pd.DataFrame,
) -> pd.DataFrame:
    customer_of_loan = book.loans["customer"].to_numpy()
    settled = settled.loc[frame.position[settled["customer"].to_numpy()] >= 0]
    payments = payments.loc[frame.position[customer_of_loan[payments["loan"].to_numpy()]] >= 0]
    visits = visits.loc[frame.position[visits["customer"].to_numpy()] >= 0]

    columns = _state_features(frame, book, loan_state, customer_state)
    history, spells = _history_features(frame, book, settled, columns["days_past_due"])
    columns |= history
    loan_rows = frame.position[customer_of_loan]
    regular_open = (loan_rows >= 0) & open_loan
    regular = _sum_by(
        loan_rows[regular_open],
        np.nan_to_num(book.loans["regular_installment"].to_numpy()[regular_open]),
        frame.size,
    )
    columns |= _payment_features(frame, book, settled, payments, regular)
    columns |= _schedule_features(frame, book, loan_state, open_loan)
    columns |= _visit_features(frame, book, visits, payments, spells)
    columns |= _context_features(frame, book, customer_state)

    index = pd.Index(
        book.customers["customer_id"].to_numpy()[frame.customers], name="customer_id", dtype="str"
    )
    data = {}
    for name in FEATURES:
        values = columns[name]
        dtype = _feature_dtype(name)
        data[name] = values if dtype == "category" else np.asarray(values).astype(dtype)
    return pd.DataFrame(data, index=index)


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
    book = _make_book(portfolio)
    (snapshot,), _ = _features_on_dates(book, [stamp], _make_selector(population, min_dpd))
    return snapshot.features
