"""The ``visitrisk`` command.

It only assembles stages; every piece of logic lives in the stage modules.
"""

from __future__ import annotations

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
