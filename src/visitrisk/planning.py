"""Visit plans: staff calendar, capacity, eligibility rules, optimiser, randomised holdout.

:func:`plan_visits` turns customer scores and the staff table into a :class:`VisitPlan`:
who visits whom, on which day, in which order, plus a randomised holdout and, for every
customer not visited, the reason why.

How a plan is made
------------------
1. **Eligibility.** Each customer is checked, in this order, against ``do_not_visit``, the
   cool-down since the last visit, a non-positive expected gain and the optional minimum
   gain; the first rule that fails is the exclusion reason.
2. **Capacity.** Every officer works the weekdays of ``working_days`` that fall in
   ``[start, start + days)`` and are not in ``absent_dates``, making up to
   ``visits_per_day`` visits in the home branch or any branch of ``covers_branches``.
   With ``team_size = k > 1`` the working officers of one home branch are grouped, each
   day, into teams of ``k`` (ordered by coverage, then officer id, so that officers with
   the same coverage team up); a team visits at the pace of its slowest member
   (minimum ``visits_per_day``), only in branches every member covers, and an officer left
   without a full team that day makes no visits.
3. **Selection.** Customers are chosen to maximise the total expected gain subject to the
   capacity of every officer-day and every officer's coverage, exactly. A visit can happen
   on any day of the horizon, so officers (or teams) with the same coverage are
   interchangeable and are pooled into one *coverage group*. A group covering a single
   branch is served by that branch's best customers (per-branch top-k); the groups that
   cover several branches couple them, and their allocation is solved as a small
   transportation problem with :func:`scipy.optimize.milp` (HiGHS) over (branch, group)
   flows plus one bounded column per remaining candidate customer. With a must-visit
   rule, the number of must-visit customers served is maximised first, then the gain.
4. **Holdout.** Per branch, a seeded random share of the selected customers (must-visit
   customers excepted) is withheld as arm ``holdout``; the freed capacity goes to the
   next-best eligible customers of the same branch. Since the holdout is drawn among the
   selected customers before refilling, every selected customer has exactly the same
   probability ``(n - h) / n`` of being visited (``n`` selected, ``h`` withheld in the
   branch, ``h = round(holdout * n)``) and refill customers are visited with probability 1.
5. **Days and routes.** Within a coverage group customers are sorted by branch, township,
   village and position, and every officer (or team) takes a consecutive run of them, day
   after day, so that one day is one trip. With coordinates, each day's stops are ordered
   by nearest neighbour then improved by 2-opt (haversine distances); ``routes`` reports
   the estimated km between the first and the last stop of every officer-day.
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

from visitrisk.contract import PROBLEM_COLUMNS, DataError

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

#: Columns ``scores`` must have (besides ``customer_id``, as index or column).
REQUIRED_SCORE_COLUMNS: tuple[str, ...] = (
    "branch_id",
    "p_cure_visit",
    "p_cure_no_visit",
    "uplift",
    "value_at_stake",
    "expected_gain",
    "days_past_due",
    "arrears",
)

_NUMERIC_SCORE_COLUMNS = (*REQUIRED_SCORE_COLUMNS[1:], "latitude", "longitude")
_TEXT_SCORE_COLUMNS = ("township", "village", "reason_1", "reason_2", "reason_3")
_WEEKDAYS: tuple[str, ...] = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_DEFAULT_WORKING_DAYS = "Mon Tue Wed Thu Fri"
_EARTH_RADIUS_KM = 6371.0088
_TWO_OPT_PASSES = 20


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
        Officers making each visit together (2 for visits in pairs). See
        :func:`plan_visits` for how teams are formed.
    visit_cost : float, default 0.0
        Cost of one visit (one customer, whatever the team size), CNY. The ``expected_gain``
        of ``scores`` is taken *before* this cost (uplift x value at stake); the plan's
        ``expected_gain`` is net of it, and only a positive net gain is ever planned.
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
        Plain JSON-serialisable figures: capacity, visits, holdout size, expected gain and
        cures, expected cures given up for the holdout, exclusions by reason, km.
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

        The files are byte-identical for the same plan: UTF-8, Unix line endings, dates
        ``YYYY-MM-DD``, floats with 10 significant digits, empty cells for missing values.

        Parameters
        ----------
        out_dir : str or Path
            Folder to write into (created if missing).

        Returns
        -------
        tuple of Path
            Paths of ``visit_plan.csv`` and ``exclusions.csv``.
        """
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        plan = self.plan.copy()
        plan["visit_date"] = plan["visit_date"].dt.strftime("%Y-%m-%d")
        paths = (out / "visit_plan.csv", out / "exclusions.csv")
        for frame, path in zip((plan, self.exclusions), paths, strict=True):
            frame.to_csv(path, index=False, float_format="%.10g", lineterminator="\n")
        return paths


# ---------------------------------------------------------------------------------------------
# Input validation
# ---------------------------------------------------------------------------------------------


def _problem(table: str, column: str, rule: str, ids: Any, message: str) -> dict[str, Any]:
    ids = [str(i) for i in pd.unique(pd.Series(list(ids), dtype=object))]
    return dict(
        zip(PROBLEM_COLUMNS, (table, column, rule, len(ids), ids[:5], message), strict=True)
    )


def _raise_problems(problems: list[dict[str, Any]]) -> None:
    if problems:
        raise DataError(pd.DataFrame(problems, columns=list(PROBLEM_COLUMNS)))


def _examples(ids: Any) -> str:
    shown = [str(i) for i in pd.unique(pd.Series(list(ids), dtype=object))[:5]]
    return ", ".join(shown)


