"""The Excel workbook of a visit plan (openpyxl, write-only mode).

Called by :func:`visitrisk.report.write_excel`, which validates and masks the input.
"""

from __future__ import annotations

import datetime as dt
import io
import numbers
import re
import zipfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from visitrisk._report_text import (
    EXCLUSION_DISPLAY,
    FORMULA_START,
    KIND,
    MESSAGES,
    PLAN_DISPLAY,
    XML_ILLEGAL,
    code_labels,
    for_people,
    format_value,
    message,
    summary_items,
    summary_label,
)

__all__ = ["excel_bytes"]

# Characters an East Asian font draws twice as wide (Hangul, CJK, full-width forms).
_WIDE = (
    "[\u1100-\u115f\u2e80-\ua4cf\uac00-\ud7a3\uf900-\ufaff\ufe30-\ufe4f\uff00-\uff60\uffe0-\uffe6]"
)
_EXCEL_ERRORS = ("#NULL!", "#DIV/0!", "#VALUE!", "#REF!", "#NAME?", "#NUM!", "#N/A")
_EXCEL_MAX_TEXT = 32_767  # characters in one cell
_EXCEL_MAX_ROWS = 1_048_575  # data rows under the header row
_SHEET_FORBIDDEN = re.compile(r"[\[\]:*?/\\]")
# The zip entries and document properties of the workbook get this fixed time so that the
# same plan gives the same bytes.
_FIXED_TIME = dt.datetime(2000, 1, 1)


def _sheet_names(labels: Iterable[str], taken: Iterable[str]) -> list[str]:
    r"""Excel-legal, unique sheet names for ``labels`` (31 characters, no []:*?/\)."""
    used = {name.casefold() for name in taken} | {"history"}  # Excel reserves "History"
    names = []
    for label in labels:
        base = _SHEET_FORBIDDEN.sub("_", re.sub(XML_ILLEGAL, "", str(label)))
        base = base.strip("'")[:31].strip("'") or "_"
        name, counter = base, 1
        while name.casefold() in used:
            counter += 1
            suffix = f"~{counter}"
            name = base[: 31 - len(suffix)].rstrip("'") + suffix
        used.add(name.casefold())
        names.append(name)
    return names


def _display_width(values: pd.Series) -> int:
    """Widest value in Excel character units (a CJK character counts twice)."""
    if values.empty:
        return 0
    text = values.astype("str").fillna("")
    width = text.str.len() + text.str.count(_WIDE)
    return int(width.max())


_NUMBER_WIDTH = {"date": 11, "int": 8, "pct": 9, "money": 14}


def _excel_formats(currency: str) -> dict[str, str]:
    money = '"¥"#,##0.00' if currency == "CNY" else f'#,##0.00 "{currency.replace(chr(34), "")}"'
    return {"date": "yyyy-mm-dd", "pct": "0.0%", "money": money, "float": "#,##0.0", "int": "0"}


@dataclass(frozen=True)
class _Table:
    """A table made ready for openpyxl once; its sheets take row ranges of it."""

    headers: list[str]
    kinds: list[str]
    widths: list[float]
    columns: list[list[Any]]  # Python values, None for missing
    # Text cells openpyxl would store as a formula (leading "=") or an error value
    # ("#N/A"), or that a spreadsheet would run as a formula once edited: row -> columns.
    quoted: dict[int, list[int]]
    forced: dict[int, list[int]]


def _table(frame: pd.DataFrame, lang: str) -> _Table:
    kinds = [KIND.get(name, "text") for name in frame.columns]
    headers = [message(lang, f"col.{name}") for name in frame.columns]
    header_widths = pd.Series(headers, dtype="str")
    widths, columns = [], []
    quoted: dict[int, list[int]] = {}
    forced: dict[int, list[int]] = {}
    for j, (name, kind) in enumerate(zip(frame.columns, kinds, strict=True)):
        values = frame[name]
        width = max(_display_width(header_widths.iloc[j : j + 1]), _NUMBER_WIDTH.get(kind, 0))
        if kind == "text":
            width = max(width, _display_width(values))
            formula = values.str.contains(FORMULA_START, regex=True, na=False).to_numpy()
            error = values.isin(_EXCEL_ERRORS).to_numpy() & ~formula
            for rows, target in (
                (np.flatnonzero(formula), quoted),
                (np.flatnonzero(error), forced),
            ):
                for i in rows.tolist():
                    target.setdefault(i, []).append(j)
            # XML turns a bare CR into LF on reading anyway; Excel breaks lines on LF.
            values = values.str.replace(r"\r\n?", "\n", regex=True)
            values = values.str.replace(XML_ILLEGAL, "\ufffd", regex=True)
            values = values.str.slice(0, _EXCEL_MAX_TEXT)
        elif kind == "date":
            values = pd.Series(values.dt.date, dtype=object)
        widths.append(min(width + 2, 60))
        values = values.astype(object)
        columns.append(values.where(values.notna(), None).tolist())
    return _Table(headers, kinds, widths, columns, quoted, forced)


