"""Does a numerics or batching setting learn as well as standard fine-tuning? Settings x seeds of real
target runs through itt's own CLI, paired by seed against torch dropout + random batches.

    python scripts/quality_ab.py --data /tmp/quality_data/xnli_en.csv --seeds 0 1 2 3 4 --epochs 3
    python scripts/quality_ab.py --data a.csv b.csv --settings torch_random torch_mega50 --report-only
    python scripts/quality_ab.py --data xtreme_dev/xnli/dev-en.tsv --tsv-header premise,hypothesis,label --subsample 640

Each ``--data`` file is a CSV with a header: a ``label`` column, every other column a text field (in
order). A ``.tsv`` without a header (XTREME's dev files) is first written as ``<root>/data/<name>.csv``
with ``--tsv-header``'s column names; ``--subsample N`` uses N random rows of each file instead
(``<name>_N.csv``, rows drawn with ``random.Random(N)``, kept in file order). Every run is ``python -m itt.train model=minilm task=sentiment +stage=target stage.itt=false``
pointed at the file (split=paper: a stratified 70/15/15 split drawn with the seed, so a seed's split and
head initialisation are the same in every setting), under ``<root>/<file stem>/e<epochs>/<setting>``.
Runs already in a ledger are skipped; the others run one at a time (this machine has 2 cores). The
table: per setting, val and test accuracy (of the best-validation epoch) mean and sd over seeds,
training throughput (train rows x epochs / the run's wall time), and the paired difference to the
reference setting with a 95 % t interval and a paired t-test. It prints figures; it is not a test.

The verdict per setting (the rule itt's defaults follow, fixed before the results were in): a setting
learns as well as the reference when, on every dataset, the lower end of the 95 % interval of its
paired difference is above ``-margin`` (default 0.02 accuracy) for both validation and test accuracy;
otherwise equality is not shown and the setting stays opt-in. For batching, the default is the
fastest setting that passes (mega_batch=50, then auto), random batches if none does.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import random
import subprocess
import sys
import time
from pathlib import Path

from itt import ledger  # its reader skips a killed run's torn line, with a warning

SETTINGS = {
    # standard fine-tuning: torch's dropout, uniformly random batches; the reference every other pairs with
    "torch_random": ["data.length_grouping=false", "model.fast_dropout=false"],
    "hash_random": ["data.length_grouping=false", "model.fast_dropout=true"],
    "torch_mega50": ["data.length_grouping=true", "data.mega_batch=50", "model.fast_dropout=false"],
    "torch_auto": ["data.length_grouping=true", "data.mega_batch=auto", "model.fast_dropout=false"],
    # torch's dense word-embedding gradient and the clipping norm over all its rows (the default keeps the
    # gradient of the touched rows and takes the norm from them: the same up to float summation order)
    "dense_grad": ["data.length_grouping=false", "model.fast_dropout=false", "model.sparse_embedding_grad=false"],
    # transformers' eager attention: bf16 scores and weighted sum under autocast (model.eager_attention)
    "eager_random": ["data.length_grouping=false", "model.fast_dropout=false", "model.eager_attention=true"],
}
REFERENCE = "torch_random"
OFFLINE_ENV = {"HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "WANDB_MODE": "offline", "TRANSFORMERS_OFFLINE": "1"}


def data_overrides(path: Path) -> list[str]:
    with path.open(newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        if "label" not in (reader.fieldnames or []):
            sys.exit(f"error: {path}: no 'label' column in the header {reader.fieldnames}")
        fields = [c for c in reader.fieldnames if c != "label"]
        labels = sorted({row["label"] for row in reader})
    quoted = ",".join(json.dumps(x) for x in labels)
    return [f"task.datasets.domain.path={path.resolve()}", f"task.datasets.domain.text_fields=[{','.join(fields)}]",
            "task.datasets.domain.label_field=label", f"task.datasets.domain.labels=[{quoted}]",
            # the shipped domain target is IMDb: its label_map and declared test split are not this file's
            "task.datasets.domain.label_map=null", "task.datasets.domain.splits={train:train,validation:null,test:null}"]


def prepared(path: Path, args) -> Path:
    """``path`` as the CSV the runs read: a header-less TSV converted, then the subsample if asked."""
    if path.suffix == ".tsv":
        header = args.tsv_header.split(",")
        out = args.root / "data" / f"{path.parent.name}_{path.stem}.csv"
        with path.open(newline="", encoding="utf-8") as f:
            rows = [line.rstrip("\r\n").split("\t") for line in f if line.strip()]
        bad = next((i for i, r in enumerate(rows) if len(r) != len(header)), None)
        if bad is not None:
            sys.exit(f"error: {path} line {bad + 1}: {len(rows[bad])} columns, --tsv-header names {len(header)}")
        _write_csv(out, header, rows)
        path = out
    if args.subsample:
        with path.open(newline="", encoding="utf-8") as f:
            reader = csv.reader(f)
            header, rows = next(reader), list(reader)
        keep = sorted(random.Random(args.subsample).sample(range(len(rows)), min(args.subsample, len(rows))))
        path = args.root / "data" / f"{path.stem}_{args.subsample}.csv"
        _write_csv(path, header, [rows[i] for i in keep])
    return path


def _write_csv(path: Path, header: list[str], rows: list[list[str]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)


def setting_root(root: Path, data: Path, epochs: int, setting: str) -> Path:
    return root / data.stem / f"e{epochs}" / setting


def finished(root: Path) -> dict[int, dict]:
    """seed -> the ledger's latest ok row under ``root`` (cached rows repeat an ok row)."""
    rows = {}
    for _, row in ledger.read_file(ledger.ledger_path(root), on_skip=lambda m: print(f"warning: {m}", file=sys.stderr)):
        if row.get("status") == "ok" and row.get("stage") == "target":
            rows[row["seed"]] = row
    return rows


