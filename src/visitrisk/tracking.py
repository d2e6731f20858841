"""MLflow tracking: runs, parameters, metrics, data sets, figures, files and the pyfunc model.

Every function here is safe to call when the tracking store cannot be reached: it warns
(:class:`TrackingWarning`), records what was not logged in :attr:`RunLog.not_logged` and
returns, so a pipeline still writes its visit plan. That is why the logging methods catch
every ``Exception``: MLflow raises many kinds (HTTP, SQL, file system, serialisation).

The store is always chosen explicitly (:func:`resolve_tracking_uri`): the ``tracking_uri``
argument, else ``MLFLOW_TRACKING_URI``, else a SQLite database ``mlflow.db`` in the output
folder, whose artifacts go to ``mlartifacts/`` beside it (never ``./mlruns`` of the current
directory). Open the UI on it with ``mlflow ui --backend-store-uri sqlite:///OUT/mlflow.db``.
"""

from __future__ import annotations

import math
import os
import socket
import warnings
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pandas as pd

__all__ = [
    "LoggedModel",
    "RunLog",
    "TrackingWarning",
    "load_scoring_model",
    "promote",
    "resolve_tracking_uri",
    "start_run",
    "uplift_model_params",
]

#: Name of the SQLite database written in the output folder by default.
DEFAULT_DATABASE = "mlflow.db"
#: Folder beside a SQLite database that holds its experiments' artifacts.
ARTIFACT_FOLDER = "mlartifacts"
#: Seconds to wait for an HTTP tracking server to accept a connection.
CONNECT_TIMEOUT = 3.0
_MAX_PARAM_LENGTH = 6000


class TrackingWarning(UserWarning):
    """Something could not be logged to MLflow; the run's outputs are unaffected."""


def resolve_tracking_uri(
    tracking_uri: str | None = None, out_dir: str | os.PathLike[str] = "."
) -> str:
    """Return the tracking URI to use, never MLflow's implicit default.

    Parameters
    ----------
    tracking_uri : str, optional
        Used as given when set.
    out_dir : str or path-like, default "."
        Folder of the default SQLite store (created if needed).

    Returns
    -------
    str
        ``tracking_uri``, else ``$MLFLOW_TRACKING_URI``, else
        ``sqlite:///<out_dir, absolute>/mlflow.db``.
    """
    if tracking_uri:
        return tracking_uri
    from_environment = os.environ.get("MLFLOW_TRACKING_URI")
    if from_environment:
        return from_environment
    folder = Path(out_dir).resolve()
    folder.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{folder / DEFAULT_DATABASE}"


def _sqlite_artifact_location(tracking_uri: str) -> str | None:
    if not tracking_uri.startswith("sqlite:///"):
        return None
    database = Path(tracking_uri.removeprefix("sqlite:///"))
    return (database.parent / ARTIFACT_FOLDER).resolve().as_uri()


def _check_reachable(tracking_uri: str) -> None:
    """Fail fast on an HTTP store that refuses connections (MLflow would retry for minutes)."""
    parsed = urlparse(tracking_uri)
    if parsed.scheme not in ("http", "https"):
        return
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    try:
        with socket.create_connection((parsed.hostname, port), timeout=CONNECT_TIMEOUT):
            pass
    except OSError as error:
        raise ConnectionError(
            f"cannot reach the tracking server {tracking_uri} ({error})"
        ) from None


def _flat_value(value: Any) -> str:
    text = value if isinstance(value, str) else repr(value)
    return text[:_MAX_PARAM_LENGTH]