def _prepare_scores(scores: pd.DataFrame) -> pd.DataFrame:
    """Validate ``scores`` and return it with canonical columns, sorted by customer_id."""
    if not isinstance(scores, pd.DataFrame):
        raise TypeError(f"scores must be a pandas DataFrame. Got {type(scores).__name__}.")
    frame = scores.copy()
    if "customer_id" not in frame.columns:
        frame = frame.reset_index(names="customer_id")
    problems: list[dict[str, Any]] = []
    missing = [c for c in REQUIRED_SCORE_COLUMNS if c not in frame.columns]
    for column in missing:
        problems.append(
            _problem(
                "scores",
                column,
                "missing_column",
                [],
                f"Table 'scores' has no column '{column}', which the planner needs.",
            )
        )
    _raise_problems(problems)

    frame["customer_id"] = frame["customer_id"].astype("str")
    frame["branch_id"] = frame["branch_id"].astype("str")
    for column in ("customer_id", "branch_id"):
        bad = frame[column].isna() | (frame[column] == "")
        if bad.any():
            problems.append(
                _problem(
                    "scores",
                    column,
                    "missing_value",
                    frame.index[bad],
                    f"Column '{column}' of table 'scores' is empty in {int(bad.sum())} row(s).",
                )
            )
    duplicated = frame["customer_id"].duplicated(keep=False) & frame["customer_id"].notna()
    if duplicated.any():
        ids = frame.loc[duplicated, "customer_id"]
        problems.append(
            _problem(
                "scores",
                "customer_id",
                "duplicate",
                ids,
                f"customer_id is not unique in table 'scores': {_examples(ids)}.",
            )
        )
    for column in _NUMERIC_SCORE_COLUMNS:
        if column not in frame.columns:
            frame[column] = np.nan
            continue
        values = pd.to_numeric(frame[column], errors="coerce").astype("float64")
        unparsed = values.isna() & frame[column].notna()
        must_be_finite = column in ("expected_gain", "uplift", "days_past_due", "arrears")
        bad = unparsed | (
            ~np.isfinite(values) if must_be_finite else values.isin([np.inf, -np.inf])
        )
        if bad.any():
            ids = frame.loc[bad, "customer_id"]
            problems.append(
                _problem(
                    "scores",
                    column,
                    "not_a_number",
                    ids,
                    f"Column '{column}' of table 'scores' must hold finite numbers; "
                    f"{int(bad.sum())} row(s) do not, e.g. customers {_examples(ids)}.",
                )
            )
        frame[column] = values
    if "do_not_visit" in frame.columns:
        flag = frame["do_not_visit"]
        if flag.dtype != bool:
            text = flag.astype("str").str.strip().str.lower()
            known = {"true": True, "1": True, "1.0": True, "false": False, "0": False}
            known |= {"0.0": False, "": False, "nan": False, "<na>": False, "none": False}
            mapped = text.map(known)
            bad = mapped.isna()
            if bad.any():
                ids = frame.loc[bad, "customer_id"]
                problems.append(
                    _problem(
                        "scores",
                        "do_not_visit",
                        "not_a_flag",
                        ids,
                        "Column 'do_not_visit' of table 'scores' must be true/false; "
                        f"{int(bad.sum())} row(s) are not, e.g. customers {_examples(ids)}.",
                    )
                )
            flag = mapped.fillna(False)
        frame["do_not_visit"] = flag.astype(bool)
    else:
        frame["do_not_visit"] = False
    if "last_visit_date" in frame.columns:
        parsed = pd.to_datetime(frame["last_visit_date"], errors="coerce")
        bad = parsed.isna() & frame["last_visit_date"].notna()
        if bad.any():
            ids = frame.loc[bad, "customer_id"]
            problems.append(
                _problem(
                    "scores",
                    "last_visit_date",
                    "not_a_date",
                    ids,
                    "Column 'last_visit_date' of table 'scores' must hold dates (or be empty); "
                    f"{int(bad.sum())} row(s) do not, e.g. customers {_examples(ids)}.",
                )
            )
        frame["last_visit_date"] = parsed.dt.normalize()
    else:
        frame["last_visit_date"] = pd.Series(pd.NaT, index=frame.index, dtype="datetime64[s]")
    _raise_problems(problems)
    for column in _TEXT_SCORE_COLUMNS:
        if column not in frame.columns:
            frame[column] = pd.Series(pd.NA, index=frame.index, dtype="str")
        else:
            frame[column] = frame[column].astype("str")
    return frame.sort_values("customer_id", kind="stable").reset_index(drop=True)


def _split_tokens(column: pd.Series, owner: pd.Series) -> pd.DataFrame:
    """Explode a space-separated text column into (row, token) pairs."""
    tokens = column.fillna("").astype("str").str.split().explode()
    tokens = tokens[tokens.notna() & (tokens != "")]
    positions = tokens.index.to_numpy()
    return pd.DataFrame({"row": positions, "owner": owner.to_numpy()[positions], "token": tokens})


