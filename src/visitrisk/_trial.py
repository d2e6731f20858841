"""Clone-censor-weight rows for the emulated visit trial (see ``build_training_set``).

Every eligible row (a customer delinquent and visitable on snapshot ``d``) is followed day
by day through the treatment window. Day ``k`` (``d + k``) runs in this order: a cure
(days past due back to 0) may happen during the day, for ``k >= 1``; a visit is made at
the end of the day, and only to a customer still delinquent then. So the visit decisions
the strategies speak about are those of the at-risk days ``0 <= k < min(cure, window)``.

The two strategies compared:

- **visit**: on a working day ``U`` drawn uniformly from the working days of
  ``[d, d + treatment_window)`` one visit is made, unless the customer has cured before;
  no other visit in the window;
- **no visit**: no visit in the window.

After the window both arms get the bank's usual visits: nothing is censored there.

Each row is cloned into both arms; a clone is censored on the day its observed visits stop
agreeing with its arm, and the clones that remain are weighted by the ratio of the
strategy's probability of the observed visit decisions to the bank's (a daily visit-hazard
model fitted on the at-risk days, cross-fitted by customer). With ``q_k`` the strategy's
chance of visiting on day ``k`` (``1 / remaining working days`` of the window) and
``pi_k`` the bank's:

- no-visit clone, never visited while at risk: ``1 / prod(1 - pi_k)``;
- visit clone, visited once on working day ``v`` of the window and never again while at
  risk: ``(1 / N) / (pi_v * prod_{k != v}(1 - pi_k))`` (``N`` working days);
- visit clone, never visited and cured on day ``T`` inside the window: ``(working days in
  [T, window) / N) / prod_{k < T}(1 - pi_k)``: the planned visit would have come too late.

Every other clone has weight 0 and is left out.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from visitrisk._book import _NEVER
from visitrisk._feature_groups import _next_event_day, _previous_event_day

__all__: list[str] = []

#: 1970-01-01 (day 0) was a Thursday: Monday is 0 after this shift.
_EPOCH_WEEKDAY = 3
_WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
#: Bounds of the fitted daily visit chance: a working day of a delinquent customer is never
#: quite certain to bring (or not bring) a visit, and a clipped chance keeps weights finite.
_HAZARD_CLIP = (1e-4, 0.95)
#: Person-days fitted at most per fold (visit days are all kept, the rest sampled and
#: weighted). Fitting time grows with it; beyond a few hundred thousand the chances barely
#: move: on 200,000 customers x 12 snapshots (bench_features) 300,000 instead of 600,000
#: cut the hazard model's CPU time from 44 s to 31 s, changed the weights by 0.09 % (median)
#: and the average effect from -0.0021 to -0.0022.
_MAX_FIT_DAYS = 300_000
_PREDICT_CHUNK = 400_000

#: LightGBM settings of the hazard model. Weights divide by these chances, so calibration
#: at the extremes matters more than ranking: shallow trees, strong regularisation.
HAZARD_PARAMS = {
    "n_estimators": 150,
    "learning_rate": 0.05,
    "num_leaves": 15,
    "min_child_samples": 500,
    "reg_lambda": 10.0,
    "subsample": 0.8,
    "subsample_freq": 1,
    "colsample_bytree": 0.8,
}
#: Columns the hazard model sees besides the snapshot's features (all known on day d + k).
TIME_VARYING = (
    "trial_day",
    "trial_weekday",
    "trial_day_of_month",
    "trial_days_past_due",
    "trial_days_since_visit",
    "trial_visits_since_snapshot",
)


def weekday(day: np.ndarray) -> np.ndarray:
    """Weekday of day numbers (days since 1970-01-01), Monday = 0."""
    return (np.asarray(day) + _EPOCH_WEEKDAY) % 7


def parse_weekdays(value: object, function: str) -> np.ndarray:
    """Boolean mask (Mon..Sun) from a string such as ``"Mon Tue Wed Thu Fri"``."""
    names = value.split() if isinstance(value, str) else None
    if not names or any(name not in _WEEKDAYS for name in names):
        raise ValueError(
            f"The 'visit_weekdays' parameter of {function} must be weekday names separated "
            f"by spaces, e.g. 'Mon Tue Wed Thu Fri'. Got {value!r} instead."
        )
    mask = np.zeros(7, dtype=bool)
    mask[[_WEEKDAYS.index(name) for name in names]] = True
    return mask


@dataclass(frozen=True)
class TrialRows:
    """Weights of every eligible row in both arms, and how the hazard model was fitted."""

    weight_visit: np.ndarray
    weight_no_visit: np.ndarray
    person_days: int
    visit_days: int


def _window_schedule(
    snapshot_day: np.ndarray, treatment_window: int, weekdays: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Working-day mask of each row's window (rows x window) and its count per row.

    A window without any working day makes every one of its days a working day, as the
    simulator's ground truth does.
    """
    days = snapshot_day[:, None] + np.arange(treatment_window)
    working = weekdays[weekday(days)]
    working[~working.any(axis=1)] = True
    return working, working.sum(axis=1)


