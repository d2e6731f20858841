"""Uplift learners of visitrisk and of its peers behind one small interface (bench only).

Every adapter takes the same numeric feature frame, binary outcome and binary treatment,
and the same LightGBM settings, so the comparison measures the meta-learners and their
implementations rather than the base models. The peers (causalml, scikit-uplift, EconML)
are imported lazily: this module imports in a venv without them, and an adapter whose
library is missing reports why instead of running.
"""

# scikit-learn's convention: the feature matrix is `X` (upper case).
# ruff: noqa: N803

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "PEER_PACKAGES",
    "PeerStatus",
    "UpliftAdapter",
    "adapters",
    "library_status",
]

#: Import name and distribution name of each library in the comparison.
PEER_PACKAGES: dict[str, tuple[str, str]] = {
    "visitrisk": ("visitrisk", "visitrisk"),
    "causalml": ("causalml.inference.meta", "causalml"),
    "scikit-uplift": ("sklift.models", "scikit-uplift"),
    "econml": ("econml.dr", "econml"),
}

#: Propensities are clipped to [clip, 1 - clip] by every learner that uses them (visitrisk's
#: default), so no learner gets inverse weights the others are spared.
PROPENSITY_CLIP = 0.01


@dataclass(frozen=True)
class PeerStatus:
    """Whether a library imports here, its installed version, and why not when it fails."""

    library: str
    version: str | None
    available: bool
    error: str | None = None


def library_status(library: str) -> PeerStatus:
    """Try to import ``library`` (a key of :data:`PEER_PACKAGES`) and report the outcome."""
    module, distribution = PEER_PACKAGES[library]
    try:
        installed = version(distribution)
    except PackageNotFoundError:
        return PeerStatus(library, None, False, f"{distribution} is not installed")
    try:
        importlib.import_module(module)
    # Any import failure (not only ImportError) is the finding to report.
    except Exception as error:
        return PeerStatus(library, installed, False, f"import {module} failed: {error!r}")
    return PeerStatus(library, installed, True)


@dataclass
class UpliftAdapter:
    """One learner: ``fit(X, y, t, groups)`` then ``predict(X)`` gives the uplift per row.

    Attributes
    ----------
    library : str
        Key of :data:`PEER_PACKAGES`.
    name : str
        The class as a user would write it (e.g. ``causalml BaseXClassifier``).
    family : str
        Meta-learner family: ``T``, ``S``, ``X``, ``DR``, ``class transformation`` or
        ``uplift forest``.
    build : callable
        Returns a fresh fitted-state holder ``(fit, predict)`` given the settings.
    notes : str
        How the adapter wires the library (what differs from visitrisk's counterpart).
    """

    library: str
    name: str
    family: str
    build: Callable[[Settings], tuple[Callable[..., None], Callable[[pd.DataFrame], np.ndarray]]]
    notes: str = ""


@dataclass(frozen=True)
class Settings:
    """The shared budget: LightGBM parameters, seed, and the uplift forest's parameters."""

    classifier: dict[str, Any]
    regressor: dict[str, Any]
    seed: int
    forest: dict[str, Any] = field(default_factory=dict)

    def new_classifier(self, offset: int = 0) -> Any:
        from lightgbm import LGBMClassifier

        return LGBMClassifier(**self.classifier, random_state=self.seed + offset, n_jobs=1)

    def new_regressor(self, offset: int = 0, params: dict[str, Any] | None = None) -> Any:
        from lightgbm import LGBMRegressor

        chosen = self.regressor if params is None else params
        return LGBMRegressor(**chosen, random_state=self.seed + offset, n_jobs=1)


def _ravel(uplift: Any) -> np.ndarray:
    # causalml returns one column per treatment group; there is one treatment here.
    values = np.asarray(uplift, dtype=float)
    return values.reshape(values.shape[0], -1)[:, 0]


def _arm_labels(treatment: np.ndarray) -> np.ndarray:
    # causalml's meta-learners take group names and a control name.
    return np.where(treatment == 1, "treatment", "control")


# --------------------------------------------------------------------------- visitrisk


