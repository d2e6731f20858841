from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest

import visitrisk as vr
from visitrisk.contract import PROBLEM_COLUMNS, TABLES, DataError, Portfolio, load_portfolio

Tables = dict[str, pd.DataFrame]


def _put(tables: Tables, table: str, column: str, rows: list[int], values: list[object]) -> None:
    """Set cells, widening the column to object first (pandas 3 refuses to upcast in place)."""
    frame = tables[table]
    frame[column] = frame[column].astype(object)
    frame.loc[rows, column] = pd.Series(values, index=rows, dtype=object)


def _errors(tables: Tables, **options: object) -> pd.DataFrame:
    with pytest.raises(DataError, match=r"problem\(s\) in the input tables") as caught:
        load_portfolio(**tables, **options)
    return caught.value.problems


def _write_folder(tables: Tables, folder, fmt: str) -> None:
    folder.mkdir()
    for name, frame in tables.items():
        if fmt == "csv":
            frame.to_csv(folder / f"{name}.csv", index=False)
        else:
            frame.to_parquet(folder / f"{name}.parquet", index=False)


# --------------------------------------------------------------------------- typing


def test_tiny_tables_load_typed_without_warnings(tiny_tables):
    portfolio = load_portfolio(**tiny_tables)

    assert portfolio.warnings.empty
    assert list(portfolio.warnings.columns) == list(PROBLEM_COLUMNS)
    loans = portfolio.loans
    assert loans["loan_id"].dtype == "str"
    assert loans["origination_date"].dtype == "datetime64[us]"
    assert loans["principal"].dtype == np.float64
    assert portfolio.customers["do_not_visit"].dtype == bool
    assert portfolio.customers["do_not_visit"].tolist() == [False, False, True]
    assert portfolio.staff["visits_per_day"].dtype == np.int64
    assert portfolio.installments.index.equals(pd.RangeIndex(17))
    assert portfolio.currency == "CNY"
    assert set(portfolio.tables()) == set(TABLES)


def test_dates_are_normalised_to_midnight_and_local_date_kept(tiny_tables):
    _put(
        tiny_tables,
        "payments",
        "payment_date",
        [0, 1],
        ["2026-02-05T23:30:00+08:00", "2026-03-05 10:15"],
    )
    tiny_tables["visits"]["visit_date"] = tiny_tables["visits"]["visit_date"] + pd.Timedelta(
        hours=9
    )

    portfolio = load_portfolio(**tiny_tables)

    assert portfolio.payments["payment_date"].iloc[:2].tolist() == [
        pd.Timestamp("2026-02-05"),
        pd.Timestamp("2026-03-05"),
    ]
    assert (portfolio.visits["visit_date"] == portfolio.visits["visit_date"].dt.normalize()).all()


def test_absent_optional_columns_are_added_with_their_dtype(tiny_tables):
    tiny_tables["customers"] = tiny_tables["customers"].drop(columns=["do_not_visit", "latitude"])
    tiny_tables["loans"] = tiny_tables["loans"].drop(columns=["maturity_date", "annual_rate"])
    tiny_tables["staff"] = tiny_tables["staff"].drop(columns=["working_days", "absent_dates"])

    portfolio = load_portfolio(**tiny_tables)

    assert not portfolio.customers["do_not_visit"].any()
    assert portfolio.customers["do_not_visit"].dtype == bool
    assert portfolio.customers["latitude"].isna().all()
    assert portfolio.customers["phone"].dtype == "str"
    assert portfolio.loans["maturity_date"].dtype == "datetime64[us]"
    assert portfolio.loans["maturity_date"].isna().all()
    assert portfolio.loans["annual_rate"].dtype == np.float64
    assert portfolio.staff["working_days"].tolist() == ["Mon Tue Wed Thu Fri"] * 2
    assert portfolio.visits["plan_id"].isna().all()


def test_contract_columns_come_first_and_extra_columns_are_kept(tiny_tables):
    loans = tiny_tables["loans"]
    loans.insert(0, "branch_note", ["a", "b", "c", "d"])
    tiny_tables["loans"] = loans[list(reversed(loans.columns))]

    portfolio = load_portfolio(**tiny_tables)

    assert list(portfolio.loans.columns) == [
        "loan_id",
        "customer_id",
        "product",
        "origination_date",
        "principal",
        "maturity_date",
        "annual_rate",
        "branch_note",
    ]
    assert portfolio.loans["branch_note"].tolist() == ["a", "b", "c", "d"]


