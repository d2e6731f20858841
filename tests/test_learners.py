"""Uplift learners, propensity model, overlap diagnostics and UpliftModel."""

# scikit-learn's convention: the feature matrix is `X` (upper case).
# ruff: noqa: N803, N806

import dataclasses
import re
import subprocess
import sys
import warnings

import joblib
import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.neighbors import KNeighborsClassifier
from sklearn.utils import estimator_checks

from visitrisk.labels import TrainingSet
from visitrisk.learners import (
    DRLearner,
    SLearner,
    TLearner,
    UpliftModel,
    XLearner,
    cross_val_uplift,
)
from visitrisk.propensity import OverlapWarning, PropensityModel, overlap_diagnostics

SEGMENT_EFFECT = {"farmer": 0.25, "salaried": 0.0, "small_business": -0.2}
LEARNERS = {
    "t": lambda: TLearner(random_state=0, n_jobs=1),
    "s": lambda: SLearner(random_state=0, n_jobs=1),
    "x": lambda: XLearner(n_folds=3, random_state=0, n_jobs=1),
    "dr": lambda: DRLearner(n_folds=3, random_state=0, n_jobs=1),
}


def make_confounded(n_customers=2500, snapshots=2, seed=0, overlap_strength=1.2):
    """Customers with a planted visit effect per segment; the riskiest get visited.

    Visits go to high-DPD customers, who also cure less: the naive visited-minus-not
    difference is biased downwards in every segment.
    """
    rng = np.random.default_rng(seed)
    n = n_customers * snapshots
    customer_id = np.repeat(np.char.add("C", np.arange(n_customers).astype(str)), snapshots)
    segment = np.repeat(rng.choice(list(SEGMENT_EFFECT), n_customers), snapshots)
    days_past_due = rng.gamma(2.0, 15.0, n)
    arrears = rng.gamma(2.0, 2000.0, n)
    arrears[rng.random(n) < 0.05] = np.nan
    risk = (days_past_due - 30.0) / 20.0
    propensity = 1.0 / (1.0 + np.exp(-(overlap_strength * risk + 0.3 * (segment == "farmer"))))
    if overlap_strength < 2:
        propensity = np.clip(propensity, 0.1, 0.9)
    treatment = rng.binomial(1, propensity)
    effect = pd.Series(segment).map(SEGMENT_EFFECT).to_numpy()
    p_control = np.clip(1.0 / (1.0 + np.exp(-(0.2 - 1.5 * risk))), 0.22, 0.74)
    cured = rng.binomial(1, p_control + effect * treatment)
    X = pd.DataFrame(
        {
            "segment": pd.Categorical(segment, categories=list(SEGMENT_EFFECT)),
            "days_past_due": days_past_due,
            "arrears": arrears,
            "has_guarantor": rng.random(n) < 0.3,
            "noise": rng.normal(size=n),
        }
    )
    return X, cured, treatment, customer_id


@pytest.fixture(scope="module")
def confounded():
    return make_confounded()


@pytest.fixture(scope="module")
def fitted(confounded):
    X, y, t, groups = confounded
    return {name: make().fit(X, y, t, groups=groups) for name, make in LEARNERS.items()}


@pytest.fixture(scope="module")
def small():
    rng = np.random.default_rng(1)
    n = 300
    X = pd.DataFrame(
        {
            "segment": pd.Categorical(rng.choice(["a", "b"], n), categories=["a", "b"]),
            "days_past_due": rng.gamma(2.0, 15.0, n),
        }
    )
    t = rng.integers(0, 2, n)
    y = rng.integers(0, 2, n)
    return X, y, t


# --------------------------------------------------------------------------- effects


def test_synthetic_set_is_confounded(confounded):
    X, y, t, _ = confounded
    frame = pd.DataFrame({"segment": X["segment"], "y": y, "t": t})
    naive = frame.groupby("segment", observed=True).apply(
        lambda rows: rows.loc[rows.t == 1, "y"].mean() - rows.loc[rows.t == 0, "y"].mean()
    )
    # The true effect for salaried customers is 0; the naive estimate is far below it.
    assert naive["salaried"] < -0.1


@pytest.mark.parametrize("name", list(LEARNERS))
def test_learner_recovers_sign_of_planted_effect(fitted, confounded, name):
    X = confounded[0]
    uplift = pd.Series(fitted[name].predict(X)).groupby(X["segment"].to_numpy()).mean()
    assert uplift["farmer"] > 0.1
    assert abs(uplift["salaried"]) < 0.07
    assert uplift["small_business"] < -0.1


