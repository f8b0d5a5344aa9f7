"""``model.fast_dropout``: the counter-based dropout mask is dropout (rate, scaling, gradient,
reproducibility, the documented hash bit for bit), masks are independent within and across calls (10^4
calls: no shifted copies, no position fixed, no correlation), the attention path equals SDPA's when
nothing is dropped, and itt installs it on CPU only when asked and says which dropout ran."""

from __future__ import annotations

import math

import pytest
import torch
from omegaconf import OmegaConf
from torch import nn

from itt.models import fast_dropout as fd
from itt.module import EvalSet, ITTModule
from itt.tasks import get_task

N = 1 << 20


def _within(observed: float, expected: float, n: int, sigmas: float = 5.0) -> bool:
    return abs(observed - expected) <= sigmas * math.sqrt(expected * (1 - expected) / n)


@pytest.mark.parametrize("p", [0.1, 0.25, 0.5, 0.9])
def test_drop_rate_is_p(p):
    torch.manual_seed(0)
    drop = fd.drop_mask((N,), p)
    assert drop.dtype == torch.bool and drop.shape == (N,)
    assert _within(drop.float().mean().item(), fd.rounded_p(p), N)


def test_p_is_rounded_to_sixteen_bits_and_the_scale_uses_the_rounded_value():
    assert fd.rounded_p(0.1) == 6554 / 65536
    assert abs(fd.rounded_p(0.1) - 0.1) < 1e-5
    torch.manual_seed(0)
    x = torch.ones(N)
    y = fd.fast_dropout(x, 0.1)
    kept = y[y != 0]
    assert torch.allclose(kept, torch.full_like(kept, 1 / (1 - fd.rounded_p(0.1))))
    assert _within(y.mean().item() * (1 - fd.rounded_p(0.1)), 1 - fd.rounded_p(0.1), N)  # unbiased: E[y] = x