def test_caller_frames_are_not_modified(tiny_tables):
    tiny_tables["customers"]["do_not_visit"] = ["no", "No", "YES"]
    tiny_tables["staff"]["working_days"] = ["mon tue", None]
    before = {name: frame.copy(deep=True) for name, frame in tiny_tables.items()}

    load_portfolio(**tiny_tables)

    for name, frame in tiny_tables.items():
        pd.testing.assert_frame_equal(frame, before[name])


def test_rows_keep_their_input_order(tiny_tables):
    order = np.random.default_rng(0).permutation(len(tiny_tables["installments"]))
    shuffled = tiny_tables["installments"].iloc[order]
    tiny_tables["installments"] = shuffled

    portfolio = load_portfolio(**tiny_tables)

    assert portfolio.installments["due_date"].tolist() == shuffled["due_date"].tolist()
    assert portfolio.installments["loan_id"].tolist() == shuffled["loan_id"].tolist()


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_folder_round_trip_gives_identical_typed_tables(tiny_tables, tmp_path, fmt):
    _write_folder(tiny_tables, tmp_path / "data", fmt)

    from_frames = load_portfolio(**tiny_tables)
    from_folder = load_portfolio(tmp_path / "data")

    for name, table in from_frames.tables().items():
        pd.testing.assert_frame_equal(getattr(from_folder, name), table, obj=name)
    assert from_folder.warnings.empty


def test_leading_zero_ids_survive_csv(tiny_tables, tmp_path):
    tiny_tables["customers"]["customer_id"] = ["0001", "0002", "0003"]
    tiny_tables["loans"]["customer_id"] = ["0001", "0001", "0002", "0003"]
    tiny_tables["visits"]["customer_id"] = ["0002", "0003", "0001"]
    tiny_tables["customers"]["phone"] = ["013900000001", None, "013900000003"]
    _write_folder(tiny_tables, tmp_path / "data", "csv")

    portfolio = load_portfolio(tmp_path / "data")

    assert portfolio.customers["customer_id"].tolist() == ["0001", "0002", "0003"]
    assert portfolio.loans["customer_id"].tolist() == ["0001", "0001", "0002", "0003"]
    assert portfolio.customers["phone"].iloc[0] == "013900000001"


def test_csv_text_is_parsed_with_flags_in_any_spelling(tiny_tables, tmp_path):
    tiny_tables["customers"]["do_not_visit"] = ["no", "0", "YES"]
    tiny_tables["staff"]["working_days"] = ["mon TUE wed", ""]
    _write_folder(tiny_tables, tmp_path / "data", "csv")
    (tmp_path / "data" / "loans.csv").write_text(
        (tmp_path / "data" / "loans.csv").read_text().replace("2026-06-05", "NA"),
        encoding="utf-8",
    )

    portfolio = load_portfolio(tmp_path / "data")

    assert portfolio.customers["do_not_visit"].tolist() == [False, False, True]
    assert portfolio.staff["working_days"].tolist() == ["Mon Tue Wed", "Mon Tue Wed Thu Fri"]
    assert pd.isna(portfolio.loans["maturity_date"].iloc[0])


def test_csv_with_byte_order_mark_is_read(tiny_tables, tmp_path):
    _write_folder(tiny_tables, tmp_path / "data", "csv")
    path = tmp_path / "data" / "customers.csv"
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())

    portfolio = load_portfolio(tmp_path / "data")

    assert portfolio.customers["customer_id"].tolist() == ["C001", "C002", "C003"]


def test_parquet_integer_ids_are_cast_to_text_with_a_warning(tiny_tables, tmp_path):
    tiny_tables["customers"]["customer_id"] = [101, 102, 103]
    tiny_tables["loans"]["customer_id"] = [101, 101, 102, 103]
    tiny_tables["visits"]["customer_id"] = [102.0, 103.0, 101.0]
    _write_folder(tiny_tables, tmp_path / "data", "parquet")

    portfolio = load_portfolio(tmp_path / "data")

    assert portfolio.customers["customer_id"].tolist() == ["101", "102", "103"]
    assert portfolio.visits["customer_id"].tolist() == ["102", "103", "101"]
    warned = portfolio.warnings.set_index(["table", "column"])
    assert warned.loc[("customers", "customer_id"), "rule"] == "id_as_number"
    assert warned.loc[("loans", "customer_id"), "count"] == 4
    assert "leading zeros" in warned.loc[("visits", "customer_id"), "message"]


