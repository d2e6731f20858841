"""Experiments: several model specs on the same data and split, compared in MLflow.

:func:`run_experiment` builds the training set once (the emulated trial by default),
splits it by time (train on earlier snapshots, test on the landmark rows of the latest
ones), fits every model spec as a child run of one parent run, evaluates each with the same
out-of-fold test-set nuisances (IPW and doubly robust metrics), and, on simulated data,
measures the *true* value each model captures against the oracle. The comparison table
goes to the parent run (``comparison.csv``) and to the output folder; the runs compare side
by side in the MLflow UI or with ``mlflow.search_runs(experiment_names=[name])``.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from visitrisk._checks import capacity_label
from visitrisk.labels import TrainingSet

__all__ = [
    "ExperimentResult",
    "run_experiment",
    "split_by_time",
    "true_value_captured",
]


@dataclass(frozen=True)
class ExperimentResult:
    """What :func:`run_experiment` produced.

    Attributes
    ----------
    comparison : pandas.DataFrame
        One row per model: learner, fit time (seconds), Qini and uplift AUC (IPW), the
        doubly robust incremental value at each capacity (CNY, with 95 % bounds), per-arm
        AUC and, on simulated data, the share of the oracle's true value captured.
    metrics : dict of str to dict
        Every metric logged for each model, by model name.
    tracking_uri : str
        The MLflow store.
    experiment_name : str
        The MLflow experiment.
    parent_run_id : str or None
        ``None`` when the store could not be reached.
    child_run_ids : dict of str to str
        Run id of each model's child run.
    not_logged : list of str
        What could not be logged (empty when all went well).
    comparison_path : pathlib.Path
        The comparison table written as CSV in the output folder.
    """

    comparison: pd.DataFrame
    metrics: dict[str, dict[str, float]]
    tracking_uri: str
    experiment_name: str
    parent_run_id: str | None
    child_run_ids: dict[str, str] = field(default_factory=dict)
    not_logged: list[str] = field(default_factory=list)
    comparison_path: Path | None = None


def _take(training_set: TrainingSet, rows: np.ndarray) -> TrainingSet:
    def pick(series: pd.Series) -> pd.Series:
        return series[rows].reset_index(drop=True)

    snapshots = sorted(pd.unique(training_set.snapshot[rows]))
    return replace(
        training_set,
        X=training_set.X[rows].reset_index(drop=True),
        treatment=pick(training_set.treatment),
        cured=pick(training_set.cured),
        value_at_stake=pick(training_set.value_at_stake),
        snapshot=pick(training_set.snapshot),
        customer_id=pick(training_set.customer_id),
        weight=pick(training_set.weight),
        timing=training_set.timing[rows].reset_index(drop=True),
        metadata={**training_set.metadata, "snapshots": [pd.Timestamp(s) for s in snapshots]},
    )


def split_by_time(
    training_set: TrainingSet, test_snapshots: int = 2
) -> tuple[TrainingSet, TrainingSet]:
    """Split a training set in time: the latest snapshots for testing, the rest for training.

    Training rows whose outcome window (snapshot + horizon) reaches the first test snapshot
    are dropped, so no training label is observed during the test period. A customer can
    appear on both sides, at different dates, as when the model is used; evaluation folds
    and bootstrap group the test rows by customer.

    Parameters
    ----------
    training_set : TrainingSet
        Rows of several snapshots (:func:`visitrisk.build_training_set`).
    test_snapshots : int, default 2
        Number of latest snapshots to test on.

    Returns
    -------
    tuple of TrainingSet
        ``(train, test)``, each with ``metadata["snapshots"]`` set to its own dates.

    Raises
    ------
    ValueError
        If fewer than ``test_snapshots + 1`` snapshots have rows, or no training snapshot
        ends before the first test snapshot.
    """
    stamps = sorted(pd.unique(training_set.snapshot))
    if (
        isinstance(test_snapshots, bool)
        or not isinstance(test_snapshots, int)
        or test_snapshots < 1
    ):
        raise ValueError(
            "The 'test_snapshots' parameter of split_by_time must be a positive int. "
            f"Got {test_snapshots!r} instead."
        )
    if len(stamps) <= test_snapshots:
        raise ValueError(
            f"split_by_time: the training set has rows on {len(stamps)} snapshot(s); "
            f"testing on {test_snapshots} leaves none to train on."
        )
    first_test = pd.Timestamp(stamps[-test_snapshots])
    horizon = pd.Timedelta(days=int(training_set.metadata["horizon"]))
    snapshot = pd.to_datetime(training_set.snapshot)
    test_rows = (snapshot >= first_test).to_numpy()
    train_rows = (snapshot + horizon < first_test).to_numpy()
    if not train_rows.any():
        raise ValueError(
            f"split_by_time: no snapshot's {horizon.days}-day horizon ends before the first "
            f"test snapshot {first_test.date()}; add earlier snapshots."
        )
    return _take(training_set, train_rows), _take(training_set, test_rows)


def _sets_for_evaluation(
    build: Callable[[Sequence[pd.Timestamp], str], TrainingSet],
    snapshots: Sequence[pd.Timestamp],
    test_snapshots: int,
    design: str,
) -> tuple[TrainingSet, TrainingSet, TrainingSet]:
    """Return ``(full, train, test)``: rows to refit on and to fit on, in ``design``; test rows.

    ``build(snapshots, design)`` builds a training set (e.g. :func:`visitrisk.
    build_training_set` with the run's parameters bound). ``train`` is ``full`` split by
    :func:`split_by_time`. ``test`` always holds landmark rows of the test snapshots, the
    only rows :func:`visitrisk.evaluate` accepts: the trial design's rows are weighted
    clones (a customer in both arms, one arm's clone cut short at the first deviation),
    while ``evaluate`` fits its own propensity and outcome models on observed customers
    with their observed visits and weighs nothing. The landmark rows are such customers,
    and the ones who cured inside the window, who could no longer be visited and would
    read "not visited" whatever the plan, are out (immortal time). What the metrics then
    judge is the ranking among customers still delinquent after the window, not the
    trial's estimand: they compare models, the trial rows train them.

    The trial's visit-hazard model behind ``train``'s weights is fitted on the days of
    every snapshot of ``full``, test snapshots included. It learns whom the bank visits;
    of the test outcomes it sees only that a cure inside the window ends the days at risk,
    and the evaluated model reads none of that through a weight of another customer's
    training row. Fitting it again without the test snapshots would cost a second trial
    build per run for no measurable gain.
    """
    full = build(snapshots, design)
    train, test = split_by_time(full, test_snapshots)
    if design != "landmark":
        test = build(list(test.metadata["snapshots"]), "landmark")
    return full, train, test


def true_value_captured(
    score: np.ndarray,
    true_uplift: np.ndarray,
    value: np.ndarray,
    capacities: tuple[float, ...] = (0.1, 0.2, 0.3),
) -> dict[str, float]:
    """Return the true incremental value of the top-scored rows, against the oracle.

    Parameters
    ----------
    score : numpy.ndarray
        The model's ranking score per row (e.g. ``expected_gain``, CNY).
    true_uplift : numpy.ndarray
        The simulator's true uplift per row (probability units).
    value : numpy.ndarray
        Value at stake per row (CNY).
    capacities : tuple of float
        Shares of rows visited, in (0, 1].

    Returns
    -------
    dict of str to float
        For each capacity ``k``: ``true_value_top_k`` (CNY: sum of true uplift × value over
        the model's top rows), ``oracle_value_top_k`` (the same for the rows with the
        highest true uplift × value) and ``true_value_share_top_k`` (their ratio).
    """
    true_gain = np.asarray(true_uplift, dtype=float) * np.asarray(value, dtype=float)
    # Stable sorts: ties keep row order, so the same scores give the same choice.
    by_model = true_gain[np.argsort(-np.asarray(score, dtype=float), kind="stable")]
    by_oracle = np.sort(true_gain)[::-1]
    metrics = {}
    for share in capacities:
        count = round(share * len(true_gain))
        label = capacity_label(float(share))
        captured, best = by_model[:count].sum(), by_oracle[:count].sum()
        metrics[f"true_value_top_{label}"] = float(captured)
        metrics[f"oracle_value_top_{label}"] = float(best)
        metrics[f"true_value_share_top_{label}"] = float(captured / best) if best > 0 else np.nan
    return metrics


def _arm_auc(scores: pd.DataFrame, test: TrainingSet) -> dict[str, float]:
    from sklearn.metrics import roc_auc_score

    cured = test.cured.to_numpy()
    visited = test.treatment.to_numpy() == 1
    metrics = {}
    for name, rows, column in (
        ("auc_visited", visited, "p_cure_visit"),
        ("auc_not_visited", ~visited, "p_cure_no_visit"),
    ):
        if len(np.unique(cured[rows])) == 2:
            metrics[name] = float(roc_auc_score(cured[rows], scores[column].to_numpy()[rows]))
    return metrics


def _simulation_dates(spec: Any) -> list[pd.Timestamp]:
    """Month-ends late enough to be test snapshots: the truth is computed on them."""
    reach = max(spec.horizon, spec.treatment_window)
    end = pd.Timestamp(spec.simulate["as_of"]) - pd.Timedelta(days=reach)
    return list(pd.date_range(end=end, periods=spec.test_snapshots + 2, freq="ME"))


def _load_data(spec: Any) -> tuple[Any, pd.DataFrame | None]:
    if spec.simulate is None:
        from visitrisk.contract import load_portfolio

        return load_portfolio(spec.folder), None
    from visitrisk.simulate import simulate_portfolio

    settings = spec.simulate
    simulated = simulate_portfolio(
        settings["customers"],
        seed=settings["seed"],
        effect=settings["effect"],
        as_of=settings["as_of"],
        history_months=settings["history_months"],
        treatment_window=spec.treatment_window,
        horizon=spec.horizon,
        truth_dates=_simulation_dates(spec),
    )
    return simulated.portfolio, simulated.truth


def _snapshots(spec: Any, portfolio: Any) -> list[pd.Timestamp]:
    from visitrisk.labels import monthly_snapshots

    labelled = monthly_snapshots(portfolio, spec.treatment_window, spec.horizon)
    if len(labelled) <= spec.test_snapshots:
        raise ValueError(
            f"{spec.source}: the data has {len(labelled)} labelled month-end snapshot(s); "
            f"snapshots.test = {spec.test_snapshots} leaves none to train on."
        )
    test = labelled[-spec.test_snapshots :]
    train = monthly_snapshots(portfolio, spec.treatment_window, spec.horizon, before=test[0])[
        -spec.train_snapshots :
    ]
    return train + test


def _comparison_row(name: str, learner: str, metrics: dict[str, float], spec: Any) -> dict:
    row: dict[str, Any] = {"model": name, "learner": learner}
    keys = ["fit_seconds", "qini_auc_ipw", "uplift_auc_ipw", "auc_visited", "auc_not_visited"]
    for share in spec.capacities:
        label = capacity_label(float(share))
        stem = f"value_weighted_top_{label}_dr"
        keys += [stem, f"{stem}_ci_low", f"{stem}_ci_high", f"true_value_share_top_{label}"]
    row.update({key: metrics.get(key, np.nan) for key in keys})
    return row


def run_experiment(
    spec: Any,
    *,
    out_dir: str | os.PathLike[str] = "experiment_output",
    tracking_uri: str | None = None,
    log_models: bool = True,
    design: str = "trial",
    progress: Callable[[str], None] | None = None,
) -> ExperimentResult:
    """Fit and compare several model specs on one training set and time-based split.

    Parameters
    ----------
    spec : ExperimentSpec or str or path-like
        A spec or the path of its YAML file (:func:`visitrisk.specs.load_experiment_spec`).
    out_dir : str or path-like, default "experiment_output"
        Folder for ``comparison.csv`` and the default SQLite store ``mlflow.db``.
    tracking_uri : str, optional
        MLflow store; default as :func:`visitrisk.tracking.resolve_tracking_uri`.
    log_models : bool, default True
        Log each fitted model as a pyfunc in its child run.
    design : {"trial", "landmark"}, default "trial"
        Construction of the rows the models learn from (:func:`visitrisk.
        build_training_set`); every model is evaluated on the landmark rows of the test
        snapshots either way.
    progress : callable, optional
        Called with a short message before each step (e.g. a console's ``print``).

    Returns
    -------
    ExperimentResult
        The comparison table, the metrics, and where the runs are.
    """
    from visitrisk.evaluation import evaluate
    from visitrisk.labels import DESIGNS, build_training_set
    from visitrisk.nuisance import fit_nuisances
    from visitrisk.specs import ExperimentSpec, load_experiment_spec
    from visitrisk.tracking import start_run

    if design not in DESIGNS:
        raise ValueError(
            f"The 'design' parameter of run_experiment must be one of {list(DESIGNS)}. "
            f"Got {design!r} instead."
        )
    if not isinstance(spec, ExperimentSpec):
        spec = load_experiment_spec(spec)
    say = progress or (lambda message: None)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)

    say("Loading data" if spec.simulate is None else "Simulating a portfolio")
    portfolio, truth = _load_data(spec)
    snapshots = _snapshots(spec, portfolio)
    say(f"Building the training set on {len(snapshots)} month-end snapshots")
    full, train, test = _sets_for_evaluation(
        lambda dates, rows_design: build_training_set(
            portfolio,
            dates,
            spec.treatment_window,
            spec.horizon,
            spec.min_dpd,
            design=rows_design,
            random_state=spec.seed,
            n_jobs=spec.n_jobs,
        ),
        snapshots,
        spec.test_snapshots,
        design,
    )
    say(f"Fitting test-set nuisances ({len(test):,} rows)")
    groups = test.customer_id.to_numpy()
    nuisances = fit_nuisances(
        test.X,
        test.cured.to_numpy(),
        test.treatment.to_numpy(),
        groups,
        random_state=spec.seed,
        n_jobs=spec.n_jobs,
    )
    true_uplift = None
    if truth is not None:
        # Dates may differ in resolution ([us] vs [ns]): align them before the merge.
        keys = pd.DataFrame(
            {
                "as_of": test.snapshot.astype("datetime64[ns]"),
                "customer_id": test.customer_id.astype(str),
            }
        )
        known = truth[["as_of", "customer_id", "uplift"]].astype(
            {"as_of": "datetime64[ns]", "customer_id": str}
        )
        matched = keys.merge(known, how="left", on=["as_of", "customer_id"])
        true_uplift = matched["uplift"].to_numpy()

    data = spec.simulate or {"folder": str(spec.folder)}
    params = {
        **{f"data.{key}": value for key, value in data.items()},
        "treatment_window": spec.treatment_window,
        "horizon": spec.horizon,
        "min_dpd": spec.min_dpd,
        "design": design,
        "capacities": list(spec.capacities),
        "seed": spec.seed,
        "train_snapshots": [str(s.date()) for s in train.metadata["snapshots"]],
        "test_snapshots": [str(s.date()) for s in test.metadata["snapshots"]],
        "train_rows": len(train),
        "test_rows": len(test),
        "models": [model.name for model in spec.models],
    }
    rows, all_metrics, child_ids = [], {}, {}
    with start_run(
        experiment=spec.name,
        run_name=spec.name,
        out_dir=out,
        tracking_uri=tracking_uri,
        params=params,
        data_digest=str(full.metadata["input_digest"]),
        tags={"visitrisk.kind": "experiment", "visitrisk.spec": spec.source},
    ) as parent:
        parent.log_training_set(train, "training")
        parent.log_training_set(test, "test")
        for model_spec in spec.models:
            say(f"Fitting {model_spec.name}")
            child_params = {**model_spec.to_params(), "seed": spec.seed, "spec": model_spec.source}
            with parent.child(model_spec.name, params=child_params) as child:
                started = time.perf_counter()
                model = model_spec.build(random_state=spec.seed, n_jobs=spec.n_jobs).fit(train)
                fit_seconds = time.perf_counter() - started
                scores = model.score(test.X.assign(value_at_stake=test.value_at_stake))
                report = evaluate(
                    model,
                    test,
                    capacities=spec.capacities,
                    nuisances=nuisances,
                    random_state=spec.seed,
                )
                child.log_evaluation(report)
                metrics = {"fit_seconds": fit_seconds, **_arm_auc(scores, test)}
                if true_uplift is not None and not np.isnan(true_uplift).any():
                    metrics.update(
                        true_value_captured(
                            scores["expected_gain"].to_numpy(),
                            true_uplift,
                            test.value_at_stake.to_numpy(),
                            spec.capacities,
                        )
                    )
                child.log_metrics(metrics)
                metrics.update(report.to_dict())
                if log_models:
                    child.log_model(model, test.X)
                if child.run_id is not None:
                    child_ids[model_spec.name] = child.run_id
            all_metrics[model_spec.name] = metrics
            rows.append(_comparison_row(model_spec.name, model_spec.learner, metrics, spec))
        comparison = pd.DataFrame(rows)
        comparison_path = out / "comparison.csv"
        comparison.to_csv(comparison_path, index=False)
        parent.log_table(comparison, "comparison.csv")
    return ExperimentResult(
        comparison=comparison,
        metrics=all_metrics,
        tracking_uri=parent.tracking_uri,
        experiment_name=spec.name,
        parent_run_id=parent.run_id,
        child_run_ids=child_ids,
        not_logged=list(parent.not_logged),
        comparison_path=comparison_path,
    )
