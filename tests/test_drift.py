"""Population stability: hand-computed values, bins, smoothing, the report, the pipeline."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import pytest

import visitrisk as vr
from visitrisk.drift import (
    PSI_BANDS,
    SCORE_NAME,
    DriftWarning,
    _band,
    drift_metrics,
    drift_report,
    population_stability,
    score_drift_warning,
)


def _psi(expected_shares, actual_shares) -> float:
    return sum(
        (a - e) * math.log(a / e) for e, a in zip(expected_shares, actual_shares, strict=True)
    )


def test_identical_samples_give_zero():
    rng = np.random.default_rng(0)
    values = rng.lognormal(8, 1, 2_000)
    assert population_stability(values, values) == 0.0
    assert population_stability(values, values[::-1].copy()) == 0.0
    text = pd.Series(rng.choice(["farmer", "salaried", None], 500), dtype="str")
    assert population_stability(text, text) == 0.0


def test_same_distribution_is_small_and_a_shift_is_large():
    rng = np.random.default_rng(1)
    training = rng.normal(0, 1, 20_000)
    assert population_stability(training, rng.normal(0, 1, 20_000)) < 0.01
    shifted = population_stability(training, rng.normal(1, 1, 20_000))
    assert shifted > 0.25
    assert population_stability(training, rng.normal(0.3, 1, 20_000)) < shifted


def test_hand_computed_quantile_bins():
    # bins=2: one edge at the median of [1, 2, 3, 4], 2.5. Expected 2 | 2, actual 3 | 1;
    # with half a row added to each bin the shares are .5 | .5 and .7 | .3.
    assert population_stability([1, 2, 3, 4], [1, 1, 1, 4], bins=2) == pytest.approx(
        _psi([0.5, 0.5], [0.7, 0.3]), rel=1e-12
    )
    assert _psi([0.5, 0.5], [0.7, 0.3]) == pytest.approx(0.169459572, abs=1e-9)
    # Bins are right-closed: 2.5 itself falls in the first bin.
    assert population_stability([1, 2, 3, 4], [2.5, 2.5, 3, 4], bins=2) == 0.0


def test_the_smoothing_rule_for_an_empty_bin():
    # Actual has nothing above the median: counts 4 | 0 become 4.5 | 0.5 of 5 rows.
    assert population_stability([1, 2, 3, 4], [1, 1, 1, 1], bins=2) == pytest.approx(
        _psi([0.5, 0.5], [0.9, 0.1]), rel=1e-12
    )
    assert population_stability([1, 2, 3, 4], [1, 1, 1, 1], bins=2, smoothing=1) == (
        pytest.approx(_psi([0.5, 0.5], [5 / 6, 1 / 6]), rel=1e-12)
    )
    assert population_stability([1, 2, 3, 4], [1, 1, 1, 1], bins=2, smoothing=0) == math.inf


def test_missing_values_are_a_bin_of_their_own():
    # Numeric: expected 1 | 1 | missing 2, actual 1 | 3 | missing 0 (of 4, 3 bins, +0.5).
    assert population_stability([1.0, 2.0, np.nan, np.nan], [1, 2, 3, 4], bins=2) == (
        pytest.approx(_psi(np.array([1.5, 1.5, 2.5]) / 5.5, np.array([1.5, 3.5, 0.5]) / 5.5))
    )
    # A complete variable has no missing bin: it would only dilute the other bins.
    assert population_stability([1.0, 2.0], [1.0, 2.0, np.nan], bins=2) > 0
    nullable = pd.DataFrame({"n": pd.array([1, None, 3, 4], dtype="Int64")})
    report = drift_report(nullable, nullable.iloc[[0, 2, 2, 3]])
    assert report[["kind", "bins"]].values.tolist() == [["numeric", 4]]  # 3 bins + missing
    assert report["psi"].item() > 0


def test_categories_new_ones_and_missing():
    # Bins a, b, c, missing: expected 2, 1, 0, 1 and actual 1, 0, 2, 1 (+0.5 each, of 6).
    expected = pd.Series(["a", "b", None, "a"], dtype="str")
    actual = pd.Series(["a", "c", "c", None], dtype="str")
    assert population_stability(expected, actual) == pytest.approx(
        _psi(np.array([2.5, 1.5, 0.5, 1.5]) / 6, np.array([1.5, 0.5, 2.5, 1.5]) / 6)
    )
    categories = pd.Categorical(["x", "y", "y"], categories=["x", "y", "z"])
    assert population_stability(categories, categories) == 0.0
    assert population_stability([True, False], [True, True]) > 0
    # Numbers can be binned as categories when asked.
    assert population_stability([1, 2], [1, 2], categorical=True) == 0.0


def test_ties_merge_quantile_bins():
    values = np.r_[np.zeros(700), np.arange(1, 301)]  # 70 % zeros
    report = drift_report(pd.DataFrame({"visits": values}), pd.DataFrame({"visits": values}))
    assert report["bins"].item() == 4  # [..0], then the three quantile bins above 0
    assert report["psi"].item() == 0.0


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="The 'actual' sample must hold at least one value"):
        population_stability([1.0], [])
    with pytest.raises(ValueError, match="The 'bins' parameter must be a positive int"):
        population_stability([1.0], [1.0], bins=0)
    with pytest.raises(ValueError, match="The 'smoothing' parameter must be a finite number"):
        population_stability([1.0], [1.0], smoothing=-1)
    with pytest.raises(ValueError, match=r"values are not all numbers: pass categorical=True"):
        population_stability([1.0, 2.0], [1.0, "a"], categorical=False)


def _frames(shift: float, n: int = 3_000, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)

    def frame(mean: float) -> pd.DataFrame:
        return pd.DataFrame(
            {
                "arrears": rng.gamma(2, 1_000, n) * np.exp(mean),
                "segment": pd.Categorical(rng.choice(["farmer", "salaried"], n)),
                "days_since_last_visit": np.where(rng.random(n) < 0.3, np.nan, rng.random(n)),
                "month_of_year": np.full(n, 11.0) if mean else rng.integers(1, 13, n) * 1.0,
            }
        )

    return frame(0.0), frame(shift)


def test_drift_report_bands_and_columns():
    training, scoring = _frames(shift=1.0)
    rng = np.random.default_rng(3)

    report = drift_report(training, scoring, rng.normal(0, 0.02, 3_000), rng.normal(0, 0.02, 400))

    assert report.columns.tolist() == [
        "feature",
        "kind",
        "psi",
        "band",
        "psi_noise",
        "calendar",
        "bins",
        "n_training",
        "n_scoring",
        "missing_training",
        "missing_scoring",
    ]
    rows = report.set_index("feature")
    assert rows.index.tolist() == [*training.columns, SCORE_NAME]
    assert rows.loc["arrears", "band"] == "major"
    assert rows.loc["segment", ["kind", "band"]].tolist() == ["categorical", "stable"]
    assert rows.loc["days_since_last_visit", "missing_training"] == pytest.approx(0.3, abs=0.03)
    assert rows.loc["month_of_year", "calendar"]
    assert rows.loc[SCORE_NAME, ["band", "n_scoring", "bins"]].tolist() == ["stable", 400, 10]
    assert rows.loc[SCORE_NAME, "psi_noise"] == pytest.approx(9 * (1 / 3_000 + 1 / 400))
    assert drift_metrics(report)["psi.arrears"] == rows.loc["arrears", "psi"]
    assert set(drift_metrics(report)) == {f"psi.{name}" for name in rows.index}


def test_bands_follow_the_usual_thresholds():
    assert [upper for upper, _ in PSI_BANDS] == [0.1, 0.25, math.inf]
    assert [_band(value) for value in (0.0, 0.0999, 0.1, 0.2499, 0.25, 3.0, math.inf)] == [
        "stable",
        "stable",
        "moderate",
        "moderate",
        "major",
        "major",
        "major",
    ]


def test_the_score_warning_names_shifted_features_but_not_the_calendar():
    training, scoring = _frames(shift=1.0)
    rng = np.random.default_rng(4)
    calm = drift_report(training, scoring, rng.normal(0, 1, 3_000), rng.normal(0, 1, 3_000))
    assert score_drift_warning(calm) is None
    assert score_drift_warning(drift_report(training, scoring)) is None  # no scores

    moved = drift_report(training, scoring, rng.normal(0, 1, 3_000), rng.normal(1, 1, 3_000))
    text = score_drift_warning(moved)
    assert text.startswith("The uplift scores have drifted: population stability index")
    assert "Features with a major shift: arrears (" in text
    assert "month_of_year" not in text


def test_drift_report_refuses_mismatched_input():
    training, scoring = _frames(shift=0.0)
    with pytest.raises(ValueError, match=r"Only in training_features: \['segment'\]"):
        drift_report(training, scoring.drop(columns="segment"))
    with pytest.raises(ValueError, match="Give both 'training_scores' and 'scores'"):
        drift_report(training, scoring, training_scores=np.zeros(3))
    with pytest.raises(ValueError, match="sample must hold at least one value"):
        drift_report(training, scoring.iloc[:0])
    with pytest.raises(TypeError, match="'scoring_features' parameter of drift_report must be"):
        drift_report(training, scoring.to_numpy())


@pytest.fixture(scope="module")
def pipeline_run(tmp_path_factory):
    from visitrisk.pipeline import run

    out = tmp_path_factory.mktemp("drift_run")
    portfolio = vr.simulate_portfolio(600, seed=5, as_of="2026-11-30").portfolio
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = run(
            portfolio,
            as_of="2026-11-30",
            start="2026-12-01",
            days=5,
            out_dir=out,
            tracking_uri=f"sqlite:///{out / 'mlflow.db'}",
        )
    drift_warnings = [str(w.message) for w in caught if issubclass(w.category, DriftWarning)]
    return result, drift_warnings


def test_pipeline_writes_the_drift_table_and_logs_it(pipeline_run):
    from mlflow import MlflowClient

    result, _ = pipeline_run
    drift = pd.read_csv(result.outputs["drift_csv"])
    features = vr.feature_registry().index.tolist()
    assert drift["feature"].tolist() == [*features, SCORE_NAME]
    assert np.isfinite(drift["psi"]).all()
    assert set(drift["band"]) <= {"stable", "moderate", "major"}

    tracking = result.summary["mlflow"]
    client = MlflowClient(tracking["tracking_uri"])
    metrics = client.get_run(tracking["run_id"]).data.metrics
    for feature, psi in zip(drift["feature"], drift["psi"], strict=True):
        assert metrics[f"psi.{feature}"] == pytest.approx(psi, rel=1e-9)
    artifacts = [item.path for item in client.list_artifacts(tracking["run_id"], "drift")]
    assert artifacts == ["drift/drift.csv"]
    assert result.not_logged == []


def test_pipeline_warns_when_the_scores_drift(pipeline_run, capsys):
    from visitrisk.cli import _print_run_summary

    result, drift_warnings = pipeline_run
    score_psi = result.summary["drift"]["uplift_score_psi"]
    drift = pd.read_csv(result.outputs["drift_csv"]).set_index("feature")
    assert score_psi == pytest.approx(drift.loc[SCORE_NAME, "psi"])
    # This small book (about 70 customers scored, its loans ageing) drifted near 0.25
    # (0.14 to 0.25 over seeds 0-5 since training features stopped reading the snapshot
    # day's visits), and 0.05 since the DR learner averages fewer-tree effect models,
    # whose smoother scores move less: whichever side it lands, the warning must follow
    # the PSI.
    assert score_psi > 0.02
    assert "months_on_book" in result.summary["drift"]["major_features"]
    _print_run_summary(result)
    printed = " ".join(capsys.readouterr().out.split())
    if score_psi >= 0.25:
        assert drift_warnings == [result.summary["drift"]["warning"]]
        assert "Warning: The uplift scores have drifted" in printed
    else:
        assert drift_warnings == []
        assert "Warning: The uplift scores have drifted" not in printed
