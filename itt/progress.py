"""Progress output: bars on an interactive terminal, quiet logs everywhere else.

``trainer.enable_progress_bar=auto`` (the default) shows Lightning's TQDM bar, with samples/s and the
validation metric that picks the checkpoint, when a single run writes to a terminal; in sweeps, under
SLURM and when output goes to a file or pipe, runs log as before (a bar redrawn thousands of times
is noise in a job log). ``true``/``false`` force it. Data preparation (reading and tokenising a large
dataset) shows ``datasets``' own progress bars under the same rule.
"""

from __future__ import annotations

import os
import sys
import time


def in_sweep() -> bool:
    from hydra.core.hydra_config import HydraConfig  # noqa: PLC0415
    from hydra.types import RunMode  # noqa: PLC0415

    try:
        return HydraConfig.get().mode == RunMode.MULTIRUN
    except ValueError:  # not under Hydra's main (tests, notebooks)
        return False


def sweep_dir() -> str | None:
    """The sweep directory of a multirun job (``hydra.sweep.dir``: one per sweep, the same in each of its jobs, a
    requeued one's too); None outside a sweep."""
    if not in_sweep():
        return None
    from hydra.core.hydra_config import HydraConfig  # noqa: PLC0415

    return str(HydraConfig.get().sweep.dir)


def wanted(setting) -> bool:
    if setting in (True, False):
        return bool(setting)
    return sys.stderr.isatty() and not in_sweep() and "SLURM_JOB_ID" not in os.environ


def configure_data_progress(show: bool) -> None:
    """datasets' bars (map, load) and transformers' (loading and writing weights) on or off."""
    import datasets  # noqa: PLC0415
    from transformers.utils import logging as hf_logging  # noqa: PLC0415

    if show:
        datasets.enable_progress_bars()
        hf_logging.enable_progress_bar()
    else:
        datasets.disable_progress_bars()
        hf_logging.disable_progress_bar()


def progress_bar():
    """Lightning's TQDM bar with training samples/s and the monitored validation metric."""
    from pytorch_lightning.callbacks import ModelCheckpoint, TQDMProgressBar  # noqa: PLC0415

    class SamplesBar(TQDMProgressBar):
        def __init__(self):
            super().__init__()
            self._samples, self._since = 0, None

        def on_train_epoch_start(self, trainer, pl_module):
            super().on_train_epoch_start(trainer, pl_module)
            self._samples, self._since = 0, time.perf_counter()

        def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
            self._samples += int(batch["input_ids"].shape[0])
            super().on_train_batch_end(trainer, pl_module, outputs, batch, batch_idx)

        def get_metrics(self, trainer, pl_module):
            metrics = super().get_metrics(trainer, pl_module)
            if self._since is not None and self._samples:
                metrics["samples/s"] = f"{self._samples / max(time.perf_counter() - self._since, 1e-9):.1f}"
            monitor = next((c.monitor for c in trainer.callbacks if isinstance(c, ModelCheckpoint) and c.monitor), None)
            if monitor in trainer.callback_metrics:
                metrics[monitor] = f"{float(trainer.callback_metrics[monitor]):.4f}"
            return metrics

    return SamplesBar()
