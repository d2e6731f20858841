"""The data contract: the input tables, their validation, and the :class:`Portfolio`.

See ``shared/DATA_CONTRACT.md`` for the meaning of every table and column. This module
reads the tables (a folder or DataFrames), types every contract column, checks every rule
of the contract and either returns a :class:`Portfolio` or raises one :class:`DataError`
listing every problem found. Reading and typing live in :mod:`visitrisk._tables`.
"""

from __future__ import annotations

import hashlib
import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from visitrisk._problems import PROBLEM_COLUMNS, empty_problems
from visitrisk._tables import (
    CONTRACT,
    REQUIRED_TABLES,
    TABLES,
    VISIT_OUTCOMES,
    WEEKDAYS,
    Problems,
    TypedTable,
    key_positions,
    parse_iso_dates,
    read_folder,
    type_table,
    typed_empty_table,
    with_article,
)

if TYPE_CHECKING:
    import pandera.pandas as pa

__all__ = [
    "CONTRACT",
    "PROBLEM_COLUMNS",
    "TABLES",
    "VISIT_OUTCOMES",
    "WEEKDAYS",
    "DataError",
    "Portfolio",
    "load_portfolio",
]

# TABLES (contract tables in dependency order) and CONTRACT (every column, its kind, whether
# required) are defined beside the readers in visitrisk._tables, PROBLEM_COLUMNS (columns of
# every problem report) in visitrisk._problems; all three are part of this module's public API.

#: A loan whose payments exceed this multiple of its whole schedule gets a warning.
_PAYMENT_EXCESS_RATIO = 1.5

#: Working days of an officer whose ``working_days`` is blank.
_DEFAULT_WORKING_DAYS = "Mon Tue Wed Thu Fri"

#: ``DataFrame.attrs`` key of a validated staff table: a digest of its values then, so that
#: the planner can tell an unchanged :attr:`Portfolio.staff` from a table to check.
_CHECKED_STAFF = "visitrisk.checked_staff"


class DataError(ValueError):
    """Input tables break the data contract.

    Every problem found is listed at once. ``problems`` holds them as a DataFrame with
    columns ``table``, ``column``, ``rule`` (a reason code), ``count`` (rows affected),
    ``examples`` (up to 5 offending ids) and ``message`` (a plain sentence).

    Parameters
    ----------
    problems : pandas.DataFrame
        One row per problem, columns :data:`PROBLEM_COLUMNS`.
    warnings : pandas.DataFrame, optional
        Suspicious but legal data found on the way (same columns), so that a report can
        show them beside the errors.
    row_counts : dict of str to int or None, optional
        Rows read per contract table; ``None`` for a table that was absent or unreadable.
    """

    def __init__(
        self,
        problems: pd.DataFrame,
        *,
        warnings: pd.DataFrame | None = None,
        row_counts: dict[str, int | None] | None = None,
    ) -> None:
        self.problems = problems.reset_index(drop=True)
        self.warnings = empty_problems() if warnings is None else warnings.reset_index(drop=True)
        self.row_counts = dict(row_counts or {})
        lines = [f"{len(self.problems)} problem(s) in the input tables:"]
        lines += [f"  - {message}" for message in self.problems["message"]]
        super().__init__("\n".join(lines))


