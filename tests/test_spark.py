"""visitrisk.spark: the Spark path gives what the pandas path gives, on the same data.

One local SparkSession (``local[2]``) serves the whole module. Features, township counts,
training rows, scores, SHAP values and reasons are compared *exactly*; plans exactly too,
except the float totals of the plan summary (sums over groups of branches in another
order: compared to 1e-12 relative). Without Java the module is skipped, loudly: ``make
test`` installs Java from Debian packages when it can.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

import visitrisk as vr
from visitrisk.contract import DataError
from visitrisk.features import _township_counts_on_dates
from visitrisk.labels import monthly_snapshots

# pyspark 4.3 warns on every conversion that pandas 3 is not fully supported, and uses
# pandas APIs that pandas 3 deprecates.
pytestmark = [
    pytest.mark.filterwarnings("ignore:PySpark does not yet fully support pandas"),
    pytest.mark.filterwarnings("ignore::DeprecationWarning:pyspark"),
    pytest.mark.filterwarnings("ignore:The copy keyword is deprecated"),
    pytest.mark.filterwarnings("ignore:Series.values returning an ndarray"),
]

AS_OF = pd.Timestamp("2026-11-30")
START = "2026-12-01"
SUMMARY_FLOATS = (
    "expected_gain",
    "expected_incremental_cures",
    "expected_cures_given_up",
    "expected_cures_given_up_net_of_refill",
    "km_total",
    "km_per_officer_day",
)


def _java_missing() -> str | None:
    java_home = os.environ.get("JAVA_HOME")
    if java_home and os.access(os.path.join(java_home, "bin", "java"), os.X_OK):
        return None
    if shutil.which("java"):
        return None
    return (
        "SPARK TESTS SKIPPED: no Java runtime (java not on PATH, JAVA_HOME unset). "
        "Run `make system-deps` as root or `apt-get install -y openjdk-17-jre-headless`."
    )


@pytest.fixture(scope="module")
def spark():
    reason = _java_missing()
    if reason:
        print(f"\n*** {reason} ***\n", file=sys.stderr)
        pytest.skip(reason)
    try:
        import pyspark  # noqa: F401
    except ImportError:
        pytest.fail("pyspark is not installed: pip install -e '.[dev,spark]' (make test does).")
    from visitrisk.spark import spark_session

    session = spark_session(
        "local[2]",
        app_name="visitrisk-tests",
        config={
            "spark.sql.shuffle.partitions": "2",
            "spark.ui.enabled": "false",
            "spark.driver.memory": "1g",
            "spark.sql.adaptive.enabled": "false",
        },
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


@pytest.fixture(scope="module")
def book(tmp_path_factory):
    """A small simulated portfolio and its Parquet folder, rows in Spark's canonical order.

    Spark brings each customer's rows to pandas in a canonical order (by loan, then date,
    ...); sums of payments then run in that order. A book stored in another order gives
    the same features up to the last bit of some ratios (``paid_to_due_*``), enough to move
    a value across a drift bin's edge: the byte-for-byte comparisons need the same order.
    """
    from visitrisk._spark_buckets import _ROW_ORDER

    simulated = vr.simulate_portfolio(300, seed=3, history_months=18).portfolio
    folder = tmp_path_factory.mktemp("parquet")
    for name, table in simulated.tables().items():
        order = [column for column in _ROW_ORDER.get(name, ()) if column in table.columns]
        if order:
            table = table.sort_values(order, kind="stable", na_position="first")
        table.reset_index(drop=True).to_parquet(folder / f"{name}.parquet", index=False)
    return vr.load_portfolio(folder), folder


@pytest.fixture(scope="module")
def tables(spark, book):
    from visitrisk.spark import read_tables

    return read_tables(spark, book[1])


@pytest.fixture(scope="module")
def spark_features(tables):
    """Features of the delinquent customers on Spark, kept for the scoring tests."""
    from visitrisk import spark as vs

    return vs.build_features(tables, AS_OF).persist()


# ----------------------------------------------------------------------------- features
def test_features_are_identical_to_pandas(book, spark_features):
    from visitrisk import spark as vs

    expected = vr.build_features(book[0], AS_OF)
    got = vs.features_to_pandas(spark_features)
    assert len(expected) > 20
    pd.testing.assert_frame_equal(got, expected)


def test_features_of_every_customer_on_book_are_identical(tables, book):
    from visitrisk import spark as vs

    expected = vr.build_features(book[0], AS_OF, population="all")
    got = vs.features_to_pandas(vs.build_features(tables, AS_OF, population="all", buckets=3))
    assert len(expected) > 100
    pd.testing.assert_frame_equal(got, expected)


def test_township_counts_add_up_to_the_whole_portfolios(tables, book):
    from visitrisk import spark as vs

    dates = [pd.Timestamp("2026-06-30"), AS_OF]
    got = vs.township_counts(tables, dates, buckets=5)
    expected = _township_counts_on_dates(book[0], dates)
    expected = expected.sort_values(["day", "township"], ignore_index=True)
    pd.testing.assert_frame_equal(got, expected, check_dtype=False)
    assert (got["size"] > 1).any()  # townships span several buckets: the sum matters


def test_contract_problems_of_every_bucket_stop_with_one_error(spark, book, tmp_path):
    from visitrisk import spark as vs

    portfolio = book[0]
    loans = portfolio.loans.copy()
    loans.loc[loans.index[:2], "customer_id"] = ["NOBODY1", "NOBODY2"]
    payments = portfolio.payments.copy()
    payments.loc[payments.index[:3], "loan_id"] = "NO_SUCH_LOAN"
    for name, table in {**portfolio.tables(), "loans": loans, "payments": payments}.items():
        table.to_parquet(tmp_path / f"{name}.parquet", index=False)
    broken = vs.read_tables(spark, tmp_path)
    with pytest.raises(DataError, match=r"customer_id that is not in customers") as caught:
        vs.build_features(broken, AS_OF)
    problems = caught.value.problems.set_index(["table", "rule"])
    assert problems.loc[("loans", "orphan_foreign_key"), "count"] == 2
    assert problems.loc[("payments", "orphan_foreign_key"), "count"] == 3
    assert "NO_SUCH_LOAN" in problems.loc[("payments", "orphan_foreign_key"), "examples"]


def test_a_loan_id_in_two_buckets_is_a_duplicate(spark, book, tmp_path):
    from visitrisk import spark as vs

    portfolio = book[0]
    loans = portfolio.loans.copy()
    other = loans.loc[loans["customer_id"] != loans["customer_id"].iloc[0]].index[0]
    loans.loc[other, "loan_id"] = loans["loan_id"].iloc[0]
    for name, table in {**portfolio.tables(), "loans": loans}.items():
        table.to_parquet(tmp_path / f"{name}.parquet", index=False)
    with pytest.raises(DataError, match=r"share their loan_id"):
        vs.build_features(vs.read_tables(spark, tmp_path), AS_OF)


def test_missing_required_table_is_named(spark, tmp_path):
    from visitrisk import spark as vs

    pd.DataFrame({"customer_id": ["C1"], "branch_id": ["B1"]}).to_parquet(
        tmp_path / "customers.parquet"
    )
    with pytest.raises(DataError, match=r"loans: the table is missing"):
        vs.read_tables(spark, tmp_path)


# ----------------------------------------------------------------------------- training
@pytest.fixture(scope="module")
def training(tables, book):
    from visitrisk import spark as vs

    snapshots = monthly_snapshots(book[0])[-3:]
    expected = vr.build_training_set(book[0], snapshots)
    return snapshots, expected, vs.sample_training_set(tables, snapshots, fraction=1.0)


def test_full_sample_is_the_pandas_training_set(training):
    _, expected, got = training
    pd.testing.assert_frame_equal(got.X, expected.X)
    for name in ("treatment", "cured", "value_at_stake", "snapshot", "customer_id"):
        pd.testing.assert_series_equal(getattr(got, name), getattr(expected, name))
    pd.testing.assert_frame_equal(got.timing, expected.timing)
    assert got.metadata["dropped"] == expected.metadata["dropped"]
    assert got.metadata["sampling"]["customers_sampled"] == 300


def test_sample_keeps_whole_customers_with_their_exact_rows(tables, training):
    from visitrisk import spark as vs

    snapshots, expected, _ = training
    half = vs.sample_training_set(tables, snapshots, fraction=0.5, seed=7)
    kept = expected.customer_id.isin(set(half.customer_id)).to_numpy()
    assert 0.3 < kept.mean() < 0.7
    pd.testing.assert_frame_equal(half.X, expected.X.loc[kept].reset_index(drop=True))
    pd.testing.assert_series_equal(half.cured, expected.cured.loc[kept].reset_index(drop=True))
    assert half.metadata["sampling"]["fraction"] == 0.5

    def sampled(seed, fraction):
        chosen = tables["customers"].where(vs._sample_key(seed) < fraction)
        return {row[0] for row in chosen.select("customer_id").collect()}

    # Same seed, same customers (whatever the partitioning); a larger share keeps a superset.
    assert set(half.customer_id) <= sampled(7, 0.5)
    assert sampled(7, 0.5) == sampled(7, 0.5) < sampled(7, 0.8)
    assert sampled(7, 0.5) != sampled(8, 0.5)


def test_full_sample_is_the_pandas_trial(tables, training, book):
    from visitrisk import spark as vs

    snapshots, _, _ = training
    expected = vr.build_training_set(book[0], snapshots, design="trial", random_state=4)
    got = vs.sample_training_set(tables, snapshots, design="trial", random_state=4)
    assert (expected.weight != 1).any()
    pd.testing.assert_frame_equal(got.to_frame(), expected.to_frame())
    pd.testing.assert_frame_equal(got.timing, expected.timing)
    for key in ("dropped", "design", "eligible", "effective_rows", "hazard_person_days"):
        assert got.metadata[key] == expected.metadata[key], key


def test_flagged_visits_are_judged_on_the_whole_log(spark, book, tmp_path):
    from visitrisk import spark as vs

    tables = book[0].tables()
    visits = tables["visits"].copy()
    # Plant: one in four visits moved to the Sunday of its week (off every officer's week).
    rng = np.random.default_rng(1)
    planted = rng.random(len(visits)) < 0.25
    weekday = visits["visit_date"].dt.day_of_week.to_numpy()
    visits.loc[planted, "visit_date"] += pd.to_timedelta(6 - weekday[planted], unit="D")
    portfolio = vr.load_portfolio(**{**tables, "visits": visits})
    for name, table in portfolio.tables().items():
        table.to_parquet(tmp_path / f"{name}.parquet", index=False)
    spark_tables = vs.read_tables(spark, tmp_path)
    snapshots = monthly_snapshots(portfolio)[-3:]

    expected = vr.build_training_set(portfolio, snapshots, exclude_flagged_visits=True)
    assert expected.metadata["flagged_visits_excluded"] > 0
    kept_all = vr.build_training_set(portfolio, snapshots)
    assert (expected.treatment != kept_all.treatment).any()
    # The staff rules need the officers' week, which the sample's own tables lack: the
    # sample must read the flags of the whole log, and then keeps the full set's rows.
    half = vs.sample_training_set(
        spark_tables, snapshots, fraction=0.5, seed=7, exclude_flagged_visits=True
    )
    kept = expected.customer_id.isin(set(half.customer_id)).to_numpy()
    assert 0.3 < kept.mean() < 0.7
    for name in ("treatment", "cured", "customer_id"):
        pd.testing.assert_series_equal(
            getattr(half, name), getattr(expected, name).loc[kept].reset_index(drop=True)
        )
    full = vs.sample_training_set(
        spark_tables, snapshots, design="trial", exclude_flagged_visits=True
    )
    trial = vr.build_training_set(portfolio, snapshots, design="trial", exclude_flagged_visits=True)
    pd.testing.assert_frame_equal(full.to_frame(), trial.to_frame())
    assert full.metadata["flagged_visits_excluded"] == trial.metadata["flagged_visits_excluded"]


def test_sample_fraction_is_checked(tables, training):
    from visitrisk import spark as vs

    with pytest.raises(ValueError, match=r"'fraction' parameter .* must be a number in \(0, 1\]"):
        vs.sample_training_set(tables, training[0], fraction=0.0)


# ----------------------------------------------------------------------------- scoring
@pytest.fixture(scope="module")
def logged(training, tmp_path_factory):
    from visitrisk.tracking import start_run

    _, expected, _ = training
    model = vr.UpliftModel(learner="dr", random_state=0, n_jobs=1).fit(expected)
    out = tmp_path_factory.mktemp("mlflow")
    with start_run(out_dir=out, run_name="spark-test") as run:
        info = run.log_model(model, expected.X)
    assert info is not None, run.not_logged
    return model, info.model_uri, run.tracking_uri


@pytest.fixture(scope="module")
def scored(spark_features, logged):
    from visitrisk import spark as vs

    _, uri, tracking_uri = logged
    scores = vs.score(spark_features, uri, tracking_uri=tracking_uri, lang="zh").persist()
    return spark_features, scores


def test_scores_and_explanations_are_identical_to_pandas(book, logged, scored):
    model, _, _ = logged
    features = vr.build_features(book[0], AS_OF)
    expected = model.score(features)
    why = vr.explain(model, features)
    reasons = why.reasons(lang="zh", n=3)
    got = scored[1].toPandas().set_index("customer_id").sort_index()
    assert list(got.index) == list(expected.index)
    for column in expected.columns:
        np.testing.assert_array_equal(got[column].to_numpy(), expected[column].to_numpy(), column)
    shap = got[[f"shap_{name}" for name in why.values.columns]].to_numpy()
    np.testing.assert_array_equal(shap, why.values.to_numpy())
    np.testing.assert_array_equal(got["base_value"].to_numpy(), why.base_values.to_numpy())
    for column in reasons.columns:
        assert got[column].fillna("").tolist() == reasons[column].fillna("").tolist()


# ----------------------------------------------------------------------------- planning
def _scores(n: int, n_branches: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    uplift = rng.uniform(-0.05, 0.4, n)
    value = rng.uniform(100, 5000, n).round(2)
    scores = pd.DataFrame(
        {
            "customer_id": [f"C{i:05d}" for i in range(n)],
            "branch_id": [f"B{b:02d}" for b in rng.integers(0, n_branches, n)],
            "p_cure_visit": rng.uniform(0.4, 0.9, n),
            "uplift": uplift,
            "value_at_stake": value,
            "expected_gain": uplift * value,
            "days_past_due": rng.integers(1, 180, n).astype(float),
            "arrears": value,
            "do_not_visit": rng.random(n) < 0.02,
            "township": [f"T{t}" for t in rng.integers(0, 4, n)],
            "village": [f"V{v}" for v in rng.integers(0, 5, n)],
            "latitude": 30.0 + rng.uniform(0, 0.3, n),
            "longitude": 120.0 + rng.uniform(0, 0.3, n),
            "last_visit_date": pd.to_datetime(
                np.where(rng.random(n) < 0.2, "2026-11-20", None)
            ).astype("datetime64[us]"),
            "reason_1": "arrears rising",
        }
    )
    scores["p_cure_no_visit"] = scores["p_cure_visit"] - uplift
    return scores


def _staff() -> pd.DataFrame:
    # B00-B02 share officers (one group), B03-B04 another, B05..B07 alone, B08 has officers
    # but no customer, B09 customers but no officer.
    return pd.DataFrame(
        {
            "officer_id": [f"O{i:02d}" for i in range(9)],
            "branch_id": ["B00", "B01", "B02", "B03", "B04", "B05", "B06", "B07", "B08"],
            "visits_per_day": ["3", "2", "4", "2", "3", "2", "1", "3", "2"],
            "working_days": ["Mon Tue Wed Thu Fri"] * 8 + ["Mon"],
            "covers_branches": ["B01", "B02", "", "B04", "", "", "", "", ""],
            "absent_dates": ["", "2026-12-02", "", "", "", "", "", "", ""],
        }
    )


def test_officer_groups_are_connected_components():
    from visitrisk.spark import officer_groups

    groups = officer_groups(_staff(), ["B09"]).set_index("branch_id")["group"]
    assert groups["B00"] == groups["B01"] == groups["B02"]
    assert groups["B03"] == groups["B04"] != groups["B00"]
    assert groups.nunique() == 7
    assert list(groups.index) == sorted(groups.index)


def _assert_same_plan(plan, reference) -> None:
    pd.testing.assert_frame_equal(plan.plan, reference.plan)
    pd.testing.assert_frame_equal(plan.exclusions, reference.exclusions)
    pd.testing.assert_frame_equal(plan.routes, reference.routes)
    assert set(plan.summary) == set(reference.summary)
    for key, value in reference.summary.items():
        if key in SUMMARY_FLOATS and value is not None:
            assert plan.summary[key] == pytest.approx(value, rel=1e-12, abs=1e-12), key
        else:
            assert plan.summary[key] == value, key


@pytest.mark.parametrize(
    "rules",
    [
        vr.PlanRules(),
        vr.PlanRules(must_visit_min_dpd=150, cooldown_days=5, visit_cost=20.0),
    ],
    ids=["default", "must-visit-cooldown-cost"],
)
def test_plan_per_officer_group_is_the_plan_of_the_whole(spark, rules):
    from visitrisk import spark as vs

    scores = _scores(900, 10, seed=2)
    staff = _staff()
    reference = vr.plan_visits(scores, staff, START, 7, rules=rules, holdout=0.15, seed=9)
    # Officers of B00 and B01 cover other branches: their group is coupled (MILP).
    assert reference.summary["method"] == "milp"
    assert reference.summary["holdout_size"] > 0
    plan = vs.plan_visits(
        spark.createDataFrame(scores), staff, START, 7, rules=rules, holdout=0.15, seed=9
    )
    _assert_same_plan(plan, reference)


# ----------------------------------------------------------------------------- the CLI
def test_cli_run_with_the_spark_engine_writes_the_pandas_plan_byte_for_byte(spark, book):
    from typer.testing import CliRunner

    from visitrisk.cli import app

    folder = book[1]
    common = ["--as-of", str(AS_OF.date()), "--start", START, "--days", "10", "--seed", "1"]
    runner = CliRunner()
    done = {}
    for engine in ("pandas", "spark"):
        out = folder.parent / f"out_{engine}"
        result = runner.invoke(app, ["run", str(folder), *common, "--out", str(out),
                                     "--engine", engine])  # fmt: skip
        assert result.exit_code == 0, result.output
        done[engine] = out
    for name in ("visit_plan.csv", "exclusions.csv", "drift.csv"):
        assert (done["spark"] / name).read_bytes() == (done["pandas"] / name).read_bytes(), name
    summaries = {
        engine: json.loads((out / "run_summary.json").read_text(encoding="utf-8"))
        for engine, out in done.items()
    }
    assert summaries["spark"]["engine"] == "spark"
    assert summaries["spark"]["training"]["design"] == "trial"
    assert summaries["spark"]["training"]["dropped"] == summaries["pandas"]["training"]["dropped"]
    assert summaries["spark"]["metrics"] == summaries["pandas"]["metrics"]
    assert summaries["spark"]["counts"] == summaries["pandas"]["counts"]
    assert summaries["spark"]["counts"]["planned_visits"] > 0
    scores = {engine: pd.read_parquet(out / "scores.parquet") for engine, out in done.items()}
    pd.testing.assert_frame_equal(
        scores["spark"], scores["pandas"][scores["spark"].columns], check_dtype=False
    )


# ----------------------------------------------------------------------------- import
def test_import_visitrisk_does_not_import_pyspark():
    code = (
        "import sys, visitrisk; print('pyspark' in sys.modules, 'visitrisk.spark' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["False", "False"]
