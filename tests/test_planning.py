"""The visit planner: rules, capacity, exact optimum, holdout, routes, reproducibility."""

import datetime as dt
import itertools
import json

import numpy as np
import pandas as pd
import pytest

from visitrisk.contract import DataError, load_portfolio
from visitrisk.planning import (
    EXCLUSION_COLUMNS,
    PLAN_COLUMNS,
    PlanRules,
    plan_visits,
)

START = "2026-12-01"  # a Tuesday
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def make_scores(n, n_branches, seed, *, gain_low=1.0, coordinates=True):
    rng = np.random.default_rng(seed)
    uplift = rng.uniform(0.01, 0.4, n)
    value = rng.uniform(100, 5000, n).round(2)
    scores = pd.DataFrame(
        {
            # every branch has customers, so every covered branch is known
            "branch_id": [f"B{b}" for b in rng.permutation(np.arange(n) % n_branches)],
            "p_cure_visit": rng.uniform(0.4, 0.9, n),
            "uplift": uplift,
            "value_at_stake": value,
            "expected_gain": np.maximum(uplift * value, gain_low),
            "days_past_due": rng.integers(1, 180, n),
            "arrears": value,
            "township": [f"T{t}" for t in rng.integers(0, 3, n)],
            "village": [f"V{v}" for v in rng.integers(0, 4, n)],
            "reason_1": "arrears rising",
        },
        index=pd.Index([f"C{i:05d}" for i in range(n)], name="customer_id"),
    )
    scores["p_cure_no_visit"] = scores["p_cure_visit"] - uplift
    if coordinates:
        scores["latitude"] = 30.0 + rng.uniform(0, 0.3, n)
        scores["longitude"] = 120.0 + rng.uniform(0, 0.3, n)
    return scores


def make_staff(n_officers, n_branches, seed, *, cover_share=0.5, vpd=(1, 4)):
    rng = np.random.default_rng(seed)
    home = rng.integers(0, n_branches, n_officers)
    covers = [
        f"B{(h + 1) % n_branches}" if rng.random() < cover_share and n_branches > 1 else ""
        for h in home
    ]
    return pd.DataFrame(
        {
            "officer_id": [f"O{i:03d}" for i in range(n_officers)],
            "branch_id": [f"B{h}" for h in home],
            "visits_per_day": rng.integers(vpd[0], vpd[1] + 1, n_officers),
            "working_days": rng.choice(["Mon Tue Wed Thu Fri", "Tue Thu", "Wed Sat"], n_officers),
            "covers_branches": covers,
            "absent_dates": rng.choice(["", "2026-12-02", "2026-12-01 2026-12-03"], n_officers),
        }
    )


def reference_officer_days(staff, start, days):
    """Slow, obvious calendar: (officer, date, capacity, branches covered)."""
    first = dt.date.fromisoformat(start)
    rows = []
    for officer in staff.itertuples():
        absent = set(str(officer.absent_dates or "").split())
        for offset in range(days):
            date = first + dt.timedelta(days=offset)
            works = WEEKDAYS[date.weekday()] in str(officer.working_days).split()
            if works and date.isoformat() not in absent and officer.visits_per_day > 0:
                covered = {officer.branch_id, *str(officer.covers_branches or "").split()}
                rows.append((officer.officer_id, date.isoformat(), officer.visits_per_day, covered))
    return rows


def brute_force(scores, staff, start, days, must=None):
    """Best (must-visit count, total gain) over every assignment of customers to officer-days."""
    units = reference_officer_days(staff, start, days)
    n = len(scores)
    must = np.zeros(n, dtype=bool) if must is None else must
    gain = scores["expected_gain"].to_numpy()
    allowed = np.zeros((n, len(units) + 1), dtype=bool)
    allowed[:, len(units)] = True  # the last choice is "not visited"
    for u, (_, _, _, covered) in enumerate(units):
        allowed[:, u] = scores["branch_id"].isin(covered).to_numpy()
    combos = np.array(list(itertools.product(range(len(units) + 1), repeat=n)), dtype=np.int8)
    valid = allowed[np.arange(n)[None, :], combos].all(axis=1)
    for u, (_, _, capacity, _) in enumerate(units):
        valid &= (combos == u).sum(axis=1) <= capacity
    visited = combos < len(units)
    musts = (visited & must[None, :]).sum(axis=1)
    gains = np.where(visited, gain[None, :], 0.0).sum(axis=1)
    best = np.lexsort((gains[valid], musts[valid]))[-1]
    return musts[valid][best], gains[valid][best]


