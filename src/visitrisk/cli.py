"""The ``visitrisk`` command.

It only assembles stages; every piece of logic lives in the stage modules.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

import typer

if TYPE_CHECKING:
    from collections.abc import Callable

    import pandas as pd

    from visitrisk.pipeline import RunResult

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
    audit_out: Annotated[
        Path | None,
        typer.Option(
            "--audit-out", dir_okay=False, help="CSV file for every flagged visit record."
        ),
    ] = None,
) -> None:
    """Check a folder of tables against the data contract, and audit the visit log.

    Prints the rows read per table, every error and every warning, then the visit records
    the audit flags (counts per reason, with examples) and the audit checks that could not
    run. Exit code 1 when the data breaks the contract, 0 otherwise (flags are warnings).
    """
    # Imported here so that `visitrisk --help` does not pay for pandas and the readers.
    from visitrisk.audit import audit_problems, audit_visits
    from visitrisk.contract import DataError, load_portfolio

    try:
        portfolio = load_portfolio(data_dir, allow_reversals=allow_reversals)
    except DataError as error:
        _print_report(error.row_counts, error.problems, error.warnings)
        raise typer.Exit(code=1) from None
    row_counts = {name: len(table) for name, table in portfolio.tables().items()}
    _print_report(row_counts, None, portfolio.warnings)
    audit = audit_visits(portfolio)
    _print_audit(audit, audit_problems(audit), audit_out)


def _print_audit(audit: pd.DataFrame, problems: pd.DataFrame, audit_out: Path | None) -> None:
    from rich.console import Console
    from rich.table import Table

    from visitrisk._atomic import write_atomic

    console = Console()
    n_flagged = audit["visit_index"].nunique()
    if not problems.empty:
        table = Table(
            title=f"Visit-log audit ({n_flagged:,} record(s) flagged)",
            title_justify="left",
            style="yellow",
        )
        table.add_column("rule")
        table.add_column("records", justify="right")
        table.add_column("examples / detail", overflow="fold")
        for problem in problems.itertuples(index=False):
            count = f"{problem.count:,}" if problem.count else "-"
            shown = problem.examples if problem.count else problem.message
            table.add_row(problem.rule, count, shown)
        console.print(table)
    console.print(
        f"Visit-log audit: {n_flagged:,} of {audit.attrs['visits_audited']:,} visit record(s) "
        f"flagged; {len(audit.attrs['skipped_checks'])} check(s) skipped."
    )
    if audit_out is not None:
        audit_out.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(audit_out, audit.to_csv(index=False).encode("utf-8"))
        console.print(f"Flagged visit records written to {audit_out}")


def _print_report(row_counts: dict, errors: pd.DataFrame | None, warnings: pd.DataFrame) -> None:
    from rich.console import Console
    from rich.table import Table

    from visitrisk.contract import TABLES

    console = Console()
    if row_counts:
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
def run(
    data_dir: Annotated[
        str,
        typer.Argument(
            help="Folder of contract tables (with --engine spark: any Spark path, e.g. hdfs://)."
        ),
    ],
    as_of: Annotated[str, typer.Option("--as-of", help="Day whose state is scored (ISO).")],
    start: Annotated[str, typer.Option("--start", help="First day of the plan (ISO).")],
    days: Annotated[int, typer.Option("--days", min=1, help="Calendar days of the plan.")],
    out: Annotated[Path, typer.Option("--out", help="Folder for every output.")],
    model: Annotated[
        Path | None, typer.Option("--model", exists=True, help="Model spec (YAML).")
    ] = None,
    holdout: Annotated[
        float, typer.Option("--holdout", min=0.0, max=0.9, help="Share withheld at random.")
    ] = 0.1,
    seed: Annotated[int, typer.Option("--seed", min=0, help="Random seed.")] = 0,
    lang: Annotated[Literal["en", "zh"], typer.Option("--lang", help="Report language.")] = "en",
    tracking_uri: Annotated[
        str | None, typer.Option("--tracking-uri", help="MLflow store (default: OUT/mlflow.db).")
    ] = None,
    engine: Annotated[
        Literal["pandas", "spark"],
        typer.Option("--engine", help="pandas, or spark: DATA_DIR holds <table>.parquet."),
    ] = "pandas",
    spark_master: Annotated[
        str | None,
        typer.Option("--spark-master", help="Spark master (default local[2]; 'submit': as set)."),
    ] = None,
    sample: Annotated[
        float,
        typer.Option("--sample", min=0.0, max=1.0, help="Spark: share of customers to train on."),
    ] = 1.0,
    design: Annotated[
        Literal["trial", "landmark"],
        typer.Option("--design", help="Training rows: emulated trial, or landmark design."),
    ] = "trial",
) -> None:
    """Validate, train, evaluate, score, explain and plan visits; write reports; log to MLflow.

    With --engine spark the tables are Parquet (local or a cluster's file system) and
    features, scores, explanations and the plan are computed on Spark (docs/spark.md).

    Exit code 0 when the plan is written, 1 when the tables break the data contract (the
    validation report is printed and nothing is written), 2 on a usage error.
    """
    from visitrisk.contract import DataError
    from visitrisk.pipeline import run as run_pipeline

    settings = {
        "as_of": as_of,
        "start": start,
        "days": days,
        "out_dir": out,
        "model_spec": model,
        "holdout": holdout,
        "seed": seed,
        "lang": lang,
        "tracking_uri": tracking_uri,
    }
    if engine == "spark":
        from visitrisk.spark import run as run_spark

        master = None if spark_master == "submit" else (spark_master or "local[2]")

        def pipeline(say: Callable[[str], None]) -> RunResult:
            return run_spark(
                str(data_dir),
                **settings,
                design=design,
                sample_fraction=sample,
                master=master,
                progress=say,
            )
    else:
        if not Path(data_dir).is_dir():
            raise typer.BadParameter(f"'{data_dir}' is not a folder.", param_hint="DATA_DIR")

        def pipeline(say: Callable[[str], None]) -> RunResult:
            return run_pipeline(Path(data_dir), **settings, design=design, progress=say)

    try:
        result = _with_progress(pipeline)
    except DataError as error:
        _print_report(error.row_counts, error.problems, error.warnings)
        raise typer.Exit(code=1) from None
    _print_run_summary(result)


@app.command()
def plan(
    scores: Annotated[
        Path,
        typer.Argument(
            exists=True, dir_okay=False, help="Scores (.parquet or .csv), e.g. OUT/scores.parquet."
        ),
    ],
    staff: Annotated[
        Path, typer.Option("--staff", exists=True, dir_okay=False, help="Staff table (.csv).")
    ],
    start: Annotated[str, typer.Option("--start", help="First day of the plan (ISO).")],
    days: Annotated[int, typer.Option("--days", min=1, help="Calendar days of the plan.")],
    out: Annotated[Path, typer.Option("--out", help="Folder for the plan and reports.")],
    holdout: Annotated[
        float, typer.Option("--holdout", min=0.0, max=0.9, help="Share withheld at random.")
    ] = 0.1,
    seed: Annotated[int, typer.Option("--seed", min=0, help="Random seed.")] = 0,
    cooldown: Annotated[
        int, typer.Option("--cooldown", min=0, help="Days before a customer is visited again.")
    ] = 30,
    team_size: Annotated[int, typer.Option("--team-size", min=1, help="Officers per visit.")] = 1,
    lang: Annotated[Literal["en", "zh"], typer.Option("--lang", help="Report language.")] = "en",
) -> None:
    """Plan visits from a scores file and a staff table; write the plan and the reports.

    When the scores come from `visitrisk run` (its run_summary.json beside them), the
    plan's run_summary.json repeats that run's as-of date, treatment window and cure
    horizon, so `visitrisk measure` can later read them. Exit code 1 when the scores or the
    staff table are unusable (the problems are printed).
    """
    import json

    import pandas as pd

    from visitrisk._atomic import write_atomic
    from visitrisk.contract import DataError
    from visitrisk.planning import PlanRules, plan_visits
    from visitrisk.report import write_reports

    if scores.suffix == ".parquet":
        score_frame = pd.read_parquet(scores)
    else:
        score_frame = pd.read_csv(scores, dtype={"customer_id": str, "branch_id": str})
    # Read every staff column as text: ids keep leading zeros; the planner parses the rest.
    staff_frame = pd.read_csv(staff, dtype=str, keep_default_na=False)
    try:
        visit_plan = plan_visits(
            score_frame,
            staff_frame,
            start,
            days,
            rules=PlanRules(cooldown_days=cooldown, team_size=team_size),
            holdout=holdout,
            seed=seed,
        )
    except DataError as error:
        _print_report({}, error.problems, error.warnings)
        raise typer.Exit(code=1) from None
    scoring_run = _scoring_run_settings(scores.parent / "run_summary.json")
    report_summary = {**visit_plan.summary, **scoring_run}
    outputs = write_reports(visit_plan.plan, visit_plan.exclusions, report_summary, out, lang=lang)
    summary = {
        **scoring_run,
        "plan_start": start,
        "plan_days": days,
        "seed": seed,
        "scores": str(scores),
        "plan": visit_plan.summary,
    }
    outputs["run_summary"] = write_atomic(
        out / "run_summary.json",
        json.dumps(summary, indent=2, default=str, ensure_ascii=False).encode("utf-8"),
    )
    typer.echo(
        f"Planned {int((visit_plan.plan['arm'] == 'visit').sum()):,} visits "
        f"({visit_plan.summary.get('plan_id', '')}); "
        f"{len(visit_plan.exclusions):,} customers excluded."
    )
    for name, path in outputs.items():
        typer.echo(f"{name:>15}: {path}")


def _scoring_run_settings(path: Path) -> dict[str, object]:
    """Return the as-of date and label windows of the run that wrote a scores file.

    Empty when there is no readable run summary beside the scores (they came from
    elsewhere); measuring such a plan then needs ``--plan-as-of`` and ``--horizon``.
    """
    import json

    try:
        recorded = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    keys = ("as_of", "treatment_window", "horizon")
    return {key: recorded[key] for key in keys if recorded.get(key) is not None}


@app.command()
def demo(
    out: Annotated[Path, typer.Option("--out", help="Folder for data and outputs.")] = Path(
        "demo_output"
    ),
    customers: Annotated[int, typer.Option("--customers", min=500, help="Customers.")] = 20_000,
    seed: Annotated[int, typer.Option("--seed", min=0, help="Random seed.")] = 0,
    design: Annotated[
        Literal["trial", "landmark"],
        typer.Option("--design", help="Training rows: emulated trial, or landmark design."),
    ] = "trial",
) -> None:
    """Simulate a portfolio and run visitrisk on it end to end; print where outputs are."""
    from visitrisk.pipeline import run_demo

    result = _with_progress(
        lambda say: run_demo(out, n_customers=customers, seed=seed, design=design, progress=say)
    )
    _print_run_summary(result)


def _with_progress(job):
    """Run ``job(say)`` showing each step it announces as a finished line and a spinner."""
    from rich.console import Console

    console = Console(stderr=True)
    state = {"status": None, "message": None, "started": 0.0}

    def finish() -> None:
        if state["message"] is not None:
            elapsed = time.perf_counter() - state["started"]
            console.print(f"[green]done[/green] {state['message']} ({elapsed:.1f} s)")

    def say(message: str) -> None:
        finish()
        state["message"], state["started"] = message, time.perf_counter()
        state["status"].update(message + "...")

    with console.status("Starting...") as status:
        state["status"] = status
        result = job(say)
        finish()
    return result


def _print_run_summary(result) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    summary = result.summary
    plan, counts, metrics = summary["plan"], summary["counts"], summary["metrics"]
    table = Table(title=f"Visit plan {plan.get('plan_id', '')}", title_justify="left")
    table.add_column("measure")
    table.add_column("value", justify="right")
    rows = [
        ("customers delinquent on " + summary["as_of"], f"{counts['delinquent_scored']:,}"),
        ("visits planned", f"{counts['planned_visits']:,}"),
        ("held out at random", f"{counts['holdout']:,}"),
        ("excluded (see exclusions.csv)", f"{counts['excluded']:,}"),
        ("capacity used", f"{plan.get('capacity_used', float('nan')):.0%}"),
        ("expected incremental cures", f"{plan.get('expected_incremental_cures', 0):.1f}"),
        ("Qini AUC, IPW (test snapshots)", f"{metrics.get('qini_auc_ipw', float('nan')):.3f}"),
    ]
    audit = summary.get("audit", {})
    if audit:
        rows.append(("visit records flagged (audit.csv)", f"{audit['records_flagged']:,}"))
    for name, value in rows:
        table.add_row(name, value)
    console.print(table)
    for name, path in result.outputs.items():
        console.print(f"{name:>15}: {path}")
    for part in ("drift", "audit"):
        if summary.get(part, {}).get("warning"):
            console.print(f"[yellow]Warning:[/yellow] {summary[part]['warning']}")
    tracking = summary.get("mlflow", {})
    if result.not_logged:
        console.print("[yellow]Not logged to MLflow:[/yellow] " + "; ".join(result.not_logged))
    elif tracking.get("tracking_uri"):
        uri = tracking["tracking_uri"]
        console.print(f"MLflow run {tracking.get('run_id')} in {uri}")
        console.print(f"Open the MLflow UI with: mlflow ui --backend-store-uri {uri}")


@app.command()
def experiment(
    spec: Annotated[
        Path, typer.Argument(exists=True, dir_okay=False, help="Experiment spec (YAML).")
    ],
    tracking_uri: Annotated[
        str | None,
        typer.Option("--tracking-uri", help="MLflow store (default: OUT/mlflow.db)."),
    ] = None,
    out: Annotated[Path, typer.Option("--out", help="Folder for outputs.")] = Path(
        "experiment_output"
    ),
    design: Annotated[
        Literal["trial", "landmark"],
        typer.Option("--design", help="Training rows: emulated trial, or landmark design."),
    ] = "trial",
) -> None:
    """Fit several model specs on the same data and split; compare them in MLflow."""
    from rich.console import Console

    from visitrisk.contract import DataError
    from visitrisk.experiment import run_experiment
    from visitrisk.specs import SpecError

    console = Console()
    try:
        with console.status("Running the experiment...") as status:
            result = run_experiment(
                spec,
                out_dir=out,
                tracking_uri=tracking_uri,
                design=design,
                progress=status.update,
            )
    except SpecError as error:
        console.print(f"[red]{error}[/red]")
        raise typer.Exit(code=2) from None
    except DataError as error:
        _print_report(error.row_counts, error.problems, error.warnings)
        raise typer.Exit(code=1) from None
    console.print(_comparison_table(result.comparison))
    console.print(f"Comparison table: {result.comparison_path}")
    console.print(
        f"MLflow experiment {result.experiment_name!r} in {result.tracking_uri}; open it with\n"
        f"  mlflow ui --backend-store-uri {result.tracking_uri}"
    )
    for line in result.not_logged:
        console.print(f"[yellow]Not logged: {line}[/yellow]")


def _comparison_table(comparison: pd.DataFrame) -> object:
    import math

    from rich.table import Table

    def number(value: float, digits: int = 3) -> str:
        return "-" if math.isnan(value) else f"{value:.{digits}f}"

    def money(value: float) -> str:
        return "-" if math.isnan(value) else f"{value / 1000:,.0f}k"

    stems = [c for c in comparison.columns if c.startswith("value_weighted_top_")]
    shares = [c.split("_")[3] for c in stems if c.endswith("_dr")]
    table = Table(title="Models on the test snapshots", title_justify="left")
    for header in (
        "model",
        "learner",
        "fit (s)",
        "Qini AUC (IPW)",
        "uplift AUC (IPW)",
        "AUC visited / not",
    ):
        table.add_column(header, justify="left" if header in ("model", "learner") else "right")
    for share in shares:
        label = share.replace("pct", " %")
        table.add_column(f"value top {label} DR, CNY [95 % CI]", justify="right")
        table.add_column(f"true / oracle top {label}", justify="right")
    for row in comparison.to_dict("records"):
        cells = [
            row["model"],
            row["learner"],
            number(row["fit_seconds"], 1),
            number(row["qini_auc_ipw"]),
            number(row["uplift_auc_ipw"]),
            f"{number(row['auc_visited'], 2)} / {number(row['auc_not_visited'], 2)}",
        ]
        for share in shares:
            stem = f"value_weighted_top_{share}_dr"
            cells.append(
                f"{money(row[stem])} [{money(row[stem + '_ci_low'])}, "
                f"{money(row[stem + '_ci_high'])}]"
            )
            true_share = row[f"true_value_share_top_{share}"]
            cells.append("-" if math.isnan(true_share) else f"{100 * true_share:.0f} %")
        table.add_row(*cells)
    return table


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


@app.command()
def measure(
    data_dir: Annotated[
        Path,
        typer.Argument(exists=True, file_okay=False, help="Folder of contract tables."),
    ],
    plan: Annotated[
        Path,
        typer.Option(
            "--plan", exists=True, file_okay=False, help="Output folder of the plan's run."
        ),
    ],
    as_of: Annotated[str, typer.Option("--as-of", help="Measurement date (ISO).")],
    out: Annotated[
        Path | None, typer.Option("--out", help="Folder for the results (default: PLAN/measure).")
    ] = None,
    tracking_uri: Annotated[
        str | None,
        typer.Option("--tracking-uri", help="MLflow store (default: the plan's run's store)."),
    ] = None,
    plan_as_of: Annotated[
        str | None,
        typer.Option("--plan-as-of", help="The plan's as-of date (default: run_summary.json)."),
    ] = None,
    horizon: Annotated[
        int | None,
        typer.Option(
            "--horizon", min=1, help="Cure horizon, days (default: run_summary.json, else 60)."
        ),
    ] = None,
    bands: Annotated[int, typer.Option("--bands", min=1, help="Predicted-uplift bands.")] = 3,
) -> None:
    """Measure the realised effect of an earlier plan: visit arm against the holdout.

    Writes the effect table (CSV), the report (HTML, PNG) and logs the metrics to the MLflow
    run that made the plan. The plan's as-of date and cure horizon default to those its
    run recorded in run_summary.json. Exit code 1 when the data break the contract or the
    plan's horizon has not passed yet.
    """
    from rich.console import Console

    from visitrisk.contract import DataError, load_portfolio
    from visitrisk.measure import measure_plan, read_plan_folder

    console = Console()
    try:
        portfolio = load_portfolio(data_dir)
        plan_rows, run_summary = read_plan_folder(plan)
        if horizon is None:
            horizon = run_summary.get("horizon")
            if horizon is None:
                horizon = 60
                console.print(
                    f"[yellow]{plan / 'run_summary.json'} records no cure horizon: measuring "
                    "over 60 days (give --horizon to change it).[/yellow]"
                )
        measurement = measure_plan(
            portfolio,
            plan_rows,
            as_of,
            plan_as_of=plan_as_of or run_summary.get("as_of"),
            horizon=horizon,
            n_bands=bands,
        )
    except DataError as error:
        _print_report(error.row_counts, error.problems, error.warnings)
        raise typer.Exit(code=1) from None
    except (ValueError, FileNotFoundError) as error:
        console.print(f"[red]{error}[/red]")
        raise typer.Exit(code=1) from None
    paths = measurement.save(out if out is not None else plan / "measure")
    console.print(_measurement_table(measurement))
    for name, path in paths.items():
        console.print(f"{name:>15}: {path}")
    tracking = run_summary.get("mlflow") or {}
    uri = tracking_uri or tracking.get("tracking_uri")
    if tracking.get("run_id") and uri:
        not_logged = measurement.log_to_mlflow(tracking["run_id"], uri, paths)
        if not_logged:
            console.print("[yellow]Not logged to MLflow:[/yellow] " + "; ".join(not_logged))
        else:
            console.print(f"Logged to MLflow run {tracking['run_id']} in {uri}")
    else:
        console.print(
            "[yellow]No MLflow run recorded for this plan (no run_summary.json with a run "
            "id): metrics not logged.[/yellow]"
        )


def _measurement_table(measurement) -> object:
    from rich.table import Table

    summary = measurement.summary
    table = Table(
        title=f"Realised effect of {summary['plan_id']} ({summary['plan_as_of']} + "
        f"{summary['horizon']} days)",
        title_justify="left",
    )
    headers = ("band", "metric", "unit", "visit / holdout", "effect", "95 % CI", "predicted")
    for header in headers:
        table.add_column(header, justify="left" if header in headers[:3] else "right")
    for row in measurement.effects.to_dict("records"):
        scale, unit = (100.0, "points") if row["unit"] == "share" else (1.0, "CNY")
        table.add_row(
            row["band"],
            row["metric"],
            unit,
            f"{row['n_visit']:,} / {row['n_holdout']:,}",
            f"{scale * row['effect']:+,.1f}",
            f"[{scale * row['ci_low']:+,.1f}, {scale * row['ci_high']:+,.1f}]",
            f"{scale * row['predicted_effect']:+,.1f}",
        )
    table.caption = (
        f"{summary['visits_made']:,} of {summary['planned_visits']:,} planned visits made; "
        f"{summary['holdout_visited']:,} holdout customers visited anyway."
    )
    return table
