"""visitrisk: whom to send on a field visit, and why.

Uplift models of the effect of a collections visit on a delinquent customer's chance to
cure, exact explanations, and visit plans that fit the staff a bank has.
"""

from visitrisk.contract import DataError, Portfolio, load_portfolio
from visitrisk.features import build_features, feature_registry
from visitrisk.labels import TrainingSet, build_training_set
from visitrisk.learners import DRLearner, SLearner, TLearner, UpliftModel, XLearner
from visitrisk.ledger import customer_ledger, loan_ledger, settle_installments

__version__ = "0.1.0.dev0"

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
