"""``python -m itt.bench --profile``: where a training step's time goes, by operator (torch.profiler),
on the bench's data and model, and the matrix products' share of this CPU's bf16 peak.

The steps profiled are itt's: the bare loop's (``itt.bench.contenders.BareLoop``: the run's model as
``itt.build.build_run`` builds it, itt's model preparation, optimizer, clipping folded into the fused
step, autocast), over itt's batches with the variant's batching. Operator self-times are
grouped into families (``FAMILIES``); the peak is a large bf16 ``torch.mm`` timed in the same process.
"""

from __future__ import annotations

import itertools
import time
from collections import defaultdict

# operator name -> family; first match wins (substring of the aten name)
FAMILIES = [
    ("matrix products", ("aten::mm", "aten::addmm", "aten::bmm", "aten::matmul", "aten::linear", "mkldnn")),
    ("dtype casts (autocast, .to)", ("aten::_to_copy", "aten::copy_", "aten::to")),
    ("attention (SDPA math, softmax)", ("softmax", "scaled_dot_product", "_safe_softmax")),
    ("dropout", ("bernoulli", "dropout", "native_dropout")),
    ("fused AdamW", ("_fused_adamw",)),
    ("LayerNorm", ("layer_norm",)),  # before clipping: "norm" is in its name too
    ("gradient norm (clipping)", ("linalg_vector_norm", "_foreach_norm", "aten::norm")),
    ("GELU", ("gelu",)),
    ("embedding", ("embedding", "index_select", "index_add", "_sparse", "coalesce", "unique", "index_put")),
    ("elementwise add/mul/div", ("aten::add", "aten::mul", "aten::div", "aten::sub", "aten::where", "aten::masked_fill")),
    ("reductions (sum, loss)", ("aten::sum", "nll_loss", "log_softmax", "aten::mean")),
    ("allocation and zeroing", ("aten::empty", "aten::zero_", "aten::fill_", "aten::zeros", "aten::resize_")),
]
MATMULS = ("aten::mm", "aten::addmm", "aten::bmm")


def family(name: str) -> str:
    for label, keys in FAMILIES:
        if any(k in name for k in keys):
            return label
    return "other"


def bf16_peak_gflops(torch, size: int = 2048, repeats: int = 10) -> float:
    """GFLOP/s of a large bf16 ``torch.mm`` (2*n^3 flops each), best of ``repeats``: this CPU's practical peak."""
    a = torch.randn(size, size).bfloat16()
    b = torch.randn(size, size).bfloat16()
    torch.mm(a, b)
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        torch.mm(a, b)
        best = min(best, time.perf_counter() - t0)
    return 2 * size ** 3 / best / 1e9


def profile_steps(bench, variant: str, steps: int, warmup: int = 3) -> dict:
    """Train ``warmup`` untimed then ``steps`` profiled steps of itt's step; returns the by-family table."""
    from torch.profiler import ProfilerActivity, profile

    from itt.bench.contenders import BareLoop

    loop = BareLoop(bench, variant, warmup + steps)
    batches = loop.batches(warmup + steps)
    for batch in itertools.islice(batches, warmup):
        loop.step(batch)
    t0, c0 = time.perf_counter(), time.process_time()
    with profile(activities=[ProfilerActivity.CPU], with_flops=True) as prof:
        for batch in batches:
            loop.step(batch)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    by_family: dict[str, float] = defaultdict(float)
    by_op: dict[str, float] = defaultdict(float)
    flops, matmul_us = 0.0, 0.0
    for ev in prof.key_averages():
        by_family[family(ev.key)] += ev.self_cpu_time_total
        by_op[ev.key] += ev.self_cpu_time_total
        if ev.key in MATMULS:
            flops += ev.flops or 0
            matmul_us += ev.self_cpu_time_total
    total = sum(by_family.values())
    return {"wall_s": wall, "cpu_s": cpu, "steps": steps, "total_us": total,
            "families": sorted(by_family.items(), key=lambda kv: -kv[1]),
            "ops": sorted(by_op.items(), key=lambda kv: -kv[1])[:15],
            "matmul_gflops": flops / matmul_us / 1e3 if matmul_us else float("nan")}


def print_profile(bench, variant: str, steps: int) -> dict:
    import torch

    peak = bf16_peak_gflops(torch)
    res = profile_steps(bench, variant, steps)
    total = res["total_us"]
    print(f"profile: {steps} steps of itt's training step ({variant} batches), {res['wall_s'] / steps * 1e3:.0f} ms per step"
          f" wall, {res['cpu_s'] / steps * 1e3:.0f} ms CPU; operator self time by family (% of profiled op time):")
    for name, us in res["families"]:
        print(f"  {name:34s} {us / total:6.1%}  {us / steps / 1e3:7.1f} ms/step")
    print("top operators: " + "; ".join(f"{k} {v / total:.1%}" for k, v in res["ops"][:10]))
    share = res["matmul_gflops"] / peak
    print(f"matrix products: {res['matmul_gflops']:.0f} GFLOP/s achieved vs {peak:.0f} GFLOP/s bf16 peak "
          f"(2048^2 bf16 torch.mm, same process): {share:.0%} of peak")
    return {"profile_ms_per_step": res["wall_s"] / steps * 1e3, "matmul_gflops": res["matmul_gflops"],
            "bf16_peak_gflops": peak, "matmul_roofline_share": share,
            "matmul_time_share": dict(res["families"]).get("matrix products", 0.0) / total}
