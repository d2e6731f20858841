"""FIFO settlement of loan schedules: arrears and days past due on any set of dates.

Every rule follows ``shared/DATA_CONTRACT.md`` (the section after the payments table):

- installments are taken in due-date order, not row order;
- amounts are compared in whole cents: each amount is rounded to the cent and every sum is
  an exact integer, so float noise (``0.1 + 0.2``) never leaves a phantom cent unpaid;
- a loan's arrears on day d is everything due on or before d minus everything paid on or
  before d, floored at 0;
- its days past due (DPD) on d is d minus the due date of the oldest installment with a
  positive amount that payments made on or before d do not cover, and 0 when nothing due
  on or before d is uncovered. An installment due on d is in arrears on d with DPD 0;
  zero-amount installments never make a loan past due; over- and prepayments carry forward.

Everything is vectorised: loans become integer codes, dates integer day numbers and amounts
integer cents, then per-loan sums come from ``bincount`` over (loan, as-of bucket) keys and
the oldest unpaid installment from one ``searchsorted`` inside the few installments that can
hold it. Nothing loops over loans or rows.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from visitrisk._grouped import cumsum_within, run_starts, search_in_groups, sort_order
from visitrisk._idcodes import encode_ids, id_column
from visitrisk._problems import problem, problem_frame, raise_problems, require_columns
from visitrisk.contract import DataError

__all__ = ["customer_ledger", "loan_ledger", "settle_installments"]

#: Maps a mask of offending rows to a few example ids for an error message.
_Examples = Callable[[np.ndarray], Sequence[Any]]

#: Unit of every date column the ledger returns.
_DATE_DTYPE = "datetime64[us]"
#: Rows per block where a step runs block by block to keep temporaries small.
_BLOCK = 1 << 20
#: "No date" inside the kernels; also the int64 value of NaT.
_NO_DAY = np.int64(np.iinfo(np.int64).min)


# --------------------------------------------------------------------------------------
# Input checks and encodings
# --------------------------------------------------------------------------------------


def _require_columns(frame: pd.DataFrame, table: str, columns: Sequence[str]) -> None:
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"The '{table}' table must be a pandas DataFrame. Got {type(frame)}.")
    message = "{table}: required column '{column}' is missing."
    require_columns(frame, table, columns, message, count=len(frame))


def _encode_ids(columns: dict[str, Any], column: str) -> tuple[pa.Array, dict[str, np.ndarray]]:
    """Codes of id columns in one sorted vocabulary; a missing id raises a DataError."""
    vocabulary, codes = encode_ids(columns)
    raise_problems(
        [
            problem(
                table,
                column,
                "null",
                f"{table}: {int((table_codes < 0).sum())} row(s) have no {column}.",
                count=int((table_codes < 0).sum()),
                examples=[f"row {row}" for row in np.flatnonzero(table_codes < 0)[:5]],
            )
            for table, table_codes in codes.items()
            if (table_codes < 0).any()
        ]
    )
    return vocabulary, codes


#: Ticks of each datetime64 unit in one day.
_TICKS_PER_DAY = {
    "D": 1,
    "h": 24,
    "m": 1440,
    "s": 86_400,
    "ms": 86_400_000,
    "us": 86_400_000_000,
    "ns": 86_400_000_000_000,
}


def _days_of(values: np.ndarray) -> np.ndarray:
    """Convert datetime64 of any unit to int32 days since 1970-01-01, flooring times of day.

    Integer division of the raw ticks is several times faster than ``astype`` to days.
    """
    unit, count = np.datetime_data(values.dtype)
    ticks = _TICKS_PER_DAY.get(unit)
    if ticks is None or ticks % count:
        return values.astype("datetime64[D]").astype(np.int64).astype(np.int32)
    raw = values.view(np.int64)
    days = np.empty(len(raw), dtype=np.int32)
    # By blocks: a full-length int64 temporary would cost fresh memory pages (page faults).
    for start in range(0, len(raw), _BLOCK):
        days[start : start + _BLOCK] = raw[start : start + _BLOCK] // (ticks // count)
    return days


def _day_numbers(frame: pd.DataFrame, table: str, column: str, examples: _Examples) -> np.ndarray:
    """Read a date column of any resolution as int32 day numbers; missing dates raise."""
    dates = frame[column]
    if isinstance(dates.dtype, pd.DatetimeTZDtype):
        dates = dates.dt.tz_localize(None)
    if not pd.api.types.is_datetime64_dtype(dates.dtype):
        raise_problems(
            [
                problem(
                    table,
                    column,
                    "not_a_date",
                    f"{table}: column '{column}' must hold dates (datetime64), "
                    f"got {dates.dtype}; convert it with pandas.to_datetime first.",
                    count=len(frame),
                )
            ]
        )
    values = dates.to_numpy()
    # NaT is the smallest int64: a minimum (no mask) tells whether any date is missing.
    if len(values) and values.view(np.int64).min() == _NO_DAY:
        missing = values.view(np.int64) == _NO_DAY
        _raise_missing_dates(table, column, missing, examples(missing))
    return _days_of(values)


def _raise_missing_dates(
    table: str, column: str, missing: np.ndarray, examples: Sequence[Any]
) -> None:
    """Refuse rows without a date (``missing``), naming up to 5 ``examples`` (their ids)."""
    raise_problems(
        [
            problem(
                table,
                column,
                "null",
                f"{table}: {int(missing.sum())} row(s) have no {column}.",
                count=int(missing.sum()),
                examples=examples[:5],
            )
        ]
    )


def _cents(
    frame: pd.DataFrame,
    table: str,
    column: str,
    examples: _Examples,
    *,
    allow_negative: bool,
) -> np.ndarray:
    """Amounts (CNY) rounded to whole cents, as float64 holding exact integers."""
    try:
        amounts = frame[column].to_numpy(dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise DataError(
            problem_frame(
                [
                    problem(
                        table,
                        column,
                        "not_a_number",
                        f"{table}: column '{column}' must hold numbers ({error}).",
                        count=len(frame),
                    )
                ]
            )
        ) from error
    problems = []
    # One sum tells whether every amount is finite; masks are built only for bad input.
    if not np.isfinite(amounts.sum()) and not np.isfinite(amounts).all():
        bad = ~np.isfinite(amounts)
        problems.append(
            problem(
                table,
                column,
                "not_finite",
                f"{table}: {int(bad.sum())} row(s) have a missing or infinite {column}.",
                count=int(bad.sum()),
                examples=examples(bad),
            )
        )
    # (A NaN makes the minimum NaN: then look row by row.)
    if not allow_negative and len(amounts) and (problems or amounts.min() < 0):
        negative = amounts < 0
        if negative.any():
            problems.append(
                problem(
                    table,
                    column,
                    "negative",
                    f"{table}: {int(negative.sum())} row(s) have a negative {column}.",
                    count=int(negative.sum()),
                    examples=examples(negative),
                )
            )
    raise_problems(problems)
    cents = amounts * 100.0
    return np.rint(cents, out=cents)


class _Table:
    """One contract table reduced to arrays: int32 loan code and day, float64 cents."""

    def __init__(self, loan: np.ndarray, day: np.ndarray, cents: np.ndarray) -> None:
        self.loan = loan
        self.day = day
        self.cents = cents

    def bucket_key(self, bucket: np.ndarray, n_buckets: int, out: np.ndarray) -> np.ndarray:
        """Write the int64 key ``loan * n_buckets + bucket`` of every row into ``out``."""
        np.multiply(self.loan, n_buckets, out=out, dtype=np.int64)
        out += bucket
        return out


def _examples_from_codes(vocabulary: pa.Array, codes: np.ndarray) -> _Examples:
    """Offending ids for error messages, turned into strings only when a check fails."""

    def examples(mask: np.ndarray) -> list[str]:
        picked = np.unique(codes[mask])[:5]
        return vocabulary.take(pa.array(picked)).to_pylist()

    return examples


def _read_tables(
    installments: pd.DataFrame, payments: pd.DataFrame
) -> tuple[pa.Array, _Table, _Table]:
    _require_columns(installments, "installments", ("loan_id", "due_date", "amount_due"))
    _require_columns(payments, "payments", ("loan_id", "payment_date", "amount"))
    vocabulary, codes = _encode_ids(
        {"installments": installments["loan_id"], "payments": payments["loan_id"]}, "loan_id"
    )
    inst_loan, pay_loan = codes["installments"], codes["payments"]
    inst_examples = _examples_from_codes(vocabulary, inst_loan)
    pay_examples = _examples_from_codes(vocabulary, pay_loan)
    inst = _Table(
        inst_loan,
        _day_numbers(installments, "installments", "due_date", inst_examples),
        _cents(installments, "installments", "amount_due", inst_examples, allow_negative=False),
    )
    pay = _Table(
        pay_loan,
        _day_numbers(payments, "payments", "payment_date", pay_examples),
        _cents(payments, "payments", "amount", pay_examples, allow_negative=True),
    )
    return vocabulary, inst, pay


def _as_of_days(as_of: Any) -> np.ndarray:
    """Sorted distinct as-of dates as int64 day numbers."""
    scalar = isinstance(as_of, str | bytes) or np.ndim(as_of) == 0
    try:
        dates = pd.to_datetime([as_of] if scalar else list(as_of))
    except (TypeError, ValueError) as error:
        raise ValueError(
            f"The 'as_of' parameter must be a date or a sequence of dates. Got {as_of!r}."
        ) from error
    if dates.tz is not None:
        dates = dates.tz_localize(None)
    if dates.isna().any():
        raise ValueError(f"The 'as_of' parameter must not contain missing dates. Got {as_of!r}.")
    return np.unique(_days_of(dates.to_numpy()).astype(np.int64))


def _to_dates(days: np.ndarray) -> np.ndarray:
    """Turn day numbers into datetime64[us]; ``_NO_DAY`` becomes NaT."""
    ticks = days.astype(np.int64) * _TICKS_PER_DAY["us"]
    ticks[days == _NO_DAY] = _NO_DAY
    return ticks.view(_DATE_DTYPE)


# --------------------------------------------------------------------------------------
# Vectorised kernels
# --------------------------------------------------------------------------------------


def _buckets(days: np.ndarray, as_of_days: np.ndarray) -> np.ndarray:
    """Index of the first as-of date on or after each day (``len(as_of_days)`` when none).

    A row in bucket b counts towards as-of dates b, b + 1, ... A lookup table over the day
    range replaces a binary search per row.
    """
    dtype = np.int16 if len(as_of_days) < np.iinfo(np.int16).max else np.int64
    if len(days) == 0:
        return np.zeros(0, dtype=dtype)
    first, last = int(days.min()), int(days.max())
    if last - first > 4 * len(days) + 100_000:
        return np.searchsorted(as_of_days, days, side="left").astype(dtype)
    # Days since 1970 index the table directly (no shifted copy of the days).
    first = min(first, 0)
    table = np.searchsorted(as_of_days, np.arange(first, last + 1), side="left").astype(dtype)
    return table[days] if first == 0 else table[days - first]


def _cumulative_by_date(
    table: _Table, bucket: np.ndarray, n_loans: int, n_dates: int, scratch: np.ndarray
) -> np.ndarray:
    """Cents per loan up to each as-of date: float64 (n_loans, n_dates) of whole numbers.

    Whole cents add up exactly in float64 below 2**53 cents (9e13 CNY), so comparisons
    between these sums are exact.
    """
    size = n_loans * (n_dates + 1)
    totals = np.zeros(size)
    # By blocks of the small scratch array: a full-length key would cost fresh memory.
    for start in range(0, len(bucket), max(len(scratch), 1)):
        stop = min(start + len(scratch), len(bucket))
        part = _Table(table.loan[start:stop], table.day[start:stop], table.cents[start:stop])
        key = part.bucket_key(bucket[start:stop], n_dates + 1, out=scratch[: stop - start])
        totals += np.bincount(key, weights=part.cents, minlength=size)
    return np.cumsum(totals.reshape(n_loans, n_dates + 1)[:, :n_dates], axis=1, dtype=np.float64)


def _oldest_unpaid_day(
    inst: _Table,
    inst_bucket: np.ndarray,
    due: np.ndarray,
    paid_floor: np.ndarray,
    query_loan: np.ndarray,
    query_date: np.ndarray,
) -> np.ndarray:
    """Due day of the oldest uncovered positive installment for each (loan, as-of) query.

    ``due`` and ``paid_floor`` (paid to date, floored at 0) are cents per (loan, as-of
    date); a query is a (loan, as-of index) where the first exceeds the second, in
    row-major order. The answer lies in the as-of bucket where the loan's cumulative due
    first exceeds the paid amount, so only the installments of those (loan, bucket) pairs,
    a small share of the schedule, are sorted and searched.
    """
    n_loans, n_dates = due.shape
    # Cumulative due never decreases over as-of dates: for each queried loan and date,
    # count the as-of dates whose cumulative due the payments cover.
    first_query = run_starts(query_loan)
    queried = query_loan[first_query]
    query_row = np.repeat(np.arange(len(queried)), np.diff(np.append(first_query, len(query_loan))))
    due_queried, paid_queried = due[queried], paid_floor[queried]
    covered_dates = np.zeros((len(queried), n_dates), dtype=np.int64)
    for date_index in range(n_dates):
        covered_dates += due_queried[:, date_index, None] <= paid_queried
    crossing = covered_dates[query_row, query_date]
    before = np.maximum(crossing - 1, 0)
    covered_before = np.where(crossing > 0, due_queried[query_row, before], 0.0)
    paid_in_bucket = (paid_queried[query_row, query_date] - covered_before).astype(np.int64)
    del due_queried, paid_queried, covered_dates
    query_key = query_loan * (n_dates + 1) + crossing

    # Narrow the schedule in two cheap steps: rows of loans with a query (a small lookup
    # table), then rows in a queried (loan, bucket) pair with a positive amount.
    queried_loan = np.zeros(n_loans, dtype=bool)
    queried_loan[query_loan] = True
    rows = np.flatnonzero(queried_loan[inst.loan])
    del queried_loan
    row_key = inst.loan[rows].astype(np.int64)
    row_key *= n_dates + 1
    row_key += inst_bucket[rows]
    wanted = np.zeros(n_loans * (n_dates + 1), dtype=bool)
    wanted[query_key] = True
    keep = wanted[row_key] & (inst.cents[rows] > 0)
    del wanted
    rows, row_key = rows[keep], row_key[keep]
    order = sort_order(row_key, inst.day[rows] - int(inst.day[rows].min()))
    rows, group = rows[order], row_key[order]
    within = cumsum_within(inst.cents[rows].astype(np.int64), run_starts(group))
    position = search_in_groups(group, within, query_key, paid_in_bucket, side="right")
    return inst.day[rows[position]]


# --------------------------------------------------------------------------------------
# Public functions
# --------------------------------------------------------------------------------------


def loan_ledger(installments: pd.DataFrame, payments: pd.DataFrame, as_of: Any) -> pd.DataFrame:
    """Arrears and days past due of every loan on each as-of date, by FIFO settlement.

    Parameters
    ----------
    installments : pandas.DataFrame
        The repayment schedule: ``loan_id`` (str or categorical), ``due_date`` (datetime64,
        any unit), ``amount_due`` (float, CNY, >= 0). Any row order; several rows of one
        loan may share a due date.
    payments : pandas.DataFrame
        Money received: ``loan_id``, ``payment_date`` (datetime64), ``amount`` (float, CNY;
        negative rows are reversals and lower the amount paid from their date on).
    as_of : date-like or sequence of date-likes
        One date or several (str, Timestamp, datetime64, DatetimeIndex...). Each loan's
        state is computed at the end of each date (rows dated that day count).

    Returns
    -------
    pandas.DataFrame
        One row per (loan, as-of date) for every loan in ``installments`` or ``payments``,
        sorted by ``loan_id`` then ``as_of``:

        - ``loan_id`` (str), ``as_of`` (datetime64[us]);
        - ``due_to_date``, ``paid_to_date`` (float, CNY): cumulative amounts on or before
          ``as_of``, in whole cents (a net reversal makes ``paid_to_date`` negative);
        - ``arrears`` (float, CNY): ``due_to_date - paid_to_date`` floored at 0;
        - ``days_past_due`` (int64, days): ``as_of`` minus the due date of the oldest
          positive installment not covered by ``paid_to_date``; 0 when nothing is uncovered
          or the oldest uncovered one is due on ``as_of`` itself;
        - ``oldest_unpaid_due_date`` (datetime64[us]): that due date when
          ``days_past_due >= 1``, NaT otherwise.

    Raises
    ------
    visitrisk.DataError
        When a required column is missing, an id, date or amount is missing, a date column
        is not datetime64, or an ``amount_due`` is negative.

    Examples
    --------
    >>> import pandas as pd
    >>> schedule = pd.DataFrame({"loan_id": ["L1", "L1"],
    ...     "due_date": pd.to_datetime(["2026-01-31", "2026-02-28"]),
    ...     "amount_due": [100.0, 100.0]})
    >>> paid = pd.DataFrame({"loan_id": ["L1"], "payment_date": pd.to_datetime(["2026-02-10"]),
    ...     "amount": [60.0]})
    >>> state = loan_ledger(schedule, paid, ["2026-02-10", "2026-03-05"])
    >>> print(state[["as_of", "arrears", "days_past_due"]].to_string(index=False))
         as_of  arrears  days_past_due
    2026-02-10     40.0             10
    2026-03-05    140.0             33
    """
    as_of_days = _as_of_days(as_of)
    vocabulary, inst, pay = _read_tables(installments, payments)
    n_loans, n_dates = len(vocabulary), len(as_of_days)
    due, paid, arrears, days_past_due, oldest = _ledger_arrays(inst, pay, n_loans, as_of_days)
    loans = np.repeat(np.arange(n_loans, dtype=np.int32), n_dates)
    columns = {
        "loan_id": id_column(vocabulary, loans),
        "as_of": np.tile(_to_dates(as_of_days), n_loans),
        "due_to_date": due.ravel(),
        "paid_to_date": paid.ravel(),
        "arrears": arrears.ravel(),
        "days_past_due": days_past_due.ravel(),
        "oldest_unpaid_due_date": oldest.ravel().view(_DATE_DTYPE),
    }
    # The arrays are ours: no copy into consolidated blocks.
    return pd.DataFrame(columns, copy=False)


def _ledger_arrays(
    inst: _Table, pay: _Table, n_loans: int, as_of_days: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Run the ledger on integer codes: (n_loans, n_dates) arrays of each output column.

    ``inst`` and ``pay`` hold loan codes below ``n_loans``, day numbers and whole cents;
    ``as_of_days`` are sorted distinct day numbers. Returns ``due_to_date``,
    ``paid_to_date`` and ``arrears`` (CNY), ``days_past_due`` (days) and the oldest unpaid
    due date as datetime64[us] ticks (int64; ``_NO_DAY`` for none). :mod:`visitrisk._book`
    calls it directly with codes it already has, so no identifier is hashed twice.
    """
    n_dates = len(as_of_days)
    inst_bucket = _buckets(inst.day, as_of_days)
    scratch = np.empty(min(max(len(inst.loan), len(pay.loan)), 4 * _BLOCK), dtype=np.int64)
    due = _cumulative_by_date(inst, inst_bucket, n_loans, n_dates, scratch)
    paid = _cumulative_by_date(pay, _buckets(pay.day, as_of_days), n_loans, n_dates, scratch)
    del pay, scratch
    paid_floor = np.maximum(paid, 0.0)
    query_loan, query_date = np.nonzero(due > paid_floor)
    days_past_due = np.zeros((n_loans, n_dates), dtype=np.int64)
    oldest = np.full((n_loans, n_dates), _NO_DAY, dtype=np.int64)  # becomes datetime64[us]
    if len(query_loan):
        oldest_day = _oldest_unpaid_day(inst, inst_bucket, due, paid_floor, query_loan, query_date)
        overdue = as_of_days[query_date] - oldest_day
        days_past_due[query_loan, query_date] = overdue
        late = overdue > 0
        oldest[query_loan[late], query_date[late]] = (
            oldest_day[late].astype(np.int64) * _TICKS_PER_DAY["us"]
        )
    del inst, inst_bucket, paid_floor

    arrears = due - paid
    np.maximum(arrears, 0.0, out=arrears)
    for cents in (due, paid, arrears):
        cents /= 100.0  # in place: these arrays become the output columns
    return due, paid, arrears, days_past_due, oldest