@pytest.mark.parametrize("name", list(LEARNERS))
def test_predict_outcomes_consistent_with_uplift(fitted, confounded, name):
    X = confounded[0]
    learner = fitted[name]
    uplift = learner.predict(X)
    outcomes = learner.predict_outcomes(X)
    assert isinstance(uplift, np.ndarray)
    assert uplift.shape == (len(X),)
    assert list(outcomes.columns) == ["p_control", "p_treated"]
    assert outcomes.index.equals(X.index)
    assert outcomes.to_numpy().min() >= 0.0
    assert outcomes.to_numpy().max() <= 1.0
    expected_treated = np.clip(outcomes["p_control"].to_numpy() + uplift, 0.0, 1.0)
    np.testing.assert_allclose(outcomes["p_treated"].to_numpy(), expected_treated, atol=1e-12)


def test_nan_and_categorical_rows_get_finite_uplift(fitted, confounded):
    X = confounded[0]
    assert X["arrears"].isna().sum() > 0
    for learner in fitted.values():
        assert np.isfinite(learner.predict(X[X["arrears"].isna()])).all()


def test_dr_raw_uplift_is_the_mean_of_the_fold_effect_models(fitted, confounded):
    X = confounded[0].iloc[:1000]
    dr = fitted["dr"]
    assert len(dr.final_models_) == dr.n_folds
    contributions = np.mean([model.predict(X, pred_contrib=True) for model in dr.final_models_], 0)
    np.testing.assert_allclose(contributions.sum(axis=1), dr.raw_uplift(X), atol=1e-9)


def test_dr_out_of_fold_uplift_comes_from_the_model_that_missed_the_fold(fitted, confounded):
    X = confounded[0]
    dr = fitted["dr"]
    p_control = dr.oof_outcomes_["p_control"].to_numpy()
    for index, model in enumerate(dr.final_models_):
        rows = np.flatnonzero(dr.fold_ == index)
        raw = model.predict(X.iloc[rows])
        np.testing.assert_allclose(
            dr.oof_uplift_[rows], np.clip(raw, -p_control[rows], 1.0 - p_control[rows])
        )
    # In-sample and out-of-fold uplift differ: the final models saw their own rows.
    assert not np.allclose(dr.oof_uplift_, dr.predict(X))


def test_dr_single_final_model_still_recovers_the_planted_effect(confounded):
    X, y, t, groups = confounded
    dr = DRLearner(cross_fit_effect=False, n_folds=3, random_state=0, n_jobs=1)
    dr.fit(X, y, t, groups=groups)
    assert len(dr.final_models_) == 1
    assert not hasattr(dr, "oof_uplift_")
    np.testing.assert_allclose(dr.raw_uplift(X), dr.final_models_[0].predict(X))
    uplift = pd.Series(dr.predict(X)).groupby(X["segment"].to_numpy()).mean()
    assert uplift["farmer"] > 0.1
    assert abs(uplift["salaried"]) < 0.07
    assert uplift["small_business"] < -0.1


@pytest.fixture(scope="module")
def overfit_dr(confounded):
    """A DR learner whose final model memorises noisy pseudo-outcomes: raw uplift > 1."""
    from lightgbm import LGBMRegressor

    X, y, t, groups = (part[:2000] for part in confounded)
    effect = LGBMRegressor(
        n_estimators=40, num_leaves=63, min_child_samples=2, learning_rate=0.5, n_jobs=1, verbose=-1
    )
    learner = DRLearner(effect_model=effect, random_state=0, n_jobs=1)
    return learner.fit(X, y, t, groups=groups)


def test_dr_uplift_is_projected_onto_the_feasible_interval(overfit_dr, confounded):
    X = confounded[0].iloc[:2000]
    dr = overfit_dr
    raw, uplift = dr.raw_uplift(X), dr.predict(X)
    outcomes = dr.predict_outcomes(X)
    p_control = outcomes["p_control"].to_numpy()
    # The unbounded regressor leaves [-1, 1]; the uplift never leaves [-p0, 1 - p0].
    assert np.abs(raw).max() > 1.0
    assert (uplift >= -p_control - 1e-12).all()
    assert (uplift <= 1.0 - p_control + 1e-12).all()
    np.testing.assert_allclose(uplift, np.clip(raw, -p_control, 1.0 - p_control))
    # p_treated follows from p_control and the uplift without a further clip.
    np.testing.assert_allclose(outcomes["p_treated"].to_numpy(), p_control + uplift)
    inside = (raw > -p_control) & (raw < 1.0 - p_control)
    np.testing.assert_array_equal(uplift[inside], raw[inside])


