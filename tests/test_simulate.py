"""The simulated loan book: contract-shaped, reproducible, and its ground truth is right."""

import hashlib

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from visitrisk import (
    DataError,
    SimulatedPortfolio,
    load_portfolio,
    simulate_forward,
    simulate_portfolio,
)
from visitrisk.cli import app
from visitrisk.ledger import customer_ledger, loan_ledger
from visitrisk.simulate._dynamics import (
    VISIT_FATIGUE,
    Recorder,
    _systematic_sample,
    clone_customers,
    make_visits,
    payment_day,
    visit_strength,
)
from visitrisk.simulate._truth import visit_days

AS_OF = pd.Timestamp("2026-11-30")
# Monthly training snapshots with 60 days of follow-up before the as-of date.
SNAPSHOTS = pd.date_range("2025-12-01", "2026-09-01", freq="MS")


@pytest.fixture(scope="module")
def sim() -> SimulatedPortfolio:
    return simulate_portfolio(
        2_500, seed=11, as_of=AS_OF, history_months=18, truth_dates=list(SNAPSHOTS)
    )


@pytest.fixture(scope="module")
def sim_none() -> SimulatedPortfolio:
    return simulate_portfolio(800, seed=11, as_of=AS_OF, history_months=12, effect="none")


def _digest(frame: pd.DataFrame) -> str:
    return hashlib.sha256(pd.util.hash_pandas_object(frame, index=False).to_numpy()).hexdigest()


def _dpd_from_spells(spells: pd.DataFrame, day: pd.Timestamp) -> pd.Series:
    """The simulator's own DPD on ``day``, by customer (delinquent customers only)."""
    open_on_day = (spells["missed_due_date"] < day) & ~(spells["cured_date"] <= day)
    active = spells[open_on_day]
    return pd.Series(
        (day - active["missed_due_date"]).dt.days.to_numpy(), index=active["customer_id"]
    )


# --- reproducibility --------------------------------------------------------------------


def test_same_seed_gives_identical_tables_and_truth():
    first = simulate_portfolio(400, seed=3, history_months=6)
    second = simulate_portfolio(400, seed=3, history_months=6)
    other = simulate_portfolio(400, seed=4, history_months=6)
    for name, frame in first.portfolio.tables().items():
        assert _digest(frame) == _digest(second.portfolio.tables()[name]), name
    assert _digest(first.truth) == _digest(second.truth)
    assert _digest(first.portfolio.payments) != _digest(other.portfolio.payments)


def test_truth_dates_do_not_change_the_tables():
    plain = simulate_portfolio(400, seed=5, history_months=6)
    with_snapshots = simulate_portfolio(
        400, seed=5, history_months=6, truth_dates=["2026-08-03", "2026-10-01"]
    )
    for name, frame in plain.portfolio.tables().items():
        assert _digest(frame) == _digest(with_snapshots.portfolio.tables()[name]), name
    assert sorted(with_snapshots.truth["as_of"].unique()) == list(
        pd.to_datetime(["2026-08-03", "2026-10-01", "2026-11-30"])
    )
    at_as_of = with_snapshots.truth[with_snapshots.truth["as_of"] == AS_OF]
    assert _digest(at_as_of.reset_index(drop=True)) == _digest(plain.truth)


# --- the contract tables ----------------------------------------------------------------


