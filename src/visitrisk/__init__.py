"""visitrisk: whom to send on a field visit, and why.

Uplift models of the effect of a collections visit on a delinquent customer's chance to
cure, exact explanations, and visit plans that fit the staff a bank has.
"""

from visitrisk.contract import DataError, Portfolio
from visitrisk.learners import DRLearner, SLearner, TLearner, UpliftModel, XLearner

__version__ = "0.1.0.dev0"

__all__ = [
    "DRLearner",
    "DataError",
    "Portfolio",
    "SLearner",
    "TLearner",
    "UpliftModel",
    "XLearner",
    "__version__",
]
