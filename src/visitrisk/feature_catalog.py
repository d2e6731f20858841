"""The feature registry: what every column of :func:`visitrisk.build_features` means.

Each feature has a name, a group, a unit, a description in English and in Chinese
(zh-CN), what a missing value (NaN) means, and a template in each language that phrases
the feature as a reason for a risk officer, filled with the customer's own value; a
categorical value is filled with its label (:func:`category_label`, Chinese labels in
:data:`CATEGORY_LABELS_ZH`). Every text a risk officer reads about a feature is here::

    >>> from visitrisk.feature_catalog import FEATURES
    >>> FEATURES["late_caught_up_12m"].reason_en.format(value=3)
    'Paid late but in full 3 times in the last 12 months'

Windows named ``…_Nm`` are calendar months ending on the as-of date, ``(as_of - N months,
as_of]``; windows named ``…_Nd`` are days, ``(as_of - N days, as_of]``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Literal

import pandas as pd

from visitrisk._tables import VISIT_OUTCOMES as CONTRACT_VISIT_OUTCOMES

__all__ = [
    "CATEGORY_LABELS_ZH",
    "FEATURES",
    "FEATURE_GROUPS",
    "UNITS",
    "Feature",
    "category_label",
    "feature_registry",
]

#: Feature groups, in the order columns appear in the feature frame.
FEATURE_GROUPS: tuple[str, ...] = ("state", "history", "payment", "schedule", "visits", "context")

#: Units a feature may have.
UNITS: tuple[str, ...] = (
    "days",
    "months",
    "CNY",
    "count",
    "ratio",
    "share",
    "installments",
    "km",
    "month",
    "category",
)


@dataclass(frozen=True)
class Feature:
    """One feature of the customer feature frame.

    Attributes
    ----------
    name : str
        Column name in the frame returned by :func:`visitrisk.build_features`.
    group : str
        One of :data:`FEATURE_GROUPS`.
    unit : str
        One of :data:`UNITS`; ``"category"`` columns have a fixed list of ``categories``.
    description_en, description_zh : str
        What the feature measures, in English and in Chinese.
    missing_en, missing_zh : str
        What a missing value means (empty when the feature is never missing).
    reason_en, reason_zh : str
        Templates phrasing the feature as a reason; ``{value}`` is the customer's value
        (``str.format`` syntax, e.g. ``{value:.0f}``).
    categories : tuple of str
        Fixed category list of a categorical feature (empty for numeric features), so that
        training and scoring frames agree.
    is_reason : bool
        Whether the feature may be given as a reason for a score. False for context that
        is the same for every customer scored on one day (the calendar month): it shapes
        the model but tells a risk officer nothing about the customer.
    """

    name: str
    group: str
    unit: str
    description_en: str
    description_zh: str
    reason_en: str
    reason_zh: str
    missing_en: str = ""
    missing_zh: str = ""
    categories: tuple[str, ...] = ()
    is_reason: bool = True


DPD_BUCKETS: tuple[str, ...] = ("0", "1-29", "30-59", "60-89", "90+")
ROLL_DIRECTIONS: tuple[str, ...] = ("back", "stable", "forward")
SEGMENTS: tuple[str, ...] = ("farmer", "cooperative", "small_business", "salaried", "other")
PRODUCTS: tuple[str, ...] = (
    "farm_operating",
    "farm_equipment",
    "consumer",
    "mortgage",
    "microbusiness",
    "other",
)
#: Categories of ``last_visit_outcome``: the contract's values of ``visits.outcome``.
VISIT_OUTCOMES: tuple[str, ...] = CONTRACT_VISIT_OUTCOMES

#: Chinese labels of the category values above (English shows the value, ``_`` as space).
CATEGORY_LABELS_ZH: dict[str, str] = {
    # products
    "farm_operating": "农业经营贷",
    "farm_equipment": "农机具贷",
    "consumer": "消费贷",
    "mortgage": "住房按揭",
    "microbusiness": "小微经营贷",
    # segments
    "farmer": "农户",
    "cooperative": "合作社",
    "small_business": "个体工商户",
    "salaried": "工薪",
    # visit outcomes
    "met": "见到本人",
    "promise_to_pay": "承诺还款",
    "paid_on_site": "现场还款",
    "restructure_requested": "申请重组",
    "refused": "拒绝",
    "not_found": "未见到本人",
    # roll direction of the delinquency bucket
    "back": "好转",
    "stable": "不变",
    "forward": "恶化",
    "other": "其他",
}


def category_label(value: object, lang: Literal["en", "zh"]) -> str:
    """Return the label a risk officer reads for a category value.

    Parameters
    ----------
    value : object
        A category of a categorical feature (``"small_business"``).
    lang : {"en", "zh"}
        Language: English spells the value with spaces (``"small business"``), Chinese
        uses :data:`CATEGORY_LABELS_ZH` (the English spelling for a value it lacks).

    Returns
    -------
    str
        The label.
    """
    text = str(value)
    if lang == "zh":
        return CATEGORY_LABELS_ZH.get(text, text.replace("_", " "))
    return text.replace("_", " ")


_NEVER_PAID = ("No payment received up to the as-of date.", "截至观察日从未收到还款。")
_NO_VISIT = ("Never visited up to the as-of date.", "截至观察日从未走访。")
_NOTHING_DUE = (
    "No installment with a positive amount fell due in the window.",
    "窗口内没有到期的应还款项。",
)

_FEATURES: tuple[Feature, ...] = (
    # --- state on the as-of date -------------------------------------------------------
    Feature(
        "days_past_due",
        "state",
        "days",
        "Days past due today: the maximum over the customer's loans (FIFO rule).",
        "当前逾期天数：客户各笔贷款按先到期先冲销规则计算的最大值。",
        "{value:.0f} days past due",
        "已逾期{value:.0f}天",
    ),
    Feature(
        "dpd_bucket",
        "state",
        "category",
        "Delinquency bucket of today's days past due: 0, 1-29, 30-59, 60-89 or 90+.",
        "当前逾期天数所在区间：0、1-29、30-59、60-89、90天以上。",
        "In the {value} days-past-due bucket",
        "处于逾期{value}天区间",
        categories=DPD_BUCKETS,
    ),
    Feature(
        "arrears",
        "state",
        "CNY",
        "Amount due so far and not paid (all loans).",
        "已到期未还金额（所有贷款合计）。",
        "Arrears of {value:,.0f} CNY",
        "拖欠金额{value:,.0f}元",
    ),
    Feature(
        "arrears_to_principal",
        "state",
        "ratio",
        "Arrears divided by the original principal of the customer's open loans.",
        "拖欠金额除以客户未结清贷款的原始本金。",
        "Arrears are {value:.0%} of the principal lent",
        "拖欠金额占贷款本金的{value:.0%}",
        "The customer has no open loan.",
        "客户没有未结清的贷款。",
    ),
    Feature(
        "installments_behind",
        "state",
        "installments",
        "Arrears as a number of regular installments (the loan's median installment), "
        "on the worst loan.",
        "拖欠金额相当于几期正常还款额（按贷款的期供中位数计），取最严重的一笔贷款。",
        "{value:.1f} installments behind",
        "拖欠约{value:.1f}期还款",
        "No loan has an installment with a positive amount.",
        "没有金额大于零的还款计划。",
    ),
    Feature(
        "outstanding_principal",
        "state",
        "CNY",
        "Estimated principal still owed on open loans: each loan's principal times the "
        "share of its scheduled amount not yet paid.",
        "未结清贷款的估计剩余本金：本金乘以计划应还总额中尚未偿还的比例。",
        "About {value:,.0f} CNY of principal still owed",
        "剩余本金约{value:,.0f}元",
    ),
    Feature(
        "total_exposure",
        "state",
        "CNY",
        "Scheduled amount (principal and interest) not yet paid on all loans.",
        "所有贷款尚未偿还的计划应还总额（本金加利息）。",
        "Total exposure of {value:,.0f} CNY",
        "总风险敞口{value:,.0f}元",
    ),
    Feature(
        "n_loans",
        "state",
        "count",
        "Number of open loans (originated and not fully paid).",
        "未结清贷款笔数（已发放且未还清）。",
        "Holds {value:.0f} open loans",
        "持有{value:.0f}笔未结清贷款",
    ),
    Feature(
        "n_products",
        "state",
        "count",
        "Number of distinct products among the open loans.",
        "未结清贷款涉及的产品种类数。",
        "Holds {value:.0f} different loan products",
        "持有{value:.0f}种贷款产品",
    ),
    Feature(
        "loans_past_due",
        "state",
        "count",
        "Number of loans at 1 or more days past due today.",
        "当前逾期1天及以上的贷款笔数。",
        "{value:.0f} loans past due",
        "{value:.0f}笔贷款逾期",
    ),
    Feature(
        "main_product",
        "state",
        "category",
        "Product of the most overdue open loan (highest days past due, then arrears).",
        "逾期最严重的未结清贷款的产品类型（先比逾期天数，再比拖欠金额）。",
        "Most overdue loan is a {value} loan",
        "逾期最严重的贷款为{value}类产品",
        "The customer has no open loan.",
        "客户没有未结清的贷款。",
        categories=PRODUCTS,
    ),
    # --- delinquency history --------------------------------------------------------
    Feature(
        "max_dpd_3m",
        "history",
        "days",
        "Highest days past due reached on any day of the last 3 months.",
        "近3个月内任一天达到的最高逾期天数。",
        "Reached {value:.0f} days past due in the last 3 months",
        "近3个月最高逾期{value:.0f}天",
    ),
    Feature(
        "max_dpd_6m",
        "history",
        "days",
        "Highest days past due reached on any day of the last 6 months.",
        "近6个月内任一天达到的最高逾期天数。",
        "Reached {value:.0f} days past due in the last 6 months",
        "近6个月最高逾期{value:.0f}天",
    ),
    Feature(
        "max_dpd_12m",
        "history",
        "days",
        "Highest days past due reached on any day of the last 12 months.",
        "近12个月内任一天达到的最高逾期天数。",
        "Reached {value:.0f} days past due in the last 12 months",
        "近12个月最高逾期{value:.0f}天",
    ),
    Feature(
        "months_30plus_12m",
        "history",
        "count",
        "Of the last 12 month-ends, how many found the customer 30 or more days past due.",
        "近12个月的月末中，逾期30天及以上的月数。",
        "30+ days past due at {value:.0f} of the last 12 month-ends",
        "近12个月中有{value:.0f}个月末逾期30天以上",
    ),
    Feature(
        "months_60plus_12m",
        "history",
        "count",
        "Of the last 12 month-ends, how many found the customer 60 or more days past due.",
        "近12个月的月末中，逾期60天及以上的月数。",
        "60+ days past due at {value:.0f} of the last 12 month-ends",
        "近12个月中有{value:.0f}个月末逾期60天以上",
    ),
    Feature(
        "months_90plus_12m",
        "history",
        "count",
        "Of the last 12 month-ends, how many found the customer 90 or more days past due.",
        "近12个月的月末中，逾期90天及以上的月数。",
        "90+ days past due at {value:.0f} of the last 12 month-ends",
        "近12个月中有{value:.0f}个月末逾期90天以上",
    ),
    Feature(
        "past_cures_12m",
        "history",
        "count",
        "Times in the last 12 months the customer went from past due back to 0 days past due.",
        "近12个月内从逾期恢复到正常（逾期天数归零）的次数。",
        "Cured {value:.0f} times in the last 12 months",
        "近12个月内{value:.0f}次逾期后恢复正常",
    ),
    Feature(
        "roll_direction",
        "history",
        "category",
        "Change of delinquency bucket since one month ago: back (better), stable or "
        "forward (worse).",
        "与一个月前相比逾期区间的变化：好转（back）、持平（stable）、恶化（forward）。",
        "Delinquency bucket moved {value} over the last month",
        "近一个月逾期区间变化：{value}",
        categories=ROLL_DIRECTIONS,
    ),
    Feature(
        "dpd_1y_ago",
        "history",
        "days",
        "Days past due on the same date one year earlier.",
        "一年前同一天的逾期天数。",
        "Was {value:.0f} days past due a year ago",
        "一年前逾期{value:.0f}天",
        "The customer had no loan on book a year ago.",
        "一年前客户尚无贷款。",
    ),
    Feature(
        "days_since_current",
        "history",
        "days",
        "Days since the customer was last at 0 days past due (0 when current today).",
        "距上一次逾期天数为零（正常状态）的天数；当前正常则为0。",
        "Last fully current {value:.0f} days ago",
        "{value:.0f}天前最后一次处于正常状态",
    ),
    # --- payment behaviour ----------------------------------------------------------
    Feature(
        "paid_to_due_1m",
        "payment",
        "ratio",
        "Money received in the last month divided by the amount that fell due in it.",
        "近1个月实际还款额除以同期到期应还金额。",
        "Paid {value:.0%} of what fell due in the last month",
        "近1个月还款额为到期应还的{value:.0%}",
        *_NOTHING_DUE,
    ),
    Feature(
        "paid_to_due_3m",
        "payment",
        "ratio",
        "Money received in the last 3 months divided by the amount that fell due in them.",
        "近3个月实际还款额除以同期到期应还金额。",
        "Paid {value:.0%} of what fell due in the last 3 months",
        "近3个月还款额为到期应还的{value:.0%}",
        *_NOTHING_DUE,
    ),
    Feature(
        "paid_to_due_6m",
        "payment",
        "ratio",
        "Money received in the last 6 months divided by the amount that fell due in them.",
        "近6个月实际还款额除以同期到期应还金额。",
        "Paid {value:.0%} of what fell due in the last 6 months",
        "近6个月还款额为到期应还的{value:.0%}",
        *_NOTHING_DUE,
    ),
    Feature(
        "share_late_12m",
        "payment",
        "share",
        "Share of the installments due in the last 12 months (before today) not fully paid "
        "by their due date.",
        "近12个月（今天之前）到期的还款中，未在到期日前足额还款的比例。",
        "{value:.0%} of installments in the last 12 months were paid late",
        "近12个月{value:.0%}的还款逾期",
        *_NOTHING_DUE,
    ),
    Feature(
        "share_partial_12m",
        "payment",
        "share",
        "Share of the installments due in the last 12 months (before today) that had "
        "received part, but not all, of their amount by the due date.",
        "近12个月（今天之前）到期的还款中，到期日只还了一部分的比例。",
        "{value:.0%} of installments in the last 12 months were paid only in part on time",
        "近12个月{value:.0%}的还款在到期日只还了一部分",
        *_NOTHING_DUE,
    ),
    Feature(
        "mean_days_late_12m",
        "payment",
        "days",
        "Mean days between due date and full payment, over the installments due in the last "
        "12 months that are fully paid (0 for those paid on time).",
        "近12个月到期且已还清的还款，从到期日到还清日的平均天数（按时还款计0）。",
        "Paid {value:.0f} days late on average in the last 12 months",
        "近12个月平均逾期{value:.0f}天还款",
        "No installment due in the last 12 months is fully paid yet.",
        "近12个月到期的还款尚无一笔还清。",
    ),
    Feature(
        "max_days_late_12m",
        "payment",
        "days",
        "Longest delay between due date and full payment, over the installments due in the "
        "last 12 months that are fully paid.",
        "近12个月到期且已还清的还款中，从到期日到还清日的最长天数。",
        "Paid as late as {value:.0f} days in the last 12 months",
        "近12个月最长逾期{value:.0f}天才还清",
        "No installment due in the last 12 months is fully paid yet.",
        "近12个月到期的还款尚无一笔还清。",
    ),
    Feature(
        "late_caught_up_12m",
        "payment",
        "count",
        "Installments due in the last 12 months paid late but in full by today.",
        "近12个月到期、逾期后已全额还清的还款笔数。",
        "Paid late but in full {value:.0f} times in the last 12 months",
        "过去12个月内{value:.0f}次逾期后全额还款",
    ),
    Feature(
        "consecutive_missed",
        "payment",
        "count",
        "Installments due before today and not fully paid, in a row up to today, on the "
        "worst loan.",
        "截至今天连续未还清的到期还款期数（取最严重的一笔贷款）。",
        "{value:.0f} installments missed in a row",
        "连续{value:.0f}期未还款",
    ),
    Feature(
        "days_since_last_payment",
        "payment",
        "days",
        "Days since the last payment on any of the customer's loans.",
        "距最近一次还款（任一贷款）的天数。",
        "Last payment {value:.0f} days ago",
        "最近一次还款在{value:.0f}天前",
        *_NEVER_PAID,
    ),
    Feature(
        "last_payment_to_installment",
        "payment",
        "ratio",
        "Money received on the last payment day divided by the regular installment of the "
        "open loans.",
        "最近一个还款日的还款额除以未结清贷款的正常期供之和。",
        "Last payment covered {value:.0%} of a regular installment",
        "最近一次还款相当于正常期供的{value:.0%}",
        "No payment received yet, or no open loan with a positive installment.",
        "尚未收到还款，或没有期供大于零的未结清贷款。",
    ),
    # --- repayment schedule (known in advance) -----------------------------------------
    Feature(
        "months_on_book",
        "schedule",
        "months",
        "Months since the customer's first loan was originated.",
        "距客户第一笔贷款发放的月数。",
        "Customer for {value:.0f} months",
        "成为客户已{value:.0f}个月",
    ),
    Feature(
        "remaining_term_months",
        "schedule",
        "months",
        "Months until the last scheduled due date of the open loans.",
        "距未结清贷款最后一期到期日的月数。",
        "{value:.0f} months of repayments left",
        "还款期还剩{value:.0f}个月",
        "The customer has no open loan.",
        "客户没有未结清的贷款。",
    ),
    Feature(
        "due_next_30d",
        "schedule",
        "CNY",
        "Amount scheduled to fall due in the next 30 days.",
        "未来30天内计划到期的金额。",
        "{value:,.0f} CNY falls due in the next 30 days",
        "未来30天内有{value:,.0f}元到期",
    ),
    Feature(
        "due_next_60d",
        "schedule",
        "CNY",
        "Amount scheduled to fall due in the next 60 days.",
        "未来60天内计划到期的金额。",
        "{value:,.0f} CNY falls due in the next 60 days",
        "未来60天内有{value:,.0f}元到期",
    ),
    Feature(
        "days_to_next_large_due",
        "schedule",
        "days",
        "Days until the next large installment: at least twice the loan's median installment, "
        "or at least half its principal (a seasonal balloon).",
        "距下一笔大额还款的天数：至少为该贷款期供中位数的两倍，或至少为本金的一半（如季节性"
        "大额还款）。",
        "A large installment falls due in {value:.0f} days",
        "{value:.0f}天后有一笔大额还款到期",
        "No large installment is scheduled after today.",
        "今后没有大额还款计划。",
    ),
    # --- visit history ---------------------------------------------------------------
    Feature(
        "visits_90d",
        "visits",
        "count",
        "Field visits in the last 90 days.",
        "近90天上门走访次数。",
        "Visited {value:.0f} times in the last 90 days",
        "近90天被走访{value:.0f}次",
    ),
    Feature(
        "visits_180d",
        "visits",
        "count",
        "Field visits in the last 180 days.",
        "近180天上门走访次数。",
        "Visited {value:.0f} times in the last 180 days",
        "近180天被走访{value:.0f}次",
    ),
    Feature(
        "visits_365d",
        "visits",
        "count",
        "Field visits in the last 365 days.",
        "近365天上门走访次数。",
        "Visited {value:.0f} times in the last year",
        "近一年被走访{value:.0f}次",
    ),
    Feature(
        "days_since_last_visit",
        "visits",
        "days",
        "Days since the last field visit.",
        "距最近一次上门走访的天数。",
        "Last visited {value:.0f} days ago",
        "最近一次走访在{value:.0f}天前",
        *_NO_VISIT,
    ),
    Feature(
        "last_visit_outcome",
        "visits",
        "category",
        "Recorded outcome of the last field visit.",
        "最近一次上门走访的记录结果。",
        "Last visit outcome: {value}",
        "最近一次走访结果：{value}",
        "Never visited, or the outcome of the last visit was not recorded.",
        "从未走访，或最近一次走访未记录结果。",
        categories=VISIT_OUTCOMES,
    ),
    Feature(
        "share_refused_365d",
        "visits",
        "share",
        "Share of the visits in the last 365 days (with a recorded outcome) that ended in a "
        "refusal.",
        "近365天有记录结果的走访中，被拒绝的比例。",
        "Refused {value:.0%} of visits in the last year",
        "近一年{value:.0%}的走访被拒绝",
        "No visit with a recorded outcome in the last 365 days.",
        "近365天没有记录结果的走访。",
    ),
    Feature(
        "promises_365d",
        "visits",
        "count",
        "Promises to pay made at visits in the last 365 days.",
        "近365天走访中作出的还款承诺次数。",
        "Promised to pay {value:.0f} times in the last year",
        "近一年{value:.0f}次承诺还款",
    ),
    Feature(
        "broken_promises_365d",
        "visits",
        "count",
        "Promises to pay in the last 365 days followed by no payment within 14 days (only "
        "promises at least 14 days old count, since younger ones are not settled yet).",
        "近365天的还款承诺中，14天内没有任何还款的次数（只计已满14天的承诺）。",
        "Broke {value:.0f} promises to pay in the last year",
        "近一年{value:.0f}次未兑现还款承诺",
    ),
    Feature(
        "cures_after_visit_365d",
        "visits",
        "count",
        "Cures in the last 365 days that came within 30 days after a field visit.",
        "近365天内，走访后30天内恢复正常的次数。",
        "Cured within 30 days of a visit {value:.0f} times in the last year",
        "近一年{value:.0f}次在走访后30天内恢复正常",
    ),
    # --- context ---------------------------------------------------------------------
    Feature(
        "segment",
        "context",
        "category",
        "Customer segment (farmer, cooperative, small business, salaried; other values are "
        "'other').",
        "客户类型（农户、合作社、小微企业、工薪；其他值归为other）。",
        "Segment: {value}",
        "客户类型：{value}",
        "Segment not recorded.",
        "未记录客户类型。",
        categories=SEGMENTS,
    ),
    Feature(
        "township_delinquency_rate",
        "context",
        "share",
        "Share of the other customers with an open loan in the same township who are 1 or "
        "more days past due today (the customer excluded).",
        "同一乡镇其他有未结清贷款的客户中，当前逾期1天及以上的比例（不含本人）。",
        "{value:.0%} of neighbours in the township are past due",
        "同乡镇{value:.0%}的客户逾期",
        "Township not recorded, or no other customer with an open loan lives there.",
        "未记录乡镇，或该乡镇没有其他有未结清贷款的客户。",
    ),
    Feature(
        "distance_to_branch_km",
        "context",
        "km",
        "Great-circle distance from the customer's home to the owning branch.",
        "客户住址到所属网点的直线距离。",
        "Lives {value:.0f} km from the branch",
        "距网点{value:.0f}公里",
        "Coordinates of the customer or of the branch are missing.",
        "缺少客户或网点的坐标。",
    ),
    Feature(
        "month_of_year",
        "context",
        "month",
        "Calendar month of the as-of date (seasonality: sowing, harvest, New Year).",
        "观察日所在月份（季节性：播种、收获、春节）。",
        "Month {value:.0f} of the year",
        "{value:.0f}月",
        is_reason=False,
    ),
)

#: Every feature by name, in column order.
FEATURES: dict[str, Feature] = {feature.name: feature for feature in _FEATURES}


def feature_registry() -> pd.DataFrame:
    """Return the feature registry as a table, one row per feature in column order.

    Returns
    -------
    pandas.DataFrame
        Indexed by ``name``; columns ``group``, ``unit``, ``description_en``,
        ``description_zh``, ``reason_en``, ``reason_zh``, ``missing_en``, ``missing_zh``,
        ``categories`` (a tuple, empty for numeric features) and ``is_reason``.

    Examples
    --------
    >>> from visitrisk import feature_registry
    >>> feature_registry().loc["days_past_due", "unit"]
    'days'
    """
    registry = pd.DataFrame([asdict(feature) for feature in _FEATURES])
    return registry.set_index("name")
