"""Carry a visit plan out in a simulated world: the portfolio continued past its as-of date.

A plan made on a simulated portfolio can be executed by the simulator itself, so that the
whole loop (score, plan, visit, measure) runs on data whose truth is known. Each day after
the as-of date runs the simulator's own dynamics; at the end of each day the plan's
officers make its visits (some missed, as in real life), then the historic policy fills
what capacity they left, never touching the customers the plan has reserved.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from visitrisk._plan_frame import checked_plan_frame
from visitrisk.contract import PROBLEM_COLUMNS, DataError, load_portfolio
from visitrisk.simulate._dynamics import (
    Recorder,
    historic_visits,
    make_visits,
    payment_day,
)
from visitrisk.simulate._tables import Ids, contract_tables, spells_table, truth_table
from visitrisk.simulate._truth import exact_truth

if TYPE_CHECKING:
    from visitrisk.simulate import SimulatedPortfolio

__all__ = ["simulate_forward"]


@dataclass(frozen=True)
class _Schedule:
    """The plan's visits as simulator indices, and the customers it reserves."""

    customer: np.ndarray
    day: np.ndarray
    officer: np.ndarray
    #: One row per team member of each visit: visit row and officer (a crew uses them all).
    member_row: np.ndarray
    member_officer: np.ndarray
    plan_id: np.ndarray
    reserved: np.ndarray


def _check(name: str, value: object, ok: bool, expected: str) -> None:
    if not ok:
        raise ValueError(
            f"The {name!r} parameter of simulate_forward must be {expected}. Got {value!r} instead."
        )


def _is_int(value: object) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _plan_problem(column: str, rule: str, examples: Any, count: int, text: str) -> DataError:
    row = {
        "table": "plan",
        "column": column,
        "rule": rule,
        "count": int(count),
        "examples": ", ".join(str(value) for value in list(examples)[:5]),
        "message": f"plan: {text}",
    }
    return DataError(pd.DataFrame([row], columns=list(PROBLEM_COLUMNS)))


def _schedule(plan: Any, simulated: SimulatedPortfolio, ids: Ids) -> _Schedule:
    """Translate the plan's ids and dates into the simulator's indices and day numbers."""
    frame = checked_plan_frame(plan)
    customer = pd.Index(ids.customer).get_indexer(frame["customer_id"])
    if (customer < 0).any():
        unknown = frame.loc[customer < 0, "customer_id"]
        raise _plan_problem(
            "customer_id",
            "unknown_customer",
            unknown,
            len(unknown),
            f"{len(unknown)} customer(s) are not in the simulated portfolio.",
        )
    visits = frame["arm"].to_numpy() == "visit"
    day = frame.loc[visits, "visit_date"].to_numpy().astype("datetime64[D]").astype(np.int64)
    as_of = simulated._state.day
    early = day <= as_of
    if early.any():
        raise _plan_problem(
            "visit_date",
            "not_after_as_of",
            frame.loc[visits, "customer_id"][early],
            int(early.sum()),
            f"{int(early.sum())} visit(s) are dated on or before the simulated as-of date "
            f"{simulated.as_of.date()}: the forward simulation starts the day after.",
        )
    members = frame.loc[visits, "officer_id"].str.split().explode()
    member_officer = pd.Index(ids.officer).get_indexer(members)
    if (member_officer < 0).any():
        unknown = members[member_officer < 0].unique()
        raise _plan_problem(
            "officer_id",
            "unknown_officer",
            unknown,
            len(unknown),
            f"{len(unknown)} officer(s) are not in the simulated staff table.",
        )
    member_row = pd.factorize(members.index)[0]
    first_member = np.flatnonzero(np.diff(member_row, prepend=-1) != 0)
    reserved = np.zeros(len(ids.customer), dtype=bool)
    reserved[customer] = True
    return _Schedule(
        customer=customer[visits],
        day=day,
        officer=member_officer[first_member],
        member_row=member_row,
        member_officer=member_officer,
        plan_id=frame.loc[visits, "plan_id"].to_numpy(dtype=object),
        reserved=reserved,
    )


