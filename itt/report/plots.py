"""Figures for the comparison: a Δ heatmap and grouped no-ITT/ITT bars.

Figures are built with the object-oriented API on an Agg canvas (no pyplot): nothing
global is switched, no GUI is needed, and figures are freed as soon as they go out of
scope — important when the report runs headless on a cluster node. Every function
returns the ``Figure`` (so a notebook can display it) and saves it when given a path.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import Normalize
from matplotlib.figure import Figure

from .ledger_frame import GROUP_KEYS
from .tables import ALPHA, group_line, iter_sections

COLOR_NOITT = "#9e9e9e"
COLOR_ITT = "#1f77b4"
DPI = 120


def _new_figure(width: float, height: float) -> Figure:
    fig = Figure(figsize=(width, height), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _save(fig: Figure, path: str | Path | None) -> None:
    if path is not None:
        fig.savefig(path, dpi=DPI)


def _section_label(keys: dict, many_groups: bool, many_metrics: bool) -> str:
    label = f"{keys['task']}\n{keys['target']}"
    if many_metrics:
        label += f"\n({keys['metric']})"
    if many_groups:
        label += f"\nhp={keys['hparams_id']}\n{keys['source']}/{keys['split']}"
    return label


def _metric_label(table: pd.DataFrame) -> str:
    metrics = sorted(table["metric"].unique())
    return metrics[0] if len(metrics) == 1 else "metric per column"


def plot_delta_heatmap(table: pd.DataFrame, path: str | Path | None = None) -> Figure:
    """Model × (task, target) heatmap of Δ = ITT − no-ITT, diverging colours centred at 0.

    Cells are annotated with Δ; ``*`` marks p < 0.05 in the paired t-test; "–" = no Δ.
    """
    if table.empty:
        raise ValueError("empty comparison table: nothing to plot")
    many_groups = table[GROUP_KEYS].drop_duplicates().shape[0] > 1
    many_metrics = table["metric"].nunique() > 1
    sections = list(iter_sections(table))
    col_labels = [_section_label(k, many_groups, many_metrics) for k, _ in sections]
    models = sorted(table["model"].unique())

    delta = np.full((len(models), len(sections)), np.nan)
    pval = np.full_like(delta, np.nan)
    for j, (_, sec) in enumerate(sections):
        for r in sec.itertuples(index=False):
            i = models.index(r.model)
            delta[i, j], pval[i, j] = r.delta, r.p_value

    finite = np.abs(delta[np.isfinite(delta)])
    lim = float(finite.max()) if finite.size and finite.max() > 0 else 1e-3
    norm = Normalize(vmin=-lim, vmax=lim)  # symmetric limits => white is exactly Δ = 0
    cmap = _diverging_cmap()

    col_w = 1.9 if many_groups else 1.5  # group labels are wider
    fig = _new_figure(max(5.0, col_w * len(sections) + 2.8), max(3.0, 0.55 * len(models) + 2.2))
    ax = fig.add_subplot()
    im = ax.imshow(np.ma.masked_invalid(delta), cmap=cmap, norm=norm, aspect="auto")
    ax.set_xticks(range(len(sections)), col_labels, fontsize=9)
    ax.set_yticks(range(len(models)), models)
    ax.set_ylabel("model")
    ax.set_title("Effect of intermediate-task training (Δ = ITT − no-ITT)")
    ax.tick_params(length=0)
    for i in range(len(models)):
        for j in range(len(sections)):
            v = delta[i, j]
            if not np.isfinite(v):
                ax.text(j, i, "–", ha="center", va="center", color="#555555")
                continue
            star = "*" if np.isfinite(pval[i, j]) and pval[i, j] < ALPHA else ""
            strong = abs(norm(v) - 0.5) > 0.3  # dark cell => white text for contrast
            ax.text(j, i, f"{v:+.3f}{star}", ha="center", va="center", fontsize=9,
                    color="white" if strong else "black")
    cbar = fig.colorbar(im, ax=ax, shrink=0.9)
    cbar.set_label(f"Δ {_metric_label(table)} (ITT − no-ITT)", fontsize=9)
    ax.set_xlabel(f"task / target\n* p < {ALPHA} (paired t-test over seeds); – = no comparison",
                  fontsize=9)
    _save(fig, path)
    return fig


def _diverging_cmap():
    from matplotlib import colormaps

    # red = ITT hurts, blue = ITT helps; cells without a Δ are light grey
    return colormaps["RdBu"].with_extremes(bad="#eeeeee")


def plot_bars(table: pd.DataFrame, path: str | Path | None = None) -> Figure:
    """One facet per task × target: per model, no-ITT vs ITT mean with ±1 std error bars."""
    if table.empty:
        raise ValueError("empty comparison table: nothing to plot")
    many_groups = table[GROUP_KEYS].drop_duplicates().shape[0] > 1
    sections = list(iter_sections(table))
    ncols = min(3, math.ceil(math.sqrt(len(sections))))  # 4 facets -> 2x2, not 3+1
    nrows = math.ceil(len(sections) / ncols)
    fig = _new_figure(4.6 * ncols, 3.6 * nrows + 0.6)
    axes = fig.subplots(nrows, ncols, squeeze=False)
    width = 0.38
    for ax, (keys, sec) in zip(axes.flat, sections):
        models = list(sec["model"])
        x = np.arange(len(models))
        for offset, side, color, label in ((-width / 2, "noitt", COLOR_NOITT, "no-ITT"),
                                           (width / 2, "itt", COLOR_ITT, "ITT")):
            means = sec[f"{side}_mean"].to_numpy(dtype=float)
            stds = np.nan_to_num(sec[f"{side}_std"].to_numpy(dtype=float))  # n=1 => no bar
            ax.bar(x + offset, np.nan_to_num(means), width, yerr=stds, capsize=3,
                   color=color, label=label, edgecolor="white", linewidth=0.5,
                   error_kw={"elinewidth": 1, "ecolor": "#333333"})
        # Δ above each pair, so the (often small) effect is readable despite the 0 baseline.
        tops = np.nanmax(np.vstack([
            (sec["noitt_mean"] + sec["noitt_std"].fillna(0)).to_numpy(dtype=float),
            (sec["itt_mean"] + sec["itt_std"].fillna(0)).to_numpy(dtype=float),
        ]), axis=0) if len(sec) else []
        for xi, top, d, p in zip(x, tops, sec["delta"], sec["p_value"]):
            if np.isfinite(d) and np.isfinite(top):
                star = "*" if np.isfinite(p) and p < ALPHA else ""
                ax.annotate(f"Δ{d:+.3f}{star}", (xi, top), xytext=(0, 3),
                            textcoords="offset points", ha="center", va="bottom", fontsize=8)
        ax.set_xticks(x, models)
        # Keep bar width constant across facets: a facet with one model gets empty space
        # instead of one bar stretched over the whole axis.
        half = max(len(models) / 2, 1.25)
        ax.set_xlim((len(models) - 1) / 2 - half, (len(models) - 1) / 2 + half)
        ax.set_ylabel(str(keys["metric"]))
        title = f"{keys['task']} / {keys['target']}"
        if many_groups:
            title += "\n" + group_line(keys).removeprefix("group: ")
        ax.set_title(title, fontsize=10)
        ax.margins(y=0.15)
        ax.grid(axis="y", alpha=0.3)
        ax.set_axisbelow(True)
    for ax in list(axes.flat)[len(sections):]:
        ax.set_visible(False)
    handles, labels = axes.flat[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside upper right", ncols=2, frameon=False)
    fig.suptitle("no-ITT vs ITT (mean over seeds, error bars ±1 sample std; * p < 0.05)",
                 fontsize=10)
    _save(fig, path)
    return fig
