"""Exports of a visit plan: CSV, Excel, HTML; masking, injection safety, i18n, atomicity."""

import base64
import hashlib
import html
import json
import os
import re
import shutil
import string
import subprocess

import numpy as np
import openpyxl
import pandas as pd
import pytest

import visitrisk
from visitrisk import DataError, _report_excel
from visitrisk import report as rp
from visitrisk._report_text import MESSAGES

# Text a spreadsheet would run as a formula ...
FORMULAS = [
    '=HYPERLINK("http://evil.example/x","click")',
    "+1+cmd|' /C calc'!A0",
    "-2+3",
    "@SUM(A1:A9)",
    "\t=1+1",
    "\r=1+1",
    " =1+1",
    "\u3000=1+1",  # after an ideographic space
    "＝1+1",  # full-width equals sign, as a Chinese input method types it
]
# ... and text that must stay text everywhere.
HARMLESS = [
    "#N/A",
    "<script>window.__pwned = 1</script>",
    "</script><script>window.__pwned = 2</script>",
    '<img src=x onerror="window.__pwned = 3">',
]
HOSTILE = FORMULAS + HARMLESS


def make_plan(n=40, seed=0):
    """A realistic plan: three branches, four officers, 10% holdout, Chinese and hostile text."""
    rng = np.random.default_rng(seed)
    arm = np.where(np.arange(n) % 10 == 9, "holdout", "visit")
    visit = arm == "visit"
    p_no_visit = rng.uniform(0.1, 0.7, n)
    uplift = rng.normal(0.04, 0.03, n).round(4)
    uplift[3] = -0.03  # a customer who reacts badly: a real negative number
    value = rng.uniform(300, 80_000, n).round(2)
    day = pd.Timestamp("2026-12-01") + pd.to_timedelta(rng.integers(0, 4, n), unit="D")
    names = ["张三", "欧阳娜娜", "Li Wei", "王", "Zhang San-Feng", "李 四"]
    return pd.DataFrame(
        {
            "plan_id": "P20261201-0a1b2c",
            "branch_id": pd.Series(rng.choice(["0101", "0102", "B:03/[东]"], n), dtype="str"),
            "officer_id": pd.Series(
                np.where(visit, rng.choice(["007", "010", "011", "120"], n), None), dtype="str"
            ),
            "visit_date": pd.Series(day).where(visit),
            "stop_order": pd.Series(rng.integers(1, 9, n)).where(visit).astype("Int64"),
            "customer_id": pd.Series([f"{i:010d}" for i in range(n)], dtype="str"),
            "rank": np.arange(1, n + 1),
            "arm": arm,
            "assignment_probability": 0.9,
            "p_cure_visit": p_no_visit + uplift,
            "p_cure_no_visit": p_no_visit,
            "uplift": uplift,
            "value_at_stake": value,
            "expected_gain": uplift * value - 20.0,
            "days_past_due": rng.integers(1, 400, n),
            "arrears": value,
            "reason_1": pd.Series(rng.choice(["逾期天数 30 天以上", "DPD rose by 30 days"], n)),
            "reason_2": pd.Series(rng.choice(["近期承诺还款未兑现", "promise to pay broken"], n)),
            "reason_3": pd.Series([None] * n, dtype="str"),
            "township": pd.Series(rng.choice(["城关镇", "河口乡"], n)),
            "village": pd.Series(rng.choice(["东村", "西村", "南岭村"], n)),
            "name": pd.Series(rng.choice(names, n)),
            "national_id": pd.Series(rng.choice(["330102199001011234", "01234567890123456X"], n)),
            "phone": pd.Series(rng.choice(["13812345678", "+8613912345678"], n)),
        }
    )


def make_exclusions(n=12, seed=1):
    rng = np.random.default_rng(seed)
    reasons = ["do_not_visit", "cooldown", "non_positive_gain", "no_capacity", "no_staff"]
    return pd.DataFrame(
        {
            "customer_id": pd.Series([f"9{i:09d}" for i in range(n)], dtype="str"),
            "branch_id": pd.Series(rng.choice(["0101", "0102"], n), dtype="str"),
            "reason": np.resize(reasons * 2 + ["no_capacity", "merged_into_other_plan"], n),
            "detail": pd.Series(rng.choice(["visited 2026-11-20, cool-down 30 days", ""], n)),
            "name": pd.Series(rng.choice(["赵六", "Chen Jie"], n)),
            "phone": pd.Series(rng.choice(["13700001111", None], n)),
        }
    )


def hostile(plan, exclusions):
    """Put every hostile value in text fields of the plan and the exclusions."""
    plan, exclusions = plan.copy(), exclusions.copy()
    k = len(HOSTILE)
    plan.loc[: k - 1, "name"] = HOSTILE
    plan.loc[: k - 1, "reason_1"] = HOSTILE
    plan.loc[: k - 1, "village"] = HOSTILE[::-1]
    plan.loc[0, "customer_id"] = "=cmd|'/C calc'!A0"
    k = min(len(HOSTILE), len(exclusions))
    exclusions.loc[: k - 1, "detail"] = HOSTILE[:k]
    return plan, exclusions