def test_tables_are_typed_and_keyed_like_the_contract(sim):
    pf = sim.portfolio  # built through load_portfolio: it passed validation
    assert pf.warnings.empty
    for frame, key in [
        (pf.branches, "branch_id"),
        (pf.customers, "customer_id"),
        (pf.loans, "loan_id"),
        (pf.staff, "officer_id"),
    ]:
        assert frame[key].dtype == "str"
        assert frame[key].is_unique
    assert pf.customers["customer_id"].str.fullmatch(r"C\d{7}").all()
    assert pf.customers["branch_id"].isin(pf.branches["branch_id"]).all()
    assert pf.loans["customer_id"].isin(pf.customers["customer_id"]).all()
    assert pf.installments["loan_id"].isin(pf.loans["loan_id"]).all()
    assert pf.payments["loan_id"].isin(pf.loans["loan_id"]).all()
    assert pf.visits["customer_id"].isin(pf.customers["customer_id"]).all()
    assert pf.visits["officer_id"].isin(pf.staff["officer_id"]).all()
    assert pf.staff["branch_id"].isin(pf.branches["branch_id"]).all()
    assert pf.customers["do_not_visit"].dtype == bool

    assert (pf.loans["principal"] > 0).all()
    assert (pf.installments["amount_due"] >= 0).all()
    assert (pf.payments["amount"] > 0).all()
    assert pf.payments["payment_date"].max() <= AS_OF
    assert pf.visits["visit_date"].max() < AS_OF  # the as-of day opens the treatment window
    assert pf.loans["origination_date"].max() <= AS_OF
    assert set(pf.visits["outcome"]) == {
        "met",
        "promise_to_pay",
        "paid_on_site",
        "restructure_requested",
        "refused",
        "not_found",
        "other",
    }
    for column in ("latitude", "longitude"):
        assert pf.customers[column].between(25, 31).all() | (column == "longitude")
    assert pf.customers["longitude"].between(108, 116).all()


def test_personal_data_is_fake_but_well_formed(sim):
    customers = sim.portfolio.customers
    ids = customers["national_id"]
    assert ids.str.fullmatch(r"43\d{15}[\dX]").all()
    digits = np.array([list(map(int, value[:17])) for value in ids.iloc[:200]])
    weights = np.array([7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2])
    expected = np.array(list("10X98765432"))[(digits @ weights) % 11]
    assert (ids.iloc[:200].str[17].to_numpy() == expected).all()
    assert customers["phone"].str.fullmatch(r"1[35789]\d{9}").all()
    assert customers["name"].str.len().between(2, 3).all()


def test_book_looks_like_a_rural_bank(sim):
    pf = sim.portfolio
    loans, customers = pf.loans, pf.customers
    assert set(customers["segment"]) == {"farmer", "cooperative", "small_business", "salaried"}
    assert set(loans["product"]) == {
        "farm_operating",
        "farm_equipment",
        "consumer",
        "mortgage",
        "microbusiness",
    }
    assert 0.002 < customers["do_not_visit"].mean() < 0.03
    # Seasonal loans are drawn in spring and repaid in a balloon after the autumn harvest.
    farm = loans[loans["product"] == "farm_operating"]
    assert farm["origination_date"].dt.month.isin([2, 3, 4]).all()
    assert farm["maturity_date"].dt.month.isin([11, 12]).all()
    schedule = pf.installments.merge(farm[["loan_id", "principal", "maturity_date"]])
    balloon = schedule[schedule["due_date"] == schedule["maturity_date"]]
    assert (balloon["amount_due"] > balloon["principal"]).all()
    # Grace months, several loans at once, early payments, part payments, planned visits.
    assert (pf.installments["amount_due"] == 0).any()
    open_on_as_of = loans[(loans["origination_date"] <= AS_OF) & (loans["maturity_date"] >= AS_OF)]
    loans_held = open_on_as_of.groupby("customer_id").size()
    assert 0.1 < (loans_held >= 2).mean() < 0.6
    assert loans_held.max() >= 3
    paid = pf.payments.merge(pf.installments, on="loan_id")
    assert (
        (paid["payment_date"] < paid["due_date"]) & (paid["amount"] == paid["amount_due"])
    ).any()
    assert 0 < pf.visits["plan_id"].notna().mean() < 0.3
    assert pf.visits["plan_id"].dropna().str.fullmatch(r"PLAN-\d{8}-B\d{3}").all()
    staff = pf.staff
    assert staff["working_days"].isin(["Mon Tue Wed Thu Fri", "Mon Tue Wed Thu Fri Sat"]).all()
    covering = staff.dropna(subset=["covers_branches"])
    assert covering["covers_branches"].isin(pf.branches["branch_id"]).all()
    assert (covering["covers_branches"] != covering["branch_id"]).all()
    leave = staff["absent_dates"].str.split(" ").explode()
    assert pd.to_datetime(leave, format="%Y-%m-%d").max() <= AS_OF + pd.Timedelta(days=90)


