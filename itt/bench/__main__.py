"""``python -m itt.bench``: training (default), evaluation (``--eval``) or profile (``--profile N``)
throughput of itt next to the Hugging Face Trainer and a bare PyTorch loop. See ``itt/bench/__init__.py``."""

from __future__ import annotations

import argparse
import contextlib
import gc
import io
import logging
import os
import shutil
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

from itt.bench import contenders
from itt.bench.contenders import CONTENDERS, LIKE_FOR_LIKE
from itt.bench.evaluation import load

LABELS = {"itt[random]": "(a) itt, random batches (default)", "itt[grouped]": "(a') itt, length_grouping=true",
          "hf": "(b) HF Trainer, random", "hf_grouped": "(c) HF Trainer, group_by_length", "bare": "(d) bare PyTorch loop"}
KEYS = {"itt[random]": "itt_random_samples_per_s", "itt[grouped]": "itt_grouped_samples_per_s",
        "hf": "hf_trainer_samples_per_s", "hf_grouped": "hf_trainer_grouped_samples_per_s", "bare": "bare_loop_samples_per_s"}
SETTING = {"random": "data.length_grouping=false (itt's default)",
           "grouped": "data.length_grouping=true data.mega_batch=auto (transformers' rule)"}


def dropout_label(model_cfg) -> str:
    """Which dropout masks itt's contender draws (the HF Trainer's are torch's, from torch's kernel)."""
    if model_cfg.fast_dropout:
        return "hash (opt-in)"
    if not model_cfg.compiled_bernoulli:
        return "torch"
    from itt.models.compiled_bernoulli import usable

    return "torch's, compiled kernel" if usable() else "torch (its compiled kernel is not usable here)"


def parse_args(argv=None) -> argparse.Namespace:
    from itt import bench

    p = argparse.ArgumentParser(prog="python -m itt.bench", description=bench.__doc__.split("\n\n")[0])
    p.add_argument("--model", default="minilm", help="minilm (the real all-MiniLM-L6-v2 from its package; default) "
                   "or an embedded tiny encoder: bert, roberta, xlnet")
    p.add_argument("--steps", type=int, default=None, help="timed optimizer steps per contender and round (default 12; "
                   "with --data one epoch); the embedded stand-in's training set holds this many batches")
    p.add_argument("--warmup", type=int, default=2, help="untimed steps before the timed window (default 2)")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--repeats", type=int, default=3, help="rounds, each with its own seed (seed, seed+1, ...: data split, "
                   "initialisation, batch order); each figure is the median over them (default 3)")
    p.add_argument("--precision", default="auto", choices=("auto", "bf16-mixed", "16-mixed", "32-true"),
                   help="auto (what itt picks for this hardware), or what both contenders can run: bf16/fp16 autocast, fp32")
    p.add_argument("--contenders", default=",".join(CONTENDERS), help=f"comma-separated subset of {','.join(CONTENDERS)}; "
                   "itt runs with the batching of each HF configuration listed (random / length grouping)")
    p.add_argument("--itt-overrides", nargs="*", default=[], metavar="KEY=VALUE",
                   help="itt settings for itt and the bare loop only (opt-in speed settings), e.g. model.fast_dropout=true")
    p.add_argument("--root", default=None, help="where runs and caches go (default: a temporary folder, removed afterwards)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-eval", action="store_true", help="training mode: skip the validation accuracy check")
    p.add_argument("--eval", action="store_true", help="evaluation mode: itt's Trainer.validate of several eval sets vs "
                   "transformers' Trainer.evaluate (no training)")
    p.add_argument("--eval-sets", type=int, default=4, help="--eval on the stand-in: the own validation split and N-1 "
                   "embedded eval sets of other domains (default 4)")
    p.add_argument("--eval-rows", type=int, default=2000, help="--eval on the stand-in: rows per embedded eval set (default 2000)")
    p.add_argument("--eval-data", nargs="*", default=[], metavar="PATH", help="--eval with --data: eval set files, read like --data")
    p.add_argument("--profile", type=int, default=0, metavar="N", help="profile mode: N steps of itt's training step under "
                   "torch.profiler, by operator family, and the matrix products' share of the bf16 peak")
    p.add_argument("--data", default=None, metavar="PATH", help="a local dataset (csv/tsv/jsonl/parquet; anything itt "
                   "reads) instead of the embedded stand-in, split 70/15/15 (split=paper)")
    p.add_argument("--columns", default=None, help="--data: column names of a header-less csv/tsv, comma-separated")
    p.add_argument("--text-fields", default=None, help="--data: text columns (default: every column but the label)")
    p.add_argument("--label-field", default="label")
    p.add_argument("--lang", default="en")
    p.add_argument("--domain", default=None, help="--data: the dataset's domain (default: its folder's name)")
    p.add_argument("--verbose", action="store_true", help="show the libraries' own output")
    p.add_argument("overrides", nargs="*", help="itt config overrides for every contender, e.g. data.max_length=256")
    args = p.parse_args(argv)
    args.contenders = [c.strip() for c in args.contenders.split(",") if c.strip()]
    bad = [c for c in args.contenders if c not in CONTENDERS]
    if bad or not args.contenders:
        p.error(f"--contenders: unknown {bad}; valid: {', '.join(CONTENDERS)}")
    if (args.steps is not None and args.steps < 1) or args.warmup < 1 or args.repeats < 1 or args.batch_size < 1:
        p.error("--steps, --warmup, --repeats and --batch-size must be >= 1")
    if args.eval_data and not args.data:
        p.error("--eval-data needs --data (the eval sets are read like it)")
    if args.eval and args.eval_sets < 1:
        p.error("--eval-sets must be >= 1")
    if args.root is not None and Path(args.root).exists() and not Path(args.root).is_dir():
        p.error(f"--root {args.root}: a file, not a folder")  # was a FileExistsError traceback
    return args


