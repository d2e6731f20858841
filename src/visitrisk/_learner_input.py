"""Input checks and shared plumbing of the uplift estimators (private).

Everything the learners and the propensity model validate lives here, so every message has
the same shape: it names the estimator, the argument and what was expected.
"""

# scikit-learn's convention: the feature matrix is `X` (upper case).
# ruff: noqa: N803, N806

from __future__ import annotations

import inspect
import numbers
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.utils.validation import has_fit_parameter

__all__: list[str] = []

#: LightGBM defaults of the outcome and propensity classifiers, chosen for 10^4–10^6 rows:
#: at most 150 trees at learning rate 0.1 (the DR learner fits 2 × n_folds outcome and
#: n_folds propensity models, so tree count dominates its fit time; with the learners'
#: ``early_stopping_rounds`` it is a ceiling); leaves of at least 50 rows so rare segments
#: are not memorised,
#: row and column subsampling for variance, and deterministic row-wise histograms (faster
#: than column-wise for many rows and few threads) so the same data, seed and n_jobs give
#: the same model.
LGBM_CLASSIFIER_DEFAULTS: dict[str, Any] = {
    "n_estimators": 150,
    "learning_rate": 0.1,
    "num_leaves": 31,
    "min_child_samples": 50,
    "subsample": 0.8,
    "subsample_freq": 1,
    "colsample_bytree": 0.8,
    "reg_lambda": 1.0,
    "deterministic": True,
    "force_row_wise": True,
    "verbose": -1,
}

#: LightGBM defaults of the effect regressors (the X learner's second stage and the DR
#: learner's final model). Their targets are noisy imputed effects or AIPW pseudo-outcomes,
#: so the trees are shallower, leaves larger and the L2 penalty stronger than for outcomes;
#: they are never early-stopped (their held-out loss is mostly the noise of the target).
#: Few trees: with a binary cure and visit effects of a few percentage points, an AIPW
#: pseudo-outcome has a standard deviation near 1 against an uplift spread near 0.05
#: (signal variance ~1/300 of the noise), and an imputed X-learner effect is not much
#: cleaner. Every tree past the first few dozen fits mostly noise, so 50 trees at learning
#: rate 0.05 (a boosting budget of 2.5, enough to move 92 % of the way to a step that is
#: really there) shrink the estimate towards its mean where the data are thin. On the
#: simulator (bench/bench_uplift.py, trial design, three seeds) going from 200 to 100 to 50
#: trees raised the share of the true top-20 % cures of the X learner 0.42 -> 0.44 -> 0.46
#: and of the DR learner 0.37 -> 0.41, with a narrower spread between seeds; it also cuts
#: the effect models' fit time by four.
LGBM_REGRESSOR_DEFAULTS: dict[str, Any] = {
    "n_estimators": 50,
    "learning_rate": 0.05,
    "num_leaves": 15,
    "min_child_samples": 200,
    "subsample": 0.8,
    "subsample_freq": 1,
    "colsample_bytree": 0.8,
    "reg_lambda": 5.0,
    "deterministic": True,
    "force_row_wise": True,
    "verbose": -1,
}


def default_classifier(n_jobs: int | None) -> Any:
    """Return an unfitted ``LGBMClassifier`` with :data:`LGBM_CLASSIFIER_DEFAULTS`."""
    from lightgbm import LGBMClassifier

    return LGBMClassifier(**LGBM_CLASSIFIER_DEFAULTS, n_jobs=n_jobs)


def default_regressor(n_jobs: int | None) -> Any:
    """Return an unfitted ``LGBMRegressor`` with :data:`LGBM_REGRESSOR_DEFAULTS`."""
    from lightgbm import LGBMRegressor

    return LGBMRegressor(**LGBM_REGRESSOR_DEFAULTS, n_jobs=n_jobs)


# --------------------------------------------------------------------------- parameters


@dataclass(frozen=True)
class Constraint:
    """A rule one parameter must satisfy, and how to say it in a message."""

    check: Callable[[Any], bool]
    description: str


