"""Assemble a report from a ledger frame and write it to disk.

:func:`build_report` does the computing once (so the CLI can print and write the same
thing); :func:`write_outputs` writes ``comparison.md/.csv/.tex``, ``failed.csv`` and the
PNGs; :func:`write_report` is the one-call version used by notebooks and tests.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from .ledger_frame import failed_runs, latest_ok, ledger_path, load_ledger, target_runs
from .plots import plot_bars, plot_delta_heatmap
from .stats import describe_groups, groups_from_runs, table_from_runs
from .tables import render_latex, render_markdown, write_csv

FAILED_COLUMNS = ["run_id", "model", "task", "stage", "target", "itt", "seed", "split",
                  "source", "hparams_id", "error", "time"]


class EmptyLedgerError(ValueError):
    """The ledger exists but holds no usable row."""


@dataclass
class Report:
    source: str                      # ledger path or wandb path, for the header
    table: pd.DataFrame              # tidy comparison (stats.TABLE_COLUMNS)
    groups: pd.DataFrame             # stats.group_summary
    failed: pd.DataFrame             # runs with no ok row
    counts: dict = field(default_factory=dict)

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
        return lines

    def markdown(self) -> str:
        parts = ["# Intermediate-task training: ITT vs no-ITT", "",
                 f"Source: `{self.source}`", ""]
        parts += [f"- {line}" for line in self.notes() + self.group_lines] + [""]
        parts.append(render_markdown(self.table))
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


def build_report(df: pd.DataFrame, metric: str | None = None, source: str = "") -> Report:
    ok = latest_ok(df)
    failed = failed_runs(df)
    counts = {
        "rows": len(df),
        "ok_runs": len(ok),
        "target_ok_runs": int((ok["stage"] == "target").sum()),
        "cached_rows": int((df["status"] == "cached").sum()),
        "failed_runs": len(failed),
    }
    runs = target_runs(df, metric)  # once, so its warnings are printed once
    return Report(source=source, table=table_from_runs(runs), groups=groups_from_runs(runs),
                  failed=failed.reindex(columns=FAILED_COLUMNS), counts=counts)


def write_outputs(report: Report, out: str | Path) -> dict[str, Path]:
    """Write every artefact under ``out``; returns {kind: path} for what was written.

    Plots are skipped (not faked) when there is nothing to compare.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    written: dict[str, Path] = {}
    md = out / "comparison.md"
    md.write_text(report.markdown(), encoding="utf-8")
    written["markdown"] = md
    written["csv"] = write_csv(report.table, out / "comparison.csv")
    tex = out / "comparison.tex"
    tex.write_text(render_latex(report.table), encoding="utf-8")
    written["latex"] = tex
    if not report.failed.empty:
        failed = out / "failed.csv"
        report.failed.to_csv(failed, index=False)
        written["failed"] = failed
    if not report.table.empty:
        if report.table["delta"].notna().any():
            written["delta_heatmap"] = out / "delta_heatmap.png"
            plot_delta_heatmap(report.table, written["delta_heatmap"])
        written["bars"] = out / "bars.png"
        plot_bars(report.table, written["bars"])
    return written


def load_checked(root: str | Path) -> tuple[pd.DataFrame, Path]:
    """Load ``${root}/results.jsonl``; FileNotFoundError / EmptyLedgerError if unusable."""
    path = ledger_path(root)
    df = load_ledger(path)
    if df.empty:
        raise EmptyLedgerError(f"ledger is empty (no valid rows): {path}")
    return df, path


def write_report(root: str | Path = "outputs", out: str | Path | None = None,
                 metric: str | None = None, df: pd.DataFrame | None = None) -> dict[str, Path]:
    """Load the ledger under ``root`` (unless ``df`` is given), write the report to ``out``
    (default ``${root}/report``) and return the written paths."""
    source = "dataframe"
    if df is None:
        df, path = load_checked(root)
        source = str(path)
    report = build_report(df, metric, source=source)
    return write_outputs(report, Path(out) if out is not None else Path(root) / "report")
