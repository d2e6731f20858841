"""Uplift metrics: scikit-uplift definitions by hand, IPW/AIPW estimates against known truth."""

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit
from sklearn.linear_model import LogisticRegression
from sklearn.neighbors import KNeighborsClassifier

from visitrisk.evaluation import evaluate_scores, plot_calibration, plot_qini_curve
from visitrisk.metrics import (
    perfect_qini_curve,
    perfect_uplift_curve,
    qini_auc_score,
    qini_auc_score_ipw,
    qini_curve,
    qini_curve_ipw,
    uplift_at_k,
    uplift_auc_score,
    uplift_auc_score_ipw,
    uplift_curve,
    uplift_curve_ipw,
)
from visitrisk.nuisance import fit_nuisances, pseudo_outcomes
from visitrisk.policy import average_treatment_effect, policy_value, uplift_calibration

# A tiny log with ties. Sorted by score, the tie groups are
#   0.9: row 0 (visited, cured)
#   0.5: rows 1-3 (visited not cured; not visited cured; visited cured)
#   0.2: rows 4-5 (not visited, not cured, twice)
TIES_Y = [1, 0, 1, 1, 0, 0]
TIES_UPLIFT = [0.9, 0.5, 0.5, 0.5, 0.2, 0.2]
TIES_T = [1, 1, 0, 1, 0, 0]


def test_uplift_curve_by_hand_with_ties():
    # Points at the end of each tie group: n = 1, 4, 6.
    # n=1: N_T=1 Y_T=1, N_C=0 -> (1/1 - 0) * 1 = 1 (empty control counts 0)
    # n=4: N_T=3 Y_T=2, N_C=1 Y_C=1 -> (2/3 - 1) * 4 = -4/3
    # n=6: N_T=3 Y_T=2, N_C=3 Y_C=1 -> (2/3 - 1/3) * 6 = 2
    x, curve = uplift_curve(TIES_Y, TIES_UPLIFT, TIES_T)
    np.testing.assert_allclose(x, [0, 1, 4, 6])
    np.testing.assert_allclose(curve, [0, 1, -4 / 3, 2])


def test_qini_curve_by_hand_with_ties():
    # n=1: 1 - 0 * (1/0 -> 0) = 1;  n=4: 2 - 1 * 3/1 = -1;  n=6: 2 - 1 * 3/3 = 1
    x, curve = qini_curve(TIES_Y, TIES_UPLIFT, TIES_T)
    np.testing.assert_allclose(x, [0, 1, 4, 6])
    np.testing.assert_allclose(curve, [0, 1, -1, 1])


def test_perfect_uplift_curve_by_hand():
    # Control responders (1) are not more numerous than treated non-responders (1), so the
    # ideal score is 2*(y == t) + t: rows 0,3 -> 3; rows 4,5 -> 2; row 1 -> 1; row 2 -> 0.
    # n=2: (2/2 - 0) * 2 = 2;  n=4: (2/2 - 0/2) * 4 = 4;  n=5: (2/3 - 0) * 5 = 10/3;
    # n=6: (2/3 - 1/3) * 6 = 2
    x, curve = perfect_uplift_curve(TIES_Y, TIES_T)
    np.testing.assert_allclose(x, [0, 2, 4, 5, 6])
    np.testing.assert_allclose(curve, [0, 2, 4, 10 / 3, 2])


def test_perfect_qini_curve_by_hand():
    # Ideal score y*t - y*(1-t): rows 0,3 -> 1; rows 1,4,5 -> 0; row 2 -> -1.
    # n=2: 2 - 0 = 2;  n=5: 2 - 0 * 3/2 = 2;  n=6: 2 - 1 * 3/3 = 1
    x, curve = perfect_qini_curve(TIES_Y, TIES_T)
    np.testing.assert_allclose(x, [0, 2, 5, 6])
    np.testing.assert_allclose(curve, [0, 2, 2, 1])
    # Without negative effects: (0, 0), (Q, Q), (N, Q) with Q = Q(N) = 1.
    x, curve = perfect_qini_curve(TIES_Y, TIES_T, negative_effect=False)
    np.testing.assert_allclose(x, [0, 1, 6])
    np.testing.assert_allclose(curve, [0, 1, 1])


