"""Dropout at a quarter to a half of torch's cost on CPU (``model.fast_dropout``).

Why: on CPU, ``torch.nn.functional.dropout`` draws its mask with ``bernoulli_`` from the Mersenne-Twister
generator, one draw per element. Profiling a MiniLM training step (batch 32, bf16 autocast, 2 cores)
put ``aten::bernoulli_`` at 17-20 % of the whole step, more than the optimizer and clipping together:
20 dropouts a step, 13 on hidden states and 6 on attention probabilities (the CPU's fused attention
kernels take no dropout, so SDPA falls back to its math path and samples there too). GPUs draw
dropout masks with a fused Philox kernel; there this module is not used.

What: the same dropout, keep probability ``1 - p`` per element, kept values scaled by ``1 / (1 - p)``,
but the mask comes from a counter-based hash (``hash64``: MurmurHash3's fmix64 twice, keyed before and
between the two) of a 64-bit element-block counter and a 64-bit key per call. The key is two 32-bit
draws from torch's default generator, so ``seed_everything`` still makes runs reproducible and
Lightning's checkpoint RNG state still resumes them. Masks of different calls are independent: no
window of one call is a shifted copy of another's (``hash64`` says why; tested over 10^4 calls). Each
64-bit hash gives four 16-bit uniforms, so ``p`` is rounded to a multiple of 1/65536 (0.1 becomes
0.100006) and the scale uses the rounded value: the output stays unbiased. The mask is an integer
tensor as wide as the float, ANDed with the float's bits (``masked_fill_`` is slow on this CPU).
Forward + backward, CPU time on one thread (``scripts/dropout_speed.py --clock cpu``): 32x24x384 bf16,
torch 1.8 ms, this 0.7 ms; 32x12x24x24 float32 attention probabilities, torch 1.5 ms, this 0.8 ms. The
mask alone costs ~1.8x the earlier 32-bit hash's (0.50 vs 0.28 ms for 295k elements): ~4 ms of a ~210
ms MiniLM step (20 dropouts); a whole step takes 0.89-0.96x the time of one with torch's dropout.

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

from itt.hardware import FAST_DROPOUT, dropout_kind


ATTN_IMPLEMENTATION = "itt_fast_dropout_sdpa"
_RESOLUTION = 1 << 16  # 16-bit uniforms: four per 64-bit hash
_LANES = 4
_U64 = (1 << 64) - 1


def _signed64(value: int) -> int:
    """A 64-bit constant as the int64 torch multiplies by (same bits; int64 products wrap mod 2**64)."""
    value &= _U64
    return value - (1 << 64) if value >> 63 else value


_GOLDEN = _signed64(0x9E3779B97F4A7C15)  # odd: counter * _GOLDEN is a bijection that spreads consecutive counters
_FMIX_MULTIPLIERS = (_signed64(0xFF51AFD7ED558CCD), _signed64(0xC4CEB9FE1A85EC53))  # MurmurHash3's fmix64
_LOW31 = (1 << 31) - 1  # x >> 33 on int64 is arithmetic; ANDed with this it is the logical shift fmix64 wants
_MASKED = torch.finfo(torch.float32).min  # not -inf: a row with every key masked gives no NaN
_spread_counters_cache = torch.empty(0, dtype=torch.int64)


def _spread_counters(n: int) -> torch.Tensor:
    """counter * _GOLDEN for counters 0..n-1 (int64, wrapping), one tensor kept between calls (a step asks
    for the same few sizes over and over)."""
    global _spread_counters_cache
    if _spread_counters_cache.numel() < n:
        _spread_counters_cache = torch.arange(max(n, 1 << 18), dtype=torch.int64).mul_(_GOLDEN)
    return _spread_counters_cache[:n]


def _fmix64_(x: torch.Tensor, scratch: torch.Tensor) -> torch.Tensor:
    """MurmurHash3's 64-bit finaliser, in place on an int64 tensor: a bijection with full avalanche
    (every input bit flips each output bit with probability ~1/2)."""
    for multiplier in (*_FMIX_MULTIPLIERS, None):
        torch.bitwise_right_shift(x, 33, out=scratch)
        scratch.bitwise_and_(_LOW31)
        x.bitwise_xor_(scratch)
        if multiplier is not None:
            x.mul_(multiplier)
    return x


def _fmix64(value: int) -> int:
    """``_fmix64_`` on one Python int (the per-call second key)."""
    value &= _U64
    for multiplier in (0xFF51AFD7ED558CCD, 0xC4CEB9FE1A85EC53, None):
        value ^= value >> 33
        if multiplier is not None:
            value = (value * multiplier) & _U64
    return value


def draw_key(generator: torch.Generator | None = None) -> int:
    """A mask's 64-bit key: two 32-bit draws from torch's generator (the default one unless given), so
    ``seed_everything`` reproduces every mask and Lightning's saved RNG state resumes the sequence."""
    high, low = torch.randint(0, 1 << 32, (2,), dtype=torch.int64, generator=generator).tolist()
    return (high << 32) | low


