"""Uplift learners: how much a visit raises a delinquent customer's chance to cure.

Four meta-learners for a binary outcome (cured) and a binary treatment (visited), each a
scikit-learn estimator with ``fit(X, y, treatment, sample_weight=None, groups=None)``,
``predict(X)`` (the uplift, in probability units) and ``predict_outcomes(X)`` (both arms'
cure probabilities), plus :class:`UpliftModel`, which fits one of them on a ``TrainingSet``
and scores customers in CNY.

In-sample vs out-of-fold. ``predict`` on the rows a learner was fitted on is *in-sample*:
its models saw those rows. The DR learner keeps its cross-fitted, out-of-fold nuisances
(``oof_outcomes_``, ``oof_propensity_``) and, by default, uplift (``oof_uplift_``), the X
learner its out-of-fold propensity; for an out-of-fold uplift of any learner use
:func:`cross_val_uplift`.

Early stopping (opt-in, ``early_stopping_rounds``): LightGBM outcome and propensity models
hold out ``validation_fraction`` of the customers (10 %) and stop adding trees once their
log-loss there stops improving.
"""

# scikit-learn's convention: the feature matrix is `X` (upper case).
# ruff: noqa: N803, N806

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, clone
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted

from visitrisk import _learner_input as _inp
from visitrisk.propensity import OverlapReport, PropensityModel, overlap_diagnostics

__all__ = [
    "DRLearner",
    "SLearner",
    "TLearner",
    "UpliftModel",
    "XLearner",
    "cross_val_uplift",
]

#: Name of the treatment column the S learner appends to the features.
TREATMENT_FEATURE = "_visit"

_COMMON_CONSTRAINTS: dict[str, _inp.Constraint] = {
    "outcome_model": _inp.CLASSIFIER,
    "early_stopping_rounds": _inp.STOPPING_ROUNDS,
    "validation_fraction": _inp.real_between(0.0, 0.5),
    "random_state": _inp.RANDOM_STATE,
    "n_jobs": _inp.N_JOBS,
}
_DIRECT_CONSTRAINTS: dict[str, _inp.Constraint] = {
    **_COMMON_CONSTRAINTS,
    "effect_model": _inp.REGRESSOR,
    "propensity_model": _inp.CLASSIFIER,
    "n_folds": _inp.int_at_least(2),
    "propensity_clip": _inp.real_between(0.0, 0.5),
}
_DR_CONSTRAINTS: dict[str, _inp.Constraint] = {
    **_DIRECT_CONSTRAINTS,
    "cross_fit_effect": _inp.BOOLEAN,
}


