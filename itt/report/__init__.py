"""Report for ITT experiments: read the run ledger, compare ITT variants vs no-ITT, write tables/plots.

Typical use::

    from itt.report import load_ledger, long_table, comparison_table, render_markdown
    df = load_ledger("outputs/results.jsonl")
    long = long_table(df)                  # one line per run × eval set × split × metric
    print(render_markdown(comparison_table(df)))

or ``python -m itt.report paths.root=outputs`` (see ``itt/report/__main__.py``).
"""

from itt.ledger import ledger_path

from .chain import follow_chain
from .config import ReportConfig, parse_args
from .crosslingual import language_table, robustness_table
from .dataset_keys import dataset_key
from .divergence import join_gains, load_measures, rho_table
from .ledger_frame import LedgerWarning, failed_runs, latest_ok, load_ledger, records_to_frame
from .long_table import long_table, select, target_runs
from .plots import plot_bars, plot_delta_heatmap, plot_gain_vs_measure, plot_language_heatmap
from .scorers import get_scorer, register_item_scorer, register_scorer
from .stats import (Bootstrap, apply_holm, comparison_table, describe_groups, group_summary,
                    paired_ttest, table_from_lines)
from .status import status_lines, sweep_status
from .target_family import render_target_family_markdown, target_family_table
from .tables import (render_language_markdown, render_latex, render_markdown, render_rho_markdown,
                     render_robustness_markdown, write_csv)
from .wandb_source import load_wandb, run_to_record, runs_to_frame
from .writer import (EmptyLedgerError, Report, build_report, gain_vs_measure_plots, language_heatmaps, write_outputs,
                     write_report)

__all__ = [
    "Bootstrap", "EmptyLedgerError", "LedgerWarning", "Report", "ReportConfig", "apply_holm",
    "build_report", "comparison_table", "dataset_key", "describe_groups", "failed_runs",
    "follow_chain", "gain_vs_measure_plots", "get_scorer", "group_summary", "join_gains",
    "language_heatmaps", "language_table", "latest_ok",
    "ledger_path", "load_ledger", "load_measures", "load_wandb", "long_table", "paired_ttest",
    "parse_args", "plot_bars", "plot_delta_heatmap", "plot_gain_vs_measure",
    "plot_language_heatmap", "records_to_frame", "register_item_scorer", "register_scorer",
    "render_language_markdown", "render_latex", "render_markdown", "render_rho_markdown",
    "render_robustness_markdown",
    "render_target_family_markdown",
    "rho_table", "robustness_table", "run_to_record", "runs_to_frame", "select", "status_lines",
    "sweep_status", "table_from_lines", "target_family_table", "target_runs", "write_csv", "write_outputs",
    "write_report",
]