def exploded_visits(plan):
    visits = plan[plan["arm"] == "visit"].copy()
    visits["officer_id"] = visits["officer_id"].str.split()
    return visits.explode("officer_id")


# ---------------------------------------------------------------------------------------------
# Exact optimum
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(20))
def test_coupled_coverage_matches_brute_force(seed):
    scores = make_scores(6, 3, seed)
    staff = make_staff(3, 3, seed, cover_share=0.7, vpd=(1, 1))
    staff["working_days"] = np.random.default_rng(seed).choice(["Tue", "Wed", "Tue Wed"], 3)
    staff["absent_dates"] = ""
    result = plan_visits(scores, staff, START, days=2, holdout=0.0)
    _, best_gain = brute_force(scores, staff, START, 2)
    assert result.plan["expected_gain"].sum() == pytest.approx(best_gain, rel=1e-12)


def test_coupled_instances_use_the_milp():
    scores = make_scores(6, 3, 0)
    staff = make_staff(3, 3, 0, cover_share=1.0, vpd=(1, 1))
    assert plan_visits(scores, staff, START, days=2, holdout=0.0).summary["method"] == "milp"


@pytest.mark.parametrize("seed", range(8))
def test_per_branch_path_matches_brute_force(seed):
    scores = make_scores(6, 2, seed)
    staff = make_staff(3, 2, seed, cover_share=0.0, vpd=(1, 2))
    staff["working_days"] = np.random.default_rng(seed).choice(["Tue", "Wed", "Mon"], 3)
    staff["absent_dates"] = ""
    result = plan_visits(scores, staff, START, days=2, holdout=0.0)
    assert result.summary["method"] == "per_branch"
    _, best_gain = brute_force(scores, staff, START, 2)
    assert result.plan["expected_gain"].sum() == pytest.approx(best_gain, rel=1e-12)


@pytest.mark.parametrize("seed", range(8))
def test_must_visit_served_first_matches_brute_force(seed):
    scores = make_scores(6, 3, seed)
    staff = make_staff(3, 3, seed, cover_share=0.6, vpd=(1, 1))
    staff["working_days"] = np.random.default_rng(seed).choice(["Tue", "Wed", "Tue Wed"], 3)
    staff["absent_dates"] = ""
    rules = PlanRules(must_visit_min_dpd=90)
    must = scores["days_past_due"].to_numpy() >= 90
    result = plan_visits(scores, staff, START, days=2, rules=rules, holdout=0.0)
    best_musts, best_gain = brute_force(scores, staff, START, 2, must=must)
    planned = scores.index.isin(result.plan["customer_id"])
    assert (planned & must).sum() == best_musts
    assert result.summary["must_visit_served"] == best_musts
    assert result.plan["expected_gain"].sum() == pytest.approx(best_gain, rel=1e-12)


def test_visit_cost_is_subtracted_once():
    scores = make_scores(30, 2, 1)
    staff = make_staff(2, 2, 1, cover_share=0.0, vpd=(3, 3))
    cost = float(scores["expected_gain"].median())
    result = plan_visits(scores, staff, START, days=3, rules=PlanRules(visit_cost=cost))
    net = scores["expected_gain"] - cost
    planned = result.plan.set_index("customer_id")["expected_gain"]
    np.testing.assert_allclose(planned, net.loc[planned.index])
    assert (planned > 0).all()
    too_low = result.exclusions["reason"] == "non_positive_gain"
    assert set(result.exclusions.loc[too_low, "customer_id"]) == set(net.index[net <= 0])


