"""Run visitrisk on Apache Spark: the same pandas stage functions, one partition at a time.

Nothing here re-implements a stage. Every computation is a call to the pandas function of
its stage (:func:`visitrisk.load_portfolio`, the feature and label builders, the MLflow
pyfunc model, :func:`visitrisk.explain`, :func:`visitrisk.plan_visits`) on a pandas frame
that holds whole units of work:

- **Features.** The five customer-level contract tables are packed into one long Spark
  DataFrame (installments and payments get their ``customer_id`` through ``loan_id``),
  hashed into ``buckets`` by ``customer_id`` and handed bucket by bucket to
  ``applyInPandas``: each bucket holds whole customers with all their loans, schedule
  rows, payments and visits, is validated with :func:`visitrisk.load_portfolio` and gets
  its features from the pandas code. The one feature that looks beyond a customer,
  ``township_delinquency_rate``, needs township totals over the whole portfolio: a first
  pass computes each bucket's counts with the same pandas code, Spark adds them up, and
  the second pass uses the global counts. Contract problems found in any bucket are
  gathered and raised as one :class:`~visitrisk.DataError` on the driver.
- **Training.** :func:`sample_training_set` keeps a seeded hash sample of whole customers,
  brings their rows to the driver and builds the training set there (global township
  counts again), so a model is fitted on the driver as usual.
- **Scoring and explanations.** :func:`score` ships an MLflow pyfunc model to the
  executors and calls its ``predict`` (and :func:`visitrisk.explain` on the wrapped model)
  per Arrow batch with ``mapInPandas``.
- **Planning.** :func:`plan_visits` splits branches into groups that share no officer
  (connected components of the branch-officer coverage graph), plans each group with
  :func:`visitrisk.plan_visits` in parallel (``cogroup(...).applyInPandas``) and merges
  the groups' plans; since no capacity crosses groups and the holdout draw of a customer
  depends only on its id and the seed, the merged plan is the plan of the whole.

Rows of each bucket are put in a canonical order (by id, date and amount) before the pandas
code runs, so that float sums do not depend on how Spark shuffled them. See
``docs/spark.md`` for running on a cluster and the settings that matter.

pyspark is an optional dependency (``pip install visitrisk[spark]``); this module imports
it lazily and is not imported by ``import visitrisk``.
"""

from __future__ import annotations

import datetime as _dt
import os
import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import pandas as pd

from visitrisk._spark_buckets import (
    _BUCKET,
    _TABLE_TAG,
    CUSTOMER_TABLES,
    _contract_columns,
    _default_buckets,
    _packed,
    _plain,
    _portfolio_of_bucket,
    _to_pandas,
    township_counts,
)
from visitrisk._spark_plan import officer_groups, plan_visits
from visitrisk._spark_run import run
from visitrisk._tables import CONTRACT, PROBLEM_COLUMNS, TABLES
from visitrisk.contract import DataError
from visitrisk.feature_catalog import FEATURES

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

    from visitrisk.labels import TrainingSet

__all__ = [
    "CUSTOMER_TABLES",
    "build_features",
    "features_to_pandas",
    "officer_groups",
    "plan_visits",
    "read_tables",
    "run",
    "sample_training_set",
    "score",
    "scores_for_planning",
    "spark_session",
    "township_counts",
]


def _require_pyspark() -> Any:
    try:
        import pyspark
    except ImportError as error:  # pragma: no cover - depends on the environment
        raise ImportError(
            "visitrisk.spark needs pyspark: pip install 'visitrisk[spark]' "
            "(and a Java 17+ runtime)."
        ) from error
    return pyspark


# --------------------------------------------------------------------------------------
# Session and input
# --------------------------------------------------------------------------------------
def spark_session(
    master: str | None = "local[2]",
    *,
    app_name: str = "visitrisk",
    config: Mapping[str, str] | None = None,
) -> SparkSession:
    """Return a SparkSession set up for visitrisk (Arrow on, UTC session time zone).

    Parameters
    ----------
    master : str or None, default "local[2]"
        Spark master URL; ``None`` keeps whatever ``spark-submit`` or the platform set.
    app_name : str, default "visitrisk"
        Application name.
    config : mapping of str to str, optional
        Further Spark settings (see ``docs/spark.md`` for those that matter).

    Returns
    -------
    pyspark.sql.SparkSession
    """
    _require_pyspark()
    from pyspark.sql import SparkSession

    # Workers must run this interpreter (with pandas, pyarrow and visitrisk), not the
    # system's python.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    builder = SparkSession.builder.appName(app_name)
    if master is not None:
        builder = builder.master(master)
    settings = {
        "spark.sql.execution.arrow.pyspark.enabled": "true",
        "spark.sql.session.timeZone": "UTC",
        **(config or {}),
    }
    for key, value in settings.items():
        builder = builder.config(key, value)
    return builder.getOrCreate()