def runs_of(names: list[str]) -> list[tuple[str, str | None]]:
    """(run key, itt variant) per contender run: itt once per batching an HF configuration listed uses
    (random when none is listed); the bare loop with the batching of the first itt variant."""
    variants = list(dict.fromkeys(LIKE_FOR_LIKE[n] for n in names if n in LIKE_FOR_LIKE)) or ["random"]
    out: list[tuple[str, str | None]] = []
    for n in names:
        if n == "itt":
            out += [(f"itt[{v}]", v) for v in variants]
        elif n == "bare":
            out.append(("bare", variants[0]))
        else:
            out.append((n, None))
    return out


def train_rounds(bench, args, root: Path, quiet) -> dict[str, list[dict]]:
    import torch

    runs = runs_of(args.contenders)
    results: dict[str, list[dict]] = {key: [] for key, _ in runs}
    base_state = _torch_state(torch)
    for r in range(args.repeats):
        with quiet():
            bench.set_round(r)
        order = runs[r % len(runs):] + runs[:r % len(runs)]
        line = []
        for key, variant in order:
            run_dir = root / "bench_runs" / f"{key.replace('[', '-').strip(']')}-{r}"
            shutil.rmtree(run_dir, ignore_errors=True)
            gc.collect()
            try:
                with quiet():
                    if key.startswith("itt"):
                        log, model = contenders.run_itt(bench, run_dir, variant)
                    elif key == "bare":
                        log, model = contenders.run_bare(bench, run_dir, variant)
                    else:
                        log, model = contenders.run_hf(bench, run_dir, key)
            finally:
                _restore_torch_state(torch, base_state)
            res = log.window(args.warmup, bench.steps)
            if not args.no_eval:
                with quiet():
                    res["val_acc"] = bench.val_accuracy(model)
            del model
            results[key].append(res)
            line.append(f"{key} {res['samples_per_s']:.1f}" + (f" (val acc {res['val_acc']:.3f})" if "val_acc" in res else ""))
        print(f"round {r + 1}/{args.repeats} (samples/s): " + ", ".join(line) + f"; load {load()}")
    return results


