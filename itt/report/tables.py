"""Render the report's tables as Markdown, LaTeX (pandas ``Styler.to_latex``, booktabs) or CSV.

The tidy frames (:mod:`itt.report.stats`, :mod:`itt.report.crosslingual`) hold numbers only;
this module decides how they read: ``mean ± std (n=…)``, a signed Δ with its 95 % CI, raw and
Holm-adjusted p, "–" for a missing value, and bold for the best value of a column within a table.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path

import pandas as pd

from .crosslingual import LANG_BASE
from .ledger_frame import GROUP_KEYS, MISSING, group_line, group_suffix
from .stats import ITT_KEYS, TABLE_COLUMNS, higher_is_better

DASH = "–"
ALPHA = 0.05
DECIMALS = 3

# Section = one printed table; a group line is printed before its first section.
# setup, eval_setup (itt.identity.setup_ids): runs of another max_rows, hub model or task options are a section
# of their own, named by their setup where a target has several.
SECTION_KEYS = GROUP_KEYS + ["task", "target", "key", "setup", "eval", "eval_setup", "metric"]
SETUP_KEYS = ("setup", "eval_setup")
HEADERS = ["model", "ITT variant", "no-ITT", "ITT", "Δ (ITT − no-ITT)", "95% CI", "p (paired t)",
           "p (Holm)", "pairs", "n items"]


# How a row names the intermediate settings of its variant where one variant ran from intermediates
# trained with several (``intermediate_hparams``); a variant with one setting shows its name alone.
SETTING_LABEL = "int-hp={}"
SETTING_NOTE = (f"{SETTING_LABEL.format('<id>')}: the settings the variant's intermediate steps were trained "
                "with (intermediate_hparams in comparison.csv; n/a = unknown), one row each, every one against "
                "the same no-ITT runs.")


def several_settings(rows: pd.DataFrame) -> set:
    """The ITT variants ``rows`` hold with more than one intermediate setting."""
    if "intermediate_hparams" not in rows:
        return set()
    itt = rows[rows["itt_variant"].notna()]
    counts = itt.groupby("itt_variant")["intermediate_hparams"].nunique(dropna=False)
    return set(counts.index[counts > 1])


def variant_label(variant, setting, several: set) -> str:
    """The variant, plus its :data:`SETTING_LABEL` when it is one of ``several``; a dash without ITT."""
    if _isnan(variant):
        return DASH
    return str(variant) + (f" · {SETTING_LABEL.format(setting)}" if variant in several else "")


def variant_labels(rows: pd.DataFrame) -> pd.Series:
    """Each row's ITT variant as the reader tells rows apart (:func:`variant_label` over ``rows``)."""
    several = several_settings(rows)
    settings = rows["intermediate_hparams"] if "intermediate_hparams" in rows else [None] * len(rows)
    return pd.Series([variant_label(v, hp, several) for v, hp in zip(rows["itt_variant"], settings)],
                     index=rows.index, dtype=object)


OVERLAP_MARK = "†"


def overlap_note(sec: pd.DataFrame) -> str:
    """The footnote of a section whose ITT runs were tested on items their intermediate chain trained on."""
    marked = sec[[_overlaps(v) for v in sec["test_overlap"]]] if "test_overlap" in sec else sec.iloc[:0]
    if marked.empty:
        return ""
    # The count is the most over seeds, and under split=paper each seed has its own test size: the denominator is
    # the cell's range of sizes (as "n items"), not the fewest, which the run with the most may not have had.
    counts = ", ".join(f"{r['model']} {DASH if _isnan(r['itt_variant']) else r['itt_variant']}: {int(r['test_overlap'])}"
                       + ("" if _isnan(r["n_items"]) else f" of {_items(r)} items per run") for _, r in marked.iterrows())
    return (f"{OVERLAP_MARK} ITT runs tested on items their intermediate chain trained on (test items, most over "
            f"seeds: {counts}): Δ is inflated. split=official (disjoint official splits) or deduplicating the "
            "data removes it; comparison.csv: test_overlap.")


def _overlaps(value) -> bool:
    return not _isnan(value) and value > 0


