"""A graded score for a text pair (semantic similarity), regressed on a [0, 1] scale."""

from __future__ import annotations

import torch
from torchmetrics import MetricCollection
from torchmetrics.regression import PearsonCorrCoef, SpearmanCorrCoef

from itt.tasks.base import Task


class SequenceRegression(Task):
    kind = "sequence_regression"
    metric_names = ("pearson", "spearman")
    label_dtype = torch.float

    def model_kwargs(self, labels):
        return {"num_labels": 1, "problem_type": "regression"}

    def label_space(self, labels):
        return (self.kind, "score in [0, 1]")

    def metrics(self, prefix, labels):
        return MetricCollection({"pearson": PearsonCorrCoef(), "spearman": SpearmanCorrCoef()}, prefix=prefix)

    def predictions(self, logits: torch.Tensor) -> torch.Tensor:
        return logits.squeeze(-1).float()
