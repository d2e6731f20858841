"""MLflow tracking: runs, artifacts, the pyfunc model in a fresh process, aliases, outages."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import warnings

import numpy as np
import pandas as pd
import pytest

import visitrisk as vr
from visitrisk._learner_input import LGBM_CLASSIFIER_DEFAULTS
from visitrisk.labels import monthly_snapshots
from visitrisk.tracking import (
    TrackingWarning,
    load_scoring_model,
    promote,
    resolve_tracking_uri,
    start_run,
    uplift_model_params,
)

EXPERIMENT = "visitrisk-test"
MODEL_NAME = "visitrisk-test-model"


@pytest.fixture(scope="module")
def fitted():
    """A T learner fitted on the last four snapshots of a small simulated portfolio."""
    simulated = vr.simulate_portfolio(600, seed=1, history_months=18)
    snapshots = monthly_snapshots(simulated.portfolio)[-4:]
    training_set = vr.build_training_set(simulated.portfolio, snapshots)
    model = vr.UpliftModel(learner="t", random_state=0, n_jobs=1).fit(training_set)
    return training_set, model


@pytest.fixture(scope="module")
def logged(fitted, tmp_path_factory):
    """One fresh SQLite store with a run that logged everything (migrations run once)."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    training_set, model = fitted
    # In-sample scores are enough to exercise logging (not to judge the model).
    report = vr.evaluate_scores(
        model.predict(training_set.X),
        training_set.cured,
        training_set.treatment,
        training_set.X,
        training_set.customer_id,
        training_set.value_at_stake,
        n_folds=2,
        n_boot=50,
    )
    out = tmp_path_factory.mktemp("tracking")
    plan = out / "visit_plan.csv"
    plan.write_text("customer_id,visit_date\nC1,2026-12-01\n", encoding="utf-8")
    figure = Figure()
    figure.subplots().plot([0, 1], [0, 1])
    params = {"horizon": 60, "capacities": [0.1, 0.2], **uplift_model_params(model)}
    with start_run(
        experiment=EXPERIMENT,
        run_name="full",
        out_dir=out,
        params=params,
        data_digest=training_set.metadata["input_digest"],
    ) as run:
        metrics_ok = run.log_metrics(
            {"plan_value": 1234.5, "plan_visits": 40, "broken": np.nan, "label": "x"}
        )
        evaluation_ok = run.log_evaluation(report)
        run.log_figure(figure, "figures/qini.png")
        run.log_file(plan, "plan")
        run.log_table(pd.DataFrame({"model": ["t"], "value": [1.5]}), "tables/comparison.csv")
        run.log_training_set(training_set, "training")
        first = run.log_model(model, training_set.X, registered_model_name=MODEL_NAME)
        second = run.log_model(model, training_set.X, registered_model_name=MODEL_NAME)
    return {
        "out": out,
        "run": run,
        "metrics_ok": metrics_ok,
        "evaluation_ok": evaluation_ok,
        "report": report,
        "first": first,
        "second": second,
    }


def test_default_store_is_sqlite_in_out_dir_with_artifacts_beside_it(logged):
    import mlflow

    out, run = logged["out"], logged["run"]
    assert run.tracking_uri == f"sqlite:///{out.resolve() / 'mlflow.db'}"
    experiment = mlflow.MlflowClient(run.tracking_uri).get_experiment(run.experiment_id)
    assert experiment.artifact_location == (out.resolve() / "mlartifacts").as_uri()
    assert (out / "mlartifacts").is_dir()


def test_run_is_found_with_params_metrics_tags_and_artifacts(logged, monkeypatch):
    import mlflow

    run = logged["run"]
    monkeypatch.setenv("MLFLOW_TRACKING_URI", run.tracking_uri)
    runs = mlflow.search_runs(experiment_names=[EXPERIMENT], filter_string="params.horizon = '60'")
    assert list(runs["run_id"]) == [run.run_id]
    found = runs.iloc[0]
    assert found["params.learner"] == "t"
    assert found["params.outcome_model.n_estimators"] == str(
        LGBM_CLASSIFIER_DEFAULTS["n_estimators"]
    )
    assert found["params.capacities"] == "[0.1, 0.2]"
    assert found["metrics.plan_value"] == pytest.approx(1234.5)
    assert found["metrics.plan_visits"] == 40
    assert logged["evaluation_ok"] is True
    for name, value in logged["report"].to_dict().items():
        assert found[f"metrics.{name}"] == pytest.approx(value), name
    assert found["tags.visitrisk.version"] == vr.__version__
    assert len(found["tags.visitrisk.data_digest"]) == 64
    assert found["status"] == "FINISHED"
    client = mlflow.MlflowClient(run.tracking_uri)
    artifacts = {
        item.path
        for folder in ("figures", "plan", "tables", "evaluation")
        for item in client.list_artifacts(run.run_id, folder)
    }
    assert artifacts == {
        "figures/qini.png",
        "plan/visit_plan.csv",
        "tables/comparison.csv",
        "evaluation/evaluation.png",
        "evaluation/metrics.csv",
        "evaluation/policy_values.csv",
        "evaluation/calibration.csv",
    }