SUMMARY = {"capacity": 48, "km_per_officer_day": 23.46, "expected_cures_given_up": 0.21, "seed": 0}


# ---------------------------------------------------------------------------- catalogue


def test_catalogues_have_the_same_keys_and_placeholders():
    assert set(MESSAGES) == set(rp.LANGUAGES) == {"en", "zh"}
    assert MESSAGES["en"].keys() == MESSAGES["zh"].keys()
    fields = string.Formatter()
    for key, english in MESSAGES["en"].items():
        chinese = MESSAGES["zh"][key]
        assert {f for _, f, _, _ in fields.parse(english) if f} == {
            f for _, f, _, _ in fields.parse(chinese) if f
        }, key
        assert chinese.strip(), key
        assert chinese != english, key


def test_every_column_arm_and_contract_reason_is_translated():
    columns = rp.PLAN_COLUMNS + rp.EXCLUSION_COLUMNS + rp.OPTIONAL_COLUMNS
    reasons = ("do_not_visit", "cooldown", "non_positive_gain", "no_capacity", "no_staff")
    for lang in rp.LANGUAGES:
        catalogue = MESSAGES[lang]
        assert all(f"col.{name}" in catalogue for name in columns)
        assert all(f"arm.{arm}" in catalogue for arm in rp.ARMS)
        assert all(f"reason.{code}" in catalogue for code in reasons)


def test_chinese_catalogue_is_chinese():
    for key in ("title", "col.arrears", "arm.holdout", "reason.cooldown", "ui.all"):
        assert re.search(r"[\u4e00-\u9fff]", MESSAGES["zh"][key]), key


# ------------------------------------------------------------------------------ masking


def masked(column, values):
    frame = pd.DataFrame({column: pd.Series(values, dtype="str"), "customer_id": "0001"})
    out = rp.mask_personal_columns(frame)
    assert out["customer_id"].tolist() == ["0001"] * len(values)  # other columns untouched
    return out[column].tolist()


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("张三", "张*"),
        ("张三丰", "张**"),
        ("欧阳娜娜", "欧***"),
        ("王", "*"),
        ("Li Wei", "L* W**"),
        ("  Li   Wei ", "L*   W**"),
        ("Zhang San-Feng", "Z**** S**-F***"),
        ("阿卜杜·热合曼", "阿**·热**"),
        ("J Smith", "* S****"),
        ("", ""),
    ],
)
def test_name_keeps_the_first_character_of_each_word(name, expected):
    assert masked("name", [name]) == [expected]


@pytest.mark.parametrize(
    ("national_id", "expected"),
    [
        ("330102199001011234", "3301**********1234"),
        ("01234567890123456X", "0123**********456X"),
        ("330102900101123", "3301*******1123"),  # first-generation 15-digit id
        ("123456789012", "1234****9012"),
        ("12345678901", "***********"),
        ("1234", "****"),
        ("", ""),
    ],
)
def test_national_id_keeps_four_at_each_end_when_long_enough(national_id, expected):
    assert masked("national_id", [national_id]) == [expected]


@pytest.mark.parametrize(
    ("phone", "expected"),
    [
        ("13812345678", "138****5678"),
        (" 13812345678 ", "138****5678"),
        ("+8613812345678", "+86*******5678"),
        ("0571876543", "057***6543"),
        ("87654321", "********"),
        ("110", "***"),
        ("", ""),
    ],
)
def test_phone_keeps_three_and_four_when_long_enough(phone, expected):
    assert masked("phone", [phone]) == [expected]


def test_masking_keeps_missing_values_missing():
    frame = pd.DataFrame(
        {
            "name": pd.Series([None, "张三"], dtype="str"),
            "national_id": pd.Series([None, None], dtype="str"),
            "phone": pd.Series([np.nan, "13812345678"], dtype="str"),
        }
    )
    out = rp.mask_personal_columns(frame)
    assert out.isna().to_numpy().tolist() == [[True, True, True], [False, True, False]]
    assert out.loc[1, "name"] == "张*"


def test_masking_is_vectorised_over_a_large_column():
    names = pd.Series(["欧阳娜娜", "Li Wei"] * 50_000, dtype="str")
    out = rp.mask_personal_columns(pd.DataFrame({"name": names}))
    assert out["name"].value_counts().to_dict() == {"欧***": 50_000, "L* W**": 50_000}


def test_personal_data_never_leaves_masked_exports_and_is_kept_on_request(tmp_path):
    plan, exclusions = make_plan(), make_exclusions()
    raw = ["张三", "欧阳娜娜", "330102199001011234", "13812345678", "13700001111", "赵六"]
    rp.write_reports(plan, exclusions, SUMMARY, tmp_path / "masked", lang="zh")
    rp.write_reports(
        plan, exclusions, SUMMARY, tmp_path / "open", lang="zh", mask_personal_data=False
    )
    for path in sorted((tmp_path / "masked").iterdir()):
        content = _all_text(path)
        assert not [value for value in raw if value in content], path.name
        shown = "137****1111" if path.name == "exclusions.csv" else "3301**********1234"
        assert shown in content, path.name
    for path in sorted((tmp_path / "open").iterdir()):
        kept = raw[4:] if path.name == "exclusions.csv" else raw[:4]
        assert all(value in _all_text(path) for value in kept), path.name
    warning = MESSAGES["zh"]["summary.unmasked"]
    assert warning in _all_text(tmp_path / "open" / "visit_plan.html")
    assert warning in _all_text(tmp_path / "open" / "visit_plan.xlsx")
    assert warning not in _all_text(tmp_path / "masked" / "visit_plan.html")


