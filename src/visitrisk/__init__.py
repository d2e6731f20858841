"""visitrisk: whom to send on a field visit, and why.

Uplift models of the effect of a collections visit on a delinquent customer's chance to
cure, exact explanations, and visit plans that fit the staff a bank has.
"""

from visitrisk.contract import DataError, Portfolio
from visitrisk.report import (
    mask_personal_columns,
    write_csv,
    write_excel,
    write_html,
    write_reports,
)

__version__ = "0.1.0.dev0"

__all__ = [
    "DataError",
    "Portfolio",
    "__version__",
    "mask_personal_columns",
    "write_csv",
    "write_excel",
    "write_html",
    "write_reports",
]
