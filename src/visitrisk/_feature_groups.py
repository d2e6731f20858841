"""Feature groups: each turns one as-of date's rows into columns of the feature frame.

Private to :mod:`visitrisk.features`; every column is documented in
:mod:`visitrisk.feature_catalog`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from visitrisk._book import (
    _NEVER,
    _Book,
    _column,
    _day,
    _delinquency_spells,
    _fixed_category,
    _known_cover_day,
    _take,
)
from visitrisk._grouped import sort_order
from visitrisk.feature_catalog import (
    DPD_BUCKETS,
    FEATURES,
    PRODUCTS,
    ROLL_DIRECTIONS,
    SEGMENTS,
    VISIT_OUTCOMES,
)

__all__: list[str] = []

_DAYS_PER_MONTH = 365.25 / 12
#: Window of a promise to pay: a payment within this many days keeps it (days).
_PROMISE_DAYS = 14
#: A cure this many days after a visit counts as a cure after a visit (days).
_CURE_AFTER_VISIT_DAYS = 30
_EARTH_RADIUS_KM = 6371.0088


def _months_before(stamp: pd.Timestamp, months: int) -> np.int64:
    return _day(stamp - pd.DateOffset(months=months))


# --------------------------------------------------------------------------------------
# Grouped reductions over integer positions
# --------------------------------------------------------------------------------------
def _sum_by(position: np.ndarray, values: np.ndarray, size: int) -> np.ndarray:
    return np.bincount(position, weights=values, minlength=size).astype(np.float64)


def _count_by(position: np.ndarray, size: int) -> np.ndarray:
    return np.bincount(position, minlength=size).astype(np.int64)


def _max_by(position: np.ndarray, values: np.ndarray, size: int, fill: float) -> np.ndarray:
    result = np.full(size, fill, dtype=np.result_type(values, type(fill)))
    # Values of the result's own dtype take ufunc.at's fast indexed loop (~10x faster).
    np.maximum.at(result, position, values.astype(result.dtype, copy=False))
    return result


def _min_by(position: np.ndarray, values: np.ndarray, size: int, fill: float) -> np.ndarray:
    result = np.full(size, fill, dtype=np.result_type(values, type(fill)))
    np.minimum.at(result, position, values.astype(result.dtype, copy=False))
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
    state = _take(loan_state, frame.position[loans["customer"].to_numpy()[loan_state["loan"]]] >= 0)
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

    # Distinct products per customer: (row, product code) pairs, codes from the open
    # loans' products only (NumPy strings of the whole loans table would cost more).
    product_code, _ = pd.factorize(loans["product"].iloc[loan[is_open]], use_na_sentinel=False)
    pairs = np.unique(row[is_open] * np.int64(len(product_code) + 1) + product_code)
    n_products = _count_by(pairs // (len(product_code) + 1), frame.size)
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
    main_product.iloc[ranked["row"].to_numpy()] = (
        loans["product"].iloc[ranked["loan"].to_numpy()].to_numpy()
    )

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
    # (Only late installments have a delinquent day: everything below reads those alone.)
    last_late_day = np.minimum(late_cover - 1, frame.day)
    for months in (3, 6, 12):
        window_start = _months_before(frame.as_of, months)
        in_window = (last_late_day > window_start) & (last_late_day > late_due)
        columns[f"max_dpd_{months}m"] = _max_by(
            late_row[in_window], (last_late_day - late_due)[in_window], frame.size, 0
        )
    month_end_dpd = np.stack([dpd_on(stamp) for stamp in month_ends])
    for threshold in (30, 60, 90):
        columns[f"months_{threshold}plus_12m"] = (month_end_dpd >= threshold).sum(axis=0)

    spells = _delinquency_spells(late_row, late_due, late_cover, frame.day)
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
    pay_loan = payments["loan"].to_numpy().astype(np.int64)
    pay_day = payments["pay_day"].to_numpy() - base
    # Sorted by loan, then day, then row (a packed sort, faster than a stable argsort).
    order = sort_order(pay_loan, pay_day)
    keys = pay_loan[order] * span + pay_day[order]
    cents = payments["cents"].to_numpy()[order].astype(np.int64)  # whole cents already
    running = np.concatenate([[0], np.cumsum(cents)])
    upto = np.searchsorted(keys, loan * span + (day - base), side="right")
    # One search per run of a loan (the installments come grouped by loan), not per row.
    first = np.flatnonzero(np.append(True, loan[1:] != loan[:-1])) if len(loan) else loan
    before_loan = np.searchsorted(keys, loan[first] * span, side="left")
    return running[upto] - np.repeat(running[before_loan], np.diff(np.append(first, len(loan))))


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


def _township_counts(book: _Book, customer_state: pd.DataFrame) -> pd.DataFrame:
    """Count customers with an open loan (``size``) and those delinquent (``sum``) per township.

    Both are counts, so the counts of a partitioned portfolio add up to the whole one's
    (``visitrisk.spark`` sums them and passes them back in).
    """
    customer = customer_state["customer"].to_numpy()
    township = _column(book.customers, "township", "str").iloc[customer]
    # Text stays Arrow strings (no Python string per customer); anything else is grouped
    # by its values, as NumPy holds them.
    township = township.array if isinstance(township.dtype, pd.StringDtype) else township.to_numpy()
    delinquent = customer_state["days_past_due"].to_numpy() >= 1
    return (
        pd.DataFrame({"township": township, "delinquent": delinquent})
        .groupby("township", dropna=True)["delinquent"]
        .agg(["size", "sum"])
        .astype(np.int64)
    )


def _context_features(
    frame: _Frame,
    book: _Book,
    customer_state: pd.DataFrame,
    township_counts: pd.DataFrame | None = None,
) -> dict[str, object]:
    """Segment, township delinquency (customer excluded), distance to branch, month.

    ``township_counts`` (as :func:`_township_counts` returns them) replaces the counts of
    ``book`` when the book is one partition of a larger portfolio.
    """
    customers = book.customers.iloc[frame.customers]
    columns: dict[str, object] = {
        "segment": _fixed_category(_column(customers, "segment", "str"), SEGMENTS)
    }
    # Township rate over customers with an open loan on the as-of date.
    delinquent = customer_state["days_past_due"].to_numpy() >= 1
    counts = _township_counts(book, customer_state) if township_counts is None else township_counts
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


def _compute(
    frame: _Frame,
    book: _Book,
    loan_state: pd.DataFrame,
    customer_state: pd.DataFrame,
    open_loan: np.ndarray,
    settled: pd.DataFrame,
    payments: pd.DataFrame,
    visits: pd.DataFrame,
    township_counts: pd.DataFrame | None = None,
) -> pd.DataFrame:
    customer_of_loan = book.loans["customer"].to_numpy()
    # Row subsets without pandas indexing: no copy at all when every row is kept.
    settled = _take(settled, frame.position[settled["customer"].to_numpy()] >= 0)
    payments = _take(payments, frame.position[customer_of_loan[payments["loan"].to_numpy()]] >= 0)
    visits = _take(visits, frame.position[visits["customer"].to_numpy()] >= 0)

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
    columns |= _context_features(frame, book, customer_state, township_counts)

    index = pd.Index(
        book.customers["customer_id"].iloc[frame.customers].array, name="customer_id", dtype="str"
    )
    data = {}
    for name in FEATURES:
        values = columns[name]
        dtype = _feature_dtype(name)
        data[name] = values if dtype == "category" else np.asarray(values).astype(dtype)
    return pd.DataFrame(data, index=index)