def test_non_finite_metric_is_reported_not_logged(logged):
    run = logged["run"]
    assert logged["metrics_ok"] is False
    assert run.not_logged == ["metrics ['broken', 'label']: not finite numbers"]


def test_training_set_is_logged_as_features_and_labels_only(logged, fitted):
    import mlflow

    training_set, _ = fitted
    run = logged["run"]
    inputs = mlflow.MlflowClient(run.tracking_uri).get_run(run.run_id).inputs.dataset_inputs
    assert [item.dataset.name for item in inputs] == ["training_set"]
    tags = {tag.key: tag.value for tag in inputs[0].tags}
    assert tags["mlflow.data.context"] == "training"
    assert tags["visitrisk.input_digest"] == training_set.metadata["input_digest"]
    schema = json.loads(inputs[0].dataset.schema)["mlflow_colspec"]
    columns = {column["name"] for column in schema}
    assert columns == set(training_set.X.columns) | {"treatment", "cured"}
    assert json.loads(inputs[0].dataset.profile)["num_rows"] == len(training_set)


def test_weighted_training_set_is_logged_with_its_weights(fitted, tmp_path):
    import dataclasses

    import mlflow

    training_set, _ = fitted
    weights = np.linspace(0.5, 3.0, len(training_set))
    weighted = dataclasses.replace(training_set, weight=pd.Series(weights, name="weight"))
    with start_run(experiment=EXPERIMENT, run_name="weighted", out_dir=tmp_path) as run:
        assert run.log_training_set(weighted, "training")
    inputs = mlflow.MlflowClient(run.tracking_uri).get_run(run.run_id).inputs.dataset_inputs
    schema = json.loads(inputs[0].dataset.schema)["mlflow_colspec"]
    assert {column["name"] for column in schema} == set(training_set.X.columns) | {
        "treatment",
        "cured",
        "weight",
    }


