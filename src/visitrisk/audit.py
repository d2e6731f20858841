"""Visit-log audit: field-visit records that are implausible, each with a reason.

The visit log is the treatment of every uplift model, and it is typed in by hand in the
field. :func:`audit_visits` flags the records a risk analyst should not take at face value;
it never changes or drops a record. ``visitrisk validate`` prints the flags as warnings
(:func:`audit_problems`) and :func:`visitrisk.build_training_set` can leave flagged records
out of the treatment (``exclude_flagged_visits=True``).

Rules (reason codes, in the order of :data:`AUDIT_REASONS`):

``over_capacity``
    The officer recorded more visits on that day than ``staff.visits_per_day`` (plus
    ``capacity_slack``). Every record of that officer and day is flagged: the log has no
    time of day, so the extra ones cannot be told apart.
``absent_day``
    The visit date is one of the officer's ``staff.absent_dates``.
``off_working_day``
    The weekday of the visit is not in the officer's ``staff.working_days`` (a blank
    ``working_days`` is the contract's default, ``Mon Tue Wed Thu Fri``).
``met_and_not_found``
    On the same day the customer was recorded both as ``not_found`` and as met: outcome
    ``met``, or an outcome that needs the customer in person (``promise_to_pay``,
    ``paid_on_site``, ``restructure_requested``, ``refused``). The records of both kinds
    that day are flagged, whoever made them; ``other`` is neither.
``branch_not_covered``
    The customer belongs to a branch that is neither the officer's home branch
    (``staff.branch_id``) nor one of their ``staff.covers_branches``.
``outcome_mix``
    The outcomes an officer recorded for the customers of a branch differ sharply from the
    outcomes the branch's other officers recorded (e.g. almost always ``not_found``). See
    :func:`audit_visits` for the test and its thresholds.

The staff rules need the officer in ``staff``: a record without ``officer_id``, or by an
officer absent from ``staff``, cannot be checked against them; without a ``staff`` table
those rules are skipped. Both are reported with the result, never silently.
"""

from __future__ import annotations

import datetime as _dt

import numpy as np
import pandas as pd

from visitrisk._outcome_mix import group_codes, is_member, outcome_mix_flags, pair_key
from visitrisk._tables import PROBLEM_COLUMNS, empty_problems, key_positions
from visitrisk.contract import Portfolio
from visitrisk.features import _as_timestamp, _param_error

__all__ = [
    "AUDIT_COLUMNS",
    "AUDIT_REASONS",
    "CONTACT_OUTCOMES",
    "audit_problems",
    "audit_visits",
]

#: Reason codes of :func:`audit_visits`, in the order rows are sorted within a record.
AUDIT_REASONS: tuple[str, ...] = (
    "over_capacity",
    "absent_day",
    "off_working_day",
    "met_and_not_found",
    "branch_not_covered",
    "outcome_mix",
)

#: Columns of the frame returned by :func:`audit_visits`.
AUDIT_COLUMNS: tuple[str, ...] = (
    "visit_index",
    "customer_id",
    "branch_id",
    "officer_id",
    "visit_date",
    "outcome",
    "reason",
    "detail",
)

#: Outcomes that can only be recorded after meeting the customer in person.
CONTACT_OUTCOMES: tuple[str, ...] = (
    "met",
    "promise_to_pay",
    "paid_on_site",
    "restructure_requested",
    "refused",
)

_WEEKDAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")

#: What each reason means, phrased after "N visit records ...", for the validation report.
_DESCRIPTIONS = {
    "over_capacity": "were made on a day the officer recorded more visits than visits_per_day",
    "absent_day": "were made on one of the officer's absent_dates",
    "off_working_day": "were made on a weekday outside the officer's working_days",
    "met_and_not_found": "say the customer was met while another record that day says not_found",
    "branch_not_covered": "went to a customer of a branch the officer neither belongs to "
    "nor covers",
    "outcome_mix": "were made by an officer whose outcomes differ sharply from the other "
    "officers' in the same branch",
}

_FUNCTION = "audit_visits"
_MAX_EXAMPLES = 5


