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

import base64
import datetime as dt
import hashlib
import io
import json
import numbers
import os
import re
import secrets
import zipfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from visitrisk.contract import PROBLEM_COLUMNS, DataError

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

#: Columns of ``visit_plan.csv``, in file order (DATA_CONTRACT.md, "Outputs of a plan").
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
#: Optional columns exported after the contract columns when present, in this order.
OPTIONAL_COLUMNS: tuple[str, ...] = ("township", "village", "name", "national_id", "phone")
PERSONAL_DATA_COLUMNS: tuple[str, ...] = ("name", "national_id", "phone")
LANGUAGES: tuple[str, ...] = ("en", "zh")
FORMATS: tuple[str, ...] = ("csv", "xlsx", "html")
ARMS: tuple[str, ...] = ("visit", "holdout")

# Display order for people: who, when, whom, then why; identifiers nobody reads go last.
_PLAN_DISPLAY = (
    "branch_id", "officer_id", "visit_date", "stop_order", "customer_id", "name", "township",
    "village", "arm", "rank", "days_past_due", "arrears", "value_at_stake", "p_cure_visit",
    "p_cure_no_visit", "uplift", "expected_gain", "assignment_probability", "reason_1",
    "reason_2", "reason_3", "phone", "national_id",
)  # fmt: skip
_EXCLUSION_DISPLAY = (
    "branch_id", "customer_id", "name", "township", "village", "reason", "detail", "phone",
    "national_id",
)  # fmt: skip

# How each column is typed, formatted and sorted; anything not listed is text.
_KIND: dict[str, str] = {
    "visit_date": "date",
    "stop_order": "int",
    "rank": "int",
    "days_past_due": "int",
    "assignment_probability": "pct",
    "p_cure_visit": "pct",
    "p_cure_no_visit": "pct",
    "uplift": "pct",
    "value_at_stake": "money",
    "expected_gain": "money",
    "arrears": "money",
}

# Rule code and wording of a type problem, per kind of column.
_EXPECTED = {
    "date": ("not_date", "an ISO date (YYYY-MM-DD)"),
    "int": ("not_whole_number", "a whole number"),
    "pct": ("not_number", "a number (a probability)"),
    "money": ("not_number", "a number (an amount)"),
}

# A spreadsheet reads a cell as a formula when it starts with one of these (OWASP CSV
# injection list, plus the full-width forms a Chinese input method produces).
# Whitespace is listed (not \\s) and characters are literal (not \\u escapes) so that
# pandas runs these patterns in pyarrow's RE2 rather than Python's re, row by row.
_FORMULA_START = "^(?:[=+\\-@\t\r\n＝＋－＠]|[ \t\r\n\x0b\x0c\u00a0\u3000]+[=+\\-@＝＋－＠])"
# Characters an East Asian font draws twice as wide (Hangul, CJK, full-width forms).
_WIDE = (
    "[\u1100-\u115f\u2e80-\ua4cf\uac00-\ud7a3\uf900-\ufaff\ufe30-\ufe4f\uff00-\uff60\uffe0-\uffe6]"
)
# Characters XML 1.0 (hence xlsx) cannot hold; openpyxl refuses them.
_XML_ILLEGAL = r"[\x00-\x08\x0b\x0c\x0e-\x1f]"
_EXCEL_ERRORS = ("#NULL!", "#DIV/0!", "#VALUE!", "#REF!", "#NAME?", "#NUM!", "#N/A")
_EXCEL_MAX_TEXT = 32_767  # characters in one cell
_EXCEL_MAX_ROWS = 1_048_575  # data rows under the header row
_SHEET_FORBIDDEN = re.compile(r"[\[\]:*?/\\]")
# The zip entries and document properties of the workbook get this fixed time so that the
# same plan gives the same bytes.
_FIXED_TIME = dt.datetime(2000, 1, 1)
_NAME_SEPARATOR = r"\s·・.\-"

