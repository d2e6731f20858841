"""The steps of ``visitrisk run``, written once for every engine.

Private to :mod:`visitrisk.pipeline` (the pandas engine) and :mod:`visitrisk._spark_run`
(the Spark engine). :func:`run_steps` runs the steps in their order, times them, writes
every output and logs the run; an :class:`Engine` supplies only what depends on where the
data is processed:

==============  ======================================  ====================================
step            shared here                             supplied by the engine
==============  ======================================  ====================================
validate        staff required, output folder, model    read and check the tables
audit           ``audit.csv``, summary, warning         the audit of the whole visit log
training_set    snapshots, train/test split, design     how the training rows are built
evaluate, fit   the fits and the metrics                --
score           --                                      features and planning scores
drift           ``drift.csv``, warning                  --
explain         SHAP figures, ``scores.parquet``        SHAP values and reasons
plan            --                                      the planner (whole or per group)
reports         reports, evaluation figure              the planned customers' details
tracking        MLflow, ``run_summary.json``            --
==============  ======================================  ====================================

The keyword options of a run are written once, in :func:`visitrisk.pipeline.run`'s
signature; another engine's ``run`` takes them through :func:`with_run_options`.
"""

from __future__ import annotations

import inspect
import io
import json
import os
import time
import warnings
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from visitrisk._atomic import write_atomic

if TYPE_CHECKING:
    from visitrisk.explain import Explanation
    from visitrisk.labels import TrainingSet
    from visitrisk.pipeline import RunResult
    from visitrisk.planning import PlanRules, VisitPlan

__all__ = ["Engine", "RunSettings", "run_steps", "with_customer_details", "with_run_options"]

#: Name under which every run's model is registered in MLflow.
REGISTERED_MODEL_NAME = "visitrisk-uplift"

#: Default learner of a run without a model specification.
_DEFAULT_LEARNER = "dr"

#: Personal columns of the customers table carried into the plan (the reports mask them).
_PERSONAL_COLUMNS = ("name", "national_id", "phone")

#: Options of a run that :class:`RunSettings` keeps as given (the others are normalised).
_KEPT_AS_GIVEN = (
    "days",
    "model_spec",
    "holdout",
    "seed",
    "lang",
    "tracking_uri",
    "treatment_window",
    "horizon",
    "min_dpd",
    "test_snapshots",
    "design",
)

#: Officers named in the audit warning; the rest are in ``audit.csv``.
_OFFICERS_NAMED = 5


# --------------------------------------------------------------------------------------
# Options
# --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class RunSettings:
    """The keyword options of :func:`visitrisk.pipeline.run`, checked and normalised."""

    as_of: pd.Timestamp
    start: pd.Timestamp
    days: int
    out: Path
    model_spec: str | os.PathLike[str] | None
    holdout: float
    seed: int
    lang: str
    tracking_uri: str | None
    rules: PlanRules
    treatment_window: int
    horizon: int
    min_dpd: int
    test_snapshots: int
    capacities: tuple[float, ...]
    design: str
    progress: Callable[[str], None]

    @classmethod
    def of(cls, arguments: Mapping[str, Any]) -> RunSettings:
        """Bind ``arguments`` (``data`` left out) to :func:`visitrisk.pipeline.run`'s options.

        Omitted options take that signature's defaults; an unknown or missing one is a
        ``TypeError`` as for any call.
        """
        from visitrisk.labels import DESIGNS
        from visitrisk.pipeline import run
        from visitrisk.planning import PlanRules

        options = {name: value for name, value in arguments.items() if name != "data"}
        bound = inspect.signature(run).bind(None, **options)
        bound.apply_defaults()
        given = bound.arguments
        if given["design"] not in DESIGNS:
            raise ValueError(
                f"The 'design' parameter of run must be one of {list(DESIGNS)}. "
                f"Got {given['design']!r} instead."
            )
        say = given["progress"]
        return cls(
            **{name: given[name] for name in _KEPT_AS_GIVEN},
            as_of=pd.Timestamp(given["as_of"]).normalize(),
            start=pd.Timestamp(given["start"]).normalize(),
            out=Path(given["out_dir"]),
            rules=given["rules"] if given["rules"] is not None else PlanRules(),
            capacities=tuple(given["capacities"]),
            progress=say if say is not None else (lambda message: None),
        )