def test_parquet_dates_may_be_date32_or_text(tiny_tables, tmp_path):
    loans = tiny_tables["loans"]
    loans["origination_date"] = loans["origination_date"].dt.date  # date32 in Parquet
    loans["maturity_date"] = loans["maturity_date"].dt.strftime("%Y-%m-%d")
    _write_folder(tiny_tables, tmp_path / "data", "parquet")

    portfolio = load_portfolio(tmp_path / "data")

    assert portfolio.loans["origination_date"].dtype == "datetime64[us]"
    assert portfolio.loans["origination_date"].iloc[0] == pd.Timestamp("2026-01-05")
    assert portfolio.loans["maturity_date"].iloc[0] == pd.Timestamp("2026-06-05")


def test_missing_visit_log_gives_empty_typed_visits_and_a_warning(tiny_tables):
    del tiny_tables["visits"]

    portfolio = load_portfolio(**tiny_tables)

    assert portfolio.visits.empty
    assert portfolio.visits["visit_date"].dtype == "datetime64[us]"
    assert portfolio.visits["customer_id"].dtype == "str"
    (warning,) = portfolio.warnings.itertuples()
    assert warning.rule == "no_visit_log"
    assert "uplift" in warning.message


def test_staff_and_branches_are_optional(tiny_tables):
    del tiny_tables["staff"], tiny_tables["branches"]

    portfolio = load_portfolio(**tiny_tables)

    assert portfolio.staff is None
    assert portfolio.branches is None
    assert "staff" not in portfolio.tables()


def test_reversals_are_accepted_only_when_allowed(tiny_tables):
    extra = pd.DataFrame(
        {"loan_id": ["L001"], "payment_date": [pd.Timestamp("2026-04-13")], "amount": [-100.0]}
    )
    tiny_tables["payments"] = pd.concat([tiny_tables["payments"], extra], ignore_index=True)

    portfolio = load_portfolio(**tiny_tables, allow_reversals=True)

    assert portfolio.payments["amount"].iloc[-1] == -100.0
    problems = _errors(tiny_tables)
    assert problems["rule"].tolist() == ["non_positive_payment"]
    assert "allow_reversals" in problems["message"].iloc[0]


def test_zero_payment_is_an_error_even_with_reversals(tiny_tables):
    _put(tiny_tables, "payments", "amount", [6], [0.0])

    problems = _errors(tiny_tables, allow_reversals=True)

    assert problems[["rule", "count", "examples"]].values.tolist() == [
        ["non_positive_payment", 1, "L003 on 2026-03-20"]
    ]


def test_portfolio_repr_is_one_line_with_the_warning_count(tiny_tables):
    del tiny_tables["visits"]

    text = repr(load_portfolio(**tiny_tables))

    assert "\n" not in text
    assert text.endswith("1 warning)")
    assert "loans=4" in text
    assert "installments=17" in text


def test_package_reexports_load_portfolio():
    assert vr.load_portfolio is load_portfolio
    assert "load_portfolio" in vr.__all__
    assert isinstance(Portfolio, type)


# --------------------------------------------------------------------------- one test per rule


def _drop_table(name: str) -> Callable[[Tables], None]:
    def mutate(tables: Tables) -> None:
        del tables[name]

    return mutate


def _drop_column(table: str, column: str) -> Callable[[Tables], None]:
    def mutate(tables: Tables) -> None:
        tables[table] = tables[table].drop(columns=column)

    return mutate


def _set(
    table: str, column: str, rows: list[int], values: list[object]
) -> Callable[[Tables], None]:
    def mutate(tables: Tables) -> None:
        _put(tables, table, column, rows, values)

    return mutate


def _duplicate_column(tables: Tables) -> None:
    customers = tables["customers"]
    tables["customers"] = pd.concat([customers, customers[["segment"]]], axis=1)


