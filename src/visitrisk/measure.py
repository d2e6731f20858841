"""The realised effect of an earlier visit plan: visit arm against the randomised holdout.

:func:`measure_plan` takes a plan whose cure horizon has passed, joins the visit log (by
``plan_id``) and the ledger, and reports what the visits did:

- **Effect.** For every customer the plan randomised (``0 < assignment_probability < 1``),
  whether they cured (DPD back to 0 on some day in ``(d, d + horizon]``, ``d`` the plan's
  as-of date) and the arrears of ``d`` they paid back in that period (CNY, and as a share
  of those arrears; payments settle the oldest dues first, so a loan's payments in the
  period repay its arrears of ``d`` before anything due later). The difference
  between the ``visit`` and ``holdout`` arms is a Hajek (normalised Horvitz-Thompson)
  difference in means, each customer weighted by the inverse probability of the arm they
  were assigned to, with a normal 95 % interval from the linearised variance; overall and
  by band of predicted uplift. It is an intention-to-treat effect: the effect of *planning*
  a visit, missed visits included; the effect per visit made divides it by the uptake.
- **Compliance.** Which planned visits were made (a visit in the log with the plan's
  ``plan_id``), by whom and with what outcome; holdout customers visited anyway.
- **Calibration.** The predicted uplift of each band against the realised effect.

Customers the plan did not randomise (must-visit and refill visits, probability 1) are
reported but left out of the effect: no holdout customer is comparable to them.
"""

from __future__ import annotations

import datetime as _dt
import numbers
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from statistics import NormalDist
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from visitrisk._measure_outcomes import (
    compliance_table,
    outcome_mix,
    outcomes,
    problem,
    visits_of_plan,
)
from visitrisk._plan_frame import checked_plan_frame
from visitrisk.contract import Portfolio

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["EFFECT_COLUMNS", "PlanMeasurement", "measure_plan", "read_plan_folder"]

#: Columns of :meth:`PlanMeasurement.to_frame`, one row per (band, metric).
EFFECT_COLUMNS: tuple[str, ...] = (
    "band",
    "metric",
    "unit",
    "uplift_from",
    "uplift_to",
    "n_visit",
    "n_holdout",
    "visit_mean",
    "holdout_mean",
    "effect",
    "std_error",
    "ci_low",
    "ci_high",
    "predicted_effect",
    "uptake",
    "effect_per_visit",
)

#: The outcomes measured: name, unit, per-customer column, predicted column.
_METRICS: tuple[tuple[str, str, str, str], ...] = (
    ("cure_rate", "share", "cured", "uplift"),
    ("recovered_arrears", "CNY", "recovered_arrears", "predicted_gain"),
    # Bounded, so far less noisy than CNY; a cure recovers the whole share.
    ("recovered_share", "share", "recovered_share", "uplift"),
)

_FUNCTION = "measure_plan"


def _timestamp(value: Any, name: str) -> pd.Timestamp:
    try:
        stamp = pd.Timestamp(value)
    except (TypeError, ValueError) as error:
        raise ValueError(
            f"The {name!r} parameter of {_FUNCTION} must be a date (YYYY-MM-DD). "
            f"Got {value!r} instead."
        ) from error
    if pd.isna(stamp):
        raise ValueError(
            f"The {name!r} parameter of {_FUNCTION} must be a date (YYYY-MM-DD). "
            f"Got {value!r} instead."
        )
    return stamp.normalize()


def _check(name: str, value: object, ok: bool, expected: str) -> None:
    if not ok:
        raise ValueError(
            f"The {name!r} parameter of {_FUNCTION} must be {expected}. Got {value!r} instead."
        )


def _is_int(value: object) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


