"""Tests of the FIFO ledger against the data contract and a slow reference loop."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reference_ledger import (
    reference_customer_ledger,
    reference_loan_ledger,
    reference_settle_installments,
)
from visitrisk import DataError, customer_ledger, loan_ledger, settle_installments
from visitrisk import _grouped as grouped
from visitrisk import _idcodes as idcodes
from visitrisk._idcodes import encode_ids

BASE = pd.Timestamp("2026-01-01")
UNITS = ("s", "ms", "us", "ns")

LOAN_COLUMNS = [
    "loan_id",
    "as_of",
    "due_to_date",
    "paid_to_date",
    "arrears",
    "days_past_due",
    "oldest_unpaid_due_date",
]
CUSTOMER_COLUMNS = [
    "customer_id",
    "as_of",
    "days_past_due",
    "arrears",
    "due_to_date",
    "paid_to_date",
    "loans_past_due",
]
SETTLE_COLUMNS = [
    "loan_id",
    "due_date",
    "amount_due",
    "cumulative_due",
    "covered_date",
    "days_late",
]


# --------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------


def schedule(rows, unit="us") -> pd.DataFrame:
    """Installments from (loan_id, due date, amount) tuples."""
    frame = pd.DataFrame(rows, columns=["loan_id", "due_date", "amount_due"])
    frame["loan_id"] = frame["loan_id"].astype("str")
    frame["due_date"] = pd.to_datetime(frame["due_date"]).dt.as_unit(unit)
    frame["amount_due"] = frame["amount_due"].astype(float)
    return frame


def received(rows, unit="us") -> pd.DataFrame:
    """Payments from (loan_id, payment date, amount) tuples."""
    frame = pd.DataFrame(rows, columns=["loan_id", "payment_date", "amount"])
    frame["loan_id"] = frame["loan_id"].astype("str")
    frame["payment_date"] = pd.to_datetime(frame["payment_date"]).dt.as_unit(unit)
    frame["amount"] = frame["amount"].astype(float)
    return frame


def state_of(frame: pd.DataFrame, loan_id: str, as_of: str) -> pd.Series:
    rows = frame[(frame["loan_id"] == loan_id) & (frame["as_of"] == pd.Timestamp(as_of))]
    assert len(rows) == 1
    return rows.iloc[0]


def assert_frames_match(actual: pd.DataFrame, expected: pd.DataFrame, check_index=False) -> None:
    assert list(actual.columns) == list(expected.columns)
    assert len(actual) == len(expected)
    if check_index:
        assert list(actual.index) == list(expected.index)
    for column in expected.columns:
        got, want = actual[column], expected[column]
        if pd.api.types.is_datetime64_dtype(got.dtype):
            got_days = got.to_numpy().astype("datetime64[D]")
            want_days = pd.to_datetime(want).to_numpy().astype("datetime64[D]")
            np.testing.assert_array_equal(got_days, want_days, err_msg=column)
        elif pd.api.types.is_float_dtype(got.dtype):
            np.testing.assert_allclose(
                got.to_numpy(), want.to_numpy(float), atol=1e-6, err_msg=column
            )
        else:
            assert got.tolist() == want.tolist(), column


def random_portfolio(seed: int, n_loans: int = 150):
    """A seeded messy portfolio built with NumPy: several loans per customer, all quirks."""
    rng = np.random.default_rng(seed)
    loan_ids = np.array([f"{i:05d}" for i in range(n_loans)])
    n_inst = rng.integers(0, 10, n_loans)
    inst_loan = np.repeat(loan_ids, n_inst)
    due_offset = rng.integers(0, 400, len(inst_loan)) // rng.choice([1, 30], len(inst_loan)) * 3
    cents = rng.integers(0, 40_000, len(inst_loan))
    cents[rng.random(len(cents)) < 0.15] = 0
    installments = pd.DataFrame(
        {
            "loan_id": pd.Series(inst_loan, dtype="str"),
            "due_date": BASE + pd.to_timedelta(due_offset, unit="D"),
            "amount_due": cents / 100,
        }
    )
    n_pay = rng.integers(0, 12, n_loans)
    pay_loan = np.repeat(loan_ids, n_pay)
    pay_cents = rng.integers(1, 60_000, len(pay_loan))
    pay_cents[rng.random(len(pay_cents)) < 0.05] *= -1
    payments = pd.DataFrame(
        {
            "loan_id": pd.Series(pay_loan, dtype="str"),
            "payment_date": BASE + pd.to_timedelta(rng.integers(-30, 450, len(pay_loan)), "D"),
            "amount": pay_cents / 100,
        }
    )
    loans = pd.DataFrame(
        {
            "loan_id": pd.Series(loan_ids, dtype="str"),
            "customer_id": pd.Series(
                [f"C{i:03d}" for i in rng.integers(0, n_loans // 2, n_loans)], dtype="str"
            ),
        }
    )
    as_of = BASE + pd.to_timedelta(np.sort(rng.integers(-10, 460, 6)), unit="D")
    return loans, installments.sample(frac=1, random_state=seed), payments, as_of


# --------------------------------------------------------------------------------------
# Property tests against the reference loop
# --------------------------------------------------------------------------------------


@st.composite
def portfolios(draw):
    n_loans = draw(st.integers(1, 4))
    loan_ids = draw(
        st.lists(
            st.sampled_from(["L1", "L2", "007", "a b", "贷款9", "L10", "L01"]),
            min_size=n_loans,
            max_size=n_loans,
            unique=True,
        )
    )
    customers = draw(
        st.lists(st.sampled_from(["C1", "C2", "C3"]), min_size=n_loans, max_size=n_loans)
    )
    amount_cents = st.one_of(
        st.just(0), st.integers(1, 50_000), st.sampled_from([1, 10, 20, 30, 33, 10_000])
    )
    due_offset = st.one_of(st.integers(0, 240), st.sampled_from([0, 31, 59, 90]))
    inst_rows, pay_rows, due_offsets = [], [], []
    for loan_id in loan_ids:
        amounts = []
        for _ in range(draw(st.integers(0, 6))):
            offset, cents = draw(due_offset), draw(amount_cents)
            inst_rows.append((loan_id, BASE + pd.Timedelta(days=offset), cents / 100))
            amounts.append(cents)
            due_offsets.append(offset)
        paid_so_far: list[int] = []
        for _ in range(draw(st.integers(0, 7))):
            kind = draw(st.sampled_from(["exact", "two", "random", "small", "reversal"]))
            if kind == "exact" and amounts:
                cents = draw(st.sampled_from(amounts))
            elif kind == "two" and amounts:
                cents = draw(st.sampled_from(amounts)) + draw(st.sampled_from(amounts))
            elif kind == "small":
                cents = draw(st.sampled_from([1, 10, 20, 30]))
            elif kind == "reversal" and paid_so_far:
                cents = -draw(st.sampled_from(paid_so_far))
            else:
                cents = draw(st.integers(1, 80_000))
            if cents == 0:
                continue
            offset = draw(st.one_of(st.integers(-40, 300), due_offset))
            pay_rows.append((loan_id, BASE + pd.Timedelta(days=offset), cents / 100))
            paid_so_far.append(cents)
    installments = schedule(inst_rows, unit=draw(st.sampled_from(UNITS)))
    payments = received(pay_rows, unit=draw(st.sampled_from(UNITS)))
    installments = installments.iloc[draw(st.permutations(range(len(installments))))]
    payments = payments.iloc[draw(st.permutations(range(len(payments))))]
    as_of_offsets = draw(
        st.lists(
            st.one_of(st.integers(-60, 330), st.sampled_from(due_offsets or [0])),
            min_size=1,
            max_size=4,
        )
    )
    as_of = [BASE + pd.Timedelta(days=offset) for offset in as_of_offsets]
    loans = pd.DataFrame({"loan_id": loan_ids, "customer_id": customers}, dtype="str")
    return loans, installments, payments, as_of


PROPERTY_SETTINGS = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


@PROPERTY_SETTINGS
@given(portfolios())
def test_loan_ledger_matches_reference(portfolio):
    _, installments, payments, as_of = portfolio
    expected = reference_loan_ledger(installments, payments, as_of)
    actual = loan_ledger(installments, payments, as_of)
    assert_frames_match(actual, expected)


@PROPERTY_SETTINGS
@given(portfolios())
def test_customer_ledger_matches_reference(portfolio):
    loans, installments, payments, as_of = portfolio
    loan_state = loan_ledger(installments, payments, as_of)
    expected = reference_customer_ledger(loans, loan_state)
    assert_frames_match(customer_ledger(loans, loan_state), expected)


@PROPERTY_SETTINGS
@given(portfolios())
def test_settle_installments_matches_reference(portfolio):
    _, installments, payments, _ = portfolio
    expected = reference_settle_installments(installments, payments)
    actual = settle_installments(installments, payments)
    assert_frames_match(actual, expected, check_index=True)


@pytest.mark.parametrize("seed", [0, 1])
def test_messy_portfolio_matches_reference(seed):
    loans, installments, payments, as_of = random_portfolio(seed)
    loan_state = loan_ledger(installments, payments, as_of)
    expected_state = reference_loan_ledger(installments, payments, as_of)
    assert_frames_match(loan_state, expected_state)
    assert_frames_match(
        customer_ledger(loans, loan_state), reference_customer_ledger(loans, expected_state)
    )
    assert_frames_match(
        settle_installments(installments, payments),
        reference_settle_installments(installments, payments),
        check_index=True,
    )
    # The seed makes a portfolio with every kind of state, or this test proves little.
    assert (loan_state["days_past_due"] > 0).any()
    assert ((loan_state["arrears"] > 0) & (loan_state["days_past_due"] == 0)).any()


def test_packed_keys_fall_back_to_chunks_without_changing_results(monkeypatch):
    _, installments, payments, as_of = random_portfolio(3, n_loans=60)
    expected_state = loan_ledger(installments, payments, as_of)
    expected_settle = settle_installments(installments, payments)
    # A tiny key bound forces the lexsort and chunked-search fallbacks for huge inputs.
    monkeypatch.setattr(grouped, "_KEY_LIMIT", 5_000)
    pd.testing.assert_frame_equal(loan_ledger(installments, payments, as_of), expected_state)
    pd.testing.assert_frame_equal(settle_installments(installments, payments), expected_settle)


@pytest.mark.parametrize(
    ("due", "paid", "as_of"),
    [
        # Centuries apart: as-of buckets found by binary search instead of a day table.
        (["1850-01-31", "2150-01-31"], ["1850-02-10", "2149-12-01"], ["1850-03-01", "2150-02-01"]),
        # Around 1970-01-01: negative day numbers.
        (["1969-12-20", "1970-01-10"], ["1969-12-25", "1970-01-05"], ["1969-12-31", "1970-01-20"]),
    ],
)
def test_dates_far_from_today_match_reference(due, paid, as_of):
    installments = schedule([("L1", due[0], 10.0), ("L1", due[1], 20.0)])
    payments = received([("L1", paid[0], 5.0), ("L1", paid[1], 30.0)])
    assert_frames_match(
        loan_ledger(installments, payments, as_of),
        reference_loan_ledger(installments, payments, as_of),
    )


# --------------------------------------------------------------------------------------
# Named edge cases from the contract, with hand-computed answers
# --------------------------------------------------------------------------------------


def test_payment_on_the_due_date_covers_it():
    installments = schedule([("L1", "2026-01-31", 100.0)])
    payments = received([("L1", "2026-01-31", 100.0)])
    state = loan_ledger(installments, payments, ["2026-01-30", "2026-01-31", "2026-02-01"])
    assert state["days_past_due"].tolist() == [0, 0, 0]
    assert state["arrears"].tolist() == [0.0, 0.0, 0.0]
    settled = settle_installments(installments, payments)
    assert settled["covered_date"].tolist() == [pd.Timestamp("2026-01-31")]
    assert settled["days_late"].tolist() == [0.0]


def test_installment_due_today_is_in_arrears_with_zero_days_past_due():
    state = loan_ledger(
        schedule([("L1", "2026-01-31", 100.0)]),
        received([]),
        ["2026-01-31", "2026-02-01"],
    )
    today, tomorrow = state.iloc[0], state.iloc[1]
    assert today["arrears"] == 100.0
    assert today["days_past_due"] == 0
    assert pd.isna(today["oldest_unpaid_due_date"])
    assert tomorrow["days_past_due"] == 1
    assert tomorrow["oldest_unpaid_due_date"] == pd.Timestamp("2026-01-31")


def test_zero_amount_installments_never_make_a_loan_past_due():
    installments = schedule(
        [
            ("GRACE", "2026-01-31", 0.0),
            ("GRACE", "2026-02-28", 100.0),
            ("ONLY_ZERO", "2026-01-31", 0.0),
        ]
    )
    state = loan_ledger(installments, received([]), ["2026-02-15", "2026-03-02"])
    assert state_of(state, "GRACE", "2026-02-15")["days_past_due"] == 0
    assert state_of(state, "GRACE", "2026-03-02")["days_past_due"] == 2  # from 02-28, not 01-31
    assert (state[state["loan_id"] == "ONLY_ZERO"]["days_past_due"] == 0).all()
    settled = settle_installments(installments, received([]))
    zero = settled[settled["loan_id"] == "ONLY_ZERO"].iloc[0]
    assert zero["covered_date"] == pd.Timestamp("2026-01-31")
    assert zero["days_late"] == 0.0


def test_loan_prepaid_in_full_before_any_due_date():
    installments = schedule(
        [("L1", "2026-01-31", 100.0), ("L1", "2026-02-28", 100.0), ("L1", "2026-03-31", 100.0)]
    )
    payments = received([("L1", "2026-01-02", 300.0)])
    month_ends = pd.date_range("2026-01-01", "2026-06-30", freq="ME")
    state = loan_ledger(installments, payments, month_ends)
    assert (state["arrears"] == 0).all()
    assert (state["days_past_due"] == 0).all()
    settled = settle_installments(installments, payments)
    assert (settled["covered_date"] == pd.Timestamp("2026-01-02")).all()
    assert (settled["days_late"] == 0).all()


def test_partial_payment_before_the_first_due_date_counts_later():
    installments = schedule([("L1", "2026-01-31", 100.0)])
    payments = received([("L1", "2026-01-10", 50.0)])
    state = loan_ledger(installments, payments, ["2026-01-10", "2026-02-05"])
    assert state["due_to_date"].tolist() == [0.0, 100.0]
    assert state["paid_to_date"].tolist() == [50.0, 50.0]
    assert state["arrears"].tolist() == [0.0, 50.0]
    assert state["days_past_due"].tolist() == [0, 5]


def test_overpayment_carries_forward_to_the_next_installment():
    installments = schedule([("L1", "2026-01-31", 100.0), ("L1", "2026-02-28", 100.0)])
    payments = received([("L1", "2026-01-31", 150.0)])
    state = loan_ledger(installments, payments, ["2026-02-01", "2026-02-28", "2026-03-02"])
    assert state["arrears"].tolist() == [0.0, 50.0, 50.0]
    assert state["days_past_due"].tolist() == [0, 0, 2]
    assert state["oldest_unpaid_due_date"].iloc[2] == pd.Timestamp("2026-02-28")
    settled = settle_installments(installments, payments)
    assert settled["covered_date"].iloc[0] == pd.Timestamp("2026-01-31")
    assert pd.isna(settled["covered_date"].iloc[1])
    assert np.isnan(settled["days_late"].iloc[1])


def test_float_cents_never_create_a_false_days_past_due():
    assert 0.1 + 0.2 > 0.3  # the float trap this test is about
    installments = schedule([("L1", "2026-01-31", 0.1), ("L1", "2026-01-31", 0.2)] * 5)
    payments = received([("L1", "2026-01-31", 0.3)] * 4 + [("L1", "2026-01-31", 0.1 + 0.2)])
    state = loan_ledger(installments, payments, ["2026-03-01"])
    assert state["arrears"].tolist() == [0.0]
    assert state["days_past_due"].tolist() == [0]
    assert settle_installments(installments, payments)["days_late"].tolist() == [0.0] * 10


def test_as_of_before_origination_is_all_zero():
    installments = schedule([("L1", "2026-01-31", 100.0)])
    payments = received([("L1", "2026-01-15", 100.0)])
    state = loan_ledger(installments, payments, "2025-06-30").iloc[0]
    assert state["due_to_date"] == state["paid_to_date"] == state["arrears"] == 0.0
    assert state["days_past_due"] == 0
    assert pd.isna(state["oldest_unpaid_due_date"])


def test_loan_with_payments_but_no_installments():
    installments = schedule([("L1", "2026-01-31", 100.0)])
    payments = received([("L2", "2026-01-15", 40.0)])
    state = loan_ledger(installments, payments, ["2026-02-01"])
    assert state["loan_id"].tolist() == ["L1", "L2"]
    other = state_of(state, "L2", "2026-02-01")
    assert (other["due_to_date"], other["paid_to_date"], other["arrears"]) == (0.0, 40.0, 0.0)
    assert other["days_past_due"] == 0
    assert settle_installments(installments, payments)["loan_id"].tolist() == ["L1"]


def test_reversal_reopens_arrears_from_its_date():
    installments = schedule([("L1", "2026-01-31", 100.0)])
    payments = received(
        [("L1", "2026-01-31", 100.0), ("L1", "2026-02-03", -100.0), ("L1", "2026-02-10", 100.0)]
    )
    state = loan_ledger(installments, payments, ["2026-02-01", "2026-02-05", "2026-02-10"])
    assert state["paid_to_date"].tolist() == [100.0, 0.0, 100.0]
    assert state["arrears"].tolist() == [0.0, 100.0, 0.0]
    assert state["days_past_due"].tolist() == [0, 5, 0]
    # covered_date is the first date of coverage: the later bounce does not move it.
    assert settle_installments(installments, payments)["covered_date"].tolist() == [
        pd.Timestamp("2026-01-31")
    ]


def test_net_reversal_keeps_the_contract_formula():
    # A reversal with nothing paid before it: paid is negative, arrears is due - paid,
    # yet no installment is uncovered, so the loan is not past due.
    state = loan_ledger(schedule([]), received([("L1", "2026-01-05", -20.0)]), "2026-02-01")
    assert state["paid_to_date"].tolist() == [-20.0]
    assert state["arrears"].tolist() == [20.0]
    assert state["days_past_due"].tolist() == [0]


def test_several_rows_on_one_due_date_are_one_obligation():
    installments = schedule([("L1", "2026-01-31", 60.0), ("L1", "2026-01-31", 40.0)])
    payments = received([("L1", "2026-02-05", 70.0)])
    state = loan_ledger(installments, payments, ["2026-02-10"]).iloc[0]
    assert state["arrears"] == 30.0
    assert state["days_past_due"] == 10
    settled = settle_installments(installments, payments)
    assert settled["cumulative_due"].tolist() == [60.0, 100.0]
    assert settled["covered_date"].iloc[0] == pd.Timestamp("2026-02-05")
    assert pd.isna(settled["covered_date"].iloc[1])


def test_customer_takes_worst_loan_and_sums_amounts():
    installments = schedule([("A", "2026-01-31", 100.0), ("B", "2026-02-20", 50.0)])
    loans = pd.DataFrame(
        {"loan_id": ["A", "B", "C"], "customer_id": ["C1", "C1", "C2"]}, dtype="str"
    )
    state = loan_ledger(installments, received([("B", "2026-02-01", 10.0)]), ["2026-03-01"])
    customers = customer_ledger(loans, state)
    assert customers["customer_id"].tolist() == ["C1", "C2"]  # C2 has no ledger rows: zeros
    first = customers.iloc[0]
    assert first["days_past_due"] == 29
    assert first["arrears"] == 140.0
    assert first["due_to_date"] == 150.0
    assert first["paid_to_date"] == 10.0
    assert first["loans_past_due"] == 2
    assert customers.iloc[1][["days_past_due", "arrears", "loans_past_due"]].tolist() == [0, 0, 0]


# --------------------------------------------------------------------------------------
# Types, inputs and errors
# --------------------------------------------------------------------------------------


def test_output_dtypes():
    loans, installments, payments, as_of = random_portfolio(5, n_loans=20)
    state = loan_ledger(installments, payments, as_of)
    assert list(state.columns) == LOAN_COLUMNS
    assert state.dtypes.astype(str).tolist() == [
        "str",
        "datetime64[us]",
        "float64",
        "float64",
        "float64",
        "int64",
        "datetime64[us]",
    ]
    customers = customer_ledger(loans, state)
    assert list(customers.columns) == CUSTOMER_COLUMNS
    assert customers.dtypes.astype(str).tolist() == [
        "str",
        "datetime64[us]",
        "int64",
        "float64",
        "float64",
        "float64",
        "int64",
    ]
    settled = settle_installments(installments, payments)
    assert list(settled.columns) == SETTLE_COLUMNS
    assert settled.dtypes.astype(str).tolist() == [
        "str",
        "datetime64[us]",
        "float64",
        "float64",
        "datetime64[us]",
        "float64",
    ]


def test_empty_inputs_give_typed_empty_frames():
    state = loan_ledger(schedule([]), received([]), ["2026-01-31"])
    assert state.empty
    assert list(state.columns) == LOAN_COLUMNS
    assert state["days_past_due"].dtype == np.int64
    settled = settle_installments(schedule([]), received([]))
    assert settled.empty
    assert list(settled.columns) == SETTLE_COLUMNS


def test_inputs_are_not_mutated():
    loans, installments, payments, as_of = random_portfolio(7, n_loans=30)
    originals = [frame.copy(deep=True) for frame in (loans, installments, payments)]
    state = loan_ledger(installments, payments, as_of)
    state_copy = state.copy(deep=True)
    customer_ledger(loans, state)
    settle_installments(installments, payments)
    for original, frame in zip(originals, (loans, installments, payments), strict=True):
        pd.testing.assert_frame_equal(frame, original)
    pd.testing.assert_frame_equal(state, state_copy)


@pytest.mark.parametrize(
    "as_of",
    [
        "2026-03-01",
        pd.Timestamp("2026-03-01"),
        np.datetime64("2026-03-01"),
        dt.date(2026, 3, 1),
        dt.datetime(2026, 3, 1, 15, 30),
        ["2026-03-01"],
        pd.DatetimeIndex(["2026-03-01", "2026-03-01"]),
        pd.Series(pd.to_datetime(["2026-03-01"])),
    ],
)
def test_as_of_accepts_one_date_or_a_sequence(as_of):
    installments = schedule([("L1", "2026-01-31", 100.0)])
    state = loan_ledger(installments, received([]), as_of)
    assert state["as_of"].tolist() == [pd.Timestamp("2026-03-01")]
    assert state["days_past_due"].tolist() == [29]


def test_several_as_of_dates_are_sorted_and_deduplicated():
    installments = schedule([("L2", "2026-01-31", 100.0), ("L1", "2026-01-31", 100.0)])
    state = loan_ledger(installments, received([]), ["2026-03-01", "2026-02-01", "2026-03-01"])
    assert state["loan_id"].tolist() == ["L1", "L1", "L2", "L2"]
    assert state["as_of"].tolist() == [pd.Timestamp("2026-02-01"), pd.Timestamp("2026-03-01")] * 2


def test_row_order_and_categorical_ids_do_not_change_results():
    loans, installments, payments, as_of = random_portfolio(11, n_loans=40)
    expected = loan_ledger(installments, payments, as_of)
    shuffled = installments.sample(frac=1, random_state=1)
    categorical = shuffled.assign(
        loan_id=shuffled["loan_id"].astype(pd.CategoricalDtype([*loans["loan_id"][::-1], "UNUSED"]))
    )
    pay_categorical = payments.assign(loan_id=payments["loan_id"].astype("category"))
    pd.testing.assert_frame_equal(loan_ledger(categorical, pay_categorical, as_of), expected)
    state_categorical = expected.assign(loan_id=expected["loan_id"].astype("category"))
    pd.testing.assert_frame_equal(
        customer_ledger(loans, state_categorical), customer_ledger(loans, expected)
    )


def test_missing_column_is_reported():
    with pytest.raises(DataError, match=r"installments: required column 'amount_due' is missing"):
        loan_ledger(schedule([]).drop(columns="amount_due"), received([]), "2026-01-01")


def test_negative_amount_due_names_the_loan():
    installments = schedule([("L1", "2026-01-31", 100.0), ("BAD7", "2026-01-31", -5.0)])
    with pytest.raises(DataError, match=r"1 row\(s\) have a negative amount_due") as info:
        loan_ledger(installments, received([]), "2026-02-01")
    assert info.value.problems["examples"].tolist() == ["BAD7"]


def test_every_amount_problem_is_reported_at_once():
    installments = schedule(
        [("L1", "2026-01-31", np.nan), ("L2", "2026-01-31", -1.0), ("L3", "2026-01-31", 1.0)]
    )
    with pytest.raises(DataError, match=r"2 problem\(s\)") as info:
        loan_ledger(installments, received([]), "2026-02-01")
    problems = info.value.problems
    assert problems["rule"].tolist() == ["not_finite", "negative"]
    assert problems["examples"].tolist() == ["L1", "L2"]


def test_missing_dates_and_amounts_are_reported():
    installments = schedule([("L1", "2026-01-31", 100.0), ("L2", "2026-01-31", 1.0)])
    installments.loc[installments.index[1], "due_date"] = pd.NaT
    payments = received([("L3", "2026-01-31", 1.0)])
    payments.loc[payments.index[0], "amount"] = np.nan
    with pytest.raises(DataError, match=r"installments: 1 row\(s\) have no due_date"):
        loan_ledger(installments, payments, "2026-02-01")
    with pytest.raises(DataError, match=r"payments: 1 row\(s\) have a missing or infinite amount"):
        settle_installments(installments.dropna(), payments)


def test_missing_loan_id_is_reported():
    payments = received([("L1", "2026-01-31", 1.0)])
    payments["loan_id"] = pd.Series([None], dtype="str")
    with pytest.raises(DataError, match=r"payments: 1 row\(s\) have no loan_id"):
        loan_ledger(schedule([]), payments, "2026-02-01")


def test_text_dates_are_refused_with_a_hint():
    installments = schedule([("L1", "2026-01-31", 100.0)]).astype({"due_date": "str"})
    with pytest.raises(DataError, match=r"must hold dates \(datetime64\), got str; convert it"):
        loan_ledger(installments, received([]), "2026-02-01")


@pytest.mark.parametrize("as_of", ["not a date", [pd.NaT]])
def test_bad_as_of_is_refused(as_of):
    with pytest.raises(ValueError, match=r"The 'as_of' parameter must"):
        loan_ledger(schedule([]), received([]), as_of)


def test_customer_ledger_refuses_unknown_and_repeated_loans():
    state = loan_ledger(schedule([("L1", "2026-01-31", 1.0)]), received([]), "2026-02-01")
    with pytest.raises(DataError, match=r"loan_state: 1 loan id\(s\) are not in the loans table"):
        customer_ledger(pd.DataFrame({"loan_id": ["L2"], "customer_id": ["C1"]}), state)
    repeated = pd.DataFrame({"loan_id": ["L1", "L1"], "customer_id": ["C1", "C2"]})
    with pytest.raises(DataError, match=r"loans: loan_id must be unique"):
        customer_ledger(repeated, state)


# --------------------------------------------------------------------------------------
# Id codes: the fixed-width route agrees with Arrow's hashing
# --------------------------------------------------------------------------------------


def _chunked(values: list[str], cut: int) -> pa.ChunkedArray:
    """Text in two chunks, the first a slice with a non-zero offset (as Arrow often hands)."""
    array = pa.array(["padding", *values], type=pa.large_string())
    return pa.chunked_array([array.slice(1, cut), array.slice(1 + cut)])


@settings(max_examples=100, deadline=None)
@given(
    st.integers(1, 6).flatmap(
        lambda width: st.lists(
            st.lists(
                st.text(alphabet="0123459AZaz~", min_size=width, max_size=width),
                max_size=12,
            ),
            min_size=2,
            max_size=2,
        )
    ),
    st.integers(0, 12),
)
def test_fixed_width_id_codes_match_hashing(tables, cut):
    columns = {
        "installments": pd.Series(_chunked(tables[0], min(cut, len(tables[0])))),
        "payments": pa.array(tables[1], type=pa.string()),
    }
    vocabulary, codes = encode_ids(columns)
    expected_vocabulary, expected_codes = idcodes._encode_general(columns)
    every_id = sorted({value for table in tables for value in table})
    assert vocabulary.to_pylist() == expected_vocabulary.to_pylist() == every_id
    for table in columns:
        np.testing.assert_array_equal(codes[table], expected_codes[table])


@pytest.mark.parametrize(
    "ids",
    [
        ["贷款01", "贷款02", "借款03"],  # multi-byte text of one byte length
        [f"{letters}" for letters in ("qwertyui", "asdfghjk", "zxcvbnm,", "poiuytre")],  # wide
        ["A", "B", None],  # a missing id
        ["A0", "A1", "A2", "A3"],  # dense: every number in range is used
        ["L1", "L22", "L333"],  # lengths differ
    ],
)
def test_id_codes_of_any_shape_match_hashing(ids):
    columns = {"loans": pd.Series(ids, dtype="str"), "payments": pd.Series(ids[::-1], dtype="str")}
    vocabulary, codes = encode_ids(columns)
    expected_vocabulary, expected_codes = idcodes._encode_general(columns)
    assert vocabulary.to_pylist() == expected_vocabulary.to_pylist()
    for table in columns:
        np.testing.assert_array_equal(codes[table], expected_codes[table])
    assert (codes["loans"] < 0).sum() == sum(value is None for value in ids)
