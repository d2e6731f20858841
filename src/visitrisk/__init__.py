"""visitrisk: whom to send on a field visit, and why.

Uplift models of the effect of a collections visit on a delinquent customer's chance to
cure, exact explanations, and visit plans that fit the staff a bank has.
"""

from typing import TYPE_CHECKING

from visitrisk.contract import DataError, Portfolio, load_portfolio
from visitrisk.features import build_features, feature_registry
from visitrisk.labels import TrainingSet, build_training_set
from visitrisk.ledger import customer_ledger, loan_ledger, settle_installments

if TYPE_CHECKING:
    from visitrisk.learners import DRLearner, SLearner, TLearner, UpliftModel, XLearner

__version__ = "0.1.0.dev0"

# scikit-learn (with SciPy) costs seconds to import: these load on first use.
_LAZY = {
    name: "visitrisk.learners"
    for name in ("DRLearner", "SLearner", "TLearner", "UpliftModel", "XLearner")
}


def __getattr__(name: str) -> object:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'visitrisk' has no attribute {name!r}")


__all__ = [
    "DRLearner",
    "DataError",
    "Portfolio",
    "SLearner",
    "TLearner",
    "TrainingSet",
    "UpliftModel",
    "XLearner",
    "__version__",
    "build_features",
    "build_training_set",
    "customer_ledger",
    "feature_registry",
    "load_portfolio",
    "loan_ledger",
    "settle_installments",
]