def _label_planned_visits(
    visits: pd.DataFrame, ids: Ids, customer: np.ndarray, day: np.ndarray, plan_id: np.ndarray
) -> pd.DataFrame:
    """Give the visits made for the plan its ``plan_id`` (one visit per customer and day)."""
    made = pd.DataFrame(
        {
            "customer_id": ids.customer.take(customer),
            "visit_date": np.asarray(day).astype("datetime64[D]").astype("datetime64[s]"),
            "_plan_id": pd.array(plan_id, dtype="str"),
        }
    )
    labelled = visits.merge(made, how="left", on=["customer_id", "visit_date"], validate="1:1")
    plan_ids = labelled.pop("_plan_id").fillna(labelled["plan_id"])
    labelled["plan_id"] = plan_ids.astype("str")
    return labelled


def simulate_forward(
    simulated: SimulatedPortfolio,
    plan: Any,
    days: int,
    compliance: float = 0.9,
    seed: int = 0,
) -> SimulatedPortfolio:
    """Continue a simulated portfolio past its as-of date with a visit plan carried out.

    Every day after the as-of date runs the simulator's dynamics (payments, misses, cures,
    part payments). At the end of each day after the as-of date:

    1. each of the plan's ``visit`` rows dated that day is carried out by its officer (the
       first member of a team) with probability ``compliance``, drawn once per visit, and
       only if the customer is still delinquent that day (an officer does not visit a
       customer who has paid up). A visit has an outcome drawn as in the history and is
       recorded with the plan's ``plan_id``; missed visits are not made up later;
    2. the historic policy visits delinquent customers as before, with the capacity each
       officer has left after the plan's visits, and never a customer of the plan (either
       arm) until the cure horizon of the plan's as-of date has passed
       (``as_of + simulated.horizon``): the ``holdout`` arm stays unvisited, and the
       ``visit`` arm gets the plan's visit and no other, as the ground truth assumes.

    The plan must have been made on ``simulated``'s as-of date (the truth of that date is
    the truth of its customers).

    Parameters
    ----------
    simulated : SimulatedPortfolio
        The world to continue, from :func:`simulate_portfolio` or :func:`simulate_forward`.
    plan : VisitPlan or pandas.DataFrame
        A plan from :func:`visitrisk.plan_visits`, or its ``visit_plan.csv`` read back
        (columns ``plan_id``, ``customer_id``, ``arm``, ``officer_id``, ``visit_date``).
        Visits dated after the new as-of date are not reached.
    days : int
        Days to simulate after the as-of date (the new as-of date is ``as_of + days``).
    compliance : float, default 0.9
        Probability that a planned visit is made, in ``[0, 1]``.
    seed : int, default 0
        Seed of the forward draws: the same world, plan and seed give identical tables.

    Returns
    -------
    SimulatedPortfolio
        The same ids; every table extends the old one (payments and visits after the old
        as-of date, loans granted since with their schedules, the staff's leave known up to
        90 days after the new as-of date). ``truth`` holds the old truth rows (so the
        plan's customers are covered on its as-of date) and those of the new as-of date;
        ``spells`` the delinquency spells through the new as-of date. Payments run through
        the new as-of date, visits through the day before, as in
        :func:`simulate_portfolio`.

    Raises
    ------
    DataError
        When the plan is unusable: missing columns, unknown arms, customers or officers not
        in the simulated portfolio, visits dated before its as-of date.
    ValueError
        When a parameter is out of range (``days`` beyond the pre-drawn future included).

    Examples
    --------
    >>> from visitrisk.simulate import simulate_forward, simulate_portfolio
    >>> sim = simulate_portfolio(300, seed=1, history_months=6)
    >>> truth = sim.truth.head(3)
    >>> plan = pd.DataFrame({"plan_id": "p1", "customer_id": truth["customer_id"],
    ...     "arm": ["visit", "visit", "holdout"], "officer_id": ["E0001", "E0001", None],
    ...     "visit_date": ["2026-12-01", "2026-12-02", None]})
    >>> later = simulate_forward(sim, plan, days=30, compliance=1.0)
    >>> str(later.as_of.date())
    '2026-12-30'
    """
    from visitrisk.simulate import SimulatedPortfolio

    if not isinstance(simulated, SimulatedPortfolio):
        raise TypeError(
            "The 'simulated' parameter of simulate_forward must be a SimulatedPortfolio. "
            f"Got {type(simulated).__name__} instead."
        )
    world = simulated._world
    as_of = simulated._state.day
    # The truth of the new as-of date looks a treatment window and a horizon ahead.
    room = world.end - as_of - simulated.treatment_window - simulated.horizon
    _check("days", days, _is_int(days) and 1 <= days <= room, f"an int in [1, {room}] (days)")
    _check(
        "compliance",
        compliance,
        isinstance(compliance, numbers.Real)
        and not isinstance(compliance, bool)
        and 0 <= float(compliance) <= 1,
        "a number in [0, 1]",
    )
    _check("seed", seed, _is_int(seed) and seed >= 0, "a non-negative int")

    ids = Ids(world)
    schedule = _schedule(plan, simulated, ids)
    daily, draws = (
        np.random.default_rng(stream)
        for stream in np.random.SeedSequence([int(seed), simulated.seed]).spawn(2)
    )
    carried_out = draws.random(len(schedule.day)) < float(compliance)

    state = simulated._state.copy()
    old = simulated._recorder
    recorder = Recorder(list(old.payments), list(old.visits), list(old.spells))
    end = as_of + int(days)
    reserved_until = as_of + simulated.horizon
    n_officers = len(world.staff.branch)
    nothing = np.zeros(0, dtype=np.int64)
    made_customer, made_day, made_plan = [nothing], [nothing], [np.zeros(0, dtype=object)]
    # Nothing happens on the as-of date itself: its tables were exported at its end, so a
    # visit then (cash taken on site) would add a row to the past.
    for day in range(as_of + 1, end):
        payment_day(world, state, day, daily, recorder, first_day=as_of + 1)
        rows = np.flatnonzero((schedule.day == day) & carried_out)
        rows = rows[state.since[schedule.customer[rows]] < day]
        customers = schedule.customer[rows]
        make_visits(
            world,
            state,
            customers,
            day,
            daily,
            recorder,
            schedule.officer[rows],
            np.ones(len(rows), dtype=bool),
        )
        made_customer.append(customers)
        made_day.append(np.full(len(rows), day))
        made_plan.append(schedule.plan_id[rows])
        members = np.isin(schedule.member_row, rows)
        slots_used = np.bincount(schedule.member_officer[members], minlength=n_officers)
        excluded = (
            schedule.reserved.copy() if day <= reserved_until else np.zeros_like(schedule.reserved)
        )
        excluded[customers] = True
        historic_visits(world, state, day, daily, recorder, excluded, slots_used)
    payment_day(world, state, end, daily, recorder, first_day=as_of + 1)

    new_world = replace(world, as_of=end)
    tables = contract_tables(new_world, state, recorder, ids)
    tables["visits"] = _label_planned_visits(
        tables["visits"],
        ids,
        np.concatenate(made_customer),
        np.concatenate(made_day),
        np.concatenate(made_plan),
    )
    values = exact_truth(new_world, state, simulated.treatment_window, simulated.horizon)
    truth = pd.concat(
        [simulated.truth, truth_table(new_world, values, end, ids)], ignore_index=True
    )
    return SimulatedPortfolio(
        portfolio=load_portfolio(**tables),
        truth=truth,
        spells=spells_table(state, recorder, ids),
        as_of=pd.Timestamp(np.datetime64(end, "D")),
        effect=simulated.effect,
        treatment_window=simulated.treatment_window,
        horizon=simulated.horizon,
        seed=simulated.seed,
        _world=new_world,
        _state=state,
        _recorder=recorder,
    )