ERROR_CASES = [
    # mutation, table, column, rule, count, examples
    (_drop_table("payments"), "payments", "", "missing_table", 0, ""),
    (_drop_column("loans", "principal"), "loans", "principal", "missing_column", 0, ""),
    (_duplicate_column, "customers", "segment", "duplicate_column", 0, ""),
    (
        _set("customers", "branch_id", [1], [None]),
        "customers",
        "branch_id",
        "missing_value",
        1,
        "C002",
    ),
    (_set("loans", "loan_id", [2], [""]), "loans", "loan_id", "missing_value", 1, "row 3"),
    (
        _set("loans", "origination_date", [1], ["10/02/2026"]),
        "loans",
        "origination_date",
        "unparsable_date",
        1,
        "L002",
    ),
    (
        _set("installments", "due_date", [5, 6], ["2026-03-32", "2026-04"]),
        "installments",
        "due_date",
        "unparsable_date",
        2,
        "L002 on '2026-03-32', L002 on '2026-04'",
    ),
    (
        _set("installments", "amount_due", [0], ["245,0"]),
        "installments",
        "amount_due",
        "unparsable_number",
        1,
        "L001 on 2026-02-05",
    ),
    (
        _set("staff", "visits_per_day", [0], [2.5]),
        "staff",
        "visits_per_day",
        "unparsable_number",
        1,
        "O01",
    ),
    (
        _set("customers", "do_not_visit", [2], ["maybe"]),
        "customers",
        "do_not_visit",
        "unparsable_bool",
        1,
        "C003",
    ),
    (
        _set("customers", "customer_id", [2], ["C002"]),
        "customers",
        "customer_id",
        "duplicate_id",
        2,
        "C002",
    ),
    (_set("loans", "loan_id", [3], ["L003"]), "loans", "loan_id", "duplicate_id", 2, "L003"),
    (_set("staff", "officer_id", [1], ["O01"]), "staff", "officer_id", "duplicate_id", 2, "O01"),
    (
        _set("branches", "branch_id", [1], ["B01"]),
        "branches",
        "branch_id",
        "duplicate_id",
        2,
        "B01",
    ),
    (
        _set("customers", "branch_id", [2], ["B09"]),
        "customers",
        "branch_id",
        "orphan_foreign_key",
        1,
        "C003",
    ),
    (
        _set("loans", "customer_id", [3], ["C999"]),
        "loans",
        "customer_id",
        "orphan_foreign_key",
        1,
        "L004",
    ),
    (
        _set("installments", "loan_id", [8, 9], ["L999", "L999"]),
        "installments",
        "loan_id",
        "orphan_foreign_key",
        2,
        "L999 on 2026-02-15, L999 on 2026-03-15",
    ),
    (
        _set("payments", "loan_id", [0], ["L999"]),
        "payments",
        "loan_id",
        "orphan_foreign_key",
        1,
        "L999 on 2026-02-05",
    ),
    (
        _set("visits", "customer_id", [0], ["C999"]),
        "visits",
        "customer_id",
        "orphan_foreign_key",
        1,
        "C999 on 2026-04-01",
    ),
    (
        _set("staff", "branch_id", [1], ["B09"]),
        "staff",
        "branch_id",
        "orphan_foreign_key",
        1,
        "O02",
    ),
    (
        _set("loans", "principal", [0, 2], [0.0, -5.0]),
        "loans",
        "principal",
        "non_positive_principal",
        2,
        "L001, L003",
    ),
    (
        _set("installments", "amount_due", [16], [-1.0]),
        "installments",
        "amount_due",
        "negative_amount_due",
        1,
        "L004 on 2026-07-20",
    ),
    (
        _set("payments", "amount", [4], [-205.0]),
        "payments",
        "amount",
        "non_positive_payment",
        1,
        "L002 on 2026-04-25",
    ),
    (
        _set("installments", "due_date", [5], [pd.Timestamp("2026-02-01")]),
        "installments",
        "due_date",
        "due_before_origination",
        1,
        "L002 on 2026-02-01",
    ),
    (
        _set("payments", "payment_date", [3], [pd.Timestamp("2026-02-09")]),
        "payments",
        "payment_date",
        "payment_before_origination",
        1,
        "L002 on 2026-02-09",
    ),
    (
        _set("visits", "outcome", [1], ["left_note"]),
        "visits",
        "outcome",
        "unknown_visit_outcome",
        1,
        "C003 on 2026-04-02",
    ),
    (
        _set("staff", "visits_per_day", [1], [-1]),
        "staff",
        "visits_per_day",
        "negative_visits_per_day",
        1,
        "O02",
    ),
    (
        _set("staff", "working_days", [1], ["Mon Wed Fry"]),
        "staff",
        "working_days",
        "unknown_weekday",
        1,
        "O02",
    ),
    (
        _set("staff", "absent_dates", [0], ["2026-04-06 06/04/2026"]),
        "staff",
        "absent_dates",
        "unparsable_date",
        1,
        "O01",
    ),
    (
        _set("staff", "covers_branches", [0], ["B02 B77"]),
        "staff",
        "covers_branches",
        "unknown_covered_branch",
        1,
        "O01",
    ),
    (
        _set("customers", "latitude", [0], [91.0]),
        "customers",
        "latitude",
        "latitude_out_of_range",
        1,
        "C001",
    ),
    (
        _set("branches", "longitude", [1], [-181.0]),
        "branches",
        "longitude",
        "longitude_out_of_range",
        1,
        "B02",
    ),
]


