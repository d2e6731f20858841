"""Day-by-day dynamics of the simulated loan book: payments, misses, cures and visits.

One simulated day ``t`` runs in this order, vectorised over customers and loans:

1. loans originating on ``t`` are granted, or declined when the customer is delinquent;
2. installments due on ``t`` are added to what each loan owes;
3. every delinquent customer (DPD on ``t`` would be >= 1) pays *all* arrears on all loans,
   including anything due on ``t``, with probability ``1 - exp(-hazard)``: the only way a
   customer's DPD returns to 0 (a cure);
4. each installment due on ``t`` that is still open is paid (sometimes a few days early)
   or missed; a miss makes a current customer delinquent from ``t + 1``;
5. delinquent customers sometimes pay part of their oldest overdue installment, never all
   of it, so a partial payment never cures by accident;
6. at the end of the day, visits are made; a visit changes the hazard from ``t + 1`` on.

The hazard of step 3 is the product of a per-customer rate (from latent traits), a season
factor, a bad-harvest factor, a duration factor (falling with DPD) and the factor of the
most recent visit. Every piece is known in advance given the state, which is what lets
:mod:`visitrisk.simulate._truth` compute cure probabilities exactly.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from visitrisk.simulate._world import (
    NEVER,
    NOT_DELINQUENT,
    OUTCOMES,
    SALARIED,
    Book,
    People,
    World,
    day_of_month,
    month_of,
    weekday_of,
    year_of,
)

__all__: list[str] = []

#: A visit's extra hazard fades as exp(-(days since the visit - 1) / VISIT_EFFECT_DAYS).
VISIT_EFFECT_DAYS = 21.0
#: Each visit in the 90 days before a visit multiplies that visit's extra hazard by this.
VISIT_FATIGUE = 0.7
FATIGUE_LOOKBACK_DAYS = 90
#: How many past visit days each customer remembers (enough for the fatigue count).
VISIT_MEMORY = 4

# Catch-up hazard factor by segment (rows) and calendar month (columns 1-12; column 0 unused).
# Farm incomes arrive with the early-rice (July) and autumn (October-December) harvests and
# the Spring Festival remittances; planting months are lean.
_SEASON_CURE = np.array(
    [
        [1, 1.2, 1.3, 0.7, 0.6, 0.7, 0.9, 1.4, 1.2, 1.1, 1.6, 1.8, 1.5],
        [1, 1.2, 1.3, 0.7, 0.6, 0.7, 0.9, 1.4, 1.2, 1.1, 1.6, 1.8, 1.5],
        [1, 1.4, 1.5, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.1, 1.1, 1.0, 1.1],
        [1, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0],
    ]
)
# Log-odds shift of missing an installment, same layout.
_SEASON_MISS = np.array(
    [
        [0, -0.1, -0.2, 0.5, 0.6, 0.5, 0.3, -0.3, -0.2, 0.0, -0.4, -0.5, -0.3],
        [0, -0.1, -0.2, 0.5, 0.6, 0.5, 0.3, -0.3, -0.2, 0.0, -0.4, -0.5, -0.3],
        [0, -0.3, -0.3, 0.1, 0.1, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, -0.1],
        [0] * 13,
    ]
)
# A bad harvest (July to March) scales the catch-up hazard and shifts the miss log-odds.
_HARVEST_CURE = np.array([0.4, 0.4, 0.75, 1.0])
_HARVEST_MISS = np.array([0.9, 0.9, 0.4, 0.0])
# Salaried customers are paid on the 10th-15th of the month.
_PAYDAY_DAYS = (10, 15)
_PAYDAY_CURE = (1.7, 0.85)

_BALLOON_MISS = 0.8
_DELINQUENT_MISS = 2.0
_EARLY_SHARE = 0.35
_PARTIAL_DAILY = 0.01
_PARTIAL_MIN_CENTS = 2000
_MAX_PROPENSITY = 0.9
_PILOT_DAYS = 120


@dataclass(eq=False)
class State:
    """The mutable state of the book at the end of ``day``.

    Payments of ``day`` are done, and its visits too, except on the as-of day, whose visits
    belong to the treatment window.

    Per customer: ``since`` is the due day of the oldest unpaid installment (the customer is
    delinquent on ``t`` when ``since < t``; ``NOT_DELINQUENT`` otherwise), ``current_since``
    the day of the last catch-up, ``last_visit``/``visit_strength`` the day and the extra
    hazard factor of the most recent visit, ``recent_visits`` the last few visit days.
    Per loan, in cents: ``due`` and ``paid`` cumulated through ``day``; ``missed`` the due day
    of the oldest unpaid installment, ``oldest_cents`` its amount and ``partial`` what part
    payments have covered of it.
    """

    day: int
    since: np.ndarray
    current_since: np.ndarray
    last_visit: np.ndarray
    visit_strength: np.ndarray
    recent_visits: np.ndarray
    loan_active: np.ndarray
    due: np.ndarray
    paid: np.ndarray
    missed: np.ndarray
    oldest_cents: np.ndarray
    partial: np.ndarray

    def copy(self) -> State:
        """Return an independent copy (arrays copied)."""
        return replace(
            self,
            **{
                name: value.copy()
                for name, value in vars(self).items()
                if isinstance(value, np.ndarray)
            },
        )


@dataclass(eq=False)
class Recorder:
    """Rows produced by the simulation: payments, visits and delinquency spells."""

    payments: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = field(default_factory=list)
    visits: list[tuple[np.ndarray, ...]] = field(default_factory=list)
    spells: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = field(default_factory=list)

    def pay(self, loans: np.ndarray, days: np.ndarray | int, cents: np.ndarray) -> None:
        """Record payments (loan index, day, cents)."""
        if len(loans):
            self.payments.append((loans, np.broadcast_to(days, loans.shape).copy(), cents))

    def spell(self, customers: np.ndarray, since: np.ndarray, cured: int) -> None:
        """Record delinquency spells closed by a catch-up on day ``cured``."""
        if len(customers):
            self.spells.append((customers, since, np.full(len(customers), cured)))


def loans_of(book: Book, customers: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """All loans of ``customers``: loan indices and the position of their owner."""
    counts = book.customer_loan_count[customers]
    owner = np.repeat(np.arange(len(customers)), counts)
    offsets = np.cumsum(counts) - counts
    loans = np.repeat(book.customer_first_loan[customers] - offsets, counts)
    return loans + np.arange(len(loans)), owner


def _bad_harvest_hit(world: World, day: int) -> np.ndarray | None:
    """Townships whose bad harvest weighs on ``day`` (July to March), or None."""
    month = int(month_of(day))
    if 4 <= month <= 6:
        return None
    return world.bad_harvest[:, int(year_of(day)) - (month <= 3) - world.first_year]


def _calendar_cure_factor(world: World, day: int) -> np.ndarray:
    """Season x payday x bad-harvest factor of ``day``, by ``township * 4 + segment``."""
    month = int(month_of(day))
    by_segment = _SEASON_CURE[:, month].copy()
    payday = _PAYDAY_DAYS[0] <= day_of_month(day) <= _PAYDAY_DAYS[1]
    by_segment[SALARIED] *= _PAYDAY_CURE[0 if payday else 1]
    factor = np.tile(by_segment, (len(world.bad_harvest), 1))
    hit = _bad_harvest_hit(world, day)
    if hit is not None:
        factor[hit] *= _HARVEST_CURE
    return factor.ravel()


#: Duration factor of the catch-up hazard by DPD (constant beyond the table): late payers
#: settle within days; after that the chance fades slowly.
_DPD = np.arange(20_000)
DURATION_FACTOR = (0.5 + 6.0 * np.exp(-(_DPD - 1) / 8.0)) * (1 + _DPD / 730.0) ** -0.5
#: exp(-(days since a visit - 1) / VISIT_EFFECT_DAYS), by days since; ~1e-40 at the end.
_FADE = np.exp(-np.arange(2_000) / VISIT_EFFECT_DAYS)


def cure_hazard(
    world: World,
    customers: np.ndarray,
    day: int,
    dpd: np.ndarray,
    visit_factor: np.ndarray | float,
) -> np.ndarray:
    """Daily catch-up hazard of delinquent ``customers`` on ``day`` (per day).

    The visit factor is applied last, so ``cure_hazard(..., 1.0) * f`` equals
    ``cure_hazard(..., f)`` to the last bit: the exact ground truth relies on it.
    """
    people = world.people
    calendar = _calendar_cure_factor(world, day)[people.township_segment[customers]]
    duration = DURATION_FACTOR[np.minimum(dpd, len(DURATION_FACTOR) - 1)]
    return people.cure_rate[customers] * calendar * duration * visit_factor


def visit_factor(last_visit: np.ndarray, strength: np.ndarray, day: int | np.ndarray) -> np.ndarray:
    """Hazard factor on ``day`` of the most recent visit (made at the end of ``last_visit``).

    ``1 + strength * exp(-(day - last_visit - 1) / VISIT_EFFECT_DAYS)`` after the visit
    day, 1 before; exactly 1 when ``strength`` is 0.
    """
    elapsed = np.clip(day - last_visit - 1, 0, len(_FADE) - 1)
    return np.where(day > last_visit, 1.0 + strength * _FADE[elapsed], 1.0)


def visit_strength(
    people: People, customers: np.ndarray, recent_visits: np.ndarray, day: int
) -> np.ndarray:
    """Extra hazard factor (factor - 1) of a visit on ``day``, faded by recent visits."""
    earlier = (recent_visits >= day - FATIGUE_LOOKBACK_DAYS) & (recent_visits < day)
    return (people.visit_response[customers] - 1.0) * VISIT_FATIGUE ** earlier.sum(axis=1)


def record_visits(world: World, state: State, customers: np.ndarray, day: int) -> None:
    """Update the state for visits to (distinct) ``customers`` at the end of ``day``."""
    recent = state.recent_visits[customers]
    state.visit_strength[customers] = visit_strength(world.people, customers, recent, day)
    state.last_visit[customers] = day
    state.recent_visits[customers] = np.column_stack([recent[:, 1:], np.full(len(customers), day)])


def initial_state(world: World, rng: np.random.Generator, recorder: Recorder) -> State:
    """Build the book on the eve of ``world.start``.

    Earlier installments were paid on time (payments recorded), except for customers drawn
    as delinquent on that day (about 15 %, from their traits), who stopped paying at some
    installment up to 18 months earlier and have paid nothing since.
    """
    people, book, start = world.people, world.book, world.start
    n = len(people)
    delinquent = rng.random(n) < 1 / (1 + np.exp(-(people.miss_logit + 1.4)))
    dpd_at_start = np.where(rng.random(n) < 0.5, rng.geometric(1 / 25, n), rng.integers(30, 540, n))

    due, cents, loan = book.installment_due, book.installment_cents, book.installment_loan
    before = due < start
    owner = book.loan_customer[loan]
    candidate = before & (cents > 0) & delinquent[owner] & (due >= start - dpd_at_start[owner])
    since = np.full(n, NOT_DELINQUENT, dtype=np.int64)
    np.minimum.at(since, owner[candidate], due[candidate])

    paid = before & (due < since[owner])
    unpaid = before & ~paid & (cents > 0)
    n_loans = len(book.loan_customer)
    loan_due = np.bincount(loan[before], weights=cents[before], minlength=n_loans)
    loan_paid = np.bincount(loan[paid], weights=cents[paid], minlength=n_loans)
    missed = np.full(n_loans, NOT_DELINQUENT, dtype=np.int64)
    oldest_cents = np.zeros(n_loans, dtype=np.int64)
    # Installments are sorted by due day, so the first unpaid row of a loan is its oldest.
    unpaid_rows = np.flatnonzero(unpaid)
    first_loans, first = np.unique(loan[unpaid_rows], return_index=True)
    missed[first_loans] = due[unpaid_rows[first]]
    oldest_cents[first_loans] = cents[unpaid_rows[first]]

    paid_rows = np.flatnonzero(paid & (cents > 0))
    early = np.where(
        rng.random(len(paid_rows)) < _EARLY_SHARE, rng.integers(1, 6, len(paid_rows)), 0
    )
    pay_day = np.maximum(due[paid_rows] - early, book.loan_origination[loan[paid_rows]] + 1)
    recorder.pay(loan[paid_rows], pay_day, cents[paid_rows])

    return State(
        day=start - 1,
        since=since,
        current_since=np.full(n, NEVER, dtype=np.int64),
        last_visit=np.full(n, NEVER, dtype=np.int64),
        visit_strength=np.zeros(n),
        recent_visits=np.full((n, VISIT_MEMORY), NEVER, dtype=np.int64),
        loan_active=book.loan_origination < start,
        due=np.rint(loan_due).astype(np.int64),
        paid=np.rint(loan_paid).astype(np.int64),
        missed=missed,
        oldest_cents=oldest_cents,
        partial=np.zeros(n_loans, dtype=np.int64),
    )


def _miss_logit(world: World, customers: np.ndarray, day: int) -> np.ndarray:
    """Log-odds that ``customers`` miss an installment due on ``day``.

    Traits, season and bad harvests; the balloon and already-behind shifts come on top.
    """
    people = world.people
    shift = np.tile(_SEASON_MISS[:, int(month_of(day))], (len(world.bad_harvest), 1))
    hit = _bad_harvest_hit(world, day)
    if hit is not None:
        shift[hit] += _HARVEST_MISS
    return people.miss_logit[customers] + shift.ravel()[people.township_segment[customers]]


def partial_payments(
    world: World,
    state: State,
    customers: np.ndarray,
    day: int,
    fraction: np.ndarray,
    recorder: Recorder,
) -> np.ndarray:
    """Let delinquent ``customers`` pay part of their oldest overdue installment.

    Each pays ``fraction`` (< 0.6) of what remains of it, floored to cents, when at least
    20 CNY remains; so at least 40 % of it stays unpaid and the payment never cures.
    Returns who paid.
    """
    loans, owner = loans_of(world.book, customers)
    overdue = np.flatnonzero(state.missed[loans] < NOT_DELINQUENT)
    overdue = overdue[np.lexsort((state.missed[loans[overdue]], owner[overdue]))]
    owners, first = np.unique(owner[overdue], return_index=True)
    loan = loans[overdue[first]]
    remaining = state.oldest_cents[loan] - state.partial[loan]
    amount = np.floor(fraction[owners] * remaining).astype(np.int64)
    ok = (remaining >= _PARTIAL_MIN_CENTS) & (amount >= 100)
    loan, amount = loan[ok], amount[ok]
    state.partial[loan] += amount
    state.paid[loan] += amount
    recorder.pay(loan, day, amount)
    paid = np.zeros(len(customers), dtype=bool)
    paid[owners[ok]] = True
    return paid


def payment_day(
    world: World,
    state: State,
    day: int,
    rng: np.random.Generator,
    recorder: Recorder,
    first_day: int,
) -> None:
    """Run steps 1-5 of ``day`` (see the module docstring); ``state.day`` becomes ``day``.

    ``first_day`` is the first day of this run: no payment is dated before it.
    """
    people, book = world.people, world.book
    if day != state.day + 1:
        raise ValueError(f"The state is at day {state.day}; cannot run day {day}.")

    # 1. Originations: a delinquent customer's new loan is declined.
    order = book.origination_order
    lo, hi = np.searchsorted(book.loan_origination, [day, day + 1], sorter=order)
    new = order[lo:hi]
    state.loan_active[new] = state.since[book.loan_customer[new]] >= day

    # 2. Installments due today.
    lo, hi = np.searchsorted(book.installment_due, [day, day + 1])
    loans = book.installment_loan[lo:hi]
    cents = book.installment_cents[lo:hi]
    balloon = book.installment_balloon[lo:hi]
    live = state.loan_active[loans]
    np.add.at(state.due, loans[live], cents[live])

    # 3. Catch-up: pay all arrears on every loan, today's installments included.
    delinquent = np.flatnonzero(state.since < day)
    factor = visit_factor(state.last_visit[delinquent], state.visit_strength[delinquent], day)
    hazard = cure_hazard(world, delinquent, day, day - state.since[delinquent], factor)
    cured = delinquent[rng.random(len(delinquent)) < -np.expm1(-hazard)]
    if len(cured):
        cured_loans, _ = loans_of(book, cured)
        owed = state.due[cured_loans] - state.paid[cured_loans]
        paying = cured_loans[owed > 0]
        recorder.pay(paying, day, owed[owed > 0])
        state.paid[paying] = state.due[paying]
        state.missed[cured_loans] = NOT_DELINQUENT
        state.partial[cured_loans] = 0
        recorder.spell(cured, state.since[cured], day)
        state.since[cured] = NOT_DELINQUENT
        state.current_since[cured] = day

    # 4. Open installments due today: paid or missed.
    open_rows = np.flatnonzero(
        live
        & (cents > 0)
        & (state.missed[loans] == NOT_DELINQUENT)
        & (state.paid[loans] < state.due[loans])
    )
    loan, amount = loans[open_rows], cents[open_rows]
    owner = book.loan_customer[loan]
    logit = _miss_logit(world, owner, day)
    logit = (
        logit + _BALLOON_MISS * balloon[open_rows] + _DELINQUENT_MISS * (state.since[owner] < day)
    )
    miss = rng.random(len(loan)) < 1 / (1 + np.exp(-logit))
    early = np.where(rng.random(len(loan)) < _EARLY_SHARE, rng.integers(1, 6, len(loan)), 0)

    missed_loan = loan[miss]
    state.missed[missed_loan] = day
    state.oldest_cents[missed_loan] = amount[miss]
    state.partial[missed_loan] = 0
    newly = np.unique(owner[miss][state.since[owner[miss]] == NOT_DELINQUENT])
    state.since[newly] = day

    pay = ~miss
    pay_day = np.maximum(
        np.maximum(day - early[pay], state.current_since[owner[pay]] + 1), first_day
    )
    state.paid[loan[pay]] += amount[pay]
    recorder.pay(loan[pay], pay_day, amount[pay])

    # 5. Part payments by delinquent customers.
    delinquent = np.flatnonzero(state.since < day)
    chance = _PARTIAL_DAILY * (0.3 + people.willingness[delinquent])
    paying = delinquent[rng.random(len(delinquent)) < chance]
    partial_payments(world, state, paying, day, rng.uniform(0.15, 0.6, len(paying)), recorder)
    state.day = day


def present_officers(world: World, day: int | None) -> np.ndarray:
    """Officers at work on ``day`` (weekday worked, not on leave); all when ``None``."""
    staff = world.staff
    if day is None:
        return np.ones(len(staff.branch), dtype=bool)
    present = staff.weekdays[:, int(weekday_of(day))].copy()
    lo, hi = np.searchsorted(staff.absent_day, [day, day + 1])
    present[staff.absent_officer[lo:hi]] = False
    return present


def branch_capacity(
    world: World, present: np.ndarray, visits_per_day: np.ndarray | None = None
) -> np.ndarray:
    """Visits a day each branch's ``present`` officers can make (their home branch only).

    ``visits_per_day`` replaces the officers' capacity (e.g. what a plan left free).
    """
    staff = world.staff
    per_officer = staff.visits_per_day if visits_per_day is None else visits_per_day
    return np.bincount(
        staff.branch[present],
        weights=per_officer[present],
        minlength=len(world.places.branch_lat),
    )


def visit_probability(
    world: World,
    state: State,
    day: int,
    capacity: np.ndarray,
    excluded: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Return each delinquent customer's chance of a visit at the end of ``day``.

    Weights follow how banks choose today: over 30 (and over 90) days past due first, then
    larger arrears, nearer villages, fewer recently visited; each branch's expected number of
    visits equals its capacity, and no chance exceeds 0.9. Customers flagged do-not-visit,
    customers of the ``excluded`` mask (e.g. those a visit plan has reserved) and branches
    without capacity get none. Returns (customers, probabilities).
    """
    people = world.people
    visitable = (state.since < day) & ~people.do_not_visit
    if excluded is not None:
        visitable &= ~excluded
    customers = np.flatnonzero(visitable)
    loans, owner = loans_of(world.book, customers)
    owed = np.maximum(state.due[loans] - state.paid[loans], 0)
    arrears = np.bincount(owner, weights=owed, minlength=len(customers)) / 100
    dpd = day - state.since[customers]
    recently = day - state.last_visit[customers] <= 14
    log_weight = (
        1.8 * (dpd > 30)
        + 0.6 * (dpd > 90)
        + 0.5 * np.log1p(arrears / 1000)
        - people.distance_km[customers] / 20
        - 1.5 * recently
    )
    weight = np.exp(log_weight)
    branch = people.branch[customers]
    total = np.bincount(branch, weights=weight, minlength=len(capacity))
    probability = np.minimum(_MAX_PROPENSITY, capacity[branch] * weight / total[branch])
    return customers, probability