def run(args, data: Path, setting: str, seed: int) -> None:
    root = setting_root(args.root, data, args.epochs, setting)
    cmd = [sys.executable, "-m", "itt.train", f"model={args.model}", "task=sentiment", "+stage=target",
           "stage.itt=false", "source=hub", "logger=csv", f"trainer.max_epochs={args.epochs}", f"seed={seed}",
           f"paths.root={root}", f"paths.cache={args.root / 'cache'}", *data_overrides(data), *SETTINGS[setting],
           *args.overrides]
    log = root / "logs" / f"s{seed}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    started = time.time()
    with log.open("w") as out:
        code = subprocess.call(cmd, cwd=args.repo, env={**os.environ, **OFFLINE_ENV}, stdout=out, stderr=subprocess.STDOUT)
    print(f"{data.stem} {setting} seed {seed}: exit {code} in {time.time() - started:.0f}s ({log})", flush=True)


def _t_quantile(n: int) -> float:
    from scipy import stats

    return float(stats.t.ppf(0.975, n - 1))


def paired(a: list[float], b: list[float]) -> tuple[str, float | None]:
    """mean of b - a with its 95 % t interval and the paired t-test's two-sided p; and the interval's
    lower end (None below 2 pairs)."""
    from scipy import stats

    d = [y - x for x, y in zip(a, b)]
    n = len(d)
    if n < 2:
        return (f"{d[0]:+.3f} (n=1)" if d else "-"), None
    mean = sum(d) / n
    sd = math.sqrt(sum((x - mean) ** 2 for x in d) / (n - 1))
    half = _t_quantile(n) * sd / math.sqrt(n)
    p = float(stats.ttest_rel(b, a).pvalue) if sd > 0 else float("nan")
    return f"{mean:+.3f} [{mean - half:+.3f}, {mean + half:+.3f}] p={p:.2f}", mean - half


def _mean_sd(xs: list[float]) -> str:
    if not xs:
        return "-"
    mean = sum(xs) / len(xs)
    sd = math.sqrt(sum((x - mean) ** 2 for x in xs) / (len(xs) - 1)) if len(xs) > 1 else 0.0
    return f"{mean:.3f} ± {sd:.3f}"


