"""Capacity and the optimiser of a visit plan.

Crew-days (an officer, or a team formed that day) are pooled into coverage groups: crews
with the same branches covered are interchangeable, because a visit can happen on any day
of the plan. The allocation of each group's capacity to branches is then exact: per-branch
top-k where a group covers one branch, a HiGHS LP/MILP where groups couple branches.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

__all__ = ["crew_days", "select"]


def crew_days(
    staff_tables: dict[str, Any], branch_code: pd.Index, first_day: int, days: int, team_size: int
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Every crew-day that can visit: crew name, day, capacity and coverage group.

    A crew is one officer, or a team of ``team_size`` officers formed that day.

    Returns
    -------
    crews : DataFrame
        Columns ``crew`` (officer id, or member ids joined by spaces), ``day`` (day number),
        ``capacity`` (visits), ``group`` (coverage group code); sorted by group, crew, day.
    groups : DataFrame
        One row per (group, branch code) covered, with the group's total ``capacity``.
    """
    officers = staff_tables["officers"]
    coverage = staff_tables["coverage"]
    day_numbers = np.arange(first_day, first_day + days, dtype=np.int64)
    # 1970-01-01 (day 0) was a Thursday: weekday index with Monday = 0.
    weekday = (day_numbers + 3) % 7
    n_officers = len(officers)
    row = np.repeat(np.arange(n_officers), days)
    day = np.tile(day_numbers, n_officers)
    works = (officers["weekday_mask"].to_numpy()[row] >> np.tile(weekday, n_officers)) & 1 == 1
    works &= officers["visits_per_day"].to_numpy()[row] > 0
    absences = staff_tables["absences"]
    if len(absences):
        absent_key = absences["row"].to_numpy() * (1 << 32) + absences["day"].to_numpy()
        works &= ~np.isin(row * (1 << 32) + day, absent_key)
    duty = pd.DataFrame({"row": row[works], "day": day[works]})
    duty["capacity"] = officers["visits_per_day"].to_numpy()[duty["row"].to_numpy()]

    coverage = coverage.assign(branch=branch_code.get_indexer(coverage["branch_id"]))
    coverage = coverage[coverage["branch"] >= 0].sort_values(["row", "branch"])
    officer_key = (
        coverage.groupby("row")["branch"]
        .agg(lambda codes: " ".join(map(str, codes)))
        .reindex(range(n_officers), fill_value="")
    )

    if team_size == 1:
        crews = duty.assign(
            crew=officers["officer_id"].to_numpy()[duty["row"].to_numpy()],
            key=officer_key.to_numpy()[duty["row"].to_numpy()],
        )
    else:
        duty = duty.assign(
            home=officers["home"].to_numpy()[duty["row"].to_numpy()],
            key=officer_key.to_numpy()[duty["row"].to_numpy()],
            officer_id=officers["officer_id"].to_numpy()[duty["row"].to_numpy()],
        ).sort_values(["day", "home", "key", "officer_id"], kind="stable")
        # Officers with identical coverage team up first; the ones left over then team up
        # across coverages within the home branch, and a last incomplete team stays home.
        same = duty.groupby(["day", "home", "key"]).cumcount() // team_size
        full = duty.assign(team=same).groupby(["day", "home", "key", "team"])["row"]
        paired = full.transform("size").to_numpy() == team_size
        duty["team"] = np.where(paired, same, -1)
        duty["stage"] = np.where(paired, 0, 1)
        leftover = ~paired
        duty.loc[leftover, "team"] = (
            duty[leftover].groupby(["day", "home"]).cumcount().to_numpy() // team_size
        )
        duty.loc[leftover, "key"] = ""
        members = duty.groupby(["day", "home", "stage", "key", "team"])["row"].transform("size")
        duty = duty[members == team_size]
        team_of = (
            duty.groupby(["day", "home", "stage", "key", "team"], sort=True).ngroup().to_numpy()
        )
        duty = duty.assign(team_of=team_of)
        teams = duty.groupby("team_of").agg(
            day=("day", "first"),
            capacity=("capacity", "min"),
            crew=("officer_id", lambda ids: " ".join(sorted(ids))),
        )
        shared = duty[["team_of", "row"]].merge(coverage[["row", "branch"]], on="row")
        counts = shared.groupby(["team_of", "branch"]).size()
        common = counts[counts == team_size].reset_index()[["team_of", "branch"]]
        teams["key"] = (
            common.sort_values(["team_of", "branch"])
            .groupby("team_of")["branch"]
            .agg(lambda codes: " ".join(map(str, codes)))
        )
        crews = teams.reset_index(drop=True)
    crews = crews[crews["key"].fillna("") != ""]
    group_keys, group = np.unique(crews["key"].to_numpy(dtype=str), return_inverse=True)
    crews = pd.DataFrame(
        {
            "crew": crews["crew"].to_numpy(dtype=str),
            "day": crews["day"].to_numpy(dtype=np.int64),
            "capacity": crews["capacity"].to_numpy(dtype=np.int64),
            "group": group.astype(np.int64),
        }
    )
    crews = crews.sort_values(["group", "crew", "day"], kind="stable").reset_index(drop=True)
    capacity = np.bincount(crews["group"], weights=crews["capacity"], minlength=len(group_keys))
    members = pd.Series(group_keys).str.split().explode()
    groups = pd.DataFrame(
        {
            "group": members.index.to_numpy(dtype=np.int64),
            "branch": members.to_numpy().astype(np.int64),
        }
    )
    groups["capacity"] = capacity[groups["group"].to_numpy()].astype(np.int64)
    groups["size"] = groups.groupby("group")["branch"].transform("size")
    return crews, groups