# Message catalogue: every label people read, per language. ``{name}`` placeholders are
# filled with str.format; both languages must have the same keys and placeholders.
MESSAGES: dict[str, dict[str, str]] = {
    "en": {
        "title": "Visit plan",
        "col.plan_id": "Plan",
        "col.branch_id": "Branch",
        "col.officer_id": "Officer",
        "col.visit_date": "Visit date",
        "col.stop_order": "Stop",
        "col.customer_id": "Customer",
        "col.rank": "Rank in branch",
        "col.arm": "Arm",
        "col.assignment_probability": "P(assigned to visit)",
        "col.p_cure_visit": "P(cure | visit)",
        "col.p_cure_no_visit": "P(cure | no visit)",
        "col.uplift": "Uplift",
        "col.value_at_stake": "Value at stake",
        "col.expected_gain": "Expected gain",
        "col.days_past_due": "Days past due",
        "col.arrears": "Arrears",
        "col.reason_1": "Reason 1",
        "col.reason_2": "Reason 2",
        "col.reason_3": "Reason 3",
        "col.township": "Township",
        "col.village": "Village",
        "col.name": "Name",
        "col.national_id": "National ID",
        "col.phone": "Phone",
        "col.reason": "Why not planned",
        "col.detail": "Detail",
        "arm.visit": "Visit",
        "arm.holdout": "Holdout (not visited)",
        "reason.do_not_visit": "Do not visit (customer or regulator request)",
        "reason.cooldown": "Visited recently (cool-down)",
        "reason.non_positive_gain": "A visit is not expected to help",
        "reason.below_min_gain": "Expected gain below the minimum",
        "reason.no_capacity": "No visit slot left",
        "reason.no_staff": "No officer covers the branch",
        "summary.heading": "Summary",
        "summary.lead": (
            "{visits} visits planned from {start} to {end}; {holdout} customers held out at"
            " random; {excluded} delinquent customers not planned."
        ),
        "summary.plan_id": "Plan",
        "summary.period": "Visit dates",
        "summary.visits_planned": "Visits planned",
        "summary.expected_incremental_cures": "Expected incremental cures",
        "summary.expected_incremental_cures.help": (
            "Customers expected to cure because they are visited, beyond those who would"
            " cure anyway."
        ),
        "summary.expected_gain": "Expected gain",
        "summary.expected_gain.help": "Uplift × value at stake − visit cost, summed over visits.",
        "summary.capacity_used": "Capacity used",
        "summary.capacity_used.help": "Share of the officers' visit slots that the plan fills.",
        "summary.capacity": "Visit slots available",
        "summary.holdout_size": "Holdout size",
        "summary.holdout_size.help": (
            "Customers who would have been visited, withheld at random so that the effect of"
            " visits can be measured."
        ),
        "summary.holdout_share": "Holdout share",
        "summary.expected_cures_given_up": "Expected cures given up for the measurement",
        "summary.expected_cures_given_up.help": (
            "Expected cures of the holdout customers, had they been visited."
        ),
        "summary.expected_cures_given_up_net_of_refill": "… after refilling the freed slots",
        "summary.expected_cures_given_up_net_of_refill.help": (
            "The same, less the expected cures of the customers visited in their place."
        ),
        "summary.km_per_officer_day": "Estimated km per officer-day",
        "summary.km_total": "Estimated km in total",
        "summary.customers_excluded": "Delinquent customers not planned",
        "summary.exclusions_by_reason": "Not planned, by reason",
        "summary.details": "Plan details",
        "summary.customers": "Customers scored",
        "summary.eligible": "Customers eligible for a visit",
        "summary.officers": "Officers on staff",
        "summary.crew_days": "Officer-days (or team-days) available",
        "summary.team_size": "Officers per visit",
        "summary.must_visit_served": "Must-visit customers planned",
        "summary.must_visit_eligible": "Must-visit customers eligible",
        "summary.refill_visits": "Visits filling slots freed by the holdout",
        "summary.holdout_share_target": "Holdout share asked for",
        "summary.days": "Days planned",
        "summary.method": "Optimiser",
        "summary.seed": "Random seed",
        "summary.count": "Customers",
        "summary.masked": "Names, ID numbers and phone numbers are masked.",
        "summary.unmasked": (
            "Warning: this file holds unmasked personal data. Keep it inside the bank and"
            " delete it when the visits are done."
        ),
        "unit.km": "km",
        "sheet.summary": "Summary",
        "sheet.exclusions": "Not planned",
        "ui.plan": "Visits",
        "ui.exclusions": "Customers not planned",
        "ui.all": "All",
        "ui.blank": "(blank)",
        "ui.reset": "Reset filters",
        "ui.sort_hint": "Click a column header to sort; click again to reverse.",
        "ui.showing": "Showing {shown} of {matching} matching rows ({total} in total).",
        "ui.no_rows": "No rows match the filters.",
        "ui.noscript": "The tables of this report need JavaScript.",
    },
    "zh": {
        "title": "上门走访计划",
        "col.plan_id": "计划编号",
        "col.branch_id": "网点",
        "col.officer_id": "客户经理",
        "col.visit_date": "走访日期",
        "col.stop_order": "当日顺序",
        "col.customer_id": "客户编号",
        "col.rank": "网点内排名",
        "col.arm": "分组",
        "col.assignment_probability": "分入走访组的概率",
        "col.p_cure_visit": "走访后恢复正常的概率",
        "col.p_cure_no_visit": "不走访恢复正常的概率",
        "col.uplift": "走访带来的概率提升",
        "col.value_at_stake": "涉及金额",
        "col.expected_gain": "预期收益",
        "col.days_past_due": "逾期天数",
        "col.arrears": "逾期金额",
        "col.reason_1": "原因一",
        "col.reason_2": "原因二",
        "col.reason_3": "原因三",
        "col.township": "乡镇",
        "col.village": "村",
        "col.name": "姓名",
        "col.national_id": "身份证号",
        "col.phone": "电话",
        "col.reason": "未安排原因",
        "col.detail": "说明",
        "arm.visit": "走访",
        "arm.holdout": "对照组（不走访）",
        "reason.do_not_visit": "不上门名单（客户或监管要求）",
        "reason.cooldown": "近期已走访（冷却期内）",
        "reason.non_positive_gain": "走访预计无帮助",
        "reason.below_min_gain": "预期收益低于下限",
        "reason.no_capacity": "走访名额已满",
        "reason.no_staff": "没有客户经理负责该网点",
        "summary.heading": "概要",
        "summary.lead": (
            "{start} 至 {end} 共安排走访 {visits} 次；随机留出对照组客户 {holdout} 位；"
            "另有 {excluded} 位逾期客户未安排走访。"
        ),
        "summary.plan_id": "计划编号",
        "summary.period": "走访日期",
        "summary.visits_planned": "安排走访次数",
        "summary.expected_incremental_cures": "预计因走访而恢复正常的客户数",
        "summary.expected_incremental_cures.help": (
            "因为上门走访才恢复正常的客户，不含本来就会恢复的客户。"
        ),
        "summary.expected_gain": "预期收益",
        "summary.expected_gain.help": "各次走访的（概率提升 × 涉及金额 − 走访成本）之和。",
        "summary.capacity_used": "走访名额使用率",
        "summary.capacity_used.help": "计划占用的客户经理走访名额比例。",
        "summary.capacity": "可用走访名额",
        "summary.holdout_size": "对照组人数",
        "summary.holdout_size.help": "本应走访、但随机留出不走访的客户，用于衡量走访的实际效果。",
        "summary.holdout_share": "对照组比例",
        "summary.expected_cures_given_up": "为衡量效果而放弃的预计恢复客户数",
        "summary.expected_cures_given_up.help": "对照组客户若被走访，预计会恢复正常的人数。",
        "summary.expected_cures_given_up_net_of_refill": "……扣除补位走访后",
        "summary.expected_cures_given_up_net_of_refill.help": (
            "同上，减去替补走访客户预计恢复正常的人数。"
        ),
        "summary.km_per_officer_day": "每位客户经理每天预计行程",
        "summary.km_total": "预计总行程",
        "summary.customers_excluded": "未安排走访的逾期客户",
        "summary.exclusions_by_reason": "未安排原因统计",
        "summary.details": "计划参数",
        "summary.customers": "已评分客户",
        "summary.eligible": "符合走访条件的客户",
        "summary.officers": "在岗客户经理",
        "summary.crew_days": "可用的人天（或小组天）",
        "summary.team_size": "每次走访人数",
        "summary.must_visit_served": "已安排的必访客户",
        "summary.must_visit_eligible": "符合条件的必访客户",
        "summary.refill_visits": "替补对照组空出名额的走访",
        "summary.holdout_share_target": "设定的对照组比例",
        "summary.days": "计划天数",
        "summary.method": "优化方法",
        "summary.seed": "随机种子",
        "summary.count": "客户数",
        "summary.masked": "姓名、身份证号和电话已脱敏。",
        "summary.unmasked": "注意：本文件含未脱敏的个人信息，仅限行内使用，走访结束后请删除。",
        "unit.km": "公里",
        "sheet.summary": "概要",
        "sheet.exclusions": "未安排客户",
        "ui.plan": "走访名单",
        "ui.exclusions": "未安排走访的客户",
        "ui.all": "全部",
        "ui.blank": "（空）",
        "ui.reset": "重置筛选",
        "ui.sort_hint": "点击列标题排序，再次点击倒序。",
        "ui.showing": "显示 {shown} 行，共 {matching} 行符合筛选（全部 {total} 行）。",
        "ui.no_rows": "没有符合筛选条件的记录。",
        "ui.noscript": "本报告的表格需要启用 JavaScript。",
    },
}


