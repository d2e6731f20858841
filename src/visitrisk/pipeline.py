"""End-to-end runs used by the command line, notebooks and experiments.

This module only assembles stages; the logic of each lives in its own module. A run:

1. validates the contract tables (:func:`visitrisk.load_portfolio`); nothing is written
   when they break the contract;
2. builds the training set on every month-end snapshot whose labels are observed before
   the as-of date (:func:`visitrisk.build_training_set`; the emulated trial by default);
3. fits the model on the earlier snapshots and evaluates it on the landmark rows of the
   latest ones with the inverse-propensity and doubly-robust estimators
   (:func:`visitrisk.evaluate`), then refits the same specification on every labelled
   snapshot to score;
4. scores and explains every customer delinquent on the as-of date, and compares them
   with the training population (population stability of every feature and of the
   uplift score, :func:`visitrisk.drift_report`; a :class:`~visitrisk.drift.DriftWarning`
   when the scores' index is 0.25 or more);
5. plans the visits with the staff table (:func:`visitrisk.plan_visits`);
6. writes the reports and ``run_summary.json`` and logs the run to MLflow.
"""

from __future__ import annotations

import io
import json
import os
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from visitrisk._atomic import write_atomic

__all__ = ["RunResult", "run", "run_demo"]

#: Name under which every run's model is registered in MLflow.
REGISTERED_MODEL_NAME = "visitrisk-uplift"

#: Default model specification, relative to the repository root.
_DEFAULT_LEARNER = "dr"