def trial_weights(
    features: pd.DataFrame,
    customer: np.ndarray,
    snapshot_day: np.ndarray,
    cure_offset: np.ndarray,
    visit_customer: np.ndarray,
    visit_day: np.ndarray,
    *,
    treatment_window: int,
    weekdays: np.ndarray,
    random_state: int,
    n_jobs: int,
) -> TrialRows:
    """Clone-censor weights of every row in both arms (see the module docstring).

    Parameters
    ----------
    features : pandas.DataFrame
        Features of each row as of its snapshot.
    customer, snapshot_day : numpy.ndarray
        Customer code and snapshot day number of each row.
    cure_offset : numpy.ndarray
        Days from the snapshot to the cure (any value >= the window when none in it).
    visit_customer, visit_day : numpy.ndarray
        The visit log as customer codes and day numbers (any order, duplicates allowed).
    """
    n_rows = len(customer)
    # Only the window's visit decisions are part of the strategies: afterwards both arms
    # get the bank's usual visits, so nothing after the window is censored or weighted.
    at_risk_end = np.minimum(cure_offset, treatment_window)  # at-risk days: 0 .. end - 1
    none = treatment_window + 1
    first = _next_event_day(visit_customer, visit_day, customer, snapshot_day) - snapshot_day
    first = np.where(first < at_risk_end, first, none)
    second = _next_event_day(visit_customer, visit_day, customer, snapshot_day + first + 1)
    second = second - snapshot_day
    second = np.where((first < none) & (second < at_risk_end), second, none)
    # Follow each row until the risk ends or a second visit (both arms have left by then).
    follow = np.minimum(at_risk_end, second + 1)

    row = np.repeat(np.arange(n_rows), follow)
    start = np.cumsum(follow) - follow
    day_k = np.arange(len(row)) - start[row]
    today = snapshot_day[row] + day_k
    visited_today = (day_k == first[row]) | (day_k == second[row])
    previous = _previous_event_day(visit_customer, visit_day, customer[row], today - 1)
    since_visit = np.where(previous > -_NEVER, today - previous, np.nan)
    dpd = features["days_past_due"].to_numpy(np.float64)[row] + day_k
    calendar_day = today.astype("datetime64[D]")
    # One float64 column per TIME_VARYING name, in that order (person-days x 6).
    time_varying = np.column_stack(
        [
            day_k.astype(np.float64),
            weekday(today).astype(np.float64),
            (calendar_day - calendar_day.astype("datetime64[M]")).astype(np.float64) + 1,
            dpd,
            since_visit,
            (day_k > first[row]) * 1.0,
        ]
    )
    hazard = _cross_fitted_hazard(
        _HazardInputs.of(features, time_varying),
        row,
        customer,
        visited_today,
        random_state,
        n_jobs,
    )
    hazard = np.clip(hazard, *_HAZARD_CLIP)

    log_stay = np.log1p(-hazard)
    total_stay = np.bincount(row, weights=log_stay, minlength=n_rows)
    # The first visit's own chance replaces its day's "no visit" term.
    at_first = day_k == first[row]
    log_first = np.zeros(n_rows)
    log_first[row[at_first]] = np.log(hazard[at_first])
    stay_first = np.zeros(n_rows)
    stay_first[row[at_first]] = log_stay[at_first]

    working, n_working = _window_schedule(snapshot_day, treatment_window, weekdays)
    # Working days of the window still ahead on day k: the strategy's remaining choices.
    remaining = np.concatenate(
        [np.cumsum(working[:, ::-1], axis=1)[:, ::-1], np.zeros((n_rows, 1), dtype=np.int64)],
        axis=1,
    )
    never_visited = first == none
    twice = second < none

    weight_no_visit = np.where(never_visited, np.exp(-total_stay), 0.0)
    cured_in_window = never_visited & (at_risk_end < treatment_window)
    still_planned = remaining[np.arange(n_rows), at_risk_end]
    weight_visit = np.where(cured_in_window, still_planned / n_working * np.exp(-total_stay), 0.0)
    first_in_window = np.minimum(first, treatment_window - 1)
    on_working_day = (first < treatment_window) & working[np.arange(n_rows), first_in_window]
    once = ~never_visited & ~twice & on_working_day
    # Drop the first visit's "stay" term and use its chance instead.
    log_visited = total_stay - stay_first + log_first
    weight_visit = np.where(once, np.exp(-log_visited) / n_working, weight_visit)
    return TrialRows(
        weight_visit=weight_visit,
        weight_no_visit=weight_no_visit,
        person_days=len(row),
        visit_days=int(visited_today.sum()),
    )


