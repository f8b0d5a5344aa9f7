"""Dropout whose random mask costs a third of torch's on CPU (``model.fast_dropout``).

Why: on CPU, ``torch.nn.functional.dropout`` draws its mask with ``bernoulli_`` from the Mersenne-Twister
generator, one draw per element. Profiling a MiniLM training step (batch 32, bf16 autocast, 2 cores)
put ``aten::bernoulli_`` at 17-20 % of the whole step, more than the optimizer and clipping together:
20 dropouts a step, 13 on hidden states and 6 on attention probabilities (the CPU's fused attention
kernels take no dropout, so SDPA falls back to its math path and samples there too). GPUs draw
dropout masks with a fused Philox kernel; there this module is not used.

What: the same dropout, keep probability ``1 - p`` per element, kept values scaled by ``1 / (1 - p)``,
but the mask comes from a counter-based hash (``lowbias32``, two multiply-xorshift rounds) of the
element index and a per-call random key. The key is one draw from torch's default generator, so
``seed_everything`` still makes runs reproducible and Lightning's checkpoint RNG state still resumes
them. Each 32-bit hash gives two 16-bit uniforms, so ``p`` is rounded to a multiple of 1/65536 (0.1
becomes 0.100006) and the scale uses the rounded value: the output stays unbiased.

Where: ``install(model)`` swaps every ``nn.Dropout`` for ``FastDropout`` (a subclass: ``.p`` and
``isinstance`` checks keep working; dropout holds no weights, so checkpoints do not change) and points
transformers' attention dispatch (its documented ``AttentionInterface``) at ``attention_forward``,
which computes training-time attention with dropout as SDPA's math path does (float32 scores,
softmax, dropout, weighted sum) and hands everything else to transformers' own SDPA function.
"""

from __future__ import annotations

import math

import torch
from torch import nn


ATTN_IMPLEMENTATION = "itt_fast_dropout_sdpa"
_RESOLUTION = 1 << 16  # 16-bit uniforms: two per 32-bit hash
# lowbias32 constants (C. Wellons, "Prospecting for hash functions"), as signed int32
_WEYL = -1640531535  # 0x9E3779B1: spreads consecutive indices before hashing
_M1 = 0x7FEB352D
_M2 = -2073254261  # 0x846CA68B
_MASKED = torch.finfo(torch.float32).min  # not -inf: a row with every key masked gives no NaN
_indices_cache = torch.empty(0, dtype=torch.int32)


def _indices(n: int) -> torch.Tensor:
    """0..n-1 as int32, one arange kept between calls (a step asks for the same few sizes over and over)."""
    global _indices_cache
    if _indices_cache.numel() < n:
        _indices_cache = torch.arange(max(n, 1 << 20), dtype=torch.int32)
    return _indices_cache[:n]


def rounded_p(p: float) -> float:
    """The drop probability the mask really has: ``p`` rounded to a multiple of 1/65536."""
    return round(p * _RESOLUTION) / _RESOLUTION


def drop_mask(shape: torch.Size, p: float, generator: torch.Generator | None = None) -> torch.Tensor:
    """A bool tensor of ``shape`` (on CPU): True (drop) with probability ``rounded_p(p)``, independently
    per element (as far as a good 32-bit hash is independent), a new mask every call."""
    n = math.prod(shape)
    halves = (n + 1) // 2
    key = int(torch.randint(-(2**31), 2**31 - 1, (1,), dtype=torch.int64, generator=generator))
    x = torch.mul(_indices(halves), _WEYL)
    x.add_(key)
    shifted = torch.empty_like(x)
    for shift, mask, mult in ((16, 0xFFFF, _M1), (15, 0x1FFFF, _M2), (16, 0xFFFF, None)):
        torch.bitwise_right_shift(x, shift, out=shifted)
        shifted.bitwise_and_(mask)  # a logical shift: >> on int32 is arithmetic
        x.bitwise_xor_(shifted)
        if mult is not None:
            x.mul_(mult)  # wraps modulo 2**32, as the hash wants
    uniforms = x.view(torch.int16)[:n]  # each in [-32768, 32767], uniform
    threshold = round(p * _RESOLUTION) - _RESOLUTION // 2
    return torch.lt(uniforms, threshold).view(shape)


class _MaskedScale(torch.autograd.Function):
    """y = x * scale, zero where ``drop``; the backward applies the same to the gradient (the mask is
    saved as bool, as torch's own dropout saves it). Scale-then-``masked_fill_`` was the fastest of
    ``where``, ``x * mask * scale`` and fill-then-scale on this CPU."""

    @staticmethod
    def forward(ctx, x, drop, scale):
        ctx.save_for_backward(drop)
        ctx.scale = scale
        return (x * scale).masked_fill_(drop, 0)

    @staticmethod
    def backward(ctx, grad):
        (drop,) = ctx.saved_tensors
        return (grad * ctx.scale).masked_fill_(drop, 0), None, None