def test_masks_are_independent_across_elements_lanes_and_calls():
    p = 0.3
    torch.manual_seed(1)
    a = fd.drop_mask((N,), p).float()
    b = fd.drop_mask((N,), p).float()
    both = p * p
    assert _within((a[:-1] * a[1:]).mean().item(), both, N)          # neighbours
    for lane in range(3):                                             # the four 16-bit lanes of one 64-bit hash
        assert _within((a[lane::4] * a[lane + 1::4]).mean().item(), both, N // 4)
    assert _within((a[:-64] * a[64:]).mean().item(), both, N)         # a row apart
    assert _within((a * b).mean().item(), both, N)                    # two calls
    assert not torch.equal(a, b)


# Many calls. A run draws ~10^5-10^6 masks; the old mask hash (a 32-bit key added to the counter) made
# any two calls whose keys were less than a mask's length apart shifted copies of each other. 10^4
# masks of a realistic size (a hidden-state dropout, batch 8) at p = 0.5 (one full bit per element).
MANY_CALLS, MANY_SHAPE = 10_000, (8, 24, 384)
ANCHOR_RUN, WINDOW = 12, 64  # anchor: a run of >= 12 dropped elements starts; fingerprint: the 64 elements after it
CORRELATION_CALLS = 1_000
LAGS = (1, 2, 3, 4, 5, 8, 384)  # within one mask: lanes of one hash (1-3), the next hashes, the next row


def _fingerprints(m: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Content-defined anchors of each row of ``m`` (bool masks, True = dropped): positions where a run
    of ``ANCHOR_RUN`` dropped elements starts, and the next ``WINDOW`` elements packed into one int64.
    A mask that is a shifted copy of another over a stretch has the same anchors and fingerprints
    there, at any shift."""
    run2 = m[:, :-1] & m[:, 1:]  # run_k[i]: m[i..i+k-1] all True
    run4 = run2[:, :-2] & run2[:, 2:]
    run8 = run4[:, :-4] & run4[:, 4:]
    run12 = run8[:, :-4] & run4[:, 8:]
    last = m.shape[1] - ANCHOR_RUN - WINDOW  # anchors whose window fits
    starts = run12[:, :last].clone()
    starts[:, 1:] &= ~m[:, :last - 1]  # a run's start, not every position inside a longer run
    row, pos = starts.nonzero(as_tuple=True)
    window = m[row.unsqueeze(1), (pos + ANCHOR_RUN).unsqueeze(1) + torch.arange(WINDOW)].to(torch.int64)
    return row, (window << torch.arange(WINDOW)).sum(1)  # the 64 bits of the window (wrapping sum = bitwise OR)


@pytest.fixture(scope="module")
def many_masks():
    """Stream ``MANY_CALLS`` masks once: anchored fingerprints shared between calls, per-position drop
    counts, and pairs dropped together (elements ``lag`` apart; consecutive calls) in the first
    ``CORRELATION_CALLS``."""
    torch.manual_seed(2024)
    n = math.prod(MANY_SHAPE)
    owners: dict[int, set[int]] = {}
    dropped = torch.zeros(n, dtype=torch.int32)
    lag_both = dict.fromkeys(LAGS, 0)
    calls_both = {0: 0, 1: 0}  # call t and t+1 at the same element; at the next element
    call_pairs = 0
    previous = None
    chunk = 250
    for first in range(0, MANY_CALLS, chunk):
        m = torch.stack([fd.drop_mask(MANY_SHAPE, 0.5).reshape(-1) for _ in range(chunk)])
        row, prints = _fingerprints(m)
        for call, fingerprint in zip((row + first).tolist(), prints.tolist()):
            owners.setdefault(fingerprint, set()).add(call)
        dropped += m.view(torch.uint8).sum(0, dtype=torch.int32)
        if first < CORRELATION_CALLS:
            for lag in LAGS:
                lag_both[lag] += int(torch.count_nonzero(m[:, :-lag] & m[:, lag:]))
            joined = m if previous is None else torch.cat([previous[-1:], m])  # consecutive calls across chunks too
            calls_both[0] += int(torch.count_nonzero(joined[:-1] & joined[1:]))
            calls_both[1] += int(torch.count_nonzero(joined[:-1, :-1] & joined[1:, 1:]))
            call_pairs += len(joined) - 1
        previous = m
    shared = sum(len(calls) - 1 for calls in owners.values() if len(calls) > 1)
    return {"n": n, "anchors": sum(len(c) for c in owners.values()), "shared": shared, "dropped": dropped,
            "lags": lag_both, "calls": calls_both, "call_pairs": call_pairs}


def test_no_two_of_many_masks_are_shifted_copies(many_masks):
    """Each 64-element window after an anchor occurs once in 10^4 masks (by chance, two equal windows
    among ~9 x 10^4 anchors: ~2 x 10^-10). The old 32-bit hash shared hundreds of them."""
    n_per_mask = many_masks["anchors"] / MANY_CALLS
    assert 8 < n_per_mask < 10, n_per_mask  # a run of 12 starts at 1/8192 of 73,728 positions (p = 1/2): ~9 a mask
    assert many_masks["shared"] == 0, f"{many_masks['shared']} of {many_masks['anchors']} anchored windows recur in other calls"


def test_every_position_is_dropped_at_rate_p_over_many_calls(many_masks):
    """No element is fixed across calls: each position's drop count over 10^4 calls is Binomial(10^4, 1/2)
    (max |z| over 73,728 positions ~4.5 by chance)."""
    z = (many_masks["dropped"].double() - MANY_CALLS / 2) / math.sqrt(MANY_CALLS / 4)
    assert z.abs().max() < 6, z.abs().max()


def test_neighbouring_elements_and_calls_are_uncorrelated(many_masks):
    """Correlation of drop indicators between elements `lag` apart in one mask, and between consecutive
    calls (same element, next element): |r| < 5 standard errors (r = 4 * E[ab] - 1 at p = 1/2)."""
    n = many_masks["n"]
    for lag, both in many_masks["lags"].items():
        pairs = CORRELATION_CALLS * (n - lag)
        assert abs(4 * both / pairs - 1) < 5 / math.sqrt(pairs), (lag, 4 * both / pairs - 1)
    for shift, both in many_masks["calls"].items():
        pairs = many_masks["call_pairs"] * (n - shift)
        assert abs(4 * both / pairs - 1) < 5 / math.sqrt(pairs), (shift, 4 * both / pairs - 1)


def test_masks_follow_the_torch_seed():
    torch.manual_seed(7)
    first = fd.drop_mask((4, 1000), 0.1)
    torch.manual_seed(7)
    assert torch.equal(fd.drop_mask((4, 1000), 0.1), first)
    torch.manual_seed(8)
    assert not torch.equal(fd.drop_mask((4, 1000), 0.1), first)


def test_masks_resume_from_a_saved_rng_state():
    torch.manual_seed(11)
    fd.drop_mask((64, 64), 0.1)
    state = torch.get_rng_state()  # what Lightning's checkpoint keeps
    expected = [fd.drop_mask((64, 64), 0.1) for _ in range(3)]
    torch.set_rng_state(state)
    assert all(torch.equal(fd.drop_mask((64, 64), 0.1), e) for e in expected)


def _fmix64_reference(v: int) -> int:
    """MurmurHash3's fmix64 on Python ints (unbounded, masked to 64 bits: no signed-shift pitfalls)."""
    m = (1 << 64) - 1
    v &= m
    v ^= v >> 33
    v = (v * 0xFF51AFD7ED558CCD) & m
    v ^= v >> 33
    v = (v * 0xC4CEB9FE1A85EC53) & m
    return v ^ (v >> 33)


def test_hash64_is_the_documented_construction_bit_for_bit():
    """fmix64(fmix64(c * golden + key) ^ fmix64(key ^ golden)) over the full 64-bit counter and key,
    against Python integers, also for counters and keys with the top bit set (torch's int64 shifts are
    arithmetic)."""
    golden, m = 0x9E3779B97F4A7C15, (1 << 64) - 1
    for key in (0, 1, 0x0123456789ABCDEF, 0xFEDCBA9876543210, m):
        got = [v & m for v in fd.hash64(key, 1000).tolist()]
        second = _fmix64_reference(key ^ golden)
        assert got == [_fmix64_reference(_fmix64_reference(c * golden + key) ^ second) for c in range(1000)]


def test_keys_are_64_bit_draws_from_the_torch_generator():
    generator = torch.Generator().manual_seed(3)
    keys = [fd.draw_key(generator) for _ in range(2000)]
    assert len(set(keys)) == 2000 and all(0 <= k < 1 << 64 for k in keys)
    high = [k >> 32 for k in keys]
    assert len(set(high)) == 2000 and max(high) > 0.99 * 2**32 and min(high) < 0.01 * 2**32  # both halves random
    assert fd.draw_key(torch.Generator().manual_seed(3)) == keys[0]


@pytest.mark.parametrize("shape", [(1,), (3, 5), (2, 3, 7)])  # sizes not a multiple of 4: the last hash is partly used
def test_odd_shapes(shape):
    assert fd.drop_mask(shape, 0.5).shape == shape


def test_gradient_is_the_same_mask_and_scale():
    torch.manual_seed(0)
    x = (torch.rand(64, 33) + 0.5).requires_grad_()
    y = fd.fast_dropout(x, 0.2)
    g = torch.randn_like(y)
    y.backward(g)
    scale = 1 / (1 - fd.rounded_p(0.2))
    kept = y.detach() != 0
    assert torch.allclose(y.detach(), torch.where(kept, x.detach() * scale, 0))
    assert torch.allclose(x.grad, torch.where(kept, g * scale, 0))


def _bits(t: torch.Tensor) -> torch.Tensor:
    return t.contiguous().view(torch.uint8)


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16, torch.float32, torch.float64])
def test_the_bit_mask_equals_masked_fill_bit_for_bit(dtype):
    """The mask is applied as an AND on the float's bits: same bits as scaling then ``masked_fill``,
    in every float width, also for a non-contiguous input and gradient and for -0.0, inf and NaN."""
    torch.manual_seed(3)
    x = torch.randn(40, 24, dtype=dtype)
    x[0, :4] = torch.tensor([-0.0, float("inf"), float("-inf"), float("nan")], dtype=dtype)
    x = x.t().requires_grad_()  # non-contiguous
    torch.manual_seed(5)
    y = fd.fast_dropout(x, 0.25)
    torch.manual_seed(5)
    drop = fd.drop_mask(x.shape, fd.rounded_p(0.25))
    scale = 1 / (1 - fd.rounded_p(0.25))
    expected = (x.detach() * scale).masked_fill_(drop, 0)
    assert 0.2 < drop.float().mean() < 0.3
    assert torch.equal(_bits(y.detach()), _bits(expected))
    g = torch.randn(24, 40, dtype=dtype).t()[:, :].t()  # a strided gradient
    y.backward(g)
    assert torch.equal(_bits(x.grad), _bits((g * scale).masked_fill_(drop, 0)))