@dataclass(frozen=True)
class _HazardInputs:
    """The hazard model's columns as float64 arrays, as LightGBM reads a DataFrame.

    LightGBM turns a DataFrame into one float64 matrix (categories as their codes, -1 as
    NaN) at every fit and prediction; with millions of person-days that copy and the
    row selection in pandas cost as much as the trees. Here the snapshot features are
    converted once, per row, and each block of person-days is two NumPy row takes: the
    same numbers, so the same model and chances.
    """

    snapshot: np.ndarray  # rows x features
    time_varying: np.ndarray  # person-days x len(TIME_VARYING)
    categorical: list[int]  # positions of the unordered categorical features

    @classmethod
    def of(cls, features: pd.DataFrame, time_varying: np.ndarray) -> _HazardInputs:
        columns, categorical = [], []
        for position, column in enumerate(features.columns):
            values = features[column]
            if isinstance(values.dtype, pd.CategoricalDtype):
                codes = values.cat.codes.to_numpy().astype(np.float64)
                codes[codes < 0] = np.nan
                columns.append(codes)
                if not values.dtype.ordered:  # LightGBM's "auto": unordered ones only
                    categorical.append(position)
            else:
                columns.append(values.to_numpy(dtype=np.float64, na_value=np.nan))
        snapshot = np.column_stack(columns) if columns else np.empty((len(features), 0))
        return cls(
            snapshot=np.ascontiguousarray(snapshot),
            time_varying=time_varying,
            categorical=categorical,
        )

    @property
    def n_columns(self) -> int:
        """Columns of a person-day: the snapshot's features, then TIME_VARYING."""
        return self.snapshot.shape[1] + self.time_varying.shape[1]

    def person_days(
        self, row: np.ndarray, days: np.ndarray, buffer: np.ndarray | None = None
    ) -> np.ndarray:
        """Matrix of the person-days ``days`` (``row`` maps each person-day to its row).

        Written into the first rows of ``buffer`` when given: reusing one block spares
        the kernel mapping fresh pages for every chunk.
        """
        n_snapshot = self.snapshot.shape[1]
        if buffer is None:
            buffer = np.empty((len(days), self.n_columns))
        block = buffer[: len(days)]
        np.take(self.snapshot, row[days], axis=0, out=block[:, :n_snapshot])
        np.take(self.time_varying, days, axis=0, out=block[:, n_snapshot:])
        return block


def _cross_fitted_hazard(
    inputs: _HazardInputs,
    row: np.ndarray,
    customer: np.ndarray,
    visited: np.ndarray,
    random_state: int,
    n_jobs: int,
) -> np.ndarray:
    """Daily visit chance of every person-day, from a model fitted on the other customers.

    Two folds by customer: a customer's days are never scored by a model that saw them.
    Fitting keeps every visit day and a random sample of the other days (weighted by the
    inverse sampling rate, so the chances stay calibrated). Nothing about the branch's
    staffing that day enters the model: it moves visits but not cures (an instrument),
    and conditioning on it would make visits impossible on days the strategy uses
    (measured on the simulator: the null estimate moved from about 0 to +0.2).
    """
    import lightgbm as lgb

    rng = np.random.default_rng(random_state)
    fold_of_customer = rng.integers(0, 2, int(customer.max(initial=0)) + 1)
    fold = fold_of_customer[customer[row]]
    hazard = np.zeros(len(row))
    # One block of person-days, reused by every prediction chunk.
    buffer = np.empty((min(_PREDICT_CHUNK, len(row)), inputs.n_columns))
    for k in (0, 1):
        train = np.flatnonzero(fold != k)
        events = train[visited[train]]
        quiet = train[~visited[train]]
        rate = min(1.0, max(_MAX_FIT_DAYS - len(events), 1) / max(len(quiet), 1))
        sampled = quiet[rng.random(len(quiet)) < rate]
        chosen = np.sort(np.concatenate([events, sampled]))
        sample_weight = np.where(visited[chosen], 1.0, 1.0 / rate)
        model = lgb.LGBMClassifier(
            **HAZARD_PARAMS, n_jobs=n_jobs, random_state=random_state + k, verbose=-1
        )
        model.fit(
            inputs.person_days(row, chosen),
            visited[chosen].astype(np.int8),
            sample_weight=sample_weight,
            categorical_feature=inputs.categorical,
        )
        scored = np.flatnonzero(fold == k)
        for lo in range(0, len(scored), _PREDICT_CHUNK):
            chunk = scored[lo : lo + _PREDICT_CHUNK]
            hazard[chunk] = model.predict_proba(inputs.person_days(row, chunk, buffer))[:, 1]
    return hazard
