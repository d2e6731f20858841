"""Render ``bench/results/peers.json`` as ``docs/benchmarks.md`` and its Qini-curve figure.

Needs only the standard library and matplotlib, so it runs (and is tested) in the main venv,
without the peer libraries:

    python -m bench._peers_report [bench/results/peers.json]
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import Any

__all__ = ["FIGURE_NAME", "render", "render_markdown"]

FIGURE_NAME = "figures/peers_qini.png"
_REPO = Path(__file__).resolve().parent.parent
_LIBRARY_COLOURS = {
    "visitrisk": "#c0392b",
    "causalml": "#2471a3",
    "scikit-uplift": "#229954",
    "econml": "#7d3c98",
}
_FAMILY_STYLES = {
    "T": "-",
    "S": "--",
    "X": "-.",
    "DR": ":",
    "class transformation": (0, (5, 1, 1, 1, 1, 1)),
    "uplift forest": (0, (1, 3)),
}
_DATASET_TITLES = {
    "simulator": "Simulated loan book (time split, confounded visits)",
    "synthetic": "causalml make_uplift_classification (randomised)",
}


def _number(value: Any, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{value:.{digits}f}"


def _gap(value: float | None) -> str:
    return "–" if value is None else f"{value:.1e}"


def _loads(values: Any) -> str:
    if not values:
        return "?"
    return ", ".join(f"{value:.1f}" for value in values)


def _spread(row: dict[str, Any]) -> str:
    if row.get("uplift_std") is None:
        return "–"
    return f"{_number(row.get('uplift_mean'))} ({_number(row['uplift_std'])})"


def _interval(row: dict[str, Any], key: str) -> str:
    if row.get(key) is None:
        return "–"
    low, high = row.get(f"{key}_ci", (None, None))
    return f"{_number(row.get(key))} [{_number(low, 2)}, {_number(high, 2)}]"


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return lines + ["| " + " | ".join(row) + " |" for row in rows]


def _learner_table(dataset: dict[str, Any], truth: bool) -> list[str]:
    header = [
        "learner",
        "family",
        "fit s (CPU s)",
        "predict s (CPU s)",
        "fit peak +MB",
        "Qini AUC [95 % CI]",
        "uplift AUC [95 % CI]",
        "predicted uplift mean (sd)",
    ]
    if truth:
        header += [
            "IPW Qini",
            "true value @10 %",
            "@20 % [95 % CI]",
            "@30 %",
            "corr. with truth",
        ]
    rows = []
    for row in dataset["learners"]:
        if row.get("status") != "ok":
            cells = [f"**{row['learner']}**", row["family"], f"{row['status']}: {row['error']}"]
            rows.append(cells + [""] * (len(header) - len(cells)))
            continue
        name = f"**{row['learner']}**" if row["library"] == "visitrisk" else row["learner"]
        cells = [
            name,
            row["family"],
            f"{_number(row['fit_seconds'], 1)} ({_number(row['fit_cpu_seconds'], 1)})",
            f"{_number(row['predict_seconds'], 2)} ({_number(row.get('predict_cpu_seconds'), 2)})",
            _number(row["fit_peak_added_mb"], 0),
            _interval(row, "qini_auc"),
            _interval(row, "uplift_auc"),
            _spread(row),
        ]
        if truth:
            cells += [
                _number(row.get("qini_auc_ipw")),
                _number(row.get("true_value_share_top_10pct"), 2),
                _interval(row, "true_value_share_top_20pct"),
                _number(row.get("true_value_share_top_30pct"), 2),
                _number(row.get("true_uplift_corr"), 2),
            ]
        rows.append(cells)
    for name, row in dataset.get("reference", {}).items():
        cells = [
            f"*{name}*",
            "reference",
            "",
            "",
            "",
            _interval(row, "qini_auc"),
            _interval(row, "uplift_auc"),
            _spread(row),
        ]
        if truth:
            cells += [
                _number(row.get("qini_auc_ipw")),
                *(_number(row.get(f"true_value_share_top_{k}pct"), 2) for k in (10, 20, 30)),
                _number(row.get("true_uplift_corr"), 2),
            ]
        rows.append(cells)
    return _table(header, rows)


def _check_table(dataset: dict[str, Any]) -> list[str]:
    header = [
        "learner",
        "Qini: visitrisk",
        "sklift",
        "causalml raw",
        "causalml rescaled",
        "uplift AUC: visitrisk",
        "sklift",
        "causalml raw",
        "causalml rescaled",
    ]
    rows = []
    for row in dataset["learners"]:
        check = row.get("metric_check")
        if not check:
            continue
        rows.append(
            [
                row["learner"],
                _number(check.get("visitrisk_qini_auc"), 4),
                _number(check.get("sklift_qini_auc"), 4),
                _number(check.get("causalml_qini_score"), 4),
                _number(check.get("causalml_qini_rescaled"), 4),
                _number(check.get("visitrisk_uplift_auc"), 4),
                _number(check.get("sklift_uplift_auc"), 4),
                _number(check.get("causalml_auuc_score"), 4),
                _number(check.get("causalml_auuc_rescaled"), 4),
            ]
        )
    return _table(header, rows)


def _largest_gap(datasets: dict[str, Any], ours: str, theirs: str) -> float | None:
    gaps = [
        abs(row["metric_check"][ours] - row["metric_check"][theirs])
        for dataset in datasets.values()
        for row in dataset.get("learners", [])
        if row.get("metric_check", {}).get(theirs) is not None
    ]
    return max(gaps) if gaps else None


def _signed(value: Any, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{value:+.{digits}f}"


def _difference(comparison: dict[str, Any], metric: str) -> str:
    if f"{metric}_diff" not in comparison:
        return "–"
    low, high = comparison[f"{metric}_diff_ci"]
    return f"{_signed(comparison[f'{metric}_diff'])} [{_signed(low)}, {_signed(high)}]"


def _verdict(comparison: dict[str, Any], metric: str) -> str:
    low, high = comparison.get(f"{metric}_diff_ci", (None, None))
    if low is None:
        return "–"
    if low == high == comparison.get(f"{metric}_diff") == 0:
        return "identical"
    if low > 0:
        return "**visitrisk behind**"
    if high < 0:
        return "visitrisk ahead"
    return "no clear difference"


def _paired_table(dataset: dict[str, Any], truth: bool) -> list[str]:
    """Each peer minus visitrisk's counterpart, with paired bootstrap intervals."""
    key = "true_value_share_top_20pct" if truth else "qini_auc"
    by_name = {row["learner"]: row for row in dataset["learners"]}
    header = ["peer", "compared with", "Δ Qini AUC [95 % CI]"]
    if truth:
        header += ["Δ true value @20 % [95 % CI]"]
    header += ["verdict", "fit CPU time, peer / visitrisk"]
    rows = []
    for row in dataset["learners"]:
        comparison = row.get("versus_visitrisk")
        if not comparison:
            continue
        ours = by_name[comparison["against"]]
        cells = [row["learner"], comparison["against"], _difference(comparison, "qini_auc")]
        if truth:
            cells.append(_difference(comparison, key))
        ratio = (
            row["fit_cpu_seconds"] / ours["fit_cpu_seconds"] if ours["fit_cpu_seconds"] else None
        )
        cells += [_verdict(comparison, key), f"{_number(ratio, 2)}×"]
        rows.append(cells)
    return _table(header, rows) if rows else []


