"""Task kinds: how labels become model outputs, which metrics judge them.

One small module per kind (``task.kind`` in the task config names it). A new kind (token
classification, extractive QA, ...) is a new module with a ``Task`` subclass added to ``KINDS``; the
data, training and ledger code do not change.
"""

from __future__ import annotations

from itt.errors import ConfigError
from itt.tasks.base import Task
from itt.tasks.sequence_classification import SequenceClassification
from itt.tasks.sequence_regression import SequenceRegression

KINDS: dict[str, type[Task]] = {
    "sequence_classification": SequenceClassification,
    "sequence_regression": SequenceRegression,
}


def get_task(kind: str, primary_metric: str) -> Task:
    if kind not in KINDS:
        raise ConfigError(f"task.kind={kind!r} is not a task kind; valid: {', '.join(KINDS)}")
    task = KINDS[kind]()
    if primary_metric not in task.metric_names:
        raise ConfigError(f"task.primary_metric={primary_metric!r} is not computed for {kind}; valid: {', '.join(task.metric_names)}")
    task.primary_metric = primary_metric
    return task


__all__ = ["Task", "get_task", "KINDS"]