def test_dr_explanation_adds_up_where_the_bound_binds(overfit_dr, confounded):
    from visitrisk.explain import explain

    X = confounded[0].iloc[:400]
    dr = overfit_dr
    bound = dr.predict(X) != dr.raw_uplift(X)
    assert bound.any()
    why = explain(dr, X)
    total = why.values.sum(axis=1).to_numpy() + why.base_values.to_numpy()
    np.testing.assert_allclose(total, dr.predict(X), atol=1e-9)
    # Only the rows where the projection binds get a shifted base value.
    base = why.base_values.to_numpy()
    assert np.ptp(base[~bound]) < 1e-12
    assert (np.abs(base[bound] - base[~bound][0]) > 1e-6).all()


# --------------------------------------------------------------------------- early stopping


def _lightgbm_models(learner):
    """(early-stopped models, models keeping all their trees) of a fitted learner."""
    if isinstance(learner, TLearner):
        return [learner.control_model_, learner.treated_model_], []
    if isinstance(learner, SLearner):
        return [learner.model_], []
    propensity = list(learner.propensity_model_.models_)
    if isinstance(learner, XLearner):
        return (
            [*propensity, learner.control_model_, learner.treated_model_],
            [learner.effect_model_control_, learner.effect_model_treated_],
        )
    return propensity + learner.control_models_ + learner.treated_models_, learner.final_models_


@pytest.fixture(scope="module")
def early_stopped(confounded):
    X, y, t, groups = (part[:2000] for part in confounded)
    return {
        name: make().set_params(early_stopping_rounds=5).fit(X, y, t, groups=groups)
        for name, make in LEARNERS.items()
    }


@pytest.mark.parametrize("name", list(LEARNERS))
def test_outcome_and_propensity_models_are_early_stopped(early_stopped, fitted, name):
    stopped, complete = _lightgbm_models(early_stopped[name])
    # The ceiling is 150 trees; held-out customers stop these small, noisy models earlier.
    for model in stopped:
        assert 1 <= model.best_iteration_ < model.n_estimators
    # Effect regressors (see _DirectLearner._fit_effect) keep their fixed number of trees.
    for model in complete:
        assert model.booster_.current_iteration() == model.n_estimators
    # Off by default: every tree of every model.
    stopped, complete = _lightgbm_models(fitted[name])
    for model in [*stopped, *complete]:
        assert model.booster_.current_iteration() == model.n_estimators


def test_early_stopping_holds_out_whole_customers(confounded):
    X, y, t, groups = confounded
    learner = TLearner(early_stopping_rounds=5, validation_fraction=0.2, random_state=0)
    learner.fit(X, y, t, groups=groups)
    held_out = pd.Series(learner._validation).groupby(groups)
    assert (held_out.nunique() == 1).all()
    assert 0.15 < held_out.first().mean() < 0.25


def test_early_stopping_off_fits_every_tree(small):
    from lightgbm import LGBMClassifier

    X, y, t = small
    base = LGBMClassifier(n_estimators=40, verbose=-1)
    learner = TLearner(outcome_model=base, early_stopping_rounds=None, random_state=0)
    learner.fit(X, y, t)
    assert learner.control_model_.booster_.current_iteration() == 40
    assert learner._validation is None


def test_fit_model_falls_back_to_all_rows_when_validation_lacks_a_class(small):
    from lightgbm import LGBMClassifier

    from visitrisk import _learner_input as _inp

    X, y, _ = small

    def model():
        return LGBMClassifier(n_estimators=30, random_state=0, n_jobs=1, verbose=-1)

    # Validation rows hold only not-cured customers: log-loss there cannot stop anything,
    # so the model is fitted on every row, exactly as without early stopping.
    one_class = (y == 0) & (np.arange(len(y)) % 3 == 0)
    fallback = _inp.fit_model(model(), X, y, None, validation=one_class, stopping_rounds=5)
    np.testing.assert_array_equal(fallback.predict_proba(X), model().fit(X, y).predict_proba(X))
    assert fallback.booster_.current_iteration() == 30
    # With both classes held out, the trees grow on the other rows only.
    mixed = np.arange(len(y)) % 4 == 0
    stopped = _inp.fit_model(model(), X, y, None, validation=mixed, stopping_rounds=5)
    reference = model().set_params(n_estimators=stopped.best_iteration_)
    reference.fit(X[~mixed], y[~mixed])
    np.testing.assert_allclose(stopped.predict_proba(X), reference.predict_proba(X))


def test_early_stopping_ignores_other_base_models(small):
    X, y, t = small
    numeric = X[["days_past_due"]]
    learner = XLearner(
        outcome_model=LogisticRegression(),
        effect_model=LinearRegression(),
        propensity_model=LogisticRegression(),
        random_state=0,
    ).fit(numeric, y, t)
    # Non-LightGBM models train on every row, validation customers included.
    assert learner.control_model_.n_features_in_ == 1
    assert np.isfinite(learner.predict(numeric)).all()