def with_run_options(function: Callable[..., RunResult]) -> Callable[..., RunResult]:
    """Show an engine's ``run`` with every keyword option of :func:`visitrisk.pipeline.run`.

    ``function`` takes ``data``, its own keyword-only options and ``**options`` (passed on
    to :meth:`RunSettings.of`, which checks them against ``pipeline.run``). Its signature
    becomes ``pipeline.run``'s, with its own options before ``progress`` (an own option
    of the same name replaces the shared one), so ``help()`` and ``inspect.signature``
    list every option and the options are written in one place.
    """
    from visitrisk.pipeline import run

    shared = inspect.signature(run)
    own = inspect.signature(function)
    extra = [
        parameter
        for parameter in own.parameters.values()
        if parameter.kind is inspect.Parameter.KEYWORD_ONLY
    ]
    names = {parameter.name for parameter in extra}
    keywords = [
        parameter
        for name, parameter in shared.parameters.items()
        if name not in names | {"progress"} and parameter.kind is inspect.Parameter.KEYWORD_ONLY
    ]
    function.__signature__ = shared.replace(  # type: ignore[attr-defined]
        parameters=[own.parameters["data"], *keywords, *extra, shared.parameters["progress"]],
        return_annotation=own.return_annotation,
    )
    return function


# --------------------------------------------------------------------------------------
# What an engine supplies
# --------------------------------------------------------------------------------------
class Engine(ABC):
    """Where a run processes its data: every step that differs between engines.

    :func:`run_steps` calls the methods in this order, once each, then :meth:`close`.
    """

    #: Recorded as the run summary's ``engine``.
    name: str = ""
    #: Progress message of each step (``{as_of}`` is the scoring date).
    messages: Mapping[str, str] = MappingProxyType(
        {
            "validate": "Validating the contract tables",
            "audit": "Auditing the visit log",
            "training_set": "Building the training set",
            "score": "Scoring customers delinquent on {as_of}",
            "plan": "Planning visits",
        }
    )
    #: Currency of every amount, for the reports.
    currency: str = "CNY"

    @abstractmethod
    def validate(self) -> pd.DataFrame | None:
        """Read and check the contract tables; return the typed staff table (None: absent).

        Raises :class:`~visitrisk.DataError` when the tables break the contract.
        """

    @abstractmethod
    def customer_count(self) -> int:
        """Return the number of customers in the customers table."""

    @abstractmethod
    def audit(self) -> pd.DataFrame:
        """:func:`visitrisk.audit_visits` of the whole visit log (default thresholds)."""

    @abstractmethod
    def log_span(self) -> Any:
        """Return what :func:`visitrisk.labels.monthly_snapshots` reads: payment, visit dates."""

    @abstractmethod
    def training_set_builder(
        self, settings: RunSettings, snapshots: Sequence[pd.Timestamp]
    ) -> Callable[[Sequence[pd.Timestamp], str], TrainingSet]:
        """Return ``build(dates, design)``: the training rows of some of ``snapshots``."""

    @abstractmethod
    def score(
        self, model: Any, training_set: TrainingSet, settings: RunSettings
    ) -> tuple[pd.DataFrame, pd.DataFrame]:
        """Return the features of the customers delinquent on the as-of date and their scores.

        The scores are indexed by ``customer_id`` (ascending) and carry what the planner
        needs: the model's output, branch, place, ``do_not_visit``, ``days_past_due``,
        ``arrears`` and ``last_visit_date``.
        """

    @abstractmethod
    def explain(
        self, model: Any, features: pd.DataFrame, scores: pd.DataFrame, settings: RunSettings
    ) -> tuple[Explanation, pd.DataFrame]:
        """Return the explanation of every score and the scores with their three reasons."""

    @abstractmethod
    def planner(
        self, scores: pd.DataFrame, staff: pd.DataFrame
    ) -> tuple[Callable[..., VisitPlan], Any]:
        """Return the planner (with the signature of :func:`visitrisk.plan_visits`), its input."""

    @abstractmethod
    def customers_of(self, customer_ids: pd.Series) -> pd.DataFrame:
        """Rows of the customers table of some customers (any order)."""

    def close(self) -> None:  # noqa: B027 - most engines hold nothing to release
        """Release what the engine keeps between steps."""