# --- the simulator agrees with the ledger -----------------------------------------------


def test_ledger_dpd_matches_the_simulator_state_every_week(sim):
    pf = sim.portfolio
    dates = pd.date_range(AS_OF - pd.Timedelta(days=364), AS_OF, freq="7D")
    state = customer_ledger(pf.loans, loan_ledger(pf.installments, pf.payments, dates))
    assert len(dates) == 53
    for day in dates:
        ledger_dpd = state[state["as_of"] == day].set_index("customer_id")["days_past_due"]
        expected = _dpd_from_spells(sim.spells, day).reindex(ledger_dpd.index, fill_value=0)
        assert (ledger_dpd > 0).any()
        pd.testing.assert_series_equal(ledger_dpd, expected, check_names=False)


def test_truth_rows_are_the_ledgers_delinquent_customers(sim):
    pf = sim.portfolio
    state = customer_ledger(pf.loans, loan_ledger(pf.installments, pf.payments, AS_OF))
    delinquent = state[state["days_past_due"] >= 1].set_index("customer_id")
    truth = sim.truth[sim.truth["as_of"] == AS_OF].set_index("customer_id")
    assert sorted(truth.index) == sorted(delinquent.index)
    truth = truth.loc[delinquent.index]
    assert (truth["days_past_due"] == delinquent["days_past_due"]).all()
    np.testing.assert_allclose(truth["arrears"], delinquent["arrears"], atol=0.005)


def test_every_cure_is_a_day_the_ledger_returns_to_zero(sim):
    pf = sim.portfolio
    cured = sim.spells.dropna(subset=["cured_date"])
    cured = cured[cured["cured_date"] >= AS_OF - pd.Timedelta(days=120)]
    assert len(cured) > 200
    dates = pd.DatetimeIndex(
        sorted(set(cured["cured_date"]) | set(cured["cured_date"] - pd.Timedelta(days=1)))
    )
    state = customer_ledger(pf.loans, loan_ledger(pf.installments, pf.payments, dates))
    dpd = state.set_index(["customer_id", "as_of"])["days_past_due"]
    on_cure = dpd.loc[list(zip(cured["customer_id"], cured["cured_date"], strict=True))]
    before = dpd.loc[
        list(zip(cured["customer_id"], cured["cured_date"] - pd.Timedelta(days=1), strict=True))
    ]
    assert (on_cure == 0).all()
    # Paid the day after the due date: DPD 1 at no end of day, so no visible spell.
    visible = (cured["cured_date"] - cured["missed_due_date"]).dt.days >= 2
    assert (before[visible.to_numpy()] >= 1).all()
    assert (before[~visible.to_numpy()] == 0).all()
    # Part payments happen during spells, and none of them cured anything.
    cure_keys = set(zip(cured["customer_id"], cured["cured_date"], strict=True))
    owner = pf.loans.set_index("loan_id")["customer_id"]
    late = pf.payments[pf.payments["payment_date"] >= AS_OF - pd.Timedelta(days=120)]
    keys = zip(owner.loc[late["loan_id"]], late["payment_date"], strict=True)
    assert sum(key not in cure_keys for key in keys) > 0


# --- treatment assignment ----------------------------------------------------------------


def test_visits_are_confounded_with_days_past_due(sim):
    visits = sim.portfolio.visits
    gaps = []
    for day in pd.date_range(
        AS_OF - pd.Timedelta(days=200), AS_OF - pd.Timedelta(days=1), freq="7D"
    ):
        day = day + pd.offsets.Week(weekday=1)  # Tuesdays: officers at work
        dpd = _dpd_from_spells(sim.spells, day)
        visited = dpd.index.isin(visits.loc[visits["visit_date"] == day, "customer_id"])
        if visited.any() and (~visited).any():
            gaps.append(dpd[visited].mean() - dpd[~visited].mean())
    assert len(gaps) > 20
    assert np.mean(gaps) > 20  # visited customers are weeks further behind
    assert np.mean(np.array(gaps) > 0) > 0.8


