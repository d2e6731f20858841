"""Exact uplift SHAP values, reasons in two languages, figures and the explain command."""

# scikit-learn's convention: the feature matrix is `X` (upper case).
# ruff: noqa: N806

import re
import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.exceptions import NotFittedError

from visitrisk.explain import (
    ADDITIVITY_TOLERANCE,
    Explanation,
    explain,
    load_model,
    render_reason,
    save_model,
)
from visitrisk.feature_catalog import SEGMENTS, VISIT_OUTCOMES, feature_registry
from visitrisk.labels import TrainingSet
from visitrisk.learners import DRLearner, SLearner, TLearner, UpliftModel, XLearner

LEARNERS = {
    "t": lambda: TLearner(random_state=0, n_jobs=1),
    "s": lambda: SLearner(random_state=0, n_jobs=1),
    "x": lambda: XLearner(n_folds=2, random_state=0, n_jobs=1),
    "dr": lambda: DRLearner(n_folds=2, random_state=0, n_jobs=1),
}


def make_book(n=3000, seed=0):
    """Registry features with categoricals and NaN; visits help customers who paid late.

    The planted uplift grows with ``late_caught_up_12m`` (times paid late but in full) and
    is larger for farmers; visits are random (a trial), so every learner can find it.
    """
    rng = np.random.default_rng(seed)
    customer_id = pd.Index([f"C{i:05d}" for i in range(n)], name="customer_id")
    days_past_due = rng.gamma(2.0, 20.0, n).round()
    arrears = rng.gamma(2.0, 1500.0, n)
    arrears[rng.random(n) < 0.05] = np.nan
    since_payment = rng.gamma(2.0, 30.0, n).round()
    since_payment[rng.random(n) < 0.1] = np.nan
    outcome = rng.choice(list(VISIT_OUTCOMES), n).astype(object)
    outcome[rng.random(n) < 0.2] = None
    segment = rng.choice(list(SEGMENTS), n).astype(object)
    segment[rng.random(n) < 0.03] = None
    caught_up = rng.poisson(1.5, n).astype(float)
    X = pd.DataFrame(
        {
            "days_past_due": days_past_due,
            "arrears": arrears,
            "late_caught_up_12m": caught_up,
            "days_since_last_payment": since_payment,
            "last_visit_outcome": pd.Categorical(outcome, categories=VISIT_OUTCOMES),
            "segment": pd.Categorical(segment, categories=SEGMENTS),
            "visits_90d": rng.poisson(0.5, n).astype(float),
        },
        index=customer_id,
    )
    treatment = rng.binomial(1, 0.5, n)
    p_control = 1.0 / (1.0 + np.exp((days_past_due - 40.0) / 25.0)) * 0.6
    effect = 0.06 * np.minimum(caught_up, 5) + 0.1 * (segment == "farmer")
    cured = rng.binomial(1, np.clip(p_control + treatment * effect, 0.0, 1.0))
    return X, cured, treatment


@pytest.fixture(scope="module")
def book():
    return make_book()


@pytest.fixture(scope="module")
def fitted(book):
    X, y, t = book
    return {name: make().fit(X, y, t) for name, make in LEARNERS.items()}


@pytest.fixture(scope="module")
def explained(fitted, book):
    X = book[0].iloc[:150]
    return {
        name: explain(learner, X, background=book[0], background_size=40)
        for name, learner in fitted.items()
    }


@pytest.mark.parametrize("name", list(LEARNERS))
def test_shap_values_add_up_to_the_uplift(name, fitted, explained, book):
    X = book[0].iloc[:150]
    explanation = explained[name]
    assert X.isna().any().sum() >= 3, "categoricals and numbers with NaN must be explained"
    assert explanation.feature_names == list(X.columns)
    assert explanation.values.index.equals(X.index)
    total = explanation.base_values + explanation.values.sum(axis=1)
    np.testing.assert_allclose(total, fitted[name].predict(X), rtol=0, atol=ADDITIVITY_TOLERANCE)
    np.testing.assert_allclose(explanation.uplift, fitted[name].predict(X), rtol=0, atol=1e-12)
    assert (explanation.values.abs().sum() > 0).sum() >= 3
    if name in ("t", "s"):
        assert explanation.base_values.nunique() == 1
    if name == "dr":
        # The DR uplift is bounded; the bound's shift enters the base value where it binds.
        free = fitted[name].predict(X) == fitted[name].raw_uplift(X)
        assert free.mean() > 0.9
        assert explanation.base_values[free].nunique() == 1
    assert explanation.background_size == (40 if name in ("t", "s") else None)