def _solve_shared(
    column_branch: np.ndarray,
    column_gain: np.ndarray,
    column_must: np.ndarray,
    edge_branch: np.ndarray,
    edge_group: np.ndarray,
    group_capacity: np.ndarray,
) -> np.ndarray:
    """Allocate the capacity of multi-branch coverage groups, exactly (HiGHS).

    Columns are the candidate customers still unserved, each a bounded variable in
    ``[0, 1]`` tied to its branch by a balance row; edges are integer flows (branch,
    group), limited by the group's capacity. Returns the integer flow of every edge.

    The constraint matrix is a network matrix (totally unimodular), so the vertex HiGHS's
    simplex returns for the LP relaxation is already integral; solving it as an LP is ~10x
    faster than asking the MILP solver for integer flows. Only when it is not integral
    (the must-visit row can break unimodularity) is the problem solved again with integer
    flows.
    """
    from scipy import sparse
    from scipy.optimize import Bounds, LinearConstraint, milp

    n_edges, n_columns = len(edge_branch), len(column_branch)
    groups, edge_group_row = np.unique(edge_group, return_inverse=True)
    branches, balance_row = np.unique(
        np.concatenate([edge_branch, column_branch]), return_inverse=True
    )
    n_groups = len(groups)
    edge_balance, column_balance = balance_row[:n_edges], balance_row[n_edges:]
    rows = np.concatenate([edge_group_row, n_groups + edge_balance, n_groups + column_balance])
    cols = np.concatenate([np.arange(n_edges), np.arange(n_edges), n_edges + np.arange(n_columns)])
    values = np.concatenate([np.ones(n_edges), -np.ones(n_edges), np.ones(n_columns)])
    n_rows = n_groups + len(branches)
    matrix = sparse.csr_array((values, (rows, cols)), shape=(n_rows, n_edges + n_columns))
    lower = np.concatenate([np.full(n_groups, -np.inf), np.zeros(len(branches))])
    upper = np.concatenate([group_capacity[groups].astype(float), np.zeros(len(branches))])
    constraints = [LinearConstraint(matrix, lower, upper)]
    bounds = Bounds(0, np.concatenate([np.full(n_edges, np.inf), np.ones(n_columns)]))

    def solve(objective: np.ndarray) -> Any:
        cost = np.concatenate([np.zeros(n_edges), -objective])
        result = milp(cost, constraints=constraints, bounds=bounds)
        if (
            result.success
            and np.abs(result.x[:n_edges] - np.round(result.x[:n_edges])).max(initial=0.0) > 1e-6
        ):
            integrality = np.concatenate([np.ones(n_edges), np.zeros(n_columns)])
            result = milp(cost, constraints=constraints, bounds=bounds, integrality=integrality)
        if not result.success:
            raise RuntimeError(f"The visit-plan optimiser (HiGHS) failed: {result.message}")
        return result

    if column_must.any():
        # Lexicographic objective: first the most must-visit customers, then the most gain.
        served = round(-solve(column_must.astype(float)).fun)
        must_row = np.concatenate([np.zeros(n_edges), column_must.astype(float)])
        constraints.append(LinearConstraint(must_row[None, :], served - 1e-6, np.inf))
    result = solve(column_gain)
    return np.round(result.x[:n_edges]).astype(np.int64)


