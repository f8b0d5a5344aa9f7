"""A graded score for a text or text pair (semantic similarity), regressed on a [0, 1] scale.

Canonical columns: ``text``, optional ``text_pair``, ``label`` (float in [0, 1]: the raw score scaled
from the spec's ``score_range``). Predictions are computed in fp32 (the head runs outside autocast,
``itt.models.heads``), so Pearson and Spearman never rank bf16-rounded ties.
"""

from __future__ import annotations

import math

import torch
from torchmetrics.functional import pearson_corrcoef, spearman_corrcoef

from itt.errors import DataError
from itt.tasks.base import Task, require_columns
from itt.tasks.evaluation import ItemMetric
from itt.tasks.text_inputs import encode_texts, text_columns

SCORE_BINS = 5  # a stratified split keeps the share of each fifth of the score range


class SequenceRegression(Task):
    kind = "sequence_regression"
    metric_names = ("spearman", "pearson")
    label_dtype = torch.float

    def canonical_batch(self, batch, rows, raw):
        spec = raw.spec
        require_columns(batch, [*spec.text_fields, spec.label_field], raw.where)
        lo, hi = spec.score_range or (0.0, 1.0)
        texts, positions = text_columns(batch, spec.text_fields, raw)
        labels = []
        for pos in positions:
            value = batch[spec.label_field][pos]
            try:
                score = float(value)
            except (TypeError, ValueError):
                score = math.nan
            if not math.isfinite(score) or not lo <= score <= hi:
                raise DataError(f"{raw.where} row {rows[pos]}: score {value!r} is not a number in score_range [{lo}, {hi}]")
            labels.append((score - lo) / (hi - lo))
        return {**texts, "label": labels}, positions

    def strata(self, dataset):
        return [min(int(v * SCORE_BINS), SCORE_BINS - 1) for v in dataset["label"][:]]

    def encode(self, batch, tokenizer, max_length, training):
        return encode_texts(batch, tokenizer, max_length)

    def auto_model(self):
        from transformers import AutoModelForSequenceClassification

        return AutoModelForSequenceClassification

    def model_kwargs(self, labels):
        return {"num_labels": 1, "problem_type": "regression"}

    def label_space(self, labels):
        return (self.kind, "score in [0, 1]")

    def evaluator(self, labels, rows=None):
        return RegressionMetric()


class RegressionMetric(ItemMetric):
    def __init__(self):
        super().__init__(torch.float32)

    def predict(self, outputs, batch):
        return outputs.logits.squeeze(-1).float()

    def score(self, preds, golds):
        return {"pearson": pearson_corrcoef(preds, golds), "spearman": spearman_corrcoef(preds, golds)}