# ---------------------------------------------------------------------------------------------
# The result
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class PlanMeasurement:
    """The realised effect of a visit plan, its compliance and its calibration.

    Attributes
    ----------
    effects : pandas.DataFrame
        One row per band (``"all"``, then ``"1"`` = lowest predicted uplift ...) and metric
        (``cure_rate`` as a share, ``recovered_arrears`` in CNY per customer,
        ``recovered_share``: the share of a customer's arrears paid back), columns
        :data:`EFFECT_COLUMNS`: the band's predicted-uplift range, the randomised
        customers of each arm, the weighted arm means, their difference (``effect``, the
        intention-to-treat effect of planning a visit) with standard error and confidence
        interval, the model's prediction for the same customers (mean ``uplift``, or mean
        ``uplift * value_at_stake`` in CNY), the ``uptake`` (share visited in the visit
        arm minus share visited in the holdout, weighted) and ``effect_per_visit``
        (``effect / uptake``, the effect of a visit actually made).
    customers : pandas.DataFrame
        One row per customer of the plan: arm, ``assignment_probability``, ``randomised``,
        ``band``, the prediction (``uplift``, ``value_at_stake``, ``predicted_gain``), the
        state on the plan's as-of date (``days_past_due``, ``arrears``), the outcome
        (``cured``, ``cure_date``, ``recovered_arrears``, ``recovered_share``), the planned visit
        (``planned_date``, ``planned_officer_id``), what happened (``visit_made``,
        ``visit_date``, ``visit_officer_id``, ``visit_outcome``, ``current_on_planned_day``)
        and ``visited_outside_plan`` (a visit in the horizon not recorded under the plan).
    compliance : pandas.DataFrame
        One row per ``plan_id`` and planned officer: ``planned``, ``made``,
        ``not_made_current`` (the customer had paid up by the planned day),
        ``not_made_other`` and ``share_made``; the last row (officer ``"all"``) sums them.
    outcomes : pandas.DataFrame
        The outcome mix of the visits made for the plan: ``outcome``, ``visits``, ``share``.
    calibration : pandas.DataFrame
        One row per band: ``band``, ``uplift_from``, ``uplift_to``, ``n``,
        ``predicted_uplift``, ``realised_effect`` with ``ci_low`` and ``ci_high`` (cure
        rate, intention to treat), ``uptake`` and ``realised_effect_per_visit``.
    summary : dict
        JSON-ready figures: ``plan_id``, ``plan_as_of``, ``as_of``, ``horizon``,
        ``window_end``, ``confidence``, customer counts by arm and randomisation,
        ``planned_visits``, ``visits_made``, ``compliance``, ``holdout_visited``,
        ``unplanned_plan_visits`` (visits logged under the plan for customers not planned)
        and ``not_delinquent_on_plan_as_of``.
    """

    effects: pd.DataFrame
    customers: pd.DataFrame
    compliance: pd.DataFrame
    outcomes: pd.DataFrame
    calibration: pd.DataFrame
    summary: dict[str, Any] = field(default_factory=dict)

    def to_frame(self) -> pd.DataFrame:
        """Return the effect table (a copy), columns :data:`EFFECT_COLUMNS`."""
        return self.effects.copy()

    def to_dict(self) -> dict[str, float]:
        """Return flat ``{name: float}`` metrics for MLflow (NaN values left out).

        Overall: ``<metric>_effect`` with ``_ci_low``, ``_ci_high``, ``_std_error``,
        ``_visit``, ``_holdout``, ``_predicted``, ``_per_visit``; by band:
        ``<metric>_effect_band_<k>`` with its interval; and the counts and compliance
        figures of :attr:`summary`.
        """
        flat: dict[str, float] = {}
        for row in self.effects.to_dict("records"):
            stem = f"{row['metric']}_effect"
            if row["band"] == "all":
                values = {
                    stem: row["effect"],
                    f"{stem}_ci_low": row["ci_low"],
                    f"{stem}_ci_high": row["ci_high"],
                    f"{stem}_std_error": row["std_error"],
                    f"{row['metric']}_visit": row["visit_mean"],
                    f"{row['metric']}_holdout": row["holdout_mean"],
                    f"{stem}_predicted": row["predicted_effect"],
                    f"{stem}_per_visit": row["effect_per_visit"],
                }
            else:
                band = f"{stem}_band_{row['band']}"
                values = {
                    band: row["effect"],
                    f"{band}_ci_low": row["ci_low"],
                    f"{band}_ci_high": row["ci_high"],
                    f"{band}_predicted": row["predicted_effect"],
                }
            flat.update(values)
        for name, value in self.summary.items():
            if isinstance(value, numbers.Real) and not isinstance(value, bool):
                flat[name] = value
        return {name: float(value) for name, value in flat.items() if np.isfinite(value)}

    def plot(self) -> Figure:
        """Draw the realised effect by band against the prediction, and the visit outcomes.

        Returns
        -------
        matplotlib.figure.Figure
            Three panels: cure-rate effect with CIs and the predicted uplift by band;
            recovered arrears likewise (CNY); the outcome mix of the visits made.
        """
        from visitrisk._measure_report import plot_measurement

        return plot_measurement(self)

    def save(self, out_dir: str | os.PathLike[str]) -> dict[str, Path]:
        """Write the tables (CSV), the figure (PNG), the report (HTML) and the summary (JSON).

        Parameters
        ----------
        out_dir : path
            Folder to write into (created when missing).

        Returns
        -------
        dict of str to pathlib.Path
            ``effects_csv`` (``plan_effect.csv``), ``customers_csv``
            (``plan_customers.csv``), ``compliance_csv``, ``png``, ``html`` and ``summary``.
        """
        from visitrisk._measure_report import save_measurement

        return save_measurement(self, Path(out_dir))

    def log_to_mlflow(
        self,
        run_id: str,
        tracking_uri: str,
        files: dict[str, Path] | None = None,
    ) -> list[str]:
        """Log the metrics (and files) to an existing MLflow run, e.g. the plan's run.

        Metrics are :meth:`to_dict` prefixed ``measured_``, logged at step = days from the
        plan's as-of date to the measurement date, so measuring again later adds a point;
        files go under ``measurement/<as_of>/``. Tracking failures warn and are returned.

        Parameters
        ----------
        run_id : str
            The run that produced the plan (``run_summary.json``: ``mlflow.run_id``).
        tracking_uri : str
            Its store.
        files : dict of str to Path, optional
            Files to attach, e.g. the result of :meth:`save`.

        Returns
        -------
        list of str
            What could not be logged (empty when everything was).
        """
        from visitrisk.tracking import RunLog, _check_reachable

        run = RunLog(tracking_uri, run_id=run_id)
        try:
            # MLflow would retry an unreachable server for minutes, once per call.
            _check_reachable(tracking_uri)
        except ConnectionError as error:
            run._failed("measurement (metrics, tags, files)", error)
            return list(run.not_logged)
        step = (pd.Timestamp(self.summary["as_of"]) - pd.Timestamp(self.summary["plan_as_of"])).days
        run.log_metrics({f"measured_{k}": v for k, v in self.to_dict().items()}, step=step)
        run.set_tags(
            {
                "visitrisk.measured_as_of": self.summary["as_of"],
                "visitrisk.plan_id": self.summary["plan_id"],
            }
        )
        for path in (files or {}).values():
            if Path(path).is_file():
                run.log_file(path, f"measurement/{self.summary['as_of']}")
        return list(run.not_logged)


