import json
import subprocess
import sys

import pandas as pd
import pytest
from typer.testing import CliRunner

from visitrisk import load_portfolio, simulate_portfolio
from visitrisk.cli import app
from visitrisk.measure import read_plan_folder
from visitrisk.pipeline import REGISTERED_MODEL_NAME, run

AS_OF = "2026-11-30"


#: Officer whose first visits the data_dir fixture moves to a Sunday (audit: off_working_day).
PLANTED_OFFICER_VISITS = 3


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("book")
    data = simulate_portfolio(1_200, seed=3, as_of=AS_OF).write(folder / "data", "csv")
    # The simulated log is clean: move one officer's first visits to the Sunday of their
    # week, outside every officer's working days, for the run's audit to flag.
    visits = pd.read_csv(data / "visits.csv", dtype=str, keep_default_na=False)
    officer = visits["officer_id"].iloc[0]
    planted = visits.index[visits["officer_id"] == officer][:PLANTED_OFFICER_VISITS]
    day = pd.to_datetime(visits.loc[planted, "visit_date"])
    sunday = day + pd.to_timedelta(6 - day.dt.day_of_week, unit="D")
    visits.loc[planted, "visit_date"] = sunday.dt.strftime("%Y-%m-%d")
    visits.to_csv(data / "visits.csv", index=False)
    return data


