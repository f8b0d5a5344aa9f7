"""What every task kind provides to the data module, the model builder and the LightningModule."""

from __future__ import annotations

import torch
from torchmetrics import MetricCollection


class Task:
    kind: str = ""
    metric_names: tuple[str, ...] = ()
    primary_metric: str = ""
    label_dtype = torch.long

    def model_kwargs(self, labels: list[str]) -> dict:
        """Arguments for ``AutoModelFor...from_pretrained`` (num_labels, id2label, problem_type)."""
        raise NotImplementedError

    def label_space(self, labels: list[str]) -> tuple:
        """Two checkpoints whose label spaces are equal can share a head (ITT keeps it)."""
        raise NotImplementedError

    def metrics(self, prefix: str, labels: list[str]) -> MetricCollection:
        raise NotImplementedError

    def predictions(self, logits: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError
