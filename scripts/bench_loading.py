"""Time and peak memory of reading a large dataset capped by ``max_rows`` (a benchmark, not a test).

    python scripts/bench_loading.py                          # 4M rows, max_rows=200000, this checkout
    python scripts/bench_loading.py --itt-root /tmp/itt-old  # the same with another checkout of itt

Generates (once) a parquet file with ``fancyzhx/amazon_polarity``'s schema (title, content, label as
``ClassLabel(negative, positive)``) and ``--rows`` rows, then, in a fresh process, turns it into the
train/validation/test rows of a ``split=paper`` spec with ``max_rows`` the way a run does (loading,
canonical columns, the stratified split; no tokenisation), and prints the wall time and the process's
peak resident memory. Older checkouts (before ``itt.data.preparation``) are measured through their
``load_spec`` + ``make_splits``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

WORDS = ("great", "terrible", "battery", "screen", "works", "broke", "after", "two", "weeks", "love", "it", "the",
         "product", "quality", "price", "would", "buy", "again", "never", "disappointed", "fast", "shipping", "cheap")


def make_parquet(path: Path, rows: int) -> None:
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq
    from datasets import ClassLabel, Features, Value

    features = Features({"label": ClassLabel(names=["negative", "positive"]), "title": Value("string"),
                         "content": Value("string")})
    rng = np.random.default_rng(0)
    words = np.array(WORDS)
    schema = features.arrow_schema
    with pq.ParquetWriter(path, schema) as writer:
        for start in range(0, rows, 500_000):
            n = min(500_000, rows - start)
            content = [" ".join(words[rng.integers(0, len(words), 14)]) for _ in range(n)]
            title = [" ".join(words[rng.integers(0, len(words), 3)]) for _ in range(n)]
            table = pa.table({"label": rng.integers(0, 2, n), "title": title, "content": content}, schema=schema)
            writer.write_table(table)


MEASURE = """
import json, resource, sys, time
from pathlib import Path
from omegaconf import OmegaConf
from itt.schema import DatasetSpec
from itt.tasks import get_task
path, max_rows = sys.argv[1], int(sys.argv[2])
split = OmegaConf.create({"name": "paper", "train": 0.7, "validation": 0.15, "test": 0.15})
spec = DatasetSpec(path=path, text_fields=["content"], labels=["negative", "positive"], max_rows=max_rows,
                   splits={"train": "train", "validation": None, "test": None})
task = get_task("sequence_classification", "acc")
start = time.perf_counter()
try:
    from itt.data.preparation import Protocol, split_rows
    splits, _ = split_rows(spec, task, Protocol(split, 0, "hub", 128, Path("/nonexistent")))
except ImportError:  # an itt from before the preparation module
    from itt.data.loading import load_spec
    from itt.data.splitting import make_splits
    raw, _ = load_spec(spec, task, "sentiment", "hub", seed=0)
    splits = make_splits(raw, split, task.kind, 0, max_rows, "bench")
seconds = time.perf_counter() - start
print(json.dumps({"seconds": round(seconds, 1), "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024,
                  "rows": {s: len(d) for s, d in splits.items()}}))
"""


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python scripts/bench_loading.py", description=__doc__.split("\n\n")[0])
    p.add_argument("--rows", type=int, default=4_000_000)
    p.add_argument("--max-rows", type=int, default=200_000)
    p.add_argument("--data", default=str(Path(tempfile.gettempdir()) / "itt-bench-loading"),
                   help="folder for the generated parquet (kept for the next run)")
    p.add_argument("--itt-root", default=str(Path(__file__).resolve().parent.parent),
                   help="the checkout of itt to measure (its folder is put first on the import path)")
    args = p.parse_args(argv)
    if args.rows < 1 or args.max_rows < 1:  # 0 rows wrote an empty parquet and failed inside datasets
        p.error("--rows and --max-rows must be >= 1")
    folder = Path(args.data)
    folder.mkdir(parents=True, exist_ok=True)
    data = folder / f"amazon_polarity_{args.rows}.parquet"
    if not data.exists():
        t0 = time.perf_counter()
        make_parquet(data, args.rows)
        print(f"generated {data} ({data.stat().st_size / 1e6:.0f} MB) in {time.perf_counter() - t0:.0f} s")
    cache = folder / "hf-cache"  # datasets' own cache of the parquet, shared by both measurements
    env = {"HF_DATASETS_CACHE": str(cache), "HF_HUB_OFFLINE": "1", "PYTHONPATH": args.itt_root}
    import os

    result = subprocess.run([sys.executable, "-c", MEASURE, str(data), str(args.max_rows)], cwd=args.itt_root,
                            env={**os.environ, **env}, capture_output=True, text=True)
    if result.returncode != 0:
        print(result.stderr[-3000:], file=sys.stderr)
        return result.returncode
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    print(f"itt at {args.itt_root}: {args.rows:,} rows, max_rows={args.max_rows:,} -> {figures['rows']}; "
          f"{figures['seconds']} s, peak RSS {figures['peak_rss_mb']} MB")
    print(f"seconds={figures['seconds']} peak_rss_mb={figures['peak_rss_mb']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