def _all_text(path):
    if path.suffix == ".xlsx":
        workbook = openpyxl.load_workbook(path)
        return "\n".join(
            str(value)
            for sheet in workbook.worksheets
            for row in sheet.iter_rows(values_only=True)
            for value in row
            if value is not None
        )
    text = path.read_text(encoding="utf-8-sig")
    if path.suffix == ".html":  # the data sits in JSON inside the page
        data = re.search(
            r'<script type="application/json" id="report-data">(.*?)</script>', text, re.S
        )
        text += json.dumps(json.loads(data.group(1)), ensure_ascii=False)
    return text


# ---------------------------------------------------------------------------------- CSV


def test_csv_round_trip_keeps_ids_values_and_column_order(tmp_path):
    plan, exclusions = make_plan(), make_exclusions()
    paths = rp.write_csv(plan, exclusions, tmp_path, mask_personal_data=False)
    assert paths == {
        "plan_csv": tmp_path / "visit_plan.csv",
        "exclusions_csv": tmp_path / "exclusions.csv",
    }
    assert paths["plan_csv"].read_bytes().startswith(b"\xef\xbb\xbfplan_id,branch_id,")
    text_columns = {"plan_id", "branch_id", "officer_id", "customer_id", "national_id", "phone"}
    back = pd.read_csv(
        paths["plan_csv"], encoding="utf-8-sig", dtype=dict.fromkeys(text_columns, "str")
    )
    assert list(back.columns) == list(rp.PLAN_COLUMNS) + list(rp.OPTIONAL_COLUMNS)
    assert back["customer_id"].iloc[:3].tolist() == ["0000000000", "0000000001", "0000000002"]
    assert set(back["officer_id"].dropna()) <= {"007", "010", "011", "120"}
    numbers = ["assignment_probability", "p_cure_visit", "p_cure_no_visit", "uplift",
               "value_at_stake", "expected_gain", "arrears"]  # fmt: skip
    np.testing.assert_array_equal(back[numbers].to_numpy(), plan[numbers].to_numpy())
    assert back["uplift"].iloc[3] == -0.03
    assert back["stop_order"].astype("Int64").equals(plan["stop_order"])
    assert (pd.to_datetime(back["visit_date"]) == plan["visit_date"]).sum() == plan[
        "visit_date"
    ].notna().sum()
    for column in ["branch_id", "name", "township", "village", "reason_1", "reason_2"]:
        assert back[column].tolist() == plan[column].tolist(), column
    # A leading + could start a formula, so the CSV quotes it (see the injection test).
    assert back["phone"].str.removeprefix("'").tolist() == plan["phone"].tolist()
    assert set(back["phone"]) == {"13812345678", "'+8613912345678"}
    assert back["reason_3"].isna().all()
    excluded = pd.read_csv(paths["exclusions_csv"], encoding="utf-8-sig", dtype="str")
    assert list(excluded.columns) == [
        "customer_id",
        "branch_id",
        "reason",
        "detail",
        "name",
        "phone",
    ]
    assert excluded["customer_id"].tolist() == exclusions["customer_id"].tolist()
    assert excluded["reason"].tolist() == exclusions["reason"].tolist()  # codes, untranslated


def test_csv_guards_text_but_not_negative_numbers(tmp_path):
    plan, exclusions = hostile(make_plan(), make_exclusions())
    rp.write_csv(plan, exclusions, tmp_path, mask_personal_data=False)
    back = pd.read_csv(tmp_path / "visit_plan.csv", dtype="str", keep_default_na=False)
    by_value = dict(zip(HOSTILE, back["reason_1"].iloc[: len(HOSTILE)], strict=False))
    for value in FORMULAS:
        assert by_value[value] == "'" + value, repr(value)
    for value in HARMLESS:  # no spreadsheet formula: kept exactly
        assert by_value[value] == value
    assert back.loc[0, "customer_id"] == "'=cmd|'/C calc'!A0"
    assert back.loc[3, "uplift"] == "-0.03"
    assert (back["expected_gain"].str.startswith("-")).any()
    assert not back["expected_gain"].str.startswith("'").any()
    detail = pd.read_csv(tmp_path / "exclusions.csv", dtype="str")["detail"]
    assert detail.iloc[0] == "'" + HOSTILE[0]


def test_numbers_given_as_text_are_numbers_not_injection(tmp_path):
    plan = make_plan().astype({"uplift": "str", "expected_gain": "str"})
    rp.write_csv(plan, make_exclusions(), tmp_path)
    back = pd.read_csv(tmp_path / "visit_plan.csv", dtype="str")
    assert back.loc[3, "uplift"] == "-0.03"


# -------------------------------------------------------------------- same bytes, atomic