def customer_ledger(loans: pd.DataFrame, loan_state: pd.DataFrame) -> pd.DataFrame:
    """Sum the loan ledger over each customer's loans: customer arrears and days past due.

    Parameters
    ----------
    loans : pandas.DataFrame
        The loans table: ``loan_id`` (unique) and ``customer_id``.
    loan_state : pandas.DataFrame
        Output of :func:`loan_ledger` (``loan_id``, ``as_of``, ``due_to_date``,
        ``paid_to_date``, ``arrears``, ``days_past_due``).

    Returns
    -------
    pandas.DataFrame
        One row per (customer, as-of date) for every customer in ``loans`` and every date in
        ``loan_state``, sorted by ``customer_id`` then ``as_of``: ``customer_id`` (str),
        ``as_of`` (datetime64[us]), ``days_past_due`` (int64, days; maximum over the
        customer's loans), ``arrears``, ``due_to_date``, ``paid_to_date`` (float, CNY;
        sums) and ``loans_past_due`` (int64; loans with ``days_past_due >= 1``). A customer
        whose loans have no schedule or payment rows gets zeros.

    Raises
    ------
    visitrisk.DataError
        When a column is missing, a loan id repeats in ``loans``, or ``loan_state`` holds a
        loan that ``loans`` does not.
    """
    _require_columns(loans, "loans", ("loan_id", "customer_id"))
    _require_columns(
        loan_state,
        "loan_state",
        ("loan_id", "as_of", "due_to_date", "paid_to_date", "arrears", "days_past_due"),
    )
    state_loan = _loan_rows(loan_state["loan_id"], loans["loan_id"])
    customers, codes = _encode_ids({"loans": loans["customer_id"]}, "customer_id")
    customer_of_state = codes["loans"][state_loan]
    del state_loan

    as_of_days = _day_numbers(
        loan_state, "loan_state", "as_of", lambda mask: loan_state["loan_id"][mask].unique()
    )
    distinct_days = np.unique(pd.unique(as_of_days)).astype(np.int64)
    n_customers, n_dates = len(customers), len(distinct_days)
    key = customer_of_state.astype(np.int64)
    key *= n_dates
    key += _buckets(as_of_days, distinct_days)
    del customer_of_state, as_of_days
    size = n_customers * n_dates

    def total(column: str) -> np.ndarray:
        cents = loan_state[column].to_numpy(dtype=np.float64) * 100.0
        sums = np.bincount(key, weights=np.rint(cents, out=cents), minlength=size)
        sums = sums.astype(np.float64, copy=False)  # (int64 when there are no rows)
        sums /= 100.0
        return sums

    days_past_due = loan_state["days_past_due"].to_numpy(dtype=np.int64)
    delinquent = np.flatnonzero(days_past_due > 0)
    worst = np.zeros(size, dtype=np.int64)
    np.maximum.at(worst, key[delinquent], days_past_due[delinquent])
    past_due = np.bincount(key[delinquent], minlength=size).astype(np.int64, copy=False)
    columns = {
        "customer_id": id_column(
            customers, np.repeat(np.arange(n_customers, dtype=np.int32), n_dates)
        ),
        "as_of": np.tile(_to_dates(distinct_days), n_customers),
        "days_past_due": worst,
        "arrears": total("arrears"),
        "due_to_date": total("due_to_date"),
        "paid_to_date": total("paid_to_date"),
        "loans_past_due": past_due,
    }
    return pd.DataFrame(columns, copy=False)


