"""What people read in the exports: column kinds and order, the en/zh catalogue, figures.

Shared by the Excel and HTML writers of :mod:`visitrisk.report`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import pandas as pd

__all__ = [
    "EXCLUSION_DISPLAY",
    "FORMULA_START",
    "KIND",
    "LANGUAGES",
    "MESSAGES",
    "PLAN_DISPLAY",
    "XML_ILLEGAL",
    "code_labels",
    "for_people",
    "format_value",
    "message",
    "summary_items",
    "summary_label",
]

LANGUAGES: tuple[str, ...] = ("en", "zh")

# Display order for people: who, when, whom, then why; identifiers nobody reads go last.
PLAN_DISPLAY = (
    "branch_id", "officer_id", "visit_date", "stop_order", "customer_id", "name", "township",
    "village", "arm", "rank", "days_past_due", "arrears", "value_at_stake", "p_cure_visit",
    "p_cure_no_visit", "uplift", "expected_gain", "assignment_probability", "reason_1",
    "reason_2", "reason_3", "phone", "national_id",
)  # fmt: skip
EXCLUSION_DISPLAY = (
    "branch_id", "customer_id", "name", "township", "village", "reason", "detail", "phone",
    "national_id",
)  # fmt: skip

# How each column is typed, formatted and sorted; anything not listed is text.
KIND: dict[str, str] = {
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

# A spreadsheet reads a cell as a formula when it starts with one of these (OWASP CSV
# injection list, plus the full-width forms a Chinese input method produces).
# Whitespace is listed (not \\s) and characters are literal (not \\u escapes) so that
# pandas runs these patterns in pyarrow's RE2 rather than Python's re, row by row.
FORMULA_START = "^(?:[=+\\-@\t\r\n＝＋－＠]|[ \t\r\n\x0b\x0c\u00a0\u3000]+[=+\\-@＝＋－＠])"
# Characters XML 1.0 (hence xlsx) cannot hold; openpyxl refuses them.
XML_ILLEGAL = r"[\x00-\x08\x0b\x0c\x0e-\x1f]"

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
        "summary.as_of": "Customers' state scored as of",
        "summary.treatment_window": "Days in which a visit counts (treatment window)",
        "summary.horizon": "Days in which a cure counts (cure horizon)",
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
        "summary.as_of": "客户状态评分基准日",
        "summary.treatment_window": "走访计入天数（处理窗口）",
        "summary.horizon": "还清计入天数（治愈观察期）",
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


def message(lang: str, key: str, **values: Any) -> str:
    return MESSAGES[lang][key].format(**values) if values else MESSAGES[lang][key]


def code_labels(lang: str, prefix: str, codes: pd.Series) -> pd.Series:
    """Translate codes (arms, reasons); a code without a translation is shown as it is."""
    catalogue = MESSAGES[lang]
    labels = {code: catalogue[f"{prefix}.{code}"] for code in codes.dropna().unique()
              if f"{prefix}.{code}" in catalogue}  # fmt: skip
    return codes.map(labels).fillna(codes).astype("str")


def for_people(frame: pd.DataFrame, order: tuple[str, ...], lang: str) -> pd.DataFrame:
    """Columns in display order, codes translated."""
    out = frame.loc[:, [name for name in order if name in frame.columns]]
    if "arm" in out.columns:
        out["arm"] = code_labels(lang, "arm", out["arm"])
    if "reason" in out.columns:
        out["reason"] = code_labels(lang, "reason", out["reason"])
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
    "as_of": "text",
    "treatment_window": "int",
    "horizon": "int",
}


def summary_items(
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


def summary_label(lang: str, key: str) -> str:
    """Return the translated label of a summary figure, or an unknown key as it is."""
    return MESSAGES[lang].get(f"summary.{key}", key)


def format_value(value: Any, kind: str, lang: str) -> str:
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
        return f"{float(value):,.1f} {message(lang, 'unit.km')}"
    if kind == "raw" and isinstance(value, float):
        return f"{value:,.4g}"
    if kind == "raw" and isinstance(value, Mapping | list | tuple):
        return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)
    return str(value)
