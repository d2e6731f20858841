"""A simulated rural loan book whose visit effect is known: the project's ground truth.

:func:`simulate_portfolio` draws a province of branches, townships and villages, customers
with latent traits, loans with monthly and seasonal schedules, and staff; it then lives the
book day by day (payments, misses, cures, partial payments, visits chosen the way banks
choose today) up to the as-of date, and returns every contract table together with the
exact effect of a visit for each customer delinquent on that date.
:func:`simulate_forward` continues such a world past its as-of date with a visit plan
carried out, so that the effect of a plan can be measured against the truth.
"""

from __future__ import annotations

import datetime as dt
import numbers
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from visitrisk.contract import Portfolio, load_portfolio
from visitrisk.simulate._dynamics import Recorder, State, historic_visits, initial_state, run
from visitrisk.simulate._forward import simulate_forward
from visitrisk.simulate._tables import Ids, contract_tables, spells_table, truth_table
from visitrisk.simulate._truth import exact_truth
from visitrisk.simulate._world import (
    World,
    make_bad_harvests,
    make_book,
    make_people,
    make_places,
    make_staff,
)

__all__ = ["SimulatedPortfolio", "simulate_forward", "simulate_portfolio"]

Effect = Literal["heterogeneous", "none"]

#: Days of pre-drawn future (loans, bad harvests) after the as-of date, for forward runs.
_FUTURE_DAYS = 400


@dataclass(frozen=True, eq=False)
class SimulatedPortfolio:
    """A simulated portfolio and its ground truth.

    Attributes
    ----------
    portfolio : Portfolio
        Every contract table (branches and staff included), as a bank would export them on
        the as-of date: payments through ``as_of``, visits through the day before.
    truth : pandas.DataFrame
        One row per customer delinquent (DPD >= 1) on each truth date: ``customer_id``,
        ``as_of``, ``days_past_due``, ``arrears`` (CNY), ``p_cure_visit``,
        ``p_cure_no_visit``, ``uplift``, ``propensity`` (the historic policy's chance of a
        visit that day, with all officers at work; 0 for do-not-visit customers), and, for
        analysis only, ``latent_group`` and ``visit_response`` (the hazard factor of a
        first visit). See :func:`simulate_portfolio` for the exact definitions.
    spells : pandas.DataFrame
        The simulator's own record of delinquency: ``customer_id``, ``missed_due_date``
        (DPD >= 1 from the next day) and ``cured_date`` (DPD back to 0; NaT if still
        delinquent on ``as_of``).
    as_of : pandas.Timestamp
        Last day of the history.
    effect : str
        ``"heterogeneous"`` or ``"none"``.
    treatment_window, horizon : int
        Days; the definitions the truth uses.
    seed : int
        The seed the world was drawn with.
    """

    portfolio: Portfolio
    truth: pd.DataFrame
    spells: pd.DataFrame
    as_of: pd.Timestamp
    effect: str
    treatment_window: int
    horizon: int
    seed: int
    # What a forward simulation needs to continue this world: never modify them in place.
    _world: World = field(repr=False)
    _state: State = field(repr=False)
    _recorder: Recorder = field(repr=False)

    def write(self, out_dir: str | Path, file_format: Literal["csv", "parquet"] = "csv") -> Path:
        """Write the contract tables (``<table>.<ext>``) and ``truth/truth.<ext>``.

        CSV files are UTF-8 with a header row, ISO dates and ``true``/``false`` flags; the
        truth sits in a subfolder so the folder itself holds exactly the contract tables.

        Returns
        -------
        pathlib.Path
            The folder written.
        """
        if file_format not in ("csv", "parquet"):
            raise ValueError(
                f"The 'file_format' parameter of SimulatedPortfolio.write must be 'csv' or "
                f"'parquet'. Got {file_format!r} instead."
            )
        import pyarrow as pa
        import pyarrow.csv as pa_csv

        out = Path(out_dir)
        (out / "truth").mkdir(parents=True, exist_ok=True)
        frames = {**self.portfolio.tables(), "truth/truth": self.truth}
        for name, frame in frames.items():
            path = out / f"{name}.{file_format}"
            if file_format == "parquet":
                frame.to_parquet(path, index=False)
                continue
            # Arrow writes millions of rows in a fraction of pandas' time; dates as ISO days.
            table = pa.Table.from_pandas(frame, preserve_index=False)
            for position, column in enumerate(table.schema):
                if pa.types.is_timestamp(column.type):
                    dates = table.column(position).cast(pa.date32())
                    table = table.set_column(position, column.name, dates)
            pa_csv.write_csv(table, path)
        return out


def _is_int(value: object) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _check(name: str, value: object, ok: bool, expected: str) -> None:
    if not ok:
        raise ValueError(
            f"The {name!r} parameter of simulate_portfolio must be {expected}. "
            f"Got {value!r} instead."
        )