def uplift_model_params(model: Any) -> dict[str, str]:
    """Flatten an ``UpliftModel``'s parameters (base models' hyper-parameters included).

    Parameters
    ----------
    model : visitrisk.UpliftModel
        Fitted or not.

    Returns
    -------
    dict of str to str
        ``learner``, ``visit_cost``, the learner's parameters and each base model's
        hyper-parameters as ``outcome_model.n_estimators`` etc. A base model left at
        ``None`` is reported with visitrisk's LightGBM defaults, which it then uses;
        estimators themselves are replaced by their class name.
    """
    from visitrisk._learner_input import LGBM_CLASSIFIER_DEFAULTS, LGBM_REGRESSOR_DEFAULTS
    from visitrisk.learners import _LEARNERS

    params = model.get_params(deep=True)
    accepted = set(_LEARNERS[params["learner"]]._get_param_names())
    defaults = {
        "outcome_model": ("LGBMClassifier", LGBM_CLASSIFIER_DEFAULTS),
        "effect_model": ("LGBMRegressor", LGBM_REGRESSOR_DEFAULTS),
        "propensity_model": ("LGBMClassifier", LGBM_CLASSIFIER_DEFAULTS),
    }
    flat = {}
    for key, value in params.items():
        if key not in defaults or value is not None:
            name = key.replace("__", ".")
            is_estimator = hasattr(value, "get_params")
            flat[name] = type(value).__name__ if is_estimator else _flat_value(value)
    for key, (class_name, hyper_parameters) in defaults.items():
        if key in accepted and params.get(key) is None:
            flat[key] = class_name
            flat.update({f"{key}.{k}": _flat_value(v) for k, v in hyper_parameters.items()})
    return flat


@dataclass(frozen=True)
class LoggedModel:
    """Where a logged pyfunc model lives.

    Attributes
    ----------
    model_uri : str
        Loadable with :func:`load_scoring_model` or ``mlflow.pyfunc.load_model``.
    name : str or None
        Registered model name, if registered.
    version : str or None
        Registered version, if registered.
    """

    model_uri: str
    name: str | None = None
    version: str | None = None


