"""The uplift training set: (features, treated, cured) rows for historic snapshots.

See :func:`build_training_set` for how each row is built and why that construction keeps
the rows free of leakage, immortal-time bias, censoring and positivity problems.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType

import numpy as np
import pandas as pd

from visitrisk._book import _day, _delinquency_spells, _make_book
from visitrisk._feature_groups import _next_event_day, _previous_event_day
from visitrisk.contract import Portfolio
from visitrisk.features import (
    _as_timestamp,
    _check_min_dpd,
    _features_on_dates,
    _param_error,
)

__all__ = ["TrainingSet", "build_training_set", "last_observed_day", "monthly_snapshots"]

_FUNCTION = "build_training_set"


@dataclass(frozen=True, eq=False)
class TrainingSet:
    """Rows of (features, treatment, outcome) for uplift learning, one per customer and snapshot.

    Built by :func:`build_training_set`, whose docstring explains which rows are kept.

    Attributes
    ----------
    X : pandas.DataFrame
        Features as of each row's snapshot (:func:`visitrisk.build_features`), with a
        ``RangeIndex`` aligned with every other attribute.
    treatment : pandas.Series
        1 when the customer was visited at least once in ``[snapshot, snapshot +
        treatment_window)``, else 0 (int8).
    cured : pandas.Series
        1 when the customer's days past due returned to 0 on some day of
        ``(snapshot, snapshot + horizon]``, else 0 (int8).
    value_at_stake : pandas.Series
        The customer's arrears on the snapshot date (CNY).
    snapshot : pandas.Series
        Snapshot date of each row.
    customer_id : pandas.Series
        Customer of each row.
    timing : pandas.DataFrame
        Outcome timing, for analysis only and never a feature (it lies after the
        snapshot): ``days_to_first_visit`` (first visit on or after the snapshot, days;
        NaN if none by ``data_end``) and ``days_to_cure`` (first day at 0 days past due
        after the snapshot, days; NaN if none by ``data_end``).
    metadata : Mapping
        ``treatment_window`` and ``horizon`` (days), ``min_dpd``, ``data_end``,
        ``snapshots`` (used), ``censored_snapshots``, ``feature_names``, ``input_digest``
        (SHA-256 of the input tables), ``dropped`` (rows left out, by reason:
        ``censored``, ``do_not_visit``, ``cured_in_window``), ``construction`` and
        ``flagged_visits_excluded`` (visit records left out of the treatment by
        ``exclude_flagged_visits``; None when the option is off).
    """

    X: pd.DataFrame
    treatment: pd.Series
    cured: pd.Series
    value_at_stake: pd.Series
    snapshot: pd.Series
    customer_id: pd.Series
    timing: pd.DataFrame
    metadata: Mapping[str, object]

    def __len__(self) -> int:
        return len(self.X)

    @property
    def feature_names(self) -> list[str]:
        """Names of the feature columns."""
        return list(self.X.columns)

    def to_frame(self) -> pd.DataFrame:
        """All attributes as one table: identifiers, labels, then the features."""
        labels = pd.DataFrame(
            {
                "snapshot": self.snapshot,
                "customer_id": self.customer_id,
                "treatment": self.treatment,
                "cured": self.cured,
                "value_at_stake": self.value_at_stake,
            }
        )
        return pd.concat([labels, self.X], axis=1)


# --------------------------------------------------------------------------------------
# Parameters
# --------------------------------------------------------------------------------------
def _positive_days(value: object, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise _param_error(name, _FUNCTION, "a positive int (days)", value)
    return int(value)


def _snapshot_list(snapshots: object) -> list[pd.Timestamp]:
    if isinstance(snapshots, (str, _dt.date, np.datetime64)) or not isinstance(snapshots, Iterable):
        raise _param_error("snapshots", _FUNCTION, "a non-empty sequence of dates", snapshots)
    stamps = [_as_timestamp(value, "snapshots", _FUNCTION) for value in snapshots]
    if not stamps:
        raise _param_error("snapshots", _FUNCTION, "a non-empty sequence of dates", snapshots)
    return sorted(set(stamps))


def last_observed_day(portfolio: Portfolio) -> pd.Timestamp:
    """Return the last day the event logs cover: the latest payment or visit date.

    Parameters
    ----------
    portfolio : Portfolio
        A validated portfolio.

    Returns
    -------
    pandas.Timestamp
        The latest ``payment_date`` or ``visit_date``. Pass the extraction date instead
        (``data_end=`` of :func:`build_training_set`) when one log was cut earlier than
        the other.
    """
    candidates = [
        table[column].max()
        for table, column in (
            (portfolio.payments, "payment_date"),
            (portfolio.visits, "visit_date"),
        )
        if len(table)
    ]
    candidates = [stamp for stamp in candidates if not pd.isna(stamp)]
    if not candidates:
        raise ValueError(
            "The portfolio has no payment and no visit: there is no data to build labels from."
        )
    return pd.Timestamp(max(candidates)).normalize()


def monthly_snapshots(
    portfolio: Portfolio,
    treatment_window: int = 14,
    horizon: int = 60,
    before: str | _dt.date | pd.Timestamp | None = None,
    history_months: int = 12,
) -> list[pd.Timestamp]:
    """Month-end snapshots for which the labels are fully observed: as many as the data allow.

    Parameters
    ----------
    portfolio : Portfolio
        A validated portfolio.
    treatment_window, horizon : int
        As in :func:`build_training_set` (days).
    before : date, optional
        Keep snapshots whose horizon ends strictly before this date (e.g. the start of a
        test period, so training outcomes never overlap it). Default: the data end.
    history_months : int, default 12
        Months of logged history a snapshot needs after both the payment and the visit log
        have started, so that the 12-month history features are meaningful (months).

    Returns
    -------
    list of pandas.Timestamp
        Month-ends ``d`` with ``d + horizon`` on or before the data end (and before
        ``before``), from ``history_months`` after both logs have started (the later of
        the first payment and the first visit) on.
    """
    treatment_window = _positive_days(treatment_window, "treatment_window")
    horizon = _positive_days(horizon, "horizon")
    end = last_observed_day(portfolio)
    if before is not None:
        end = min(end, _as_timestamp(before, "before", "monthly_snapshots") - pd.Timedelta(days=1))
    last = end - pd.Timedelta(days=max(horizon, treatment_window))
    starts = [
        table[column].min()
        for table, column in (
            (portfolio.payments, "payment_date"),
            (portfolio.visits, "visit_date"),
        )
        if len(table)
    ]
    # The later log decides: before the visit log starts, every row would read "not
    # visited" only because nothing was recorded yet.
    first = max(starts) + pd.DateOffset(months=history_months)
    return list(pd.date_range(first, last, freq="ME"))


def _input_digest(portfolio: Portfolio) -> str:
    """SHA-256 of every table's column names and cell values (row order matters)."""
    digest = hashlib.sha256()
    for name, table in portfolio.tables().items():
        digest.update(name.encode())
        digest.update("\x1f".join(map(str, table.columns)).encode())
        digest.update(pd.util.hash_pandas_object(table, index=False).to_numpy().tobytes())
    return digest.hexdigest()


