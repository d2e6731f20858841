"""Exact uplift explanations (SHAP) and reasons a risk officer can read.

:func:`explain` returns, per customer, SHAP values of the **uplift** in probability units
and a base value such that ``base_value + sum(SHAP values) == uplift`` to 1e-6 (checked on
every call, since shap's own additivity check is far looser). How the values are computed
depends on the learner:

=========  =======================================================  ====================
learner    method                                                   cost (per customer)
=========  =======================================================  ====================
DR         LightGBM ``pred_contrib`` (path-dependent TreeSHAP) of   O(trees × leaves ×
           the final regressor, whose raw output is the uplift      depth²); no
           before its bound to [−p0, 1 − p0]. Base value: the       background
           regressor's expected value, plus the bound's shift for
           the few customers where it binds.
X          ``pred_contrib`` of both effect regressors τ0, τ1, mixed  2 × DR cost; no
           with the customer's own propensity e(x):                 background
           φ = e φ(τ0) + (1 − e) φ(τ1), base = e b0 + (1 − e) b1.
           This is the exact TreeSHAP of the uplift with the mixing
           weight held at the customer's propensity, so the base
           value differs between customers (by e(x) (b0 − b1),
           small when both regressors agree on the average effect).
T          interventional TreeSHAP (``shap.TreeExplainer``,         O(background × trees
           ``model_output="probability"``) of each arm's cure       × leaves × depth),
           probability against the *same* background sample; the   2 arms; background
           uplift's SHAP is the difference, base value the          ``background_size``
           difference of the arms' mean probabilities.              (default 100)
S          as T, on the one model with the visit column set to 1,   as T
           then to 0 (in the background too, so it gets no share).
=========  =======================================================  ====================

shap 0.51 refuses interventional TreeSHAP on LightGBM categorical splits. Interventional
SHAP depends only on the function a tree computes, so each tree is rewritten as an
equivalent tree with numeric splits only: categoricals become their integer codes and each
split "code in S" becomes a chain of ``code <= k + 0.5`` splits, one per run of consecutive
codes, each leading to a copy of the matching subtree (missing and unseen categories go
where LightGBM sends them: to the right). The rewritten trees are checked to reproduce
LightGBM's probabilities on the explained and background rows before their SHAP is used.
shap's kernel keeps leaf values in float32, so T and S values add up to about 1e-8 (the
1e-6 check still applies); its probability scale is shap's: per background row, the
log-odds SHAP values rescaled by (p(x) - p(r)) / (logit p(x) - logit p(r)). Measured cost on
2 shared cores: about 20-40 ms per customer with 100 background rows, against well under
1 ms for the DR learner (``bench/results/explain.json``).

Only LightGBM base models (the learners' defaults) are supported; anything else raises
``TypeError``.

Reasons: :meth:`Explanation.reasons` ranks each customer's features by SHAP value (ties by
feature order), keeps those raising the uplift, and phrases them with the feature registry's
templates and the customer's own value, in English or Chinese.
"""

# scikit-learn's convention: the feature matrix is `X` (upper case).
# ruff: noqa: N803

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

# Re-exported here, where they were first defined; they live with the feature registry.
from visitrisk.feature_catalog import CATEGORY_LABELS_ZH, category_label

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = [
    "ADDITIVITY_TOLERANCE",
    "CATEGORY_LABELS_ZH",
    "DEFAULT_BACKGROUND_SIZE",
    "Explanation",
    "category_label",
    "explain",
    "load_model",
    "render_reason",
    "save_model",
]

#: Background rows of the interventional (T and S learner) explanations.
DEFAULT_BACKGROUND_SIZE = 100

#: Largest additivity error accepted, in probability units.
ADDITIVITY_TOLERANCE = 1e-6

_PAIRS_PER_CALL = 50_000

# A rewritten forest beyond this many nodes would take longer to build than to explain.
_MAX_REWRITTEN_NODES = 5_000_000

Lang = Literal["en", "zh"]


# --------------------------------------------------------------------------- result


