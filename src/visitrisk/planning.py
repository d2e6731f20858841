"""Visit plans: staff calendar, capacity, eligibility rules, optimiser, randomised holdout.

:func:`plan_visits` turns customer scores and the staff table into a :class:`VisitPlan`:
who visits whom, on which day, in which order, plus a randomised holdout and, for every
customer not visited, the reason why.

How a plan is made
------------------
1. **Eligibility.** Each customer is checked, in this order, against ``do_not_visit``, the
   cool-down since the last visit (``start - last_visit_date < cooldown_days``), a net
   expected gain ``<= 0``, the optional minimum gain, and whether any officer covers the
   branch on a working day; the first rule that fails is the exclusion reason. Every
   customer of ``scores`` ends in exactly one of the plan and the exclusions.
2. **Capacity.** Every officer works the weekdays of ``working_days`` that fall in
   ``[start, start + days)`` and are not in ``absent_dates``, making up to
   ``visits_per_day`` visits in the home branch or any branch of ``covers_branches``.
   With ``team_size = k > 1`` the working officers of one home branch are grouped, each
   day, into teams of ``k``: officers with identical coverage team up first (by officer
   id), the ones left over then team up across coverages, and an officer left without a
   full team that day makes no visits. A team visits at the pace of its slowest member
   (minimum ``visits_per_day``), only in branches every member covers; its
   ``officer_id`` lists the members separated by spaces.
3. **Selection.** Customers are chosen to maximise the total net expected gain subject to
   the capacity of every officer-day and every officer's coverage, exactly. A visit can
   happen on any day of the horizon, so crews (officers or teams) with the same coverage
   are interchangeable and are pooled into one *coverage group*; and the customers of one
   branch differ only by their gain, so a branch given ``n`` visits takes its ``n`` best.
   A group covering a single branch is therefore filled by that branch's best customers
   (per-branch top-k, the whole solution when no officer covers another branch). Groups
   covering several branches couple them: their allocation is a transportation problem
   over (branch, group) flows plus one bounded column per remaining candidate, solved by
   HiGHS through :func:`scipy.optimize.milp` (see ``_plan_capacity``). With a must-visit
   rule, the number of must-visit customers served is maximised first, then the gain.
4. **Holdout.** Per branch, a seeded random share of the selected customers (must-visit
   customers excepted) is withheld as arm ``holdout``; the freed capacity goes to the
   next-best eligible customers of the same branch. Since the holdout is drawn among the
   selected customers before refilling, every selected customer has exactly the same
   probability ``(n - h) / n`` of being visited (``n`` selected, ``h`` withheld in the
   branch, ``h = round(holdout * n)``, so a branch with fewer than ``0.5 / holdout``
   selected customers gets no holdout) and refill customers are visited with
   probability 1. Each customer's random draw is a seeded hash of its ``customer_id``,
   so it does not depend on the other customers scored: branches that share no officer
   can be planned apart (``visitrisk.spark``) and give the same plan. The summary reports
   the expected cures given up (sum of the holdout's uplift) and the same net of the
   refill visits' uplift.
5. **Days and routes.** Within a coverage group customers are sorted by branch, township,
   village and position, and every crew takes a consecutive run of them, day after day,
   so that one day is one trip. With coordinates, each day's stops are ordered by nearest
   neighbour then improved by 2-opt (haversine distances); ``routes`` reports the
   estimated km between the first and the last stop of every crew-day (the way to and
   from the branch is not included: scores carry no branch coordinates).

Visit cost convention: ``scores["expected_gain"]`` is taken as scored
(``UpliftModel.score`` subtracts the model's own ``visit_cost``, 0 by default), and
``PlanRules.visit_cost`` is subtracted on top; the plan's ``expected_gain`` is net of both.
Set the cost in one of the two places, not both.
"""

from __future__ import annotations

import hashlib
import json
import numbers
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from visitrisk._plan_capacity import crew_days, select
from visitrisk._plan_inputs import (
    REQUIRED_SCORE_COLUMNS,
    prepare_scores,
    prepare_staff,
    staff_digest,
)
from visitrisk._plan_routes import order_stops

