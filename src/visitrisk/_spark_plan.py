"""Planning on Spark: one :func:`visitrisk.plan_visits` per group of branches sharing officers.

Private to :mod:`visitrisk.spark`. pyspark is imported inside the functions only.
"""

from __future__ import annotations

import json
import pickle
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

    from visitrisk.planning import PlanRules, VisitPlan

__all__ = ["officer_groups", "plan_visits"]

_GROUP = "_group"

#: ``start``, ``days``, ``rules``, ``holdout`` and ``seed`` of a plan, checked.
_PlanArguments = tuple[pd.Timestamp, int, "PlanRules", float, int]


def officer_groups(staff: pd.DataFrame, branch_ids: Sequence[str] = ()) -> pd.DataFrame:
    """Group branches that share officers: connected components of home and covered branches.

    Parameters
    ----------
    staff : pandas.DataFrame
        The contract's staff table (``branch_id``, optional ``covers_branches``).
    branch_ids : sequence of str, optional
        Further branches (e.g. those of the scored customers); a branch no officer covers
        is a group of its own.

    Returns
    -------
    pandas.DataFrame
        ``branch_id`` and ``group`` (0, 1, ... numbered by each group's smallest branch_id).
    """
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    home = staff["branch_id"].astype("str").to_numpy()
    covers = (
        staff["covers_branches"].fillna("").astype("str")
        if "covers_branches" in staff.columns
        else pd.Series("", index=staff.index)
    )
    covered = covers.str.split().explode().dropna()
    covered = covered[covered != ""]
    edges_from = np.concatenate([home, home[covered.index.to_numpy()]])
    edges_to = np.concatenate([home, covered.astype("str").to_numpy()])
    branches = np.unique(
        np.concatenate([edges_from, edges_to, np.asarray(list(branch_ids), dtype=str)])
    )
    source = np.searchsorted(branches, edges_from)
    target = np.searchsorted(branches, edges_to)
    graph = coo_matrix((np.ones(len(source)), (source, target)), shape=(len(branches),) * 2)
    _, label = connected_components(graph, directed=False)
    # Renumber by first appearance in sorted branch order: stable across runs.
    _, first = np.unique(label, return_index=True)
    order = np.argsort(np.argsort(first))
    return pd.DataFrame({"branch_id": pd.array(branches, dtype="str"), "group": order[label]})


_PLAN_PART_SCHEMA = "part string, payload binary"


def _frame_bytes(frame: pd.DataFrame) -> bytes:
    # Pickled, not Parquet: Parquet turns datetime64[s] into [ms]. Only ever unpickled by
    # the driver that started this job, from bytes its own tasks wrote.
    return pickle.dumps(frame, protocol=5)


def _plan_group(
    scores: pd.DataFrame, staff: pd.DataFrame, arguments: _PlanArguments
) -> pd.DataFrame:
    """Plan one group; ``arguments`` as :func:`visitrisk.plan_visits` takes them, checked."""
    from visitrisk._plan_inputs import prepare_scores
    from visitrisk.planning import plan_visits

    # Dates as the contract types them (microseconds): the plan id hashes the score rows.
    for column in scores.columns:
        if scores[column].dtype.kind == "M":
            scores[column] = scores[column].astype("datetime64[us]")
    plan = plan_visits(scores, staff, *arguments)
    prepared = prepare_scores(scores)
    hashes = pd.DataFrame(
        {
            "customer_id": prepared["customer_id"],
            "row_hash": pd.util.hash_pandas_object(prepared, index=False).to_numpy(),
        }
    )
    parts = {
        "plan": _frame_bytes(plan.plan),
        "exclusions": _frame_bytes(plan.exclusions),
        "routes": _frame_bytes(plan.routes),
        "hashes": _frame_bytes(hashes),
        "summary": json.dumps(plan.summary).encode("utf-8"),
    }
    return pd.DataFrame({"part": list(parts), "payload": list(parts.values())})


