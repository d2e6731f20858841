"""Exact cure probabilities, with and without a visit, from the simulator's own model.

Nothing is sampled. Given the state on day ``d``, a delinquent customer's daily catch-up
hazard on every later day is known (traits, calendar, bad harvests and DPD are fixed; the
only thing that changes it is a visit), so the chance of *no* cure in ``(d, d + horizon]``
is ``exp(-sum of hazards)``.
"""

from __future__ import annotations

import numpy as np

from visitrisk.simulate._dynamics import (
    State,
    branch_capacity,
    cure_hazard,
    loans_of,
    present_officers,
    visit_factor,
    visit_probability,
    visit_strength,
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
