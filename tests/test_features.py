"""Point-in-time features: hand-checked values, future-proofness, registry, reference ledger."""

from __future__ import annotations

import string

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

import visitrisk as vr
from _random_book import random_tables
from visitrisk.feature_catalog import FEATURE_GROUPS, FEATURES, UNITS
from visitrisk.features import build_features, feature_registry

D = pd.Timestamp
AS_OF = D("2025-10-15")


def _hand_tables() -> dict[str, pd.DataFrame]:
    """Three customers whose every feature on 2025-10-15 is worked out in the test below.

    c1 ``l1`` 12 x 110 monthly from 2025-02-01: Feb on time, Mar 4 days late, Apr on time,
       May paid 50 days late (06-20), Jun 30 days late (07-01), Jul on time, Aug-Oct open;
       ``l4`` 3 x 100 from 2025-10-01 (Oct paid on time); ``l5`` originated after as_of.
    c2 ``l2`` 6 x 105 from 2025-07-01: Jul paid, then only 50 on 09-10.
    c3 ``l3`` 50 on 2024-07-15 (paid 2024-11-20), 50 on 2025-04-15 (20 on 04-10, 30 on
       04-25), 50 on 2025-07-15 (on time), balloon 1000 on 2026-01-15.
    """
    customers = pd.DataFrame(
        {
            "customer_id": ["c1", "c2", "c3"],
            "branch_id": ["b1", "b1", "b1"],
            "segment": ["farmer", "salaried", "fisher"],
            "township": ["t1", "t1", "t2"],
            "village": ["v1", "v2", "v3"],
            "latitude": [30.0, 30.1, np.nan],
            "longitude": [110.0, 110.0, np.nan],
            "do_not_visit": [False, False, False],
            "name": ["Wang", "Li", "Zhang"],
            "national_id": ["1", "2", "3"],
            "phone": ["1", "2", "3"],
        }
    )
    loans = pd.DataFrame(
        {
            "loan_id": ["l1", "l2", "l3", "l4", "l5"],
            "customer_id": ["c1", "c2", "c3", "c1", "c1"],
            "product": ["farm_operating", "consumer", "mortgage", "consumer", "leasing"],
            "origination_date": pd.to_datetime(
                ["2025-01-01", "2025-06-01", "2024-06-15", "2025-09-01", "2025-12-01"]
            ),
            "principal": [1200.0, 600.0, 1000.0, 300.0, 500.0],
        }
    )
    monthly = pd.date_range("2025-02-01", periods=12, freq="MS")
    installments = pd.DataFrame(
        {
            "loan_id": ["l1"] * 12 + ["l2"] * 6 + ["l3"] * 4 + ["l4"] * 3 + ["l5"] * 2,
            "due_date": [
                *monthly,
                *pd.date_range("2025-07-01", periods=6, freq="MS"),
                *pd.to_datetime(["2024-07-15", "2025-04-15", "2025-07-15", "2026-01-15"]),
                *pd.date_range("2025-10-01", periods=3, freq="MS"),
                *pd.to_datetime(["2026-01-01", "2026-02-01"]),
            ],
            "amount_due": [110.0] * 12 + [105.0] * 6 + [50, 50, 50, 1000] + [100.0] * 3 + [250] * 2,
        }
    )
    payments = pd.DataFrame(
        [
            ("l1", "2025-02-01", 110.0),
            ("l1", "2025-03-05", 110.0),
            ("l1", "2025-04-01", 110.0),
            ("l1", "2025-06-20", 150.0),
            ("l1", "2025-07-01", 180.0),
            ("l4", "2025-10-01", 100.0),
            ("l2", "2025-07-01", 105.0),
            ("l2", "2025-09-10", 50.0),
            ("l3", "2024-11-20", 50.0),
            ("l3", "2025-04-10", 20.0),
            ("l3", "2025-04-25", 30.0),
            ("l3", "2025-07-15", 50.0),
            ("l5", "2026-01-01", 250.0),
        ],
        columns=["loan_id", "payment_date", "amount"],
    ).assign(payment_date=lambda frame: pd.to_datetime(frame["payment_date"]))
    visits = pd.DataFrame(
        {
            "customer_id": ["c1", "c2", "c2", "c1"],
            "visit_date": pd.to_datetime(["2025-06-15", "2025-08-20", "2025-09-25", "2025-11-01"]),
            "officer_id": ["o1"] * 4,
            "outcome": ["promise_to_pay", "promise_to_pay", "refused", "met"],
        }
    )
    branches = pd.DataFrame({"branch_id": ["b1"], "latitude": [30.0], "longitude": [110.5]})
    return {
        "customers": customers,
        "loans": loans,
        "installments": installments,
        "payments": payments,
        "visits": visits,
        "branches": branches,
    }