def test_bf16_inputs_keep_their_dtype():
    x = torch.randn(8, 16, dtype=torch.bfloat16, requires_grad=True)
    y = fd.fast_dropout(x, 0.1)
    y.sum().backward()
    assert y.dtype == torch.bfloat16 and x.grad.dtype == torch.bfloat16


def test_evaluation_and_p_zero_are_the_identity_and_p_one_drops_all():
    x = torch.randn(10, 10)
    assert torch.equal(fd.fast_dropout(x, 0.5, training=False), x)
    assert torch.equal(fd.fast_dropout(x, 0.0), x)
    assert torch.count_nonzero(fd.fast_dropout(x, 1.0)) == 0


def _tiny_bert():
    from transformers import BertConfig, BertForSequenceClassification

    torch.manual_seed(0)
    return BertForSequenceClassification(BertConfig(vocab_size=60, hidden_size=32, num_hidden_layers=2,
                                                    num_attention_heads=4, intermediate_size=64, num_labels=2))


def _tiny_xlnet():
    from transformers import XLNetConfig, XLNetForSequenceClassification

    torch.manual_seed(0)
    return XLNetForSequenceClassification(XLNetConfig(vocab_size=60, d_model=32, n_layer=2, n_head=4, d_inner=64, num_labels=2))