@dataclass(frozen=True, eq=False)
class Portfolio:
    """A validated loan book: every contract table, typed.

    Identifiers are ``str``, dates ``datetime64[us]`` at midnight, amounts ``float64``,
    flags ``bool``. Optional tables are ``None`` when not given (``branches``, ``staff``);
    ``visits`` is an empty, typed table when the bank has no visit log. Every contract
    column is present (:func:`load_portfolio` adds absent optional ones); extra columns
    supplied by the bank are kept after them. ``repr`` is one line with the table sizes
    and the number of warnings.

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
    warnings: pd.DataFrame = field(default_factory=empty_problems)
    currency: str = "CNY"

    def tables(self) -> dict[str, pd.DataFrame]:
        """Return the tables that are present, by contract name."""
        return {name: getattr(self, name) for name in TABLES if getattr(self, name) is not None}

    def __repr__(self) -> str:
        sizes = ", ".join(f"{name}={len(table):,}" for name, table in self.tables().items())
        n_warnings = len(self.warnings)
        plural = "" if n_warnings == 1 else "s"
        return f"Portfolio({sizes}; currency={self.currency}; {n_warnings} warning{plural})"


def load_portfolio(
    path: str | os.PathLike[str] | None = None,
    *,
    customers: pd.DataFrame | None = None,
    loans: pd.DataFrame | None = None,
    installments: pd.DataFrame | None = None,
    payments: pd.DataFrame | None = None,
    visits: pd.DataFrame | None = None,
    staff: pd.DataFrame | None = None,
    branches: pd.DataFrame | None = None,
    allow_reversals: bool = False,
    currency: str = "CNY",
) -> Portfolio:
    """Read, type and validate the contract tables.

    Give either ``path`` (a folder holding ``<table>.csv`` or ``<table>.parquet`` per
    table) or the tables as DataFrames, never both. Every problem in every table is
    collected and raised together as one :class:`DataError`.

    Parameters
    ----------
    path : str or os.PathLike, optional
        Folder with one file per table. CSV files are UTF-8 (a byte-order mark is
        accepted) with a header row; every CSV column is read as text and then parsed, so
        identifiers keep their leading zeros and unparsable values are reported, never
        turned into NaN silently.
    customers, loans, installments, payments : pandas.DataFrame, optional
        Required tables when ``path`` is not given. The caller's frames are never modified.
    visits : pandas.DataFrame, optional
        The field-visit log. Without it ``Portfolio.visits`` is an empty typed table and a
        ``no_visit_log`` warning says that uplift cannot be learned.
    staff, branches : pandas.DataFrame, optional
        Needed only for planning and branch checks; ``None`` in the result when absent.
    allow_reversals : bool, default False
        Accept negative payment rows (reversals). A zero payment is always an error.
    currency : str, default "CNY"
        Currency of every amount column, recorded on the portfolio.

    Returns
    -------
    Portfolio
        The typed tables, in input row order with a fresh ``0..n-1`` index:

        - identifiers and text ``str``; dates ``datetime64[us]`` at midnight (a time of
          day or a UTC offset in the input is dropped, keeping the local date); amounts,
          rates and coordinates ``float64``; ``do_not_visit`` ``bool``;
          ``visits_per_day`` ``int64``;
        - the contract columns come first, in contract order, then the bank's extra
          columns, unchanged and in input order;
        - optional contract columns that are absent are added, so later stages can rely
          on them: missing values (``NaN``/``NaT``) except ``do_not_visit`` (``False``)
          and ``working_days`` (``"Mon Tue Wed Thu Fri"``); ``working_days`` tokens are
          rewritten in canonical case (``mon`` becomes ``Mon``).

        ``Portfolio.warnings`` lists legal but suspicious data (same columns as
        ``DataError.problems``; nothing is printed or sent to :mod:`warnings`), by rule:
        ``id_as_number`` / ``text_as_number`` (a text column arrived as numbers and was
        converted; leading zeros may already be lost), ``loan_without_installments``,
        ``customer_without_loans``, ``payments_exceed_schedule`` (a loan's payments add
        up to more than 1.5 times everything scheduled for it),
        ``installment_after_maturity``, ``unknown_officer`` (a visit by an ``officer_id``
        absent from ``staff``, when staff is given) and ``no_visit_log``.

    Raises
    ------
    DataError
        When any table breaks the contract; ``problems`` lists every problem with table,
        column, rule, rows affected and example ids. Rules: ``missing_table``,
        ``unreadable_file``, ``duplicate_table_file``, ``missing_column``,
        ``duplicate_column``, ``missing_value``, ``unparsable_date``,
        ``unparsable_number``, ``unparsable_bool``, ``duplicate_id``,
        ``orphan_foreign_key``, ``non_positive_principal``, ``negative_amount_due``,
        ``non_positive_payment``, ``due_before_origination``,
        ``payment_before_origination``, ``unknown_visit_outcome``,
        ``negative_visits_per_day``, ``unknown_weekday``, ``unknown_covered_branch``,
        ``latitude_out_of_range``, ``longitude_out_of_range``.
    TypeError
        When a parameter has the wrong type.
    ValueError
        When ``path`` is not an existing folder, or both ``path`` and tables are given.

    Notes
    -----
    In text input a blank cell is missing; in date, number and flag columns ``NA``,
    ``N/A``, ``NaN``, ``null``, ``None`` and ``NaT`` (any case) are missing too. Dates are
    ISO 8601 (``2026-11-30``). Flags accept ``true/false``, ``1/0`` and ``yes/no`` in any
    case. Examples in problem reports name rows by their natural key: ``customer_id``,
    ``loan_id``, ``officer_id``, ``branch_id``, or the id and date for installments
    (``L001 on 2026-01-05``), payments and visits; a row without an id is ``row 7``
    (counted from 1, after the header).

    Examples
    --------
    >>> import pandas as pd
    >>> import visitrisk as vr
    >>> pf = vr.load_portfolio(
    ...     customers=pd.DataFrame({"customer_id": ["C01"], "branch_id": ["B1"]}),
    ...     loans=pd.DataFrame({"loan_id": ["L01"], "customer_id": ["C01"],
    ...                         "product": ["consumer"], "origination_date": ["2026-01-05"],
    ...                         "principal": [1200.0]}),
    ...     installments=pd.DataFrame({"loan_id": ["L01"], "due_date": ["2026-02-05"],
    ...                                "amount_due": [1210.0]}),
    ...     payments=pd.DataFrame({"loan_id": ["L01"], "payment_date": ["2026-02-04"],
    ...                            "amount": [1210.0]}),
    ... )
    >>> pf  # doctest: +ELLIPSIS
    Portfolio(customers=1, loans=1, installments=1, payments=1, visits=0; ...; 1 warning)
    >>> pf.warnings["rule"].tolist()
    ['no_visit_log']
    """
    frames = {
        "customers": customers,
        "loans": loans,
        "installments": installments,
        "payments": payments,
        "visits": visits,
        "staff": staff,
        "branches": branches,
    }
    _check_parameters(path, frames, allow_reversals, currency)
    problems = Problems()
    others: list[str] = []
    unreadable: set[str] = set()
    if path is not None:
        raw_tables, unreadable, others = read_folder(Path(path), problems)
    else:
        raw_tables = {name: frame for name, frame in frames.items() if frame is not None}

    typed: dict[str, TypedTable] = {}
    for name in TABLES:
        if name in raw_tables:
            typed[name] = type_table(name, raw_tables[name], problems)
        elif name in unreadable:
            continue
        elif name in REQUIRED_TABLES:
            if path is None:
                where = f"pass {name}=DataFrame"
            else:
                where = f"expected {name}.csv or {name}.parquet in {path}"
                if others:
                    where += f"; other files there: {', '.join(others)}"
            problems.error(name, "", "missing_table", f"table is missing ({where})")
        elif name == "visits":
            problems.warn(
                name,
                "",
                "no_visit_log",
                "no visit log given: the effect of visits (uplift) cannot be learned without one",
            )
    problems.tables = typed

    _check_values(typed, problems, allow_reversals=allow_reversals)
    _check_links(typed, problems)
    _check_staff_tokens(typed, problems)

    row_counts = {name: (len(typed[name].frame) if name in typed else None) for name in TABLES}
    if problems.has_errors:
        raise DataError(problems.errors(), warnings=problems.warnings(), row_counts=row_counts)
    return Portfolio(
        customers=typed["customers"].finished(),
        loans=typed["loans"].finished(),
        installments=typed["installments"].finished(),
        payments=typed["payments"].finished(),
        visits=typed["visits"].finished() if "visits" in typed else typed_empty_table("visits"),
        staff=_checked_staff(typed["staff"]) if "staff" in typed else None,
        branches=typed["branches"].finished() if "branches" in typed else None,
        warnings=problems.warnings(),
        currency=currency,
    )


def _check_parameters(
    path: object, frames: dict[str, object], allow_reversals: object, currency: object
) -> None:
    where = "load_portfolio"
    if path is not None:
        if not isinstance(path, str | os.PathLike):
            raise TypeError(
                f"The 'path' parameter of {where} must be a str or os.PathLike naming a "
                f"folder. Got {type(path).__name__} instead."
            )
        folder = Path(path)
        if not folder.is_dir():
            state = "a file" if folder.exists() else "does not exist"
            raise ValueError(
                f"The 'path' parameter of {where} must be an existing folder holding one "
                f"file per table. Got '{folder}', which {'is ' if folder.exists() else ''}"
                f"{state}, instead."
            )
    for name, frame in frames.items():
        if frame is not None and not isinstance(frame, pd.DataFrame):
            raise TypeError(
                f"The '{name}' parameter of {where} must be a pandas DataFrame or None. "
                f"Got {type(frame).__name__} instead."
            )
    given = [name for name, frame in frames.items() if frame is not None]
    if path is not None and given:
        raise ValueError(
            f"Give either 'path' or the tables as DataFrames to {where}, not both. "
            f"Got path='{path}' and {', '.join(given)}."
        )
    if path is None and not given:
        raise ValueError(
            f"{where} needs a folder ('path') or the tables as DataFrames (customers, "
            "loans, installments, payments at least). Got neither."
        )
    if not isinstance(allow_reversals, bool | np.bool_):
        raise TypeError(
            f"The 'allow_reversals' parameter of {where} must be a bool. "
            f"Got {allow_reversals!r} instead."
        )
    if not isinstance(currency, str) or not currency.strip():
        raise TypeError(
            f"The 'currency' parameter of {where} must be a non-empty str such as 'CNY'. "
            f"Got {currency!r} instead."
        )


def _value_rules(allow_reversals: bool) -> dict[str, list[tuple[str, str, pa.Check, str]]]:
    """Return the per-column value rules: table -> [(column, rule, check, description)]."""
    import pandera.pandas as pa

    if allow_reversals:
        payment_check = pa.Check.not_equal_to(0, error="non_positive_payment")
        payment_text = "have amount = 0 (a payment is positive, a reversal negative)"
    else:
        payment_check = pa.Check.greater_than(0, error="non_positive_payment")
        payment_text = (
            "have amount <= 0 (zero is never allowed; negative reversals need allow_reversals=True)"
        )

    def coordinates() -> list[tuple[str, str, pa.Check, str]]:
        return [
            (
                "latitude",
                "latitude_out_of_range",
                pa.Check.in_range(-90, 90, error="latitude_out_of_range"),
                "have a latitude outside [-90, 90] degrees",
            ),
            (
                "longitude",
                "longitude_out_of_range",
                pa.Check.in_range(-180, 180, error="longitude_out_of_range"),
                "have a longitude outside [-180, 180] degrees",
            ),
        ]

    return {
        "branches": coordinates(),
        "customers": coordinates(),
        "loans": [
            (
                "principal",
                "non_positive_principal",
                pa.Check.greater_than(0, error="non_positive_principal"),
                "have principal <= 0",
            )
        ],
        "installments": [
            (
                "amount_due",
                "negative_amount_due",
                pa.Check.greater_than_or_equal_to(0, error="negative_amount_due"),
                "have amount_due < 0",
            )
        ],
        "payments": [("amount", "non_positive_payment", payment_check, payment_text)],
        "visits": [
            (
                "outcome",
                "unknown_visit_outcome",
                pa.Check.isin(VISIT_OUTCOMES, error="unknown_visit_outcome"),
                f"have an outcome that is not one of {', '.join(VISIT_OUTCOMES)}",
            )
        ],
        "staff": [
            (
                "visits_per_day",
                "negative_visits_per_day",
                pa.Check.greater_than_or_equal_to(0, error="negative_visits_per_day"),
                "have visits_per_day < 0",
            )
        ],
    }


#: Identifier column that must be unique in each master table.
_UNIQUE_IDS = {
    "branches": "branch_id",
    "customers": "customer_id",
    "loans": "loan_id",
    "staff": "officer_id",
}


def _check_values(
    typed: dict[str, TypedTable], problems: Problems, *, allow_reversals: bool
) -> None:
    """Run the per-column value and uniqueness rules with pandera, all tables at once."""
    # pandera probes PySpark on import and on its first validation when PySpark is
    # installed (the ``spark`` extra); PySpark then warns about pandas 3, although these
    # checks never touch Spark. The warning would only confuse users of the pandas path.
    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore", message="PySpark does not yet fully support pandas", category=FutureWarning
        )
        _check_values_with_pandera(typed, problems, allow_reversals=allow_reversals)


def _check_values_with_pandera(
    typed: dict[str, TypedTable], problems: Problems, *, allow_reversals: bool
) -> None:
    import pandera.pandas as pa

    rules = _value_rules(allow_reversals)
    for name, table in typed.items():
        unique = _UNIQUE_IDS.get(name)
        columns: dict[str, pa.Column] = {}
        descriptions: dict[str, str] = {}
        for column, rule, check, description in rules.get(name, []):
            if column in table.absent:
                continue
            columns[column] = pa.Column(checks=[check], nullable=True)
            descriptions[rule] = description
        if unique is not None and unique not in table.absent:
            columns[unique] = pa.Column(nullable=True, unique=True)
        if not columns:
            continue
        schema = pa.DataFrameSchema(columns)
        try:
            # inplace: no coercion happens, and it spares pandera a copy of the columns.
            schema.validate(table.frame[list(columns)], lazy=True, inplace=True)
        except pa.errors.SchemaErrors as exc:
            _report_failure_cases(name, exc.failure_cases, descriptions, problems)


def _report_failure_cases(
    table: str, failure_cases: pd.DataFrame, descriptions: dict[str, str], problems: Problems
) -> None:
    """Turn pandera's failure cases into our problems (its raw messages are not shown)."""
    for (column, check), cases in failure_cases.groupby(["column", "check"], sort=False):
        if check == "field_uniqueness":
            # Blank ids are reported as missing_value already.
            cases = cases[cases["failure_case"].notna()]
            rule, description = "duplicate_id", f"share their {column} with another row"
        else:
            rule = str(check)
            description = descriptions.get(rule, f"fail the check {rule}")
        if len(cases):
            rows = np.sort(cases["index"].to_numpy(dtype=np.int64))
            problems.error(table, str(column), rule, description, rows=rows)