def _km(lat: float, lon: float, to_lat: float, to_lon: float) -> float:
    """Great-circle distance by the spherical law of cosines (a different formula)."""
    lat, lon, to_lat, to_lon = map(np.radians, (lat, lon, to_lat, to_lon))
    cosine = np.sin(lat) * np.sin(to_lat) + np.cos(lat) * np.cos(to_lat) * np.cos(to_lon - lon)
    return float(6371.0088 * np.arccos(cosine))


MONTH = 365.25 / 12
NAN = np.nan

# Every feature of every customer, worked out by hand from _hand_tables (as of 2025-10-15).
EXPECTED = {
    # c1: l1 oldest open Aug installment -> DPD 10-15 - 08-01 = 75; l4 current.
    "days_past_due": [75, 75, 0],
    "dpd_bucket": ["60-89", "60-89", "0"],
    "arrears": [330.0, 265.0, 0.0],  # c1 990 due - 660 paid; c2 420 - 155
    "arrears_to_principal": [330 / 1500, 265 / 600, 0.0],
    "installments_behind": [3.0, 265 / 105, 0.0],
    # l1 1200 * 660/1320 + l4 300 * 200/300; l2 600 * 475/630; l3 1000 * 1000/1150
    "outstanding_principal": [800.0, 600 * 475 / 630, 1000 * 1000 / 1150],
    "total_exposure": [860.0, 475.0, 1000.0],
    "n_loans": [2, 1, 1],  # l5 is originated after the as-of date
    "n_products": [2, 1, 1],
    "loans_past_due": [1, 1, 0],
    "main_product": ["farm_operating", "consumer", "mortgage"],
    "max_dpd_3m": [75, 75, 0],
    "max_dpd_6m": [75, 75, 9],  # c3: Apr installment unpaid 04-16..04-24
    "max_dpd_12m": [75, 75, 127],  # c3: 2024-07-15 installment unpaid until 2024-11-19
    # month-ends 2024-10-31 .. 2025-09-30. c1: 05-31 (30), 06-30 (29), 08-31 (30), 09-30 (60)
    "months_30plus_12m": [3, 2, 1],
    "months_60plus_12m": [1, 1, 1],
    "months_90plus_12m": [0, 0, 1],  # c3 at 108 days on 2024-10-31
    "past_cures_12m": [2, 0, 2],  # c1 cured 03-05 and 07-01; c3 2024-11-20 and 2025-04-25
    "roll_direction": ["forward", "forward", "stable"],  # 09-15: c1 and c2 at 45 DPD
    "dpd_1y_ago": [NAN, NAN, 92.0],  # 2024-10-15 - 2024-07-15
    "days_since_current": [75, 75, 0],
    # (09-15, 10-15]: c1 paid 100 of 110 + 100 due
    "paid_to_due_1m": [100 / 210, 0.0, NAN],
    "paid_to_due_3m": [100 / 430, 50 / 315, NAN],  # c3: 07-15 is outside (07-15, 10-15]
    "paid_to_due_6m": [430 / 760, 155 / 420, 80 / 50],
    "share_late_12m": [6 / 10, 3 / 4, 1 / 2],
    "share_partial_12m": [0.0, 0.0, 1 / 2],  # c3 had 20 of its April 50 on the due date
    "mean_days_late_12m": [84 / 7, 0.0, 5.0],
    "max_days_late_12m": [50.0, 0.0, 10.0],
    "late_caught_up_12m": [3, 0, 1],
    "consecutive_missed": [3, 3, 0],
    "days_since_last_payment": [14.0, 35.0, 92.0],
    "last_payment_to_installment": [100 / 210, 50 / 105, 1.0],
    "months_on_book": [287 / MONTH, 136 / MONTH, 487 / MONTH],
    "remaining_term_months": [78 / MONTH, 47 / MONTH, 92 / MONTH],
    "due_next_30d": [210.0, 105.0, 0.0],
    "due_next_60d": [420.0, 210.0, 0.0],
    "days_to_next_large_due": [NAN, NAN, 92.0],  # c3 balloon 1000 >= min(2 x 50, 500)
    "visits_90d": [0, 2, 0],  # c1's 11-01 visit is after the as-of date
    "visits_180d": [1, 2, 0],
    "visits_365d": [1, 2, 0],
    "days_since_last_visit": [122.0, 20.0, NAN],
    "last_visit_outcome": ["promise_to_pay", "refused", NAN],
    "share_refused_365d": [0.0, 0.5, NAN],
    "promises_365d": [1, 1, 0],
    "broken_promises_365d": [0, 1, 0],  # c2 promised 08-20, next payment 09-10
    "cures_after_visit_365d": [1, 0, 0],  # c1 visited 06-15, cured 07-01
    "segment": ["farmer", "salaried", "other"],
    "township_delinquency_rate": [1.0, 1.0, NAN],
    "distance_to_branch_km": [_km(30.0, 110.0, 30.0, 110.5), _km(30.1, 110.0, 30.0, 110.5), NAN],
    "month_of_year": [10, 10, 10],
}