# ---------------------------------------------------------------------------------------------
# Estimation
# ---------------------------------------------------------------------------------------------


def _arm_mean(values: np.ndarray, weights: np.ndarray) -> tuple[float, float]:
    """Weighted mean and the linearised variance of that ratio estimator (NaN when n < 2)."""
    n = len(values)
    if n == 0:
        return np.nan, np.nan
    total = weights.sum()
    mean = float(np.dot(weights, values) / total)
    if n < 2:
        return mean, np.nan
    # n / (n - 1): the small-sample correction of a variance estimated around its own mean.
    variance = np.sum((weights * (values - mean)) ** 2) / total**2 * n / (n - 1)
    return mean, float(variance)


def _hajek_effect(
    outcome: np.ndarray, visit: np.ndarray, probability: np.ndarray, z: float
) -> dict[str, float]:
    """Hajek difference in means between arms, with a normal interval."""
    weight = np.where(visit, 1 / probability, 1 / (1 - probability))
    visit_mean, visit_variance = _arm_mean(outcome[visit], weight[visit])
    holdout_mean, holdout_variance = _arm_mean(outcome[~visit], weight[~visit])
    effect = visit_mean - holdout_mean
    std_error = float(np.sqrt(visit_variance + holdout_variance))
    return {
        "visit_mean": visit_mean,
        "holdout_mean": holdout_mean,
        "effect": effect,
        "std_error": std_error,
        "ci_low": effect - z * std_error,
        "ci_high": effect + z * std_error,
    }


def _uptake(visited: np.ndarray, visit: np.ndarray, probability: np.ndarray) -> float:
    """Weighted share visited in the visit arm minus that in the holdout."""
    weight = np.where(visit, 1 / probability, 1 / (1 - probability))
    shares = [
        np.dot(weight[arm], visited[arm]) / weight[arm].sum() if arm.any() else np.nan
        for arm in (visit, ~visit)
    ]
    return float(shares[0] - shares[1])