def select(
    branch: np.ndarray,
    gain: np.ndarray,
    must: np.ndarray,
    groups: pd.DataFrame,
    n_branches: int,
) -> tuple[np.ndarray, pd.DataFrame, str]:
    """Choose how many candidates each branch gets, and from which coverage group.

    Candidates must be sorted by branch, then must-visit first, then gain descending.

    Returns
    -------
    taken : ndarray
        Candidates visited per branch (the branch's first ``taken[b]`` candidates).
    quotas : DataFrame
        Columns ``branch``, ``group``, ``quota``: visits of each branch per group.
    method : str
        ``"per_branch"`` when no group couples branches, else ``"milp"``.
    """
    # Capacity that can serve only branch b is used by b's best candidates in every optimal
    # plan (all gains are positive, so leaving it idle never pays); only the capacity of
    # groups covering several branches is left to the solver, for the candidates after them.
    available = np.bincount(branch, minlength=n_branches)
    single = groups[groups["size"] == 1]
    dedicated = np.zeros(n_branches, dtype=np.int64)
    dedicated[single["branch"].to_numpy()] = single["capacity"].to_numpy()
    dedicated_taken = np.minimum(available, dedicated)
    quotas = [
        pd.DataFrame(
            {
                "branch": single["branch"].to_numpy(),
                "group": single["group"].to_numpy(),
                "quota": dedicated_taken[single["branch"].to_numpy()],
            }
        )
    ]
    taken = dedicated_taken.copy()
    multi = groups[groups["size"] > 1]
    left = available - dedicated_taken
    edges = multi[left[multi["branch"].to_numpy()] > 0]
    if len(edges) == 0:
        return taken, pd.concat(quotas, ignore_index=True), "per_branch"
    reach = np.bincount(
        edges["branch"].to_numpy(), weights=edges["capacity"].to_numpy(), minlength=n_branches
    ).astype(np.int64)
    first = np.searchsorted(branch, np.arange(n_branches), side="left")
    position = np.arange(len(branch)) - first[branch]
    # Only the candidates the shared capacity can reach matter: the rest are never chosen.
    column = (position >= dedicated_taken[branch]) & (
        position < dedicated_taken[branch] + reach[branch]
    )
    flow = _solve_shared(
        branch[column],
        gain[column],
        must[column],
        edges["branch"].to_numpy(),
        edges["group"].to_numpy(),
        groups.groupby("group")["capacity"].first().to_numpy(),
    )
    taken += np.bincount(edges["branch"].to_numpy(), weights=flow, minlength=n_branches).astype(
        np.int64
    )
    quotas.append(
        pd.DataFrame(
            {
                "branch": edges["branch"].to_numpy(),
                "group": edges["group"].to_numpy(),
                "quota": flow,
            }
        )
    )
    return taken, pd.concat(quotas, ignore_index=True), "milp"