def _systematic_sample(
    rng: np.random.Generator, group: np.ndarray, probability: np.ndarray, n_groups: int
) -> np.ndarray:
    """Draw indices by systematic sampling within each group, in random order.

    Unit ``i`` is drawn with probability exactly ``probability[i]`` (< 1), and a group
    yields the floor or the ceiling of its summed probabilities.
    """
    order = np.argsort(group + rng.random(len(group)))
    group_sorted = group[order]
    cumulative = np.cumsum(probability[order])
    size = np.bincount(group_sorted, minlength=n_groups)
    before_group = np.concatenate([[0.0], cumulative])[np.cumsum(size) - size]
    within = cumulative - before_group[group_sorted]
    previous = within - probability[order]
    start = rng.random(n_groups)[group_sorted]
    hit = np.floor(within - start) > np.floor(previous - start)
    return order[hit]


def make_visits(
    world: World,
    state: State,
    customers: np.ndarray,
    day: int,
    rng: np.random.Generator,
    recorder: Recorder,
    officers: np.ndarray,
    planned: np.ndarray,
) -> None:
    """Visit distinct ``customers`` at the end of ``day``: outcomes, cash taken, state.

    Outcomes depend on traits: not found more often for the disorganised, refusals from
    those who resent visits, cash on site from the able and willing, restructuring requests
    from those who cannot pay. Cash on site is a part payment (never a cure).
    """
    people = world.people
    a = people.ability[customers]
    g = people.disorganisation[customers]
    w = people.willingness[customers]
    averse = people.visit_response[customers] < 1
    weights = np.column_stack(
        [
            np.full(len(customers), 0.3),  # met
            0.25 * (0.5 + g) * w,  # promise_to_pay
            0.15 * a * w,  # paid_on_site
            0.2 * (1 - a),  # restructure_requested
            np.where(averse, 0.35, 0.03 + 0.05 * (1 - w)),  # refused
            0.05 + 0.1 * g,  # not_found
            np.full(len(customers), 0.03),  # other
        ]
    )
    cumulative = np.cumsum(weights, axis=1)
    draw = rng.random(len(customers)) * cumulative[:, -1]
    outcome = (cumulative < draw[:, None]).sum(axis=1)
    cash = np.flatnonzero(outcome == OUTCOMES.index("paid_on_site"))
    took = partial_payments(
        world, state, customers[cash], day, rng.uniform(0.3, 0.6, len(cash)), recorder
    )
    outcome[cash[~took]] = OUTCOMES.index("promise_to_pay")
    record_visits(world, state, customers, day)
    recorder.visits.append((customers, np.full(len(customers), day), officers, outcome, planned))


