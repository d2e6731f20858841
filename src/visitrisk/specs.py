"""Model and experiment specifications: YAML files turned into validated objects.

A model spec (``models/*.yaml``) names the learner, the LightGBM hyper-parameters of its
base models and the propensity settings; :meth:`ModelSpec.build` turns it into an unfitted
:class:`visitrisk.UpliftModel`. An experiment spec (``experiments/*.yaml``) names the data,
the snapshots and the model specs to compare. Every problem is reported as a
:class:`SpecError` naming the file, the key, what was expected and what was found.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "ExperimentSpec",
    "ModelSpec",
    "SpecError",
    "load_experiment_spec",
    "load_model_spec",
]

_LEARNERS = ("dr", "s", "t", "x")
# Learners that fit a propensity model and an effect regressor (the others have neither).
_DIRECT = frozenset({"dr", "x"})
_MODEL_KEYS = frozenset(
    {"name", "description", "learner", "visit_cost", "outcome_model", "effect_model", "propensity"}
)
_PROPENSITY_KEYS = frozenset({"model", "n_folds", "clip"})
_EXPERIMENT_KEYS = frozenset(
    {"name", "description", "data", "snapshots", "models", "capacities", "seed", "n_jobs"}
)
_DATA_KEYS = frozenset({"simulate", "folder"})
_SIMULATE_KEYS = frozenset({"customers", "seed", "effect", "as_of", "history_months"})
_SNAPSHOT_KEYS = frozenset({"train", "test", "treatment_window", "horizon", "min_dpd"})


class SpecError(ValueError):
    """A model or experiment specification is invalid; the message names file and key."""


def _fail(source: str, key: str, expected: str, got: object) -> SpecError:
    return SpecError(f"{source}: key {key!r} must be {expected}. Got {got!r} instead.")


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_real(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _check_keys(mapping: object, allowed: frozenset[str], source: str, key: str) -> dict:
    if not isinstance(mapping, Mapping):
        raise _fail(source, key, "a mapping", mapping)
    unknown = sorted(set(map(str, mapping)) - allowed)
    if unknown:
        raise SpecError(
            f"{source}: unknown key(s) {unknown!r} under {key!r}; "
            f"expected some of {sorted(allowed)!r}."
        )
    return dict(mapping)


def _get(
    mapping: Mapping,
    key: str,
    check: Callable[[Any], bool],
    expected: str,
    source: str,
    default: Any,
    prefix: str = "",
) -> Any:
    value = mapping.get(key, default)
    if not check(value):
        raise _fail(source, prefix + key, expected, value)
    return value


def _read_yaml(path: str | os.PathLike[str]) -> tuple[dict, str, Path]:
    import yaml

    file = Path(path)
    if not file.is_file():
        raise SpecError(f"{file}: no such spec file.")
    try:
        content = yaml.safe_load(file.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        raise SpecError(f"{file}: not valid YAML ({error}).") from None
    if not isinstance(content, Mapping):
        raise SpecError(f"{file}: must hold a mapping of keys; got {type(content).__name__}.")
    return dict(content), str(file), file


def _lightgbm_params(value: object, source: str, key: str, regressor: bool) -> dict[str, Any]:
    from lightgbm import LGBMClassifier, LGBMRegressor

    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise _fail(source, key, "a mapping of LightGBM hyper-parameters", value)
    known = set((LGBMRegressor if regressor else LGBMClassifier)().get_params())
    # Threads and seeds come from the run, not the spec, so one spec serves every machine.
    known -= {"n_jobs", "random_state"}
    unknown = sorted(set(map(str, value)) - known)
    if unknown:
        raise SpecError(
            f"{source}: unknown LightGBM hyper-parameter(s) {unknown!r} under {key!r}; "
            f"expected some of {sorted(known)!r}."
        )
    return dict(value)


@dataclass(frozen=True)
class ModelSpec:
    """A validated model specification.

    Attributes
    ----------
    name : str
        Name of the model (default: the file's stem).
    learner : {"dr", "s", "t", "x"}
        Which uplift learner.
    visit_cost : float
        Cost of one visit (CNY).
    outcome_model : dict
        LightGBM classifier hyper-parameters of the outcome models, on top of visitrisk's
        defaults (``visitrisk._learner_input.LGBM_CLASSIFIER_DEFAULTS``).
    effect_model : dict
        LightGBM regressor hyper-parameters of the effect models (X and DR learners only).
    propensity : dict
        ``n_folds``, ``clip`` and ``model`` (LightGBM classifier hyper-parameters) of the
        propensity model (X and DR learners only).
    description : str
        Free text.
    source : str
        File the spec was read from (``""`` when built in code).
    """

    name: str
    learner: str
    visit_cost: float = 0.0
    outcome_model: Mapping[str, Any] = field(default_factory=dict)
    effect_model: Mapping[str, Any] = field(default_factory=dict)
    propensity: Mapping[str, Any] = field(default_factory=dict)
    description: str = ""
    source: str = ""

    def build(self, *, random_state: int | None = 0, n_jobs: int = 1) -> Any:
        """Return the unfitted :class:`visitrisk.UpliftModel` this spec describes.

        Parameters
        ----------
        random_state : int or None, default 0
            Seed of the learner and its base models.
        n_jobs : int, default 1
            LightGBM threads of every base model.

        Returns
        -------
        visitrisk.UpliftModel
            Unfitted.
        """
        from lightgbm import LGBMClassifier, LGBMRegressor

        from visitrisk._learner_input import LGBM_CLASSIFIER_DEFAULTS, LGBM_REGRESSOR_DEFAULTS
        from visitrisk.learners import UpliftModel

        def classifier(params: Mapping[str, Any]) -> Any:
            return LGBMClassifier(**{**LGBM_CLASSIFIER_DEFAULTS, **params}, n_jobs=n_jobs)

        params: dict[str, Any] = {
            "outcome_model": classifier(self.outcome_model),
            "random_state": random_state,
            "n_jobs": n_jobs,
        }
        if self.learner in _DIRECT:
            params["effect_model"] = LGBMRegressor(
                **{**LGBM_REGRESSOR_DEFAULTS, **self.effect_model}, n_jobs=n_jobs
            )
            params["propensity_model"] = classifier(self.propensity.get("model", {}))
            params["n_folds"] = self.propensity.get("n_folds", 3)
            params["propensity_clip"] = self.propensity.get("clip", 0.01)
        return UpliftModel(learner=self.learner, visit_cost=self.visit_cost, **params)

    def to_params(self) -> dict[str, Any]:
        """Return flat ``{name: value}`` parameters for ``mlflow.log_params``.

        Returns
        -------
        dict
            ``learner``, ``visit_cost`` and every hyper-parameter as ``outcome_model.<key>``,
            ``effect_model.<key>``, ``propensity.<key>`` and ``propensity.model.<key>``.
        """
        flat: dict[str, Any] = {"learner": self.learner, "visit_cost": self.visit_cost}
        flat.update({f"outcome_model.{k}": v for k, v in self.outcome_model.items()})
        flat.update({f"effect_model.{k}": v for k, v in self.effect_model.items()})
        for key, value in self.propensity.items():
            if key == "model":
                flat.update({f"propensity.model.{k}": v for k, v in value.items()})
            else:
                flat[f"propensity.{key}"] = value
        return flat


def load_model_spec(path: str | os.PathLike[str]) -> ModelSpec:
    """Read and validate a model specification (YAML).

    Parameters
    ----------
    path : str or path-like
        A YAML file with ``learner`` (one of ``dr``, ``s``, ``t``, ``x``) and optionally
        ``name``, ``description``, ``visit_cost`` (CNY), ``outcome_model`` (LightGBM
        classifier hyper-parameters), and, for the X and DR learners only,
        ``effect_model`` (LightGBM regressor hyper-parameters) and ``propensity``
        (``n_folds`` >= 2, ``clip`` in [0, 0.5), ``model``: LightGBM hyper-parameters).

    Returns
    -------
    ModelSpec
        The validated spec.

    Raises
    ------
    SpecError
        Naming the file, the key, what was expected and what was found, e.g.
        ``"models/t.yaml: key 'learner' must be one of ['dr', 's', 't', 'x']. Got 'q'
        instead."``
    """
    content, source, file = _read_yaml(path)
    _check_keys(content, _MODEL_KEYS, source, "the top level")
    learner = _get(
        content, "learner", lambda v: v in _LEARNERS, f"one of {list(_LEARNERS)}", source, None
    )
    name = _get(
        content, "name", lambda v: isinstance(v, str) and v, "a non-empty str", source, file.stem
    )
    description = _get(content, "description", lambda v: isinstance(v, str), "a str", source, "")
    visit_cost = _get(
        content,
        "visit_cost",
        lambda v: _is_real(v) and 0 <= v < float("inf"),
        "a finite number >= 0 (CNY)",
        source,
        0.0,
    )
    outcome = _lightgbm_params(content.get("outcome_model"), source, "outcome_model", False)
    for key in ("effect_model", "propensity"):
        if key in content and learner not in _DIRECT:
            raise SpecError(
                f"{source}: key {key!r} applies only to the X and DR learners; "
                f"learner {learner!r} has none. Remove it."
            )
    effect = _lightgbm_params(content.get("effect_model"), source, "effect_model", True)
    propensity: dict[str, Any] = {}
    if content.get("propensity") is not None:
        section = _check_keys(content["propensity"], _PROPENSITY_KEYS, source, "propensity")
        propensity["n_folds"] = _get(
            section,
            "n_folds",
            lambda v: _is_int(v) and v >= 2,
            "an int >= 2",
            source,
            3,
            "propensity.",
        )
        propensity["clip"] = _get(
            section,
            "clip",
            lambda v: _is_real(v) and 0 <= v < 0.5,
            "a number in [0, 0.5)",
            source,
            0.01,
            "propensity.",
        )
        model = _lightgbm_params(section.get("model"), source, "propensity.model", False)
        if model:
            propensity["model"] = model
    return ModelSpec(
        name=name,
        learner=learner,
        visit_cost=float(visit_cost),
        outcome_model=outcome,
        effect_model=effect,
        propensity=propensity,
        description=description,
        source=source,
    )


@dataclass(frozen=True)
class ExperimentSpec:
    """A validated experiment specification.

    Attributes
    ----------
    name : str
        MLflow experiment name.
    models : tuple of ModelSpec
        The models to compare.
    simulate : dict or None
        ``customers``, ``seed``, ``effect``, ``as_of``, ``history_months`` of
        :func:`visitrisk.simulate_portfolio`, when the data is simulated.
    folder : pathlib.Path or None
        Folder of contract tables, when the data is real.
    train_snapshots, test_snapshots : int
        Month-end snapshots used for training (the earlier ones) and testing (the latest).
    treatment_window, horizon, min_dpd : int
        Days; as in :func:`visitrisk.build_training_set`.
    capacities : tuple of float
        Shares of test rows at which policies are valued.
    seed : int
        Seed of every model and of the evaluation.
    n_jobs : int
        LightGBM threads.
    description, source : str
        Free text; the file read.
    """

    name: str
    models: tuple[ModelSpec, ...]
    simulate: Mapping[str, Any] | None
    folder: Path | None
    train_snapshots: int = 6
    test_snapshots: int = 2
    treatment_window: int = 14
    horizon: int = 60
    min_dpd: int = 1
    capacities: tuple[float, ...] = (0.1, 0.2, 0.3)
    seed: int = 0
    n_jobs: int = 1
    description: str = ""
    source: str = ""


def load_experiment_spec(path: str | os.PathLike[str]) -> ExperimentSpec:
    """Read and validate an experiment specification (YAML).

    Parameters
    ----------
    path : str or path-like
        A YAML file with ``name``; ``data`` holding either ``simulate`` (``customers``,
        ``seed``, ``effect``, ``as_of``, ``history_months``) or ``folder`` (contract tables,
        relative to the spec file); ``snapshots`` (``train`` and ``test`` month-end snapshot
        counts, ``treatment_window`` and ``horizon`` in days, ``min_dpd``); ``models``: paths
        of model specs (relative to the spec file); ``capacities``: shares in (0, 1];
        ``seed``; ``n_jobs``.

    Returns
    -------
    ExperimentSpec
        With every model spec loaded and validated.

    Raises
    ------
    SpecError
        Naming the file, the key, what was expected and what was found.
    """
    content, source, file = _read_yaml(path)
    _check_keys(content, _EXPERIMENT_KEYS, source, "the top level")
    name = _get(
        content, "name", lambda v: isinstance(v, str) and v, "a non-empty str", source, file.stem
    )
    data = _check_keys(content.get("data"), _DATA_KEYS, source, "data")
    if ("simulate" in data) == ("folder" in data):
        raise _fail(source, "data", "a mapping with exactly one of 'simulate' or 'folder'", data)
    simulate = folder = None
    if "simulate" in data:
        section = _check_keys(data["simulate"], _SIMULATE_KEYS, source, "data.simulate")
        simulate = {
            "customers": _get(
                section,
                "customers",
                lambda v: _is_int(v) and v >= 100,
                "an int >= 100",
                source,
                3000,
                "data.simulate.",
            ),
            "seed": _get(section, "seed", _is_int, "an int", source, 0, "data.simulate."),
            "effect": _get(
                section,
                "effect",
                lambda v: v in ("heterogeneous", "none"),
                "'heterogeneous' or 'none'",
                source,
                "heterogeneous",
                "data.simulate.",
            ),
            "as_of": str(section.get("as_of", "2026-11-30")),
            "history_months": _get(
                section,
                "history_months",
                lambda v: _is_int(v) and v >= 12,
                "an int >= 12",
                source,
                24,
                "data.simulate.",
            ),
        }
    else:
        folder = file.parent / str(data["folder"])
        if not folder.is_dir():
            raise _fail(source, "data.folder", "an existing folder of contract tables", str(folder))
    snapshots = _check_keys(content.get("snapshots", {}), _SNAPSHOT_KEYS, source, "snapshots")

    def positive(key: str, default: int) -> int:
        return _get(
            snapshots,
            key,
            lambda v: _is_int(v) and v >= 1,
            "a positive int",
            source,
            default,
            "snapshots.",
        )

    models = content.get("models")
    if not isinstance(models, list) or not models or not all(isinstance(m, str) for m in models):
        raise _fail(source, "models", "a non-empty list of model spec paths", models)
    model_specs = tuple(load_model_spec(os.path.normpath(file.parent / model)) for model in models)
    names = [spec.name for spec in model_specs]
    if len(set(names)) != len(names):
        raise _fail(source, "models", "specs with distinct names", names)
    capacities = content.get("capacities", [0.1, 0.2, 0.3])
    if (
        not isinstance(capacities, list)
        or not all(_is_real(c) and 0 < c <= 1 for c in capacities)
        or not capacities
    ):
        raise _fail(source, "capacities", "a non-empty list of shares in (0, 1]", capacities)
    return ExperimentSpec(
        name=name,
        models=model_specs,
        simulate=simulate,
        folder=folder,
        train_snapshots=positive("train", 6),
        test_snapshots=positive("test", 2),
        treatment_window=positive("treatment_window", 14),
        horizon=positive("horizon", 60),
        min_dpd=positive("min_dpd", 1),
        capacities=tuple(float(c) for c in capacities),
        seed=_get(content, "seed", _is_int, "an int", source, 0),
        n_jobs=_get(
            content, "n_jobs", lambda v: _is_int(v) and v >= 1, "a positive int", source, 1
        ),
        description=_get(content, "description", lambda v: isinstance(v, str), "a str", source, ""),
        source=source,
    )
