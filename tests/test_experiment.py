"""Experiments: several specs on one split as child runs of one parent, compared in MLflow."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from visitrisk.cli import app
from visitrisk.experiment import split_by_time, true_value_captured
from visitrisk.labels import TrainingSet

ROOT = Path(__file__).resolve().parents[1]


def _training_set(snapshots: list[str], horizon: int = 60) -> TrainingSet:
    stamps = pd.Series(pd.to_datetime(np.repeat(snapshots, 2)))
    n_rows = len(stamps)
    return TrainingSet(
        X=pd.DataFrame({"arrears": np.arange(n_rows, dtype=float)}),
        treatment=pd.Series(np.tile([0, 1], len(snapshots)), dtype="int8"),
        cured=pd.Series(np.zeros(n_rows), dtype="int8"),
        value_at_stake=pd.Series(np.ones(n_rows)),
        snapshot=stamps,
        customer_id=pd.Series(np.tile(["C1", "C2"], len(snapshots))),
        timing=pd.DataFrame(index=range(n_rows)),
        metadata={"horizon": horizon, "snapshots": list(pd.to_datetime(snapshots))},
    )


def test_split_by_time_tests_on_the_latest_and_purges_overlapping_labels():
    full = _training_set(["2026-01-31", "2026-02-28", "2026-03-31", "2026-04-30", "2026-05-31"])
    train, test = split_by_time(full, test_snapshots=2)
    # Test from 2026-04-30: a training label ends at snapshot + 60 days, strictly before it.
    assert list(test.metadata["snapshots"]) == list(pd.to_datetime(["2026-04-30", "2026-05-31"]))
    assert list(train.metadata["snapshots"]) == list(pd.to_datetime(["2026-01-31", "2026-02-28"]))
    assert len(train) == 4
    assert len(test) == 4
    assert list(test.X["arrears"]) == [6.0, 7.0, 8.0, 9.0]
    assert test.X.index.equals(pd.RangeIndex(4))


def test_split_by_time_refuses_what_leaves_nothing_to_train_on():
    with pytest.raises(ValueError, match=r"rows on 2 snapshot\(s\); testing on 2 leaves none"):
        split_by_time(_training_set(["2026-01-31", "2026-02-28"]), test_snapshots=2)
    with pytest.raises(ValueError, match=r"no snapshot's 60-day horizon ends before the first"):
        split_by_time(_training_set(["2026-01-31", "2026-02-28"]), test_snapshots=1)
    with pytest.raises(ValueError, match=r"'test_snapshots' parameter of split_by_time must be"):
        split_by_time(_training_set(["2026-01-31", "2026-02-28"]), test_snapshots=0)


def test_trial_rows_train_and_landmark_rows_of_the_test_snapshots_evaluate():
    from visitrisk import build_training_set, simulate_portfolio
    from visitrisk.experiment import _sets_for_evaluation
    from visitrisk.labels import monthly_snapshots

    portfolio = simulate_portfolio(800, seed=5, as_of="2026-06-30", history_months=20).portfolio
    snapshots = monthly_snapshots(portfolio)
    built = []

    def build(dates, design):
        built.append((len(dates), design))
        return build_training_set(portfolio, dates, design=design)

    full, train, test = _sets_for_evaluation(build, snapshots, 2, "trial")
    assert built == [(len(snapshots), "trial"), (2, "landmark")]
    assert full.metadata["design"] == train.metadata["design"] == "trial"
    assert (train.weight != 1).any()
    assert set(train.snapshot) < set(full.snapshot)
    expected = build_training_set(portfolio, snapshots[-2:], design="landmark")
    pd.testing.assert_frame_equal(test.to_frame(), expected.to_frame())
    assert (test.weight == 1).all()

    built.clear()
    full, train, test = _sets_for_evaluation(build, snapshots, 2, "landmark")
    assert built == [(len(snapshots), "landmark")]
    pd.testing.assert_frame_equal(test.to_frame(), expected.to_frame())


def test_true_value_captured_against_the_oracle():
    score = np.array([4.0, 3.0, 2.0, 1.0])
    true_uplift = np.array([0.0, 0.5, 0.1, 0.2])
    value = np.array([100.0, 100.0, 1000.0, 100.0])
    # True gains 0, 50, 100, 20: the model picks rows 0, 1; the oracle rows 2, 1.
    metrics = true_value_captured(score, true_uplift, value, capacities=(0.5, 1.0))
    assert metrics["true_value_top_50pct"] == pytest.approx(50.0)
    assert metrics["oracle_value_top_50pct"] == pytest.approx(150.0)
    assert metrics["true_value_share_top_50pct"] == pytest.approx(1 / 3)
    assert metrics["true_value_share_top_100pct"] == pytest.approx(1.0)


_TINY = """
name: tiny_comparison
data:
  simulate: {{customers: 600, seed: 2, history_months: 18}}
snapshots: {{train: 3, test: 1}}
models:
  - {root}/models/t_lightgbm.yaml
  - {root}/models/dr_lightgbm.yaml
capacities: [0.2]
seed: 0
"""


def test_experiment_command_compares_models_as_child_runs(tmp_path, monkeypatch):
    import mlflow

    spec = tmp_path / "tiny.yaml"
    spec.write_text(_TINY.format(root=ROOT), encoding="utf-8")
    out = tmp_path / "out"
    result = CliRunner().invoke(
        app, ["experiment", str(spec), "--out", str(out)], env={"COLUMNS": "400"}
    )
    assert result.exit_code == 0, result.output
    assert "t_lightgbm" in result.output
    assert "dr_lightgbm" in result.output
    assert "mlflow ui --backend-store-uri sqlite:///" in result.output

    comparison = pd.read_csv(out / "comparison.csv")
    assert list(comparison["model"]) == ["t_lightgbm", "dr_lightgbm"]
    assert comparison["true_value_share_top_20pct"].notna().all()
    assert comparison["value_weighted_top_20pct_dr"].notna().all()

    uri = f"sqlite:///{out.resolve() / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    runs = mlflow.search_runs(experiment_names=["tiny_comparison"])
    assert len(runs) == 3
    parent = runs[runs["tags.mlflow.parentRunId"].isna()].iloc[0]
    children = runs[runs["tags.mlflow.parentRunId"] == parent["run_id"]]
    assert sorted(children["tags.mlflow.runName"]) == ["dr_lightgbm", "t_lightgbm"]
    assert sorted(children["params.learner"]) == ["dr", "t"]
    assert children["metrics.qini_auc_ipw"].notna().all()
    assert children["metrics.true_value_share_top_20pct"].between(-1, 1).all()
    assert parent["params.test_snapshots"].count("-") == 2
    assert parent["params.design"] == "trial"
    client = mlflow.MlflowClient(uri)
    assert [a.path for a in client.list_artifacts(parent["run_id"])] == ["comparison.csv"]
    inputs = client.get_run(parent["run_id"]).inputs.dataset_inputs
    assert sorted(item.dataset.name for item in inputs) == ["test_set", "training_set"]


def test_experiment_command_exits_2_on_a_bad_spec(tmp_path):
    spec = tmp_path / "bad.yaml"
    spec.write_text("name: x\ndata: {simulate: {customers: 10}}\nmodels: []\n", encoding="utf-8")
    result = CliRunner().invoke(app, ["experiment", str(spec), "--out", str(tmp_path)])
    assert result.exit_code == 2
    message = " ".join(result.output.split())
    assert "bad.yaml: key 'data.simulate.customers' must be an int >= 100. Got 10" in message