__all__ = [
    "EXCLUSION_COLUMNS",
    "EXCLUSION_REASONS",
    "PLAN_COLUMNS",
    "REQUIRED_SCORE_COLUMNS",
    "ROUTE_COLUMNS",
    "PlanRules",
    "VisitPlan",
    "plan_visits",
]

#: Columns of ``visit_plan.csv`` (DATA_CONTRACT.md, "Outputs of a plan"), in file order.
PLAN_COLUMNS: tuple[str, ...] = (
    "plan_id",
    "branch_id",
    "officer_id",
    "visit_date",
    "stop_order",
    "customer_id",
    "rank",
    "arm",
    "assignment_probability",
    "p_cure_visit",
    "p_cure_no_visit",
    "uplift",
    "value_at_stake",
    "expected_gain",
    "days_past_due",
    "arrears",
    "reason_1",
    "reason_2",
    "reason_3",
)

#: Columns of ``exclusions.csv``, in file order.
EXCLUSION_COLUMNS: tuple[str, ...] = ("customer_id", "branch_id", "reason", "detail")

#: Columns of :attr:`VisitPlan.routes`: one row per officer-day (or team-day) with visits.
ROUTE_COLUMNS: tuple[str, ...] = ("officer_id", "visit_date", "stops", "km")

#: Exclusion reason codes, in the order the rules are checked.
EXCLUSION_REASONS: tuple[str, ...] = (
    "do_not_visit",
    "cooldown",
    "non_positive_gain",
    "below_min_gain",
    "no_staff",
    "no_capacity",
)


# ---------------------------------------------------------------------------------------------
# Parameters
# ---------------------------------------------------------------------------------------------


def _is_int(value: object) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _is_real(value: object) -> bool:
    return (
        isinstance(value, numbers.Real)
        and not isinstance(value, bool)
        and bool(np.isfinite(float(value)))
    )


def _check_parameter(
    owner: str, name: str, value: object, valid: Callable[[object], bool], expected: str
) -> None:
    if not valid(value):
        raise ValueError(
            f"The {name!r} parameter of {owner} must be {expected}. Got {value!r} instead."
        )


@dataclass(frozen=True)
class PlanRules:
    """Eligibility rules and costs of a visit plan.

    Parameters
    ----------
    cooldown_days : int, default 30
        A customer visited fewer than this many days before ``start`` is not visited again
        (reason ``cooldown``). ``0`` switches the rule off. Days.
    team_size : int, default 1
        Officers making each visit together (2 for visits in pairs). How teams are formed
        is described in the documentation of :mod:`visitrisk.planning`.
    visit_cost : float, default 0.0
        Cost of one visit (one customer, whatever the team size), CNY, subtracted from the
        ``expected_gain`` of ``scores`` (leave it 0 when the model already subtracted a
        visit cost); the plan's ``expected_gain`` is net of it, and only a positive net
        gain is ever planned.
    min_gain : float or None, default None
        Minimum net expected gain for a visit, CNY (reason ``below_min_gain``).
        Must-visit customers are exempt.
    must_visit_min_dpd : int or None, default None
        Customers with at least this many days past due are must-visit (with
        ``must_visit_min_arrears`` both conditions must hold). Days.
    must_visit_min_arrears : float or None, default None
        Customers with at least these arrears are must-visit, CNY.

    Notes
    -----
    Must-visit customers are served first: the plan maximises the number of them visited,
    then the total gain. They still obey ``do_not_visit``, the cool-down and the rule that
    a visit must have a positive expected gain, and they are never held out.
    """

    cooldown_days: int = 30
    team_size: int = 1
    visit_cost: float = 0.0
    min_gain: float | None = None
    must_visit_min_dpd: int | None = None
    must_visit_min_arrears: float | None = None

    def __post_init__(self) -> None:
        constraints: tuple[tuple[str, Callable[[object], bool], str], ...] = (
            ("cooldown_days", lambda v: _is_int(v) and v >= 0, "a non-negative int (days)"),
            ("team_size", lambda v: _is_int(v) and v >= 1, "a positive int (officers)"),
            ("visit_cost", lambda v: _is_real(v) and v >= 0, "a non-negative number (CNY)"),
            (
                "min_gain",
                lambda v: v is None or (_is_real(v) and v >= 0),
                "None or a non-negative number (CNY)",
            ),
            (
                "must_visit_min_dpd",
                lambda v: v is None or (_is_int(v) and v >= 0),
                "None or a non-negative int (days)",
            ),
            (
                "must_visit_min_arrears",
                lambda v: v is None or (_is_real(v) and v >= 0),
                "None or a non-negative number (CNY)",
            ),
        )
        for name, valid, expected in constraints:
            _check_parameter("PlanRules", name, getattr(self, name), valid, expected)

    @property
    def has_must_visit(self) -> bool:
        """Whether a must-visit rule is set."""
        return self.must_visit_min_dpd is not None or self.must_visit_min_arrears is not None