# --------------------------------------------------------------------------------------
# The training set
# --------------------------------------------------------------------------------------
def build_training_set(
    portfolio: Portfolio,
    snapshots: Iterable[str | _dt.date | pd.Timestamp],
    treatment_window: int = 14,
    horizon: int = 60,
    min_dpd: int = 1,
    *,
    data_end: str | _dt.date | pd.Timestamp | None = None,
    exclude_flagged_visits: bool = False,
) -> TrainingSet:
    """Build uplift training rows: features, treatment and cure outcome per snapshot.

    One row per customer who is delinquent (``min_dpd`` or more days past due) on a
    snapshot ``d`` and still delinquent on every day of the treatment window
    ``[d, d + w)``, ``w = treatment_window``, with:

    - ``X``: :func:`visitrisk.build_features` as of ``d`` (population ``"delinquent"``);
    - ``treatment``: 1 if the customer was visited at least once in ``[d, d + w)``;
    - ``cured``: 1 if the customer's days past due returned to 0 on some day of
      ``(d, d + horizon]`` (necessarily on or after ``d + w``);
    - ``value_at_stake``: arrears on ``d`` (CNY).

    Traps and how the construction handles them:

    **Leakage.** Features use only rows dated on or before ``d`` (payments, visits, loans
    originated on or before ``d``). Treatment and outcome use only what happens from ``d``
    on; visits are made during the day, after the state of ``d`` is known, so a visit on
    ``d`` itself is treatment, never a feature.

    **Immortal time.** Visits go only to customers who are still delinquent: a customer who
    cures on day 3 can no longer be visited on days 4-13. Counting such a customer as
    "not visited" (the plain intention-to-treat comparison, with or without the outcome
    clock started at the snapshot) credits every early cure to the unvisited arm and makes
    visits look harmful even when they do nothing. On the simulator's null-effect portfolio
    that plain construction gives an inverse-propensity estimate of about -7 percentage
    points with a 95 % interval far from 0. The rows are therefore taken at a *landmark*:
    a customer enters the training set only if still delinquent at the end of day
    ``d + w - 1``, i.e. if they could have been visited on every day of the window, in
    both arms alike. Whether they were visited in the window is then fully known, and the
    outcome clock (cure by ``d + horizon``) is the same for both arms. Rows that cure inside
    the window are counted in ``metadata["dropped"]["cured_in_window"]``. The estimand is
    the effect of a visit within ``w`` days on curing by ``d + horizon``, for customers
    still delinquent after ``w`` days, the bank's usual visits after the window included.
    For planning this is the relevant effect: a planned visit to someone who cures first
    is never made and changes nothing. It is conservative next to an effect measured
    against "never visited": cures that a visit brings about inside the window are not
    credited, and unvisited customers may still be visited later.

    **Censoring.** A snapshot whose horizon runs past ``data_end`` (``d + horizon >
    data_end``) has unobserved labels: its delinquent customers are dropped and counted in
    ``metadata["dropped"]["censored"]`` (its date in ``metadata["censored_snapshots"]``).

    **Positivity.** Customers flagged ``do_not_visit`` can never be treated: they are left
    out and counted in ``metadata["dropped"]["do_not_visit"]``.

    Parameters
    ----------
    portfolio : Portfolio
        A validated portfolio.
    snapshots : sequence of dates
        Snapshot dates (e.g. :func:`monthly_snapshots`); duplicates are ignored.
    treatment_window : int, default 14
        Days from the snapshot during which a visit counts as treatment (days).
    horizon : int, default 60
        Days after the snapshot within which a return to 0 days past due is a cure (days);
        at least ``treatment_window``.
    min_dpd : int, default 1
        Days past due that make a customer delinquent (days).
    data_end : date, optional
        Last day covered by the payment and visit logs. Default: the latest payment or
        visit date (:func:`last_observed_day`).
    exclude_flagged_visits : bool, default False
        Leave the visit records flagged by :func:`visitrisk.audit_visits` (default
        thresholds) out of the treatment; their number is
        ``metadata["flagged_visits_excluded"]``. The treatment then reads "visited at least
        once in the window by a record the audit accepts": a row whose only visits in the
        window were flagged counts as not visited. That is right when the flagged records
        were never made (a visit logged without going), and wrong when they were real
        visits logged badly (a wrong date or officer), which then sit in the control arm
        and pull the estimated effect towards 0. The features are unchanged (they read
        the whole log, as scoring does), and rows are neither added nor removed.

    Returns
    -------
    TrainingSet
        Rows ordered by snapshot then ``customer_id``.

    Raises
    ------
    ValueError
        If a parameter is invalid, e.g. ``"The 'horizon' parameter of build_training_set
        must be a positive int (days). Got -3 instead."``

    Examples
    --------
    >>> import visitrisk as vr
    >>> ts = vr.build_training_set(pf, snapshots=["2026-06-30"])  # doctest: +SKIP
    >>> ts.metadata["dropped"]  # doctest: +SKIP
    {'censored': 0, 'do_not_visit': 3, 'cured_in_window': 41}
    """
    stamps = _snapshot_list(snapshots)
    treatment_window = _positive_days(treatment_window, "treatment_window")
    horizon = _positive_days(horizon, "horizon")
    if horizon < treatment_window:
        raise _param_error(
            "horizon", _FUNCTION, f"at least treatment_window ({treatment_window} days)", horizon
        )
    min_dpd = _check_min_dpd(min_dpd, _FUNCTION)
    if not isinstance(exclude_flagged_visits, bool | np.bool_):
        raise _param_error("exclude_flagged_visits", _FUNCTION, "a bool", exclude_flagged_visits)
    end = (
        last_observed_day(portfolio)
        if data_end is None
        else _as_timestamp(data_end, "data_end", _FUNCTION)
    )
    end_day = _day(end)
    reach = horizon

    book = _make_book(portfolio)
    do_not_visit = _do_not_visit(book.customers)
    dropped = {"censored": 0, "do_not_visit": 0, "cured_in_window": 0}

    def select(customer_state: pd.DataFrame, stamp: pd.Timestamp) -> np.ndarray:
        customer = customer_state["customer"].to_numpy()
        delinquent = customer[customer_state["days_past_due"].to_numpy() >= min_dpd]
        if _day(stamp) + reach > end_day:
            dropped["censored"] += len(delinquent)
            return delinquent[:0]
        dropped["do_not_visit"] += int(do_not_visit[delinquent].sum())
        return delinquent[~do_not_visit[delinquent]]

    snapshots_out, settled = _features_on_dates(book, stamps, select, payments_until=end_day)
    kept = [snap for snap in snapshots_out if _day(snap.as_of) + reach <= end_day]

    features = [snap.features for snap in kept]
    row_stamp = np.concatenate(
        [np.full(len(snap.features), _day(snap.as_of), dtype=np.int64) for snap in kept]
        or [np.array([], dtype=np.int64)]
    )
    customer_index = pd.Index(book.customers["customer_id"])
    row_customer = np.concatenate(
        [customer_index.get_indexer(snap.features.index) for snap in kept]
        or [np.array([], dtype=np.int64)]
    )
    arrears = np.concatenate(
        [snap.features["arrears"].to_numpy(np.float64) for snap in kept]
        or [np.array([], dtype=np.float64)]
    )

    visits = book.visits.loc[book.visits["visit_day"].to_numpy() <= end_day]
    flagged_excluded = None
    if exclude_flagged_visits:
        visits, flagged_excluded = _without_flagged_visits(portfolio, visits)
    first_visit = _next_event_day(
        visits["customer"].to_numpy(), visits["visit_day"].to_numpy(), row_customer, row_stamp
    )
    cure_day = _cure_day(settled, row_customer, row_stamp, end_day)
    # Landmark at the end of the treatment window: only customers still delinquent on every
    # day of [d, d + w) could be visited on any of those days (see the docstring).
    at_risk = cure_day >= row_stamp + treatment_window
    dropped["cured_in_window"] = int((~at_risk).sum())
    treated = (first_visit < row_stamp + treatment_window)[at_risk]
    cured = (cure_day <= row_stamp + horizon)[at_risk]
    row_stamp, row_customer, arrears = row_stamp[at_risk], row_customer[at_risk], arrears[at_risk]
    first_visit, cure_day = first_visit[at_risk], cure_day[at_risk]

    features_frame = (
        pd.concat(features, ignore_index=True)
        if features
        else next(iter(snapshots_out)).features.iloc[:0].reset_index(drop=True)
    )
    features_frame = features_frame.loc[at_risk].reset_index(drop=True)
    metadata = {
        "treatment_window": treatment_window,
        "horizon": horizon,
        "min_dpd": min_dpd,
        "data_end": end,
        "snapshots": [snap.as_of for snap in kept],
        "censored_snapshots": [
            snap.as_of for snap in snapshots_out if _day(snap.as_of) + reach > end_day
        ],
        "feature_names": list(features_frame.columns),
        "input_digest": _input_digest(portfolio),
        "dropped": dict(dropped),
        "construction": "landmark at the end of the treatment window",
        "flagged_visits_excluded": flagged_excluded,
    }
    return TrainingSet(
        X=features_frame,
        treatment=pd.Series(treated.astype(np.int8), name="treatment"),
        cured=pd.Series(cured.astype(np.int8), name="cured"),
        value_at_stake=pd.Series(arrears, name="value_at_stake"),
        snapshot=pd.Series(
            row_stamp.astype("datetime64[D]").astype("datetime64[us]"), name="snapshot"
        ),
        customer_id=pd.Series(
            customer_index.to_numpy()[row_customer], name="customer_id", dtype="str"
        ),
        timing=pd.DataFrame(
            {
                "days_to_first_visit": np.where(
                    first_visit <= end_day, first_visit - row_stamp, np.nan
                ),
                "days_to_cure": np.where(cure_day <= end_day, cure_day - row_stamp, np.nan),
            }
        ),
        metadata=MappingProxyType(metadata),
    )