def test_x_and_dr_learners_share_their_parameters():
    # The DR learner adds only the choice of its final stage.
    assert set(DRLearner._get_param_names()) - set(XLearner._get_param_names()) == {
        "cross_fit_effect"
    }
    assert set(XLearner._get_param_names()) < set(DRLearner._get_param_names())
    assert TLearner._get_param_names() == SLearner._get_param_names()
    assert set(TLearner._get_param_names()) < set(DRLearner._get_param_names())


def test_dr_pseudo_outcome_uses_out_of_fold_nuisances(fitted, confounded):
    _, y, t, _ = confounded
    dr = fitted["dr"]
    mu0, mu1 = dr.oof_outcomes_["p_control"].to_numpy(), dr.oof_outcomes_["p_treated"].to_numpy()
    e = dr.oof_propensity_
    expected = mu1 - mu0 + t * (y - mu1) / e - (1 - t) * (y - mu0) / (1 - e)
    np.testing.assert_allclose(dr.pseudo_outcome_, expected)
    assert e.min() >= dr.propensity_clip
    assert e.max() <= 1 - dr.propensity_clip


# --------------------------------------------------------------------------- cross-fitting


class RecordingClassifier(ClassifierMixin, BaseEstimator):
    """Predicts the training mean and records which customers it was fitted on."""

    def __init__(self, *, id_column="customer_code"):
        self.id_column = id_column

    def fit(self, X, y, sample_weight=None):
        self.classes_ = np.array([0, 1])
        self.seen_ = set(X[self.id_column].astype(int))
        self.rate_ = float(np.mean(y))
        return self

    def predict_proba(self, X):
        return np.column_stack([np.full(len(X), 1 - self.rate_), np.full(len(X), self.rate_)])


def test_dr_cross_fitting_keeps_each_customer_out_of_its_own_models(confounded):
    X, y, t, groups = confounded
    code = pd.Series(groups).str[1:].astype(int).to_numpy()
    X = X.assign(customer_code=code)
    recorder = RecordingClassifier()
    dr = DRLearner(
        outcome_model=recorder,
        propensity_model=recorder,
        effect_model=LinearRegression(),
        n_folds=4,
        random_state=0,
    )
    dr.fit(X[["customer_code", "noise"]], y, t, groups=groups)
    assert not hasattr(recorder, "seen_")  # the template itself is never fitted
    folds_per_customer = pd.Series(dr.fold_).groupby(groups).nunique()
    assert (folds_per_customer == 1).all()
    for k in range(4):
        held_out = set(code[dr.fold_ == k])
        models = (dr.control_models_[k], dr.treated_models_[k], dr.propensity_model_.models_[k])
        for model in models:
            assert model.seen_, "fold model saw no customers"
            assert not model.seen_ & held_out


def test_cross_val_uplift_is_out_of_fold_and_reproducible(confounded):
    X, y, t, groups = confounded
    learner = TLearner(outcome_model=LogisticRegression(solver="newton-cholesky"), random_state=0)
    numeric = X[["days_past_due", "noise"]]
    first = cross_val_uplift(learner, numeric, y, t, groups=groups, n_folds=3, random_state=0)
    second = cross_val_uplift(learner, numeric, y, t, groups=groups, n_folds=3, random_state=0)
    in_sample = clone(learner).fit(numeric, y, t).predict(numeric)
    assert first.shape == (len(X),)
    np.testing.assert_array_equal(first, second)
    assert not np.allclose(first, in_sample)
    assert not hasattr(learner, "control_model_")


# --------------------------------------------------------------------------- estimator API

ESTIMATORS = [
    TLearner(),
    SLearner(),
    XLearner(),
    DRLearner(),
    PropensityModel(),
    UpliftModel(learner="t", n_jobs=1),
]
API_CHECKS = [
    estimator_checks.check_no_attributes_set_in_init,
    estimator_checks.check_parameters_default_constructible,
    estimator_checks.check_get_params_invariance,
    estimator_checks.check_set_params,
    estimator_checks.check_estimator_repr,
    estimator_checks.check_do_not_raise_errors_in_init_or_set_params,
]


@pytest.mark.parametrize("check", API_CHECKS, ids=lambda check: check.__name__)
@pytest.mark.parametrize("estimator", ESTIMATORS, ids=lambda e: type(e).__name__)
def test_scikit_learn_api_checks(estimator, check):
    # The fit-based checks assume fit(X, y); these cover __init__, get/set_params and clone.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check(type(estimator).__name__, estimator)