@pytest.fixture(scope="module")
def hand_portfolio() -> vr.Portfolio:
    return vr.load_portfolio(**_hand_tables())


def test_every_feature_of_the_hand_built_portfolio(hand_portfolio: vr.Portfolio) -> None:
    features = build_features(hand_portfolio, "2025-10-15", population="all")
    assert list(features.index) == ["c1", "c2", "c3"]
    assert list(features.columns) == list(FEATURES) == list(EXPECTED)
    for name, expected in EXPECTED.items():
        actual = features[name]
        if isinstance(actual.dtype, pd.CategoricalDtype):
            got = [None if pd.isna(value) else value for value in actual]
            assert got == [None if isinstance(value, float) else value for value in expected], name
        else:
            np.testing.assert_allclose(actual.to_numpy(float), expected, rtol=1e-12, err_msg=name)


def test_delinquent_population_and_min_dpd(hand_portfolio: vr.Portfolio) -> None:
    everyone = build_features(hand_portfolio, AS_OF, population="all")
    delinquent = build_features(hand_portfolio, AS_OF)
    assert list(delinquent.index) == ["c1", "c2"]
    pd.testing.assert_frame_equal(delinquent, everyone.loc[["c1", "c2"]])
    assert build_features(hand_portfolio, AS_OF, min_dpd=76).empty
    assert list(build_features(hand_portfolio, AS_OF, min_dpd=75).index) == ["c1", "c2"]


def test_dtypes_and_fixed_categories(hand_portfolio: vr.Portfolio) -> None:
    features = build_features(hand_portfolio, AS_OF, population="all")
    empty = build_features(hand_portfolio, "2024-06-01")  # nobody on book yet
    assert empty.empty
    pd.testing.assert_series_equal(features.dtypes, empty.dtypes)
    for name, feature in FEATURES.items():
        if feature.unit == "category":
            assert list(features[name].cat.categories) == list(feature.categories), name
        else:
            assert features[name].dtype.kind in "if", name
    assert features.index.name == "customer_id"
    personal = {"name", "national_id", "phone", "do_not_visit", "village"}
    assert not personal & set(features.columns)


