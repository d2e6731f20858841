"""``visitrisk run --engine spark``: the run's steps with the Spark stages swapped in.

Private to :mod:`visitrisk.spark`. The steps, their order and every output are those of
:func:`visitrisk.pipeline.run` (written once, in ``visitrisk._run_steps``); this engine
supplies only where the data is processed: validation, features, scoring, explanations
and planning run on Spark, the training set is built from a seeded customer sample on the
driver (:func:`visitrisk.spark.sample_training_set`), the visit-log audit runs on the
driver with the customers, visits and staff only, and the model is fitted, evaluated and
logged on the driver as usual.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import MappingProxyType, SimpleNamespace
from typing import TYPE_CHECKING, Any

import pandas as pd

from visitrisk._run_steps import Engine, RunSettings, run_steps, with_run_options

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

    from visitrisk.explain import Explanation
    from visitrisk.labels import TrainingSet
    from visitrisk.pipeline import RunResult
    from visitrisk.planning import VisitPlan

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

    # The model of an earlier run into the same folder is replaced (MLflow refuses to save
    # into a folder that is not empty).
    shutil.rmtree(path, ignore_errors=True)
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


@with_run_options
def run(
    data: str | os.PathLike[str],
    *,
    sample_fraction: float = 1.0,
    spark: SparkSession | None = None,
    master: str | None = "local[2]",
    **options: Any,
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
    **options
        ``as_of``, ``start``, ``days``, ``out_dir``, ``model_spec``, ``holdout``, ``seed``,
        ``lang``, ``tracking_uri``, ``rules``, ``treatment_window``, ``horizon``,
        ``min_dpd``, ``test_snapshots``, ``capacities``, ``design``, ``progress``: as in
        :func:`visitrisk.pipeline.run` (the signature shows them all).

    Returns
    -------
    RunResult
        As :func:`visitrisk.pipeline.run`; ``summary["engine"]`` is ``"spark"`` and
        ``summary["training"]["sampling"]`` describes the training sample.
    """
    from visitrisk import spark as vs

    settings = RunSettings.of(options)
    session = spark if spark is not None else vs.spark_session(master)
    return run_steps(_SparkEngine(data, session, sample_fraction), settings)


class _SparkEngine(Engine):
    """Features, scores, explanations and the plan on Spark; training on the driver."""

    name = "spark"
    messages = MappingProxyType(
        {
            **Engine.messages,
            "validate": "Reading the contract tables",
            "audit": "Auditing the visit log on the driver",
            "training_set": "Building the training set from a customer sample",
            "score": "Scoring and explaining customers delinquent on {as_of}",
            "plan": "Planning visits per group of branches sharing officers",
        }
    )

    def __init__(self, data: str | os.PathLike[str], session: SparkSession, fraction: float):
        self._data = data
        self._session = session
        self._fraction = fraction
        self.tables: dict[str, DataFrame] = {}
        self._cached: list[DataFrame] = []
        self._explanation: Explanation | None = None

    def validate(self) -> pd.DataFrame | None:
        from visitrisk import spark as vs

        self.tables = vs.read_tables(self._session, self._data)
        return _typed_staff(self.tables["staff"].toPandas()) if "staff" in self.tables else None

    def customer_count(self) -> int:
        from pyspark.sql import functions as F  # noqa: N812

        return int(self.tables["customers"].agg(F.count(F.lit(1))).first()[0])

    def audit(self) -> pd.DataFrame:
        from visitrisk import spark as vs

        return vs._whole_log_audit(self.tables)

    def log_span(self) -> Any:
        return _log_span(self.tables)

    def training_set_builder(
        self, settings: RunSettings, snapshots: Sequence[pd.Timestamp]
    ) -> Callable[[Sequence[pd.Timestamp], str], TrainingSet]:
        from visitrisk import spark as vs
        from visitrisk.labels import _checked_parameters

        # One customer sample on the driver for the training rows and the test rows, as
        # sample_training_set would build them.
        sample = vs._CustomerSample.collect(
            self.tables, list(snapshots), self._fraction, settings.seed
        )

        def build(dates: Sequence[pd.Timestamp], design: str) -> TrainingSet:
            stamps, days, options = _checked_parameters(
                dates,
                settings.treatment_window,
                settings.horizon,
                settings.min_dpd,
                design=design,
                visit_weekdays="Mon Tue Wed Thu Fri",
                random_state=settings.seed,
                n_jobs=1,
                exclude_flagged_visits=False,
            )
            return sample.training_set(stamps, days, settings.as_of, options)

        return build

    def score(
        self, model: Any, training_set: TrainingSet, settings: RunSettings
    ) -> tuple[pd.DataFrame, pd.DataFrame]:
        from visitrisk import spark as vs

        model_path = _save_pyfunc(model, training_set.X, settings.out / "spark_model")
        features_frame = vs.build_features(
            self.tables, settings.as_of, min_dpd=settings.min_dpd
        ).persist()
        scored_frame = vs.score(features_frame, model_path, lang=settings.lang).persist()
        planning_frame = vs.scores_for_planning(
            scored_frame, features_frame, self.tables, settings.as_of
        ).persist()
        self._cached = [features_frame, scored_frame, planning_frame]
        scores = planning_frame.toPandas().set_index("customer_id").sort_index()
        features = vs.features_to_pandas(features_frame)
        scored = scored_frame.toPandas().set_index("customer_id").sort_index()
        # SHAP values and reasons were computed with the scores, on the executors.
        self._explanation = _explanation(scored, features)
        return features, scores

    def explain(
        self, model: Any, features: pd.DataFrame, scores: pd.DataFrame, settings: RunSettings
    ) -> tuple[Explanation, pd.DataFrame]:
        return self._explanation, scores

    def planner(
        self, scores: pd.DataFrame, staff: pd.DataFrame
    ) -> tuple[Callable[..., VisitPlan], Any]:
        from visitrisk import spark as vs
        from visitrisk._plan_inputs import prepare_staff

        # The staff table's own checks, on the driver, before any Spark job.
        prepare_staff(staff, pd.Index(scores["branch_id"].dropna().unique()))
        return vs.plan_visits, self._cached[-1]

    def customers_of(self, customer_ids: pd.Series) -> pd.DataFrame:
        planned = self._session.createDataFrame(
            pd.DataFrame({"customer_id": customer_ids.astype(object)})
        )
        return self.tables["customers"].join(planned, "customer_id", "left_semi").toPandas()

    def close(self) -> None:
        for frame in self._cached:
            frame.unpersist()
