"""The data contract: the input tables, their validation, and the :class:`Portfolio`.

See ``shared/DATA_CONTRACT.md`` for the meaning of every table and column.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

__all__ = ["TABLES", "DataError", "Portfolio"]

#: Contract tables in dependency order: a table's foreign keys point only to earlier ones.
TABLES: tuple[str, ...] = (
    "branches",
    "customers",
    "loans",
    "installments",
    "payments",
    "visits",
    "staff",
)

#: Columns of every problem report (errors in :class:`DataError`, ``Portfolio.warnings``).
PROBLEM_COLUMNS: tuple[str, ...] = ("table", "column", "rule", "count", "examples", "message")


def _empty_problems() -> pd.DataFrame:
    return pd.DataFrame({name: pd.Series(dtype=object) for name in PROBLEM_COLUMNS})


class DataError(ValueError):
    """Input tables break the data contract.

    Every problem found is listed at once. ``problems`` holds them as a DataFrame with
    columns ``table``, ``column``, ``rule`` (a reason code), ``count`` (rows affected),
    ``examples`` (up to 5 offending ids) and ``message`` (a plain sentence).
    """

    def __init__(self, problems: pd.DataFrame) -> None:
        self.problems = problems.reset_index(drop=True)
        lines = [f"{len(self.problems)} problem(s) in the input tables:"]
        lines += [f"  - {message}" for message in self.problems["message"]]
        super().__init__("\n".join(lines))


@dataclass(frozen=True, eq=False)
class Portfolio:
    """A validated loan book: every contract table, typed.

    Identifiers are ``str``, dates ``datetime64`` at midnight, amounts ``float64``,
    flags ``bool``. Optional tables are ``None`` when not given (``branches``, ``staff``);
    ``visits`` is an empty, typed table when the bank has no visit log. Extra columns
    supplied by the bank are kept.

    Attributes
    ----------
    warnings : pandas.DataFrame
        Suspicious but legal data (same columns as ``DataError.problems``).
    currency : str
        Currency of every amount column (default ``"CNY"``).
    """

    customers: pd.DataFrame
    loans: pd.DataFrame
    installments: pd.DataFrame
    payments: pd.DataFrame
    visits: pd.DataFrame
    staff: pd.DataFrame | None = None
    branches: pd.DataFrame | None = None
    warnings: pd.DataFrame = field(default_factory=_empty_problems)
    currency: str = "CNY"

    def tables(self) -> dict[str, pd.DataFrame]:
        """Return the tables that are present, by contract name."""
        return {name: getattr(self, name) for name in TABLES if getattr(self, name) is not None}