# --------------------------------------------------------------------------- validation


def _problem(table: str, column: str, rule: str, ids: pd.Series, message: str) -> dict:
    examples = ", ".join(repr(value) for value in ids.astype(str).head(5))
    return {
        "table": table,
        "column": column,
        "rule": rule,
        "count": len(ids),
        "examples": examples,
        "message": f"{message} ({len(ids)} row(s), e.g. customer_id {examples}).",
    }


def _typed(frame: Any, table: str, columns: tuple[str, ...]) -> pd.DataFrame:
    """Return the exported columns of ``frame``, typed, or raise DataError listing problems."""
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"The '{table}' argument must be a pandas DataFrame. Got {frame!r}.")
    missing = [name for name in columns if name not in frame.columns]
    if missing:
        problems = [
            {
                "table": table,
                "column": name,
                "rule": "missing_column",
                "count": len(frame),
                "examples": "",
                "message": f"{table} has no column {name!r}, which the data contract requires.",
            }
            for name in missing
        ]
        raise DataError(pd.DataFrame(problems, columns=list(PROBLEM_COLUMNS)))
    keep = list(columns) + [name for name in OPTIONAL_COLUMNS if name in frame.columns]
    out = frame.loc[:, keep].reset_index(drop=True)
    ids = out["customer_id"]
    problems = []
    for name in keep:
        values, kind = out[name], _KIND.get(name, "text")
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
    if problems:
        raise DataError(pd.DataFrame(problems, columns=list(PROBLEM_COLUMNS)))
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
    hostile = values.str.contains(_FORMULA_START, regex=True, na=False)
    return values.where(~hostile, "'" + values)