def _usable(typed: dict[str, TypedTable], table: str, *columns: str) -> bool:
    return table in typed and not typed[table].absent.intersection(columns)


def _check_foreign_key(
    typed: dict[str, TypedTable],
    problems: Problems,
    child: str,
    column: str,
    parent: str,
    parent_column: str,
) -> np.ndarray | None:
    """Report child rows whose key is not in the parent; return their parent row (-1)."""
    if not (_usable(typed, child, column) and _usable(typed, parent, parent_column)):
        return None
    keys = typed[child].frame[column]
    positions = key_positions(keys, typed[parent].frame[parent_column])
    orphans = (positions < 0) & keys.notna().to_numpy()
    if orphans.any():
        shown = _quoted(keys[orphans].unique()[:5])
        problems.error(
            child,
            column,
            "orphan_foreign_key",
            f"have {with_article(column)} that is not in {parent} ({shown})",
            rows=np.flatnonzero(orphans),
        )
    return positions


def _check_links(typed: dict[str, TypedTable], problems: Problems) -> None:
    """Cross-table rules: foreign keys, dates against origination, suspicious totals."""
    _check_foreign_key(typed, problems, "customers", "branch_id", "branches", "branch_id")
    _check_foreign_key(typed, problems, "staff", "branch_id", "branches", "branch_id")
    _check_foreign_key(typed, problems, "visits", "customer_id", "customers", "customer_id")
    customer_of_loan = _check_foreign_key(
        typed, problems, "loans", "customer_id", "customers", "customer_id"
    )
    loan_of_installment = _check_foreign_key(
        typed, problems, "installments", "loan_id", "loans", "loan_id"
    )
    loan_of_payment = _check_foreign_key(typed, problems, "payments", "loan_id", "loans", "loan_id")

    if customer_of_loan is not None:
        n_loans = _total_per_parent(customer_of_loan, None, len(typed["customers"].frame))
        _warn_rows(
            typed,
            problems,
            "customers",
            "customer_id",
            "customer_without_loans",
            "have no loans",
            n_loans == 0,
        )

    if "loans" not in typed:
        return
    loans = typed["loans"].frame
    if loan_of_installment is not None:
        installments = typed["installments"].frame
        _check_before_origination(
            problems, "installments", "due_date", loans, installments, loan_of_installment
        )
        if _usable(typed, "loans", "maturity_date"):
            maturity = _gather(loans["maturity_date"].to_numpy(), loan_of_installment)
            late = installments["due_date"].to_numpy() > maturity
            if late.any():
                problems.warn(
                    "installments",
                    "due_date",
                    "installment_after_maturity",
                    "are due after the loan's maturity_date",
                    rows=np.flatnonzero(late),
                )
        counts = _total_per_parent(loan_of_installment, None, len(loans))
        _warn_rows(
            typed,
            problems,
            "loans",
            "loan_id",
            "loan_without_installments",
            "have no installments",
            counts == 0,
        )
    if loan_of_payment is not None:
        payments = typed["payments"].frame
        _check_before_origination(
            problems, "payments", "payment_date", loans, payments, loan_of_payment
        )
    if loan_of_installment is not None and loan_of_payment is not None:
        scheduled = _total_per_parent(
            loan_of_installment, typed["installments"].frame["amount_due"], len(loans)
        )
        paid = _total_per_parent(loan_of_payment, typed["payments"].frame["amount"], len(loans))
        excess = (paid > 0) & (paid > _PAYMENT_EXCESS_RATIO * scheduled)
        if excess.any():
            loan_ids = loans["loan_id"].to_numpy()[excess]
            problems.warn(
                "payments",
                "amount",
                "payments_exceed_schedule",
                f"have payments adding up to more than {_PAYMENT_EXCESS_RATIO:g} times "
                "everything scheduled for the loan",
                count=int(excess.sum()),
                noun="loan",
                examples=loan_ids[:5],
                key_name="loan_id",
            )

    if _usable(typed, "visits", "officer_id") and _usable(typed, "staff", "officer_id"):
        officers = typed["visits"].frame["officer_id"]
        known = key_positions(officers, typed["staff"].frame["officer_id"])
        unknown = (known < 0) & officers.notna().to_numpy()
        if unknown.any():
            shown = _quoted(officers[unknown].unique()[:5])
            problems.warn(
                "visits",
                "officer_id",
                "unknown_officer",
                f"were made by an officer_id not in staff ({shown})",
                rows=np.flatnonzero(unknown),
            )