@pytest.mark.parametrize("build, attention", [(_tiny_bert, fd.ATTN_IMPLEMENTATION), (_tiny_xlnet, None)])
def test_install_swaps_every_dropout_and_leaves_evaluation_unchanged(build, attention):
    reference, model = build(), build()
    n_dropouts = sum(type(m) is nn.Dropout for m in model.modules())
    assert fd.install(model) == n_dropouts > 0
    assert not any(type(m) is nn.Dropout for m in model.modules())
    assert fd.install(model) == 0  # idempotent
    if attention:
        assert model.config._attn_implementation == attention
    ids = torch.randint(5, 60, (3, 11))
    mask = torch.ones_like(ids)
    mask[0, 7:] = 0
    reference.eval(), model.eval()
    with torch.no_grad():
        assert torch.allclose(model(input_ids=ids, attention_mask=mask).logits,
                              reference(input_ids=ids, attention_mask=mask).logits, atol=1e-6)
    model.train()
    first = model(input_ids=ids, attention_mask=mask, labels=torch.tensor([0, 1, 0]))
    second = model(input_ids=ids, attention_mask=mask).logits
    assert not torch.allclose(first.logits, second)  # dropout is on in training
    first.loss.backward()
    assert torch.isfinite(first.loss)
    assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)


@pytest.mark.parametrize("mask_kind", ["bool", "float", "none"])
def test_training_attention_equals_sdpa_when_nothing_is_dropped(monkeypatch, mask_kind):
    from transformers.integrations.sdpa_attention import sdpa_attention_forward

    torch.manual_seed(0)
    q, k, v = (torch.randn(2, 4, 9, 8, dtype=torch.bfloat16) for _ in range(3))
    keep = torch.ones(2, 1, 9, 9, dtype=torch.bool)
    keep[0, :, :, 6:] = False  # padded keys of the first sequence
    mask = {"bool": keep, "float": torch.zeros(keep.shape).masked_fill(~keep, -1e9), "none": None}[mask_kind]
    module = nn.Module()
    module.is_causal = False
    real = fd.keep_bits
    monkeypatch.setattr(fd, "keep_bits", lambda shape, p, dtype=torch.float32, generator=None: real(shape, 0.0, dtype))
    ours, _ = fd.attention_forward(module, q, k, v, mask, dropout=0.1, scaling=0.3)
    theirs, _ = sdpa_attention_forward(module, q, k, v, mask, dropout=0.0, scaling=0.3)
    assert ours.dtype == theirs.dtype == torch.bfloat16 and ours.shape == theirs.shape == (2, 9, 4, 8)
    # ours: nothing dropped, but every kept probability scaled by 1/(1-p)
    assert torch.allclose(ours.float(), theirs.float() / (1 - fd.rounded_p(0.1)), atol=2e-2, rtol=2e-2)


