"""Assemble a report from a ledger frame and write it to disk.

:func:`build_report` does the computing once (so the CLI can print and write the same thing);
:func:`write_outputs` writes the files below; :func:`write_report` is the one-call version used by
notebooks and tests. Files (under ``${root}/report`` by default):

* ``comparison.md`` – everything, readable; ``comparison.tex`` – the comparison tables (booktabs);
* ``comparison.csv`` – one row per comparison cell (``stats.TABLE_COLUMNS``);
* ``long.csv`` – the long table (one line per run × eval set × split × metric);
* ``languages.csv`` / ``robustness.csv`` – the cross-lingual views (when a target has ≥ 2 languages);
* ``itt_languages.csv`` – Δ of those views per intermediate language (when ITT ran in ≥ 2 languages);
* ``families.csv`` – Δ per target family and benchmark (when the targets span ≥ 2 families);
* ``divergence.csv`` / ``divergence_rho.csv`` – gain vs divergence (when ``measures.jsonl`` exists);
* ``failed.csv`` – runs that never succeeded;
* ``one_class.csv`` – target runs that predicted one class for every item of a test set (``one_class``);
* PNGs: ``delta_heatmap.png``, ``bars.png``, ``languages_<task>_<target>[_<n>].png``,
  ``gain_vs_<measure>[_<metric>][_<kind>].png``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
from matplotlib.figure import Figure

from itt.ledger import ledger_path

from .crosslingual import (LANG_BASE, LANGUAGE_COLUMNS, ROBUST_COLUMNS, language_table,
                           robustness_table)
from .divergence import (JOIN_COLUMNS, MEASURE_KEYS, RHO_KEYS, SCOPE_ALL, SCOPE_ZERO_SHOT, join_gains, load_measures,
                         rho_table)
from .itt_language import PIVOT_COLUMNS, itt_language_table, render_itt_language_markdown
from .ledger_frame import (GROUP_KEYS, failed_runs, group_line, group_suffix, group_tag, latest_ok, load_ledger,
                           warn_outdated)
from .long_table import LONG_COLUMNS, long_table, select
from .one_class import COLUMNS as ONE_CLASS_COLUMNS
from .one_class import notes as one_class_notes
from .one_class import one_class_runs
from .plots import plot_bars, plot_delta_heatmap, plot_gain_vs_measure, plot_language_heatmap
from .stats import ITT_KEYS, Bootstrap, apply_holm, describe_groups, groups_from_lines, table_from_lines
from .target_family import FAMILY_COLUMNS, render_target_family_markdown, target_family_table
from .tables import (render_language_markdown, render_latex, render_markdown, render_rho_markdown,
                     render_robustness_markdown, setup_suffix, write_csv)

FAILED_COLUMNS = ["run_id", "model", "task", "stage", "target", "itt", "itt_variant", "seed",
                  "split", "source", "hparams_id", "error", "time"]


class EmptyLedgerError(ValueError):
    """The ledger exists but holds no usable row."""


@dataclass
class Report:
    source: str                      # ledger path or wandb path, for the header
    table: pd.DataFrame              # comparison cells (stats.TABLE_COLUMNS)
    groups: pd.DataFrame             # stats.groups_from_lines
    failed: pd.DataFrame             # runs with no ok row
    long: pd.DataFrame = field(default_factory=pd.DataFrame)
    languages: pd.DataFrame = field(default_factory=pd.DataFrame)
    robustness: pd.DataFrame = field(default_factory=pd.DataFrame)
    itt_languages: pd.DataFrame = field(default_factory=pd.DataFrame)
    families: pd.DataFrame = field(default_factory=pd.DataFrame)
    gains: pd.DataFrame = field(default_factory=pd.DataFrame)
    rho: pd.DataFrame = field(default_factory=pd.DataFrame)
    one_class: pd.DataFrame = field(default_factory=pd.DataFrame)  # runs x test sets predicted as one class
    counts: dict = field(default_factory=dict)
    n_tests: int = 0                 # comparisons in the Holm family

    @property
    def group_lines(self) -> list[str]:
        return describe_groups(self.groups)

    def notes(self) -> list[str]:
        c = self.counts
        lines = [f"ledger rows: {c['rows']} ({c['ok_runs']} ok runs, {c['target_ok_runs']} at "
                 f"target stage; {c['cached_rows']} cached row(s) ignored; "
                 f"{c['failed_runs']} failed run(s) listed apart)"]
        if len(self.groups) > 1:
            lines.append("runs in different groups are not compared with each other "
                         "(source, split and hparams_id must match)")
        if self.table.empty:
            lines.append("no target-stage runs to compare" if not c["target_ok_runs"]
                         else "no target-stage runs with the requested metric")
        if self.n_tests:
            lines.append(f"p (Holm): Holm–Bonferroni over the {self.n_tests} comparisons with "
                         "a p-value in this report (raw p kept alongside)")
        return lines + one_class_notes(self.one_class)

    def markdown(self) -> str:
        parts = ["# Intermediate-task training: ITT vs no-ITT", "", f"Source: `{self.source}`", ""]
        parts += [f"- {line}" for line in self.notes() + self.group_lines] + [""]
        parts.append(render_markdown(self.table, self.n_tests))
        for extra in (render_target_family_markdown(self.families),
                      render_language_markdown(self.languages), render_itt_language_markdown(self.itt_languages),
                      render_robustness_markdown(self.robustness), render_rho_markdown(self.rho)):
            if extra:
                parts += [extra, ""]
        if not self.failed.empty:
            parts += ["## Failed runs (no ok row; not counted)", "",
                      "| run_id | model | task | stage | target | itt | seed | error |",
                      "|---|---|---|---|---|---|---|---|"]
            for r in self.failed.itertuples(index=False):
                cells = [_md_cell(v) for v in (r.run_id, r.model, r.task, r.stage, r.target,
                                                 r.itt, r.seed, r.error)]
                parts.append("| " + " | ".join(cells) + " |")
            parts.append("")
        return "\n".join(parts)


def _md_cell(v, width: int = 120) -> str:
    if v is None or (not isinstance(v, (list, dict)) and pd.isna(v)):
        return "–"
    return str(v).replace("|", "\\|").replace("\n", " ")[:width]


def build_report(df: pd.DataFrame, metric: str | None = None, source: str = "",
                 root: str | Path | None = None, bootstrap: Bootstrap = Bootstrap()) -> Report:
    """Every view of the report from a ledger frame; ``root`` is where ``measures.jsonl`` lives."""
    ok = latest_ok(df)
    warn_outdated(df, ok)
    failed = failed_runs(df)
    counts = {
        "rows": len(df), "ok_runs": len(ok),
        "target_ok_runs": int((ok["stage"] == "target").sum()),
        "cached_rows": int((df["status"] == "cached").sum()), "failed_runs": len(failed),
    }
    long = long_table(df)
    lines = select(long, metric, runs=ok)  # once, so its warnings are printed once
    table = table_from_lines(lines, bootstrap)
    langs = language_table(lines, table, bootstrap)
    rob = robustness_table(lines)
    families = target_family_table(lines)
    measures = load_measures(root) if root is not None else None
    gains = join_gains(table, measures) if measures is not None else pd.DataFrame(columns=JOIN_COLUMNS)
    rho = rho_table(gains, bootstrap.resamples, bootstrap.seed)
    # One Holm family: every comparison with a p in this report. The per-language rows are
    # copies of main-table cells, so they take the main table's adjusted p.
    aggregates = langs[langs["view"] != "language"].copy()
    n_tests = apply_holm((table, "p_value", "p_holm"), (aggregates, "p_value", "p_holm"),
                         (rob, "p_value", "p_holm"), (rob, "p_vs_single", "p_holm_vs_single"),
                         (families, "p_value", "p_holm"))
    langs = _with_holm(langs, table, aggregates)
    return Report(source=source, table=table, groups=groups_from_lines(lines),
                  failed=failed.reindex(columns=FAILED_COLUMNS), long=long, languages=langs,
                  robustness=rob, itt_languages=itt_language_table(langs), families=families, gains=gains, rho=rho,
                  one_class=one_class_runs(ok), counts=counts, n_tests=n_tests)


def _with_holm(langs: pd.DataFrame, table: pd.DataFrame, aggregates: pd.DataFrame) -> pd.DataFrame:
    if langs.empty:
        return langs
    keys = LANG_BASE + ["eval", "eval_setup", *ITT_KEYS]
    per_lang = langs[langs["view"] == "language"].drop(columns="p_holm").merge(
        table[keys + ["p_holm"]], on=keys, how="left")
    return pd.concat([per_lang, aggregates], ignore_index=True)[LANGUAGE_COLUMNS]


def _slug(*parts) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", "_".join(str(p) for p in parts)).strip("-")


def gain_vs_measure_plots(gains: pd.DataFrame, rho: pd.DataFrame,
                          out: str | Path | None = None) -> dict[str, Figure]:
    """One scatter of Δ against each measure, per metric and kind of evaluated set (``RHO_KEYS``:
    ``plot_gain_vs_measure``; Spearman ρ over all models in its title, over all points and, when they mix
    own test sets and eval sets, over the zero-shot points), as ``{"gain_vs_<measure>": figure}``, the name
    followed by ``_<metric>`` and ``_<kind>`` where one measure's gains come in several; each saved as
    ``<out>/<name>.png`` when ``out`` is given. ``gains``/``rho``: a report's ``gains`` and ``rho``."""
    figures = {}
    several = gains.groupby("measure")[MEASURE_KEYS[1:]].nunique() > 1
    groups = gains[GROUP_KEYS].drop_duplicates().shape[0] > 1
    for keys, g in gains.groupby(RHO_KEYS, sort=True, dropna=False):
        k = dict(zip(RHO_KEYS, keys))
        rows = rho[(rho[RHO_KEYS] == list(keys)).all(axis=1) & (rho["model"] == "all")].set_index("scope")
        zero_shot = rows.loc[SCOPE_ZERO_SHOT].to_dict() if SCOPE_ZERO_SHOT in rows.index else None
        name = _slug("gain_vs", k["measure"], *[k[c] for c in MEASURE_KEYS[1:] if several.loc[k["measure"], c]],
                     *([group_tag(k)] if groups else []))
        figures[name] = plot_gain_vs_measure(g, rows.loc[SCOPE_ALL].to_dict(),
                                             None if out is None else Path(out) / f"{name}.png",
                                             zero_shot=zero_shot, group=group_line(k) if groups else "")
    return figures


