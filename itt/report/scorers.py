"""Metric scorers for the bootstrap: score many resamples of one prediction file at once.

A scorer takes ``gold`` and ``pred`` of shape (resamples, items) and returns one score per
resample. Built in: ``acc``, ``f1_macro`` (equal to ``sklearn.metrics.f1_score(average="macro")``
on each resample: the classes are those present in that resample's gold or predictions),
``pearson`` and ``spearman`` (ties get average ranks, as ``scipy.stats.spearmanr``).

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

    def on_indices(self, gold: np.ndarray, pred: np.ndarray, idx: np.ndarray,
                   item_scores: np.ndarray | None = None) -> np.ndarray:
        """Score each row of the index matrix ``idx`` (resamples × items)."""
        if self.item is not None:
            scores = self.item_scores(gold, pred) if item_scores is None else item_scores
            return scores[idx].mean(axis=1)
        return self.batch(gold[idx], pred[idx])

    def item_scores(self, gold: np.ndarray, pred: np.ndarray) -> np.ndarray:
        return np.array([self.item(g, p) for g, p in zip(gold, pred)], dtype=float)

    def __call__(self, gold, pred) -> float:
        """Score of one full prediction file."""
        gold, pred = np.asarray(gold), np.asarray(pred)
        return float(self.on_indices(gold, pred, np.arange(len(gold))[None, :])[0])


_SCORERS: dict[str, Scorer] = {}


def register_scorer(name: str, fn: BatchFn) -> BatchFn:
    """Register a batched scorer ``fn(gold[B, n], pred[B, n]) -> [B]`` for metric ``name``."""
    _SCORERS[name] = Scorer(name, batch=fn)
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


def f1_macro(gold: np.ndarray, pred: np.ndarray) -> np.ndarray:
    # Class codes over both arrays, so string and integer labels work alike.
    _, codes = np.unique(np.concatenate([gold.ravel(), pred.ravel()]), return_inverse=True)
    g, p = codes[:gold.size].reshape(gold.shape), codes[gold.size:].reshape(pred.shape)
    f1_sum = np.zeros(gold.shape[0])
    present = np.zeros(gold.shape[0])
    for k in range(int(codes.max()) + 1 if codes.size else 0):
        is_g, is_p = g == k, p == k
        tp = (is_g & is_p).sum(axis=1)
        denom = is_g.sum(axis=1) + is_p.sum(axis=1)   # 2tp + fp + fn
        here = denom > 0                              # sklearn's labels: present in y_true ∪ y_pred
        f1_sum += np.where(here, 2 * tp / np.maximum(denom, 1), 0.0)
        present += here
    return f1_sum / np.maximum(present, 1)


def pearson(gold: np.ndarray, pred: np.ndarray) -> np.ndarray:
    g = gold.astype(float) - gold.astype(float).mean(axis=1, keepdims=True)
    p = pred.astype(float) - pred.astype(float).mean(axis=1, keepdims=True)
    denom = np.sqrt((g * g).sum(axis=1) * (p * p).sum(axis=1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denom > 0, (g * p).sum(axis=1) / denom, np.nan)


def spearman(gold: np.ndarray, pred: np.ndarray) -> np.ndarray:
    return pearson(rankdata(gold.astype(float), axis=1), rankdata(pred.astype(float), axis=1))


for _name, _fn in (("acc", accuracy), ("f1_macro", f1_macro), ("pearson", pearson),
                   ("spearman", spearman)):
    register_scorer(_name, _fn)