def _effects(customers: pd.DataFrame, z: float) -> pd.DataFrame:
    """Return the effect table: overall, then by band; cure rate and recovered arrears."""
    randomised = customers[customers["randomised"]]
    groups = [("all", randomised)] + [
        (str(band), frame) for band, frame in randomised.groupby("band", sort=True)
    ]
    rows = []
    for band, frame in groups:
        visit = (frame["arm"] == "visit").to_numpy()
        probability = frame["assignment_probability"].to_numpy(dtype=float)
        uptake = _uptake(frame["visited"].to_numpy(dtype=float), visit, probability)
        for metric, unit, column, predicted in _METRICS:
            estimate = _hajek_effect(frame[column].to_numpy(dtype=float), visit, probability, z)
            rows.append(
                {
                    "band": band,
                    "metric": metric,
                    "unit": unit,
                    "uplift_from": float(frame["uplift"].min()),
                    "uplift_to": float(frame["uplift"].max()),
                    "n_visit": int(visit.sum()),
                    "n_holdout": int((~visit).sum()),
                    **estimate,
                    "predicted_effect": float(frame[predicted].mean()),
                    "uptake": uptake,
                    "effect_per_visit": estimate["effect"] / uptake if uptake > 0 else np.nan,
                }
            )
    return pd.DataFrame(rows, columns=list(EFFECT_COLUMNS))


def _calibration(effects: pd.DataFrame) -> pd.DataFrame:
    cure = effects[(effects["metric"] == "cure_rate") & (effects["band"] != "all")]
    return pd.DataFrame(
        {
            "band": cure["band"].to_numpy(),
            "uplift_from": cure["uplift_from"].to_numpy(),
            "uplift_to": cure["uplift_to"].to_numpy(),
            "n": (cure["n_visit"] + cure["n_holdout"]).to_numpy(),
            "predicted_uplift": cure["predicted_effect"].to_numpy(),
            "realised_effect": cure["effect"].to_numpy(),
            "ci_low": cure["ci_low"].to_numpy(),
            "ci_high": cure["ci_high"].to_numpy(),
            "uptake": cure["uptake"].to_numpy(),
            "realised_effect_per_visit": cure["effect_per_visit"].to_numpy(),
        }
    )


# ---------------------------------------------------------------------------------------------
# measure_plan
# ---------------------------------------------------------------------------------------------


def _default_plan_as_of(plan: Any, frame: pd.DataFrame) -> pd.Timestamp:
    """Return the day before the plan's first day (the as-of date ``visitrisk run`` uses)."""
    summary = getattr(plan, "summary", None)
    if isinstance(summary, dict) and summary.get("start"):
        return pd.Timestamp(summary["start"]) - pd.Timedelta(days=1)
    first = frame["visit_date"].min()
    if pd.isna(first):
        raise ValueError(
            f"The 'plan_as_of' parameter of {_FUNCTION} is needed: the plan has no visit "
            "date to infer it from."
        )
    return first - pd.Timedelta(days=1)