def read_tables(spark: SparkSession, path: str | os.PathLike[str]) -> dict[str, DataFrame]:
    """Read the contract tables from Parquet: ``<path>/<table>.parquet`` (file or folder).

    Parameters
    ----------
    spark : pyspark.sql.SparkSession
    path : str or os.PathLike
        Folder (local, HDFS, S3, DBFS, ...) holding one Parquet file or folder per table.

    Returns
    -------
    dict of str to pyspark.sql.DataFrame
        The tables found, by contract name.

    Raises
    ------
    DataError
        When a required table (customers, loans, installments, payments) is missing.
    """
    from pyspark.errors import AnalysisException

    base = str(path).rstrip("/")
    tables: dict[str, DataFrame] = {}
    for name in TABLES:
        try:
            tables[name] = spark.read.parquet(f"{base}/{name}.parquet")
        except AnalysisException:
            continue
    missing = [name for name in ("customers", "loans", "installments", "payments")
               if name not in tables]  # fmt: skip
    if missing:
        raise DataError(
            pd.DataFrame(
                [
                    {
                        "table": name,
                        "column": "",
                        "rule": "missing_table",
                        "count": 0,
                        "examples": "",
                        "message": f"{name}: the table is missing (expected {base}/{name}.parquet)",
                    }
                    for name in missing
                ],
                columns=list(PROBLEM_COLUMNS),
            )
        )
    return tables


# --------------------------------------------------------------------------------------
# Features
# --------------------------------------------------------------------------------------
def _spark_type(name: str) -> str:
    from visitrisk._feature_groups import _feature_dtype

    return {"category": "string", "int64": "long", "float64": "double"}[_feature_dtype(name)]


def _features_schema() -> str:
    return ", ".join(["customer_id string", *[f"{name} {_spark_type(name)}" for name in FEATURES]])


def _features_to_spark_rows(features: pd.DataFrame) -> pd.DataFrame:
    """Features as plain columns: category as text, customer_id a column."""
    return _plain(features.reset_index())


def _features_of_bucket(
    packed: pd.DataFrame,
    branches: pd.DataFrame | None,
    stamp: pd.Timestamp,
    population: str,
    min_dpd: int,
    counts: pd.DataFrame,
) -> pd.DataFrame:
    from visitrisk.features import _features_as_of

    portfolio = _portfolio_of_bucket(packed, branches)
    features = _features_as_of(portfolio, stamp, population, min_dpd, township_counts=counts)
    return _features_to_spark_rows(features)


def build_features(
    tables: Mapping[str, DataFrame],
    as_of: str | _dt.date | pd.Timestamp,
    population: str = "delinquent",
    min_dpd: int = 1,
    *,
    buckets: int | None = None,
) -> DataFrame:
    """:func:`visitrisk.build_features` on Spark: same columns, same values.

    Parameters
    ----------
    tables : mapping of str to pyspark.sql.DataFrame
        The contract tables (:func:`read_tables`), at least customers, loans, installments
        and payments; visits and branches when the bank has them.
    as_of, population, min_dpd
        As in :func:`visitrisk.build_features`.
    buckets : int, optional
        Groups of whole customers handed to the pandas code at once (each must fit in one
        Python worker's memory); default ``spark.sql.shuffle.partitions``.

    Returns
    -------
    pyspark.sql.DataFrame
        ``customer_id`` then one column per feature, in registry order; categorical
        features as text (:func:`features_to_pandas` restores the pandas dtypes).

    Raises
    ------
    DataError
        When any bucket breaks the data contract.
    ValueError
        If a parameter is invalid.
    """
    from visitrisk.features import POPULATIONS, _as_timestamp, _check_min_dpd, _param_error

    stamp = _as_timestamp(as_of, "as_of", "build_features")
    if population not in POPULATIONS:
        raise _param_error("population", "build_features", "'delinquent' or 'all'", population)
    min_dpd = _check_min_dpd(min_dpd, "build_features")
    spark = tables["customers"].sparkSession
    buckets = buckets or _default_buckets(spark)
    counts = township_counts(tables, [stamp], buckets=buckets)
    branches = _to_pandas(tables.get("branches"))
    return (
        _packed(tables, buckets)
        .groupBy(_BUCKET)
        .applyInPandas(
            lambda rows: _features_of_bucket(rows, branches, stamp, population, min_dpd, counts),
            _features_schema(),
        )
    )


