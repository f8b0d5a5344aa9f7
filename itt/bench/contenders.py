"""The training contenders. Each trains ``bench.total_steps`` optimizer steps from the same weights and
returns its ``StepLog`` and the trained model.

- ``itt``: ``itt.build.build_run`` + ``itt.trainer.build_trainer`` + ``Trainer.fit``, exactly as
  ``itt.pipeline`` runs a training (config composed from ``conf/``), with the variant's batching;
- ``hf`` / ``hf_grouped``: ``transformers.Trainer`` (random sampling / ``group_by_length``) on the same
  tokenized rows, optimizer settings, schedule, clipping, precision and dynamic padding;
- ``bare``: a plain PyTorch loop over itt's own batches, with itt's model preparation, optimizer,
  clipping and autocast: the floor for itt's Lightning loop.
"""

from __future__ import annotations

from pathlib import Path

from itt.bench.timing import StepLog

CONTENDERS = ("itt", "hf", "hf_grouped", "bare")
# The itt variant (setup.VARIANTS) each HF configuration is compared with: the same batching.
LIKE_FOR_LIKE = {"hf": "random", "hf_grouped": "grouped"}
HF_STRATEGY = {"hf": "random", "hf_grouped": "group_by_length"}


def run_itt(bench, run_dir: Path, variant: str) -> tuple[StepLog, object]:
    import pytorch_lightning as pl

    from itt.build import build_run
    from itt.logger import build_loggers, finish
    from itt.trainer import build_trainer

    log = StepLog()

    class Timer(pl.Callback):
        def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
            log.step_end()
            log.add_batch(batch)

        def on_validation_start(self, trainer, pl_module):
            if trainer.state.fn == "fit" and not trainer.sanity_checking:
                log.pause_begin()

        def on_train_epoch_start(self, trainer, pl_module):
            # the previous epoch's end (validation, ModelCheckpoint's saves, which run after all
            # other callbacks' on_train_epoch_end) is over; the new epoch's data loading is timed
            log.pause_end()

    spec = bench.specs[variant]
    built = build_run(spec)
    loggers = build_loggers(spec, "bench", run_dir)
    trainer, _ = build_trainer(spec.settings, run_dir, loggers, built.monitor, built.numerics["precision"])
    trainer.callbacks.append(Timer())
    try:
        trainer.fit(built.module, datamodule=built.data)
    finally:
        finish(loggers)
    return log, built.module.model


def run_hf(bench, run_dir: Path, name: str) -> tuple[StepLog, object]:
    from datasets import Dataset
    from transformers import DataCollatorWithPadding, Trainer, TrainerCallback

    log = StepLog()
    collator = DataCollatorWithPadding(bench.tokenizer, pad_to_multiple_of=bench.pad_multiple)

    def collate(features):  # the HF dataloader fetches batches in step order: the i-th call is step i
        batch = collator(features)
        log.add_batch(batch)
        return batch

    class Timer(TrainerCallback):
        def on_step_end(self, args, state, control, **kwargs):
            log.step_end()

    train = Dataset.from_file(bench.data.features["train"].cache_files[0]["filename"])  # the cached tokens
    args = hf_arguments(bench, run_dir, max_steps=bench.total_steps, train_sampling_strategy=HF_STRATEGY[name])
    model = bench.hf_model()
    trainer = Trainer(model=model, args=args, train_dataset=train, data_collator=collate,
                      processing_class=bench.tokenizer, callbacks=[Timer()])
    trainer.train()
    return log, trainer.model


def hf_arguments(bench, run_dir: Path, **extra):
    """``TrainingArguments`` with itt's settings (batch sizes, optimizer, schedule, clipping, precision,
    seed); everything else left at transformers' defaults."""
    from transformers import TrainingArguments

    cfg = bench.cfg
    return TrainingArguments(
        output_dir=str(run_dir), per_device_train_batch_size=cfg.data.batch_size,
        per_device_eval_batch_size=cfg.data.eval_batch_size,
        learning_rate=cfg.optim.lr, weight_decay=cfg.optim.weight_decay, warmup_steps=cfg.optim.warmup_ratio,
        max_grad_norm=cfg.trainer.gradient_clip_val or 0.0, lr_scheduler_type="linear",
        bf16=bench.precision.startswith("bf16"), fp16=bench.precision.startswith("16"),
        use_cpu=not bench.torch.cuda.is_available(), report_to="none", save_strategy="no", eval_strategy="no",
        disable_tqdm=True, seed=bench.seed, data_seed=bench.seed, dataloader_num_workers=cfg.data.num_workers,
        **extra)


def run_bare(bench, run_dir: Path, variant: str) -> tuple[StepLog, object]:
    from itt.models import compiled_bernoulli

    log = StepLog()
    loop = BareLoop(bench, variant, bench.total_steps)
    try:
        for batch in loop.batches(bench.total_steps):
            loop.step(batch)
            log.step_end()
            log.add_batch(batch)
    finally:
        compiled_bernoulli.uninstall()  # as ITTModule.teardown: the HF contenders draw with torch's kernel
    return log, loop.model


class BareLoop:
    """itt's training step without Lightning: the bare contender's loop, and the step ``--profile``
    profiles. The run's model and batches come from ``itt.build.build_run`` (so every model setting
    applies, e.g. ``model.eager_attention``), with itt's model preparation, optimizer, clipping and
    autocast; the optimizer's schedule spans ``total_steps``."""

    def __init__(self, bench, variant: str, total_steps: int):
        from itt.build import build_run
        from itt.module import build_optimizer, prepare_for_training

        torch, cfg = bench.torch, bench.cfgs[variant]
        built = build_run(bench.specs[variant])
        self.model, self.autocast = built.module.model, bench.autocast
        self.model.train()
        prepare_for_training(self.model, cfg.model.fast_dropout, cfg.model.sparse_embedding_grad,
                             torch.device("cuda" if torch.cuda.is_available() else "cpu"),
                             compiled_bernoulli=cfg.model.compiled_bernoulli)
        self.optimizer, self.scheduler = build_optimizer(self.model, cfg.optim, total_steps,
                                                         fused=not bench.precision.startswith("16"))
        self.params = [p for p in self.model.parameters() if p.requires_grad]
        self.clip = cfg.trainer.gradient_clip_val
        self.loader = built.data.train_dataloader()

    def batches(self, count: int):
        """``count`` training batches, epoch after epoch."""
        while count:
            for batch in self.loader:
                yield batch
                count -= 1
                if not count:
                    return

    def step(self, batch) -> None:
        import torch

        from itt.data.datamodule import model_inputs
        from itt.module import clip_norm_in_fused_step

        with self.autocast():
            loss = self.model(**model_inputs(batch)).loss
        loss.backward()
        if self.clip and self.optimizer.defaults.get("fused"):
            clip_norm_in_fused_step(self.optimizer, self.params, self.clip)  # as ITTModule.configure_gradient_clipping
        elif self.clip:
            torch.nn.utils.clip_grad_norm_(self.params, self.clip)
        self.optimizer.step()
        self.scheduler.step()
        self.optimizer.zero_grad(set_to_none=True)