def test_every_visitable_delinquent_customer_has_a_visit_chance_strictly_inside_0_1(sim):
    truth = sim.truth.merge(sim.portfolio.customers[["customer_id", "do_not_visit"]])
    visitable = truth[~truth["do_not_visit"]]
    assert (visitable["propensity"] > 0).all()
    assert (visitable["propensity"] < 1).all()
    assert (truth.loc[truth["do_not_visit"], "propensity"] == 0).all()
    # Spread, not a constant: the policy favours some customers strongly.
    assert visitable["propensity"].max() > 20 * visitable["propensity"].min()


def test_systematic_sampling_draws_each_unit_with_its_probability():
    rng = np.random.default_rng(0)
    group = np.repeat([0, 1, 2], [40, 25, 10])
    probability = rng.uniform(0.01, 0.9, len(group))
    probability[group == 2] = 0.3
    draws = 4_000
    hits = np.zeros(len(group))
    per_group = []
    for _ in range(draws):
        chosen = _systematic_sample(rng, group, probability, 3)
        hits[chosen] += 1
        per_group.append(np.bincount(group[chosen], minlength=3))
    frequency = hits / draws
    standard_error = np.sqrt(probability * (1 - probability) / draws)
    assert np.all(np.abs(frequency - probability) < 4.5 * standard_error)
    totals = np.bincount(group, weights=probability)
    per_group = np.array(per_group)
    assert np.all(per_group >= np.floor(totals))
    assert np.all(per_group <= np.ceil(totals))


# --- the visit effect and the ground truth ------------------------------------------------


def test_visit_effect_fades_with_recent_visits(sim):
    people = sim._world.people
    customers = np.arange(3)
    day = 20_000
    never = -1_000_000
    recent = np.array(
        [
            [never, never, never, never],
            [never, never, day - 100, day - 30],  # one visit in the last 90 days
            [never, day - 60, day - 30, day - 1],  # three
        ]
    )
    strength = visit_strength(people, customers, recent, day)
    full = people.visit_response[customers] - 1
    np.testing.assert_allclose(strength, full * VISIT_FATIGUE ** np.array([0, 1, 3]))


def test_no_effect_means_uplift_exactly_zero(sim_none):
    truth = sim_none.truth
    assert len(truth) > 50
    assert (truth["uplift"] == 0).all()
    assert (truth["p_cure_visit"] == truth["p_cure_no_visit"]).all()
    assert (truth["visit_response"] == 1).all()
    assert len(sim_none.portfolio.visits) > 0
    # The same seed draws the same world; only what visits do differs.
    with_effect = simulate_portfolio(800, seed=11, as_of=AS_OF, history_months=12)
    assert _digest(with_effect.portfolio.customers) == _digest(sim_none.portfolio.customers)
    assert (with_effect.truth["uplift"] != 0).mean() > 0.6  # ability < 0.3: no effect at all


def _monte_carlo_cure_rates(sim, customers, draws, visit, seed):
    """Live the world forward from the as-of date ``draws`` times for each customer, through
    the simulator's own daily step: with one visit on a day drawn uniformly from the
    window's weekdays (skipped once cured), or with none. Returns cure rates."""
    world, state = sim._world, sim._state
    day, horizon = state.day, sim.horizon
    clones = np.repeat(customers, draws)
    world, state = clone_customers(world, state.copy(), clones, day + horizon)
    rng = np.random.default_rng(seed)
    recorder = Recorder()
    first_since = state.since.copy()
    window = visit_days(day, sim.treatment_window)
    visit_day = rng.choice(window, len(clones)) if visit else np.full(len(clones), -1)

    def visit_at(today):
        due = np.flatnonzero((visit_day == today) & (state.since == first_since))
        officers = np.zeros(len(due), dtype=np.int64)
        make_visits(world, state, due, today, rng, recorder, officers, np.zeros(len(due), bool))

    visit_at(day)
    for today in range(day + 1, day + horizon + 1):
        payment_day(world, state, today, rng, recorder, day + 1)
        visit_at(today)
    cured = np.zeros(len(clones), dtype=bool)
    for spell_customers, _, _ in recorder.spells:
        cured[spell_customers] = True
    return cured.reshape(len(customers), draws).mean(axis=1)