# ---------------------------------------------------------------------------------------------
# Capacity, calendar, rules, completeness
# ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module", params=[1, 2], ids=["alone", "pairs"])
def busy_plan(request):
    scores = make_scores(3000, 12, 5)
    rng = np.random.default_rng(5)
    scores["do_not_visit"] = rng.random(len(scores)) < 0.05
    last = pd.Timestamp("2026-12-01") - pd.to_timedelta(rng.integers(1, 90, len(scores)), "D")
    scores["last_visit_date"] = last.where(rng.random(len(scores)) < 0.3)
    scores.loc[scores.index[:40], "expected_gain"] = -5.0
    staff = make_staff(40, 12, 5, cover_share=0.5, vpd=(2, 8))
    rules = PlanRules(min_gain=20.0, team_size=request.param)
    return scores, staff, rules, plan_visits(scores, staff, START, days=10, rules=rules, seed=3)


def test_capacity_never_exceeded_per_officer_day(busy_plan):
    _, staff, _, result = busy_plan
    visits = exploded_visits(result.plan)
    per_day = visits.groupby(["officer_id", "visit_date"]).size().rename("visits").reset_index()
    per_day = per_day.merge(staff[["officer_id", "visits_per_day"]], on="officer_id")
    assert (per_day["visits"] <= per_day["visits_per_day"]).all()
    assert result.summary["visits_planned"] <= result.summary["capacity"]


def test_nobody_on_a_non_working_or_absent_day(busy_plan):
    _scores, staff, _, result = busy_plan
    allowed = {(o, d): covered for o, d, _, covered in reference_officer_days(staff, START, 10)}
    visits = exploded_visits(result.plan)
    keys = zip(visits["officer_id"], visits["visit_date"].dt.strftime("%Y-%m-%d"), strict=True)
    for (officer, date), branch in zip(keys, visits["branch_id"], strict=True):
        assert branch in allowed[(officer, date)], (officer, date, branch)


def test_rules_are_obeyed_and_explained(busy_plan):
    scores, _, rules, result = busy_plan
    planned = scores.loc[result.plan["customer_id"]]
    assert not planned["do_not_visit"].any()
    since = pd.Timestamp(START) - planned["last_visit_date"]
    assert not (since < pd.Timedelta(days=rules.cooldown_days)).any()
    assert (result.plan["expected_gain"] >= rules.min_gain).all()
    reasons = result.exclusions.set_index("customer_id")
    cooled = reasons[reasons["reason"] == "cooldown"]
    assert len(cooled) > 0
    example = cooled.index[0]
    last = scores.loc[example, "last_visit_date"].date().isoformat()
    assert cooled.loc[example, "detail"] == f"visited {last}, cool-down 30 days"
    for code in ("do_not_visit", "cooldown", "non_positive_gain", "below_min_gain", "no_capacity"):
        assert result.summary["exclusions_by_reason"][code] > 0, code
    assert (reasons["detail"] != "").all()


def test_every_customer_in_exactly_one_output(busy_plan):
    scores, _, _, result = busy_plan
    ids = pd.concat([result.plan["customer_id"], result.exclusions["customer_id"]])
    assert ids.is_unique
    assert set(ids) == set(scores.index)
    assert list(result.plan.columns) == list(PLAN_COLUMNS)
    assert list(result.exclusions.columns) == list(EXCLUSION_COLUMNS)


def test_rank_one_is_the_most_valuable_visit_of_its_branch(busy_plan):
    _, _, _, result = busy_plan
    plan = result.plan
    best = plan.loc[plan.groupby("branch_id")["expected_gain"].idxmax()]
    assert (best["rank"] == 1).all()
    assert (
        plan.groupby("branch_id")["rank"]
        .apply(lambda r: sorted(r) == list(range(1, len(r) + 1)))
        .all()
    )


def test_must_visit_customers_skip_the_minimum_gain_but_not_the_other_rules():
    scores = make_scores(200, 2, 6)
    scores["do_not_visit"] = False
    scores.loc[scores.index[:5], "do_not_visit"] = True
    staff = make_staff(4, 2, 6, cover_share=0.0, vpd=(20, 20))
    rules = PlanRules(min_gain=1e9, must_visit_min_dpd=150, must_visit_min_arrears=1000.0)
    result = plan_visits(scores, staff, START, days=3, rules=rules, holdout=0.5)
    must = (scores["days_past_due"] >= 150) & (scores["arrears"] >= 1000.0)
    expected = set(scores.index[must & ~scores["do_not_visit"]])
    assert set(result.plan["customer_id"]) == expected
    assert (result.plan["arm"] == "visit").all()  # must-visit customers are never held out
    assert (result.plan["assignment_probability"] == 1.0).all()
    reasons = result.exclusions.set_index("customer_id")["reason"]
    assert set(reasons[reasons.index.isin(scores.index[~must])]) == {
        "below_min_gain",
        "do_not_visit",
    }


