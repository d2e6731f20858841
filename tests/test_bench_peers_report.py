"""The peer benchmark's renderer and its skip path, in the main venv (no peers installed)."""

import importlib
import json
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def bench_modules(monkeypatch):
    monkeypatch.syspath_prepend(str(REPO))
    report = importlib.import_module("bench._peers_report")
    runner = importlib.import_module("bench.bench_peers")
    return report, runner


def _learner(library, name, family, qini, ci, fit_seconds, **extra):
    return {
        "library": library,
        "learner": name,
        "family": family,
        "notes": "",
        "status": "ok",
        "fit_seconds": fit_seconds,
        "fit_cpu_seconds": fit_seconds * 0.9,
        "fit_peak_added_mb": 12.0,
        "predict_seconds": 0.05,
        "predict_cpu_seconds": 0.04,
        "uplift_mean": 0.02,
        "uplift_std": 0.05,
        "qini_auc": qini,
        "qini_auc_ci": ci,
        "uplift_auc": qini + 0.01,
        "uplift_auc_ci": [ci[0] + 0.01, ci[1] + 0.01],
        "metric_check": {
            "visitrisk_qini_auc": qini,
            "visitrisk_uplift_auc": qini + 0.01,
            "sklift_qini_auc": qini,
            "sklift_uplift_auc": qini + 0.01,
            "causalml_qini_score": qini * 4,
            "causalml_auuc_score": 0.61,
            "causalml_qini_rescaled": qini + 0.0002,
            "causalml_auuc_rescaled": qini + 0.0103,
        },
        **extra,
    }


def _curves(learners):
    share = [0.0, 0.5, 1.0]
    return {
        name: {
            "share": share,
            "qini": [0.0, 4.0, 2.0],
            "qini_ipw": [0.0, 5.0, 3.0],
            "true_value_share": [0.2, 0.6, 1.0],
        }
        for name in learners
    }


@pytest.fixture
def results():
    truth = {
        "qini_auc_ipw": 0.08,
        "true_value_share_top_10pct": 0.41,
        "true_value_share_top_20pct": 0.52,
        "true_value_share_top_20pct_ci": [0.5, 0.54],
        "true_value_share_top_30pct": 0.63,
        "true_uplift_corr": 0.3,
    }
    simulator = [
        _learner("visitrisk", "visitrisk DRLearner", "DR", 0.071, [0.05, 0.09], 9.5, **truth),
        _learner(
            "econml",
            "econml DRLearner",
            "DR",
            0.123,
            [0.10, 0.14],
            4.75,
            **truth,
            versus_visitrisk={
                "against": "visitrisk DRLearner",
                "qini_auc_diff": 0.052,
                "qini_auc_diff_ci": [0.01, 0.09],
                "true_value_share_top_20pct_diff": 0.0,
                "true_value_share_top_20pct_diff_ci": [-0.02, 0.02],
            },
        ),
        {
            "library": "causalml",
            "learner": "causalml BaseDRLearner",
            "family": "DR",
            "notes": "",
            "status": "unavailable",
            "error": "causalml is not installed",
        },
    ]
    synthetic = [
        _learner("visitrisk", "visitrisk TLearner", "T", 0.2, [0.15, 0.25], 1.0),
        _learner(
            "scikit-uplift",
            "sklift TwoModels",
            "T",
            0.21,
            [0.16, 0.26],
            0.8,
            versus_visitrisk={
                "against": "visitrisk TLearner",
                "qini_auc_diff": 0.01,
                "qini_auc_diff_ci": [0.002, 0.02],
            },
        ),
    ]

    def dataset(learners, description):
        return {
            "description": description,
            "train_rows": 12345,
            "test_rows": 6789,
            "n_features": 20,
            "treated_share_train": 0.3,
            "outcome_rate_train": 0.4,
            "classifier_losses": {"small": 0.61, "medium": 0.6},
            "classifier_chosen": "medium",
            "learners": learners,
            "reference": {},
            "curves": _curves([row["learner"] for row in learners if row["status"] == "ok"]),
            "load_average_before": [1.0, 1.0, 1.0],
            "load_average_after": [2.0, 1.0, 1.0],
        }

    return {
        "benchmark": "peers",
        "settings": {"bootstrap": 200, "classifier_grid": {"medium": {"n_estimators": 150}}},
        "libraries": {
            "visitrisk": {
                "version": "0.1.0",
                "available": True,
                "error": None,
                "import_seconds": 1.23,
                "import_peak_mb": 150.2,
            },
            "causalml": {"version": None, "available": False, "error": "causalml is not installed"},
        },
        "stack": {"numpy": "2.4.6"},
        "datasets": {
            "simulator": dataset(simulator, "a simulated book"),
            "synthetic": dataset(synthetic, "a randomised experiment"),
        },
        "total_seconds": 321.0,
        "machine": {"date": "2026-11-29T00:00:00+00:00", "cpu_count": 2, "python": "3.11.7"},
    }