def test_auc_scores_by_hand():
    # Uplift: trapezoids of (0,0)(1,1)(4,-4/3)(6,2) = 0.5 - 0.5 + 2/3 = 2/3; ideal curve
    # 2 + 6 + 11/3 + 8/3 = 43/3; random line to (6, 2): 6. AUUC = (2/3-6)/(43/3-6) = -16/25.
    assert uplift_auc_score(TIES_Y, TIES_UPLIFT, TIES_T) == pytest.approx(-16 / 25)
    # Qini: area 0.5 + 0 + 0 = 0.5; ideal 2 + 6 + 1.5 = 9.5; random line to (6, 1): 3.
    assert qini_auc_score(TIES_Y, TIES_UPLIFT, TIES_T) == pytest.approx(-2.5 / 6.5)
    # Without negative effects the ideal area is 0.5 + 5 = 5.5: (0.5-3)/(5.5-3) = -1.
    assert qini_auc_score(TIES_Y, TIES_UPLIFT, TIES_T, negative_effect=False) == pytest.approx(-1)


def test_ideal_ranking_scores_one():
    y = np.array(TIES_Y)
    t = np.array(TIES_T)
    assert uplift_auc_score(y, 2 * (y == t) + t, t) == pytest.approx(1.0)
    assert qini_auc_score(y, y * t - y * (1 - t), t) == pytest.approx(1.0)


def _reference_curves(y, uplift, t, weights):
    """Slow, obvious definition: one threshold at a time, top = every row scoring >= it."""
    n_top, uplift_points, qini_points = [0.0], [0.0], [0.0]
    for threshold in np.unique(uplift)[::-1]:
        top = uplift >= threshold
        n_t, n_c = (weights * top * t).sum(), (weights * top * (1 - t)).sum()
        y_t, y_c = (weights * top * t * y).sum(), (weights * top * (1 - t) * y).sum()
        rate_t = y_t / n_t if n_t else 0.0
        rate_c = y_c / n_c if n_c else 0.0
        n_top.append(top.sum())
        uplift_points.append((rate_t - rate_c) * top.sum())
        qini_points.append(y_t - y_c * (n_t / n_c if n_c else 0.0))
    return np.array(n_top), np.array(uplift_points), np.array(qini_points)


@pytest.mark.parametrize("seed", range(5))
def test_curves_match_a_threshold_by_threshold_reference(seed):
    rng = np.random.default_rng(seed)
    n = 60
    t = rng.binomial(1, 0.5, n)
    y = rng.binomial(1, 0.4, n)
    uplift = rng.integers(0, 12, n) / 10  # heavy ties
    propensity = rng.uniform(0.2, 0.8, n)
    n_top, uplift_points, qini_points = _reference_curves(y, uplift, t, np.ones(n))
    np.testing.assert_allclose(uplift_curve(y, uplift, t), (n_top, uplift_points))
    np.testing.assert_allclose(qini_curve(y, uplift, t), (n_top, qini_points))
    raw = np.where(t == 1, 1 / propensity, 1 / (1 - propensity))
    stabilised = np.where(
        t == 1, raw * t.sum() / raw[t == 1].sum(), raw * (1 - t).sum() / raw[t == 0].sum()
    )
    n_top, uplift_points, qini_points = _reference_curves(y, uplift, t, stabilised)
    np.testing.assert_allclose(uplift_curve_ipw(y, uplift, t, propensity), (n_top, uplift_points))
    np.testing.assert_allclose(qini_curve_ipw(y, uplift, t, propensity), (n_top, qini_points))


# Distinct scores, in order: rows 0..7.
AT_K_Y = [1, 0, 1, 0, 1, 0, 0, 1]
AT_K_UPLIFT = [0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1]
AT_K_T = [1, 0, 1, 1, 0, 0, 1, 0]


@pytest.mark.parametrize(
    ("strategy", "k", "expected"),
    [
        # top int(8*0.5)=4 rows: visited 0,2,3 cure 2/3; not visited 1 cures 0
        ("overall", 0.5, 2 / 3),
        # top 3 rows: visited 0,2 -> 1; not visited 1 -> 0
        ("overall", 3, 1.0),
        # top int(8*0.3)=2 rows: visited 0 -> 1; not visited 1 -> 0
        ("overall", 0.3, 1.0),
        # visited in order 0,2,3,6: top int(4*0.5)=2 -> 1; not visited 1,4,5,7: top 2 -> 1/2
        ("by_group", 0.5, 0.5),
        # top 3 of each arm: visited 0,2,3 -> 2/3; not visited 1,4,5 -> 1/3
        ("by_group", 3, 1 / 3),
    ],
)
def test_uplift_at_k_by_hand(strategy, k, expected):
    assert uplift_at_k(AT_K_Y, AT_K_UPLIFT, AT_K_T, strategy, k) == pytest.approx(expected)