def _fill_sheet(sheet: Any, table: _Table, rows: range, formats: dict[str, str]) -> None:
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font, PatternFill
    from openpyxl.utils import get_column_letter

    for position, width in enumerate(table.widths, 1):
        sheet.column_dimensions[get_column_letter(position)].width = width
    sheet.freeze_panes = "A2"
    sheet.print_title_rows = "1:1"
    sheet.page_setup.orientation = "landscape"
    last = get_column_letter(max(len(table.headers), 1))
    sheet.auto_filter.ref = f"A1:{last}{len(rows) + 1}"

    bold, fill = Font(bold=True), PatternFill("solid", fgColor="DDE6F0")
    header_cells = []
    for header in table.headers:
        cell = WriteOnlyCell(sheet, value=header)
        cell.data_type = "s"
        cell.font, cell.fill = bold, fill
        header_cells.append(cell)
    sheet.append(header_cells)

    # Cells are objects only where needed (a number format, a forced string type): each
    # costs openpyxl far more than a plain value. One reusable cell per column suffices,
    # since openpyxl serialises a row as soon as it is appended.
    styled = [j for j, kind in enumerate(table.kinds) if kind in ("money", "pct", "date")]
    plain, forced, quoted = [], [], []
    for kind in table.kinds:
        cell = WriteOnlyCell(sheet)
        if kind in formats:
            cell.number_format = formats[kind]
        plain.append(cell)
        forced.append(WriteOnlyCell(sheet))
        hostile = WriteOnlyCell(sheet)
        hostile.quotePrefix = True  # Excel keeps it text even after the cell is edited
        quoted.append(hostile)
    columns = [column[rows.start : rows.stop] for column in table.columns]
    # openpyxl is row-oriented, so this loop over rows cannot be vectorised.
    for i, values in enumerate(zip(*columns, strict=True), rows.start):
        row: list[Any] = list(values)
        for j in styled:
            if values[j] is not None:
                plain[j].value = values[j]
                row[j] = plain[j]
        for cells, positions in ((quoted, table.quoted), (forced, table.forced)):
            for j in positions.get(i, ()):
                cells[j].value = values[j]
                cells[j].data_type = "s"  # never a formula, never an error value
                row[j] = cells[j]
        sheet.append(row)


def _fill_summary(
    sheet: Any,
    plan: pd.DataFrame,
    exclusions: pd.DataFrame,
    summary: Mapping[str, Any],
    lang: str,
    formats: dict[str, str],
    masked: bool,
) -> None:
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Alignment, Font

    def text_cell(value: str, **style: Any) -> Any:
        cell = WriteOnlyCell(sheet, value=re.sub(XML_ILLEGAL, "\ufffd", value))
        cell.data_type = "s"
        for attribute, setting in style.items():
            setattr(cell, attribute, setting)
        return cell

    bold, wrap = Font(bold=True), Alignment(wrap_text=True, vertical="top")
    sheet.column_dimensions["A"].width = 46
    sheet.column_dimensions["B"].width = 26
    sheet.column_dimensions["C"].width = 70

    def value_cell(value: Any, kind: str) -> Any:
        if kind in ("text", "period") or not isinstance(value, numbers.Real):
            return text_cell(format_value(value, kind, lang))
        cell = WriteOnlyCell(sheet, value=value)
        cell.number_format = {"km": formats["float"], "raw": "General"}.get(kind) or formats[kind]
        return cell

    def label_cell(key: str, kind: str) -> Any:
        unit = f" ({message(lang, 'unit.km')})" if kind == "km" else ""
        return text_cell(summary_label(lang, key) + unit, font=bold)

    items, by_reason, details = summary_items(plan, exclusions, summary)
    sheet.append([text_cell(message(lang, "title"), font=Font(bold=True, size=14))])
    notice = message(lang, "summary.masked" if masked else "summary.unmasked")
    sheet.append(
        [text_cell(notice, font=Font(bold=not masked, color="000000" if masked else "C00000"))]
    )
    sheet.append([])
    for key, value, kind in items:
        help_text = MESSAGES[lang].get(f"summary.{key}.help", "")
        sheet.append(
            [label_cell(key, kind), value_cell(value, kind), text_cell(help_text, alignment=wrap)]
        )
    sheet.append([])
    sheet.append([text_cell(message(lang, "summary.exclusions_by_reason"), font=bold),
                  text_cell(message(lang, "summary.count"), font=bold)])  # fmt: skip
    labels = code_labels(lang, "reason", pd.Series(by_reason.index, dtype="str"))
    for label, count in zip(labels, by_reason.tolist(), strict=True):
        sheet.append([text_cell(label), int(count)])
    if details:
        sheet.append([])
        sheet.append([text_cell(message(lang, "summary.details"), font=bold)])
        for key, value, kind in details:
            sheet.append([label_cell(key, kind), value_cell(value, kind)])