def report(args, data: Path) -> dict[str, bool | None]:
    """Print the table of one dataset; return per setting whether it passed the margin (None: < 2 pairs)."""
    rows = {s: finished(setting_root(args.root, data, args.epochs, s)) for s in {*args.settings, REFERENCE}}
    ref = rows.get(REFERENCE, {})
    passed: dict[str, bool | None] = {}
    print(f"\n{data.stem}: {args.epochs} epochs, model={args.model}, seeds {args.seeds}")
    print(f"{'setting':<14} {'n':>2}  {'val acc':<14} {'test acc':<14} {'samples/s':>9}  "
          f"{'Δ val vs ' + REFERENCE + ' [95% CI] p':<40} Δ test [95% CI] p")
    for s in args.settings:
        got = {seed: r for seed, r in rows[s].items() if seed in args.seeds}
        val = [got[k]["metrics"]["val/acc"] for k in sorted(got)]
        test = [got[k]["metrics"]["test/acc"] for k in sorted(got)]
        speed = [r["data_sizes"]["train"] * args.epochs / r["wall_s"] for r in got.values() if r.get("wall_s")]
        common = sorted(set(got) & set(ref)) if s != REFERENCE else []
        dv, low_v = paired([ref[k]["metrics"]["val/acc"] for k in common], [got[k]["metrics"]["val/acc"] for k in common])
        dt, low_t = paired([ref[k]["metrics"]["test/acc"] for k in common], [got[k]["metrics"]["test/acc"] for k in common])
        if s != REFERENCE:
            passed[s] = None if low_v is None else (low_v > -args.margin and low_t > -args.margin)
        rate = f"{sum(speed) / len(speed):.1f}" if speed else "-"
        print(f"{s:<14} {len(got):>2}  {_mean_sd(val):<14} {_mean_sd(test):<14} {rate:>9}  {dv:<40} {dt}")
    print("per seed (val / test acc):")
    for s in args.settings:
        cells = [f"s{k} {r['metrics']['val/acc']:.3f}/{r['metrics']['test/acc']:.3f}"
                 for k, r in sorted(rows[s].items()) if k in args.seeds]
        dropout = sorted({(r.get("numerics") or {}).get("dropout", "?") for r in rows[s].values()})
        print(f"  {s:<14} {'  '.join(cells)}   (dropout recorded: {', '.join(dropout)})")
    return passed


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", nargs="+", type=Path, required=True, help="CSV files with a header and a label column")
    p.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2, 3, 4])
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--settings", nargs="+", default=list(SETTINGS), choices=list(SETTINGS))
    p.add_argument("--model", default="minilm")
    p.add_argument("--root", type=Path, default=Path("/tmp/quality_runs"), help="where runs, ledgers and the cache go")
    p.add_argument("--repo", type=Path, default=Path(__file__).resolve().parent.parent, help="the itt checkout to run")
    p.add_argument("--report-only", action="store_true", help="print the table of finished runs, run nothing")
    p.add_argument("--tsv-header", default="text,text_pair,label", help="column names of header-less .tsv data")
    p.add_argument("--subsample", type=int, default=0, help="N: train on N random rows of each file instead")
    p.add_argument("--margin", type=float, default=0.02, help="accuracy a setting may lose at the 95 %% interval's lower end")
    p.add_argument("overrides", nargs="*", help="extra itt overrides for every run, e.g. optim.lr=3e-5")
    args = p.parse_args(argv)
    args.root = args.root.resolve()
    missing = [str(path) for path in args.data if not path.is_file()]
    if missing:
        p.error(f"--data {missing[0]}: no such file; give CSV files with a header and a label column "
                "(or header-less .tsv)")
    args.data = [prepared(path, args) for path in args.data]
    if not args.report_only:
        for data in args.data:
            for seed in args.seeds:  # seed-major: a cut-short experiment still has every setting on its seeds
                for setting in args.settings:
                    if seed not in finished(setting_root(args.root, data, args.epochs, setting)):
                        run(args, data, setting, seed)
    verdicts: dict[str, list[bool | None]] = {}
    for data in args.data:
        for setting, ok in report(args, data).items():
            verdicts.setdefault(setting, []).append(ok)
    print(f"\nverdict (every dataset: 95 % interval of the paired val and test difference above -{args.margin}):")
    for setting, oks in verdicts.items():
        verdict = ("too few pairs" if None in oks else "learns as well as " + REFERENCE if all(oks)
                   else "equality not shown: keep it opt-in")
        print(f"  {setting:<14} {verdict}")


if __name__ == "__main__":
    main()