def test_uplift_at_k_empty_arm_is_nan_and_ties_follow_scikit_uplift():
    # Top 1 row holds no non-visited row: no cure rate to compare with.
    assert np.isnan(uplift_at_k(AT_K_Y, AT_K_UPLIFT, AT_K_T, "overall", 1))
    # Rows 1 and 2 tie; scikit-uplift's reversed stable sort puts the later row first, so
    # the top 2 are rows 0 (visited, cured) and 2 (not visited, cured): 1 - 1 = 0.
    y, uplift, t = [1, 0, 1, 0], [0.9, 0.5, 0.5, 0.1], [1, 0, 0, 1]
    assert uplift_at_k(y, uplift, t, "overall", 2) == 0.0


@pytest.fixture
def tied_log():
    rng = np.random.default_rng(7)
    n = 300
    t = rng.binomial(1, 0.4, n)
    y = rng.binomial(1, 0.3 + 0.2 * t)
    uplift = np.round(rng.normal(size=n), 1)  # many ties
    propensity = rng.uniform(0.1, 0.9, n)
    nuisances = pd.DataFrame(
        {"mu0": rng.uniform(0.2, 0.4, n), "mu1": rng.uniform(0.4, 0.6, n), "propensity": propensity}
    )
    return y, uplift, t, propensity, nuisances


def test_metrics_invariant_to_row_order(tied_log):
    y, uplift, t, propensity, nuisances = tied_log
    order = np.random.default_rng(0).permutation(len(y))
    shuffled = (y[order], uplift[order], t[order])
    for curve in (uplift_curve, qini_curve):
        np.testing.assert_allclose(curve(y, uplift, t), curve(*shuffled), atol=1e-12)
    for curve in (uplift_curve_ipw, qini_curve_ipw):
        np.testing.assert_allclose(
            curve(y, uplift, t, propensity), curve(*shuffled, propensity[order]), atol=1e-12
        )
    for score in (uplift_auc_score, qini_auc_score):
        assert score(y, uplift, t) == pytest.approx(score(*shuffled))
    for score in (uplift_auc_score_ipw, qini_auc_score_ipw):
        assert score(y, uplift, t, propensity) == pytest.approx(score(*shuffled, propensity[order]))
    distinct = uplift + np.arange(len(y)) * 1e-9  # uplift@k splits ties by row order
    for strategy in ("overall", "by_group"):
        assert uplift_at_k(y, distinct, t, strategy, 0.2) == pytest.approx(
            uplift_at_k(y[order], distinct[order], t[order], strategy, 0.2)
        )
    # Ties at the capacity cut-off share the remaining visits, so values do not move.
    value = policy_value(y, uplift, t, nuisances, [0.1, 37], n_boot=50)
    value_shuffled = policy_value(*shuffled, nuisances.iloc[order], [0.1, 37], n_boot=50)
    np.testing.assert_allclose(value["incremental_cures"], value_shuffled["incremental_cures"])
    calibration = uplift_calibration(y, uplift, t, nuisances, n_boot=50)
    calibration_shuffled = uplift_calibration(*shuffled, nuisances.iloc[order], n_boot=50)
    np.testing.assert_allclose(
        calibration[["n_rows", "predicted_uplift", "observed_uplift"]],
        calibration_shuffled[["n_rows", "predicted_uplift", "observed_uplift"]],
    )