def _loan_rows(state_ids: pd.Series, loan_ids: pd.Series) -> np.ndarray:
    """Row of ``loans`` for every ``loan_state`` row; unknown or repeated loans raise.

    ``loan_state`` repeats each id once per as-of date in consecutive rows, so only one id
    per run of equal neighbours is encoded.
    """
    if isinstance(state_ids.dtype, pd.CategoricalDtype):
        codes = state_ids.cat.codes.to_numpy()
        starts = run_starts(codes)
        run_ids = pd.Series(state_ids.to_numpy()[starts], dtype="str")
    else:
        ids = (
            state_ids.array.__arrow_array__()
            if hasattr(state_ids.array, "__arrow_array__")
            else pa.array(state_ids)
        )
        ids = ids.combine_chunks() if isinstance(ids, pa.ChunkedArray) else ids
        if len(ids) > 1:
            changed = pc.fill_null(pc.not_equal(ids.slice(1), ids.slice(0, len(ids) - 1)), True)
            starts = np.flatnonzero(np.r_[True, changed.to_numpy(zero_copy_only=False)])
        else:
            starts = np.arange(len(ids))
        run_ids = ids.take(pa.array(starts))
    vocabulary, codes = _encode_ids({"loan_state": run_ids, "loans": loan_ids}, "loan_id")
    loan_codes, run_codes = codes["loans"], codes["loan_state"]
    repeated = np.flatnonzero(np.bincount(loan_codes, minlength=len(vocabulary)) > 1)
    raise_problems(
        [
            problem(
                "loans",
                "loan_id",
                "not_unique",
                f"loans: loan_id must be unique; {len(repeated)} id(s) appear more than once.",
                count=len(repeated),
                examples=vocabulary.take(pa.array(repeated[:5])).to_pylist(),
            )
        ]
        if len(repeated)
        else []
    )
    row_of_code = np.full(len(vocabulary), -1, dtype=np.int64)
    row_of_code[loan_codes] = np.arange(len(loan_codes))
    run_rows = row_of_code[run_codes]
    unknown = np.unique(run_codes[run_rows < 0])
    raise_problems(
        [
            problem(
                "loan_state",
                "loan_id",
                "unknown_loan",
                f"loan_state: {len(unknown)} loan id(s) are not in the loans table.",
                count=len(unknown),
                examples=vocabulary.take(pa.array(unknown[:5])).to_pylist(),
            )
        ]
        if len(unknown)
        else []
    )
    return np.repeat(run_rows, np.diff(np.append(starts, len(state_ids))))


