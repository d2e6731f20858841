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

from visitrisk.contract import Portfolio
from visitrisk.feature_catalog import VISIT_OUTCOMES
from visitrisk.ledger import customer_ledger, loan_ledger, settle_installments

__all__: list[str] = []

#: A day number far beyond any real date: "not covered (yet)".
_NEVER = np.int64(2**40)


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


def _arrow_strings(values: pd.Series | pd.Index) -> pa.Array | pa.ChunkedArray:
    # Arrow-backed text columns convert without a copy (chunks are kept as they are).
    array = values.array
    array = pa.array(array) if hasattr(array, "__arrow_array__") else pa.array(np.asarray(array))
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


def _take(frame: pd.DataFrame, rows: np.ndarray, columns: tuple[str, ...] = ()) -> pd.DataFrame:
    """Return some rows (and columns) of a frame of NumPy columns, faster than ``iloc``."""
    names = columns or tuple(frame.columns)
    if len(rows) == len(frame):  # every row, in order: no copy
        return _frame(**{name: frame[name].to_numpy() for name in names})
    return _frame(**{name: frame[name].to_numpy()[rows] for name in names})


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
    installments = _take(
        book.installments, np.flatnonzero(loan_rows[book.installments["loan"].to_numpy()])
    )
    payments = _take(book.payments, np.flatnonzero(payment_rows))
    visits = _take(book.visits, np.flatnonzero(customer_rows[book.visits["customer"].to_numpy()]))
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
    installments = _take(book.installments, installment_rows, ("loan", "due_date", "amount_due"))
    payments = _take(book.payments, payment_rows, ("loan", "payment_date", "amount"))
    present = np.zeros(len(book.loans), dtype=bool)
    present[installments["loan"].to_numpy()] = True
    present[payments["loan"].to_numpy()] = True
    used = np.flatnonzero(present)
    renumber = np.cumsum(present) - 1
    dtype = pd.CategoricalDtype(book.loan_ids[used], ordered=False)

    def ids(codes: pd.Series) -> pd.Categorical:
        return pd.Categorical.from_codes(renumber[codes.to_numpy()], dtype=dtype)

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
    source = _take(
        book.installments, installment_rows[settled.index.to_numpy()], ("loan", "due_day", "cents")
    )
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