def test_ipw_curves_by_hand():
    y, uplift, t = [1, 0, 1, 0], [0.9, 0.6, 0.3, 0.1], [1, 1, 0, 0]
    propensity = [0.5, 0.25, 0.5, 0.75]
    # Raw weights: visited 1/e = 2, 4; not visited 1/(1-e) = 2, 4. Each arm rescaled to sum
    # to its 2 rows: 2/3, 4/3 in both arms.
    # n=1: visited w 2/3 all cured -> rate 1; no control -> U = 1;  Q = 2/3
    # n=2: visited w 2 with 2/3 cured -> rate 1/3; U = 1/3 * 2 = 2/3;  Q = 2/3
    # n=3: control w 2/3 all cured -> rate 1; U = (1/3 - 1) * 3 = -2;  Q = 2/3 - 2/3 * 2/(2/3)
    # n=4: control w 2 with 2/3 cured -> 1/3; U = 0;  Q = 2/3 - 2/3 * 2/2 = 0
    x, curve = uplift_curve_ipw(y, uplift, t, propensity)
    np.testing.assert_allclose(x, [0, 1, 2, 3, 4])
    np.testing.assert_allclose(curve, [0, 1, 2 / 3, -2, 0])
    _, curve = qini_curve_ipw(y, uplift, t, propensity)
    np.testing.assert_allclose(curve, [0, 2 / 3, 2 / 3, -4 / 3, 0])


def test_ipw_metrics_equal_naive_under_constant_propensity(tied_log):
    y, uplift, t, _, _ = tied_log
    constant = np.full(len(y), 0.4)
    np.testing.assert_allclose(uplift_curve_ipw(y, uplift, t, constant), uplift_curve(y, uplift, t))
    np.testing.assert_allclose(qini_curve_ipw(y, uplift, t, constant), qini_curve(y, uplift, t))
    assert uplift_auc_score_ipw(y, uplift, t, constant) == pytest.approx(
        uplift_auc_score(y, uplift, t)
    )
    assert qini_auc_score_ipw(y, uplift, t, constant) == pytest.approx(qini_auc_score(y, uplift, t))


# Four rows with fixed nuisances mu0 = 0.2, mu1 = 0.6, e = 0.5. AIPW pseudo-outcomes
#   row 0 (visited, cured):          0.4 + (1 - 0.6) / 0.5 =  1.2
#   row 1 (not visited, not cured):  0.4 - (0 - 0.2) / 0.5 =  0.8
#   row 2 (not visited, cured):      0.4 - (1 - 0.2) / 0.5 = -1.2
#   row 3 (visited, not cured):      0.4 + (0 - 0.6) / 0.5 = -0.8
# IPW pseudo-outcomes: 1/0.5 = 2, 0, -1/0.5 = -2, 0.
SMALL_Y = [1, 0, 1, 0]
SMALL_T = [1, 0, 0, 1]
SMALL_NUISANCES = pd.DataFrame({"mu0": [0.2] * 4, "mu1": [0.6] * 4, "propensity": [0.5] * 4})


def test_pseudo_outcomes_by_hand():
    np.testing.assert_allclose(
        pseudo_outcomes(SMALL_Y, SMALL_T, SMALL_NUISANCES), [1.2, 0.8, -1.2, -0.8]
    )
    np.testing.assert_allclose(
        pseudo_outcomes(SMALL_Y, SMALL_T, SMALL_NUISANCES, "ipw"), [2, 0, -2, 0]
    )


def test_policy_value_by_hand():
    values = policy_value(
        SMALL_Y,
        [0.4, 0.3, 0.2, 0.1],
        SMALL_T,
        SMALL_NUISANCES,
        [2, 0.5, 3],
        value=[100.0, 200.0, 300.0, 400.0],
        n_boot=20,
    ).set_index(["method", "k"])
    # Top 2 (also a share of 0.5): DR 1.2 + 0.8 = 2, IPW 2 + 0 = 2; value 100*1.2 + 200*0.8.
    assert values.loc[("dr", 2), "incremental_cures"] == pytest.approx(2.0)
    assert values.loc[("dr", 0.5), "incremental_cures"] == pytest.approx(2.0)
    assert values.loc[("ipw", 2), "incremental_cures"] == pytest.approx(2.0)
    assert values.loc[("dr", 2), "incremental_value"] == pytest.approx(280.0)
    assert values.loc[("dr", 2), "cures_per_visit"] == pytest.approx(1.0)
    # Top 3: DR 2 - 1.2 = 0.8; IPW (self-normalised): 3 x (visited mean 1 - others' 1/2).
    assert values.loc[("dr", 3), "incremental_cures"] == pytest.approx(0.8)
    assert values.loc[("ipw", 3), "incremental_cures"] == pytest.approx(1.5)
    # Value: visited mean 100, others' (0 + 300) / 2.
    assert values.loc[("ipw", 3), "incremental_value"] == pytest.approx(3 * (100 - 150))
    ties = policy_value(SMALL_Y, [0.4, 0.3, 0.3, 0.1], SMALL_T, SMALL_NUISANCES, 2, n_boot=20)
    # Rows 1 and 2 tie for the last visit and get half of it each: 1.2 + (0.8 - 1.2) / 2.
    dr = ties.set_index("method").loc["dr"]
    assert dr["incremental_cures"] == pytest.approx(1.0)
    assert dr["n_visits"] == 2