def summarize(results: dict[str, list[dict]], args, bench, batches: int) -> dict[str, float]:
    def median_of(c, key):
        return statistics.median(x[key] for x in results[c])

    def paired(a, b, key="samples_per_s"):  # median over rounds of a/b, both measured in the same round
        return statistics.median(x[key] / y[key] for x, y in zip(results[a], results[b]))

    med = {c: median_of(c, "samples_per_s") for c in results}
    print()
    print(f"{'contender':36s} {'samples/s':>10s} {'min..max':>15s} {'per CPU-s':>10s} {'pad eff.':>9s}"
          f" {'padded tok/s':>13s} {'val acc':>8s}")
    for c, runs in results.items():
        rates = [x["samples_per_s"] for x in runs]
        acc = median_of(c, "val_acc") if not args.no_eval else float("nan")
        print(f"{LABELS[c]:36s} {med[c]:10.1f} {min(rates):7.1f}..{max(rates):<7.1f} {median_of(c, 'samples_per_cpu_s'):10.1f}"
              f" {median_of(c, 'padding_efficiency'):9.1%} {median_of(c, 'padded_tokens_per_s'):13.0f} {acc:8.3f}")
    kv = {KEYS[c]: med[c] for c in results}
    print()
    for hf, variant in LIKE_FOR_LIKE.items():  # like for like: the same batching
        itt = f"itt[{variant}]"
        if hf in med and itt in med:
            kv[f"ratio_{variant}"] = paired(itt, hf)
            print(f"like for like, {variant} batches: itt / {hf} = {kv[f'ratio_{variant}']:.3f} (per CPU-second "
                  f"{paired(itt, hf, 'samples_per_cpu_s'):.3f}, per padded token {paired(itt, hf, 'padded_tokens_per_s'):.3f})")
    hf_best = max((c for c in LIKE_FOR_LIKE if c in med), key=med.get, default=None)
    if hf_best and f"itt[{LIKE_FOR_LIKE[hf_best]}]" in med:
        variant = LIKE_FOR_LIKE[hf_best]
        itt = f"itt[{variant}]"
        kv["itt_samples_per_s"] = med[itt]
        kv["ratio_vs_hf"] = paired(itt, hf_best)
        kv["ratio_vs_hf_cpu"] = paired(itt, hf_best, "samples_per_cpu_s")
        extra = f" {' '.join(args.itt_overrides)}" if args.itt_overrides else ""
        print(f"ratio_vs_hf: itt ({SETTING[variant]}{extra}) / the fastest HF Trainer configuration ({hf_best}) ="
              f" {kv['ratio_vs_hf']:.3f}; per CPU-second {kv['ratio_vs_hf_cpu']:.3f}  (goal >= 1.25; median of per-round ratios)")
    if "bare" in med:
        itt = f"itt[{dict(runs_of(args.contenders))['bare']}]"
        if itt in med:
            kv["ratio_vs_bare"] = paired(itt, "bare")
            kv["ratio_vs_bare_cpu"] = paired(itt, "bare", "samples_per_cpu_s")
            print(f"itt / bare loop = {kv['ratio_vs_bare']:.3f}  (goal >= 0.95; same batches); per CPU-second {kv['ratio_vs_bare_cpu']:.3f}")
    if not args.no_eval:
        epochs = bench.total_steps / batches
        print(f"validation accuracy after {bench.total_steps} steps ({epochs:.2f} epochs), median over {args.repeats} seeds"
              + ("; early in training, noisy" if epochs < 2 else ""))
        kv["val_acc_epochs"] = epochs
        for c in results:
            kv[f"{KEYS[c].replace('_samples_per_s', '')}_val_acc"] = median_of(c, "val_acc")
    return kv