def _do_not_visit(customers: pd.DataFrame) -> np.ndarray:
    if "do_not_visit" not in customers.columns:
        return np.zeros(len(customers), dtype=bool)
    return customers["do_not_visit"].fillna(False).to_numpy(dtype=bool)


def _cure_day(
    settled: pd.DataFrame, customer: np.ndarray, day: np.ndarray, end_day: np.int64
) -> np.ndarray:
    """First day after ``day`` on which the customer is at 0 days past due.

    The customer is delinquent on ``day``, so ``day`` lies inside one of the customer's
    delinquency runs (see :func:`visitrisk._book._delinquency_spells` for why the runs
    are exact under FIFO); the cure is the day after that run ends. A run still open on
    ``end_day`` gives no cure (``2**40``). Each run is found by a binary search: no loop
    over customers or days.
    """
    spells = _delinquency_spells(
        settled["customer"].to_numpy(),
        settled["due_day"].to_numpy(),
        settled["covered_day"].to_numpy(),
        end_day,
    )
    start = _previous_event_day(
        spells["customer"].to_numpy(), spells["start_day"].to_numpy(), customer, day
    )
    ends = pd.Series(
        spells["end_day"].to_numpy(),
        index=pd.MultiIndex.from_arrays([spells["customer"], spells["start_day"]]),
    )
    run_end = ends.reindex(pd.MultiIndex.from_arrays([customer, start])).to_numpy()
    inside = np.isfinite(run_end) & (run_end >= day)
    if not inside.all():
        raise RuntimeError(
            "Internal inconsistency: a customer delinquent on a snapshot has no delinquency "
            f"run covering it (customer codes {customer[~inside][:5].tolist()})."
        )
    run_end = run_end.astype(np.int64)
    return np.where(run_end < end_day, run_end + 1, np.int64(2**40))


def _without_flagged_visits(portfolio: Portfolio, visits: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """Drop the book's visit rows that the audit flags; return the rest and how many.

    Book visit rows are positions in ``portfolio.visits``.
    """
    from visitrisk.audit import audit_visits

    flagged_index = audit_visits(portfolio)["visit_index"].unique()
    flagged = np.isin(visits.index.to_numpy(), portfolio.visits.index.get_indexer(flagged_index))
    return visits.loc[~flagged], int(flagged.sum())
