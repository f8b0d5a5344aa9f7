"""Metric scorers for the bootstrap: score many resamples of one prediction file at once.

A scorer takes ``gold`` and ``pred`` of shape (resamples, items) and returns one score per
resample. Built in: ``acc``, ``f1_macro`` (equal to ``sklearn.metrics.f1_score(average="macro")``
on each resample: the classes are those present in that resample's gold or predictions),
``pearson`` and ``spearman`` (ties get average ranks, as ``scipy.stats.spearmanr``), and the
extractive QA item scorers ``em`` and ``f1`` (the runs' own scoring, ``itt.tasks.extractive_qa.scoring``).

New task kinds add theirs with :func:`register_scorer` (corpus-level metrics) or, for metrics
that are a mean over items (exact match, span F1), :func:`register_item_scorer`, which scores each
item once and lets the bootstrap average resampled item scores::

    from itt.report.scorers import register_item_scorer
    register_item_scorer("em", lambda gold, pred: float(pred in gold["text"]))
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy.stats import rankdata

BatchFn = Callable[[np.ndarray, np.ndarray], np.ndarray]
ItemFn = Callable[[object, object], float]


@dataclass(frozen=True)
class Scorer:
    name: str
    batch: BatchFn | None = None      # (gold[B, n], pred[B, n]) -> [B]
    item: ItemFn | None = None        # (gold item, pred item) -> float; metric = mean over items
    # Applied once to the whole (gold, pred) before resampling, e.g. labels -> integer codes.
    prepare: Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]] | None = None

    def on_indices(self, gold: np.ndarray, pred: np.ndarray, idx: np.ndarray,
                   item_scores: np.ndarray | None = None) -> np.ndarray:
        """Score each row of the index matrix ``idx`` (resamples × items)."""
        if self.item is not None:
            scores = self.item_scores(gold, pred) if item_scores is None else item_scores
            return scores[idx].mean(axis=1)
        if self.prepare is not None:
            gold, pred = self.prepare(gold, pred)
        return self.batch(gold[idx], pred[idx])

    def item_scores(self, gold: np.ndarray, pred: np.ndarray) -> np.ndarray:
        return np.array([self.item(g, p) for g, p in zip(gold, pred)], dtype=float)

    def __call__(self, gold, pred) -> float:
        """Score of one full prediction file."""
        gold, pred = np.asarray(gold), np.asarray(pred)
        return float(self.on_indices(gold, pred, np.arange(len(gold))[None, :])[0])


_SCORERS: dict[str, Scorer] = {}


def register_scorer(name: str, fn: BatchFn, prepare=None) -> BatchFn:
    """Register a batched scorer ``fn(gold[B, n], pred[B, n]) -> [B]`` for metric ``name``;
    ``prepare(gold, pred) -> (gold, pred)`` runs once on the full arrays before resampling."""
    _SCORERS[name] = Scorer(name, batch=fn, prepare=prepare)
    return fn


def register_item_scorer(name: str, fn: ItemFn) -> ItemFn:
    """Register a per-item scorer; the metric is the mean of ``fn(gold, pred)`` over items."""
    _SCORERS[name] = Scorer(name, item=fn)
    return fn


def get_scorer(name: str) -> Scorer | None:
    """The scorer of a bare metric name (``acc``, not ``test/acc``); None if none is registered."""
    return _SCORERS.get(str(name).rsplit("/", 1)[-1])


def accuracy(gold: np.ndarray, pred: np.ndarray) -> np.ndarray:
    return (gold == pred).mean(axis=1)


def label_codes(gold: np.ndarray, pred: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Integer class codes over both arrays, so string and integer labels work alike."""
    _, codes = np.unique(np.concatenate([np.ravel(gold), np.ravel(pred)]), return_inverse=True)
    return codes[:np.size(gold)].reshape(np.shape(gold)), codes[np.size(gold):].reshape(np.shape(pred))


def f1_macro(gold: np.ndarray, pred: np.ndarray) -> np.ndarray:
    if not (np.issubdtype(gold.dtype, np.integer) and np.issubdtype(pred.dtype, np.integer)
            and gold.min(initial=0) >= 0 and pred.min(initial=0) >= 0):
        gold, pred = label_codes(gold, pred)
    k = int(max(gold.max(initial=0), pred.max(initial=0))) + 1
    rows = gold.shape[0]
    # One confusion matrix per resample, from a single bincount over (row, gold, pred).
    flat = (np.arange(rows)[:, None] * (k * k) + gold * k + pred).ravel()
    conf = np.bincount(flat, minlength=rows * k * k).reshape(rows, k, k)
    tp = np.diagonal(conf, axis1=1, axis2=2)
    denom = conf.sum(axis=2) + conf.sum(axis=1)       # 2tp + fp + fn per class
    present = denom > 0                               # sklearn's labels: present in y_true ∪ y_pred
    f1 = np.where(present, 2 * tp / np.maximum(denom, 1), 0.0)
    return f1.sum(axis=1) / np.maximum(present.sum(axis=1), 1)


def pearson(gold: np.ndarray, pred: np.ndarray) -> np.ndarray:
    g = gold.astype(float) - gold.astype(float).mean(axis=1, keepdims=True)
    p = pred.astype(float) - pred.astype(float).mean(axis=1, keepdims=True)
    denom = np.sqrt((g * g).sum(axis=1) * (p * p).sum(axis=1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denom > 0, (g * p).sum(axis=1) / denom, np.nan)


def spearman(gold: np.ndarray, pred: np.ndarray) -> np.ndarray:
    return pearson(rankdata(gold.astype(float), axis=1), rankdata(pred.astype(float), axis=1))


register_scorer("acc", accuracy)
register_scorer("f1_macro", f1_macro, prepare=label_codes)
register_scorer("pearson", pearson)
register_scorer("spearman", spearman)


def _extractive_qa(index: int) -> ItemFn:
    def score(gold, pred) -> float:
        # Imported on first use: the report does not load torch unless it scores QA predictions.
        from itt.tasks.extractive_qa.scoring import item_scores  # noqa: PLC0415

        return item_scores(gold, pred)[index]
    return score


# Extractive QA (itt.tasks.extractive_qa): exact match and token F1 of an item, max over its gold
# answers, normalised as the run scored them (SQuAD's or MLQA's per-language rules, stored with the gold).
register_item_scorer("em", _extractive_qa(0))
register_item_scorer("f1", _extractive_qa(1))