def features_to_pandas(features: DataFrame | pd.DataFrame) -> pd.DataFrame:
    """Collect Spark features as :func:`visitrisk.build_features` returns them.

    Parameters
    ----------
    features : pyspark.sql.DataFrame or pandas.DataFrame
        ``customer_id`` and the feature columns.

    Returns
    -------
    pandas.DataFrame
        Indexed by ``customer_id`` (ascending), registry dtypes and categories.
    """
    from visitrisk._feature_groups import _feature_dtype

    frame = _to_pandas(features)
    data = {}
    for name in FEATURES:
        dtype = _feature_dtype(name)
        if dtype == "category":
            data[name] = pd.Categorical(
                frame[name].astype(object).where(frame[name].notna(), None),
                categories=list(FEATURES[name].categories),
            )
        else:
            data[name] = frame[name].to_numpy().astype(dtype)
    index = pd.Index(frame["customer_id"].astype("str"), name="customer_id", dtype="str")
    out = pd.DataFrame(data, index=index)
    return out.sort_index(kind="stable")


# --------------------------------------------------------------------------------------
# Training set: a seeded sample of whole customers, built on the driver
# --------------------------------------------------------------------------------------
def _sample_key(seed: int) -> Any:
    from pyspark.sql import functions as F  # noqa: N812

    # A uniform number in [0, 1) per customer from a seeded hash: the same customers are
    # kept whatever the partitioning, and a larger fraction keeps a superset.
    return F.pmod(F.xxhash64(F.lit(f"visitrisk-sample-{seed}"), F.col("customer_id")), 2**40) / (
        2.0**40
    )


def sample_training_set(
    tables: Mapping[str, DataFrame],
    snapshots: Sequence[str | _dt.date | pd.Timestamp],
    treatment_window: int = 14,
    horizon: int = 60,
    min_dpd: int = 1,
    *,
    fraction: float = 1.0,
    seed: int = 0,
    data_end: str | _dt.date | pd.Timestamp | None = None,
    buckets: int | None = None,
    design: str = "landmark",
    visit_weekdays: str = "Mon Tue Wed Thu Fri",
    random_state: int = 0,
    n_jobs: int = 1,
    exclude_flagged_visits: bool = False,
) -> TrainingSet:
    """Build the training set of a seeded sample of whole customers, on the driver.

    Each customer is kept with probability ``fraction`` (a seeded hash of its id: the same
    customers for the same seed whatever the cluster), with all its loans, schedule,
    payments and visits; the sample is brought to the driver and
    :func:`visitrisk.build_training_set` runs there, with township counts of the *whole*
    portfolio, so every kept row is exactly the row the full training set has for that
    customer and snapshot.

    Effect of sampling: rows are sampled by customer, so all snapshots of a kept customer
    stay together (no customer straddles a train/test split) and the treated share, cure
    rate and every feature's distribution are unbiased estimates of the full set's; only
    the variance of the fit grows (roughly as 1 / fraction). Rare segments shrink with the
    rest: check that each arm keeps enough rows (``metadata["sampling"]`` lists them).

    With ``design="trial"`` the visit-hazard model behind the weights is fitted on the
    sample's days, so below ``fraction=1`` the weights are those of the sample, not the
    full set's (with ``fraction=1`` every row and weight is the full set's).
    ``exclude_flagged_visits`` audits the *whole* visit log (customers, visits and staff
    brought to the driver): an officer's load and outcome mix span customers outside the
    sample.

    Parameters
    ----------
    tables : mapping of str to pyspark.sql.DataFrame
        The contract tables (:func:`read_tables`).
    snapshots, treatment_window, horizon, min_dpd, data_end, design, visit_weekdays, \
random_state, n_jobs, exclude_flagged_visits
        As in :func:`visitrisk.build_training_set`; ``data_end`` defaults to the latest
        payment or visit date of the whole portfolio.
    fraction : float, default 1.0
        Share of customers kept, in (0, 1].
    seed : int, default 0
        Seed of the customer sample.
    buckets : int, optional
        As in :func:`build_features`.

    Returns
    -------
    TrainingSet
        As :func:`visitrisk.build_training_set`, with ``metadata["sampling"]``
        (``fraction``, ``seed``, ``unit``, ``customers_sampled``, ``customers_total``).
    """
    from visitrisk.features import _as_timestamp
    from visitrisk.labels import _FUNCTION, _checked_parameters

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
        _last_observed_day(tables)
        if data_end is None
        else _as_timestamp(data_end, "data_end", _FUNCTION)
    )
    sample = _CustomerSample.collect(tables, stamps, fraction, seed, buckets)
    return sample.training_set(stamps, days, end, options)


