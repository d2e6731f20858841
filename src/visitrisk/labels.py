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
from visitrisk._trial import parse_weekdays, trial_weights
from visitrisk.contract import Portfolio
from visitrisk.features import (
    _as_timestamp,
    _check_min_dpd,
    _features_on_dates,
    _param_error,
)

__all__ = [
    "DESIGNS",
    "TrainingSet",
    "average_effect",
    "build_training_set",
    "last_observed_day",
    "monthly_snapshots",
]

_FUNCTION = "build_training_set"

#: Accepted values of the ``design`` parameter of :func:`build_training_set`.
DESIGNS: tuple[str, ...] = ("landmark", "trial")


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
        Landmark design: 1 when the customer was visited at least once in ``[snapshot,
        snapshot + treatment_window)``, else 0. Trial design: the arm the row (a clone)
        follows, 1 for the visit strategy, 0 for no visit in the window (int8).
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
        ``censored``, ``do_not_visit``, and ``cured_in_window`` for the landmark design or
        ``follows_neither_arm`` for the trial design), ``design``, ``construction`` and
        ``flagged_visits_excluded`` (visit records left out of the treatment by
        ``exclude_flagged_visits``; None when the option is off); the trial design adds
        ``eligible`` (customer-snapshot rows in the emulated trial), ``visit_weekdays``,
        ``effective_rows`` (Kish effective sample size per arm) and ``hazard_person_days``.
    weight : pandas.Series
        Sample weight of each row (float64): 1 for the landmark design, the
        inverse-probability-of-censoring weight of the clone for the trial design. Pass it
        as ``sample_weight`` to every model and estimator fitted on these rows. Defaults
        to 1 when not given.
    """

    X: pd.DataFrame
    treatment: pd.Series
    cured: pd.Series
    value_at_stake: pd.Series
    snapshot: pd.Series
    customer_id: pd.Series
    timing: pd.DataFrame
    metadata: Mapping[str, object]
    weight: pd.Series | None = None

    def __post_init__(self) -> None:
        if self.weight is None:
            # Frozen dataclass: the default weight is filled in once, here.
            object.__setattr__(self, "weight", pd.Series(np.ones(len(self.X)), name="weight"))
        elif len(self.weight) != len(self.X):
            raise ValueError(
                f"TrainingSet: weight has {len(self.weight)} rows but X has {len(self.X)}; "
                "subset every attribute with the same rows."
            )

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
                "weight": self.weight,
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
    design: str = "landmark",
    visit_weekdays: str = "Mon Tue Wed Thu Fri",
    random_state: int = 0,
    n_jobs: int = 1,
    exclude_flagged_visits: bool = False,
) -> TrainingSet:
    """Build uplift training rows: features, treatment and cure outcome per snapshot.

    The *eligible* rows are the customers delinquent (``min_dpd`` or more days past due) on
    a snapshot ``d`` who may be visited, each with:

    - ``X``: :func:`visitrisk.build_features` as of ``d`` (population ``"delinquent"``),
      except that visits made on ``d`` itself are not read: they are treatment;
    - ``cured``: 1 if the customer's days past due returned to 0 on some day of
      ``(d, d + horizon]``;
    - ``value_at_stake``: arrears on ``d`` (CNY).

    **What "the effect of a visit" means (the estimand).** With ``w = treatment_window``
    and ``H = horizon``, the uplift of a row is ``P(cured by d + H | visit strategy) -
    P(cured by d + H | no-visit strategy)``, where

    - *visit*: one visit on a working day (``visit_weekdays``) drawn uniformly from
      ``[d, d + w)``, made only if the customer has not cured by then, and no other visit
      in the window;
    - *no visit*: no visit in ``[d, d + w)``;

    and after the window both arms get the bank's usual visits, as the history shows them.
    This is the question a visit plan answers: "put this customer on this fortnight's plan,
    or not, the bank working as usual afterwards". A visit that the plan schedules for a
    customer who pays first is cancelled and changes nothing, so a cure before the planned
    day counts for both arms. Later visits are part of both arms, so the effect is smaller
    than "one visit against never being visited"; the simulator reports both
    (``uplift_window`` for this estimand, ``uplift`` for the other).

    ``design`` chooses how the rows identify it:

    ``"trial"`` (recommended; target-trial emulation by *clone-censor-weight*). Every
    eligible row is cloned into both arms (``treatment`` is then the clone's arm). A clone
    is censored on the day the customer's visits stop following its arm: a no-visit clone
    at its first visit in the window, a visit clone at a second visit in the window, at a
    visit on a non-working day, or at the end of the window without a visit or a cure.
    The clones left are weighted by the inverse probability of the visit decisions they
    went through (``weight``): a daily visit-hazard model (LightGBM on every day of the
    window the customer was at risk: the snapshot's features plus the day, weekday, days
    past due and days since the last visit on that day; two folds by customer, so a
    customer's days are scored by a model that never saw them) gives the bank's chance
    ``pi_k`` of a visit on day ``k``; a no-visit clone weighs ``1 / prod(1 - pi_k)``, a
    visit clone visited on day ``v`` weighs ``(1 / N) / (pi_v prod_{k != v}(1 - pi_k))``
    (``N`` working days in the window) and a visit clone that cured unvisited on day
    ``T`` weighs ``(working days in [T, w) / N) / prod_{k < T}(1 - pi_k)``. The weights
    carry both the bank's choice of whom to visit and the censoring, so the weighted cure
    rates of the two arms estimate the two strategies directly (:func:`average_effect`),
    and every learner must receive ``weight`` as its ``sample_weight``. Day-to-day
    staffing is left out of the hazard model on purpose: it moves visits, not cures, and
    conditioning on it would make visits impossible on days when a visit plan still
    schedules them. An eligible row visited twice in the window, or on a non-working
    day, follows neither arm and is counted in
    ``metadata["dropped"]["follows_neither_arm"]``.

    ``"landmark"`` (the default here, because :func:`visitrisk.evaluate` takes only these
    rows; :func:`visitrisk.pipeline.run` and :func:`visitrisk.experiment.run_experiment`
    train on the trial rows and evaluate on these). One row per
    customer still delinquent at the end of the window (the others are counted in
    ``metadata["dropped"]["cured_in_window"]``), ``treatment`` = visited at least once in
    ``[d, d + w)``, weight 1. It removes the immortal-time bias under no effect (the plain
    comparison, which counts a customer who cures on day 3 as "not visited" though they
    could no longer be visited, gives about -7 points on the simulator's null portfolio;
    the landmark gives 0), but it selects on an event the visit itself affects (curing
    inside the window), so under a real effect it estimates no plannable quantity: it
    lands below ``uplift_window`` (see the README).

    Other traps:

    **Leakage.** Features use only rows dated on or before ``d`` (payments, loans
    originated on or before ``d``) and visits before ``d``. Treatment and outcome use only
    what happens from ``d`` on; visits are made during the day, after the state of ``d``
    is known, so a visit on ``d`` itself is treatment, never a feature.

    **Censoring.** A snapshot whose horizon runs past ``data_end`` (``d + horizon >
    data_end``) has unobserved labels: its delinquent customers are dropped and counted in
    ``metadata["dropped"]["censored"]`` (its date in ``metadata["censored_snapshots"]``).

    **Positivity.** Customers flagged ``do_not_visit`` can never be treated: they are left
    out and counted in ``metadata["dropped"]["do_not_visit"]``. In the trial design, the
    Kish effective number of rows per arm (``metadata["effective_rows"]``) shows how far
    the weights stretch the data; it is small when the bank visits some customers almost
    surely or almost never.

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
    design : {"landmark", "trial"}, default "landmark"
        How the rows identify the effect (see above).
    visit_weekdays : str, default "Mon Tue Wed Thu Fri"
        Trial design: the working days on which the visit strategy may place its visit
        (a window without any of them uses all its days).
    random_state : int, default 0
        Trial design: seed of the hazard model and of its folds.
    n_jobs : int, default 1
        Trial design: threads of the hazard model (-1 for all cores).
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
        Rows ordered by snapshot then ``customer_id`` (then arm, for the trial design).

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
    stamps, days, options = _checked_parameters(
        snapshots,
        treatment_window,
        horizon,
        min_dpd,
        design=design,
        visit_weekdays=visit_weekdays,
        random_state=random_state,
        n_jobs=n_jobs,
        exclude_flagged_visits=exclude_flagged_visits,
    )
    end = (
        last_observed_day(portfolio)
        if data_end is None
        else _as_timestamp(data_end, "data_end", _FUNCTION)
    )
    return _training_set(portfolio, stamps, *days, end, **options)


def _checked_parameters(
    snapshots: object,
    treatment_window: object,
    horizon: object,
    min_dpd: object,
    *,
    design: object,
    visit_weekdays: object,
    random_state: object,
    n_jobs: object,
    exclude_flagged_visits: object,
) -> tuple[list[pd.Timestamp], tuple[int, int, int], dict[str, object]]:
    """Check :func:`build_training_set`'s parameters (``visitrisk.spark`` shares them).

    Returns the snapshots, ``(treatment_window, horizon, min_dpd)`` and the keyword
    options of :func:`_training_set`.
    """
    stamps = _snapshot_list(snapshots)
    treatment_window = _positive_days(treatment_window, "treatment_window")
    horizon = _positive_days(horizon, "horizon")
    if horizon < treatment_window:
        raise _param_error(
            "horizon", _FUNCTION, f"at least treatment_window ({treatment_window} days)", horizon
        )
    min_dpd = _check_min_dpd(min_dpd, _FUNCTION)
    if design not in DESIGNS:
        raise _param_error("design", _FUNCTION, f"one of {list(DESIGNS)}", design)
    weekdays = parse_weekdays(visit_weekdays, _FUNCTION)
    if isinstance(n_jobs, bool) or not isinstance(n_jobs, (int, np.integer)) or n_jobs == 0:
        raise _param_error("n_jobs", _FUNCTION, "a non-zero int (threads; -1 for all)", n_jobs)
    if isinstance(random_state, bool) or not isinstance(random_state, (int, np.integer)):
        raise _param_error("random_state", _FUNCTION, "an int (seed)", random_state)
    if not isinstance(exclude_flagged_visits, bool | np.bool_):
        raise _param_error("exclude_flagged_visits", _FUNCTION, "a bool", exclude_flagged_visits)
    options = {
        "design": design,
        "visit_weekdays": visit_weekdays,
        "weekdays": weekdays,
        "random_state": int(random_state),
        "n_jobs": int(n_jobs),
        "exclude_flagged_visits": bool(exclude_flagged_visits),
    }
    return stamps, (treatment_window, horizon, min_dpd), options


def _training_set(
    portfolio: Portfolio,
    stamps: list[pd.Timestamp],
    treatment_window: int,
    horizon: int,
    min_dpd: int,
    end: pd.Timestamp,
    township_counts: pd.DataFrame | None = None,
    *,
    design: str = "landmark",
    visit_weekdays: str = "Mon Tue Wed Thu Fri",
    weekdays: np.ndarray | None = None,
    random_state: int = 0,
    n_jobs: int = 1,
    exclude_flagged_visits: bool = False,
    visit_audit: pd.DataFrame | None = None,
) -> TrainingSet:
    """:func:`build_training_set` after its checks.

    ``township_counts`` (see :func:`visitrisk.features._township_counts_on_dates`) and
    ``visit_audit`` (:func:`visitrisk.audit_visits` of the whole visit log) stand in for
    the portfolio's own when ``portfolio`` holds only some whole customers of a larger one
    (``visitrisk.spark``): a visit's flags depend on other customers' records (an
    officer's visits that day, their outcomes in the branch). ``weekdays`` is
    ``visit_weekdays`` parsed (parsed here when not given).
    """
    if weekdays is None:
        weekdays = parse_weekdays(visit_weekdays, _FUNCTION)
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

    snapshots_out, settled = _features_on_dates(
        book,
        stamps,
        select,
        payments_until=end_day,
        township_counts=township_counts,
        visits_before_day=True,
    )
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
        visits, flagged_excluded = _without_flagged_visits(portfolio, visits, visit_audit)
    first_visit = _next_event_day(
        visits["customer"].to_numpy(), visits["visit_day"].to_numpy(), row_customer, row_stamp
    )
    cure_day = _cure_day(settled, row_customer, row_stamp, end_day)
    features_frame = (
        pd.concat(features, ignore_index=True)
        if features
        else next(iter(snapshots_out)).features.iloc[:0].reset_index(drop=True)
    )
    metadata: dict[str, object] = {
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
        "design": design,
        "flagged_visits_excluded": flagged_excluded,
    }
    if design == "landmark":
        # Landmark at the end of the treatment window: only customers still delinquent on
        # every day of [d, d + w) could be visited on any of those days (see the docstring).
        rows = np.flatnonzero(cure_day >= row_stamp + treatment_window)
        dropped["cured_in_window"] = len(row_stamp) - len(rows)
        arm = (first_visit < row_stamp + treatment_window)[rows]
        weight = np.ones(len(rows))
        metadata["construction"] = "landmark at the end of the treatment window"
    else:
        rows, arm, weight = _emulated_trial(
            features_frame,
            row_customer,
            row_stamp,
            cure_day,
            visits,
            treatment_window=treatment_window,
            horizon=horizon,
            weekdays=weekdays,
            random_state=random_state,
            n_jobs=n_jobs,
            metadata=metadata,
        )
        del dropped["cured_in_window"]  # such rows are in the trial
        dropped["follows_neither_arm"] = len(row_stamp) - len(np.unique(rows))
        metadata["visit_weekdays"] = visit_weekdays
        metadata["construction"] = (
            "emulated trial: clone, censor at the first deviation, weight by the inverse "
            "probability of the visit decisions"
        )
    metadata["dropped"] = dict(dropped)
    row_stamp, row_customer, arrears = row_stamp[rows], row_customer[rows], arrears[rows]
    first_visit, cure_day = first_visit[rows], cure_day[rows]
    cured = cure_day <= row_stamp + horizon
    return TrainingSet(
        X=features_frame.iloc[rows].reset_index(drop=True),
        treatment=pd.Series(arm.astype(np.int8), name="treatment"),
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
        weight=pd.Series(weight.astype(np.float64), name="weight"),
    )


def _emulated_trial(
    features: pd.DataFrame,
    customer: np.ndarray,
    snapshot_day: np.ndarray,
    cure_day: np.ndarray,
    visits: pd.DataFrame,
    *,
    treatment_window: int,
    horizon: int,
    weekdays: np.ndarray,
    random_state: int,
    n_jobs: int,
    metadata: dict[str, object],
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Clone every eligible row into both arms; keep the clones with a positive weight.

    Returns the source row, the arm (1 = visit) and the weight of each clone, ordered by
    source row then arm.
    """
    if len(customer):
        trial = trial_weights(
            features,
            customer,
            snapshot_day,
            np.minimum(cure_day - snapshot_day, horizon + 1),
            visits["customer"].to_numpy(),
            visits["visit_day"].to_numpy(),
            treatment_window=treatment_window,
            weekdays=weekdays,
            random_state=random_state,
            n_jobs=n_jobs,
        )
        if not trial.visit_days:
            raise ValueError(
                "build_training_set(design='trial'): no eligible customer was visited in a "
                "treatment window, so nothing shows what a visit does. Check the visits "
                "table and the snapshots, or use design='landmark'."
            )
        by_arm = (trial.weight_no_visit, trial.weight_visit)
        metadata["hazard_person_days"] = trial.person_days
    else:
        by_arm = (np.zeros(0), np.zeros(0))
        metadata["hazard_person_days"] = 0
    metadata["eligible"] = len(customer)
    metadata["effective_rows"] = {
        name: float(w.sum() ** 2 / (w**2).sum()) if w.any() else 0.0
        for name, w in zip(("no_visit", "visit"), by_arm, strict=True)
    }
    rows = np.concatenate([np.flatnonzero(w > 0) for w in by_arm])
    arm = np.concatenate([np.full(int((w > 0).sum()), a, dtype=bool) for a, w in enumerate(by_arm)])
    weight = np.concatenate([w[w > 0] for w in by_arm])
    order = np.lexsort((arm, rows))
    return rows[order], arm[order], weight[order]


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


def _without_flagged_visits(
    portfolio: Portfolio, visits: pd.DataFrame, visit_audit: pd.DataFrame | None = None
) -> tuple[pd.DataFrame, int]:
    """Drop the book's visit rows that the audit flags; return the rest and how many.

    Book visit rows are positions in ``portfolio.visits``. Without ``visit_audit`` the
    portfolio's own log is audited. With it (the audit of a larger log holding this one),
    a record is flagged when a flagged record has its customer, date, officer and outcome:
    every audit rule reads only those, so identical records share their flags.
    """
    if visit_audit is None:
        from visitrisk.audit import audit_visits

        flagged_index = audit_visits(portfolio)["visit_index"].unique()
        flagged_rows = portfolio.visits.index.get_indexer(flagged_index)
    else:
        keys = _visit_keys(portfolio.visits)
        flagged_rows = np.flatnonzero(keys.isin(_visit_keys(visit_audit)))
    flagged = np.isin(visits.index.to_numpy(), flagged_rows)
    return visits.loc[~flagged], int(flagged.sum())


def _visit_keys(records: pd.DataFrame) -> pd.MultiIndex:
    """Key visit records by customer, day, officer and outcome (blanks as one sentinel)."""
    day = pd.to_datetime(records["visit_date"]).to_numpy().astype("datetime64[D]")
    text = [
        records[column].astype("str").where(records[column].notna(), "\x00").to_numpy()
        for column in ("customer_id", "officer_id", "outcome")
    ]
    return pd.MultiIndex.from_arrays([text[0], day.astype(np.int64), text[1], text[2]])


def average_effect(
    training_set: TrainingSet, n_bootstrap: int = 300, seed: int = 0
) -> dict[str, float]:
    """Average effect of the emulated trial's visit strategy, with a bootstrap 95 % interval.

    The weighted cure rate of the visit arm minus that of the no-visit arm (each arm's
    weights normalised to sum to 1, a Hajek estimator). With the trial design
    (``build_training_set(..., design="trial")``) the weights hold both the bank's
    choice of whom to visit and the censoring of the clones, so this difference estimates
    the average uplift of the eligible rows: ``P(cured by the horizon | one visit on a
    uniformly drawn working day of the window) - P(cured by the horizon | no visit in the
    window)``, the bank's usual visits after the window in both (see
    :func:`build_training_set`). On the landmark design (weights 1) it is the plain,
    confounded difference. The interval resamples whole customers (all their rows and
    clones together) with the weights held fixed, so it leaves out the uncertainty of the
    fitted visit-hazard model.

    Parameters
    ----------
    training_set : TrainingSet
        Rows with ``treatment``, ``cured`` and ``weight``.
    n_bootstrap : int, default 300
        Bootstrap replicates.
    seed : int, default 0
        Seed of the resampling.

    Returns
    -------
    dict
        ``effect``, ``low`` and ``high`` (probability units), ``standard_error``
        (bootstrap standard deviation) and the two arms' weighted cure rates
        ``cure_rate_visit`` and ``cure_rate_no_visit``.
    """
    treatment = training_set.treatment.to_numpy() == 1
    cured = training_set.cured.to_numpy().astype(np.float64)
    weight = training_set.weight.to_numpy(np.float64)
    if not (treatment.any() and (~treatment).any()):
        raise ValueError("average_effect needs rows in both arms (treatment 0 and 1).")
    _, customer = np.unique(training_set.customer_id.to_numpy(), return_inverse=True)
    n_customers = int(customer.max()) + 1

    def rates(multiplier: np.ndarray) -> tuple[float, float]:
        w = weight * multiplier
        return (
            float(w[treatment] @ cured[treatment] / w[treatment].sum()),
            float(w[~treatment] @ cured[~treatment] / w[~treatment].sum()),
        )

    visit, no_visit = rates(np.ones(len(weight)))
    rng = np.random.default_rng(seed)
    draws = np.array(
        [
            np.subtract(
                *rates(
                    rng.multinomial(n_customers, np.full(n_customers, 1 / n_customers))[customer]
                )
            )
            for _ in range(n_bootstrap)
        ]
    )
    low, high = np.percentile(draws, [2.5, 97.5])
    return {
        "effect": visit - no_visit,
        "low": float(low),
        "high": float(high),
        "standard_error": float(draws.std(ddof=1)),
        "cure_rate_visit": visit,
        "cure_rate_no_visit": no_visit,
    }