@pytest.mark.parametrize(
    "learner",
    [
        TLearner(outcome_model=LogisticRegression(C=0.5), random_state=3, n_jobs=2),
        XLearner(effect_model=LinearRegression(), n_folds=4, propensity_clip=0.05),
        DRLearner(n_folds=2, cross_fit_effect=False, random_state=np.random.RandomState(7)),
    ],
    ids=lambda learner: type(learner).__name__,
)
def test_clone_round_trips_and_set_params(learner):
    twin = clone(learner)
    assert type(twin) is type(learner)
    for key, value in learner.get_params(deep=False).items():
        assert joblib.hash(twin.get_params(deep=False)[key]) == joblib.hash(value)
    assert twin.set_params(n_jobs=1) is twin
    assert twin.get_params()["n_jobs"] == 1


def test_clone_of_fitted_learner_is_unfitted(fitted, confounded):
    twin = clone(fitted["t"])
    with pytest.raises(NotFittedError, match="not fitted yet"):
        twin.predict(confounded[0])


def test_user_base_model_is_cloned_not_fitted(confounded):
    X, y, t, _ = confounded
    outcome_model = LogisticRegression(solver="newton-cholesky")
    learner = TLearner(outcome_model=outcome_model).fit(X[["days_past_due", "noise"]], y, t)
    assert not hasattr(outcome_model, "coef_")
    assert learner.control_model_ is not outcome_model
    assert learner.outcome_model is outcome_model


@pytest.mark.parametrize("name", list(LEARNERS))
def test_predict_does_not_mutate_the_estimator(fitted, confounded, name):
    learner = fitted[name]
    before = joblib.hash(learner)
    learner.predict(confounded[0])
    learner.predict_outcomes(confounded[0])
    assert joblib.hash(learner) == before


def test_same_seed_same_uplift_and_random_state_kept_as_given(small):
    X, y, t = small
    state = np.random.RandomState(5)
    first = DRLearner(n_folds=2, random_state=11).fit(X, y, t).predict(X)
    second = DRLearner(n_folds=2, random_state=11).fit(X, y, t).predict(X)
    np.testing.assert_array_equal(first, second)
    learner = DRLearner(n_folds=2, random_state=state).fit(X, y, t)
    assert learner.random_state is state


def test_unit_sample_weights_change_nothing(small):
    X, y, t = small
    plain = TLearner(random_state=0).fit(X, y, t).predict(X)
    weighted = TLearner(random_state=0).fit(X, y, t, sample_weight=np.ones(len(X))).predict(X)
    np.testing.assert_allclose(plain, weighted)


def test_base_model_without_sample_weight_is_rejected_when_weights_given(small):
    X, y, t = small
    learner = TLearner(outcome_model=KNeighborsClassifier())
    with pytest.raises(
        ValueError, match=r"KNeighborsClassifier\.fit does not accept sample_weight"
    ):
        learner.fit(X[["days_past_due"]], y, t, sample_weight=np.ones(len(X)))


@pytest.mark.parametrize("name", list(LEARNERS))
def test_no_rows_to_score_gives_empty_output(fitted, confounded, name):
    empty = confounded[0].iloc[:0]
    assert fitted[name].predict(empty).shape == (0,)
    assert fitted[name].predict_outcomes(empty).shape == (0, 2)


def test_numpy_features_are_accepted(small):
    X, y, t = small
    array = X[["days_past_due"]].to_numpy()
    learner = TLearner(outcome_model=LogisticRegression(solver="newton-cholesky")).fit(array, y, t)
    assert learner.predict(array).shape == (len(X),)
    assert not hasattr(learner, "feature_names_in_")


# --------------------------------------------------------------------------- bad input


def _fit_args(small):
    X, y, t = small
    return X.copy(), y.astype(float), t.astype(float)


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda X, y, t: (X, y, np.zeros_like(t)), "treatment takes the single value 0"),
        (
            lambda X, y, t: (X, y, np.where(np.arange(len(t)) == 3, np.nan, t)),
            r"treatment has 1 missing value\(s\) \(NaN\), e.g. at rows \[3\]",
        ),
        (
            lambda X, y, t: (X, np.where(np.arange(len(y)) == 0, np.nan, y), t),
            r"y has 1 missing value",
        ),
        (lambda X, y, t: (X, y + (np.arange(len(y)) == 5), t), r"y must be binary .* \[2\.0\]"),
        (lambda X, y, t: (X, y, t * 2), r"treatment must be binary .* \[2\.0\]"),
        (lambda X, y, t: (X, y[:-1], t), "y has 299 rows but X has 300"),
        (lambda X, y, t: (X, y, t[:10]), "treatment has 10 rows but X has 300"),
        (
            lambda X, y, t: (X.assign(branch_id="B1"), y, t),
            r"unsupported feature dtype in column\(s\) 'branch_id'",
        ),
        (lambda X, y, t: (X.iloc[:0], y[:0], t[:0]), "X is empty"),
        (
            lambda X, y, t: (X, np.where(t == 1, 1.0, y), t),
            "y takes the single value 1 in the treated arm",
        ),
    ],
)
@pytest.mark.parametrize("make", [TLearner, SLearner, XLearner, DRLearner])
def test_bad_training_input_is_rejected(small, make, mutate, message):
    X, y, t = mutate(*_fit_args(small))
    with pytest.raises(ValueError, match=message):
        make(n_jobs=1).fit(X, y, t)