def test_uplift_model_with_customer_id_column(book):
    X, y, t = book
    training_set = TrainingSet(
        X=X.reset_index(drop=True),
        treatment=pd.Series(t, dtype="int8"),
        cured=pd.Series(y, dtype="int8"),
        value_at_stake=X["arrears"].fillna(0.0).reset_index(drop=True),
        snapshot=pd.Series(pd.Timestamp("2026-06-30"), index=range(len(X))),
        customer_id=pd.Series(X.index, dtype="str"),
        timing=pd.DataFrame(index=range(len(X))),
        metadata={},
    )
    model = UpliftModel(n_folds=2, random_state=0).fit(training_set)
    today = X.iloc[:100].reset_index().assign(value_at_stake=100.0)
    explanation = explain(model, today)
    scores = model.score(today)
    assert explanation.values.index.equals(scores.index)
    np.testing.assert_allclose(
        explanation.base_values + explanation.values.sum(axis=1),
        scores["uplift"],
        rtol=0,
        atol=ADDITIVITY_TOLERANCE,
    )


def test_planted_effect_is_the_top_reason(fitted, book):
    X = book[0]
    customer = X.iloc[[0]].copy()
    customer[["late_caught_up_12m", "days_past_due"]] = [8.0, 40.0]
    customer.index = pd.Index(["HIGH"], name="customer_id")
    for name in ("dr", "t"):
        explanation = explain(fitted[name], customer, background=X, background_size=40)
        english = explanation.reasons("en").loc["HIGH"].tolist()
        chinese = explanation.reasons("zh").loc["HIGH"].tolist()
        assert "Paid late but in full 8 times in the last 12 months" in english, name
        assert "过去12个月内8次逾期后全额还款" in chinese, name


def test_reasons_are_identical_across_runs(fitted, book):
    X = book[0].iloc[:60]
    first = explain(fitted["s"], X, background=book[0], background_size=20, random_state=3)
    second = explain(fitted["s"], X, background=book[0], background_size=20, random_state=3)
    pd.testing.assert_frame_equal(first.values, second.values)
    for lang in ("en", "zh"):
        pd.testing.assert_frame_equal(first.reasons(lang), second.reasons(lang))
        pd.testing.assert_frame_equal(first.reasons_against(lang), second.reasons_against(lang))


def _explanation(values, features):
    index = pd.Index([f"K{i}" for i in range(len(values))], name="customer_id")
    frame = pd.DataFrame(values, index=index, columns=features.columns, dtype=float)
    features = features.set_axis(index)
    return Explanation(
        values=frame,
        base_values=pd.Series(0.1, index=index),
        uplift=0.1 + frame.sum(axis=1),
        features=features,
        method="test",
    )


def test_ties_break_by_feature_order_and_zero_is_never_a_reason():
    features = pd.DataFrame(
        {
            "visits_90d": [2.0, 2.0],
            "days_past_due": [45.0, 45.0],
            "segment": pd.Categorical(["farmer", "small_business"], categories=SEGMENTS),
            "arrears": [1234.0, 1234.0],
        }
    )
    explanation = _explanation([[0.02, 0.02, 0.05, 0.0], [0.0, -0.01, 0.0, -0.03]], features)
    reasons = explanation.reasons("en", n=3)
    assert reasons.loc["K0"].tolist()[:3] == [
        "Segment: farmer",
        "Visited 2 times in the last 90 days",
        "45 days past due",
    ]
    assert reasons.loc["K1"].isna().all()
    against = explanation.reasons_against("zh", n=2)
    assert against.loc["K1"].tolist() == ["拖欠金额1,234元", "已逾期45天"]
    assert against.loc["K0"].isna().all()
    assert list(explanation.reasons(n=5).columns) == [f"reason_{k}" for k in range(1, 6)]


def test_calendar_month_is_never_a_reason():
    # The month is the same for everyone scored on one day: it tells nothing of the customer.
    features = pd.DataFrame({"month_of_year": [11.0], "days_past_due": [45.0]})
    explanation = _explanation([[0.30, 0.01]], features)
    assert explanation.reasons("en", n=2).loc["K0"].tolist()[0] == "45 days past due"
    assert explanation.reasons("en", n=2).loc["K0"].isna().tolist() == [False, True]


def test_categories_are_readable_and_translated():
    features = pd.DataFrame(
        {"segment": pd.Categorical(["small_business", None], categories=SEGMENTS)}
    )
    english = render_reason("segment", features["segment"], "en")
    chinese = render_reason("segment", features["segment"], "zh")
    assert english.iloc[0] == "Segment: small business"
    assert chinese.iloc[0] == "客户类型：个体工商户"


def test_missing_value_reads_as_the_registry_phrase_or_is_skipped():
    features = pd.DataFrame(
        {"days_since_last_payment": [np.nan, 12.0], "days_past_due": [np.nan, 30.0]}
    )
    explanation = _explanation([[0.03, 0.02], [0.03, 0.02]], features)
    reasons = explanation.reasons("en", n=2)
    # Never paid has a phrase; a missing days_past_due has none and is no reason.
    assert reasons.loc["K0"].tolist()[0] == "No payment received up to the as-of date"
    assert reasons.loc["K0"].isna().tolist() == [False, True]
    assert reasons.loc["K1"].tolist() == ["Last payment 12 days ago", "30 days past due"]
    assert explanation.reasons("zh", n=1).loc["K0", "reason_1"] == "截至观察日从未收到还款"


