"""Benchmark of the visit planner: scale, and optimality against an independent exact MILP.

1. Scale: 1,000,000 scored customers in 1,000 branches, 5,000 officers (30 % also covering a
   neighbouring branch), 10 working days. Target: a plan in <= 60 s and <= 4 GB peak RSS.
2. Optimality on 20,000 customers with heavy cross-branch coverage: the planner's total
   expected gain against an independent MILP with one binary per (customer, officer),
   solved by HiGHS; the cost of the holdout; the value of coverage (plan with home
   branches only); and the route heuristic (nearest neighbour + 2-opt) against the
   shortest path found by enumerating every order, on days with up to 7 stops.

Run: ``PYTHONPATH=src python bench/bench_planning.py`` (writes bench/results/planning.json).
The synthetic inputs are generated in memory from fixed seeds.
"""

from __future__ import annotations

import itertools
import json
import platform
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from visitrisk.planning import PlanRules, plan_visits

START = "2026-11-30"  # a Monday: 14 calendar days hold 10 working days (Mon-Fri)
DAYS = 14
RESULTS = Path(__file__).parent / "results" / "planning.json"


def peak_rss_mb() -> float:
    # Linux reports ru_maxrss in kilobytes.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def synthetic_scores(n_customers: int, n_branches: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    weight = rng.lognormal(0.0, 0.5, n_branches)
    branch = rng.choice(n_branches, n_customers, p=weight / weight.sum())
    centre = rng.uniform([28.0, 115.0], [31.0, 120.0], (n_branches, 2))
    township = rng.integers(0, 5, n_customers)
    village = rng.integers(0, 6, n_customers)
    # A village sits a few km from its branch; its customers within about a km of it.
    village_offset = rng.normal(0, 0.06, (n_branches, 5, 6, 2))
    position = (
        centre[branch]
        + village_offset[branch, township, village]
        + rng.normal(0, 0.008, (n_customers, 2))
    )
    arrears = rng.lognormal(8.0, 1.0, n_customers).round(2)
    uplift = rng.normal(0.04, 0.06, n_customers)
    p_no_visit = rng.uniform(0.1, 0.8, n_customers)
    last_visit = pd.Timestamp(START) - pd.to_timedelta(rng.integers(1, 120, n_customers), "D")
    branch_names = np.char.add("B", np.char.zfill(np.arange(n_branches).astype(str), 4))
    return pd.DataFrame(
        {
            "branch_id": branch_names[branch],
            "p_cure_visit": np.clip(p_no_visit + uplift, 0, 1),
            "p_cure_no_visit": p_no_visit,
            "uplift": uplift,
            "value_at_stake": arrears,
            "expected_gain": uplift * arrears,
            "days_past_due": rng.integers(1, 365, n_customers),
            "arrears": arrears,
            "do_not_visit": rng.random(n_customers) < 0.02,
            "last_visit_date": last_visit.where(rng.random(n_customers) < 0.2),
            "township": np.char.add(branch_names[branch], np.char.add("-T", township.astype(str))),
            "village": np.char.add("V", village.astype(str)),
            "latitude": position[:, 0],
            "longitude": position[:, 1],
            "reason_1": "arrears grew over the last 30 days",
        },
        index=pd.Index(
            np.char.add("C", np.char.zfill(np.arange(n_customers).astype(str), 7)),
            name="customer_id",
        ),
    )


def synthetic_staff(
    n_officers: int, n_branches: int, cover_share: float, seed: int, covers: int = 1
) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    home = np.arange(n_officers) % n_branches
    branch_names = np.char.add("B", np.char.zfill(np.arange(n_branches).astype(str), 4))
    covered = np.full(n_officers, "", dtype=object)
    mask = rng.random(n_officers) < cover_share
    for step in range(1, covers + 1):
        neighbour = branch_names[(home + rng.integers(1, 4, n_officers) * step) % n_branches]
        covered[mask] = (covered[mask] + " " + neighbour[mask]).astype(object)
    absent = np.where(rng.random(n_officers) < 0.1, "2026-12-02 2026-12-03", "")
    return pd.DataFrame(
        {
            "officer_id": np.char.add("O", np.char.zfill(np.arange(n_officers).astype(str), 5)),
            "branch_id": branch_names[home],
            "visits_per_day": rng.integers(4, 9, n_officers),
            "working_days": "Mon Tue Wed Thu Fri",
            "covers_branches": pd.Series(covered).str.strip(),
            "absent_dates": absent,
        }
    )


def independent_milp(scores: pd.DataFrame, staff: pd.DataFrame, rules: PlanRules) -> float:
    """Best total gain: one binary per (customer, officer) able to visit them, HiGHS."""
    from scipy import sparse
    from scipy.optimize import Bounds, LinearConstraint, milp

    gain = scores["expected_gain"].to_numpy() - rules.visit_cost
    since = pd.Timestamp(START) - scores["last_visit_date"]
    eligible = (
        (gain > 0)
        & ~scores["do_not_visit"].to_numpy()
        & ~(since < pd.Timedelta(days=rules.cooldown_days)).to_numpy()
    )
    customer = np.flatnonzero(eligible)
    days = pd.date_range(START, periods=DAYS)
    working_days = staff["working_days"].str.split()
    capacity = np.zeros(len(staff))
    for day in days:
        works = working_days.map(lambda names, d=day: d.strftime("%a") in names).to_numpy()
        away = staff["absent_dates"].str.contains(day.strftime("%Y-%m-%d")).to_numpy()
        capacity += np.where(works & ~away, staff["visits_per_day"], 0)
    cover = pd.concat(
        [
            pd.DataFrame({"officer": np.arange(len(staff)), "branch_id": staff["branch_id"]}),
            pd.DataFrame(
                {
                    "officer": np.arange(len(staff)),
                    "branch_id": staff["covers_branches"].str.split(),
                }
            ).explode("branch_id"),
        ]
    ).dropna()
    pairs = pd.DataFrame(
        {"customer": customer, "branch_id": scores["branch_id"].to_numpy()[customer]}
    ).merge(cover, on="branch_id")
    n_pairs = len(pairs)
    rows = np.concatenate(
        [np.searchsorted(customer, pairs["customer"]), len(customer) + pairs["officer"]]
    )
    matrix = sparse.csr_array(
        (np.ones(2 * n_pairs), (rows, np.tile(np.arange(n_pairs), 2))),
        shape=(len(customer) + len(staff), n_pairs),
    )
    upper = np.concatenate([np.ones(len(customer)), capacity])
    result = milp(
        -gain[pairs["customer"].to_numpy()],
        constraints=LinearConstraint(matrix, -np.inf, upper),
        bounds=Bounds(0, 1),
        integrality=np.ones(n_pairs),
    )
    return float(-result.fun)