@pytest.fixture(scope="module")
def cli_run(data_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    args = ["run", str(data_dir), "--as-of", AS_OF, "--start", "2026-12-01", "--days", "10"]
    result = CliRunner().invoke(app, [*args, "--out", str(out), "--seed", "1"])
    return result, out


def test_run_writes_every_output(cli_run):
    result, out = cli_run
    assert result.exit_code == 0, result.output
    for name in ("visit_plan.csv", "exclusions.csv", "visit_plan.xlsx", "visit_plan.html"):
        assert (out / name).stat().st_size > 0, name
    assert (out / "figures" / "evaluation.png").stat().st_size > 0
    assert (out / "figures" / "shap_summary.png").stat().st_size > 0
    summary = json.loads((out / "run_summary.json").read_text(encoding="utf-8"))
    assert summary["not_logged"] == []
    assert {"qini_auc_ipw", "ate_dr"} <= set(summary["metrics"])
    assert not list(out.glob("*.tmp"))


def test_run_trains_on_the_emulated_trial_by_default_and_records_it(cli_run):
    import mlflow

    _, out = cli_run
    summary = json.loads((out / "run_summary.json").read_text(encoding="utf-8"))
    training = summary["training"]
    assert training["design"] == "trial"
    assert "follows_neither_arm" in training["dropped"]
    # The test rows are observed customers (landmark rows), the training rows clones:
    # evaluation ran, so evaluate accepted them.
    assert summary["metrics"]["n_rows"] == training["test_rows"]
    client = mlflow.MlflowClient(summary["mlflow"]["tracking_uri"])
    params = client.get_run(summary["mlflow"]["run_id"]).data.params
    assert params["design"] == "trial"


def test_every_delinquent_customer_is_planned_or_excluded(cli_run, data_dir):
    _, out = cli_run
    plan = pd.read_csv(out / "visit_plan.csv", dtype=str, encoding="utf-8-sig")
    exclusions = pd.read_csv(out / "exclusions.csv", dtype=str, encoding="utf-8-sig")
    summary = json.loads((out / "run_summary.json").read_text(encoding="utf-8"))
    visits = plan[plan["arm"] == "visit"]
    assert visits["reason_1"].notna().all()  # every visit says why
    listed = pd.concat([plan["customer_id"], exclusions["customer_id"]])
    assert not listed.duplicated().any()
    assert len(listed) == summary["counts"]["delinquent_scored"]
    # Personal data never leaves unmasked.
    customers = load_portfolio(data_dir).customers.set_index("customer_id")
    if "phone" in plan:
        raw = customers.loc[plan["customer_id"], "phone"].to_numpy()
        assert not (plan["phone"].to_numpy() == raw).any()


def test_logged_model_reproduces_scores_in_a_fresh_process(cli_run, data_dir):
    _, out = cli_run
    summary = json.loads((out / "run_summary.json").read_text(encoding="utf-8"))
    uri = summary["mlflow"]["tracking_uri"]
    code = f"""
import sys, pandas as pd
from visitrisk import build_features, load_portfolio
from visitrisk.tracking import load_scoring_model
model = load_scoring_model("models:/{REGISTERED_MODEL_NAME}@challenger", tracking_uri="{uri}")
features = build_features(load_portfolio(r"{data_dir}"), "{AS_OF}")
scores = model.predict(features)  # one row per input row, in input order
scores.index = features.index
scores.to_csv(sys.stdout)
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    from io import StringIO

    scored = pd.read_csv(StringIO(done.stdout), dtype={"customer_id": str})
    scored = scored.set_index("customer_id")
    plan = pd.read_csv(out / "visit_plan.csv", dtype={"customer_id": str}, encoding="utf-8-sig")
    plan = plan.set_index("customer_id")
    assert len(plan) > 0
    pd.testing.assert_series_equal(
        scored.loc[plan.index, "uplift"], plan["uplift"], check_names=False, rtol=1e-9
    )


def test_unreachable_tracking_store_still_yields_the_plan(data_dir, tmp_path):
    with pytest.warns(UserWarning, match="MLflow|tracking|logged"):
        result = run(
            data_dir,
            as_of=AS_OF,
            start="2026-12-01",
            days=5,
            out_dir=tmp_path,
            tracking_uri="http://127.0.0.1:9",
            design="landmark",
        )
    assert result.not_logged
    assert (tmp_path / "visit_plan.csv").exists()
    summary = json.loads((tmp_path / "run_summary.json").read_text(encoding="utf-8"))
    assert summary["not_logged"] == result.not_logged
    assert summary["training"]["design"] == "landmark"
    assert "cured_in_window" in summary["training"]["dropped"]


def test_run_refuses_an_unknown_design(data_dir, tmp_path):
    with pytest.raises(ValueError, match=r"'design' parameter of run must be one of"):
        run(data_dir, as_of=AS_OF, start="2026-12-01", days=5, out_dir=tmp_path, design="x")
    args = ["run", str(data_dir), "--as-of", AS_OF, "--start", "2026-12-01", "--days", "5"]
    result = CliRunner().invoke(app, [*args, "--out", str(tmp_path), "--design", "naive"])
    assert result.exit_code == 2
    assert "naive" in result.output
    assert not (tmp_path / "visit_plan.csv").exists()


def test_broken_table_exits_1_and_writes_nothing(data_dir, tmp_path):
    broken = tmp_path / "broken"
    broken.mkdir()
    for path in data_dir.glob("*.csv"):
        (broken / path.name).write_bytes(path.read_bytes())
    loans = pd.read_csv(broken / "loans.csv", dtype=str)
    loans.loc[loans.index[:2], "principal"] = "-5"
    loans.to_csv(broken / "loans.csv", index=False)
    out = tmp_path / "out"
    args = ["run", str(broken), "--as-of", AS_OF, "--start", "2026-12-01", "--days", "5"]
    result = CliRunner().invoke(app, [*args, "--out", str(out)])
    assert result.exit_code == 1
    assert "non_positive_principal" in result.output
    assert not out.exists()


def test_plan_command_replans_from_the_run_scores(cli_run, data_dir, tmp_path):
    _, out = cli_run
    args = ["plan", str(out / "scores.parquet"), "--staff", str(data_dir / "staff.csv")]
    args += ["--start", "2026-12-01", "--days", "10", "--seed", "1", "--out", str(tmp_path)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    # Same scores, staff, rules and seed as the run: the same plan (the run's file also
    # carries the customers' places and masked names).
    replanned = pd.read_csv(tmp_path / "visit_plan.csv", dtype=str, encoding="utf-8-sig")
    original = pd.read_csv(out / "visit_plan.csv", dtype=str, encoding="utf-8-sig")
    # plan_id too: it hashes the staff's values, read as text here and typed in the run.
    pd.testing.assert_frame_equal(replanned, original[replanned.columns])
    # What `visitrisk measure` reads back: the scoring run's as-of date and windows.
    run_summary = json.loads((out / "run_summary.json").read_text(encoding="utf-8"))
    _, plan_summary = read_plan_folder(tmp_path)
    for key in ("as_of", "treatment_window", "horizon"):
        assert plan_summary[key] == run_summary[key]
    assert plan_summary["plan"]["plan_id"] == replanned["plan_id"].iloc[0]


def test_plan_command_from_scores_without_a_run_records_no_as_of(cli_run, data_dir, tmp_path):
    _, out = cli_run
    scores = tmp_path / "elsewhere" / "scores.parquet"
    scores.parent.mkdir()
    scores.write_bytes((out / "scores.parquet").read_bytes())
    args = ["plan", str(scores), "--staff", str(data_dir / "staff.csv"), "--start", "2026-12-01"]
    result = CliRunner().invoke(app, [*args, "--days", "10", "--out", str(tmp_path / "plan")])
    assert result.exit_code == 0, result.output
    _, plan_summary = read_plan_folder(tmp_path / "plan")
    assert "as_of" not in plan_summary
    assert "horizon" not in plan_summary
    assert plan_summary["plan_days"] == 10


def test_plan_command_reports_a_bad_staff_table(cli_run, tmp_path):
    _, out = cli_run
    staff = tmp_path / "staff.csv"
    staff.write_text("officer_id,branch_id,visits_per_day\nE1,B001,-2\n", encoding="utf-8")
    args = ["plan", str(out / "scores.parquet"), "--staff", str(staff)]
    result = CliRunner().invoke(
        app, [*args, "--start", "2026-12-01", "--days", "3", "--out", str(tmp_path)]
    )
    assert result.exit_code == 1
    assert "visits_per_day" in result.output


def test_run_writes_the_visit_log_audit_and_names_the_flagged_officer(cli_run, data_dir):
    import mlflow

    result, out = cli_run
    visits = pd.read_csv(data_dir / "visits.csv", dtype=str, keep_default_na=False)
    officer = visits["officer_id"].iloc[0]
    audit = pd.read_csv(out / "audit.csv", dtype=str, keep_default_na=False)
    sundays = audit[audit["reason"] == "off_working_day"]
    assert (sundays["officer_id"] == officer).sum() == PLANTED_OFFICER_VISITS
    assert (pd.to_datetime(sundays["visit_date"]).dt.day_of_week == 6).all()
    summary = json.loads((out / "run_summary.json").read_text(encoding="utf-8"))
    audited = summary["audit"]
    assert audited["visits_audited"] == len(visits)
    assert audited["records_flagged"] == audit["visit_index"].nunique()
    assert audited["flags_by_reason"]["off_working_day"] == len(sundays)
    assert audited["flagged_records_by_officer"][officer] >= PLANTED_OFFICER_VISITS
    assert audited["officers_flagged"] == audit["officer_id"].nunique()
    assert officer in audited["warning"]
    assert "audit.csv" in result.output
    assert f"{officer} (" in " ".join(result.output.split())  # the console names them too
    client = mlflow.MlflowClient(summary["mlflow"]["tracking_uri"])
    metrics = client.get_run(summary["mlflow"]["run_id"]).data.metrics
    assert metrics["audit_records_flagged"] == audited["records_flagged"]
    assert metrics["audit_officers_flagged"] == audited["officers_flagged"]
