r"""Population drift: how far the customers being scored have moved from the training ones.

The population stability index (PSI) of a variable compares its distribution in an
*expected* sample (the training population) with an *actual* one (the population being
scored), over bins fixed on the expected sample:

.. math:: \mathrm{PSI} = \sum_i (a_i - e_i) \ln(a_i / e_i)

where :math:`e_i` and :math:`a_i` are the shares of each sample in bin :math:`i`. It is 0
for identical distributions and grows with the shift. The usual reading, used for the
``band`` column of :func:`drift_report`: below 0.1 ``stable``, 0.1 to 0.25 ``moderate``,
0.25 and above ``major`` (the model is being applied to a population it has not learned).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "PSI_BANDS",
    "SCORE_NAME",
    "DriftWarning",
    "drift_metrics",
    "drift_report",
    "population_stability",
    "score_drift_warning",
]

#: Upper bound (exclusive) of each band of the population stability index, and its name.
PSI_BANDS: tuple[tuple[float, str], ...] = (
    (0.1, "stable"),
    (0.25, "moderate"),
    (math.inf, "major"),
)

#: Name of the row of :func:`drift_report` that compares the uplift scores.
SCORE_NAME = "uplift_score"

#: Columns of the frame returned by :func:`drift_report`.
_REPORT_COLUMNS = (
    "feature",
    "kind",
    "psi",
    "band",
    "psi_noise",
    "calendar",
    "bins",
    "n_training",
    "n_scoring",
    "missing_training",
    "missing_scoring",
)


class DriftWarning(UserWarning):
    """The population being scored differs sharply from the one the model was trained on."""


def population_stability(
    expected: Any,
    actual: Any,
    bins: int = 10,
    *,
    categorical: bool | None = None,
    smoothing: float = 0.5,
) -> float:
    """Return the population stability index (PSI) of ``actual`` against ``expected``.

    Bins:

    - numeric values: quantile bins of ``expected`` (``bins`` of them, right-closed, the
      first and last open-ended so every ``actual`` value falls in one). Edges that
      coincide (a value shared by many rows, such as 0) are merged, so a bin may hold more
      than ``1 / bins`` of ``expected``;
    - categorical values (text, categories, booleans): one bin per value seen in either
      sample, so a category that is new in ``actual`` counts as drift;
    - missing values (NaN, None, NA) are a bin of their own, in both cases.

    Smoothing rule for empty bins: a bin empty in one sample would make the logarithm
    infinite, so ``smoothing`` rows are added to every bin of both samples before taking
    shares, :math:`e_i = (n^e_i + s) / (n^e + s K)` (likewise :math:`a_i`), where ``K`` is
    the number of bins that hold at least one row of either sample (bins empty in both,
    such as the missing-value bin of a complete variable, are left out). The default,
    half a row, is Jeffreys' prior: it barely moves shares of samples of a few hundred
    rows or more, and identical samples still give exactly 0.

    Parameters
    ----------
    expected : array-like
        The reference sample (e.g. a feature over the training population).
    actual : array-like
        The sample compared with it (e.g. the same feature over the customers scored).
    bins : int, default 10
        Quantile bins of numeric variables (at most; ties merge some).
    categorical : bool, optional
        Treat the values as categories; default: when they are not numbers (or are bool).
    smoothing : float, default 0.5
        Rows added to every bin of both samples (see above); 0 gives ``inf`` when a bin is
        empty in one sample only.

    Returns
    -------
    float
        The index, >= 0 (dimensionless).

    Raises
    ------
    ValueError
        If a sample is empty or a parameter is invalid.

    Examples
    --------
    >>> from visitrisk.drift import population_stability
    >>> population_stability([1, 2, 3, 4], [1, 2, 3, 4], bins=2)
    0.0
    >>> round(population_stability([1, 2, 3, 4], [1, 1, 1, 4], bins=2), 4)
    0.1695
    """
    expected_counts, actual_counts, _ = _bin_counts(
        _as_series(expected, "expected"), _as_series(actual, "actual"), bins, categorical
    )
    return _psi(expected_counts, actual_counts, _checked_smoothing(smoothing))


def drift_report(
    training_features: pd.DataFrame,
    scoring_features: pd.DataFrame,
    training_scores: Any = None,
    scores: Any = None,
    *,
    bins: int = 10,
    smoothing: float = 0.5,
) -> pd.DataFrame:
    """Compare every feature, and the uplift score, between training and scoring populations.

    Each row is the population stability index (:func:`population_stability`) of one
    variable, the training population being the expected sample.

    Parameters
    ----------
    training_features : pandas.DataFrame
        Features of the training population (e.g. ``TrainingSet.X``: one row per customer
        and snapshot).
    scoring_features : pandas.DataFrame
        Features of the population being scored (e.g. :func:`visitrisk.build_features` on
        the as-of date), with the same columns.
    training_scores, scores : array-like, optional
        Uplift scores of the two populations (probability units), given together. The
        reference should come from the model that scores ``scores`` (e.g. its predictions
        on the training rows).
    bins : int, default 10
        Quantile bins of numeric variables; see :func:`population_stability`.
    smoothing : float, default 0.5
        Rows added to every bin; see :func:`population_stability`.

    Returns
    -------
    pandas.DataFrame
        One row per feature in column order, then ``uplift_score`` when scores are given:
        ``feature``, ``kind`` (``numeric`` or ``categorical``), ``psi``, ``band``
        (``stable`` below 0.1, ``moderate`` below 0.25, else ``major``), ``psi_noise``,
        ``calendar``, ``bins`` (bins used), ``n_training`` and ``n_scoring`` (rows),
        ``missing_training`` and ``missing_scoring`` (share of missing values).

        ``psi_noise`` is the PSI that sampling alone gives on average when both samples
        come from one distribution, ``(bins - 1) * (1 / n_training + 1 / n_scoring)``
        (the index times ``n_training * n_scoring / (n_training + n_scoring)`` is then
        about chi-square with ``bins - 1`` degrees of freedom): with a few hundred
        customers scored it reaches the ``moderate`` band, and a PSI near it is no
        evidence of drift. ``calendar`` marks calendar features of the registry (the
        month of the year): the training population spans many snapshot dates and the
        scored one a single date, so their PSI measures the calendar, not drift.

    Raises
    ------
    ValueError
        If the two feature frames have different columns, a sample is empty, only one of
        the score arguments is given, or a parameter is invalid.
    """
    for name, frame in (
        ("training_features", training_features),
        ("scoring_features", scoring_features),
    ):
        if not isinstance(frame, pd.DataFrame):
            raise TypeError(
                f"The {name!r} parameter of drift_report must be a pandas DataFrame. "
                f"Got {type(frame).__name__} instead."
            )
    only_training = [c for c in training_features.columns if c not in scoring_features.columns]
    only_scoring = [c for c in scoring_features.columns if c not in training_features.columns]
    if only_training or only_scoring:
        raise ValueError(
            "The feature frames given to drift_report must have the same columns. Only in "
            f"training_features: {only_training[:5]}; only in scoring_features: "
            f"{only_scoring[:5]}."
        )
    if (training_scores is None) != (scores is None):
        raise ValueError(
            "Give both 'training_scores' and 'scores' to drift_report, or neither. Got "
            f"training_scores={'None' if training_scores is None else 'values'} and "
            f"scores={'None' if scores is None else 'values'}."
        )
    if SCORE_NAME in training_features.columns and scores is not None:
        raise ValueError(
            f"A feature is named {SCORE_NAME!r}, the name drift_report gives the scores' row: "
            "rename the feature."
        )
    smoothing = _checked_smoothing(smoothing)
    pairs = [
        (str(column), training_features[column], scoring_features[column])
        for column in training_features.columns
    ]
    if scores is not None:
        pairs.append(
            (
                SCORE_NAME,
                _as_series(training_scores, "training_scores"),
                _as_series(scores, "scores"),
            )
        )
    calendar = _calendar_features()
    rows = []
    for name, expected, actual in pairs:
        expected = _as_series(expected, f"training values of {name!r}")
        actual = _as_series(actual, f"scoring values of {name!r}")
        kind = "categorical" if _is_categorical(expected, actual) else "numeric"
        expected_counts, actual_counts, n_bins = _bin_counts(
            expected, actual, bins, kind == "categorical"
        )
        psi = _psi(expected_counts, actual_counts, smoothing)
        rows.append(
            {
                "feature": name,
                "kind": kind,
                "psi": psi,
                "band": _band(psi),
                "psi_noise": (n_bins - 1) * (1 / len(expected) + 1 / len(actual)),
                "calendar": name in calendar,
                "bins": n_bins,
                "n_training": len(expected),
                "n_scoring": len(actual),
                "missing_training": float(expected.isna().mean()),
                "missing_scoring": float(actual.isna().mean()),
            }
        )
    return pd.DataFrame(rows, columns=list(_REPORT_COLUMNS)).astype(
        {"feature": "str", "kind": "str", "band": "str"}
    )


def drift_metrics(report: pd.DataFrame) -> dict[str, float]:
    """Return ``{"psi.<feature>": psi}`` for every row of a drift report, for MLflow.

    Parameters
    ----------
    report : pandas.DataFrame
        The result of :func:`drift_report`.

    Returns
    -------
    dict of str to float
        One metric per feature, and ``psi.uplift_score`` when the report has scores.
    """
    return {
        f"psi.{feature}": float(psi)
        for feature, psi in zip(report["feature"], report["psi"], strict=True)
    }


# --------------------------------------------------------------------------------------
# Bins and the index
# --------------------------------------------------------------------------------------
def _as_series(values: Any, name: str) -> pd.Series:
    if isinstance(values, pd.DataFrame):
        raise TypeError(f"The {name!r} values must be one-dimensional. Got a DataFrame instead.")
    if isinstance(values, pd.Series | pd.Index | pd.api.extensions.ExtensionArray):
        # Keeps nullable and categorical dtypes (np.asarray would turn them into objects).
        series = pd.Series(values).reset_index(drop=True)
    else:
        array = np.asarray(values)
        if array.ndim != 1:
            raise ValueError(
                f"The {name!r} values must be one-dimensional. Got shape {array.shape} instead."
            )
        series = pd.Series(array)
    if len(series) == 0:
        raise ValueError(f"The {name!r} sample must hold at least one value. Got none instead.")
    return series


def _checked_smoothing(smoothing: object) -> float:
    if (
        isinstance(smoothing, bool)
        or not isinstance(smoothing, int | float | np.integer | np.floating)
        or not np.isfinite(smoothing)
        or smoothing < 0
    ):
        raise ValueError(
            "The 'smoothing' parameter must be a finite number >= 0 (rows added to each bin). "
            f"Got {smoothing!r} instead."
        )
    return float(smoothing)


def _checked_bins(bins: object) -> int:
    if isinstance(bins, bool) or not isinstance(bins, int | np.integer) or bins < 1:
        raise ValueError(f"The 'bins' parameter must be a positive int. Got {bins!r} instead.")
    return int(bins)


def _calendar_features() -> set[str]:
    """Features of the registry that are a calendar position (unit ``month``)."""
    from visitrisk.feature_catalog import FEATURES

    return {name for name, feature in FEATURES.items() if feature.unit == "month"}


def _is_numeric(values: pd.Series) -> bool:
    dtype = values.dtype
    return pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype)


def _is_categorical(expected: pd.Series, actual: pd.Series) -> bool:
    return not (_is_numeric(expected) and _is_numeric(actual))


def _bin_counts(
    expected: pd.Series, actual: pd.Series, bins: object, categorical: bool | None
) -> tuple[np.ndarray, np.ndarray, int]:
    """Rows of each sample per bin (the last bin holds missing values), and the bins used.

    Bins empty in both samples are left out.
    """
    bins = _checked_bins(bins)
    if categorical is None:
        categorical = _is_categorical(expected, actual)
    expected_missing = expected.isna().to_numpy()
    actual_missing = actual.isna().to_numpy()
    if categorical:
        codes, _ = pd.factorize(
            pd.concat([expected, actual], ignore_index=True).astype("str"), use_na_sentinel=True
        )
        n_values = int(codes.max(initial=-1)) + 1
        expected_bin, actual_bin = codes[: len(expected)], codes[len(expected) :]
    else:
        expected_values = _numbers(expected, "expected")
        actual_values = _numbers(actual, "actual")
        known = expected_values[~expected_missing]
        edges = (
            np.unique(np.quantile(known, np.linspace(0, 1, bins + 1)[1:-1]))
            if len(known) and bins > 1
            else np.zeros(0)
        )
        n_values = len(edges) + 1
        # side="left": bin i holds (edges[i-1], edges[i]], right-closed.
        expected_bin = np.searchsorted(edges, expected_values, side="left")
        actual_bin = np.searchsorted(edges, actual_values, side="left")
    # Missing values get the bin after the last value bin.
    expected_bin = np.where(expected_missing, n_values, expected_bin)
    actual_bin = np.where(actual_missing, n_values, actual_bin)
    expected_counts = np.bincount(expected_bin, minlength=n_values + 1)
    actual_counts = np.bincount(actual_bin, minlength=n_values + 1)
    used = (expected_counts + actual_counts) > 0
    return expected_counts[used], actual_counts[used], int(used.sum())


def _numbers(values: pd.Series, name: str) -> np.ndarray:
    try:
        return values.to_numpy(dtype=np.float64, na_value=np.nan)
    except (TypeError, ValueError):
        raise ValueError(
            f"The {name!r} values are not all numbers: pass categorical=True to bin them as "
            "categories."
        ) from None


def _psi(expected_counts: np.ndarray, actual_counts: np.ndarray, smoothing: float) -> float:
    n_bins = len(expected_counts)
    expected_share = (expected_counts + smoothing) / (expected_counts.sum() + smoothing * n_bins)
    actual_share = (actual_counts + smoothing) / (actual_counts.sum() + smoothing * n_bins)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = (actual_share - expected_share) * np.log(actual_share / expected_share)
    # 0 * log(0 / 0): a bin empty in both contributes nothing (only without smoothing).
    terms = np.where(actual_share == expected_share, 0.0, terms)
    return float(terms.sum()) + 0.0  # + 0.0: never -0.0


def _band(psi: float) -> str:
    for upper, name in PSI_BANDS:
        if psi < upper:
            return name
    return PSI_BANDS[-1][1]


def score_drift_warning(report: pd.DataFrame) -> str | None:
    """Return the warning to show when the scores' PSI is in the ``major`` band.

    Parameters
    ----------
    report : pandas.DataFrame
        The result of :func:`drift_report`.

    Returns
    -------
    str or None
        A plain sentence naming the scores' PSI and the features with a major shift; None
        when the report has no scores or their PSI is below 0.25.
    """
    row = report.loc[report["feature"] == SCORE_NAME]
    if row.empty or not row["psi"].iloc[0] >= PSI_BANDS[1][0]:
        return None
    psi, noise = float(row["psi"].iloc[0]), float(row["psi_noise"].iloc[0])
    major = report.loc[
        (report["band"] == "major") & (report["feature"] != SCORE_NAME) & ~report["calendar"]
    ]
    worst = ", ".join(
        f"{feature} ({value:.2f})"
        for feature, value in major.sort_values("psi", ascending=False)[["feature", "psi"]]
        .head(5)
        .itertuples(index=False)
    )
    return (
        f"The uplift scores have drifted: population stability index {psi:.2f} >= "
        f"{PSI_BANDS[1][0]} between the training population and the {row['n_scoring'].iloc[0]:,} "
        f"customers scored (sampling alone gives about {noise:.2f}). "
        "The model is being applied to customers unlike those it learned from; check the "
        "data and consider retraining."
        + (f" Features with a major shift: {worst}." if worst else "")
    )