# ---------------------------------------------------------------------------------------------
# The plan
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class VisitPlan:
    """A visit plan and everything needed to explain it.

    Attributes
    ----------
    plan : pandas.DataFrame
        One row per scheduled visit or holdout customer, columns :data:`PLAN_COLUMNS`.
        Visits are sorted by officer, date and stop order, then holdout rows by branch and
        rank. For teams, ``officer_id`` lists the members separated by spaces.
    exclusions : pandas.DataFrame
        One row per customer of ``scores`` not in ``plan``, columns
        :data:`EXCLUSION_COLUMNS`, sorted by branch and customer.
    routes : pandas.DataFrame
        One row per officer-day with visits, columns :data:`ROUTE_COLUMNS`; ``km`` is the
        estimated distance between the first and last stop (NaN without coordinates).
    summary : dict
        Plain JSON-serialisable figures: ``plan_id``, ``start``, ``end``, ``days``,
        ``seed``, ``method`` (``"per_branch"`` or ``"milp"``), ``customers``, ``eligible``,
        ``officers``, ``crew_days``, ``capacity`` (visit slots), ``visits_planned``,
        ``capacity_used`` (share), ``must_visit_served``, ``holdout_size``,
        ``holdout_share`` (of the randomised customers), ``refill_visits``,
        ``expected_gain`` (CNY, visits), ``expected_incremental_cures`` (sum of the visits'
        uplift), ``expected_cures_given_up`` (sum of the holdout's uplift),
        ``expected_cures_given_up_net_of_refill``, ``exclusions_by_reason``, ``km_total``
        and ``km_per_officer_day`` (None without coordinates).
    """

    plan: pd.DataFrame
    exclusions: pd.DataFrame
    routes: pd.DataFrame
    summary: dict[str, Any]

    @property
    def plan_id(self) -> str:
        """Identifier of the plan, stable for the same inputs and seed."""
        return str(self.summary["plan_id"])

    def to_csv(self, out_dir: str | Path) -> tuple[Path, Path]:
        """Write ``visit_plan.csv`` and ``exclusions.csv`` into ``out_dir``.

        The files are those of :func:`visitrisk.write_csv`: byte-identical for the same
        plan, UTF-8 with a byte-order mark, CRLF line endings, dates ``YYYY-MM-DD``, empty
        cells for missing values, formula-like text guarded.

        Parameters
        ----------
        out_dir : str or Path
            Folder to write into (created if missing).

        Returns
        -------
        tuple of Path
            Paths of ``visit_plan.csv`` and ``exclusions.csv``.
        """
        from visitrisk.report import write_csv  # report imports this module

        paths = write_csv(self.plan, self.exclusions, out_dir)
        return paths["plan_csv"], paths["exclusions_csv"]


# ---------------------------------------------------------------------------------------------
# plan_visits
# ---------------------------------------------------------------------------------------------


def _plan_id_of_rows(
    row_hashes: np.ndarray,
    staff: pd.DataFrame,
    start: pd.Timestamp,
    days: int,
    rules: PlanRules,
    holdout: float,
    seed: int,
) -> str:
    """Plan id from the prepared scores' row hashes (in customer order) and the settings."""
    digest = hashlib.sha256()
    digest.update(np.ascontiguousarray(row_hashes, dtype=np.uint64).tobytes())
    digest.update(staff_digest(staff))
    settings = {"start": start.date().isoformat(), "days": days, "holdout": holdout}
    settings |= {"seed": seed, "rules": asdict(rules)}
    digest.update(json.dumps(settings, sort_keys=True).encode())
    return "plan-" + digest.hexdigest()[:12]