def test_branch_nobody_covers_is_no_staff():
    scores = make_scores(50, 3, 2)
    staff = pd.DataFrame(
        {"officer_id": ["O1", "O2"], "branch_id": ["B0", "B1"], "visits_per_day": [3, 0]}
    )
    result = plan_visits(scores, staff, START, days=5)
    reasons = result.exclusions.set_index("customer_id")
    stranded = scores.index[scores["branch_id"] != "B0"]
    assert (reasons.loc[stranded, "reason"] == "no_staff").all()
    assert reasons.loc[stranded[0], "detail"].startswith("no officer covers branch B")


def test_teams_visit_in_pairs_at_the_slower_pace():
    scores = make_scores(400, 2, 4)
    staff = pd.DataFrame(
        {
            "officer_id": ["O1", "O2", "O3", "O4", "O5"],
            "branch_id": ["B0", "B0", "B0", "B1", "B1"],
            "visits_per_day": [4, 6, 5, 3, 3],
            "covers_branches": ["B1", "B1", "", "", ""],
        }
    )
    result = plan_visits(scores, staff, START, days=1, rules=PlanRules(team_size=2), holdout=0)
    visits = result.plan[result.plan["arm"] == "visit"]
    # B0: O1 and O2 share coverage (B0 B1) and pair; O3 is left alone. B1: O4 with O5.
    assert set(visits["officer_id"]) == {"O1 O2", "O4 O5"}
    assert visits["officer_id"].value_counts().to_dict() == {"O1 O2": 4, "O4 O5": 3}


# ---------------------------------------------------------------------------------------------
# Holdout
# ---------------------------------------------------------------------------------------------


def test_holdout_share_probabilities_and_refill():
    scores = make_scores(600, 3, 7)
    staff = make_staff(6, 3, 7, cover_share=0.0, vpd=(4, 6))
    without = plan_visits(scores, staff, START, days=5, holdout=0.0)
    result = plan_visits(scores, staff, START, days=5, holdout=0.2, seed=11)
    selected = without.plan.groupby("branch_id")["customer_id"].apply(set)
    plan = result.plan
    for branch, chosen in selected.items():
        rows = plan[plan["branch_id"] == branch]
        held = rows[rows["arm"] == "holdout"]
        n, h = len(chosen), int(np.floor(0.2 * len(chosen) + 0.5))
        assert len(held) == h
        assert set(held["customer_id"]) <= chosen  # withheld among those who would be visited
        assert (held["officer_id"].isna() & held["visit_date"].isna()).all()
        randomised = rows["customer_id"].isin(chosen)
        np.testing.assert_allclose(rows.loc[randomised, "assignment_probability"], (n - h) / n)
        refill = rows.loc[~randomised]
        assert len(refill) == h
        assert (refill["assignment_probability"] == 1.0).all()
    assert (
        result.summary["visits_planned"] == without.summary["visits_planned"]
    )  # capacity is refilled
    held = plan[plan["arm"] == "holdout"]
    assert result.summary["holdout_size"] == len(held)
    assert result.summary["expected_cures_given_up"] == pytest.approx(
        scores.loc[held["customer_id"], "uplift"].sum()
    )