@dataclass(frozen=True)
class _CustomerSample:
    """A seeded sample of whole customers on the driver, to build training sets from.

    ``township_counts`` are the whole portfolio's on the snapshots it was collected for;
    every training set built from it uses some of those snapshots.
    """

    tables: Mapping[str, DataFrame]
    portfolio: Any
    township_counts: pd.DataFrame
    fraction: float
    seed: int
    customers_total: int

    @classmethod
    def collect(
        cls,
        tables: Mapping[str, DataFrame],
        stamps: list[pd.Timestamp],
        fraction: float,
        seed: int,
        buckets: int | None = None,
    ) -> _CustomerSample:
        from pyspark.sql import functions as F  # noqa: N812

        if not (isinstance(fraction, float | int) and 0 < fraction <= 1):
            raise ValueError(
                "The 'fraction' parameter of sample_training_set must be a number in (0, 1]. "
                f"Got {fraction!r} instead."
            )
        buckets = buckets or _default_buckets(tables["customers"].sparkSession)
        counts = township_counts(tables, stamps, buckets=buckets)
        packed = _packed(tables, buckets)
        owners = (
            tables["customers"].select("customer_id").where(_sample_key(seed) < float(fraction))
        )
        kept_loans = tables["loans"].join(owners, "customer_id", "left_semi").select("loan_id")
        by_customer = packed.where(F.col(_TABLE_TAG).isin("customers", "loans", "visits")).join(
            owners, "customer_id", "left_semi"
        )
        by_loan = packed.where(F.col(_TABLE_TAG).isin("installments", "payments")).join(
            kept_loans, "loan_id", "left_semi"
        )
        rows = by_customer.unionByName(by_loan).toPandas()
        return cls(
            tables=tables,
            portfolio=_portfolio_of_bucket(rows, _to_pandas(tables.get("branches"))),
            township_counts=counts,
            fraction=float(fraction),
            seed=seed,
            customers_total=int(tables["customers"].count()),
        )

    def training_set(
        self,
        stamps: list[pd.Timestamp],
        days: tuple[int, int, int],
        end: pd.Timestamp,
        options: Mapping[str, Any],
    ) -> TrainingSet:
        """``_training_set`` on the sample (``days`` and ``options`` as checked there)."""
        from visitrisk.labels import _training_set

        audit = _whole_log_audit(self.tables) if options["exclude_flagged_visits"] else None
        training = _training_set(
            self.portfolio, stamps, *days, end, self.township_counts, visit_audit=audit, **options
        )
        metadata = dict(training.metadata)
        metadata["sampling"] = {
            "unit": "customer",
            "fraction": self.fraction,
            "seed": self.seed,
            "customers_sampled": len(self.portfolio.customers),
            "customers_total": self.customers_total,
            "rows_by_arm": {
                "treated": int(training.treatment.sum()),
                "control": int((1 - training.treatment).sum()),
            },
        }
        return replace(training, metadata=MappingProxyType(metadata))


def _whole_log_audit(tables: Mapping[str, DataFrame]) -> pd.DataFrame:
    """:func:`visitrisk.audit_visits` of every visit record, run on the driver.

    The audit reads the customers (their branch), the visits and the staff table, so only
    these come to the driver; the loan tables stay empty.
    """
    from visitrisk.audit import audit_visits
    from visitrisk.contract import load_portfolio

    needed = {name: tables[name] for name in ("customers", "visits", "staff") if name in tables}
    local = {
        name: frame.select(*_contract_columns(name, frame)).toPandas()
        for name, frame in needed.items()
    }
    empty = {
        name: pd.DataFrame({column.name: [] for column in CONTRACT[name] if column.required})
        for name in ("loans", "installments", "payments")
    }
    # Its contract warnings (customers without loans, here) concern this partial copy only
    # and stay in portfolio.warnings.
    return audit_visits(load_portfolio(**local, **empty))