def test_same_input_gives_the_same_bytes(tmp_path):
    plan, exclusions = hostile(make_plan(), make_exclusions())
    first = rp.write_reports(plan, exclusions, SUMMARY, tmp_path / "a", lang="zh")
    second = rp.write_reports(plan.copy(), exclusions.copy(), SUMMARY, tmp_path / "b", lang="zh")
    assert first.keys() == {"plan_csv", "exclusions_csv", "xlsx", "html"}
    for key, path in first.items():
        assert path.read_bytes() == second[key].read_bytes(), key
    changed = plan.copy()
    changed.loc[5, "arrears"] += 1.0
    third = rp.write_reports(changed, exclusions, SUMMARY, tmp_path / "c", lang="zh")
    assert third["xlsx"].read_bytes() != first["xlsx"].read_bytes()


def test_writes_leave_no_temporary_files_and_replace_old_ones(tmp_path):
    (tmp_path / "visit_plan.html").write_text("old report")
    paths = rp.write_reports(make_plan(), make_exclusions(), SUMMARY, tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(p.name for p in paths.values())
    assert "old report" not in (tmp_path / "visit_plan.html").read_text()


def test_a_crash_keeps_the_old_file_whole_and_cleans_up(tmp_path, monkeypatch):
    target = tmp_path / "visit_plan.csv"
    target.write_text("old plan")

    def crash(source, destination):
        raise OSError("disk full")

    monkeypatch.setattr(rp.os, "replace", crash)
    with pytest.raises(OSError, match="disk full"):
        rp.write_csv(make_plan(), make_exclusions(), tmp_path)
    assert target.read_text() == "old plan"
    assert [p.name for p in tmp_path.iterdir()] == ["visit_plan.csv"]


def test_files_get_ordinary_permissions(tmp_path):
    path = rp.write_html(make_plan(), make_exclusions(), None, tmp_path / "plan.html")
    umask = os.umask(0)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask


# -------------------------------------------------------------------------------- Excel


def test_excel_sheets_frozen_headers_formats_and_no_formulas(tmp_path):
    plan, exclusions = hostile(make_plan(), make_exclusions())
    path = rp.write_excel(
        plan, exclusions, SUMMARY, tmp_path / "plan.xlsx", lang="zh", mask_personal_data=False
    )
    workbook = openpyxl.load_workbook(path)
    assert workbook.sheetnames == ["概要", "0101", "0102", "B_03__东_", "未安排客户"]
    for sheet in workbook.worksheets:
        for row in sheet.iter_rows():
            for cell in row:
                assert cell.data_type != "f", (sheet.title, cell.coordinate, cell.value)
                assert cell.data_type != "e", (sheet.title, cell.coordinate, cell.value)
    branch = workbook["0101"]
    header = [cell.value for cell in branch[1]]
    assert header[:5] == ["网点", "客户经理", "走访日期", "当日顺序", "客户编号"]
    assert branch.freeze_panes == "A2"
    assert branch.auto_filter.ref == f"A1:W{(plan['branch_id'] == '0101').sum() + 1}"
    column = {name: openpyxl.utils.get_column_letter(header.index(name) + 1) for name in header}
    assert branch.column_dimensions[column["逾期金额"]].width >= 10
    assert branch.column_dimensions[column["走访后恢复正常的概率"]].width >= 20  # CJK counts double
    rows = pd.DataFrame(list(branch.iter_rows(min_row=2, values_only=True)), columns=header)
    expected = plan[plan["branch_id"] == "0101"].reset_index(drop=True)
    assert rows["客户编号"].tolist() == expected["customer_id"].tolist()
    # openpyxl writes 16 significant digits (Excel itself keeps 15).
    np.testing.assert_allclose(rows["走访后恢复正常的概率"], expected["p_cure_visit"], rtol=1e-15)
    assert set(rows["分组"]) <= {"走访", "对照组（不走访）"}
    money = branch[f"{column['逾期金额']}2"]
    assert money.number_format == '"¥"#,##0.00'
    assert branch[f"{column['走访带来的概率提升']}2"].number_format == "0.0%"
    visit_day = next(c for c in branch[column["走访日期"]][1:] if c.value is not None)
    assert visit_day.number_format == "yyyy-mm-dd"
    assert visit_day.is_date
    # Hostile text is a string cell holding exactly the text, quote-prefixed when it starts
    # like a formula.
    texts = {}
    for sheet in workbook.worksheets[1:4]:
        names = [cell.value for cell in sheet[1]]
        for row in sheet.iter_rows(min_row=2):
            cell = row[names.index("原因一")]
            texts[cell.value] = cell
    for value in HOSTILE:
        # Excel breaks lines on LF; a bare CR is stored as LF.
        assert texts[value.replace("\r", "\n")].data_type == "s", repr(value)
    assert texts[HOSTILE[0]].quotePrefix
    assert not texts["#N/A"].quotePrefix
    # A negative uplift is a number, not a guarded string.
    sheet = workbook[{"0101": "0101", "0102": "0102"}.get(plan.loc[3, "branch_id"], "B_03__东_")]
    names = [cell.value for cell in sheet[1]]
    row = next(
        r for r in sheet.iter_rows(min_row=2) if r[names.index("客户编号")].value == "0000000003"
    )
    uplift = row[names.index("走访带来的概率提升")]
    assert uplift.value == -0.03
    assert uplift.data_type == "n"
    excluded = workbook["未安排客户"]
    assert excluded.freeze_panes == "A2"
    reasons = [row[3] for row in excluded.iter_rows(min_row=2, values_only=True)]
    assert "近期已走访（冷却期内）" in reasons
    assert "merged_into_other_plan" in reasons


def test_excel_summary_sheet_holds_figures_and_exclusions_by_reason(tmp_path):
    plan, exclusions = make_plan(), make_exclusions()
    path = rp.write_excel(plan, exclusions, SUMMARY, tmp_path / "plan.xlsx")
    sheet = openpyxl.load_workbook(path)["Summary"]
    values = {row[0].value: row[1] for row in sheet.iter_rows(min_row=4) if row and row[0].value}
    visits = plan["arm"] == "visit"
    assert values["Visits planned"].value == visits.sum()
    assert values["Expected incremental cures"].value == pytest.approx(
        plan.loc[visits, "uplift"].sum()
    )
    assert values["Capacity used"].value == pytest.approx(visits.sum() / 48)
    assert values["Capacity used"].number_format == "0.0%"
    assert values["Holdout size"].value == 4
    assert values["Expected gain"].number_format == '"¥"#,##0.00'
    assert values["No visit slot left"].value == 3
    assert values["merged_into_other_plan"].value == 1
    assert values["Random seed"].value == "0"


def test_excel_splits_a_long_exclusion_list_over_sheets(tmp_path, monkeypatch):
    monkeypatch.setattr(_report_excel, "_EXCEL_MAX_ROWS", 5)
    path = rp.write_excel(make_plan(), make_exclusions(12), {}, tmp_path / "plan.xlsx")
    workbook = openpyxl.load_workbook(path)
    assert workbook.sheetnames[-3:] == ["Not planned", "Not planned~2", "Not planned~3"]
    assert [workbook[name].max_row for name in workbook.sheetnames[-3:]] == [6, 6, 3]


def test_sheet_names_follow_excel_rules():
    names = _report_excel._sheet_names(
        ["a/b", "A/B", "x" * 40, "x" * 40, "'quoted'", "history", "", "Summary", "[1]:*?\\"],
        taken=["Summary"],
    )
    assert names == [
        "a_b", "A_B~2", "x" * 31, "x" * 29 + "~2", "quoted", "history~2", "_", "Summary~2",
        "_1_____",
    ]  # fmt: skip
    assert all(len(name) <= 31 for name in names)


def test_branches_named_like_fixed_sheets_do_not_take_their_place(tmp_path):
    plan = make_plan()
    plan["branch_id"] = plan["branch_id"].replace({"0101": "Summary", "0102": "not planned"})
    workbook = openpyxl.load_workbook(
        rp.write_excel(plan, make_exclusions(), {}, tmp_path / "x.xlsx")
    )
    assert workbook.sheetnames == [
        "Summary",
        "B_03__东_",
        "Summary~2",
        "not planned~2",
        "Not planned",
    ]
    assert workbook["Not planned"]["A1"].value == "Branch"
    assert workbook["Summary~2"]["A2"].value == "Summary"


def test_dates_with_time_zones_become_local_days(tmp_path):
    plan = make_plan()
    plan["visit_date"] = plan["visit_date"].dt.tz_localize("Asia/Shanghai")
    rp.write_reports(plan, make_exclusions(), {}, tmp_path, formats=["csv", "xlsx"])
    back = pd.read_csv(tmp_path / "visit_plan.csv", dtype="str")
    assert back["visit_date"].dropna().str.fullmatch(r"2026-12-0[1-4]").all()


def test_excel_writes_an_empty_plan(tmp_path):
    plan = make_plan().iloc[:0]
    exclusions = make_exclusions().iloc[:0]
    paths = rp.write_reports(plan, exclusions, None, tmp_path)
    workbook = openpyxl.load_workbook(paths["xlsx"])
    assert workbook.sheetnames == ["Summary", "Not planned"]
    assert [cell.value for cell in workbook["Not planned"][1]][:2] == ["Branch", "Customer"]
    assert workbook["Not planned"].max_row == 1
    assert "0 visits planned" in paths["html"].read_text()


# --------------------------------------------------------------------------------- HTML


def test_html_is_self_contained_and_escapes_hostile_text(tmp_path):
    plan, exclusions = hostile(make_plan(), make_exclusions())
    path = rp.write_html(
        plan, exclusions, SUMMARY, tmp_path / "plan.html", mask_personal_data=False
    )
    page = path.read_text(encoding="utf-8")
    # The only URL is inside a hostile *data* value; no resource is loaded.
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page, re.I)
    assert not re.search(r"@import|url\(", page)
    assert "Content-Security-Policy" in page
    assert "default-src 'none'" in page
    assert page.count("<script") == 2
    assert page.count("</script>") == 2
    assert "<img" not in page
    data = re.search(r'<script type="application/json" id="report-data">(.*?)</script>', page, re.S)
    payload = json.loads(data.group(1))
    table = payload["tables"]["plan"]
    position = [column["key"] for column in table["columns"]].index("reason_1")
    reasons = [row[position] for row in table["rows"]]
    assert set(HOSTILE) <= set(reasons)
    assert '<meta charset="utf-8">' in page


