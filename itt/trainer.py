"""The Lightning Trainer from ``conf/trainer/``: precision chosen for the hardware, checkpoints on the
task's primary validation metric, optional early stopping, SLURM requeue, resume from a kill."""

from __future__ import annotations

import logging
import signal
from pathlib import Path

import torch
from hydra.utils import instantiate
from pytorch_lightning.callbacks import EarlyStopping, ModelCheckpoint
from pytorch_lightning.plugins.environments import SLURMEnvironment

log = logging.getLogger(__name__)


def cpu_has_bf16() -> bool:
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def auto_precision() -> str:
    """bf16 autocast where the hardware does bf16 matmuls natively, fp16 on older GPUs, else fp32."""
    if torch.cuda.is_available():
        return "bf16-mixed" if torch.cuda.is_bf16_supported() else "16-mixed"
    return "bf16-mixed" if cpu_has_bf16() else "32-true"


def build_trainer(cfg, run_dir: Path, loggers: list, monitor: str):
    precision = cfg.trainer.precision
    if precision == "auto":
        precision = auto_precision()
    checkpoint = ModelCheckpoint(dirpath=run_dir / "checkpoints", filename="best", monitor=monitor, mode="max",
                                 save_top_k=1, save_last=True, enable_version_counter=False)
    callbacks = [checkpoint]
    if cfg.optim.early_stopping_patience:
        callbacks.append(EarlyStopping(monitor=monitor, mode="max", patience=cfg.optim.early_stopping_patience))
    plugins = []
    if SLURMEnvironment.detect():
        # On the requeue signal Lightning saves an hpc checkpoint and requeues the job; the requeued job
        # has the same run id, so it resumes from that checkpoint (see trainer's resume path).
        plugins.append(SLURMEnvironment(auto_requeue=True, requeue_signal=signal.SIGUSR1))
    trainer = instantiate(cfg.trainer, precision=precision, callbacks=callbacks, logger=loggers,
                          default_root_dir=str(run_dir), plugins=plugins or None)
    return trainer, checkpoint, precision


def resume_path(run_dir: Path) -> str | None:
    """The newest checkpoint a killed or requeued attempt of this run left behind."""
    candidates = list(run_dir.glob("hpc_ckpt_*.ckpt")) + [run_dir / "checkpoints" / "last.ckpt"]
    existing = [p for p in candidates if p.exists()]
    return str(max(existing, key=lambda p: p.stat().st_mtime)) if existing else None
