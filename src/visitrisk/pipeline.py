"""End-to-end runs used by the command line, notebooks and experiments.

This module only assembles stages; the logic of each lives in its own module. A run:

1. validates the contract tables (:func:`visitrisk.load_portfolio`); nothing is written
   when they break the contract;
2. audits the visit log (:func:`visitrisk.audit_visits`): every flagged record goes to
   ``audit.csv``, the run summary counts them and names the officers concerned; training
   still reads every record (``exclude_flagged_visits`` stays off: a flagged record may be
   a real visit logged badly, which left out would sit in the control arm);
3. builds the training set on every month-end snapshot whose labels are observed before
   the as-of date (:func:`visitrisk.build_training_set`; the emulated trial by default);
4. fits the model on the earlier snapshots and evaluates it on the landmark rows of the
   latest ones with the inverse-propensity and doubly-robust estimators
   (:func:`visitrisk.evaluate`), then refits the same specification on every labelled
   snapshot to score;
5. scores and explains every customer delinquent on the as-of date, and compares them
   with the training population (population stability of every feature and of the
   uplift score, :func:`visitrisk.drift_report`; a :class:`~visitrisk.drift.DriftWarning`
   when the scores' index is 0.25 or more);
6. plans the visits with the staff table (:func:`visitrisk.plan_visits`);
7. writes the reports and ``run_summary.json`` (with the as-of date, the treatment window
   and the cure horizon that ``visitrisk measure`` reads back) and logs the run to MLflow.

The steps are written once (``visitrisk._run_steps``) for this pandas engine and the Spark
one (:func:`visitrisk.spark.run`); each engine supplies only how it reads the tables,
builds the training rows, scores, explains and plans.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from visitrisk._run_steps import REGISTERED_MODEL_NAME, Engine, RunSettings, run_steps

if TYPE_CHECKING:
    from visitrisk.explain import Explanation
    from visitrisk.labels import TrainingSet
    from visitrisk.planning import VisitPlan

__all__ = ["REGISTERED_MODEL_NAME", "RunResult", "run", "run_demo"]

#: Columns of the customers table the planner reads (place columns go on to the reports).
_CUSTOMER_COLUMNS = ("branch_id", "do_not_visit", "township", "village", "latitude", "longitude")


@dataclass(frozen=True)
class RunResult:
    """What :func:`run` produced.

    Attributes
    ----------
    out_dir : pathlib.Path
        Folder holding every output.
    outputs : dict of str to pathlib.Path
        Every file written, by name (``plan_csv``, ``exclusions_csv``, ``xlsx``, ``html``,
        ``evaluation_png``, ``figures`` (the folder of SHAP figures), ``scores``,
        ``drift_csv``, ``audit_csv`` (the visit-log audit's flags), ``run_summary``).
    summary : dict
        The content of ``run_summary.json``.
    not_logged : list of str
        What could not be logged to MLflow (empty when the tracking store worked).
    """

    out_dir: Path
    outputs: dict[str, Path] = field(default_factory=dict)
    summary: dict[str, Any] = field(default_factory=dict)
    not_logged: list[str] = field(default_factory=list)


def run(
    data: str | os.PathLike[str] | Any,
    *,
    as_of: str | pd.Timestamp,
    start: str | pd.Timestamp,
    days: int,
    out_dir: str | os.PathLike[str],
    model_spec: str | os.PathLike[str] | None = None,
    holdout: float = 0.1,
    seed: int = 0,
    lang: str = "en",
    tracking_uri: str | None = None,
    rules: Any = None,
    treatment_window: int = 14,
    horizon: int = 60,
    min_dpd: int = 1,
    test_snapshots: int = 2,
    capacities: Sequence[float] = (0.1, 0.2, 0.3),
    design: str = "trial",
    progress: Callable[[str], None] | None = None,
) -> RunResult:
    """Validate, train, evaluate, score, explain and plan; write the reports; log to MLflow.

    Parameters
    ----------
    data : path or Portfolio
        A folder of contract tables, or a validated :class:`visitrisk.Portfolio`.
    as_of : date
        Day whose state is scored (ISO date). Training uses only what was known on it.
    start : date
        First day of the visit plan.
    days : int
        Calendar days the plan covers, from ``start`` (days).
    out_dir : path
        Folder for every output; created when missing.
    model_spec : path, optional
        A model specification (YAML, see ``models/``); default the doubly-robust learner
        with LightGBM base models.
    holdout : float, default 0.1
        Share of the customers selected for a visit who are withheld at random.
    seed : int, default 0
        Seed of the model, the evaluation and the holdout.
    lang : {"en", "zh"}, default "en"
        Language of the Excel and HTML reports.
    tracking_uri : str, optional
        MLflow store; default ``MLFLOW_TRACKING_URI`` or ``sqlite:///<out_dir>/mlflow.db``.
    rules : PlanRules, optional
        Planning rules (cool-down, visit cost, team size, ...); default ``PlanRules()``.
    treatment_window, horizon : int, default 14, 60
        Days in which a visit counts as treatment, and in which a cure counts (days).
    min_dpd : int, default 1
        Days past due from which a customer is delinquent (days).
    test_snapshots : int, default 2
        Latest labelled month-end snapshots held out for evaluation.
    capacities : sequence of float, default (0.1, 0.2, 0.3)
        Shares of test rows visited for the value-at-capacity metrics.
    design : {"trial", "landmark"}, default "trial"
        Construction of the rows the model learns from (:func:`visitrisk.
        build_training_set`): the emulated trial, or the landmark design. Evaluation is
        on the landmark rows of the test snapshots in both cases.
    progress : callable, optional
        Called with a short message before each step.

    Returns
    -------
    RunResult

    Raises
    ------
    DataError
        When the tables break the data contract (before anything is written).
    """
    # Every parameter, and nothing else yet: the options are checked in one place.
    return run_steps(_PandasEngine(data), RunSettings.of(locals()))


class _PandasEngine(Engine):
    """Every step on pandas frames in this process (:func:`run`)."""

    name = "pandas"

    def __init__(self, data: str | os.PathLike[str] | Any) -> None:
        self._data = data
        self.portfolio: Any = None

    def validate(self) -> pd.DataFrame | None:
        from visitrisk.contract import Portfolio, load_portfolio

        data = self._data
        self.portfolio = data if isinstance(data, Portfolio) else load_portfolio(data)
        self.currency = self.portfolio.currency
        return self.portfolio.staff

    def customer_count(self) -> int:
        return len(self.portfolio.customers)

    def audit(self) -> pd.DataFrame:
        from visitrisk.audit import audit_visits

        return audit_visits(self.portfolio)

    def log_span(self) -> Any:
        return self.portfolio

    def training_set_builder(
        self, settings: RunSettings, snapshots: Sequence[pd.Timestamp]
    ) -> Callable[[Sequence[pd.Timestamp], str], TrainingSet]:
        from visitrisk.labels import build_training_set

        def build(dates: Sequence[pd.Timestamp], design: str) -> TrainingSet:
            return build_training_set(
                self.portfolio,
                dates,
                settings.treatment_window,
                settings.horizon,
                settings.min_dpd,
                data_end=settings.as_of,
                design=design,
                random_state=settings.seed,
            )

        return build

    def score(
        self, model: Any, training_set: TrainingSet, settings: RunSettings
    ) -> tuple[pd.DataFrame, pd.DataFrame]:
        from visitrisk.features import build_features

        features = build_features(
            self.portfolio, settings.as_of, population="delinquent", min_dpd=settings.min_dpd
        )
        scores = _scores_for_planning(model.score(features), features, self.portfolio, settings)
        return features, scores

    def explain(
        self, model: Any, features: pd.DataFrame, scores: pd.DataFrame, settings: RunSettings
    ) -> tuple[Explanation, pd.DataFrame]:
        from visitrisk.explain import explain

        explanation = explain(model, features, random_state=settings.seed)
        return explanation, scores.join(explanation.reasons(lang=settings.lang, n=3))

    def planner(
        self, scores: pd.DataFrame, staff: pd.DataFrame
    ) -> tuple[Callable[..., VisitPlan], Any]:
        from visitrisk.planning import plan_visits

        return plan_visits, scores

    def customers_of(self, customer_ids: pd.Series) -> pd.DataFrame:
        return self.portfolio.customers


def _scores_for_planning(
    scores: pd.DataFrame, features: pd.DataFrame, portfolio: Any, settings: RunSettings
) -> pd.DataFrame:
    """Add what the planner needs about each scored customer: branch, place, state, visits."""
    customers = portfolio.customers.set_index("customer_id")
    details = customers.reindex(scores.index)[
        [column for column in _CUSTOMER_COLUMNS if column in customers.columns]
    ]
    visits = portfolio.visits
    last_visit = (
        visits.loc[visits["visit_date"] <= settings.as_of]
        .groupby("customer_id")["visit_date"]
        .max()
    )
    return scores.join(details).assign(
        days_past_due=features["days_past_due"].reindex(scores.index),
        arrears=features["arrears"].reindex(scores.index),
        last_visit_date=last_visit.reindex(scores.index),
    )


def run_demo(
    out_dir: str | os.PathLike[str] = "demo_output",
    *,
    n_customers: int = 20_000,
    seed: int = 0,
    as_of: str = "2026-11-30",
    days: int = 10,
    tracking_uri: str | None = None,
    design: str = "trial",
    progress: Callable[[str], None] | None = None,
) -> RunResult:
    """Simulate a portfolio, write it in the contract format and run the pipeline on it.

    Parameters
    ----------
    out_dir : path, default "demo_output"
        Folder for the simulated data (``data/``) and every output.
    n_customers : int, default 20000
        Customers in the simulated portfolio.
    seed : int, default 0
        Seed of the simulation and the run; the same seed gives the same files.
    as_of : str, default "2026-11-30"
        Last day of the simulated history (ISO date); the plan starts the day after.
    days : int, default 10
        Calendar days the plan covers.
    tracking_uri : str, optional
        MLflow store; default ``sqlite:///<out_dir>/mlflow.db``.
    design : {"trial", "landmark"}, default "trial"
        Construction of the training rows, as in :func:`run`.
    progress : callable, optional
        Called with a short message before each step.

    Returns
    -------
    RunResult
        With the simulated folder as ``outputs["data_dir"]``.
    """
    from visitrisk.simulate import simulate_portfolio

    say = progress or (lambda message: None)
    out = Path(out_dir)
    say(f"Simulating a portfolio of {n_customers:,} customers")
    simulated = simulate_portfolio(n_customers, seed=seed, as_of=as_of)
    data_dir = simulated.write(out / "data", "csv")
    result = run(
        data_dir,
        as_of=as_of,
        start=pd.Timestamp(as_of) + pd.Timedelta(days=1),
        days=days,
        out_dir=out,
        seed=seed,
        tracking_uri=tracking_uri,
        design=design,
        progress=say,
    )
    result.outputs["data_dir"] = data_dir
    return result
