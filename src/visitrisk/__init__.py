"""visitrisk: whom to send on a field visit, and why.

Uplift models of the effect of a collections visit on a delinquent customer's chance to
cure, exact explanations, and visit plans that fit the staff a bank has.
"""

# Names are listed once in __all__ below; everything else in the package is private.
from typing import TYPE_CHECKING

from visitrisk.audit import audit_problems, audit_visits
from visitrisk.contract import DataError, Portfolio, load_portfolio
from visitrisk.drift import drift_report, population_stability
from visitrisk.evaluation import (
    EvaluationReport,
    evaluate,
    evaluate_scores,
    plot_calibration,
    plot_qini_curve,
)
from visitrisk.explain import Explanation, explain  # eager: lazy would lose to the submodule
from visitrisk.features import build_features, feature_registry
from visitrisk.labels import TrainingSet, build_training_set
from visitrisk.ledger import customer_ledger, loan_ledger, settle_installments
from visitrisk.measure import PlanMeasurement, measure_plan
from visitrisk.metrics import (
    perfect_qini_curve,
    perfect_uplift_curve,
    qini_auc_score,
    qini_auc_score_ipw,
    qini_curve,
    qini_curve_ipw,
    uplift_at_k,
    uplift_auc_score,
    uplift_auc_score_ipw,
    uplift_curve,
    uplift_curve_ipw,
)
from visitrisk.nuisance import fit_nuisances, pseudo_outcomes
from visitrisk.planning import PlanRules, VisitPlan, plan_visits
from visitrisk.policy import average_treatment_effect, policy_value, uplift_calibration
from visitrisk.report import (
    mask_personal_columns,
    write_csv,
    write_excel,
    write_html,
    write_reports,
)
from visitrisk.simulate import SimulatedPortfolio, simulate_forward, simulate_portfolio

if TYPE_CHECKING:
    from visitrisk.experiment import run_experiment, split_by_time
    from visitrisk.learners import DRLearner, SLearner, TLearner, UpliftModel, XLearner
    from visitrisk.specs import ModelSpec, load_experiment_spec, load_model_spec
    from visitrisk.tracking import load_scoring_model, promote, start_run

__version__ = "0.1.0.dev0"

# scikit-learn (with SciPy) costs seconds to import: these load on first use.
_LAZY = {
    name: "visitrisk.learners"
    for name in ("DRLearner", "SLearner", "TLearner", "UpliftModel", "XLearner")
}
# MLflow tracking, model specs and experiments (MLflow itself loads on first use).
_LAZY.update(
    dict.fromkeys(("ModelSpec", "load_experiment_spec", "load_model_spec"), "visitrisk.specs")
)
_LAZY.update(dict.fromkeys(("load_scoring_model", "promote", "start_run"), "visitrisk.tracking"))
_LAZY.update(dict.fromkeys(("run_experiment", "split_by_time"), "visitrisk.experiment"))


def __getattr__(name: str) -> object:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'visitrisk' has no attribute {name!r}")


__all__ = [
    "DRLearner",
    "DataError",
    "EvaluationReport",
    "Explanation",
    "ModelSpec",
    "PlanMeasurement",
    "PlanRules",
    "Portfolio",
    "SLearner",
    "SimulatedPortfolio",
    "TLearner",
    "TrainingSet",
    "UpliftModel",
    "VisitPlan",
    "XLearner",
    "__version__",
    "audit_problems",
    "audit_visits",
    "average_treatment_effect",
    "build_features",
    "build_training_set",
    "customer_ledger",
    "drift_report",
    "evaluate",
    "evaluate_scores",
    "explain",
    "feature_registry",
    "fit_nuisances",
    "load_experiment_spec",
    "load_model_spec",
    "load_portfolio",
    "load_scoring_model",
    "loan_ledger",
    "mask_personal_columns",
    "measure_plan",
    "perfect_qini_curve",
    "perfect_uplift_curve",
    "plan_visits",
    "plot_calibration",
    "plot_qini_curve",
    "policy_value",
    "population_stability",
    "promote",
    "pseudo_outcomes",
    "qini_auc_score",
    "qini_auc_score_ipw",
    "qini_curve",
    "qini_curve_ipw",
    "run_experiment",
    "settle_installments",
    "simulate_forward",
    "simulate_portfolio",
    "split_by_time",
    "start_run",
    "uplift_at_k",
    "uplift_auc_score",
    "uplift_auc_score_ipw",
    "uplift_calibration",
    "uplift_curve",
    "uplift_curve_ipw",
    "write_csv",
    "write_excel",
    "write_html",
    "write_reports",
]
