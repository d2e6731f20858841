"""Exports of a visit plan for risk officers: CSV, an Excel workbook and one HTML page.

Every writer takes the plan and the exclusions as plain DataFrames with the columns of
``shared/DATA_CONTRACT.md`` ("Outputs of a plan"), optionally with ``township``,
``village`` and the personal-data columns ``name``, ``national_id`` and ``phone``. Other
columns are not exported: the exports are allow-listed, so personal data hidden in an
unexpected column never leaves the bank by accident.

Guarantees shared by all formats:

- **Personal data masked** by default (:func:`mask_personal_columns`); unmasked only with
  ``mask_personal_data=False``, and then the Excel and HTML say so in a warning.
- **No formula injection.** CSV text cells that a spreadsheet could read as a formula get a
  leading ``'``; Excel text is written as string cells (quote-prefixed when hostile); the
  HTML is autoescaped, its data is JSON escaped for a ``<script>`` block, table cells are
  filled with ``textContent``, and a Content-Security-Policy allows only the page's own
  script (by hash) and no network access at all.
- **Atomic.** Each file is written to a temporary file in the same folder, then renamed
  over the target, so a crash never leaves a half-written file.
- **Reproducible.** The same input gives the same bytes (the workbook's zip timestamps and
  document dates are fixed).

The CSV files are the machine-readable contract: English column names and codes whatever
``lang`` is. The workbook and the HTML page are for people and are translated.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from visitrisk._atomic import write_atomic
from visitrisk._problems import MAX_EXAMPLES, problem, raise_problems, require_columns
from visitrisk._report_excel import excel_bytes
from visitrisk._report_html import html_page
from visitrisk._report_text import FORMULA_START, KIND, LANGUAGES
from visitrisk.planning import EXCLUSION_COLUMNS, PLAN_COLUMNS

__all__ = [
    "EXCLUSION_COLUMNS",
    "LANGUAGES",
    "PLAN_COLUMNS",
    "mask_personal_columns",
    "write_csv",
    "write_excel",
    "write_html",
    "write_reports",
]

#: Optional columns exported after the contract columns when present, in this order.
OPTIONAL_COLUMNS: tuple[str, ...] = ("township", "village", "name", "national_id", "phone")
FORMATS: tuple[str, ...] = ("csv", "xlsx", "html")
ARMS: tuple[str, ...] = ("visit", "holdout")

# Rule code and wording of a type problem, per kind of column.
_EXPECTED = {
    "date": ("not_date", "an ISO date (YYYY-MM-DD)"),
    "int": ("not_whole_number", "a whole number"),
    "pct": ("not_number", "a number (a probability)"),
    "money": ("not_number", "a number (an amount)"),
}

_NAME_SEPARATOR = r"\s·・.\-"


# --------------------------------------------------------------------------- validation


def _problem(table: str, column: str, rule: str, ids: pd.Series, message: str) -> dict:
    """Return a problem naming rows by their quoted customer_id, in the message too."""
    shown = [repr(value) for value in ids.astype(str).head(MAX_EXAMPLES)]
    message = f"{message} ({len(ids)} row(s), e.g. customer_id {', '.join(shown)})."
    return problem(table, column, rule, message, count=len(ids), examples=shown)


def _typed(frame: Any, table: str, columns: tuple[str, ...]) -> pd.DataFrame:
    """Return the exported columns of ``frame``, typed, or raise DataError listing problems."""
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"The '{table}' argument must be a pandas DataFrame. Got {frame!r}.")
    message = "{table} has no column {column!r}, which the data contract requires."
    require_columns(frame, table, columns, message, count=len(frame))
    keep = list(columns) + [name for name in OPTIONAL_COLUMNS if name in frame.columns]
    out = frame.loc[:, keep].reset_index(drop=True)
    ids = out["customer_id"]
    problems = []
    for name in keep:
        values, kind = out[name], KIND.get(name, "text")
        if kind == "text":
            if pd.api.types.is_numeric_dtype(values) and values.notna().any():
                problems.append(
                    _problem(
                        table, name, "not_text", ids[values.notna()],
                        f"{table}.{name} must be text, not numbers: read identifiers with "
                        "dtype=str, or leading zeros are lost",
                    )
                )  # fmt: skip
                continue
            out[name] = values.astype("str")
            continue
        if kind == "date":
            parsed = pd.to_datetime(values, errors="coerce", format="ISO8601")
            if parsed.dt.tz is not None:  # a visit date is a local calendar day
                parsed = parsed.dt.tz_localize(None)
            parsed = parsed.dt.normalize()
        else:
            parsed = pd.to_numeric(values, errors="coerce")
        bad = parsed.isna() & values.notna()
        if kind == "int":
            bad |= parsed.notna() & (parsed != np.floor(parsed))
        if bad.any():
            expected = _EXPECTED[kind]
            problems.append(
                _problem(
                    table, name, expected[0], ids[bad], f"{table}.{name} must be {expected[1]}"
                )
            )
            continue
        out[name] = parsed.astype("Int64") if kind == "int" else parsed
    if "arm" in out.columns and not problems:
        bad = ~out["arm"].isin(ARMS)
        if bad.any():
            problems.append(
                _problem(
                    table, "arm", "unknown_arm", ids[bad], f"{table}.arm must be one of {ARMS}"
                )
            )
    if "reason" in out.columns and not problems and out["reason"].isna().any():
        missing_reason = out["reason"].isna()
        problems.append(
            _problem(
                table, "reason", "missing_reason", ids[missing_reason],
                f"every row of {table} needs a reason",
            )
        )  # fmt: skip
    raise_problems(problems)
    return out


def _check_choice(function: str, parameter: str, value: Any, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ValueError(
            f"The {parameter!r} parameter of {function} must be one of "
            f"{', '.join(map(repr, allowed))}. Got {value!r} instead."
        )


def _prepare(
    plan: pd.DataFrame, exclusions: pd.DataFrame, mask_personal_data: bool
) -> tuple[pd.DataFrame, pd.DataFrame]:
    plan = _typed(plan, "plan", PLAN_COLUMNS)
    exclusions = _typed(exclusions, "exclusions", EXCLUSION_COLUMNS)
    if mask_personal_data:
        plan, exclusions = mask_personal_columns(plan), mask_personal_columns(exclusions)
    return plan, exclusions


# ------------------------------------------------------------------------------ masking


def _stars(values: pd.Series) -> pd.Series:
    return values.str.replace(r"(?s).", "*", regex=True)


def _keep_ends(values: pd.Series, head: int, tail: int, min_length: int) -> pd.Series:
    kept = (
        values.str.slice(0, head) + _stars(values.str.slice(head, -tail)) + values.str.slice(-tail)
    )
    return kept.where(values.str.len() >= min_length, _stars(values))


def _mask_name(values: pd.Series) -> pd.Series:
    word_char = f"[^{_NAME_SEPARATOR}]"
    masked = values.str.replace(f"(?<={word_char}){word_char}", "*", regex=True)
    # A one-character word would otherwise be shown whole.
    return masked.str.replace(f"(?<!{word_char}){word_char}(?!{word_char})", "*", regex=True)


def mask_personal_columns(frame: pd.DataFrame) -> pd.DataFrame:
    r"""Mask the personal-data columns of ``frame``; other columns are returned unchanged.

    Values are stripped of surrounding spaces, then masked character by character (so the
    length shows, as is usual on Chinese bank statements):

    - ``name``: each word keeps its first character, the rest become ``*``; a
      one-character word becomes ``*``. Words are separated by spaces, ``·``, ``・``,
      ``.`` or ``-``. 张三 → 张*, 欧阳娜娜 → 欧***, Li Wei → L* W**, 张 → \*.
    - ``national_id``: 12 characters or more keep the first 4 and last 4
      (330102199001011234 → 3301**********1234); shorter values become all ``*``.
    - ``phone``: 10 characters or more keep the first 3 and last 4
      (13812345678 → 138****5678); shorter values become all ``*``.

    Missing values stay missing and empty strings stay empty.

    Parameters
    ----------
    frame : pandas.DataFrame
        Any table; columns ``name``, ``national_id`` and ``phone`` are masked when present.

    Returns
    -------
    pandas.DataFrame
        A copy with the personal-data columns masked (``str`` dtype).

    Examples
    --------
    >>> import pandas as pd
    >>> people = pd.DataFrame({"name": ["张三"], "phone": ["13812345678"]})
    >>> mask_personal_columns(people).iloc[0].tolist()
    ['张*', '138****5678']
    """
    rules = {
        "name": _mask_name,
        "national_id": lambda values: _keep_ends(values, 4, 4, 12),
        "phone": lambda values: _keep_ends(values, 3, 4, 10),
    }
    out = frame.copy()
    for column, rule in rules.items():
        if column in out.columns:
            out[column] = rule(out[column].astype("str").str.strip())
    return out


def _neutralise_formulas(values: pd.Series) -> pd.Series:
    """Prefix text a spreadsheet would run as a formula with ``'`` (shown as text)."""
    hostile = values.str.contains(FORMULA_START, regex=True, na=False)
    return values.where(~hostile, "'" + values)