def _format_money(values: np.ndarray) -> np.ndarray:
    return np.char.mod("%.2f", np.asarray(values, dtype=float)).astype(object)


def _exclusion_details(
    customers: pd.DataFrame,
    net_gain: np.ndarray,
    reason: np.ndarray,
    excluded: np.ndarray,
    start: pd.Timestamp,
    days: int,
    rules: PlanRules,
) -> np.ndarray:
    """Plain-words detail of each excluded customer (rows ``excluded``)."""
    reason = reason[excluded]
    gain = net_gain[excluded]
    branch = customers["branch_id"].to_numpy(dtype=object)[excluded]
    detail = np.full(len(excluded), "", dtype=object)
    detail[reason == "do_not_visit"] = "customer must not be visited (do_not_visit)"
    mask = reason == "cooldown"
    last = customers["last_visit_date"].iloc[excluded[mask]].dt.strftime("%Y-%m-%d")
    detail[mask] = (
        "visited " + last.to_numpy(dtype=object) + f", cool-down {rules.cooldown_days} days"
    )
    mask = reason == "non_positive_gain"
    cost = f" after a visit cost of {rules.visit_cost:.2f} CNY" if rules.visit_cost else ""
    detail[mask] = (
        "expected gain "
        + _format_money(gain[mask])
        + f" CNY{cost}: a visit is not expected to help"
    )
    mask = reason == "below_min_gain"
    detail[mask] = (
        "expected gain "
        + _format_money(gain[mask])
        + f" CNY is below the minimum {rules.min_gain or 0:.2f} CNY"
    )
    end = (start + pd.Timedelta(days=days - 1)).date().isoformat()
    window = f"between {start.date().isoformat()} and {end}"
    mask = reason == "no_staff"
    detail[mask] = "no officer covers branch " + branch[mask] + f" on a working day {window}"
    mask = reason == "no_capacity"
    detail[mask] = (
        "the officer-days covering branch " + branch[mask] + f" {window} are full with "
        "higher-priority visits"
    )
    return detail


def _position_in_run(sorted_keys: np.ndarray) -> np.ndarray:
    """Position of each element within its run of equal keys (keys sorted)."""
    return np.arange(len(sorted_keys)) - np.searchsorted(sorted_keys, sorted_keys, side="left")


def _dates(day_numbers: np.ndarray) -> pd.Series:
    return pd.Series(np.asarray(day_numbers, dtype=np.int64).astype("datetime64[D]")).astype(
        "datetime64[s]"
    )


def _checked_arguments(
    start: object, days: object, rules: object, holdout: object, seed: object
) -> tuple[pd.Timestamp, int, PlanRules, float, int]:
    rules = PlanRules() if rules is None else rules
    if not isinstance(rules, PlanRules):
        raise TypeError(f"rules must be a PlanRules. Got {type(rules).__name__}.")
    _check_parameter(
        "plan_visits", "days", days, lambda v: _is_int(v) and v >= 1, "a positive int (days)"
    )
    _check_parameter(
        "plan_visits",
        "holdout",
        holdout,
        lambda v: _is_real(v) and 0 <= v < 1,
        "a number in [0, 1)",
    )
    _check_parameter(
        "plan_visits", "seed", seed, lambda v: _is_int(v) and v >= 0, "a non-negative int"
    )
    try:
        start_day = pd.Timestamp(start)
    except (TypeError, ValueError):
        start_day = pd.NaT
    _check_parameter(
        "plan_visits",
        "start",
        start,
        lambda v: start_day is not pd.NaT,
        "a date such as '2026-12-01'",
    )
    return start_day.normalize(), int(days), rules, float(holdout), int(seed)


