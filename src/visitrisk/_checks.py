"""Input checks shared by the evaluation modules: every message names the argument and rows."""

from __future__ import annotations

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

__all__ = [
    "binary",
    "capacity_label",
    "finite",
    "nuisance_frame",
    "one_dimensional",
    "probability",
    "same_length",
    "validate_uplift_inputs",
]


def one_dimensional(values: ArrayLike, name: str) -> np.ndarray:
    """Return ``values`` as a 1-D array, or raise naming ``name``."""
    array = np.asarray(values)
    if array.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional; got shape {array.shape}.")
    return array


def same_length(**arrays: np.ndarray) -> None:
    """Raise unless every array has the same, non-zero length (message lists them all)."""
    lengths = {name: len(array) for name, array in arrays.items()}
    if len(set(lengths.values())) > 1:
        listed = ", ".join(f"{name}: {length}" for name, length in lengths.items())
        raise ValueError(f"{', '.join(lengths)} must have the same length; got {listed}.")
    if not next(iter(lengths.values())):
        raise ValueError(f"{', '.join(lengths)} are empty; uplift metrics need rows.")


def binary(values: np.ndarray, name: str) -> np.ndarray:
    """Return 0/1 floats, or raise with the count and first positions of other values."""
    numeric = pd.to_numeric(pd.Series(values), errors="coerce").to_numpy(dtype=float)
    bad = ~np.isin(numeric, (0.0, 1.0))
    if bad.any():
        rows = np.flatnonzero(bad)[:5].tolist()
        raise ValueError(
            f"{name} must be binary (0/1 or bool); {int(bad.sum())} row(s) are not, "
            f"e.g. positions {rows} with values {values[rows].tolist()}."
        )
    return numeric


def finite(values: np.ndarray, name: str) -> np.ndarray:
    """Return finite floats, or raise with the first positions of missing/infinite ones."""
    numeric = pd.to_numeric(pd.Series(values), errors="coerce").to_numpy(dtype=float)
    bad = ~np.isfinite(numeric)
    if bad.any():
        rows = np.flatnonzero(bad)[:5].tolist()
        raise ValueError(
            f"{name} must be finite numbers; {int(bad.sum())} row(s) are missing or infinite, "
            f"e.g. positions {rows}."
        )
    return numeric


def probability(values: np.ndarray, name: str) -> np.ndarray:
    """Return floats strictly inside (0, 1), or raise with the offending positions."""
    numeric = finite(values, name)
    outside = (numeric <= 0) | (numeric >= 1)
    if outside.any():
        rows = np.flatnonzero(outside)[:5].tolist()
        raise ValueError(
            f"{name} must lie strictly between 0 and 1; {int(outside.sum())} row(s) do not, "
            f"e.g. positions {rows} with values {numeric[rows].tolist()}."
        )
    return numeric


def validate_uplift_inputs(
    y_true: ArrayLike,
    uplift: ArrayLike | None,
    treatment: ArrayLike,
    propensity: ArrayLike | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]:
    """Check shapes, lengths and values; return float arrays (uplift may be ``None``)."""
    arrays = {"y_true": one_dimensional(y_true, "y_true")}
    if uplift is not None:
        arrays["uplift"] = one_dimensional(uplift, "uplift")
    arrays["treatment"] = one_dimensional(treatment, "treatment")
    if propensity is not None:
        arrays["propensity"] = one_dimensional(propensity, "propensity")
    same_length(**arrays)
    outcome = binary(arrays["y_true"], "y_true")
    arm = binary(arrays["treatment"], "treatment")
    if arm.min() == arm.max():
        raise ValueError(
            f"treatment holds a single arm (all {int(arm[0])}); uplift metrics compare "
            "visited with non-visited rows and need both."
        )
    score = None if uplift is None else finite(arrays["uplift"], "uplift")
    weights = None if propensity is None else probability(arrays["propensity"], "propensity")
    return outcome, score, arm, weights


def nuisance_frame(nuisances: pd.DataFrame | ArrayLike, n_rows: int) -> pd.DataFrame:
    """Return nuisances as a frame aligned by position; a bare vector is the propensity."""
    if isinstance(nuisances, pd.DataFrame):
        frame = nuisances
    else:
        frame = pd.DataFrame({"propensity": one_dimensional(nuisances, "propensity")})
    if len(frame) != n_rows:
        raise ValueError(
            f"nuisances must have one row per input row; got {len(frame)} for {n_rows} rows."
        )
    return frame.reset_index(drop=True)


def capacity_label(k: float | int) -> str:
    """Name a capacity for metric names: 0.2 -> "20pct", 500 -> "500"."""
    if np.asarray(k).dtype.kind == "f":
        return f"{round(100 * float(k), 6):g}pct"
    return f"{int(k)}"
