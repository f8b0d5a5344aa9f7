"""Precision chosen for the hardware (bf16 where it is native, fp16 on older GPUs, else fp32), overridable;
and the fused AdamW that itt trains with (clipping folded into its step gives the same weights)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from itt import hardware as itt_hardware
from itt import identity
from itt import trainer as itt_trainer
from itt.module import EvalSet, ITTModule, build_optimizer
from itt.tasks import get_task
from itt.train import CONF_DIR


def _hardware(monkeypatch, *, cuda: bool, cuda_bf16: bool = False, cpu_bf16: bool = False):
    """``cuda_bf16``: native bf16 (compute capability 8.0+, e.g. A100) or not (7.0, V100). As real torch,
    ``is_bf16_supported()`` says yes on both: below 8.0 it counts emulation unless told not to."""
    capability = (8, 0) if cuda_bf16 else (7, 0)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1 if cuda else 0)
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: capability)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda including_emulation=True: cuda and (
        including_emulation or capability[0] >= 8))
    monkeypatch.setattr(itt_hardware, "cpu_has_bf16", lambda: cpu_bf16)


def _auto_precision() -> str:
    return itt_hardware.precision("auto", itt_hardware.device_type("auto"))


@pytest.mark.parametrize("hardware, expected", [
    (dict(cuda=True, cuda_bf16=True), "bf16-mixed"),      # Ampere and newer
    (dict(cuda=True, cuda_bf16=False), "16-mixed"),       # V100, T4: fp16 with a grad scaler
    (dict(cuda=False, cpu_bf16=True), "bf16-mixed"),      # CPUs with avx512_bf16 / AMX
    (dict(cuda=False, cpu_bf16=False), "32-true"),        # anything else
])
def test_auto_precision_follows_the_hardware(monkeypatch, hardware, expected):
    _hardware(monkeypatch, **hardware)
    assert _auto_precision() == expected


@pytest.mark.parametrize("flags, expected", [
    ("fpu sse2 avx2 avx512f avx512_bf16 amx_tile", True),
    ("fpu sse2 avx2 amx_bf16 amx_tile", True),
    ("fpu sse2 avx2 avx512f avx512bw", False),
])
def test_cpu_bf16_is_read_from_cpuinfo(monkeypatch, flags, expected):
    real_read_text = Path.read_text

    def fake_read_text(self, *args, **kwargs):
        if str(self) == "/proc/cpuinfo":
            return f"processor\t: 0\nflags\t\t: {flags}\n"
        return real_read_text(self, *args, **kwargs)

    monkeypatch.setattr(Path, "read_text", fake_read_text)
    assert itt_hardware.cpu_has_bf16() is expected


def test_cpu_without_cpuinfo_falls_back_to_fp32(monkeypatch):
    def unreadable(self, *args, **kwargs):
        raise OSError("no /proc here")

    monkeypatch.setattr(Path, "read_text", unreadable)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert itt_hardware.cpu_has_bf16() is False
    assert _auto_precision() == "32-true"


def _cfg(tmp_path, *overrides):
    with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
        return compose("train", overrides=["source=embedded", "logger=csv", "+stage=intermediate",
                                            f"paths.root={tmp_path}", *overrides])


@pytest.mark.parametrize("setting, hardware, expected", [
    ("auto", dict(cuda=False, cpu_bf16=True), "bf16-mixed"),
    ("auto", dict(cuda=False, cpu_bf16=False), "32-true"),
    ("32-true", dict(cuda=False, cpu_bf16=True), "32-true"),      # an explicit choice wins over auto
    ("bf16-mixed", dict(cuda=False, cpu_bf16=False), "bf16-mixed"),
])
def test_build_trainer_uses_auto_or_the_override(tmp_path, monkeypatch, setting, hardware, expected):
    _hardware(monkeypatch, **hardware)
    cfg = _cfg(tmp_path, f"trainer.precision={setting}", "trainer.accelerator=cpu")
    spec = identity.resolve(cfg)
    precision = identity.numerics(spec)["precision"]  # what the run id hashes and the row records
    trainer, _ = itt_trainer.build_trainer(spec.settings, tmp_path / "run", [], "val/acc", precision)
    assert precision == expected
    assert trainer.precision == expected


# --- the optimizer ------------------------------------------------------------------------------

def _tiny_model():
    from transformers import BertConfig, BertForSequenceClassification

    torch.manual_seed(0)
    return BertForSequenceClassification(BertConfig(vocab_size=50, hidden_size=16, num_hidden_layers=1,
                                                    num_attention_heads=2, intermediate_size=32, num_labels=2))


def test_optimizer_is_fused_adamw_without_decay_on_biases_and_norms():
    optim = OmegaConf.create({"lr": 1e-3, "weight_decay": 0.01, "warmup_ratio": 0.1})
    model = _tiny_model()
    optimizer, scheduler = build_optimizer(model, optim, 100)
    assert isinstance(optimizer, torch.optim.AdamW) and optimizer.defaults["fused"] is True
    decay, no_decay = optimizer.param_groups
    assert decay["weight_decay"] == 0.01 and no_decay["weight_decay"] == 0.0
    assert all(p.ndim >= 2 for p in decay["params"]) and all(p.ndim < 2 for p in no_decay["params"])
    assert sum(map(len, (decay["params"], no_decay["params"]))) == len(list(model.parameters()))
    assert not build_optimizer(model, optim, 100, fused=False)[0].defaults["fused"]


def _steps_with_clipping(clip_in_step: bool, max_norm, algorithm="norm", steps=4):
    """Params after ``steps`` AdamW steps on gradients whose size changes 100-fold from step to step
    (so that clipping changes Adam's moments, not only a common scale): clipped by ITTModule into the
    fused step (``clip_in_step``) or by torch's clip function first (the reference), or not at all."""
    optim = OmegaConf.create({"lr": 0.05, "weight_decay": 0.01, "warmup_ratio": 0.0, "freeze_encoder": False})
    torch.manual_seed(0)
    model = _tiny_model()
    module = ITTModule(model, [EvalSet(None, get_task("sequence_classification", "acc"), ["neg", "pos"])], optim)
    optimizer, _ = build_optimizer(model, optim, 10)
    params = list(model.parameters())
    grads = torch.Generator().manual_seed(1)
    for step in range(steps):
        for p in params:
            p.grad = torch.randn(p.shape, generator=grads) * 100.0 ** (step % 2)
        if clip_in_step:
            module.configure_gradient_clipping(optimizer, gradient_clip_val=max_norm, gradient_clip_algorithm=algorithm)
        elif max_norm and algorithm == "norm":
            torch.nn.utils.clip_grad_norm_(params, max_norm)
        elif max_norm:
            torch.nn.utils.clip_grad_value_(params, max_norm)
        optimizer.step()
    return [p.detach().clone() for p in params], optimizer


@pytest.mark.parametrize("algorithm", ["norm", "value"])
def test_clipping_with_the_fused_optimizer_equals_clip_then_step(algorithm):
    folded, optimizer = _steps_with_clipping(True, 1.0, algorithm)
    reference, _ = _steps_with_clipping(False, 1.0, algorithm)
    unclipped, _ = _steps_with_clipping(False, None)
    for a, b in zip(folded, reference):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)
    # the comparison can tell clipping from none: without it the weights end elsewhere
    assert max((a - c).abs().max().item() for a, c in zip(folded, unclipped)) > 1e-3
    assert (optimizer.grad_scale is None) is (algorithm == "value")  # by value: torch's clip, no scale