@dataclass(frozen=True, eq=False)
class Explanation:
    """Per-customer SHAP values of the uplift, with reasons and figures.

    Attributes
    ----------
    values : pandas.DataFrame
        Customers × features: SHAP values of the uplift (probability units), indexed by
        ``customer_id``, columns in feature order.
    base_values : pandas.Series
        Base value of each customer (probability units); constant except for the X learner
        (see the module docstring).
    uplift : pandas.Series
        The model's uplift of each customer: ``base_values + values.sum(axis=1)``.
    features : pandas.DataFrame
        The explained feature values (same index and columns as ``values``).
    method : str
        How the values were computed (e.g. ``"pred_contrib"``, ``"interventional"``).
    background_size : int or None
        Background rows of interventional explanations; ``None`` when none was used.
    """

    values: pd.DataFrame
    base_values: pd.Series
    uplift: pd.Series
    features: pd.DataFrame
    method: str
    background_size: int | None = None

    @property
    def feature_names(self) -> list[str]:
        """Names of the explained features, in column order."""
        return list(self.values.columns)

    def importance(self) -> pd.DataFrame:
        """Global importance: mean absolute SHAP value per feature.

        Returns
        -------
        pandas.DataFrame
            Indexed by ``feature``, sorted by ``mean_abs_shap`` descending (ties by feature
            order); columns ``mean_abs_shap`` and ``mean_shap`` (probability units) and
            ``share`` (of the total mean |SHAP|).
        """
        magnitude = self.values.abs().mean()
        total = float(magnitude.sum())
        table = pd.DataFrame(
            {
                "mean_abs_shap": magnitude,
                "mean_shap": self.values.mean(),
                "share": magnitude / total if total > 0 else magnitude * 0.0,
            }
        ).rename_axis("feature")
        return table.sort_values("mean_abs_shap", ascending=False, kind="stable")

    def reasons(self, lang: Lang = "en", n: int = 3) -> pd.DataFrame:
        """Top ``n`` features raising each customer's uplift, in words.

        Parameters
        ----------
        lang : {"en", "zh"}, default "en"
            Language of the registry templates.
        n : int, default 3
            Number of reasons per customer.

        Returns
        -------
        pandas.DataFrame
            Indexed by ``customer_id``; columns ``reason_1`` … ``reason_n`` (``str``),
            missing where fewer than ``n`` features raise the uplift. Features are ranked by
            SHAP value, ties broken by feature order; a zero SHAP value, and a feature the
            registry marks ``is_reason=False`` (the calendar month), is never a reason,
            nor a missing value the registry has no phrase for.
        """
        return _rank_reasons(self, lang, n, sign=1.0)

    def reasons_against(self, lang: Lang = "en", n: int = 3) -> pd.DataFrame:
        """Top ``n`` features lowering each customer's uplift, in words.

        Same as :meth:`reasons`, for negative SHAP values (most negative first).
        """
        return _rank_reasons(self, lang, n, sign=-1.0)

    def summary_figure(self, lang: Lang = "en", max_features: int = 15) -> Figure:
        """Beeswarm-style summary: each customer's SHAP value per top feature.

        Returns
        -------
        matplotlib.figure.Figure
            Points coloured by the feature's value (rank within the feature).
        """
        from visitrisk import _explain_plots

        return _explain_plots.summary(self, lang, max_features)

    def dependence_figures(self, lang: Lang = "en", n: int = 4) -> dict[str, Figure]:
        """Dependence plots (feature value against its SHAP value) of the top features.

        Returns
        -------
        dict of str to matplotlib.figure.Figure
            One figure per feature among the ``n`` most important, by name.
        """
        from visitrisk import _explain_plots

        top = self.importance().index[:n]
        return {name: _explain_plots.dependence(self, name, lang) for name in top}

    def waterfall_figure(
        self, customer_id: Any = None, lang: Lang = "en", max_features: int = 10
    ) -> Figure:
        """Waterfall of one customer: from the base value to the uplift, reason by reason.

        Parameters
        ----------
        customer_id : optional
            Customer to show; default the one with the largest uplift.
        lang : {"en", "zh"}, default "en"
            Language of the labels (the registry's reason phrases).
        max_features : int, default 10
            Features shown; the rest are summed in one bar.

        Returns
        -------
        matplotlib.figure.Figure
        """
        from visitrisk import _explain_plots

        if customer_id is None:
            customer_id = self.uplift.idxmax()
        if customer_id not in self.values.index:
            raise KeyError(f"Explanation: customer_id {customer_id!r} was not explained.")
        return _explain_plots.waterfall(self, customer_id, lang, max_features)

    def save_figures(
        self, out_dir: str | Path, lang: Lang = "en", customer_id: Any = None
    ) -> list[Path]:
        """Write the summary, dependence and waterfall figures as PNG files.

        Returns
        -------
        list of pathlib.Path
            The files written, under ``out_dir`` (created if needed).
        """
        from visitrisk import _explain_plots

        figures = {"shap_summary": self.summary_figure(lang)}
        for name, figure in self.dependence_figures(lang).items():
            figures[f"shap_dependence_{name}"] = figure
        figures["shap_waterfall"] = self.waterfall_figure(customer_id, lang)
        return _explain_plots.save(figures, Path(out_dir), lang)

    def save(self, out_dir: str | Path, lang: Lang = "en") -> dict[str, Path]:
        """Write the SHAP table (Parquet), the reasons (CSV, UTF-8) and the figures.

        Returns
        -------
        dict of str to pathlib.Path
            ``shap``, ``reasons`` and one entry per figure.
        """
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        table = self.values.assign(base_value=self.base_values, uplift=self.uplift)
        paths = {"shap": out / "shap_values.parquet", "reasons": out / "reasons.csv"}
        table.to_parquet(paths["shap"])
        for_ = self.reasons(lang)
        against = self.reasons_against(lang).add_prefix("against_")
        pd.concat([self.uplift, for_, against], axis=1).to_csv(paths["reasons"], encoding="utf-8")
        for path in self.save_figures(out, lang):
            paths[path.stem] = path
        return paths