# ------------------------------------------------------------------------- atomic files


# ---------------------------------------------------------------------------------- CSV


def _csv_bytes(frame: pd.DataFrame) -> bytes:
    out = frame.copy()
    for name in out.columns:
        if KIND.get(name, "text") == "text":
            out[name] = _neutralise_formulas(out[name])
    # CRLF as RFC 4180 says; with a bare LF terminator pandas leaves a field holding a lone
    # CR unquoted, and readers then split the row there.
    text = out.to_csv(index=False, lineterminator="\r\n", date_format="%Y-%m-%d")
    return text.encode("utf-8-sig")


def write_csv(
    plan: pd.DataFrame,
    exclusions: pd.DataFrame,
    out_dir: str | os.PathLike,
    *,
    mask_personal_data: bool = True,
) -> dict[str, Path]:
    r"""Write ``visit_plan.csv`` and ``exclusions.csv`` (the data-contract files).

    Columns come in contract order (:data:`PLAN_COLUMNS`, :data:`EXCLUSION_COLUMNS`),
    followed by whichever of ``township``, ``village``, ``name``, ``national_id``,
    ``phone`` are present. Files are UTF-8 *with* a byte-order mark, because Excel on a
    Chinese Windows reads a CSV without one as GBK and garbles every Chinese character;
    pandas, Python's ``csv`` with ``encoding="utf-8-sig"`` and most tools skip the mark.
    Lines end in CRLF (RFC 4180), dates are ``YYYY-MM-DD``, numbers keep full precision, missing
    values are empty. Text starting with ``= + - @``, a tab or a line break gets a leading
    ``'`` so that no spreadsheet runs it as a formula; numeric columns are never changed.

    Parameters
    ----------
    plan, exclusions : pandas.DataFrame
        The plan and its exclusions, with the contract columns.
    out_dir : path
        Folder to write to; created when missing.
    mask_personal_data : bool, default True
        Mask names, ID numbers and phone numbers (:func:`mask_personal_columns`).

    Returns
    -------
    dict of str to pathlib.Path
        ``{"plan_csv": ..., "exclusions_csv": ...}``.

    Raises
    ------
    visitrisk.DataError
        A contract column is missing or holds values of the wrong type.
    """
    plan, exclusions = _prepare(plan, exclusions, mask_personal_data)
    folder = Path(out_dir)
    folder.mkdir(parents=True, exist_ok=True)
    return {
        "plan_csv": write_atomic(folder / "visit_plan.csv", _csv_bytes(plan)),
        "exclusions_csv": write_atomic(folder / "exclusions.csv", _csv_bytes(exclusions)),
    }