def measure_plan(
    portfolio: Portfolio,
    plan: Any,
    as_of: str | _dt.date | pd.Timestamp,
    *,
    plan_as_of: str | _dt.date | pd.Timestamp | None = None,
    horizon: int = 60,
    n_bands: int = 3,
    confidence: float = 0.95,
) -> PlanMeasurement:
    """Measure the realised effect of an earlier visit plan against its randomised holdout.

    Parameters
    ----------
    portfolio : Portfolio
        The contract tables as of ``as_of`` (or later): payments and the visit log with
        ``plan_id``.
    plan : VisitPlan or pandas.DataFrame
        The plan (:func:`visitrisk.plan_visits`) or its ``visit_plan.csv`` read back; one
        ``plan_id``. Needs ``plan_id``, ``customer_id``, ``arm``, ``officer_id``,
        ``visit_date``, ``assignment_probability``, ``uplift`` and ``value_at_stake``.
    as_of : date-like
        The measurement date; on or after ``plan_as_of + horizon``.
    plan_as_of : date-like, optional
        The date the plan's scores describe (the run's ``--as-of``; ``run_summary.json``:
        ``as_of``). Default: the day before the plan's first day (``VisitPlan.summary``
        ``start``, else the earliest ``visit_date``).
    horizon : int, default 60
        Days after ``plan_as_of`` in which a cure counts (the contract's definition) and
        payments count as recovered arrears.
    n_bands : int, default 3
        Bands of predicted uplift (quantiles over the randomised customers).
    confidence : float, default 0.95
        Level of the normal confidence intervals.

    Returns
    -------
    PlanMeasurement
        Effects are NaN (with a warning) when the plan randomised no one, e.g. a plan made
        with ``holdout=0``; compliance and outcomes are reported all the same.

    Raises
    ------
    ValueError
        When the horizon has not passed on ``as_of`` (or the data stop before its end), the
        plan holds several ``plan_id`` values, or a parameter is out of range.
    DataError
        When the plan is unusable or names customers the portfolio does not hold.

    Notes
    -----
    With ``Z`` the arm (1 = visit), ``pi`` the assignment probability and ``y`` the
    outcome, each arm's mean is ``sum(w y) / sum(w)`` with ``w = Z / pi`` or
    ``(1 - Z) / (1 - pi)`` (Hajek), the effect their difference, and its variance the sum
    of the arms' linearised variances ``sum(w**2 (y - mean)**2) / sum(w)**2 * n / (n - 1)``
    (conservative for a randomised design: it ignores the covariance of the potential
    outcomes). The estimand is the mean effect of planning a visit over the randomised
    customers; for a plan of :func:`visitrisk.plan_visits` their probabilities vary by
    branch only.
    """
    _check("horizon", horizon, _is_int(horizon) and horizon >= 1, "a positive int (days)")
    _check("n_bands", n_bands, _is_int(n_bands) and n_bands >= 1, "a positive int")
    _check(
        "confidence",
        confidence,
        isinstance(confidence, numbers.Real) and 0 < float(confidence) < 1,
        "a number in (0, 1)",
    )
    if not isinstance(portfolio, Portfolio):
        raise TypeError(
            f"The 'portfolio' parameter of {_FUNCTION} must be a Portfolio "
            f"(visitrisk.load_portfolio). Got {type(portfolio).__name__} instead."
        )
    frame = checked_plan_frame(plan, ("assignment_probability", "uplift", "value_at_stake"))
    plan_ids = frame["plan_id"].unique()
    if len(plan_ids) != 1:
        raise ValueError(
            f"{_FUNCTION} measures one plan at a time; the plan holds {len(plan_ids)} "
            f"plan_id values ({', '.join(map(str, plan_ids[:5]))})."
        )
    plan_id = str(plan_ids[0])
    as_of = _timestamp(as_of, "as_of")
    plan_as_of = (
        _default_plan_as_of(plan, frame)
        if plan_as_of is None
        else _timestamp(plan_as_of, "plan_as_of")
    )
    window_end = plan_as_of + pd.Timedelta(days=horizon)
    if as_of < window_end:
        raise ValueError(
            f"The horizon of plan {plan_id} has not passed: cures count until "
            f"{window_end.date()} ({horizon} days after its as-of date {plan_as_of.date()}), "
            f"and as_of is {as_of.date()}. Measure it on or after {window_end.date()}."
        )
    from visitrisk.labels import last_observed_day

    data_end = last_observed_day(portfolio)
    if data_end < window_end:
        raise ValueError(
            f"The horizon of plan {plan_id} has not passed in the data: the payments and "
            f"visits end on {data_end.date()}, before the end of the horizon "
            f"{window_end.date()} ({horizon} days after {plan_as_of.date()})."
        )
    unknown = ~frame["customer_id"].isin(portfolio.customers["customer_id"])
    if unknown.any():
        raise problem(
            "plan",
            "customer_id",
            "unknown_customer",
            frame.loc[unknown, "customer_id"],
            int(unknown.sum()),
            f"{int(unknown.sum())} customer(s) of the plan are not in the customers table.",
        )

    outcomes_frame, dpd = outcomes(portfolio, frame["customer_id"], plan_as_of, horizon)
    visits, unplanned = visits_of_plan(portfolio, frame, plan_id, plan_as_of, window_end, dpd)
    probability = frame["assignment_probability"].to_numpy(dtype=float)
    randomised = probability < 1
    band = np.full(len(frame), None, dtype=object)
    if randomised.any():
        # Ranks break ties in plan order, so equal predictions never merge two bands.
        ranks = frame.loc[randomised, "uplift"].rank(method="first")
        codes = pd.qcut(ranks, min(n_bands, int(randomised.sum())), labels=False)
        band[randomised] = (codes.to_numpy() + 1).astype(str)
    customers = pd.concat(
        [
            frame[["plan_id", "customer_id", "arm", "assignment_probability", "uplift"]],
            pd.DataFrame(
                {
                    "randomised": randomised,
                    "band": pd.array(band, dtype="str"),
                    "value_at_stake": frame["value_at_stake"].to_numpy(dtype=float),
                    "predicted_gain": (frame["uplift"] * frame["value_at_stake"]).to_numpy(),
                }
            ),
            outcomes_frame,
            visits,
        ],
        axis=1,
    )
    customers["visited"] = customers["visit_made"] | customers["visited_outside_plan"]

    randomised_arms = set(customers.loc[customers["randomised"], "arm"])
    if randomised_arms != {"visit", "holdout"}:
        warnings.warn(
            f"Plan {plan_id} has no randomised {'holdout' if randomised_arms else 'customer'}: "
            "its effect cannot be measured (NaN); compliance and outcomes are still reported.",
            UserWarning,
            stacklevel=2,
        )
    z = NormalDist().inv_cdf(0.5 + float(confidence) / 2)
    effects = _effects(customers, z)
    compliance = compliance_table(customers)
    total = compliance.iloc[-1]
    is_visit = customers["arm"] == "visit"
    is_holdout = ~is_visit
    summary: dict[str, Any] = {
        "plan_id": plan_id,
        "plan_as_of": str(plan_as_of.date()),
        "as_of": str(as_of.date()),
        "horizon": int(horizon),
        "window_end": str(window_end.date()),
        "confidence": float(confidence),
        "customers": len(customers),
        "visit_arm": int(is_visit.sum()),
        "holdout_arm": int(is_holdout.sum()),
        "randomised": int(randomised.sum()),
        "randomised_visit": int((randomised & is_visit).sum()),
        "randomised_holdout": int((randomised & is_holdout).sum()),
        "not_randomised": int((~randomised).sum()),
        "planned_visits": int(total["planned"]),
        "visits_made": int(total["made"]),
        "compliance": float(total["share_made"]) if total["planned"] else float("nan"),
        "not_made_customer_current": int(total["not_made_current"]),
        "holdout_visited": int((is_holdout & customers["visited_outside_plan"]).sum()),
        "visit_arm_visited_outside_plan": int((is_visit & customers["visited_outside_plan"]).sum()),
        "unplanned_plan_visits": unplanned,
        "not_delinquent_on_plan_as_of": int((customers["days_past_due"] < 1).sum()),
    }
    return PlanMeasurement(
        effects=effects,
        customers=customers,
        compliance=compliance,
        outcomes=outcome_mix(customers),
        calibration=_calibration(effects),
        summary=summary,
    )