def test_html_has_no_network_references(tmp_path):
    path = rp.write_html(make_plan(), make_exclusions(), SUMMARY, tmp_path / "plan.html", lang="zh")
    page = path.read_text(encoding="utf-8")
    assert not re.search(r"https?:", page, re.I)
    assert not re.search(r"""(src|href)\s*=\s*["']?//""", page, re.I)


def test_html_script_and_style_hashes_match_the_policy(tmp_path):
    page = rp.write_html(make_plan(), make_exclusions(), {}, tmp_path / "p.html").read_text()
    script = re.search(r"<script>(.*?)</script>", page, re.S).group(1)
    style = re.search(r"<style>(.*?)</style>", page, re.S).group(1)
    for source, directive in ((script, "script-src"), (style, "style-src")):
        digest = base64.b64encode(hashlib.sha256(source.encode()).digest()).decode()
        assert f"{directive} 'sha256-{digest}'" in page


def test_html_in_chinese_has_translated_labels_and_summary(tmp_path):
    plan, exclusions = make_plan(), make_exclusions()
    page = rp.write_html(plan, exclusions, SUMMARY, tmp_path / "p.html", lang="zh").read_text()
    assert '<html lang="zh-CN">' in page
    assert "Noto Sans CJK SC" in page
    assert "Microsoft YaHei" in page
    keys = [
        "title",
        "summary.expected_incremental_cures",
        "summary.capacity_used",
        "summary.holdout_size",
        "summary.exclusions_by_reason",
        "reason.no_capacity",
    ]
    for key in keys:
        assert html.escape(MESSAGES["zh"][key]) in page, key
    assert "Visit plan" not in page
    assert "Expected incremental cures" not in page
    assert "23.5 公里" in page
    visits = plan["arm"] == "visit"
    assert f"{plan.loc[visits, 'uplift'].sum():,.1f}" in page


