"""The LightningModule: a ``transformers`` model, AdamW with linear warmup/decay, one evaluator per
evaluated dataset (the task kind's torchmetrics ``Metric``).

Metrics are logged as ``val/<name>`` and ``test/<name>`` for the run's own split and as
``val/<eval>/<name>``, ``test/<eval>/<name>`` for each eval set (the names the ledger and report use).
A non-finite training loss stops the run at once with the step where it happened, instead of
training on NaNs for hours.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import pytorch_lightning as pl
import torch
from torch import nn
from transformers import get_linear_schedule_with_warmup

from itt.data.datamodule import model_inputs

from itt.errors import ConfigError, TrainingFailed
from itt.eval_casts import EvalCastCache
from itt.models import heads
from itt.models.multihead import MultiHeadModel
from itt.models.compiled_bernoulli import apply as apply_compiled_bernoulli, uninstall as uninstall_compiled_bernoulli
from itt.models.fast_dropout import apply as apply_fast_dropout
from itt.models.sparse_embedding_grad import apply as apply_sparse_embedding_grad, touched_rows_norm
from itt.tasks import Task
from itt.trainer import apply_threads


@dataclass
class EvalSet:
    """A dataset a run is evaluated on: its own split (``name`` None, logged as ``val/<metric>``) or an
    eval set (logged as ``val/<name>/<metric>``)."""

    name: str | None
    task: Task
    labels: list[str]
    rows: object = None  # canonical validation/test rows (a DatasetDict), for evaluators that need them
    member: int | None = None  # multi-head model (itt.models.multihead): the mixture member whose head scores it

    def prefix(self, split: str) -> str:
        return f"{split}/" if self.name is None else f"{split}/{self.name}/"


class TorchKernelsBack(pl.Callback):
    """Gives CPU ``bernoulli_`` back to torch's kernel when fit raises, as ``ITTModule.teardown`` does when it
    ends: Lightning calls no module teardown after an exception."""

    def on_exception(self, trainer, pl_module, exception) -> None:
        uninstall_compiled_bernoulli()


class ITTModule(pl.LightningModule):
    def __init__(self, model, evals: list[EvalSet], optim_cfg, fast_dropout: bool = False,
                 sparse_embedding_grad: bool = True, summary: tuple[str, list[tuple[int, str]]] | None = None,
                 compiled_bernoulli: bool = True):
        """``summary``: a mixture's (name, [(eval set index, metric), ...]): ``val/<name>`` and
        ``test/<name>`` are logged as the mean of those metrics (the members' primary metrics)."""
        super().__init__()
        self.model, self.evals, self.optim_cfg, self.summary = model, evals, optim_cfg, summary
        self.fast_dropout, self.sparse_embedding_grad = fast_dropout, sparse_embedding_grad
        self.compiled_bernoulli = compiled_bernoulli
        self.model.train()  # from_pretrained returns eval mode (dropout off); Lightning keeps modes as found
        rows = [e.rows or {} for e in evals]
        # Per stage, the eval sets that have that split (a test-only eval set has no validation score),
        # in the order of the data module's loaders (dataloader_idx -> eval set).
        self.split_sets = {stage: [i for i, r in enumerate(rows) if not r or split in r]
                           for stage, split in (("val", "validation"), ("test", "test"))}
        self.val_metrics = nn.ModuleList([evals[i].task.evaluator(evals[i].labels, rows[i].get("validation"))
                                          for i in self.split_sets["val"]])
        self.test_metrics = nn.ModuleList([evals[i].task.evaluator(evals[i].labels, rows[i].get("test"))
                                           for i in self.split_sets["test"]])
        self.test_items: dict[str, list[dict]] = {}  # per eval set ("" for the own split): one {pred, gold} per item
        self.eval_casts = EvalCastCache()  # each weight cast to the autocast dtype once per evaluation epoch
        self.kernels_back = TorchKernelsBack()
        if optim_cfg.freeze_encoder:
            heads.freeze_encoder(model)

    def setup(self, stage: str) -> None:
        prepare_for_training(self.model, self.fast_dropout, self.sparse_embedding_grad,
                             self.trainer.strategy.root_device, self.trainer.world_size, self.compiled_bernoulli)
        if stage == "fit" and self.trainer.world_size > 1:
            # Every DDP process was seeded alike (the same initial weights); from here on each draws its
            # own dropout masks, as one process would for its whole batch.
            torch.manual_seed(torch.initial_seed() + self.trainer.global_rank)

    def teardown(self, stage: str) -> None:
        uninstall_compiled_bernoulli()  # process-wide: other code in this process gets torch's kernel back
        # (when fit raises, Lightning skips this hook: TorchKernelsBack does it then)

    def forward(self, batch, member: int | None = None):
        if isinstance(self.model, MultiHeadModel):  # the head of the batch's mixture member
            return self.model(member if member is not None else batch["task"], **model_inputs(batch))
        return self.model(**model_inputs(batch))

    def model_for(self, member: int | None) -> nn.Module:
        """The ``transformers`` model an eval set is scored with: the run's model, or for a multi-head model
        the one with mixture member ``member``'s head (every head's model shares the one encoder)."""
        if isinstance(self.model, MultiHeadModel):
            return self.model.models[self.model.head_of[member or 0]]
        return self.model

    def training_step(self, batch, batch_idx):
        loss = self(batch).loss
        # Only a cheap check on the device tensor; the host sync happens at the logging interval.
        if (batch_idx + 1) % self.trainer.log_every_n_steps == 0 and not torch.isfinite(loss):
            raise TrainingFailed(f"non-finite training loss ({loss.item()}) at step {self.global_step}; lower optim.lr or use trainer.precision=32-true")
        self.log("train/loss", loss, on_step=True, on_epoch=False, batch_size=batch["input_ids"].shape[0])
        return loss

    def _eval_step(self, batch, metrics, split: str, dataloader_idx: int):
        evaluation = self.evals[self.split_sets[split][dataloader_idx]]
        # The evaluated set's kind decides what the model computes (Task.forward): by default its head's own
        # forward pass; an eval set of another kind than the run's (retrieval on a classifier) reads the
        # encoder its own way.
        with self.eval_casts.step(self.device.type):
            out = evaluation.task.forward(self.model_for(evaluation.member), batch)
        metrics[dataloader_idx].update(out, batch)
        if getattr(out, "loss", None) is not None:
            self.log(f"{evaluation.prefix(split)}loss", out.loss, on_epoch=True,
                     batch_size=batch["input_ids"].shape[0], add_dataloader_idx=False, sync_dist=True)

    def _log_metrics(self, metrics, split: str, keep_items: bool = False):
        computed = {}
        for i, metric in zip(self.split_sets[split], metrics):
            evaluation = self.evals[i]
            values = on_device(metric.compute(), self.device)
            computed[i] = values
            if keep_items:
                self.test_items[evaluation.name or ""] = metric.items()
            # Already every process's items (torchmetrics synced them): identical on each process.
            self.log_dict({f"{evaluation.prefix(split)}{k}": v for k, v in values.items()}, add_dataloader_idx=False,
                          sync_dist=True)
            metric.reset()
        if self.summary is not None:
            name, parts = self.summary
            mean = torch.stack([torch.as_tensor(computed[i][m], dtype=torch.float32) for i, m in parts]).mean()
            self.log(f"{split}/{name}", mean, add_dataloader_idx=False, sync_dist=True)

    def configure_callbacks(self):
        # A Trainer reused (fit, then validate and test) has them from its first call: returned again, they
        # would only make Lightning log that each callback replaced itself.
        return [c for c in (self.eval_casts, self.kernels_back) if c not in self.trainer.callbacks]

    def validation_step(self, batch, batch_idx, dataloader_idx=0):
        self._eval_step(batch, self.val_metrics, "val", dataloader_idx)

    def on_validation_epoch_end(self):
        self._log_metrics(self.val_metrics, "val")

    def test_step(self, batch, batch_idx, dataloader_idx=0):
        self._eval_step(batch, self.test_metrics, "test", dataloader_idx)

    def on_test_epoch_end(self):
        self._log_metrics(self.test_metrics, "test", keep_items=True)

    def on_train_epoch_end(self):
        loss = self.trainer.callback_metrics.get("train/loss")
        if loss is not None and not torch.isfinite(loss):
            raise TrainingFailed(f"non-finite training loss at epoch {self.current_epoch}; lower optim.lr or use trainer.precision=32-true")

    def configure_optimizers(self):
        # fp16 (16-mixed) scales the loss; a fused optimizer would unscale inside its step, after clipping.
        fused = not str(self.trainer.precision).startswith("16")
        optimizer, scheduler = build_optimizer(self.model, self.optim_cfg, int(self.trainer.estimated_stepping_batches), fused)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}

    # fp16 (16-mixed) skips an optimizer step whose gradients overflowed; Lightning steps the LR schedule anyway, the HF
    # Trainer does not (its schedule counts the steps taken): the schedule waits for the next step taken here too.
    def on_before_optimizer_step(self, optimizer):
        scaler = getattr(self.trainer.precision_plugin, "scaler", None)
        self._scale_before_step = scaler.get_scale() if scaler is not None else None

    def lr_scheduler_step(self, scheduler, metric):
        scaler = getattr(self.trainer.precision_plugin, "scaler", None)
        before = getattr(self, "_scale_before_step", None)
        if scaler is not None and before is not None and scaler.get_scale() < before:  # the scaler skipped the step
            return
        super().lr_scheduler_step(scheduler, metric)

    def configure_gradient_clipping(self, optimizer, gradient_clip_val=None, gradient_clip_algorithm=None):
        inner = getattr(optimizer, "optimizer", optimizer)
        if getattr(inner, "defaults", {}).get("fused"):
            # Lightning refuses to clip for any fused optimizer (with fp16 it would clip scaled
            # gradients); fused is only used without a grad scaler, so the gradients are the real ones.
            params = [p for group in inner.param_groups for p in group["params"]]
            if gradient_clip_val and gradient_clip_algorithm == "value":
                inner.grad_scale = None
                torch.nn.utils.clip_grad_value_(params, gradient_clip_val)
            else:
                clip_norm_in_fused_step(inner, params, gradient_clip_val)
            return
        self.clip_gradients(optimizer, gradient_clip_val, gradient_clip_algorithm)