def test_holdout_is_uniform_over_the_selected_customers():
    # 300 branches of 12 customers, 10 selected in each: 300 independent draws of h = 3.
    scores = make_scores(3600, 300, 8)
    staff = pd.DataFrame(
        {
            "officer_id": [f"O{b}" for b in range(300)],
            "branch_id": [f"B{b}" for b in range(300)],
            "visits_per_day": 10,
            "working_days": "Tue",
        }
    )
    result = plan_visits(scores, staff, START, days=1, holdout=0.3, seed=5)
    plan = result.plan
    assert result.summary["holdout_size"] == 900
    randomised = plan[plan["assignment_probability"] < 1]
    np.testing.assert_allclose(randomised["assignment_probability"], 0.7)
    # Rank of each randomised customer by gain within its branch, 1..10.
    by_gain = randomised.groupby("branch_id")["expected_gain"].rank(ascending=False)
    held_share = (randomised["arm"] == "holdout").groupby(by_gain).mean()
    assert len(held_share) == 10
    # 300 draws per rank: the standard error of a share near 0.3 is about 0.026.
    assert (held_share - 0.3).abs().max() < 0.11
    other = plan_visits(scores, staff, START, days=1, holdout=0.3, seed=6).plan
    assert set(other.loc[other["arm"] == "holdout", "customer_id"]) != set(
        plan.loc[plan["arm"] == "holdout", "customer_id"]
    )


# ---------------------------------------------------------------------------------------------
# Routes
# ---------------------------------------------------------------------------------------------


def path_km(stops):
    lat, lon = np.radians(stops["latitude"].to_numpy()), np.radians(stops["longitude"].to_numpy())
    inner = (
        np.sin(np.diff(lat) / 2) ** 2
        + np.cos(lat[:-1]) * np.cos(lat[1:]) * np.sin(np.diff(lon) / 2) ** 2
    )
    return float((2 * 6371.0088 * np.arcsin(np.sqrt(inner))).sum())


def test_routes_order_every_day_and_report_km(busy_plan):
    scores, _, _, result = busy_plan
    visits = result.plan[result.plan["arm"] == "visit"].join(
        scores[["latitude", "longitude"]], on="customer_id"
    )
    routes = result.routes.set_index(["officer_id", "visit_date"])
    in_locality_order = 0.0
    for n_day, (key, day) in enumerate(visits.groupby(["officer_id", "visit_date"])):
        assert sorted(day["stop_order"]) == list(range(1, len(day) + 1))
        ordered = day.sort_values("stop_order")
        km = path_km(ordered)
        assert routes.loc[key, "km"] == pytest.approx(km, abs=1e-9)
        assert routes.loc[key, "stops"] == len(day)
        # 2-opt leaves no segment whose reversal shortens the day (checked on 80 days).
        for i, j in itertools.combinations(range(1, len(day)) if n_day < 80 else [], 2):
            reversed_segment = (
                list(range(i)) + list(range(j, i - 1, -1)) + list(range(j + 1, len(day)))
            )
            assert path_km(ordered.iloc[reversed_segment]) >= km - 1e-9
        in_locality_order += path_km(day.sort_values("customer_id"))
    assert result.summary["km_total"] == pytest.approx(result.routes["km"].sum())
    assert result.summary["km_total"] < in_locality_order


def test_routes_without_coordinates_follow_villages():
    scores = make_scores(200, 2, 9, coordinates=False)
    staff = make_staff(3, 2, 9, cover_share=0.0, vpd=(5, 5))
    result = plan_visits(scores, staff, START, days=3)
    assert result.routes["km"].isna().all()
    assert result.summary["km_per_officer_day"] is None
    visits = result.plan[result.plan["arm"] == "visit"].join(
        scores[["township", "village"]], on="customer_id"
    )
    for _, day in visits.groupby(["officer_id", "visit_date"]):
        ordered = day.sort_values("stop_order")
        keys = list(zip(ordered["township"], ordered["village"], strict=True))
        assert keys == sorted(keys)


# ---------------------------------------------------------------------------------------------
# Reproducibility
# ---------------------------------------------------------------------------------------------


def test_same_seed_same_bytes_other_seed_other_plan(tmp_path, busy_plan):
    scores, staff, rules, result = busy_plan
    again = plan_visits(scores.sample(frac=1.0, random_state=1), staff, START, 10, rules, seed=3)
    other = plan_visits(scores, staff, START, 10, rules, seed=4)
    first, second, third = (
        plan.to_csv(tmp_path / name) for plan, name in ((result, "a"), (again, "b"), (other, "c"))
    )
    for a, b in zip(first, second, strict=True):
        assert a.read_bytes() == b.read_bytes()
    assert first[0].read_bytes() != third[0].read_bytes()
    assert result.plan_id == again.plan_id != other.plan_id
    assert json.dumps(result.summary) == json.dumps(again.summary)
    text = first[0].read_text(encoding="utf-8-sig")
    assert text.splitlines()[0] == ",".join(PLAN_COLUMNS)
    header = first[1].read_text(encoding="utf-8-sig").splitlines()[0]
    assert header == ",".join(EXCLUSION_COLUMNS)


