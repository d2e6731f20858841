"""The MLflow pyfunc wrapper of a fitted ``UpliftModel`` (private; see ``visitrisk.tracking``).

This module imports MLflow at the top, so only :mod:`visitrisk.tracking` imports it, lazily,
and a reloaded model imports it when MLflow unpickles the wrapper.
"""

from __future__ import annotations

from typing import Any

import mlflow.pyfunc
import pandas as pd

__all__: list[str] = []

#: Columns the pyfunc returns, in order: those of ``UpliftModel.score``.
OUTPUT_COLUMNS = ("p_cure_visit", "p_cure_no_visit", "uplift", "value_at_stake", "expected_gain")


class UpliftPyfunc(mlflow.pyfunc.PythonModel):
    """A fitted ``UpliftModel`` behind MLflow's generic ``predict``.

    MLflow signatures know no categorical type, so the signature declares categorical
    features as strings and :meth:`predict` restores each one's fit-time categories (and
    every other column's fit-time dtype) before scoring.

    Parameters
    ----------
    model : visitrisk.UpliftModel
        Fitted.
    features : pandas.DataFrame
        Any rows of the features the model was fitted on (only dtypes and column order are
        kept).
    """

    def __init__(self, model: Any, features: pd.DataFrame) -> None:
        self.model = model
        self.columns = list(features.columns)
        self.dtypes = {name: str(dtype) for name, dtype in features.dtypes.items()}
        self.categories = {
            name: list(dtype.categories)
            for name, dtype in features.dtypes.items()
            if isinstance(dtype, pd.CategoricalDtype)
        }

    def restore_dtypes(self, model_input: pd.DataFrame) -> pd.DataFrame:
        """Return ``model_input`` with the fit-time column order, dtypes and categories.

        Raises
        ------
        ValueError
            A feature is missing, or a categorical feature holds a value unseen at fit time.
        """
        missing = [name for name in self.columns if name not in model_input.columns]
        if missing:
            raise ValueError(f"visitrisk pyfunc: the input lacks feature(s) {missing[:10]!r}.")
        frame = model_input[self.columns]
        restored = {}
        for name in self.columns:
            values = frame[name]
            if name in self.categories:
                categories = self.categories[name]
                unseen = values.notna() & ~values.astype(object).isin(categories)
                if unseen.any():
                    examples = pd.unique(values[unseen].astype(str))[:5].tolist()
                    raise ValueError(
                        f"visitrisk pyfunc: feature {name!r} has value(s) {examples!r} unseen "
                        f"at fit time; expected one of {categories!r}."
                    )
                restored[name] = pd.Categorical(values.astype(object), categories=categories)
            else:
                restored[name] = values.astype(self.dtypes[name])
        return pd.DataFrame(restored, index=frame.index)

    # A DataFrame hint tells MLflow 3 to infer no schema from the hints, so the signature
    # given at logging time (categoricals declared as Any) is the one enforced.
    def predict(
        self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None
    ) -> pd.DataFrame:
        """Score a features frame like ``UpliftModel.score`` (value at stake: ``arrears``).

        Parameters
        ----------
        model_input : pandas.DataFrame
            The fit-time features, one row per customer.

        Returns
        -------
        pandas.DataFrame
            ``p_cure_visit``, ``p_cure_no_visit``, ``uplift`` (probability units),
            ``value_at_stake`` and ``expected_gain`` (CNY), one row per input row, in order.
        """
        frame = self.restore_dtypes(pd.DataFrame(model_input))
        scores = self.model.score(frame.reset_index(drop=True))
        return scores.loc[:, list(OUTPUT_COLUMNS)].reset_index(drop=True)