def test_truth_agrees_with_monte_carlo_forward_simulation(sim):
    truth = sim.truth[sim.truth["as_of"] == AS_OF].iloc[:160]
    position = pd.Series(
        np.arange(len(sim.portfolio.customers)), index=sim.portfolio.customers["customer_id"]
    )
    customers = position.loc[truth["customer_id"]].to_numpy()
    draws = 600
    rates = {
        "p_cure_no_visit": _monte_carlo_cure_rates(sim, customers, draws, False, seed=1),
        "p_cure_visit": _monte_carlo_cure_rates(sim, customers, draws, True, seed=2),
    }
    n = len(customers)
    for column, rate in rates.items():
        p = truth[column].to_numpy()
        variance = np.clip(p * (1 - p), 0.01 * 0.99, None) / draws
        assert abs(np.mean(rate - p)) < 4 * np.sqrt(variance.sum()) / n, column
        chi_square = np.sum((rate - p) ** 2 / variance)
        assert chi_square < n + 5 * np.sqrt(2 * n), column

    uplift = truth["uplift"].to_numpy()
    mc_uplift = rates["p_cure_visit"] - rates["p_cure_no_visit"]
    p0, p1 = truth["p_cure_no_visit"].to_numpy(), truth["p_cure_visit"].to_numpy()
    standard_error = np.sqrt(np.sum(p0 * (1 - p0) + p1 * (1 - p1)) / draws) / n
    assert abs(mc_uplift.mean() - uplift.mean()) < 4 * standard_error
    # The check has power: the visited futures are far from the unvisited truth.
    variance = np.clip(p0 * (1 - p0), 0.0099, None) / draws
    assert np.sum((rates["p_cure_visit"] - p0) ** 2 / variance) > n + 10 * np.sqrt(2 * n)
    # And the heterogeneity is real: the half with the larger true uplift gains more.
    high = uplift > np.median(uplift)
    assert mc_uplift[high].mean() - mc_uplift[~high].mean() > 0.03


def test_magnitudes_are_plausible_and_the_naive_comparison_misleads(sim):
    n_customers = len(sim.portfolio.customers)
    truth = sim.truth
    share_delinquent = truth.groupby("as_of").size() / n_customers
    assert share_delinquent.between(0.08, 0.22).all()
    assert 0.3 < truth["p_cure_no_visit"].mean() < 0.5
    assert 0.01 < truth["uplift"].mean() < 0.06
    assert truth["uplift"].std() > 0.03
    assert 0.03 < (truth["uplift"] < 0).mean() < 0.35
    by_group = truth.groupby("latent_group")["uplift"].mean()
    assert by_group["able_disorganised"] > 0.04
    assert abs(by_group["unable"]) < 0.015
    assert by_group["averse"] < 0

    # What an analyst sees in the log: visited vs not visited in the 14 days after each
    # snapshot, cured within 60 days. Visits go to those who cure least on their own.
    visits, spells = sim.portfolio.visits, sim.spells
    rows = []
    for day in SNAPSHOTS:
        delinquent = _dpd_from_spells(spells, day).index
        window = visits[
            (visits["visit_date"] >= day) & (visits["visit_date"] < day + pd.Timedelta(days=14))
        ]
        cures = spells[
            (spells["cured_date"] > day) & (spells["cured_date"] <= day + pd.Timedelta(days=60))
        ]
        rows.append(
            pd.DataFrame(
                {
                    "treated": delinquent.isin(window["customer_id"]),
                    "cured": delinquent.isin(cures["customer_id"]),
                }
            )
        )
    log = pd.concat(rows)
    naive = log.loc[log["treated"], "cured"].mean() - log.loc[~log["treated"], "cured"].mean()
    true_effect = truth.loc[truth["as_of"].isin(SNAPSHOTS), "uplift"].mean()
    assert 0.15 < log["treated"].mean() < 0.5
    assert naive < 0 < true_effect


# --- entry points -----------------------------------------------------------------------