# --------------------------------------------------------------------------- models on disk


def save_model(model: Any, path: str | Path) -> Path:
    """Save a fitted learner or ``UpliftModel`` with joblib (until the MLflow format lands).

    Returns
    -------
    pathlib.Path
        The file written.
    """
    import joblib

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    joblib.dump(model, path)
    return path


def load_model(path: str | Path) -> Any:
    """Load a model saved by :func:`save_model` (joblib; load only files you trust).

    Raises
    ------
    TypeError
        If the file holds something other than a visitrisk learner or ``UpliftModel``.
    """
    import joblib

    from visitrisk import learners

    model = joblib.load(Path(path))
    if not isinstance(model, learners.UpliftModel | learners._UpliftLearner):
        raise TypeError(
            f"load_model: {path} holds a {type(model).__name__}, not a visitrisk learner or "
            "UpliftModel."
        )
    return model


# --------------------------------------------------------------------------- explain


def explain(
    model: Any,
    features: pd.DataFrame,
    *,
    background: pd.DataFrame | None = None,
    background_size: int = DEFAULT_BACKGROUND_SIZE,
    random_state: int = 0,
    n_jobs: int = 1,
) -> Explanation:
    """Explain a fitted uplift model's uplift, customer by customer, exactly.

    Parameters
    ----------
    model : UpliftModel, TLearner, SLearner, XLearner or DRLearner
        Fitted, with LightGBM base models.
    features : pandas.DataFrame
        One row per customer: the fit-time features, identified by a ``customer_id`` column
        or the index (as :func:`visitrisk.build_features` returns them). A
        ``value_at_stake`` column is ignored.
    background : pandas.DataFrame, default None
        Rows the T and S learners' interventional SHAP averages over (same columns);
        default ``features``. Unused by the X and DR learners.
    background_size : int, default 100
        Rows sampled (without replacement) from ``background``.
    random_state : int, default 0
        Seeds the background sample.
    n_jobs : int, default 1
        Threads of LightGBM's ``pred_contrib`` (X and DR learners).

    Returns
    -------
    Explanation
        ``base_values + values.sum(axis=1) == uplift == model.predict(features)`` to 1e-6.

    Raises
    ------
    TypeError
        If the model is not a fitted visitrisk learner with LightGBM base models.
    ValueError
        If ``features`` does not match the fit-time features, or ``background_size < 1``.
    """
    from visitrisk import learners

    if isinstance(model, learners.UpliftModel):
        from sklearn.utils.validation import check_is_fitted

        check_is_fitted(model, "learner_")
        learner = model.learner_
    else:
        learner = model
    if not isinstance(learner, learners._UpliftLearner):
        raise TypeError(
            f"explain: model must be a visitrisk learner or UpliftModel; got "
            f"{type(model).__name__}."
        )
    if not isinstance(background_size, int | np.integer) or background_size < 1:
        raise ValueError(f"explain: background_size must be an int >= 1; got {background_size!r}.")
    frame = learner._validated(_customer_frame(features, "features"))
    uplift = learner.predict(frame)
    n_features = frame.shape[1]
    if len(frame) == 0:
        values, base, method, used = np.empty((0, n_features)), np.empty(0), "none", None
    elif isinstance(learner, learners.DRLearner):
        # The raw uplift is the mean of the effect models, so are its SHAP values (linear).
        contrib = np.mean(
            [
                _pred_contrib(model, frame, n_jobs, "DRLearner.final_models_")
                for model in learner.final_models_
            ],
            axis=0,
        )
        # The DR uplift is the final model's output projected onto [-p0, 1 - p0]; where the
        # projection binds, its shift is part of the customer's base value.
        bound_shift = uplift - learner.raw_uplift(frame)
        values, base = contrib[:, :-1], contrib[:, -1] + bound_shift
        method, used = "pred_contrib", None
    elif isinstance(learner, learners.XLearner):
        values, base = _x_learner_shap(learner, frame, n_jobs)
        method, used = "pred_contrib, propensity-weighted", None
    else:
        pool = (
            frame
            if background is None
            else learner._validated(_customer_frame(background, "background"))
        )
        rng = np.random.default_rng(random_state)
        size = min(int(background_size), len(pool))
        rows = np.sort(rng.choice(len(pool), size=size, replace=False))
        sample = pool.iloc[rows]
        if isinstance(learner, learners.TLearner):
            treated = _arm_shap(learner.treated_model_, frame, sample, "TLearner")
            control = _arm_shap(learner.control_model_, frame, sample, "TLearner")
            values, base = treated[0] - control[0], treated[1] - control[1]
        else:
            visit = learners.TREATMENT_FEATURE
            treated, control = (
                _arm_shap(
                    learner.model_,
                    frame.assign(**{visit: arm}),
                    sample.assign(**{visit: arm}),
                    "SLearner",
                )
                for arm in (1, 0)
            )
            # The visit column takes the same value in explained and background rows, so
            # its SHAP value is exactly 0: drop it.
            values = treated[0][:, :-1] - control[0][:, :-1]
            base = treated[1] - control[1]
        method, used = "interventional", size
    base = np.broadcast_to(np.asarray(base, dtype=float), (len(frame),)).copy()
    _check_additivity(values, base, uplift, frame.index, method)
    return Explanation(
        values=pd.DataFrame(values, index=frame.index, columns=frame.columns),
        base_values=pd.Series(base, index=frame.index, name="base_value"),
        uplift=pd.Series(uplift, index=frame.index, name="uplift"),
        features=frame,
        method=method,
        background_size=used,
    )


