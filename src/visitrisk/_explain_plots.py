"""Figures of an :class:`~visitrisk.explain.Explanation` (private; matplotlib, no pyplot).

Figures are built with ``matplotlib.figure.Figure`` directly, so no global state (pyplot's
figure registry, rcParams) changes. Chinese labels use the Noto Sans CJK SC font (Debian
``fonts-noto-cjk``, installed by ``make system-deps``), selected inside a local
``rc_context`` while a figure is built and saved; without it a warning says so and
matplotlib's default font is used (Chinese glyphs then show as boxes).
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from visitrisk.explain import Explanation

__all__: list[str] = []

CJK_FAMILY = "Noto Sans CJK SC"
_CJK_FILES = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/opentype/noto-cjk/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/google-noto-cjk/NotoSansCJK-Regular.ttc",
)

_TEXT = {
    "en": {
        "summary": "SHAP values of the uplift (top features)",
        "shap": "SHAP value (uplift, probability units)",
        "low_high": ("low", "high"),
        "value": "feature value",
        "dependence": "Dependence of the uplift on {name}",
        "waterfall": "Why customer {customer} has an uplift of {uplift:+.3f}",
        "base": "base value",
        "other": "{count} other features",
        "missing": "missing",
    },
    "zh": {
        "summary": "提升值的SHAP值（主要特征）",
        "shap": "SHAP值（提升值，概率单位）",
        "low_high": ("低", "高"),
        "value": "特征取值",
        "dependence": "提升值对{name}的依赖",
        "waterfall": "客户{customer}的提升值为{uplift:+.3f}的原因",
        "base": "基准值",
        "other": "其余{count}个特征",
        "missing": "缺失",
    },
}


@cache
def _cjk_family() -> str | None:
    """Register the Noto Sans CJK font with matplotlib if it is installed; its family name."""
    from matplotlib import font_manager

    if any(entry.name == CJK_FAMILY for entry in font_manager.fontManager.ttflist):
        return CJK_FAMILY
    candidates = [Path(path) for path in _CJK_FILES] + [
        Path(path)
        for path in font_manager.findSystemFonts()
        if Path(path).name.startswith("NotoSansCJK-Regular")
    ]
    for path in candidates:
        if path.is_file():
            # Registering a font file adds it to the font list; no style setting changes.
            font_manager.fontManager.addfont(str(path))
            if any(entry.name == CJK_FAMILY for entry in font_manager.fontManager.ttflist):
                return CJK_FAMILY
    return None


@contextmanager
def _style(lang: str) -> Iterator[None]:
    """Local rc settings of the figures: CJK font first when Chinese is asked for."""
    import matplotlib as mpl

    settings: dict[str, Any] = {"axes.unicode_minus": False}
    if lang == "zh":
        family = _cjk_family()
        if family is None:
            warnings.warn(
                f"The {CJK_FAMILY} font is not installed (Debian: fonts-noto-cjk, or "
                "`make system-deps`); Chinese text in figures will not render.",
                UserWarning,
                stacklevel=4,
            )
        else:
            settings["font.family"] = "sans-serif"
            settings["font.sans-serif"] = [family, *mpl.rcParams["font.sans-serif"]]
    with mpl.rc_context(settings):
        yield


def _new_figure(width: float, height: float) -> Figure:
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), layout="constrained")


def _value_colours(column: pd.Series) -> np.ndarray:
    """Colour scale of a feature's values in [0, 1]: rank within the feature (NaN → NaN)."""
    if isinstance(column.dtype, pd.CategoricalDtype):
        codes = column.cat.codes.to_numpy().astype(float)
        codes[codes < 0] = np.nan
        span = max(len(column.cat.categories) - 1, 1)
        return codes / span
    values = pd.to_numeric(column, errors="coerce").astype(float)
    return values.rank(pct=True).to_numpy()


def summary(explanation: Explanation, lang: str, max_features: int) -> Figure:
    """Beeswarm-style summary: one row of points per feature, jittered by density."""
    text = _TEXT[lang]
    top = list(explanation.importance().index[:max_features])
    with _style(lang):
        figure = _new_figure(8.0, 0.45 * len(top) + 1.6)
        axes = figure.add_subplot()
        rng = np.random.default_rng(0)
        scatter = None
        for row, name in enumerate(reversed(top)):
            shap_values = explanation.values[name].to_numpy()
            # Jitter proportional to the local density of points, like a beeswarm.
            counts, edges = np.histogram(shap_values, bins=50)
            bins = np.clip(np.searchsorted(edges, shap_values, side="right") - 1, 0, 49)
            density = counts[bins] / max(counts.max(), 1)
            offset = (rng.random(shap_values.size) - 0.5) * 0.8 * density
            colours = _value_colours(explanation.features[name])
            known = ~np.isnan(colours)
            axes.scatter(shap_values[~known], row + offset[~known], s=6, color="0.6", linewidths=0)
            scatter = axes.scatter(
                shap_values[known],
                row + offset[known],
                s=6,
                c=colours[known],
                cmap="coolwarm",
                vmin=0.0,
                vmax=1.0,
                linewidths=0,
            )
        axes.axvline(0.0, color="0.3", linewidth=0.8)
        axes.set_yticks(range(len(top)), list(reversed(top)))
        axes.set_xlabel(text["shap"])
        axes.set_title(text["summary"])
        if scatter is not None:
            bar = figure.colorbar(scatter, ax=axes, ticks=[0.0, 1.0], aspect=40)
            bar.ax.set_yticklabels(list(text["low_high"]))
            bar.set_label(text["value"])
    return figure