# --------------------------------------------------------------------------------------
# The steps
# --------------------------------------------------------------------------------------
def run_steps(engine: Engine, settings: RunSettings) -> RunResult:
    """Run every step of :func:`visitrisk.pipeline.run` with ``engine``; write; log.

    Returns and raises what :func:`visitrisk.pipeline.run` does.
    """
    from sklearn.base import clone

    from visitrisk.contract import DataError
    from visitrisk.drift import DriftWarning, drift_report, score_drift_warning
    from visitrisk.evaluation import evaluate
    from visitrisk.experiment import _sets_for_evaluation
    from visitrisk.labels import monthly_snapshots
    from visitrisk.pipeline import RunResult
    from visitrisk.report import write_reports
    from visitrisk.tracking import uplift_model_params

    timings: dict[str, float] = {}
    as_of, out, seed = settings.as_of, settings.out, settings.seed

    @contextmanager
    def step(name: str, message: str | None = None) -> Iterator[None]:
        settings.progress(message or engine.messages[name].format(as_of=as_of.date()))
        started = time.perf_counter()
        yield
        timings[name] = round(time.perf_counter() - started, 3)

    with step("validate"):
        staff = engine.validate()
    if staff is None:
        raise DataError(_missing_staff_problem())
    out.mkdir(parents=True, exist_ok=True)
    model_template, spec_params = _model_from_spec(settings.model_spec, seed)

    with step("audit"):
        audit = engine.audit()
        audit_path = out / "audit.csv"
        write_atomic(audit_path, audit.to_csv(index=False).encode("utf-8"))
    with step("training_set"):
        # Labels must be fully observed by the as-of date: nothing later is used.
        snapshots = monthly_snapshots(
            engine.log_span(),
            settings.treatment_window,
            settings.horizon,
            before=as_of + pd.Timedelta(days=1),
        )
        training_set, train, test = _sets_for_evaluation(
            engine.training_set_builder(settings, snapshots),
            snapshots,
            settings.test_snapshots,
            settings.design,
        )
    with step("evaluate", "Fitting on earlier snapshots and evaluating on the latest"):
        evaluated_model = clone(model_template).fit(train)
        evaluation = evaluate(
            evaluated_model, test, capacities=settings.capacities, random_state=seed
        )
    with step("fit", "Refitting on every labelled snapshot"):
        model = clone(model_template).fit(training_set)
    with step("score"):
        features, scores = engine.score(model, training_set, settings)
    with step("drift", "Comparing the customers scored with the training population"):
        # The reference scores come from the scoring model, on the rows it learned from.
        reference = _one_row_per_customer_and_snapshot(training_set).X
        drift = drift_report(reference, features, model.predict(reference), scores["uplift"])
        drift_path = out / "drift.csv"
        write_atomic(drift_path, drift.to_csv(index=False).encode("utf-8"))
        drift_warning = score_drift_warning(drift)
        if drift_warning:
            warnings.warn(drift_warning, DriftWarning, stacklevel=3)
    with step("explain", "Explaining every score"):
        explanation, scores = engine.explain(model, features, scores, settings)
        shap_figures = explanation.save_figures(out / "figures", lang=settings.lang)
        # Kept so that `visitrisk plan` can re-plan with other staff or rules, no refit.
        scores_path = out / "scores.parquet"
        write_atomic(scores_path, scores.to_parquet())
    with step("plan"):
        plan_visits, planned_scores = engine.planner(scores, staff)
        plan = plan_visits(
            planned_scores,
            staff,
            settings.start,
            settings.days,
            rules=settings.rules,
            holdout=settings.holdout,
            seed=settings.seed,
        )
    with step("reports", "Writing the reports"):
        outputs = write_reports(
            with_customer_details(plan.plan, engine.customers_of(plan.plan["customer_id"])),
            plan.exclusions,
            {**plan.summary, **_label_settings(settings)},
            out,
            lang=settings.lang,
            currency=engine.currency,
        )
        figure_path = out / "figures" / "evaluation.png"
        _save_figure(evaluation.plot(), figure_path)
        outputs["evaluation_png"] = figure_path
        outputs["scores"] = scores_path
        outputs["drift_csv"] = drift_path
        outputs["audit_csv"] = audit_path
        outputs["figures"] = out / "figures"

    metadata = training_set.metadata
    summary: dict[str, Any] = {
        "engine": engine.name,
        **_label_settings(settings),
        "plan_start": str(settings.start.date()),
        "plan_days": settings.days,
        "seed": seed,
        "input_digest": str(metadata.get("input_digest", "")),
        "model": {**spec_params, **uplift_model_params(model)},
        "training": {
            "snapshots": [str(stamp.date()) for stamp in snapshots],
            "design": settings.design,
            "rows": len(training_set),
            "train_rows": len(train),
            "test_rows": len(test),
            "dropped": metadata.get("dropped", {}),
            **({"sampling": metadata["sampling"]} if "sampling" in metadata else {}),
        },
        "metrics": evaluation.to_dict(),
        "plan": plan.summary,
        "counts": _run_counts(engine.customer_count(), len(scores), plan),
        "drift": _drift_summary(drift, drift_warning),
        "audit": audit_summary(audit),
        "timings_seconds": timings,
    }
    with step("tracking", "Logging to MLflow"):
        not_logged = _log_run(
            summary,
            settings=settings,
            training=(train, test),
            evaluation=evaluation,
            model=model,
            features=features,
            files=[outputs["plan_csv"], outputs["exclusions_csv"], figure_path, *shap_figures],
            tables={"drift/drift.csv": drift, "audit/audit.csv": audit},
        )
    engine.close()
    summary["not_logged"] = not_logged
    summary_path = out / "run_summary.json"
    text = json.dumps(summary, indent=2, default=_json_default, ensure_ascii=False)
    write_atomic(summary_path, text.encode("utf-8"))
    outputs["run_summary"] = summary_path
    return RunResult(out_dir=out, outputs=outputs, summary=summary, not_logged=not_logged)


