r"""How good is a ranking of customers by uplift? Qini and uplift curves and their areas.

Two families live here.

**Naive metrics** (``uplift_curve``, ``qini_curve``, ``uplift_auc_score``,
``qini_auc_score``, ``uplift_at_k`` and the ``perfect_*`` curves) follow scikit-uplift's
definitions, names and argument order, so a user switching libraries gets the same numbers.
They compare visited and non-visited rows as if visits were assigned at random: valid on a
randomised holdout, biased on a visit log where officers chose whom to visit.

**Observational metrics** (``*_ipw``) correct for that choice with the propensity
:math:`e(x)`: inverse-propensity weighted curves and areas. Model choice on a visit log
must use these (or the policy values of :mod:`visitrisk.policy`), never the naive ones.

Notation used in the docstrings: rows are sorted by predicted uplift, highest first; for
the top :math:`n` rows, :math:`N_T(n), N_C(n)` count visited and non-visited rows and
:math:`Y_T(n), Y_C(n)` count the cured among them. Ties are never split: curves have one
point per distinct score, at the last row of each tie group.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from visitrisk._checks import validate_uplift_inputs

__all__ = [
    "perfect_qini_curve",
    "perfect_uplift_curve",
    "qini_auc_score",
    "qini_auc_score_ipw",
    "qini_curve",
    "qini_curve_ipw",
    "uplift_at_k",
    "uplift_auc_score",
    "uplift_auc_score_ipw",
    "uplift_curve",
    "uplift_curve_ipw",
]


# --------------------------------------------------------------------------- curves


def _safe_ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    # scikit-uplift's convention: an empty group contributes 0, not NaN.
    return np.divide(numerator, denominator, out=np.zeros_like(numerator), where=denominator != 0)


def _curve(
    outcome: np.ndarray,
    score: np.ndarray,
    arm: np.ndarray,
    weights: np.ndarray,
    kind: str,
) -> tuple[np.ndarray, np.ndarray]:
    """Uplift (``kind="uplift"``) or Qini curve with per-row weights (1 for naive curves)."""
    order = np.argsort(-score, kind="stable")
    ranked = score[order]
    # Last row of every tie group: the curve is read only there, so tie order never matters.
    ends = np.r_[np.flatnonzero(ranked[1:] != ranked[:-1]), len(ranked) - 1]
    treated = (weights * arm)[order]
    control = (weights * (1 - arm))[order]
    cured = outcome[order]
    running = np.cumsum(np.column_stack([treated, treated * cured, control, control * cured]), 0)
    n_treated, y_treated, n_control, y_control = running[ends].T
    n_top = (ends + 1).astype(float)
    if kind == "uplift":
        values = (_safe_ratio(y_treated, n_treated) - _safe_ratio(y_control, n_control)) * n_top
    else:
        values = y_treated - y_control * _safe_ratio(n_treated, n_control)
    return np.r_[0.0, n_top], np.r_[0.0, values]


def _perfect_uplift_score(outcome: np.ndarray, arm: np.ndarray, weights: np.ndarray) -> np.ndarray:
    control_responders = np.sum(weights * (1 - arm) * outcome)
    treated_non_responders = np.sum(weights * arm * (1 - outcome))
    tiebreak = outcome if control_responders > treated_non_responders else arm
    return 2.0 * (outcome == arm) + tiebreak


def _perfect_qini(
    outcome: np.ndarray, arm: np.ndarray, weights: np.ndarray, negative_effect: bool
) -> tuple[np.ndarray, np.ndarray]:
    if not isinstance(negative_effect, bool | np.bool_):
        raise ValueError(f"negative_effect must be a bool; got {negative_effect!r}.")
    x, curve = _curve(outcome, outcome * arm - outcome * (1 - arm), arm, weights, "qini")
    if negative_effect:
        return x, curve
    # Without harmful visits the best ranking reaches the final gain Q at once and stays.
    gain = curve[-1]
    return np.array([0.0, gain, x[-1]]), np.array([0.0, gain, gain])


def _normalised_area(
    x: np.ndarray, curve: np.ndarray, x_perfect: np.ndarray, perfect: np.ndarray
) -> float:
    baseline = x_perfect[-1] * perfect[-1] / 2
    with np.errstate(divide="ignore", invalid="ignore"):
        return float(
            (np.trapezoid(curve, x) - baseline) / (np.trapezoid(perfect, x_perfect) - baseline)
        )


def uplift_curve(
    y_true: ArrayLike, uplift: ArrayLike, treatment: ArrayLike
) -> tuple[np.ndarray, np.ndarray]:
    r"""Uplift curve: estimated incremental cures if the top *n* rows were all visited.

    Same definition as scikit-uplift's ``sklift.metrics.uplift_curve``. At the last row
    :math:`n` of every tie group of scores (highest first):

    .. math:: U(n) = \left(\frac{Y_T(n)}{N_T(n)} - \frac{Y_C(n)}{N_C(n)}\right) n

    where a ratio with an empty denominator counts 0. The point (0, 0) is prepended.

    Parameters
    ----------
    y_true : array-like of {0, 1}, shape (n_rows,)
        Outcome (1 = cured).
    uplift : array-like of float, shape (n_rows,)
        Predicted uplift (any score; only its order and ties matter).
    treatment : array-like of {0, 1}, shape (n_rows,)
        1 = visited.

    Returns
    -------
    n_top : numpy.ndarray of float
        Number of rows targeted, 0 then one point per distinct score.
    curve : numpy.ndarray of float
        :math:`U(n)` in cures.

    Examples
    --------
    >>> uplift_curve([1, 0, 1, 0], [0.9, 0.5, 0.5, 0.1], [1, 1, 0, 0])
    (array([0., 1., 3., 4.]), array([ 0. ,  1. , -1.5,  0. ]))
    """
    outcome, score, arm, _ = validate_uplift_inputs(y_true, uplift, treatment)
    return _curve(outcome, score, arm, np.ones_like(outcome), "uplift")


def qini_curve(
    y_true: ArrayLike, uplift: ArrayLike, treatment: ArrayLike
) -> tuple[np.ndarray, np.ndarray]:
    r"""Qini curve: incremental cures among the visited of the top *n* rows.

    Same definition as scikit-uplift's ``sklift.metrics.qini_curve`` (Radcliffe 2007).
    At the last row :math:`n` of every tie group of scores (highest first):

    .. math:: Q(n) = Y_T(n) - Y_C(n)\,\frac{N_T(n)}{N_C(n)}

    where the ratio counts 0 while no control row is in the top. (0, 0) is prepended.

    Parameters
    ----------
    y_true : array-like of {0, 1}, shape (n_rows,)
        Outcome (1 = cured).
    uplift : array-like of float, shape (n_rows,)
        Predicted uplift.
    treatment : array-like of {0, 1}, shape (n_rows,)
        1 = visited.

    Returns
    -------
    n_top : numpy.ndarray of float
        Number of rows targeted.
    curve : numpy.ndarray of float
        :math:`Q(n)` in cures.

    Examples
    --------
    >>> qini_curve([1, 0, 1, 0], [0.9, 0.5, 0.5, 0.1], [1, 1, 0, 0])
    (array([0., 1., 3., 4.]), array([ 0.,  1., -1.,  0.]))
    """
    outcome, score, arm, _ = validate_uplift_inputs(y_true, uplift, treatment)
    return _curve(outcome, score, arm, np.ones_like(outcome), "qini")


def perfect_uplift_curve(y_true: ArrayLike, treatment: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Uplift curve of scikit-uplift's ideal ranking, the normaliser of the uplift AUC.

    The ideal ranking puts visited cured rows first, then non-visited uncured rows, then the
    non-visited cured before the visited uncured when the former are more numerous (the
    reverse otherwise); :func:`uplift_curve` is applied to that ranking. Same as
    ``sklift.metrics.perfect_uplift_curve``.

    Parameters
    ----------
    y_true : array-like of {0, 1}, shape (n_rows,)
        Outcome (1 = cured).
    treatment : array-like of {0, 1}, shape (n_rows,)
        1 = visited.

    Returns
    -------
    n_top, curve : numpy.ndarray of float
        As in :func:`uplift_curve`.
    """
    outcome, _, arm, _ = validate_uplift_inputs(y_true, None, treatment)
    weights = np.ones_like(outcome)
    return _curve(outcome, _perfect_uplift_score(outcome, arm, weights), arm, weights, "uplift")