#: Columns of the customers table carried into the plan for the reports (masked there).
_CUSTOMER_COLUMNS = ("branch_id", "do_not_visit", "township", "village", "latitude", "longitude")
_PERSONAL_COLUMNS = ("name", "national_id", "phone")


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
        ``drift_csv``, ``run_summary``).
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
    from visitrisk.contract import DataError, Portfolio, load_portfolio
    from visitrisk.drift import DriftWarning, drift_report, score_drift_warning
    from visitrisk.evaluation import evaluate
    from visitrisk.experiment import _sets_for_evaluation
    from visitrisk.explain import explain
    from visitrisk.features import build_features
    from visitrisk.labels import DESIGNS, build_training_set, monthly_snapshots
    from visitrisk.planning import PlanRules, plan_visits
    from visitrisk.report import write_reports
    from visitrisk.tracking import uplift_model_params

    say = progress or (lambda message: None)
    timings: dict[str, float] = {}

    @contextmanager
    def step(name: str, message: str) -> Iterator[None]:
        say(message)
        started = time.perf_counter()
        yield
        timings[name] = round(time.perf_counter() - started, 3)

    if design not in DESIGNS:
        raise ValueError(
            f"The 'design' parameter of run must be one of {list(DESIGNS)}. Got {design!r} instead."
        )
    as_of = pd.Timestamp(as_of).normalize()
    start = pd.Timestamp(start).normalize()
    with step("validate", "Validating the contract tables"):
        portfolio = data if isinstance(data, Portfolio) else load_portfolio(data)
    if portfolio.staff is None:
        raise DataError(_missing_staff_problem())

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    model_template, spec_params = _model_from_spec(model_spec, seed)

    with step("training_set", "Building the training set"):
        # Labels must be fully observed by the as-of date: nothing later is used.
        snapshots = monthly_snapshots(
            portfolio, treatment_window, horizon, before=as_of + pd.Timedelta(days=1)
        )
        training_set, train, test = _sets_for_evaluation(
            lambda dates, rows_design: build_training_set(
                portfolio,
                dates,
                treatment_window,
                horizon,
                min_dpd,
                data_end=as_of,
                design=rows_design,
                random_state=seed,
            ),
            snapshots,
            test_snapshots,
            design,
        )
    with step("evaluate", "Fitting on earlier snapshots and evaluating on the latest"):
        from sklearn.base import clone

        evaluated_model = clone(model_template).fit(train)
        evaluation = evaluate(
            evaluated_model, test, capacities=tuple(capacities), random_state=seed
        )
    with step("fit", "Refitting on every labelled snapshot"):
        model = clone(model_template).fit(training_set)
    with step("score", f"Scoring customers delinquent on {as_of.date()}"):
        features = build_features(portfolio, as_of, population="delinquent", min_dpd=min_dpd)
        scores = _scores_for_planning(model.score(features), features, portfolio, as_of)
    with step("drift", "Comparing the customers scored with the training population"):
        # The reference scores come from the scoring model, on the rows it learned from.
        reference = _one_row_per_customer_and_snapshot(training_set).X
        drift = drift_report(reference, features, model.predict(reference), scores["uplift"])
        drift_path = out / "drift.csv"
        write_atomic(drift_path, drift.to_csv(index=False).encode("utf-8"))
        drift_warning = score_drift_warning(drift)
        if drift_warning:
            warnings.warn(drift_warning, DriftWarning, stacklevel=2)
    with step("explain", "Explaining every score"):
        explanation = explain(model, features, random_state=seed)
        scores = scores.join(explanation.reasons(lang=lang, n=3))
        shap_figures = explanation.save_figures(out / "figures", lang=lang)
        # Kept so that `visitrisk plan` can re-plan with other staff or rules, no refit.
        scores_path = out / "scores.parquet"
        write_atomic(scores_path, scores.to_parquet())
    with step("plan", "Planning visits"):
        plan = plan_visits(
            scores,
            portfolio.staff,
            start,
            days,
            rules=rules if rules is not None else PlanRules(),
            holdout=holdout,
            seed=seed,
        )
    with step("reports", "Writing the reports"):
        outputs = write_reports(
            _with_customer_details(plan.plan, portfolio.customers),
            plan.exclusions,
            plan.summary,
            out,
            lang=lang,
            currency=portfolio.currency,
        )
        figure_path = out / "figures" / "evaluation.png"
        _save_figure(evaluation.plot(), figure_path)
        outputs["evaluation_png"] = figure_path
        outputs["scores"] = scores_path
        outputs["drift_csv"] = drift_path
        outputs["figures"] = out / "figures"

    metrics = evaluation.to_dict()
    summary: dict[str, Any] = {
        "as_of": str(as_of.date()),
        "plan_start": str(start.date()),
        "plan_days": days,
        "seed": seed,
        "input_digest": str(training_set.metadata.get("input_digest", "")),
        "model": {**spec_params, **uplift_model_params(model)},
        "training": {
            "snapshots": [str(stamp.date()) for stamp in snapshots],
            "design": design,
            "rows": len(training_set),
            "train_rows": len(train),
            "test_rows": len(test),
            "dropped": training_set.metadata.get("dropped", {}),
        },
        "metrics": metrics,
        "plan": plan.summary,
        "counts": _run_counts(len(portfolio.customers), len(scores), plan),
        "drift": _drift_summary(drift, drift_warning),
        "timings_seconds": timings,
    }

    with step("tracking", "Logging to MLflow"):
        not_logged = _log_run(
            summary,
            out=out,
            tracking_uri=tracking_uri,
            training=(train, test),
            evaluation=evaluation,
            model=model,
            features=features,
            files=[outputs["plan_csv"], outputs["exclusions_csv"], figure_path, *shap_figures],
            model_params=uplift_model_params(model),
            drift=drift,
        )
    summary["not_logged"] = not_logged
    summary_path = out / "run_summary.json"
    text = json.dumps(summary, indent=2, default=str, ensure_ascii=False)
    write_atomic(summary_path, text.encode("utf-8"))
    outputs["run_summary"] = summary_path
    return RunResult(out_dir=out, outputs=outputs, summary=summary, not_logged=not_logged)


def _one_row_per_customer_and_snapshot(training_set: Any) -> Any:
    """Drop a trial row's second clone: one row per customer and snapshot.

    Drift compares populations of customers; a trial row kept in both arms would count
    twice.
    """
    from visitrisk.experiment import _take

    keys = pd.DataFrame({"snapshot": training_set.snapshot, "customer": training_set.customer_id})
    first = ~keys.duplicated().to_numpy()
    return training_set if first.all() else _take(training_set, first)


def _run_counts(customers: int, delinquent_scored: int, plan: Any) -> dict[str, int]:
    """Count the run summary's customers, scored, planned, held-out and excluded rows."""
    return {
        "customers": int(customers),
        "delinquent_scored": int(delinquent_scored),
        "planned_visits": int((plan.plan["arm"] == "visit").sum()),
        "holdout": int((plan.plan["arm"] == "holdout").sum()),
        "excluded": len(plan.exclusions),
    }


def _drift_summary(drift: pd.DataFrame, warning: str | None) -> dict[str, Any]:
    """Summarise drift for the run summary: the score's PSI and the major-band features.

    The calendar month is left out of the major features: a single scoring date always
    differs from a year of training months.
    """
    from visitrisk.drift import SCORE_NAME

    return {
        "uplift_score_psi": float(drift.set_index("feature").at[SCORE_NAME, "psi"]),
        "major_features": drift.loc[
            (drift["band"] == "major") & ~drift["calendar"], "feature"
        ].tolist(),
        "warning": warning,
    }