def settle_installments(installments: pd.DataFrame, payments: pd.DataFrame) -> pd.DataFrame:
    """When each installment was covered by FIFO settlement, and how many days late.

    Parameters
    ----------
    installments : pandas.DataFrame
        ``loan_id``, ``due_date`` (datetime64), ``amount_due`` (float, CNY, >= 0).
    payments : pandas.DataFrame
        ``loan_id``, ``payment_date`` (datetime64), ``amount`` (float, CNY; negative rows
        are reversals).

    Returns
    -------
    pandas.DataFrame
        One row per installment row, ordered by ``loan_id``, then ``due_date``, then input
        row order; the index holds the input row labels. Columns:

        - ``loan_id`` (str), ``due_date`` (datetime64[us]), ``amount_due`` (float, CNY);
        - ``cumulative_due`` (float, CNY): this and all earlier installments of the loan,
          in whole cents;
        - ``covered_date`` (datetime64[us]): the first payment date at whose end the loan's
          cumulative payments reach ``cumulative_due`` (FIFO); NaT if they never do. An
          installment with nothing owed up to it (``cumulative_due == 0``) counts as
          covered on its own due date. With reversals this is the *first* date of
          coverage: a later reversal does not move it, though :func:`loan_ledger` shows the
          installment uncovered again after that reversal. Because it depends only on
          payments up to that date, it never changes when later payments are appended;
        - ``days_late`` (float, days): ``max(covered_date - due_date, 0)``, NaN when never
          covered.
    """
    vocabulary, inst, pay = _read_tables(installments, payments)
    order, cumulative, covered = _settlement(inst, pay)
    loan, day = inst.loan[order], inst.day[order]
    never = covered == _NO_DAY
    days_late = np.where(never, np.nan, np.maximum(covered - day, 0))
    index = installments.index[order]
    columns = {
        "loan_id": id_column(vocabulary, loan, index),
        "due_date": _to_dates(day),
        "amount_due": installments["amount_due"].to_numpy(dtype=np.float64)[order],
        "cumulative_due": cumulative / 100.0,
        "covered_date": _to_dates(covered),
        "days_late": days_late,
    }
    return pd.DataFrame(columns, index=index, copy=False)