def perfect_qini_curve(
    y_true: ArrayLike, treatment: ArrayLike, negative_effect: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    r"""Qini curve of the ideal ranking, the normaliser of the Qini coefficient.

    Same as ``sklift.metrics.perfect_qini_curve``. With ``negative_effect=True`` it is
    :func:`qini_curve` of the score :math:`y\,t - y\,(1 - t)` (visited cured first,
    non-visited cured last, everyone else tied in between). With ``negative_effect=False``
    the points are :math:`(0, 0), (Q, Q), (N, Q)` where :math:`Q = Q(N)` is the final Qini
    value and :math:`N` the number of rows.

    Parameters
    ----------
    y_true : array-like of {0, 1}, shape (n_rows,)
        Outcome (1 = cured).
    treatment : array-like of {0, 1}, shape (n_rows,)
        1 = visited.
    negative_effect : bool, default True
        Whether the ideal curve may contain harmful visits (non-visited cured rows).

    Returns
    -------
    n_top, curve : numpy.ndarray of float
        As in :func:`qini_curve`.
    """
    outcome, _, arm, _ = validate_uplift_inputs(y_true, None, treatment)
    return _perfect_qini(outcome, arm, np.ones_like(outcome), negative_effect)


def uplift_auc_score(y_true: ArrayLike, uplift: ArrayLike, treatment: ArrayLike) -> float:
    r"""Normalised area under the uplift curve (AUUC), as in scikit-uplift.

    .. math:: \text{AUUC} = \frac{A(U) - A_0}{A(U^\ast) - A_0}

    where :math:`A` is the trapezoidal area, :math:`U^\ast` the
    :func:`perfect_uplift_curve` and :math:`A_0 = N\,U^\ast(N)/2` the area under the random
    line from (0, 0) to the curve's end. 1 = ideal ranking, 0 = random; NaN when the ideal
    curve has no area above the random line.

    Parameters
    ----------
    y_true : array-like of {0, 1}, shape (n_rows,)
        Outcome (1 = cured).
    uplift : array-like of float, shape (n_rows,)
        Predicted uplift.
    treatment : array-like of {0, 1}, shape (n_rows,)
        1 = visited.

    Returns
    -------
    float
        Normalised AUUC (unitless).
    """
    outcome, score, arm, _ = validate_uplift_inputs(y_true, uplift, treatment)
    weights = np.ones_like(outcome)
    perfect = _curve(outcome, _perfect_uplift_score(outcome, arm, weights), arm, weights, "uplift")
    return _normalised_area(*_curve(outcome, score, arm, weights, "uplift"), *perfect)


def qini_auc_score(
    y_true: ArrayLike, uplift: ArrayLike, treatment: ArrayLike, negative_effect: bool = True
) -> float:
    r"""Qini coefficient: normalised area under the Qini curve, as in scikit-uplift.

    .. math:: \text{Qini} = \frac{A(Q) - A_0}{A(Q^\ast) - A_0}

    with :math:`Q^\ast` the :func:`perfect_qini_curve` and :math:`A_0 = N\,Q^\ast(N)/2`.

    Parameters
    ----------
    y_true : array-like of {0, 1}, shape (n_rows,)
        Outcome (1 = cured).
    uplift : array-like of float, shape (n_rows,)
        Predicted uplift.
    treatment : array-like of {0, 1}, shape (n_rows,)
        1 = visited.
    negative_effect : bool, default True
        Passed to :func:`perfect_qini_curve`.

    Returns
    -------
    float
        Qini coefficient (unitless; 1 = ideal, 0 = random).
    """
    outcome, score, arm, _ = validate_uplift_inputs(y_true, uplift, treatment)
    weights = np.ones_like(outcome)
    perfect = _perfect_qini(outcome, arm, weights, negative_effect)
    return _normalised_area(*_curve(outcome, score, arm, weights, "qini"), *perfect)


def uplift_at_k(
    y_true: ArrayLike,
    uplift: ArrayLike,
    treatment: ArrayLike,
    strategy: str,
    k: float | int = 0.3,
) -> float:
    r"""Cure rate of the visited minus that of the non-visited among the top *k*.

    Same definition as ``sklift.metrics.uplift_at_k``. Rows are ordered by descending
    uplift; among equal scores the later row comes first (scikit-uplift's reversed stable
    sort), so with ties straddling the cut-off the result depends on row order.

    - ``"overall"``: take the top :math:`m` rows, :math:`m = \lfloor kN \rfloor` for a
      share, :math:`m = k` for a count, and return
      :math:`\bar y_{T} - \bar y_{C}` over them.
    - ``"by_group"``: take the top :math:`\lfloor k N_T \rfloor` visited rows and the top
      :math:`\lfloor k N_C \rfloor` non-visited rows (or :math:`k` of each for a count)
      and return the difference of their cure rates.

    An arm absent from the selected rows has no cure rate: the result is then NaN (as in
    scikit-uplift, where it is the mean of an empty slice).

    Parameters
    ----------
    y_true : array-like of {0, 1}, shape (n_rows,)
        Outcome (1 = cured).
    uplift : array-like of float, shape (n_rows,)
        Predicted uplift.
    treatment : array-like of {0, 1}, shape (n_rows,)
        1 = visited.
    strategy : {"overall", "by_group"}
        How the top *k* is taken (see above).
    k : float or int, default 0.3
        A share in (0, 1) or a count in [1, n_rows).

    Returns
    -------
    float
        Difference of cure rates (probability units).

    Examples
    --------
    >>> uplift_at_k([1, 0, 1, 0], [0.9, 0.7, 0.5, 0.1], [1, 0, 0, 1], "overall", k=2)
    1.0
    """
    outcome, score, arm, _ = validate_uplift_inputs(y_true, uplift, treatment)
    if strategy not in ("overall", "by_group"):
        raise ValueError(
            f"The 'strategy' parameter of uplift_at_k must be 'overall' or 'by_group'. "
            f"Got {strategy!r} instead."
        )
    n_rows = len(outcome)
    kind = np.asarray(k).dtype.kind
    if kind not in "iuf" or np.ndim(k) != 0:
        raise ValueError(f"k must be a share in (0, 1) or a count of rows; got {k!r}.")
    if (kind == "f" and not 0 < k < 1) or (kind in "iu" and not 0 < k < n_rows):
        raise ValueError(
            f"k={k} must be a share in (0, 1) or a count in [1, {n_rows}) "
            f"(the number of rows is {n_rows})."
        )
    order = np.argsort(score, kind="stable")[::-1]
    ranked_outcome, ranked_arm = outcome[order], arm[order]
    if strategy == "overall":
        top = int(n_rows * k) if kind == "f" else int(k)
        treated = ranked_outcome[:top][ranked_arm[:top] == 1]
        control = ranked_outcome[:top][ranked_arm[:top] == 0]
    else:
        treated_all = ranked_outcome[ranked_arm == 1]
        control_all = ranked_outcome[ranked_arm == 0]
        if kind == "f":
            n_treated, n_control = int(len(treated_all) * k), int(len(control_all) * k)
        else:
            n_treated = n_control = int(k)
        if n_treated > len(treated_all) or n_control > len(control_all):
            raise ValueError(
                f"k={k} asks for more rows than an arm holds "
                f"({len(treated_all)} visited, {len(control_all)} not visited)."
            )
        treated, control = treated_all[:n_treated], control_all[:n_control]
    if not len(treated) or not len(control):
        return float("nan")
    return float(treated.mean() - control.mean())


# --------------------------------------------------------------------------- IPW curves


def _arm_normalised_weights(arm: np.ndarray, propensity: np.ndarray) -> np.ndarray:
    # Inverse-propensity weights rescaled so each arm's weights sum to its row count: with a
    # constant propensity every weight is 1 and the IPW curves equal the naive ones.
    raw = np.where(arm == 1, 1 / propensity, 1 / (1 - propensity))
    treated = arm == 1
    raw[treated] *= treated.sum() / raw[treated].sum()
    raw[~treated] *= (~treated).sum() / raw[~treated].sum()
    return raw


def uplift_curve_ipw(
    y_true: ArrayLike, uplift: ArrayLike, treatment: ArrayLike, propensity: ArrayLike
) -> tuple[np.ndarray, np.ndarray]:
    r"""Uplift curve with inverse-propensity weights, for visit logs (observational data).

    :func:`uplift_curve` with every count replaced by a weighted sum, the weights being
    :math:`w = 1/e` for visited and :math:`w = 1/(1-e)` for non-visited rows, each arm
    rescaled so that its weights sum to its row count (stabilised weights):

    .. math:: U_w(n) = \left(\frac{\sum_{top\ n} w\,t\,y}{\sum_{top\ n} w\,t}
              - \frac{\sum_{top\ n} w\,(1-t)\,y}{\sum_{top\ n} w\,(1-t)}\right) n

    With a constant propensity (randomised visits) it equals :func:`uplift_curve`.

    Parameters
    ----------
    y_true : array-like of {0, 1}, shape (n_rows,)
        Outcome (1 = cured).
    uplift : array-like of float, shape (n_rows,)
        Predicted uplift.
    treatment : array-like of {0, 1}, shape (n_rows,)
        1 = visited.
    propensity : array-like of float, shape (n_rows,)
        P(visited | features), strictly inside (0, 1); out-of-fold or logged.

    Returns
    -------
    n_top, curve : numpy.ndarray of float
        Rows targeted; estimated incremental cures.
    """
    outcome, score, arm, propensity = validate_uplift_inputs(y_true, uplift, treatment, propensity)
    return _curve(outcome, score, arm, _arm_normalised_weights(arm, propensity), "uplift")


def qini_curve_ipw(
    y_true: ArrayLike, uplift: ArrayLike, treatment: ArrayLike, propensity: ArrayLike
) -> tuple[np.ndarray, np.ndarray]:
    r"""Qini curve with inverse-propensity weights, for visit logs.

    :func:`qini_curve` with counts replaced by weighted sums (weights as in
    :func:`uplift_curve_ipw`):
    :math:`Q_w(n) = Y^w_T(n) - Y^w_C(n)\,N^w_T(n) / N^w_C(n)`. Equals :func:`qini_curve`
    when the propensity is constant.

    Parameters
    ----------
    y_true : array-like of {0, 1}, shape (n_rows,)
        Outcome (1 = cured).
    uplift : array-like of float, shape (n_rows,)
        Predicted uplift.
    treatment : array-like of {0, 1}, shape (n_rows,)
        1 = visited.
    propensity : array-like of float, shape (n_rows,)
        P(visited | features), strictly inside (0, 1).

    Returns
    -------
    n_top, curve : numpy.ndarray of float
        Rows targeted; weighted Qini value in cures.
    """
    outcome, score, arm, propensity = validate_uplift_inputs(y_true, uplift, treatment, propensity)
    return _curve(outcome, score, arm, _arm_normalised_weights(arm, propensity), "qini")


def uplift_auc_score_ipw(
    y_true: ArrayLike, uplift: ArrayLike, treatment: ArrayLike, propensity: ArrayLike
) -> float:
    """Normalised area under the IPW uplift curve.

    :func:`uplift_auc_score` computed on :func:`uplift_curve_ipw`; the ideal curve is the
    weighted curve of the same ideal ranking (its choice between non-visited cured and
    visited uncured compares weighted counts). The normaliser does not depend on the
    scores, so it rescales but never reorders models compared on one test set.

    Parameters
    ----------
    y_true : array-like of {0, 1}, shape (n_rows,)
        Outcome (1 = cured).
    uplift : array-like of float, shape (n_rows,)
        Predicted uplift.
    treatment : array-like of {0, 1}, shape (n_rows,)
        1 = visited.
    propensity : array-like of float, shape (n_rows,)
        P(visited | features), strictly inside (0, 1).

    Returns
    -------
    float
        Normalised IPW AUUC (unitless).
    """
    outcome, score, arm, propensity = validate_uplift_inputs(y_true, uplift, treatment, propensity)
    weights = _arm_normalised_weights(arm, propensity)
    perfect = _curve(outcome, _perfect_uplift_score(outcome, arm, weights), arm, weights, "uplift")
    return _normalised_area(*_curve(outcome, score, arm, weights, "uplift"), *perfect)


def qini_auc_score_ipw(
    y_true: ArrayLike,
    uplift: ArrayLike,
    treatment: ArrayLike,
    propensity: ArrayLike,
    negative_effect: bool = True,
) -> float:
    """Qini coefficient of the IPW Qini curve.

    :func:`qini_auc_score` computed on :func:`qini_curve_ipw`, normalised by the weighted
    Qini curve of the ideal ranking. Equals :func:`qini_auc_score` when the propensity is
    constant.

    Parameters
    ----------
    y_true : array-like of {0, 1}, shape (n_rows,)
        Outcome (1 = cured).
    uplift : array-like of float, shape (n_rows,)
        Predicted uplift.
    treatment : array-like of {0, 1}, shape (n_rows,)
        1 = visited.
    propensity : array-like of float, shape (n_rows,)
        P(visited | features), strictly inside (0, 1).
    negative_effect : bool, default True
        As in :func:`perfect_qini_curve`.

    Returns
    -------
    float
        IPW Qini coefficient (unitless).
    """
    outcome, score, arm, propensity = validate_uplift_inputs(y_true, uplift, treatment, propensity)
    weights = _arm_normalised_weights(arm, propensity)
    perfect = _perfect_qini(outcome, arm, weights, negative_effect)
    return _normalised_area(*_curve(outcome, score, arm, weights, "qini"), *perfect)
