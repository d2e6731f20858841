"""The ``visitrisk`` command.

It only assembles stages; every piece of logic lives in the stage modules.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

import typer

if TYPE_CHECKING:
    import pandas as pd

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
def validate(
    data_dir: Annotated[
        Path,
        typer.Argument(
            exists=True,
            file_okay=False,
            dir_okay=True,
            readable=True,
            help="Folder with one <table>.csv or <table>.parquet per contract table.",
        ),
    ],
    allow_reversals: Annotated[
        bool,
        typer.Option("--allow-reversals", help="Accept negative payment rows (reversals)."),
    ] = False,
) -> None:
    """Check a folder of tables against the data contract.

    Prints the rows read per table, every error and every warning. Exit code 1 when the
    data breaks the contract, 0 otherwise.
    """
    # Imported here so that `visitrisk --help` does not pay for pandas and the readers.
    from visitrisk.contract import DataError, load_portfolio

    try:
        portfolio = load_portfolio(data_dir, allow_reversals=allow_reversals)
    except DataError as error:
        _print_report(error.row_counts, error.problems, error.warnings)
        raise typer.Exit(code=1) from None
    row_counts = {name: len(table) for name, table in portfolio.tables().items()}
    _print_report(row_counts, None, portfolio.warnings)


def _print_report(row_counts: dict, errors: pd.DataFrame | None, warnings: pd.DataFrame) -> None:
    from rich.console import Console
    from rich.table import Table

    from visitrisk.contract import TABLES

    console = Console()
    counts = Table(title="Rows per table", title_justify="left")
    counts.add_column("table")
    counts.add_column("rows", justify="right")
    for name in TABLES:
        rows = row_counts.get(name)
        counts.add_row(name, "-" if rows is None else f"{rows:,}")
    console.print(counts)

    for title, problems, style in (("Errors", errors, "red"), ("Warnings", warnings, "yellow")):
        if problems is None or problems.empty:
            continue
        table = Table(title=f"{title} ({len(problems)})", title_justify="left", style=style)
        for column in ("table", "column", "rule"):
            table.add_column(column)
        table.add_column("rows", justify="right")
        table.add_column("examples", overflow="fold")
        for problem in problems.itertuples(index=False):
            table.add_row(
                problem.table, problem.column, problem.rule, f"{problem.count:,}", problem.examples
            )
        console.print(table)

    if errors is not None and not errors.empty:
        console.print(
            f"[red]The data breaks the contract: {len(errors)} error(s).[/red] "
            "Fix them and run `visitrisk validate` again."
        )
    else:
        console.print(f"[green]The data meets the contract[/green] ({len(warnings)} warning(s)).")


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


@app.command()
def features(
    data_dir: Annotated[
        Path,
        typer.Argument(exists=True, file_okay=False, help="Folder of contract tables."),
    ],
    as_of: Annotated[str, typer.Option("--as-of", help="As-of date, YYYY-MM-DD.")],
    out: Annotated[Path, typer.Option("--out", help="Parquet file to write.")] = Path(
        "features.parquet"
    ),
    population: Annotated[
        Literal["delinquent", "all"], typer.Option("--population", help="Whose rows.")
    ] = "delinquent",
) -> None:
    """Write point-in-time customer features as of a date, for inspection."""
    from visitrisk.contract import load_portfolio
    from visitrisk.features import build_features

    table = build_features(load_portfolio(data_dir), as_of, population=population)
    out.parent.mkdir(parents=True, exist_ok=True)
    table.to_parquet(out)
    typer.echo(f"Wrote {len(table):,} customers x {table.shape[1]} features to {out}.")


@app.command()
def demo(
    out: Annotated[Path, typer.Option("--out", help="Folder for data and outputs.")] = Path(
        "demo_output"
    ),
    customers: Annotated[int, typer.Option("--customers", min=100, help="Customers.")] = 20_000,
    seed: Annotated[int, typer.Option("--seed", min=0, help="Random seed.")] = 0,
) -> None:
    """Simulate a portfolio and run visitrisk on it end to end; print where outputs are."""
    from rich.console import Console
    from rich.table import Table

    from visitrisk.pipeline import run_demo

    console = Console()
    with console.status("Simulating and validating a portfolio..."):
        result = run_demo(out, n_customers=customers, seed=seed)
    table = Table(title="Demo portfolio", title_justify="left")
    table.add_column("measure")
    table.add_column("value", justify="right")
    for name, value in result.summary.items():
        table.add_row(name, f"{value:,}" if isinstance(value, int | float) else str(value))
    console.print(table)
    console.print(f"Contract tables: {result.data_dir}")
    for name, path in result.outputs.items():
        console.print(f"{name}: {path}")


@app.command()
def explain(
    model: Annotated[
        Path, typer.Option("--model", exists=True, dir_okay=False, help="Fitted model (joblib).")
    ],
    features: Annotated[
        Path,
        typer.Option("--features", exists=True, dir_okay=False, help="Features (Parquet)."),
    ],
    out: Annotated[Path, typer.Option("--out", help="Folder for the outputs.")] = Path(
        "explanations"
    ),
    lang: Annotated[Literal["en", "zh"], typer.Option("--lang", help="Language.")] = "en",
) -> None:
    """Write per-customer uplift SHAP values, reasons and figures for a fitted model."""
    import pandas as pd

    from visitrisk.explain import explain as explain_uplift
    from visitrisk.explain import load_model

    explanation = explain_uplift(load_model(model), pd.read_parquet(features))
    for name, path in explanation.save(out, lang=lang).items():
        typer.echo(f"{name}: {path}")