def _isnan(x) -> bool:
    return x is None or (isinstance(x, float) and math.isnan(x)) or bool(pd.isna(x))


def fmt_num(x, signed: bool = False) -> str:
    if _isnan(x):
        return DASH
    return f"{x:+.{DECIMALS}f}" if signed else f"{x:.{DECIMALS}f}"


def fmt_p(p) -> str:
    if _isnan(p):
        return DASH
    s = f"{p:.3f}" if p >= 0.001 else f"{p:.1e}"
    for decimals in (4, 5, 6):  # 0.0496 as "0.050*" would read as a star on p = alpha
        if float(s) != ALPHA:
            break
        s = f"{p:.{decimals}f}"
    if float(s) == ALPHA:  # alpha itself, or within 5e-7 of it
        return f"<{ALPHA:g}*" if p < ALPHA else f"{ALPHA:.3f}"
    return s + ("*" if p < ALPHA else "")


def fmt_ci(lo, hi, method: str = "") -> str:
    if _isnan(lo) or _isnan(hi):
        return DASH
    mark = "ᵇ" if str(method).startswith("bootstrap") else ""
    return f"[{lo:+.{DECIMALS}f}, {hi:+.{DECIMALS}f}]{mark}"


def caption(metric: str, n_tests: int | None = None) -> str:
    family = (f"the {n_tests} comparisons with a p-value in this report" if n_tests
              else "all comparisons with a p-value in this report")
    return (
        f"Metric: {metric}; mean ± sample std (ddof=1) over seeds (n = runs); "
        f"Δ = ITT − no-ITT, mean of per-seed paired differences (else difference of means); "
        f"95% CI of Δ: paired bootstrap over seeds and test items (ᵇ) where predictions exist, else "
        f"t-interval over paired seeds; p: paired t-test over seeds (scipy.stats.ttest_rel, "
        f"two-sided), * p < {ALPHA}; p (Holm): Holm–Bonferroni adjusted over {family}; "
        f"bold = best in column; n items = test items per run (fewest–most when seeds differ)."
    )


def section_title(keys: dict, own: bool = True, lang=None) -> str:
    title = f"{keys['task']} / {keys['target']}"
    if keys.get("key") not in (None, MISSING):
        title += f" · {keys['key']}"
    if not own:
        title += f" → {keys['eval']}" + (f" [{lang}]" if not _isnan(lang) else "")
    return f"{title} ({keys['metric']}){setup_label(keys, ' · ')}"


def setup_suffix(table: pd.DataFrame, keys: dict, sep: str) -> str:
    """:func:`setup_label` of a section of a view that groups by its own keys (``keys``, ``setup`` among them):
    named where ``table`` holds the section's other keys under several setups."""
    same = [c for c in keys if c not in SETUP_KEYS and c in table]
    rows = table
    for c in same:
        rows = rows[rows[c].isna()] if _isnan(keys[c]) else rows[rows[c] == keys[c]]
    return setup_label({**keys, "several_setups": rows["setup"].nunique(dropna=False) > 1}, sep)


def setup_label(keys: dict, sep: str) -> str:
    """``<sep>setup <id>`` for a section whose target has sections of several setups (else "")."""
    if not keys.get("several_setups"):
        return ""
    return sep + "setup " + "/".join(str(keys[k]) for k in SETUP_KEYS if keys.get(k) not in (None, MISSING))


def iter_sections(table: pd.DataFrame, keys=SECTION_KEYS) -> Iterator[tuple[dict, pd.DataFrame]]:
    """Yield (section keys, rows sorted by model and variant) per group × task × target × eval."""
    if table.empty:
        return
    same = [k for k in keys if k not in SETUP_KEYS]
    present = [k for k in SETUP_KEYS if k in keys]
    setups = (table.groupby(same, sort=False, dropna=False)[present].apply(lambda g: len(g.drop_duplicates()))
              if present else None)
    for values, sec in table.groupby(keys, sort=True, dropna=False):
        found = dict(zip(keys, values))
        found["several_setups"] = setups is not None and setups[tuple(found[k] for k in same)] > 1
        yield found, sec.sort_values(["model", "itt_variant", "intermediate_hparams"], na_position="first")