def on_device(values: dict, device) -> dict:
    """An evaluator's metrics as tensors on the module's device (their dtype kept). Some kinds score on the host
    (seqeval's F1, SQuAD's EM/F1, BUCC's F1); Lightning reduces a logged value where it lies, and NCCL, the
    process group of GPU DDP, reduces no host tensor ("No backend type associated with device type cpu")."""
    return {k: torch.as_tensor(v, device=device) for k, v in values.items()}


def prepare_for_training(model, fast_dropout: bool, sparse_embedding_grad: bool, device, world_size: int = 1,
                         compiled_bernoulli: bool = True) -> None:
    """What ``ITTModule.setup`` does to the model before training (also the bench's bare loop): threads
    for its size (per run: a sweep runs many in one process) and the CPU speed-ups ``model.fast_dropout``,
    ``model.sparse_embedding_grad`` and ``model.compiled_bernoulli`` (process-wide until
    ``itt.models.compiled_bernoulli.uninstall``, which ``ITTModule.teardown`` calls)."""
    apply_threads(model)
    apply_compiled_bernoulli(compiled_bernoulli, device)
    apply_fast_dropout(model, fast_dropout, device)
    apply_sparse_embedding_grad(model, sparse_embedding_grad, device, world_size)


def clip_norm_in_fused_step(optimizer, params, max_norm) -> None:
    """``clip_grad_norm_(params, max_norm)`` done by the next step of a fused ``optimizer``: it divides
    every gradient by ``optimizer.grad_scale`` as it reads it (the attribute torch's GradScaler uses to
    unscale fp16 gradients), which saves clipping's own pass over all gradients (~1-3 % of a MiniLM
    step). Same result as clipping first, up to float rounding (also the norm of a word-embedding gradient
    kept by ``model.sparse_embedding_grad``, summed over the rows the batch touched only). ``max_norm``
    falsy: no clipping."""
    if not max_norm:
        optimizer.grad_scale = None
        return
    gradients, row_norms = [], []
    for p in params:
        if p.grad is None:
            continue
        rows_norm = touched_rows_norm(p)  # model.sparse_embedding_grad: the word embedding's touched rows
        if rows_norm is None:
            gradients.append(p.grad)
        else:
            row_norms.append(rows_norm)
    norm = torch.nn.utils.get_total_norm(gradients)
    if row_norms:  # the same total up to float summation order
        norm = torch.linalg.vector_norm(torch.stack([norm, *row_norms]))
    # clip_grad_norm_ multiplies by min(1, max_norm / (norm + 1e-6)); dividing by its inverse is the same.
    optimizer.grad_scale = torch.clamp((norm + 1e-6) / max_norm, min=1.0)