def _customer_frame(features: Any, name: str) -> pd.DataFrame:
    """Features indexed by ``customer_id``, without the non-feature ``value_at_stake``."""
    if not isinstance(features, pd.DataFrame):
        raise ValueError(f"explain: {name} must be a pandas DataFrame; got {type(features)}.")
    frame = features.set_index("customer_id") if "customer_id" in features.columns else features
    frame = frame.drop(columns="value_at_stake", errors="ignore").rename_axis("customer_id")
    if frame.index.has_duplicates:
        duplicated = frame.index[frame.index.duplicated()].unique()[:5].tolist()
        raise ValueError(f"explain: {name} has duplicated customer_id(s) {duplicated!r}.")
    return frame


def _check_additivity(
    values: np.ndarray, base: np.ndarray, uplift: np.ndarray, index: pd.Index, method: str
) -> None:
    error = np.abs(base + values.sum(axis=1) - uplift)
    if error.size and not error.max() <= ADDITIVITY_TOLERANCE:
        worst = index[np.argsort(-error)[:5]].tolist()
        raise RuntimeError(
            f"explain: SHAP values ({method}) do not add up to the uplift: largest error "
            f"{error.max():.3g} (customers {worst!r}); this is a bug, please report it."
        )


def _lightgbm_model(model: Any, owner: str) -> Any:
    from lightgbm import LGBMModel

    if not isinstance(model, LGBMModel):
        raise TypeError(
            f"explain: {owner} is a {type(model).__name__}; exact explanations need LightGBM "
            "base models (the learners' defaults)."
        )
    return model