def _is_int(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _is_real(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def int_at_least(low: int) -> Constraint:
    """Integers ``>= low``."""
    return Constraint(lambda v: _is_int(v) and v >= low, f"an int >= {low}")


def real_between(low: float, high: float, unit: str = "") -> Constraint:
    """Finite reals in the open interval ``(low, high)``."""
    suffix = f" ({unit})" if unit else ""
    return Constraint(
        lambda v: _is_real(v) and low < v < high, f"a float in ({low}, {high}){suffix}"
    )


def real_at_least(low: float, unit: str = "") -> Constraint:
    """Finite reals ``>= low``."""
    suffix = f" ({unit})" if unit else ""
    return Constraint(
        lambda v: _is_real(v) and np.isfinite(v) and v >= low, f"a finite float >= {low}{suffix}"
    )


BOOLEAN = Constraint(lambda v: isinstance(v, bool | np.bool_), "a bool (True or False)")
N_JOBS = Constraint(
    lambda v: v is None or (_is_int(v) and v != 0), "None or a non-zero int (threads)"
)
STOPPING_ROUNDS = Constraint(
    lambda v: v is None or (_is_int(v) and v >= 1), "None or an int >= 1 (boosting rounds)"
)
RANDOM_STATE = Constraint(
    lambda v: v is None or _is_int(v) or isinstance(v, np.random.RandomState),
    "None, an int or a numpy.random.RandomState",
)
CLASSIFIER = Constraint(
    lambda v: v is None or (hasattr(v, "fit") and hasattr(v, "predict_proba")),
    "None or a scikit-learn classifier with predict_proba",
)
REGRESSOR = Constraint(
    lambda v: v is None or (hasattr(v, "fit") and hasattr(v, "predict")),
    "None or a scikit-learn regressor",
)


def check_parameters(estimator: Any, constraints: Mapping[str, Constraint]) -> None:
    """Raise ``ValueError`` for the first parameter of ``estimator`` breaking its rule."""
    owner = type(estimator).__name__
    for name, constraint in constraints.items():
        value = getattr(estimator, name)
        if not constraint.check(value):
            raise ValueError(
                f"The {name!r} parameter of {owner} must be {constraint.description}. "
                f"Got {value!r} instead."
            )


def seeded_clone(model: Any, rng: np.random.RandomState) -> Any:
    """Clone ``model`` and give it a seed drawn from ``rng`` unless the user fixed one.

    The user's object is never fitted or modified.
    """
    fresh = clone(model)
    params = fresh.get_params(deep=False)
    if "random_state" in params and params["random_state"] is None:
        fresh.set_params(random_state=int(rng.randint(np.iinfo(np.int32).max)))
    return fresh


# --------------------------------------------------------------------------- features


@dataclass(frozen=True)
class FeatureSchema:
    """Column names, kinds and categories seen at fit time."""

    names: tuple[str, ...]
    categories: Mapping[str, tuple[Any, ...]]
    from_frame: bool


def _is_allowed_dtype(dtype: Any) -> bool:
    return isinstance(dtype, pd.CategoricalDtype) or (
        pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_complex_dtype(dtype)
    )


def _as_frame(X: Any, owner: str) -> tuple[pd.DataFrame, bool]:
    if isinstance(X, pd.DataFrame):
        bad_names = [name for name in X.columns if not isinstance(name, str)]
        if bad_names:
            raise ValueError(
                f"{owner}: feature names must be strings; got {bad_names[:5]!r} in X.columns."
            )
        if X.columns.has_duplicates:
            duplicated = X.columns[X.columns.duplicated()].unique().tolist()
            raise ValueError(f"{owner}: X has duplicated feature names {duplicated[:5]!r}.")
        return X, True
    array = np.asarray(X)
    if array.ndim != 2:
        raise ValueError(f"{owner}: X must be 2-D (rows × features); got {array.ndim}-D input.")
    columns = [f"x{j}" for j in range(array.shape[1])]
    return pd.DataFrame(array, columns=columns), False


def _check_dtypes(X: pd.DataFrame, owner: str) -> None:
    bad = {name: str(dtype) for name, dtype in X.dtypes.items() if not _is_allowed_dtype(dtype)}
    if bad:
        listed = ", ".join(f"{name!r} ({dtype})" for name, dtype in list(bad.items())[:10])
        raise ValueError(
            f"{owner}: unsupported feature dtype in column(s) {listed}. Features must be "
            "numeric, bool or pandas 'category'; fix categories upstream (in the feature "
            "builder) so they are the same at fit and predict time."
        )


def validate_fit_features(X: Any, owner: str) -> tuple[pd.DataFrame, FeatureSchema]:
    """Check the training features and record their schema."""
    frame, from_frame = _as_frame(X, owner)
    if frame.shape[0] == 0 or frame.shape[1] == 0:
        raise ValueError(f"{owner}: X is empty ({frame.shape[0]} rows × {frame.shape[1]} columns).")
    _check_dtypes(frame, owner)
    categories = {
        name: tuple(dtype.categories)
        for name, dtype in frame.dtypes.items()
        if isinstance(dtype, pd.CategoricalDtype)
    }
    return frame, FeatureSchema(tuple(frame.columns), categories, from_frame)


def validate_predict_features(X: Any, schema: FeatureSchema, owner: str) -> pd.DataFrame:
    """Check that ``X`` has exactly the columns, order and categories seen at fit time."""
    frame, _ = _as_frame(X, owner)
    expected = list(schema.names)
    got = list(frame.columns)
    missing = [name for name in expected if name not in set(got)]
    extra = [name for name in got if name not in set(expected)]
    if missing or extra:
        parts = []
        if missing:
            parts.append(f"missing feature(s) seen at fit time: {missing[:10]!r}")
        if extra:
            parts.append(f"feature(s) not seen at fit time: {extra[:10]!r}")
        raise ValueError(f"{owner}: X has " + "; ".join(parts) + ".")
    if got != expected:
        raise ValueError(
            f"{owner}: X has the fit-time features in a different order; "
            f"expected {expected!r}, got {got!r}."
        )
    _check_dtypes(frame, owner)
    for name, dtype in frame.dtypes.items():
        was_categorical = name in schema.categories
        if was_categorical != isinstance(dtype, pd.CategoricalDtype):
            then = "category" if was_categorical else "non-categorical"
            raise ValueError(
                f"{owner}: feature {name!r} was {then} at fit time but has dtype {dtype} now."
            )
        if was_categorical and tuple(dtype.categories) != schema.categories[name]:
            seen = schema.categories[name]
            added = [c for c in dtype.categories if c not in set(seen)]
            removed = [c for c in seen if c not in set(dtype.categories)]
            detail = (
                f"added {added[:10]!r}, removed {removed[:10]!r}"
                if added or removed
                else "same categories in a different order"
            )
            raise ValueError(
                f"{owner}: categories of feature {name!r} differ from fit time ({detail})."
            )
    return frame


# --------------------------------------------------------------------------- vectors


def _as_vector(values: Any, name: str, n_rows: int, owner: str) -> np.ndarray:
    array = np.asarray(values)
    if array.ndim == 2 and array.shape[1] == 1:
        array = array[:, 0]
    if array.ndim != 1:
        raise ValueError(f"{owner}: {name} must be 1-D; got shape {array.shape}.")
    if array.shape[0] != n_rows:
        raise ValueError(
            f"{owner}: {name} has {array.shape[0]} rows but X has {n_rows}; lengths must match."
        )
    return array


def validate_binary(values: Any, name: str, n_rows: int, owner: str) -> np.ndarray:
    """Return ``values`` as an int8 0/1 vector, or raise naming what is wrong."""
    array = _as_vector(values, name, n_rows, owner)
    missing = pd.isna(array)
    if missing.any():
        rows = np.flatnonzero(missing)
        raise ValueError(
            f"{owner}: {name} has {rows.size} missing value(s) (NaN), e.g. at rows "
            f"{rows[:5].tolist()}."
        )
    as_float = pd.to_numeric(pd.Series(array), errors="coerce").to_numpy(dtype=float)
    not_binary = ~np.isin(as_float, (0.0, 1.0))
    if not_binary.any():
        seen = pd.unique(pd.Series(array)[not_binary])[:5].tolist()
        raise ValueError(f"{owner}: {name} must be binary (0/1 or bool); found value(s) {seen!r}.")
    binary = as_float.astype(np.int8)
    if np.unique(binary).size < 2:
        raise ValueError(
            f"{owner}: {name} takes the single value {int(binary[0])} on all {n_rows} rows; "
            "both 0 and 1 are needed."
        )
    return binary


def validate_sample_weight(sample_weight: Any, n_rows: int, owner: str) -> np.ndarray | None:
    """Return finite, non-negative weights with a positive sum, or ``None``."""
    if sample_weight is None:
        return None
    weights = _as_vector(sample_weight, "sample_weight", n_rows, owner).astype(float)
    if not np.isfinite(weights).all() or (weights < 0).any() or weights.sum() <= 0:
        raise ValueError(
            f"{owner}: sample_weight must be finite and non-negative with a positive sum."
        )
    return weights


def validate_groups(groups: Any, n_rows: int, owner: str) -> np.ndarray | None:
    """Return the group labels (customer ids) without missing values, or ``None``."""
    if groups is None:
        return None
    labels = _as_vector(groups, "groups", n_rows, owner)
    missing = pd.isna(labels)
    if missing.any():
        raise ValueError(
            f"{owner}: groups has {int(missing.sum())} missing value(s); every row needs a "
            "customer id."
        )
    return labels


def check_arms_have_both_outcomes(y: np.ndarray, treatment: np.ndarray, owner: str) -> None:
    """Outcome models are fitted per arm: each arm needs cured and not-cured rows."""
    for arm, label in ((0, "control"), (1, "treated")):
        values = np.unique(y[treatment == arm])
        if values.size < 2:
            raise ValueError(
                f"{owner}: y takes the single value {int(values[0])} in the {label} arm; "
                "an outcome model needs both 0 and 1 in each arm."
            )


# --------------------------------------------------------------------------- cross-fitting


def make_folds(
    n_folds: int,
    strata: np.ndarray,
    groups: np.ndarray | None,
    rng: np.random.RandomState,
    owner: str,
) -> np.ndarray:
    """Assign each row to one of ``n_folds`` folds (a customer's rows share one fold).

    With ``groups`` the folds are a shuffled ``GroupKFold``; without, a ``StratifiedKFold``
    on ``strata`` (small int codes, e.g. 2 × treatment + y). The training part of every fold
    must still hold every stratum, otherwise a per-arm model could not be fitted there.
    """
    from sklearn.model_selection import GroupKFold, StratifiedKFold

    seed = int(rng.randint(np.iinfo(np.int32).max))
    present = np.unique(strata)
    if groups is not None:
        n_groups = pd.unique(groups).size
        if n_groups < n_folds:
            raise ValueError(
                f"{owner}: {n_folds} folds need at least {n_folds} distinct groups "
                f"(customers); got {n_groups}."
            )
        splitter = GroupKFold(n_splits=n_folds, shuffle=True, random_state=seed)
        splits = splitter.split(strata, strata, groups)
    else:
        smallest = np.unique(strata, return_counts=True)[1].min()
        if smallest < n_folds:
            raise ValueError(
                f"{owner}: a (treatment, y) cell has only {smallest} rows, fewer than the "
                f"{n_folds} folds."
            )
        splitter = StratifiedKFold(n_splits=n_folds, shuffle=True, random_state=seed)
        splits = splitter.split(strata, strata)
    fold = np.empty(strata.shape[0], dtype=np.int64)
    for index, (train, test) in enumerate(splits):
        fold[test] = index
        if np.unique(strata[train]).size < present.size:
            raise ValueError(
                f"{owner}: the training part of fold {index} lacks a (treatment, y) "
                "combination; use fewer folds or more data."
            )
    return fold


def positive_proba(model: Any, X: pd.DataFrame) -> np.ndarray:
    """Probability of class 1 from a fitted binary classifier."""
    proba = model.predict_proba(X)
    column = int(np.flatnonzero(np.asarray(model.classes_) == 1)[0])
    return np.asarray(proba[:, column], dtype=float)


def validation_rows(
    n_rows: int,
    fraction: float | None,
    groups: np.ndarray | None,
    rng: np.random.RandomState,
) -> np.ndarray | None:
    """Mark about ``fraction`` of the customers (all their rows) as early-stopping rows.

    Whole groups are held out, like the cross-fitting folds, so a customer's other
    snapshots never tell the model what it is being stopped on. ``None`` when early
    stopping is off (``fraction`` is ``None``).
    """
    if fraction is None:
        return None
    seed = int(rng.randint(np.iinfo(np.int32).max))
    labels = np.arange(n_rows) if groups is None else pd.factorize(groups)[0]
    n_groups = int(labels.max()) + 1
    held_out = np.random.default_rng(seed).random(n_groups) < fraction
    return held_out[labels]


def _is_lightgbm(model: Any) -> bool:
    # Without importing lightgbm: a user's scikit-learn model must not pay for the import.
    return any(
        cls.__module__.startswith("lightgbm") and cls.__name__ == "LGBMModel"
        for cls in type(model).__mro__
    )


def fit_model(
    model: Any,
    X: pd.DataFrame,
    target: np.ndarray,
    sample_weight: np.ndarray | None,
    rows: np.ndarray | None = None,
    *,
    validation: np.ndarray | None = None,
    stopping_rounds: int | None = None,
) -> Any:
    """Fit ``model`` on ``rows`` of ``X`` (all rows when ``None``); weights only if given.

    With a boolean ``validation`` mask and ``stopping_rounds``, a LightGBM model trains on
    the rows outside the mask and stops adding trees once its loss on the rows inside has
    not improved for ``stopping_rounds`` rounds (log-loss for classifiers, squared error
    for regressors); it then predicts with its best iteration. The validation rows are not
    refitted on (as scikit-learn's ``HistGradientBoosting*`` with ``early_stopping``).
    Other models, and validation parts lacking a class of a classification target, are
    fitted on all ``rows`` with their own ``n_estimators``.
    """
    positions = np.arange(X.shape[0]) if rows is None else np.asarray(rows)
    fit_kwargs: dict[str, Any] = {}
    if validation is not None and stopping_rounds is not None and _is_lightgbm(model):
        held_out = validation[positions]
        train, valid = positions[~held_out], positions[held_out]
        is_classifier = hasattr(model, "predict_proba")
        usable = valid.size > 0 and train.size > 0
        if usable and is_classifier:
            usable = np.unique(target[valid]).size == np.unique(target[train]).size == 2
        if usable:
            from lightgbm import early_stopping

            positions = train
            X_valid, y_valid = X.iloc[valid], target[valid]
            # LightGBM 4.7 renamed eval_set to eval_X / eval_y; 4.6 knows only eval_set.
            if "eval_X" in inspect.signature(model.fit).parameters:
                fit_kwargs = {"eval_X": (X_valid,), "eval_y": (y_valid,)}
            else:
                fit_kwargs = {"eval_set": [(X_valid, y_valid)]}
            fit_kwargs["callbacks"] = [early_stopping(stopping_rounds, verbose=False)]
            if sample_weight is not None:
                fit_kwargs["eval_sample_weight"] = [sample_weight[valid]]
    if rows is not None or fit_kwargs:
        X = X.iloc[positions]
        target = target[positions]
        sample_weight = None if sample_weight is None else sample_weight[positions]
    if sample_weight is None:
        return model.fit(X, target, **fit_kwargs)
    if not has_fit_parameter(model, "sample_weight"):
        raise ValueError(
            f"{type(model).__name__}.fit does not accept sample_weight; use a base model that "
            "does, or fit without weights."
        )
    return model.fit(X, target, sample_weight=sample_weight, **fit_kwargs)