def audit_visits(
    portfolio: Portfolio,
    *,
    since: str | _dt.date | pd.Timestamp | None = None,
    capacity_slack: int = 0,
    min_officer_visits: int = 30,
    alpha: float = 0.01,
    min_mix_difference: float = 0.2,
) -> pd.DataFrame:
    """Flag implausible visit records, each with a reason; nothing is changed or dropped.

    The rules and their reason codes are listed in :mod:`visitrisk.audit`. The outcome-mix
    rule works on each (officer, branch) pair, the branch being the visited customers'
    ``branch_id`` (so it needs no staff table): the officer's outcome counts in that
    branch are compared with the other officers' counts in the same branch by Pearson's
    chi-square test of homogeneity on the 2 x K table (K = outcomes recorded by either,
    K - 1 degrees of freedom). A pair is tested when both sides have at least
    ``min_officer_visits`` records with an outcome. It is flagged when both

    - the Bonferroni-adjusted p-value (p times the number of pairs tested) is below
      ``alpha``, so that over all officers the chance of any false flag is at most
      ``alpha`` when outcomes do not depend on the officer; and
    - the two outcome distributions differ by at least ``min_mix_difference`` in total
      variation distance (half the sum of absolute differences of the outcome shares: the
      share of the officer's records whose outcome would have to change to match the
      branch), so that a large log does not flag trivial differences and a rare outcome
      seen a few times (where the chi-square approximation is loose) cannot flag alone.

    The reference is the branch's *other* officers, so an officer never dilutes their own
    comparison; when many officers of one branch share a fault, the reference itself is
    off and honest colleagues may be flagged too (read the flags per branch).

    Parameters
    ----------
    portfolio : Portfolio
        A validated portfolio; ``staff`` is needed for the staff rules only.
    since : date, optional
        Audit only the records dated on or after this day (e.g. the day the staff table
        describes). Default: every record.
    capacity_slack : int, default 0
        Visits a day tolerated above ``visits_per_day`` before ``over_capacity`` (visits).
    min_officer_visits : int, default 30
        Records with an outcome needed on each side of an outcome-mix test (visits).
    alpha : float, default 0.01
        Family-wise significance level of the outcome-mix tests.
    min_mix_difference : float, default 0.2
        Smallest total variation distance between outcome distributions that is flagged
        (share, 0 to 1).

    Returns
    -------
    pandas.DataFrame
        One row per flagged record and reason (a record flagged for two reasons appears
        twice), ordered by ``visit_index`` then reason, with columns :data:`AUDIT_COLUMNS`:
        ``visit_index`` (the record's index label in ``portfolio.visits``, i.e. its 0-based
        position in the input), the record's ``customer_id``, the customer's
        ``branch_id``, ``officer_id``, ``visit_date``, ``outcome``, ``reason`` (one of
        :data:`AUDIT_REASONS`) and ``detail`` (a plain sentence with the figures behind the
        flag). ``DataFrame.attrs`` says what was checked:

        - ``"visits_audited"``: records audited (int);
        - ``"checks_run"``: reason codes of the rules that ran (list of str);
        - ``"skipped_checks"``: rules that could not run, with why (dict str to str);
        - ``"not_checked"``: for rules that ran, records they could not judge (e.g. no
          ``officer_id``, an officer absent from ``staff``, no outcome), with why (dict
          str to str);
        - ``"parameters"``: the thresholds used (dict).

        ``attrs`` are plain Python values; pandas may drop them in some operations
        (e.g. ``concat`` of audits with different attrs), so read them from the result.

    Raises
    ------
    ValueError
        If a parameter is invalid.

    Examples
    --------
    >>> import visitrisk as vr
    >>> flags = vr.audit_visits(portfolio)  # doctest: +SKIP
    >>> flags["reason"].value_counts()  # doctest: +SKIP
    >>> flags.attrs["skipped_checks"]  # doctest: +SKIP
    {}
    """
    parameters = _checked_parameters(capacity_slack, min_officer_visits, alpha, min_mix_difference)
    log = _VisitLog(portfolio, None if since is None else _as_timestamp(since, "since", _FUNCTION))
    skipped: dict[str, str] = {}
    not_checked: dict[str, str] = {}
    flags: list[tuple[str, np.ndarray, pd.Series]] = []
    staff_rules = ("over_capacity", "absent_day", "off_working_day", "branch_not_covered")
    outcome_rules = ("met_and_not_found", "outcome_mix")

    if log.n == 0:
        skipped = dict.fromkeys(AUDIT_REASONS, "there is no visit record to audit")
    elif portfolio.staff is None:
        skipped = dict.fromkeys(staff_rules, "no staff table was given")
    elif not log.has_officer.any():
        skipped = dict.fromkeys(staff_rules, "visits.officer_id is blank in every record")
    else:
        staff = _StaffFacts(portfolio.staff, log)
        flags.append(("over_capacity", *_over_capacity(log, staff, parameters["capacity_slack"])))
        if staff.absences.empty:
            skipped["absent_day"] = "staff.absent_dates is blank for every officer"
        else:
            flags.append(("absent_day", *_absent_day(log, staff)))
        flags.append(("off_working_day", *_off_working_day(log, staff)))
        flags.append(("branch_not_covered", *_branch_not_covered(log, staff)))
        unjudged = _unjudged_by_staff(log, staff)
        if unjudged:
            not_checked.update(dict.fromkeys(set(staff_rules) - set(skipped), unjudged))

    if log.n and not log.has_outcome.any():
        skipped.update(dict.fromkeys(outcome_rules, "visits.outcome is blank in every record"))
    elif log.n:
        flags.append(("met_and_not_found", *_met_and_not_found(log)))
        no_outcome = int((~log.has_outcome).sum())
        if no_outcome:
            not_checked["met_and_not_found"] = f"{no_outcome:,} records have no outcome"
        if not log.has_officer.any():
            skipped["outcome_mix"] = "visits.officer_id is blank in every record"
        else:
            rows, details, untested = outcome_mix_flags(
                log.officer_id,
                log.outcome,
                log.branch,
                log.branch_index,
                min_visits=parameters["min_officer_visits"],
                alpha=parameters["alpha"],
                min_difference=parameters["min_mix_difference"],
            )
            flags.append(("outcome_mix", rows, details))
            if untested:
                not_checked["outcome_mix"] = untested

    result = _assemble(log, flags)
    result.attrs.update(
        {
            "visits_audited": log.n,
            "checks_run": [reason for reason in AUDIT_REASONS if reason not in skipped],
            "skipped_checks": skipped,
            "not_checked": {r: not_checked[r] for r in AUDIT_REASONS if r in not_checked},
            "parameters": {"since": None if since is None else str(since), **parameters},
        }
    )
    return result