def best_mask(values: pd.Series, higher: bool) -> pd.Series:
    """True where the displayed value is the best of the column (ties all win).

    Compared at display precision: two values the reader sees as equal are both bold.
    Needs at least two numbers, otherwise "best" carries no information.
    """
    shown = pd.to_numeric(values, errors="coerce").round(DECIMALS)
    if shown.count() < 2:
        return pd.Series(False, index=values.index)
    return shown == (shown.max() if higher else shown.min())


def _side(mean, std, n, bold: bool, pm: str, b: str) -> str:
    if not n or _isnan(mean):
        return DASH
    m = fmt_num(mean)
    m = b.format(m) if bold else m
    return f"{m}{f' {pm} {fmt_num(std)}' if n >= 2 else ''} (n={n})"


def cell_rows(sec: pd.DataFrame, pm: str = "±", b: str = "**{}**") -> list[list[str]]:
    """Display cells of one section (``b`` wraps a best value: ``**{}**`` for Markdown)."""
    higher = higher_is_better(sec["metric"].iloc[0])
    best_no, best_it = best_mask(sec["noitt_mean"], higher), best_mask(sec["itt_mean"], higher)
    best_d = best_mask(sec["delta"], higher)
    variants = variant_labels(sec)
    rows = []
    for idx, r in sec.iterrows():
        delta = DASH
        if not _isnan(r["delta"]):
            delta = fmt_num(r["delta"], signed=True)
            delta = b.format(delta) if best_d[idx] else delta
            delta += " (unpaired)" if r["delta_kind"] == "unpaired" else ""
            delta += OVERLAP_MARK if _overlaps(r.get("test_overlap")) else ""
        p = (r["test_note"] or DASH) if _isnan(r["p_value"]) else fmt_p(r["p_value"])
        rows.append([
            str(r["model"]), variants[idx],
            _side(r["noitt_mean"], r["noitt_std"], r["noitt_n"], best_no[idx], pm, b),
            _side(r["itt_mean"], r["itt_std"], r["itt_n"], best_it[idx], pm, b),
            delta, fmt_ci(r["ci_low"], r["ci_high"], r["ci_method"]), p, fmt_p(r["p_holm"]),
            str(r["n_pairs"]), _items(r),
        ])
    return rows


def _items(r) -> str:
    """Test items per run: one number, or ``fewest–most`` when the runs of the cell differ."""
    if _isnan(r["n_items"]):
        return DASH
    low, high = int(r["n_items"]), r.get("n_items_max")
    return str(low) if _isnan(high) or int(high) == low else f"{low}–{int(high)}"


def md_table(headers: list[str], rows: list[list[str]], text_columns: int = 2) -> list[str]:
    """Markdown table lines; the first ``text_columns`` are left-aligned, numbers right."""
    align = ["---"] * text_columns + ["---:"] * (len(headers) - text_columns)
    out = ["| " + " | ".join(headers) + " |", "|" + "|".join(align) + "|"]
    out += ["| " + " | ".join(c.replace("|", "\\|") for c in row) + " |" for row in rows]
    return out + [""]


def render_markdown(table: pd.DataFrame, n_tests: int | None = None) -> str:
    """All sections as Markdown: a group line, then per task × target × eval set a heading, a
    one-line caption and one row per model × ITT variant."""
    if table.empty:
        return "_No comparable target-stage runs (need ok rows with stage=target)._\n"
    out: list[str] = []
    current_group = None
    for keys, sec in iter_sections(table):
        g = group_line(keys)
        if g != current_group:
            out += [f"## {g}", ""]
            current_group = g
        first = sec.iloc[0]
        out += [f"### {section_title(keys, bool(first['own']), first['eval_lang'])}", "",
                f"_{caption(keys['metric'], n_tests)}_", ""]
        if several_settings(sec):
            out += [f"_{SETTING_NOTE}_", ""]
        out += md_table(HEADERS, cell_rows(sec))
        if note := overlap_note(sec):
            out += [f"_{note}_", ""]
    return "\n".join(out)