def test_cli_writes_a_folder_that_validates_and_reads_back_unchanged(tmp_path):
    runner = CliRunner()
    result = runner.invoke(
        app, ["simulate", "--out", str(tmp_path), "--customers", "300", "--seed", "2"]
    )
    assert result.exit_code == 0, result.output
    assert "300 customers" in result.output
    names = {"branches", "customers", "loans", "installments", "payments", "visits", "staff"}
    assert {path.stem for path in tmp_path.glob("*.csv")} == names

    result = runner.invoke(app, ["validate", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "meets the contract" in result.output

    expected = simulate_portfolio(300, seed=2)
    loaded = load_portfolio(tmp_path)
    assert loaded.warnings.empty
    for name, frame in expected.portfolio.tables().items():
        pd.testing.assert_frame_equal(loaded.tables()[name], frame, obj=name)
    truth = pd.read_csv(tmp_path / "truth" / "truth.csv", parse_dates=["as_of"])
    pd.testing.assert_frame_equal(
        truth, expected.truth, check_dtype=False, check_exact=False, rtol=1e-15
    )


def test_cli_writes_parquet_and_rejects_unknown_effects(tmp_path):
    runner = CliRunner()
    result = runner.invoke(
        app,
        ["simulate", "--out", str(tmp_path), "--customers", "200", "--format", "parquet"],
    )
    assert result.exit_code == 0, result.output
    loaded = load_portfolio(tmp_path)
    expected = simulate_portfolio(200)
    for name, frame in expected.portfolio.tables().items():
        pd.testing.assert_frame_equal(loaded.tables()[name], frame, obj=name)
    result = runner.invoke(
        app, ["simulate", "--out", str(tmp_path), "--effect", "huge", "--customers", "200"]
    )
    assert result.exit_code == 2
    assert "huge" in result.output


_PARAMETER = "The '{}' parameter of simulate_portfolio must be "


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"n_customers": 5}, _PARAMETER.format("n_customers") + "an int >= 100. Got 5 instead."),
        ({"n_customers": 500.0}, _PARAMETER.format("n_customers") + "an int >= 100. Got 500.0"),
        ({"seed": -1}, _PARAMETER.format("seed") + "a non-negative int. Got -1 instead."),
        ({"effect": "strong"}, _PARAMETER.format("effect") + "'heterogeneous' or 'none'."),
        ({"history_months": 2}, _PARAMETER.format("history_months") + "an int >= 3"),
        ({"horizon": 0}, _PARAMETER.format("horizon") + r"a positive int \(days\). Got 0"),
        ({"treatment_window": -3}, _PARAMETER.format("treatment_window") + "a positive int"),
        ({"as_of": "yesterday-ish"}, _PARAMETER.format("as_of") + "a date"),
        ({"truth_dates": ["2027-01-01"]}, _PARAMETER.format("truth_dates") + "dates no later"),
        ({"truth_dates": ["2020-01-01"]}, _PARAMETER.format("truth_dates") + "dates after"),
    ],
)
def test_bad_parameters_are_named(arguments, message):
    with pytest.raises(ValueError, match=message):
        simulate_portfolio(**{"n_customers": 200, **arguments})


# --- forward simulation ------------------------------------------------------------------


def _truth_plan(sim: SimulatedPortfolio, holdout: float = 0.5, seed: int = 0):
    """A plan made from the true uplift (an oracle model), as of the simulated as-of date."""
    from visitrisk import PlanRules, plan_visits

    truth = sim.truth[sim.truth["as_of"] == sim.as_of].set_index("customer_id")
    customers = sim.portfolio.customers.set_index("customer_id").loc[truth.index]
    scores = truth[["p_cure_visit", "p_cure_no_visit", "uplift", "days_past_due", "arrears"]]
    scores = scores.assign(
        branch_id=customers["branch_id"],
        do_not_visit=customers["do_not_visit"],
        value_at_stake=truth["arrears"],
        expected_gain=truth["uplift"] * truth["arrears"],
    )
    start = sim.as_of + pd.Timedelta(days=1)
    rules = PlanRules(cooldown_days=0)
    return plan_visits(
        scores, sim.portfolio.staff, start, 10, rules=rules, holdout=holdout, seed=seed
    )


@pytest.fixture(scope="module")
def forward(sim):
    plan = _truth_plan(sim)
    return plan, simulate_forward(sim, plan, days=40, compliance=0.8, seed=5)


