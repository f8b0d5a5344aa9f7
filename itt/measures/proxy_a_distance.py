"""Proxy A-distance (Ben-David et al. 2007, "Analysis of Representations for Domain Adaptation",
NIPS; Ben-David et al. 2010, "A theory of learning from different domains", MLJ; as used by Glorot
et al. 2011 and Ganin et al. 2016): how well a linear classifier tells the two samples apart.

What is computed: the rows of A's embeddings are labelled 0 and B's 1. A classifier —
``StandardScaler`` then ``LogisticRegression(C=C, class_weight="balanced", max_iter=1000)``
(scikit-learn, lbfgs) — is trained and tested by STRATIFIED 5-FOLD cross-validation
(``StratifiedKFold(n_splits=min(5, smaller sample), shuffle=True, random_state=seed)``; the scaler
is fit on each training fold only). Every row is predicted once, by the model that did not see it,
and ε is the held-out BALANCED error (mean of the two classes' error rates: 0.5 for a guess whatever
the sample sizes). The value is

    PAD = 2 (1 − 2ε), clipped below at 0

a DIVERGENCE in [0, 2]: 2 = perfectly separable, 0 = indistinguishable. ε > 0.5 (the classifier does
worse than chance on held-out rows, which happens by noise, or systematically when the two samples
share rows: a row's twin with the other label sits in the training folds) says "no evidence of a
difference" and gives 0, not a negative distance. Deterministic for a given ``seed``. Twins bias it low
short of that too, so ``itt.measure`` draws two samples that share no item (``text_sample.disjoint_items``).
"""

from __future__ import annotations

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from itt.errors import ConfigError, DataError
from itt.measures.registry import register
from itt.measures.text_sample import TextSample, paired_embeddings

FOLDS = 5


def held_out_balanced_error(x: np.ndarray, y: np.ndarray, seed: int = 0, C: float = 1.0) -> float:
    """ε: the cross-validated balanced error of a linear classifier separating rows ``x`` from ``y``."""
    features = np.vstack([x, y])
    labels = np.concatenate([np.zeros(len(x), dtype=int), np.ones(len(y), dtype=int)])
    folds = StratifiedKFold(n_splits=min(FOLDS, len(x), len(y)), shuffle=True, random_state=seed)
    classifier = make_pipeline(StandardScaler(), LogisticRegression(C=C, class_weight="balanced", max_iter=1000))
    predicted = cross_val_predict(classifier, features, labels, cv=folds)
    return float(np.mean([np.mean(predicted[labels == c] != c) for c in (0, 1)]))


@register("proxy_a_distance")
def measure(a: TextSample, b: TextSample, seed: int = 0, C: float = 1.0) -> float:
    """2(1 − 2ε) from the held-out balanced error ε of a linear domain classifier, clipped to [0, 2]."""
    if not (isinstance(C, (int, float)) and C > 0):
        raise ConfigError(f"proxy_a_distance C={C!r} must be a positive number (inverse regularisation strength)")
    x, y = paired_embeddings(a, b)
    if min(len(x), len(y)) < 2:
        raise DataError(f"proxy_a_distance needs at least 2 texts per sample for held-out folds "
                        f"(got {len(x)} and {len(y)})")
    epsilon = held_out_balanced_error(x, y, seed=seed, C=C)
    return float(min(2.0, max(0.0, 2.0 * (1.0 - 2.0 * epsilon))))
