"""Exact cure probabilities, with and without a visit, from the simulator's own model.

Nothing is sampled. Given the state on day ``d``, a delinquent customer's daily catch-up
hazard on every later day is known (traits, calendar, bad harvests and DPD are fixed; the
only thing that changes it is a visit), so the chance of *no* cure in ``(d, d + horizon]``
is ``exp(-sum of hazards)``.
"""

from __future__ import annotations

import numpy as np

from visitrisk.simulate._dynamics import (
    Recorder,
    State,
    branch_capacity,
    clone_customers,
    cure_hazard,
    loans_of,
    make_visits,
    payment_day,
    present_officers,
    visit_factor,
    visit_probability,
    visit_strength,
    visit_weight,
    weighted_chance,
)
from visitrisk.simulate._world import World, weekday_of

__all__: list[str] = []


def visit_days(day: int, treatment_window: int) -> np.ndarray:
    """Return the days on which the hypothetical visit may fall.

    The weekdays (Mon-Fri) of ``[day, day + treatment_window)``, or every day of it when it
    holds no weekday.
    """
    window = np.arange(day, day + treatment_window)
    weekdays = window[weekday_of(window) < 5]
    return weekdays if len(weekdays) else window


def exact_truth(
    world: World, state: State, treatment_window: int, horizon: int
) -> dict[str, np.ndarray]:
    """Ground truth for every customer delinquent on ``state.day`` (DPD >= 1).

    ``p_cure_no_visit``: no visit in ``(d, d + horizon]`` (earlier visits keep fading).
    ``p_cure_visit``: one visit, on a day drawn uniformly from :func:`visit_days`, and no
    other; the visit is made at the end of its day (it changes the hazard from the next
    day on) and only if the customer has not cured yet, which cannot change whether they
    cure. ``uplift`` is their difference, averaged over the visit day term by term, so it
    is exactly 0 when visits have no effect. ``propensity`` is the historic policy's chance
    of visiting the customer on ``d`` with all of the branch's officers at work.
    """
    day = state.day
    people = world.people
    customers = np.flatnonzero(state.since < day)
    since = state.since[customers]
    recent = state.recent_visits[customers]
    future = day + 1 + np.arange(horizon)

    # Hazard without the visit factor, then with the factor of past visits only.
    base = np.empty((horizon, len(customers)))
    for j, t in enumerate(future):
        base[j] = cure_hazard(world, customers, int(t), t - since, 1.0)
    past = visit_factor(
        state.last_visit[customers], state.visit_strength[customers], future[:, None]
    )
    no_visit = base * past
    p_no_visit = -np.expm1(-no_visit.sum(axis=0))

    days = visit_days(day, treatment_window)
    gain = np.zeros(len(customers))
    for visit_day in days:
        strength = visit_strength(people, customers, recent, int(visit_day))
        after = future > visit_day
        visited = no_visit.copy()
        visited[after] = base[after] * visit_factor(
            np.full(len(customers), visit_day), strength, future[after][:, None]
        )
        gain += -np.expm1(-visited.sum(axis=0)) - p_no_visit
    uplift = gain / len(days)

    capacity = branch_capacity(world, present_officers(world, None))
    candidates, probability = visit_probability(world, state, day, capacity)
    propensity = np.zeros(len(people))
    propensity[candidates] = probability

    loans, owner = loans_of(world.book, customers)
    owed = np.maximum(state.due[loans] - state.paid[loans], 0)
    return {
        "customer": customers,
        "days_past_due": day - since,
        "arrears": np.bincount(owner, weights=owed, minlength=len(customers)) / 100,
        "p_cure_visit": p_no_visit + uplift,
        "p_cure_no_visit": p_no_visit,
        "uplift": uplift,
        "propensity": propensity[customers],
    }


