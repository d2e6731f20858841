"""Shape of the contract tables, and how raw tables are read, typed and reported on.

Private helpers of :mod:`visitrisk.contract`: the column specification, readers for CSV
and Parquet folders, parsers that turn any input column into its contract type while
recording what could not be parsed, and the collector that turns problems into the
report frame. The rules themselves live in :mod:`visitrisk.contract`.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

# PROBLEM_COLUMNS and empty_problems are re-exported: modules that read problem reports
# beside the tables (visitrisk.audit) import them from here.
from visitrisk._problems import (
    MAX_EXAMPLES,
    PROBLEM_COLUMNS,
    empty_problems,
    problem,
    problem_frame,
)

__all__ = [
    "CONTRACT",
    "NATURAL_KEYS",
    "PROBLEM_COLUMNS",
    "REQUIRED_TABLES",
    "TABLES",
    "VISIT_OUTCOMES",
    "WEEKDAYS",
    "Column",
    "Problems",
    "TypedTable",
    "empty_problems",
    "key_positions",
    "parse_iso_dates",
    "read_folder",
    "type_table",
    "typed_empty_table",
    "with_article",
]

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

REQUIRED_TABLES: tuple[str, ...] = ("customers", "loans", "installments", "payments")

#: Allowed values of ``visits.outcome``.
VISIT_OUTCOMES: tuple[str, ...] = (
    "met",
    "promise_to_pay",
    "paid_on_site",
    "restructure_requested",
    "refused",
    "not_found",
    "other",
)

#: Tokens of ``staff.working_days`` (matched in any case).
WEEKDAYS: tuple[str, ...] = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")

Kind = Literal["id", "text", "date", "number", "count", "flag"]


@dataclass(frozen=True)
class Column:
    """One contract column: its name, how it is typed, and whether it is required."""

    name: str
    kind: Kind
    required: bool = False


def _columns(*specs: tuple[str, Kind, bool]) -> tuple[Column, ...]:
    return tuple(Column(name, kind, required) for name, kind, required in specs)


#: Every contract column per table, in contract order (``*`` columns are required).
CONTRACT: dict[str, tuple[Column, ...]] = {
    "branches": _columns(
        ("branch_id", "id", True),
        ("name", "text", False),
        ("latitude", "number", False),
        ("longitude", "number", False),
    ),
    "customers": _columns(
        ("customer_id", "id", True),
        ("branch_id", "id", True),
        ("segment", "text", False),
        ("township", "text", False),
        ("village", "text", False),
        ("latitude", "number", False),
        ("longitude", "number", False),
        ("do_not_visit", "flag", False),
        ("name", "text", False),
        ("national_id", "id", False),
        ("phone", "id", False),
    ),
    "loans": _columns(
        ("loan_id", "id", True),
        ("customer_id", "id", True),
        ("product", "text", True),
        ("origination_date", "date", True),
        ("principal", "number", True),
        ("maturity_date", "date", False),
        ("annual_rate", "number", False),
    ),
    "installments": _columns(
        ("loan_id", "id", True),
        ("due_date", "date", True),
        ("amount_due", "number", True),
    ),
    "payments": _columns(
        ("loan_id", "id", True),
        ("payment_date", "date", True),
        ("amount", "number", True),
    ),
    "visits": _columns(
        ("customer_id", "id", True),
        ("visit_date", "date", True),
        ("officer_id", "id", False),
        ("outcome", "text", False),
        ("plan_id", "id", False),
    ),
    "staff": _columns(
        ("officer_id", "id", True),
        ("branch_id", "id", True),
        ("visits_per_day", "count", True),
        ("working_days", "text", False),
        ("covers_branches", "text", False),
        ("absent_dates", "text", False),
    ),
}

#: How a row is named in examples: its id column and, for dated rows, its date column.
NATURAL_KEYS: dict[str, tuple[str, str | None]] = {
    "branches": ("branch_id", None),
    "customers": ("customer_id", None),
    "loans": ("loan_id", None),
    "installments": ("loan_id", "due_date"),
    "payments": ("loan_id", "payment_date"),
    "visits": ("customer_id", "visit_date"),
    "staff": ("officer_id", None),
}

#: Text that means "no value" in a date, number or flag column (compared in lower case).
_NULL_TOKENS = ("", "na", "n/a", "nan", "null", "none", "nat")

#: Accepted spellings of a flag (compared in lower case).
_FLAGS = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}

#: A UTC offset after a time of day; dropped so the local calendar date is kept.
_UTC_OFFSET = r"(\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)\s*(?:Z|[+-]\d{2}:?\d{2})$"

#: The contract's date format, optionally followed by a time of day.
_ISO_DATE = r"\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?"


# --------------------------------------------------------------------------- problems


@dataclass
class _Record:
    severity: Literal["error", "warning"]
    table: str
    column: str
    rule: str
    description: str
    rows: np.ndarray | None
    count: int | None
    noun: str
    examples: Sequence[object]
    key_name: str | None


#: Verb forms for a count of one ("1 row has ...", "3 rows have ...").
_SINGULAR = {"have": "has", "are": "is", "were": "was", "share": "shares", "cover": "covers"}


class Problems:
    """Collects errors and warnings; builds the report frames once tables are typed.

    Examples need the typed tables (to name rows by their natural key), so messages are
    written only when :meth:`errors` or :meth:`warnings` is called.
    """

    def __init__(self) -> None:
        self._records: list[_Record] = []
        self.tables: dict[str, TypedTable] = {}

    def error(self, table: str, column: str, rule: str, description: str, **detail) -> None:
        """Record a break of the contract (see :meth:`_add` for ``detail``)."""
        self._add("error", table, column, rule, description, **detail)

    def warn(self, table: str, column: str, rule: str, description: str, **detail) -> None:
        """Record legal but suspicious data."""
        self._add("warning", table, column, rule, description, **detail)

    def _add(
        self,
        severity: Literal["error", "warning"],
        table: str,
        column: str,
        rule: str,
        description: str,
        *,
        rows: np.ndarray | None = None,
        count: int | None = None,
        noun: str = "row",
        examples: Sequence[object] = (),
        key_name: str | None = None,
    ) -> None:
        if rows is not None and count is None:
            count = len(rows)
        self._records.append(
            _Record(
                severity, table, column, rule, description, rows, count, noun, examples, key_name
            )
        )

    @property
    def has_errors(self) -> bool:
        """Whether any error was recorded."""
        return any(record.severity == "error" for record in self._records)

    def errors(self) -> pd.DataFrame:
        """Return the errors, one row per problem, in table and column order."""
        return self._frame("error")

    def warnings(self) -> pd.DataFrame:
        """Return the warnings, one row per problem, in table and column order."""
        return self._frame("warning")

    def _frame(self, severity: str) -> pd.DataFrame:
        records = [record for record in self._records if record.severity == severity]
        records.sort(key=self._rank)
        rows = []
        for record in records:
            examples, key_name = self._examples(record)
            message = _message(record, examples, key_name)
            rows.append(
                problem(
                    record.table,
                    record.column,
                    record.rule,
                    message,
                    count=record.count or 0,
                    examples=examples,
                )
            )
        return problem_frame(rows)

    @staticmethod
    def _rank(record: _Record) -> tuple[int, int]:
        table_rank = TABLES.index(record.table) if record.table in TABLES else len(TABLES)
        names = [column.name for column in CONTRACT.get(record.table, ())]
        if not record.column:
            column_rank = -1
        elif record.column in names:
            column_rank = names.index(record.column)
        else:
            column_rank = len(names)
        return table_rank, column_rank

    def _examples(self, record: _Record) -> tuple[list[str], str | None]:
        if record.rows is None:
            return [str(value) for value in record.examples][:MAX_EXAMPLES], record.key_name
        # Several rows may share a key (duplicates): look a little further for distinct ones.
        labels = self._labels(record.table, record.rows[: 10 * MAX_EXAMPLES])
        return list(dict.fromkeys(labels))[:MAX_EXAMPLES], NATURAL_KEYS[record.table][0]

    def _labels(self, table: str, rows: np.ndarray) -> list[str]:
        """Name rows by natural key ("L001 on 2026-01-05"), or "row 7" when the id is blank."""
        typed = self.tables[table]
        id_column, date_column = NATURAL_KEYS[table]
        ids = typed.frame[id_column].iloc[rows].to_numpy(dtype=object)
        labels = [
            str(ident) if isinstance(ident, str) else f"row {row + 1}"
            for row, ident in zip(rows, ids, strict=True)
        ]
        if date_column is None:
            return labels
        dates = typed.frame[date_column].iloc[rows].to_numpy()
        raw = typed.raw[date_column] if date_column in typed.raw.columns else None
        for i, (row, date) in enumerate(zip(rows, dates, strict=True)):
            if not np.isnat(date):
                labels[i] += f" on {np.datetime_as_string(date, unit='D')}"
            elif raw is not None and pd.notna(raw.iloc[row]) and str(raw.iloc[row]).strip():
                labels[i] += f" on '{raw.iloc[row]}'"
            else:
                labels[i] += f" (no {date_column})"
        return labels


def with_article(noun: str) -> str:
    """Return ``noun`` after "a" or "an" ("an origination_date", "a due_date")."""
    return f"{'an' if noun[:1] in 'aeiou' else 'a'} {noun}"


def _message(record: _Record, examples: list[str], key_name: str | None) -> str:
    subject = f"{record.table}.{record.column}" if record.column else record.table
    if record.count is None:
        text = f"{subject}: {record.description} (rule {record.rule})"
    else:
        description = record.description
        noun = record.noun
        if record.count == 1:
            verb, _, rest = description.partition(" ")
            description = f"{_SINGULAR.get(verb, verb)} {rest}"
        else:
            noun += "s"
        text = f"{subject}: {record.count:,} {noun} {description} (rule {record.rule})"
    if examples:
        text += f"; e.g. {key_name} {', '.join(examples)}" if key_name else ""
    return text


# --------------------------------------------------------------------------- typing


@dataclass
class TypedTable:
    """A contract table after typing, before the final checks.

    ``frame`` holds the contract columns (typed, in contract order; absent optional ones
    added) followed by the extra columns; ``raw`` is the input as read, with the same row
    positions; ``absent`` names the contract columns the input did not have.
    """

    name: str
    frame: pd.DataFrame
    raw: pd.DataFrame
    absent: set[str] = field(default_factory=set)

    def finished(self) -> pd.DataFrame:
        """Return the frame with its final dtypes (counts as int64)."""
        frame = self.frame.copy(deep=False)  # copy-on-write: the typed data is not duplicated
        for column in CONTRACT[self.name]:
            if column.kind == "count":
                frame[column.name] = frame[column.name].astype(np.int64)
        return frame


@dataclass
class _Parsed:
    values: pd.Series
    missing: np.ndarray
    unparsable: np.ndarray
    bad_values: list[str] = field(default_factory=list)
    number_rows: np.ndarray | None = None  # text columns: rows that arrived as numbers


def type_table(name: str, frame: pd.DataFrame, problems: Problems) -> TypedTable:
    """Type every contract column of one table, recording column-level problems."""
    duplicated = frame.columns.duplicated()
    for column in dict.fromkeys(frame.columns[duplicated]):
        problems.error(
            name,
            str(column),
            "duplicate_column",
            "column appears more than once; only the first one was read",
        )
    raw = frame.loc[:, ~duplicated].reset_index(drop=True)
    index_names = {str(level) for level in frame.index.names if level is not None}
    n_rows = len(raw)

    typed: dict[object, pd.Series] = {}
    absent: set[str] = set()
    for column in CONTRACT[name]:
        if column.name not in raw.columns:
            absent.add(column.name)
            typed[column.name] = _blank_column(column.kind, n_rows)
            if column.required:
                hint = (
                    " (it is the DataFrame's index: call reset_index() first)"
                    if column.name in index_names
                    else ""
                )
                problems.error(name, column.name, "missing_column", f"column is missing{hint}")
            continue
        parsed = _PARSERS[column.kind](raw[column.name])
        typed[column.name] = parsed.values
        _report_parsing(problems, name, column, parsed)

    contract_names = {column.name for column in CONTRACT[name]}
    for extra in raw.columns:
        if extra not in contract_names:
            typed[extra] = raw[extra]
    return TypedTable(name, pd.DataFrame(typed, copy=False), raw, absent)


def typed_empty_table(name: str) -> pd.DataFrame:
    """Return a table with every contract column, typed, and no rows."""
    frame = pd.DataFrame({column.name: _blank_column(column.kind, 0) for column in CONTRACT[name]})
    return TypedTable(name, frame, frame).finished()


def _report_parsing(problems: Problems, table: str, column: Column, parsed: _Parsed) -> None:
    if column.required and parsed.missing.any():
        problems.error(
            table,
            column.name,
            "missing_value",
            f"have no {column.name}",
            rows=np.flatnonzero(parsed.missing),
        )
    if parsed.unparsable.any():
        shown = ", ".join(f"'{value}'" for value in parsed.bad_values)
        rule, expected = {
            "date": ("unparsable_date", "an ISO date YYYY-MM-DD"),
            "number": ("unparsable_number", "a finite number"),
            "count": ("unparsable_number", "a whole number"),
            "flag": ("unparsable_bool", "true/false, 1/0 or yes/no"),
        }[column.kind]
        problems.error(
            table,
            column.name,
            rule,
            f"have {with_article(column.name)} that is not {expected} ({shown})",
            rows=np.flatnonzero(parsed.unparsable),
        )
    if parsed.number_rows is not None and parsed.number_rows.any():
        rule = "id_as_number" if column.kind == "id" else "text_as_number"
        problems.warn(
            table,
            column.name,
            rule,
            "arrived as numbers and were converted to text (leading zeros, if any, are lost: "
            "export identifiers as text)",
            rows=np.flatnonzero(parsed.number_rows),
        )


def _blank_column(kind: Kind, n_rows: int) -> pd.Series:
    """Return an absent column: missing values of its dtype (flags default to False)."""
    if kind in ("id", "text"):
        import pyarrow as pa

        return pd.Series(pd.array(pa.nulls(n_rows, pa.large_string()), dtype="str"))
    if kind == "date":
        return pd.Series(np.full(n_rows, np.datetime64("NaT"), dtype="datetime64[us]"))
    if kind == "flag":
        return pd.Series(np.zeros(n_rows, dtype=bool))
    return pd.Series(np.full(n_rows, np.nan))


def _plain(raw: pd.Series) -> pd.Series:
    """Categorical columns (Parquet dictionaries) as their plain values."""
    if isinstance(raw.dtype, pd.CategoricalDtype):
        return raw.astype(raw.dtype.categories.dtype)
    return raw


def _is_text_dtype(raw: pd.Series) -> bool:
    return pd.api.types.is_string_dtype(raw.dtype) and raw.dtype != object


def _shown(values: pd.Series) -> list[str]:
    return [str(value) for value in values.unique()[:MAX_EXAMPLES]]


def _by_value(
    raw: pd.Series, parse: Callable[[pd.Series], pd.Series]
) -> tuple[pd.Series, np.ndarray, np.ndarray, list[str]]:
    """Parse each distinct value once (dates repeat a lot), then spread back to the rows.

    ``parse`` receives the stripped text of the distinct values (missing ones as NaN) and
    returns their parsed values, missing where unparsable.
    """
    codes, uniques = pd.factorize(raw)
    text = pd.Series(np.asarray(uniques, dtype=object), dtype=object).astype("str").str.strip()
    blank = text.str.lower().isin(_NULL_TOKENS).to_numpy()
    parsed = parse(text.where(~blank))
    bad = ~blank & parsed.isna().to_numpy()
    values = pd.Series(parsed.array.take(codes, allow_fill=True))
    # Code -1 (a null in the input) picks the appended last element.
    missing = np.append(blank, True)[codes]
    unparsable = np.append(bad, False)[codes]
    return values, missing, unparsable, text[bad].head(MAX_EXAMPLES).tolist()


def _parse_text(raw: pd.Series) -> _Parsed:
    raw = _plain(raw)
    number_rows = None
    if pd.api.types.is_numeric_dtype(raw.dtype):
        number_rows = raw.notna().to_numpy()
        numbers = raw.to_numpy(dtype=np.float64, na_value=np.nan)
        finite = numbers[np.isfinite(numbers)]
        # 1001.0 (an integer id in a column with blanks) must read "1001", not "1001.0".
        if pd.api.types.is_float_dtype(raw.dtype) and np.array_equal(finite, np.floor(finite)):
            raw = raw.astype("Int64")
        values = raw.astype("str")
    elif _is_text_dtype(raw):
        values = raw.astype("str")
    else:
        values = raw.astype("str")
        kind = pd.api.types.infer_dtype(raw, skipna=True)
        if kind in ("integer", "floating", "decimal", "mixed-integer", "mixed-integer-float"):
            # Python numbers among the values: a number differs from its own text form.
            as_text = values.to_numpy(dtype=object)
            number_rows = (raw.to_numpy(dtype=object) != as_text) & raw.notna().to_numpy()
    empty = (values == "").to_numpy(dtype=bool, na_value=False)
    if empty.any():
        values = values.where(~empty)
    missing = values.isna().to_numpy()
    return _Parsed(values, missing, np.zeros(len(values), dtype=bool), number_rows=number_rows)


def parse_iso_dates(text: pd.Series) -> pd.Series:
    """Parse ``YYYY-MM-DD`` text (a time of day is allowed), NaT where it is not one.

    pandas' ISO 8601 parser alone would also take ``2026/01/20`` or ``2026-01`` (as the
    1st of January): the pattern keeps the contract's format strict.
    """
    local = text.str.replace(_UTC_OFFSET, r"\1", regex=True)
    iso = local.str.fullmatch(_ISO_DATE).fillna(False).astype(bool)
    return pd.to_datetime(local.where(iso), format="ISO8601", errors="coerce")


def _parse_date(raw: pd.Series) -> _Parsed:
    raw = _plain(raw)
    bad_values: list[str] = []
    if isinstance(raw.dtype, pd.DatetimeTZDtype):
        raw = raw.dt.tz_localize(None)
    if pd.api.types.is_datetime64_any_dtype(raw.dtype):
        values = raw
        missing = raw.isna().to_numpy()
        unparsable = np.zeros(len(raw), dtype=bool)
    elif pd.api.types.is_numeric_dtype(raw.dtype):
        # Numbers are not dates (days since 1970? Excel serials?): ask for ISO text.
        missing = raw.isna().to_numpy()
        unparsable = ~missing
        values = _blank_column("date", len(raw))
        bad_values = _shown(raw[unparsable])
    else:
        values, missing, unparsable, bad_values = _by_value(raw, parse_iso_dates)
    values = values.astype("datetime64[us]").dt.normalize()
    return _Parsed(values.reset_index(drop=True), missing, unparsable, bad_values)


def _finite_numbers(text: pd.Series) -> pd.Series:
    numbers = pd.to_numeric(text, errors="coerce").astype(np.float64)
    return numbers.where(np.isfinite(numbers))


def _parse_number(raw: pd.Series, *, whole: bool = False) -> _Parsed:
    raw = _plain(raw)
    bad_values: list[str] = []
    if pd.api.types.is_bool_dtype(raw.dtype):
        missing = raw.isna().to_numpy()
        numbers = np.full(len(raw), np.nan)
        unparsable = ~missing
    elif pd.api.types.is_numeric_dtype(raw.dtype):
        numbers = raw.to_numpy(dtype=np.float64, na_value=np.nan)
        missing = np.isnan(numbers)
        unparsable = np.isinf(numbers)
    else:
        fast = _cast_numbers(raw) if _is_text_dtype(raw) else None
        if fast is not None:
            numbers = fast
            missing = np.isnan(numbers)
            unparsable = np.isinf(numbers)
        else:
            values, missing, unparsable, bad_values = _by_value(raw, _finite_numbers)
            numbers = values.to_numpy(dtype=np.float64, na_value=np.nan)
    if whole:
        unparsable = unparsable | (np.isfinite(numbers) & (numbers != np.floor(numbers)))
    if unparsable.any():
        bad_values = bad_values or _shown(raw[unparsable])
        numbers = np.where(unparsable, np.nan, numbers)
    return _Parsed(pd.Series(numbers), missing, unparsable, bad_values)


def _cast_numbers(raw: pd.Series) -> np.ndarray | None:
    """Arrow's fast text-to-float cast; None when any value needs the careful path."""
    import pyarrow as pa
    import pyarrow.compute as pc

    try:
        cast = pc.cast(pa.array(raw, type=pa.large_string()), pa.float64())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    return cast.to_numpy(zero_copy_only=False)