def _pred_contrib(model: Any, X: pd.DataFrame, n_jobs: int, owner: str) -> np.ndarray:
    """Path-dependent TreeSHAP of a LightGBM regressor's raw output; last column = base.

    Explaining each tree once per distinct pattern of split sides and copying the values
    to the rows sharing it gives the same numbers, but was measured only 1.4 times cheaper
    at 10^5 rows (a quarter of the rows have their own pattern per tree): not worth it.
    """
    regressor = _lightgbm_model(model, owner)
    return np.asarray(regressor.predict(X, pred_contrib=True, num_threads=n_jobs), dtype=float)


def _x_learner_shap(learner: Any, X: pd.DataFrame, n_jobs: int) -> tuple[np.ndarray, np.ndarray]:
    """SHAP of e τ0 + (1 − e) τ1 with the mixing weight e held at each customer's value."""
    control = _pred_contrib(learner.effect_model_control_, X, n_jobs, "effect_model_control_")
    treated = _pred_contrib(learner.effect_model_treated_, X, n_jobs, "effect_model_treated_")
    weight = learner.propensity_model_._predict_frame(X)[:, None]
    mixed = weight * control + (1.0 - weight) * treated
    return mixed[:, :-1], mixed[:, -1]


# --------------------------------------------------------------------------- interventional