def _day(value: str | dt.date | pd.Timestamp, name: str) -> int:
    try:
        stamp = pd.Timestamp(value)
    except (TypeError, ValueError) as error:
        raise ValueError(
            f"The {name!r} parameter of simulate_portfolio must be a date (YYYY-MM-DD). "
            f"Got {value!r} instead."
        ) from error
    return int(np.datetime64(stamp.normalize().date(), "D").astype(np.int64))


def simulate_portfolio(
    n_customers: int = 10_000,
    *,
    seed: int = 0,
    effect: Effect = "heterogeneous",
    as_of: str | dt.date | pd.Timestamp = "2026-11-30",
    history_months: int = 30,
    treatment_window: int = 14,
    horizon: int = 60,
    truth_dates: Sequence[str | dt.date | pd.Timestamp] = (),
) -> SimulatedPortfolio:
    """Simulate a rural bank's loan book, with the exact effect of a visit known.

    The world. A province with one branch per ~2,500 customers, 4-9 townships per branch
    and 6-14 villages per township, all with coordinates. Customers are farmers (46 %),
    cooperatives (4 %), small businesses (25 %) and salaried (25 %); 1 % asked not to be
    visited. Farmers renew a seasonal operating loan most years (drawn Feb-Apr, interest
    quarterly, principal balloon after the autumn harvest), small businesses microbusiness
    loans, salaried customers consumer loans; some add equipment (with interest-free grace
    months: zero installments), consumer or mortgage loans, so many hold 2-3 loans. About one
    officer per 1,100 customers, 4-8 visits a day, some working Saturdays, some covering a
    neighbouring branch, with leave days. Latent traits — ability to pay, disorganisation,
    willingness, and resentment of visits (~12 %) — drive everything below and appear in no
    table; only the history reveals them.

    The dynamics, day by day from ``history_months`` before ``as_of``. A current customer
    pays each installment on its due date (a third of the time 1-5 days early) or misses
    it, more often in lean months, after a bad harvest in the township (12 % of townships
    a year), on balloons, and when already behind on another loan. A delinquent customer
    (DPD >= 1) cures only by paying *all* arrears on all loans at once, with a daily hazard
    set by traits, season (harvests, Spring Festival, paydays), bad harvests and duration
    (falling with DPD); in between they may pay part of the oldest overdue installment,
    which never cures. A delinquent customer's new loan is declined. A visit multiplies the
    hazard from the next day on by ``1 + (r - 1) * 0.7**k * exp(-(days since - 1) / 21)``,
    where ``r`` is the customer's visit response (1.3-7, mean 2.4, when able but
    disorganised; 1.6 when able and organised; about 1.1 when unable to pay; 0.4-0.8 when
    visits are resented) and ``k`` the visits in the 90 days before; the latest visit's
    factor replaces earlier ones. With ``effect="none"``,
    ``r = 1``: visits change nothing.

    Historic visits. At the end of each working day, each branch's officers present visit
    delinquent customers chosen at random with weights favouring DPD > 30 (more so > 90),
    large arrears, nearby villages and no visit in the last 14 days, so that the expected
    number of visits equals capacity and no chance exceeds 0.9 (systematic sampling, so the
    chances are exact). Treatment is thus confounded (visited customers are further behind
    and cure less on their own) yet every delinquent visitable customer has a chance
    strictly between 0 and 1. Outcomes (met, promise_to_pay, paid_on_site, ...) depend on the
    traits; paid_on_site takes part of the arrears in cash. In every fifth branch the last
    120 days were planned visits, which carry a ``plan_id``.

    Ground truth, for each customer delinquent on a truth date ``d``, computed exactly from
    the hazards (nothing sampled): ``p_cure_no_visit`` = P(DPD returns to 0 on some day in
    ``(d, d + horizon]`` | no visit in that period); ``p_cure_visit`` = the same with one
    visit on a day drawn uniformly from the weekdays of ``[d, d + treatment_window)`` (made
    at the end of that day, skipped if the customer has already cured) and no other visit;
    ``uplift`` = their difference. Bad harvests are drawn for the whole calendar in
    advance, so the future holds no other randomness that matters to a cure.

    Magnitudes (seed 0, 10,000 and 100,000 customers, 30 months; the tests check them
    loosely): 11-15 % of customers are delinquent (DPD >= 1) on the first of each month,
    with a seasonal swing; 39-43 % of the delinquent cure within 60 days without a visit;
    the true uplift averages +3.3 points with a standard deviation of 6 points and is
    negative for 14 % (by latent group: able but disorganised +8.5, able and organised
    +4.4, unable +0.4, resentful -2.5); about 27 % of delinquent customers are visited
    within 14 days, and the naive visited-minus-unvisited difference of 60-day cure rates
    is about -10 points: visits go to those who cure least on their own, and those who cure
    before a visit could come count as unvisited.

    Parameters
    ----------
    n_customers : int, default 10_000
        Number of customers (>= 100).
    seed : int, default 0
        Seed of every random draw: the same seed gives identical tables.
    effect : {"heterogeneous", "none"}, default "heterogeneous"
        Whether visits change the chance of curing.
    as_of : date-like, default "2026-11-30"
        Last day of the history and the main truth date.
    history_months : int, default 30
        Months of simulated history before ``as_of`` (>= 3); loans older than that start
        with their earlier installments paid, and ~12 % of customers start delinquent.
    treatment_window, horizon : int, default 14 and 60
        Days, as in the data contract.
    truth_dates : sequence of date-like, default ()
        Extra truth dates inside the history (e.g. training snapshots); ``as_of`` is always
        included. The tables do not depend on this argument.

    Returns
    -------
    SimulatedPortfolio

    Examples
    --------
    >>> sim = simulate_portfolio(2_000, seed=1, history_months=6)
    >>> sorted(sim.portfolio.tables())
    ['branches', 'customers', 'installments', 'loans', 'payments', 'staff', 'visits']
    >>> bool((sim.truth["p_cure_visit"] - sim.truth["p_cure_no_visit"]).abs().max() <= 1)
    True
    """
    _check(
        "n_customers",
        n_customers,
        _is_int(n_customers) and n_customers >= 100,
        "an int >= 100",
    )
    _check("seed", seed, _is_int(seed) and seed >= 0, "a non-negative int")
    _check("effect", effect, effect in ("heterogeneous", "none"), "'heterogeneous' or 'none'")
    _check(
        "history_months",
        history_months,
        _is_int(history_months) and history_months >= 3,
        "an int >= 3 (months)",
    )
    _check(
        "treatment_window",
        treatment_window,
        _is_int(treatment_window) and treatment_window >= 1,
        "a positive int (days)",
    )
    _check("horizon", horizon, _is_int(horizon) and horizon >= 1, "a positive int (days)")
    n_customers, seed, history_months = int(n_customers), int(seed), int(history_months)
    treatment_window, horizon = int(treatment_window), int(horizon)
    as_of_day = _day(as_of, "as_of")
    start = int(
        (np.datetime64(as_of_day, "D").astype("datetime64[M]") - history_months)
        .astype("datetime64[D]")
        .astype(np.int64)
    )
    snapshot_days = sorted({_day(value, "truth_dates") for value in truth_dates} | {as_of_day})
    _check(
        "truth_dates",
        list(truth_dates),
        snapshot_days[0] > start,
        f"dates after the start of the history ({np.datetime64(start, 'D')}) "
        "and no later than as_of",
    )
    _check(
        "truth_dates",
        list(truth_dates),
        snapshot_days[-1] == as_of_day,
        "dates no later than as_of",
    )

    streams = [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(6)]
    end = as_of_day + max(_FUTURE_DAYS, treatment_window + horizon + 31)
    places = make_places(streams[0], n_customers)
    people = make_people(streams[1], places, n_customers, as_of_day, effect)
    # Everyone borrows early enough to be in the exported book, however short the history.
    first_by = start + min(120, (as_of_day - start) // 2)
    book = make_book(streams[2], people, start, first_by, end)
    staff = make_staff(streams[3], places, people, start, end)
    first_year, bad_harvest = make_bad_harvests(streams[4], places, start, end)
    world = World(
        start=start,
        as_of=as_of_day,
        end=end,
        first_year=first_year,
        effect=effect,
        places=places,
        people=people,
        book=book,
        staff=staff,
        bad_harvest=bad_harvest,
    )

    recorder = Recorder()
    daily = streams[5]
    state = initial_state(world, daily, recorder)
    truths = []
    for snapshot in snapshot_days:
        run(
            world, state, daily, recorder, last_day=snapshot, visits_until=snapshot, first_day=start
        )
        truths.append((snapshot, exact_truth(world, state, treatment_window, horizon)))
        if snapshot < as_of_day:
            historic_visits(world, state, snapshot, daily, recorder)

    ids = Ids(world)
    truth = pd.concat(
        [truth_table(world, values, snapshot, ids) for snapshot, values in truths],
        ignore_index=True,
    )
    return SimulatedPortfolio(
        portfolio=load_portfolio(**contract_tables(world, state, recorder, ids)),
        truth=truth,
        spells=spells_table(state, recorder, ids),
        as_of=pd.Timestamp(np.datetime64(as_of_day, "D")),
        effect=effect,
        treatment_window=treatment_window,
        horizon=horizon,
        seed=seed,
        _world=world,
        _state=state,
        _recorder=recorder,
    )