# ---------------------------------------------------------------------------------------------
# Bad input
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("column", "value", "rule", "message"),
    [
        # The contract's rules and messages (load_portfolio), for a table given directly.
        ("visits_per_day", -1, "negative_visits_per_day", "visits_per_day < 0 .* O000"),
        ("visits_per_day", 2.5, "unparsable_number", "not a whole number .* O000"),
        ("working_days", "Mon Funday", "unknown_weekday", "not one of Mon .*'Funday'.* O000"),
        ("absent_dates", "2026-13-01", "unparsable_date", "not an ISO date .*'2026-13-01'"),
        ("officer_id", "O001", "duplicate_id", "share their officer_id .* O001"),
        ("branch_id", "", "missing_value", "has no branch_id .* O000"),
        # The planner's own rule: what the contract cannot know without the portfolio.
        ("covers_branches", "B99", "unknown_branch", "names branch\\(es\\) B99"),
    ],
)
def test_bad_staff_table_raises_data_error(column, value, rule, message):
    scores = make_scores(20, 2, 0)
    staff = make_staff(3, 2, 0)
    if column == "visits_per_day":
        staff[column] = staff[column].astype(float)
    staff.loc[0, column] = value
    with pytest.raises(DataError, match=message) as raised:
        plan_visits(scores, staff, START, days=5)
    problems = raised.value.problems
    assert problems[["table", "column", "rule"]].values.tolist() == [["staff", column, rule]]


def test_staff_without_a_planner_column_is_refused():
    staff = make_staff(3, 2, 0).drop(columns=["visits_per_day"])
    with pytest.raises(DataError, match=r"staff\.visits_per_day: column is missing") as raised:
        plan_visits(make_scores(20, 2, 0), staff, START, days=5)
    assert raised.value.problems["rule"].tolist() == ["missing_column"]


def _portfolio_with_an_idle_branch(tiny_tables):
    """Officer O01 also covers B03: a branch of the bank with no customer in the scores."""
    tables = dict(tiny_tables)
    extra = pd.DataFrame({"branch_id": ["B03"], "name": ["Shuangliao"]})
    tables["branches"] = pd.concat([tables["branches"], extra], ignore_index=True)
    tables["staff"] = tables["staff"].assign(
        covers_branches=tables["staff"]["covers_branches"].replace({"B02": "B02 B03"})
    )
    portfolio = load_portfolio(**tables)
    scores = make_scores(6, 1, 0).assign(branch_id="B01")
    return portfolio, scores


def test_a_portfolios_staff_is_not_checked_again(tiny_tables):
    portfolio, scores = _portfolio_with_an_idle_branch(tiny_tables)
    assert "B03" in " ".join(portfolio.staff["covers_branches"].dropna())
    # load_portfolio checked B03 against the bank's branches: the planner relies on it.
    result = plan_visits(scores, portfolio.staff, "2026-04-06", days=5, holdout=0.0)
    assert result.summary["officers"] == 2
    # The same table given as plain data: the planner can only check it against scores.
    raw = portfolio.staff.copy()
    raw.attrs.clear()
    with pytest.raises(DataError, match="names branch\\(es\\) B03") as raised:
        plan_visits(scores, raw, "2026-04-06", days=5, holdout=0.0)
    assert raised.value.problems["rule"].tolist() == ["unknown_branch"]