def _findings(datasets: dict[str, Any]) -> list[str]:
    """Statements read off the numbers: who beats whom, and by how much."""
    lines = []
    simulator = datasets.get("simulator")
    if simulator:
        ok = [row for row in simulator["learners"] if row.get("status") == "ok"]
        reference = simulator.get("reference", {})
        key = "true_value_share_top_20pct"
        value_only = reference.get("value at stake alone", {}).get(key)
        random_share = reference.get("random ranking (expected)", {}).get(key)
        truth_sd = reference.get("oracle (true uplift)", {}).get("uplift_std")
        ranked = sorted(ok, key=lambda row: -row.get(key, float("-inf")))
        if ranked:
            best = ranked[0]
            ours = [row for row in ranked if row["library"] == "visitrisk"]
            lines.append(
                f"- **Simulator, decision quality.** Best true value captured at 20 %: "
                f"{best['learner']} ({_number(best[key], 2)} of the oracle's). visitrisk: "
                + ", ".join(f"{row['learner']} {_number(row[key], 2)}" for row in ours)
                + f". Ranking by value at stake alone (one uplift for all) gets "
                f"{_number(value_only, 2)}; a random ranking {_number(random_share, 2)}."
            )
            below = [row["learner"] for row in ranked if value_only and row[key] < value_only]
            if below:
                lines.append(
                    "- Below the value-at-stake ranking at 20 %: " + ", ".join(below) + ". Their "
                    "uplift estimates add more noise than signal to the ranking at this data size."
                )
            truth_mean = reference.get("oracle (true uplift)", {}).get("uplift_mean")
            spread = ", ".join(
                f"{row['learner']} {_spread(row)}"
                for row in sorted(ok, key=lambda row: -row["uplift_std"])[:4]
            )
            lines.append(
                f"- **Weak signal, wide spread.** The true uplift has mean (sd) "
                f"{_number(truth_mean)} ({_number(truth_sd)}) over the test rows; the widest "
                f"predictions: {spread}. Correlation with the true uplift is at most "
                f"{_number(max(row['true_uplift_corr'] for row in ok), 2)} for any learner: "
                "ranking by uplift × value, a learner whose estimates spread widely around "
                "their mean reorders the rows more by noise than the value at stake does."
            )
        behind = [
            f"{row['learner']} (vs {row['versus_visitrisk']['against']}: "
            f"{_difference(row['versus_visitrisk'], key)})"
            for row in ok
            if _verdict(row.get("versus_visitrisk", {}), key) == "**visitrisk behind**"
        ]
        ahead = [
            f"{row['learner']} (vs {row['versus_visitrisk']['against']})"
            for row in ok
            if _verdict(row.get("versus_visitrisk", {}), key) == "visitrisk ahead"
        ]
        lines.append(
            "- **Simulator, paired differences at 20 %.** Peers ahead of visitrisk: "
            + (", ".join(behind) if behind else "none")
            + ". Peers behind visitrisk: "
            + (", ".join(ahead) if ahead else "none")
            + "."
        )
    synthetic = datasets.get("synthetic")
    if synthetic:
        ok = [row for row in synthetic["learners"] if row.get("status") == "ok"]
        if ok:
            low = min(row["qini_auc"] for row in ok)
            high = max(row["qini_auc"] for row in ok)
            behind = [
                row["learner"]
                for row in ok
                if _verdict(row.get("versus_visitrisk", {}), "qini_auc") == "**visitrisk behind**"
            ]
            lines.append(
                f"- **Randomised synthetic data.** Qini AUC from {_number(low)} to "
                f"{_number(high)} across all learners. Peers significantly ahead of "
                "visitrisk's counterpart: " + (", ".join(behind) if behind else "none") + "."
            )
    for dataset_name, dataset in datasets.items():
        ok = [row for row in dataset["learners"] if row.get("status") == "ok"]
        for family in ("X", "DR"):
            ours = [r for r in ok if r["family"] == family and r["library"] == "visitrisk"]
            peers = [r for r in ok if r["family"] == family and r["library"] != "visitrisk"]
            if ours and peers:
                lines.append(
                    f"- **{family} cost, {dataset_name}.** visitrisk fit "
                    f"{_number(ours[0]['fit_cpu_seconds'], 1)} CPU s, predict "
                    f"{_number(ours[0]['predict_cpu_seconds'], 2)} CPU s; "
                    + ", ".join(
                        f"{r['learner']} {_number(r['fit_cpu_seconds'], 1)} / "
                        f"{_number(r['predict_cpu_seconds'], 2)}"
                        for r in peers
                    )
                    + "."
                )
    return lines