# --------------------------------------------------------------------------------------
# Summary
# --------------------------------------------------------------------------------------
def _label_settings(settings: RunSettings) -> dict[str, Any]:
    """Return the as-of date and the label windows: what ``visitrisk measure`` reads back."""
    return {
        "as_of": str(settings.as_of.date()),
        "treatment_window": settings.treatment_window,
        "horizon": settings.horizon,
    }


def audit_summary(audit: pd.DataFrame) -> dict[str, Any]:
    """Summarise a visit-log audit for the run summary, with a warning naming officers.

    An officer is flagged when at least one record they made is flagged, for any reason.
    """
    from visitrisk.audit import AUDIT_REASONS

    records = audit.drop_duplicates("visit_index")
    by_officer = (
        records.dropna(subset=["officer_id"])
        .groupby("officer_id", sort=True)["visit_index"]
        .count()
        .sort_values(ascending=False, kind="stable")
    )
    warning = None
    if len(by_officer):
        named = ", ".join(
            f"{officer} ({count:,})" for officer, count in by_officer.head(_OFFICERS_NAMED).items()
        )
        more = (
            f" and {len(by_officer) - _OFFICERS_NAMED:,} more"
            if len(by_officer) > _OFFICERS_NAMED
            else ""
        )
        warning = (
            f"The visit-log audit flags records of {len(by_officer):,} officer(s): {named}"
            f"{more} (flagged records in brackets). Check them before trusting the visit "
            "effect; every flag and its reason is in audit.csv."
        )
    return {
        "visits_audited": int(audit.attrs.get("visits_audited", 0)),
        "records_flagged": len(records),
        "flags_by_reason": {
            reason: int((audit["reason"] == reason).sum()) for reason in AUDIT_REASONS
        },
        "officers_flagged": len(by_officer),
        "flagged_records_by_officer": {str(k): int(v) for k, v in by_officer.items()},
        "skipped_checks": dict(audit.attrs.get("skipped_checks", {})),
        "not_checked": dict(audit.attrs.get("not_checked", {})),
        "warning": warning,
    }


def _run_counts(customers: int, delinquent_scored: int, plan: VisitPlan) -> dict[str, int]:
    """Count the run summary's customers, scored, planned, held-out and excluded rows."""
    return {
        "customers": int(customers),
        "delinquent_scored": int(delinquent_scored),
        "planned_visits": int((plan.plan["arm"] == "visit").sum()),
        "holdout": int((plan.plan["arm"] == "holdout").sum()),
        "excluded": len(plan.exclusions),
    }


def _drift_summary(drift: pd.DataFrame, warning: str | None) -> dict[str, Any]:
    """Summarise drift for the run summary: the score's PSI and the major-band features.

    The calendar month is left out of the major features: a single scoring date always
    differs from a year of training months.
    """
    from visitrisk.drift import SCORE_NAME

    return {
        "uplift_score_psi": float(drift.set_index("feature").at[SCORE_NAME, "psi"]),
        "major_features": drift.loc[
            (drift["band"] == "major") & ~drift["calendar"], "feature"
        ].tolist(),
        "warning": warning,
    }


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    return str(value)