def _eligibility(
    customers: pd.DataFrame,
    net_gain: np.ndarray,
    staffed: np.ndarray,
    first_day: int,
    rules: PlanRules,
) -> tuple[np.ndarray, np.ndarray]:
    """Exclusion reason of every customer ('' when eligible) and the must-visit flag."""
    last_visit = customers["last_visit_date"].to_numpy().astype("datetime64[D]")
    since_visit = first_day - last_visit.astype(np.int64)
    cooled = ~np.isnat(last_visit) & (since_visit < rules.cooldown_days)
    must = np.full(len(customers), rules.has_must_visit)
    if rules.must_visit_min_dpd is not None:
        must &= customers["days_past_due"].to_numpy() >= rules.must_visit_min_dpd
    if rules.must_visit_min_arrears is not None:
        must &= customers["arrears"].to_numpy() >= rules.must_visit_min_arrears
    below = np.zeros(len(customers), dtype=bool)
    if rules.min_gain is not None:
        below = (net_gain < rules.min_gain) & ~must
    conditions = [customers["do_not_visit"].to_numpy(), cooled, net_gain <= 0, below, ~staffed]
    reason = np.select(conditions, list(EXCLUSION_REASONS[:5]), default="").astype(object)
    return reason, must


def _holdout_draws(customer_ids: pd.Series, seed: int) -> np.ndarray:
    """Draw a uniform number in [0, 1) per customer from a seeded hash of its ``customer_id``.

    A customer's draw depends on its id and the seed only, never on which other customers
    are scored, so planning groups of branches apart gives the plan of the whole.
    """
    key = hashlib.sha256(f"visitrisk-holdout-{seed}".encode()).hexdigest()[:16]
    hashed = pd.util.hash_array(customer_ids.to_numpy(dtype=object), hash_key=key)
    return (hashed >> np.uint64(11)).astype(np.float64) * 2.0**-53


