"""Read a visit plan back (a :class:`VisitPlan` or ``visit_plan.csv``) and check what it says.

Used by the stages that act on an earlier plan: the forward simulation, which carries it
out, and the measurement of its realised effect.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from visitrisk.contract import PROBLEM_COLUMNS, DataError

__all__ = ["ARMS", "checked_plan_frame"]

#: The arms of a plan: visited, or withheld at random.
ARMS: tuple[str, ...] = ("visit", "holdout")

#: Columns every consumer of a plan needs.
_BASE_COLUMNS: tuple[str, ...] = ("plan_id", "customer_id", "arm", "officer_id", "visit_date")


def _problem(column: str, rule: str, examples: Sequence[Any], count: int, text: str) -> dict:
    return {
        "table": "plan",
        "column": column,
        "rule": rule,
        "count": int(count),
        "examples": ", ".join(str(value) for value in list(examples)[:5]),
        "message": f"plan: {text}",
    }


def _text(values: pd.Series) -> pd.Series:
    """Return identifiers as ``str``, blanks as missing (CSV readers may parse numbers)."""
    text = values.astype("str")
    return text.where(values.notna() & (text.str.strip() != ""))


#: Columns parsed as numbers when a consumer asks for them.
_NUMERIC_COLUMNS = ("assignment_probability", "uplift", "value_at_stake", "expected_gain")


def checked_plan_frame(plan: Any, extra_columns: Sequence[str] = ()) -> pd.DataFrame:
    """Return the plan's rows, typed and checked.

    Parameters
    ----------
    plan : VisitPlan or pandas.DataFrame
        A plan from :func:`visitrisk.plan_visits`, or its ``visit_plan.csv`` read back.
    extra_columns : sequence of str
        Columns needed besides ``plan_id``, ``customer_id``, ``arm``, ``officer_id`` and
        ``visit_date``. Numeric ones are parsed as numbers; ``assignment_probability``
        must lie in ``(0, 1]``, and below 1 for a holdout customer.

    Returns
    -------
    pandas.DataFrame
        A copy with ids, ``arm`` and ``officer_id`` as ``str``, ``visit_date`` as
        datetime64 (NaT on holdout rows) and a fresh index.

    Raises
    ------
    DataError
        Missing columns, unknown arms, visit rows without a day or an officer, a customer
        listed twice, dates or probabilities that do not parse or are out of range; all
        problems at once.
    """
    frame = getattr(plan, "plan", plan)
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(
            f"The plan must be a VisitPlan or a pandas DataFrame (visit_plan.csv). "
            f"Got {type(plan).__name__} instead."
        )
    if frame.index.name == "customer_id" and "customer_id" not in frame.columns:
        frame = frame.reset_index()
    missing = [c for c in (*_BASE_COLUMNS, *extra_columns) if c not in frame.columns]
    if missing:
        rows = [
            _problem(column, "missing_column", [], len(frame), f"column {column!r} is missing.")
            for column in missing
        ]
        raise DataError(pd.DataFrame(rows, columns=list(PROBLEM_COLUMNS)))
    frame = frame.reset_index(drop=True).copy()
    for column in ("plan_id", "customer_id", "officer_id"):
        frame[column] = _text(frame[column])
    frame["arm"] = frame["arm"].astype("str").str.strip().str.lower()
    customer = frame["customer_id"]
    visit = frame["arm"] == "visit"
    dates = pd.to_datetime(frame["visit_date"], errors="coerce", format="mixed")
    written = frame["visit_date"].notna() & (frame["visit_date"].astype("str").str.strip() != "")
    unparsed = dates.isna() & written
    frame["visit_date"] = dates.dt.normalize()

    # (column, rule, offending rows, examples, sentence)
    checks: list[tuple[str, str, pd.Series, pd.Series, str]] = [
        ("customer_id", "null", customer.isna(), None, "rows have no customer_id."),
        ("plan_id", "null", frame["plan_id"].isna(), None, "rows have no plan_id."),
        (
            "arm",
            "unknown_arm",
            ~frame["arm"].isin(ARMS),
            frame["arm"],
            "arm must be 'visit' or 'holdout'.",
        ),
        (
            "customer_id",
            "not_unique",
            customer.duplicated(keep=False) & customer.notna(),
            customer,
            "a customer must appear once.",
        ),
        ("visit_date", "not_a_date", unparsed, customer, "visit_date must be a date (YYYY-MM-DD)."),
        (
            "visit_date",
            "null",
            visit & frame["visit_date"].isna() & ~unparsed,
            customer,
            "every visit row needs a visit_date.",
        ),
        (
            "officer_id",
            "null",
            visit & frame["officer_id"].isna(),
            customer,
            "every visit row needs an officer_id.",
        ),
    ]
    for column in extra_columns:
        if column in _NUMERIC_COLUMNS:
            values = pd.to_numeric(frame[column], errors="coerce")
            checks.append(
                (column, "not_a_number", values.isna(), customer, f"{column} must be a number.")
            )
            frame[column] = values
    if "assignment_probability" in extra_columns:
        probability = frame["assignment_probability"]
        checks.append(
            (
                "assignment_probability",
                "out_of_range",
                probability.notna() & ~((probability > 0) & (probability <= 1)),
                customer,
                "assignment_probability must lie in (0, 1].",
            )
        )
        checks.append(
            (
                "assignment_probability",
                "holdout_with_probability_1",
                (frame["arm"] == "holdout") & (probability >= 1),
                customer,
                "a holdout customer cannot have been assigned to a visit with probability 1.",
            )
        )
    problems = []
    for column, rule, bad, examples, sentence in checks:
        if bad.any():
            shown = (
                [f"row {row}" for row in np.flatnonzero(bad)]
                if examples is None
                else examples[bad].unique()
            )
            count = int(bad.sum())
            problems.append(_problem(column, rule, shown, count, f"{count} row(s): {sentence}"))
    if problems:
        raise DataError(pd.DataFrame(problems, columns=list(PROBLEM_COLUMNS)))
    return frame