def route_gap(plan_frame: pd.DataFrame, scores: pd.DataFrame, max_stops: int = 7) -> dict:
    """Planned km against the shortest open path (every order tried) on small days."""
    visits = plan_frame[plan_frame["arm"] == "visit"].join(
        scores[["latitude", "longitude"]], on="customer_id"
    )

    def length(lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
        lat, lon = np.radians(lat), np.radians(lon)
        inner = (
            np.sin(np.diff(lat, axis=-1) / 2) ** 2
            + np.cos(lat[..., :-1]) * np.cos(lat[..., 1:]) * np.sin(np.diff(lon, axis=-1) / 2) ** 2
        )
        return (2 * 6371.0088 * np.arcsin(np.sqrt(inner))).sum(axis=-1)

    planned = optimal = 0.0
    days = 0
    for _, day in visits.groupby(["officer_id", "visit_date"]):
        if len(day) < 3 or len(day) > max_stops:
            continue
        ordered = day.sort_values("stop_order")
        lat, lon = ordered["latitude"].to_numpy(), ordered["longitude"].to_numpy()
        orders = np.array(list(itertools.permutations(range(len(day)))))
        planned += float(length(lat, lon))
        optimal += float(length(lat[orders], lon[orders]).min())
        days += 1
    return {
        "officer_days_checked": days,
        "km_planned": planned,
        "km_shortest": optimal,
        "gap": planned / optimal - 1 if optimal else 0.0,
    }


def bench_scale() -> dict:
    scores = synthetic_scores(1_000_000, 1_000, seed=1)
    staff = synthetic_staff(5_000, 1_000, cover_share=0.3, seed=2)
    started = time.perf_counter()
    plan = plan_visits(scores, staff, START, DAYS, holdout=0.1, seed=0)
    seconds = time.perf_counter() - started
    peak = peak_rss_mb()
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as folder:
        plan.to_csv(folder)
    csv_seconds = time.perf_counter() - started
    summary = plan.summary
    return {
        "customers": len(scores),
        "branches": 1_000,
        "officers": len(staff),
        "working_days": 10,
        "seconds": round(seconds, 2),
        "peak_rss_mb": round(peak, 1),
        "to_csv_seconds": round(csv_seconds, 2),
        "target": {"seconds": 60, "peak_rss_mb": 4096},
        "method": summary["method"],
        "capacity": summary["capacity"],
        "visits_planned": summary["visits_planned"],
        "holdout_size": summary["holdout_size"],
        "expected_gain_cny": round(summary["expected_gain"], 2),
        "expected_incremental_cures": round(summary["expected_incremental_cures"], 2),
        "expected_cures_given_up": round(summary["expected_cures_given_up"], 2),
        "km_per_officer_day": round(summary["km_per_officer_day"], 3),
        "exclusions_by_reason": summary["exclusions_by_reason"],
    }


def bench_gap() -> dict:
    scores = synthetic_scores(20_000, 40, seed=3)
    staff = synthetic_staff(150, 40, cover_share=0.6, seed=4, covers=2)
    rules = PlanRules()
    started = time.perf_counter()
    plan = plan_visits(scores, staff, START, DAYS, rules=rules, holdout=0.0)
    planner_seconds = time.perf_counter() - started
    started = time.perf_counter()
    exact = independent_milp(scores, staff, rules)
    milp_seconds = time.perf_counter() - started
    gain = plan.summary["expected_gain"]
    with_holdout = plan_visits(scores, staff, START, DAYS, rules=rules, holdout=0.1)
    home_only = plan_visits(
        scores, staff.assign(covers_branches=""), START, DAYS, rules=rules, holdout=0.0
    )
    return {
        "customers": len(scores),
        "branches": 40,
        "officers": len(staff),
        "method": plan.summary["method"],
        "planner_gain_cny": round(gain, 4),
        "independent_milp_gain_cny": round(exact, 4),
        "optimality_gap": (exact - gain) / exact,
        "planner_seconds": round(planner_seconds, 3),
        "independent_milp_seconds": round(milp_seconds, 3),
        "holdout_0.1_gain_given_up_share": (gain - with_holdout.summary["expected_gain"]) / gain,
        "home_branch_only_gain_given_up_share": (gain - home_only.summary["expected_gain"]) / gain,
        "routes": route_gap(plan.plan, scores),
    }


def main() -> None:
    results = {
        "python": platform.python_version(),
        "scale": bench_scale(),
        "optimality": bench_gap(),
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    json.dump(results, sys.stdout, indent=2)
    print()


if __name__ == "__main__":
    main()