@dataclass
class RunLog:
    """An MLflow run that never raises on a tracking failure; see :func:`start_run`.

    Attributes
    ----------
    tracking_uri : str
        The store.
    run_id : str or None
        ``None`` when the run could not be created.
    experiment_id : str or None
        The experiment of the run.
    not_logged : list of str
        One line per item that was not logged, with the reason.
    """

    tracking_uri: str
    run_id: str | None = None
    experiment_id: str | None = None
    not_logged: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Whether the run exists and everything asked for was logged."""
        return self.run_id is not None and not self.not_logged

    def _failed(self, what: str, error: BaseException | str) -> bool:
        line = f"{what}: {error}"
        self.not_logged.append(line)
        warnings.warn(f"Not logged to MLflow ({self.tracking_uri}): {line}", TrackingWarning, 2)
        return False

    def _guard(self, what: str) -> bool:
        if self.run_id is None:
            self.not_logged.append(f"{what}: no MLflow run")
            return False
        return True

    def log_params(self, params: Mapping[str, Any]) -> bool:
        """Log parameters (values turned into text, at most 6000 characters each).

        Returns
        -------
        bool
            Whether they were logged.
        """
        return self._log_batch("params", params)

    def set_tags(self, tags: Mapping[str, Any]) -> bool:
        """Set run tags (values turned into text).

        Returns
        -------
        bool
            Whether they were set.
        """
        return self._log_batch("tags", tags)

    def _log_batch(self, kind: str, values: Mapping[str, Any]) -> bool:
        # Params and tags go in one request each, their values turned into text.
        if not self._guard(kind):
            return False
        try:
            from mlflow import MlflowClient
            from mlflow.entities import Param, RunTag

            entity = Param if kind == "params" else RunTag
            entries = [entity(str(k), _flat_value(v)) for k, v in values.items()]
            MlflowClient(self.tracking_uri).log_batch(self.run_id, **{kind: entries})
        except Exception as error:
            return self._failed(f"{kind} {sorted(values)[:5]}", error)
        return True

    def log_metrics(self, metrics: Mapping[str, float], step: int | None = None) -> bool:
        """Log a flat ``{name: number}`` dict, e.g. ``EvaluationReport.to_dict()``.

        Non-finite or non-numeric values cannot be stored by MLflow: they are listed in
        :attr:`not_logged`.

        Returns
        -------
        bool
            Whether every metric was logged.
        """
        if not self._guard("metrics"):
            return False
        finite = {}
        for name, value in metrics.items():
            try:
                number = float(value)
            except (TypeError, ValueError):
                continue
            if math.isfinite(number):
                finite[str(name)] = number
        skipped = sorted(set(map(str, metrics)) - set(finite))
        try:
            import time

            from mlflow import MlflowClient
            from mlflow.entities import Metric

            stamp = int(time.time() * 1000)
            entries = [Metric(k, v, stamp, step or 0) for k, v in finite.items()]
            MlflowClient(self.tracking_uri).log_batch(self.run_id, metrics=entries)
        except Exception as error:
            return self._failed(f"{len(finite)} metrics", error)
        if skipped:
            self.not_logged.append(f"metrics {skipped!r}: not finite numbers")
        return not skipped

    def log_figure(self, figure: Any, artifact_file: str) -> bool:
        """Log a matplotlib Figure as an image artifact (e.g. ``"figures/qini.png"``).

        Returns
        -------
        bool
            Whether it was logged.
        """
        if not self._guard(artifact_file):
            return False
        try:
            from mlflow import MlflowClient

            MlflowClient(self.tracking_uri).log_figure(self.run_id, figure, artifact_file)
        except Exception as error:
            return self._failed(artifact_file, error)
        return True

    def log_file(self, path: str | os.PathLike[str], folder: str | None = None) -> bool:
        """Log a file (e.g. the masked visit plan CSV) as an artifact under ``folder``.

        Returns
        -------
        bool
            Whether it was logged.
        """
        if not self._guard(str(path)):
            return False
        try:
            from mlflow import MlflowClient

            MlflowClient(self.tracking_uri).log_artifact(self.run_id, str(path), folder)
        except Exception as error:
            return self._failed(str(path), error)
        return True

    def log_table(self, table: pd.DataFrame, artifact_file: str) -> bool:
        """Log a DataFrame as a CSV artifact (e.g. ``"comparison.csv"``).

        Returns
        -------
        bool
            Whether it was logged.
        """
        if not self._guard(artifact_file):
            return False
        try:
            import tempfile

            from mlflow import MlflowClient

            with tempfile.TemporaryDirectory() as folder:
                file = Path(folder) / Path(artifact_file).name
                table.to_csv(file, index=False)
                parent = str(Path(artifact_file).parent)
                MlflowClient(self.tracking_uri).log_artifact(
                    self.run_id, str(file), None if parent == "." else parent
                )
        except Exception as error:
            return self._failed(artifact_file, error)
        return True

    def log_evaluation(self, report: Any, folder: str = "evaluation") -> bool:
        """Log an ``EvaluationReport``: its metrics, its figure and its tables.

        Metrics are ``report.to_dict()`` (Qini and uplift AUC, uplift@k, value at each
        capacity with CI bounds, overlap share, ...); the figure (Qini curve and calibration)
        goes to ``<folder>/evaluation.png``; the metric, policy-value and calibration tables
        to ``<folder>/*.csv``.

        Returns
        -------
        bool
            Whether everything was logged.
        """
        logged = [self.log_metrics(report.to_dict())]
        try:
            figure = report.plot()
        except Exception as error:
            return self._failed(f"{folder}/evaluation.png", error)
        logged.append(self.log_figure(figure, f"{folder}/evaluation.png"))
        logged.append(self.log_table(report.metrics.reset_index(), f"{folder}/metrics.csv"))
        logged.append(self.log_table(report.policy_values, f"{folder}/policy_values.csv"))
        logged.append(self.log_table(report.calibration, f"{folder}/calibration.csv"))
        return all(logged)

    def log_training_set(self, training_set: Any, context: str = "training") -> bool:
        """Log a ``TrainingSet`` as an MLflow data set input: features and labels only.

        Customer ids and snapshot dates are left out; categorical features are logged as
        text. A ``weight`` column is added when the rows are weighted (the emulated trial's
        clones), since the rows mean nothing without their weights. The data set's name is
        ``<context>_set``; its digest and profile (rows) are MLflow's, and the
        ``input_digest`` of the source tables becomes a tag of the input.

        Returns
        -------
        bool
            Whether it was logged.
        """
        what = f"{context} data set"
        if not self._guard(what):
            return False
        try:
            import mlflow
            from mlflow.entities import DatasetInput, InputTag

            frame = _loggable_features(training_set.X).assign(
                treatment=training_set.treatment.to_numpy(), cured=training_set.cured.to_numpy()
            )
            weight = training_set.weight.to_numpy()
            if (weight != 1.0).any():
                frame["weight"] = weight
            tags = [InputTag("mlflow.data.context", context)]
            digest = training_set.metadata.get("input_digest")
            if digest:
                tags.append(InputTag("visitrisk.input_digest", str(digest)))
            with _quiet_mlflow():
                dataset = mlflow.data.from_pandas(frame, name=f"{context}_set", targets="cured")
                entity = DatasetInput(dataset._to_mlflow_entity(), tags)
            mlflow.MlflowClient(self.tracking_uri).log_inputs(self.run_id, datasets=[entity])
        except Exception as error:
            return self._failed(what, error)
        return True

    def log_model(
        self,
        model: Any,
        features: pd.DataFrame,
        *,
        registered_model_name: str | None = None,
        name: str = "model",
    ) -> LoggedModel | None:
        """Log a fitted ``UpliftModel`` as an MLflow pyfunc, optionally registering it.

        The pyfunc takes the features frame the model was fitted on (categorical columns
        as ``category`` or as text) and returns ``p_cure_visit``, ``p_cure_no_visit``,
        ``uplift`` (probability units), ``value_at_stake`` (the ``arrears`` feature, CNY)
        and ``expected_gain`` (CNY), exactly as ``UpliftModel.score(features)``.

        Parameters
        ----------
        model : visitrisk.UpliftModel
            Fitted.
        features : pandas.DataFrame
            Features with the fit-time columns; the first 5 rows become the input example.
        registered_model_name : str, optional
            Register the model under this name (a new version).
        name : str, default "model"
            Name of the logged model within the run.

        Returns
        -------
        LoggedModel or None
            ``None`` when it could not be logged (see :attr:`not_logged`).
        """
        if not self._guard("model"):
            return None
        try:
            import mlflow
            from mlflow.models import ModelSignature, infer_signature

            with _quiet_mlflow():
                from visitrisk._pyfunc import UpliftPyfunc

                wrapper = UpliftPyfunc(model, features)
            example = _loggable_features(features.head(5)).reset_index(drop=True)
            output = wrapper.predict(None, example)
            signature = ModelSignature(_input_schema(features), infer_signature(output).inputs)
            with _using_store(self.tracking_uri), _active(self.run_id), _quiet_mlflow():
                info = mlflow.pyfunc.log_model(
                    name=name,
                    python_model=wrapper,
                    signature=signature,
                    input_example=example,
                    pip_requirements=_requirements(),
                    registered_model_name=registered_model_name,
                )
        except Exception as error:
            self._failed("model", error)
            return None
        version = info.registered_model_version
        return LoggedModel(
            model_uri=info.model_uri,
            name=registered_model_name,
            version=None if version is None else str(version),
        )

    @contextmanager
    def child(
        self,
        run_name: str,
        *,
        params: Mapping[str, Any] | None = None,
        tags: Mapping[str, Any] | None = None,
    ) -> Iterator[RunLog]:
        """Start a child run of this run (e.g. one model of an experiment).

        Parameters
        ----------
        run_name : str
            Name of the child run.
        params, tags : mapping, optional
            Logged at the start.

        Yields
        ------
        RunLog
            The child; what it could not log is also added to this run's ``not_logged``.
        """
        child = RunLog(self.tracking_uri, experiment_id=self.experiment_id)
        if self.run_id is not None:
            try:
                from mlflow import MlflowClient
                from mlflow.utils.mlflow_tags import MLFLOW_PARENT_RUN_ID

                run = MlflowClient(self.tracking_uri).create_run(
                    self.experiment_id,
                    run_name=run_name,
                    tags={MLFLOW_PARENT_RUN_ID: self.run_id, **_base_tags()},
                )
                child.run_id = run.info.run_id
            except Exception as error:
                child._failed(f"child run {run_name!r}", error)
        else:
            child.not_logged.append(f"child run {run_name!r}: no parent run")
        if params:
            child.log_params(params)
        if tags:
            child.set_tags(tags)
        status = "FINISHED"
        try:
            yield child
        except BaseException:
            status = "FAILED"
            raise
        finally:
            _terminate(child, status)
            self.not_logged.extend(f"[{run_name}] {line}" for line in child.not_logged)


@contextmanager
def _quiet_mlflow() -> Iterator[None]:
    """Silence MLflow hints that do not apply to visitrisk's frames."""
    with warnings.catch_warnings():
        # Our integer features never hold NaN.
        warnings.filterwarnings("ignore", message=r".*[Ii]nteger column", category=UserWarning)
        yield


def _loggable_features(features: pd.DataFrame) -> pd.DataFrame:
    """Categorical columns as text: MLflow schemas and data sets have no category type."""
    categorical = [
        name for name, dtype in features.dtypes.items() if isinstance(dtype, pd.CategoricalDtype)
    ]
    return features.astype(dict.fromkeys(categorical, "str"))


def _input_schema(features: pd.DataFrame) -> Any:
    """Signature inputs: every feature required (present); NaN allowed in float columns.

    Categorical features are declared ``Any``: MLflow's ``string`` refuses a ``category``
    column, and the pyfunc checks the values against the fit-time categories itself.
    """
    from mlflow.types.schema import AnyType, ColSpec, DataType, Schema

    def column_type(dtype: Any) -> Any:
        if isinstance(dtype, pd.CategoricalDtype):
            return AnyType()
        if pd.api.types.is_bool_dtype(dtype):
            return DataType.boolean
        if pd.api.types.is_integer_dtype(dtype):
            return DataType.long
        if pd.api.types.is_float_dtype(dtype):
            return DataType.double
        return DataType.string

    return Schema(
        [ColSpec(column_type(dtype), str(name)) for name, dtype in features.dtypes.items()]
    )


def _requirements() -> list[str]:
    # Pinned explicitly: MLflow's own inference reloads the model in a subprocess (slow).
    from importlib.metadata import PackageNotFoundError, version

    pins = []
    for package in ("visitrisk", "lightgbm", "scikit-learn", "pandas", "numpy", "scipy"):
        try:
            pins.append(f"{package}=={version(package)}")
        except PackageNotFoundError:
            pins.append(package)
    return pins


def _base_tags() -> dict[str, str]:
    from visitrisk import __version__

    return {"visitrisk.version": __version__}


@contextmanager
def _using_store(uri: str) -> Iterator[None]:
    """Point MLflow's global store at ``uri`` for fluent calls, then restore everything.

    ``mlflow.set_tracking_uri`` also exports ``MLFLOW_TRACKING_URI``, which would send every
    later run of the process (another output folder included) to this store.
    """
    import mlflow
    from mlflow.tracking._model_registry import utils as registry_utils
    from mlflow.tracking._tracking_service import utils as tracking_utils

    names = ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI")
    environment = {name: os.environ.get(name) for name in names}
    # MLflow keeps "never set" as None; the public getters would return a resolved default.
    tracking, registry = tracking_utils._tracking_uri, registry_utils._registry_uri
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    try:
        yield
    finally:
        mlflow.set_tracking_uri(tracking)
        mlflow.set_registry_uri(registry)
        for name, value in environment.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@contextmanager
def _active(run_id: str) -> Iterator[None]:
    """Make ``run_id`` MLflow's active run for fluent calls, restoring the previous state."""
    import mlflow

    active = mlflow.active_run()
    if active is not None and active.info.run_id == run_id:
        yield
        return
    with mlflow.start_run(run_id=run_id, nested=active is not None):
        yield


def _terminate(run: RunLog, status: str) -> None:
    if run.run_id is None:
        return
    try:
        from mlflow import MlflowClient

        MlflowClient(run.tracking_uri).set_terminated(run.run_id, status)
    except Exception as error:
        run._failed("run end", error)


@contextmanager
def start_run(
    *,
    experiment: str = "visitrisk",
    run_name: str | None = None,
    out_dir: str | os.PathLike[str] = ".",
    tracking_uri: str | None = None,
    params: Mapping[str, Any] | None = None,
    tags: Mapping[str, Any] | None = None,
    data_digest: str | None = None,
) -> Iterator[RunLog]:
    """Open an MLflow run that never raises on a tracking failure.

    Sets ``MLFLOW_DISABLE_TELEMETRY=true`` unless the user set it. The store comes from
    :func:`resolve_tracking_uri`; a new experiment on a SQLite store keeps its artifacts in
    ``mlartifacts/`` beside the database. The run is ended (``FINISHED``, or ``FAILED``
    when the block raises) on exit.

    Parameters
    ----------
    experiment : str, default "visitrisk"
        MLflow experiment name (created if missing).
    run_name : str, optional
        Name of the run.
    out_dir : str or path-like, default "."
        Folder of the default SQLite store.
    tracking_uri : str, optional
        Store to use instead of ``$MLFLOW_TRACKING_URI`` or the default.
    params : mapping, optional
        Logged at the start: learner, base-model hyper-parameters
        (:func:`uplift_model_params` or ``ModelSpec.to_params``), windows (days),
        ``min_dpd``, capacities, seed.
    tags : mapping, optional
        Extra tags; ``visitrisk.version`` is always set.
    data_digest : str, optional
        SHA-256 of the input tables (``TrainingSet.metadata["input_digest"]``), set as the
        ``visitrisk.data_digest`` tag.

    Yields
    ------
    RunLog
        Log through it; ``run.not_logged`` lists what failed (empty when all went well).

    Examples
    --------
    >>> with start_run(out_dir="out", params={"learner": "dr"}) as run:  # doctest: +SKIP
    ...     run.log_metrics(report.to_dict())
    ...     logged = run.log_model(model, X, registered_model_name="visitrisk")
    >>> run.not_logged  # doctest: +SKIP
    []
    """
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    uri = resolve_tracking_uri(tracking_uri, out_dir)
    run = RunLog(uri)
    all_tags = {**_base_tags(), **(tags or {})}
    if data_digest:
        all_tags["visitrisk.data_digest"] = data_digest
    try:
        _check_reachable(uri)
        from mlflow import MlflowClient

        client = MlflowClient(uri)
        found = client.get_experiment_by_name(experiment)
        if found is None:
            run.experiment_id = client.create_experiment(
                experiment, artifact_location=_sqlite_artifact_location(uri)
            )
        else:
            run.experiment_id = found.experiment_id
        run.run_id = client.create_run(
            run.experiment_id, run_name=run_name, tags=all_tags
        ).info.run_id
    except Exception as error:
        run._failed("run (params, metrics, data sets, figures, files, model)", error)
    if params:
        run.log_params(params)
    status = "FINISHED"
    try:
        yield run
    except BaseException:
        status = "FAILED"
        raise
    finally:
        _terminate(run, status)


def promote(
    model_name: str, version: str | int, alias: str = "champion", *, tracking_uri: str | None = None
) -> bool:
    """Point a registered model's alias (``champion``, ``challenger``) at a version.

    Parameters
    ----------
    model_name : str
        Registered model name.
    version : str or int
        Version to promote.
    alias : str, default "champion"
        Alias to set; the model is then loadable as ``models:/<model_name>@<alias>``.
    tracking_uri : str, optional
        Store (registry) to use; default as :func:`resolve_tracking_uri` with
        ``out_dir="."``.

    Returns
    -------
    bool
        Whether the alias was set (a failure warns with :class:`TrackingWarning`).
    """
    uri = resolve_tracking_uri(tracking_uri)
    try:
        _check_reachable(uri)
        from mlflow import MlflowClient

        MlflowClient(uri, registry_uri=uri).set_registered_model_alias(
            model_name, alias, str(version)
        )
    except Exception as error:
        warnings.warn(
            f"Alias {alias!r} of {model_name!r} not set to version {version} ({uri}): {error}",
            TrackingWarning,
            2,
        )
        return False
    return True


def load_scoring_model(model_uri: str, *, tracking_uri: str | None = None) -> Any:
    """Load a logged visitrisk model as an MLflow pyfunc.

    Parameters
    ----------
    model_uri : str
        E.g. ``LoggedModel.model_uri``, ``"runs:/<run_id>/model"`` or
        ``"models:/visitrisk@champion"``.
    tracking_uri : str, optional
        Store for ``models:/`` and ``runs:/`` URIs; default as :func:`resolve_tracking_uri`.

    Returns
    -------
    mlflow.pyfunc.PyFuncModel
        ``predict(features)`` returns the columns of ``UpliftModel.score``.
    """
    import mlflow

    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    with _using_store(resolve_tracking_uri(tracking_uri)):
        return mlflow.pyfunc.load_model(model_uri)