def plan_visits(
    scores: DataFrame,
    staff: pd.DataFrame,
    start: str | pd.Timestamp,
    days: int,
    rules: PlanRules | None = None,
    holdout: float = 0.1,
    seed: int = 0,
) -> VisitPlan:
    """:func:`visitrisk.plan_visits` run per group of branches that share officers, in parallel.

    Branches are grouped by :func:`officer_groups`; each group's customers and officers go
    to :func:`visitrisk.plan_visits` in one ``cogroup(...).applyInPandas`` call (a group
    with officers and no customer still counts its capacity). No officer serves two groups
    and a customer's holdout draw depends only on its id and the seed, so the union of the
    groups' plans is the plan of the whole; the plan id is computed from every group's
    prepared score rows, as :func:`visitrisk.plan_visits` computes it.

    Parameters
    ----------
    scores : pyspark.sql.DataFrame
        Scores with the columns :func:`visitrisk.plan_visits` needs (``customer_id``
        as a column).
    staff : pandas.DataFrame
        The contract's staff table (small: it stays on the driver and is split by group).
    start, days, rules, holdout, seed
        As in :func:`visitrisk.plan_visits`.

    Returns
    -------
    VisitPlan
        The merged plan, exclusions, routes and summary (float totals of the summary are
        sums over groups: equal to the pandas figures up to float rounding).
    """
    from pyspark.sql import functions as F  # noqa: N812

    from visitrisk.planning import _checked_arguments, _plan_id_of_rows

    arguments = _checked_arguments(start, days, rules, holdout, seed)
    spark = scores.sparkSession
    branch_ids = [row[0] for row in scores.select("branch_id").distinct().collect()]
    groups = officer_groups(staff, [str(value) for value in branch_ids if value is not None])
    group_of = spark.createDataFrame(groups.rename(columns={"group": _GROUP}))
    # The join puts its key first: keep the scores' own column order (the plan id hashes it).
    scored = (
        scores.join(F.broadcast(group_of), "branch_id", "left")
        .fillna({_GROUP: -1})
        .select(*scores.columns, _GROUP)
    )
    # Officers stay on the driver (a small table); each group takes its own by group id.
    # Cogrouping with every group id runs groups that have officers but no customer too.
    staff_group = (
        groups.set_index("branch_id")["group"].reindex(staff["branch_id"].astype("str")).to_numpy()
    )
    group_ids = spark.createDataFrame(
        pd.DataFrame({_GROUP: np.unique(groups["group"].to_numpy()).astype(np.int64)})
    )
    parts = (
        scored.groupBy(_GROUP)
        .cogroup(group_ids.groupBy(_GROUP))
        .applyInPandas(
            lambda group_scores, group: _plan_group(
                group_scores.drop(columns=_GROUP),
                staff.loc[staff_group == _group_id(group)].reset_index(drop=True),
                arguments,
            ),
            _PLAN_PART_SCHEMA,
        )
        .toPandas()
    )  # fmt: skip
    hashes = _read_parts(parts, "hashes").sort_values("customer_id", kind="stable")
    plan_id = _plan_id_of_rows(hashes["row_hash"].to_numpy(np.uint64), staff, *arguments)
    return _merged_plan(parts, plan_id)


def _group_id(group: pd.DataFrame) -> int:
    # Customers of a branch with no group (no branch_id) come with no group row.
    return int(group[_GROUP].iloc[0]) if len(group) else -1


def _read_parts(parts: pd.DataFrame, name: str) -> pd.DataFrame:
    frames = [pickle.loads(payload) for payload in parts.loc[parts["part"] == name, "payload"]]
    return pd.concat(frames, ignore_index=True)


def _merged_plan(parts: pd.DataFrame, plan_id: str) -> VisitPlan:
    """Union of the groups' plans, in the order and with the summary of one whole plan."""
    from visitrisk.planning import EXCLUSION_REASONS, VisitPlan

    plan = _read_parts(parts, "plan")
    plan["plan_id"] = pd.Series(plan_id, index=plan.index, dtype="str")
    visits = plan.loc[plan["arm"] == "visit"].sort_values(
        ["officer_id", "visit_date", "stop_order"], kind="stable"
    )
    held = plan.loc[plan["arm"] == "holdout"].sort_values(
        ["branch_id", "expected_gain", "customer_id"], ascending=[True, False, True], kind="stable"
    )
    plan = pd.concat([visits, held], ignore_index=True)
    exclusions = (
        _read_parts(parts, "exclusions")
        .sort_values(["branch_id", "customer_id"], kind="stable")
        .reset_index(drop=True)
    )
    routes = (
        _read_parts(parts, "routes")
        .sort_values(["officer_id", "visit_date"], kind="stable")
        .reset_index(drop=True)
    )
    summaries = [
        json.loads(payload) for payload in parts.loc[parts["part"] == "summary", "payload"]
    ]
    summary = dict(summaries[0])

    def total(key: str) -> Any:
        return sum(part[key] for part in summaries)

    counts = ("customers", "eligible", "officers", "crew_days", "capacity", "visits_planned")
    counts += ("must_visit_served", "must_visit_eligible", "holdout_size", "refill_visits")
    for key in counts:
        summary[key] = int(total(key))
    for key in ("expected_gain", "expected_incremental_cures", "expected_cures_given_up",
                "expected_cures_given_up_net_of_refill", "km_total"):  # fmt: skip
        summary[key] = float(total(key))
    # Customers randomised in a group: h / share, or (with no holdout drawn) every
    # selected customer who is not must-visit, i.e. visits - must-visit served.
    randomised = sum(
        round(part["holdout_size"] / part["holdout_share"])
        if part["holdout_size"]
        else part["visits_planned"] - part["must_visit_served"]
        for part in summaries
    )
    summary["plan_id"] = plan_id
    summary["method"] = "milp" if any(p["method"] == "milp" for p in summaries) else "per_branch"
    summary["capacity_used"] = (
        summary["visits_planned"] / summary["capacity"] if summary["capacity"] else 0.0
    )
    summary["holdout_share"] = summary["holdout_size"] / max(randomised, 1)
    summary["exclusions_by_reason"] = {
        code: int(sum(part["exclusions_by_reason"][code] for part in summaries))
        for code in EXCLUSION_REASONS
    }
    km = routes["km"].to_numpy(dtype=float)
    summary["km_per_officer_day"] = float(np.nanmean(km)) if np.isfinite(km).any() else None
    return VisitPlan(plan=plan, exclusions=exclusions, routes=routes, summary=summary)