def _visitrisk(kind: str) -> Callable[[Settings], tuple[Callable[..., None], Callable]]:
    def build(settings: Settings) -> tuple[Callable[..., None], Callable]:
        from visitrisk import learners

        common = {"outcome_model": settings.new_classifier(), "random_state": settings.seed}
        if kind in ("X", "DR"):
            common |= {
                "effect_model": settings.new_regressor(),
                "propensity_model": settings.new_classifier(),
                "propensity_clip": PROPENSITY_CLIP,
            }
        classes = {
            "T": learners.TLearner,
            "S": learners.SLearner,
            "X": learners.XLearner,
            "DR": learners.DRLearner,
        }
        learner = classes[kind](**common, n_jobs=1)

        def fit(X, y, treatment, groups):
            import warnings

            from visitrisk.propensity import OverlapWarning

            with warnings.catch_warnings():
                # Overlap is reported once per dataset by the benchmark, not per learner.
                warnings.simplefilter("ignore", OverlapWarning)
                learner.fit(X, y, treatment, groups=groups)

        return fit, learner.predict

    return build


# --------------------------------------------------------------------------- causalml


def _propensity_oof(
    settings: Settings, X: np.ndarray, treatment: np.ndarray, n_folds: int = 3
) -> tuple[np.ndarray, Any]:
    """Out-of-fold propensity of each training row and a model fitted on all of them."""
    from sklearn.model_selection import StratifiedKFold

    oof = np.empty(len(treatment))
    folds = StratifiedKFold(n_folds, shuffle=True, random_state=settings.seed)
    for index, (train, held_out) in enumerate(folds.split(X, treatment)):
        model = settings.new_classifier(offset=10 + index).fit(X[train], treatment[train])
        oof[held_out] = model.predict_proba(X[held_out])[:, 1]
    full = settings.new_classifier(offset=20).fit(X, treatment)
    return np.clip(oof, PROPENSITY_CLIP, 1 - PROPENSITY_CLIP), full


def _clipped_proba(model: Any, X: np.ndarray) -> np.ndarray:
    return np.clip(model.predict_proba(X)[:, 1], PROPENSITY_CLIP, 1 - PROPENSITY_CLIP)


def _causalml_t(settings: Settings):
    from causalml.inference.meta import BaseTClassifier

    learner = BaseTClassifier(learner=settings.new_classifier(), control_name="control")

    def fit(X, y, treatment, groups):
        learner.fit(X.to_numpy(), treatment=_arm_labels(treatment), y=y)

    return fit, lambda X: _ravel(learner.predict(X.to_numpy()))


def _causalml_s(settings: Settings):
    from causalml.inference.meta import BaseSClassifier

    learner = BaseSClassifier(learner=settings.new_classifier(), control_name="control")

    def fit(X, y, treatment, groups):
        learner.fit(X.to_numpy(), treatment=_arm_labels(treatment), y=y)

    return fit, lambda X: _ravel(learner.predict(X.to_numpy()))


def _causalml_x(settings: Settings):
    from causalml.inference.meta import BaseXClassifier

    learner = BaseXClassifier(
        outcome_learner=settings.new_classifier(),
        effect_learner=settings.new_regressor(),
        control_name="control",
    )
    state: dict[str, Any] = {}

    def fit(X, y, treatment, groups):
        features = X.to_numpy()
        # causalml's own default propensity is an elastic-net logistic regression; the
        # comparison gives every learner the same LightGBM propensity instead.
        oof, state["propensity"] = _propensity_oof(settings, features, treatment)
        learner.fit(features, treatment=_arm_labels(treatment), y=y, p=oof)

    def predict(X):
        features = X.to_numpy()
        return _ravel(learner.predict(features, p=_clipped_proba(state["propensity"], features)))

    return fit, predict


def _causalml_dr(settings: Settings):
    from causalml.inference.meta import BaseDRLearner

    # BaseDRLearner calls `predict` on its outcome models, so they are LightGBM regressors
    # (squared loss on the 0/1 outcome) with the classifiers' tree settings.
    outcome_params = settings.classifier
    learner = BaseDRLearner(
        control_outcome_learner=settings.new_regressor(params=outcome_params),
        treatment_outcome_learner=settings.new_regressor(offset=1, params=outcome_params),
        treatment_effect_learner=settings.new_regressor(offset=2),
        control_name="control",
    )

    def fit(X, y, treatment, groups):
        features = X.to_numpy()
        oof, _ = _propensity_oof(settings, features, treatment)
        learner.fit(features, treatment=_arm_labels(treatment), y=y, p=oof, seed=settings.seed)

    return fit, lambda X: _ravel(learner.predict(X.to_numpy()))