@pytest.mark.parametrize(
    ("learner", "message"),
    [
        (DRLearner(n_folds=1), "The 'n_folds' parameter of DRLearner must be an int >= 2. Got 1"),
        (XLearner(propensity_clip=0.7), "'propensity_clip' parameter of XLearner must be a float"),
        (TLearner(outcome_model="lgbm"), "'outcome_model' parameter of TLearner must be None or"),
        (DRLearner(effect_model=LogisticRegression, n_jobs=0), "'n_jobs' parameter of DRLearner"),
        (SLearner(random_state="seed"), "'random_state' parameter of SLearner"),
        (
            TLearner(early_stopping_rounds=0),
            r"'early_stopping_rounds' parameter of TLearner must be None or an int >= 1",
        ),
        (
            DRLearner(cross_fit_effect="yes"),
            r"'cross_fit_effect' parameter of DRLearner must be a bool \(True or False\)\. Got 'y",
        ),
        (
            XLearner(validation_fraction=0.5),
            r"'validation_fraction' parameter of XLearner must be a float in \(0\.0, 0\.5\)",
        ),
    ],
)
def test_bad_parameters_are_rejected_at_fit(small, learner, message):
    with pytest.raises(ValueError, match=message):
        learner.fit(*small)


def test_fewer_customers_than_folds_is_rejected(small):
    X, y, t = small
    groups = np.where(np.arange(len(X)) % 2 == 0, "C1", "C2")
    with pytest.raises(ValueError, match="3 folds need at least 3 distinct groups"):
        DRLearner(n_folds=3).fit(X, y, t, groups=groups)


def test_missing_group_label_is_rejected(small):
    X, y, t = small
    groups = np.where(np.arange(len(X)) == 7, None, "C1").astype(object)
    with pytest.raises(ValueError, match=r"groups has 1 missing value"):
        DRLearner(n_folds=2).fit(X, y, t, groups=groups)


@pytest.fixture(scope="module")
def fitted_small(small):
    X, y, t = small
    return TLearner(outcome_model=None, random_state=0).fit(X, y, t)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda X: X.drop(columns="days_past_due"),
            r"missing feature\(s\) seen at fit time: \['days_past_due'\]",
        ),
        (lambda X: X.assign(extra=1.0), r"feature\(s\) not seen at fit time: \['extra'\]"),
        (lambda X: X[["days_past_due", "segment"]], "in a different order"),
        (
            lambda X: X.assign(segment=X["segment"].cat.add_categories("c")),
            r"categories of feature 'segment' differ from fit time \(added \['c'\]",
        ),
        (
            lambda X: X.assign(segment=X["segment"].cat.reorder_categories(["b", "a"])),
            "same categories in a different order",
        ),
        (lambda X: X.assign(segment=X["segment"].astype(str)), "unsupported feature dtype"),
        (
            lambda X: X.assign(days_past_due=X["days_past_due"].astype("category")),
            "'days_past_due' was non-categorical at fit time",
        ),
        (
            lambda X: X.assign(segment=X["segment"].cat.codes),
            "'segment' was category at fit time but has dtype int8",
        ),
    ],
)
def test_predict_rejects_features_that_differ_from_fit(fitted_small, small, change, message):
    with pytest.raises(ValueError, match=message):
        fitted_small.predict(change(small[0]))


def test_predict_before_fit_is_rejected(small):
    with pytest.raises(NotFittedError, match="DRLearner instance is not fitted yet"):
        DRLearner().predict(small[0])


# --------------------------------------------------------------------------- propensity


def test_propensity_is_calibrated_and_clipped(confounded):
    X, _, t, groups = confounded
    model = PropensityModel(n_folds=3, clip=0.05, random_state=0).fit(X, t, groups=groups)
    oof = model.oof_propensity_
    # Isotonic calibration preserves the mean; clipping at 0.05 barely moves it here.
    assert abs(oof.mean() - t.mean()) < 0.01
    assert oof.min() >= 0.05
    assert oof.max() <= 0.95
    assert model.predict(X).shape == (len(X),)
    by_fold = pd.Series(model.fold_).groupby(groups).nunique()
    assert (by_fold == 1).all()


