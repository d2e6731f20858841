"""Time ``DRLearner.fit`` with default settings on a large synthetic training set.

Target (issue 5): 1,000,000 rows × 60 features in <= 5 minutes on 2 cores.

    PYTHONPATH=src python bench/bench_uplift_fit.py --rows 1000000 --features 60 --n-jobs 2
"""

from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np
import pandas as pd

from visitrisk.learners import DRLearner


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--features", type=int, default=60)
    parser.add_argument("--n-jobs", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    features, cured, treatment, customer_id = make_training_rows(
        args.rows, args.features, args.seed
    )
    start, cpu_start = time.perf_counter(), time.process_time()
    learner = DRLearner(random_state=args.seed, n_jobs=args.n_jobs)
    learner.fit(features, cured, treatment, groups=customer_id)
    seconds = time.perf_counter() - start
    cpu_seconds = time.process_time() - cpu_start
    print(
        json.dumps(
            {
                "rows": args.rows,
                "features": args.features,
                "n_jobs": args.n_jobs,
                "cpu_count": os.cpu_count(),
                "fit_seconds": round(seconds, 1),
                "fit_cpu_seconds": round(cpu_seconds, 1),
                "load_average_1min": round(os.getloadavg()[0], 2),
                "share_outside_overlap": round(learner.overlap_.share_outside, 4),
            }
        )
    )


if __name__ == "__main__":
    main()