def _prepare_staff(staff: pd.DataFrame, known_branches: pd.Index) -> dict[str, Any]:
    """Validate the staff table; return officers and their coverage and absences.

    ``known_branches`` are the branches a covered branch may name (the branches of
    ``scores`` and every officer's home branch).
    """
    if not isinstance(staff, pd.DataFrame):
        raise TypeError(f"staff must be a pandas DataFrame. Got {type(staff).__name__}.")
    problems: list[dict[str, Any]] = []
    for column in ("officer_id", "branch_id", "visits_per_day"):
        if column not in staff.columns:
            problems.append(
                _problem(
                    "staff",
                    column,
                    "missing_column",
                    [],
                    f"Table 'staff' has no column '{column}', which the planner needs.",
                )
            )
    _raise_problems(problems)
    frame = staff.reset_index(drop=True)
    officer_id = frame["officer_id"].astype("str")
    # Rows without an officer_id are named by their position in the problem report.
    label = officer_id.fillna(pd.Series("row " + frame.index.astype("str"), index=frame.index))
    for column in ("officer_id", "branch_id"):
        text = frame[column].astype("str")
        bad = text.isna() | (text.str.strip() == "")
        if bad.any():
            problems.append(
                _problem(
                    "staff",
                    column,
                    "missing_value",
                    label[bad],
                    f"Column '{column}' of table 'staff' is empty in {int(bad.sum())} row(s).",
                )
            )
    duplicated = officer_id.duplicated(keep=False) & officer_id.notna()
    if duplicated.any():
        problems.append(
            _problem(
                "staff",
                "officer_id",
                "duplicate",
                officer_id[duplicated],
                f"officer_id is not unique in table 'staff': {_examples(officer_id[duplicated])}.",
            )
        )
    visits = pd.to_numeric(frame["visits_per_day"], errors="coerce")
    bad = ~np.isfinite(visits) | (visits < 0) | (visits != np.floor(visits))
    if bad.any():
        problems.append(
            _problem(
                "staff",
                "visits_per_day",
                "not_a_non_negative_int",
                label[bad],
                "Column 'visits_per_day' of table 'staff' must be a whole number >= 0; "
                f"{int(bad.sum())} officer(s) are not: {_examples(label[bad])} "
                f"(values {_examples(frame.loc[bad, 'visits_per_day'])}).",
            )
        )
    working = frame.get("working_days", pd.Series(_DEFAULT_WORKING_DAYS, index=frame.index))
    working = working.astype("str").fillna(_DEFAULT_WORKING_DAYS)
    working = working.where(working.str.strip() != "", _DEFAULT_WORKING_DAYS)
    day_tokens = _split_tokens(working, label)
    day_index = day_tokens["token"].str.title().map({day: i for i, day in enumerate(_WEEKDAYS)})
    unknown_day = day_index.isna()
    if unknown_day.any():
        problems.append(
            _problem(
                "staff",
                "working_days",
                "unknown_weekday",
                day_tokens.loc[unknown_day, "owner"],
                "Column 'working_days' of table 'staff' must list weekdays among "
                f"{' '.join(_WEEKDAYS)}; unknown {_examples(day_tokens.loc[unknown_day, 'token'])} "
                f"for officer(s) {_examples(day_tokens.loc[unknown_day, 'owner'])}.",
            )
        )
    covers = frame.get("covers_branches", pd.Series(pd.NA, index=frame.index, dtype="str"))
    cover_tokens = _split_tokens(covers, label)
    home = frame["branch_id"].astype("str")
    known = known_branches.union(pd.Index(home.dropna().unique()))
    unknown_cover = ~cover_tokens["token"].isin(known)
    if unknown_cover.any():
        problems.append(
            _problem(
                "staff",
                "covers_branches",
                "unknown_branch",
                cover_tokens.loc[unknown_cover, "owner"],
                "Column 'covers_branches' of table 'staff' names branch(es) "
                f"{_examples(cover_tokens.loc[unknown_cover, 'token'])} that are neither a "
                "customer's branch in 'scores' nor an officer's home branch, for officer(s) "
                f"{_examples(cover_tokens.loc[unknown_cover, 'owner'])}.",
            )
        )
    absent = frame.get("absent_dates", pd.Series(pd.NA, index=frame.index, dtype="str"))
    absent_tokens = _split_tokens(absent, label)
    absent_day = pd.to_datetime(absent_tokens["token"], format="%Y-%m-%d", errors="coerce")
    if absent_day.isna().any():
        bad = absent_day.isna()
        problems.append(
            _problem(
                "staff",
                "absent_dates",
                "not_a_date",
                absent_tokens.loc[bad, "owner"],
                "Column 'absent_dates' of table 'staff' must hold ISO dates (YYYY-MM-DD) "
                f"separated by spaces; got {_examples(absent_tokens.loc[bad, 'token'])} for "
                f"officer(s) {_examples(absent_tokens.loc[bad, 'owner'])}.",
            )
        )
    _raise_problems(problems)

    weekdays = pd.DataFrame({"row": day_tokens["row"], "day": day_index.to_numpy(dtype=np.int64)})
    weekdays = weekdays.drop_duplicates()
    day_mask = pd.Series(np.left_shift(1, weekdays["day"].to_numpy()), index=weekdays["row"])
    day_mask = day_mask.groupby(level=0).sum()
    officers = pd.DataFrame(
        {
            "officer_id": officer_id,
            "home": home,
            "visits_per_day": visits.astype(np.int64),
            "weekday_mask": day_mask.reindex(frame.index, fill_value=0).astype(np.int64),
        }
    )
    coverage = pd.concat(
        [
            pd.DataFrame({"row": frame.index.to_numpy(), "branch_id": home}),
            pd.DataFrame({"row": cover_tokens["row"], "branch_id": cover_tokens["token"]}),
        ],
        ignore_index=True,
    ).drop_duplicates()
    absences = pd.DataFrame(
        {
            "row": absent_tokens["row"],
            "day": absent_day.to_numpy().astype("datetime64[D]").astype(np.int64),
        }
    )
    return {"officers": officers, "coverage": coverage, "absences": absences}


# ---------------------------------------------------------------------------------------------
# Capacity: officer-days, teams, coverage groups
# ---------------------------------------------------------------------------------------------


