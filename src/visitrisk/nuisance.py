"""Cross-fitted nuisance models: each arm's outcome probability and the propensity.

Doubly-robust evaluation (:mod:`visitrisk.metrics`) and the DR / X learners need the same
three out-of-fold predictions for every row: ``mu0`` = P(cured | not visited, x),
``mu1`` = P(cured | visited, x) and ``propensity`` = P(visited | x). Fitting them on the
rows they are later used for leaks the outcome into the estimate, so every prediction here
comes from models fitted on the *other* folds, and folds never split a customer (``groups``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from visitrisk._checks import binary, one_dimensional, probability

__all__ = ["NUISANCE_COLUMNS", "fit_nuisances", "pseudo_outcomes"]

#: Columns of the frame returned by :func:`fit_nuisances`.
NUISANCE_COLUMNS: tuple[str, ...] = ("mu0", "mu1", "propensity", "fold")


def _default_classifier(random_state: int | None, n_jobs: int) -> Any:
    from lightgbm import LGBMClassifier

    # Small, regularised trees: nuisances only need to be roughly right for AIPW to be
    # consistent, and they are refitted 3 x n_folds times.
    return LGBMClassifier(
        n_estimators=200,
        learning_rate=0.05,
        num_leaves=15,
        min_child_samples=40,
        subsample=0.8,
        subsample_freq=1,
        colsample_bytree=0.8,
        random_state=random_state,
        n_jobs=n_jobs,
        verbose=-1,
    )


def _lightgbm_ready(features: pd.DataFrame) -> pd.DataFrame:
    # LightGBM rejects pandas 3 `str` columns; the category set is taken from the whole frame
    # (labels only, no outcome), so every fold sees the same codes.
    text = [
        name
        for name, dtype in features.dtypes.items()
        if pd.api.types.is_string_dtype(dtype) and not isinstance(dtype, pd.CategoricalDtype)
    ]
    if not text:
        return features
    return features.astype(dict.fromkeys(text, "category"))


def _rows(features: pd.DataFrame | np.ndarray, positions: np.ndarray) -> Any:
    if isinstance(features, pd.DataFrame):
        return features.iloc[positions]
    return features[positions]


def _positive_proba(model: Any, features: Any) -> np.ndarray:
    proba = model.predict_proba(features)
    classes = list(model.classes_)
    return np.asarray(proba)[:, classes.index(1)]


def fit_nuisances(
    X: pd.DataFrame | np.ndarray,  # noqa: N803 (scikit-learn's name for a feature matrix)
    y: ArrayLike,
    treatment: ArrayLike,
    groups: ArrayLike | None = None,
    *,
    outcome_model: Any = None,
    propensity_model: Any = None,
    known_propensity: float | ArrayLike | None = None,
    n_folds: int = 5,
    propensity_clip: float = 0.01,
    random_state: int | None = 0,
    n_jobs: int = 1,
) -> pd.DataFrame:
    """Fit outcome and propensity models across folds and predict every row out of fold.

    Rows are split into ``n_folds`` folds of whole groups (customers), shuffled with
    ``random_state``. For each fold, three classifiers are fitted on the other folds:
    the outcome model on visited rows (``mu1``), the outcome model on non-visited rows
    (``mu0``) and the propensity model on all rows; the fold's rows are then predicted.

    Parameters
    ----------
    X : pandas.DataFrame or numpy.ndarray, shape (n_rows, n_features)
        Features known before the visit decision. Text columns are turned into pandas
        categoricals (LightGBM needs them so).
    y : array-like of {0, 1}, shape (n_rows,)
        Outcome (1 = cured within the horizon).
    treatment : array-like of {0, 1}, shape (n_rows,)
        1 = visited within the treatment window.
    groups : array-like, shape (n_rows,), optional
        Group label per row (customer_id); a group never spans two folds. Default: every
        row is its own group.
    outcome_model, propensity_model : scikit-learn classifier, optional
        Any classifier with ``predict_proba``; cloned, never fitted in place. Default: a
        small LightGBM classifier with ``n_jobs`` threads.
    known_propensity : float or array-like of shape (n_rows,), optional
        Assignment probability when visits were randomised (a constant, or logged per row).
        Used as the propensity instead of fitting a model; must lie strictly in (0, 1).
    n_folds : int, default 5
        Number of cross-fitting folds (>= 2).
    propensity_clip : float, default 0.01
        Fitted propensities are clipped to ``[propensity_clip, 1 - propensity_clip]`` so no
        row gets an inverse weight above ``1 / propensity_clip``. Not applied to
        ``known_propensity``.
    random_state : int or None, default 0
        Seed of the fold assignment and of the default LightGBM models.
    n_jobs : int, default 1
        Threads of the default LightGBM models.

    Returns
    -------
    pandas.DataFrame
        Indexed like ``X`` (or 0..n-1), columns ``mu0``, ``mu1``, ``propensity`` (all
        probabilities, out of fold) and ``fold`` (0-based fold of the row).

    Raises
    ------
    ValueError
        Mismatched lengths, non-binary ``y`` or ``treatment``, a propensity outside (0, 1),
        fewer groups than folds, or a training fold lacking an arm or an outcome class.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(400, 2))
    >>> t = rng.binomial(1, 0.5, 400)
    >>> y = rng.binomial(1, 0.3 + 0.2 * t)
    >>> nuis = fit_nuisances(X, y, t, outcome_model=LogisticRegression(), known_propensity=0.5)
    >>> list(nuis.columns)
    ['mu0', 'mu1', 'propensity', 'fold']
    """
    from sklearn.base import clone
    from sklearn.model_selection import GroupKFold

    n_rows = len(X)
    outcome = binary(one_dimensional(y, "y"), "y").astype(np.int8)
    arm = binary(one_dimensional(treatment, "treatment"), "treatment").astype(np.int8)
    lengths = {"X": n_rows, "y": len(outcome), "treatment": len(arm)}
    if groups is not None:
        groups = np.asarray(groups)
        lengths["groups"] = len(groups)
    if len(set(lengths.values())) > 1:
        raise ValueError(f"fit_nuisances needs inputs of the same length; got {lengths}.")
    if not isinstance(n_folds, int | np.integer) or n_folds < 2:
        raise ValueError(f"The 'n_folds' parameter must be an int >= 2. Got {n_folds!r} instead.")
    if not 0 <= propensity_clip < 0.5:
        raise ValueError(
            f"The 'propensity_clip' parameter must lie in [0, 0.5). Got {propensity_clip!r}."
        )
    group_labels = np.arange(n_rows) if groups is None else groups
    if pd.isna(group_labels).any():
        rows = np.flatnonzero(pd.isna(group_labels))[:5].tolist()
        raise ValueError(f"groups has missing labels, e.g. positions {rows}.")
    n_groups = len(pd.unique(group_labels))
    if n_groups < n_folds:
        raise ValueError(f"fit_nuisances needs at least n_folds={n_folds} groups; got {n_groups}.")
    if arm.min() == arm.max():
        raise ValueError(
            f"treatment holds a single arm (all {int(arm[0])}); nuisance models need both "
            "visited and not-visited rows."
        )

    known = None
    if known_propensity is not None:
        known = np.broadcast_to(np.asarray(known_propensity, dtype=float), (n_rows,))
        known = probability(known.copy(), "known_propensity")

    features = _lightgbm_ready(X) if isinstance(X, pd.DataFrame) else np.asarray(X)
    base_outcome = outcome_model
    if outcome_model is None:
        base_outcome = _default_classifier(random_state, n_jobs)
    base_propensity = propensity_model
    if propensity_model is None and known is None:
        base_propensity = _default_classifier(random_state, n_jobs)

    mu0 = np.empty(n_rows)
    mu1 = np.empty(n_rows)
    propensity = np.empty(n_rows) if known is None else known
    fold_of_row = np.empty(n_rows, dtype=np.int64)
    splitter = GroupKFold(n_splits=n_folds, shuffle=True, random_state=random_state)
    # A loop over folds (a handful), never over rows.
    for fold, (train, test) in enumerate(splitter.split(features, groups=group_labels)):
        fold_of_row[test] = fold
        for arm_value, target in ((0, mu0), (1, mu1)):
            rows = train[arm[train] == arm_value]
            classes = np.unique(outcome[rows])
            if len(classes) < 2:
                arm_name = "visited" if arm_value else "not-visited"
                raise ValueError(
                    f"Cross-fitting fold {fold}: the {arm_name} training rows "
                    f"({len(rows)}) hold a single outcome class {classes.tolist()}; "
                    "the outcome model needs both cured and not-cured rows in each arm."
                )
            model = clone(base_outcome).fit(_rows(features, rows), outcome[rows])
            target[test] = _positive_proba(model, _rows(features, test))
        if known is None:
            model = clone(base_propensity).fit(_rows(features, train), arm[train])
            fitted = _positive_proba(model, _rows(features, test))
            propensity[test] = np.clip(fitted, propensity_clip, 1 - propensity_clip)

    index = X.index if isinstance(X, pd.DataFrame) else pd.RangeIndex(n_rows)
    return pd.DataFrame(
        {"mu0": mu0, "mu1": mu1, "propensity": propensity, "fold": fold_of_row}, index=index
    )


def pseudo_outcomes(
    y: ArrayLike,
    treatment: ArrayLike,
    nuisances: pd.DataFrame,
    method: str = "dr",
) -> np.ndarray:
    r"""Per-row unbiased signals of the visit effect (IPW or AIPW pseudo-outcomes).

    With :math:`e` the propensity, :math:`\mu_0, \mu_1` each arm's outcome probability,
    :math:`t` the treatment and :math:`y` the outcome of a row:

    - ``"ipw"``: :math:`\Gamma = t\,y/e - (1-t)\,y/(1-e)`
    - ``"dr"`` (AIPW): :math:`\Gamma = \mu_1 - \mu_0 + t\,(y-\mu_1)/e - (1-t)\,(y-\mu_0)/(1-e)`

    Given the features, :math:`E[\Gamma] = \tau(x)`, the row's uplift, when the propensity
    is right (IPW) or when either the propensity or both outcome models are right (AIPW).
    Averages of :math:`\Gamma` over any set of rows chosen from the features alone therefore
    estimate that set's average uplift. The DR learner regresses on them too.

    Parameters
    ----------
    y : array-like of {0, 1}, shape (n_rows,)
        Outcome (1 = cured).
    treatment : array-like of {0, 1}, shape (n_rows,)
        1 = visited.
    nuisances : pandas.DataFrame
        Out-of-fold ``propensity`` (and ``mu0``, ``mu1`` for ``"dr"``), one row per row of
        ``y``, e.g. from :func:`fit_nuisances`. Propensity strictly inside (0, 1).
    method : {"dr", "ipw"}, default "dr"
        Estimator.

    Returns
    -------
    numpy.ndarray of float, shape (n_rows,)
        :math:`\Gamma` per row (effect on the cure probability, in probability units).
    """
    if method not in ("dr", "ipw"):
        raise ValueError(f"The 'method' parameter must be 'dr' or 'ipw'. Got {method!r} instead.")
    outcome = binary(one_dimensional(y, "y"), "y").astype(np.int8).astype(float)
    arm = binary(one_dimensional(treatment, "treatment"), "treatment").astype(np.int8).astype(float)
    needed = ["propensity"] if method == "ipw" else ["mu0", "mu1", "propensity"]
    missing = [name for name in needed if name not in nuisances.columns]
    if missing:
        raise ValueError(f"nuisances lacks column(s) {missing} needed by method={method!r}.")
    if not len(outcome) == len(arm) == len(nuisances):
        raise ValueError(
            "y, treatment and nuisances must have the same length; got "
            f"{len(outcome)}, {len(arm)} and {len(nuisances)}."
        )
    frame = nuisances[needed].to_numpy(dtype=float)
    if not np.isfinite(frame).all():
        rows = np.flatnonzero(~np.isfinite(frame).all(axis=1))[:5].tolist()
        raise ValueError(f"nuisances hold missing or infinite values, e.g. positions {rows}.")
    propensity = probability(nuisances["propensity"].to_numpy(), "propensity")
    if method == "ipw":
        return arm * outcome / propensity - (1 - arm) * outcome / (1 - propensity)
    mu0 = nuisances["mu0"].to_numpy(dtype=float)
    mu1 = nuisances["mu1"].to_numpy(dtype=float)
    return (
        mu1
        - mu0
        + arm * (outcome - mu1) / propensity
        - (1 - arm) * (outcome - mu0) / (1 - propensity)
    )
