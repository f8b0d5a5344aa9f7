"""Reference models for the embedded-data tests, standard library only: a bag-of-words naive Bayes,
Spearman's rank correlation and word-set Jaccard (cross-checked against scipy in the tests)."""

from __future__ import annotations

import math
import re
import statistics
from collections import Counter


def tokens(text: str) -> list[str]:
    return re.findall(r"\w+", text.lower())


class NaiveBayes:
    """Multinomial naive Bayes with add-one smoothing over lower-cased word tokens.

    ``features(row)`` gives the row's words; by default the text (and its pair, prefixed "b:").
    """

    def __init__(self, features=None):
        self.features = features or (lambda row: tokens(row["text"]) + ["b:" + w for w in tokens(row.get("text_pair", ""))])

    def fit(self, rows: list[dict]) -> NaiveBayes:
        self.counts: dict[int, Counter] = {}
        self.docs: Counter = Counter()
        for row in rows:
            self.docs[row["label"]] += 1
            self.counts.setdefault(row["label"], Counter()).update(self.features(row))
        self.vocab = set().union(*self.counts.values())
        self.totals = {label: sum(c.values()) for label, c in self.counts.items()}
        return self

    def predict(self, row: dict) -> int:
        n_docs = sum(self.docs.values())
        words = [w for w in self.features(row) if w in self.vocab]  # unseen words carry no evidence

        def score(label: int) -> float:
            denominator = self.totals[label] + len(self.vocab)
            counts = self.counts[label]
            return math.log(self.docs[label] / n_docs) + sum(
                math.log((counts[w] + 1) / denominator) for w in words)

        return max(self.counts, key=score)

    def accuracy(self, rows: list[dict]) -> float:
        return sum(self.predict(r) == r["label"] for r in rows) / len(rows)


def ranks(values: list[float]) -> list[float]:
    """Ranks starting at 1, ties get their average rank."""
    order = sorted(range(len(values)), key=values.__getitem__)
    out = [0.0] * len(values)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        for k in range(i, j + 1):
            out[order[k]] = (i + j) / 2 + 1
        i = j + 1
    return out


def spearman(x: list[float], y: list[float]) -> float:
    rx, ry = ranks(x), ranks(y)
    mx, my = statistics.fmean(rx), statistics.fmean(ry)
    cov = sum((a - mx) * (b - my) for a, b in zip(rx, ry))
    return cov / math.sqrt(sum((a - mx) ** 2 for a in rx) * sum((b - my) ** 2 for b in ry))


def jaccard(a: str, b: str) -> float:
    sa, sb = set(tokens(a)), set(tokens(b))
    return len(sa & sb) / len(sa | sb)
