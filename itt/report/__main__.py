"""CLI: ``python -m itt.report [key=value ...]`` — compare ITT vs no-ITT runs from the ledger.

Keys (see :mod:`itt.report.config`): ``paths.root=DIR`` ``metric=NAME`` ``out=DIR``
``wandb=ENTITY/PROJECT`` ``status=true`` ``sweep=DIR`` ``bootstrap.resamples=N``
``bootstrap.seed=N``. Aliases: ``--root DIR``, ``--metric NAME``, ``--out DIR``,
``--wandb ENTITY/PROJECT``, ``--sweep DIR``, ``--status``. Examples::

    python -m itt.report                                  # reads outputs/results.jsonl
    python -m itt.report paths.root=/scratch/itt metric=f1_macro
    python -m itt.report --wandb ENTITY/PROJECT           # the same tables from W&B
    python -m itt.report --status sweep=outputs/sweeps/2024-06-01_10-00-00-ab12cd

Exit codes: 0 report (or status) written, possibly with nothing to compare; 1 ledger missing or
empty, or no W&B runs; 2 bad arguments (one line naming the valid keys or values: also a metric no target run
has, an output folder that cannot be written, or a folder where the ledger goes; nothing is written then, so the
last report stays).
"""

from __future__ import annotations

import os
import sys
import warnings
from pathlib import Path

import pandas as pd

from itt.errors import OutputError, file_in_the_way, why_no_folder
from itt.ledger import ledger_path

from .config import UsageError, parse_args
from .ledger_frame import LedgerWarning, load_ledger, records_to_frame
from .long_table import MetricError
from .stats import Bootstrap
from .status import status_lines
from .tables import render_markdown
from .writer import EmptyLedgerError, build_report, load_checked, write_outputs


def _print_warning(message, category, filename, lineno, file=None, line=None):
    # One readable line per ledger problem instead of Python's file:line warning format; a library's
    # warning keeps that format, so it is not taken for one.
    if issubclass(category, LedgerWarning):
        print(f"warning: {message}", file=sys.stderr)
    else:
        print(warnings.formatwarning(message, category, filename, lineno, line), end="", file=sys.stderr)


def _load(cfg) -> tuple[pd.DataFrame, str] | int:
    """(ledger frame, source name), or an exit code after printing the one-line error."""
    if cfg.wandb:
        from .wandb_source import load_wandb

        try:
            df = load_wandb(cfg.wandb)
        except Exception as exc:  # auth/network/unknown project: one line, not a traceback
            print(f"error: could not read W&B project {cfg.wandb}: {exc}", file=sys.stderr)
            return 1
        if df.empty:
            print(f"error: no runs found in W&B project {cfg.wandb}", file=sys.stderr)
            return 1
        return df, f"wandb:{cfg.wandb}"
    try:
        df, path = load_checked(cfg.paths.root)
    except FileNotFoundError:
        print(f"error: ledger not found: {ledger_path(cfg.paths.root)}", file=sys.stderr)
        return 1
    except EmptyLedgerError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return df, str(path)


def _unwritable(out: Path) -> str | None:
    """Why the report folder ``out`` cannot be written (None: it can, as far as is known before writing), said
    without making it: a ``metric=`` refused after this check leaves no empty folder behind. A full disk shows
    when the files are written (``write_outputs`` makes the folder)."""
    if (blocker := file_in_the_way(out.absolute())) is not None:
        return f"cannot write the report to {out}: {blocker} is a file, not a folder; give another folder with out=DIR"
    existing = next(p for p in (out.absolute(), *out.absolute().parents) if p.exists())
    if not os.access(existing, os.W_OK | os.X_OK):
        reason = "read-only file system" if os.statvfs(existing).f_flag & os.ST_RDONLY else "permission denied"
        return f"cannot write the report to {out}: {reason}; give another folder with out=DIR"
    return None


def _os_problem(out: Path, exc: OSError) -> str:
    return f"cannot write the report to {out}: {why_no_folder(out, exc)}; give another folder with out=DIR"


def _status(cfg) -> int:
    path = ledger_path(cfg.paths.root)
    df = load_ledger(path) if path.exists() else records_to_frame([])
    if not path.exists():
        print(f"ledger: none at {path}")
    for line in status_lines(df, cfg.paths.root, cfg.sweep):
        print(line)
    return 0


def main(argv: list[str] | None = None) -> int:
    # The tables use Δ, ±, –; never die on a terminal whose encoding lacks them.
    for stream in (sys.stdout, sys.stderr):
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="replace")
    argv = list(sys.argv[1:] if argv is None else argv)
    if any(a in ("-h", "--help") for a in argv):
        print(__doc__)
        return 0
    try:
        cfg = parse_args(argv)
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        warnings.showwarning = _print_warning
        try:
            if cfg.status:
                return _status(cfg)
            loaded = _load(cfg)
        except OutputError as exc:  # a folder where the ledger goes: the line itt.train and itt.plan say too
            print(f"error: {exc}", file=sys.stderr)
            return 2
        if isinstance(loaded, int):
            return loaded
        df, source = loaded
        out = Path(cfg.out) if cfg.out else Path(cfg.paths.root) / "report"
        problem = _unwritable(out)
        if problem:  # said before the tables are computed (the bootstrap can take minutes)
            print(f"error: {problem}", file=sys.stderr)
            return 2
        bootstrap = Bootstrap(cfg.bootstrap.resamples, cfg.bootstrap.seed)
        try:
            report = build_report(df, cfg.metric, source=source, root=cfg.paths.root,
                                  bootstrap=bootstrap)
        except MetricError as exc:  # before anything is written: the last good report stays
            print(f"error: {exc}", file=sys.stderr)
            return 2
        try:
            written = write_outputs(report, out)
        except OSError as exc:  # a full disk, or a folder where a report file goes
            print(f"error: {_os_problem(out, exc)}", file=sys.stderr)
            return 2

    print(f"source: {source}")
    for line in report.group_lines + report.notes():
        print(line)
    print()
    print(render_markdown(report.table, report.n_tests))
    if not report.failed.empty:
        ids = ", ".join(map(str, report.failed["run_id"]))
        print(f"failed runs (not counted): {len(report.failed)}: {ids}")
    print("wrote: " + ", ".join(str(p) for p in written.values()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
