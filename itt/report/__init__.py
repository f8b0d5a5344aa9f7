"""Report for ITT experiments: read the run ledger, compare ITT vs no-ITT, write tables/plots.

Typical use::

    from itt.report import load_ledger, comparison_table, render_markdown
    df = load_ledger("outputs/results.jsonl")
    print(render_markdown(comparison_table(df)))

or ``python -m itt.report --root outputs`` (see ``itt/report/__main__.py``).
"""

from .ledger_frame import (
    LedgerWarning,
    failed_runs,
    latest_ok,
    ledger_path,
    load_ledger,
    records_to_frame,
    target_runs,
)
from .plots import plot_bars, plot_delta_heatmap
from .stats import comparison_table, describe_groups, group_summary, paired_ttest
from .tables import render_latex, render_markdown, write_csv
from .wandb_source import load_wandb, run_to_record, runs_to_frame
from .writer import EmptyLedgerError, Report, build_report, write_outputs, write_report

__all__ = [
    "EmptyLedgerError", "LedgerWarning", "Report", "build_report", "comparison_table",
    "describe_groups", "failed_runs", "group_summary", "latest_ok", "ledger_path",
    "load_ledger", "load_wandb", "paired_ttest", "plot_bars", "plot_delta_heatmap",
    "records_to_frame", "render_latex", "render_markdown", "run_to_record", "runs_to_frame",
    "target_runs", "write_csv", "write_outputs", "write_report",
]
