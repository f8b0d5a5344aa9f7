"""Single-label classification of a text or text pair (topics, sentiment, NLI)."""

from __future__ import annotations

import torch
from torchmetrics import MetricCollection
from torchmetrics.classification import MulticlassAccuracy, MulticlassF1Score

from itt.tasks.base import Task


class SequenceClassification(Task):
    kind = "sequence_classification"
    metric_names = ("acc", "f1_macro")

    def model_kwargs(self, labels):
        return {
            "num_labels": len(labels),
            "id2label": dict(enumerate(labels)),
            "label2id": {name: i for i, name in enumerate(labels)},
            "problem_type": "single_label_classification",
        }

    def label_space(self, labels):
        return (self.kind, tuple(labels))

    def metrics(self, prefix, labels):
        n = max(len(labels), 2)
        return MetricCollection(
            {"acc": MulticlassAccuracy(num_classes=n, average="micro"),
             "f1_macro": MulticlassF1Score(num_classes=n, average="macro")},
            prefix=prefix,
        )

    def predictions(self, logits: torch.Tensor) -> torch.Tensor:
        return logits.argmax(dim=-1)