def test_every_registry_feature_has_templates_that_render():
    registry = feature_registry()
    typical = {"count": 3.0, "share": 0.25, "ratio": 0.8, "CNY": 12_345.0}
    for name, row in registry.iterrows():
        for lang in ("en", "zh"):
            template = row[f"reason_{lang}"]
            assert isinstance(template, str), (name, lang)
            assert "{value" in template, (name, lang)
            if row["unit"] == "category":
                values = pd.Series(
                    pd.Categorical([*row["categories"], None], categories=row["categories"])
                )
            else:
                values = pd.Series([typical.get(row["unit"], 30.0), np.nan])
            rendered = render_reason(name, values, lang)
            assert rendered.iloc[:-1].notna().all(), (name, lang)
            assert not rendered.iloc[:-1].str.contains(r"[{}]|nan", regex=True).any()
            if lang == "zh":
                assert rendered.iloc[:-1].str.contains(r"[\u4e00-\u9fff]").all(), name
            if row[f"missing_{lang}"]:
                assert rendered.iloc[-1] == row[f"missing_{lang}"].rstrip("。.")
            else:
                assert pd.isna(rendered.iloc[-1]), name


def test_importance_table(explained):
    table = explained["dr"].importance()
    assert list(table.columns) == ["mean_abs_shap", "mean_shap", "share"]
    assert table["mean_abs_shap"].is_monotonic_decreasing
    assert table["share"].sum() == pytest.approx(1.0)
    assert set(table.index) == set(explained["dr"].feature_names)
    for name in ("dr", "t"):
        assert "late_caught_up_12m" in explained[name].importance().index[:2], name


def test_chinese_figures_render_without_missing_glyphs(explained, tmp_path):
    import matplotlib as mpl

    before = dict(mpl.rcParams)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        paths = explained["x"].save_figures(tmp_path, lang="zh")
    glyph = [str(w.message) for w in caught if re.search("Glyph .* missing", str(w.message))]
    assert glyph == []
    names = {path.name for path in paths}
    assert {"shap_summary.png", "shap_waterfall.png"} <= names
    assert sum(name.startswith("shap_dependence_") for name in names) == 4
    for path in paths:
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert path.stat().st_size > 5_000
    assert dict(mpl.rcParams) == before


def test_explain_command_writes_table_reasons_and_figures(fitted, book, tmp_path):
    from typer.testing import CliRunner

    from visitrisk.cli import app

    model_path = save_model(fitted["dr"], tmp_path / "model.joblib")
    assert isinstance(load_model(model_path), DRLearner)
    features_path = tmp_path / "features.parquet"
    book[0].iloc[:80].to_parquet(features_path)
    out = tmp_path / "out"
    result = CliRunner().invoke(
        app,
        [
            *("explain", "--model", str(model_path), "--features", str(features_path)),
            *("--out", str(out), "--lang", "zh"),
        ],
    )
    assert result.exit_code == 0, result.output
    table = pd.read_parquet(out / "shap_values.parquet")
    assert len(table) == 80
    np.testing.assert_allclose(
        table["base_value"] + table[list(book[0].columns)].sum(axis=1),
        fitted["dr"].predict(book[0].iloc[:80]),
        atol=ADDITIVITY_TOLERANCE,
    )
    reasons = pd.read_csv(out / "reasons.csv", index_col="customer_id")
    assert list(reasons.columns[:4]) == ["uplift", "reason_1", "reason_2", "reason_3"]
    assert reasons["reason_1"].str.contains(r"[\u4e00-\u9fff]").any()
    assert (out / "shap_waterfall.png").is_file()


def test_bad_input_is_refused(fitted, book, tmp_path):
    X = book[0].iloc[:10]
    with pytest.raises(TypeError, match="visitrisk learner or UpliftModel"):
        explain(object(), X)
    with pytest.raises(NotFittedError, match="not fitted yet"):
        explain(UpliftModel(), X)
    with pytest.raises(ValueError, match="background_size must be an int >= 1"):
        explain(fitted["t"], X, background_size=0)
    with pytest.raises(ValueError, match="missing feature"):
        explain(fitted["dr"], X.drop(columns="segment"))
    with pytest.raises(ValueError, match="lang must be 'en' or 'zh'"):
        explain(fitted["dr"], X).reasons("fr")
    with pytest.raises(KeyError, match="was not explained"):
        explain(fitted["dr"], X).waterfall_figure("nobody")
    joblib_path = save_model({"not": "a model"}, tmp_path / "other.joblib")
    with pytest.raises(TypeError, match="not a visitrisk learner"):
        load_model(joblib_path)


def test_non_lightgbm_base_model_is_refused(book):
    from sklearn.tree import DecisionTreeClassifier

    X, y, t = book
    numeric = X.select_dtypes("number").fillna(0.0)
    learner = TLearner(outcome_model=DecisionTreeClassifier(max_depth=3), random_state=0)
    learner.fit(numeric, y, t)
    with pytest.raises(TypeError, match="need LightGBM base models"):
        explain(learner, numeric.iloc[:5])