def audit_problems(audit: pd.DataFrame) -> pd.DataFrame:
    """Summarise an audit as warnings in the shape of the validation report.

    Parameters
    ----------
    audit : pandas.DataFrame
        The result of :func:`audit_visits`.

    Returns
    -------
    pandas.DataFrame
        Columns of ``DataError.problems`` (``table``, ``column``, ``rule``, ``count``,
        ``examples``, ``message``): one row per reason found, with the number of flagged
        records and up to five examples (``customer_id on visit_date``, or officers for
        ``outcome_mix``), then one row per skipped rule (rule ``audit_check_skipped``,
        count 0) and per rule that could not judge every record (rule
        ``audit_not_checked``).
    """
    rows = []
    for reason in AUDIT_REASONS:
        flagged = audit.loc[audit["reason"] == reason]
        if flagged.empty:
            continue
        if reason == "outcome_mix":
            examples = (flagged["officer_id"] + " in " + flagged["branch_id"]).unique()
            key_name = "officer"
        else:
            dates = flagged["visit_date"].dt.strftime("%Y-%m-%d")
            examples = (flagged["customer_id"] + " on " + dates).unique()
            key_name = "customer_id"
        examples = [str(example) for example in examples[:_MAX_EXAMPLES]]
        count = int(flagged["visit_index"].nunique())
        noun = "visit record" if count == 1 else "visit records"
        description = _DESCRIPTIONS[reason]
        if count == 1:
            description = description.replace("were ", "was ", 1).replace("say ", "says ", 1)
        rows.append(
            {
                "table": "visits",
                "column": "",
                "rule": reason,
                "count": count,
                "examples": ", ".join(examples),
                "message": f"visits: {count:,} {noun} {description} (rule {reason}); "
                f"e.g. {key_name} {', '.join(examples)}",
            }
        )
    # Rules skipped (or partly unchecked) for the same reason share one row.
    for rule, attribute, verb in (
        ("audit_check_skipped", "skipped_checks", "skipped"),
        ("audit_not_checked", "not_checked", "could not judge every record"),
    ):
        by_why: dict[str, list[str]] = {}
        for reason, why in audit.attrs.get(attribute, {}).items():
            by_why.setdefault(why, []).append(reason)
        for why, reasons in by_why.items():
            names = ", ".join(reasons)
            checks = "check" if len(reasons) == 1 else "checks"
            was = ("was" if len(reasons) == 1 else "were") if verb == "skipped" else ""
            rows.append(
                {
                    "table": "visits",
                    "column": "",
                    "rule": rule,
                    "count": 0,
                    "examples": names,
                    "message": f"visits: the {names} {checks} {was + ' ' if was else ''}"
                    f"{verb}: {why}",
                }
            )
    if not rows:
        return empty_problems()
    return pd.DataFrame(rows, columns=list(PROBLEM_COLUMNS)).astype({"count": "int64"})