# ------------------------------------------------------------------------- atomic files


def _write_atomic(path: Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` through a temporary file in the same folder."""
    path = Path(path)
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    # O_EXCL: never reuse someone else's file; mode 0o666 lets the umask decide, as open() does.
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return path


# ---------------------------------------------------------------------------------- CSV


def _csv_bytes(frame: pd.DataFrame) -> bytes:
    out = frame.copy()
    for name in out.columns:
        if _KIND.get(name, "text") == "text":
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
        "plan_csv": _write_atomic(folder / "visit_plan.csv", _csv_bytes(plan)),
        "exclusions_csv": _write_atomic(folder / "exclusions.csv", _csv_bytes(exclusions)),
    }


# ------------------------------------------------------------------------ shared labels


def _text(lang: str, key: str, **values: Any) -> str:
    return MESSAGES[lang][key].format(**values) if values else MESSAGES[lang][key]


def _code_label(lang: str, prefix: str, codes: pd.Series) -> pd.Series:
    """Translate codes (arms, reasons); a code without a translation is shown as it is."""
    catalogue = MESSAGES[lang]
    labels = {code: catalogue[f"{prefix}.{code}"] for code in codes.dropna().unique()
              if f"{prefix}.{code}" in catalogue}  # fmt: skip
    return codes.map(labels).fillna(codes).astype("str")


def _for_people(frame: pd.DataFrame, order: tuple[str, ...], lang: str) -> pd.DataFrame:
    """Columns in display order, codes translated."""
    out = frame.loc[:, [name for name in order if name in frame.columns]]
    if "arm" in out.columns:
        out["arm"] = _code_label(lang, "arm", out["arm"])
    if "reason" in out.columns:
        out["reason"] = _code_label(lang, "reason", out["reason"])
    return out


# Where each headline figure may come from in the planner's summary, first key first.
_SUMMARY_SOURCES: dict[str, tuple[str, ...]] = {
    "visits_planned": ("visits_planned", "visits"),
    "capacity": ("capacity", "capacity_visits"),
    "km_per_officer_day": ("km_per_officer_day", "km_per_crew_day"),
}
# Secondary figures shown under "Plan details" when the summary has them, with their kind.
_SUMMARY_DETAILS: dict[str, str] = {
    "customers": "int",
    "eligible": "int",
    "officers": "int",
    "crew_days": "int",
    "team_size": "int",
    "must_visit_served": "int",
    "must_visit_eligible": "int",
    "refill_visits": "int",
    "holdout_share_target": "pct",
    "days": "int",
    "method": "text",
    "seed": "text",
}


def _summary_items(
    plan: pd.DataFrame, exclusions: pd.DataFrame, summary: Mapping[str, Any]
) -> tuple[list[tuple[str, Any, str]], pd.Series, list[tuple[str, Any, str]]]:
    """Headline figures and details ``(key, value, kind)``, and exclusions per reason.

    A figure the summary lacks is computed from the rows when it can be, else left out.
    Summary keys the catalogue does not know are kept as details under their own name.
    """
    used = {"start", "end", "exclusions_by_reason"}

    def given(key: str, default: Any = None) -> Any:
        for source in _SUMMARY_SOURCES.get(key, (key,)):
            used.add(source)
            if summary.get(source) is not None:
                return summary[source]
        return default

    visits = plan["arm"] == "visit"
    planned = int(given("visits_planned", visits.sum()))
    holdout = int(given("holdout_size", (plan["arm"] == "holdout").sum()))
    capacity = given("capacity")
    capacity_used = given("capacity_used", planned / capacity if capacity else None)
    dates = plan["visit_date"].dropna()
    period = (dates.min(), dates.max()) if len(dates) else None
    if summary.get("start") and summary.get("end"):
        period = (pd.Timestamp(summary["start"]), pd.Timestamp(summary["end"]))
    plan_ids = " ".join(sorted(plan["plan_id"].dropna().unique()))
    cures = plan.loc[visits, "uplift"].sum()
    gain = plan.loc[visits, "expected_gain"].sum()
    share = holdout / (holdout + planned) if holdout + planned else None
    items: list[tuple[str, Any, str]] = [
        ("plan_id", str(given("plan_id", plan_ids)), "text"),
        ("period", period, "period"),
        ("visits_planned", planned, "int"),
        ("expected_incremental_cures", given("expected_incremental_cures", cures), "float"),
        ("expected_gain", given("expected_gain", gain), "money"),
        ("capacity_used", capacity_used, "pct"),
        ("capacity", capacity, "int"),
        ("holdout_size", holdout, "int"),
        ("holdout_share", given("holdout_share", share), "pct"),
        ("expected_cures_given_up", given("expected_cures_given_up"), "float"),
        (
            "expected_cures_given_up_net_of_refill",
            given("expected_cures_given_up_net_of_refill"),
            "float",
        ),
        ("km_per_officer_day", given("km_per_officer_day"), "km"),
        ("km_total", given("km_total"), "km"),
        ("customers_excluded", len(exclusions), "int"),
    ]
    details = [(key, given(key), kind) for key, kind in _SUMMARY_DETAILS.items()]
    details += [(str(key), summary[key], "raw") for key in sorted(summary, key=str)
                if key not in used]  # fmt: skip
    # Counted from the table itself, so the summary can never disagree with the rows.
    by_reason = exclusions["reason"].value_counts(sort=False).sort_index()
    by_reason = by_reason.sort_values(ascending=False, kind="stable")
    keep = [item for item in items if item[1] is not None]
    return keep, by_reason, [item for item in details if item[1] is not None]


def _label(lang: str, key: str) -> str:
    """Return the translated label of a summary figure, or an unknown key as it is."""
    return MESSAGES[lang].get(f"summary.{key}", key)


def _format_value(value: Any, kind: str, lang: str) -> str:
    if kind == "period":
        return " – ".join(day.strftime("%Y-%m-%d") for day in value)
    if kind == "int":
        return f"{int(value):,}"
    if kind == "float":
        return f"{float(value):,.1f}"
    if kind == "money":
        return f"{float(value):,.2f}"
    if kind == "pct":
        return f"{float(value):.1%}"
    if kind == "km":
        return f"{float(value):,.1f} {_text(lang, 'unit.km')}"
    if kind == "raw" and isinstance(value, float):
        return f"{value:,.4g}"
    if kind == "raw" and isinstance(value, Mapping | list | tuple):
        return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)
    return str(value)


# -------------------------------------------------------------------------------- Excel


def _sheet_names(labels: Iterable[str], taken: Iterable[str]) -> list[str]:
    r"""Excel-legal, unique sheet names for ``labels`` (31 characters, no []:*?/\)."""
    used = {name.casefold() for name in taken} | {"history"}  # Excel reserves "History"
    names = []
    for label in labels:
        base = _SHEET_FORBIDDEN.sub("_", re.sub(_XML_ILLEGAL, "", str(label)))
        base = base.strip("'")[:31].strip("'") or "_"
        name, counter = base, 1
        while name.casefold() in used:
            counter += 1
            suffix = f"~{counter}"
            name = base[: 31 - len(suffix)].rstrip("'") + suffix
        used.add(name.casefold())
        names.append(name)
    return names


def _display_width(values: pd.Series) -> int:
    """Widest value in Excel character units (a CJK character counts twice)."""
    if values.empty:
        return 0
    text = values.astype("str").fillna("")
    width = text.str.len() + text.str.count(_WIDE)
    return int(width.max())


_NUMBER_WIDTH = {"date": 11, "int": 8, "pct": 9, "money": 14}


def _excel_formats(currency: str) -> dict[str, str]:
    money = '"¥"#,##0.00' if currency == "CNY" else f'#,##0.00 "{currency.replace(chr(34), "")}"'
    return {"date": "yyyy-mm-dd", "pct": "0.0%", "money": money, "float": "#,##0.0", "int": "0"}


def _excel_columns(frame: pd.DataFrame) -> list[list[Any]]:
    """Each column as a list of Python values Excel accepts (None for missing)."""
    columns = []
    for name in frame.columns:
        values, kind = frame[name], _KIND.get(name, "text")
        if kind == "text":
            # XML turns a bare CR into LF on reading anyway; Excel breaks lines on LF.
            values = values.str.replace(r"\r\n?", "\n", regex=True)
            values = values.str.replace(_XML_ILLEGAL, "\ufffd", regex=True)
            values = values.str.slice(0, _EXCEL_MAX_TEXT)
        elif kind == "date":
            values = pd.Series(values.dt.date, dtype=object)
        values = values.astype(object)
        columns.append(values.where(values.notna(), None).tolist())
    return columns


def _fill_sheet(sheet: Any, frame: pd.DataFrame, lang: str, formats: dict[str, str]) -> None:
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font, PatternFill
    from openpyxl.utils import get_column_letter

    kinds = [_KIND.get(name, "text") for name in frame.columns]
    headers = [_text(lang, f"col.{name}") for name in frame.columns]
    for position, (name, kind, header) in enumerate(
        zip(frame.columns, kinds, headers, strict=True), 1
    ):
        values = frame[name] if kind == "text" else pd.Series([], dtype="str")
        width = max(_display_width(pd.Series([header])), _display_width(values),
                    _NUMBER_WIDTH.get(kind, 0))  # fmt: skip
        sheet.column_dimensions[get_column_letter(position)].width = min(width + 2, 60)
    sheet.freeze_panes = "A2"
    sheet.print_title_rows = "1:1"
    sheet.page_setup.orientation = "landscape"
    last = get_column_letter(max(len(headers), 1))
    sheet.auto_filter.ref = f"A1:{last}{len(frame) + 1}"

    bold, fill = Font(bold=True), PatternFill("solid", fgColor="DDE6F0")
    header_cells = []
    for header in headers:
        cell = WriteOnlyCell(sheet, value=header)
        cell.data_type = "s"
        cell.font, cell.fill = bold, fill
        header_cells.append(cell)
    sheet.append(header_cells)

    # Cells are objects only where needed (a number format, a forced string type): each
    # costs openpyxl far more than a plain value. One reusable cell per column suffices,
    # since openpyxl serialises a row as soon as it is appended.
    styled = [j for j, kind in enumerate(kinds) if kind in ("money", "pct", "date")]
    plain, forced, quoted = [], [], []
    for kind in kinds:
        cell = WriteOnlyCell(sheet)
        if kind in formats:
            cell.number_format = formats[kind]
        plain.append(cell)
        forced.append(WriteOnlyCell(sheet))
        hostile = WriteOnlyCell(sheet)
        hostile.quotePrefix = True  # Excel keeps it text even after the cell is edited
        quoted.append(hostile)
    columns = _excel_columns(frame)
    # Text openpyxl would store as a formula (leading "=") or an error value ("#N/A"), or
    # that a spreadsheet would run as a formula once edited.
    special = {}
    for j, kind in enumerate(kinds):
        if kind == "text":
            text = frame.iloc[:, j]
            formula = text.str.contains(_FORMULA_START, regex=True, na=False)
            error = text.isin(_EXCEL_ERRORS)
            special.update({(i, j): quoted[j] for i in np.flatnonzero(formula)})
            special.update({(i, j): forced[j] for i in np.flatnonzero(error & ~formula)})
    specials_by_row: dict[int, list[tuple[int, Any]]] = {}
    for (i, j), cell in special.items():
        specials_by_row.setdefault(i, []).append((j, cell))
    # openpyxl is row-oriented, so this loop over rows cannot be vectorised.
    for i, values in enumerate(zip(*columns, strict=True)):
        row: list[Any] = list(values)
        for j in styled:
            if values[j] is not None:
                plain[j].value = values[j]
                row[j] = plain[j]
        for j, cell in specials_by_row.get(i, ()):
            cell.value = values[j]
            cell.data_type = "s"  # never a formula, never an error value
            row[j] = cell
        sheet.append(row)


def _fill_summary(
    sheet: Any,
    plan: pd.DataFrame,
    exclusions: pd.DataFrame,
    summary: Mapping[str, Any],
    lang: str,
    formats: dict[str, str],
    masked: bool,
) -> None:
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Alignment, Font

    def text_cell(value: str, **style: Any) -> Any:
        cell = WriteOnlyCell(sheet, value=re.sub(_XML_ILLEGAL, "\ufffd", value))
        cell.data_type = "s"
        for attribute, setting in style.items():
            setattr(cell, attribute, setting)
        return cell

    bold, wrap = Font(bold=True), Alignment(wrap_text=True, vertical="top")
    sheet.column_dimensions["A"].width = 46
    sheet.column_dimensions["B"].width = 26
    sheet.column_dimensions["C"].width = 70

    def value_cell(value: Any, kind: str) -> Any:
        if kind in ("text", "period") or not isinstance(value, numbers.Real):
            return text_cell(_format_value(value, kind, lang))
        cell = WriteOnlyCell(sheet, value=value)
        cell.number_format = {"km": formats["float"], "raw": "General"}.get(kind) or formats[kind]
        return cell

    def label_cell(key: str, kind: str) -> Any:
        unit = f" ({_text(lang, 'unit.km')})" if kind == "km" else ""
        return text_cell(_label(lang, key) + unit, font=bold)

    items, by_reason, details = _summary_items(plan, exclusions, summary)
    sheet.append([text_cell(_text(lang, "title"), font=Font(bold=True, size=14))])
    notice = _text(lang, "summary.masked" if masked else "summary.unmasked")
    sheet.append(
        [text_cell(notice, font=Font(bold=not masked, color="000000" if masked else "C00000"))]
    )
    sheet.append([])
    for key, value, kind in items:
        help_text = MESSAGES[lang].get(f"summary.{key}.help", "")
        sheet.append(
            [label_cell(key, kind), value_cell(value, kind), text_cell(help_text, alignment=wrap)]
        )
    sheet.append([])
    sheet.append([text_cell(_text(lang, "summary.exclusions_by_reason"), font=bold),
                  text_cell(_text(lang, "summary.count"), font=bold)])  # fmt: skip
    labels = _code_label(lang, "reason", pd.Series(by_reason.index, dtype="str"))
    for label, count in zip(labels, by_reason.tolist(), strict=True):
        sheet.append([text_cell(label), int(count)])
    if details:
        sheet.append([])
        sheet.append([text_cell(_text(lang, "summary.details"), font=bold)])
        for key, value, kind in details:
            sheet.append([label_cell(key, kind), value_cell(value, kind)])


def _fixed_zip(data: bytes) -> bytes:
    """Rewrite a zip with fixed timestamps, so the same workbook gives the same bytes."""
    stamp = _FIXED_TIME.strftime("%Y-%m-%dT%H:%M:%SZ")
    source = zipfile.ZipFile(io.BytesIO(data))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as target:
        for entry in source.infolist():
            content = source.read(entry.filename)
            if entry.filename == "docProps/core.xml":
                content = re.sub(
                    rb"(<dcterms:(?:created|modified)[^>]*>)[^<]*",
                    rb"\g<1>" + stamp.encode(),
                    content,
                )
            info = zipfile.ZipInfo(entry.filename, date_time=_FIXED_TIME.timetuple()[:6])
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            target.writestr(info, content)
    return buffer.getvalue()


def _chunks(frame: pd.DataFrame) -> list[pd.DataFrame]:
    """Pieces that fit on one sheet (at least one, so an empty table still gets a sheet)."""
    starts = range(0, max(len(frame), 1), _EXCEL_MAX_ROWS)
    return [frame.iloc[start : start + _EXCEL_MAX_ROWS] for start in starts]


def _excel_bytes(
    plan: pd.DataFrame,
    exclusions: pd.DataFrame,
    summary: Mapping[str, Any],
    lang: str,
    currency: str,
    masked: bool,
) -> bytes:
    from openpyxl import Workbook

    formats = _excel_formats(currency)
    workbook = Workbook(write_only=True)
    workbook.properties.creator = "visitrisk"
    workbook.properties.created = _FIXED_TIME
    fixed = [_text(lang, "sheet.summary"), _text(lang, "sheet.exclusions")]
    _fill_summary(workbook.create_sheet(fixed[0]), plan, exclusions, summary, lang, formats, masked)

    # A branch named like a fixed sheet gets the suffix, not the fixed sheet.
    excluded = _for_people(exclusions, _EXCLUSION_DISPLAY, lang)
    excluded_parts = _chunks(excluded)
    excluded_names = _sheet_names([fixed[1]] * len(excluded_parts), fixed[:1])
    by_branch = _for_people(plan, _PLAN_DISPLAY, lang).groupby(
        plan["branch_id"].fillna(_text(lang, "ui.blank")), sort=True
    )
    branch_parts = [(label, part) for label, rows in by_branch for part in _chunks(rows)]
    branch_names = _sheet_names([label for label, _ in branch_parts], fixed + excluded_names)
    for name, rows in [
        *zip(branch_names, [part for _, part in branch_parts], strict=True),
        *zip(excluded_names, excluded_parts, strict=True),
    ]:
        _fill_sheet(workbook.create_sheet(name), rows.reset_index(drop=True), lang, formats)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return _fixed_zip(buffer.getvalue())


def write_excel(
    plan: pd.DataFrame,
    exclusions: pd.DataFrame,
    summary: Mapping[str, Any],
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
    (split over several sheets past Excel's 1,048,576 rows). Data sheets have a bold,
    frozen header row with an auto-filter, fitted column widths (CJK characters count
    double) and number formats: amounts ``"¥"#,##0.00`` (or the currency code), shares
    ``0.0%``, dates ``yyyy-mm-dd``. Text is written as string cells, never as a formula;
    text that looks like one is also quote-prefixed. Codes (arm, exclusion reason) and all
    labels are translated; ``reason_1``–``reason_3`` and ``detail`` are shown as given.

    Parameters
    ----------
    plan, exclusions : pandas.DataFrame
        The plan and its exclusions, with the contract columns.
    summary : mapping
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
    data = _excel_bytes(plan, exclusions, summary, lang, currency, mask_personal_data)
    return _write_atomic(Path(path), data)


# --------------------------------------------------------------------------------- HTML


def _table_payload(frame: pd.DataFrame, lang: str, filters: tuple[str, ...]) -> dict[str, Any]:
    # Free text wraps in the page; identifiers and codes never do.
    notes = ("reason_1", "reason_2", "reason_3", "detail")
    columns = [
        {
            "key": name,
            "label": _text(lang, f"col.{name}"),
            "kind": "note" if name in notes else _KIND.get(name, "text"),
        }
        for name in frame.columns
    ]
    cells = frame.copy()
    for name in cells.columns:
        if _KIND.get(name) == "date":
            cells[name] = cells[name].dt.strftime("%Y-%m-%d")
    values = cells.astype(object)
    rows = values.where(values.notna(), None).to_numpy().tolist()
    return {
        "columns": columns,
        "rows": rows,
        "filters": [list(frame.columns).index(name) for name in filters if name in frame.columns],
    }


def _html_text(
    plan: pd.DataFrame,
    exclusions: pd.DataFrame,
    summary: Mapping[str, Any],
    lang: str,
    currency: str,
    masked: bool,
) -> str:
    import jinja2
    from markupsafe import Markup

    environment = jinja2.Environment(
        loader=jinja2.PackageLoader("visitrisk", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
    )
    # tojson escapes < > & ' so the data cannot close its <script> block.
    environment.policies["json.dumps_kwargs"] = {
        "ensure_ascii": False,
        "sort_keys": True,
        "allow_nan": False,
    }
    script = (Path(__file__).parent / "templates" / "report.js").read_text(encoding="utf-8")
    style = (Path(__file__).parent / "templates" / "report.css").read_text(encoding="utf-8")

    def digest(source: str) -> str:
        return base64.b64encode(hashlib.sha256(source.encode("utf-8")).digest()).decode()

    items, by_reason, details = _summary_items(plan, exclusions, summary)
    figures = [
        {
            "label": _label(lang, key),
            "value": _format_value(value, kind, lang) + (f" {currency}" if kind == "money" else ""),
            "help": MESSAGES[lang].get(f"summary.{key}.help", ""),
        }
        for key, value, kind in items
    ]
    figure = {key: value for key, value, _ in items}
    period = figure.get("period")
    lead = _text(
        lang,
        "summary.lead",
        visits=f"{figure['visits_planned']:,}",
        start=period[0].strftime("%Y-%m-%d") if period else "–",
        end=period[1].strftime("%Y-%m-%d") if period else "–",
        holdout=f"{figure['holdout_size']:,}",
        excluded=f"{len(exclusions):,}",
    )
    reasons = [
        {"label": label, "count": f"{count:,}"}
        for label, count in zip(
            _code_label(lang, "reason", pd.Series(by_reason.index, dtype="str")),
            by_reason.tolist(),
            strict=True,
        )
    ]
    payload = {
        "lang": "zh-CN" if lang == "zh" else "en",
        "currency": currency,
        "text": {key[3:]: value for key, value in MESSAGES[lang].items() if key.startswith("ui.")},
        "tables": {
            "plan": _table_payload(
                _for_people(plan, _PLAN_DISPLAY, lang),
                lang,
                ("branch_id", "officer_id", "visit_date", "arm"),
            ),
            "exclusions": _table_payload(
                _for_people(exclusions, _EXCLUSION_DISPLAY, lang), lang, ("branch_id", "reason")
            ),
        },
    }
    template = environment.get_template("report.html.j2")
    return template.render(
        lang=payload["lang"],
        t=MESSAGES[lang],
        plan_id=items[0][1],
        lead=lead,
        figures=figures,
        reasons=reasons,
        details=[
            (_label(lang, key), _format_value(value, kind, lang)) for key, value, kind in details
        ],
        masked=masked,
        payload=payload,
        script=Markup(script),
        style=Markup(style),
        script_hash=digest(script),
        style_hash=digest(style),
    )


def write_html(
    plan: pd.DataFrame,
    exclusions: pd.DataFrame,
    summary: Mapping[str, Any],
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
    summary : mapping
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
    text = _html_text(plan, exclusions, summary, lang, currency, mask_personal_data)
    return _write_atomic(Path(path), text.encode("utf-8"))


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
    ``method``, ``seed``, and any other key under its own (untranslated) name. A ``None``
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
        written["plan_csv"] = _write_atomic(folder / "visit_plan.csv", _csv_bytes(plan))
        written["exclusions_csv"] = _write_atomic(folder / "exclusions.csv", _csv_bytes(exclusions))
    if "xlsx" in formats:
        data = _excel_bytes(plan, exclusions, summary, lang, currency, mask_personal_data)
        written["xlsx"] = _write_atomic(folder / "visit_plan.xlsx", data)
    if "html" in formats:
        text = _html_text(plan, exclusions, summary, lang, currency, mask_personal_data)
        written["html"] = _write_atomic(folder / "visit_plan.html", text.encode("utf-8"))
    return written