def language_heatmaps(languages: pd.DataFrame, out: str | Path | None = None) -> dict[str, Figure]:
    """One Δ-by-language heatmap per target (group, task, target, dataset, setup, kind and metric:
    ``plot_language_heatmap``) with per-language comparisons, as ``{"languages_<task>_<target>": figure}``, the name
    followed by the setup, the group (``ledger_frame.group_tag``) and the kind where they are needed to tell two
    apart; each saved as ``<out>/<name>.png`` when ``out`` is given. ``languages``: a report's ``languages``."""
    figures: dict[str, Figure] = {}
    for keys, sec in languages.groupby(LANG_BASE[:-1], sort=True, dropna=False):
        if not ((sec["view"] == "language") & sec["itt_variant"].notna()).any():
            continue
        k = dict(zip(LANG_BASE[:-1], keys))
        setup, group = setup_suffix(languages, k, " · "), group_suffix(languages, k, "\n")
        name = _slug("languages", k["task"], k["target"], *([k["setup"]] if setup else []),
                     *([group_tag(k)] if group else []))
        if not sec["own"].astype(bool).any():  # eval sets of another kind than the target (retrieval)
            name = _slug(name, k["eval_kind"])
        name = name if name not in figures else f"{name}_{len(figures)}"
        figures[name] = plot_language_heatmap(sec, None if out is None else Path(out) / f"{name}.png", setup + group)
    return figures