# --------------------------------------------------------------------------------------
# Parameters
# --------------------------------------------------------------------------------------
def _checked_parameters(
    capacity_slack: object, min_officer_visits: object, alpha: object, min_mix_difference: object
) -> dict[str, float | int]:
    def is_int(value: object) -> bool:
        return isinstance(value, int | np.integer) and not isinstance(value, bool)

    def is_real(value: object) -> bool:
        return is_int(value) or (isinstance(value, float | np.floating) and np.isfinite(value))

    if not is_int(capacity_slack) or capacity_slack < 0:
        raise _param_error("capacity_slack", _FUNCTION, "an int >= 0 (visits)", capacity_slack)
    if not is_int(min_officer_visits) or min_officer_visits < 1:
        raise _param_error(
            "min_officer_visits", _FUNCTION, "a positive int (visits)", min_officer_visits
        )
    if not is_real(alpha) or not 0 < alpha < 1:
        raise _param_error("alpha", _FUNCTION, "a float in (0, 1)", alpha)
    if not is_real(min_mix_difference) or not 0 <= min_mix_difference <= 1:
        raise _param_error(
            "min_mix_difference", _FUNCTION, "a float in [0, 1] (share)", min_mix_difference
        )
    return {
        "capacity_slack": int(capacity_slack),
        "min_officer_visits": int(min_officer_visits),
        "alpha": float(alpha),
        "min_mix_difference": float(min_mix_difference),
    }


# --------------------------------------------------------------------------------------
# The log as arrays
# --------------------------------------------------------------------------------------
class _VisitLog:
    """The audited records as arrays: day numbers, codes and the customers' branches.

    ``rows`` are positions in ``portfolio.visits``; every other array is aligned with it.
    """

    def __init__(self, portfolio: Portfolio, since: pd.Timestamp | None) -> None:
        visits = portfolio.visits
        day = visits["visit_date"].to_numpy().astype("datetime64[D]").astype(np.int64)
        rows = np.arange(len(visits))
        if since is not None:
            rows = rows[day >= np.datetime64(since, "D").astype(np.int64)]
        self.visits = visits
        self.rows = rows
        self.n = len(rows)
        self.day = day[rows]
        self.customer_id = visits["customer_id"].take(rows).reset_index(drop=True)
        self.officer_id = visits["officer_id"].take(rows).reset_index(drop=True)
        self.outcome = visits["outcome"].take(rows).reset_index(drop=True)
        self.has_officer = self.officer_id.notna().to_numpy()
        self.has_outcome = self.outcome.notna().to_numpy()
        customers = portfolio.customers
        # Position of each record's customer in the customers table (-1: unknown).
        self.customer = key_positions(self.customer_id, customers["customer_id"])
        branch = customers["branch_id"].take(np.maximum(self.customer, 0)).reset_index(drop=True)
        self.branch_id = branch.where(pd.Series(self.customer >= 0), pd.NA)
        branches = [customers["branch_id"]]
        if portfolio.staff is not None:
            branches.append(portfolio.staff["branch_id"])
        self.branch_index = pd.Index(pd.concat(branches, ignore_index=True).dropna().unique())
        self.branch = key_positions(self.branch_id, pd.Series(self.branch_index))

    def dates(self, positions: np.ndarray) -> pd.Series:
        """ISO text of the visit dates at some positions."""
        text = np.datetime_as_string(self.day[positions].astype("datetime64[D]"), unit="D")
        return pd.Series(text, dtype="str")

    def text(self, column: str, positions: np.ndarray) -> pd.Series:
        values = getattr(self, column).take(positions).reset_index(drop=True)
        return values.fillna("(blank)").astype("str")