def test_unknown_summary_keys_are_listed_not_lost(tmp_path):
    summary = {"solver": "<b>highs</b>", "gap": 0.000123456, "weights": {"b": 2, "a": 1}}
    page = rp.write_html(make_plan(), make_exclusions(), summary, tmp_path / "p.html").read_text()
    assert "<dt>solver</dt><dd>&lt;b&gt;highs&lt;/b&gt;</dd>" in page
    assert "<b>highs" not in page
    assert "<dt>gap</dt><dd>0.0001235</dd>" in page
    assert "<dt>weights</dt><dd>{&#34;a&#34;: 1, &#34;b&#34;: 2}</dd>" in page


# What planning.plan_visits returns as VisitPlan.summary (branch `planning`).
PLANNER_SUMMARY = {
    "plan_id": "vp-3f2a9c",
    "start": "2026-12-01",
    "end": "2026-12-10",
    "days": 10,
    "seed": 0,
    "holdout_share_target": 0.1,
    "team_size": 2,
    "method": "per_branch_top_k",
    "customers": 120,
    "eligible": 70,
    "officers": 6,
    "crew_days": 30,
    "capacity_visits": 60,
    "visits": 36,
    "capacity_used": 0.6,
    "must_visit_served": 2,
    "must_visit_eligible": 2,
    "holdout_size": 4,
    "holdout_share": 0.1,
    "refill_visits": 4,
    "expected_gain": 12345.678,
    "expected_incremental_cures": 3.21,
    "expected_cures_given_up": 0.42,
    "expected_cures_given_up_net_of_refill": 0.11,
    "exclusions_by_reason": {"cooldown": 99},  # ignored: counted from the table
    "km_total": 250.0,
    "km_per_crew_day": None,
}


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_the_planner_summary_is_shown_whole_and_translated(tmp_path, lang):
    plan, exclusions = make_plan(), make_exclusions()
    page = rp.write_html(plan, exclusions, PLANNER_SUMMARY, tmp_path / "p.html", lang=lang)
    text = page.read_text()
    label = MESSAGES[lang]
    for key, shown in [
        ("plan_id", "vp-3f2a9c"),
        ("period", "2026-12-01 – 2026-12-10"),
        ("visits_planned", "36"),
        ("capacity", "60"),
        ("capacity_used", "60.0%"),
        ("expected_incremental_cures", "3.2"),
        ("expected_gain", "12,345.68 CNY"),
        ("expected_cures_given_up_net_of_refill", "0.1"),
        ("km_total", f"250.0 {label['unit.km']}"),
    ]:
        assert f"<dt>{html.escape(label[f'summary.{key}'])}</dt><dd>{shown}</dd>" in text, key
    for key, shown in [("officers", "6"), ("team_size", "2"), ("method", "per_branch_top_k")]:
        assert f"<dt>{html.escape(label[f'summary.{key}'])}</dt><dd>{shown}</dd>" in text, key
    assert label["summary.km_per_officer_day"] not in text  # None: no coordinates
    assert ">99<" not in text  # the table's own counts win
    hidden = {"start", "end", "exclusions_by_reason", "km_per_crew_day", "capacity_visits"}
    for key in set(PLANNER_SUMMARY) - hidden:  # every figure has a translated label
        assert f"summary.{key}" in label or key == "visits", key
    assert "<dt>visits</dt>" not in text
    workbook = openpyxl.load_workbook(
        rp.write_excel(plan, exclusions, PLANNER_SUMMARY, tmp_path / "p.xlsx", lang=lang)
    )
    rows = {row[0]: row[1] for row in workbook.worksheets[0].iter_rows(values_only=True) if row}
    assert rows[label["summary.capacity"]] == 60
    assert rows[f"{label['summary.km_total']} ({label['unit.km']})"] == 250.0
    assert rows[label["summary.method"]] == "per_branch_top_k"