def main(argv=None) -> int:
    args = parse_args(argv)
    _silence_libraries()
    own_root = args.root is None
    root = Path(tempfile.mkdtemp(prefix="itt-bench-")) if own_root else Path(args.root)
    root.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    load_before = load()
    quiet = lambda: _quiet(args.verbose)  # noqa: E731
    try:
        with quiet():
            from transformers.utils import logging as hf_logging

            hf_logging.set_verbosity_error()
            hf_logging.disable_progress_bar()
            from itt.bench.setup import Bench
            from itt.trainer import apply_threads

            steps_given = args.steps
            args.steps = args.steps or 12
            bench = Bench(args, root)
            data_info = bench.prepare_data()
            batches = -(-data_info["sizes"]["train"] // args.batch_size)
            if args.data and steps_given is None:  # one epoch of the file's training split
                bench.steps = args.steps = batches
                bench.compose(args.warmup + batches)
            model = bench.weightless_model()
            n_params = sum(p.numel() for p in model.parameters())
            threads = apply_threads(model)  # itt's choice per model (ITTModule.setup); every contender runs with it
            warm_s = bench.warm_up_process() if not args.eval else 0.0
        sizes = data_info["sizes"]
        print(f"itt.bench: model={args.model} ({n_params / 1e6:.1f}M parameters) from {bench.pretrained}")
        print(f"data: {bench.describe_data()} -> train {sizes['train']} ({batches} batches) / val {sizes['validation']}"
              f" / test {sizes['test']}; train tokens per text: mean {data_info['mean_len']:.1f}, max {data_info['max_len']},"
              f" {data_info['long_share']:.1%} longer than {data_info['long_cut']}")
        cfg = bench.cfgs["random"]
        print(f"setup: batch {args.batch_size}, precision {bench.precision}, torch threads {threads} (itt's choice), OpenMP wait"
              f" OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY', '-')} GOMP_SPINCOUNT={os.environ.get('GOMP_SPINCOUNT', '-')}"
              " (one process: every contender runs with them), pad to"
              f" multiple of {bench.pad_multiple}; itt: dropout {dropout_label(cfg.model)},"
              f" sparse embedding gradient {cfg.model.sparse_embedding_grad}, itt overrides {args.itt_overrides or 'none'}"
              f" (the HF Trainer: torch's dropout, dense embedding backward); {args.warmup} warm-up + {bench.steps} timed steps,"
              f" {args.repeats} rounds; process warm-up {warm_s:.1f}s; load average {load_before}")
        print(f"tokenization cache: first pass {'hit' if data_info['first_hit'] else 'built'} in {data_info['first_s']:.2f}s,"
              f" second pass {'hit' if data_info['second_hit'] else 'MISS (built again)'} in {data_info['second_s']:.2f}s")
        if args.profile:
            from itt.bench.profile import print_profile

            variant = "grouped" if "hf_grouped" in args.contenders else "random"  # the batching HF is fastest with
            kv = print_profile(bench, variant, args.profile)
        elif args.eval:
            from itt.bench.evaluation import eval_bench

            kv = eval_bench(bench, quiet, root)
        else:
            scale = bench.padding_at_scale()
            print("padding efficiency by training-set size (real/padded tokens; itt grouped | HF group_by_length | random): "
                  + "; ".join(f"{n} rows {e['itt_grouped']:.0%} | {e['hf_grouped']:.0%} | {e['random']:.0%}" for n, e in scale.items()))
            kv = summarize(train_rounds(bench, args, root, quiet), args, bench, batches)
        kv["token_cache_hit"] = 1.0 if data_info["second_hit"] else 0.0
        kv["wall_s"] = time.perf_counter() - started
        print(f"wall {kv['wall_s']:.0f}s; load average before {load_before}, after {load()}")
        print(" ".join(f"{k}={v:.4g}" for k, v in kv.items()))
        return 0
    finally:
        if own_root:
            shutil.rmtree(root, ignore_errors=True)


def _torch_state(torch) -> tuple:
    return (torch.are_deterministic_algorithms_enabled(), torch.is_deterministic_algorithms_warn_only_enabled(),
            torch.get_num_threads())


def _restore_torch_state(torch, state: tuple) -> None:
    """Lightning's ``deterministic=True`` switches deterministic algorithms on for the whole process;
    the next contender must not inherit that (nor a changed thread count)."""
    deterministic, warn_only, threads = state
    torch.use_deterministic_algorithms(deterministic, warn_only=warn_only)
    if torch.get_num_threads() != threads:
        torch.set_num_threads(threads)


@contextlib.contextmanager
def _quiet(verbose: bool):
    if verbose:
        yield
        return
    out, err = io.StringIO(), io.StringIO()
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    except BaseException:
        sys.stderr.write(out.getvalue()[-4000:] + err.getvalue()[-4000:])
        raise


def _silence_libraries() -> None:
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("HF_DATASETS_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    for name in ("pytorch_lightning", "lightning", "lightning.pytorch", "lightning_fabric", "itt", "datasets",
                 "transformers", "accelerate", "torch"):
        logging.getLogger(name).setLevel(logging.ERROR)


if __name__ == "__main__":
    from itt.cli import run

    run(lambda: sys.exit(main()))  # the user's input (a --data file, a flag): one line, as itt.train prints it
