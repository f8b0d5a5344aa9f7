"""``model.fast_dropout``: the counter-based dropout mask is dropout (rate, scaling, independence,
gradient, reproducibility), the attention path equals SDPA's when nothing is dropped, and itt installs
it on CPU only when asked."""

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


def test_masks_are_independent_across_elements_halves_and_calls():
    p = 0.3
    torch.manual_seed(1)
    a = fd.drop_mask((N,), p).float()
    b = fd.drop_mask((N,), p).float()
    both = p * p
    assert _within((a[:-1] * a[1:]).mean().item(), both, N)          # neighbours (the two halves of one hash)
    assert _within((a[0::2] * a[1::2]).mean().item(), both, N // 2)  # exactly the pairs sharing a hash
    assert _within((a[:-64] * a[64:]).mean().item(), both, N)         # a row apart
    assert _within((a * b).mean().item(), both, N)                    # two calls
    assert not torch.equal(a, b)


def test_masks_follow_the_torch_seed():
    torch.manual_seed(7)
    first = fd.drop_mask((4, 1000), 0.1)
    torch.manual_seed(7)
    assert torch.equal(fd.drop_mask((4, 1000), 0.1), first)
    torch.manual_seed(8)
    assert not torch.equal(fd.drop_mask((4, 1000), 0.1), first)


@pytest.mark.parametrize("shape", [(1,), (3, 5), (2, 3, 7)])  # odd sizes: the last hash is half used
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


def test_model_group_declares_the_switch():
    from hydra import compose, initialize_config_dir

    from itt.train import CONF_DIR

    with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
        cfg = compose("train", overrides=["model=bert", "task=sentiment", "+stage=intermediate"])
        assert cfg.model.fast_dropout is True
        off = compose("train", overrides=["model=bert", "task=sentiment", "+stage=intermediate", "model.fast_dropout=false"])
        assert off.model.fast_dropout is False