def _settlement(inst: _Table, pay: _Table) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """FIFO settlement on integer codes.

    Returns the order of the installment rows (by loan code, due day, row), and in that
    order the cumulative cents due (int64) and the day of coverage (int64 day number,
    ``_NO_DAY`` when never covered). :mod:`visitrisk._book` calls it directly.
    """
    low_day = int(np.r_[inst.day, pay.day].min()) if len(inst.day) + len(pay.day) else 0

    order = sort_order(inst.loan, inst.day - low_day)
    loan, day = inst.loan[order], inst.day[order]
    cumulative = cumsum_within(inst.cents[order].astype(np.int64), run_starts(loan))

    # Nothing owed up to an installment: covered on its own due date.
    covered = day.astype(np.int64)
    owed = cumulative > 0
    if len(pay.loan):
        pay_order = sort_order(pay.loan, pay.day - low_day)
        pay_loan, pay_day = pay.loan[pay_order], pay.day[pay_order]
        paid = cumsum_within(pay.cents[pay_order].astype(np.int64), run_starts(pay_loan))
        # A date's payments count together: keep each loan-day's end-of-day total.
        day_end = np.append(run_starts(pay_loan, pay_day)[1:] - 1, len(pay_loan) - 1)
        pay_loan, pay_day, paid = pay_loan[day_end], pay_day[day_end], paid[day_end]
        if (pay.cents < 0).any():
            # Reversals can lower the total; coverage counts from the first time it is reached.
            paid = pd.Series(paid).groupby(pay_loan).cummax().to_numpy()
        position = search_in_groups(pay_loan, np.maximum(paid, -1), loan, cumulative, side="left")
        np.minimum(position, len(pay_loan) - 1, out=position)
        hit = (pay_loan[position] == loan) & (paid[position] >= cumulative)
        covered = np.where(owed, np.where(hit, pay_day[position], _NO_DAY), covered)
    else:
        covered[owed] = _NO_DAY
    return order, cumulative, covered