def _causalml_forest(settings: Settings):
    from causalml.inference.tree import UpliftRandomForestClassifier

    forest = UpliftRandomForestClassifier(
        control_name="control", **settings.forest, random_state=settings.seed, n_jobs=1
    )

    def fit(X, y, treatment, groups):
        forest.fit(X.to_numpy(), treatment=_arm_labels(treatment), y=y)

    return fit, lambda X: _ravel(forest.predict(X.to_numpy()))


# --------------------------------------------------------------------------- scikit-uplift


def _sklift(kind: str):
    def build(settings: Settings):
        from sklift import models

        if kind == "TwoModels":
            model = models.TwoModels(
                estimator_trmnt=settings.new_classifier(),
                estimator_ctrl=settings.new_classifier(offset=1),
                method="vanilla",
            )
        elif kind == "SoloModel":
            model = models.SoloModel(estimator=settings.new_classifier(), method="dummy")
        else:
            model = models.ClassTransformation(estimator=settings.new_classifier())

        def fit(X, y, treatment, groups):
            import warnings

            with warnings.catch_warnings():
                # ClassTransformation warns that the arms are unbalanced: it assumes a
                # 50/50 randomised treatment. That assumption is part of what is measured.
                warnings.simplefilter("ignore", UserWarning)
                model.fit(X, y, treatment)

        return fit, lambda X: _ravel(model.predict(X))

    return build


# --------------------------------------------------------------------------- EconML


def _econml_dr(settings: Settings):
    from econml.dr import DRLearner

    learner = DRLearner(
        model_propensity=settings.new_classifier(),
        model_regression=settings.new_classifier(offset=1),
        model_final=settings.new_regressor(offset=2),
        discrete_outcome=True,
        min_propensity=PROPENSITY_CLIP,
        # EconML rejects NaN features unless told its models handle them (LightGBM does).
        allow_missing=True,
        cv=3,
        random_state=settings.seed,
    )

    def fit(X, y, treatment, groups):
        learner.fit(y, treatment, X=X.to_numpy(), groups=groups)

    return fit, lambda X: _ravel(learner.effect(X.to_numpy()))


def adapters() -> list[UpliftAdapter]:
    """Every learner in the comparison, visitrisk's first."""
    return [
        UpliftAdapter("visitrisk", "visitrisk TLearner", "T", _visitrisk("T")),
        UpliftAdapter("visitrisk", "visitrisk SLearner", "S", _visitrisk("S")),
        UpliftAdapter(
            "visitrisk",
            "visitrisk XLearner",
            "X",
            _visitrisk("X"),
            "calibrated cross-fitted LightGBM propensity; customer-grouped folds",
        ),
        UpliftAdapter(
            "visitrisk",
            "visitrisk DRLearner",
            "DR",
            _visitrisk("DR"),
            "3 customer-grouped cross-fitting folds; final LightGBM regressor on all rows",
        ),
        UpliftAdapter("causalml", "causalml BaseTClassifier", "T", _causalml_t),
        UpliftAdapter("causalml", "causalml BaseSClassifier", "S", _causalml_s),
        UpliftAdapter(
            "causalml",
            "causalml BaseXClassifier",
            "X",
            _causalml_x,
            "propensity: the shared LightGBM classifier, 3-fold out-of-fold (p=...)",
        ),
        UpliftAdapter(
            "causalml",
            "causalml BaseDRLearner",
            "DR",
            _causalml_dr,
            "LightGBM regressors as outcome models; 3 rotating row splits (propensity / "
            "outcome / effect), effect models averaged; out-of-fold LightGBM propensity",
        ),
        UpliftAdapter(
            "causalml",
            "causalml UpliftRandomForestClassifier",
            "uplift forest",
            _causalml_forest,
            "its own KL-divergence uplift trees (no LightGBM)",
        ),
        UpliftAdapter("scikit-uplift", "sklift TwoModels", "T", _sklift("TwoModels")),
        UpliftAdapter("scikit-uplift", "sklift SoloModel", "S", _sklift("SoloModel")),
        UpliftAdapter(
            "scikit-uplift",
            "sklift ClassTransformation",
            "class transformation",
            _sklift("ClassTransformation"),
            "assumes a randomised 50/50 treatment",
        ),
        UpliftAdapter(
            "econml",
            "econml DRLearner",
            "DR",
            _econml_dr,
            "one outcome model on (X, T); 3 customer-grouped folds; LightGBM final model",
        ),
    ]
