"""Jensen–Shannon divergence between unigram token distributions (Ruder & Plank 2017, "Learning to
select data for transfer learning with Bayesian Optimization", EMNLP: JS divergence of term
distributions as a domain similarity; Lin 1991 for the divergence itself).

What is computed: P and Q are the relative frequencies of the token ids of every text of sample A
and B (``TextSample.token_ids``, one shared ``tokenize`` callable), after dropping the ids in
``exclude_ids``. With M = (P + Q) / 2,

    JS(P, Q) = ½ Σ_t P(t) ln(P(t)/M(t)) + ½ Σ_t Q(t) ln(Q(t)/M(t))      (terms with P(t)=0 or Q(t)=0 are 0)

in NATURAL log, so the value lies in [0, ln 2]: 0 for identical distributions, ln 2 ≈ 0.693 for
disjoint supports. It is a DIVERGENCE (larger = further apart). It equals the square of
``scipy.spatial.distance.jensenshannon(P, Q)`` (whose default base is also e).

Special tokens ([CLS], [SEP], <s>, padding, ...) must not count: they occur once or twice per text
in both samples and would pull every pair towards 0. ``itt.measures.hf_tokenize(tokenizer)`` already
leaves them out (``add_special_tokens=False``); for a ``tokenize`` that adds them, pass their ids as
``exclude_ids``.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from itt.errors import DataError
from itt.measures.registry import register
from itt.measures.text_sample import TextSample, shared_tokenize


def js_divergence(p: np.ndarray, q: np.ndarray) -> float:
    """JS divergence (natural log) of two probability vectors over the same support."""
    m = (p + q) / 2.0
    return float(0.5 * _kl_to_mixture(p, m) + 0.5 * _kl_to_mixture(q, m))


def _kl_to_mixture(p: np.ndarray, m: np.ndarray) -> float:
    seen = p > 0  # m >= p/2 > 0 wherever p > 0, so the ratio is finite
    return float(np.sum(p[seen] * np.log(p[seen] / m[seen])))


def unigram_distributions(a: TextSample, b: TextSample,
                          exclude_ids: Iterable[int] = ()) -> tuple[np.ndarray, np.ndarray]:
    """P and Q over the union of both samples' token ids (same order for both)."""
    shared_tokenize(a, b)
    ids_a = np.fromiter((t for row in a.token_ids for t in row), dtype=np.int64)
    ids_b = np.fromiter((t for row in b.token_ids for t in row), dtype=np.int64)
    excluded = np.fromiter(exclude_ids, dtype=np.int64)
    ids_a, ids_b = ids_a[~np.isin(ids_a, excluded)], ids_b[~np.isin(ids_b, excluded)]
    for side, ids in (("a", ids_a), ("b", ids_b)):
        if ids.size == 0:
            raise DataError(f"unigram_js: sample {side} has no tokens left "
                            f"after excluding ids {sorted(set(excluded.tolist()))}")
    vocabulary, index = np.unique(np.concatenate([ids_a, ids_b]), return_inverse=True)
    counts_a = np.bincount(index[: ids_a.size], minlength=vocabulary.size).astype(np.float64)
    counts_b = np.bincount(index[ids_a.size:], minlength=vocabulary.size).astype(np.float64)
    return counts_a / counts_a.sum(), counts_b / counts_b.sum()


@register("unigram_js")
def measure(a: TextSample, b: TextSample, exclude_ids: Iterable[int] = ()) -> float:
    """JS divergence (nats) of the two samples' unigram token distributions."""
    return js_divergence(*unigram_distributions(a, b, exclude_ids))
