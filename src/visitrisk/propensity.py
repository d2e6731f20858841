"""Propensity of a visit: a calibrated, clipped model of who got visited, and overlap checks.

Visits in a log were chosen by people, so visited and not-visited customers differ. The
propensity e(x) = P(visited | x) is what the X and DR learners (and the IPW/DR metrics) use
to correct for that; the overlap diagnostics say where the correction can be trusted.
"""

# scikit-learn's convention: the feature matrix is `X` (upper case).
# ruff: noqa: N803

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted

from visitrisk import _learner_input as _inp

__all__ = ["OverlapReport", "OverlapWarning", "PropensityModel", "overlap_diagnostics"]

#: Quantile levels of the per-arm propensity distribution in :class:`OverlapReport`.
OVERLAP_QUANTILES: tuple[float, ...] = (0.0, 0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99, 1.0)


class OverlapWarning(UserWarning):
    """Too many rows have a propensity near 0 or 1: effects there rest on extrapolation."""


@dataclass(frozen=True)
class OverlapReport:
    """How well visited and not-visited customers overlap in propensity.

    Attributes
    ----------
    quantiles : pandas.DataFrame
        Propensity quantiles (index: levels in :data:`OVERLAP_QUANTILES`), one column per
        arm: ``control`` and ``treated``.
    share_outside : float
        Share of all rows whose propensity lies outside ``bounds``.
    share_outside_by_arm : pandas.Series
        The same share within each arm (index ``control``, ``treated``).
    n_rows : pandas.Series
        Rows per arm.
    bounds : tuple of float
        The propensity interval considered well overlapped.
    max_share_outside : float
        Share outside ``bounds`` above which overlap is called poor.
    """

    quantiles: pd.DataFrame
    share_outside: float
    share_outside_by_arm: pd.Series
    n_rows: pd.Series
    bounds: tuple[float, float]
    max_share_outside: float

    @property
    def is_poor(self) -> bool:
        """Whether the share outside ``bounds`` exceeds ``max_share_outside``."""
        return self.share_outside > self.max_share_outside

    def message(self) -> str:
        """One sentence describing the overlap, fit for a warning or a report."""
        low, high = self.bounds
        verdict = "Poor overlap" if self.is_poor else "Overlap is acceptable"
        return (
            f"{verdict}: {self.share_outside:.1%} of rows have a visit propensity outside "
            f"[{low:g}, {high:g}] (threshold {self.max_share_outside:.0%}; control "
            f"{self.share_outside_by_arm['control']:.1%}, treated "
            f"{self.share_outside_by_arm['treated']:.1%})."
        )