def _last_observed_day(tables: Mapping[str, DataFrame]) -> pd.Timestamp:
    from pyspark.sql import functions as F  # noqa: N812

    latest = [
        tables[name].agg(F.max(column)).first()[0]
        for name, column in (("payments", "payment_date"), ("visits", "visit_date"))
        if name in tables
    ]
    latest = [value for value in latest if value is not None]
    if not latest:
        raise ValueError(
            "The portfolio has no payment and no visit: there is no data to build labels from."
        )
    return pd.Timestamp(max(pd.Timestamp(value) for value in latest)).normalize()


# --------------------------------------------------------------------------------------
# Scoring and explanations with the MLflow pyfunc model
# --------------------------------------------------------------------------------------
#: Pyfunc models loaded in this (worker) process, by local path.
_LOADED: dict[str, Any] = {}


def _ship_model(spark: SparkSession, model_uri: str, tracking_uri: str | None) -> tuple[str, str]:
    """Download the model once on the driver and hand it to every executor.

    Returns the shipped folder's name (unique per call: Spark refuses two different files
    under one name) and the model's folder inside it.
    """
    import tempfile
    import uuid

    import mlflow

    from visitrisk.tracking import _using_store, resolve_tracking_uri

    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    folder = Path(tempfile.mkdtemp(prefix="visitrisk-")) / f"model-{uuid.uuid4().hex}"
    folder.mkdir()
    with _using_store(resolve_tracking_uri(tracking_uri)):
        local = Path(mlflow.artifacts.download_artifacts(model_uri, dst_path=str(folder)))
    spark.sparkContext.addFile(str(folder), recursive=True)
    return folder.name, str(local.relative_to(folder))


def _load_shipped(shipped: tuple[str, str]) -> Any:
    from pyspark import SparkFiles

    path = str(Path(SparkFiles.get(shipped[0])) / shipped[1])
    if path not in _LOADED:
        import mlflow.pyfunc

        _LOADED[path] = mlflow.pyfunc.load_model(path)
    return _LOADED[path]


def _score_schema(explain: bool, n_reasons: int) -> str:
    from visitrisk._pyfunc import OUTPUT_COLUMNS

    fields = ["customer_id string", *[f"{name} double" for name in OUTPUT_COLUMNS]]
    if explain:
        fields.append("base_value double")
        fields += [f"shap_{name} double" for name in FEATURES]
        fields += [f"reason_{k + 1} string" for k in range(n_reasons)]
    return ", ".join(fields)


def _score_batches(
    batches: Iterator[pd.DataFrame],
    model_name: tuple[str, str],
    explain_scores: bool,
    lang: str,
    n_reasons: int,
    background: pd.DataFrame | None,
) -> Iterator[pd.DataFrame]:
    from visitrisk.explain import explain

    pyfunc = _load_shipped(model_name)
    for batch in batches:
        customer_id = batch["customer_id"].astype("str").to_numpy()
        features = batch.drop(columns="customer_id")
        scores = pyfunc.predict(features)
        out = pd.DataFrame({"customer_id": customer_id}).join(scores)
        if explain_scores:
            wrapper = pyfunc.unwrap_python_model()
            restored = wrapper.restore_dtypes(features)
            restored.index = pd.Index(customer_id, name="customer_id", dtype="str")
            why = _explain(explain, wrapper.model, restored, background)
            out["base_value"] = why.base_values.to_numpy()
            for name in why.values.columns:
                out[f"shap_{name}"] = why.values[name].to_numpy()
            reasons = why.reasons(lang=lang, n=n_reasons)
            for column in reasons.columns:
                out[column] = reasons[column].astype(object).where(reasons[column].notna(), None)
        yield _plain(out)


def _explain(explain: Any, model: Any, features: pd.DataFrame, background: Any) -> Any:
    if background is None:
        return explain(model, features)
    return explain(model, features, background=background, background_size=len(background))