def test_attention_drops_probabilities_at_rate_p(monkeypatch):
    seen = {}
    real = fd.keep_bits

    def spy(shape, p, dtype=torch.float32, generator=None):
        seen["shape"], seen["p"] = tuple(shape), p
        return real(shape, p, dtype, generator)

    monkeypatch.setattr(fd, "keep_bits", spy)
    module = nn.Module()
    q = k = v = torch.randn(2, 4, 5, 8)
    fd.attention_forward(module, q, k, v, None, dropout=0.1)
    assert seen == {"shape": (2, 4, 5, 5), "p": fd.rounded_p(0.1)}


def _module(fast: bool):
    optim = OmegaConf.create({"lr": 1e-3, "weight_decay": 0.01, "warmup_ratio": 0.1, "freeze_encoder": False})
    return ITTModule(_tiny_bert(), [EvalSet(None, get_task("sequence_classification", "acc"), ["neg", "pos"])], optim, fast)


class _Strategy:
    def __init__(self, device):
        self.root_device = torch.device(device)


class _Trainer:
    world_size = 1

    def __init__(self, device):
        self.strategy = _Strategy(device)


@pytest.mark.parametrize("fast, device, installed", [(True, "cpu", True), (False, "cpu", False), (True, "cuda", False)])
def test_itt_module_installs_it_on_cpu_when_enabled(monkeypatch, fast, device, installed):
    module = _module(fast)
    monkeypatch.setattr(ITTModule, "trainer", property(lambda self: _Trainer(device)))
    module.setup("fit")
    assert any(isinstance(m, fd.FastDropout) for m in module.model.modules()) is installed


@pytest.mark.parametrize("enabled, device, kind", [(True, "cpu", "hash64"), (False, "cpu", "torch"),
                                                   (True, "cuda", "torch"), (True, torch.device("cuda", 1), "torch")])
def test_dropout_kind_names_what_apply_installs(enabled, device, kind):
    from itt import hardware

    assert hardware.dropout_kind(enabled, torch.device(device).type) == kind
    assert fd.apply(_tiny_bert(), enabled, device) is (kind == hardware.FAST_DROPOUT)


def test_a_fast_dropout_run_id_names_the_hash(monkeypatch):
    """Rows trained with an earlier mask hash (same config) must not be served as this hash's runs."""
    from hydra import compose, initialize_config_dir

    from itt import identity
    from itt.train import CONF_DIR

    from itt import hardware

    with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
        fast, plain = (compose("train", overrides=["model=bert", "task=sentiment", "+stage=intermediate",
                                                   f"model.fast_dropout={on}"]) for on in ("true", "false"))
    ids = identity.run_id(fast), identity.run_id(plain)
    monkeypatch.setattr(hardware, "FAST_DROPOUT", "hash32")
    assert identity.run_id(fast) != ids[0] and identity.run_id(plain) == ids[1]


def test_model_group_declares_the_switch():
    from hydra import compose, initialize_config_dir

    from itt.train import CONF_DIR

    with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
        cfg = compose("train", overrides=["model=bert", "task=sentiment", "+stage=intermediate"])
        assert cfg.model.fast_dropout is False  # opt-in: standard fine-tuning uses torch's dropout
        on = compose("train", overrides=["model=bert", "task=sentiment", "+stage=intermediate", "model.fast_dropout=true"])
        assert on.model.fast_dropout is True
