"""visitrisk's uplift learners side by side with causalml, scikit-uplift and EconML.

Two datasets, one process, one machine:

1. the simulator's portfolio, trained on earlier month-end snapshots and tested on the
   latest ones, where the true uplift of every test row is known;
2. causalml's ``make_uplift_classification`` (a randomised 50/50 experiment), split at
   random into halves.

Every learner gets the same numeric features and the same LightGBM settings, chosen on the
training split only (see ``_select_classifier``). Recorded per learner: fit and predict
wall time, CPU time, peak memory added by the fit, Qini and uplift AUC (scikit-uplift's
definitions, computed by ``visitrisk.metrics``) with grouped bootstrap intervals, and, on
the simulator, the IPW Qini and the true value captured at 10/20/30 % against the oracle.
Our metrics are checked against scikit-uplift's and causalml's on the same predictions.

The peers are an optional extra and never a runtime dependency: ``make bench-peers``
installs them in a separate venv (``.venv-peers``) and runs this file there. In a venv
without them (``make bench``) it prints how to run it and exits 0.

    make bench-peers                                     # ~15 min on 2 shared cores
    .venv-peers/bin/python -m bench.bench_peers --quick  # small sizes, a smoke run
"""

# scikit-learn's convention: the feature matrix is `X` (upper case).
# ruff: noqa: N806

from __future__ import annotations

import argparse
import gc
import os
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bench._measure import write_result
from bench._peers_learners import PEER_PACKAGES, Settings, adapters, library_status
from visitrisk._learner_input import LGBM_CLASSIFIER_DEFAULTS

REPO = Path(__file__).resolve().parent.parent
DOCS_DIR = REPO / "docs"
PEERS = ("causalml", "scikit-uplift", "econml")
NOT_INSTALLED = "peers not installed; run make bench-peers"

#: Candidate LightGBM classifiers (outcome and propensity models of every library). One is
#: picked per dataset by cross-validated log-loss on the training split.
CLASSIFIER_GRID: dict[str, dict[str, Any]] = {
    "small": {
        "n_estimators": 100,
        "learning_rate": 0.1,
        "num_leaves": 15,
        "min_child_samples": 100,
    },
    "medium": {
        "n_estimators": 150,
        "learning_rate": 0.1,
        "num_leaves": 31,
        "min_child_samples": 50,
    },
    "large": {
        "n_estimators": 300,
        "learning_rate": 0.05,
        "num_leaves": 63,
        "min_child_samples": 20,
    },
}
#: Shared by every candidate: row and column subsampling, single-threaded, deterministic.
#: They are visitrisk's own defaults (``visitrisk._learner_input``) without the size knobs.
LIGHTGBM_COMMON: dict[str, Any] = {
    key: value
    for key, value in LGBM_CLASSIFIER_DEFAULTS.items()
    if key not in ("n_estimators", "learning_rate", "num_leaves", "min_child_samples")
}
#: The effect regressors (X learners' second stage, DR learners' final model) of every
#: library: noisy targets, so shallow trees, large leaves and a strong L2 penalty.
REGRESSOR: dict[str, Any] = {
    "n_estimators": 200,
    "learning_rate": 0.05,
    "num_leaves": 15,
    "min_child_samples": 200,
    "reg_lambda": 5.0,
    **{key: value for key, value in LIGHTGBM_COMMON.items() if key != "reg_lambda"},
}
#: causalml's uplift random forest is not LightGBM-based: its defaults, 100 trees.
FOREST: dict[str, Any] = {"n_estimators": 100, "max_depth": 6, "min_samples_leaf": 100}
CAPACITIES = (0.1, 0.2, 0.3)
BOOTSTRAP = 200


# --------------------------------------------------------------------------- measuring