@pytest.mark.parametrize(
    ("mutate", "table", "column", "rule", "count", "examples"),
    ERROR_CASES,
    ids=[f"{case[1]}.{case[2]}-{case[3]}" for case in ERROR_CASES],
)
def test_each_rule_fires_with_table_column_count_and_examples(
    tiny_tables, mutate, table, column, rule, count, examples
):
    mutate(tiny_tables)

    problems = _errors(tiny_tables)

    found = problems[problems["rule"] == rule]
    assert found[["table", "column", "count", "examples"]].values.tolist() == [
        [table, column, count, examples]
    ]
    message = found["message"].iloc[0]
    assert message.startswith(f"{table}.{column}:" if column else f"{table}:")
    assert f"(rule {rule})" in message


def test_message_reads_like_a_sentence(tiny_tables):
    _put(tiny_tables, "loans", "principal", [0, 2, 3], [0.0, -5.0, -1.0])

    problems = _errors(tiny_tables)

    assert problems["message"].tolist() == [
        "loans.principal: 3 rows have principal <= 0 (rule non_positive_principal); "
        "e.g. loan_id L001, L003, L004"
    ]


def test_unparsable_values_are_quoted_and_not_also_reported_missing(tiny_tables):
    _put(tiny_tables, "loans", "origination_date", [1], ["2026/02/10"])

    problems = _errors(tiny_tables)

    assert problems["rule"].tolist() == ["unparsable_date"]
    assert problems["message"].iloc[0] == (
        "loans.origination_date: 1 row has an origination_date that is not an ISO date "
        "YYYY-MM-DD ('2026/02/10') (rule unparsable_date); e.g. loan_id L002"
    )


def test_missing_column_is_reported_once_and_dependent_checks_are_skipped(tiny_tables):
    tiny_tables["loans"] = tiny_tables["loans"].drop(columns="loan_id")

    problems = _errors(tiny_tables)

    assert problems[["table", "column", "rule"]].values.tolist() == [
        ["loans", "loan_id", "missing_column"]
    ]


def test_missing_column_that_is_the_index_gets_a_hint(tiny_tables):
    tiny_tables["customers"] = tiny_tables["customers"].set_index("customer_id")

    problems = _errors(tiny_tables)

    assert problems["message"].iloc[0].startswith("customers.customer_id: column is missing")
    assert "reset_index()" in problems["message"].iloc[0]


