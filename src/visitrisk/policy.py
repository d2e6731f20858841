r"""What would visiting the top *k* customers achieve? Estimates from a visit log.

Visits in a log were chosen by officers, so comparing visited with non-visited customers
mixes the visit's effect with the officers' choice. Every estimate here averages
per-row pseudo-outcomes :math:`\Gamma_i` (:func:`visitrisk.nuisance.pseudo_outcomes`:
inverse-propensity weighted, or doubly-robust AIPW) whose expectation given the features is
the row's uplift :math:`\tau_i`:

- :func:`policy_value`: incremental cures (and value) of visiting the top *k* by score;
- :func:`average_treatment_effect`: the average effect of a visit;
- :func:`uplift_calibration`: predicted against estimated uplift by decile.

Intervals come from a vectorised bootstrap over whole customers of the pseudo-outcomes;
the nuisance models are fitted once (cross-fitted) and never refitted per replicate.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from visitrisk._checks import (
    capacity_label,
    finite,
    nuisance_frame,
    one_dimensional,
    same_length,
    validate_uplift_inputs,
)
from visitrisk.nuisance import pseudo_outcomes

__all__ = ["average_treatment_effect", "policy_value", "uplift_calibration"]


def _visit_count(k: float | int, n_rows: int) -> int:
    kind = np.asarray(k).dtype.kind
    if np.ndim(k) != 0 or kind not in "iuf":
        raise ValueError(f"k must be a share in (0, 1] or a count of rows; got {k!r}.")
    if kind == "f":
        if not 0 < k <= 1:
            raise ValueError(f"A share k must lie in (0, 1]; got {k}.")
        # The epsilon keeps 0.29 * 100 at 29 visits despite binary floating point.
        visits = int(np.floor(k * n_rows + 1e-9))
        if visits == 0:
            raise ValueError(f"A share k={k} of {n_rows} rows is 0 visits; give a larger k.")
        return visits
    if not 0 < k <= n_rows:
        raise ValueError(f"A count k must lie in [1, {n_rows}] (the number of rows); got {k}.")
    return int(k)


def _top_k_share(score: np.ndarray, n_visits: int) -> np.ndarray:
    """Visit probability per row under "visit the n_visits highest scores".

    A tie group straddling the cut-off shares the remaining visits equally (a random
    tie-break in expectation), so the policy never depends on row order.
    """
    _, level_of_row, level_size = np.unique(-score, return_inverse=True, return_counts=True)
    rows_above = np.cumsum(level_size) - level_size
    share = np.clip((n_visits - rows_above) / level_size, 0.0, 1.0)
    return share[level_of_row]


def _bootstrap_sums(
    contributions: np.ndarray,
    groups: ArrayLike | None,
    n_boot: int,
    random_state: int | None,
) -> np.ndarray:
    """Column sums of ``contributions`` over ``n_boot`` resamples of whole groups.

    Vectorised: per-group sums are formed once; each replicate is then a vector of draw
    counts per group (multinomial, as in the ordinary bootstrap) times that matrix,
    computed in chunks of replicates to bound memory (about 4 million counts a chunk).
    """
    if not isinstance(n_boot, int | np.integer) or n_boot < 2:
        raise ValueError(f"The 'n_boot' parameter must be an int >= 2. Got {n_boot!r} instead.")
    n_rows = len(contributions)
    if groups is None:
        codes = np.arange(n_rows)
    else:
        labels = one_dimensional(groups, "groups")
        if len(labels) != n_rows:
            raise ValueError(f"groups must have one label per row; got {len(labels)}/{n_rows}.")
        codes = pd.factorize(labels, sort=True)[0]
        if (codes < 0).any():
            rows = np.flatnonzero(codes < 0)[:5].tolist()
            raise ValueError(f"groups has missing labels, e.g. positions {rows}.")
    n_groups = int(codes.max()) + 1
    per_group = np.column_stack(
        [np.bincount(codes, weights=column, minlength=n_groups) for column in contributions.T]
    )
    rng = np.random.default_rng(random_state)
    chunk = max(1, 4_000_000 // n_groups)
    draws = []
    for start in range(0, n_boot, chunk):  # a loop over chunks of replicates, not rows
        size = min(chunk, n_boot - start)
        # Each replicate draws n_groups groups with replacement; counting the draws per
        # group (one bincount over all replicates, offset per replicate) gives its weights.
        picked = rng.integers(0, n_groups, size=(size, n_groups), dtype=np.int32)
        picked += (np.arange(size, dtype=np.int32) * n_groups)[:, None]
        counts = np.bincount(picked.ravel(), minlength=size * n_groups).reshape(size, n_groups)
        draws.append(counts.astype(float) @ per_group)
    return np.vstack(draws)


def _hajek_columns(
    policies: np.ndarray, outcome_value: np.ndarray, arm: np.ndarray, propensity: pd.Series
) -> np.ndarray:
    """Return the sums behind each policy's self-normalised IPW value (5 columns a policy).

    Per policy: its visits ``sum pi``, then the weighted outcome and the weight of each arm.
    """
    propensity = propensity.to_numpy(dtype=float)
    visited = arm / propensity
    not_visited = (1 - arm) / (1 - propensity)
    blocks = [
        policies,
        policies * (visited * outcome_value)[:, None],
        policies * visited[:, None],
        policies * (not_visited * outcome_value)[:, None],
        policies * not_visited[:, None],
    ]
    # Interleave so that policy j owns columns 5j .. 5j + 4.
    return np.stack(blocks, axis=2).reshape(len(arm), -1)


def _policy_estimates(sums: np.ndarray, estimators: list[tuple[str, int, int]]) -> np.ndarray:
    """Turn column sums (one row per replicate) into one estimate per policy and quantity.

    A DR block already holds one summed contribution per policy. An IPW block holds, per
    policy, 5 sums; its estimate is ``visits x (weighted mean outcome of the visited -
    weighted mean outcome of the others)`` among the policy's rows, NaN when an arm is empty.
    """
    estimates = []
    for method, first, n_policies in estimators:
        if method == "dr":
            estimates.append(sums[:, first : first + n_policies])
            continue
        block = sums[:, first : first + 5 * n_policies].reshape(len(sums), n_policies, 5)
        visits, visited_sum, visited_weight, other_sum, other_weight = np.moveaxis(block, 2, 0)
        with np.errstate(invalid="ignore", divide="ignore"):
            difference = visited_sum / visited_weight - other_sum / other_weight
        estimates.append(visits * difference)
    return np.hstack(estimates)


def _interval(draws: np.ndarray, confidence: float) -> tuple[np.ndarray, np.ndarray]:
    tail = 100 * (1 - confidence) / 2
    low, high = np.nanpercentile(draws, [tail, 100 - tail], axis=0)
    return low, high


def _check_confidence(confidence: float) -> None:
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must lie in (0, 1); got {confidence!r}.")


def policy_value(
    y_true: ArrayLike,
    uplift: ArrayLike,
    treatment: ArrayLike,
    nuisances: pd.DataFrame | ArrayLike,
    k: float | int | list[float | int] | tuple[float | int, ...],
    *,
    value: ArrayLike | None = None,
    groups: ArrayLike | None = None,
    methods: tuple[str, ...] = ("ipw", "dr"),
    n_boot: int = 1000,
    confidence: float = 0.95,
    random_state: int | None = 0,
) -> pd.DataFrame:
    r"""Value of visiting the top *k* customers by score, relative to visiting no one.

    The policy :math:`\pi_k` visits the :math:`k` highest scores (a tie group straddling
    the cut-off shares the remaining visits: :math:`\pi_i \in [0, 1]`). Its effect is
    :math:`\sum_i \pi_i \tau_i`, estimated by

    - ``"dr"``: :math:`\hat V(\pi_k) = \sum_i \pi_i\,\Gamma_i` and
      :math:`\hat V_v(\pi_k) = \sum_i \pi_i\,v_i\,\Gamma_i`, with :math:`\Gamma_i` the
      AIPW pseudo-outcome of :func:`visitrisk.nuisance.pseudo_outcomes` and :math:`v_i` the
      value at stake;
    - ``"ipw"``: the self-normalised (Hajek) form :math:`\hat V(\pi_k) = (\sum_i \pi_i)
      \left(\frac{\sum_i \pi_i t_i y_i / e_i}{\sum_i \pi_i t_i / e_i} -
      \frac{\sum_i \pi_i (1-t_i) y_i / (1-e_i)}{\sum_i \pi_i (1-t_i) / (1-e_i)}\right)`,
      with :math:`y_i v_i` in place of :math:`y_i` for :math:`\hat V_v`. The plain
      (Horvitz-Thompson) sum :math:`\sum_i \pi_i \Gamma^{IPW}_i` is unbiased only when
      the propensity is right on the policy's own rows; a ranking that favours rows where
      the propensity is a little low inflates its visited arm's weights, and arrears
      (heavy-tailed) multiply that error. Normalising each arm's weights removes the
      scale error; the estimate is NaN when the policy's rows hold no visited or no
      non-visited row.

    :math:`\hat V` is in incremental cures, :math:`\hat V_v` in the currency of ``value``.

    Intervals are percentile bootstrap intervals over resamples of whole groups
    (customers). The bootstrap resamples the pseudo-outcomes: the nuisance models are not
    refitted per replicate (that would multiply the cost by ``n_boot``), and the ranking is
    held fixed. Cross-fitting keeps the pseudo-outcomes out of sample, which makes this a
    standard approximation for AIPW; it ignores the nuisance models' own estimation
    noise, which cross-fitted AIPW makes asymptotically negligible.

    Parameters
    ----------
    y_true : array-like of {0, 1}, shape (n_rows,)
        Outcome (1 = cured).
    uplift : array-like of float, shape (n_rows,)
        Predicted uplift (the ranking score).
    treatment : array-like of {0, 1}, shape (n_rows,)
        1 = visited.
    nuisances : pandas.DataFrame or array-like
        Out-of-fold ``propensity`` (and ``mu0``, ``mu1`` for ``"dr"``), one row per row,
        e.g. from :func:`visitrisk.nuisance.fit_nuisances`; a bare vector is taken as the
        propensity (IPW only).
    k : float, int or sequence of them
        Capacity: a share of rows in (0, 1] (rounded down) or a count of visits.
    value : array-like of float, shape (n_rows,), optional
        Value at stake per row (CNY, e.g. arrears); adds value-weighted columns.
    groups : array-like, shape (n_rows,), optional
        Customer id per row; the bootstrap resamples whole customers.
    methods : tuple of {"ipw", "dr"}, default ("ipw", "dr")
        Estimators to report.
    n_boot : int, default 1000
        Bootstrap replicates.
    confidence : float, default 0.95
        Coverage of the intervals.
    random_state : int or None, default 0
        Seed of the bootstrap.

    Returns
    -------
    pandas.DataFrame
        One row per (method, k), columns ``method``, ``k``, ``capacity`` (label such as
        ``"20pct"``), ``n_visits``, ``incremental_cures``, ``incremental_cures_se``,
        ``incremental_cures_ci_low``, ``incremental_cures_ci_high``, ``cures_per_visit``
        and, with ``value``, ``incremental_value`` with the same ``_se``/``_ci_*`` columns.
    """
    outcome, score, arm, _ = validate_uplift_inputs(y_true, uplift, treatment)
    frame = nuisance_frame(nuisances, len(outcome))
    _check_confidence(confidence)
    capacities = list(k) if isinstance(k, list | tuple) else [k]
    if not capacities:
        raise ValueError("k must hold at least one capacity.")
    unknown = [method for method in methods if method not in ("ipw", "dr")]
    if unknown or not methods:
        raise ValueError(f"methods must be a non-empty subset of ('ipw', 'dr'); got {methods!r}.")
    weight = None
    if value is not None:
        weight = finite(one_dimensional(value, "value"), "value")
        same_length(y_true=outcome, value=weight)

    visit_counts = [_visit_count(capacity, len(outcome)) for capacity in capacities]
    policies = np.column_stack([_top_k_share(score, count) for count in visit_counts])
    # Each quantity: its outcome (for IPW) and the scale of the DR pseudo-outcome.
    quantities = [("incremental_cures", outcome.astype(float), 1.0)]
    if weight is not None:
        quantities.append(("incremental_value", weight * outcome, weight))
    dr_gamma = pseudo_outcomes(outcome, arm, frame, "dr") if "dr" in methods else None
    columns, keys, estimators = [], [], []
    for method in methods:
        for quantity, outcome_value, scale in quantities:
            first = sum(block.shape[1] for block in columns)
            if method == "dr":
                columns.append(policies * (scale * dr_gamma)[:, None])
            else:
                columns.append(_hajek_columns(policies, outcome_value, arm, frame["propensity"]))
            keys += [(method, j, quantity) for j in range(len(capacities))]
            estimators.append((method, first, len(capacities)))
    contributions = np.hstack(columns)
    draws = _bootstrap_sums(contributions, groups, n_boot, random_state)
    estimates = _policy_estimates(contributions.sum(axis=0)[None, :], estimators)[0]
    replicates = _policy_estimates(draws, estimators)
    with warnings.catch_warnings():
        # An IPW estimate left NaN (an empty arm) stays NaN in its interval, without noise.
        warnings.simplefilter("ignore", RuntimeWarning)
        low, high = _interval(replicates, confidence)
        spread = np.nanstd(replicates, axis=0, ddof=1)

    records: dict[tuple[str, int], dict[str, object]] = {}
    for position, (method, j, quantity) in enumerate(keys):
        record = records.setdefault(
            (method, j),
            {
                "method": method,
                "k": capacities[j],
                "capacity": capacity_label(capacities[j]),
                "n_visits": visit_counts[j],
            },
        )
        record[quantity] = estimates[position]
        record[f"{quantity}_se"] = spread[position]
        record[f"{quantity}_ci_low"] = low[position]
        record[f"{quantity}_ci_high"] = high[position]
        if quantity == "incremental_cures":
            record["cures_per_visit"] = estimates[position] / visit_counts[j]
    return pd.DataFrame(list(records.values()))


def average_treatment_effect(
    y_true: ArrayLike,
    treatment: ArrayLike,
    nuisances: pd.DataFrame | ArrayLike,
    *,
    groups: ArrayLike | None = None,
    method: str = "dr",
    n_boot: int = 1000,
    confidence: float = 0.95,
    random_state: int | None = 0,
) -> pd.Series:
    r"""Average effect of a visit on the cure probability, with a bootstrap interval.

    .. math:: \widehat{ATE} = \frac{1}{N} \sum_i \Gamma_i

    with :math:`\Gamma_i` the AIPW (``"dr"``) or IPW pseudo-outcome
    (:func:`visitrisk.nuisance.pseudo_outcomes`). The interval is a percentile bootstrap
    over whole groups of the pseudo-outcomes (nuisances are not refitted per replicate).

    Parameters
    ----------
    y_true : array-like of {0, 1}, shape (n_rows,)
        Outcome (1 = cured).
    treatment : array-like of {0, 1}, shape (n_rows,)
        1 = visited.
    nuisances : pandas.DataFrame or array-like
        As in :func:`policy_value`.
    groups : array-like, shape (n_rows,), optional
        Customer id per row, resampled whole.
    method : {"dr", "ipw"}, default "dr"
        Estimator.
    n_boot : int, default 1000
        Bootstrap replicates.
    confidence : float, default 0.95
        Coverage of the interval.
    random_state : int or None, default 0
        Seed of the bootstrap.

    Returns
    -------
    pandas.Series
        ``estimate``, ``se``, ``ci_low``, ``ci_high`` (probability units), named
        ``ate_<method>``.
    """
    outcome, _, arm, _ = validate_uplift_inputs(y_true, None, treatment)
    frame = nuisance_frame(nuisances, len(outcome))
    _check_confidence(confidence)
    gamma = pseudo_outcomes(outcome, arm, frame, method)
    draws = _bootstrap_sums(
        np.column_stack([gamma, np.ones_like(gamma)]), groups, n_boot, random_state
    )
    ratios = draws[:, 0] / draws[:, 1]
    low, high = _interval(ratios, confidence)
    return pd.Series(
        {
            "estimate": float(gamma.mean()),
            "se": float(ratios.std(ddof=1)),
            "ci_low": float(low),
            "ci_high": float(high),
        },
        name=f"ate_{method}",
    )


def _bins_by_score(score: np.ndarray, n_bins: int) -> np.ndarray:
    # Quantile edges; a tie never spans two bins, and bins left empty by ties are dropped.
    edges = np.unique(np.quantile(score, np.linspace(0, 1, n_bins + 1)[1:-1]))
    raw = np.searchsorted(edges, score, side="right")
    return np.unique(raw, return_inverse=True)[1]


def uplift_calibration(
    y_true: ArrayLike,
    uplift: ArrayLike,
    treatment: ArrayLike,
    nuisances: pd.DataFrame | ArrayLike,
    *,
    groups: ArrayLike | None = None,
    n_bins: int = 10,
    method: str = "dr",
    n_boot: int = 1000,
    confidence: float = 0.95,
    random_state: int | None = 0,
) -> pd.DataFrame:
    r"""Predicted against estimated uplift by bin of predicted uplift (deciles by default).

    Rows are binned at quantiles of the predicted uplift (ties stay in one bin, so fewer
    bins appear when scores tie heavily). Per bin :math:`b`:

    .. math:: \text{predicted}_b = \frac{1}{|b|}\sum_{i\in b} \hat\tau_i, \qquad
              \text{observed}_b = \frac{1}{|b|}\sum_{i\in b} \Gamma_i

    with :math:`\Gamma` the AIPW (or IPW) pseudo-outcome. A calibrated model has
    observed close to predicted in every bin. Intervals: percentile bootstrap of the bin
    ratio over whole groups, nuisances not refitted.

    Parameters
    ----------
    y_true : array-like of {0, 1}, shape (n_rows,)
        Outcome (1 = cured).
    uplift : array-like of float, shape (n_rows,)
        Predicted uplift (probability units).
    treatment : array-like of {0, 1}, shape (n_rows,)
        1 = visited.
    nuisances : pandas.DataFrame or array-like
        As in :func:`policy_value`.
    groups : array-like, shape (n_rows,), optional
        Customer id per row, resampled whole.
    n_bins : int, default 10
        Number of quantile bins.
    method : {"dr", "ipw"}, default "dr"
        Estimator of the observed uplift.
    n_boot : int, default 1000
        Bootstrap replicates.
    confidence : float, default 0.95
        Coverage of the intervals.
    random_state : int or None, default 0
        Seed of the bootstrap.

    Returns
    -------
    pandas.DataFrame
        One row per bin, lowest predicted uplift first: ``bin`` (1-based), ``n_rows``,
        ``uplift_min``, ``uplift_max``, ``predicted_uplift``, ``observed_uplift``,
        ``observed_se``, ``observed_ci_low``, ``observed_ci_high``.
    """
    outcome, score, arm, _ = validate_uplift_inputs(y_true, uplift, treatment)
    frame = nuisance_frame(nuisances, len(outcome))
    _check_confidence(confidence)
    if not isinstance(n_bins, int | np.integer) or n_bins < 1:
        raise ValueError(f"The 'n_bins' parameter must be a positive int. Got {n_bins!r}.")
    gamma = pseudo_outcomes(outcome, arm, frame, method)
    bins = _bins_by_score(score, n_bins)
    membership = (bins[:, None] == np.arange(bins.max() + 1)[None, :]).astype(float)
    contributions = np.hstack([membership * gamma[:, None], membership])
    draws = _bootstrap_sums(contributions, groups, n_boot, random_state)
    n_found = membership.shape[1]
    with np.errstate(divide="ignore", invalid="ignore"):
        ratios = draws[:, :n_found] / draws[:, n_found:]
    # A bin can be absent from a replicate; its ratio there is undefined, not zero.
    low, high = np.nanpercentile(
        ratios, [100 * (1 - confidence) / 2, 100 * (1 + confidence) / 2], axis=0
    )
    table = (
        pd.DataFrame({"bin": bins + 1, "uplift": score, "gamma": gamma})
        .groupby("bin")
        .agg(
            n_rows=("uplift", "size"),
            uplift_min=("uplift", "min"),
            uplift_max=("uplift", "max"),
            predicted_uplift=("uplift", "mean"),
            observed_uplift=("gamma", "mean"),
        )
        .reset_index()
    )
    table["observed_se"] = np.nanstd(ratios, axis=0, ddof=1)
    table["observed_ci_low"] = low
    table["observed_ci_high"] = high
    return table
