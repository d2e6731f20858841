"""One call to judge an uplift ranking honestly, and the report it returns.

:func:`evaluate_scores` works on plain arrays (scores of a test set, outcomes, visits and
the features the nuisance models need). It fits the cross-fitted nuisances once, then
computes the IPW curves and areas, the value of visiting the top 10/20/30 % by IPW and
AIPW with bootstrap intervals, the average effect, and the calibration by decile.

**Rule.** Model choice on a visit log uses the IPW / DR metrics. The naive metrics are
reported under their scikit-uplift names only when visits were randomised (a constant or
logged assignment probability, ``randomized``); otherwise they are prefixed ``naive_`` so
no dashboard mistakes them for evidence.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from visitrisk._checks import (
    capacity_label,
    nuisance_frame,
    one_dimensional,
    validate_uplift_inputs,
)
from visitrisk.metrics import (
    qini_auc_score,
    qini_auc_score_ipw,
    qini_curve,
    qini_curve_ipw,
    uplift_at_k,
    uplift_auc_score,
    uplift_auc_score_ipw,
    uplift_curve,
    uplift_curve_ipw,
)
from visitrisk.nuisance import fit_nuisances
from visitrisk.policy import average_treatment_effect, policy_value, uplift_calibration

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["EvaluationReport", "evaluate", "evaluate_scores", "plot_calibration", "plot_qini_curve"]

#: Columns of :meth:`EvaluationReport.to_frame`.
METRIC_COLUMNS: tuple[str, ...] = ("estimate", "ci_low", "ci_high", "estimator", "unit")


def _new_axes(ax: Axes | None, figsize: tuple[float, float]) -> tuple[Figure, Axes]:
    # matplotlib.figure.Figure, not pyplot: no global figure registry, no style changes.
    if ax is not None:
        return ax.figure, ax
    from matplotlib.figure import Figure

    figure = Figure(figsize=figsize, layout="constrained")
    return figure, figure.subplots()


def plot_qini_curve(
    curves: pd.DataFrame,
    columns: tuple[str, ...] | None = None,
    *,
    ax: Axes | None = None,
) -> Figure:
    """Draw Qini (or uplift) curves with the random-targeting line of each.

    Parameters
    ----------
    curves : pandas.DataFrame
        Column ``n_top`` (rows targeted) and one column per curve (cures), e.g.
        :attr:`EvaluationReport.curves`.
    columns : tuple of str, optional
        Curves to draw. Default: every column starting with ``qini``.
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure otherwise.

    Returns
    -------
    matplotlib.figure.Figure
        The figure holding the axes.
    """
    chosen = columns or tuple(name for name in curves.columns if name.startswith("qini"))
    missing = [name for name in ("n_top", *chosen) if name not in curves.columns]
    if missing or not chosen:
        raise ValueError(f"curves lacks column(s) {missing or ['qini*']} to plot.")
    figure, ax = _new_axes(ax, (6.0, 4.5))
    n_top = curves["n_top"].to_numpy()
    for name in chosen:
        values = curves[name].to_numpy()
        (line,) = ax.plot(n_top, values, label=name)
        ax.plot(
            [0, n_top[-1]],
            [0, values[-1]],
            linestyle="--",
            color=line.get_color(),
            alpha=0.6,
            label=f"{name} (random)",
        )
    ax.axhline(0.0, color="grey", linewidth=0.5)
    ax.set_xlabel("customers visited (top by predicted uplift)")
    ax.set_ylabel("incremental cures")
    ax.set_title("Qini curve")
    ax.legend(loc="best", fontsize="small")
    return figure


def plot_calibration(calibration: pd.DataFrame, *, ax: Axes | None = None) -> Figure:
    """Draw predicted against estimated uplift per bin, with the bootstrap intervals.

    Parameters
    ----------
    calibration : pandas.DataFrame
        Output of :func:`visitrisk.policy.uplift_calibration`.
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure otherwise.

    Returns
    -------
    matplotlib.figure.Figure
        The figure holding the axes.
    """
    needed = ("predicted_uplift", "observed_uplift", "observed_ci_low", "observed_ci_high")
    missing = [name for name in needed if name not in calibration.columns]
    if missing:
        raise ValueError(f"calibration lacks column(s) {missing} to plot.")
    figure, ax = _new_axes(ax, (5.0, 4.5))
    predicted = calibration["predicted_uplift"].to_numpy()
    observed = calibration["observed_uplift"].to_numpy()
    errors = np.vstack(
        [
            observed - calibration["observed_ci_low"].to_numpy(),
            calibration["observed_ci_high"].to_numpy() - observed,
        ]
    )
    ax.errorbar(predicted, observed, yerr=errors, fmt="o", capsize=3, label="estimated (DR)")
    low = float(min(predicted.min(), np.nanmin(calibration["observed_ci_low"]), 0.0))
    high = float(max(predicted.max(), np.nanmax(calibration["observed_ci_high"]), 0.0))
    ax.plot([low, high], [low, high], linestyle="--", color="grey", label="perfect calibration")
    ax.axhline(0.0, color="grey", linewidth=0.5)
    ax.set_xlabel("predicted uplift (mean per bin)")
    ax.set_ylabel("estimated uplift (mean per bin)")
    ax.set_title("Uplift calibration")
    ax.legend(loc="best", fontsize="small")
    return figure


@dataclass(frozen=True, eq=False)
class EvaluationReport:
    """Everything :func:`evaluate_scores` measured, as tables.

    Attributes
    ----------
    metrics : pandas.DataFrame
        One row per metric (index: MLflow-ready name such as ``value_top_20pct_dr``),
        columns ``estimate``, ``ci_low``, ``ci_high`` (NaN when no interval), ``estimator``
        (``naive``, ``ipw``, ``dr`` or ``diagnostic``) and ``unit``.
    curves : pandas.DataFrame
        ``n_top`` and the curves ``qini_ipw``, ``uplift_ipw``, ``qini_naive``,
        ``uplift_naive`` (cures), one row per distinct score.
    policy_values : pandas.DataFrame
        :func:`visitrisk.policy.policy_value` for every capacity, IPW and DR.
    calibration : pandas.DataFrame
        :func:`visitrisk.policy.uplift_calibration` (DR).
    nuisances : pandas.DataFrame
        The out-of-fold ``mu0``, ``mu1``, ``propensity`` used.
    randomized : bool
        Whether the visits were declared randomised.
    """

    metrics: pd.DataFrame
    curves: pd.DataFrame
    policy_values: pd.DataFrame
    calibration: pd.DataFrame
    nuisances: pd.DataFrame
    randomized: bool

    def to_frame(self) -> pd.DataFrame:
        """Return the metrics table (a copy)."""
        return self.metrics.copy()

    def to_dict(self) -> dict[str, float]:
        """Return flat ``{name: float}`` metrics for ``mlflow.log_metrics``.

        Every metric gives ``name``; one with an interval also ``name_ci_low`` and
        ``name_ci_high``. NaN estimates (e.g. an undefined uplift@k) are left out, since
        MLflow rejects them.
        """
        flat: dict[str, float] = {}
        for name, row in self.metrics.iterrows():
            if np.isnan(row["estimate"]):
                continue
            flat[str(name)] = float(row["estimate"])
            if not np.isnan(row["ci_low"]):
                flat[f"{name}_ci_low"] = float(row["ci_low"])
                flat[f"{name}_ci_high"] = float(row["ci_high"])
        return flat

    def plot(self) -> Figure:
        """Draw the Qini curve(s) with the random line, and the calibration plot.

        The naive Qini curve is drawn only for randomised visits.

        Returns
        -------
        matplotlib.figure.Figure
            Two panels: Qini curve, calibration.
        """
        from matplotlib.figure import Figure

        figure = Figure(figsize=(11.0, 4.5), layout="constrained")
        qini_ax, calibration_ax = figure.subplots(1, 2)
        columns = ("qini_ipw", "qini_naive") if self.randomized else ("qini_ipw",)
        plot_qini_curve(self.curves, columns, ax=qini_ax)
        plot_calibration(self.calibration, ax=calibration_ax)
        return figure


def _known_propensity(randomized: Any, arm: np.ndarray) -> np.ndarray | None:
    if randomized is None or randomized is False:
        return None
    if randomized is True:
        return np.full(len(arm), arm.mean())
    probability = np.asarray(randomized, dtype=float)
    if probability.ndim == 0:
        return np.full(len(arm), float(probability))
    probability = one_dimensional(probability, "randomized")
    if len(probability) != len(arm):
        raise ValueError(
            "randomized must be a bool, one assignment probability or one per row; "
            f"got {len(probability)} probabilities for {len(arm)} rows."
        )
    return probability


def _record(
    name: str,
    estimate: float,
    estimator: str,
    unit: str,
    ci: tuple[float, float] = (np.nan, np.nan),
) -> dict[str, Any]:
    return {
        "metric": name,
        "estimate": float(estimate),
        "ci_low": float(ci[0]),
        "ci_high": float(ci[1]),
        "estimator": estimator,
        "unit": unit,
    }


def _naive_uplift_at(outcome: np.ndarray, score: np.ndarray, arm: np.ndarray, k: Any) -> float:
    # scikit-uplift accepts a share in (0, 1) or a count below n; other capacities (a share
    # of 1, i.e. everyone) have no naive uplift@k.
    kind = np.asarray(k).dtype.kind
    if (kind == "f" and 0 < k < 1) or (kind in "iu" and 0 < k < len(outcome)):
        return uplift_at_k(outcome, score, arm, "overall", k)
    return float("nan")


def evaluate_scores(
    uplift: ArrayLike,
    y: ArrayLike,
    treatment: ArrayLike,
    X_for_nuisances: pd.DataFrame | np.ndarray | None,  # noqa: N803
    groups: ArrayLike | None = None,
    value: ArrayLike | None = None,
    *,
    capacities: tuple[float | int, ...] = (0.1, 0.2, 0.3),
    randomized: bool | float | ArrayLike | None = None,
    nuisances: pd.DataFrame | None = None,
    outcome_model: Any = None,
    propensity_model: Any = None,
    n_folds: int = 5,
    propensity_clip: float = 0.01,
    n_bins: int = 10,
    n_boot: int = 1000,
    confidence: float = 0.95,
    random_state: int | None = 0,
    n_jobs: int = 1,
) -> EvaluationReport:
    """Evaluate uplift scores on a test set: IPW/DR metrics, naive ones only if randomised.

    Parameters
    ----------
    uplift : array-like of float, shape (n_rows,)
        Predicted uplift of each test row (probability units).
    y : array-like of {0, 1}, shape (n_rows,)
        Outcome (1 = cured within the horizon).
    treatment : array-like of {0, 1}, shape (n_rows,)
        1 = visited within the treatment window.
    X_for_nuisances : pandas.DataFrame or numpy.ndarray or None
        Features for the outcome and propensity models (the confounders: whatever officers
        saw when choosing whom to visit). May be ``None`` when ``nuisances`` is given.
    groups : array-like, shape (n_rows,), optional
        Customer id per row: folds and bootstrap keep a customer's rows together.
    value : array-like of float, shape (n_rows,), optional
        Value at stake per row (CNY, e.g. arrears); adds value-weighted policy values.
    capacities : tuple of float or int, default (0.1, 0.2, 0.3)
        Shares of rows (in (0, 1]) or counts of visits at which to value the policy.
    randomized : bool, float or array-like, optional
        ``None``/``False``: visits come from a log (observational); the propensity is
        fitted. ``True``: randomised at a constant rate, taken as the visited share. A
        float or one probability per row: randomised with these (logged) assignment
        probabilities, used as the propensity. Naive metrics lose their ``naive_`` prefix
        only when that probability is the same for every row.
    nuisances : pandas.DataFrame, optional
        Precomputed out-of-fold ``mu0``, ``mu1``, ``propensity``
        (:func:`visitrisk.nuisance.fit_nuisances`). They do not depend on the model being
        evaluated: fit them once per test set and reuse them to compare models.
    outcome_model, propensity_model : scikit-learn classifier, optional
        Passed to :func:`visitrisk.nuisance.fit_nuisances` (LightGBM by default).
    n_folds : int, default 5
        Cross-fitting folds.
    propensity_clip : float, default 0.01
        Clip of fitted propensities.
    n_bins : int, default 10
        Bins of the calibration table.
    n_boot : int, default 1000
        Bootstrap replicates of every interval.
    confidence : float, default 0.95
        Coverage of the intervals.
    random_state : int or None, default 0
        Seed of folds, default models and bootstrap.
    n_jobs : int, default 1
        Threads of the default LightGBM models.

    Returns
    -------
    EvaluationReport
        Metrics (``to_frame``, ``to_dict``), curves, policy values, calibration, plots.
    """
    outcome, score, arm, _ = validate_uplift_inputs(y, uplift, treatment)
    n_rows = len(outcome)
    known = _known_propensity(randomized, arm)
    is_randomized = known is not None
    if nuisances is None:
        if X_for_nuisances is None:
            raise ValueError("evaluate_scores needs X_for_nuisances or precomputed nuisances.")
        nuisances = fit_nuisances(
            X_for_nuisances,
            outcome,
            arm,
            groups,
            outcome_model=outcome_model,
            propensity_model=propensity_model,
            known_propensity=known,
            n_folds=n_folds,
            propensity_clip=propensity_clip,
            random_state=random_state,
            n_jobs=n_jobs,
        )
    frame = nuisance_frame(nuisances, n_rows)
    propensity = frame["propensity"].to_numpy(dtype=float)
    # Naive comparisons are unbiased only when every row had the same chance of a visit.
    constant = is_randomized and np.ptp(propensity) == 0
    prefix = "" if constant else "naive_"
    boot = {"groups": groups, "n_boot": n_boot, "confidence": confidence}

    x_ipw, qini_ipw = qini_curve_ipw(outcome, score, arm, propensity)
    curves = pd.DataFrame(
        {
            "n_top": x_ipw,
            "qini_ipw": qini_ipw,
            "uplift_ipw": uplift_curve_ipw(outcome, score, arm, propensity)[1],
            "qini_naive": qini_curve(outcome, score, arm)[1],
            "uplift_naive": uplift_curve(outcome, score, arm)[1],
        }
    )
    records = [
        _record("n_rows", n_rows, "diagnostic", "rows"),
        _record("n_visited", arm.sum(), "diagnostic", "rows"),
        _record("randomized", float(is_randomized), "diagnostic", "flag"),
        _record(
            "propensity_outside_05_95",
            np.mean((propensity < 0.05) | (propensity > 0.95)),
            "diagnostic",
            "share of rows",
        ),
        _record(
            "qini_auc_ipw",
            qini_auc_score_ipw(outcome, score, arm, propensity),
            "ipw",
            "unitless",
        ),
        _record(
            "uplift_auc_ipw",
            uplift_auc_score_ipw(outcome, score, arm, propensity),
            "ipw",
            "unitless",
        ),
        _record(f"{prefix}qini_auc", qini_auc_score(outcome, score, arm), "naive", "unitless"),
        _record(
            f"{prefix}uplift_auc",
            uplift_auc_score(outcome, score, arm),
            "naive",
            "unitless",
        ),
    ]
    records += [
        _record(
            f"{prefix}uplift_at_{capacity_label(k)}",
            _naive_uplift_at(outcome, score, arm, k),
            "naive",
            "probability",
        )
        for k in capacities
    ]
    values = policy_value(
        outcome, score, arm, frame, list(capacities), value=value, random_state=random_state, **boot
    )
    quantities = [("incremental_cures", "value", "cures")]
    if value is not None:
        quantities.append(("incremental_value", "value_weighted", "currency"))
    for row in values.itertuples(index=False):
        for column, stem, unit in quantities:
            ci = (getattr(row, f"{column}_ci_low"), getattr(row, f"{column}_ci_high"))
            name = f"{stem}_top_{row.capacity}_{row.method}"
            records.append(_record(name, getattr(row, column), row.method, unit, ci))
    for method in ("dr", "ipw"):
        effect = average_treatment_effect(
            outcome, arm, frame, method=method, random_state=random_state, **boot
        )
        records.append(
            _record(
                effect.name,
                effect["estimate"],
                method,
                "probability",
                (effect["ci_low"], effect["ci_high"]),
            )
        )
    calibration = uplift_calibration(
        outcome, score, arm, frame, n_bins=n_bins, random_state=random_state, **boot
    )
    table = pd.DataFrame(records).set_index("metric")
    return EvaluationReport(
        metrics=table[list(METRIC_COLUMNS)],
        curves=curves,
        policy_values=values,
        calibration=calibration,
        nuisances=frame,
        randomized=is_randomized,
    )


def evaluate(
    model: Any,
    test_set: Any,
    *,
    capacities: tuple[float | int, ...] = (0.1, 0.2, 0.3),
    randomized: bool | float | ArrayLike | None = None,
    nuisances: pd.DataFrame | None = None,
    n_boot: int = 1000,
    random_state: int | None = 0,
    n_jobs: int = 1,
) -> EvaluationReport:
    """Evaluate a fitted uplift model on a held-out training set.

    The model's uplift on ``test_set.X`` is judged against the observed cures with the
    inverse-propensity and doubly-robust estimators of :func:`evaluate_scores`; the
    nuisance models are cross-fitted on the test set, in folds grouped by customer, and the
    bootstrap resamples whole customers. Value-weighted metrics use the test set's
    ``value_at_stake`` (CNY).

    Parameters
    ----------
    model : UpliftModel or uplift learner
        Anything fitted with a ``predict(X)`` returning the uplift (probability units).
    test_set : TrainingSet
        Rows the model was not fitted on, e.g. later snapshots
        (:func:`visitrisk.experiment.split_by_time`).
    capacities : tuple of float or int, default (0.1, 0.2, 0.3)
        Shares (or counts) of test rows visited for the value-at-capacity metrics.
    randomized : bool, float or array-like, optional
        Whether visits in the test set were randomised (see :func:`evaluate_scores`);
        naive metrics are reported unlabelled only then.
    nuisances : pandas.DataFrame, optional
        Out-of-fold ``mu0``, ``mu1``, ``propensity`` for the test rows, to share one fit
        between several models compared on the same test set.
    n_boot : int, default 1000
        Bootstrap replicates for the confidence intervals.
    random_state : int, optional
        Seed of the folds and the bootstrap.
    n_jobs : int, default 1
        Threads for the nuisance models.

    Returns
    -------
    EvaluationReport

    Raises
    ------
    ValueError
        When ``test_set`` holds weighted clones (``build_training_set(design="trial")``):
        a clone is not an observed customer, so the test set must be built with the
        landmark design.
    """
    if not np.all(np.asarray(test_set.weight, dtype=float) == 1.0):
        raise ValueError(
            "evaluate: test_set holds weighted clones (build_training_set(design='trial')); "
            "evaluate on observed rows instead: build the test set with design='landmark'."
        )
    customers = test_set.customer_id.to_numpy()
    return evaluate_scores(
        np.asarray(model.predict(test_set.X), dtype=float),
        test_set.cured.to_numpy(),
        test_set.treatment.to_numpy(),
        test_set.X if nuisances is None else None,
        customers,
        test_set.value_at_stake.to_numpy(),
        capacities=capacities,
        randomized=randomized,
        nuisances=nuisances,
        n_boot=n_boot,
        random_state=random_state,
        n_jobs=n_jobs,
    )