def usual_care_truth(
    world: World,
    state: State,
    visit_load: dict[int, tuple[np.ndarray, np.ndarray]],
    treatment_window: int,
    horizon: int,
    draws: int,
    seed: int,
) -> dict[str, np.ndarray]:
    """Cure chances of the window strategies, the bank's usual visits after the window.

    For every customer delinquent on ``d = state.day`` (the rows of :func:`exact_truth`):
    ``p_cure_visit_window`` = P(cure in ``(d, d + horizon]``) with one visit on a day drawn
    uniformly from :func:`visit_days` (skipped if the customer has cured first) and no other
    visit in ``[d, d + treatment_window)``; ``p_cure_no_visit_window`` the same with no visit
    in the window. After the window, both arms get the bank's usual visits: on each working
    day the customer, if still delinquent, is visited with the chance the historic policy
    gives them that day, against the branch capacity and the summed visit weight the other
    customers had in the actual history (``visit_load``), so one customer's strategy never
    changes anybody else's visits.

    Unlike :func:`exact_truth`, later visits depend on the path, so these are Monte Carlo
    means over ``draws`` futures per customer and arm, simulated with the simulator's own
    day (payments, misses, part payments, visits and their outcomes): averages over many
    customers are precise, a single customer's value is not (standard error up to
    ``0.5 / sqrt(draws)``).
    """
    customers = np.flatnonzero(state.since < state.day)
    if world.effect == "none":
        # Visits change no hazard, so every strategy has the exact no-visit chance.
        p = exact_truth(world, state, treatment_window, horizon)["p_cure_no_visit"]
        return {"p_cure_visit_window": p, "p_cure_no_visit_window": p, "uplift_window": p * 0}
    rates = [
        _arm_cure_rate(
            world, state, customers, arm, visit_load, treatment_window, horizon, draws, seed
        )
        for arm in (0, 1)
    ]
    return {
        "p_cure_visit_window": rates[1],
        "p_cure_no_visit_window": rates[0],
        "uplift_window": rates[1] - rates[0],
    }


def _arm_cure_rate(
    world: World,
    state: State,
    customers: np.ndarray,
    arm: int,
    visit_load: dict[int, tuple[np.ndarray, np.ndarray]],
    treatment_window: int,
    horizon: int,
    draws: int,
    seed: int,
) -> np.ndarray:
    """Share of ``draws`` simulated futures in which each customer cures (see caller)."""
    day = state.day
    clones = np.repeat(customers, draws)
    clone_world, clone_state = clone_customers(world, state.copy(), clones, day + horizon)
    rng = np.random.default_rng([seed, day, arm])
    recorder = Recorder()
    spell_start = clone_state.since.copy()
    planned = (
        rng.choice(visit_days(day, treatment_window), len(clones))
        if arm
        else np.full(len(clones), -1)
    )
    for today in range(day, day + horizon + 1):
        if today > day:
            payment_day(clone_world, clone_state, today, rng, recorder, day + 1)
        if today < day + treatment_window:
            # The planned visit, unless the customer has cured (this spell ended) first.
            due = np.flatnonzero((planned == today) & (clone_state.since == spell_start))
        else:
            due = _usual_visits(clone_world, clone_state, today, visit_load, rng)
        make_visits(
            clone_world,
            clone_state,
            due,
            today,
            rng,
            recorder,
            np.zeros(len(due), dtype=np.int64),
            np.zeros(len(due), dtype=bool),
        )
    cured = np.zeros(len(clones), dtype=bool)
    for spell_customers, _, _ in recorder.spells:
        cured[spell_customers] = True
    return cured.reshape(len(customers), draws).mean(axis=1)


def _usual_visits(
    world: World,
    state: State,
    day: int,
    visit_load: dict[int, tuple[np.ndarray, np.ndarray]],
    rng: np.random.Generator,
) -> np.ndarray:
    """Clones the historic policy visits at the end of ``day``, each on its own chance."""
    if day not in visit_load:
        return np.zeros(0, dtype=np.int64)
    capacity, total = visit_load[day]
    candidates, weight = visit_weight(world, state, day)
    branch = world.people.branch[candidates]
    # A branch with no delinquent customer that day had no summed weight to compare with.
    chance = np.where(total[branch] > 0, weighted_chance(branch, weight, capacity, total), 0.0)
    return candidates[rng.random(len(candidates)) < chance]