def test_historic_policy_is_unchanged_by_empty_exclusions_and_slots(sim):
    from visitrisk.simulate._dynamics import historic_visits

    day = sim._state.day
    outputs = []
    for extra in (
        {},
        {"excluded": np.zeros(2_500, bool), "slots_used": np.zeros(len(sim.portfolio.staff), int)},
    ):
        state, recorder = sim._state.copy(), Recorder()
        historic_visits(sim._world, state, day, np.random.default_rng(3), recorder, **extra)
        outputs.append(np.concatenate(recorder.visits[0][:4]))
    assert len(outputs[0]) > 10
    np.testing.assert_array_equal(outputs[0], outputs[1])


def test_forward_extends_every_table_and_keeps_the_past(sim, forward):
    plan, later = forward
    old, new = sim.portfolio, later.portfolio
    assert later.as_of == AS_OF + pd.Timedelta(days=40)
    assert new.warnings.empty
    for name in ("branches", "customers", "staff"):
        assert _digest(getattr(new, name)[["branch_id"]]) == _digest(
            getattr(old, name)[["branch_id"]]
        )
    pd.testing.assert_frame_equal(new.customers, old.customers)
    for name, date in (("payments", "payment_date"), ("visits", "visit_date")):
        before = getattr(new, name)
        before = before[before[date] <= AS_OF].reset_index(drop=True)
        pd.testing.assert_frame_equal(before, getattr(old, name), obj=name)
        assert getattr(new, name)[date].max() > AS_OF + pd.Timedelta(days=30)
    assert new.payments["payment_date"].max() <= later.as_of
    assert new.visits["visit_date"].max() < later.as_of
    for name in ("loans", "installments"):
        merged = getattr(old, name).merge(getattr(new, name), how="left", indicator=True)
        assert (merged["_merge"] == "both").all(), name
    assert len(new.loans) > len(old.loans)  # loans granted since
    # Old truth kept (the plan's customers on its as-of date), new as-of date added.
    pd.testing.assert_frame_equal(later.truth.iloc[: len(sim.truth)], sim.truth)
    assert set(later.truth["as_of"]) == set(sim.truth["as_of"]) | {later.as_of}
    assert set(plan.plan["customer_id"]) <= set(
        sim.truth.loc[sim.truth["as_of"] == AS_OF, "customer_id"]
    )
    # The new world goes on: its ledger agrees with its own spells.
    state = customer_ledger(new.loans, loan_ledger(new.installments, new.payments, later.as_of))
    dpd = state.set_index("customer_id")["days_past_due"]
    expected = _dpd_from_spells(later.spells, later.as_of).reindex(dpd.index, fill_value=0)
    pd.testing.assert_series_equal(dpd, expected, check_names=False)


def test_forward_carries_the_plan_out_and_spares_the_holdout(sim, forward):
    plan, later = forward
    visits = later.portfolio.visits
    new_visits = visits[visits["visit_date"] > AS_OF]
    planned = plan.plan[plan.plan["arm"] == "visit"].set_index("customer_id")
    made = new_visits[new_visits["plan_id"] == plan.plan_id].set_index("customer_id")
    assert made.index.is_unique
    assert made.index.isin(planned.index).all()
    # On the planned day, by the planned officer.
    assert (made["visit_date"] == planned.loc[made.index, "visit_date"]).all()
    assert (made["officer_id"] == planned.loc[made.index, "officer_id"]).all()
    # Compliance 0.8, and never a customer who had already paid up.
    share = len(made) / len(planned)
    assert 0.55 < share < 0.85
    spells = later.spells.set_index("customer_id")
    for customer, row in made.iloc[:50].iterrows():
        customer_spells = spells.loc[[customer]]
        open_then = (customer_spells["missed_due_date"] < row["visit_date"]) & ~(
            customer_spells["cured_date"] <= row["visit_date"]
        )
        assert open_then.any()
    # Plan customers get no other visit within the horizon; others are still visited.
    horizon_end = AS_OF + pd.Timedelta(days=sim.horizon)
    in_plan = new_visits["customer_id"].isin(plan.plan["customer_id"])
    others = new_visits[in_plan & (new_visits["plan_id"] != plan.plan_id)]
    assert (others["visit_date"] > horizon_end).all()
    assert (~in_plan).sum() > 100
    # No officer exceeds the day's capacity, plan and historic visits together.
    per_day = new_visits.groupby(["officer_id", "visit_date"]).size().rename("visits").reset_index()
    per_day = per_day.merge(later.portfolio.staff[["officer_id", "visits_per_day"]])
    assert (per_day["visits"] <= per_day["visits_per_day"]).all()