def write_excel(
    plan: pd.DataFrame,
    exclusions: pd.DataFrame,
    summary: Mapping[str, Any] | None,
    path: str | os.PathLike,
    *,
    lang: str = "en",
    mask_personal_data: bool = True,
    currency: str = "CNY",
) -> Path:
    r"""Write the plan as an Excel workbook for risk officers.

    Sheets: a summary (headline figures with explanations, exclusions counted by reason),
    one sheet per branch (sorted by ``branch_id``; sheet names made Excel-legal — at most
    31 characters, none of ``[]:*?/\`` — and unique), then the customers not planned
    (a sheet past Excel's 1,048,576 rows continues on ``name~2``). Data sheets have a bold,
    frozen header row with an auto-filter, fitted column widths (CJK characters count
    double) and number formats: amounts ``"¥"#,##0.00`` (or the currency code), shares
    ``0.0%``, dates ``yyyy-mm-dd``. Text is written as string cells, never as a formula;
    text that looks like one is also quote-prefixed. Codes (arm, exclusion reason) and all
    labels are translated; ``reason_1``–``reason_3`` and ``detail`` are shown as given.

    Parameters
    ----------
    plan, exclusions : pandas.DataFrame
        The plan and its exclusions, with the contract columns.
    summary : mapping or None
        Planner figures; see :func:`write_reports` for the keys used.
    path : path
        The ``.xlsx`` file to write (its folder must exist).
    lang : {"en", "zh"}, default "en"
        Language of every label.
    mask_personal_data : bool, default True
        Mask names, ID numbers and phone numbers (:func:`mask_personal_columns`).
    currency : str, default "CNY"
        Currency of the amounts.

    Returns
    -------
    pathlib.Path
        The file written.
    """
    _check_choice("write_excel", "lang", lang, LANGUAGES)
    plan, exclusions = _prepare(plan, exclusions, mask_personal_data)
    data = excel_bytes(plan, exclusions, dict(summary or {}), lang, currency, mask_personal_data)
    return write_atomic(Path(path), data)