def _parse_flag(raw: pd.Series) -> _Parsed:
    raw = _plain(raw)
    bad_values: list[str] = []
    if pd.api.types.is_bool_dtype(raw.dtype):
        flags = raw.astype("boolean")
        missing = flags.isna().to_numpy()
        unparsable = np.zeros(len(raw), dtype=bool)
    elif pd.api.types.is_numeric_dtype(raw.dtype):
        numbers = raw.to_numpy(dtype=np.float64, na_value=np.nan)
        missing = np.isnan(numbers)
        unparsable = ~missing & ~np.isin(numbers, (0.0, 1.0))
        flags = pd.Series(numbers == 1.0)
        bad_values = _shown(raw[unparsable])
    else:
        flags, missing, unparsable, bad_values = _by_value(
            raw, lambda text: text.str.lower().map(_FLAGS).astype("boolean")
        )
    # A blank do_not_visit means "no request": False, as the contract's default.
    values = flags.fillna(False).astype(bool).reset_index(drop=True)
    return _Parsed(values, missing, unparsable, bad_values)


_PARSERS: dict[str, Callable[[pd.Series], _Parsed]] = {
    "id": _parse_text,
    "text": _parse_text,
    "date": _parse_date,
    "number": _parse_number,
    "count": lambda raw: _parse_number(raw, whole=True),
    "flag": _parse_flag,
}