def dependence(explanation: Explanation, name: str, lang: str) -> Figure:
    """Feature value against its SHAP value, one point per customer."""
    text = _TEXT[lang]
    column = explanation.features[name]
    shap_values = explanation.values[name].to_numpy()
    with _style(lang):
        figure = _new_figure(6.0, 4.0)
        axes = figure.add_subplot()
        if isinstance(column.dtype, pd.CategoricalDtype):
            from visitrisk.feature_catalog import category_label

            codes = column.cat.codes.to_numpy()
            labels = [category_label(value, lang) for value in column.cat.categories]
            positions = np.where(codes < 0, len(labels), codes).astype(float)
            jitter = (np.random.default_rng(0).random(codes.size) - 0.5) * 0.3
            axes.scatter(positions + jitter, shap_values, s=6, alpha=0.5, linewidths=0)
            axes.set_xticks(range(len(labels) + 1), [*labels, text["missing"]], rotation=30)
        else:
            values = pd.to_numeric(column, errors="coerce").to_numpy(dtype=float)
            axes.scatter(values, shap_values, s=6, alpha=0.5, linewidths=0)
        axes.axhline(0.0, color="0.3", linewidth=0.8)
        axes.set_xlabel(name)
        axes.set_ylabel(text["shap"])
        axes.set_title(text["dependence"].format(name=name))
    return figure


def waterfall(explanation: Explanation, customer_id: Any, lang: str, max_features: int) -> Figure:
    """From the base value to the uplift, one bar per feature (largest |SHAP| first)."""
    from visitrisk.explain import render_reason

    text = _TEXT[lang]
    row = explanation.values.loc[customer_id]
    order = np.argsort(-np.abs(row.to_numpy()), kind="stable")
    shown = [explanation.feature_names[k] for k in order[:max_features]]
    contributions = [float(row[name]) for name in shown]
    labels = []
    for name in shown:
        value = explanation.features[name].loc[[customer_id]]
        phrase = render_reason(name, value, lang).iloc[0]
        labels.append(phrase if isinstance(phrase, str) else f"{name}: {text['missing']}")
    rest = float(row.drop(shown).sum())
    if len(row) > len(shown):
        contributions.append(rest)
        labels.append(text["other"].format(count=len(row) - len(shown)))
    base = float(explanation.base_values.loc[customer_id])
    uplift = float(explanation.uplift.loc[customer_id])
    with _style(lang):
        figure = _new_figure(9.0, 0.45 * len(labels) + 1.6)
        axes = figure.add_subplot()
        start = base + np.concatenate([[0.0], np.cumsum(contributions)[:-1]])
        positions = np.arange(len(labels))[::-1]
        colours = ["#c0392b" if value > 0 else "#2471a3" for value in contributions]
        axes.barh(positions, contributions, left=start, color=colours, height=0.6)
        for position, left, value in zip(positions, start, contributions, strict=True):
            # Labels sit right of each bar's right end, whatever its sign.
            axes.text(
                max(left, left + value),
                position,
                f" {value:+.3f}",
                va="center",
                fontsize=8,
                color="0.2",
            )
        axes.axvline(base, color="0.5", linestyle="--", linewidth=0.8)
        axes.axvline(uplift, color="0.2", linewidth=0.8)
        axes.set_yticks(positions, labels)
        axes.set_xlabel(f"{text['shap']}; {text['base']} = {base:+.3f}")
        axes.set_title(text["waterfall"].format(customer=customer_id, uplift=uplift))
    return figure


def save(figures: dict[str, Figure], out_dir: Path, lang: str) -> list[Path]:
    """Write each figure as ``<name>.png`` under ``out_dir`` (same font settings)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    with _style(lang):
        for name, figure in figures.items():
            path = out_dir / f"{name}.png"
            figure.savefig(path, dpi=110)
            paths.append(path)
    return paths