def hash64(key: int, n_counters: int) -> torch.Tensor:
    """The mask hash: for counters c = 0..n_counters-1, ``fmix64(fmix64(c * GOLDEN + key) ^ fmix64(key ^ GOLDEN))``
    as int64. Why two keyed stages: a window of one call equals a window of another call, shifted by
    s counters, only if fmix64(u) ^ fmix64(u + d) = k2 ^ k2' for every u of the window (d = s * GOLDEN +
    key' - key, k2 the second key, a bijection of the key). With d = 0 that needs k2 = k2', the same
    64-bit key (chance 2**-64 per pair of calls); with d != 0 it needs fmix64 to map a fixed input
    difference to one fixed output difference over the whole window, which its avalanche rules out.
    The old 32-bit hash added the key to the counter and nothing else, so any two keys less than a
    mask's length apart gave shifted copies (chance ~n/2**31 per pair)."""
    x = torch.add(_spread_counters(n_counters), _signed64(key))
    scratch = torch.empty_like(x)
    _fmix64_(x, scratch)
    x.bitwise_xor_(_signed64(_fmix64(key ^ 0x9E3779B97F4A7C15)))
    return _fmix64_(x, scratch)


def rounded_p(p: float) -> float:
    """The drop probability the mask really has: ``p`` rounded to a multiple of 1/65536."""
    return round(p * _RESOLUTION) / _RESOLUTION


# Integer types as wide as a float type: the keep mask is applied to the float's bits (see ``_MaskedScale``).
_SAME_WIDTH_INT = {1: torch.int8, 2: torch.int16, 4: torch.int32, 8: torch.int64}


def keep_bits(shape: torch.Size, p: float, dtype: torch.dtype = torch.float32,
              generator: torch.Generator | None = None) -> torch.Tensor:
    """The dropout mask for a ``dtype`` tensor of ``shape`` (on CPU), as an integer tensor of ``dtype``'s
    width: all bits set (-1) where the element is kept, 0 where it is dropped, each element dropped with
    probability ``rounded_p(p)``, a new mask every call (``hash64`` with a fresh ``draw_key``; element i
    is the 16-bit lane i % 4 of counter i // 4). ANDed with a float's bits it keeps the float or makes
    it +0.0."""
    n = math.prod(shape)
    uniforms = hash64(draw_key(generator), -(-n // _LANES)).view(torch.int16)[:n]  # each in [-32768, 32767]
    threshold = round(p * _RESOLUTION) - _RESOLUTION // 2
    # Compared straight into the integer type: 4x faster here than a bool result converted afterwards.
    bits = torch.lt(uniforms, threshold, out=torch.empty(n, dtype=_SAME_WIDTH_INT[dtype.itemsize]))
    return bits.sub_(1).view(shape)  # 1 (drop) -> 0, 0 (keep) -> -1


def drop_mask(shape: torch.Size, p: float, generator: torch.Generator | None = None) -> torch.Tensor:
    """``keep_bits``' mask as a bool tensor, True where dropped (for inspection and tests)."""
    return keep_bits(shape, p, torch.int8, generator).eq(0)


class _MaskedScale(torch.autograd.Function):
    """y = x * scale, +0.0 where dropped; the backward applies the same to the gradient. The mask is an
    AND on the float's bits with ``keep_bits``: on this CPU ``masked_fill_`` took ~500 us on a
    32x24x384 bf16 tensor, the AND 20 us, with bit-identical results."""

    @staticmethod
    def forward(ctx, x, bits, scale):
        ctx.save_for_backward(bits)
        ctx.scale = scale
        return _scale_and_mask(x, bits, scale)

    @staticmethod
    def backward(ctx, grad):
        (bits,) = ctx.saved_tensors
        return _scale_and_mask(grad, bits, ctx.scale), None, None


def _scale_and_mask(x: torch.Tensor, bits: torch.Tensor, scale: float) -> torch.Tensor:
    y = x * scale
    y.view(bits.dtype).bitwise_and_(bits)  # a same-width dtype view works for any strides
    return y


def fast_dropout(x: torch.Tensor, p: float, training: bool = True) -> torch.Tensor:
    """``torch.nn.functional.dropout`` for CPU tensors with the counter-based mask; anything else
    (evaluation, p = 0, GPU tensors) goes to torch's own."""
    if not training or p <= 0.0 or x.device.type != "cpu":
        return nn.functional.dropout(x, p, training)
    if p >= 1.0:
        return x * 0
    q = rounded_p(p)
    return _MaskedScale.apply(x, keep_bits(x.shape, q, x.dtype), 1.0 / (1.0 - q))


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
                # Added as a bias (torch's math path does the same): masked_fill on the scores and
                # its backward cost ~10x more here than a broadcast add, whose backward is free.
                attention_mask = torch.zeros(attention_mask.shape).masked_fill_(~attention_mask, _MASKED)
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


def apply(model: nn.Module, enabled: bool, device) -> bool:
    """The ``model.fast_dropout`` setting for a model trained on ``device``: installed where
    ``itt.hardware.dropout_kind`` (what the run id and the ledger row record) says so. Returns whether
    it is installed."""
    if dropout_kind(enabled, torch.device(device).type) != FAST_DROPOUT:
        return False
    install(model)
    return True
