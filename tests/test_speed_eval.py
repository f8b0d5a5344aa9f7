"""Evaluation casts each weight to bf16 once per evaluation epoch, not once per batch (``itt.eval_casts``,
registered by ``ITTModule``): the same logits bit for bit as Lightning's default evaluation (inference
mode, autocast's per-batch casts), fewer casts, and no autocast state left behind (also after an exception
inside an evaluation epoch)."""

from __future__ import annotations

import pytest
import pytorch_lightning as pl
import torch
from omegaconf import OmegaConf
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils.data import DataLoader

from itt.module import EvalSet, ITTModule
from itt.tasks import get_task

BATCHES, ROWS = 4, 5


def _tiny_bert():
    from transformers import BertConfig, BertForSequenceClassification

    torch.manual_seed(0)
    return BertForSequenceClassification(BertConfig(vocab_size=97, hidden_size=32, num_hidden_layers=2,
                                                    num_attention_heads=4, intermediate_size=64, num_labels=2))


def _batches():
    g = torch.Generator().manual_seed(1)
    out = []
    for b in range(BATCHES):
        length = 6 + b
        ids = torch.randint(1, 97, (ROWS, length), generator=g)
        mask = torch.ones_like(ids)
        mask[0, length - 2:] = 0
        out.append({"input_ids": ids, "attention_mask": mask, "labels": torch.randint(0, 2, (ROWS,), generator=g),
                    "idx": torch.arange(b * ROWS, (b + 1) * ROWS)})
    return out


class _WeightCasts(TorchDispatchMode):
    """Counts float32 -> bfloat16 casts of 2-d tensors (the linear layers' weights; activations are 3-d)."""

    def __init__(self):
        super().__init__()
        self.count = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        dtype = args[1] if func is torch.ops.aten.to.dtype else kwargs.get("dtype")
        if func in (torch.ops.aten.to.dtype, torch.ops.aten._to_copy.default) and args[0].dtype == torch.float32 \
                and args[0].dim() == 2 and dtype == torch.bfloat16:
            self.count += 1
        return func(*args, **kwargs)


class _FailingLoader:
    """Batches, then an error from the loader itself (between two evaluation steps)."""

    def __init__(self, batches, fail_at: int):
        self.batches, self.fail_at = batches, fail_at

    def __iter__(self):
        for i, batch in enumerate(self.batches):
            if i == self.fail_at:
                raise RuntimeError("boom")
            yield batch

    def __len__(self):
        return len(self.batches)


def _validate(cached: bool, monkeypatch, fail_at: int | None = None, fail_in_loader: bool = False):
    """``cached``: under no_grad, as ``itt.trainer.build_trainer``'s Trainer evaluates; else Lightning's
    default (inference mode, where autocast caches nothing)."""
    optim = OmegaConf.create({"lr": 1e-3, "weight_decay": 0.0, "warmup_ratio": 0.0, "freeze_encoder": False})
    task = get_task("sequence_classification", "acc")
    module = ITTModule(_tiny_bert(), [EvalSet(None, task, ["neg", "pos"])], optim)
    logits = []
    forward = task.forward

    def recording(model, batch):
        if fail_at is not None and not fail_in_loader and len(logits) == fail_at:
            raise RuntimeError("boom")
        out = forward(model, batch)
        logits.append(out.logits.detach().clone())
        return out

    monkeypatch.setattr(task, "forward", recording)
    trainer = pl.Trainer(accelerator="cpu", precision="bf16-mixed", logger=False, enable_progress_bar=False,
                         enable_model_summary=False, enable_checkpointing=False, inference_mode=not cached)
    loader = _FailingLoader(_batches(), fail_at) if fail_in_loader else DataLoader(_batches(), batch_size=None)
    with _WeightCasts() as casts:
        trainer.validate(module, dataloaders=loader, verbose=False)
    return logits, casts.count


def test_cached_weight_casts_give_the_same_logits_bit_for_bit(monkeypatch):
    cached, cached_casts = _validate(True, monkeypatch)
    plain, plain_casts = _validate(False, monkeypatch)
    assert len(cached) == len(plain) == BATCHES
    assert all(torch.equal(a, b) for a, b in zip(cached, plain))
    linear_weights = 2 * 6 + 2  # 2 layers x (Q, K, V, attention output, intermediate, output), pooler, classifier
    assert plain_casts - cached_casts == (BATCHES - 1) * linear_weights  # cast in the first batch only


@pytest.mark.parametrize("fail_in_loader", [False, True])
def test_no_autocast_state_is_left_behind(monkeypatch, fail_in_loader):
    _validate(True, monkeypatch)
    assert not torch.is_autocast_enabled("cpu") and torch.is_autocast_cache_enabled()
    with pytest.raises(RuntimeError, match="boom"):
        _validate(True, monkeypatch, fail_at=2, fail_in_loader=fail_in_loader)
    # the cast scope was closed: a later autocast region casts afresh and its exit clears the cache
    weight = torch.nn.Parameter(torch.randn(4, 4))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        first = torch.mm(weight, weight)
    with torch.no_grad():
        weight.mul_(2)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        second = torch.mm(weight, weight)
    torch.testing.assert_close(second.float(), 4 * first.float(), rtol=1e-2, atol=1e-2)


def test_itts_trainer_evaluates_under_no_grad_where_the_cache_works(tmp_path):
    from hydra import compose, initialize_config_dir

    from itt import identity
    from itt.train import CONF_DIR
    from itt.trainer import build_trainer

    with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
        cfg = compose("train", overrides=["source=embedded", "logger=csv", "+stage=intermediate",
                                          f"paths.root={tmp_path}", "trainer.accelerator=cpu"])
    spec = identity.resolve(cfg)
    trainer, _ = build_trainer(spec.settings, tmp_path / "run", [], "val/acc", "bf16-mixed")
    assert trainer.validate_loop.inference_mode is False and trainer.test_loop.inference_mode is False
