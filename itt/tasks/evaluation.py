"""The evaluator every kind builds on: a torchmetrics ``Metric`` that keeps one prediction and one gold
value per evaluation item, in fp32 (or as integers), and scores them once per epoch.

Keeping the items (not running sums) costs a few KB per thousand rows and buys three things: the
metrics are computed on the whole split in row order (the same on one process and under DDP, where
torchmetrics concatenates the items of every process), the per-item predictions a run saves for
item-level bootstrap intervals in the report come from the same numbers, and a kind only writes
``predict`` (outputs -> one value per item) and ``score`` (all items -> metrics).
"""

from __future__ import annotations

import torch
from torchmetrics import Metric


class ItemMetric(Metric):
    full_state_update = False

    def __init__(self, pred_dtype: torch.dtype):
        super().__init__()
        self.pred_dtype = pred_dtype
        self.add_state("idx", default=[], dist_reduce_fx="cat")
        self.add_state("preds", default=[], dist_reduce_fx="cat")
        self.add_state("golds", default=[], dist_reduce_fx="cat")

    def predict(self, outputs, batch) -> torch.Tensor:
        raise NotImplementedError

    def score(self, preds: torch.Tensor, golds: torch.Tensor) -> dict[str, torch.Tensor]:
        raise NotImplementedError

    def update(self, outputs, batch) -> None:
        self.idx.append(batch["idx"].detach().long())
        self.preds.append(self.predict(outputs, batch).detach().to(self.pred_dtype))
        self.golds.append(batch["labels"].detach().to(self.pred_dtype))

    def _ordered(self) -> tuple[torch.Tensor, torch.Tensor]:
        idx, preds, golds = (_cat(s) for s in (self.idx, self.preds, self.golds))
        order = torch.argsort(idx)
        return preds[order], golds[order]

    def compute(self) -> dict[str, torch.Tensor]:
        return self.score(*self._ordered())

    def items(self) -> list[dict]:
        """Every item's prediction and gold value in row order (all processes' items under DDP)."""
        with self.sync_context(should_sync=True):
            preds, golds = self._ordered()
        return [{"pred": p, "gold": g} for p, g in zip(preds.tolist(), golds.tolist())]


def _cat(state) -> torch.Tensor:
    # A list before any sync, one tensor after torchmetrics concatenated the processes' lists.
    return torch.cat(state) if isinstance(state, list) else state