# --------------------------------------------------------------------------------------
# Helpers of the steps
# --------------------------------------------------------------------------------------
def _missing_staff_problem() -> pd.DataFrame:
    from visitrisk._problems import problem, problem_frame

    message = (
        "staff: the table is needed to plan visits (officers, working days, "
        "visits per day) and was not given (rule missing_table)."
    )
    return problem_frame([problem("staff", "", "missing_table", message)])


def _model_from_spec(model_spec: str | os.PathLike[str] | None, seed: int) -> tuple[Any, dict]:
    if model_spec is None:
        from visitrisk.learners import UpliftModel

        return UpliftModel(learner=_DEFAULT_LEARNER, random_state=seed), {"spec": "default"}
    from visitrisk.specs import load_model_spec

    spec = load_model_spec(model_spec)
    return spec.build(random_state=seed), {"spec": str(model_spec), **spec.to_params()}


def _one_row_per_customer_and_snapshot(training_set: TrainingSet) -> TrainingSet:
    """Drop a trial row's second clone: one row per customer and snapshot.

    Drift compares populations of customers; a trial row kept in both arms would count
    twice.
    """
    from visitrisk.experiment import _take

    keys = pd.DataFrame({"snapshot": training_set.snapshot, "customer": training_set.customer_id})
    first = ~keys.duplicated().to_numpy()
    return training_set if first.all() else _take(training_set, first)


def with_customer_details(plan: pd.DataFrame, customers: pd.DataFrame) -> pd.DataFrame:
    """Attach place and personal columns for the reports, which mask the personal ones."""
    wanted = [
        column
        for column in ("township", "village", *_PERSONAL_COLUMNS)
        if column in customers.columns and customers[column].notna().any()
    ]
    if not wanted:
        return plan
    details = customers.set_index("customer_id")[wanted]
    return plan.join(details, on="customer_id")


def _save_figure(figure: Any, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110)
    write_atomic(path, buffer.getvalue())


def _log_run(
    summary: dict[str, Any],
    *,
    settings: RunSettings,
    training: tuple[TrainingSet, TrainingSet],
    evaluation: Any,
    model: Any,
    features: pd.DataFrame,
    files: list[Path],
    tables: Mapping[str, pd.DataFrame],
) -> list[str]:
    from visitrisk.drift import drift_metrics
    from visitrisk.tracking import promote, start_run, uplift_model_params

    train, test = training
    params = {
        **uplift_model_params(model),
        "treatment_window": train.metadata.get("treatment_window"),
        "horizon": train.metadata.get("horizon"),
        "min_dpd": train.metadata.get("min_dpd"),
        "design": train.metadata.get("design"),
        "seed": summary["seed"],
        "as_of": summary["as_of"],
        "plan_start": summary["plan_start"],
        "plan_days": summary["plan_days"],
    }
    plan_metrics = {
        f"plan_{name}": float(value)
        for name, value in {**summary["plan"], **summary["counts"]}.items()
        if isinstance(value, int | float) and not isinstance(value, bool)
    }
    audit = summary["audit"]
    audit_metrics = {
        "audit_visits_audited": audit["visits_audited"],
        "audit_records_flagged": audit["records_flagged"],
        "audit_officers_flagged": audit["officers_flagged"],
        **{f"audit_flags_{reason}": n for reason, n in audit["flags_by_reason"].items()},
    }
    with start_run(
        run_name=f"run {summary['as_of']}",
        out_dir=settings.out,
        tracking_uri=settings.tracking_uri,
        params=params,
        data_digest=summary["input_digest"],
        tags={"visitrisk.kind": "run", "visitrisk.engine": summary["engine"]},
    ) as run_log:
        run_log.log_training_set(train, "training")
        run_log.log_training_set(test, "test")
        run_log.log_evaluation(evaluation)
        run_log.log_metrics(plan_metrics)
        run_log.log_metrics(drift_metrics(tables["drift/drift.csv"]))
        run_log.log_metrics({name: float(value) for name, value in audit_metrics.items()})
        for artifact_file, table in tables.items():
            run_log.log_table(table, artifact_file)
        for path in files:
            run_log.log_file(path, "plan" if path.suffix == ".csv" else "figures")
        logged = run_log.log_model(model, features, registered_model_name=REGISTERED_MODEL_NAME)
        if logged is not None and logged.version is not None:
            # A new model is a challenger; making it champion is a person's decision.
            promote(
                REGISTERED_MODEL_NAME,
                logged.version,
                "challenger",
                tracking_uri=run_log.tracking_uri,
            )
        summary["mlflow"] = {"tracking_uri": run_log.tracking_uri, "run_id": run_log.run_id}
    return list(run_log.not_logged)