def _proc_status_kb(key: str) -> int | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(f"{key}:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def _reset_peak() -> bool:
    # Writing 5 to clear_refs resets the kernel's peak-RSS mark (VmHWM) to the current RSS
    # (Linux >= 4.0), so each fit's peak is its own even in one long-lived process.
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def _release_free_memory() -> None:
    # glibc keeps freed heap pages resident; handing them back first makes the next peak
    # measure what the fit allocates rather than what earlier steps left behind.
    gc.collect()
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def _measured(call: Any) -> tuple[Any, dict[str, float | None]]:
    """Run ``call()``; return its result, wall and CPU seconds and the peak memory it added."""
    _release_free_memory()
    before_kb = _proc_status_kb("VmRSS")
    can_reset = _reset_peak()
    wall, cpu = time.perf_counter(), time.process_time()
    result = call()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    peak_kb = _proc_status_kb("VmHWM") if can_reset else None
    added = None if peak_kb is None or before_kb is None else (peak_kb - before_kb) / 1024
    return result, {"seconds": wall, "cpu_seconds": cpu, "peak_added_mb": added}


def _import_cost(module: str) -> dict[str, float] | None:
    """Seconds and peak memory (MB) of importing ``module`` in a fresh interpreter."""
    import json
    import subprocess

    # VmHWM, not ru_maxrss: Linux carries the parent's ru_maxrss across fork and exec.
    probe = (
        "import json, pathlib, time; start = time.perf_counter(); "
        f"import {module}; seconds = time.perf_counter() - start; "
        "status = pathlib.Path('/proc/self/status').read_text().split(chr(10)); "
        "peak = [line.split()[1] for line in status if line.startswith('VmHWM:')]; "
        "print(json.dumps([seconds, int(peak[0]) if peak else None]))"
    )
    done = subprocess.run(
        [sys.executable, "-W", "ignore", "-c", probe],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode:
        return None
    seconds, peak_kb = json.loads(done.stdout.strip().splitlines()[-1])
    return {
        "import_seconds": seconds,
        "import_peak_mb": None if peak_kb is None else peak_kb / 1024,
    }


def _load() -> list[float] | None:
    try:
        return [round(value, 2) for value in os.getloadavg()]
    except OSError:
        return None


# --------------------------------------------------------------------------- data


def _numeric(features: pd.DataFrame) -> pd.DataFrame:
    """All columns as float64; categories as their codes (NaN when missing).

    causalml and EconML turn features into NumPy arrays, which cannot carry pandas
    categories, so every learner gets the same coded matrix.
    """
    columns = {}
    for name, column in features.items():
        if isinstance(column.dtype, pd.CategoricalDtype):
            codes = column.cat.codes.to_numpy().astype(float)
            codes[codes < 0] = np.nan
            columns[name] = codes
        else:
            columns[name] = pd.to_numeric(column).to_numpy(dtype=float, na_value=np.nan)
    return pd.DataFrame(columns, index=features.index)


def simulator_data(customers: int, seed: int) -> dict[str, Any]:
    """Simulate a portfolio and split it in time: earlier snapshots train, the latest 3 test."""
    from visitrisk.experiment import split_by_time
    from visitrisk.labels import build_training_set, monthly_snapshots
    from visitrisk.simulate import simulate_portfolio

    as_of, window, horizon, test_count = pd.Timestamp("2026-11-30"), 14, 60, 3
    # The test snapshots are the latest labelled month-ends: the truth is computed there.
    truth_dates = list(
        pd.date_range(end=as_of - pd.Timedelta(days=horizon), periods=test_count + 2, freq="ME")
    )
    simulated = simulate_portfolio(
        customers,
        seed=seed,
        as_of=as_of,
        history_months=24,
        treatment_window=window,
        horizon=horizon,
        truth_dates=truth_dates,
    )
    portfolio = simulated.portfolio
    labelled = monthly_snapshots(portfolio, window, horizon)
    test_dates = labelled[-test_count:]
    train_dates = monthly_snapshots(portfolio, window, horizon, before=test_dates[0])
    full = build_training_set(portfolio, train_dates + test_dates, window, horizon, 1)
    train, test = split_by_time(full, test_count)
    keys = pd.DataFrame(
        {
            "as_of": test.snapshot.astype("datetime64[ns]"),
            "customer_id": test.customer_id.astype(str),
        }
    )
    known = simulated.truth[["as_of", "customer_id", "uplift"]].astype(
        {"as_of": "datetime64[ns]", "customer_id": str}
    )
    true_uplift = keys.merge(known, how="left", on=["as_of", "customer_id"])["uplift"]
    if true_uplift.isna().any():
        raise RuntimeError(
            f"bench_peers: {int(true_uplift.isna().sum())} test rows have no true uplift; "
            "the truth dates and test snapshots disagree."
        )
    return {
        "name": "simulator",
        "description": (
            f"visitrisk.simulate_portfolio({customers:,} customers, seed={seed}, "
            "effect='heterogeneous', 24 months): training rows on "
            f"{len(train.metadata['snapshots'])} month-end snapshots "
            f"({_dates(train.metadata['snapshots'])}), test rows on the latest "
            f"{test_count} ({_dates(test.metadata['snapshots'])}); visits confounded "
            "(officers chose whom to visit), true uplift known for every test row."
        ),
        "X_train": _numeric(train.X),
        "y_train": train.cured.to_numpy().astype(int),
        "t_train": train.treatment.to_numpy().astype(int),
        "groups_train": train.customer_id.to_numpy().astype(str),
        "X_test": _numeric(test.X),
        "y_test": test.cured.to_numpy().astype(int),
        "t_test": test.treatment.to_numpy().astype(int),
        "groups_test": test.customer_id.to_numpy().astype(str),
        "value_test": test.value_at_stake.to_numpy(dtype=float),
        "true_uplift_test": true_uplift.to_numpy(dtype=float),
    }


def _dates(stamps: list[pd.Timestamp]) -> str:
    return f"{pd.Timestamp(stamps[0]).date()} to {pd.Timestamp(stamps[-1]).date()}"


#: Arguments of causalml's generator: one treatment, effects both up and down.
SYNTHETIC_SETTINGS: dict[str, Any] = {
    "treatment_name": ["control", "treatment1"],
    "n_classification_features": 20,
    "n_classification_informative": 5,
    "n_uplift_increase_dict": {"treatment1": 3},
    "n_uplift_decrease_dict": {"treatment1": 2},
    "delta_uplift_increase_dict": {"treatment1": 0.1},
    "delta_uplift_decrease_dict": {"treatment1": 0.05},
    "n_uplift_increase_mix_informative_dict": {"treatment1": 1},
    "n_uplift_decrease_mix_informative_dict": {"treatment1": 1},
    "positive_class_proportion": 0.3,
}


def synthetic_data(rows_per_arm: int, seed: int) -> dict[str, Any]:
    """Draw causalml's generic uplift dataset and split it at random into halves."""
    from causalml.dataset import make_uplift_classification
    from sklearn.model_selection import train_test_split

    frame, names = make_uplift_classification(
        n_samples=rows_per_arm, random_seed=seed, **SYNTHETIC_SETTINGS
    )
    treatment = (frame["treatment_group_key"] == "treatment1").to_numpy().astype(int)
    outcome = frame["conversion"].to_numpy().astype(int)
    features = _numeric(frame[names])
    train, test = train_test_split(
        np.arange(len(frame)), test_size=0.5, random_state=seed, stratify=2 * treatment + outcome
    )
    arguments = ", ".join(f"{key}={value!r}" for key, value in SYNTHETIC_SETTINGS.items())
    return {
        "name": "synthetic",
        "description": (
            f"causalml.dataset.make_uplift_classification(n_samples={rows_per_arm:,}, "
            f"random_seed={seed}, {arguments}): a randomised 50/50 experiment, "
            f"{len(names)} features, split at random into equal train and test halves."
        ),
        "X_train": features.iloc[train].reset_index(drop=True),
        "y_train": outcome[train],
        "t_train": treatment[train],
        "groups_train": None,
        "X_test": features.iloc[test].reset_index(drop=True),
        "y_test": outcome[test],
        "t_test": treatment[test],
        "groups_test": None,
    }


# --------------------------------------------------------------------------- budget


def _select_classifier(data: dict[str, Any], seed: int) -> tuple[str, dict[str, float]]:
    """Pick the LightGBM classifier by 3-fold log-loss of an outcome model on training rows.

    The model predicts the outcome from the features and the treatment (as a feature), so
    the choice serves every learner alike and never looks at the test rows.
    """
    from lightgbm import LGBMClassifier
    from sklearn.metrics import log_loss
    from sklearn.model_selection import GroupKFold, StratifiedKFold

    X = data["X_train"].assign(_treatment=data["t_train"].astype(float))
    y = data["y_train"]
    if data["groups_train"] is not None:
        folds = list(
            GroupKFold(3, shuffle=True, random_state=seed).split(X, y, data["groups_train"])
        )
    else:
        folds = list(StratifiedKFold(3, shuffle=True, random_state=seed).split(X, y))
    losses = {}
    for name, params in CLASSIFIER_GRID.items():
        fold_losses = []
        for train, held_out in folds:
            model = LGBMClassifier(**params, **LIGHTGBM_COMMON, random_state=seed, n_jobs=1)
            model.fit(X.iloc[train], y[train])
            fold_losses.append(log_loss(y[held_out], model.predict_proba(X.iloc[held_out])[:, 1]))
        losses[name] = float(np.mean(fold_losses))
    return min(losses, key=losses.get), losses


# --------------------------------------------------------------------------- metrics


def _bootstrap_rows(groups: np.ndarray | None, n_rows: int, seed: int) -> list[np.ndarray]:
    """Row indices of each bootstrap replicate, resampling whole customers when grouped."""
    rng = np.random.default_rng(seed)
    if groups is None:
        return [rng.integers(0, n_rows, n_rows) for _ in range(BOOTSTRAP)]
    _, code = np.unique(groups, return_inverse=True)
    n_groups = code.max() + 1
    replicates = []
    for _ in range(BOOTSTRAP):
        drawn = np.bincount(rng.integers(0, n_groups, n_groups), minlength=n_groups)
        replicates.append(np.repeat(np.arange(n_rows), drawn[code]))
    return replicates


def _scores(
    data: dict[str, Any], uplift: np.ndarray, replicates: list[np.ndarray], propensity: Any
) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Metrics of one learner's test predictions, and their bootstrap replicates.

    The replicates are the same rows for every learner, so differences between learners
    get paired intervals (:func:`_paired_differences`).
    """
    from visitrisk.experiment import true_value_captured
    from visitrisk.metrics import qini_auc_score, qini_auc_score_ipw, uplift_auc_score

    y, t = data["y_test"], data["t_test"]
    draws = {
        "qini_auc": np.array(
            [qini_auc_score(y[rows], uplift[rows], t[rows]) for rows in replicates]
        ),
        "uplift_auc": np.array(
            [uplift_auc_score(y[rows], uplift[rows], t[rows]) for rows in replicates]
        ),
    }
    scores: dict[str, Any] = {
        "qini_auc": qini_auc_score(y, uplift, t),
        "uplift_auc": uplift_auc_score(y, uplift, t),
        "uplift_mean": float(np.mean(uplift)),
        "uplift_std": float(np.std(uplift)),
    }
    if propensity is not None:
        scores["qini_auc_ipw"] = qini_auc_score_ipw(y, uplift, t, propensity)
    if "true_uplift_test" in data:
        truth, value = data["true_uplift_test"], data["value_test"]
        captured = true_value_captured(uplift * value, truth, value, CAPACITIES)
        scores.update({k: v for k, v in captured.items() if k.startswith("true_value_share")})
        scores["true_uplift_corr"] = float(np.corrcoef(uplift, truth)[0, 1])
        key = "true_value_share_top_20pct"
        draws[key] = np.array(
            [
                true_value_captured(uplift[rows] * value[rows], truth[rows], value[rows], (0.2,))[
                    key
                ]
                for rows in replicates
            ]
        )
    for name in ("qini_auc", "uplift_auc", "true_value_share_top_20pct"):
        if name in draws:
            scores[f"{name}_ci"] = [float(v) for v in np.nanpercentile(draws[name], [2.5, 97.5])]
    return scores, draws


def _paired_differences(
    rows: list[dict[str, Any]], draws: dict[str, dict[str, np.ndarray]]
) -> None:
    """Add to each peer row its difference from visitrisk's learner of the same family.

    Peers without a visitrisk counterpart (uplift forest, class transformation) are
    compared with visitrisk's default, the DR learner. Intervals are percentiles of the
    paired bootstrap differences (same resampled rows for both learners).
    """
    ours = {row["family"]: row["learner"] for row in rows if row["library"] == "visitrisk"}
    for row in rows:
        if row["library"] == "visitrisk" or row.get("status") != "ok":
            continue
        against = ours.get(row["family"], ours.get("DR"))
        if against not in draws:
            continue
        comparison: dict[str, Any] = {"against": against}
        ours_row = next(item for item in rows if item["learner"] == against)
        for metric, theirs in draws[row["learner"]].items():
            mine = draws[against][metric]
            comparison[f"{metric}_diff"] = row[metric] - ours_row[metric]
            comparison[f"{metric}_diff_ci"] = [
                float(v) for v in np.nanpercentile(theirs - mine, [2.5, 97.5])
            ]
        row["versus_visitrisk"] = comparison


def _value_only(data: dict[str, Any], uplift: np.ndarray) -> dict[str, float]:
    """Return the true value captured by one uplift for all: a ranking by value at stake."""
    from visitrisk.experiment import true_value_captured

    captured = true_value_captured(
        uplift * data["value_test"], data["true_uplift_test"], data["value_test"], CAPACITIES
    )
    return {key: value for key, value in captured.items() if key.startswith("true_value_share")}


def _curves(
    data: dict[str, Any], uplift: np.ndarray, propensity: Any, points: int = 101
) -> dict[str, list]:
    """Curves for the figure, read at ``points`` shares of the test rows.

    ``qini``: our Qini curve. With a propensity, ``qini_ipw``: its inverse-propensity
    weighted version. With the truth, ``true_value_share``: the true value of the top share
    (ranked by uplift × value) over the oracle's, as in ``true_value_captured``.
    """
    from visitrisk.metrics import qini_curve, qini_curve_ipw

    y, t = data["y_test"], data["t_test"]
    shares = np.linspace(0.0, 1.0, points)

    def read(n_top: np.ndarray, curve: np.ndarray) -> list[float]:
        values = np.interp(shares * n_top[-1], n_top, curve)
        return [round(float(value), 3) for value in values]

    curves: dict[str, list] = {
        "share": [round(float(share), 4) for share in shares],
        "qini": read(*qini_curve(y, uplift, t)),
    }
    if propensity is not None:
        curves["qini_ipw"] = read(*qini_curve_ipw(y, uplift, t, propensity))
    if "true_uplift_test" in data:
        value = data["value_test"]
        gain = data["true_uplift_test"] * value
        by_model = np.cumsum(gain[np.argsort(-(uplift * value), kind="stable")])
        by_oracle = np.cumsum(np.sort(gain)[::-1])
        counts = np.maximum(np.round(shares * len(gain)).astype(int), 1) - 1
        curves["true_value_share"] = [
            round(float(value), 4) for value in by_model[counts] / by_oracle[counts]
        ]
    return curves


def metric_check(y: np.ndarray, t: np.ndarray, uplift: np.ndarray) -> dict[str, float | None]:
    """Our Qini / uplift AUC next to scikit-uplift's and causalml's, on the same predictions.

    causalml divides its curves by the final value (``normalize=True``) and averages them
    over the ``N + 1`` points, so ``qini_score`` is ``(A(Q) - A0) / ((N + 1) |Q(N)|)`` and
    ``auuc_score`` is ``A(U) / ((N + 1) |U(N)|)`` without subtracting the random line;
    scikit-uplift divides ``A - A0`` by the same quantity of the perfect curve. The
    ``*_rescaled`` entries convert causalml's figure to scikit-uplift's scale with our
    curves' end points and perfect areas: what remains is the sum-versus-trapezoid rule and
    tie handling.
    """
    from visitrisk import metrics as ours

    n_rows = len(y)
    check: dict[str, float | None] = {
        "visitrisk_qini_auc": ours.qini_auc_score(y, uplift, t),
        "visitrisk_uplift_auc": ours.uplift_auc_score(y, uplift, t),
    }
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from sklift import metrics as sklift_metrics

            check["sklift_qini_auc"] = float(sklift_metrics.qini_auc_score(y, uplift, t))
            check["sklift_uplift_auc"] = float(sklift_metrics.uplift_auc_score(y, uplift, t))
    except ImportError:
        check["sklift_qini_auc"] = check["sklift_uplift_auc"] = None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from causalml.metrics import auuc_score, qini_score

            frame = pd.DataFrame({"y": y, "w": t, "model": uplift})
            raw_qini = float(qini_score(frame, outcome_col="y", treatment_col="w")["model"])
            raw_auuc = float(auuc_score(frame, outcome_col="y", treatment_col="w")["model"])
    except ImportError:
        check["causalml_qini_score"] = check["causalml_auuc_score"] = None
        return check
    _, q_curve = ours.qini_curve(y, uplift, t)
    q_perfect_x, q_perfect = ours.perfect_qini_curve(y, t)
    _, u_curve = ours.uplift_curve(y, uplift, t)
    u_perfect_x, u_perfect = ours.perfect_uplift_curve(y, t)
    q_base = n_rows * q_perfect[-1] / 2
    u_base = n_rows * u_perfect[-1] / 2
    check |= {
        "causalml_qini_score": raw_qini,
        "causalml_auuc_score": raw_auuc,
        "causalml_qini_rescaled": raw_qini
        * (n_rows + 1)
        * abs(q_curve[-1])
        / (np.trapezoid(q_perfect, q_perfect_x) - q_base),
        "causalml_auuc_rescaled": (raw_auuc * (n_rows + 1) * abs(u_curve[-1]) - u_base)
        / (np.trapezoid(u_perfect, u_perfect_x) - u_base),
    }
    return check


# --------------------------------------------------------------------------- run


def run_dataset(
    data: dict[str, Any], statuses: dict[str, Any], seed: int, say: Any
) -> dict[str, Any]:
    """Select the budget, fit every available learner, score and check it."""
    started, load_before = time.perf_counter(), _load()
    say(f"[{data['name']}] choosing the LightGBM classifier on the training split")
    (chosen, losses), selection_cost = _measured(lambda: _select_classifier(data, seed))
    settings = Settings(
        classifier={**CLASSIFIER_GRID[chosen], **LIGHTGBM_COMMON},
        regressor=REGRESSOR,
        seed=seed,
        forest=FOREST,
    )
    replicates = _bootstrap_rows(data["groups_test"], len(data["y_test"]), seed)
    propensity, overlap = None, {}
    if data["groups_test"] is not None:
        from visitrisk.nuisance import fit_nuisances

        say(f"[{data['name']}] cross-fitting the test-set propensity for the IPW Qini")
        nuisances = fit_nuisances(
            data["X_test"],
            data["y_test"],
            data["t_test"],
            data["groups_test"],
            random_state=seed,
            n_jobs=1,
        )
        propensity = nuisances["propensity"].to_numpy()
        overlap = {
            "propensity_quantiles_1_50_99": [
                float(v) for v in np.quantile(propensity, [0.01, 0.5, 0.99])
            ],
            "share_outside_0.05_0.95": float(np.mean((propensity < 0.05) | (propensity > 0.95))),
        }
    rows, curves, draws = [], {}, {}
    for adapter in adapters():
        status = statuses[adapter.library]
        row: dict[str, Any] = {
            "library": adapter.library,
            "learner": adapter.name,
            "family": adapter.family,
            "notes": adapter.notes,
        }
        if not status.available:
            rows.append(row | {"status": "unavailable", "error": status.error})
            continue
        say(f"[{data['name']}] {adapter.name}")
        try:
            fit, predict = adapter.build(settings)
            _, fit_cost = _measured(
                lambda fit=fit: fit(
                    data["X_train"], data["y_train"], data["t_train"], data["groups_train"]
                )
            )
            uplift, predict_cost = _measured(lambda predict=predict: predict(data["X_test"]))
        # A peer's failure, whatever its type, is a result to record.
        except Exception as error:
            rows.append(row | {"status": "failed", "error": f"{type(error).__name__}: {error}"})
            continue
        uplift = np.asarray(uplift, dtype=float)
        scores, draws[adapter.name] = _scores(data, uplift, replicates, propensity)
        row |= {
            "status": "ok",
            "fit_seconds": fit_cost["seconds"],
            "fit_cpu_seconds": fit_cost["cpu_seconds"],
            "fit_peak_added_mb": fit_cost["peak_added_mb"],
            "predict_seconds": predict_cost["seconds"],
            "predict_cpu_seconds": predict_cost["cpu_seconds"],
            **scores,
            "metric_check": metric_check(data["y_test"], data["t_test"], uplift),
        }
        rows.append(row)
        curves[adapter.name] = _curves(data, uplift, propensity)
    _paired_differences(rows, draws)
    reference = {}
    if "true_uplift_test" in data:
        truth, value = data["true_uplift_test"], data["value_test"]
        reference["oracle (true uplift)"] = _scores(data, truth, replicates, propensity)[0]
        curves["oracle (true uplift)"] = _curves(data, truth, propensity)
        # A constant uplift ranks by value at stake alone: what a learner adds is above it.
        constant = np.full(len(truth), float(np.mean(truth)))
        reference["value at stake alone"] = _value_only(data, constant)
        curves["value at stake alone"] = _curves(data, constant, propensity)
        gain = truth * value
        oracle = np.cumsum(np.sort(gain)[::-1])
        reference["random ranking (expected)"] = {
            f"true_value_share_top_{round(100 * share)}pct": float(
                round(share * len(gain)) * gain.mean() / oracle[round(share * len(gain)) - 1]
            )
            for share in CAPACITIES
        }
    return {
        "description": data["description"],
        "train_rows": len(data["y_train"]),
        "test_rows": len(data["y_test"]),
        "n_features": data["X_train"].shape[1],
        "treated_share_train": float(np.mean(data["t_train"])),
        "outcome_rate_train": float(np.mean(data["y_train"])),
        "classifier_losses": losses,
        "classifier_chosen": chosen,
        "test_propensity_overlap": overlap,
        "selection_seconds": selection_cost["seconds"],
        "learners": rows,
        "reference": reference,
        "curves": curves,
        "load_average_before": load_before,
        "load_average_after": _load(),
        "seconds": time.perf_counter() - started,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=60_000, help="simulated customers")
    parser.add_argument("--rows-per-arm", type=int, default=15_000, help="synthetic rows per arm")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke run")
    parser.add_argument("--name", default="peers", help="result file bench/results/<name>.json")
    parser.add_argument("--no-docs", action="store_true", help="do not render docs/benchmarks.md")
    args = parser.parse_args(argv)
    if args.quick:
        args.customers, args.rows_per_arm = 4_000, 2_000

    statuses = {library: library_status(library) for library in PEER_PACKAGES}
    if not any(statuses[peer].available for peer in PEERS):
        print(f"bench_peers: {NOT_INSTALLED}.", flush=True)
        for peer in PEERS:
            print(f"  {peer}: {statuses[peer].error}", flush=True)
        return 0

    def say(message: str) -> None:
        print(f"{time.strftime('%H:%M:%S')} {message}", flush=True)

    from threadpoolctl import threadpool_limits

    # BLAS / OpenMP pools of NumPy, SciPy and scikit-learn: one thread, like LightGBM.
    threadpool_limits(1)
    started = time.perf_counter()
    datasets = {}
    say("simulating the portfolio")
    datasets["simulator"] = run_dataset(
        simulator_data(args.customers, args.seed), statuses, args.seed, say
    )
    if statuses["causalml"].available:
        datasets["synthetic"] = run_dataset(
            synthetic_data(args.rows_per_arm, args.seed), statuses, args.seed, say
        )
    else:
        datasets["synthetic"] = {"skipped": f"causalml unavailable: {statuses['causalml'].error}"}
    result = {
        "arguments": sys.argv[1:] if argv is None else argv,
        "settings": {
            "seed": args.seed,
            "customers": args.customers,
            "rows_per_arm": args.rows_per_arm,
            "classifier_grid": CLASSIFIER_GRID,
            "lightgbm_common": LIGHTGBM_COMMON,
            "regressor": REGRESSOR,
            "forest": FOREST,
            "capacities": list(CAPACITIES),
            "bootstrap": BOOTSTRAP,
            "threads": "n_jobs=1 everywhere; OMP/OpenBLAS threads 1 (make bench-peers)",
        },
        "libraries": {
            name: {
                "version": status.version,
                "available": status.available,
                "error": status.error,
                **((status.available and _import_cost(PEER_PACKAGES[name][0])) or {}),
            }
            for name, status in statuses.items()
        },
        "stack": _stack_versions(),
        "datasets": datasets,
        "total_seconds": time.perf_counter() - started,
    }
    path = write_result(args.name, result)
    say(f"wrote {path.relative_to(REPO)}")
    if not args.no_docs:
        from bench._peers_report import render

        for written in render(path, DOCS_DIR):
            say(f"wrote {written.relative_to(REPO)}")
    return 0


def _stack_versions() -> dict[str, str | None]:
    from importlib.metadata import PackageNotFoundError, version

    found = {}
    for package in ("numpy", "pandas", "scikit-learn", "scipy", "lightgbm", "xgboost"):
        try:
            found[package] = version(package)
        except PackageNotFoundError:
            found[package] = None
    return found


if __name__ == "__main__":
    sys.exit(main())
