"""``visitrisk run --engine spark``: the pipeline's steps with the Spark stages swapped in.

Private to :mod:`visitrisk.spark`. The steps, their order and every output are those of
:func:`visitrisk.pipeline.run`; only where the data is processed changes: validation,
features, scoring, explanations and planning run on Spark, the training set is built from
a seeded customer sample on the driver (:func:`visitrisk.spark.sample_training_set`), and
the model is fitted, evaluated and logged on the driver as usual.
"""

from __future__ import annotations

import json
import os
import time
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from visitrisk._atomic import write_atomic

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

    from visitrisk.pipeline import RunResult

__all__ = ["run"]


def _log_span(tables: Mapping[str, DataFrame]) -> SimpleNamespace:
    """First and last payment and visit dates: all that ``monthly_snapshots`` reads."""
    from pyspark.sql import functions as F  # noqa: N812

    span = {}
    for name, column in (("payments", "payment_date"), ("visits", "visit_date")):
        dates: list[Any] = []
        if name in tables:
            dates = [value for value in tables[name].agg(F.min(column), F.max(column)).first()]
        stamps = pd.to_datetime(pd.Series([d for d in dates if d is not None], dtype=object))
        span[name] = pd.DataFrame({column: stamps.astype("datetime64[us]")})
    return SimpleNamespace(**span)


def _typed_staff(raw: pd.DataFrame) -> pd.DataFrame:
    """Type and check the staff table as :func:`visitrisk.load_portfolio` does."""
    from visitrisk._tables import Problems, type_table
    from visitrisk.contract import DataError, _finished_staff

    problems = Problems()
    typed = type_table("staff", raw, problems)
    problems.tables = {"staff": typed}
    if problems.has_errors:
        raise DataError(problems.errors(), warnings=problems.warnings())
    return _finished_staff(typed)


def _save_pyfunc(model: Any, features: pd.DataFrame, path: Path) -> str:
    """Save the model as the same MLflow pyfunc that ``RunLog.log_model`` logs."""
    import mlflow.pyfunc
    from mlflow.models import ModelSignature, infer_signature

    from visitrisk._pyfunc import UpliftPyfunc
    from visitrisk.tracking import (
        _input_schema,
        _loggable_features,
        _quiet_mlflow,
        _requirements,
    )

    with _quiet_mlflow():
        wrapper = UpliftPyfunc(model, features)
        example = _loggable_features(features.head(5)).reset_index(drop=True)
        output = wrapper.predict(None, example)
        signature = ModelSignature(_input_schema(features), infer_signature(output).inputs)
        mlflow.pyfunc.save_model(
            str(path),
            python_model=wrapper,
            signature=signature,
            pip_requirements=_requirements(),
        )
    return str(path)


def _explanation(scored: pd.DataFrame, features: pd.DataFrame) -> Any:
    """Return the Explanation of the scored customers from the SHAP columns Spark computed."""
    from visitrisk.explain import Explanation

    values = scored[[f"shap_{name}" for name in features.columns]].set_axis(
        list(features.columns), axis=1
    )
    return Explanation(
        values=values.rename_axis("customer_id"),
        base_values=scored["base_value"].rename("base_value"),
        uplift=scored["uplift"].rename("uplift"),
        features=features,
        method="computed on Spark (visitrisk.spark.score)",
    )