def _gather(values: np.ndarray, positions: np.ndarray) -> np.ndarray:
    """``values[positions]``, with a missing value where the position is -1."""
    if len(values) == 0:
        return np.full(len(positions), np.datetime64("NaT"), dtype=values.dtype)
    out = values.take(positions, mode="clip")
    unlinked = positions < 0
    if unlinked.any():
        out[unlinked] = np.datetime64("NaT") if values.dtype.kind == "M" else np.nan
    return out


def _total_per_parent(
    positions: np.ndarray, amounts: pd.Series | None, n_parents: int
) -> np.ndarray:
    """Sum ``amounts`` (or count rows, without amounts) per parent row.

    ``positions`` holds each child row's parent row (-1 for orphans and blank keys, which
    are left out); blank amounts count as 0.
    """
    linked = positions >= 0
    everything_linked = linked.all()
    weights = None
    if amounts is not None:
        weights = amounts.to_numpy(dtype=np.float64)
        weights = np.where(np.isnan(weights), 0.0, weights)
        weights = weights if everything_linked else weights[linked]
    positions = positions if everything_linked else positions[linked]
    return np.bincount(positions, weights=weights, minlength=n_parents)


def _check_before_origination(
    problems: Problems,
    table: str,
    column: str,
    loans: pd.DataFrame,
    child: pd.DataFrame,
    loan_positions: np.ndarray,
) -> None:
    origination = _gather(loans["origination_date"].to_numpy(), loan_positions)
    early = child[column].to_numpy() < origination
    if early.any():
        kind = "due" if table == "installments" else "payment"
        problems.error(
            table,
            column,
            f"{kind}_before_origination",
            f"have {with_article(column)} before the loan's origination_date",
            rows=np.flatnonzero(early),
        )


