"""The LightningModule: a ``transformers`` model, AdamW with linear warmup/decay, torchmetrics.

Metrics are logged as ``val/<name>`` and ``test/<name>`` (the names the ledger and report use).
A non-finite training loss stops the run at once with the step where it happened, instead of
training on NaNs for hours.
"""

from __future__ import annotations

import pytorch_lightning as pl
import torch
from transformers import get_linear_schedule_with_warmup

from itt.errors import TrainingFailed
from itt.tasks import Task


class ITTModule(pl.LightningModule):
    def __init__(self, model, task: Task, labels: list[str], optim_cfg):
        super().__init__()
        self.model, self.task, self.optim_cfg = model, task, optim_cfg
        self.model.train()  # from_pretrained returns eval mode (dropout off); Lightning keeps modes as found
        self.val_metrics = task.metrics("val/", labels)
        self.test_metrics = task.metrics("test/", labels)
        if optim_cfg.freeze_encoder:
            for p in model.base_model.parameters():
                p.requires_grad_(False)

    def forward(self, batch):
        return self.model(**batch)

    def training_step(self, batch, batch_idx):
        loss = self(batch).loss
        # Only a cheap check on the device tensor; the host sync happens at the logging interval.
        if (batch_idx + 1) % self.trainer.log_every_n_steps == 0 and not torch.isfinite(loss):
            raise TrainingFailed(f"non-finite training loss ({loss.item()}) at step {self.global_step}; lower optim.lr or use trainer.precision=32-true")
        self.log("train/loss", loss, on_step=True, on_epoch=False, batch_size=batch["labels"].shape[0])
        return loss

    def _eval_step(self, batch, metrics, prefix):
        out = self(batch)
        metrics.update(self.task.predictions(out.logits), batch["labels"])
        self.log(f"{prefix}loss", out.loss, on_epoch=True, batch_size=batch["labels"].shape[0])

    def validation_step(self, batch, batch_idx):
        self._eval_step(batch, self.val_metrics, "val/")

    def on_validation_epoch_end(self):
        self.log_dict(self.val_metrics.compute())
        self.val_metrics.reset()

    def test_step(self, batch, batch_idx):
        self._eval_step(batch, self.test_metrics, "test/")

    def on_test_epoch_end(self):
        self.log_dict(self.test_metrics.compute())
        self.test_metrics.reset()

    def on_train_epoch_end(self):
        loss = self.trainer.callback_metrics.get("train/loss")
        if loss is not None and not torch.isfinite(loss):
            raise TrainingFailed(f"non-finite training loss at epoch {self.current_epoch}; lower optim.lr or use trainer.precision=32-true")

    def configure_optimizers(self):
        decay, no_decay = [], []
        for name, p in self.model.named_parameters():
            if p.requires_grad:
                (no_decay if p.ndim < 2 else decay).append(p)  # no decay on biases and norms
        optimizer = torch.optim.AdamW(
            [{"params": decay, "weight_decay": self.optim_cfg.weight_decay},
             {"params": no_decay, "weight_decay": 0.0}], lr=self.optim_cfg.lr)
        total = max(int(self.trainer.estimated_stepping_batches), 1)
        scheduler = get_linear_schedule_with_warmup(optimizer, int(self.optim_cfg.warmup_ratio * total), total)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}
