"""Metric scorers for the bootstrap: score many resamples of one prediction file at once.

A scorer takes ``gold`` and ``pred`` of shape (resamples, items) and returns one score per
resample. Built in: ``acc``, ``f1_macro`` (equal to ``sklearn.metrics.f1_score(average="macro")``
on each resample: the classes are those present in that resample's gold or predictions),
``pearson`` and ``spearman`` (ties get average ranks, as ``scipy.stats.spearmanr``), and the
extractive QA item scorers ``em`` and ``f1`` (the runs' own scoring, ``itt.tasks.extractive_qa.scoring``).

Token classification saves one item per sentence whose ``gold`` and ``pred`` are lists of tag names
(``pred`` None for a word cut off by max_length). On such items ``acc`` is word accuracy (correct words
over words of the resampled sentences) and ``f1``, ``precision`` and ``recall`` are micro entity-span
scores (seqeval's), both pooled from per-sentence counts (:mod:`itt.tag_scores`, the same counts the
run's evaluator used): what was logged for the run is what the bootstrap resamples.

New task kinds add theirs with :func:`register_scorer` (corpus-level metrics) or, for metrics
that are a mean over items (exact match), :func:`register_item_scorer`, which scores each
item once and lets the bootstrap average resampled item scores::

    from itt.report.scorers import register_item_scorer
    register_item_scorer("em", lambda gold, pred: float(pred in gold["text"]))
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy.stats import rankdata

from itt import tag_scores

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


# (task kind or None for any kind, metric name) -> scorer: kinds share metric names (``f1`` is entity
# span F1 for token classification and answer-token F1 for extractive QA).
_SCORERS: dict[tuple[str | None, str], Scorer] = {}


def register_scorer(name: str, fn: BatchFn, prepare=None, kind: str | None = None) -> BatchFn:
    """Register a batched scorer ``fn(gold[B, n], pred[B, n]) -> [B]`` for metric ``name`` (of task
    ``kind``, or of any kind); ``prepare(gold, pred) -> (gold, pred)`` runs once before resampling."""
    _SCORERS[(kind, name)] = Scorer(name, batch=fn, prepare=prepare)
    return fn


def register_item_scorer(name: str, fn: ItemFn, kind: str | None = None) -> ItemFn:
    """Register a per-item scorer; the metric is the mean of ``fn(gold, pred)`` over items."""
    _SCORERS[(kind, name)] = Scorer(name, item=fn)
    return fn


def get_scorer(name: str, kind: str | None = None) -> Scorer | None:
    """The scorer of a bare metric name (``acc``, not ``test/acc``) for runs of task ``kind``: the
    kind's own, else the one registered for any kind; None if none is registered."""
    bare = str(name).rsplit("/", 1)[-1]
    return _SCORERS.get((kind, bare)) or _SCORERS.get((None, bare))


def accuracy(gold: np.ndarray, pred: np.ndarray) -> np.ndarray:
    if gold.ndim == 3:  # per-sentence (correct words, words) counts of tag sequences (word_count_items)
        totals = gold.sum(axis=1)
        return totals[:, 0] / np.maximum(totals[:, 1], 1)
    return (gold == pred).mean(axis=1)


def is_sequence_items(gold: np.ndarray) -> bool:
    """Items that are sequences (token classification: one list of tags per sentence)."""
    return gold.dtype == object and len(gold) > 0 and isinstance(gold[0], (list, tuple))


def word_count_items(gold: np.ndarray, pred: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``acc``'s preparation: tag sequences become per-sentence (correct, words) counts; labels stay."""
    if not is_sequence_items(gold):
        return gold, pred
    counts = np.array([tag_scores.word_counts(g, p) for g, p in zip(gold, pred)], dtype=float).reshape(-1, 2)
    return counts, counts


def span_count_items(gold: np.ndarray, pred: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-sentence (true positive, predicted, gold) entity counts of tag sequences. Items that are not
    sequences (another kind's ``f1``) get NaN counts: the bootstrap then reports the metric as undefined
    instead of scoring them as spans."""
    if not is_sequence_items(gold):
        counts = np.full((len(gold), 3), np.nan)
    else:
        counts = np.array([tag_scores.span_counts(g, p) for g, p in zip(gold, pred)], dtype=float).reshape(-1, 3)
    return counts, counts


def _span_metric(name: str) -> BatchFn:
    def score(counts: np.ndarray, _unused: np.ndarray) -> np.ndarray:
        tp, n_pred, n_gold = counts.sum(axis=1).T
        num, denom = {"precision": (tp, n_pred), "recall": (tp, n_gold), "f1": (2 * tp, n_pred + n_gold)}[name]
        value = np.divide(num, denom, out=np.zeros_like(num), where=denom > 0)  # 0 when nothing to divide by, as seqeval
        return np.where(np.isnan(tp), np.nan, value)
    return score


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


register_scorer("acc", accuracy, prepare=word_count_items)
for _name in ("f1", "precision", "recall"):
    register_scorer(_name, _span_metric(_name), prepare=span_count_items, kind="token_classification")
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
register_item_scorer("em", _extractive_qa(0), kind="extractive_qa")
register_item_scorer("f1", _extractive_qa(1), kind="extractive_qa")
