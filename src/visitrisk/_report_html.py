"""The self-contained HTML page of a visit plan (Jinja2 template, inline CSS and script).

Called by :func:`visitrisk.report.write_html`, which validates and masks the input.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from visitrisk._report_text import (
    EXCLUSION_DISPLAY,
    KIND,
    MESSAGES,
    PLAN_DISPLAY,
    code_labels,
    for_people,
    format_value,
    message,
    summary_items,
    summary_label,
)

__all__ = ["html_page"]


def _table_payload(frame: pd.DataFrame, lang: str, filters: tuple[str, ...]) -> dict[str, Any]:
    # Free text wraps in the page; identifiers and codes never do.
    notes = ("reason_1", "reason_2", "reason_3", "detail")
    columns = [
        {
            "key": name,
            "label": message(lang, f"col.{name}"),
            "kind": "note" if name in notes else KIND.get(name, "text"),
        }
        for name in frame.columns
    ]
    cells = frame.copy()
    for name in cells.columns:
        if KIND.get(name) == "date":
            cells[name] = cells[name].dt.strftime("%Y-%m-%d")
    values = cells.astype(object)
    rows = values.where(values.notna(), None).to_numpy().tolist()
    return {
        "columns": columns,
        "rows": rows,
        "filters": [list(frame.columns).index(name) for name in filters if name in frame.columns],
    }


def html_page(
    plan: pd.DataFrame,
    exclusions: pd.DataFrame,
    summary: Mapping[str, Any],
    lang: str,
    currency: str,
    masked: bool,
) -> str:
    import jinja2
    from markupsafe import Markup

    environment = jinja2.Environment(
        loader=jinja2.PackageLoader("visitrisk", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
    )
    # tojson escapes < > & ' so the data cannot close its <script> block.
    environment.policies["json.dumps_kwargs"] = {
        "ensure_ascii": False,
        "sort_keys": True,
        "allow_nan": False,
    }
    script = (Path(__file__).parent / "templates" / "report.js").read_text(encoding="utf-8")
    style = (Path(__file__).parent / "templates" / "report.css").read_text(encoding="utf-8")

    def digest(source: str) -> str:
        return base64.b64encode(hashlib.sha256(source.encode("utf-8")).digest()).decode()

    items, by_reason, details = summary_items(plan, exclusions, summary)
    figures = [
        {
            "label": summary_label(lang, key),
            "value": format_value(value, kind, lang) + (f" {currency}" if kind == "money" else ""),
            "help": MESSAGES[lang].get(f"summary.{key}.help", ""),
        }
        for key, value, kind in items
    ]
    figure = {key: value for key, value, _ in items}
    period = figure.get("period")
    lead = message(
        lang,
        "summary.lead",
        visits=f"{figure['visits_planned']:,}",
        start=period[0].strftime("%Y-%m-%d") if period else "–",
        end=period[1].strftime("%Y-%m-%d") if period else "–",
        holdout=f"{figure['holdout_size']:,}",
        excluded=f"{len(exclusions):,}",
    )
    reasons = [
        {"label": label, "count": f"{count:,}"}
        for label, count in zip(
            code_labels(lang, "reason", pd.Series(by_reason.index, dtype="str")),
            by_reason.tolist(),
            strict=True,
        )
    ]
    payload = {
        "lang": "zh-CN" if lang == "zh" else "en",
        "currency": currency,
        "text": {key[3:]: value for key, value in MESSAGES[lang].items() if key.startswith("ui.")},
        "tables": {
            "plan": _table_payload(
                for_people(plan, PLAN_DISPLAY, lang),
                lang,
                ("branch_id", "officer_id", "visit_date", "arm"),
            ),
            "exclusions": _table_payload(
                for_people(exclusions, EXCLUSION_DISPLAY, lang), lang, ("branch_id", "reason")
            ),
        },
    }
    template = environment.get_template("report.html.j2")
    return template.render(
        lang=payload["lang"],
        t=MESSAGES[lang],
        plan_id=items[0][1],
        lead=lead,
        figures=figures,
        reasons=reasons,
        details=[
            (summary_label(lang, key), format_value(value, kind, lang))
            for key, value, kind in details
        ],
        masked=masked,
        payload=payload,
        script=Markup(script),
        style=Markup(style),
        script_hash=digest(script),
        style_hash=digest(style),
    )