def fast_dropout(x: torch.Tensor, p: float, training: bool = True) -> torch.Tensor:
    """``torch.nn.functional.dropout`` for CPU tensors with the counter-based mask; anything else
    (evaluation, p = 0, GPU tensors) goes to torch's own."""
    if not training or p <= 0.0 or x.device.type != "cpu":
        return nn.functional.dropout(x, p, training)
    if p >= 1.0:
        return x * 0
    q = rounded_p(p)
    return _MaskedScale.apply(x, drop_mask(x.shape, q), 1.0 / (1.0 - q))


class FastDropout(nn.Dropout):
    """``nn.Dropout`` with ``fast_dropout``'s mask (same ``p``; no weights)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return fast_dropout(x, self.p, self.training)


def attention_forward(module, query, key, value, attention_mask, dropout: float = 0.0, scaling: float | None = None,
                      is_causal: bool | None = None, **kwargs):
    """transformers' attention function signature. Training with dropout on CPU: SDPA's math path
    (scores and softmax in float32 for reduced-precision inputs, as torch's CPU math path does) with
    the fast mask; everything else: transformers' ``sdpa_attention_forward`` unchanged."""
    from transformers.integrations.sdpa_attention import sdpa_attention_forward

    plain = (dropout <= 0.0 or query.device.type != "cpu" or kwargs.get("position_bias") is not None
             or kwargs.get("cache") is not None or getattr(module, "num_key_value_groups", 1) > 1
             or query.shape[-1] != value.shape[-1])
    q_len, kv_len = query.shape[2], key.shape[2]
    causal = (is_causal if is_causal is not None else getattr(module, "is_causal", False)) and attention_mask is None and q_len > 1
    if plain:
        return sdpa_attention_forward(module, query, key, value, attention_mask, dropout=dropout, scaling=scaling,
                                      is_causal=is_causal, **kwargs)
    dtype = query.dtype
    scale = scaling if scaling is not None else query.shape[-1] ** -0.5
    with torch.autocast(query.device.type, enabled=False):
        q, k, v = query.float(), key.float(), value.float()
        scores = torch.matmul(q * scale, k.transpose(-1, -2))
        if attention_mask is not None:
            if attention_mask.dtype == torch.bool:
                scores = scores.masked_fill(~attention_mask, _MASKED)
            else:
                scores = scores + attention_mask.float()
        elif causal:
            future = torch.ones(q_len, kv_len, dtype=torch.bool, device=q.device).triu(1 + kv_len - q_len)
            scores = scores.masked_fill(future, _MASKED)
        probs = torch.softmax(scores, dim=-1)
        probs = fast_dropout(probs, dropout, True)
        out = torch.matmul(probs, v).to(dtype)
    return out.transpose(1, 2).contiguous(), None


def _register_attention() -> None:
    from transformers import AttentionInterface
    from transformers.masking_utils import ALL_MASK_ATTENTION_FUNCTIONS, sdpa_mask

    if ATTN_IMPLEMENTATION not in AttentionInterface._global_mapping:
        AttentionInterface.register(ATTN_IMPLEMENTATION, attention_forward)
        ALL_MASK_ATTENTION_FUNCTIONS.register(ATTN_IMPLEMENTATION, sdpa_mask)  # the masks SDPA takes


def install(model: nn.Module) -> int:
    """Swap ``model``'s dropouts for the fast ones (in place) and route its SDPA attention through
    ``attention_forward``. Returns how many dropout modules were swapped. Idempotent."""
    swapped = 0
    for module in model.modules():
        for name, child in list(module.named_children()):
            if type(child) is nn.Dropout:
                replacement = FastDropout(child.p, child.inplace)
                replacement.train(child.training)
                setattr(module, name, replacement)
                swapped += 1
    config = getattr(model, "config", None)
    if config is not None and getattr(config, "_attn_implementation", None) == "sdpa":
        _register_attention()
        model.set_attn_implementation(ATTN_IMPLEMENTATION)
    return swapped


def apply(model: nn.Module, enabled: bool, device: torch.device) -> bool:
    """The ``model.fast_dropout`` setting for a model trained on ``device``: installed on CPU when
    enabled; on GPUs torch's fused dropout is already fast. Returns whether it is installed."""
    if not enabled or torch.device(device).type != "cpu":
        return False
    install(model)
    return True