def _draw_holdout(
    cand_branch: np.ndarray,
    position: np.ndarray,
    taken: np.ndarray,
    randomised: np.ndarray,
    draw: np.ndarray,
    holdout: float,
    n_branches: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Withhold ``round(holdout * n)`` of the ``n`` randomised candidates of each branch.

    Returns the holdout mask, the refill mask (the next candidates of the branch, who take
    the freed capacity) and every candidate's probability of being assigned to a visit.
    """
    pool = np.bincount(cand_branch[randomised], minlength=n_branches)
    withheld = np.floor(holdout * pool + 0.5).astype(np.int64)
    in_pool = np.flatnonzero(randomised)
    in_pool = in_pool[np.lexsort((draw[in_pool], cand_branch[in_pool]))]
    pool_rank = _position_in_run(cand_branch[in_pool])
    is_holdout = np.zeros(len(cand_branch), dtype=bool)
    is_holdout[in_pool[pool_rank < withheld[cand_branch[in_pool]]]] = True
    refill = (position >= taken[cand_branch]) & (
        position < taken[cand_branch] + withheld[cand_branch]
    )
    probability = np.ones(len(cand_branch))
    share_visited = (pool - withheld) / np.maximum(pool, 1)
    probability[randomised] = share_visited[cand_branch[randomised]]
    return is_holdout, refill, probability


def _assign_crew_days(
    visitors: np.ndarray,
    branch: np.ndarray,
    customers: pd.DataFrame,
    quotas: pd.DataFrame,
    crews: pd.DataFrame,
) -> tuple[np.ndarray, np.ndarray]:
    """Give every visit a crew-day: branch -> coverage group -> crew-day, by locality.

    Each branch's visits, sorted by township, village and position, fill its quotas group
    by group; each group's visits then fill its crews' days in turn, so that one crew-day
    takes neighbouring customers. Returns the visitors sorted by crew-day and locality, and
    the row of ``crews`` (sorted by group, crew, day) visiting each.
    """
    locality = [
        pd.factorize(customers[column], sort=True)[0][visitors]
        for column in ("township", "village")
    ]
    lat = customers["latitude"].to_numpy()[visitors]
    lon = customers["longitude"].to_numpy()[visitors]
    order = np.lexsort((visitors, lon, lat, locality[1], locality[0], branch[visitors]))
    visitors = visitors[order]
    visit_branch = branch[visitors]
    quotas = quotas[quotas["quota"] > 0].sort_values(["branch", "group"], kind="stable")
    quota = quotas["quota"].to_numpy()
    quota_end = np.cumsum(quota)
    first_quota = np.searchsorted(quotas["branch"].to_numpy(), visit_branch, side="left")
    slot = (quota_end - quota)[first_quota] + _position_in_run(visit_branch)
    visit_group = quotas["group"].to_numpy()[np.searchsorted(quota_end, slot, side="right")]

    by_group = np.lexsort((np.arange(len(visitors)), visit_group))
    visitors, visit_group = visitors[by_group], visit_group[by_group]
    capacity = crews["capacity"].to_numpy()
    crew_end = np.cumsum(capacity)
    crew_group = crews["group"].to_numpy()
    first_crew = np.searchsorted(crew_group, visit_group, side="left")
    crew_slot = (crew_end - capacity)[first_crew] + _position_in_run(visit_group)
    visit_crew_day = np.searchsorted(crew_end, crew_slot, side="right")
    if len(visitors) and (crew_group[visit_crew_day] != visit_group).any():
        raise RuntimeError("Internal error: a coverage group was given more visits than capacity.")
    by_day = np.lexsort((np.arange(len(visitors)), visit_crew_day))
    return visitors[by_day], visit_crew_day[by_day]


def _plan_frame(
    customers: pd.DataFrame,
    plan_id: str,
    visitors: np.ndarray,
    held: np.ndarray,
    officer: np.ndarray,
    visit_date: pd.Series,
    stop_order: np.ndarray,
    probability: np.ndarray,
    net_gain: np.ndarray,
    branch: np.ndarray,
) -> pd.DataFrame:
    """Visit rows (by officer, date, stop) then holdout rows (by branch, rank)."""
    rows = np.concatenate([visitors, held])
    n_visits, n_held = len(visitors), len(held)
    plan = customers.iloc[rows][["branch_id", "customer_id", *PLAN_COLUMNS[9:]]]
    plan = plan.reset_index(drop=True)
    plan["plan_id"] = pd.Series(plan_id, index=plan.index, dtype="str")
    plan["officer_id"] = pd.Series(np.concatenate([officer, np.full(n_held, None)]), dtype="str")
    plan["visit_date"] = pd.concat(
        [visit_date, pd.Series(pd.NaT, index=range(n_held), dtype="datetime64[s]")],
        ignore_index=True,
    )
    plan["stop_order"] = pd.array(np.concatenate([stop_order, np.zeros(n_held, int)]), "Int64")
    plan.loc[n_visits:, "stop_order"] = pd.NA
    plan["arm"] = pd.Series(np.repeat(["visit", "holdout"], [n_visits, n_held]), dtype="str")
    plan["assignment_probability"] = probability[rows]
    plan["expected_gain"] = net_gain[rows]
    by_value = np.lexsort((rows, -net_gain[rows], branch[rows]))
    rank = np.empty(len(rows), dtype=np.int64)
    rank[by_value] = _position_in_run(branch[rows][by_value]) + 1
    plan["rank"] = rank
    visit_part = plan.iloc[:n_visits].sort_values(
        ["officer_id", "visit_date", "stop_order"], kind="stable"
    )
    return pd.concat([visit_part, plan.iloc[n_visits:]], ignore_index=True)[list(PLAN_COLUMNS)]


def plan_visits(
    scores: pd.DataFrame,
    staff: pd.DataFrame,
    start: str | pd.Timestamp,
    days: int,
    rules: PlanRules | None = None,
    holdout: float = 0.1,
    seed: int = 0,
) -> VisitPlan:
    """Plan field visits that maximise the expected gain within the staff's capacity.

    Parameters
    ----------
    scores : pandas.DataFrame
        One row per customer, indexed by ``customer_id`` (or with a ``customer_id``
        column). Required columns: :data:`REQUIRED_SCORE_COLUMNS` (``branch_id``, the model
        output ``p_cure_visit``, ``p_cure_no_visit``, ``uplift``, ``value_at_stake`` in CNY,
        ``expected_gain`` in CNY *before* the visit cost, and the state on the as-of date
        ``days_past_due`` in days and ``arrears`` in CNY). Optional: ``do_not_visit``
        (default false), ``last_visit_date`` (empty = never visited), ``township``,
        ``village``, ``latitude``, ``longitude`` (WGS-84, enable route ordering and km),
        ``reason_1`` .. ``reason_3`` (passed through). Other columns are ignored.
    staff : pandas.DataFrame
        The contract's staff table: ``officer_id``, ``branch_id``, ``visits_per_day``,
        and optionally ``working_days`` (default ``"Mon Tue Wed Thu Fri"``),
        ``covers_branches`` and ``absent_dates`` (space-separated). Best passed as
        :attr:`Portfolio.staff <visitrisk.Portfolio>`, which :func:`~visitrisk.load_portfolio`
        has checked; any other table is held to the same rules here, and its covered
        branches must be branches of ``scores`` or home branches.
    start : str or pandas.Timestamp
        First day of the plan.
    days : int
        Length of the plan in calendar days, ``start`` included; the working days among
        them come from each officer's calendar.
    rules : PlanRules, optional
        Eligibility rules, team size and visit cost (default ``PlanRules()``).
    holdout : float, default 0.1
        Share of the selected customers of each branch withheld at random, in ``[0, 1)``.
    seed : int, default 0
        Seed of the holdout draw.

    Returns
    -------
    VisitPlan
        The plan, the exclusions (every other customer of ``scores`` with a reason), the
        routes and a summary.

    Raises
    ------
    DataError
        If ``scores`` or ``staff`` break what the planner needs (missing columns, duplicate
        ids, negative ``visits_per_day``, unknown weekdays or covered branches, ...); a
        staff table breaks the rules of :func:`~visitrisk.load_portfolio`, with its codes.
    ValueError
        If a parameter is out of range.

    Examples
    --------
    >>> import pandas as pd
    >>> scores = pd.DataFrame(
    ...     {
    ...         "branch_id": ["B1", "B1", "B1"],
    ...         "p_cure_visit": [0.6, 0.5, 0.4],
    ...         "p_cure_no_visit": [0.3, 0.4, 0.5],
    ...         "uplift": [0.3, 0.1, -0.1],
    ...         "value_at_stake": [1000.0, 2000.0, 500.0],
    ...         "expected_gain": [300.0, 200.0, -50.0],
    ...         "days_past_due": [35, 12, 60],
    ...         "arrears": [1000.0, 2000.0, 500.0],
    ...     },
    ...     index=pd.Index(["C1", "C2", "C3"], name="customer_id"),
    ... )
    >>> staff = pd.DataFrame({"officer_id": ["O1"], "branch_id": ["B1"], "visits_per_day": [1]})
    >>> plan = plan_visits(scores, staff, start="2026-12-01", days=1, holdout=0.0)
    >>> plan.plan[["customer_id", "officer_id", "arm"]].to_numpy().tolist()
    [['C1', 'O1', 'visit']]
    >>> plan.exclusions[["customer_id", "reason"]].to_numpy().tolist()
    [['C2', 'no_capacity'], ['C3', 'non_positive_gain']]
    """
    start_day, days, rules, holdout, seed = _checked_arguments(start, days, rules, holdout, seed)
    customers = prepare_scores(scores)
    staff_tables = prepare_staff(staff, pd.Index(customers["branch_id"].unique()))
    branch_code = pd.Index(
        np.unique(
            np.concatenate(
                [customers["branch_id"].unique(), staff_tables["coverage"]["branch_id"].unique()]
            )
        )
    )
    n_branches = len(branch_code)
    first_day = int(np.datetime64(start_day.date(), "D").astype(np.int64))
    crews, groups = crew_days(staff_tables, branch_code, first_day, days, rules.team_size)

    branch = branch_code.get_indexer(customers["branch_id"])
    net_gain = customers["expected_gain"].to_numpy() - rules.visit_cost
    reach = np.bincount(groups["branch"], weights=groups["capacity"], minlength=n_branches)
    reason, must = _eligibility(customers, net_gain, reach[branch] > 0, first_day, rules)

    # Candidates in service order: by branch, must-visit first, then by gain.
    candidates = np.flatnonzero(reason == "")
    candidates = candidates[
        np.lexsort((candidates, -net_gain[candidates], ~must[candidates], branch[candidates]))
    ]
    cand_branch = branch[candidates]
    taken, quotas, method = select(
        cand_branch, net_gain[candidates], must[candidates], groups, n_branches
    )
    position = _position_in_run(cand_branch)
    selected = position < taken[cand_branch]
    randomised = selected & ~must[candidates]
    draw = _holdout_draws(customers["customer_id"], seed)[candidates]
    is_holdout, refill, probability = _draw_holdout(
        cand_branch, position, taken, randomised, draw, holdout, n_branches
    )
    visit = (selected & ~is_holdout) | refill

    visitors, visit_crew_day = _assign_crew_days(
        candidates[visit], branch, customers, quotas, crews
    )
    lat = customers["latitude"].to_numpy()
    lon = customers["longitude"].to_numpy()
    used, crew_day_index = np.unique(visit_crew_day, return_inverse=True)
    stop_order, km = order_stops(crew_day_index, lat[visitors], lon[visitors], len(used))
    routes = pd.DataFrame(
        {
            "officer_id": pd.Series(crews["crew"].to_numpy()[used], dtype="str"),
            "visit_date": _dates(crews["day"].to_numpy()[used]),
            "stops": np.bincount(crew_day_index, minlength=len(used)),
            "km": km,
        }
    )
    routes = routes.sort_values(["officer_id", "visit_date"], kind="stable").reset_index(drop=True)

    row_hashes = pd.util.hash_pandas_object(customers, index=False).to_numpy()
    plan_id = _plan_id_of_rows(row_hashes, staff, start_day, days, rules, holdout, seed)
    held = candidates[is_holdout]
    held = held[np.lexsort((held, -net_gain[held], branch[held]))]
    probability_of = np.ones(len(customers))
    probability_of[candidates] = probability
    plan = _plan_frame(
        customers,
        plan_id,
        visitors,
        held,
        crews["crew"].to_numpy()[visit_crew_day],
        _dates(crews["day"].to_numpy()[visit_crew_day]),
        stop_order,
        probability_of,
        net_gain,
        branch,
    )

    reason[candidates[~visit & ~is_holdout]] = "no_capacity"
    excluded = np.ones(len(customers), dtype=bool)
    excluded[visitors] = excluded[held] = False
    excluded = np.flatnonzero(excluded)
    excluded = excluded[np.lexsort((excluded, branch[excluded]))]
    details = _exclusion_details(customers, net_gain, reason, excluded, start_day, days, rules)
    exclusions = customers.iloc[excluded][["customer_id", "branch_id"]].reset_index(drop=True)
    exclusions["reason"] = pd.Series(reason[excluded], dtype="str")
    exclusions["detail"] = pd.Series(details, dtype="str")

    capacity = int(crews["capacity"].sum())
    uplift = customers["uplift"].to_numpy()
    refilled = candidates[refill]
    counts = exclusions["reason"].value_counts().reindex(list(EXCLUSION_REASONS), fill_value=0)
    summary: dict[str, Any] = {
        "plan_id": plan_id,
        "start": start_day.date().isoformat(),
        "end": (start_day + pd.Timedelta(days=days - 1)).date().isoformat(),
        "days": days,
        "seed": seed,
        "holdout_share_target": holdout,
        "team_size": rules.team_size,
        "method": method,
        "customers": len(customers),
        "eligible": len(candidates),
        "officers": len(staff_tables["officers"]),
        "crew_days": len(crews),
        "capacity": capacity,
        "visits_planned": len(visitors),
        "capacity_used": len(visitors) / capacity if capacity else 0.0,
        "must_visit_served": int(must[visitors].sum()),
        "must_visit_eligible": int(must[candidates].sum()),
        "holdout_size": len(held),
        "holdout_share": len(held) / max(int(randomised.sum()), 1),
        "refill_visits": len(refilled),
        "expected_gain": float(net_gain[visitors].sum()),
        "expected_incremental_cures": float(uplift[visitors].sum()),
        "expected_cures_given_up": float(uplift[held].sum()),
        "expected_cures_given_up_net_of_refill": float(uplift[held].sum() - uplift[refilled].sum()),
        "exclusions_by_reason": {code: int(count) for code, count in counts.items()},
        "km_total": float(np.nansum(km)),
        "km_per_officer_day": float(np.nanmean(km)) if np.isfinite(km).any() else None,
    }
    return VisitPlan(plan=plan, exclusions=exclusions, routes=routes, summary=summary)