def _crew_days(
    staff_tables: dict[str, Any], branch_code: pd.Index, first_day: int, days: int, team_size: int
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Every crew-day that can visit: crew name, day, capacity and coverage group.

    A crew is one officer, or a team of ``team_size`` officers formed that day.

    Returns
    -------
    crews : DataFrame
        Columns ``crew`` (officer id, or member ids joined by spaces), ``day`` (day number),
        ``capacity`` (visits), ``group`` (coverage group code).
    groups : DataFrame
        One row per (group, branch code) covered, with the group's total ``capacity``.
    """
    officers = staff_tables["officers"]
    coverage = staff_tables["coverage"]
    day_numbers = np.arange(first_day, first_day + days, dtype=np.int64)
    # 1970-01-01 (day 0) was a Thursday: weekday index with Monday = 0.
    weekday = (day_numbers + 3) % 7
    n_officers = len(officers)
    row = np.repeat(np.arange(n_officers), days)
    day = np.tile(day_numbers, n_officers)
    works = (officers["weekday_mask"].to_numpy()[row] >> np.tile(weekday, n_officers)) & 1 == 1
    works &= officers["visits_per_day"].to_numpy()[row] > 0
    absences = staff_tables["absences"]
    if len(absences):
        absent_key = absences["row"].to_numpy() * (1 << 32) + absences["day"].to_numpy()
        works &= ~np.isin(row * (1 << 32) + day, absent_key)
    duty = pd.DataFrame({"row": row[works], "day": day[works]})
    duty["capacity"] = officers["visits_per_day"].to_numpy()[duty["row"].to_numpy()]

    coverage = coverage.assign(branch=branch_code.get_indexer(coverage["branch_id"]))
    coverage = coverage[coverage["branch"] >= 0].sort_values(["row", "branch"])
    officer_key = (
        coverage.groupby("row")["branch"]
        .agg(lambda codes: " ".join(map(str, codes)))
        .reindex(range(n_officers), fill_value="")
    )

    if team_size == 1:
        crews = duty.assign(
            crew=officers["officer_id"].to_numpy()[duty["row"].to_numpy()],
            key=officer_key.to_numpy()[duty["row"].to_numpy()],
        )
    else:
        duty = duty.assign(
            home=officers["home"].to_numpy()[duty["row"].to_numpy()],
            key=officer_key.to_numpy()[duty["row"].to_numpy()],
            officer_id=officers["officer_id"].to_numpy()[duty["row"].to_numpy()],
        ).sort_values(["day", "home", "key", "officer_id"], kind="stable")
        # Officers with identical coverage team up first; the ones left over then team up
        # across coverages within the home branch, and a last incomplete team stays home.
        same = duty.groupby(["day", "home", "key"]).cumcount() // team_size
        full = duty.assign(team=same).groupby(["day", "home", "key", "team"])["row"]
        paired = full.transform("size").to_numpy() == team_size
        duty["team"] = np.where(paired, same, -1)
        duty["stage"] = np.where(paired, 0, 1)
        leftover = ~paired
        duty.loc[leftover, "team"] = (
            duty[leftover].groupby(["day", "home"]).cumcount().to_numpy() // team_size
        )
        duty.loc[leftover, "key"] = ""
        members = duty.groupby(["day", "home", "stage", "key", "team"])["row"].transform("size")
        duty = duty[members == team_size]
        team_of = (
            duty.groupby(["day", "home", "stage", "key", "team"], sort=True).ngroup().to_numpy()
        )
        duty = duty.assign(team_of=team_of)
        teams = duty.groupby("team_of").agg(
            day=("day", "first"),
            capacity=("capacity", "min"),
            crew=("officer_id", lambda ids: " ".join(sorted(ids))),
        )
        shared = duty[["team_of", "row"]].merge(coverage[["row", "branch"]], on="row")
        counts = shared.groupby(["team_of", "branch"]).size()
        common = counts[counts == team_size].reset_index()[["team_of", "branch"]]
        teams["key"] = (
            common.sort_values(["team_of", "branch"])
            .groupby("team_of")["branch"]
            .agg(lambda codes: " ".join(map(str, codes)))
        )
        crews = teams.reset_index(drop=True)
    crews = crews[crews["key"].fillna("") != ""]
    group_keys, group = np.unique(crews["key"].to_numpy(dtype=str), return_inverse=True)
    crews = pd.DataFrame(
        {
            "crew": crews["crew"].to_numpy(dtype=str),
            "day": crews["day"].to_numpy(dtype=np.int64),
            "capacity": crews["capacity"].to_numpy(dtype=np.int64),
            "group": group.astype(np.int64),
        }
    )
    capacity = np.bincount(crews["group"], weights=crews["capacity"], minlength=len(group_keys))
    members = pd.Series(group_keys).str.split().explode()
    groups = pd.DataFrame(
        {
            "group": members.index.to_numpy(dtype=np.int64),
            "branch": members.to_numpy().astype(np.int64),
        }
    )
    groups["capacity"] = capacity[groups["group"].to_numpy()].astype(np.int64)
    groups["size"] = groups.groupby("group")["branch"].transform("size")
    return crews, groups


# ---------------------------------------------------------------------------------------------
# Selection
# ---------------------------------------------------------------------------------------------


def _solve_shared(
    column_branch: np.ndarray,
    column_gain: np.ndarray,
    column_must: np.ndarray,
    edge_branch: np.ndarray,
    edge_group: np.ndarray,
    group_capacity: np.ndarray,
) -> np.ndarray:
    """Allocate the capacity of multi-branch coverage groups, exactly (HiGHS).

    Columns are the candidate customers still unserved, each a bounded variable in
    ``[0, 1]`` tied to its branch by a balance row; edges are integer flows (branch,
    group), limited by the group's capacity. Returns the integer flow of every edge.

    The constraint matrix is a network matrix (totally unimodular), so the vertex HiGHS's
    simplex returns for the LP relaxation is already integral; solving it as an LP is ~10x
    faster than asking the MILP solver for integer flows. Only when it is not integral
    (the must-visit row can break unimodularity) is the problem solved again with integer
    flows.
    """
    from scipy import sparse
    from scipy.optimize import Bounds, LinearConstraint, milp

    n_edges, n_columns = len(edge_branch), len(column_branch)
    groups, edge_group_row = np.unique(edge_group, return_inverse=True)
    branches, balance_row = np.unique(
        np.concatenate([edge_branch, column_branch]), return_inverse=True
    )
    n_groups = len(groups)
    edge_balance, column_balance = balance_row[:n_edges], balance_row[n_edges:]
    rows = np.concatenate([edge_group_row, n_groups + edge_balance, n_groups + column_balance])
    cols = np.concatenate([np.arange(n_edges), np.arange(n_edges), n_edges + np.arange(n_columns)])
    values = np.concatenate([np.ones(n_edges), -np.ones(n_edges), np.ones(n_columns)])
    n_rows = n_groups + len(branches)
    matrix = sparse.csr_array((values, (rows, cols)), shape=(n_rows, n_edges + n_columns))
    lower = np.concatenate([np.full(n_groups, -np.inf), np.zeros(len(branches))])
    upper = np.concatenate([group_capacity[groups].astype(float), np.zeros(len(branches))])
    constraints = [LinearConstraint(matrix, lower, upper)]
    bounds = Bounds(0, np.concatenate([np.full(n_edges, np.inf), np.ones(n_columns)]))

    def solve(objective: np.ndarray) -> Any:
        cost = np.concatenate([np.zeros(n_edges), -objective])
        result = milp(cost, constraints=constraints, bounds=bounds)
        if (
            result.success
            and np.abs(result.x[:n_edges] - np.round(result.x[:n_edges])).max(initial=0.0) > 1e-6
        ):
            integrality = np.concatenate([np.ones(n_edges), np.zeros(n_columns)])
            result = milp(cost, constraints=constraints, bounds=bounds, integrality=integrality)
        if not result.success:
            raise RuntimeError(f"The visit-plan optimiser (HiGHS) failed: {result.message}")
        return result

    if column_must.any():
        # Lexicographic objective: first the most must-visit customers, then the most gain.
        served = round(-solve(column_must.astype(float)).fun)
        must_row = np.concatenate([np.zeros(n_edges), column_must.astype(float)])
        constraints.append(LinearConstraint(must_row[None, :], served - 1e-6, np.inf))
    result = solve(column_gain)
    return np.round(result.x[:n_edges]).astype(np.int64)


def _select(
    branch: np.ndarray,
    gain: np.ndarray,
    must: np.ndarray,
    groups: pd.DataFrame,
    n_branches: int,
) -> tuple[np.ndarray, pd.DataFrame, str]:
    """Choose how many candidates each branch gets, and from which coverage group.

    Candidates must be sorted by branch, then must-visit first, then gain descending.

    Returns
    -------
    taken : ndarray
        Candidates visited per branch (the branch's first ``taken[b]`` candidates).
    quotas : DataFrame
        Columns ``branch``, ``group``, ``quota``: visits of each branch per group.
    method : str
        ``"per_branch"`` when no group couples branches, else ``"milp"``.
    """
    available = np.bincount(branch, minlength=n_branches)
    single = groups[groups["size"] == 1]
    dedicated = np.zeros(n_branches, dtype=np.int64)
    dedicated[single["branch"].to_numpy()] = single["capacity"].to_numpy()
    dedicated_taken = np.minimum(available, dedicated)
    quotas = [
        pd.DataFrame(
            {
                "branch": single["branch"].to_numpy(),
                "group": single["group"].to_numpy(),
                "quota": dedicated_taken[single["branch"].to_numpy()],
            }
        )
    ]
    taken = dedicated_taken.copy()
    multi = groups[groups["size"] > 1]
    left = available - dedicated_taken
    edges = multi[left[multi["branch"].to_numpy()] > 0]
    if len(edges) == 0:
        return taken, pd.concat(quotas, ignore_index=True), "per_branch"
    reach = np.bincount(
        edges["branch"].to_numpy(), weights=edges["capacity"].to_numpy(), minlength=n_branches
    ).astype(np.int64)
    first = np.searchsorted(branch, np.arange(n_branches), side="left")
    position = np.arange(len(branch)) - first[branch]
    # Only the candidates the shared capacity can reach matter: the rest are never chosen.
    column = (position >= dedicated_taken[branch]) & (
        position < dedicated_taken[branch] + reach[branch]
    )
    flow = _solve_shared(
        branch[column],
        gain[column],
        must[column],
        edges["branch"].to_numpy(),
        edges["group"].to_numpy(),
        groups.groupby("group")["capacity"].first().to_numpy(),
    )
    taken += np.bincount(edges["branch"].to_numpy(), weights=flow, minlength=n_branches).astype(
        np.int64
    )
    quotas.append(
        pd.DataFrame(
            {
                "branch": edges["branch"].to_numpy(),
                "group": edges["group"].to_numpy(),
                "quota": flow,
            }
        )
    )
    return taken, pd.concat(quotas, ignore_index=True), "milp"


# ---------------------------------------------------------------------------------------------
# Routes
# ---------------------------------------------------------------------------------------------


def _haversine_km(lat1: np.ndarray, lon1: np.ndarray, lat2: np.ndarray, lon2: np.ndarray) -> Any:
    lat1, lon1, lat2, lon2 = (np.radians(a) for a in (lat1, lon1, lat2, lon2))
    inner = (
        np.sin((lat2 - lat1) / 2) ** 2
        + np.cos(lat1) * np.cos(lat2) * np.sin((lon2 - lon1) / 2) ** 2
    )
    return 2 * _EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(inner, 0.0, 1.0)))


def _route_bucket(lat: np.ndarray, lon: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Order the stops of many days with the same number of stops ``k`` (arrays ``(D, k)``).

    Nearest neighbour from the first stop, then 2-opt on the open path, all days at once.
    Returns the visiting order (positions into each row) and the km of each day.
    """
    n_days, k = lat.shape
    dist = _haversine_km(lat[:, :, None], lon[:, :, None], lat[:, None, :], lon[:, None, :])
    rows = np.arange(n_days)
    order = np.zeros((n_days, k), dtype=np.int64)
    seen = np.zeros((n_days, k), dtype=bool)
    seen[:, 0] = True
    for step in range(1, k):
        reach = np.where(seen, np.inf, dist[rows, order[:, step - 1]])
        order[:, step] = np.argmin(reach, axis=1)
        seen[rows, order[:, step]] = True
    for _ in range(_TWO_OPT_PASSES):
        improved = False
        for i in range(1, k - 1):
            for j in range(i + 1, k):
                a, b, c = order[:, i - 1], order[:, i], order[:, j]
                delta = dist[rows, a, c] - dist[rows, a, b]
                if j < k - 1:
                    d = order[:, j + 1]
                    delta += dist[rows, b, d] - dist[rows, c, d]
                better = delta < -1e-9
                if better.any():
                    order[better, i : j + 1] = order[better, i : j + 1][:, ::-1]
                    improved = True
        if not improved:
            break
    km = dist[rows[:, None], order[:, :-1], order[:, 1:]].sum(axis=1) if k > 1 else np.zeros(n_days)
    return order, km


def _order_stops(
    stop_crew_day: np.ndarray, lat: np.ndarray, lon: np.ndarray, n_crew_days: int
) -> tuple[np.ndarray, np.ndarray]:
    """Stop order (1-based) of every stop, and km of every crew-day.

    Stops must come sorted by crew-day, then locality. Days with a stop lacking coordinates
    keep the locality order and get NaN km.
    """
    stops = np.bincount(stop_crew_day, minlength=n_crew_days)
    first = np.concatenate([[0], np.cumsum(stops)[:-1]])
    within = np.arange(len(stop_crew_day)) - first[stop_crew_day]
    stop_order = within + 1
    km = np.full(n_crew_days, np.nan)
    located = np.isfinite(lat) & np.isfinite(lon)
    day_located = np.bincount(stop_crew_day, weights=located, minlength=n_crew_days) == stops
    for k in np.unique(stops[day_located & (stops > 0)]):
        days = np.flatnonzero(day_located & (stops == k))
        index = first[days][:, None] + np.arange(k)[None, :]
        order, km[days] = _route_bucket(lat[index], lon[index])
        positions = np.empty_like(order)
        np.put_along_axis(positions, order, np.arange(k)[None, :].repeat(len(days), 0), axis=1)
        stop_order[index] = positions + 1
    return stop_order, km


# ---------------------------------------------------------------------------------------------
# plan_visits
# ---------------------------------------------------------------------------------------------


def _plan_id(
    scores: pd.DataFrame,
    staff: pd.DataFrame,
    start: pd.Timestamp,
    days: int,
    rules: PlanRules,
    holdout: float,
    seed: int,
) -> str:
    digest = hashlib.sha256()
    digest.update(pd.util.hash_pandas_object(scores, index=False).to_numpy().tobytes())
    staff_text = staff.astype("str").sort_values(list(staff.columns)).reset_index(drop=True)
    digest.update(pd.util.hash_pandas_object(staff_text, index=False).to_numpy().tobytes())
    settings = {"start": start.date().isoformat(), "days": days, "holdout": holdout}
    settings |= {"seed": seed, "rules": asdict(rules)}
    digest.update(json.dumps(settings, sort_keys=True).encode())
    return "plan-" + digest.hexdigest()[:12]


def _format_money(values: np.ndarray) -> np.ndarray:
    return np.char.mod("%.2f", np.asarray(values, dtype=float))


def _exclusion_details(
    customers: pd.DataFrame, reason: np.ndarray, start: pd.Timestamp, days: int, rules: PlanRules
) -> np.ndarray:
    detail = np.full(len(customers), "", dtype=object)
    gain = customers["net_gain"].to_numpy()
    branch = customers["branch_id"].to_numpy(dtype=object)
    mask = reason == "do_not_visit"
    detail[mask] = "customer must not be visited (do_not_visit)"
    mask = reason == "cooldown"
    if mask.any():
        last = customers.loc[mask, "last_visit_date"].dt.strftime("%Y-%m-%d").to_numpy(dtype=object)
        detail[mask] = "visited " + last + f", cool-down {rules.cooldown_days} days"
    mask = reason == "non_positive_gain"
    if mask.any():
        cost = f" after a visit cost of {rules.visit_cost:.2f} CNY" if rules.visit_cost else ""
        detail[mask] = (
            "expected gain " + _format_money(gain[mask]).astype(object) + f" CNY{cost}: "
            "a visit is not expected to help"
        )
    mask = reason == "below_min_gain"
    if mask.any():
        detail[mask] = (
            "expected gain "
            + _format_money(gain[mask]).astype(object)
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
        ``covers_branches`` and ``absent_dates`` (space-separated).
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
        ids, negative ``visits_per_day``, unknown weekdays or covered branches, ...).
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
    start_day = start_day.normalize()
    days, holdout, seed = int(days), float(holdout), int(seed)

    customers = _prepare_scores(scores)
    staff_tables = _prepare_staff(staff, pd.Index(customers["branch_id"].unique()))
    branch_code = pd.Index(
        np.unique(
            np.concatenate(
                [customers["branch_id"].unique(), staff_tables["coverage"]["branch_id"].unique()]
            )
        )
    )
    n_branches = len(branch_code)
    first_day = int(np.datetime64(start_day.date(), "D").astype(np.int64))
    crews, groups = _crew_days(staff_tables, branch_code, first_day, days, rules.team_size)

    # --- eligibility ------------------------------------------------------------------------
    n_customers = len(customers)
    branch = branch_code.get_indexer(customers["branch_id"])
    net_gain = customers["expected_gain"].to_numpy() - rules.visit_cost
    customers["net_gain"] = net_gain
    last_visit = customers["last_visit_date"].to_numpy().astype("datetime64[D]")
    since_visit = first_day - last_visit.astype(np.int64)
    cooled = ~np.isnat(last_visit) & (since_visit < rules.cooldown_days)
    must = np.zeros(n_customers, dtype=bool)
    if rules.has_must_visit:
        must[:] = True
        if rules.must_visit_min_dpd is not None:
            must &= customers["days_past_due"].to_numpy() >= rules.must_visit_min_dpd
        if rules.must_visit_min_arrears is not None:
            must &= customers["arrears"].to_numpy() >= rules.must_visit_min_arrears
    below = (
        np.zeros(n_customers, dtype=bool)
        if rules.min_gain is None
        else (net_gain < rules.min_gain) & ~must
    )
    reach = np.bincount(groups["branch"], weights=groups["capacity"], minlength=n_branches)
    reason = np.select(
        [
            customers["do_not_visit"].to_numpy(),
            cooled,
            net_gain <= 0,
            below,
            reach[branch] == 0,
        ],
        list(EXCLUSION_REASONS[:5]),
        default="",
    ).astype(object)
    eligible = reason == ""

    # --- selection --------------------------------------------------------------------------
    candidates = np.flatnonzero(eligible)
    candidates = candidates[
        np.lexsort((candidates, -net_gain[candidates], ~must[candidates], branch[candidates]))
    ]
    cand_branch = branch[candidates]
    taken, quotas, method = _select(
        cand_branch, net_gain[candidates], must[candidates], groups, n_branches
    )
    first = np.searchsorted(cand_branch, np.arange(n_branches), side="left")
    position = np.arange(len(candidates)) - first[cand_branch]
    selected = position < taken[cand_branch]

    # --- holdout ----------------------------------------------------------------------------
    draw = np.random.default_rng(seed).random(n_customers)
    randomised = selected & ~must[candidates]
    pool = np.bincount(cand_branch[randomised], minlength=n_branches)
    withheld = np.floor(holdout * pool + 0.5).astype(np.int64)
    in_pool = np.flatnonzero(randomised)
    in_pool = in_pool[np.lexsort((draw[candidates[in_pool]], cand_branch[in_pool]))]
    pool_first = np.searchsorted(cand_branch[in_pool], np.arange(n_branches), side="left")
    pool_rank = np.arange(len(in_pool)) - pool_first[cand_branch[in_pool]]
    is_holdout = np.zeros(len(candidates), dtype=bool)
    is_holdout[in_pool[pool_rank < withheld[cand_branch[in_pool]]]] = True
    refill = ~selected & (position < taken[cand_branch] + withheld[cand_branch])
    visit = (selected & ~is_holdout) | refill
    probability = np.ones(len(candidates))
    with np.errstate(divide="ignore", invalid="ignore"):
        share_visited = np.where(pool > 0, (pool - withheld) / np.maximum(pool, 1), 1.0)
    probability[randomised] = share_visited[cand_branch[randomised]]

    # --- days: branch -> coverage group -> crew-day ----------------------------------------
    locality = customers[["township", "village"]].apply(
        lambda text: pd.factorize(text, sort=True, use_na_sentinel=True)[0]
    )
    lat = customers["latitude"].to_numpy()
    lon = customers["longitude"].to_numpy()
    visitors = candidates[visit]
    visitors = visitors[
        np.lexsort(
            (
                visitors,
                lon[visitors],
                lat[visitors],
                locality["village"].to_numpy()[visitors],
                locality["township"].to_numpy()[visitors],
                branch[visitors],
            )
        )
    ]
    visit_branch = branch[visitors]
    quotas = quotas[quotas["quota"] > 0].sort_values(["branch", "group"], kind="stable")
    quota_end = np.cumsum(quotas["quota"].to_numpy())
    branch_quota_start = np.zeros(n_branches, dtype=np.int64)
    branch_quota_start[quotas["branch"].to_numpy()[::-1]] = (
        quota_end - quotas["quota"].to_numpy()
    )[::-1]
    visit_first = np.searchsorted(visit_branch, np.arange(n_branches), side="left")
    slot = branch_quota_start[visit_branch] + np.arange(len(visitors)) - visit_first[visit_branch]
    visit_group = quotas["group"].to_numpy()[np.searchsorted(quota_end, slot, side="right")]

    by_group = np.lexsort((np.arange(len(visitors)), visit_group))
    visitors, visit_group = visitors[by_group], visit_group[by_group]
    crews = crews.sort_values(["group", "crew", "day"], kind="stable").reset_index(drop=True)
    crew_end = np.cumsum(crews["capacity"].to_numpy())
    group_start = np.zeros(int(crews["group"].max()) + 1 if len(crews) else 1, dtype=np.int64)
    crew_group = crews["group"].to_numpy()
    group_start[crew_group[::-1]] = (crew_end - crews["capacity"].to_numpy())[::-1]
    group_first = np.searchsorted(visit_group, np.arange(len(group_start)), side="left")
    crew_slot = group_start[visit_group] + np.arange(len(visitors)) - group_first[visit_group]
    visit_crew_day = np.searchsorted(crew_end, crew_slot, side="right")
    if len(visitors) and (crew_group[visit_crew_day] != visit_group).any():
        raise RuntimeError("Internal error: a coverage group was given more visits than capacity.")

    # --- routes -----------------------------------------------------------------------------
    by_day = np.lexsort((np.arange(len(visitors)), visit_crew_day))
    visitors, visit_crew_day = visitors[by_day], visit_crew_day[by_day]
    used, crew_day_index = np.unique(visit_crew_day, return_inverse=True)
    stop_order, km = _order_stops(crew_day_index, lat[visitors], lon[visitors], len(used))
    visit_day = crews["day"].to_numpy()[visit_crew_day].astype("datetime64[D]")
    routes = pd.DataFrame(
        {
            "officer_id": crews["crew"].to_numpy()[used],
            "visit_date": pd.to_datetime(crews["day"].to_numpy()[used].astype("datetime64[D]")),
            "stops": np.bincount(crew_day_index, minlength=len(used)),
            "km": km,
        }
    )
    routes = routes.astype({"officer_id": "str", "visit_date": "datetime64[s]"})
    routes = routes.sort_values(["officer_id", "visit_date"], kind="stable").reset_index(drop=True)

    # --- output frames ----------------------------------------------------------------------
    plan_id = _plan_id(
        customers.drop(columns="net_gain"), staff, start_day, days, rules, holdout, seed
    )
    held = candidates[is_holdout]
    held = held[np.lexsort((held, -net_gain[held], branch[held]))]
    rows = np.concatenate([visitors, held])
    n_visits = len(visitors)
    prob_by_customer = np.ones(n_customers)
    prob_by_customer[candidates] = probability
    plan = customers.iloc[rows][["branch_id", "customer_id", *PLAN_COLUMNS[9:]]]
    plan = plan.reset_index(drop=True)
    plan["plan_id"] = pd.Series(plan_id, index=plan.index, dtype="str")
    officer = pd.Series(crews["crew"].to_numpy()[visit_crew_day], dtype="str")
    plan["officer_id"] = pd.concat(
        [officer, pd.Series(pd.NA, index=range(len(held)), dtype="str")], ignore_index=True
    )
    plan["visit_date"] = pd.to_datetime(
        np.concatenate([visit_day, np.full(len(held), np.datetime64("NaT"), dtype="datetime64[D]")])
    ).astype("datetime64[s]")
    plan["stop_order"] = pd.array(
        np.concatenate([stop_order, np.zeros(len(held), dtype=np.int64)]), dtype="Int64"
    )
    plan.loc[n_visits:, "stop_order"] = pd.NA
    plan["arm"] = pd.Series(np.repeat(["visit", "holdout"], [n_visits, len(held)]), dtype="str")
    plan["assignment_probability"] = prob_by_customer[rows]
    plan["expected_gain"] = net_gain[rows]
    order_in_branch = np.lexsort((rows, -net_gain[rows], branch[rows]))
    rank = np.empty(len(rows), dtype=np.int64)
    ranked_branch = branch[rows][order_in_branch]
    rank[order_in_branch] = (
        np.arange(len(rows)) - np.searchsorted(ranked_branch, ranked_branch, side="left") + 1
    )
    plan["rank"] = rank
    visit_part = plan.iloc[:n_visits].sort_values(
        ["officer_id", "visit_date", "stop_order"], kind="stable"
    )
    plan = pd.concat([visit_part, plan.iloc[n_visits:]], ignore_index=True)[list(PLAN_COLUMNS)]

    reason[candidates[~visit & ~is_holdout]] = "no_capacity"
    in_plan = np.zeros(n_customers, dtype=bool)
    in_plan[rows] = True
    excluded = np.flatnonzero(~in_plan)
    excluded = excluded[np.lexsort((excluded, branch[excluded]))]
    details = _exclusion_details(customers, reason, start_day, days, rules)
    exclusions = customers.iloc[excluded][["customer_id", "branch_id"]].reset_index(drop=True)
    exclusions["reason"] = pd.Series(reason[excluded], dtype="str")
    exclusions["detail"] = pd.Series(details[excluded], dtype="str")

    capacity = int(crews["capacity"].sum())
    uplift = customers["uplift"].to_numpy()
    refilled = candidates[refill]
    summary: dict[str, Any] = {
        "plan_id": plan_id,
        "start": start_day.date().isoformat(),
        "end": (start_day + pd.Timedelta(days=days - 1)).date().isoformat(),
        "days": days,
        "seed": seed,
        "holdout_share_target": holdout,
        "team_size": rules.team_size,
        "method": method,
        "customers": n_customers,
        "eligible": int(eligible.sum()),
        "crew_days": len(crews),
        "capacity_visits": capacity,
        "visits": n_visits,
        "capacity_used": n_visits / capacity if capacity else 0.0,
        "must_visit_served": int(must[visitors].sum()),
        "must_visit_eligible": int(must[candidates].sum()),
        "holdout_size": len(held),
        "holdout_share": len(held) / max(int(randomised.sum()), 1),
        "refill_visits": len(refilled),
        "expected_gain": float(net_gain[visitors].sum()),
        "expected_incremental_cures": float(uplift[visitors].sum()),
        "expected_cures_given_up": float(uplift[held].sum()),
        "expected_cures_given_up_net_of_refill": float(uplift[held].sum() - uplift[refilled].sum()),
        "exclusions_by_reason": {
            code: int(count)
            for code, count in exclusions["reason"]
            .value_counts()
            .reindex(list(EXCLUSION_REASONS), fill_value=0)
            .items()
        },
        "km_total": float(np.nansum(km)),
        "km_per_crew_day": float(np.nanmean(km)) if np.isfinite(km).any() else None,
    }
    return VisitPlan(plan=plan, exclusions=exclusions, routes=routes, summary=summary)
