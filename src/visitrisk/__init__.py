"""visitrisk: whom to send on a field visit, and why.

Uplift models of the effect of a collections visit on a delinquent customer's chance to
cure, exact explanations, and visit plans that fit the staff a bank has.
"""

from visitrisk.contract import DataError, Portfolio, load_portfolio
from visitrisk.ledger import customer_ledger, loan_ledger, settle_installments
from visitrisk.simulate import SimulatedPortfolio, simulate_portfolio

__version__ = "0.1.0.dev0"

__all__ = [
    "DataError",
    "Portfolio",
    "SimulatedPortfolio",
    "__version__",
    "customer_ledger",
    "load_portfolio",
    "loan_ledger",
    "settle_installments",
    "simulate_portfolio",
]
