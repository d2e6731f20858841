"""The visit-log audit: each rule on a hand-built log, a clean log, missing staff facts."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import visitrisk as vr
from visitrisk.audit import AUDIT_COLUMNS, AUDIT_REASONS, audit_problems, audit_visits
from visitrisk.cli import app

# tiny_tables (conftest): O01 (B01, 6 a day, Mon-Fri, covers B02, absent 2026-04-06),
# O02 (B02, 4 a day, Mon Wed Fri, covers nothing); C001, C002 in B01, C003 in B02.
# 2026-04-01 is a Wednesday.


def _visits(*rows: tuple[str, str, str | None, str | None]) -> pd.DataFrame:
    customer, date, officer, outcome = zip(*rows, strict=True)
    return pd.DataFrame(
        {
            "customer_id": list(customer),
            "visit_date": pd.to_datetime(list(date)),
            "officer_id": pd.Series(officer, dtype="str"),
            "outcome": pd.Series(outcome, dtype="str"),
        }
    )


#: A log that breaks no rule: working days, present officers, covered branches.
CLEAN = (
    ("C002", "2026-04-01", "O01", "promise_to_pay"),
    ("C003", "2026-04-03", "O02", "not_found"),  # a Friday
    ("C003", "2026-04-08", "O01", "met"),  # O01 covers B02
    ("C001", "2026-04-20", "O01", "met"),
)


@pytest.fixture
def make(tiny_tables):
    def build(*rows, **tables) -> vr.Portfolio:
        frames = {**tiny_tables, "visits": _visits(*(rows or CLEAN))}
        frames.update(tables)
        return vr.load_portfolio(**{k: v for k, v in frames.items() if v is not None})

    return build


def _reasons(flags: pd.DataFrame) -> dict[int, list[str]]:
    return flags.groupby("visit_index")["reason"].agg(list).to_dict()


def test_a_clean_log_has_no_flag_and_every_check_ran(make):
    flags = audit_visits(make())

    assert flags.empty
    assert tuple(flags.columns) == AUDIT_COLUMNS
    assert flags.dtypes["visit_index"] == np.int64
    assert flags.attrs["checks_run"] == list(AUDIT_REASONS)
    assert flags.attrs["skipped_checks"] == {}
    assert flags.attrs["visits_audited"] == len(CLEAN)
    assert audit_problems(flags)["rule"].tolist() == ["audit_not_checked"]  # outcome_mix: few


def test_over_capacity_flags_every_record_of_the_day(make):
    busy = [("C003", "2026-04-03", "O02", "other")] * 5  # O02: 4 visits a day
    pf = make(*CLEAN, *busy)

    flags = audit_visits(pf)

    assert _reasons(flags) == {i: ["over_capacity"] for i in (1, 4, 5, 6, 7, 8)}
    assert flags["detail"].iloc[0] == (
        "officer O02 recorded 6 visits on 2026-04-03; visits_per_day is 4"
    )
    assert audit_visits(pf, capacity_slack=2).empty


def test_absent_day_and_off_working_day(make):
    pf = make(
        *CLEAN,
        ("C001", "2026-04-06", "O01", "met"),  # O01 absent that Monday
        ("C003", "2026-04-07", "O02", "refused"),  # O02 does not work on Tuesdays
        ("C002", "2026-04-11", "O01", "met"),  # a Saturday
    )

    flags = audit_visits(pf)

    assert _reasons(flags) == {4: ["absent_day"], 5: ["off_working_day"], 6: ["off_working_day"]}
    detail = flags.set_index("visit_index")["detail"]
    assert detail[4] == "officer O01 is listed as absent on 2026-04-06 (staff.absent_dates)"
    assert detail[5] == "officer O02 works Mon Wed Fri; the visit on 2026-04-07 is a Tuesday"
    assert detail[6].endswith("is a Saturday")


def test_met_and_not_found_on_the_same_day(make):
    pf = make(
        *CLEAN,
        ("C001", "2026-04-20", "O01", "not_found"),  # C001 was met that day (row 3)
        ("C001", "2026-04-20", "O01", "other"),  # neither kind: not flagged
        ("C002", "2026-04-22", "O01", "paid_on_site"),  # met in person ...
        ("C002", "2026-04-22", "O01", "not_found"),  # ... and not found
        ("C002", "2026-04-23", "O01", "not_found"),  # another day: fine
    )

    flags = audit_visits(pf)

    assert _reasons(flags) == {i: ["met_and_not_found"] for i in (3, 4, 6, 7)}
    assert (
        flags["detail"]
        .iloc[0]
        .startswith("customer C001 on 2026-04-20: 1 record(s) say the customer was met")
    )
    assert flags["detail"].iloc[0].endswith("this one says met")


def test_branch_not_covered(make):
    pf = make(*CLEAN, ("C001", "2026-04-03", "O02", "met"))  # O02: B02 only; C001 in B01

    flags = audit_visits(pf)

    assert _reasons(flags) == {4: ["branch_not_covered"]}
    assert flags["detail"].iloc[0] == (
        "officer O02 (home branch B02, covers none) visited a customer of branch B01"
    )
    assert flags["branch_id"].iloc[0] == "B01"


def test_a_record_breaking_two_rules_has_two_rows(make):
    pf = make(*CLEAN, ("C001", "2026-04-07", "O02", "met"))  # Tuesday, and branch B01

    flags = audit_visits(pf)

    assert _reasons(flags) == {4: ["off_working_day", "branch_not_covered"]}
    assert audit_problems(flags).set_index("rule").loc["off_working_day", "count"] == 1


def _branch_log(bad_outcomes: list[str], n_clean_officers: int = 6) -> tuple[list, pd.DataFrame]:
    """40 visits by each officer of branch B01, one visit per working day each."""
    clean = ["met"] * 20 + ["promise_to_pay"] * 12 + ["not_found"] * 8
    officers = {"O03": bad_outcomes} | {f"O{i + 4:02d}": clean for i in range(n_clean_officers)}
    days = pd.bdate_range("2026-05-04", periods=40 * len(officers)).strftime("%Y-%m-%d")
    rows, k = [], 0
    for officer, outcomes in officers.items():
        for j, outcome in enumerate(outcomes):
            rows.append(("C001" if j % 2 else "C002", days[k], officer, outcome))
            k += 1
    staff = pd.DataFrame(
        {
            "officer_id": ["O01", "O02", *officers],
            "branch_id": ["B01", "B02"] + ["B01"] * len(officers),
            "visits_per_day": [6, 4] + [5] * len(officers),
            "working_days": ["Mon Tue Wed Thu Fri", "Mon Wed Fri"] + [None] * len(officers),
            "covers_branches": ["B02", None] + [None] * len(officers),
            "absent_dates": ["2026-04-06", None] + [None] * len(officers),
        }
    )
    return rows, staff


def test_outcome_mix_flags_only_the_officer_who_almost_never_finds_anyone(make):
    rows, staff = _branch_log(["not_found"] * 37 + ["met"] * 3)
    pf = make(*CLEAN, *rows, staff=staff)

    flags = audit_visits(pf)

    assert set(flags["reason"]) == {"outcome_mix"}
    assert set(flags["officer_id"]) == {"O03"}
    assert len(flags) == 40
    detail = flags["detail"].iloc[0]
    assert detail.startswith(
        "officer O03 recorded not_found for 92 % of 40 visits to customers of branch B01, "
        "against 20 % of 242 by the branch's other officers"
    )
    assert "Bonferroni over 7 officer-branch pairs" in detail


def test_outcome_mix_needs_a_sharp_and_significant_difference(make):
    # (242: the 6 clean officers and O01's 2 visits to B01 in CLEAN.)
    # A mild excess of not_found (35 % against 20 %) is not flagged ...
    rows, staff = _branch_log(["met"] * 14 + ["promise_to_pay"] * 12 + ["not_found"] * 14)
    assert audit_visits(make(*CLEAN, *rows, staff=staff)).empty
    # ... nor a sharp one on too few records to test.
    rows, staff = _branch_log(["not_found"] * 37 + ["met"] * 3)
    flags = audit_visits(make(*CLEAN, *rows, staff=staff), min_officer_visits=41)
    assert flags.empty
    assert "were not tested" in flags.attrs["not_checked"]["outcome_mix"]


def test_the_simulated_log_is_clean():
    # The simulator keeps every staff rule and draws outcomes the same way for everyone.
    portfolio = vr.simulate_portfolio(3_000, seed=4, as_of="2026-11-30").portfolio

    flags = audit_visits(portfolio)

    assert flags.empty
    assert flags.attrs["skipped_checks"] == {}
    assert flags.attrs["visits_audited"] == len(portfolio.visits) > 1_000


def test_without_staff_the_staff_rules_are_skipped_and_said_so(make):
    pf = make(*CLEAN, ("C001", "2026-04-20", "O01", "not_found"), staff=None)

    flags = audit_visits(pf)

    assert set(flags["reason"]) == {"met_and_not_found"}
    assert flags.attrs["skipped_checks"] == dict.fromkeys(
        ("over_capacity", "absent_day", "off_working_day", "branch_not_covered"),
        "no staff table was given",
    )
    problems = audit_problems(flags)
    assert problems["rule"].tolist() == [
        "met_and_not_found",
        "audit_check_skipped",
        "audit_not_checked",  # outcome_mix: too few records
    ]
    assert problems["message"].iloc[1] == (
        "visits: the over_capacity, absent_day, off_working_day, branch_not_covered checks "
        "were skipped: no staff table was given"
    )


def test_blank_columns_skip_the_checks_that_need_them(make, tiny_tables):
    staff = tiny_tables["staff"].drop(columns=["absent_dates"])
    visits = _visits(*CLEAN).drop(columns=["officer_id", "outcome"])
    flags = audit_visits(make(visits=visits, staff=staff))
    assert flags.empty
    assert set(flags.attrs["skipped_checks"]) == set(AUDIT_REASONS)
    assert flags.attrs["checks_run"] == []
    no_visits = audit_visits(make(visits=None))
    assert no_visits.attrs["skipped_checks"] == dict.fromkeys(
        AUDIT_REASONS, "there is no visit record to audit"
    )
    assert audit_problems(no_visits)["message"].tolist() == [
        f"visits: the {', '.join(AUDIT_REASONS)} checks were skipped: there is no visit "
        "record to audit"
    ]

    flags = audit_visits(make(staff=staff))
    assert flags.attrs["skipped_checks"] == {
        "absent_day": "staff.absent_dates is blank for every officer"
    }


def test_records_without_officer_or_by_unknown_officers_are_reported_not_judged(make):
    pf = make(
        *CLEAN,
        ("C001", "2026-04-11", None, "met"),  # a Saturday, officer unknown
        ("C001", "2026-04-12", "O99", "met"),  # a Sunday, by someone not in staff
    )
    assert set(pf.warnings["rule"]) == {"unknown_officer"}

    flags = audit_visits(pf)

    assert flags.empty
    assert flags.attrs["not_checked"]["off_working_day"] == (
        "1 records have no officer_id; 1 records are by officers not in staff (e.g. O99)"
    )


def test_since_audits_only_later_records(make):
    pf = make(*CLEAN, ("C001", "2026-04-06", "O01", "met"))  # absent day

    assert len(audit_visits(pf)) == 1
    later = audit_visits(pf, since="2026-04-07")
    assert later.empty
    assert later.attrs["visits_audited"] == 2


@pytest.mark.parametrize(
    ("parameter", "value", "message"),
    [
        ("capacity_slack", -1, "The 'capacity_slack' parameter of audit_visits must be an int"),
        ("min_officer_visits", 0, "'min_officer_visits' parameter of audit_visits must be a pos"),
        ("alpha", 1.5, r"The 'alpha' parameter of audit_visits must be a float in \(0, 1\)"),
        ("min_mix_difference", True, "'min_mix_difference' parameter of audit_visits must be"),
        ("since", "yesterday", "The 'since' parameter of audit_visits must be a date"),
    ],
)
def test_bad_parameters_are_named(make, parameter, value, message):
    with pytest.raises(ValueError, match=message):
        audit_visits(make(), **{parameter: value})


def test_training_set_can_leave_flagged_visits_out_of_the_treatment():
    simulated = vr.simulate_portfolio(1_500, seed=2, as_of="2026-11-30")
    tables = simulated.portfolio.tables()
    visits = tables["visits"].copy()
    # Plant: one in five visits of 2026 moved to a Sunday (outside every officer's week).
    rng = np.random.default_rng(0)
    planted = (visits["visit_date"] >= "2026-01-01").to_numpy() & (rng.random(len(visits)) < 0.2)
    weekday = visits["visit_date"].dt.day_of_week.to_numpy()
    visits.loc[planted, "visit_date"] += pd.to_timedelta(6 - weekday[planted], unit="D")
    portfolio = vr.load_portfolio(**{**tables, "visits": visits})
    flagged = audit_visits(portfolio)["visit_index"].unique()
    assert set(flagged) >= set(np.flatnonzero(planted & (weekday < 5)))
    snapshots = ["2026-03-31", "2026-05-31", "2026-07-31"]

    kept = vr.build_training_set(portfolio, snapshots)
    cleaned = vr.build_training_set(portfolio, snapshots, exclude_flagged_visits=True)
    # The same rows, built from a log without the flagged records, have the same treatment.
    without = vr.load_portfolio(**{**tables, "visits": visits.drop(index=flagged)})
    reference = vr.build_training_set(
        without, snapshots, data_end=vr.labels.last_observed_day(portfolio)
    )

    assert kept.metadata["flagged_visits_excluded"] is None
    n_flagged = cleaned.metadata["flagged_visits_excluded"]
    assert n_flagged == int((visits.loc[flagged, "visit_date"] <= "2026-11-30").sum()) > 0
    pd.testing.assert_frame_equal(cleaned.X, kept.X)  # features read the whole log
    pd.testing.assert_series_equal(cleaned.cured, kept.cured)
    pd.testing.assert_series_equal(cleaned.treatment, reference.treatment)
    assert cleaned.treatment.sum() < kept.treatment.sum()
    assert (cleaned.treatment <= kept.treatment).all()
    with pytest.raises(ValueError, match=r"'exclude_flagged_visits' parameter .* must be a bool"):
        vr.build_training_set(portfolio, snapshots, exclude_flagged_visits="yes")


def test_validate_prints_the_audit_and_writes_the_table(tiny_tables, tmp_path):
    folder = tmp_path / "data"
    folder.mkdir()
    tiny_tables["visits"] = _visits(*CLEAN, ("C003", "2026-04-07", "O02", "met"))
    for name, frame in tiny_tables.items():
        frame.to_csv(folder / f"{name}.csv", index=False)
    out = tmp_path / "audit" / "flags.csv"

    runner = CliRunner(env={"COLUMNS": "200", "NO_COLOR": "1"})
    result = runner.invoke(app, ["validate", str(folder), "--audit-out", str(out)])

    assert result.exit_code == 0, result.output
    assert "The data meets the contract (0 warning(s))" in result.output
    assert "Visit-log audit (1 record(s) flagged)" in result.output
    assert "off_working_day" in result.output
    assert "C003 on 2026-04-07" in result.output
    assert "Visit-log audit: 1 of 5 visit record(s) flagged; 0 check(s) skipped." in result.output
    written = pd.read_csv(out, dtype=str)
    assert written[["visit_index", "customer_id", "reason"]].values.tolist() == [
        ["4", "C003", "off_working_day"]
    ]