def read_plan_folder(plan_dir: str | os.PathLike[str]) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Read the plan a ``visitrisk run`` or ``visitrisk plan`` wrote, and its run summary.

    Parameters
    ----------
    plan_dir : path
        The folder holding ``visit_plan.csv`` and, after ``visitrisk run``,
        ``run_summary.json``.

    Returns
    -------
    tuple of pandas.DataFrame and dict
        The plan's rows as written (text; :func:`measure_plan` parses them; the ``'``
        that guards formula-like text in the file is removed), and the run summary
        (empty when the folder has none). A summary of ``visitrisk run`` holds what
        :func:`measure_plan` needs: ``as_of`` (the plan's as-of date, its ``plan_as_of``),
        ``horizon`` and ``treatment_window`` (days; missing from runs made before they
        were recorded) and ``mlflow`` (``tracking_uri`` and ``run_id`` to log to).

    Raises
    ------
    FileNotFoundError
        When the folder holds no ``visit_plan.csv``.
    """
    import json

    from visitrisk._report_text import FORMULA_START

    folder = Path(plan_dir)
    path = folder / "visit_plan.csv"
    if not path.is_file():
        raise FileNotFoundError(
            f"No visit_plan.csv in {folder}: pass the output folder of `visitrisk run` or "
            "`visitrisk plan`."
        )
    plan = pd.read_csv(path, dtype="str", encoding="utf-8-sig")
    for column in plan.columns:
        values = plan[column]
        guarded = values.str.startswith("'", na=False) & values.str[1:].str.contains(
            FORMULA_START, regex=True, na=False
        )
        plan[column] = values.where(~guarded, values.str[1:])
    summary_path = folder / "run_summary.json"
    summary = json.loads(summary_path.read_text(encoding="utf-8")) if summary_path.is_file() else {}
    return plan, summary