def _missing_staff_problem() -> pd.DataFrame:
    from visitrisk._problems import problem, problem_frame

    message = (
        "staff: the table is needed to plan visits (officers, working days, "
        "visits per day) and was not given (rule missing_table)."
    )
    return problem_frame([problem("staff", "", "missing_table", message)])


def _model_from_spec(model_spec: str | os.PathLike[str] | None, seed: int) -> tuple[Any, dict]:
    if model_spec is None:
        from visitrisk.learners import UpliftModel

        return UpliftModel(learner=_DEFAULT_LEARNER, random_state=seed), {"spec": "default"}
    from visitrisk.specs import load_model_spec

    spec = load_model_spec(model_spec)
    return spec.build(random_state=seed), {"spec": str(model_spec), **spec.to_params()}


def _scores_for_planning(
    scores: pd.DataFrame, features: pd.DataFrame, portfolio: Any, as_of: pd.Timestamp
) -> pd.DataFrame:
    """Add what the planner needs about each scored customer: branch, place, state, visits."""
    customers = portfolio.customers.set_index("customer_id")
    details = customers.reindex(scores.index)[
        [column for column in _CUSTOMER_COLUMNS if column in customers.columns]
    ]
    visits = portfolio.visits
    last_visit = (
        visits.loc[visits["visit_date"] <= as_of].groupby("customer_id")["visit_date"].max()
    )
    return scores.join(details).assign(
        days_past_due=features["days_past_due"].reindex(scores.index),
        arrears=features["arrears"].reindex(scores.index),
        last_visit_date=last_visit.reindex(scores.index),
    )


def _with_customer_details(plan: pd.DataFrame, customers: pd.DataFrame) -> pd.DataFrame:
    """Attach place and personal columns for the reports, which mask the personal ones."""
    wanted = [
        column
        for column in ("township", "village", *_PERSONAL_COLUMNS)
        if column in customers.columns and customers[column].notna().any()
    ]
    if not wanted:
        return plan
    details = customers.set_index("customer_id")[wanted]
    return plan.join(details, on="customer_id")


def _save_figure(figure: Any, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110)
    write_atomic(path, buffer.getvalue())


def _log_run(
    summary: dict[str, Any],
    *,
    out: Path,
    tracking_uri: str | None,
    training: tuple[Any, Any],
    evaluation: Any,
    model: Any,
    features: pd.DataFrame,
    files: list[Path],
    model_params: dict[str, str],
    drift: pd.DataFrame,
) -> list[str]:
    from visitrisk.drift import drift_metrics
    from visitrisk.tracking import promote, start_run

    train, test = training
    params = {
        **model_params,
        "treatment_window": train.metadata.get("treatment_window"),
        "horizon": train.metadata.get("horizon"),
        "min_dpd": train.metadata.get("min_dpd"),
        "design": train.metadata.get("design"),
        "seed": summary["seed"],
        "as_of": summary["as_of"],
        "plan_start": summary["plan_start"],
        "plan_days": summary["plan_days"],
    }
    plan_metrics = {
        f"plan_{name}": float(value)
        for name, value in {**summary["plan"], **summary["counts"]}.items()
        if isinstance(value, int | float) and not isinstance(value, bool)
    }
    with start_run(
        run_name=f"run {summary['as_of']}",
        out_dir=out,
        tracking_uri=tracking_uri,
        params=params,
        data_digest=summary["input_digest"],
        tags={"visitrisk.kind": "run"},
    ) as run_log:
        run_log.log_training_set(train, "training")
        run_log.log_training_set(test, "test")
        run_log.log_evaluation(evaluation)
        run_log.log_metrics(plan_metrics)
        run_log.log_metrics(drift_metrics(drift))
        run_log.log_table(drift, "drift/drift.csv")
        for path in files:
            run_log.log_file(path, "plan" if path.suffix == ".csv" else "figures")
        logged = run_log.log_model(model, features, registered_model_name=REGISTERED_MODEL_NAME)
        if logged is not None and logged.version is not None:
            # A new model is a challenger; making it champion is a person's decision.
            promote(
                REGISTERED_MODEL_NAME,
                logged.version,
                "challenger",
                tracking_uri=run_log.tracking_uri,
            )
        summary["mlflow"] = {"tracking_uri": run_log.tracking_uri, "run_id": run_log.run_id}
    return list(run_log.not_logged)


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