def test_overlap_diagnostics_on_known_values():
    propensity = np.array([0.01, 0.2, 0.5, 0.8, 0.3, 0.6, 0.97, 0.99])
    treatment = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    with pytest.warns(OverlapWarning, match=r"Poor overlap: 37\.5% .* \(threshold 10%"):
        report = overlap_diagnostics(propensity, treatment)
    assert report.share_outside == pytest.approx(3 / 8)
    assert report.share_outside_by_arm.to_dict() == {"control": 0.25, "treated": 0.5}
    assert report.quantiles.loc[0.0, "control"] == pytest.approx(0.01)
    assert report.quantiles.loc[1.0, "treated"] == pytest.approx(0.99)
    assert report.quantiles.loc[0.5, "treated"] == pytest.approx(0.785)
    assert report.n_rows.to_dict() == {"control": 4, "treated": 4}
    assert report.is_poor


def test_good_overlap_emits_no_warning():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        report = overlap_diagnostics([0.2, 0.4, 0.6, 0.8], [0, 1, 0, 1])
    assert not report.is_poor


def test_dr_fit_warns_on_poor_overlap():
    X, y, t, groups = make_confounded(n_customers=400, snapshots=1, seed=2, overlap_strength=6)
    with pytest.warns(OverlapWarning, match=r"Poor overlap: .* outside \[0\.05, 0\.95\]"):
        dr = DRLearner(n_folds=2, random_state=0).fit(X, y, t, groups=groups)
    assert dr.overlap_.is_poor
    assert dr.overlap(warn=False).share_outside == dr.overlap_.share_outside


# --------------------------------------------------------------------------- UpliftModel


@pytest.fixture(scope="module")
def training_set(confounded):
    X, y, t, groups = confounded
    return TrainingSet(
        X=X,
        treatment=pd.Series(t, dtype="int8"),
        cured=pd.Series(y, dtype="int8"),
        value_at_stake=X["arrears"].fillna(0.0),
        snapshot=pd.Series(pd.Timestamp("2026-06-30"), index=X.index),
        customer_id=pd.Series(groups, dtype="str"),
        timing=pd.DataFrame(index=X.index),
        metadata={},
    )


@pytest.fixture(scope="module")
def uplift_model(training_set):
    return UpliftModel(learner="dr", visit_cost=80.0, n_folds=3, random_state=0).fit(training_set)


def _today(X, n=50):
    today = X.iloc[:n].copy()
    today.insert(0, "customer_id", [f"K{i:03d}" for i in range(n)])
    return today


def test_score_columns_and_arithmetic(uplift_model, confounded):
    today = _today(confounded[0]).assign(arrears=lambda frame: frame["arrears"].fillna(100.0))
    scores = uplift_model.score(today)
    assert list(scores.columns) == [
        "p_cure_visit",
        "p_cure_no_visit",
        "uplift",
        "value_at_stake",
        "expected_gain",
    ]
    assert scores.index.name == "customer_id"
    assert scores.index.tolist() == today["customer_id"].tolist()
    np.testing.assert_allclose(scores["value_at_stake"], today["arrears"])
    np.testing.assert_allclose(
        scores["expected_gain"], scores["uplift"] * scores["value_at_stake"] - 80.0
    )
    np.testing.assert_allclose(
        scores["uplift"], uplift_model.learner_.predict(today.drop(columns="customer_id"))
    )
    np.testing.assert_allclose(
        scores["p_cure_visit"], np.clip(scores["p_cure_no_visit"] + scores["uplift"], 0, 1)
    )


def test_score_prefers_a_value_at_stake_column(uplift_model, confounded):
    today = _today(confounded[0]).set_index("customer_id")
    today["value_at_stake"] = 1000.0
    scores = uplift_model.score(today)
    np.testing.assert_allclose(scores["expected_gain"], scores["uplift"] * 1000.0 - 80.0)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda X: X.drop(columns="arrears"), "needs a 'value_at_stake' column or an 'arrears'"),
        (lambda X: X.assign(customer_id="K1"), r"duplicated customer_id\(s\) \['K1'\]"),
        (lambda X: X.assign(value_at_stake=-1.0), "value_at_stake is missing or negative"),
    ],
)
def test_score_rejects_bad_features(uplift_model, confounded, change, message):
    today = _today(confounded[0]).assign(arrears=1.0)
    with pytest.raises(ValueError, match=message):
        uplift_model.score(change(today))