def render_markdown(results: dict[str, Any], figure: str | None = FIGURE_NAME) -> str:
    """Return the text of ``docs/benchmarks.md`` for a ``peers.json`` result."""
    machine = results.get("machine", {})
    settings = results.get("settings", {})
    datasets = {
        name: dataset
        for name, dataset in results.get("datasets", {}).items()
        if "learners" in dataset
    }
    lines = [
        "# Benchmarks: visitrisk against causalml, scikit-uplift and EconML",
        "",
        "<!-- Generated by `make bench-peers` (bench/bench_peers.py, bench/_peers_report.py) "
        "from bench/results/peers.json: edit those, not this file. -->",
        "",
        "visitrisk's uplift learners and the closest learners of the three peer libraries, "
        "fitted on the same data, with the same LightGBM base models and the same "
        "hyper-parameter budget, in one run on one machine. Higher Qini and uplift AUC are "
        "better (1 = ideal ranking, 0 = random; scikit-uplift's definitions). On the "
        "simulator the true uplift of every test row is known, so the *true value "
        "captured* (incremental cures × value at stake of the top 10/20/30 % of rows "
        "ranked by predicted uplift × value, as a share of what the oracle ranking gets) is "
        "the decision-quality measure that counts.",
        "",
        "Reproduce (creates `.venv-peers`, never touches the project's `.venv`):",
        "",
        "```",
        "make bench-peers",
        "```",
        "",
        f"Run: {machine.get('date', '?')}, {_number(results.get('total_seconds'), 0)} s in "
        f"total. Machine: {machine.get('cpu_count', '?')} cores, {machine.get('platform', '?')}, "
        f"Python {machine.get('python', '?')}; load average (1, 5, 15 min) at the end "
        f"{_loads(machine.get('load_average_1_5_15'))}. The machine is shared: wall times are "
        "indicative, CPU seconds are steadier. Every model runs single-threaded "
        "(`n_jobs=1`).",
        "",
        "## Libraries",
        "",
    ]
    stack = results.get("stack", {})
    lines += [
        "Stack: " + ", ".join(f"{name} {ver}" for name, ver in stack.items() if ver) + ".",
        "",
    ]
    library_rows = [
        [
            name,
            info.get("version") or "–",
            "yes" if info.get("available") else "no",
            _number(info.get("import_seconds"), 1),
            _number(info.get("import_peak_mb"), 0),
            info.get("error") or "",
        ]
        for name, info in results.get("libraries", {}).items()
    ]
    lines += _table(
        ["library", "version", "imports", "import s", "import peak MB", "problem"], library_rows
    )
    lines += [
        "",
        "The peers come from PyPI through the optional extra `bench` "
        "(`pip install -e .[bench]`) and are never runtime dependencies. scikit-uplift "
        "0.5.1 calls a scikit-learn helper deprecated in 1.8 and removed in 1.10, so this "
        "comparison needs scikit-learn < 1.10.",
        "",
        "## The budget",
        "",
        "- **Same features** for everyone: numeric, categories as integer codes (causalml "
        "and EconML take NumPy arrays, which carry no pandas categories), NaN left to "
        "LightGBM.",
        "- **Same classifiers**: every outcome and propensity model of every library is a "
        "LightGBM classifier with one configuration, picked per dataset from three "
        "candidates by 3-fold cross-validated log-loss of an outcome model (features plus "
        "the treatment) on the training split only (grouped by customer on the "
        "simulator). The test rows play no part in any choice.",
        "- **Same effect regressors**: the X learners' second stage and the DR learners' "
        "final models are one LightGBM regressor configuration (visitrisk's defaults for "
        "effect models, fixed before this benchmark).",
        "- **Same propensity clip** [0.01, 0.99]. causalml's meta-learners get an "
        "out-of-fold LightGBM propensity (`p=`) instead of their default elastic-net "
        "logistic regression, and its time counts in their fit.",
        "- causalml's `UpliftRandomForestClassifier` has its own trees: "
        f"{settings.get('forest', {})}, otherwise its defaults.",
        "",
        "Candidates: "
        + "; ".join(
            f"`{name}` {params}" for name, params in settings.get("classifier_grid", {}).items()
        )
        + f". Shared LightGBM settings: {settings.get('lightgbm_common', {})}. Effect "
        f"regressor: {settings.get('regressor', {})}.",
        "",
    ]
    for name, dataset in datasets.items():
        truth = name == "simulator"
        lines += [f"## {_DATASET_TITLES.get(name, name)}", "", dataset["description"], ""]
        losses = ", ".join(
            f"{key} {_number(value, 4)}" for key, value in dataset["classifier_losses"].items()
        )
        lines += [
            f"{dataset['train_rows']:,} training rows, {dataset['test_rows']:,} test rows, "
            f"{dataset['n_features']} features; treated share (train) "
            f"{_number(dataset['treated_share_train'], 2)}, outcome rate "
            f"{_number(dataset['outcome_rate_train'], 2)}. Classifier chosen: "
            f"**{dataset['classifier_chosen']}** (log-loss {losses}). Load average before / "
            f"after: {_loads(dataset.get('load_average_before'))} / "
            f"{_loads(dataset.get('load_average_after'))}.",
            "",
        ]
        overlap = dataset.get("test_propensity_overlap") or {}
        if overlap:
            low, middle, high = overlap["propensity_quantiles_1_50_99"]
            lines += [
                f"Test-set propensity (cross-fitted): 1 / 50 / 99 % quantiles "
                f"{_number(low, 2)} / {_number(middle, 2)} / {_number(high, 2)}; share outside "
                f"[0.05, 0.95]: {_number(overlap['share_outside_0.05_0.95'], 3)}.",
                "",
            ]
        lines += _learner_table(dataset, truth)
        lines += [""]
        if truth:
            lines += [
                "Qini and uplift AUC here are the naive (scikit-uplift) ones: they treat "
                "visits as randomised, which they are not on this book, so they rank "
                "learners only roughly. *IPW Qini* reweights rows by a cross-fitted "
                "propensity (`visitrisk.metrics.qini_auc_score_ipw`); the true value "
                "captured needs no estimate at all. 95 % intervals: bootstrap over test "
                f"customers ({settings.get('bootstrap', '?')} replicates); they cover the "
                "sampling of test rows, not refitting the learners on other training data "
                "or another simulated world (one seed).",
                "",
            ]
        paired = _paired_table(dataset, truth)
        if paired:
            measure = "the true value captured at 20 %" if truth else "the Qini AUC"
            lines += [
                "Each peer minus visitrisk's learner of the same family (visitrisk's DR "
                "learner for the uplift forest and the class transformation), on the same "
                "bootstrap replicates; the verdict reads the interval of the difference in "
                f"{measure}:",
                "",
                *paired,
                "",
            ]
    if figure is not None:
        lines += [
            "## Qini curves",
            "",
            f"![Qini curves of every learner on both datasets]({figure})",
            "",
        ]
    lines += [
        "## Do our metrics agree with the peers'?",
        "",
        "The same test predictions scored by `visitrisk.metrics`, by `sklift.metrics` and "
        "by `causalml.metrics` (simulator):",
        "",
    ]
    if "simulator" in datasets:
        lines += _check_table(datasets["simulator"])
        lines += [""]
    sklift_gap = _largest_gap(datasets, "visitrisk_qini_auc", "sklift_qini_auc")
    sklift_auuc_gap = _largest_gap(datasets, "visitrisk_uplift_auc", "sklift_uplift_auc")
    qini_gap = _largest_gap(datasets, "visitrisk_qini_auc", "causalml_qini_rescaled")
    auuc_gap = _largest_gap(datasets, "visitrisk_uplift_auc", "causalml_auuc_rescaled")
    lines += [
        "- **scikit-uplift**: the same definitions; largest difference over every learner "
        f"of both datasets: Qini {_gap(sklift_gap)}, uplift AUC {_gap(sklift_auuc_gap)}.",
        "- **causalml** reports other quantities. `qini_score` divides the Qini curve by "
        "its final value |Q(N)|, subtracts the random line and averages over the N + 1 "
        "points, i.e. (A(Q) − A₀) / ((N + 1)·|Q(N)|); scikit-uplift divides A(Q) − A₀ by "
        "the same area of the *perfect* curve. `auuc_score` is the mean of the "
        "normalised gain curve, A(U) / ((N + 1)·|U(N)|), with no random line "
        "subtracted: a random ranking scores about 0.5 rather than 0, and a model whose "
        "final uplift is negative has its curve flipped (on the simulator the naive "
        "visited-minus-unvisited cure rate is negative, so every causalml AUUC there is "
        "below 0). *causalml rescaled* converts "
        "causalml's figure to scikit-uplift's scale with our curve's end point and "
        "perfect area; what remains (largest gap: Qini "
        f"{_gap(qini_gap)}, uplift AUC {_gap(auuc_gap)}) comes from "
        "causalml summing points instead of the trapezoid rule, breaking ties by sort "
        "order where we read curves only at the end of a tie group, and interpolating "
        "the head of the curve while one arm is still empty (scikit-uplift counts 0).",
        "",
        "## Where visitrisk stands, and why",
        "",
        *_findings(datasets),
        "",
        "Design differences behind the numbers:",
        "",
        "- **T and S learners** are the same algorithm in every library. With the same "
        "LightGBM models and seeds, visitrisk's TLearner and causalml's BaseTClassifier "
        "give identical predictions (scikit-uplift's TwoModels differs only by the seed "
        "of one model), and visitrisk's SLearner and scikit-uplift's SoloModel are "
        "identical; causalml's BaseSClassifier puts the treatment column first, so "
        "LightGBM's column subsampling draws other columns. Differences between them "
        "are sampling noise and show what the interval widths mean.",
        "- **X learners**: visitrisk's and causalml's are the same algorithm; visitrisk "
        "mixes the two effect models with a calibrated propensity (isotonic on "
        "customer-grouped out-of-fold scores, averaged over the fold models), causalml "
        "with the propensity it is given. visitrisk's predict is slower because it "
        "scores the fold propensity models and the calibration.",
        "- **DR learners**: visitrisk and EconML cross-fit the nuisances (visitrisk in "
        "customer-grouped folds, EconML in the groups it is given) and fit *one* final "
        "regressor on every row's pseudo-outcome; EconML's outcome model is a single "
        "model with the treatment as a feature. causalml rotates three row splits "
        "(propensity / outcome / effect) and *averages three* effect models, each fitted "
        "on a third of the rows. The AIPW pseudo-outcome divides residuals by "
        "propensities down to 0.01, so on a confounded book it is very noisy. This "
        "benchmark does not establish which difference (regression outcome models, a "
        "third of the rows per model, three averaged effect models, row rather than "
        "customer folds) accounts for a gap between them on the simulator.",
        "- **Uplift forest** (causalml): its own KL-divergence trees, pure uplift splits, no "
        "LightGBM; slowest to fit by far here.",
        "- **Class transformation** (scikit-uplift) assumes a randomised 50/50 treatment; on "
        "the confounded, unbalanced simulator its score is not an uplift estimate, as its "
        "documentation warns.",
        "- **S learners** shrink the uplift towards one common value (regularised trees "
        "split rarely on the visit column), so their ranking by uplift × value is mostly "
        "value at stake, nudged by the uplift signal. When the other learners' estimates "
        "are noisier than the heterogeneity they try to find, that shrinkage wins.",
        "",
    ]
    return "\n".join(lines)