def test_personal_data_never_changes_features(hand_portfolio: vr.Portfolio) -> None:
    tables = _hand_tables()
    tables["customers"] = tables["customers"].assign(name="X", national_id="Y", phone="Z")
    again = build_features(vr.load_portfolio(**tables), AS_OF, population="all")
    pd.testing.assert_frame_equal(again, build_features(hand_portfolio, AS_OF, population="all"))


# --------------------------------------------------------------------------------------
# Point in time: rows after the as-of date never change anything
# --------------------------------------------------------------------------------------
@st.composite
def _future_rows(draw: st.DrawFn) -> tuple[int, pd.Timestamp, dict[str, pd.DataFrame]]:
    seed = draw(st.integers(0, 10_000))
    as_of = D("2024-03-01") + pd.Timedelta(days=draw(st.integers(0, 500)))
    tables = random_tables(seed, n_customers=8)
    customers = tables["customers"]["customer_id"].tolist()
    loans = tables["loans"]["loan_id"].tolist()
    after = st.integers(1, 400).map(lambda days: as_of + pd.Timedelta(days=days))
    amount = st.floats(0.01, 5000, allow_nan=False).map(lambda value: round(value, 2))
    origination = dict(zip(loans, tables["loans"]["origination_date"], strict=True))
    payments = [
        (loan, max(day, origination[loan]), value)
        for loan, day, value in draw(
            st.lists(st.tuples(st.sampled_from(loans), after, amount), min_size=1, max_size=8)
        )
    ]
    visits = draw(
        st.lists(
            st.tuples(
                st.sampled_from(customers),
                after,
                st.sampled_from(["met", "promise_to_pay", "refused", "paid_on_site"]),
            ),
            max_size=6,
        )
    )
    new_loan = draw(st.booleans())
    extra = {
        "payments": pd.DataFrame(payments, columns=["loan_id", "payment_date", "amount"]),
        "visits": pd.DataFrame(visits, columns=["customer_id", "visit_date", "outcome"]).assign(
            officer_id="O9"
        ),
    }
    if new_loan:
        owner = draw(st.sampled_from(customers))
        start = draw(after)
        name = "NEW" + draw(st.text(string.ascii_uppercase, min_size=1, max_size=3))
        extra["loans"] = pd.DataFrame(
            {
                "loan_id": [name],
                "customer_id": [owner],
                "product": ["consumer"],
                "origination_date": [start],
                "principal": [900.0],
            }
        )
        extra["installments"] = pd.DataFrame(
            {
                "loan_id": [name] * 3,
                "due_date": [start + pd.DateOffset(months=k) for k in (1, 2, 3)],
                "amount_due": [300.0] * 3,
            }
        )
        extra["payments"] = pd.concat(
            [
                extra["payments"],
                pd.DataFrame(
                    {
                        "loan_id": [name],
                        "payment_date": [start + pd.Timedelta(days=40)],
                        "amount": [300.0],
                    }
                ),
            ],
            ignore_index=True,
        )
    return seed, as_of, extra


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    phases=[Phase.explicit, Phase.reuse, Phase.generate],  # shrinking a portfolio is slow
)
@given(case=_future_rows(), population=st.sampled_from(["all", "delinquent"]))
def test_rows_after_as_of_never_change_features(
    case: tuple[int, pd.Timestamp, dict[str, pd.DataFrame]], population: str
) -> None:
    seed, as_of, extra = case
    tables = random_tables(seed, n_customers=8)
    before = build_features(vr.load_portfolio(**tables), as_of, population=population)
    for name, rows in extra.items():
        tables[name] = pd.concat([tables[name], rows], ignore_index=True)
    after = build_features(vr.load_portfolio(**tables), as_of, population=population)
    pd.testing.assert_frame_equal(before, after)


