"""Cosine distance between the mean embeddings of two samples (as in Vu et al. 2020, "Exploring and
Predicting Transferability across NLP Tasks", EMNLP, TextEmb: the average of a text encoder's
sentence embeddings represents a dataset, and cosine similarity compares two datasets).

What is computed: μ_A and μ_B are the means of the rows of each sample's embeddings
(``TextSample.embeddings``, one shared ``embed`` callable, e.g. ``mean_pooled_embedder``), and the
value is

    1 − cos(μ_A, μ_B) = 1 − μ_A·μ_B / (‖μ_A‖ ‖μ_B‖)

a DIVERGENCE in [0, 2]: 0 when the means point the same way, 1 when orthogonal, 2 when opposite.
(The cosine similarity itself is ``1 − value``; ``cosine_similarity`` returns it.) Contextual
encoders' mean embeddings are anisotropic (they share a large common direction), so in practice
values are small (often < 0.1) and only their ordering across pairs is informative.
"""

from __future__ import annotations

import numpy as np

from itt.errors import DataError
from itt.measures.registry import register
from itt.measures.text_sample import TextSample, paired_embeddings


def cosine_similarity(u: np.ndarray, v: np.ndarray) -> float:
    """u·v / (‖u‖ ‖v‖), clipped to [−1, 1] against rounding."""
    norms = float(np.linalg.norm(u)) * float(np.linalg.norm(v))
    if norms == 0.0:
        raise DataError("embedding_cosine: a mean embedding is the zero vector; its direction is undefined")
    return float(np.clip(np.dot(u, v) / norms, -1.0, 1.0))


@register("embedding_cosine")
def measure(a: TextSample, b: TextSample) -> float:
    """1 − cosine similarity of the two samples' mean embeddings."""
    x, y = paired_embeddings(a, b)
    return 1.0 - cosine_similarity(x.mean(axis=0), y.mean(axis=0))