def test_pyfunc_in_a_fresh_process_reproduces_scores_by_alias(logged, fitted, tmp_path):
    training_set, model = fitted
    run = logged["run"]
    assert promote(MODEL_NAME, logged["first"].version, "champion", tracking_uri=run.tracking_uri)
    features = training_set.X.iloc[:200]
    features.to_parquet(tmp_path / "features.parquet")
    code = (
        "import sys, pandas as pd\n"
        "from visitrisk.tracking import load_scoring_model\n"
        f"model = load_scoring_model('models:/{MODEL_NAME}@champion', tracking_uri=sys.argv[1])\n"
        "model.predict(pd.read_parquet(sys.argv[2])).to_parquet(sys.argv[3])\n"
    )
    subprocess.run(
        [
            sys.executable,
            "-c",
            code,
            run.tracking_uri,
            str(tmp_path / "features.parquet"),
            str(tmp_path / "scores.parquet"),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    reloaded = pd.read_parquet(tmp_path / "scores.parquet")
    expected = model.score(features)
    assert list(reloaded.columns) == list(expected.columns)
    np.testing.assert_array_equal(reloaded.to_numpy(), expected.to_numpy())


def test_pyfunc_accepts_text_categoricals_and_rejects_unseen_categories(logged, fitted):
    training_set, model = fitted
    environment = os.environ.get("MLFLOW_TRACKING_URI")
    pyfunc = load_scoring_model(logged["first"].model_uri, tracking_uri=logged["run"].tracking_uri)
    # Loading must not point later runs of the process at this store.
    assert os.environ.get("MLFLOW_TRACKING_URI") == environment
    features = training_set.X.iloc[:50]
    categorical = [
        c for c, dtype in features.dtypes.items() if isinstance(dtype, pd.CategoricalDtype)
    ]
    assert categorical, "the fixture must exercise categorical features"
    as_text = features.astype(dict.fromkeys(categorical, "str"))
    expected = model.score(features).to_numpy()
    np.testing.assert_array_equal(pyfunc.predict(features).to_numpy(), expected)
    np.testing.assert_array_equal(pyfunc.predict(as_text).to_numpy(), expected)
    unseen = as_text.assign(segment="astronaut")
    with pytest.raises(Exception, match=r"feature 'segment' has value\(s\) \['astronaut'\] unseen"):
        pyfunc.predict(unseen)


def test_aliases_resolve_to_their_versions(logged):
    import mlflow

    run = logged["run"]
    first, second = logged["first"], logged["second"]
    assert (first.name, first.version, second.version) == (MODEL_NAME, "1", "2")
    assert promote(MODEL_NAME, first.version, "champion", tracking_uri=run.tracking_uri)
    assert promote(MODEL_NAME, second.version, "challenger", tracking_uri=run.tracking_uri)
    client = mlflow.MlflowClient(run.tracking_uri, registry_uri=run.tracking_uri)
    assert str(client.get_model_version_by_alias(MODEL_NAME, "champion").version) == "1"
    assert str(client.get_model_version_by_alias(MODEL_NAME, "challenger").version) == "2"


def test_failed_block_marks_the_run_failed_and_raises(logged):
    import mlflow

    out = logged["out"]
    with (
        pytest.raises(RuntimeError, match="planner broke"),
        start_run(experiment=EXPERIMENT, run_name="broken", out_dir=out) as run,
    ):
        raise RuntimeError("planner broke")
    status = mlflow.MlflowClient(run.tracking_uri).get_run(run.run_id).info.status
    assert status == "FAILED"


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_unreachable_store_warns_and_reports_what_was_not_logged(fitted, monkeypatch, tmp_path):
    training_set, model = fitted
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "2")
    uri = f"http://127.0.0.1:{_closed_port()}"
    started = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with start_run(tracking_uri=uri, out_dir=tmp_path, params={"learner": "t"}) as run:
            # The plan-side work goes on: write the plan, then try to log it.
            plan = tmp_path / "visit_plan.csv"
            plan.write_text("customer_id\nC1\n", encoding="utf-8")
            assert run.log_metrics({"plan_visits": 1.0}) is False
            assert run.log_file(plan, "plan") is False
            assert run.log_model(model, training_set.X) is None
    messages = [str(w.message) for w in caught if issubclass(w.category, TrackingWarning)]
    assert len(messages) == 1
    assert messages[0].startswith(f"Not logged to MLflow ({uri}): run (params, metrics")
    assert time.perf_counter() - started < 15
    assert plan.exists()
    assert run.run_id is None
    assert run.not_logged[0].startswith("run (params, metrics, data sets, figures, files, model)")
    assert "cannot reach the tracking server" in run.not_logged[0]
    assert run.not_logged[1:] == [
        "params: no MLflow run",
        "metrics: no MLflow run",
        f"{plan}: no MLflow run",
        "model: no MLflow run",
    ]
    assert not (tmp_path / "mlflow.db").exists()
    with pytest.warns(TrackingWarning, match=r"Alias 'champion' of 'm' not set to version 1"):
        assert promote("m", 1, "champion", tracking_uri=uri) is False


def test_resolve_tracking_uri_prefers_argument_then_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://tracking.example:5000")
    assert resolve_tracking_uri("sqlite:///x.db", tmp_path) == "sqlite:///x.db"
    assert resolve_tracking_uri(None, tmp_path) == "http://tracking.example:5000"
    monkeypatch.delenv("MLFLOW_TRACKING_URI")
    assert (
        resolve_tracking_uri(None, tmp_path / "out")
        == f"sqlite:///{tmp_path / 'out' / 'mlflow.db'}"
    )
    assert (tmp_path / "out").is_dir()


def test_telemetry_is_disabled_unless_the_user_chose(monkeypatch, tmp_path):
    monkeypatch.delenv("MLFLOW_DISABLE_TELEMETRY", raising=False)
    uri = f"http://127.0.0.1:{_closed_port()}"
    with pytest.warns(TrackingWarning), start_run(tracking_uri=uri, out_dir=tmp_path):
        pass
    assert os.environ["MLFLOW_DISABLE_TELEMETRY"] == "true"
    monkeypatch.setenv("MLFLOW_DISABLE_TELEMETRY", "false")
    with pytest.warns(TrackingWarning), start_run(tracking_uri=uri, out_dir=tmp_path):
        pass
    assert os.environ["MLFLOW_DISABLE_TELEMETRY"] == "false"