def test_average_effect_by_hand():
    effect = average_treatment_effect(SMALL_Y, SMALL_T, SMALL_NUISANCES, n_boot=50)
    # (1.2 + 0.8 - 1.2 - 0.8) / 4 = 0
    assert effect.name == "ate_dr"
    assert effect["estimate"] == pytest.approx(0.0)
    assert effect["ci_low"] <= 0.0 <= effect["ci_high"]


def test_bootstrap_resamples_whole_customers():
    rng = np.random.default_rng(3)
    n_customers = 2000
    t = np.repeat(rng.binomial(1, 0.5, n_customers), 2)
    y = np.repeat(rng.binomial(1, 0.4, n_customers), 2)
    customer = np.repeat(np.arange(n_customers), 2)  # every customer twice, identical rows
    nuisances = pd.DataFrame({"mu0": 0.4, "mu1": 0.4, "propensity": np.full(2 * n_customers, 0.5)})
    uplift = np.repeat(rng.normal(size=n_customers), 2)
    rows = policy_value(y, uplift, t, nuisances, 0.5, methods=("dr",), n_boot=400)
    whole = policy_value(y, uplift, t, nuisances, 0.5, methods=("dr",), groups=customer, n_boot=400)
    # Duplicated rows are perfectly correlated: the honest standard error is sqrt(2) larger.
    ratio = whole["incremental_cures_se"].iloc[0] / rows["incremental_cures_se"].iloc[0]
    assert 1.25 < ratio < 1.6


