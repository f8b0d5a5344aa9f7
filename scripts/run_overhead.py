"""Per-run fixed overhead of ``python -m itt.train``: what a run costs besides training and evaluating.

    python scripts/run_overhead.py model=bert task=sentiment +stage=target stage.target=domain \
        stage.itt=false source=embedded logger=csv paths.root=/tmp/ovh force=true
    python scripts/run_overhead.py -m experiment=demo +stage=target paths.root=/tmp/ovh force=true

Runs the itt CLI in this process (the same ``itt.train.main``), with hooks that only read the clock: when
each run starts (``itt.pipeline.run``), its first training step starts, its last training step ends,
and its ledger row is written (``itt.pipeline`` is imported as the CLI imports it, ``itt.train._pipeline``).
Per run it prints: start -> first step (for the first run: from process start, so imports and Hydra
count), training, last step -> ledger row (validation/test of the best checkpoint, saving the model and
predictions, the row), and the job's total. A warm data cache: run the same command once first (then
``force=true`` retrains the same run ids; parents stay cached). It prints figures; it is not a test.
Also: peak RSS of the process, and the CPU time it had used by the first run's first step (less
sensitive than wall time to other load on the machine).
"""

from __future__ import annotations

import time

PROCESS_START = time.perf_counter()

import resource  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402


def main() -> None:
    from itt import cli, ledger, train

    runs: list[dict] = []
    active: list[dict] = []  # runs in progress, innermost last (a target trains its missing parent inside its run)
    load_pipeline = train._pipeline

    def timed_pipeline():
        # itt.pipeline (torch, Lightning, ...) is imported where and how the CLI imports it (train._pipeline:
        # after Hydra composed the command, cyclic GC off meanwhile); then the clocks go in, once.
        pipeline = load_pipeline()
        if not getattr(pipeline, "_clocked", False):
            pipeline._clocked = True
            install_clocks(pipeline)
        return pipeline

    def install_clocks(pipeline) -> None:
        import pytorch_lightning as pl

        class Clock(pl.Callback):
            def __init__(self, record):
                self.record = record

            def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
                if "first_step" not in self.record:
                    self.record["first_step"], self.record["first_step_cpu"] = time.perf_counter(), time.process_time()

            def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
                self.record["last_step"] = time.perf_counter()

        build_trainer = pipeline.build_trainer

        def timed_build_trainer(*args, **kwargs):
            trainer, checkpoint = build_trainer(*args, **kwargs)
            if active:
                trainer.callbacks.append(Clock(active[-1]))
            return trainer, checkpoint

        pipeline.build_trainer = timed_build_trainer
        run = pipeline.run

        def timed_run(cfg_or_spec):
            record = {"start": time.perf_counter()}
            runs.append(record)
            active.append(record)
            try:
                row = run(cfg_or_spec)
            finally:
                active.pop()
            record["end"] = time.perf_counter()
            record["run_id"] = row["run_id"] if row else None
            return row

        pipeline.run = timed_run

    train._pipeline = timed_pipeline
    append = ledger.append

    def timed_append(root, row):
        out = append(root, row)
        if active and "row" not in active[-1]:
            active[-1]["row"] = time.perf_counter()
            active[-1]["status"] = row["status"]
        return out

    ledger.append = timed_append
    sys.argv = ["itt.train", *sys.argv[1:]]
    try:
        cli.run(train.main)
    except SystemExit as exc:
        if exc.code not in (0, None):
            raise
    report(runs)


def report(runs: list[dict]) -> None:
    trained = [r for r in runs if "first_step" in r and "row" in r]
    print(f"{len(runs)} jobs, {len(trained)} trained (the others were cached); process wall "
          f"{time.perf_counter() - PROCESS_START:.1f}s; peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")
    print(f"{'run':60s} {'start->1st step':>16s} {'training':>9s} {'last->row':>10s} {'job total':>10s}")
    before, after = [], []
    for i, r in enumerate(trained):
        begin = PROCESS_START if r is runs[0] else r["start"]
        before.append(r["first_step"] - begin)
        after.append(r["row"] - r["last_step"])
        print(f"{str(r.get('run_id'))[:60]:60s} {before[-1]:16.2f} {r['last_step'] - r['first_step']:9.2f} {after[-1]:10.2f}"
              f" {r.get('end', r['row']) - begin:10.2f}")
    if len(trained) > 1:
        print(f"inside the sweep (jobs 2..): start->first step median {statistics.median(before[1:]):.2f}s, "
              f"last step->row median {statistics.median(after[1:]):.2f}s, fixed overhead median "
              f"{statistics.median(b + a for b, a in zip(before[1:], after[1:])):.2f}s per run")
    if trained:
        print(f"first run (process start included): {before[0]:.2f}s to its first step ({trained[0]['first_step_cpu']:.2f}s "
              f"of CPU), {after[0]:.2f}s after its last")


if __name__ == "__main__":
    main()
