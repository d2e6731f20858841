"""End-to-end runs used by the command line, notebooks and experiments.

This module only assembles stages; the logic of each lives in its own module.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

__all__ = ["DemoResult", "run_demo"]


@dataclass(frozen=True)
class DemoResult:
    """What :func:`run_demo` produced.

    Attributes
    ----------
    data_dir : pathlib.Path
        The simulated portfolio, one file per contract table.
    outputs : dict of str to pathlib.Path
        Every other file written, by name.
    summary : dict
        Counts describing the portfolio on the as-of date.
    """

    data_dir: Path
    outputs: dict[str, Path] = field(default_factory=dict)
    summary: dict[str, object] = field(default_factory=dict)


def run_demo(
    out_dir: str | os.PathLike[str] = "demo_output",
    *,
    n_customers: int = 20_000,
    seed: int = 0,
    as_of: str = "2026-11-30",
) -> DemoResult:
    """Simulate a portfolio, write it in the contract format and run the pipeline on it.

    Parameters
    ----------
    out_dir : path, default "demo_output"
        Folder for the simulated data (``data/``) and every output.
    n_customers : int, default 20000
        Customers in the simulated portfolio.
    seed : int, default 0
        Seed of the simulation; the same seed gives the same files.
    as_of : str, default "2026-11-30"
        Last day of the simulated history (ISO date).

    Returns
    -------
    DemoResult
    """
    from visitrisk.contract import load_portfolio
    from visitrisk.ledger import customer_ledger, loan_ledger
    from visitrisk.simulate import simulate_portfolio

    out = Path(out_dir)
    simulated = simulate_portfolio(n_customers, seed=seed, as_of=as_of)
    data_dir = simulated.write(out / "data", "csv")
    # Read back through the contract, as a bank's folder would be.
    portfolio = load_portfolio(data_dir)
    as_of_date = pd.Timestamp(as_of)
    loan_state = loan_ledger(portfolio.installments, portfolio.payments, as_of_date)
    customer_state = customer_ledger(portfolio.loans, loan_state)
    delinquent = customer_state["days_past_due"] >= 1
    arrears = float(customer_state.loc[delinquent, "arrears"].sum())
    summary: dict[str, object] = {
        "as_of": as_of_date.date().isoformat(),
        "customers": len(portfolio.customers),
        "loans": len(portfolio.loans),
        "delinquent_customers": int(delinquent.sum()),
        "arrears_of_delinquent_cny": round(arrears, 2),
        "visits_logged": len(portfolio.visits),
        "validation_warnings": len(portfolio.warnings),
    }
    return DemoResult(data_dir=data_dir, summary=summary)