def _warn_rows(
    typed: dict[str, TypedTable],
    problems: Problems,
    table: str,
    column: str,
    rule: str,
    description: str,
    flagged: np.ndarray,
) -> None:
    # Blank and duplicated ids are errors already; do not also warn about those rows.
    ids = typed[table].frame[column]
    flagged = flagged & ids.notna().to_numpy()
    if flagged.any():
        flagged &= ~ids.duplicated(keep=False).to_numpy()
    if flagged.any():
        noun = {"customers": "customer", "loans": "loan"}[table]
        problems.warn(table, column, rule, description, rows=np.flatnonzero(flagged), noun=noun)


def _tokens(staff: pd.DataFrame, column: str) -> pd.Series:
    """Space-separated tokens of a staff column, one per row, indexed by staff row."""
    # astype: with no token at all, pandas would give a float column.
    return staff[column].str.split().explode().dropna().astype("str")


def _check_staff_tokens(typed: dict[str, TypedTable], problems: Problems) -> None:
    """Rules on the space-separated staff columns: weekdays, absent dates, covered branches."""
    if "staff" not in typed:
        return
    _check_staff_calendar(typed["staff"].frame, problems)
    known = [typed["staff"].frame["branch_id"]]
    if "customers" in typed:
        known.append(typed["customers"].frame["branch_id"])
    if "branches" in typed:
        known.append(typed["branches"].frame["branch_id"])
    known_branches = pd.concat(known, ignore_index=True).dropna().unique()
    tokens = _tokens(typed["staff"].frame, "covers_branches")
    bad = tokens[~tokens.isin(known_branches)]
    if len(bad):
        problems.error(
            "staff",
            "covers_branches",
            "unknown_covered_branch",
            "cover a branch_id found neither in branches nor in the branch_id of customers "
            f"or staff ({_quoted(bad.unique()[:5])})",
            rows=np.unique(bad.index.to_numpy()),
        )