class _UpliftLearner(BaseEstimator):
    """Validation, fitted-state bookkeeping and the public methods shared by all learners.

    Its ``__init__`` holds the parameters of the outcome-model learners (T and S); the
    direct learners (X and DR) add theirs in :class:`_DirectLearner`.
    """

    _parameter_constraints: ClassVar[dict[str, _inp.Constraint]] = _COMMON_CONSTRAINTS

    def __init__(
        self,
        *,
        outcome_model: Any = None,
        early_stopping_rounds: int | None = None,
        validation_fraction: float = 0.1,
        random_state: Any = None,
        n_jobs: int | None = 1,
    ) -> None:
        self.outcome_model = outcome_model
        self.early_stopping_rounds = early_stopping_rounds
        self.validation_fraction = validation_fraction
        self.random_state = random_state
        self.n_jobs = n_jobs

    def fit(
        self,
        X: Any,
        y: Any,
        treatment: Any,
        sample_weight: Any = None,
        groups: Any = None,
    ) -> Any:
        """Fit the learner.

        Parameters
        ----------
        X : pandas.DataFrame of shape (n_rows, n_features)
            Features: numeric, bool or pandas ``category`` (categories fixed upstream); NaN
            is passed to LightGBM, which handles it natively. A 2-D array is accepted too.
        y : array-like of shape (n_rows,)
            Outcome: 1 if the customer cured, else 0 (bool accepted).
        treatment : array-like of shape (n_rows,)
            1 if the customer was visited, else 0 (bool accepted).
        sample_weight : array-like of shape (n_rows,), default None
            Row weights, passed to every base model.
        groups : array-like of shape (n_rows,), default None
            Customer id per row. Cross-fitting keeps each customer's rows in one fold.

        Returns
        -------
        self
            The fitted learner.
        """
        owner = type(self).__name__
        _inp.check_parameters(self, self._parameter_constraints)
        frame, schema = _inp.validate_fit_features(X, owner)
        n_rows = frame.shape[0]
        outcome = _inp.validate_binary(y, "y", n_rows, owner)
        arm = _inp.validate_binary(treatment, "treatment", n_rows, owner)
        weights = _inp.validate_sample_weight(sample_weight, n_rows, owner)
        labels = _inp.validate_groups(groups, n_rows, owner)
        _inp.check_arms_have_both_outcomes(outcome, arm, owner)
        self._schema = schema
        rng = check_random_state(self.random_state)
        stopping = self.early_stopping_rounds is not None
        self._validation = _inp.validation_rows(
            n_rows, self.validation_fraction if stopping else None, labels, rng
        )
        self._fit(frame, outcome, arm, weights, labels, rng)
        # Set last: a fit that raised leaves the learner unfitted for check_is_fitted.
        self.n_features_in_ = frame.shape[1]
        if schema.from_frame:
            self.feature_names_in_ = np.asarray(schema.names, dtype=object)
        return self

    def predict(self, X: Any) -> np.ndarray:
        """Return the estimated uplift of each row.

        Parameters
        ----------
        X : pandas.DataFrame of shape (n_rows, n_features)
            The fit-time features: same names, order and categories.

        Returns
        -------
        numpy.ndarray of shape (n_rows,)
            P(cure | visit) − P(cure | no visit), in probability units. In-sample on rows the
            learner was fitted on.
        """
        frame = self._validated(X)
        return self._uplift(frame) if len(frame) else np.empty(0)

    def predict_outcomes(self, X: Any) -> pd.DataFrame:
        """Return both arms' cure probabilities.

        Parameters
        ----------
        X : pandas.DataFrame of shape (n_rows, n_features)
            The fit-time features: same names, order and categories.

        Returns
        -------
        pandas.DataFrame
            Columns ``p_control`` (no visit) and ``p_treated`` (visit), indexed like ``X``.
        """
        p_control, p_treated, _ = self._predict_all(self._validated(X))
        index = X.index if isinstance(X, pd.DataFrame) else None
        return pd.DataFrame({"p_control": p_control, "p_treated": p_treated}, index=index)

    def _validated(self, X: Any) -> pd.DataFrame:
        check_is_fitted(self, "n_features_in_")
        return _inp.validate_predict_features(X, self._schema, type(self).__name__)

    def _predict_all(self, X: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``p_control``, ``p_treated`` and uplift of validated features in one pass."""
        if len(X) == 0:
            return np.empty(0), np.empty(0), np.empty(0)
        return self._predictions(X)

    def _predictions(self, X: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        p_control, p_treated = self._outcomes(X)
        return p_control, p_treated, p_treated - p_control

    def _outcome_base(self) -> Any:
        if self.outcome_model is not None:
            return self.outcome_model
        return _inp.default_classifier(self.n_jobs)

    def _fit_base(
        self,
        model: Any,
        X: pd.DataFrame,
        target: np.ndarray,
        sample_weight: np.ndarray | None,
        rows: np.ndarray | None = None,
    ) -> Any:
        """Fit one base model, early-stopped on the learner's validation customers."""
        return _inp.fit_model(
            model,
            X,
            target,
            sample_weight,
            rows,
            validation=self._validation,
            stopping_rounds=self.early_stopping_rounds,
        )

    def _fit(
        self,
        X: pd.DataFrame,
        y: np.ndarray,
        treatment: np.ndarray,
        sample_weight: np.ndarray | None,
        groups: np.ndarray | None,
        rng: np.random.RandomState,
    ) -> None:
        raise NotImplementedError

    def _uplift(self, X: pd.DataFrame) -> np.ndarray:
        raise NotImplementedError

    def _outcomes(self, X: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        raise NotImplementedError


class TLearner(_UpliftLearner):
    """Two-model learner: one outcome classifier per arm; uplift is their difference.

    Parameters
    ----------
    outcome_model : classifier, default None
        Template of both arms' models (cloned, never fitted in place). ``None`` uses a
        LightGBM classifier with the defaults in ``visitrisk._learner_input`` (at most 150
        trees, learning rate 0.1, 31 leaves, >= 50 rows per leaf, 80 % row and column
        subsampling).
    early_stopping_rounds : int or None, default None
        With an int, LightGBM base models hold out ``validation_fraction`` of the
        customers and stop adding trees when their log-loss there has not improved for
        this many rounds (``n_estimators`` is then a ceiling); ``None`` fits every tree.
        Other base models ignore it. Off by default: on the simulator its effect on the
        decisions was within the spread between seeds (bench/bench_uplift.py).
    validation_fraction : float, default 0.1
        Share of customers (``groups``; rows without ``groups``) held out for early
        stopping. They are not used to grow trees.
    random_state : int, RandomState or None, default None
        Seeds the base models that have a ``random_state`` left at ``None``.
    n_jobs : int, default 1
        Threads of the default LightGBM models.

    Attributes
    ----------
    control_model_, treated_model_ : classifier
        Outcome model of the not-visited and the visited arm.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(0)
    >>> X = pd.DataFrame({"arrears": rng.gamma(2.0, 1000.0, 400)})
    >>> t = rng.integers(0, 2, 400)
    >>> y = rng.binomial(1, 0.3 + 0.2 * t)
    >>> uplift = TLearner(random_state=0).fit(X, y, t).predict(X)
    >>> uplift.shape
    (400,)
    """

    def _fit(self, X, y, treatment, sample_weight, groups, rng):
        base = self._outcome_base()
        self.control_model_ = self._fit_base(
            _inp.seeded_clone(base, rng), X, y, sample_weight, np.flatnonzero(treatment == 0)
        )
        self.treated_model_ = self._fit_base(
            _inp.seeded_clone(base, rng), X, y, sample_weight, np.flatnonzero(treatment == 1)
        )

    def _outcomes(self, X):
        return (
            _inp.positive_proba(self.control_model_, X),
            _inp.positive_proba(self.treated_model_, X),
        )

    def _uplift(self, X):
        p_control, p_treated = self._outcomes(X)
        return p_treated - p_control


class SLearner(_UpliftLearner):
    """Single-model learner: one classifier with the visit as a feature.

    The uplift is the model's prediction with the visit set to 1 minus with it set to 0.
    Regularised trees may split rarely on the visit column, which shrinks small effects
    towards zero; prefer the DR learner when effects are small.

    Parameters
    ----------
    outcome_model : classifier, default None
        Cloned, never fitted in place; ``None`` uses the default LightGBM classifier (see
        :class:`TLearner`).
    early_stopping_rounds : int or None, default None
        As in :class:`TLearner`. Beware: the visit's effect is a small part of the
        log-loss, so stopping on held-out log-loss tends to cut the late splits on the
        visit column and shrink the uplift towards 0 (simulator, training snapshots, three
        seeds: share of the true top-20 % cures 0.23-0.54 with early stopping, 0.41-0.45
        over two seeds without).
    validation_fraction : float, default 0.1
        Share of customers (``groups``; rows without ``groups``) held out for early
        stopping. They are not used to grow trees.
    random_state : int, RandomState or None, default None
        Seeds the base model if its ``random_state`` is ``None``.
    n_jobs : int, default 1
        Threads of the default LightGBM model.

    Attributes
    ----------
    model_ : classifier
        Fitted on the features plus a 0/1 column named :data:`TREATMENT_FEATURE`.
    """

    def _fit(self, X, y, treatment, sample_weight, groups, rng):
        if TREATMENT_FEATURE in X.columns:
            raise ValueError(
                f"SLearner: X must not contain a column named {TREATMENT_FEATURE!r}; the "
                "learner adds it for the treatment."
            )
        self.model_ = self._fit_base(
            _inp.seeded_clone(self._outcome_base(), rng),
            X.assign(**{TREATMENT_FEATURE: treatment.astype(np.int64)}),
            y,
            sample_weight,
        )

    def _outcomes(self, X):
        return (
            _inp.positive_proba(self.model_, X.assign(**{TREATMENT_FEATURE: 0})),
            _inp.positive_proba(self.model_, X.assign(**{TREATMENT_FEATURE: 1})),
        )

    def _uplift(self, X):
        p_control, p_treated = self._outcomes(X)
        return p_treated - p_control


class _DirectLearner(_UpliftLearner):
    """Learners whose uplift comes from effect regressors rather than an outcome difference.

    The X and DR learners share their parameters (this ``__init__``), the propensity model,
    the overlap diagnostics and how ``p_treated`` follows from ``p_control`` and the uplift.
    """

    _parameter_constraints: ClassVar[dict[str, _inp.Constraint]] = _DIRECT_CONSTRAINTS

    def __init__(
        self,
        *,
        outcome_model: Any = None,
        effect_model: Any = None,
        propensity_model: Any = None,
        n_folds: int = 3,
        propensity_clip: float = 0.01,
        early_stopping_rounds: int | None = None,
        validation_fraction: float = 0.1,
        random_state: Any = None,
        n_jobs: int | None = 1,
    ) -> None:
        self.outcome_model = outcome_model
        self.effect_model = effect_model
        self.propensity_model = propensity_model
        self.n_folds = n_folds
        self.propensity_clip = propensity_clip
        self.early_stopping_rounds = early_stopping_rounds
        self.validation_fraction = validation_fraction
        self.random_state = random_state
        self.n_jobs = n_jobs

    def _effect_base(self) -> Any:
        if self.effect_model is not None:
            return self.effect_model
        return _inp.default_regressor(self.n_jobs)

    def _fit_effect(
        self,
        X: pd.DataFrame,
        target: np.ndarray,
        sample_weight: np.ndarray | None,
        rows: np.ndarray | None,
        rng: np.random.RandomState,
    ) -> Any:
        """Fit an effect regressor on all ``rows``, with its own ``n_estimators``.

        Not early-stopped: its held-out loss is the variance of a noisy target (imputed
        effect or AIPW pseudo-outcome) plus the much smaller error of the uplift, so the
        round-to-round changes of that loss are mostly sampling noise and stop the model
        at an arbitrary, usually very early, round.
        """
        return _inp.fit_model(
            _inp.seeded_clone(self._effect_base(), rng), X, target, sample_weight, rows
        )

    def _fit_propensity(
        self,
        X: pd.DataFrame,
        treatment: np.ndarray,
        sample_weight: np.ndarray | None,
        fold: np.ndarray,
        rng: np.random.RandomState,
    ) -> None:
        """Cross-fit the calibrated propensity on ``fold`` and check overlap."""
        self.propensity_model_ = PropensityModel(
            base_model=self.propensity_model,
            n_folds=self.n_folds,
            clip=self.propensity_clip,
            n_jobs=self.n_jobs,
        )
        self.propensity_model_._fit_folds(
            X,
            self._schema,
            treatment,
            sample_weight,
            fold,
            rng,
            validation=self._validation,
            stopping_rounds=self.early_stopping_rounds,
        )
        self.oof_propensity_ = self.propensity_model_.oof_propensity_
        self._treatment = treatment
        self.overlap_ = overlap_diagnostics(self.oof_propensity_, treatment)

    def _control_proba(self, X: pd.DataFrame) -> np.ndarray:
        raise NotImplementedError

    def _predictions(self, X):
        p_control, uplift = self._control_proba(X), self._uplift(X)
        return p_control, np.clip(p_control + uplift, 0.0, 1.0), uplift

    def overlap(self, **kwargs: Any) -> OverlapReport:
        """Overlap diagnostics of the out-of-fold propensities (``overlap_diagnostics``).

        Parameters
        ----------
        **kwargs
            ``bounds``, ``max_share_outside``, ``warn`` of
            :func:`visitrisk.propensity.overlap_diagnostics`.

        Returns
        -------
        OverlapReport
            Propensity quantiles per arm and the share of rows outside the bounds.
        """
        check_is_fitted(self, "oof_propensity_")
        return overlap_diagnostics(self.oof_propensity_, self._treatment, **kwargs)


class XLearner(_DirectLearner):
    """X learner (Künzel et al. 2019) with a calibrated propensity as the mixing weight.

    Stage 1 fits an outcome model per arm. Stage 2 imputes each row's effect with the other
    arm's model, D = y − μ0(x) for visited rows and D = μ1(x) − y for the others, and fits
    one effect regressor per arm on it. The uplift is τ(x) = e(x) τ0(x) + (1 − e(x)) τ1(x),
    e the propensity. Imputations are out-of-sample by construction (each arm's imputation
    uses the model of the other arm); the final regressors' predictions on training rows are
    in-sample.

    ``predict_outcomes`` gives ``p_control`` from the control outcome model and
    ``p_treated = clip(p_control + uplift, 0, 1)``, so the two agree with ``predict`` except
    where the clip binds.

    Parameters
    ----------
    outcome_model : classifier, default None
        Template of the per-arm outcome models (cloned, never fitted in place). ``None``
        uses the default LightGBM classifier (see :class:`TLearner`).
    effect_model : regressor, default None
        Template of the effect regressor(s). ``None`` uses a LightGBM regressor with the
        defaults in ``visitrisk._learner_input`` (50 trees, learning rate 0.05, 15 leaves,
        >= 200 rows per leaf, L2 penalty 5): effect targets are noisy.
    propensity_model : classifier, default None
        Base of the calibrated propensity model (:class:`~visitrisk.propensity.PropensityModel`);
        ``None`` uses the default LightGBM classifier.
    n_folds : int, default 3
        Folds of the cross-fit, grouped by customer when ``groups`` is given.
    propensity_clip : float, default 0.01
        ε: propensities are clipped to ``[ε, 1 - ε]``.
    early_stopping_rounds : int or None, default None
        With an int, LightGBM outcome and propensity models hold out
        ``validation_fraction`` of the customers and stop adding trees when their log-loss
        there has not improved for this many rounds; ``None`` (default) fits every tree.
        Effect regressors are never early-stopped (their held-out loss is mostly the noise
        of their target).
    validation_fraction : float, default 0.1
        Share of customers held out for early stopping (the same customers for every base
        model of one fit).
    random_state : int, RandomState or None, default None
        Seeds the folds and every base model whose ``random_state`` is ``None``.
    n_jobs : int, default 1
        Threads of the default LightGBM models (models are fitted one after another).

    Attributes
    ----------
    control_model_, treated_model_ : classifier
        Stage-1 outcome models μ0, μ1.
    effect_model_control_, effect_model_treated_ : regressor
        Stage-2 effect regressors τ0 (fitted on not-visited rows) and τ1 (visited rows).
    propensity_model_ : PropensityModel
        Calibrated, clipped propensity (cross-fitted).
    oof_propensity_ : numpy.ndarray
        Out-of-fold propensity of each training row.
    overlap_ : OverlapReport
        Overlap diagnostics of ``oof_propensity_``; an ``OverlapWarning`` is emitted at fit
        when more than 10 % of rows lie outside [0.05, 0.95].
    """

    def _fit(self, X, y, treatment, sample_weight, groups, rng):
        control = np.flatnonzero(treatment == 0)
        treated = np.flatnonzero(treatment == 1)
        outcome_base = self._outcome_base()
        self.control_model_ = self._fit_base(
            _inp.seeded_clone(outcome_base, rng), X, y, sample_weight, control
        )
        self.treated_model_ = self._fit_base(
            _inp.seeded_clone(outcome_base, rng), X, y, sample_weight, treated
        )
        # Each arm's effect is imputed with the other arm's model, over all rows' positions
        # so that the early-stopping mask keeps indexing the training frame.
        imputed = np.where(
            treatment == 1,
            y - _inp.positive_proba(self.control_model_, X),
            _inp.positive_proba(self.treated_model_, X) - y,
        )
        self.effect_model_control_ = self._fit_effect(X, imputed, sample_weight, control, rng)
        self.effect_model_treated_ = self._fit_effect(X, imputed, sample_weight, treated, rng)
        fold = _inp.make_folds(self.n_folds, treatment, groups, rng, type(self).__name__)
        self._fit_propensity(X, treatment, sample_weight, fold, rng)

    def _control_proba(self, X):
        return _inp.positive_proba(self.control_model_, X)

    def _uplift(self, X):
        propensity = self.propensity_model_._predict_frame(X)
        return propensity * self.effect_model_control_.predict(X) + (
            1.0 - propensity
        ) * self.effect_model_treated_.predict(X)


class DRLearner(_DirectLearner):
    """Doubly robust (AIPW) learner with cross-fitted nuisances (Kennedy 2023).

    Rows are split into ``n_folds`` folds, grouped by customer when ``groups`` is given. For
    each fold, outcome models μ0, μ1 (one per arm) and the propensity model e are fitted on
    the other folds and predicted on it. The out-of-fold pseudo-outcome

        φ = μ1 − μ0 + t (y − μ1) / e − (1 − t) (y − μ0) / (1 − e)

    has the uplift as its conditional mean. The effect (final) regressors fitted on φ give
    the raw uplift: by default one per fold, each fitted on the other folds' rows, and
    averaged (``cross_fit_effect``). With ``early_stopping_rounds`` the outcome and
    propensity models are early-stopped on held-out customers; the effect regressors never
    are.

    Averaged effect models. φ is mostly noise: with binary cures and effects of a few
    percentage points its standard deviation is about 1 against an uplift spread of about
    0.05, so a regressor fitted on it learns much of its noise, and which noise depends on
    the seed. Averaging the fold regressors (a bagged final stage, as causalml's DR learner
    averages its three) cancels part of it at the cost of ``n_folds`` fits on
    ``(n_folds − 1) / n_folds`` of the rows, and gives every training row an out-of-fold
    uplift (``oof_uplift_``) from the regressors that never saw its φ.

    Bounded uplift. φ is unbounded (|φ| can reach 1 / ε), and so is a regressor fitted on
    it, but the uplift is a difference of two probabilities: with p0(x) the chance to cure
    without a visit, τ(x) lies in [−p0(x), 1 − p0(x)] ⊂ [−1, 1]. ``predict`` therefore
    projects the raw uplift onto that interval, with p0 estimated by the mean of the fold
    control models (the ``p_control`` of ``predict_outcomes``). Projecting onto an interval
    that holds the true value never moves an estimate away from it, so the bound can only
    reduce each row's error when p0 is right; it always keeps the uplift in [−1, 1] and
    ``p_treated = p_control + uplift`` in [0, 1], exactly, so ``predict_outcomes`` and
    ``predict`` agree. :meth:`raw_uplift` gives the unbounded regressor output;
    :func:`visitrisk.explain` explains it and carries the projection, where it binds, in
    the customer's base value.

    Parameters
    ----------
    outcome_model : classifier, default None
        Template of the per-arm outcome models (cloned, never fitted in place). ``None``
        uses the default LightGBM classifier (see :class:`TLearner`).
    effect_model : regressor, default None
        Template of the effect regressor(s). ``None`` uses a LightGBM regressor with the
        defaults in ``visitrisk._learner_input`` (50 trees, learning rate 0.05, 15 leaves,
        >= 200 rows per leaf, L2 penalty 5): effect targets are noisy.
    propensity_model : classifier, default None
        Base of the calibrated propensity model (:class:`~visitrisk.propensity.PropensityModel`);
        ``None`` uses the default LightGBM classifier.
    n_folds : int, default 3
        Folds of the cross-fit, grouped by customer when ``groups`` is given.
    propensity_clip : float, default 0.01
        ε: propensities are clipped to ``[ε, 1 - ε]``.
    cross_fit_effect : bool, default True
        Fit one effect regressor per fold on the other folds' pseudo-outcomes and average
        them (see above); ``False`` fits a single regressor on all rows.
    early_stopping_rounds : int or None, default None
        With an int, LightGBM outcome and propensity models hold out
        ``validation_fraction`` of the customers and stop adding trees when their log-loss
        there has not improved for this many rounds; ``None`` (default) fits every tree.
        Effect regressors are never early-stopped (their held-out loss is mostly the noise
        of their target).
    validation_fraction : float, default 0.1
        Share of customers held out for early stopping (the same customers for every base
        model of one fit).
    random_state : int, RandomState or None, default None
        Seeds the folds and every base model whose ``random_state`` is ``None``.
    n_jobs : int, default 1
        Threads of the default LightGBM models (models are fitted one after another).

    Attributes
    ----------
    final_models_ : list of regressors
        The raw uplift models, fitted on ``pseudo_outcome_``; ``raw_uplift`` is their mean.
        With ``cross_fit_effect`` model k never saw fold k; otherwise one model of all rows.
    oof_uplift_ : numpy.ndarray
        Only with ``cross_fit_effect``: each training row's uplift from the effect model
        that did not see its fold, projected like ``predict`` with the out-of-fold
        ``p_control`` — honest for diagnostics on the training rows.
    control_models_, treated_models_ : list of classifiers
        Fold outcome models; model k never saw fold k.
    propensity_model_ : PropensityModel
        Calibrated, clipped, cross-fitted on the same folds.
    fold_ : numpy.ndarray of int
        Fold of each training row (all rows of a customer share one fold).
    oof_outcomes_ : pandas.DataFrame
        Out-of-fold ``p_control`` and ``p_treated`` of each training row.
    oof_propensity_ : numpy.ndarray
        Out-of-fold propensity of each training row.
    pseudo_outcome_ : numpy.ndarray
        The AIPW pseudo-outcome φ of each training row.
    overlap_ : OverlapReport
        Overlap diagnostics of ``oof_propensity_``; an ``OverlapWarning`` is emitted at fit
        when more than 10 % of rows lie outside [0.05, 0.95].

    Notes
    -----
    ``predict`` on training rows is in-sample for the final models (they saw φ of those
    rows), although φ itself was built from out-of-fold nuisances; ``oof_uplift_`` is not.
    Three folds keep the fit of 10^6 rows within minutes (2 × n_folds + n_folds LightGBM
    nuisance fits, each on (n_folds − 1) / n_folds of the rows, plus n_folds effect fits,
    or one with ``cross_fit_effect=False``); raise ``n_folds`` for small data.
    """

    _parameter_constraints: ClassVar[dict[str, _inp.Constraint]] = _DR_CONSTRAINTS

    def __init__(
        self,
        *,
        outcome_model: Any = None,
        effect_model: Any = None,
        propensity_model: Any = None,
        n_folds: int = 3,
        propensity_clip: float = 0.01,
        cross_fit_effect: bool = True,
        early_stopping_rounds: int | None = None,
        validation_fraction: float = 0.1,
        random_state: Any = None,
        n_jobs: int | None = 1,
    ) -> None:
        super().__init__(
            outcome_model=outcome_model,
            effect_model=effect_model,
            propensity_model=propensity_model,
            n_folds=n_folds,
            propensity_clip=propensity_clip,
            early_stopping_rounds=early_stopping_rounds,
            validation_fraction=validation_fraction,
            random_state=random_state,
            n_jobs=n_jobs,
        )
        self.cross_fit_effect = cross_fit_effect

    def _fit(self, X, y, treatment, sample_weight, groups, rng):
        strata = 2 * treatment.astype(np.int64) + y
        fold = _inp.make_folds(self.n_folds, strata, groups, rng, type(self).__name__)
        outcome_base = self._outcome_base()
        p_control = np.empty(X.shape[0])
        p_treated = np.empty(X.shape[0])
        self.control_models_, self.treated_models_ = [], []
        for index in range(self.n_folds):
            held_out = fold == index
            X_held_out = X.iloc[np.flatnonzero(held_out)]
            for arm, models, target in (
                (0, self.control_models_, p_control),
                (1, self.treated_models_, p_treated),
            ):
                model = self._fit_base(
                    _inp.seeded_clone(outcome_base, rng),
                    X,
                    y,
                    sample_weight,
                    np.flatnonzero(~held_out & (treatment == arm)),
                )
                target[held_out] = _inp.positive_proba(model, X_held_out)
                models.append(model)
        self._fit_propensity(X, treatment, sample_weight, fold, rng)
        propensity = self.oof_propensity_
        self.pseudo_outcome_ = (
            p_treated
            - p_control
            + treatment * (y - p_treated) / propensity
            - (1 - treatment) * (y - p_control) / (1.0 - propensity)
        )
        self.final_models_ = []
        if self.cross_fit_effect:
            raw_oof = np.empty(X.shape[0])
            for index in range(self.n_folds):
                held_out = fold == index
                model = self._fit_effect(
                    X, self.pseudo_outcome_, sample_weight, np.flatnonzero(~held_out), rng
                )
                raw_oof[held_out] = model.predict(X.iloc[np.flatnonzero(held_out)])
                self.final_models_.append(model)
            self.oof_uplift_ = np.clip(raw_oof, -p_control, 1.0 - p_control)
        else:
            self.final_models_.append(
                self._fit_effect(X, self.pseudo_outcome_, sample_weight, None, rng)
            )
        self.fold_ = fold
        self.oof_outcomes_ = pd.DataFrame({"p_control": p_control, "p_treated": p_treated})

    def _control_proba(self, X):
        return np.mean([_inp.positive_proba(model, X) for model in self.control_models_], axis=0)

    def _raw(self, X: pd.DataFrame) -> np.ndarray:
        return np.mean([model.predict(X) for model in self.final_models_], axis=0, dtype=float)

    def _predictions(self, X):
        p_control = self._control_proba(X)
        uplift = np.clip(self._raw(X), -p_control, 1.0 - p_control)
        return p_control, p_control + uplift, uplift

    def _uplift(self, X):
        return self._predictions(X)[2]

    def raw_uplift(self, X: Any) -> np.ndarray:
        """Return the final regressor's unbounded output (probability units).

        Parameters
        ----------
        X : pandas.DataFrame of shape (n_rows, n_features)
            The fit-time features.

        Returns
        -------
        numpy.ndarray of shape (n_rows,)
            The uplift before the projection onto [−p_control, 1 − p_control] that
            ``predict`` applies (see the class docstring).
        """
        frame = self._validated(X)
        return self._raw(frame) if len(frame) else np.empty(0)


def cross_val_uplift(
    estimator: Any,
    X: Any,
    y: Any,
    treatment: Any,
    *,
    sample_weight: Any = None,
    groups: Any = None,
    n_folds: int = 5,
    random_state: Any = None,
) -> np.ndarray:
    """Out-of-fold uplift: each row scored by a clone of ``estimator`` that never saw it.

    Parameters
    ----------
    estimator : uplift learner
        Any learner of this module (cloned per fold, never fitted in place).
    X, y, treatment, sample_weight, groups
        As in ``fit``; rows of one customer (``groups``) share a fold.
    n_folds : int, default 5
        Number of folds.
    random_state : int, RandomState or None, default None
        Seeds the fold assignment.

    Returns
    -------
    numpy.ndarray of shape (n_rows,)
        Out-of-fold uplift (probability units).
    """
    owner = "cross_val_uplift"
    if not _inp.int_at_least(2).check(n_folds):
        raise ValueError(
            f"The 'n_folds' parameter of {owner} must be an int >= 2. Got {n_folds!r}."
        )
    frame, _ = _inp.validate_fit_features(X, owner)
    n_rows = frame.shape[0]
    outcome = _inp.validate_binary(y, "y", n_rows, owner)
    arm = _inp.validate_binary(treatment, "treatment", n_rows, owner)
    weights = _inp.validate_sample_weight(sample_weight, n_rows, owner)
    labels = _inp.validate_groups(groups, n_rows, owner)
    strata = 2 * arm.astype(np.int64) + outcome
    rng = check_random_state(random_state)
    fold = _inp.make_folds(n_folds, strata, labels, rng, owner)
    uplift = np.empty(n_rows)
    for index in range(n_folds):
        train, test = np.flatnonzero(fold != index), np.flatnonzero(fold == index)
        learner = clone(estimator).fit(
            frame.iloc[train],
            outcome[train],
            arm[train],
            sample_weight=None if weights is None else weights[train],
            groups=None if labels is None else labels[train],
        )
        uplift[test] = learner.predict(frame.iloc[test])
    return uplift


_LEARNERS: dict[str, type[_UpliftLearner]] = {
    "t": TLearner,
    "s": SLearner,
    "x": XLearner,
    "dr": DRLearner,
}
_OWN_PARAMETERS = ("learner", "visit_cost", "value_weighting")


_VALUE_WEIGHTING = _inp.Constraint(
    lambda v: _inp.real_at_least(0.0).check(v) and v <= 1.0, "a float in [0, 1]"
)


def _value_weights(training_set: Any, weight: np.ndarray, exponent: float) -> np.ndarray:
    """``(value / mean value) ** exponent`` per row; the mean uses the rows' own weights."""
    value = pd.to_numeric(pd.Series(np.asarray(training_set.value_at_stake)), errors="coerce")
    bad = np.flatnonzero(value.isna().to_numpy() | (value < 0).to_numpy())
    if bad.size:
        customers = np.asarray(training_set.customer_id)[bad[:5]].tolist()
        raise ValueError(
            f"UpliftModel.fit: value_at_stake of the training set is missing or negative in "
            f"{bad.size} row(s), e.g. customers {customers!r}; value_weighting needs a value "
            "(CNY) for every row."
        )
    value = value.to_numpy(dtype=float)
    mean = np.average(value, weights=weight) if weight.sum() > 0 else 0.0
    if mean <= 0:
        raise ValueError(
            "UpliftModel.fit: value_at_stake of the training set is 0 on every weighted row; "
            "value_weighting needs some value at stake."
        )
    # Normalised to mean 1 so LightGBM's hessian-based leaf minimums keep their meaning.
    return (value / mean) ** exponent


class UpliftModel(BaseEstimator):
    """An uplift learner fitted on a ``TrainingSet``, scoring customers in CNY.

    Parameters
    ----------
    learner : {"dr", "t", "s", "x"}, default "dr"
        Which learner: :class:`DRLearner`, :class:`TLearner`, :class:`SLearner` or
        :class:`XLearner`.
    visit_cost : float, default 0.0
        Cost of one visit (CNY), subtracted from the expected gain.
    value_weighting : float in [0, 1], default 0.0
        Exponent ``a`` of the value weights: every base model of the learner is fitted with
        the training rows weighted by ``(value_at_stake / mean value_at_stake) ** a`` (times
        the training set's own weights). Visits are chosen by expected gain, uplift × value,
        so an error in a large debtor's uplift costs more than one in a small debtor's;
        weighting by value spends the models' capacity where the money is. The value at
        stake is known before the visit decision, so the weights change no estimand (each
        model still targets the same conditional probabilities), only the rows it fits
        best. The price is variance: arrears are heavy-tailed, so value weights shrink the
        effective sample size. ``0`` (default) weighs all rows alike, ``1`` in proportion
        to the value, ``0.5`` by its square root, a compromise. On the simulator
        (``bench/bench_uplift.py``, trial design, three seeds) ``0.5`` raised the S
        learner's value captured at 20 % and lowered its cures; see the bench results
        before changing it.
    **params
        Parameters of the learner (e.g. ``n_folds=3``, ``random_state=0``, ``n_jobs=1``),
        visible to ``get_params``/``set_params``/``clone`` like the model's own.

    Attributes
    ----------
    learner_ : TLearner, SLearner, XLearner or DRLearner
        The fitted learner.

    Examples
    --------
    >>> model = UpliftModel(learner="t", visit_cost=50.0, random_state=0)
    >>> sorted(model.get_params())
    ['learner', 'random_state', 'value_weighting', 'visit_cost']
    """

    def __init__(
        self,
        *,
        learner: str = "dr",
        visit_cost: float = 0.0,
        value_weighting: float = 0.0,
        **params: Any,
    ) -> None:
        self.learner = learner
        self.visit_cost = visit_cost
        self.value_weighting = value_weighting
        # Private so scikit-learn's API checks see only declared parameters as attributes;
        # get_params exposes each learner parameter under its own name.
        self._learner_params = params

    @property
    def learner_params(self) -> dict[str, Any]:
        """The parameters passed on to the learner (a copy)."""
        return dict(self._learner_params)

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """Return the model's and the learner's parameters, by name.

        Parameters
        ----------
        deep : bool, default True
            Also return the parameters of nested estimators as ``name__param``.

        Returns
        -------
        dict
            Parameter names mapped to their values.
        """
        params = {
            "learner": self.learner,
            "visit_cost": self.visit_cost,
            "value_weighting": self.value_weighting,
            **self._learner_params,
        }
        if deep:
            for name, value in list(params.items()):
                if hasattr(value, "get_params") and not isinstance(value, type):
                    params.update(
                        {f"{name}__{key}": item for key, item in value.get_params().items()}
                    )
        return params

    def set_params(self, **params: Any) -> UpliftModel:
        """Set the model's or the learner's parameters.

        Parameters
        ----------
        **params
            ``learner``, ``visit_cost``, ``value_weighting``, any learner parameter, or
            ``name__param`` of a
            nested estimator.

        Returns
        -------
        UpliftModel
            ``self``.
        """
        learner_params = dict(self._learner_params)
        nested: dict[str, dict[str, Any]] = {}
        for key, value in params.items():
            name, delimiter, sub_key = key.partition("__")
            if delimiter:
                nested.setdefault(name, {})[sub_key] = value
            elif key in _OWN_PARAMETERS:
                setattr(self, key, value)
            else:
                learner_params[key] = value
        self._learner_params = learner_params
        for name, sub_params in nested.items():
            owner = self.get_params(deep=False).get(name)
            if not hasattr(owner, "set_params"):
                raise ValueError(f"Invalid parameter {name!r} for UpliftModel: no such estimator.")
            owner.set_params(**sub_params)
        return self

    def _make_learner(self) -> _UpliftLearner:
        if self.learner not in _LEARNERS:
            raise ValueError(
                f"The 'learner' parameter of UpliftModel must be one of {sorted(_LEARNERS)}. "
                f"Got {self.learner!r} instead."
            )
        if not _inp.real_at_least(0.0, "CNY").check(self.visit_cost):
            raise ValueError(
                "The 'visit_cost' parameter of UpliftModel must be a finite float >= 0 (CNY). "
                f"Got {self.visit_cost!r} instead."
            )
        if not _VALUE_WEIGHTING.check(self.value_weighting):
            raise ValueError(
                "The 'value_weighting' parameter of UpliftModel must be "
                f"{_VALUE_WEIGHTING.description}. Got {self.value_weighting!r} instead."
            )
        learner_class = _LEARNERS[self.learner]
        accepted = learner_class._get_param_names()
        unknown = sorted(set(self._learner_params) - set(accepted))
        if unknown:
            raise ValueError(
                f"UpliftModel: parameter(s) {unknown!r} are not parameters of "
                f"{learner_class.__name__}; it accepts {accepted!r}."
            )
        return learner_class(**self._learner_params)

    def fit(self, training_set: Any) -> UpliftModel:
        """Fit the learner on a training set.

        Parameters
        ----------
        training_set : visitrisk.labels.TrainingSet
            Uses ``X`` (features), ``cured`` (outcome), ``treatment``, ``customer_id``
            (the cross-fitting groups) and ``weight``: the emulated-trial design's
            inverse-probability weights become the learners' ``sample_weight`` (the
            landmark design's unit weights change nothing and are not passed). With
            ``value_weighting`` > 0, ``value_at_stake`` (CNY) too.

        Returns
        -------
        UpliftModel
            ``self``.
        """
        learner = self._make_learner()
        weight = np.asarray(training_set.weight, dtype=float)
        if self.value_weighting > 0:
            weight = weight * _value_weights(training_set, weight, self.value_weighting)
        self.learner_ = learner.fit(
            training_set.X,
            np.asarray(training_set.cured),
            np.asarray(training_set.treatment),
            sample_weight=None if np.all(weight == 1.0) else weight,
            groups=np.asarray(training_set.customer_id),
        )
        self.n_features_in_ = learner.n_features_in_
        if hasattr(learner, "feature_names_in_"):
            self.feature_names_in_ = learner.feature_names_in_
        return self

    def predict(self, X: Any) -> np.ndarray:
        """Return the uplift of each row (probability units); see the learner's ``predict``."""
        check_is_fitted(self, "learner_")
        return self.learner_.predict(X)

    def predict_outcomes(self, X: Any) -> pd.DataFrame:
        """Return ``p_control`` and ``p_treated``; see the learner's ``predict_outcomes``."""
        check_is_fitted(self, "learner_")
        return self.learner_.predict_outcomes(X)

    def score(self, features: pd.DataFrame) -> pd.DataFrame:
        """Score customers: cure probabilities with and without a visit, and expected gain.

        Parameters
        ----------
        features : pandas.DataFrame
            One row per customer: the fit-time features, identified by a ``customer_id``
            column or, without one, by the index. An optional ``value_at_stake`` column
            (CNY) sets the weight of a cure; without it the ``arrears`` feature (CNY) is used.
            Both identifier and ``value_at_stake`` columns are removed before predicting.

        Returns
        -------
        pandas.DataFrame
            Indexed by ``customer_id``, columns:

            - ``p_cure_visit``, ``p_cure_no_visit``: cure probabilities. For the T and S
              learners they are the two outcome models' predictions and ``uplift`` is their
              difference. For the X and DR learners, which estimate the uplift directly,
              ``p_cure_no_visit`` comes from the control outcome model and ``p_cure_visit`` is
              ``clip(p_cure_no_visit + uplift, 0, 1)``.
            - ``uplift``: the learner's ``predict`` (probability units).
            - ``value_at_stake``: CNY.
            - ``expected_gain``: ``uplift × value_at_stake − visit_cost`` (CNY).
        """
        check_is_fitted(self, "learner_")
        if not isinstance(features, pd.DataFrame):
            raise ValueError("UpliftModel.score: features must be a pandas DataFrame.")
        frame = features
        if "customer_id" in frame.columns:
            frame = frame.set_index("customer_id")
        frame = frame.rename_axis("customer_id")
        if frame.index.has_duplicates:
            duplicated = frame.index[frame.index.duplicated()].unique()[:5].tolist()
            raise ValueError(
                f"UpliftModel.score: features has duplicated customer_id(s) {duplicated!r}; "
                "score one row per customer."
            )
        if "value_at_stake" in frame.columns:
            value = frame["value_at_stake"]
            frame = frame.drop(columns="value_at_stake")
        elif "arrears" in frame.columns:
            value = frame["arrears"]
        else:
            raise ValueError(
                "UpliftModel.score: features needs a 'value_at_stake' column or an 'arrears' "
                "feature (CNY) to weigh a cure."
            )
        value = pd.to_numeric(value, errors="coerce").astype(float)
        bad = frame.index[value.isna().to_numpy() | (value < 0).to_numpy()]
        if len(bad):
            raise ValueError(
                f"UpliftModel.score: value_at_stake is missing or negative for "
                f"{len(bad)} customer(s), e.g. {bad[:5].tolist()!r}."
            )
        p_control, p_treated, uplift = self.learner_._predict_all(self.learner_._validated(frame))
        return pd.DataFrame(
            {
                "p_cure_visit": p_treated,
                "p_cure_no_visit": p_control,
                "uplift": uplift,
                "value_at_stake": value.to_numpy(),
                "expected_gain": uplift * value.to_numpy() - self.visit_cost,
            },
            index=frame.index,
        )