# --------------------------------------------------------------------------- validation


def test_missing_contract_column_is_named(tmp_path):
    with pytest.raises(DataError, match=r"plan has no column 'arm'.*\n.*'uplift'"):
        rp.write_reports(
            make_plan().drop(columns=["arm", "uplift"]), make_exclusions(), {}, tmp_path
        )


def test_numeric_ids_are_refused_because_leading_zeros_are_lost(tmp_path):
    exclusions = make_exclusions().assign(customer_id=np.arange(12))
    with pytest.raises(DataError, match=r"exclusions.customer_id must be text.*leading zeros"):
        rp.write_csv(make_plan(), exclusions, tmp_path)


def test_bad_values_are_reported_with_customer_ids(tmp_path):
    plan = make_plan()
    plan.loc[2, "arm"] = "control"
    plan["uplift"] = plan["uplift"].astype(object)
    plan.loc[4, "uplift"] = "high"
    plan["rank"] = plan["rank"].astype(float)
    plan.loc[5, "rank"] = 1.5
    plan["visit_date"] = plan["visit_date"].astype(object)
    plan.loc[0, "visit_date"] = "2026-13-45"
    with pytest.raises(DataError, match=r"plan.uplift must be a number.*'0000000004'") as error:
        rp.write_html(plan, make_exclusions(), {}, tmp_path / "p.html")
    assert error.value.problems["rule"].tolist() == ["not_date", "not_whole_number", "not_number"]
    assert "plan.rank must be a whole number (1 row(s), e.g. customer_id '0000000005')" in str(
        error.value
    )
    plan = make_plan()
    plan.loc[2, "arm"] = "control"
    with pytest.raises(DataError, match=r"plan.arm must be one of.*'0000000002'"):
        rp.write_html(plan, make_exclusions(), {}, tmp_path / "p.html")


def test_bad_options_are_refused(tmp_path):
    with pytest.raises(ValueError, match=r"'lang' parameter of write_reports.*Got 'fr'"):
        rp.write_reports(make_plan(), make_exclusions(), {}, tmp_path, lang="fr")
    with pytest.raises(ValueError, match=r"'formats' parameter of write_reports.*Got 'pdf'"):
        rp.write_reports(make_plan(), make_exclusions(), {}, tmp_path, formats=("csv", "pdf"))
    assert not list(tmp_path.iterdir())


def test_formats_choose_the_files(tmp_path):
    paths = rp.write_reports(make_plan(), make_exclusions(), {}, tmp_path / "new", formats=["html"])
    assert list(paths) == ["html"]
    assert [p.name for p in (tmp_path / "new").iterdir()] == ["visit_plan.html"]


def test_writers_are_public():
    for name in (
        "write_reports",
        "write_csv",
        "write_excel",
        "write_html",
        "mask_personal_columns",
    ):
        assert getattr(visitrisk, name) is getattr(rp, name)


# ---------------------------------------------------------------------- headless browser

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")

# Clicks headers and sets filters in the real page, then writes what it saw into the DOM.
BROWSER_CHECK = """
(function () {
  var out = { ready: document.body.getAttribute("data-ready"), pwned: window.__pwned || 0 };
  var plan = document.getElementById("plan");
  function column(key) {
    var keys = Array.prototype.map.call(plan.querySelectorAll("thead th"), function (th) {
      return th.getAttribute("data-key");
    });
    return Array.prototype.map.call(plan.querySelectorAll("tbody tr"), function (tr) {
      return tr.children[keys.indexOf(key)].textContent;
    });
  }
  function choose(key, value) {
    var select = plan.querySelector('select[data-column="' + key + '"]');
    select.value = value;
    select.dispatchEvent(new Event("change"));
  }
  function options(key) {
    return Array.prototype.map.call(
      plan.querySelector('select[data-column="' + key + '"]').options,
      function (option) { return option.value; });
  }
  out.rows = column("customer_id");
  out.status = plan.querySelector(".status").textContent;
  out.headers = Array.prototype.map.call(plan.querySelectorAll("thead th"), function (th) {
    return th.textContent;
  });
  out.arrears = column("arrears").slice(0, 3);
  out.names = column("name");
  out.reasons = column("reason_1");
  var uplift = plan.querySelector('th[data-key="uplift"] button');
  uplift.click();
  out.upliftAscending = column("customer_id");
  out.ariaSort = plan.querySelector('th[data-key="uplift"]').getAttribute("aria-sort");
  uplift.click();
  out.upliftDescending = column("customer_id");
  plan.querySelector('th[data-key="visit_date"] button').click();
  out.byDate = column("customer_id");
  out.branchOptions = options("branch_id");
  choose("branch_id", "0102");
  out.branch0102 = column("customer_id");
  out.officerOptions = options("officer_id");
  choose("officer_id", "010");
  out.branch0102officer010 = column("customer_id");
  out.dateOptions = options("visit_date");
  plan.querySelector("button.reset").click();
  choose("visit_date", "2026-12-02");
  out.day2 = column("customer_id");
  choose("visit_date", "");
  out.armOptions = options("arm");
  choose("arm", out.armOptions[1]);
  out.holdout = column("customer_id");
  var excluded = document.getElementById("exclusions");
  out.excludedRows = excluded.querySelectorAll("tbody tr").length;
  var result = document.createElement("pre");
  result.id = "test-result";
  result.textContent = JSON.stringify(out);
  document.body.appendChild(result);
}());
"""


