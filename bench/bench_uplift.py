"""Benchmark: the decisions the uplift learners make, against the simulator's truth.

Issue 5, section 3. On a simulated book with a heterogeneous visit effect, every learner
(T, S, X, DR; library defaults) is trained on the earlier month-end snapshots and ranks the
customers of the later ones (the simulator's truth dates). For visiting the top 10/20/30 %
the bench reports the *true* incremental cures (sum of true uplift) and value-weighted cures
(sum of true uplift × value at stake, CNY) as a share of what the oracle (ranking by the
true uplift, or true uplift × value) captures, next to:

- ``dpd_rule``: "DPD > 30, biggest arrears first" (then the rest, biggest arrears first);
- ``risk_model``: a LightGBM classifier of P(no cure) on the same training rows, ranking
  by P(no cure) (and by P(no cure) × value at stake, the expected loss, for value);
- ``random``: mean over 20 random orders;
- ``oracle``: the true uplift (1.0 by definition);
- ``feature_ceiling`` (diagnostic, not a policy): a LightGBM regressor fitted on the
  simulator's *true* uplift of the training rows. No learner can see that label; it shows
  how much of the oracle the features allow at all.

Learners use visitrisk's defaults only (no tuning on the test snapshots), each also in the
variants of :data:`VARIANTS` (``s+value``: the S learner with ``value_weighting=0.5``, base
models weighted by the square root of the value at stake). Each learner's doubly robust
estimate of its own policy value on the test rows is reported too: it is what a bank
without the truth would see. Every learner and variant is refitted with two more seeds
(``seed_spread_top_20pct``) to show how much a share moves with the seed alone;
``variants`` sums it up per policy (shares at 10/20/30 %, value at 20 % and its ratio to the
DPD rule, and the mean, min and max at 20 % over the three seeds). The DR-estimated average
effect on the test rows is set beside the true mean uplift
(``heterogeneous.estimand``): the learners are trained on landmarked rows (still delinquent
after the treatment window, the bank's usual visits after it) while the truth compares one
visit in the window with none at all.

On the simulator's null-effect portfolio (``effect="none"``) the best learner's top-20 %
policy is valued with IPW and DR estimators (cross-fitted test-set nuisances, 1,000
customer bootstrap replicates) on ``--null-seeds`` books (default 3): the 95 % intervals
must cover 0, and ``null_effect.coverage`` counts how many do (about 1 in 20 may miss by
chance). ``--null-only`` reruns this part alone and replaces it in the results file.

Finally ``DRLearner.fit`` is timed on 1,000,000 rows × 60 features with ``n_jobs=1`` in a
child process (target: 5 minutes).

Targets (issue 5): the best learner captures >= 0.8 of the oracle at 20 % and >= 1.5× the
DPD rule; both are checked for cures and for value. Results: ``bench/results/uplift.json``.

Run from the repository root: ``python -m bench uplift`` (or ``python -m bench.bench_uplift
--customers 20000 --fit-rows 100000`` for a quick check). The fit-time measurement alone:
``python -m bench.bench_uplift --fit-only --fit-rows 1000000 --fit-features 60``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from bench._measure import RESULTS_DIR, Phases, write_result

BENCH = Path(__file__).resolve().parent
AS_OF = pd.Timestamp("2026-11-30")
HISTORY_MONTHS = 30
TREATMENT_WINDOW, HORIZON = 14, 60
TEST_SNAPSHOTS = 3
CAPACITIES = (0.1, 0.2, 0.3)
LEARNERS = ("t", "s", "x", "dr")
#: Variants of every learner: name suffix -> UpliftModel parameters beyond the defaults.
#: ``+value``: base models weighted by the square root of the value at stake (the
#: ``value_weighting`` option), aimed at the value-weighted decision.
VARIANTS: dict[str, dict] = {"": {}, "+value": {"value_weighting": 0.5}}
SEED_SPREAD_LEARNERS = LEARNERS
RANDOM_ORDERS = 20
TARGETS = {"share_of_oracle_top_20pct": 0.8, "ratio_to_dpd_rule_top_20pct": 1.5}
FIT_TARGET_SECONDS = 300


# --------------------------------------------------------------------------- data


def _test_dates() -> list[pd.Timestamp]:
    """Return the latest month-ends whose horizon ends by the as-of date (truth dates)."""
    last = AS_OF - pd.Timedelta(days=max(HORIZON, TREATMENT_WINDOW))
    return list(pd.date_range(end=last, periods=TEST_SNAPSHOTS, freq="ME"))


def simulated_split(
    customers: int, seed: int, effect: str, truth_on_train: bool, design: str = "landmark"
) -> dict:
    """Simulate a book, build the training set, split it in time, attach the true uplift.

    Returns a dict with ``train`` and ``test`` (:class:`visitrisk.TrainingSet`) and the true
    uplift of their rows (``train_uplift`` only when ``truth_on_train``). ``design`` is the
    training rows' construction (``build_training_set``); the test rows are always landmark
    rows, i.e. observed customers.
    """
    from visitrisk.experiment import split_by_time
    from visitrisk.labels import build_training_set, monthly_snapshots
    from visitrisk.simulate import simulate_portfolio

    test_dates = _test_dates()
    # The training snapshots depend only on the calendar (history and horizon); asking the
    # simulator for their truth as well does not change the tables.
    history_start = AS_OF - pd.DateOffset(months=HISTORY_MONTHS)
    train_dates = [
        date
        for date in pd.date_range(history_start, test_dates[0], freq="ME")
        if date + pd.Timedelta(days=HORIZON) < test_dates[0]
    ]
    simulated = simulate_portfolio(
        customers,
        seed=seed,
        effect=effect,
        as_of=AS_OF,
        history_months=HISTORY_MONTHS,
        treatment_window=TREATMENT_WINDOW,
        horizon=HORIZON,
        truth_dates=(train_dates[1:] if truth_on_train else []) + test_dates,
    )
    portfolio = simulated.portfolio
    snapshots = monthly_snapshots(portfolio, TREATMENT_WINDOW, HORIZON, before=test_dates[0])
    full = build_training_set(portfolio, snapshots + test_dates, TREATMENT_WINDOW, HORIZON)
    train, test = split_by_time(full, TEST_SNAPSHOTS)
    if design != "landmark":
        train = build_training_set(portfolio, snapshots, TREATMENT_WINDOW, HORIZON, design=design)
    truth = simulated.truth[["as_of", "customer_id", "uplift"]].astype(
        {"as_of": "datetime64[ns]", "customer_id": str}
    )

    def true_uplift(rows) -> np.ndarray:
        keys = pd.DataFrame(
            {
                "as_of": rows.snapshot.astype("datetime64[ns]"),
                "customer_id": rows.customer_id.astype(str),
            }
        )
        matched = keys.merge(truth, how="left", on=["as_of", "customer_id"])["uplift"]
        if matched.isna().any():
            raise RuntimeError(f"{int(matched.isna().sum())} rows have no simulated truth.")
        return matched.to_numpy()

    return {
        "train": train,
        "test": test,
        "test_uplift": true_uplift(test),
        "train_uplift": true_uplift(train) if truth_on_train else None,
        "train_snapshots": [str(s.date()) for s in train.metadata["snapshots"]],
        "test_snapshots": [str(s.date()) for s in test.metadata["snapshots"]],
    }


# --------------------------------------------------------------------------- policies


def _shares(score: np.ndarray, true_uplift: np.ndarray, value: np.ndarray) -> dict[str, float]:
    from visitrisk.experiment import true_value_captured

    result = true_value_captured(score, true_uplift, value, CAPACITIES)
    return {
        f"top_{round(100 * share)}pct": round(
            result[f"true_value_share_top_{round(100 * share)}pct"], 4
        )
        for share in CAPACITIES
    }


def _row(
    policy: str,
    kind: str,
    cure_score: np.ndarray,
    value_score: np.ndarray,
    true_uplift: np.ndarray,
    value: np.ndarray,
) -> dict:
    cures = _shares(cure_score, true_uplift, np.ones_like(true_uplift))
    valued = _shares(value_score, true_uplift, value)
    return {
        "policy": policy,
        "kind": kind,
        **{f"cures_share_{key}": share for key, share in cures.items()},
        **{f"value_share_{key}": share for key, share in valued.items()},
    }


def _dr_estimates(score: np.ndarray, test, nuisances: pd.DataFrame, seed: int) -> dict:
    """Doubly robust estimate (with 95 % CI) of the incremental cures of the top 20 %."""
    from visitrisk.policy import policy_value

    frame = policy_value(
        test.cured.to_numpy(),
        score,
        test.treatment.to_numpy(),
        nuisances,
        0.2,
        groups=test.customer_id.to_numpy(),
        methods=("dr",),
        n_boot=200,
        random_state=seed,
    ).iloc[0]
    return {
        "dr_estimated_cures_top_20pct": round(float(frame["incremental_cures"]), 1),
        "dr_estimated_cures_top_20pct_ci": [
            round(float(frame["incremental_cures_ci_low"]), 1),
            round(float(frame["incremental_cures_ci_high"]), 1),
        ],
    }


def _baselines(train, test, seed: int, phases: Phases) -> dict[str, tuple]:
    """Ranking scores of the baselines: ``{name: (cure_score, value_score)}``."""
    from visitrisk._learner_input import default_classifier

    value = test.value_at_stake.to_numpy()
    dpd = test.X["days_past_due"].to_numpy()
    arrears = test.X["arrears"].to_numpy()
    # Every DPD > 30 customer before any other; arrears decide within each group.
    position = np.lexsort((-arrears, -(dpd > 30).astype(int))).argsort()
    rule = -position.astype(float)
    with phases("fit_risk_model"):
        risk = default_classifier(1).set_params(random_state=seed)
        risk.fit(train.X, 1 - train.cured.to_numpy())
    p_no_cure = risk.predict_proba(test.X)[:, 1]
    return {"dpd_rule": (rule, rule), "risk_model": (p_no_cure, p_no_cure * value)}


def _estimand_gap(test, tau: np.ndarray, nuisances: pd.DataFrame, seed: int) -> dict:
    """Compare what the visit log estimates on the test rows with the simulator's truth.

    The training rows are landmarked (still delinquent after the treatment window; the
    bank's usual visits after it), the truth compares one visit in the window with none at
    all: a learner targets the first, the table scores the second.
    """
    from visitrisk.policy import average_treatment_effect

    ate = average_treatment_effect(
        test.cured.to_numpy(),
        test.treatment.to_numpy(),
        nuisances,
        groups=test.customer_id.to_numpy(),
        n_boot=200,
        random_state=seed,
    )
    return {
        "true_mean_uplift": round(float(tau.mean()), 4),
        "dr_estimated_ate": round(float(ate["estimate"]), 4),
        "dr_estimated_ate_ci": [round(float(ate["ci_low"]), 4), round(float(ate["ci_high"]), 4)],
        "true_mean_uplift_visited": round(float(tau[test.treatment.to_numpy() == 1].mean()), 4),
    }


def decision_table(data: dict, seed: int, phases: Phases) -> list[dict]:
    """Fit every learner and baseline on ``train``; score ``test`` against the truth."""
    from visitrisk._learner_input import default_regressor
    from visitrisk.learners import UpliftModel
    from visitrisk.nuisance import fit_nuisances

    train, test, tau = data["train"], data["test"], data["test_uplift"]
    value = test.value_at_stake.to_numpy()
    features = test.X.assign(value_at_stake=test.value_at_stake)
    with phases("test_nuisances"):
        nuisances = fit_nuisances(
            test.X,
            test.cured.to_numpy(),
            test.treatment.to_numpy(),
            test.customer_id.to_numpy(),
            random_state=seed,
        )
    data["estimand"] = _estimand_gap(test, tau, nuisances, seed)
    rows = []
    for learner, suffix in _policies():
        name = learner + suffix
        with phases(f"fit_{name}"):
            started = time.perf_counter()
            model = UpliftModel(learner=learner, random_state=seed, n_jobs=1, **VARIANTS[suffix])
            model.fit(train)
            seconds = time.perf_counter() - started
        scores = model.score(features)
        uplift = scores["uplift"].to_numpy()
        row = _row(name, "learner", uplift, scores["expected_gain"].to_numpy(), tau, value)
        row |= _dr_estimates(uplift, test, nuisances, seed)
        row |= {
            "fit_seconds": round(seconds, 1),
            "uplift_min": round(float(uplift.min()), 4),
            "uplift_max": round(float(uplift.max()), 4),
            "uplift_mean": round(float(uplift.mean()), 4),
            "uplift_corr_with_truth": round(float(np.corrcoef(uplift, tau)[0, 1]), 4),
        }
        rows.append(row)
        print(json.dumps(row), flush=True)

    for name, (cure_score, value_score) in _baselines(train, test, seed, phases).items():
        row = _row(name, "baseline", cure_score, value_score, tau, value)
        rows.append(row | _dr_estimates(cure_score, test, nuisances, seed))

    rng = np.random.default_rng(seed)
    orders = []
    for _ in range(RANDOM_ORDERS):
        order = rng.random(len(tau))
        orders.append(_row("random", "baseline", order, order, tau, value))
    shares = [key for key in orders[0] if key.endswith("pct")]
    mean_order = {key: round(float(np.mean([row[key] for row in orders])), 4) for key in shares}
    rows.append({"policy": "random", "kind": f"baseline (mean of {RANDOM_ORDERS})", **mean_order})

    oracle = _row("oracle", "oracle", tau, tau * value, tau, value)
    rows.append(oracle | _dr_estimates(tau, test, nuisances, seed))
    if data["train_uplift"] is not None:
        with phases("fit_feature_ceiling"):
            # Its target has no noise: it gets the trees the noisy effect targets do not.
            ceiling = default_regressor(1).set_params(random_state=seed, n_estimators=200)
            ceiling.fit(train.X, data["train_uplift"])
        predicted = ceiling.predict(test.X)
        rows.append(_row("feature_ceiling", "diagnostic", predicted, predicted * value, tau, value))
    return rows


def _policies() -> list[tuple[str, str]]:
    """``(learner, variant suffix)`` of every learner policy in the table."""
    return [(learner, suffix) for learner in LEARNERS for suffix in VARIANTS]


def seed_spread(data: dict, seeds: tuple[int, ...], phases: Phases) -> dict:
    """Shares at 20 % of every learner and variant refitted with other seeds.

    The seed moves the subsamples, folds and held-out customers; how much the shares move
    with it says which differences in the table are real.
    """
    from visitrisk.learners import UpliftModel

    test, tau = data["test"], data["test_uplift"]
    value = test.value_at_stake.to_numpy()
    features = test.X.assign(value_at_stake=test.value_at_stake)
    spread: dict[str, dict] = {}
    for learner, suffix in _policies():
        if learner not in SEED_SPREAD_LEARNERS:
            continue
        for seed in seeds:
            with phases("seed_spread"):
                model = UpliftModel(
                    learner=learner, random_state=seed, n_jobs=1, **VARIANTS[suffix]
                )
                scores = model.fit(data["train"]).score(features)
            row = _row(
                learner + suffix,
                "learner",
                scores["uplift"].to_numpy(),
                scores["expected_gain"].to_numpy(),
                tau,
                value,
            )
            spread.setdefault(learner + suffix, {})[str(seed)] = {
                "cures_share_top_20pct": row["cures_share_top_20pct"],
                "value_share_top_20pct": row["value_share_top_20pct"],
            }
    return spread


# --------------------------------------------------------------------------- null effect


def null_effect_check(
    customers: int, seed: int, learner: str, phases: Phases, design: str = "landmark"
) -> dict:
    """Value the ``learner``'s top-20 % policy on a book where visits change nothing.

    ``learner`` is a policy name of the table: a learner, possibly with a variant suffix.
    """
    from visitrisk.learners import UpliftModel
    from visitrisk.nuisance import fit_nuisances
    from visitrisk.policy import policy_value

    with phases("null_simulate"):
        data = simulated_split(customers, seed, "none", truth_on_train=False, design=design)
    train, test = data["train"], data["test"]
    with phases("null_fit"):
        base, plus, variant = learner.partition("+")
        params = VARIANTS[plus + variant]
        model = UpliftModel(learner=base, random_state=seed, n_jobs=1, **params).fit(train)
        nuisances = fit_nuisances(
            test.X,
            test.cured.to_numpy(),
            test.treatment.to_numpy(),
            test.customer_id.to_numpy(),
            random_state=seed,
        )
    scores = model.score(test.X.assign(value_at_stake=test.value_at_stake))
    with phases("null_value"):
        frame = policy_value(
            test.cured.to_numpy(),
            scores["uplift"].to_numpy(),
            test.treatment.to_numpy(),
            nuisances,
            0.2,
            value=test.value_at_stake.to_numpy(),
            groups=test.customer_id.to_numpy(),
            n_boot=1000,
            random_state=seed,
        )
    estimates = {}
    for record in frame.to_dict("records"):
        for quantity, unit in (("incremental_cures", "cures"), ("incremental_value", "CNY")):
            low, high = record[f"{quantity}_ci_low"], record[f"{quantity}_ci_high"]
            estimates[f"{record['method']}_{quantity}"] = {
                "estimate": round(float(record[quantity]), 2),
                "ci_95": [round(float(low), 2), round(float(high), 2)],
                "unit": unit,
                "covers_0": bool(low <= 0 <= high),
            }
    return {
        "customers": customers,
        "seed": seed,
        "learner": learner,
        "policy": "top 20 % by predicted uplift",
        "n_visits": int(frame["n_visits"].iloc[0]),
        "train_rows": len(train),
        "test_rows": len(test),
        "true_uplift_max_abs": float(np.abs(data["test_uplift"]).max()),
        "estimates": estimates,
        "all_cover_0": all(item["covers_0"] for item in estimates.values()),
    }


def null_effect_checks(
    customers: int, seeds: range, learner: str, phases: Phases, design: str
) -> dict:
    """Run :func:`null_effect_check` on one null book per seed and count the coverage."""
    books = [null_effect_check(customers, seed, learner, phases, design=design) for seed in seeds]
    covered = {
        name: sum(book["estimates"][name]["covers_0"] for book in books)
        for name in books[0]["estimates"]
    }
    return {
        "books": books,
        "coverage": {
            "learner": learner,
            "seeds": list(seeds),
            "intervals_covering_0": covered,
            "covering": f"{sum(covered.values())} of {len(covered) * len(books)}",
        },
    }


# --------------------------------------------------------------------------- fit time


def make_training_rows(
    n_rows: int, n_features: int, seed: int
) -> tuple[pd.DataFrame, np.ndarray, np.ndarray, np.ndarray]:
    """Confounded rows: 1/6 categorical features, 5 % NaN, ~3 rows per customer."""
    rng = np.random.default_rng(seed)
    n_categorical = n_features // 6
    numeric = rng.normal(size=(n_rows, n_features - n_categorical)).astype(np.float32)
    numeric[rng.random(numeric.shape) < 0.05] = np.nan
    features = pd.DataFrame(numeric, columns=[f"num_{j}" for j in range(numeric.shape[1])])
    for j in range(n_categorical):
        codes = rng.integers(0, 8, n_rows)
        features[f"cat_{j}"] = pd.Categorical.from_codes(
            codes, categories=[f"c{k}" for k in range(8)]
        )
    signal = np.nan_to_num(numeric[:, 0]) + 0.5 * np.nan_to_num(numeric[:, 1])
    treatment = rng.binomial(1, 1.0 / (1.0 + np.exp(-0.8 * signal)))
    uplift = 0.1 * np.tanh(np.nan_to_num(numeric[:, 2]))
    p_control = 1.0 / (1.0 + np.exp(-0.6 * signal))
    cured = rng.binomial(1, np.clip(p_control + treatment * uplift, 0.0, 1.0))
    customer_id = rng.integers(0, max(n_rows // 3, 1), n_rows)
    return features, cured, treatment, customer_id


def time_dr_fit(n_rows: int, n_features: int, n_jobs: int, seed: int) -> dict:
    """Fit ``DRLearner`` with default settings once; wall and CPU seconds."""
    from visitrisk.learners import DRLearner

    features, cured, treatment, customer_id = make_training_rows(n_rows, n_features, seed)
    load_before = os.getloadavg()[0]
    start, cpu_start = time.perf_counter(), time.process_time()
    learner = DRLearner(random_state=seed, n_jobs=n_jobs)
    learner.fit(features, cured, treatment, groups=customer_id)
    seconds = time.perf_counter() - start
    trees = [model.booster_.current_iteration() for model in learner.control_models_]
    return {
        "rows": n_rows,
        "features": n_features,
        "n_jobs": n_jobs,
        "fit_seconds": round(seconds, 1),
        "fit_cpu_seconds": round(time.process_time() - cpu_start, 1),
        "target_seconds": FIT_TARGET_SECONDS,
        "meets_target": seconds <= FIT_TARGET_SECONDS,
        "control_model_trees": trees,
        "final_model_trees": [
            model.booster_.current_iteration() for model in learner.final_models_
        ],
        "load_average_1min_before_after": [round(load_before, 2), round(os.getloadavg()[0], 2)],
        "share_outside_overlap": round(learner.overlap_.share_outside, 4),
    }


def _fit_time_child(n_rows: int, n_features: int, seed: int) -> dict:
    """Time the fit in a fresh process, so its memory and threads are its own."""
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.bench_uplift",
            "--fit-only",
            "--fit-rows",
            str(n_rows),
            "--fit-features",
            str(n_features),
            "--seed",
            str(seed),
        ],
        check=True,
        cwd=BENCH.parent,
        capture_output=True,
        text=True,
    )
    return json.loads(completed.stdout.strip().splitlines()[-1])


# --------------------------------------------------------------------------- main


def _targets(rows: list[dict]) -> dict:
    by_policy = {row["policy"]: row for row in rows}
    result = {}
    for metric in ("cures", "value"):
        key = f"{metric}_share_top_20pct"
        names = [learner + suffix for learner, suffix in _policies()]
        best = max(names, key=lambda name: by_policy[name][key])
        share, rule = by_policy[best][key], by_policy["dpd_rule"][key]
        ratio = share / rule if rule > 0 else float("inf")
        result[metric] = {
            "best_learner": best,
            "share_of_oracle_top_20pct": share,
            "dpd_rule_share_top_20pct": rule,
            "ratio_to_dpd_rule_top_20pct": round(ratio, 3),
            "pass_share_of_oracle": share >= TARGETS["share_of_oracle_top_20pct"],
            "pass_ratio_to_dpd_rule": ratio >= TARGETS["ratio_to_dpd_rule_top_20pct"],
        }
        if "feature_ceiling" in by_policy:
            result[metric]["feature_ceiling_share_top_20pct"] = by_policy["feature_ceiling"][key]
    return result


def variant_summary(rows: list[dict], spread: dict, seed: int) -> list[dict]:
    """Per learner policy: shares at the main seed, and the spread at 20 % over all seeds.

    The ratio to the DPD rule is taken at 20 % for the value-weighted share (for cures the
    rule is near 0, so any learner's ratio is large).
    """
    by_policy = {row["policy"]: row for row in rows}
    rule = by_policy["dpd_rule"]["value_share_top_20pct"]
    summary = []
    for learner, suffix in _policies():
        name = learner + suffix
        row = by_policy[name]
        seeds = {str(seed): row} | spread.get(name, {})
        item = {
            "policy": name,
            "params": VARIANTS[suffix],
            **{f"cures_share_top_{k}pct": row[f"cures_share_top_{k}pct"] for k in (10, 20, 30)},
            "value_share_top_20pct": row["value_share_top_20pct"],
            "value_ratio_to_dpd_rule_top_20pct": round(row["value_share_top_20pct"] / rule, 3),
        }
        for metric in ("cures", "value"):
            shares = [values[f"{metric}_share_top_20pct"] for values in seeds.values()]
            item[f"{metric}_share_top_20pct_by_seed"] = {
                key: values[f"{metric}_share_top_20pct"] for key, values in seeds.items()
            }
            item[f"{metric}_share_top_20pct_mean_min_max"] = [
                round(float(np.mean(shares)), 4),
                min(shares),
                max(shares),
            ]
        item["value_ratio_to_dpd_rule_top_20pct_mean"] = round(
            item["value_share_top_20pct_mean_min_max"][0] / rule, 3
        )
        summary.append(item)
    return summary


def _print_variants(summary: list[dict]) -> None:
    print(f"{'policy':10s} {'cures 10/20/30 %':>20s} {'value@20':>8s} {'ratio':>6s}   seeds")
    for item in summary:
        cures = " ".join(f"{item[f'cures_share_top_{k}pct']:.3f}" for k in (10, 20, 30))
        mean, low, high = item["value_share_top_20pct_mean_min_max"]
        c_mean, c_low, c_high = item["cures_share_top_20pct_mean_min_max"]
        print(
            f"{item['policy']:10s} {cures:>20s} {item['value_share_top_20pct']:8.3f} "
            f"{item['value_ratio_to_dpd_rule_top_20pct']:6.2f}   cures@20 {c_mean:.3f} "
            f"[{c_low:.3f}, {c_high:.3f}], value@20 {mean:.3f} [{low:.3f}, {high:.3f}]"
        )


def _print_table(rows: list[dict]) -> None:
    header = f"{'policy':16s} {'cures 10/20/30 %':>22s}   {'value 10/20/30 %':>22s}"
    print(header)
    for row in rows:
        cures = " ".join(f"{row[f'cures_share_top_{k}pct']:6.3f}" for k in (10, 20, 30))
        value = " ".join(f"{row[f'value_share_top_{k}pct']:6.3f}" for k in (10, 20, 30))
        print(f"{row['policy']:16s} {cures:>22s}   {value:>22s}")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--null-customers", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--fit-rows", type=int, default=1_000_000)
    parser.add_argument("--fit-features", type=int, default=60)
    parser.add_argument("--fit-only", action="store_true", help="only time DRLearner.fit")
    parser.add_argument("--skip-fit-time", action="store_true")
    parser.add_argument("--null-seeds", type=int, default=3, help="null-effect books")
    parser.add_argument(
        "--null-only",
        action="store_true",
        help="only the null-effect check (of --null-learner), merged into the results file",
    )
    parser.add_argument("--null-learner", default="x", help="policy valued with --null-only")
    parser.add_argument(
        "--train-design",
        choices=("landmark", "trial"),
        default="landmark",
        help="construction of the training rows (build_training_set's design)",
    )
    args = parser.parse_args()
    if args.fit_only:
        print(json.dumps(time_dr_fit(args.fit_rows, args.fit_features, 1, args.seed)))
        return

    # LightGBM and the overlap check warn on every fit; the bench reports figures instead.
    warnings.filterwarnings("ignore", category=UserWarning)
    phases = Phases()
    name = "uplift" if args.train_design == "landmark" else "uplift_trial"
    null_seeds = range(args.seed, args.seed + args.null_seeds)
    if args.null_only:
        path = RESULTS_DIR / f"{name}.json"
        report = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
        for key in ("benchmark", "peak_rss_gb", "machine"):
            report.pop(key, None)
        report["null_effect"] = null_effect_checks(
            args.null_customers, null_seeds, args.null_learner, phases, args.train_design
        )
        print(json.dumps(report["null_effect"]["coverage"]), flush=True)
        write_result(name, report)
        return
    report: dict = {
        "command": "python -m bench uplift  (" + " ".join(sys.argv[1:]) + ")",
        "load_average_1_5_15_before": os.getloadavg(),
    }
    with phases("simulate"):
        data = simulated_split(
            args.customers, args.seed, "heterogeneous", True, design=args.train_design
        )
    train, test = data["train"], data["test"]
    report["heterogeneous"] = {
        "customers": args.customers,
        "train_design": args.train_design,
        "seed": args.seed,
        "history_months": HISTORY_MONTHS,
        "treatment_window_days": TREATMENT_WINDOW,
        "horizon_days": HORIZON,
        "train_snapshots": data["train_snapshots"],
        "test_snapshots": data["test_snapshots"],
        "train_rows": len(train),
        "test_rows": len(test),
        "test_visited_share": round(float(test.treatment.mean()), 4),
        "test_cured_share": round(float(test.cured.mean()), 4),
        "test_true_uplift_mean": round(float(data["test_uplift"].mean()), 4),
        "test_true_uplift_negative_share": round(float((data["test_uplift"] < 0).mean()), 4),
    }
    rows = decision_table(data, args.seed, phases)
    report["heterogeneous"]["estimand"] = data["estimand"]
    _print_table(rows)
    report["table"] = rows
    report["targets"] = {"definition": TARGETS, **_targets(rows)}
    report["seed_spread_top_20pct"] = seed_spread(data, (args.seed + 1, args.seed + 2), phases)
    print(json.dumps(report["seed_spread_top_20pct"]), flush=True)
    report["variants"] = variant_summary(rows, report["seed_spread_top_20pct"], args.seed)
    _print_variants(report["variants"])
    best = report["targets"]["cures"]["best_learner"]
    report["null_effect"] = null_effect_checks(
        args.null_customers, null_seeds, best, phases, args.train_design
    )
    print(json.dumps(report["null_effect"]["coverage"]), flush=True)
    if not args.skip_fit_time:
        with phases("dr_fit_time"):
            report["dr_fit_time"] = _fit_time_child(args.fit_rows, args.fit_features, args.seed)
        print(json.dumps(report["dr_fit_time"]), flush=True)
    report["seconds"] = {name: round(value, 1) for name, value in phases.seconds.items()}
    report["total_seconds"] = round(phases.total(), 1)
    report["load_average_1_5_15_after"] = os.getloadavg()
    # A trial-design run is a comparison, kept beside the default (landmark) results.
    write_result(name, report)


if __name__ == "__main__":
    main()