def render_language_markdown(lang_table: pd.DataFrame) -> str:
    """Per model × variant of each multilingual target: languages by family, then aggregates."""
    if lang_table.empty:
        return ""
    out = ["## Cross-lingual view", "",
           "_Rows = eval sets by language family, then: average over the zero-shot languages "
           "(training language excluded), transfer gap (training-language score − that average), "
           "per-family and per-genus averages over the zero-shot languages. Δ, CI and p as in the "
           "comparison tables (aggregates: t-interval over paired seeds)._", ""]
    headers = ["family / view", "eval", "lang", "no-ITT", "ITT", "Δ", "95% CI", "p", "p (Holm)",
               "pairs"]
    labels = pd.concat([variant_labels(t) for _, t in lang_table.groupby(LANG_BASE, sort=False, dropna=False)])
    for keys, sec in lang_table.groupby(LANG_BASE + ITT_KEYS, sort=True, dropna=False):
        k = dict(zip(LANG_BASE, keys))
        lang = sec["intermediate_lang"].dropna()
        itt_lang = f" [ITT in {lang.iloc[0]}]" if len(lang) else ""
        out += [f"### {k['task']} / {k['target']} · {k['model']} · {labels[sec.index[0]]}{itt_lang} "
                f"· {k['eval_kind']} ({k['metric']}){setup_suffix(lang_table, k, ' · ')}"
                f"{group_suffix(lang_table, k, ' · ')}", ""]
        rows = []
        for r in sec.itertuples(index=False):
            label = r.group_name if r.view == "language" else r.view
            # † as in the comparison tables: this eval set's test items include some the chain trained on
            mark = OVERLAP_MARK if _overlaps(getattr(r, "test_overlap", None)) else ""
            rows.append([str(label or DASH), str(r.eval), str(r.eval_lang or DASH),
                         fmt_num(r.noitt_mean), fmt_num(r.itt_mean), fmt_num(r.delta, True) + mark,
                         fmt_ci(r.ci_low, r.ci_high, r.ci_method), fmt_p(r.p_value),
                         fmt_p(r.p_holm), str(r.n_pairs)])
        out += md_table(headers, rows, text_columns=3)
        if note := overlap_note(sec[sec["view"] == "language"]):
            out += [f"_{note}_", ""]
    return "\n".join(out)


def render_robustness_markdown(rob: pd.DataFrame) -> str:
    if rob.empty:
        return ""
    out = ["## Robustness across languages", "",
           "_Per run over all scored languages: mean, worst language, population std (ddof=0); "
           "Δ against no-ITT and against the single-task ITT variant, paired by seed._", ""]
    headers = ["model", "ITT variant", "statistic", "no-ITT", "ITT", "Δ vs no-ITT", "95% CI",
               "p (Holm)", "single-task", "Δ vs single", "95% CI ", "p (Holm) "]
    for keys, sec in rob.groupby(LANG_BASE[:-1], sort=True, dropna=False):
        k = dict(zip(LANG_BASE[:-1], keys))
        out += [f"### {k['task']} / {k['target']} · {k['eval_kind']} ({k['metric']}){setup_suffix(rob, k, ' · ')}"
                f"{group_suffix(rob, k, ' · ')}", ""]
        several = several_settings(sec)
        rows = [[str(r.model), variant_label(r.itt_variant, r.intermediate_hparams, several), str(r.eval),
                 fmt_num(r.noitt_mean), fmt_num(r.itt_mean), fmt_num(r.delta, True), fmt_ci(r.ci_low, r.ci_high),
                 fmt_p(r.p_holm), variant_label(r.single_variant, r.single_intermediate_hparams, several),
                 fmt_num(r.delta_vs_single, True), fmt_ci(r.ci_low_vs_single, r.ci_high_vs_single),
                 fmt_p(r.p_holm_vs_single)]
                for r in sec.itertuples(index=False)]
        out += md_table(headers, rows, text_columns=3)
    return "\n".join(out)


