"""Issue 5, point 6: a NaN/inf training loss stops the run (``TrainingFailed`` raised inside Lightning's
training_step reaches the pipeline). End to end (failed ledger row, the sweep goes on): test_reliability_sweep.py."""

from __future__ import annotations

import math
from types import SimpleNamespace

import pytest
import pytorch_lightning as pl
import torch
from omegaconf import OmegaConf
from torch.utils.data import DataLoader

from itt.errors import TrainingFailed
from itt.module import EvalSet, ITTModule
from itt.tasks import get_task


class _Diverging(torch.nn.Module):
    """Stands in for a transformers model: its loss turns NaN from the third batch on."""

    def __init__(self):
        super().__init__()
        self.w = torch.nn.Parameter(torch.ones(2))
        self.calls = 0

    def forward(self, input_ids, labels):
        self.calls += 1
        logits = input_ids.float() * self.w
        loss = torch.nn.functional.cross_entropy(logits, labels)
        return SimpleNamespace(loss=loss * (math.nan if self.calls >= 3 else 1.0), logits=logits)


def test_nan_raised_in_training_step_propagates_through_lightning():
    task = get_task("sequence_classification", "acc")
    optim = OmegaConf.create({"lr": 1e-3, "weight_decay": 0.0, "warmup_ratio": 0.0, "freeze_encoder": False})
    module = ITTModule(_Diverging(), [EvalSet(None, task, ["a", "b"])], optim)
    batches = [{"input_ids": torch.randn(4, 2), "labels": torch.tensor([0, 1, 0, 1])} for _ in range(8)]
    trainer = pl.Trainer(max_epochs=1, log_every_n_steps=1, logger=False, enable_checkpointing=False,
                         enable_progress_bar=False, enable_model_summary=False, accelerator="cpu")
    with pytest.raises(TrainingFailed, match=r"non-finite training loss \(nan\) at step 2; lower optim.lr"):
        trainer.fit(module, train_dataloaders=DataLoader(batches, batch_size=None))