class _StaffFacts:
    """The staff table in the form the rules need, with each record's officer row."""

    def __init__(self, staff: pd.DataFrame, log: _VisitLog) -> None:
        from visitrisk._plan_inputs import prepare_staff

        parsed = prepare_staff(staff, log.branch_index)
        self.officers = parsed["officers"]
        self.absences = parsed["absences"]
        coverage = parsed["coverage"]
        self.coverage_branch = key_positions(
            coverage["branch_id"].astype("str"), pd.Series(log.branch_index)
        )
        self.coverage_row = coverage["row"].to_numpy(dtype=np.int64)
        self.officer_row = key_positions(log.officer_id, staff["officer_id"])
        self.known = self.officer_row >= 0
        self.working_days = staff["working_days"].fillna("").astype("str")
        self.covers_text = (
            staff["covers_branches"].fillna("").astype("str").str.strip().replace("", "none")
        )


def _unjudged_by_staff(log: _VisitLog, staff: _StaffFacts) -> str:
    """Why some records cannot be checked against the staff table ("" when all can)."""
    reasons = []
    no_officer = int((~log.has_officer).sum())
    if no_officer:
        reasons.append(f"{no_officer:,} records have no officer_id")
    unknown = log.has_officer & ~staff.known
    if unknown.any():
        shown = ", ".join(log.officer_id[unknown].unique()[:_MAX_EXAMPLES])
        reasons.append(
            f"{int(unknown.sum()):,} records are by officers not in staff (e.g. {shown})"
        )
    return "; ".join(reasons)


# --------------------------------------------------------------------------------------
# The rules: each returns the flagged positions (in the log) and their details
# --------------------------------------------------------------------------------------
def _over_capacity(log: _VisitLog, staff: _StaffFacts, slack: int) -> tuple[np.ndarray, pd.Series]:
    checked = np.flatnonzero(staff.known)
    officer_row = staff.officer_row[checked]
    day = log.day[checked]
    group, _ = group_codes(pair_key(officer_row, day - day.min(initial=0)))
    per_day = np.bincount(group)[group]
    capacity = staff.officers["visits_per_day"].to_numpy()[officer_row]
    over = per_day > capacity + slack
    positions = checked[over]
    detail = (
        "officer "
        + log.text("officer_id", positions)
        + " recorded "
        + pd.Series(per_day[over], dtype="str")
        + " visits on "
        + log.dates(positions)
        + "; visits_per_day is "
        + pd.Series(capacity[over], dtype="str")
    )
    return positions, detail


def _absent_day(log: _VisitLog, staff: _StaffFacts) -> tuple[np.ndarray, pd.Series]:
    checked = np.flatnonzero(staff.known)
    absences = staff.absences
    origin = min(log.day.min(initial=0), int(absences["day"].min()))
    absent_keys = pair_key(absences["row"].to_numpy(), absences["day"].to_numpy() - origin)
    keys = pair_key(staff.officer_row[checked], log.day[checked] - origin)
    positions = checked[is_member(keys, absent_keys)]
    detail = (
        "officer "
        + log.text("officer_id", positions)
        + " is listed as absent on "
        + log.dates(positions)
        + " (staff.absent_dates)"
    )
    return positions, detail


def _weekday(day: np.ndarray) -> np.ndarray:
    """Weekday of day numbers, 0 = Monday (1970-01-01, day 0, was a Thursday)."""
    return (day + 3) % 7