def test_render_writes_markdown_and_figure(bench_modules, results, tmp_path):
    report, _ = bench_modules
    source = tmp_path / "peers.json"
    source.write_text(json.dumps(results), encoding="utf-8")

    markdown, figure = report.render(source, tmp_path / "docs")

    text = markdown.read_text(encoding="utf-8")
    assert "make bench-peers" in text
    assert "| causalml | – | no | – | – | causalml is not installed |" in text
    assert "| visitrisk | 0.1.0 | yes | 1.2 | 150 |  |" in text
    assert "unavailable: causalml is not installed" in text
    # Learner rows: fit time with CPU time, Qini with its interval, value captured.
    assert (
        "| **visitrisk DRLearner** | DR | 9.5 (8.6) | 0.05 (0.04) | 12 | 0.071 [0.05, 0.09] |"
        in text
    )
    assert "0.080 | 0.41 | 0.520 [0.50, 0.54] | 0.63 | 0.30 |" in text
    # Paired differences: the verdict reads the decision metric of each dataset.
    assert (
        "| econml DRLearner | visitrisk DRLearner | +0.052 [+0.010, +0.090] "
        "| +0.000 [-0.020, +0.020] | no clear difference | 0.50× |"
    ) in text
    assert (
        "| sklift TwoModels | visitrisk TLearner | +0.010 [+0.002, +0.020] "
        "| **visitrisk behind** | 0.80× |"
    ) in text
    assert "Qini 0.0e+00, uplift AUC 0.0e+00" in text
    # Findings are read off the numbers.
    assert "Peers ahead of visitrisk: none. Peers behind visitrisk: none." in text
    assert "significantly ahead of visitrisk's counterpart: sklift TwoModels." in text
    assert "![Qini curves of every learner on both datasets](figures/peers_qini.png)" in text
    assert figure == tmp_path / "docs" / report.FIGURE_NAME
    assert figure.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_render_markdown_without_a_dataset_that_was_skipped(bench_modules, results):
    report, _ = bench_modules
    results["datasets"]["synthetic"] = {"skipped": "causalml unavailable"}

    text = report.render_markdown(results, figure=None)

    assert "causalml make_uplift_classification" not in text
    assert "Simulated loan book" in text
    assert "## Qini curves" not in text


def test_bench_peers_skips_cleanly_without_peers(bench_modules, monkeypatch, capsys):
    _, runner = bench_modules

    peer_status = importlib.import_module("bench._peers_learners").PeerStatus

    def missing(library):
        return peer_status(library, None, False, f"{library} is not installed")

    monkeypatch.setattr(runner, "library_status", missing)
    written = []
    monkeypatch.setattr(runner, "write_result", lambda *args: written.append(args))

    assert runner.main([]) == 0
    out = capsys.readouterr().out
    assert "peers not installed; run make bench-peers" in out
    assert "econml: econml is not installed" in out
    assert written == []
