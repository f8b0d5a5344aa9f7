"""Evaluation casts each weight to the autocast dtype once per evaluation epoch, not once per batch.

Lightning enters autocast per step with autocast's weight-cast cache off, and autocast drops its cache
when the outermost autocast context exits. ``EvalCastCache`` holds an outer (disabled) autocast context
open for each evaluation epoch, which keeps the cache alive across batches; its ``step()`` is a
cache-enabled autocast context inside Lightning's, which fills and reads it. The casts are autocast's
own, of weights that do not change while evaluating: the same numbers.

autocast caches nothing in inference mode (Lightning's evaluation default), so the cache only works
when the Trainer evaluates under ``no_grad`` (``Trainer(inference_mode=False)``, as
``itt.trainer.build_trainer`` builds it); under inference mode every batch casts afresh, as without it.
"""

from __future__ import annotations

import contextlib

import torch
from pytorch_lightning.callbacks import Callback


class EvalCastCache(Callback):
    """The weight-cast cache of one evaluation epoch. Its owner (``ITTModule``) registers it through
    ``configure_callbacks`` and runs each evaluation forward in ``step()``."""

    def __init__(self):
        self._scope: torch.autocast | None = None

    def _open(self, pl_module) -> None:
        self._close()
        self._scope = torch.autocast(pl_module.device.type, enabled=False)
        self._scope.__enter__()

    def _close(self) -> None:
        scope, self._scope = self._scope, None
        if scope is not None:
            scope.__exit__(None, None, None)  # the outermost exit clears autocast's cache

    def on_validation_epoch_start(self, trainer, pl_module) -> None:
        self._open(pl_module)

    def on_validation_epoch_end(self, trainer, pl_module) -> None:
        self._close()

    def on_test_epoch_start(self, trainer, pl_module) -> None:
        self._open(pl_module)

    def on_test_epoch_end(self, trainer, pl_module) -> None:
        self._close()

    def on_exception(self, trainer, pl_module, exception) -> None:
        # An exception inside an evaluation epoch (in a step or in the loader) skips the epoch's end: a
        # scope left open would keep the cast weights alive into later autocast regions of the process.
        self._close()

    @contextlib.contextmanager
    def step(self, device_type: str):
        """One evaluation forward, reading and filling the epoch's cache (when there is one to fill)."""
        if self._scope is None or not torch.is_autocast_enabled(device_type):
            yield
            return
        with torch.autocast(device_type, dtype=torch.get_autocast_dtype(device_type), cache_enabled=True):
            yield