def _off_working_day(log: _VisitLog, staff: _StaffFacts) -> tuple[np.ndarray, pd.Series]:
    checked = np.flatnonzero(staff.known)
    weekday = _weekday(log.day[checked])
    mask = staff.officers["weekday_mask"].to_numpy()[staff.officer_row[checked]]
    off = (np.right_shift(mask, weekday) & 1) == 0
    positions = checked[off]
    names = np.asarray(_WEEKDAY_NAMES)[weekday[off]]
    working = staff.working_days.take(staff.officer_row[positions]).reset_index(drop=True)
    detail = (
        "officer "
        + log.text("officer_id", positions)
        + " works "
        + working
        + "; the visit on "
        + log.dates(positions)
        + " is a "
        + pd.Series(names, dtype="str")
    )
    return positions, detail


def _branch_not_covered(log: _VisitLog, staff: _StaffFacts) -> tuple[np.ndarray, pd.Series]:
    checked = np.flatnonzero(staff.known & (log.branch >= 0))
    allowed = pair_key(staff.coverage_row, np.maximum(staff.coverage_branch, 0))
    allowed = allowed[staff.coverage_branch >= 0]
    keys = pair_key(staff.officer_row[checked], log.branch[checked])
    positions = checked[~is_member(keys, allowed)]
    officer_row = staff.officer_row[positions]
    detail = (
        "officer "
        + log.text("officer_id", positions)
        + " (home branch "
        + staff.officers["home"].take(officer_row).reset_index(drop=True).astype("str")
        + ", covers "
        + staff.covers_text.take(officer_row).reset_index(drop=True)
        + ") visited a customer of branch "
        + log.text("branch_id", positions)
    )
    return positions, detail


def _met_and_not_found(log: _VisitLog) -> tuple[np.ndarray, pd.Series]:
    checked = np.flatnonzero(log.has_outcome & (log.customer >= 0))
    outcome = log.outcome.take(checked)
    met = outcome.isin(CONTACT_OUTCOMES).to_numpy()
    not_found = (outcome == "not_found").to_numpy()
    day = log.day[checked]
    group, _ = group_codes(pair_key(log.customer[checked], day - day.min(initial=0)))
    n_met = np.bincount(group, weights=met)[group]
    n_not_found = np.bincount(group, weights=not_found)[group]
    conflict = (met | not_found) & (n_met > 0) & (n_not_found > 0)
    positions = checked[conflict]
    detail = (
        "customer "
        + log.text("customer_id", positions)
        + " on "
        + log.dates(positions)
        + ": "
        + pd.Series(n_met[conflict].astype(np.int64), dtype="str")
        + " record(s) say the customer was met ("
        + ", ".join(CONTACT_OUTCOMES)
        + ") and "
        + pd.Series(n_not_found[conflict].astype(np.int64), dtype="str")
        + " say not_found; this one says "
        + log.text("outcome", positions)
    )
    return positions, detail


# --------------------------------------------------------------------------------------
# The result
# --------------------------------------------------------------------------------------
def _assemble(log: _VisitLog, flags: list[tuple[str, np.ndarray, pd.Series]]) -> pd.DataFrame:
    positions = np.concatenate([rows for _, rows, _ in flags] or [np.zeros(0, dtype=np.int64)])
    rank = np.concatenate(
        [np.full(len(rows), AUDIT_REASONS.index(reason)) for reason, rows, _ in flags]
        or [np.zeros(0, dtype=np.int64)]
    ).astype(np.int64)
    details = [detail.astype("str") for _, _, detail in flags if len(detail)]
    detail = (
        pd.concat(details, ignore_index=True) if details else pd.Series([], dtype="str")
    ).to_numpy(dtype=object)
    order = np.lexsort((rank, positions))
    positions, rank, detail = positions[order], rank[order], detail[order]
    source = log.rows[positions]
    visits = log.visits
    frame = pd.DataFrame(
        {
            "visit_index": visits.index.to_numpy()[source],
            "customer_id": log.customer_id.take(positions).to_numpy(),
            "branch_id": log.branch_id.take(positions).to_numpy(),
            "officer_id": log.officer_id.take(positions).to_numpy(),
            "visit_date": visits["visit_date"].take(source).to_numpy(),
            "outcome": log.outcome.take(positions).to_numpy(),
            "reason": np.asarray(AUDIT_REASONS, dtype=object)[rank],
            "detail": detail,
        }
    )
    text = ["customer_id", "branch_id", "officer_id", "outcome", "reason", "detail"]
    return frame.astype(dict.fromkeys(text, "str")).astype({"visit_index": np.int64})
