"""CLI: ``python -m itt.report [--root DIR] [--metric NAME] [--out DIR] [--wandb ENTITY/PROJECT]``.

Hydra-style overrides are accepted too, because users type them out of habit from the
training entry point: ``python -m itt.report paths.root=/some/dir metric=acc``.

Exit codes: 0 report written (possibly with nothing to compare), 1 ledger missing/empty
or no W&B runs, 2 bad arguments (argparse).
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

from .ledger_frame import ledger_path
from .tables import render_markdown
from .writer import EmptyLedgerError, build_report, load_checked, write_outputs

# Hydra-style key -> argparse flag. A leading "+"/"++" (Hydra's append/force) is ignored.
HYDRA_KEYS = {
    "paths.root": "--root", "root": "--root",
    "metric": "--metric", "report.metric": "--metric",
    "out": "--out", "report.out": "--out", "paths.report": "--out",
    "wandb": "--wandb", "report.wandb": "--wandb",
}


def translate_hydra_args(argv: list[str]) -> list[str]:
    """``paths.root=DIR`` -> ``--root DIR``; other ``key=value`` words are an error."""
    out = []
    for arg in argv:
        if not arg.startswith("-") and "=" in arg:
            key, value = arg.split("=", 1)
            flag = HYDRA_KEYS.get(key.lstrip("+"))
            if flag is None:
                raise ValueError(f"unknown override {arg!r}; known keys: "
                                 + ", ".join(sorted(HYDRA_KEYS)))
            out += [flag, value]
        else:
            out.append(arg)
    return out


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m itt.report",
        description="Compare target-task results with vs without intermediate-task training.",
        epilog="Hydra-style overrides also work: paths.root=DIR metric=NAME out=DIR "
               "wandb=ENTITY/PROJECT.",
    )
    p.add_argument("--root", default="outputs",
                   help="directory holding results.jsonl (default: outputs)")
    p.add_argument("--metric", default=None,
                   help="metric to compare, e.g. acc, f1_macro, val/acc (bare names mean "
                        "test/NAME; default: each run's test/<primary_metric>)")
    p.add_argument("--out", default=None, help="output directory (default: ROOT/report)")
    p.add_argument("--wandb", default=None, metavar="ENTITY/PROJECT",
                   help="read runs from the W&B public API instead of the ledger")
    return p


def _print_warning(message, category, filename, lineno, file=None, line=None):
    # One readable line per ledger problem instead of Python's file:line warning format.
    print(f"warning: {message}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    # The table uses Δ, ±, –; never die on a terminal whose encoding lacks them.
    for stream in (sys.stdout, sys.stderr):
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="replace")
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        argv = translate_hydra_args(argv)
    except ValueError as exc:
        parser.error(str(exc))  # exits 2 with usage, like any other bad argument
    args = parser.parse_args(argv)
    out = Path(args.out) if args.out else Path(args.root) / "report"
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        warnings.showwarning = _print_warning
        if args.wandb:
            from .wandb_source import load_wandb

            try:
                df = load_wandb(args.wandb)
            except Exception as exc:  # auth/network/unknown project: one line, not a traceback
                print(f"error: could not read W&B project {args.wandb}: {exc}", file=sys.stderr)
                return 1
            source = f"wandb:{args.wandb}"
            if df.empty:
                print(f"error: no runs found in W&B project {args.wandb}", file=sys.stderr)
                return 1
        else:
            try:
                df, path = load_checked(args.root)
            except FileNotFoundError:
                print(f"error: ledger not found: {ledger_path(args.root)}", file=sys.stderr)
                return 1
            except EmptyLedgerError as exc:
                print(f"error: {exc}", file=sys.stderr)
                return 1
            source = str(path)
        report = build_report(df, args.metric, source=source)
        written = write_outputs(report, out)

    print(f"source: {source}")
    for line in report.group_lines + report.notes():
        print(line)
    print()
    print(render_markdown(report.table))
    if not report.failed.empty:
        ids = ", ".join(map(str, report.failed["run_id"]))
        print(f"failed runs (not counted): {len(report.failed)}: {ids}")
    print("wrote: " + ", ".join(str(p) for p in written.values()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