def write_html(
    plan: pd.DataFrame,
    exclusions: pd.DataFrame,
    summary: Mapping[str, Any] | None,
    path: str | os.PathLike,
    *,
    lang: str = "en",
    mask_personal_data: bool = True,
    currency: str = "CNY",
) -> Path:
    """Write the plan as one self-contained HTML page.

    The page needs no network: CSS and vanilla JavaScript are inline and its
    Content-Security-Policy forbids every request. It shows a summary (expected incremental
    cures, capacity used, holdout size, exclusions by reason, ...) and two tables — visits
    and customers not planned — sortable by clicking a header and filterable with select
    boxes (branch, officer, date, arm; branch, reason). At most 1,000 rows are drawn at a
    time; the filters narrow the rest. Labels, codes and figures are in ``lang``; the font
    stack covers Chinese on Windows, macOS and Linux.

    Parameters
    ----------
    plan, exclusions : pandas.DataFrame
        The plan and its exclusions, with the contract columns.
    summary : mapping or None
        Planner figures; see :func:`write_reports` for the keys used.
    path : path
        The ``.html`` file to write (its folder must exist).
    lang : {"en", "zh"}, default "en"
        Language of every label.
    mask_personal_data : bool, default True
        Mask names, ID numbers and phone numbers (:func:`mask_personal_columns`).
    currency : str, default "CNY"
        Currency of the amounts.

    Returns
    -------
    pathlib.Path
        The file written.
    """
    _check_choice("write_html", "lang", lang, LANGUAGES)
    plan, exclusions = _prepare(plan, exclusions, mask_personal_data)
    text = html_page(plan, exclusions, dict(summary or {}), lang, currency, mask_personal_data)
    return write_atomic(Path(path), text.encode("utf-8"))


# ---------------------------------------------------------------------------------- all