def check_optim_settings(optim_cfg, key=str) -> None:
    """``optim.*`` values that torch would refuse only after data and model load (a negative learning
    rate) or take without a word (warmup longer than training, negative decay). ``key``: how the user
    typed a setting (see ``itt.trainer.check_trainer_args``)."""
    rules = (("lr", lambda v: v > 0, "a learning rate above 0 such as 5e-05"),
             ("warmup_ratio", lambda v: 0 <= v <= 1, "a share of the training steps from 0 to 1 such as 0.1"),
             ("weight_decay", lambda v: v >= 0, "0 or more such as 0.01"))
    for name, ok, valid in rules:
        if not ok(optim_cfg[name]):
            raise ConfigError(f"{key(f'optim.{name}')}={optim_cfg[name]!r} is not valid; use {valid}")
    patience = optim_cfg.get("early_stopping_patience")
    if patience is not None and not patience >= 1:  # 0 would read as "stop at once", but turned it off
        raise ConfigError(f"{key('optim.early_stopping_patience')}={patience!r} is not valid; use null (no early "
                          f"stopping) or a positive int such as 3")


def build_optimizer(model, optim_cfg, total_steps: int, fused: bool = True):
    """AdamW (no decay on biases and norms) with linear warmup and decay over ``total_steps``.
    Also used by ``itt.bench``'s bare loop, so that it trains exactly like itt."""
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        if p.requires_grad:  # biases: the 1-d ones and XLNet's 2-d attention biases (r_w_bias, ...), as the HF Trainer
            (no_decay if p.ndim < 2 or name.endswith("bias") else decay).append(p)
    # The fused kernel (one per parameter tensor, CPU and GPU) instead of PyTorch's default on CPU, a
    # Python loop of ~10 ops per parameter tensor; the HF Trainer's default too (adamw_torch_fused).
    fused = fused and all(p.is_floating_point() and p.device.type in ("cpu", "cuda") for p in decay + no_decay)
    optimizer = torch.optim.AdamW(
        [{"params": decay, "weight_decay": optim_cfg.weight_decay},
         {"params": no_decay, "weight_decay": 0.0}], lr=optim_cfg.lr, fused=fused or None)
    total = max(int(total_steps), 1)
    # rounded up, as the HF Trainer does (TrainingArguments.get_warmup_steps): a run of under 10 steps warms up too
    scheduler = get_linear_schedule_with_warmup(optimizer, math.ceil(total * optim_cfg.warmup_ratio), total)
    return optimizer, scheduler