def score(
    features: DataFrame,
    model_uri: str,
    *,
    explain: bool = True,
    lang: str = "en",
    n_reasons: int = 3,
    background: pd.DataFrame | None = None,
    tracking_uri: str | None = None,
) -> DataFrame:
    """Score (and explain) Spark features with a logged visitrisk MLflow pyfunc model.

    The model is downloaded once on the driver and shipped to the executors
    (``SparkContext.addFile``); each Python worker loads it once and calls the pyfunc's
    ``predict`` (exactly ``UpliftModel.score``) and :func:`visitrisk.explain` on the
    wrapped model per Arrow batch (``mapInPandas``).

    Parameters
    ----------
    features : pyspark.sql.DataFrame
        ``customer_id`` and the fit-time features (:func:`build_features`).
    model_uri : str
        Any MLflow model URI: ``runs:/<id>/model``, ``models:/<name>@champion``, a path.
    explain : bool, default True
        Also return the SHAP values (``shap_<feature>``), ``base_value`` and reasons.
    lang : {"en", "zh"}, default "en"
        Language of the reasons.
    n_reasons : int, default 3
        Reasons per customer (``reason_1`` ...).
    background : pandas.DataFrame, optional
        Background rows for the T and S learners' interventional SHAP, used whole (the
        pandas path samples 100 rows of the explained features; pass those to match it).
        The DR and X learners need none.
    tracking_uri : str, optional
        MLflow store of ``runs:/`` and ``models:/`` URIs; default as
        :func:`visitrisk.tracking.resolve_tracking_uri`.

    Returns
    -------
    pyspark.sql.DataFrame
        ``customer_id``, ``p_cure_visit``, ``p_cure_no_visit``, ``uplift``,
        ``value_at_stake``, ``expected_gain``; with ``explain``, also ``base_value``,
        ``shap_<feature>`` per feature and ``reason_1`` .. ``reason_<n_reasons>``.
    """
    spark = features.sparkSession
    name = _ship_model(spark, model_uri, tracking_uri)
    schema = _score_schema(explain, n_reasons)
    return features.mapInPandas(
        lambda batches: _score_batches(batches, name, explain, lang, n_reasons, background),
        schema,
    )


#: Customer columns the planner uses, in the order the pandas pipeline adds them.
_PLANNING_DETAILS = ("branch_id", "do_not_visit", "township", "village", "latitude", "longitude")


def scores_for_planning(
    scores: DataFrame,
    features: DataFrame,
    tables: Mapping[str, DataFrame],
    as_of: str | _dt.date | pd.Timestamp,
    n_reasons: int = 3,
) -> DataFrame:
    """Add what the planner needs to Spark scores, as the pandas pipeline does.

    Parameters
    ----------
    scores : pyspark.sql.DataFrame
        :func:`score` output (with ``explain``, its reasons are kept).
    features : pyspark.sql.DataFrame
        The scored features (:func:`build_features`).
    tables : mapping of str to pyspark.sql.DataFrame
        The contract tables.
    as_of : date
        The scoring date: visits after it are not read.
    n_reasons : int, default 3
        Reason columns to keep.

    Returns
    -------
    pyspark.sql.DataFrame
        ``customer_id``, the model output, the customer's branch, ``do_not_visit`` and
        place, ``days_past_due`` and ``arrears`` (the features of the same name),
        ``last_visit_date`` (latest visit on or before ``as_of``) and the reasons.
    """
    from pyspark.sql import functions as F  # noqa: N812

    from visitrisk._pyfunc import OUTPUT_COLUMNS

    stamp = pd.Timestamp(as_of).normalize()
    customers = tables["customers"]
    details = []
    for column in _PLANNING_DETAILS:
        if column in customers.columns:
            value = F.col(column)
        else:
            value = F.lit(None).cast("double" if column in ("latitude", "longitude") else "string")
        if column == "do_not_visit":
            value = F.coalesce(value.cast("boolean"), F.lit(False))
        details.append(value.alias(column))
    frame = scores.join(customers.select("customer_id", *details), "customer_id", "left").join(
        features.select("customer_id", "days_past_due", "arrears"), "customer_id", "left"
    )
    if "visits" in tables:
        visits = tables["visits"]
        last_visit = (
            visits.where(F.col("visit_date").cast("date") <= F.lit(stamp.date()))
            .groupBy("customer_id")
            .agg(F.max(F.col("visit_date").cast("timestamp_ntz")).alias("last_visit_date"))
        )
        frame = frame.join(last_visit, "customer_id", "left")
    else:
        frame = frame.withColumn("last_visit_date", F.lit(None).cast("timestamp_ntz"))
    reasons = [f"reason_{k + 1}" for k in range(n_reasons) if f"reason_{k + 1}" in scores.columns]
    return frame.select(
        "customer_id",
        *OUTPUT_COLUMNS,
        *_PLANNING_DETAILS,
        "days_past_due",
        "arrears",
        "last_visit_date",
        *reasons,
    )
