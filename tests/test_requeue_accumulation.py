"""A requeue between steps under gradient accumulation (``trainer.accumulate_grad_batches``): the requeue
checkpoint is written only where an optimizer step has just been taken, so the requeued job ends with the
uninterrupted run's weights. SLURM is not needed: ``RequeueBetweenSteps`` is armed as under SLURM, ``scontrol``
answers yes, and the job ends at the next batch as SLURM would end it."""

from __future__ import annotations

import signal

import pytest
import pytorch_lightning as pl
import torch
from hydra import compose, initialize_config_dir

from itt import identity, requeue
from itt.build import build_run
from itt.train import CONF_DIR
from itt.trainer import RequeueBetweenSteps, build_trainer, resume_point

RUN = ["model=bert", "task=sentiment", "+stage=target", "stage.itt=false", "source=embedded", "logger=csv",
       "task.datasets.domain.embedded_rows=240", "data.batch_size=16", "trainer.max_epochs=2",
       "trainer.accumulate_grad_batches=2"]  # 11 batches an epoch: 6 optimizer steps


class _Ended(Exception):
    """SLURM ending the requeued job."""


def _fit(root, signal_after=None, ckpt=None):
    with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
        spec = identity.resolve(compose("train", overrides=[*RUN, f"paths.root={root}"]))
    built = build_run(spec)
    trainer, _ = build_trainer(spec.settings, root / "run", [], built.monitor, built.numerics["precision"], None)
    if signal_after is not None:
        handler = RequeueBetweenSteps()
        handler._training, handler._trainer = True, trainer

        class Signal(pl.Callback):
            def on_train_batch_end(self, trainer, *args):
                if trainer.fit_loop.total_batch_idx == signal_after:  # SIGUSR1 arrives in this batch
                    handler._pending = (signal.SIGUSR1, None)

            def on_train_batch_start(self, trainer, *args):
                if handler._requeued:
                    raise _Ended

        trainer.callbacks[:0] = [Signal()]
        trainer.callbacks.append(handler)
    try:
        trainer.fit(built.module, datamodule=built.data, ckpt_path=ckpt, weights_only=True)
    except _Ended:
        pass
    return trainer, built.module.model.state_dict()


@pytest.mark.parametrize("signal_after", [4, 5])  # batch 5 is inside an accumulation, batch 6 ends one
def test_a_requeue_inside_an_accumulation_resumes_to_the_uninterrupted_weights(tmp_path, monkeypatch, signal_after):
    """Before: the signal was acted on at the next batch end, inside an accumulation too; the checkpoint counted
    that batch as done while its gradient was in memory only, so the requeued job never stepped on it (41 of 41
    tensors other than the uninterrupted run's)."""
    monkeypatch.setattr(requeue, "request_requeue", lambda: True)
    monkeypatch.setattr(requeue, "note_requeued", lambda: None)
    _, uninterrupted = _fit(tmp_path / "a")
    first, _ = _fit(tmp_path / "b", signal_after=signal_after)
    ckpt, step = resume_point(tmp_path / "b" / "run")
    assert ckpt is not None and "hpc_ckpt" in str(ckpt) and step == 3  # after the 6th batch: its 3rd step
    _, resumed = _fit(tmp_path / "b", ckpt=ckpt)
    assert [k for k in uninterrupted if not torch.equal(uninterrupted[k], resumed[k])] == []