def historic_visits(
    world: World,
    state: State,
    day: int,
    rng: np.random.Generator,
    recorder: Recorder,
    excluded: np.ndarray | None = None,
    slots_used: np.ndarray | None = None,
) -> None:
    """Visits the bank makes at the end of ``day`` under its historic policy.

    Officers present that day (their weekdays, not on leave) visit their home branch's
    customers; in pilot branches (every fifth) the last 120 days of history were planned,
    so those visits carry a plan id. A forward simulation passes the customers a visit plan
    has reserved (``excluded``, a mask over customers) and the visits each officer already
    made that day for the plan (``slots_used``): the policy fills only what is left.
    """
    staff = world.staff
    visits_per_day = staff.visits_per_day
    if slots_used is not None:
        visits_per_day = np.maximum(visits_per_day - slots_used, 0)
    present = present_officers(world, day)
    capacity = branch_capacity(world, present, visits_per_day)
    if not capacity.any():
        return
    customers, probability = visit_probability(world, state, day, capacity, excluded)
    branch = world.people.branch[customers]
    chosen = _systematic_sample(rng, branch, probability, len(capacity))
    customers, branch = customers[chosen], branch[chosen]

    # The j-th visit of a branch goes to the j-th capacity slot of its officers that day.
    officer_ids = np.flatnonzero(present)
    slots = np.repeat(officer_ids, visits_per_day[officer_ids])
    slot_branch = staff.branch[slots]
    slot_start = np.searchsorted(slot_branch, np.arange(len(capacity)))
    order = np.argsort(branch, kind="stable")
    customers, branch = customers[order], branch[order]
    rank = np.arange(len(branch)) - np.searchsorted(branch, branch)
    # Summed chances never exceed capacity; this only guards against float rounding.
    fits = rank < capacity[branch]
    customers, branch, rank = customers[fits], branch[fits], rank[fits]
    officers = slots[slot_start[branch] + rank]
    planned = (branch % 5 == 0) & (day > world.as_of - _PILOT_DAYS)
    make_visits(world, state, customers, day, rng, recorder, officers, planned)