def test_many_problems_in_many_tables_raise_once_listing_all(tiny_tables):
    # A blank loan_id or origination_date would hide the duplicate and date rules on it.
    hiding = {
        ("loans", "loan_id", "missing_value"),
        ("loans", "origination_date", "unparsable_date"),
    }
    cases = [case for case in ERROR_CASES[3:] if (case[1], case[2], case[3]) not in hiding]
    for mutate, *_ in cases:
        mutate(tiny_tables)
    expected = {(case[1], case[2], case[3]) for case in cases}

    with pytest.raises(DataError, match=r"^\d+ problem\(s\) in the input tables:\n  - ") as caught:
        load_portfolio(**tiny_tables)

    problems = caught.value.problems
    assert list(problems.columns) == list(PROBLEM_COLUMNS)
    assert expected <= set(map(tuple, problems[["table", "column", "rule"]].values.tolist()))
    assert str(caught.value).count("\n  - ") == len(problems)
    tables = problems["table"].map(TABLES.index)
    assert tables.is_monotonic_increasing


def test_data_error_carries_warnings_and_row_counts(tiny_tables):
    del tiny_tables["visits"], tiny_tables["branches"]
    _put(tiny_tables, "loans", "principal", [0], [-1.0])

    with pytest.raises(DataError, match="non_positive_principal") as caught:
        load_portfolio(**tiny_tables)

    assert caught.value.warnings["rule"].tolist() == ["no_visit_log"]
    assert caught.value.row_counts["installments"] == 17
    assert caught.value.row_counts["branches"] is None


# --------------------------------------------------------------------------- warnings


def _add_row(table: str, row: dict[str, object]) -> Callable[[Tables], None]:
    def mutate(tables: Tables) -> None:
        tables[table] = pd.concat([tables[table], pd.DataFrame([row])], ignore_index=True)

    return mutate


def _drop_rows(table: str, loan_id: str) -> Callable[[Tables], None]:
    def mutate(tables: Tables) -> None:
        frame = tables[table]
        tables[table] = frame[frame["loan_id"] != loan_id]

    return mutate


WARNING_CASES = [
    (
        _add_row(
            "payments",
            {"loan_id": "L003", "payment_date": pd.Timestamp("2026-04-15"), "amount": 2000.0},
        ),
        "payments",
        "amount",
        "payments_exceed_schedule",
        1,
        "L003",
    ),
    (
        _drop_rows("installments", "L002"),
        "loans",
        "loan_id",
        "loan_without_installments",
        1,
        "L002",
    ),
    (
        _add_row("customers", {"customer_id": "C004", "branch_id": "B02"}),
        "customers",
        "customer_id",
        "customer_without_loans",
        1,
        "C004",
    ),
    (
        _set("visits", "officer_id", [2], ["O77"]),
        "visits",
        "officer_id",
        "unknown_officer",
        1,
        "C001 on 2026-04-20",
    ),
    (
        _set("loans", "maturity_date", [0], [pd.Timestamp("2026-05-05")]),
        "installments",
        "due_date",
        "installment_after_maturity",
        1,
        "L001 on 2026-06-05",
    ),
    (_set("staff", "officer_id", [0, 1], [7, 8]), "staff", "officer_id", "id_as_number", 2, "7, 8"),
    (
        _set("visits", "officer_id", [1], [2]),
        "visits",
        "officer_id",
        "id_as_number",
        1,
        "C003 on 2026-04-02",
    ),
    (_drop_table("visits"), "visits", "", "no_visit_log", 0, ""),
]


@pytest.mark.parametrize(
    ("mutate", "table", "column", "rule", "count", "examples"),
    WARNING_CASES,
    ids=[f"{case[1]}.{case[2]}-{case[3]}" for case in WARNING_CASES],
)
def test_each_warning_lands_in_portfolio_warnings(
    tiny_tables, mutate, table, column, rule, count, examples
):
    mutate(tiny_tables)

    warnings = load_portfolio(**tiny_tables).warnings

    found = warnings[warnings["rule"] == rule]
    assert found[["table", "column", "count", "examples"]].values.tolist() == [
        [table, column, count, examples]
    ]


def test_payment_excess_threshold_is_one_and_a_half_times_the_schedule(tiny_tables):
    # L003 is scheduled 915 and paid 455: 1,372.5 in total is exactly 1.5 times, not above.
    add = _add_row(
        "payments", {"loan_id": "L003", "payment_date": pd.Timestamp("2026-04-15"), "amount": 917.5}
    )
    add(tiny_tables)
    assert load_portfolio(**tiny_tables).warnings.empty

    _put(tiny_tables, "payments", "amount", [10], [917.6])
    assert load_portfolio(**tiny_tables).warnings["rule"].tolist() == ["payments_exceed_schedule"]