def test_forward_is_reproducible_for_a_seed(sim, forward):
    plan, later = forward
    again = simulate_forward(sim, plan.plan, days=40, compliance=0.8, seed=5)
    other = simulate_forward(sim, plan, days=40, compliance=0.8, seed=6)
    for name, frame in later.portfolio.tables().items():
        assert _digest(frame) == _digest(again.portfolio.tables()[name]), name
    assert _digest(later.truth) == _digest(again.truth)
    assert _digest(later.portfolio.visits) != _digest(other.portfolio.visits)
    # The world it continued is untouched, and can be continued again.
    assert sim._state.day == AS_OF.value // 86_400_000_000_000
    empty = plan.plan.iloc[:0]
    further = simulate_forward(later, empty, days=1)
    assert further.as_of == later.as_of + pd.Timedelta(days=1)
    assert further.portfolio.payments["payment_date"].max() == further.as_of


def test_forward_refuses_what_it_cannot_carry_out(sim, forward):
    plan, _ = forward
    rows = plan.plan.copy()
    rows.loc[rows.index[0], "customer_id"] = "C9999999"
    with pytest.raises(DataError, match=r"customer\(s\) are not in the simulated portfolio"):
        simulate_forward(sim, rows, days=20)
    rows = plan.plan.copy()
    rows.loc[rows.index[0], "visit_date"] = AS_OF
    with pytest.raises(DataError, match="on or before the simulated as-of date 2026-11-30"):
        simulate_forward(sim, rows, days=20)
    rows = plan.plan.copy()
    rows.loc[rows.index[0], "arm"] = "maybe"
    with pytest.raises(DataError, match="arm must be 'visit' or 'holdout'"):
        simulate_forward(sim, rows, days=20)
    with pytest.raises(
        ValueError, match=r"'days' parameter of simulate_forward must be an int in \[1, "
    ):
        simulate_forward(sim, plan, days=1_000)
    with pytest.raises(ValueError, match="'compliance' parameter of simulate_forward"):
        simulate_forward(sim, plan, days=10, compliance=1.5)


def test_a_team_visit_uses_every_member_and_is_logged_under_the_first(sim):
    truth = sim.truth[sim.truth["as_of"] == AS_OF]
    staff = sim.portfolio.staff
    home = staff["branch_id"].iloc[0]
    # A team across branches: the simulator carries out whatever the plan says.
    officers = staff["officer_id"].iloc[:2].tolist()
    customers = sim.portfolio.customers.set_index("customer_id")
    local = truth[customers.loc[truth["customer_id"], "branch_id"].to_numpy() == home]
    team = " ".join(officers)
    monday = pd.Timestamp("2026-12-07")
    plan = pd.DataFrame(
        {
            "plan_id": "team-plan",
            "customer_id": local["customer_id"].iloc[:3].to_numpy(),
            "arm": "visit",
            "officer_id": team,
            "visit_date": monday,
        }
    )
    later = simulate_forward(sim, plan, days=10, compliance=1.0, seed=2)
    visits = later.portfolio.visits
    made = visits[visits["plan_id"] == "team-plan"]
    assert len(made) >= 1
    assert (made["officer_id"] == officers[0]).all()
    assert (made["visit_date"] == monday).all()
    # The team's slots are used up by the plan first: the policy fills what is left.
    that_day = visits[(visits["visit_date"] == monday)].groupby("officer_id").size()
    capacity = staff.set_index("officer_id")["visits_per_day"]
    for officer in team.split():
        used = that_day.get(officer, 0) + (len(made) if officer != officers[0] else 0)
        assert used <= capacity[officer]
