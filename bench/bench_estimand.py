"""Benchmark: the training set's effect estimate against the simulator's truth (issue 4).

For each seed and effect ("none", "heterogeneous"), simulate a book, build the emulated
trial (``build_training_set(..., design="trial")``), estimate the average effect of the
visit strategy (:func:`visitrisk.labels.average_effect`, bootstrap 95 % interval over
customers) and compare it with the simulator's truth of the same estimand
(``uplift_window``, averaged over the trial's eligible rows). The landmark design's IPW
estimate is reported alongside for comparison (cross-fitted LightGBM propensity, Hajek).

Run from the repository root: ``python -m bench.bench_estimand`` (``--customers``,
``--seeds``). Results go to ``bench/results/estimand.json``.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

from bench._measure import write_result

SNAPSHOTS = list(pd.date_range("2025-11-30", "2026-09-30", freq="ME"))


def _landmark_ipw(training, seed: int) -> float:
    """Hajek IPW difference on the landmark rows, with a two-fold LightGBM propensity."""
    import lightgbm as lgb

    treatment = training.treatment.to_numpy()
    cured = training.cured.to_numpy()
    fold = np.random.default_rng(seed).integers(0, 2, len(treatment))
    propensity = np.zeros(len(treatment))
    for k in (0, 1):
        model = lgb.LGBMClassifier(
            n_estimators=200, learning_rate=0.05, num_leaves=15, min_child_samples=50,
            n_jobs=1, random_state=seed, verbose=-1,
        )  # fmt: skip
        model.fit(training.X[fold != k], treatment[fold != k])
        propensity[fold == k] = model.predict_proba(training.X[fold == k])[:, 1]
    propensity = np.clip(propensity, 0.01, 0.99)
    treated, control = treatment / propensity, (1 - treatment) / (1 - propensity)
    return float(treated @ cured / treated.sum() - control @ cured / control.sum())


def run_one(n_customers: int, seed: int, effect: str) -> dict:
    from visitrisk.labels import average_effect, build_training_set
    from visitrisk.simulate import simulate_portfolio

    started = time.perf_counter()
    sim = simulate_portfolio(
        n_customers, seed=seed, effect=effect, history_months=24, truth_dates=SNAPSHOTS
    )
    simulated = time.perf_counter()
    trial = build_training_set(sim.portfolio, SNAPSHOTS, design="trial", n_jobs=1)
    built = time.perf_counter()
    estimate = average_effect(trial, n_bootstrap=300, seed=seed)
    truth = sim.truth[sim.truth["as_of"].isin(SNAPSHOTS)]
    do_not_visit = sim.portfolio.customers.set_index("customer_id")["do_not_visit"]
    truth = truth[~truth["customer_id"].map(do_not_visit).astype(bool).to_numpy()]
    landmark = build_training_set(sim.portfolio, SNAPSHOTS)
    true_window = float(truth["uplift_window"].mean())
    return {
        "customers": n_customers,
        "seed": seed,
        "effect": effect,
        "eligible_rows": int(trial.metadata["eligible"]),
        "trial_rows": len(trial),
        "effective_rows": trial.metadata["effective_rows"],
        "estimate": round(estimate["effect"], 4),
        "ci_low": round(estimate["low"], 4),
        "ci_high": round(estimate["high"], 4),
        "standard_error": round(estimate["standard_error"], 4),
        "truth_uplift_window": round(true_window, 4),
        "truth_uplift_one_visit_vs_never": round(float(truth["uplift"].mean()), 4),
        "covered": bool(estimate["low"] <= true_window <= estimate["high"]),
        "landmark_ipw": round(_landmark_ipw(landmark, seed), 4),
        "simulate_seconds": round(simulated - started, 1),
        "trial_build_seconds": round(built - simulated, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=10_000)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4, 5])
    args = parser.parse_args()
    runs = []
    for seed in args.seeds:
        for effect in ("none", "heterogeneous"):
            runs.append(run_one(args.customers, seed, effect))
            print({k: runs[-1][k] for k in list(runs[-1])[:3] + list(runs[-1])[6:13]})
    frame = pd.DataFrame(runs)
    summary = {
        effect: {
            "mean_estimate": round(float(group["estimate"].mean()), 4),
            "mean_truth_uplift_window": round(float(group["truth_uplift_window"].mean()), 4),
            "mean_standard_error": round(float(group["standard_error"].mean()), 4),
            "covered": f"{int(group['covered'].sum())}/{len(group)}",
            "mean_landmark_ipw": round(float(group["landmark_ipw"].mean()), 4),
        }
        for effect, group in frame.groupby("effect")
    }
    path = write_result("estimand", {"summary": summary, "runs": runs})
    print(summary)
    print(f"-> {path}")


if __name__ == "__main__":
    main()
