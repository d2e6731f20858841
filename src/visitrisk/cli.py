"""The ``visitrisk`` command.

It only assembles stages; every piece of logic lives in the stage modules.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import typer

app = typer.Typer(
    name="visitrisk",
    help="Whom to send on a field visit: uplift scores, reasons and visit plans.",
    no_args_is_help=True,
    add_completion=False,
)


@app.callback()
def _main() -> None:
    """Whom to send on a field visit: uplift scores, reasons and visit plans."""


@app.command()
def simulate(
    out: Annotated[Path, typer.Option("--out", help="Folder to write the tables to.")],
    customers: Annotated[int, typer.Option("--customers", min=100, help="Customers.")] = 10_000,
    seed: Annotated[int, typer.Option("--seed", min=0, help="Random seed.")] = 0,
    effect: Annotated[
        Literal["heterogeneous", "none"], typer.Option("--effect", help="Visit effect.")
    ] = "heterogeneous",
    file_format: Annotated[
        Literal["csv", "parquet"], typer.Option("--format", help="File format.")
    ] = "csv",
    as_of: Annotated[str, typer.Option("--as-of", help="Last day of history.")] = "2026-11-30",
) -> None:
    """Simulate a loan book with a known visit effect and write it in the contract format."""
    from visitrisk.simulate import simulate_portfolio

    sim = simulate_portfolio(customers, seed=seed, effect=effect, as_of=as_of)
    folder = sim.write(out, file_format)
    sizes = ", ".join(f"{len(frame):,} {name}" for name, frame in sim.portfolio.tables().items())
    typer.echo(f"Wrote {sizes} to {folder}; ground truth in {folder / 'truth'}.")