def write_reports(
    plan: pd.DataFrame,
    exclusions: pd.DataFrame,
    summary: Mapping[str, Any] | None,
    out_dir: str | os.PathLike,
    *,
    lang: str = "en",
    formats: Iterable[str] = FORMATS,
    mask_personal_data: bool = True,
    currency: str = "CNY",
) -> dict[str, Path]:
    """Write every export of a visit plan into ``out_dir``.

    Files: ``visit_plan.csv`` and ``exclusions.csv`` (:func:`write_csv`),
    ``visit_plan.xlsx`` (:func:`write_excel`) and ``visit_plan.html``
    (:func:`write_html`). Each file is replaced atomically; the set as a whole is not (a
    crash between two files leaves the earlier ones new and the later ones old).

    Headline figures read from ``summary`` (the planner's ``VisitPlan.summary``; every
    key optional): ``plan_id``, ``start`` and ``end`` (ISO dates; default: the visit
    dates), ``visits_planned`` or ``visits`` (default: counted), ``expected_incremental_cures``
    (customers; default: the sum of ``uplift`` over visits), ``expected_gain`` (CNY;
    default: the sum over visits), ``capacity`` or ``capacity_visits`` (visit slots),
    ``capacity_used`` (share 0–1; default ``visits_planned / capacity``), ``holdout_size``
    (default: counted), ``holdout_share``, ``expected_cures_given_up`` and
    ``expected_cures_given_up_net_of_refill`` (customers), ``km_per_officer_day`` or
    ``km_per_crew_day`` and ``km_total`` (km). Listed under "plan details": ``customers``,
    ``eligible``, ``officers``, ``crew_days``, ``team_size``, ``must_visit_served``,
    ``must_visit_eligible``, ``refill_visits``, ``holdout_share_target``, ``days``,
    ``method``, ``seed``, ``as_of``, ``treatment_window`` and ``horizon`` (the run's
    scoring date and label windows), and any other key under its own (untranslated) name. A ``None``
    value is left out. Exclusions by reason are always counted from ``exclusions``, so
    the summary cannot disagree with the rows.

    Parameters
    ----------
    plan : pandas.DataFrame
        One row per visit or holdout customer, columns :data:`PLAN_COLUMNS` (plus
        optionally ``township``, ``village``, ``name``, ``national_id``, ``phone``).
    exclusions : pandas.DataFrame
        One row per delinquent customer not planned, columns :data:`EXCLUSION_COLUMNS`
        (same optional columns).
    summary : mapping or None
        The planner's summary figures.
    out_dir : path
        Folder to write to; created when missing.
    lang : {"en", "zh"}, default "en"
        Language of the workbook and the page (the CSV files stay in contract form).
    formats : iterable of {"csv", "xlsx", "html"}, default all three
        Which exports to write.
    mask_personal_data : bool, default True
        Mask names, ID numbers and phone numbers everywhere; ``False`` only for a
        bank-internal, access-controlled copy.
    currency : str, default "CNY"
        Currency of the amounts.

    Returns
    -------
    dict of str to pathlib.Path
        Files written, under keys ``plan_csv``, ``exclusions_csv``, ``xlsx``, ``html``.

    Raises
    ------
    ValueError
        ``lang`` or a format is unknown.
    visitrisk.DataError
        A contract column is missing or holds values of the wrong type.

    Examples
    --------
    >>> paths = write_reports(plan.plan, plan.exclusions, plan.summary, "out/", lang="zh")
    ... # doctest: +SKIP
    """
    _check_choice("write_reports", "lang", lang, LANGUAGES)
    formats = tuple(formats)
    for name in formats:
        _check_choice("write_reports", "formats", name, FORMATS)
    summary = dict(summary or {})
    plan, exclusions = _prepare(plan, exclusions, mask_personal_data)
    folder = Path(out_dir)
    folder.mkdir(parents=True, exist_ok=True)
    written: dict[str, Path] = {}
    if "csv" in formats:
        written["plan_csv"] = write_atomic(folder / "visit_plan.csv", _csv_bytes(plan))
        written["exclusions_csv"] = write_atomic(folder / "exclusions.csv", _csv_bytes(exclusions))
    if "xlsx" in formats:
        data = excel_bytes(plan, exclusions, summary, lang, currency, mask_personal_data)
        written["xlsx"] = write_atomic(folder / "visit_plan.xlsx", data)
    if "html" in formats:
        text = html_page(plan, exclusions, summary, lang, currency, mask_personal_data)
        written["html"] = write_atomic(folder / "visit_plan.html", text.encode("utf-8"))
    return written
