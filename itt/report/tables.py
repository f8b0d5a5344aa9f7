"""Render the tidy comparison table as Markdown, LaTeX or CSV.

The tidy frame (from :func:`itt.report.stats.comparison_table`) holds numbers only; this
module decides how they read: ``mean ± std (n=…)``, a signed Δ, the p-value, "–" for a
missing cell, and bold for the best value of each column within one task × target table.
Both renderers are hand-built so no optional dependency (tabulate, jinja2) is needed.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from pathlib import Path

import pandas as pd

from .ledger_frame import GROUP_KEYS
from .stats import TABLE_COLUMNS, higher_is_better

DASH = "–"
ALPHA = 0.05
DECIMALS = 3

# Section = one printed table; a group line is printed before its first section.
SECTION_KEYS = GROUP_KEYS + ["task", "target", "metric"]
HEADERS = ["model", "no-ITT", "ITT", "Δ (ITT − no-ITT)", "p (paired t)", "pairs"]


def _isnan(x) -> bool:
    return x is None or (isinstance(x, float) and math.isnan(x)) or pd.isna(x)


def fmt_num(x, signed: bool = False) -> str:
    if _isnan(x):
        return DASH
    return f"{x:+.{DECIMALS}f}" if signed else f"{x:.{DECIMALS}f}"


def fmt_p(p) -> str:
    if _isnan(p):
        return DASH
    s = f"{p:.3f}" if p >= 0.001 else f"{p:.1e}"
    return s + ("*" if p < ALPHA else "")


def caption(metric: str) -> str:
    return (
        f"Metric: {metric}; mean ± sample std (ddof=1) over seeds (n = runs); "
        f"Δ = ITT − no-ITT, mean of per-seed paired differences (else difference of means); "
        f"p: paired t-test over seeds (scipy.stats.ttest_rel, two-sided), * p < {ALPHA}; "
        f"bold = best in column."
    )


def group_line(keys: dict) -> str:
    return f"group: source={keys['source']} split={keys['split']} hparams={keys['hparams_id']}"


def iter_sections(table: pd.DataFrame) -> Iterator[tuple[dict, pd.DataFrame]]:
    """Yield (section keys, rows sorted by model) for each group × task × target × metric."""
    if table.empty:
        return
    for keys, sec in table.groupby(SECTION_KEYS, sort=True, dropna=False):
        yield dict(zip(SECTION_KEYS, keys)), sec.sort_values("model")


def _best_mask(values: pd.Series, higher: bool) -> pd.Series:
    """True where the displayed value is the best of the column (ties all win).

    Compared at display precision: two values the reader sees as equal are both bold.
    Needs at least two numbers, otherwise "best" carries no information.
    """
    shown = values.astype(float).round(DECIMALS)
    if shown.count() < 2:
        return pd.Series(False, index=values.index)
    best = shown.max() if higher else shown.min()
    return shown == best


def _cells(sec: pd.DataFrame, bold: Callable[[str], str], pm: str) -> list[list[str]]:
    higher = higher_is_better(sec["metric"].iloc[0])
    best_no = _best_mask(sec["noitt_mean"], higher)
    best_it = _best_mask(sec["itt_mean"], higher)
    best_d = _best_mask(sec["delta"], higher)
    rows = []
    for idx, r in sec.iterrows():
        def side(mean, std, n, is_best):
            if n == 0 or _isnan(mean):
                return DASH
            m = fmt_num(mean)
            m = bold(m) if is_best else m
            spread = f" {pm} {fmt_num(std)}" if n >= 2 else ""
            return f"{m}{spread} (n={n})"

        if _isnan(r["delta"]):
            delta = DASH
        else:
            delta = fmt_num(r["delta"], signed=True)
            delta = bold(delta) if best_d[idx] else delta
            if r["delta_kind"] == "unpaired":
                delta += " (unpaired)"
        if _isnan(r["p_value"]):
            p = r["test_note"] or DASH
        else:
            p = fmt_p(r["p_value"])
        rows.append([
            str(r["model"]),
            side(r["noitt_mean"], r["noitt_std"], r["noitt_n"], best_no[idx]),
            side(r["itt_mean"], r["itt_std"], r["itt_n"], best_it[idx]),
            delta, p, str(r["n_pairs"]),
        ])
    return rows


def render_markdown(table: pd.DataFrame) -> str:
    """All sections as Markdown: a group line, then per task × target a heading, a one-line
    caption and a table with one row per model."""
    if table.empty:
        return "_No comparable target-stage runs (need ok rows with stage=target)._\n"
    out: list[str] = []
    current_group = None
    for keys, sec in iter_sections(table):
        g = group_line(keys)
        if g != current_group:
            out += [f"## {g}", ""]
            current_group = g
        out += [f"### {keys['task']} / {keys['target']} ({keys['metric']})", "",
                f"_{caption(keys['metric'])}_", ""]
        out.append("| " + " | ".join(HEADERS) + " |")
        out.append("|" + "|".join(["---"] + ["---:"] * (len(HEADERS) - 1)) + "|")
        for cells in _cells(sec, lambda s: f"**{s}**", "±"):
            out.append("| " + " | ".join(cells) + " |")
        out.append("")
    return "\n".join(out)


_LATEX_ESCAPES = {
    "\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#",
    "_": r"\_", "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\^{}",
    "<": r"$<$", ">": r"$>$",
}


def latex_escape(s: str) -> str:
    return "".join(_LATEX_ESCAPES.get(ch, ch) for ch in str(s))


def render_latex(table: pd.DataFrame) -> str:
    """One booktabs ``table`` per section; needs ``\\usepackage{booktabs}`` in the document."""
    if table.empty:
        return "% No comparable target-stage runs.\n"
    headers = ["model", "no-ITT", "ITT", r"$\Delta$ (ITT $-$ no-ITT)", "$p$ (paired $t$)", "pairs"]
    out = ["% Generated by python -m itt.report; requires \\usepackage{booktabs}.", ""]
    for keys, sec in iter_sections(table):
        cap = (f"{keys['task']} / {keys['target']}, {group_line(keys)}. " + caption(keys["metric"]))
        cap = latex_escape(cap).replace("±", r"$\pm$").replace("Δ", r"$\Delta$").replace("−", "$-$")
        out += [r"\begin{table}[ht]", r"\centering", f"\\caption{{{cap}}}",
                r"\begin{tabular}{lrrrrr}", r"\toprule",
                " & ".join(headers) + r" \\", r"\midrule"]
        # Escape cell text first, then add markup (so \textbf / $\pm$ are not escaped).
        for cells in _cells(sec, lambda s: f"\x00{s}\x01", "\x02"):
            cells = [latex_escape(c).replace("\x00", r"\textbf{").replace("\x01", "}")
                     .replace("\x02", r"$\pm$").replace("–", "--") for c in cells]
            out.append(" & ".join(cells) + r" \\")
        out += [r"\bottomrule", r"\end{tabular}", r"\end{table}", ""]
    return "\n".join(out)


def write_csv(table: pd.DataFrame, path: str | Path) -> Path:
    """Tidy CSV: one row per group × task × target × model with every number."""
    path = Path(path)
    table.reindex(columns=TABLE_COLUMNS).to_csv(path, index=False)
    return path