def test_plan_id_depends_on_the_staffs_values_not_on_how_they_were_read(tiny_tables, tmp_path):
    portfolio = load_portfolio(**tiny_tables)
    scores = make_scores(6, 1, 0).assign(branch_id="B01")
    typed = tiny_tables["staff"].copy()
    typed["visits_per_day"] = typed["visits_per_day"].astype("int32")
    typed.to_csv(tmp_path / "staff.csv", index=False)
    as_text = pd.read_csv(tmp_path / "staff.csv", dtype=str, keep_default_na=False)
    typed.to_parquet(tmp_path / "staff.parquet")
    from_parquet = pd.read_parquet(tmp_path / "staff.parquet")
    shuffled = from_parquet.iloc[::-1].assign(note="extra column")

    def plan_id(staff):
        return plan_visits(scores, staff, "2026-04-06", days=5, holdout=0.0).plan_id

    assert as_text["absent_dates"].tolist() != typed["absent_dates"].tolist()  # "" vs None
    ids = {plan_id(staff) for staff in (portfolio.staff, as_text, from_parquet, shuffled)}
    assert len(ids) == 1
    fewer_visits = as_text.assign(visits_per_day=["5", "4"])
    assert plan_id(fewer_visits) not in ids


def test_plan_id_depends_on_the_scores_values_not_on_how_they_were_read():
    scores = make_scores(30, 2, 0)
    last = pd.Series(pd.NaT, index=scores.index, dtype="datetime64[ns]")
    last.iloc[:10] = pd.Timestamp("2026-10-01")
    scores["last_visit_date"] = last
    staff = make_staff(3, 2, 0)

    def plan_id(frame):
        return plan_visits(frame, staff, START, days=5, seed=1).plan_id

    as_text = scores.astype("str").replace({"NaT": ""})
    variants = [
        scores,
        scores.assign(last_visit_date=last.astype("datetime64[s]")),
        scores.assign(last_visit_date=last.dt.tz_localize("Asia/Shanghai")),
        scores[scores.columns[::-1]],
        scores.assign(segment=1),  # ignored by the planner
        as_text,
    ]
    assert as_text["p_cure_visit"].dtype != scores["p_cure_visit"].dtype
    assert len({plan_id(frame) for frame in variants}) == 1
    assert plan_id(scores.assign(arrears=scores["arrears"] + 1)) != plan_id(scores)


def test_a_portfolios_staff_changed_since_is_checked_again(tiny_tables):
    portfolio, scores = _portfolio_with_an_idle_branch(tiny_tables)
    changed = portfolio.staff.assign(visits_per_day=[-1, 4])
    assert changed.attrs == portfolio.staff.attrs  # the mark travels, the values do not match
    with pytest.raises(DataError, match="visits_per_day < 0") as raised:
        plan_visits(scores, changed, "2026-04-06", days=5)
    assert raised.value.problems["rule"].tolist() == ["negative_visits_per_day"]


def test_missing_score_columns_name_the_table():
    scores = make_scores(20, 2, 0).drop(columns=["uplift", "arrears"])
    with pytest.raises(DataError, match="Table 'scores' has no column 'uplift'") as raised:
        plan_visits(scores, make_staff(2, 2, 0), START, days=5)
    assert set(raised.value.problems["column"]) == {"uplift", "arrears"}
    assert set(raised.value.problems["table"]) == {"scores"}


def test_duplicate_customers_are_refused():
    scores = make_scores(20, 2, 0)
    scores.index = ["C1"] * 2 + list(scores.index[2:])
    with pytest.raises(DataError, match="customer_id is not unique in table 'scores': C1"):
        plan_visits(scores, make_staff(2, 2, 0), START, days=5)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"cooldown_days": -3}, "'cooldown_days' parameter of PlanRules must be a non-negative"),
        ({"team_size": 0}, "'team_size' parameter of PlanRules must be a positive int"),
        ({"visit_cost": float("nan")}, "'visit_cost' .* non-negative number \\(CNY\\). Got nan"),
        ({"min_gain": -1}, "'min_gain' parameter of PlanRules must be None or"),
    ],
)
def test_rule_parameters_are_validated(kwargs, message):
    with pytest.raises(ValueError, match=message):
        PlanRules(**kwargs)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"days": 0}, "'days' parameter of plan_visits must be a positive int \\(days\\). Got 0"),
        ({"holdout": 1.0}, "'holdout' parameter of plan_visits must be a number in \\[0, 1\\)"),
        ({"start": "someday"}, "'start' parameter of plan_visits must be a date"),
    ],
)
def test_plan_parameters_are_validated(kwargs, message):
    arguments = {"start": START, "days": 5} | kwargs
    with pytest.raises(ValueError, match=message):
        plan_visits(make_scores(10, 1, 0), make_staff(1, 1, 0), **arguments)