def test_no_clip_value_means_no_clipping_in_the_fused_step():
    folded, optimizer = _steps_with_clipping(True, None)
    unclipped, _ = _steps_with_clipping(False, None)
    assert optimizer.grad_scale is None
    for a, b in zip(folded, unclipped):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


# --- CPU threads ----------------------------------------------------------------------------------

class _Cfg:
    def __init__(self, **kw):
        self.__dict__.update(kw)


class _Model:
    def __init__(self, **config):
        self.config = _Cfg(**config)


def test_one_thread_for_tiny_models_default_for_others(monkeypatch):
    from itt import hardware

    for name in (*hardware.THREAD_ENV, hardware.INHERITED):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    hardware.cpu_machine.cache_clear()  # as a process started without a thread variable
    default = itt_trainer._DEFAULT_THREADS
    assert itt_trainer.auto_threads(_Model(hidden_size=64)) == 1          # embedded bert/roberta
    assert itt_trainer.auto_threads(_Model(d_model=64)) == 1              # embedded xlnet
    assert itt_trainer.auto_threads(_Model(hidden_size=384)) == default   # MiniLM and up
    monkeypatch.setenv("OMP_NUM_THREADS", "3")  # set later in the process (Lightning's DDP launcher): no change
    assert itt_trainer.auto_threads(_Model(hidden_size=64)) == 1
    hardware.cpu_machine.cache_clear()  # a process started with it: the launcher/user decided
    assert itt_trainer.auto_threads(_Model(hidden_size=64)) == default
    hardware.cpu_machine.cache_clear()


def test_apply_threads_sets_and_restores_per_model(monkeypatch):
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    before = torch.get_num_threads()
    try:
        assert itt_trainer.apply_threads(_Model(hidden_size=64)) == 1 and torch.get_num_threads() == 1
        itt_trainer.apply_threads(_Model(hidden_size=768))  # the next run of a sweep, a bigger model
        assert torch.get_num_threads() == itt_trainer._DEFAULT_THREADS
    finally:
        torch.set_num_threads(before)


@pytest.mark.parametrize("env, expected", [
    ({}, "PASSIVE 3000"),  # itt's choice: a short spin, then sleep
    ({"OMP_WAIT_POLICY": "ACTIVE"}, "ACTIVE -"),  # the user's choice wins, no spin count over it
    ({"GOMP_SPINCOUNT": "50"}, "- 50"),
])
def test_openmp_threads_spin_briefly_then_sleep_unless_told(env, expected):
    import os
    import subprocess
    import sys

    clean = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")}
    code = "import itt, os; print(os.environ.get('OMP_WAIT_POLICY', '-'), os.environ.get('GOMP_SPINCOUNT', '-'))"
    out = subprocess.run([sys.executable, "-c", code], env={**clean, **env}, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == expected