def test_uplift_model_params_round_trip():
    model = UpliftModel(
        learner="x",
        visit_cost=25.0,
        n_folds=3,
        outcome_model=LogisticRegression(solver="newton-cholesky"),
    )
    params = model.get_params()
    assert params["n_folds"] == 3
    assert params["outcome_model__C"] == 1.0
    twin = clone(model)
    assert twin.get_params(deep=False).keys() == model.get_params(deep=False).keys()
    twin.set_params(learner="t", n_folds=4, outcome_model__C=0.1, visit_cost=0.0)
    assert twin.get_params()["outcome_model__C"] == 0.1
    assert model.get_params()["outcome_model__C"] == 1.0
    assert (twin.learner, twin.visit_cost, twin.learner_params["n_folds"]) == ("t", 0.0, 4)


@pytest.mark.parametrize(
    ("model", "message"),
    [
        (UpliftModel(learner="causal_forest"), r"must be one of \['dr', 's', 't', 'x'\]"),
        (UpliftModel(learner="t", n_folds=3), r"\['n_folds'\] are not parameters of TLearner"),
        (UpliftModel(visit_cost=-5.0), r"'visit_cost' parameter of UpliftModel .* \(CNY\)"),
        (
            UpliftModel(value_weighting=1.5),
            r"'value_weighting' parameter of UpliftModel must be a float in \[0, 1\]\. Got 1\.5",
        ),
        (UpliftModel(value_weighting=-0.1), r"'value_weighting' .* Got -0\.1 instead"),
        (UpliftModel(value_weighting="sqrt"), r"'value_weighting' .* Got 'sqrt' instead"),
        (UpliftModel(value_weighting=float("nan")), r"'value_weighting' .* Got nan instead"),
    ],
)
def test_uplift_model_rejects_bad_parameters(training_set, model, message):
    with pytest.raises(ValueError, match=message):
        model.fit(training_set)


def test_value_weighting_round_trips_through_clone_and_set_params():
    model = UpliftModel(learner="dr", value_weighting=0.5, cross_fit_effect=False)
    twin = clone(model)
    assert twin.get_params(deep=False) == model.get_params(deep=False)
    assert twin.value_weighting == 0.5
    assert twin.learner_params == {"cross_fit_effect": False}
    twin.set_params(value_weighting=1.0)
    assert (twin.value_weighting, model.value_weighting) == (1.0, 0.5)
    assert "value_weighting" not in twin.learner_params


def test_value_weighting_weighs_rows_by_a_power_of_the_value(training_set):
    # The T learner is deterministic given its seed: the model must equal a T learner fitted
    # with the normalised value weights (times the training set's unit weights).
    value = training_set.value_at_stake.to_numpy()
    model = UpliftModel(learner="t", value_weighting=0.5, random_state=0).fit(training_set)
    direct = TLearner(random_state=0).fit(
        training_set.X,
        training_set.cured.to_numpy(),
        training_set.treatment.to_numpy(),
        sample_weight=np.sqrt(value / value.mean()),
        groups=training_set.customer_id.to_numpy(),
    )
    np.testing.assert_allclose(model.predict(training_set.X), direct.predict(training_set.X))
    unweighted = UpliftModel(learner="t", random_state=0).fit(training_set)
    assert not np.allclose(model.predict(training_set.X), unweighted.predict(training_set.X))


@pytest.mark.parametrize("learner", ["s", "dr"])
def test_value_weighted_learners_recover_the_planted_effect(training_set, learner):
    model = UpliftModel(learner=learner, value_weighting=0.5, random_state=0, n_jobs=1)
    X = training_set.X
    uplift = pd.Series(model.fit(training_set).predict(X)).groupby(X["segment"].to_numpy()).mean()
    assert uplift["farmer"] > 0.1
    assert abs(uplift["salaried"]) < 0.07
    assert uplift["small_business"] < -0.1


def test_value_weighting_needs_a_value_for_every_row(training_set):
    value = training_set.value_at_stake.copy()
    value.iloc[[3, 7]] = np.nan
    broken = dataclasses.replace(training_set, value_at_stake=value)
    expected = training_set.customer_id.iloc[[3, 7]].tolist()
    with pytest.raises(ValueError, match=re.escape(f"2 row(s), e.g. customers {expected!r}")):
        UpliftModel(learner="t", value_weighting=1.0).fit(broken)
    # Without value weighting the value at stake plays no part in the fit.
    UpliftModel(learner="t", random_state=0).fit(broken)


def test_uplift_model_t_learner_outcomes(training_set, confounded):
    model = UpliftModel(learner="t", random_state=0).fit(training_set)
    scores = model.score(_today(confounded[0]).assign(arrears=500.0))
    np.testing.assert_allclose(scores["uplift"], scores["p_cure_visit"] - scores["p_cure_no_visit"])
    assert re.fullmatch(r"UpliftModel\(.*\)", repr(model).replace("\n", ""))


def test_import_visitrisk_defers_scikit_learn():
    code = "import sys, visitrisk; print('sklearn' in sys.modules, visitrisk.DRLearner.__name__)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "DRLearner"]
