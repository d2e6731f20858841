"""Figure, files and HTML page of a plan measurement (:class:`visitrisk.PlanMeasurement`)."""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from visitrisk._atomic import write_atomic

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from visitrisk.measure import PlanMeasurement

__all__ = ["plot_measurement", "save_measurement"]

_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Realised effect of plan {{ summary.plan_id }}</title>
<style>
body { font-family: system-ui, sans-serif; margin: 2em; color: #222; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: right; }
th { background: #f3f3f3; }
td:first-child, th:first-child { text-align: left; }
img { max-width: 100%; }
</style>
</head>
<body>
<h1>Realised effect of plan {{ summary.plan_id }}</h1>
<p>Plan as of {{ summary.plan_as_of }}; cures and recovered arrears counted until
{{ summary.window_end }} ({{ summary.horizon }} days); measured on {{ summary.as_of }}.
Visit arm against the randomised holdout, Hajek-weighted by the assignment probabilities,
{{ (100 * summary.confidence) | round | int }} % confidence intervals. The effect is that of
<em>planning</em> a visit (missed visits included); the effect per visit divides it by the
uptake.</p>
<h2>Summary</h2>
<table>{% for key, value in summary.items() %}
<tr><th>{{ key }}</th><td>{{ value }}</td></tr>{% endfor %}
</table>
<img alt="Realised effect by band of predicted uplift" src="data:image/png;base64,{{ png }}">
{% for title, table in tables %}
<h2>{{ title }}</h2>
{{ table }}
{% endfor %}
</body>
</html>
"""


def plot_measurement(measurement: PlanMeasurement) -> Figure:
    """Draw realised against predicted effects by band, and the outcomes of the visits made."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=(17.0, 4.2), layout="constrained")
    axes = figure.subplots(1, 4)
    effects = measurement.effects
    titles = {
        "cure_rate": ("Cure rate: visit minus holdout", "points"),
        "recovered_share": ("Share of arrears recovered", "points"),
        "recovered_arrears": ("Recovered arrears per customer", "CNY"),
    }
    for ax, (metric, (title, unit)) in zip(axes[:3], titles.items(), strict=True):
        rows = effects[effects["metric"] == metric]
        scale = 100.0 if unit == "points" else 1.0
        x = np.arange(len(rows))
        effect = rows["effect"].to_numpy() * scale
        low = effect - rows["ci_low"].to_numpy() * scale
        high = rows["ci_high"].to_numpy() * scale - effect
        ax.errorbar(x, effect, yerr=[low, high], fmt="o", capsize=4, label="realised (CI)")
        ax.plot(x, rows["predicted_effect"].to_numpy() * scale, "s", label="predicted")
        ax.axhline(0.0, color="grey", linewidth=0.8)
        ax.set_xticks(x, ["all" if b == "all" else f"band {b}" for b in rows["band"]])
        ax.set_title(title)
        ax.set_ylabel(unit)
        ax.legend(loc="best", fontsize="small")
    outcomes = measurement.outcomes
    ax = axes[3]
    if len(outcomes):
        ax.barh(outcomes["outcome"].to_numpy(), outcomes["visits"].to_numpy())
    share = measurement.summary.get("compliance", float("nan"))
    ax.set_title(f"Visits made: {share:.0%} of those planned")
    ax.set_xlabel("visits")
    return figure


def _csv(frame: pd.DataFrame) -> bytes:
    return frame.to_csv(index=False, date_format="%Y-%m-%d", lineterminator="\n").encode("utf-8")


def _html_table(frame: pd.DataFrame) -> str:
    return frame.to_html(index=False, na_rep="", float_format=lambda v: f"{v:,.4g}", border=0)


def save_measurement(measurement: PlanMeasurement, out: Path) -> dict[str, Path]:
    """Write the CSV tables, the PNG, the HTML page and ``measurement.json`` into ``out``."""
    import jinja2
    from markupsafe import Markup

    out.mkdir(parents=True, exist_ok=True)
    paths = {
        "effects_csv": write_atomic(out / "plan_effect.csv", _csv(measurement.effects)),
        "customers_csv": write_atomic(out / "plan_customers.csv", _csv(measurement.customers)),
        "compliance_csv": write_atomic(out / "plan_compliance.csv", _csv(measurement.compliance)),
    }
    buffer = io.BytesIO()
    measurement.plot().savefig(buffer, format="png", dpi=110)
    png = buffer.getvalue()
    paths["png"] = write_atomic(out / "plan_effect.png", png)
    tables: list[tuple[str, Any]] = [
        ("Effect by band of predicted uplift", Markup(_html_table(measurement.effects))),
        ("Calibration", Markup(_html_table(measurement.calibration))),
        ("Compliance by officer", Markup(_html_table(measurement.compliance))),
        ("Outcomes of the visits made", Markup(_html_table(measurement.outcomes))),
    ]
    page = jinja2.Environment(autoescape=True).from_string(_PAGE)
    html = page.render(
        summary=measurement.summary, png=base64.b64encode(png).decode("ascii"), tables=tables
    )
    paths["html"] = write_atomic(out / "plan_effect.html", html.encode("utf-8"))
    text = json.dumps(
        {"summary": measurement.summary, "metrics": measurement.to_dict()},
        indent=2,
        ensure_ascii=False,
    )
    paths["summary"] = write_atomic(out / "measurement.json", text.encode("utf-8"))
    return paths