def key_positions(keys: pd.Series, parent_keys: pd.Series) -> np.ndarray:
    """Return the row of each key in ``parent_keys`` (first match), -1 when absent or blank.

    Arrow's hash lookup: about ten times faster than ``Index.get_indexer`` on text keys.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    found = pc.index_in(
        pa.array(keys, type=pa.large_string()),
        value_set=pa.array(parent_keys, type=pa.large_string()),
        skip_nulls=True,
    )
    return pc.fill_null(found, -1).to_numpy(zero_copy_only=False).astype(np.int64)


# --------------------------------------------------------------------------- reading


class _UnreadableError(Exception):
    """A table file that cannot be read; the message says why, for an analyst."""


def read_folder(
    folder: Path, problems: Problems
) -> tuple[dict[str, pd.DataFrame], set[str], list[str]]:
    """Read ``<table>.csv`` or ``<table>.parquet`` for every contract table found.

    Returns
    -------
    tables : dict of str to pandas.DataFrame
        Raw tables by name (CSV columns all text).
    unreadable : set of str
        Tables whose file exists but could not be used (already reported).
    others : list of str
        Other ``.csv``/``.parquet`` files in the folder (a misspelt table name?).
    """
    files = {path.name: path for path in folder.iterdir() if path.is_file()}
    tables: dict[str, pd.DataFrame] = {}
    unreadable: set[str] = set()
    expected: set[str] = set()
    for name in TABLES:
        candidates = [f"{name}.csv", f"{name}.parquet"]
        expected.update(candidates)
        present = [file for file in candidates if file in files]
        if len(present) == 2:
            problems.error(
                name,
                "",
                "duplicate_table_file",
                f"both {present[0]} and {present[1]} are in the folder: keep only one",
            )
            unreadable.add(name)
        elif present:
            path = files[present[0]]
            try:
                tables[name] = _read_csv(path) if path.suffix == ".csv" else _read_parquet(path)
            except _UnreadableError as exc:
                problems.error(name, "", "unreadable_file", f"{path.name} cannot be read: {exc}")
                unreadable.add(name)
    others = sorted(
        file for file in files if file not in expected and file.endswith((".csv", ".parquet"))
    )
    return tables, unreadable, others


def _read_csv(path: Path) -> pd.DataFrame:
    """Read a CSV file with every column as text (ids keep their leading zeros)."""
    import pyarrow as pa
    import pyarrow.csv as pa_csv

    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            header = next(csv.reader(handle), None)
    except UnicodeDecodeError:
        raise _UnreadableError(_NOT_UTF8) from None
    if not header:
        raise _UnreadableError("the file is empty (no header row)")
    try:
        table = pa_csv.read_csv(
            path,
            read_options=pa_csv.ReadOptions(column_names=header, skip_rows=1),
            convert_options=pa_csv.ConvertOptions(
                column_types=dict.fromkeys(header, pa.string()),
                null_values=[""],
                strings_can_be_null=True,
                quoted_strings_can_be_null=True,
            ),
        )
    except pa.ArrowInvalid as exc:
        reason = str(exc).splitlines()[0]
        raise _UnreadableError(_NOT_UTF8 if "UTF8" in reason else reason) from None
    return table.to_pandas()


_NOT_UTF8 = "it is not UTF-8 text (re-save it as UTF-8; GBK exports need converting)"


def _read_parquet(path: Path) -> pd.DataFrame:
    import pyarrow as pa

    try:
        frame = pd.read_parquet(path)
    except (OSError, ValueError, pa.ArrowException) as exc:
        raise _UnreadableError(f"it is not a readable Parquet file ({exc})") from None
    if any(level is not None for level in frame.index.names):
        # A named index was a column when the file was written (pandas keeps it as index).
        frame = frame.reset_index()
    return frame