def _arm_shap(
    model: Any, X: pd.DataFrame, background: pd.DataFrame, owner: str
) -> tuple[np.ndarray, float]:
    """Interventional probability-scale SHAP of one LightGBM classifier, checked exact."""
    classifier = _lightgbm_model(model, f"{owner}'s outcome model")
    forest = _NumericForest(classifier.booster_, X, background)
    with warnings.catch_warnings():
        # shap 0.51 imports matplotlib pieces that emit PendingDeprecationWarnings.
        warnings.simplefilter("ignore", PendingDeprecationWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        import shap

        explainer = shap.TreeExplainer(
            forest.model,
            data=forest.encode(background),
            model_output="probability",
            feature_perturbation="interventional",
        )
        codes = forest.encode(X)
        # Chunks of ~50,000 (customer, background row) pairs keep each call short (shap
        # prints a progress bar on long calls) and memory flat.
        step = max(1, _PAIRS_PER_CALL // len(background))
        values = np.concatenate(
            [
                np.asarray(
                    explainer.shap_values(codes[start : start + step], check_additivity=False),
                    dtype=float,
                ).reshape(-1, codes.shape[1])
                for start in range(0, len(codes), step)
            ]
        )
    base = float(np.ravel(explainer.expected_value)[0])
    # The rewritten trees must compute LightGBM's function, on both row sets.
    proba = _positive_proba(classifier, X)
    reference = float(_positive_proba(classifier, background).mean())
    error = max(np.abs(base + values.sum(axis=1) - proba).max(), abs(base - reference))
    if not error <= ADDITIVITY_TOLERANCE:
        raise RuntimeError(
            f"explain: the rewritten trees of {owner}'s outcome model differ from LightGBM "
            f"by {error:.3g}; this is a bug, please report it."
        )
    return values, base


def _positive_proba(classifier: Any, X: pd.DataFrame) -> np.ndarray:
    proba = classifier.predict_proba(X)
    return proba[:, int(np.flatnonzero(np.asarray(classifier.classes_) == 1)[0])]


class _NumericForest:
    """A LightGBM binary model rewritten for shap's interventional kernel, exactly.

    shap 0.51's kernel stores thresholds in float32 (LightGBM compares in float64), loses
    additivity on rows with NaN (errors of 0.01 in log-odds measured) and rejects
    categorical splits. So every feature is encoded as a small integer:

    - numeric: the number of the feature's split thresholds (over the whole forest) below
      the value, so ``value <= threshold k`` iff ``code <= k + 0.5``;
    - categorical: the category code;
    - missing: one code above all others (``n_thresholds + 1``, or ``n_categories``).

    A categorical split "code in S" becomes a chain of ``code <= c + 0.5`` splits, one per
    run of consecutive codes, each leading to a copy of the matching subtree; missing and
    unseen codes go right, as in LightGBM. A numeric split that sends missing values left
    gets a second split above all finite codes leading to a copy of the left subtree.
    Interventional SHAP depends only on the function a tree computes, so the copies change
    nothing but the cost.
    """

    def __init__(self, booster: Any, *frames: pd.DataFrame) -> None:
        dump = booster.dump_model()
        if str(dump.get("objective", "")).split(" ")[0] != "binary":
            raise TypeError(
                f"explain: outcome model objective is {dump.get('objective')!r}; binary expected."
            )
        first = frames[0]
        self.n_categories = {
            position: len(first.iloc[:, position].cat.categories)
            for position in range(first.shape[1])
            if isinstance(first.dtypes.iloc[position], pd.CategoricalDtype)
        }
        found: dict[int, set[float]] = {}
        for tree in dump["tree_info"]:
            _collect_thresholds(tree["tree_structure"], found)
        self.thresholds = {feature: np.array(sorted(values)) for feature, values in found.items()}
        missing = np.zeros(first.shape[1], dtype=bool)
        for frame in frames:
            missing |= frame.isna().to_numpy().any(axis=0)
        self.with_missing = set(np.flatnonzero(missing).tolist())
        trees, total = [], 0
        for tree in dump["tree_info"]:
            arrays = _NumericTree(self).build(tree["tree_structure"])
            size = arrays["values"].shape[0]
            total += size
            # shap's kernel indexes nodes with 16-bit integers.
            if size > np.iinfo(np.int16).max or total > _MAX_REWRITTEN_NODES:
                raise ValueError(
                    "explain: the outcome model has too many categorical splits or missing "
                    "values to rewrite exactly; use the DR or X learner."
                )
            trees.append(arrays)
        self.model = {
            "trees": trees,
            "tree_output": "log_odds",
            "base_offset": 0.0,
            "internal_dtype": np.float64,
            "input_dtype": np.float64,
        }

    def missing_code(self, feature: int) -> float:
        """Code of a missing value: above every finite code of the feature."""
        if feature in self.n_categories:
            return float(self.n_categories[feature])
        return float(len(self.thresholds.get(feature, ())) + 1)

    def encode(self, X: pd.DataFrame) -> np.ndarray:
        """Return the integer codes of ``X`` (as float64), one column per feature."""
        codes = np.empty(X.shape, dtype=np.float64)
        for position in range(X.shape[1]):
            column = X.iloc[:, position]
            if position in self.n_categories:
                values = column.cat.codes.to_numpy().astype(np.float64)
                present = values >= 0
            else:
                values = column.to_numpy(dtype=np.float64, na_value=np.nan)
                present = ~np.isnan(values)
                cuts = self.thresholds.get(position, np.empty(0))
                values = np.searchsorted(cuts, values, side="left").astype(np.float64)
            codes[:, position] = np.where(present, values, self.missing_code(position))
        return codes


def _collect_thresholds(node: dict[str, Any], found: dict[int, set[float]]) -> None:
    if "leaf_value" in node:
        return
    if node["decision_type"] == "<=":
        found.setdefault(int(node["split_feature"]), set()).add(float(node["threshold"]))
    _collect_thresholds(node["left_child"], found)
    _collect_thresholds(node["right_child"], found)


class _NumericTree:
    """One LightGBM tree (``dump_model`` form) as shap's node arrays over integer codes."""

    def __init__(self, forest: _NumericForest) -> None:
        self.forest = forest
        self.left: list[int] = []
        self.right: list[int] = []
        self.default: list[int] = []
        self.feature: list[int] = []
        self.threshold: list[float] = []
        self.value: list[float] = []
        self.weight: list[float] = []

    def build(self, root: dict[str, Any]) -> dict[str, np.ndarray]:
        self._emit(root)
        return {
            "children_left": np.asarray(self.left, dtype=np.int32),
            "children_right": np.asarray(self.right, dtype=np.int32),
            "children_default": np.asarray(self.default, dtype=np.int32),
            "features": np.asarray(self.feature, dtype=np.int32),
            "thresholds": np.asarray(self.threshold, dtype=np.float64),
            "values": np.asarray(self.value, dtype=np.float64)[:, None],
            "node_sample_weight": np.asarray(self.weight, dtype=np.float64),
        }

    def _new(self, weight: float, value: float = 0.0) -> int:
        self.left.append(-1)
        self.right.append(-1)
        self.default.append(-1)
        self.feature.append(-2)
        self.threshold.append(0.0)
        self.value.append(value)
        self.weight.append(weight)
        return len(self.value) - 1

    def _split(self, node: int, feature: int, threshold: float, left: int, right: int) -> None:
        # No code is ever missing (NaN) in the encoded data; the default is never taken.
        self.feature[node], self.threshold[node] = feature, threshold
        self.left[node], self.right[node], self.default[node] = left, right, right

    def _emit(self, node: dict[str, Any]) -> int:
        if "leaf_value" in node:
            return self._new(float(node.get("leaf_count", 0)), float(node["leaf_value"]))
        feature = int(node["split_feature"])
        weight = float(node.get("internal_count", 0))
        if node["decision_type"] != "<=":
            return self._categorical(node, feature, weight)
        threshold = float(node["threshold"])
        missing = node.get("missing_type", "None")
        if missing == "NaN":
            missing_left = bool(node["default_left"])
        elif missing == "None":
            # LightGBM reads a missing value as 0 when the split has no missing branch.
            missing_left = threshold >= 0.0
        else:
            raise TypeError(
                "explain: LightGBM models fitted with zero_as_missing=True are not supported."
            )
        code = float(np.searchsorted(self.forest.thresholds[feature], threshold)) + 0.5
        index = self._new(weight)
        left = self._emit(node["left_child"])
        if missing_left and feature in self.forest.with_missing:
            # Finite codes above the threshold go right; the missing code to a copy of the
            # left subtree.
            above = self._new(weight)
            right = self._emit(node["right_child"])
            self._split(above, feature, self.forest.missing_code(feature) - 0.5, right, -1)
            self.right[above] = self.default[above] = self._emit(node["left_child"])
        else:
            above = self._emit(node["right_child"])
        self._split(index, feature, code, left, above)
        return index

    def _categorical(self, node: dict[str, Any], feature: int, weight: float) -> int:
        # Codes in the set go left; missing (the code n_categories) and unseen codes right.
        in_set = [int(code) for code in str(node["threshold"]).split("||")]
        goes_left = np.isin(np.arange(self.forest.n_categories[feature] + 1), in_set)
        runs = np.split(np.arange(goes_left.size), np.flatnonzero(np.diff(goes_left)) + 1)
        return self._chain(node, feature, weight, [(run[-1], goes_left[run[0]]) for run in runs])

    def _chain(
        self, node: dict[str, Any], feature: int, weight: float, runs: list[tuple[int, bool]]
    ) -> int:
        """``code <= last code of run 0`` → run 0's subtree, else the chain of the rest."""
        last_code, run_goes_left = runs[0]
        child = node["left_child"] if run_goes_left else node["right_child"]
        if len(runs) == 1:
            return self._emit(child)
        index = self._new(weight)
        left = self._emit(child)
        self._split(
            index, feature, last_code + 0.5, left, self._chain(node, feature, weight, runs[1:])
        )
        return index


# --------------------------------------------------------------------------- reasons


def _registry() -> pd.DataFrame:
    from visitrisk.feature_catalog import feature_registry

    return feature_registry()


def _check_lang(lang: str) -> None:
    if lang not in ("en", "zh"):
        raise ValueError(f"explain: lang must be 'en' or 'zh'; got {lang!r}.")


def render_reason(feature: str, values: pd.Series, lang: Lang = "en") -> pd.Series:
    """Phrase ``feature`` with each value of ``values`` using the registry's template.

    Parameters
    ----------
    feature : str
        Feature name; features missing from the registry read ``"<name> = <value>"``.
    values : pandas.Series
        The customers' values of the feature (numeric or categorical).
    lang : {"en", "zh"}, default "en"
        Language.

    Returns
    -------
    pandas.Series of str
        Same index; a missing value reads as the registry's ``missing_<lang>`` phrase, and
        is missing itself (NA) when the registry has no phrase for it.
    """
    _check_lang(lang)
    registry = _registry()
    categorical = isinstance(values.dtype, pd.CategoricalDtype)
    if feature in registry.index:
        template = registry.at[feature, f"reason_{lang}"]
        missing = str(registry.at[feature, f"missing_{lang}"]).rstrip("。.")
    else:
        spec = "" if categorical else ":.3g"
        template, missing = f"{feature} = {{value{spec}}}", ""
    present = values.notna().to_numpy()
    # Formatting each distinct value once keeps 10^5 customers fast.
    distinct = pd.unique(values[present].astype(object)) if present.any() else []
    phrases = {
        value: template.format(value=category_label(value, lang) if categorical else value)
        for value in distinct
    }
    rendered = values.astype(object).map(phrases).astype("str")
    if missing:
        rendered[~present] = missing
    return rendered


def _rank_reasons(explanation: Explanation, lang: str, n: int, sign: float) -> pd.DataFrame:
    _check_lang(lang)
    if not isinstance(n, int | np.integer) or n < 1:
        raise ValueError(f"explain: n must be an int >= 1; got {n!r}.")
    registry = _registry()
    features = explanation.features
    has_missing_phrase = np.array(
        [
            bool(registry.at[name, f"missing_{lang}"]) if name in registry.index else False
            for name in features.columns
        ]
    )
    may_be_reason = np.array(
        [
            bool(registry.at[name, "is_reason"]) if name in registry.index else True
            for name in features.columns
        ]
    )
    strength = sign * explanation.values.to_numpy()
    eligible = (strength > 0) & (features.notna().to_numpy() | has_missing_phrase) & may_be_reason
    score = np.where(eligible, strength, -np.inf)
    # A stable sort of the negated score breaks ties by feature order.
    order = np.argsort(-score, axis=1, kind="stable")[:, :n]
    chosen = np.take_along_axis(score, order, axis=1) > -np.inf
    text = np.full(order.shape, None, dtype=object)
    for position in np.unique(order[chosen]):
        name = features.columns[position]
        rows, slots = np.nonzero((order == position) & chosen)
        phrases = render_reason(name, features[name].iloc[rows], lang)  # type: ignore[arg-type]
        text[rows, slots] = phrases.to_numpy(dtype=object)
    columns = [f"reason_{k + 1}" for k in range(order.shape[1])]
    table = pd.DataFrame(text, index=features.index, columns=columns).astype("str")
    for k in range(order.shape[1], n):
        table[f"reason_{k + 1}"] = pd.Series(pd.NA, index=features.index, dtype="str")
    return table