def write_outputs(report: Report, out: str | Path) -> dict[str, Path]:
    """Write every artefact under ``out``; returns {kind: path} for what was written.

    Plots are skipped (not faked) when there is nothing to compare."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    written: dict[str, Path] = {"markdown": out / "comparison.md"}
    written["markdown"].write_text(report.markdown(), encoding="utf-8")
    written["csv"] = write_csv(report.table, out / "comparison.csv")
    written["latex"] = out / "comparison.tex"
    written["latex"].write_text(render_latex(report.table, report.n_tests), encoding="utf-8")
    written["long"] = write_csv(report.long, out / "long.csv", LONG_COLUMNS)
    if not report.failed.empty:
        written["failed"] = out / "failed.csv"
        report.failed.to_csv(written["failed"], index=False)
    if not report.one_class.empty:
        written["one_class"] = write_csv(report.one_class, out / "one_class.csv", ONE_CLASS_COLUMNS)
    if not report.families.empty:
        written["families"] = write_csv(report.families, out / "families.csv", FAMILY_COLUMNS)
    if not report.languages.empty:
        written["languages"] = write_csv(report.languages, out / "languages.csv", LANGUAGE_COLUMNS)
        written["robustness"] = write_csv(report.robustness, out / "robustness.csv", ROBUST_COLUMNS)
        if not report.itt_languages.empty:
            written["itt_languages"] = write_csv(report.itt_languages, out / "itt_languages.csv", PIVOT_COLUMNS)
        for name in language_heatmaps(report.languages, out):
            written[name] = out / f"{name}.png"
    if not report.gains.empty:
        written["divergence"] = write_csv(report.gains, out / "divergence.csv", JOIN_COLUMNS)
        written["divergence_rho"] = write_csv(report.rho, out / "divergence_rho.csv",
                                              list(report.rho.columns))
        for name in gain_vs_measure_plots(report.gains, report.rho, out):
            written[name] = out / f"{name}.png"
    own = report.table[report.table["own"].astype(bool)] if not report.table.empty else report.table
    if not own.empty:
        if own["delta"].notna().any():
            written["delta_heatmap"] = out / "delta_heatmap.png"
            plot_delta_heatmap(own, written["delta_heatmap"])
        written["bars"] = out / "bars.png"
        plot_bars(own, written["bars"])
    return written


def load_checked(root: str | Path) -> tuple[pd.DataFrame, Path]:
    """Load ``${root}/results.jsonl``; FileNotFoundError / EmptyLedgerError if unusable."""
    path = ledger_path(root)
    df = load_ledger(path)
    if df.empty:
        raise EmptyLedgerError(f"ledger is empty (no valid rows): {path}")
    return df, path


def write_report(root: str | Path = "outputs", out: str | Path | None = None,
                 metric: str | None = None, df: pd.DataFrame | None = None,
                 bootstrap: Bootstrap = Bootstrap()) -> dict[str, Path]:
    """Load the ledger under ``root`` (unless ``df`` is given), write the report to ``out``
    (default ``${root}/report``) and return the written paths."""
    source = "dataframe"
    if df is None:
        df, path = load_checked(root)
        source = str(path)
    report = build_report(df, metric, source=source, root=root, bootstrap=bootstrap)
    return write_outputs(report, Path(out) if out is not None else Path(root) / "report")

