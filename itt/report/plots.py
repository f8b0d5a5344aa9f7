"""Figures: Δ heatmaps (per target, per language), no-ITT/ITT bars, gain-vs-divergence scatters.

Figures are built with the object-oriented API on an Agg canvas (no pyplot): nothing global is
switched, no GUI is needed, and figures are freed as soon as they go out of scope — important
when the report runs headless on a cluster node. Every function returns the ``Figure`` (so a
notebook can display it) and saves it when given a path. Stars mark Holm-adjusted p < 0.05.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import Normalize
from matplotlib.figure import Figure

from .divergence import in_training_language
from .ledger_frame import GROUP_KEYS, group_line
from .tables import ALPHA, iter_sections, setup_label, variant_labels

COLOR_NOITT = "#9e9e9e"
COLOR_ITT = "#1f77b4"
DPI = 120
STAR_NOTE = f"* Holm-adjusted p < {ALPHA}; – = no comparison"


def _new_figure(width: float, height: float) -> Figure:
    fig = Figure(figsize=(width, height), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _save(fig: Figure, path: str | Path | None) -> None:
    if path is not None:
        fig.savefig(path, dpi=DPI)


def _cmap():
    from matplotlib import colormaps

    # red = ITT hurts, blue = ITT helps; cells without a Δ are light grey
    return colormaps["RdBu"].with_extremes(bad="#eeeeee")


def _row_label(model, variant: str, many_variants: bool) -> str:
    """``variant``: its label (``tables.variant_labels``: with the intermediate settings where needed)."""
    return f"{model} · {variant}" if many_variants else str(model)


def _own(table: pd.DataFrame) -> pd.DataFrame:
    # Per-target figures show the runs' own test sets; eval sets have the language heatmap.
    return table[table["own"].astype(bool)] if "own" in table else table


def _heatmap(ax, delta, pval, norm, fontsize=9):
    im = ax.imshow(np.ma.masked_invalid(delta), cmap=_cmap(), norm=norm, aspect="auto")
    for i in range(delta.shape[0]):
        for j in range(delta.shape[1]):
            v = delta[i, j]
            if not np.isfinite(v):
                ax.text(j, i, "–", ha="center", va="center", color="#555555", fontsize=fontsize)
                continue
            star = "*" if np.isfinite(pval[i, j]) and pval[i, j] < ALPHA else ""
            strong = abs(norm(v) - 0.5) > 0.3  # dark cell => white text for contrast
            ax.text(j, i, f"{v:+.3f}{star}", ha="center", va="center", fontsize=fontsize,
                    color="white" if strong else "black")
    ax.tick_params(length=0)
    return im


def _norm(delta: np.ndarray) -> Normalize:
    finite = np.abs(delta[np.isfinite(delta)])
    lim = float(finite.max()) if finite.size and finite.max() > 0 else 1e-3
    return Normalize(vmin=-lim, vmax=lim)  # symmetric limits => white is exactly Δ = 0


def plot_delta_heatmap(table: pd.DataFrame, path: str | Path | None = None) -> Figure:
    """(model × ITT variant) × (task, target) heatmap of Δ = ITT − no-ITT on the own test sets."""
    table = _own(table)
    if table.empty:
        raise ValueError("empty comparison table: nothing to plot")
    many_groups = table[GROUP_KEYS].drop_duplicates().shape[0] > 1
    sections = list(iter_sections(table))
    variants = variant_labels(table)
    many_variants = variants[table["itt_variant"].notna()].nunique() > 1
    rows = sorted(set(zip(table["model"], variants)))
    delta = np.full((len(rows), len(sections)), np.nan)
    pval = np.full_like(delta, np.nan)
    labels = []
    for j, (keys, sec) in enumerate(sections):
        label = f"{keys['task']}\n{keys['target']}"
        if table["metric"].nunique() > 1:
            label += f"\n({keys['metric']})"
        if many_groups:
            label += f"\nhp={keys['hparams_id']}\n{keys['source']}/{keys['split']}"
            if table["selected_on"].nunique(dropna=False) > 1:
                label += f"\non {keys['selected_on']}"
        if table.groupby(["task", "target"])["key"].nunique(dropna=False).gt(1).any():
            label += f"\n{keys['key']}"  # one target on two datasets (another max_rows, path or revision)
        label += setup_label(keys, "\n")
        labels.append(label)
        for idx, r in zip(sec.index, sec.itertuples(index=False)):
            i = rows.index((r.model, variants[idx]))
            delta[i, j], pval[i, j] = r.delta, r.p_holm
    norm = _norm(delta)
    fig = _new_figure(max(5.0, (1.9 if many_groups else 1.5) * len(sections) + 3.2),
                      max(3.0, 0.55 * len(rows) + 2.2))
    ax = fig.add_subplot()
    im = _heatmap(ax, delta, pval, norm)
    ax.set_xticks(range(len(sections)), labels, fontsize=9)
    ax.set_yticks(range(len(rows)), [_row_label(m, v, many_variants) for m, v in rows])
    ax.set_ylabel("model" + (" · ITT variant" if many_variants else ""))
    ax.set_title("Effect of intermediate-task training (Δ = ITT − no-ITT)")
    cbar = fig.colorbar(im, ax=ax, shrink=0.9)
    metrics = sorted(table["metric"].unique())
    cbar.set_label(f"Δ {metrics[0] if len(metrics) == 1 else 'metric per column'}", fontsize=9)
    ax.set_xlabel(f"task / target\n{STAR_NOTE}", fontsize=9)
    _save(fig, path)
    return fig


def plot_language_heatmap(lang_table: pd.DataFrame, path: str | Path | None = None, title_suffix: str = "") -> Figure:
    """Δ by eval language (columns grouped by family) × (model · ITT variant), for one target.

    ``lang_table``: the ``view == "language"`` rows of one (group, task, target, key, setup, metric);
    ``title_suffix``: the setup label where the target has several (``tables.setup_suffix``) and the group line
    where the report has several (``ledger_frame.group_suffix``)."""
    rows_df = lang_table[(lang_table["view"] == "language") & lang_table["itt_variant"].notna()]
    if rows_df.empty:
        raise ValueError("no per-language comparisons to plot")
    cols = (rows_df[["eval_family", "eval_lang", "eval"]].drop_duplicates()
            .sort_values(["eval_family", "eval_lang", "eval"], na_position="last"))
    col_keys = list(cols["eval"])
    labels = variant_labels(rows_df)
    rows = sorted(set(zip(rows_df["model"], labels)))
    delta = np.full((len(rows), len(col_keys)), np.nan)
    pval = np.full_like(delta, np.nan)
    for idx, r in zip(rows_df.index, rows_df.itertuples(index=False)):
        i, j = rows.index((r.model, labels[idx])), col_keys.index(r.eval)
        delta[i, j], pval[i, j] = r.delta, r.p_holm
    fig = _new_figure(max(6.0, 0.75 * len(col_keys) + 3.5), max(3.0, 0.5 * len(rows) + 2.6))
    ax = fig.add_subplot()
    im = _heatmap(ax, delta, pval, _norm(delta), fontsize=7)
    dup = cols["eval_lang"].duplicated(keep=False)
    ax.set_xticks(range(len(col_keys)), [f"{e}" if d else str(lang) for lang, e, d in
                                          zip(cols["eval_lang"], cols["eval"], dup)],
                  fontsize=8, rotation=90)
    ax.set_yticks(range(len(rows)), [f"{m} · {v}" for m, v in rows], fontsize=8)
    families = list(cols["eval_family"].fillna("?"))
    centers, names, start = [], [], 0
    for k in range(1, len(families) + 1):  # a line between families, the family name on top
        if k == len(families) or families[k] != families[start]:
            centers.append((start + k - 1) / 2)
            names.append(families[start])
            if k < len(families):
                ax.axvline(k - 0.5, color="black", linewidth=0.8)
            start = k
    top = ax.secondary_xaxis("top")
    top.set_xticks(centers, names, fontsize=7, rotation=30, ha="left")
    top.tick_params(length=0)
    first = rows_df.iloc[0]
    ax.set_title(f"{first['task']} / {first['target']}: Δ by language ({first['metric']}){title_suffix}", fontsize=10)
    fig.colorbar(im, ax=ax, shrink=0.9).set_label("Δ (ITT − no-ITT)", fontsize=9)
    ax.set_xlabel(f"eval language (grouped by family)\n{STAR_NOTE}", fontsize=8)
    _save(fig, path)
    return fig


def plot_bars(table: pd.DataFrame, path: str | Path | None = None) -> Figure:
    """One facet per task × target: per model (· variant), no-ITT vs ITT mean ± 1 std."""
    table = _own(table)
    if table.empty:
        raise ValueError("empty comparison table: nothing to plot")
    many_groups = table[GROUP_KEYS].drop_duplicates().shape[0] > 1
    labels = variant_labels(table)
    many_variants = labels[table["itt_variant"].notna()].nunique() > 1
    sections = list(iter_sections(table))
    ncols = min(3, math.ceil(math.sqrt(len(sections))))  # 4 facets -> 2x2, not 3+1
    nrows = math.ceil(len(sections) / ncols)
    fig = _new_figure(4.6 * ncols, 3.6 * nrows + 0.6)
    axes = fig.subplots(nrows, ncols, squeeze=False)
    width = 0.38
    for ax, (keys, sec) in zip(axes.flat, sections):
        names = [_row_label(m, v, many_variants) for m, v in zip(sec["model"], labels[sec.index])]
        x = np.arange(len(names))
        for offset, side, color, label in ((-width / 2, "noitt", COLOR_NOITT, "no-ITT"),
                                           (width / 2, "itt", COLOR_ITT, "ITT")):
            means = sec[f"{side}_mean"].to_numpy(dtype=float)
            stds = np.nan_to_num(sec[f"{side}_std"].to_numpy(dtype=float))  # n=1 => no bar
            stds[~np.isfinite(means)] = np.nan  # a side never run: no bar and no error cap at 0
            ax.bar(x + offset, means, width, yerr=stds, capsize=3, color=color,
                   label=label, edgecolor="white", linewidth=0.5,
                   error_kw={"elinewidth": 1, "ecolor": "#333333"})
            for xi in (x + offset)[~np.isfinite(means)]:
                ax.annotate("n/a", (xi, 0), xytext=(0, 3), textcoords="offset points", ha="center", va="bottom",
                            fontsize=7, color="#555555")
        # Δ above each pair, so the (often small) effect is readable despite the 0 baseline.
        tops = np.nanmax(np.vstack([
            (sec["noitt_mean"] + sec["noitt_std"].fillna(0)).to_numpy(dtype=float),
            (sec["itt_mean"] + sec["itt_std"].fillna(0)).to_numpy(dtype=float),
        ]), axis=0)
        for xi, top, d, p in zip(x, tops, sec["delta"], sec["p_holm"]):
            if np.isfinite(d) and np.isfinite(top):
                star = "*" if np.isfinite(p) and p < ALPHA else ""
                ax.annotate(f"Δ{d:+.3f}{star}", (xi, top), xytext=(0, 3),
                            textcoords="offset points", ha="center", va="bottom", fontsize=8)
        ax.set_xticks(x, names, fontsize=8 if many_variants else 10)
        # Keep bar width constant across facets: a facet with one model gets empty space.
        half = max(len(names) / 2, 1.25)
        ax.set_xlim((len(names) - 1) / 2 - half, (len(names) - 1) / 2 + half)
        ax.set_ylabel(str(keys["metric"]))
        title = f"{keys['task']} / {keys['target']}" + setup_label(keys, " · ")
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
    fig.suptitle("no-ITT vs ITT (mean over seeds," + ("\n" if ncols == 1 else " ")  # one facet: too narrow for a line
                 + f"error bars ±1 sample std; * Holm-adjusted p < {ALPHA})", fontsize=10)
    _save(fig, path)
    return fig


def _fmt_rho(rho: dict) -> str:
    ci = (f" [{rho['rho_ci_low']:+.2f}, {rho['rho_ci_high']:+.2f}]"
          if np.isfinite([rho["rho_ci_low"], rho["rho_ci_high"]]).all() else "")
    return f"ρ = {rho['rho']:+.2f}{ci}, n = {rho['n']}"


def _least_squares(ax, x: np.ndarray, y: np.ndarray, label: str, **style) -> None:
    if len(x) >= 2 and np.ptp(x) > 0:
        slope, intercept = np.polyfit(x, y, 1)
        xs = np.linspace(x.min(), x.max(), 50)
        ax.plot(xs, slope * xs + intercept, linewidth=1, label=f"{label} (slope {slope:+.3g})", **style)


def plot_gain_vs_measure(joined: pd.DataFrame, rho: dict, path: str | Path | None = None,
                         zero_shot: dict | None = None, group: str = "") -> Figure:
    """Δ against one measure (``joined``: rows of one measure, metric and kind), least-squares line, ρ in title.

    ``rho``: the row of ρ over all points; ``zero_shot``: the row over the eval sets alone, given
    when the points mix the training language and others. Own test sets and eval sets in the target's language
    are squares, zero-shot eval sets circles (``divergence.in_training_language``, as the ρ scopes count them);
    with ``zero_shot`` a dashed line fits the circles. ``group``: the group line, where the report has several."""
    if joined.empty:
        raise ValueError("no points to plot")
    fig = _new_figure(5.6, 4.4)
    ax = fig.add_subplot()
    own = in_training_language(joined)  # as the title's ρ scopes count them (XQuAD en of a SQuAD target: own)
    for k, (model, g) in enumerate(joined.groupby("model", sort=True)):
        label = str(model)  # once per model, on whichever kind of point it has first
        for marker, pts in (("o", g[~own[g.index]]), ("s", g[own[g.index]])):
            if not pts.empty:
                ax.scatter(pts["measure_value"], pts["delta"], s=28, alpha=0.8, color=f"C{k % 10}",
                           marker=marker, label=label)
                label = None
    mixed = own.any() and not own.all()
    if mixed:  # what the markers mean, in grey so they are not read as another model
        ax.scatter([], [], marker="s", color="#777777", label="training language")
        ax.scatter([], [], marker="o", color="#777777", label="zero-shot (eval set)")
    x = joined["measure_value"].to_numpy(dtype=float)
    y = joined["delta"].to_numpy(dtype=float)
    _least_squares(ax, x, y, "least squares, all points" if mixed else "least squares", color="black")
    if mixed and zero_shot is not None:
        _least_squares(ax, x[~own.to_numpy()], y[~own.to_numpy()], "least squares, zero-shot",
                       color="black", linestyle="--")
    ax.axhline(0, color="#999999", linewidth=0.6)
    ax.set_xlabel(str(joined["measure"].iloc[0]))
    # What Δ is in (one metric, on sets of one kind: rho_table's keys), where the points say it.
    what = ", ".join(str(joined[c].iloc[0]) for c in ("metric", "eval_kind") if c in joined)
    ax.set_ylabel(f"Δ {what} (ITT − no-ITT)" if what else "Δ (ITT − no-ITT)")
    title = f"{joined['measure'].iloc[0]}: Spearman {_fmt_rho(rho)}"
    if mixed and zero_shot is not None:
        title = (f"{joined['measure'].iloc[0]}\nSpearman, all points: {_fmt_rho(rho)}\n"
                 f"zero-shot only: {_fmt_rho(zero_shot)}")
    if group:
        title += "\n" + group.removeprefix("group: ")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=7, frameon=False)
    ax.grid(alpha=0.3)
    _save(fig, path)
    return fig