def overlap_diagnostics(
    propensity: Any,
    treatment: Any,
    *,
    bounds: tuple[float, float] = (0.05, 0.95),
    max_share_outside: float = 0.10,
    warn: bool = True,
) -> OverlapReport:
    """Describe the propensity distribution per arm and flag poor overlap.

    Parameters
    ----------
    propensity : array-like of shape (n_rows,)
        Estimated probability of a visit per row, ideally out-of-fold.
    treatment : array-like of shape (n_rows,)
        1 if the row was visited, else 0.
    bounds : tuple of float, default (0.05, 0.95)
        Propensities inside this interval count as well overlapped.
    max_share_outside : float, default 0.10
        If more than this share of rows lies outside ``bounds``, overlap is poor.
    warn : bool, default True
        Emit an :class:`OverlapWarning` (a ``UserWarning``) when overlap is poor.

    Returns
    -------
    OverlapReport
        Quantiles per arm, share of rows outside ``bounds`` overall and per arm.

    Examples
    --------
    >>> report = overlap_diagnostics([0.2, 0.5, 0.6, 0.9], [0, 0, 1, 1])
    >>> report.share_outside
    0.0
    """
    owner = "overlap_diagnostics"
    scores = np.asarray(propensity, dtype=float)
    if scores.ndim != 1 or np.isnan(scores).any() or ((scores < 0) | (scores > 1)).any():
        raise ValueError(f"{owner}: propensity must be a 1-D array of probabilities in [0, 1].")
    arm = _inp.validate_binary(treatment, "treatment", scores.shape[0], owner)
    low, high = bounds
    if not 0 <= low < high <= 1:
        raise ValueError(f"{owner}: bounds must satisfy 0 <= low < high <= 1; got {bounds!r}.")
    outside = (scores < low) | (scores > high)
    labels = np.where(arm == 1, "treated", "control")
    frame = pd.DataFrame({"arm": labels, "propensity": scores, "outside": outside})
    by_arm = frame.groupby("arm")
    quantiles = by_arm["propensity"].quantile(list(OVERLAP_QUANTILES)).unstack("arm")
    quantiles.index.name = "quantile"
    quantiles = quantiles.reindex(columns=["control", "treated"])
    quantiles.columns.name = None
    report = OverlapReport(
        quantiles=quantiles,
        share_outside=float(outside.mean()),
        share_outside_by_arm=by_arm["outside"].mean().reindex(["control", "treated"]),
        n_rows=by_arm.size().reindex(["control", "treated"]),
        bounds=(float(low), float(high)),
        max_share_outside=float(max_share_outside),
    )
    if warn and report.is_poor:
        warnings.warn(
            report.message() + " Uplift for these customers rests on extrapolation; consider "
            "restricting the population or collecting randomised visits.",
            OverlapWarning,
            stacklevel=2,
        )
    return report