def test_whole_townships_give_the_same_rows_alone() -> None:
    """Partitions of whole customers (and townships, for the township rate) are independent."""
    tables = random_tables(7, n_customers=30)
    full = build_features(vr.load_portfolio(**tables), "2025-01-31", population="all")
    keep = tables["customers"].loc[tables["customers"]["township"] == "T2", "customer_id"]
    part = {
        "customers": tables["customers"].loc[tables["customers"]["customer_id"].isin(keep)],
        "loans": tables["loans"].loc[tables["loans"]["customer_id"].isin(keep)],
        "visits": tables["visits"].loc[tables["visits"]["customer_id"].isin(keep)],
        "branches": tables["branches"],
    }
    loans = part["loans"]["loan_id"]
    for name in ("installments", "payments"):
        part[name] = tables[name].loc[tables[name]["loan_id"].isin(loans)]
    alone = build_features(vr.load_portfolio(**part), "2025-01-31", population="all")
    assert len(alone) > 3
    pd.testing.assert_frame_equal(alone, full.loc[alone.index])


# --------------------------------------------------------------------------------------
# History features agree with a daily ledger (the ledger module, on every day)
# --------------------------------------------------------------------------------------
@pytest.mark.parametrize("seed", [3, 11])
def test_history_agrees_with_a_daily_ledger(seed: int) -> None:
    tables = random_tables(seed, n_customers=10)
    portfolio = vr.load_portfolio(**tables)
    as_of = D("2025-02-14")
    features = build_features(portfolio, as_of, population="all")
    days = pd.date_range(as_of - pd.DateOffset(months=13), as_of)
    state = vr.customer_ledger(
        tables["loans"], vr.loan_ledger(tables["installments"], tables["payments"], days)
    )
    daily = (
        state.pivot(index="as_of", columns="customer_id", values="days_past_due")
        .reindex(days)
        .fillna(0)
    )
    cured_on = (daily.shift(1) >= 1) & (daily == 0)
    month_ends = [
        day for day in days if day.is_month_end and day > as_of - pd.DateOffset(months=12)
    ]
    assert len(month_ends) == 12
    for customer, row in features.iterrows():
        dpd = daily[customer]
        assert dpd[as_of] == row["days_past_due"]
        for months in (3, 6, 12):
            window = dpd[dpd.index > as_of - pd.DateOffset(months=months)]
            assert window.max() == row[f"max_dpd_{months}m"], (customer, months)
        for threshold in (30, 60, 90):
            assert (dpd[month_ends] >= threshold).sum() == row[f"months_{threshold}plus_12m"]
        recent = cured_on[customer][cured_on.index > as_of - pd.DateOffset(months=12)]
        assert recent.sum() == row["past_cures_12m"], customer
        last_current = dpd[dpd == 0].index.max()
        assert (as_of - last_current).days == row["days_since_current"], customer
        year_ago = as_of - pd.DateOffset(months=12)
        on_book = tables["loans"].loc[tables["loans"]["customer_id"] == customer]
        if (on_book["origination_date"] <= year_ago).any():
            assert dpd[year_ago] == row["dpd_1y_ago"], customer
        else:
            assert np.isnan(row["dpd_1y_ago"])
        month_ago = dpd[as_of - pd.DateOffset(months=1)]
        bucket = np.searchsorted([1, 30, 60, 90], [month_ago, dpd[as_of]], side="right")
        expected = ["back", "stable", "forward"][int(np.sign(bucket[1] - bucket[0])) + 1]
        assert row["roll_direction"] == expected


# --------------------------------------------------------------------------------------
# Registry
# --------------------------------------------------------------------------------------
def test_registry_covers_every_column_in_both_languages(hand_portfolio: vr.Portfolio) -> None:
    registry = feature_registry()
    features = build_features(hand_portfolio, AS_OF, population="all")
    assert list(registry.index) == list(features.columns)
    assert registry["group"].isin(FEATURE_GROUPS).all()
    assert registry["unit"].isin(UNITS).all()
    han = r"[\u4e00-\u9fff]"
    for name, entry in registry.iterrows():
        assert entry["description_en"].strip(), name
        assert entry["reason_en"].strip(), name
        assert not pd.Series([entry["description_en"], entry["reason_en"]]).str.contains(han).any()
        assert pd.Series([entry["description_zh"], entry["reason_zh"]]).str.contains(han).all()
        assert bool(entry["missing_en"]) == bool(entry["missing_zh"]), name
        may_be_missing = features[name].isna().any()
        assert not may_be_missing or entry["missing_en"], f"{name} is NaN but says never"
        value = "forward" if entry["unit"] == "category" else 12.5
        for template in (entry["reason_en"], entry["reason_zh"]):
            text = template.format(value=value)
            assert "{" not in text, name
            assert "forward" in text or "12" in text or "13" in text, name


