"""Whole customers per bucket: packing the tables for Spark, validation, township counts.

Private to :mod:`visitrisk.spark`. pyspark is imported inside the functions only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from visitrisk._tables import CONTRACT, PROBLEM_COLUMNS
from visitrisk.contract import DataError

if TYPE_CHECKING:
    import datetime as _dt

    from pyspark.sql import DataFrame, SparkSession

__all__ = ["CUSTOMER_TABLES", "township_counts"]

#: Contract tables whose rows belong to one customer; they are co-located by customer_id.
CUSTOMER_TABLES: tuple[str, ...] = ("customers", "loans", "installments", "payments", "visits")

#: Never read by any stage: left out of what is shipped to the executors.
_PERSONAL_COLUMNS = ("name", "national_id", "phone")

#: Canonical row order within a bucket: float sums then do not depend on the shuffle.
_ROW_ORDER: dict[str, tuple[str, ...]] = {
    "customers": ("customer_id",),
    "loans": ("loan_id",),
    "installments": ("loan_id", "due_date", "amount_due"),
    "payments": ("loan_id", "payment_date", "amount"),
    "visits": ("customer_id", "visit_date", "officer_id", "outcome", "plan_id"),
}

_TABLE_TAG = "_table"
_BUCKET = "_bucket"
_CONTEXT_SCHEMA = (
    "kind string, day long, township string, size long, sum long, "
    "table string, column string, rule string, count long, examples string, message string"
)


def _to_pandas(frame: DataFrame | pd.DataFrame | None) -> pd.DataFrame | None:
    if frame is None or isinstance(frame, pd.DataFrame):
        return frame
    return frame.toPandas()


# --------------------------------------------------------------------------------------
# Co-locating whole customers
# --------------------------------------------------------------------------------------
def _contract_columns(name: str, frame: DataFrame) -> list[str]:
    known = [column.name for column in CONTRACT[name] if column.name not in _PERSONAL_COLUMNS]
    return [column for column in known if column in frame.columns]


def _packed(tables: Mapping[str, DataFrame], buckets: int) -> DataFrame:
    """One long DataFrame of the customer-level tables, each row tagged and bucketed.

    Installments and payments get their customer through ``loan_id`` (a left join: rows of
    unknown loans stay, and the bucket's validation reports them). Dates travel as
    ``timestamp_ntz`` so that no time zone can shift a day.
    """
    from pyspark.sql import functions as F  # noqa: N812

    owners = tables["loans"].select("loan_id", F.col("customer_id").alias("_owner"))
    parts = []
    for name in CUSTOMER_TABLES:
        if name not in tables:
            continue
        frame = tables[name]
        columns = _contract_columns(name, frame)
        frame = frame.select(
            *[
                F.col(column).cast("timestamp_ntz")
                if dict(frame.dtypes)[column] in ("date", "timestamp")
                else F.col(column)
                for column in columns
            ]
        )
        if name in ("installments", "payments"):
            frame = frame.join(owners, on="loan_id", how="left")
        else:
            frame = frame.withColumn("_owner", F.col("customer_id"))
        # Rows without an owner (unknown loan) spread by loan_id; validation reports them.
        key = F.coalesce(F.col("_owner"), F.col("loan_id") if "loan_id" in columns else F.lit(""))
        parts.append(
            frame.withColumn(_TABLE_TAG, F.lit(name))
            .withColumn(_BUCKET, F.pmod(F.xxhash64(key), F.lit(buckets)).cast("int"))
            .drop("_owner")
        )
    packed = parts[0]
    for part in parts[1:]:
        packed = packed.unionByName(part, allowMissingColumns=True)
    return packed


def _default_buckets(spark: SparkSession) -> int:
    return int(spark.conf.get("spark.sql.shuffle.partitions", "200"))


def _unpack(packed: pd.DataFrame, branches: pd.DataFrame | None) -> dict[str, pd.DataFrame]:
    """Return the contract tables of one bucket, in canonical row order."""
    frames: dict[str, pd.DataFrame] = {}
    tag = packed[_TABLE_TAG].to_numpy()
    for name in CUSTOMER_TABLES:
        names = [column.name for column in CONTRACT[name]]
        if not any(column in packed.columns for column in names if column != "customer_id"):
            continue  # a table the bank did not give (visits)
        rows = packed.loc[tag == name, [column for column in names if column in packed.columns]]
        order = [column for column in _ROW_ORDER[name] if column in rows.columns]
        frames[name] = rows.sort_values(order, kind="stable", na_position="first").reset_index(
            drop=True
        )
    if branches is not None:
        frames["branches"] = branches
    return frames


def _portfolio_of_bucket(packed: pd.DataFrame, branches: pd.DataFrame | None) -> Any:
    from visitrisk.contract import load_portfolio

    return load_portfolio(**_unpack(packed, branches))


def _plain(frame: pd.DataFrame) -> pd.DataFrame:
    """Text columns as Python objects: pyspark 4.3 cannot send Arrow-backed (chunked) text."""
    text = [
        name
        for name, dtype in frame.dtypes.items()
        if pd.api.types.is_string_dtype(dtype) or isinstance(dtype, pd.CategoricalDtype)
    ]
    if not text:
        return frame
    return frame.assign(
        **{name: frame[name].astype(object).where(frame[name].notna(), None) for name in text}
    )


def _conform(frame: pd.DataFrame, schema: str) -> pd.DataFrame:
    """Columns of a Spark DDL schema, in order: text as objects, long as nullable ints.

    A text field must not arrive as an all-NaN float column (pyspark 4.3 fails to cast it).
    """
    columns = {}
    for field in schema.split(", "):
        name, kind = field.split()
        values = frame[name] if name in frame.columns else pd.Series(None, index=frame.index)
        if kind == "string":
            columns[name] = values.astype(object).where(values.notna(), None)
        elif kind == "long":
            columns[name] = values.astype("Int64")
        else:
            columns[name] = values
    return pd.DataFrame(columns, index=frame.index)


def _problem_rows(error: DataError) -> pd.DataFrame:
    problems = error.problems.assign(kind="problem")
    return problems


# --------------------------------------------------------------------------------------
# Township counts (the one cross-customer input of the features)
# --------------------------------------------------------------------------------------
def _context_of_bucket(
    packed: pd.DataFrame, branches: pd.DataFrame | None, days: list[int]
) -> pd.DataFrame:
    from visitrisk.features import _township_counts_on_dates

    try:
        portfolio = _portfolio_of_bucket(packed, branches)
    except DataError as error:
        out = _problem_rows(error)
    else:
        stamps = [pd.Timestamp(np.datetime64(day, "D")) for day in days]
        out = _township_counts_on_dates(portfolio, stamps).assign(kind="counts")
    return _conform(out, _CONTEXT_SCHEMA)


def _raise_problems(problems: pd.DataFrame) -> None:
    """Raise one DataError for the problems of every bucket (same rule merged)."""
    if problems.empty:
        return
    merged = []
    for (table, column, rule), rows in problems.groupby(
        ["table", "column", "rule"], sort=False, dropna=False
    ):
        examples = ", ".join(
            pd.unique(
                pd.Series([e for text in rows["examples"] for e in str(text).split(", ") if e])
            )[:5]
        )
        message = rows["message"].iloc[0]
        if len(rows) > 1:
            total = int(rows["count"].sum())
            message += f" (and the same in {len(rows) - 1} other bucket(s): {total} in all)"
        merged.append(
            {
                "table": table,
                "column": column,
                "rule": rule,
                "count": int(rows["count"].sum()),
                "examples": examples,
                "message": message,
            }
        )
    raise DataError(pd.DataFrame(merged, columns=list(PROBLEM_COLUMNS)))


def township_counts(
    tables: Mapping[str, DataFrame],
    dates: Sequence[str | _dt.date | pd.Timestamp],
    *,
    buckets: int | None = None,
) -> pd.DataFrame:
    """Validate every bucket and return the portfolio's township counts on each date.

    Parameters
    ----------
    tables : mapping of str to pyspark.sql.DataFrame
        The contract tables (:func:`read_tables`); ``branches`` is used when present.
    dates : sequence of dates
        As-of dates.
    buckets : int, optional
        Groups of customers handed to pandas at once; default
        ``spark.sql.shuffle.partitions``.

    Returns
    -------
    pandas.DataFrame
        Columns ``day`` (days since 1970-01-01), ``township``, ``size`` (customers with an
        open loan) and ``sum`` (of them, at 1+ days past due): what
        ``township_delinquency_rate`` is computed from.

    Raises
    ------
    DataError
        When any bucket breaks the data contract (every problem, merged by rule).
    """
    from pyspark.sql import functions as F  # noqa: N812

    _check_unique_loans(tables)
    spark = tables["customers"].sparkSession
    buckets = buckets or _default_buckets(spark)
    branches = _to_pandas(tables.get("branches"))
    days = sorted({int(np.datetime64(pd.Timestamp(date).date(), "D").astype(np.int64))
                   for date in dates})  # fmt: skip
    packed = _packed(tables, buckets)
    context = (
        packed.groupBy(_BUCKET)
        .applyInPandas(lambda rows: _context_of_bucket(rows, branches, days), _CONTEXT_SCHEMA)
        .groupBy("kind", "day", "township", "table", "column", "rule", "examples", "message")
        .agg(F.sum("size").alias("size"), F.sum("sum").alias("sum"), F.sum("count").alias("count"))
        .toPandas()
    )
    _raise_problems(context.loc[context["kind"] == "problem"].reset_index(drop=True))
    counts = context.loc[context["kind"] == "counts", ["day", "township", "size", "sum"]]
    counts = counts.astype({"day": np.int64, "size": np.int64, "sum": np.int64})
    counts["township"] = counts["township"].astype("str")
    return counts.sort_values(["day", "township"], ignore_index=True)


def _check_unique_loans(tables: Mapping[str, DataFrame]) -> None:
    """loan_id must be unique across buckets too (a bucket sees only its own loans)."""
    from pyspark.sql import functions as F  # noqa: N812

    duplicated = (
        tables["loans"].groupBy("loan_id").count().where(F.col("count") > 1).limit(5).toPandas()
    )
    if len(duplicated):
        ids = ", ".join(f"'{value}'" for value in duplicated["loan_id"])
        raise DataError(
            pd.DataFrame(
                [
                    {
                        "table": "loans",
                        "column": "loan_id",
                        "rule": "duplicate_id",
                        "count": int(duplicated["count"].sum()),
                        "examples": ids,
                        "message": f"loans: rows share their loan_id with another row ({ids})",
                    }
                ],
                columns=list(PROBLEM_COLUMNS),
            )
        )