def render_rho_markdown(rho: pd.DataFrame) -> str:
    if rho.empty:
        return ""
    out = ["## Gain vs divergence", "",
           "_Spearman ρ of Δ (ITT − no-ITT) against each measure of (intermediate, "
           "target) data, per group of comparable runs, metric and kind of evaluated set (Δs of different "
           "metrics, of one metric on sets of different kinds, or of other hyper-parameters, are not ranked "
           "together); model `all`: one point per model and pair. CI: percentile "
           "bootstrap over points; p: exact permutation test up to 8 points. Scope: all "
           "points, and, where they mix both, the targets' own test sets (training language) "
           "and the eval sets (zero-shot) apart: pooled, one in-language gain far from the "
           "zero-shot ones can carry ρ (docs/divergence.md)._", ""]
    for keys, sec in rho.groupby(GROUP_KEYS, sort=True, dropna=False):
        if rho[GROUP_KEYS].drop_duplicates().shape[0] > 1:
            out += [f"### {group_line(dict(zip(GROUP_KEYS, keys)))}", ""]
        rows = [[str(r.measure), str(r.metric), str(r.eval_kind), str(r.model), str(r.scope), str(r.n),
                 fmt_num(r.rho, True), fmt_ci(r.rho_ci_low, r.rho_ci_high), fmt_p(r.p_value)]
                for r in sec.itertuples()]
        out += md_table(["measure", "metric", "kind", "model", "scope", "n", "ρ", "95% CI", "p"], rows, text_columns=5)
    return "\n".join(out)


# -- LaTeX ----------------------------------------------------------------------------------

_LATEX_SPECIAL = str.maketrans({c: "\\" + c for c in "&%$#_{}"} | {
    "~": r"\textasciitilde{}", "^": r"\^{}", "\\": r"\textbackslash{}"})
_LATEX_UNICODE = {"±": r"$\pm$", "Δ": r"$\Delta$", "−": "$-$", "–": "--", "ᵇ": r"$^b$",
                  "→": r"$\rightarrow$", "†": r"$^\dagger$", "·": r"$\cdot$", "<": "$<$", ">": "$>$"}


def latex_text(s: str) -> str:
    """Escape LaTeX specials, then spell the report's few non-ASCII symbols in LaTeX."""
    s = str(s).translate(_LATEX_SPECIAL)
    for ch, tex in _LATEX_UNICODE.items():
        s = s.replace(ch, tex)
    return s


def render_latex(table: pd.DataFrame, n_tests: int | None = None) -> str:
    """One booktabs ``table`` per section (``Styler.to_latex``); needs ``\\usepackage{booktabs}``."""
    if table.empty:
        return "% No comparable target-stage runs.\n"
    out = ["% Generated by python -m itt.report; requires \\usepackage{booktabs}.", ""]
    bold = "\x00{}\x01"  # marks best values; Styler props draw them as \textbf after escaping
    for keys, sec in iter_sections(table):
        rows = cell_rows(sec, pm="±", b=bold)
        marked = pd.DataFrame([[c.replace("\x00", "").replace("\x01", "") for c in r] for r in rows],
                              columns=HEADERS)
        is_bold = pd.DataFrame([["\x00" in c for c in r] for r in rows], columns=HEADERS)
        first = sec.iloc[0]
        cap = f"{section_title(keys, bool(first['own']), first['eval_lang'])}, {group_line(keys)}. "
        cap += f"{note} " if (note := overlap_note(sec)) else ""
        styler = (marked.style.hide(axis="index")
                  .format(escape="latex", formatter=lambda s: _unicode_only(s))
                  .format_index(escape="latex", axis=1, formatter=lambda s: _unicode_only(s))
                  .apply(lambda _: is_bold.map(lambda x: "textbf:--rwrap;" if x else ""), axis=None))
        out.append(styler.to_latex(hrules=True, environment="table", position="ht",
                                   position_float="centering", column_format="ll" + "r" * 8,
                                   caption=latex_text(cap + caption(keys["metric"], n_tests))))
    return "\n".join(out)


def _unicode_only(s: str) -> str:
    # Styler has escaped the cell already; only the symbols are left to spell.
    for ch, tex in _LATEX_UNICODE.items():
        s = s.replace(ch, tex)
    return s


def write_csv(table: pd.DataFrame, path: str | Path, columns: list[str] = TABLE_COLUMNS) -> Path:
    """Tidy CSV with every number (default: the comparison table's columns)."""
    path = Path(path)
    table.reindex(columns=columns).to_csv(path, index=False)
    return path