_PANELS = {
    "qini": ("Qini curve", "Qini: incremental outcomes (rows)"),
    "qini_ipw": ("IPW Qini curve", "IPW Qini: incremental cures (rows)"),
    "true_value_share": (
        "true value captured / oracle's",
        "true value of the top share / oracle's",
    ),
}


def _panels(results: dict[str, Any]) -> list[tuple[str, dict[str, Any], str]]:
    """(dataset name, dataset, curve key): the IPW Qini where visits were confounded."""
    panels = []
    for name, dataset in results.get("datasets", {}).items():
        curves = dataset.get("curves")
        if not curves:
            continue
        sample = next(iter(curves.values()))
        panels.append((name, dataset, "qini_ipw" if "qini_ipw" in sample else "qini"))
        if "true_value_share" in sample:
            panels.append((name, dataset, "true_value_share"))
    return panels


def _figure(results: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    # causalml sets a global matplotlib style on import; the figure should not depend on it.
    with plt.style.context("default"):
        _draw(plt, _panels(results), path)


def _draw(plt: Any, panels: list[tuple[str, dict[str, Any], str]], path: Path) -> None:
    figure, axes = plt.subplots(
        1, max(len(panels), 1), figsize=(6 * max(len(panels), 1), 6.2), squeeze=False
    )
    handles: dict[str, Any] = {}
    for axis, (name, dataset, key) in zip(axes[0], panels, strict=False):
        learners = {row["learner"]: row for row in dataset["learners"]}
        for learner, curve in dataset["curves"].items():
            row = learners.get(learner)
            reference = {"color": "black", "lw": 1.2}
            if learner == "value at stake alone":
                reference |= {"color": "dimgrey", "linestyle": "--"}
            style = (
                reference
                if row is None
                else {
                    "color": _LIBRARY_COLOURS.get(row["library"], "grey"),
                    "linestyle": _FAMILY_STYLES.get(row["family"], "-"),
                    "lw": 2.0 if row["library"] == "visitrisk" else 1.2,
                    # Drawn on top: a peer with identical predictions would hide them.
                    "zorder": 3 if row["library"] == "visitrisk" else 2,
                }
            )
            (line,) = axis.plot(curve["share"], curve[key], label=learner, **style)
            handles.setdefault(learner, line)
        if key != "true_value_share":
            end = next(iter(dataset["curves"].values()))[key][-1]
            (line,) = axis.plot([0, 1], [0, end], color="grey", lw=0.8, label="random")
            handles.setdefault("random", line)
        title, label = _PANELS[key]
        axis.set_title(f"{_DATASET_TITLES.get(name, name)}\n{title}", fontsize=10)
        ranking = "predicted uplift × value" if key == "true_value_share" else "predicted uplift"
        axis.set_xlabel(f"share of test rows targeted, by {ranking}")
        axis.set_ylabel(label)
        axis.grid(alpha=0.3)
    figure.legend(
        list(handles.values()),
        list(handles),
        loc="lower center",
        ncol=5,
        fontsize=8,
        frameon=False,
    )
    figure.tight_layout(rect=(0, 0.14, 1, 1))
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=100)
    plt.close(figure)


def render(results_path: str | Path, docs_dir: str | Path) -> list[Path]:
    """Write ``benchmarks.md`` and its figure under ``docs_dir``; return the paths written.

    Parameters
    ----------
    results_path : str or path-like
        A ``peers.json`` written by ``bench/bench_peers.py``.
    docs_dir : str or path-like
        Folder of ``benchmarks.md``; the figure goes to ``<docs_dir>/figures/``.

    Returns
    -------
    list of pathlib.Path
        The markdown file and the figure.
    """
    results = json.loads(Path(results_path).read_text(encoding="utf-8"))
    docs = Path(docs_dir)
    figure = docs / FIGURE_NAME
    _figure(results, figure)
    markdown = docs / "benchmarks.md"
    markdown.write_text(render_markdown(results, FIGURE_NAME), encoding="utf-8")
    return [markdown, figure]


if __name__ == "__main__":
    source = Path(sys.argv[1]) if len(sys.argv) > 1 else _REPO / "bench/results/peers.json"
    for written in render(source, _REPO / "docs"):
        print(f"wrote {written}")