# --------------------------------------------------------------------------- files and parameters


def test_both_csv_and_parquet_for_one_table_is_a_problem(tiny_tables, tmp_path):
    _write_folder(tiny_tables, tmp_path / "data", "csv")
    tiny_tables["loans"].to_parquet(tmp_path / "data" / "loans.parquet")

    with pytest.raises(DataError, match=r"both loans\.csv and loans\.parquet") as caught:
        load_portfolio(tmp_path / "data")

    assert caught.value.problems["rule"].tolist() == ["duplicate_table_file"]


def test_missing_table_file_names_the_other_files_found(tiny_tables, tmp_path):
    _write_folder(tiny_tables, tmp_path / "data", "csv")
    (tmp_path / "data" / "payments.csv").rename(tmp_path / "data" / "payment.csv")

    with pytest.raises(DataError, match=re.escape("other files there: payment.csv")) as caught:
        load_portfolio(tmp_path / "data")

    assert caught.value.problems[["table", "rule"]].values.tolist() == [
        ["payments", "missing_table"]
    ]


def test_csv_that_is_not_utf8_is_reported_not_garbled(tiny_tables, tmp_path):
    _write_folder(tiny_tables, tmp_path / "data", "csv")
    tiny_tables["branches"]["name"] = ["梨树", "公主岭"]
    tiny_tables["branches"].to_csv(tmp_path / "data" / "branches.csv", index=False, encoding="gbk")

    with pytest.raises(DataError, match=r"branches\.csv cannot be read: it is not UTF-8") as caught:
        load_portfolio(tmp_path / "data")

    assert caught.value.problems["rule"].tolist() == ["unreadable_file"]


def test_ragged_csv_is_reported(tiny_tables, tmp_path):
    _write_folder(tiny_tables, tmp_path / "data", "csv")
    with (tmp_path / "data" / "visits.csv").open("a", encoding="utf-8") as handle:
        handle.write("C001,2026-04-21,O01,met,extra,cells\n")

    with pytest.raises(DataError, match=r"visits.csv cannot be read: .*columns"):
        load_portfolio(tmp_path / "data")


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (
            lambda t: load_portfolio(**t, allow_reversals="yes"),
            TypeError,
            r"'allow_reversals' .* bool\. Got 'yes'",
        ),
        (lambda t: load_portfolio(**t, currency=""), TypeError, r"'currency' .* non-empty str"),
        (
            lambda t: load_portfolio(**{**t, "loans": t["loans"].to_dict()}),
            TypeError,
            r"'loans' .* DataFrame or None\. Got dict",
        ),
        (lambda t: load_portfolio(42), TypeError, r"'path' .* Got int instead"),
        (
            lambda t: load_portfolio("/no/such/folder"),
            ValueError,
            r"'path' .* existing folder.*does not exist",
        ),
        (
            lambda t: load_portfolio("/tmp", loans=t["loans"]),
            ValueError,
            r"either 'path' or the tables",
        ),
        (lambda t: load_portfolio(), ValueError, r"needs a folder \('path'\) or the tables"),
    ],
    ids=[
        "allow_reversals",
        "currency",
        "frame-type",
        "path-type",
        "path-missing",
        "both",
        "neither",
    ],
)
def test_bad_parameters_name_parameter_expectation_and_value(tiny_tables, call, error, match):
    with pytest.raises(error, match=match):
        call(tiny_tables)


def test_path_that_is_a_file_is_rejected(tmp_path):
    (tmp_path / "loans.csv").write_text("loan_id\n", encoding="utf-8")

    with pytest.raises(ValueError, match=r"existing folder .*which is a file"):
        load_portfolio(tmp_path / "loans.csv")


def test_validation_does_not_pass_on_pysparks_pandas_warning() -> None:
    # pandera probes PySpark when the spark extra is installed; PySpark's pandas-3 warning
    # must not reach users validating with pandas. A fresh interpreter: the probe runs once.
    script = (
        "from visitrisk.simulate import simulate_portfolio\n"
        "simulate_portfolio(200, seed=0, history_months=6)\n"
    )
    done = subprocess.run(
        [sys.executable, "-W", "error::FutureWarning", "-c", script],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