def test_registry_reason_template_example() -> None:
    feature = FEATURES["late_caught_up_12m"]
    assert (
        feature.reason_en.format(value=3.0) == "Paid late but in full 3 times in the last 12 months"
    )
    assert feature.reason_zh.format(value=3.0) == "过去12个月内3次逾期后全额还款"


# --------------------------------------------------------------------------------------
# Parameters and bad input
# --------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"as_of": "not a date"}, r"The 'as_of' parameter of build_features must be a date"),
        ({"as_of": "2025-10-15 13:00"}, r"'as_of' .* Got '2025-10-15 13:00' instead"),
        ({"population": "open"}, r"'population' .* must be 'delinquent' or 'all'. Got 'open'"),
        ({"min_dpd": 0}, r"The 'min_dpd' parameter of build_features must be a positive int"),
        ({"min_dpd": 1.5}, r"'min_dpd' .* Got 1.5 instead"),
    ],
)
def test_bad_parameters(hand_portfolio: vr.Portfolio, kwargs: dict, message: str) -> None:
    arguments = {"as_of": AS_OF} | kwargs
    with pytest.raises(ValueError, match=message):
        build_features(hand_portfolio, **arguments)


def test_reversals_are_refused_with_the_loans_named() -> None:
    tables = _hand_tables()
    tables["payments"] = pd.concat(
        [
            tables["payments"],
            pd.DataFrame({"loan_id": ["l2"], "payment_date": [D("2025-09-12")], "amount": [-50.0]}),
        ],
        ignore_index=True,
    )
    portfolio = vr.load_portfolio(**tables, allow_reversals=True)
    with pytest.raises(ValueError, match=r"'payments', column 'amount'.*reversals.*e\.g\. l2"):
        build_features(portfolio, AS_OF)


def test_features_command_writes_parquet(tmp_path, hand_portfolio: vr.Portfolio) -> None:
    from typer.testing import CliRunner

    from visitrisk.cli import app

    folder = tmp_path / "data"
    folder.mkdir()
    for name, table in _hand_tables().items():
        table.to_csv(folder / f"{name}.csv", index=False)
    out = tmp_path / "out" / "features.parquet"
    result = CliRunner().invoke(
        app, ["features", str(folder), "--as-of", "2025-10-15", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert "Wrote 2 customers x 50 features" in result.output
    written = pd.read_parquet(out)
    pd.testing.assert_frame_equal(written, build_features(hand_portfolio, AS_OF), check_dtype=False)
    assert list(written["segment"].cat.categories) == list(FEATURES["segment"].categories)


def test_every_category_a_risk_officer_reads_has_its_chinese_label() -> None:
    from visitrisk.explain import CATEGORY_LABELS_ZH as EXPLAIN_LABELS_ZH
    from visitrisk.explain import category_label as explain_label
    from visitrisk.feature_catalog import CATEGORY_LABELS_ZH, category_label

    for feature in FEATURES.values():
        # DPD buckets ("30-59") read the same in both languages.
        if feature.unit != "category" or feature.name == "dpd_bucket":
            continue
        for value in feature.categories:
            label = category_label(value, "zh")
            assert label == CATEGORY_LABELS_ZH[value], (feature.name, value)
            assert all("\u4e00" <= char <= "\u9fff" for char in label), (feature.name, value)
    assert category_label("small_business", "en") == "small business"
    # The explanations read the registry's labels (the names stay importable there).
    assert explain_label is category_label
    assert EXPLAIN_LABELS_ZH is CATEGORY_LABELS_ZH