def _fixed_zip(data: bytes) -> bytes:
    """Rewrite a zip with fixed timestamps, so the same workbook gives the same bytes."""
    stamp = _FIXED_TIME.strftime("%Y-%m-%dT%H:%M:%SZ")
    source = zipfile.ZipFile(io.BytesIO(data))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as target:
        for entry in source.infolist():
            content = source.read(entry.filename)
            if entry.filename == "docProps/core.xml":
                content = re.sub(
                    rb"(<dcterms:(?:created|modified)[^>]*>)[^<]*",
                    rb"\g<1>" + stamp.encode(),
                    content,
                )
            info = zipfile.ZipInfo(entry.filename, date_time=_FIXED_TIME.timetuple()[:6])
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            target.writestr(info, content)
    return buffer.getvalue()


def _ranges(start: int, stop: int) -> list[range]:
    """Row ranges that fit on one sheet (at least one, so an empty table gets a sheet)."""
    starts = range(start, max(stop, start + 1), _EXCEL_MAX_ROWS)
    return [range(first, min(first + _EXCEL_MAX_ROWS, stop)) for first in starts]


def excel_bytes(
    plan: pd.DataFrame,
    exclusions: pd.DataFrame,
    summary: Mapping[str, Any],
    lang: str,
    currency: str,
    masked: bool,
) -> bytes:
    from openpyxl import Workbook

    formats = _excel_formats(currency)
    workbook = Workbook(write_only=True)
    workbook.properties.creator = "visitrisk"
    workbook.properties.created = _FIXED_TIME
    fixed = [message(lang, "sheet.summary"), message(lang, "sheet.exclusions")]
    _fill_summary(workbook.create_sheet(fixed[0]), plan, exclusions, summary, lang, formats, masked)

    # One table per kind of sheet; a branch's rows are made contiguous by a stable sort.
    branch = plan["branch_id"].fillna(message(lang, "ui.blank"))
    order = branch.argsort(kind="stable").to_numpy()
    branch = branch.iloc[order].to_numpy(dtype=object)
    visits = _table(for_people(plan, PLAN_DISPLAY, lang).iloc[order], lang)
    excluded = _table(for_people(exclusions, EXCLUSION_DISPLAY, lang), lang)
    starts = np.flatnonzero(np.r_[True, branch[1:] != branch[:-1]])[: len(branch)]
    stops = np.append(starts[1:], len(branch))[: len(starts)]
    branch_parts = [(branch[first], part) for first, stop in zip(starts, stops, strict=True)
                    for part in _ranges(first, stop)]  # fmt: skip
    excluded_parts = _ranges(0, len(exclusions))
    # A branch named like a fixed sheet gets the suffix, not the fixed sheet.
    excluded_names = _sheet_names([fixed[1]] * len(excluded_parts), fixed[:1])
    branch_names = _sheet_names([label for label, _ in branch_parts], fixed + excluded_names)
    for name, (_, rows) in zip(branch_names, branch_parts, strict=True):
        _fill_sheet(workbook.create_sheet(name), visits, rows, formats)
    for name, rows in zip(excluded_names, excluded_parts, strict=True):
        _fill_sheet(workbook.create_sheet(name), excluded, rows, formats)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return _fixed_zip(buffer.getvalue())
