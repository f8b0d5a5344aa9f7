"""Single-label classification of a text or a text pair (topics, sentiment, NLI, paraphrase).

Canonical columns: ``text``, optional ``text_pair``, ``label`` (index into the label names).
Labels: the spec's ``labels`` in index order, else the dataset's ``ClassLabel`` names (through
``label_map`` when given), else the sorted distinct values. ``label_map`` maps a raw label (a
``ClassLabel`` name, or the raw value as a string) to a label name; ``null`` drops the row.
Metrics: accuracy and macro F1 over the label set (torchmetrics; equal to scikit-learn's, tested).
"""

from __future__ import annotations

import torch
from torchmetrics.functional.classification import multiclass_accuracy, multiclass_f1_score

from itt.errors import DataError
from itt.tasks.base import Task, require_columns
from itt.tasks.evaluation import ItemMetric
from itt.tasks.text_inputs import encode_texts, text_columns


class SequenceClassification(Task):
    kind = "sequence_classification"
    metric_names = ("acc", "f1_macro")

    def label_names(self, raw, spec):
        if spec.labels:
            return [str(n) for n in spec.labels]
        if spec.label_map:
            return list(dict.fromkeys(str(v) for v in spec.label_map.values() if v is not None))
        first = next(iter(raw.values()))
        if spec.label_field not in first.column_names:
            return []  # canonical_batch names the missing column
        feature = first.features[spec.label_field]
        if hasattr(feature, "names"):
            return list(feature.names)
        return sorted({str(v) for ds in raw.values() for v in ds.unique(spec.label_field) if v is not None})

    def canonical_batch(self, batch, rows, raw):
        spec = raw.spec
        require_columns(batch, [*spec.text_fields, spec.label_field], raw.where)
        names = raw.class_names(spec.label_field)
        index = {n: i for i, n in enumerate(raw.labels)}
        texts, positions = text_columns(batch, spec.text_fields, raw)
        keep, labels = [], []
        for j, pos in enumerate(positions):
            label = self._label_index(batch[spec.label_field][pos], names, spec, index, raw.labels, raw.where, rows[pos])
            if label is None:  # label_map sends this label nowhere: dropped on purpose
                raw.drop(f"label mapped to null in {spec.label_field!r}")
                continue
            keep.append(j)
            labels.append(label)
        columns = {name: [column[j] for j in keep] for name, column in texts.items()}
        return {**columns, "label": labels}, [positions[j] for j in keep]

    @staticmethod
    def _label_index(raw, class_names, spec, index, labels, where, row):
        name = class_names[raw] if class_names and isinstance(raw, int) and 0 <= raw < len(class_names) else raw
        mapped = ""
        if spec.label_map is not None:
            key = str(name) if str(name) in spec.label_map else str(raw)
            if key not in spec.label_map:
                raise DataError(f"{where} row {row}: label {name!r} is not in label_map; mapped labels: "
                                f"{', '.join(spec.label_map)}")
            mapped = f" (label_map sends {name!r} there; set label_map to null if the data already uses the label names)"
            name = spec.label_map[key]
            if name is None:
                return None
        if str(name) in index:
            return index[str(name)]
        if isinstance(name, int) and not isinstance(name, bool) and 0 <= name < len(labels) and spec.labels \
                and spec.label_map is None and not class_names:
            return name  # integer labels that index the declared names
        hint = mapped or (" (map the dataset's names onto them with label_map)" if class_names else "")
        raise DataError(f"{where} row {row}: label {name!r} is not a declared label; valid: {', '.join(labels)}{hint}")

    def strata(self, dataset):
        return dataset["label"][:]

    def encode(self, batch, tokenizer, max_length, training):
        return encode_texts(batch, tokenizer, max_length)

    def auto_model(self):
        from transformers import AutoModelForSequenceClassification

        return AutoModelForSequenceClassification

    def model_kwargs(self, labels):
        return {"num_labels": len(labels), "id2label": dict(enumerate(labels)),
                "label2id": {name: i for i, name in enumerate(labels)},
                "problem_type": "single_label_classification"}

    def evaluator(self, labels, rows=None):
        return ClassificationMetric(max(len(labels), 2))


class ClassificationMetric(ItemMetric):
    def __init__(self, num_classes: int):
        super().__init__(torch.long)
        self.num_classes = num_classes

    def predict(self, outputs, batch):
        return outputs.logits.argmax(dim=-1)

    def score(self, preds, golds):
        n = self.num_classes
        return {"acc": multiclass_accuracy(preds, golds, n, average="micro"),
                "f1_macro": multiclass_f1_score(preds, golds, n, average="macro")}