def _check_staff_calendar(staff: pd.DataFrame, problems: Problems) -> None:
    """Rules on ``working_days`` and ``absent_dates``, which need no other table."""
    weekdays = {day.lower() for day in WEEKDAYS}
    tokens = _tokens(staff, "working_days")
    bad = tokens[~tokens.str.lower().isin(weekdays)]
    if len(bad):
        shown = _quoted(bad.unique()[:5])
        problems.error(
            "staff",
            "working_days",
            "unknown_weekday",
            f"have a working day that is not one of {' '.join(WEEKDAYS)} ({shown})",
            rows=np.unique(bad.index.to_numpy()),
        )

    tokens = _tokens(staff, "absent_dates")
    dates = parse_iso_dates(tokens)
    bad = tokens[dates.isna()]
    if len(bad):
        problems.error(
            "staff",
            "absent_dates",
            "unparsable_date",
            f"have an absent date that is not an ISO date YYYY-MM-DD ({_quoted(bad.unique()[:5])})",
            rows=np.unique(bad.index.to_numpy()),
        )


def _validated_staff(staff: pd.DataFrame) -> tuple[pd.DataFrame, bool]:
    """Return a staff table typed and checked as :func:`load_portfolio` does it.

    For the planner, which may be given a staff table that never went through
    :func:`load_portfolio`. A :class:`Portfolio`'s staff, unchanged since (its values
    still match the digest recorded then), is returned as it is. Any other table is typed
    and held to every contract rule that needs no other table (columns, blanks, types,
    unique ``officer_id``, ``visits_per_day >= 0``, weekdays, absent dates).

    Returns
    -------
    staff : pandas.DataFrame
        The typed table, as in :attr:`Portfolio.staff`.
    branches_checked : bool
        Whether the covered branches were checked too (against the portfolio's branches
        and customers); when not, which branches may be covered is left to the caller.

    Raises
    ------
    DataError
        When the table breaks one of those rules (same rules and messages as
        :func:`load_portfolio`).
    """
    recorded = staff.attrs.get(_CHECKED_STAFF)
    if recorded is not None and recorded == _staff_digest(staff):
        return staff, True
    problems = Problems()
    typed = {"staff": type_table("staff", staff, problems)}
    problems.tables = typed
    _check_values(typed, problems, allow_reversals=False)
    _check_staff_calendar(typed["staff"].frame, problems)
    if problems.has_errors:
        raise DataError(
            problems.errors(), warnings=problems.warnings(), row_counts={"staff": len(staff)}
        )
    return _finished_staff(typed["staff"]), False