def _run_in_chromium(page, tmp_path):
    """Open a copy of ``page`` with BROWSER_CHECK appended; return what the check saw."""
    digest = base64.b64encode(hashlib.sha256(BROWSER_CHECK.encode()).digest()).decode()
    text = page.read_text(encoding="utf-8")
    text = text.replace("script-src ", f"script-src 'sha256-{digest}' ", 1)
    text = text.replace("</body>", f"<script>{BROWSER_CHECK}</script>\n</body>", 1)
    copy = tmp_path / "checked.html"
    copy.write_text(text, encoding="utf-8")
    command = [
        CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        f"--user-data-dir={tmp_path / 'profile'}", "--virtual-time-budget=5000",
        "--enable-logging=stderr", "--v=0", "--dump-dom", copy.as_uri(),
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    found = re.search(r'<pre id="test-result">(.*?)</pre>', done.stdout, re.S)
    assert found, f"chromium returned no result (exit {done.returncode}): {done.stderr[-2000:]}"
    # The policy blocks any request, inline handler or unhashed script, and says so.
    blocked = [line for line in done.stderr.splitlines() if "Content Security Policy" in line]
    assert not blocked, blocked
    return json.loads(html.unescape(found.group(1)))


@pytest.mark.skipif(
    CHROMIUM is None,
    reason="!!! chromium NOT INSTALLED: the HTML report was NOT tested in a browser "
    "(apt-get install -y chromium fonts-noto-cjk) !!!",
)
@pytest.mark.parametrize("lang", ["en", "zh"])
def test_html_renders_sorts_and_filters_in_chromium(tmp_path, lang):
    plan, exclusions = hostile(make_plan(), make_exclusions())
    page = rp.write_html(
        plan, exclusions, SUMMARY, tmp_path / "plan.html", lang=lang, mask_personal_data=False
    )
    seen = _run_in_chromium(page, tmp_path)
    assert seen["ready"] == "true"
    assert seen["pwned"] == 0  # no hostile value ran as script
    assert seen["rows"] == plan["customer_id"].tolist()
    assert seen["names"][: len(HOSTILE)] == HOSTILE
    assert seen["reasons"][: len(HOSTILE)] == HOSTILE
    labels = MESSAGES[lang]
    assert seen["headers"][:3] == [
        labels["col.branch_id"],
        labels["col.officer_id"],
        labels["col.visit_date"],
    ]
    expected_status = labels["ui.showing"].format(shown=40, matching=40, total=40)
    assert seen["status"] == expected_status
    assert seen["arrears"][0] == f"{plan.loc[0, 'arrears']:,.2f}"

    order = plan.reset_index()
    ascending = order.sort_values(["uplift", "index"], kind="stable")["customer_id"].tolist()
    descending = order.sort_values(["uplift", "index"], ascending=[False, True], kind="stable")
    assert seen["upliftAscending"] == ascending
    assert seen["ariaSort"] == "ascending"
    assert seen["upliftDescending"] == descending["customer_id"].tolist()
    by_date = order.sort_values(["visit_date", "index"], kind="stable", na_position="last")
    assert seen["byDate"] == by_date["customer_id"].tolist()

    assert seen["branchOptions"] == ["", "0101", "0102", "B:03/[东]"]
    branch = plan[plan["branch_id"] == "0102"]
    in_date_order = by_date[by_date["branch_id"] == "0102"]["customer_id"].tolist()
    assert seen["branch0102"] == in_date_order
    officers = sorted(branch["officer_id"].dropna().unique())
    assert seen["officerOptions"] == ["", *officers, "\u0000"]  # blank: the holdout rows
    both = by_date[(by_date["branch_id"] == "0102") & (by_date["officer_id"] == "010")]
    assert seen["branch0102officer010"] == both["customer_id"].tolist()
    assert seen["dateOptions"][0] == ""
    day2 = by_date[by_date["visit_date"] == pd.Timestamp("2026-12-02")]["customer_id"].tolist()
    assert day2
    assert seen["day2"] == day2
    assert seen["armOptions"] == ["", labels["arm.holdout"], labels["arm.visit"]]
    holdout = by_date[by_date["arm"] == "holdout"]["customer_id"].tolist()
    assert seen["holdout"] == holdout
    assert seen["excludedRows"] == len(exclusions)
