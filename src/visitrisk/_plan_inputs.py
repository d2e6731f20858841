"""Validation of the planner's inputs: the scores frame and the staff table.

Both are checked in full and every problem is raised at once as a
:class:`~visitrisk.contract.DataError` naming the table, the column and offending ids.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from visitrisk._problems import MAX_EXAMPLES, problem, raise_problems, require_columns
from visitrisk._tables import CONTRACT, WEEKDAYS, parse_iso_dates
from visitrisk.contract import _validated_staff

__all__ = ["REQUIRED_SCORE_COLUMNS", "prepare_scores", "prepare_staff", "staff_digest"]

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
_PLANNER_SCORE_COLUMNS = (
    "customer_id",
    "branch_id",
    *_NUMERIC_SCORE_COLUMNS,
    "do_not_visit",
    "last_visit_date",
    *_TEXT_SCORE_COLUMNS,
)
#: Resolution of ``last_visit_date`` once prepared (that of the contract's dates).
_DATE_DTYPE = "datetime64[us]"
_MISSING_COLUMN = "Table '{table}' has no column '{column}', which the planner needs."


def _distinct(ids: Any) -> list[str]:
    """Return the distinct ids, as text, in order of first appearance."""
    return [str(i) for i in pd.unique(pd.Series(list(ids), dtype=object))]


def _problem(table: str, column: str, rule: str, ids: Any, message: str) -> dict[str, object]:
    """Return a problem counted in distinct ids (officers, customers), not rows."""
    distinct = _distinct(ids)
    return problem(table, column, rule, message, count=len(distinct), examples=distinct)


def _examples(ids: Any) -> str:
    return ", ".join(_distinct(ids)[:MAX_EXAMPLES])


def prepare_scores(scores: pd.DataFrame) -> pd.DataFrame:
    """Validate ``scores``; return the planner's columns, typed, sorted by customer_id."""
    if not isinstance(scores, pd.DataFrame):
        raise TypeError(f"scores must be a pandas DataFrame. Got {type(scores).__name__}.")
    frame = scores.copy()
    if "customer_id" not in frame.columns:
        frame = frame.reset_index(names="customer_id")
    require_columns(frame, "scores", REQUIRED_SCORE_COLUMNS, _MISSING_COLUMN)

    problems: list[dict[str, object]] = []
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
        if parsed.dt.tz is not None:  # the local calendar day, as the contract keeps it
            parsed = parsed.dt.tz_localize(None)
        # One resolution whatever the input's: the plan id hashes these values.
        frame["last_visit_date"] = parsed.dt.normalize().astype(_DATE_DTYPE)
    else:
        frame["last_visit_date"] = pd.Series(pd.NaT, index=frame.index, dtype=_DATE_DTYPE)
    raise_problems(problems)
    for column in _TEXT_SCORE_COLUMNS:
        if column not in frame.columns:
            frame[column] = pd.Series(pd.NA, index=frame.index, dtype="str")
        else:
            frame[column] = frame[column].astype("str")
    # Only what the planner reads, in a fixed order: other columns of ``scores`` are ignored
    # and must not change the plan id.
    frame = frame[list(_PLANNER_SCORE_COLUMNS)]
    return frame.sort_values("customer_id", kind="stable").reset_index(drop=True)


def _split_tokens(column: pd.Series, owner: pd.Series) -> pd.DataFrame:
    """Explode a space-separated text column into (row, token) pairs."""
    tokens = column.fillna("").astype("str").str.split().explode()
    tokens = tokens[tokens.notna() & (tokens != "")]
    positions = tokens.index.to_numpy()
    return pd.DataFrame({"row": positions, "owner": owner.to_numpy()[positions], "token": tokens})


def prepare_staff(staff: pd.DataFrame, known_branches: pd.Index) -> dict[str, Any]:
    """Validate the staff table; return officers and their coverage and absences.

    The staff table is held to the contract's rules (:func:`~visitrisk.load_portfolio`),
    with the same messages; a :class:`~visitrisk.Portfolio`'s staff has passed them
    already and is not checked again. What the contract could not know is checked here:
    for a table that did not come with its portfolio, a covered branch must be in
    ``known_branches`` (the branches of ``scores``) or be an officer's home branch.
    """
    if not isinstance(staff, pd.DataFrame):
        raise TypeError(f"staff must be a pandas DataFrame. Got {type(staff).__name__}.")
    frame, branches_checked = _validated_staff(staff)
    officer_id = frame["officer_id"]
    home = frame["branch_id"]
    # The contract fills blank working days and writes weekdays in canonical case.
    day_tokens = _split_tokens(frame["working_days"], officer_id)
    day_index = day_tokens["token"].map({day: i for i, day in enumerate(WEEKDAYS)})
    cover_tokens = _split_tokens(frame["covers_branches"], officer_id)
    known = known_branches.union(pd.Index(home.unique()))
    unknown_cover = ~cover_tokens["token"].isin(known)
    if not branches_checked and unknown_cover.any():
        raise_problems(
            [
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
            ]
        )
    absent_tokens = _split_tokens(frame["absent_dates"], officer_id)
    absent_day = parse_iso_dates(absent_tokens["token"])

    weekdays = pd.DataFrame({"row": day_tokens["row"], "day": day_index.to_numpy(dtype=np.int64)})
    weekdays = weekdays.drop_duplicates()
    day_mask = pd.Series(np.left_shift(1, weekdays["day"].to_numpy()), index=weekdays["row"])
    day_mask = day_mask.groupby(level=0).sum()
    officers = pd.DataFrame(
        {
            "officer_id": officer_id,
            "home": home,
            "visits_per_day": frame["visits_per_day"],
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


def staff_digest(staff: pd.DataFrame) -> bytes:
    """Return a digest of the staff table's values, whatever their dtypes or row order.

    Taken on the contract columns as :func:`~visitrisk.load_portfolio` types them, so the
    same officers read from CSV text, from Parquet or from a portfolio give the same
    digest (blank and absent optional columns alike); extra columns do not count.
    """
    frame, _ = _validated_staff(staff)
    columns = [column.name for column in CONTRACT["staff"]]
    ordered = frame[columns].sort_values(columns, kind="stable", ignore_index=True)
    return pd.util.hash_pandas_object(ordered, index=False).to_numpy().tobytes()