def _staff_digest(staff: pd.DataFrame) -> str | None:
    """Digest of the values of the contract columns of a typed staff table (None if absent)."""
    names = [column.name for column in CONTRACT["staff"]]
    if not set(names).issubset(staff.columns):
        return None
    hashes = pd.util.hash_pandas_object(staff[names], index=False).to_numpy()
    return hashlib.sha256(hashes.tobytes()).hexdigest()


def _finished_staff(table: TypedTable) -> pd.DataFrame:
    """Staff with blank working days set to the default and weekday tokens in canonical case."""
    staff = table.finished()
    days = staff["working_days"].str.strip().str.replace(r"\s+", " ", regex=True)
    for day in WEEKDAYS:
        days = days.str.replace(rf"(?i)\b{day}\b", day, regex=True)
    staff["working_days"] = days.where(days != "", _DEFAULT_WORKING_DAYS).fillna(
        _DEFAULT_WORKING_DAYS
    )
    return staff


def _checked_staff(table: TypedTable) -> pd.DataFrame:
    """Finished staff of a portfolio, marked so that the planner need not check it again."""
    staff = _finished_staff(table)
    staff.attrs[_CHECKED_STAFF] = _staff_digest(staff)
    return staff


def _quoted(values: Sequence[object]) -> str:
    return ", ".join(f"'{value}'" for value in values)