def _toy_log(seed, n, *, effect=True, confounded=False):
    """Features x0, x1; uplift 0.1 + 0.1 * (x0 > 0); baseline and visits both rise with x1."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 2))
    tau = (0.1 + 0.1 * (x[:, 0] > 0)) if effect else np.zeros(n)
    p0 = 0.1 + 0.5 * expit(2 * x[:, 1])
    propensity = expit(2 * x[:, 1]) if confounded else np.full(n, 0.5)
    t = rng.binomial(1, propensity)
    y = rng.binomial(1, p0 + t * tau)
    score = tau + rng.normal(scale=0.05, size=n)
    return x, y, t, tau, score


def test_dr_value_unbiased_and_covering_on_randomised_data():
    errors, covered, spreads = [], [], []
    for seed in range(20):
        x, y, t, tau, score = _toy_log(seed, 2000)
        nuisances = fit_nuisances(
            x,
            y,
            t,
            outcome_model=LogisticRegression(),
            known_propensity=0.5,
            n_folds=2,
            random_state=seed,
        )
        row = policy_value(
            y, score, t, nuisances, 0.2, methods=("dr",), n_boot=300, random_state=seed
        ).iloc[0]
        truth = tau[np.argsort(-score)[:400]].sum()  # scores are distinct: 400 visits
        errors.append(row["incremental_cures"] - truth)
        covered.append(row["incremental_cures_ci_low"] <= truth <= row["incremental_cures_ci_high"])
        spreads.append(row["incremental_cures_se"])
    errors = np.array(errors)
    assert abs(errors.mean()) < 2 * errors.std(ddof=1) / np.sqrt(len(errors))
    assert sum(covered) >= 16  # nominal 95 %: 19 of 20 expected; 15 or fewer has p < 0.001
    # The bootstrap standard error matches the spread of the estimate across seeds.
    assert 0.6 < np.mean(spreads) / errors.std(ddof=1) < 1.6


def test_naive_biased_while_ipw_and_dr_recover_truth_on_confounded_data():
    x, y, t, tau, score = _toy_log(11, 20000, confounded=True)
    nuisances = fit_nuisances(
        x, y, t, outcome_model=LogisticRegression(), propensity_model=LogisticRegression()
    )
    effect = {
        method: average_treatment_effect(y, t, nuisances, method=method, n_boot=200)
        for method in ("dr", "ipw")
    }
    naive = y[t == 1].mean() - y[t == 0].mean()
    assert abs(naive - tau.mean()) > 0.1  # visited customers were going to cure anyway
    for method in ("dr", "ipw"):
        assert abs(effect[method]["estimate"] - tau.mean()) < 3 * effect[method]["se"]
        assert effect[method]["ci_low"] <= tau.mean() <= effect[method]["ci_high"]

    values = policy_value(y, score, t, nuisances, 0.2, n_boot=200).set_index("method")
    truth = tau[np.argsort(-score)[:4000]].sum()
    naive_value = uplift_at_k(y, score, t, "overall", 0.2) * 4000
    assert abs(naive_value - truth) > 0.5 * truth
    for method in ("dr", "ipw"):
        row = values.loc[method]
        assert row["incremental_cures_ci_low"] <= truth <= row["incremental_cures_ci_high"]


def test_no_effect_dr_value_interval_covers_zero():
    x, y, t, _, score = _toy_log(5, 4000, effect=False, confounded=True)
    nuisances = fit_nuisances(
        x, y, t, outcome_model=LogisticRegression(), propensity_model=LogisticRegression()
    )
    values = policy_value(y, score, t, nuisances, [0.1, 0.2, 0.3], methods=("dr",), n_boot=500)
    assert (values["incremental_cures_ci_low"] <= 0).all()
    assert (values["incremental_cures_ci_high"] >= 0).all()


def test_ipw_value_is_not_moved_by_a_propensity_wrong_by_a_constant():
    # Randomised at 30 %, no effect, but the propensity given is 20 % for everyone: the
    # Horvitz-Thompson sum would report about (0.3 / 0.2 - 0.7 / 0.8) x cures; each arm's
    # normalised weights make the error cancel.
    rng = np.random.default_rng(8)
    n_rows = 20000
    t = rng.binomial(1, 0.3, n_rows)
    y = rng.binomial(1, 0.4, n_rows)
    arrears = rng.lognormal(8, 1, n_rows)
    values = policy_value(
        y,
        rng.normal(size=n_rows),
        t,
        np.full(n_rows, 0.2),
        0.5,
        value=arrears,
        methods=("ipw",),
        n_boot=300,
    ).iloc[0]
    plain_sum = np.sum((t * y / 0.2 - (1 - t) * y / 0.8)[: n_rows // 2])
    assert abs(plain_sum) > 1000
    assert values["incremental_cures_ci_low"] <= 0 <= values["incremental_cures_ci_high"]
    assert values["incremental_value_ci_low"] <= 0 <= values["incremental_value_ci_high"]
    assert abs(values["incremental_cures"]) < 3 * values["incremental_cures_se"]


def test_ipw_value_is_nan_when_the_policy_holds_no_visited_row():
    values = policy_value(SMALL_Y, [0.1, 0.4, 0.3, 0.2], SMALL_T, SMALL_NUISANCES, 2, n_boot=20)
    ipw = values.set_index("method").loc["ipw"]
    assert np.isnan(ipw["incremental_cures"])
    assert not np.isnan(values.set_index("method").loc["dr", "incremental_cures"])


def test_calibration_tracks_planted_uplift():
    x, y, t, tau, score = _toy_log(2, 6000)
    nuisances = fit_nuisances(x, y, t, outcome_model=LogisticRegression(), known_propensity=0.5)
    table = uplift_calibration(y, score, t, nuisances, n_bins=5, n_boot=200)
    assert list(table["bin"]) == [1, 2, 3, 4, 5]
    assert table["n_rows"].sum() == 6000
    assert table["predicted_uplift"].is_monotonic_increasing
    # Bottom bins hold uplift 0.1, top bins 0.2: the estimate separates them.
    assert table["observed_uplift"].iloc[-1] > table["observed_uplift"].iloc[0]
    true_by_bin = [
        tau[(score >= low) & (score <= high)].mean()
        for low, high in zip(table["uplift_min"], table["uplift_max"], strict=True)
    ]
    covered = (table["observed_ci_low"] <= true_by_bin) & (true_by_bin <= table["observed_ci_high"])
    assert covered.sum() >= 4
    assert (table["observed_ci_low"] <= table["observed_uplift"]).all()
    assert (table["observed_uplift"] <= table["observed_ci_high"]).all()


def test_fit_nuisances_is_out_of_fold_and_keeps_customers_together():
    rng = np.random.default_rng(0)
    n = 600
    features = pd.DataFrame({"noise": rng.normal(size=n)}, index=pd.RangeIndex(100, 100 + n))
    t = rng.binomial(1, 0.5, n)
    y = rng.binomial(1, 0.5, n)  # pure noise: no model can predict it out of sample
    customer = rng.integers(0, 150, n)
    memoriser = KNeighborsClassifier(n_neighbors=1)  # in sample it would return y exactly
    nuisances = fit_nuisances(
        features, y, t, customer, outcome_model=memoriser, propensity_model=memoriser, n_folds=3
    )
    assert list(nuisances.columns) == ["mu0", "mu1", "propensity", "fold"]
    assert nuisances.index.equals(features.index)
    observed_arm = np.where(t == 1, nuisances["mu1"], nuisances["mu0"])
    assert np.mean(observed_arm == y) < 0.6
    assert nuisances.groupby(customer)["fold"].nunique().max() == 1
    assert nuisances["propensity"].between(0.01, 0.99).all()  # clipped 0/1 predictions
    again = fit_nuisances(
        features, y, t, customer, outcome_model=memoriser, propensity_model=memoriser, n_folds=3
    )
    pd.testing.assert_frame_equal(nuisances, again)


def test_fit_nuisances_lightgbm_default_handles_text_columns():
    rng = np.random.default_rng(1)
    n = 500
    features = pd.DataFrame(
        {
            "days_past_due": rng.integers(1, 90, n),
            "segment": pd.Series(rng.choice(["farmer", "salaried"], n), dtype="str"),
        }
    )
    t = rng.binomial(1, 0.5, n)
    y = rng.binomial(1, 0.4, n)
    nuisances = fit_nuisances(features, y, t, n_folds=2, n_jobs=1)
    assert nuisances[["mu0", "mu1", "propensity"]].notna().all().all()
    assert nuisances["propensity"].between(0.01, 0.99).all()


def test_evaluate_scores_labels_naive_metrics_on_observational_data():
    x, y, t, _, score = _toy_log(4, 3000, confounded=True)
    report = evaluate_scores(
        score,
        y,
        t,
        x,
        value=np.full(3000, 1000.0),
        outcome_model=LogisticRegression(),
        propensity_model=LogisticRegression(),
        n_boot=100,
    )
    flat = report.to_dict()
    assert "naive_qini_auc" in flat
    assert "qini_auc" not in flat
    for name in ("qini_auc_ipw", "uplift_auc_ipw", "naive_uplift_at_20pct", "ate_dr"):
        assert name in flat
    for stem in ("value_top_20pct_dr", "value_top_10pct_ipw", "value_weighted_top_30pct_dr"):
        assert flat[f"{stem}_ci_low"] <= flat[stem] <= flat[f"{stem}_ci_high"]
    # Value-weighted cures at a constant 1000 CNY per cure are 1000 x the cures.
    assert flat["value_weighted_top_20pct_dr"] == pytest.approx(1000 * flat["value_top_20pct_dr"])
    assert all(isinstance(v, float) and np.isfinite(v) for v in flat.values())
    frame = report.to_frame()
    assert list(frame.columns) == ["estimate", "ci_low", "ci_high", "estimator", "unit"]
    assert frame.loc["naive_qini_auc", "estimator"] == "naive"


def test_evaluate_scores_on_randomised_data_reuses_nuisances_and_plots():
    import matplotlib

    x, y, t, _, score = _toy_log(6, 2000)
    report = evaluate_scores(
        score, y, t, x, randomized=0.5, outcome_model=LogisticRegression(), n_boot=100
    )
    flat = report.to_dict()
    assert "qini_auc" in flat
    assert "naive_qini_auc" not in flat
    assert flat["randomized"] == 1.0
    # The IPW metrics equal the naive ones when the assignment probability is constant.
    assert flat["qini_auc_ipw"] == pytest.approx(flat["qini_auc"])
    again = evaluate_scores(
        score, y, t, None, randomized=0.5, nuisances=report.nuisances, n_boot=100
    )
    assert again.to_dict() == flat
    # Logged probabilities that differ between rows make naive comparisons confounded again.
    varying = np.where(x[:, 1] > 0, 0.6, 0.4)
    logged = evaluate_scores(
        score, y, t, x, randomized=varying, outcome_model=LogisticRegression(), n_boot=20
    )
    assert "naive_qini_auc" in logged.to_dict()
    assert logged.nuisances["propensity"].tolist() == varying.tolist()

    style = dict(matplotlib.rcParams)
    figure = report.plot()
    assert len(figure.axes) == 2
    assert figure.axes[0].get_title() == "Qini curve"
    assert len(plot_qini_curve(report.curves).axes) == 1
    assert len(plot_calibration(report.calibration).axes) == 1
    assert dict(matplotlib.rcParams) == style


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: uplift_curve([1, 0, 1], [0.1, 0.2], [1, 0, 1]), "same length"),
        (lambda: qini_curve([1, 0, 1], [0.1, 0.2, 0.3], [1, 2, 0]), "treatment must be binary"),
        (lambda: uplift_auc_score([1, 0, 3], [0.1, 0.2, 0.3], [1, 0, 1]), "y_true must be binary"),
        (lambda: qini_auc_score([1, 0, 1], [0.1, np.nan, 0.3], [1, 0, 1]), "uplift must be finite"),
        (lambda: uplift_curve([1, 0, 1], [0.1, 0.2, 0.3], [1, 1, 1]), "single arm"),
        (
            lambda: qini_curve_ipw([1, 0, 1], [0.1, 0.2, 0.3], [1, 0, 1], [0.5, 1.0, 0.5]),
            r"propensity must lie strictly between 0 and 1; "
            r"1 row\(s\) do not, e\.g\. positions \[1\] with values \[1\.0\]",
        ),
        (
            lambda: uplift_at_k([1, 0, 1], [0.1, 0.2, 0.3], [1, 0, 1], "first", 0.5),
            "'overall' or 'by_group'",
        ),
        (lambda: uplift_at_k([1, 0, 1], [0.1, 0.2, 0.3], [1, 0, 1], "overall", 3), "k=3"),
        (lambda: uplift_at_k([1, 0, 1], [0.1, 0.2, 0.3], [1, 0, 1], "overall", 1.5), "k=1.5"),
        (
            lambda: policy_value(SMALL_Y, [0.4, 0.3, 0.2, 0.1], SMALL_T, SMALL_NUISANCES, 5),
            r"count k must lie in \[1, 4\]",
        ),
        (
            lambda: policy_value(
                SMALL_Y, [0.4, 0.3, 0.2, 0.1], SMALL_T, SMALL_NUISANCES[["propensity"]], 2
            ),
            r"lacks column\(s\) \['mu0', 'mu1'\]",
        ),
        (
            lambda: average_treatment_effect(
                SMALL_Y, SMALL_T, SMALL_NUISANCES.assign(propensity=[0.5, 0.0, 0.5, 0.5])
            ),
            "propensity must lie strictly between 0 and 1",
        ),
        (
            lambda: fit_nuisances(np.zeros((4, 1)), [1, 0, 1], [1, 0, 1, 0], n_folds=2),
            "same length",
        ),
        (
            lambda: fit_nuisances(
                np.zeros((6, 1)), [1, 0, 1, 0, 1, 0], [1, 0, 1, 0, 1, 0], known_propensity=1.0
            ),
            "known_propensity must lie strictly between 0 and 1",
        ),
        (
            lambda: evaluate_scores([0.1, 0.2], [1, 0], [1, 0], None),
            "needs X_for_nuisances or precomputed nuisances",
        ),
    ],
)
def test_bad_input_raises(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_fit_nuisances_names_a_fold_without_both_outcomes():
    # Every visited customer is cured: the visited-arm outcome model has one class.
    features = np.arange(20, dtype=float).reshape(-1, 1)
    t = np.tile([1, 0], 10)
    y = np.where(t == 1, 1, np.tile([0, 1, 1, 0], 5))
    with pytest.raises(ValueError, match=r"the visited training rows .* single outcome class"):
        fit_nuisances(features, y, t, outcome_model=LogisticRegression(), known_propensity=0.5)
