"""``python -m itt.bench --eval``: evaluation throughput of itt against ``transformers.Trainer.evaluate``.

One model (built once by ``itt.build.build_run``: the pretrained encoder with the run's new head), several
eval sets: the run's own validation split and each ``task.evals`` set (``--eval-data`` files, or embedded
stand-ins of other domains). Both contenders evaluate the same model object on the same tokenized
validation rows with the same eval batch size and precision:

- itt: ``Trainer.validate(module, datamodule)``, the call ``itt.pipeline`` makes after training
  (Lightning loop, one loader per eval set in length order, bf16 autocast with each weight cast once, no_grad);
- HF: ``Trainer.evaluate(eval_dataset={name: rows})`` with default arguments apart from the batch size,
  precision and seed (rows in file order, ``DataCollatorWithPadding``, autocast per batch, no_grad,
  logits gathered and concatenated, accuracy computed from them at the end).

Rounds alternate the order; the figure is the median of per-round ratios (rows per second).
"""

from __future__ import annotations

import gc
import statistics
from pathlib import Path

from itt.bench.timing import Stopwatch


def eval_rows(built) -> int:
    return sum(len(p.features["validation"]) for p in built.data.eval_sets)


def run_itt_eval(bench, built, run_dir: Path) -> tuple[Stopwatch, dict]:
    from itt.logger import build_loggers, finish
    from itt.trainer import build_trainer

    loggers = build_loggers(built.spec, "bench-eval", run_dir)
    trainer, _ = build_trainer(built.spec.settings, run_dir, loggers, built.monitor, built.numerics["precision"])
    try:
        with Stopwatch() as clock:
            per_loader = trainer.validate(built.module, datamodule=built.data, verbose=False)
    finally:
        finish(loggers)
    primary = built.primary_metric
    accs = {k: float(v) for metrics in per_loader for k, v in metrics.items() if k.endswith(f"/{primary}")}
    return clock, accs


def run_hf_eval(bench, built, run_dir: Path) -> tuple[Stopwatch, dict]:
    import numpy as np
    from transformers import DataCollatorWithPadding, Trainer

    from itt.bench.contenders import hf_arguments

    def accuracy(pred):
        return {"acc": float((np.argmax(pred.predictions, axis=-1) == pred.label_ids).mean())}

    sets = {(p.name if i else "own"): p.features["validation"] for i, p in enumerate(built.data.eval_sets)}
    trainer = Trainer(model=built.module.model, args=hf_arguments(bench, run_dir),
                      data_collator=DataCollatorWithPadding(bench.tokenizer, pad_to_multiple_of=bench.pad_multiple),
                      processing_class=bench.tokenizer, compute_metrics=accuracy)
    with Stopwatch() as clock:
        metrics = trainer.evaluate(eval_dataset=sets)
    return clock, {k: float(v) for k, v in metrics.items() if k.endswith("_acc")}


def warm_up(bench, built) -> None:
    """One forward per padded length at the eval batch size (first-use kernel set-up out of the rounds),
    under no_grad as both contenders evaluate (itt's Trainer: ``inference_mode=False``)."""
    from itt.data.datamodule import model_inputs

    torch, model = bench.torch, built.module.model
    batch = model_inputs(next(iter(built.data.val_dataloader()[0])))
    top = max(max(p.features["validation"]["length"]) for p in built.data.eval_sets)
    model.eval()
    with torch.no_grad(), bench.autocast():
        for length in range(bench.pad_multiple, top + bench.pad_multiple, bench.pad_multiple):
            model(**{k: (v[:, :1].repeat(1, length) if v.dim() == 2 else v) for k, v in batch.items()})


def eval_bench(bench, quiet, root: Path) -> dict:
    """Rounds of itt's and HF's evaluation of one model; prints per-round figures, returns the summary."""
    from itt.build import build_run

    args = bench.args
    with quiet():
        built = build_run(bench.spec)
        built.module.model.to(bench.torch.device("cpu"))
        warm_up(bench, built)
    rows = eval_rows(built)
    sizes = ", ".join(f"{p.name} {len(p.features['validation'])}" for p in built.data.eval_sets)
    print(f"eval sets (validation rows): {sizes}; {rows} rows, eval batch {bench.cfg.data.eval_batch_size},"
          f" precision {bench.precision}")
    results = {"itt": [], "hf": []}
    accs = {}
    for r in range(args.repeats):
        order = ["itt", "hf"] if r % 2 == 0 else ["hf", "itt"]
        line = []
        for name in order:
            gc.collect()
            run_dir = root / "bench_runs" / f"eval-{name}-{r}"
            with quiet():
                clock, accs[name] = (run_itt_eval if name == "itt" else run_hf_eval)(bench, built, run_dir)
            results[name].append({"s": clock.seconds, "cpu_s": clock.cpu_seconds})
            line.append(f"{name} {rows / clock.seconds:.0f} rows/s ({clock.seconds:.2f}s)")
        print(f"eval round {r + 1}/{args.repeats}: " + ", ".join(line) + f"; load {load()}")
    out = {}
    for name, runs in results.items():
        out[f"eval_{name}_rows_per_s"] = statistics.median(rows / x["s"] for x in runs)
        out[f"eval_{name}_rows_per_cpu_s"] = statistics.median(rows / x["cpu_s"] for x in runs)
    out["eval_ratio_vs_hf"] = statistics.median(h["s"] / i["s"] for i, h in zip(results["itt"], results["hf"]))
    out["eval_ratio_vs_hf_cpu"] = statistics.median(h["cpu_s"] / i["cpu_s"] for i, h in zip(results["itt"], results["hf"]))
    print(f"{'evaluation':34s} {'rows/s':>10s} {'per CPU-s':>10s}")
    for name, label in (("itt", "itt Trainer.validate"), ("hf", "HF Trainer.evaluate")):
        print(f"{label:34s} {out[f'eval_{name}_rows_per_s']:10.1f} {out[f'eval_{name}_rows_per_cpu_s']:10.1f}")
    print(f"itt / HF Trainer.evaluate = {out['eval_ratio_vs_hf']:.3f} (goal >= 1.5; median of per-round ratios); "
          f"per CPU-second {out['eval_ratio_vs_hf_cpu']:.3f}")
    print("accuracy per set (the same model, so they should agree): itt " + ", ".join(f"{k} {v:.3f}" for k, v in sorted(accs["itt"].items()))
          + "; HF " + ", ".join(f"{k} {v:.3f}" for k, v in sorted(accs["hf"].items())))
    out["eval_rows"] = rows
    return out


def load() -> str:
    import os

    try:
        return "/".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "n/a"