class PropensityModel(BaseEstimator):
    """Calibrated, clipped probability of a visit, cross-fitted over customer folds.

    A base classifier is fitted on ``n_folds`` folds (grouped by customer when ``groups`` is
    given); its out-of-fold scores are calibrated with isotonic regression and clipped to
    ``[clip, 1 - clip]``. New rows get the mean score of the fold models, mapped through the
    same calibration and clipping.

    Parameters
    ----------
    base_model : classifier, default None
        Any scikit-learn classifier with ``predict_proba``; it is cloned, never fitted in
        place. ``None`` uses a LightGBM classifier (see ``LGBM_CLASSIFIER_DEFAULTS`` in
        ``visitrisk._learner_input``).
    n_folds : int, default 3
        Folds of the cross-fit; the calibration is learnt on out-of-fold scores.
    clip : float, default 0.01
        ε: propensities are clipped to ``[ε, 1 - ε]`` so inverse weights stay bounded.
    random_state : int, RandomState or None, default None
        Seeds the folds and the base models (resolved in ``fit``).
    n_jobs : int, default 1
        Threads of the default LightGBM model (folds are fitted one after another).

    Attributes
    ----------
    models_ : list of classifiers
        The fold models (model k never saw fold k).
    calibrator_ : sklearn.isotonic.IsotonicRegression
        Maps raw scores to calibrated propensities.
    fold_ : numpy.ndarray of int
        Fold of each training row.
    oof_propensity_ : numpy.ndarray
        Out-of-fold calibrated, clipped propensity of each training row. ``predict`` on the
        training rows is *not* out-of-fold (it averages models that saw those rows).
    """

    _parameter_constraints: ClassVar[dict[str, _inp.Constraint]] = {
        "base_model": _inp.CLASSIFIER,
        "n_folds": _inp.int_at_least(2),
        "clip": _inp.real_between(0.0, 0.5),
        "random_state": _inp.RANDOM_STATE,
        "n_jobs": _inp.N_JOBS,
    }

    def __init__(
        self,
        *,
        base_model: Any = None,
        n_folds: int = 3,
        clip: float = 0.01,
        random_state: Any = None,
        n_jobs: int | None = 1,
    ) -> None:
        self.base_model = base_model
        self.n_folds = n_folds
        self.clip = clip
        self.random_state = random_state
        self.n_jobs = n_jobs

    def fit(
        self, X: Any, treatment: Any, sample_weight: Any = None, groups: Any = None
    ) -> PropensityModel:
        """Fit the fold models and the calibration.

        Parameters
        ----------
        X : pandas.DataFrame of shape (n_rows, n_features)
            Features: numeric, bool or pandas ``category``; NaN allowed for LightGBM.
        treatment : array-like of shape (n_rows,)
            1 if visited, else 0.
        sample_weight : array-like of shape (n_rows,), default None
            Row weights.
        groups : array-like of shape (n_rows,), default None
            Customer id per row; rows of one customer stay in one fold.

        Returns
        -------
        PropensityModel
            The fitted model (``self``).
        """
        owner = type(self).__name__
        _inp.check_parameters(self, self._parameter_constraints)
        frame, schema = _inp.validate_fit_features(X, owner)
        n_rows = frame.shape[0]
        arm = _inp.validate_binary(treatment, "treatment", n_rows, owner)
        weights = _inp.validate_sample_weight(sample_weight, n_rows, owner)
        labels = _inp.validate_groups(groups, n_rows, owner)
        rng = check_random_state(self.random_state)
        fold = _inp.make_folds(self.n_folds, arm, labels, rng, owner)
        self._fit_folds(frame, schema, arm, weights, fold, rng)
        return self

    def _fit_folds(
        self,
        X: pd.DataFrame,
        schema: _inp.FeatureSchema,
        treatment: np.ndarray,
        sample_weight: np.ndarray | None,
        fold: np.ndarray,
        rng: np.random.RandomState,
        *,
        validation: np.ndarray | None = None,
        stopping_rounds: int | None = None,
    ) -> None:
        """Fit on validated input and given folds (the DR learner shares its folds).

        ``validation`` and ``stopping_rounds`` early-stop LightGBM fold models on the
        learner's held-out customers (see ``visitrisk._learner_input.fit_model``).
        """
        from sklearn.isotonic import IsotonicRegression

        base = (
            self.base_model if self.base_model is not None else _inp.default_classifier(self.n_jobs)
        )
        raw = np.empty(X.shape[0], dtype=float)
        self.models_ = []
        for index in range(int(fold.max()) + 1):
            held_out = fold == index
            model = _inp.seeded_clone(base, rng)
            _inp.fit_model(
                model,
                X,
                treatment,
                sample_weight,
                np.flatnonzero(~held_out),
                validation=validation,
                stopping_rounds=stopping_rounds,
            )
            raw[held_out] = _inp.positive_proba(model, X.iloc[np.flatnonzero(held_out)])
            self.models_.append(model)
        self.calibrator_ = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip")
        self.calibrator_.fit(raw, treatment, sample_weight=sample_weight)
        self.fold_ = fold
        self.oof_propensity_ = self._calibrate(raw)
        self._schema = schema
        self.n_features_in_ = X.shape[1]
        if schema.from_frame:
            self.feature_names_in_ = np.asarray(schema.names, dtype=object)

    def _calibrate(self, raw: np.ndarray) -> np.ndarray:
        return np.clip(self.calibrator_.predict(raw), self.clip, 1.0 - self.clip)

    def _predict_frame(self, X: pd.DataFrame) -> np.ndarray:
        raw = np.mean([_inp.positive_proba(model, X) for model in self.models_], axis=0)
        return self._calibrate(raw)

    def predict(self, X: Any) -> np.ndarray:
        """Return the calibrated, clipped propensity of each row (probability of a visit)."""
        check_is_fitted(self, "calibrator_")
        frame = _inp.validate_predict_features(X, self._schema, type(self).__name__)
        return self._predict_frame(frame) if len(frame) else np.empty(0)

    def overlap(self, treatment: Any, **kwargs: Any) -> OverlapReport:
        """Overlap diagnostics of the out-of-fold propensities (see ``overlap_diagnostics``)."""
        check_is_fitted(self, "oof_propensity_")
        return overlap_diagnostics(self.oof_propensity_, treatment, **kwargs)