def run(
    data: str | os.PathLike[str],
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
    sample_fraction: float = 1.0,
    spark: SparkSession | None = None,
    master: str | None = "local[2]",
    progress: Callable[[str], None] | None = None,
) -> RunResult:
    """Run :func:`visitrisk.pipeline.run` with Spark doing the heavy stages.

    Parameters
    ----------
    data : path
        Folder (local or a cluster's file system) of ``<table>.parquet`` files or folders.
    sample_fraction : float, default 1.0
        Share of customers whose rows train the model (:func:`visitrisk.spark.
        sample_training_set`, seeded by ``seed``).
    spark : SparkSession, optional
        Session to use; default :func:`visitrisk.spark.spark_session` with ``master``.
    master : str or None, default "local[2]"
        Spark master when no session is given (``None``: as ``spark-submit`` set it).
    as_of, start, days, out_dir, model_spec, holdout, seed, lang, tracking_uri, rules, \
treatment_window, horizon, min_dpd, test_snapshots, capacities, design, progress
        As in :func:`visitrisk.pipeline.run`.

    Returns
    -------
    RunResult
        As :func:`visitrisk.pipeline.run`; ``summary["engine"]`` is ``"spark"`` and
        ``summary["training"]["sampling"]`` describes the training sample.
    """
    from pyspark.sql import functions as F  # noqa: N812
    from sklearn.base import clone

    from visitrisk import spark as vs
    from visitrisk._plan_inputs import prepare_staff
    from visitrisk.contract import DataError
    from visitrisk.drift import DriftWarning, drift_report, score_drift_warning
    from visitrisk.evaluation import evaluate
    from visitrisk.experiment import _sets_for_evaluation
    from visitrisk.labels import DESIGNS, _checked_parameters, monthly_snapshots
    from visitrisk.pipeline import (
        RunResult,
        _drift_summary,
        _log_run,
        _missing_staff_problem,
        _model_from_spec,
        _one_row_per_customer_and_snapshot,
        _run_counts,
        _save_figure,
        _with_customer_details,
    )
    from visitrisk.planning import PlanRules
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
    session = spark if spark is not None else vs.spark_session(master)
    with step("validate", "Reading the contract tables"):
        tables = vs.read_tables(session, data)
        if "staff" not in tables:
            raise DataError(_missing_staff_problem())
        staff = _typed_staff(tables["staff"].toPandas())
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    model_template, spec_params = _model_from_spec(model_spec, seed)

    with step("training_set", "Building the training set from a customer sample"):
        snapshots = monthly_snapshots(
            _log_span(tables), treatment_window, horizon, before=as_of + pd.Timedelta(days=1)
        )
        # One customer sample on the driver for the training rows and the test rows, as
        # sample_training_set would build them.
        sample = vs._CustomerSample.collect(tables, list(snapshots), sample_fraction, seed)

        def build(dates: Sequence[pd.Timestamp], rows_design: str) -> Any:
            stamps, days, options = _checked_parameters(
                dates,
                treatment_window,
                horizon,
                min_dpd,
                design=rows_design,
                visit_weekdays="Mon Tue Wed Thu Fri",
                random_state=seed,
                n_jobs=1,
                exclude_flagged_visits=False,
            )
            return sample.training_set(stamps, days, as_of, options)

        training_set, train, test = _sets_for_evaluation(build, snapshots, test_snapshots, design)
    with step("evaluate", "Fitting on earlier snapshots and evaluating on the latest"):
        evaluated_model = clone(model_template).fit(train)
        evaluation = evaluate(
            evaluated_model, test, capacities=tuple(capacities), random_state=seed
        )
    with step("fit", "Refitting on every labelled snapshot"):
        model = clone(model_template).fit(training_set)
        model_path = _save_pyfunc(model, training_set.X, out / "spark_model")
    with step("score", f"Scoring and explaining customers delinquent on {as_of.date()}"):
        features_frame = vs.build_features(tables, as_of, min_dpd=min_dpd).persist()
        scored_frame = vs.score(features_frame, model_path, lang=lang).persist()
        planning_frame = vs.scores_for_planning(scored_frame, features_frame, tables, as_of)
        planning_frame = planning_frame.persist()
        scores = planning_frame.toPandas().set_index("customer_id").sort_index()
        features = vs.features_to_pandas(features_frame)
        scored = scored_frame.toPandas().set_index("customer_id").sort_index()
        explanation = _explanation(scored, features)
        shap_figures = explanation.save_figures(out / "figures", lang=lang)
        scores_path = out / "scores.parquet"
        write_atomic(scores_path, scores.to_parquet())
    with step("drift", "Comparing the customers scored with the training population"):
        # The reference scores come from the scoring model, on the rows it learned from.
        reference = _one_row_per_customer_and_snapshot(training_set).X
        drift = drift_report(reference, features, model.predict(reference), scores["uplift"])
        drift_path = out / "drift.csv"
        write_atomic(drift_path, drift.to_csv(index=False).encode("utf-8"))
        drift_warning = score_drift_warning(drift)
        if drift_warning:
            warnings.warn(drift_warning, DriftWarning, stacklevel=2)
    with step("plan", "Planning visits per group of branches sharing officers"):
        prepare_staff(staff, pd.Index(scores["branch_id"].dropna().unique()))
        plan = vs.plan_visits(
            planning_frame,
            staff,
            start,
            days,
            rules=rules if rules is not None else PlanRules(),
            holdout=holdout,
            seed=seed,
        )
    with step("reports", "Writing the reports"):
        planned = session.createDataFrame(
            pd.DataFrame({"customer_id": plan.plan["customer_id"].astype(object)})
        )
        customers = tables["customers"].join(planned, "customer_id", "left_semi").toPandas()
        outputs = write_reports(
            _with_customer_details(plan.plan, customers),
            plan.exclusions,
            plan.summary,
            out,
            lang=lang,
        )
        figure_path = out / "figures" / "evaluation.png"
        _save_figure(evaluation.plot(), figure_path)
        outputs["evaluation_png"] = figure_path
        outputs["scores"] = scores_path
        outputs["drift_csv"] = drift_path
        outputs["figures"] = out / "figures"

    summary: dict[str, Any] = {
        "engine": "spark",
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
            "sampling": training_set.metadata.get("sampling", {}),
        },
        "metrics": evaluation.to_dict(),
        "plan": plan.summary,
        "counts": _run_counts(
            tables["customers"].agg(F.count(F.lit(1))).first()[0], len(scores), plan
        ),
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
    for frame in (features_frame, scored_frame, planning_frame):
        frame.unpersist()
    summary["not_logged"] = not_logged
    summary_path = out / "run_summary.json"
    text = json.dumps(summary, indent=2, default=_json_default, ensure_ascii=False)
    write_atomic(summary_path, text.encode("utf-8"))
    outputs["run_summary"] = summary_path
    return RunResult(out_dir=out, outputs=outputs, summary=summary, not_logged=not_logged)


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    return str(value)
