"""Problem reports: the rows of ``DataError.problems`` and ``Portfolio.warnings``.

Every stage that refuses its input (the contract, the ledger, the planner, the report
writers) builds its report here, so every report has the same columns, the same dtypes
and at most :data:`MAX_EXAMPLES` example ids. What a message says stays with the stage.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from itertools import islice

import pandas as pd

__all__ = [
    "MAX_EXAMPLES",
    "PROBLEM_COLUMNS",
    "empty_problems",
    "problem",
    "problem_frame",
    "raise_problems",
    "require_columns",
]

#: Columns of every problem report (errors in ``DataError``, ``Portfolio.warnings``).
PROBLEM_COLUMNS: tuple[str, ...] = ("table", "column", "rule", "count", "examples", "message")

#: Example ids shown per problem.
MAX_EXAMPLES = 5


def empty_problems() -> pd.DataFrame:
    """Return an empty problem report with typed columns."""
    return pd.DataFrame(
        {name: pd.Series(dtype="int64" if name == "count" else "str") for name in PROBLEM_COLUMNS}
    )


def problem(
    table: str,
    column: str,
    rule: str,
    message: str,
    *,
    count: int = 0,
    examples: Iterable[object] = (),
) -> dict[str, object]:
    """Return one row of a problem report.

    Parameters
    ----------
    table, column, rule : str
        Where the problem is (``column`` is ``""`` for a whole table) and its reason code.
    message : str
        The plain sentence shown to the user.
    count : int, default 0
        Rows (or ids) affected; 0 when the problem is not about rows.
    examples : iterable, default ()
        Offending ids, already in the order to show; only the first
        :data:`MAX_EXAMPLES` are kept, as text joined by ``", "``.
    """
    shown = [str(value) for value in islice(examples, MAX_EXAMPLES)]
    return {
        "table": table,
        "column": column,
        "rule": rule,
        "count": int(count),
        "examples": ", ".join(shown),
        "message": message,
    }


def problem_frame(rows: Sequence[dict[str, object]]) -> pd.DataFrame:
    """Return the report of ``rows`` (built by :func:`problem`), in the given order."""
    if not rows:
        return empty_problems()
    return pd.DataFrame(list(rows), columns=list(PROBLEM_COLUMNS)).astype({"count": "int64"})


def raise_problems(rows: Sequence[dict[str, object]]) -> None:
    """Raise one :class:`~visitrisk.contract.DataError` listing ``rows``, if there are any."""
    if rows:
        # Imported here: visitrisk.contract imports this module (through _tables).
        from visitrisk.contract import DataError

        raise DataError(problem_frame(rows))


def require_columns(
    frame: pd.DataFrame, table: str, columns: Iterable[str], message: str, *, count: int = 0
) -> None:
    """Raise one DataError naming every column of ``columns`` that ``frame`` lacks.

    ``message`` is a :meth:`str.format` template with the fields ``table`` and ``column``;
    ``count`` is the rows affected reported for each missing column.
    """
    raise_problems(
        [
            problem(
                table,
                column,
                "missing_column",
                message.format(table=table, column=column),
                count=count,
            )
            for column in columns
            if column not in frame.columns
        ]
    )