def run(
    world: World,
    state: State,
    rng: np.random.Generator,
    recorder: Recorder,
    last_day: int,
    visits_until: int,
    first_day: int,
) -> None:
    """Advance ``state`` to the end of ``last_day``; historic visits on days < ``visits_until``.

    No payment is dated before ``first_day`` (early payments are clipped to it).
    """
    for day in range(state.day + 1, last_day + 1):
        payment_day(world, state, day, rng, recorder, first_day)
        if day < visits_until:
            historic_visits(world, state, day, rng, recorder)


def clone_customers(
    world: World, state: State, customers: np.ndarray, until: int
) -> tuple[World, State]:
    """Build a world of copies of ``customers`` (repeats allowed), to run from ``state.day``.

    Each copy gets its own loans and state; the copies share places, staff, calendar and
    bad harvests. Only installments due in ``(state.day, until]`` are kept, since what is
    due before is already summed in the state. Used to simulate many futures at once.
    """
    book = world.book
    loans, owner = loans_of(book, customers)
    kept = np.flatnonzero((book.installment_due > state.day) & (book.installment_due <= until))
    kept = kept[np.argsort(book.installment_loan[kept], kind="stable")]
    per_loan = np.bincount(book.installment_loan[kept], minlength=len(book.loan_customer))
    first_row = np.cumsum(per_loan) - per_loan
    counts = per_loan[loans]
    offsets = np.cumsum(counts) - counts
    rows = kept[np.repeat(first_row[loans] - offsets, counts) + np.arange(counts.sum())]
    new_loan = np.repeat(np.arange(len(loans)), counts)
    order = np.lexsort((new_loan, book.installment_due[rows]))
    rows, new_loan = rows[order], new_loan[order]

    loan_count = book.customer_loan_count[customers]
    clone_book = Book(
        loan_customer=owner,
        loan_product=book.loan_product[loans],
        loan_origination=book.loan_origination[loans],
        loan_maturity=book.loan_maturity[loans],
        loan_principal=book.loan_principal[loans],
        loan_rate=book.loan_rate[loans],
        customer_first_loan=np.cumsum(loan_count) - loan_count,
        customer_loan_count=loan_count,
        installment_loan=new_loan,
        installment_due=book.installment_due[rows],
        installment_cents=book.installment_cents[rows],
        installment_balloon=book.installment_balloon[rows],
        origination_order=np.argsort(book.loan_origination[loans], kind="stable"),
    )
    people = People(**{name: value[customers] for name, value in vars(world.people).items()})
    n_customers = len(world.people)
    clone_state = State(
        **{
            name: (
                value
                if not isinstance(value, np.ndarray)
                else value[customers]
                if len(value) == n_customers
                else value[loans]
            )
            for name, value in vars(state).items()
        }
    )
    return replace(world, people=people, book=clone_book), clone_state
