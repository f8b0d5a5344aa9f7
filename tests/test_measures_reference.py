"""The five measures against straightforward reference implementations of their published definitions
(numpy, scipy, scikit-learn written out here), on small random inputs: Jensen–Shannon from token counts,
Gretton et al.'s MMD²_u with the median heuristic, Ben-David et al.'s PAD = 2(1 − 2ε) from a hand-rolled
cross-validation, top-k overlap from word counts, and the cosine of the mean embeddings."""

from __future__ import annotations

import math
import re
from collections import Counter
from itertools import product

import numpy as np
import pytest
from scipy.spatial.distance import cdist, cosine, pdist
from scipy.stats import entropy
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import balanced_accuracy_score
from sklearn.model_selection import StratifiedKFold
from sklearn.preprocessing import StandardScaler

from itt.measures import TextSample, compute


def embedded_pair(x: np.ndarray, y: np.ndarray) -> tuple[TextSample, TextSample]:
    """Two samples whose (shared) ``embed`` returns the given rows."""
    table = {**{f"x{i}": r for i, r in enumerate(x)}, **{f"y{i}": r for i, r in enumerate(y)}}

    def embed(texts):
        return np.array([table[t] for t in texts])

    return (TextSample([f"x{i}" for i in range(len(x))], "en", embed=embed),
            TextSample([f"y{i}" for i in range(len(y))], "en", embed=embed))


def token_pair(ids_a: list[list[int]], ids_b: list[list[int]]) -> tuple[TextSample, TextSample]:
    """Two samples whose (shared) ``tokenize`` returns the given ids."""
    table = {**{f"a{i}": r for i, r in enumerate(ids_a)}, **{f"b{i}": r for i, r in enumerate(ids_b)}}

    def tokenize(texts):
        return [table[t] for t in texts]

    return (TextSample([f"a{i}" for i in range(len(ids_a))], "en", tokenize),
            TextSample([f"b{i}" for i in range(len(ids_b))], "en", tokenize))


@pytest.mark.parametrize("seed", range(4))
def test_unigram_js_equals_the_textbook_definition_from_counts(seed):
    rng = np.random.default_rng(seed)
    # Zipf-ish token ids, overlapping but unequal supports and lengths
    ids_a = [list(rng.zipf(1.6, size=rng.integers(1, 12)) % 40) for _ in range(30)]
    ids_b = [list((rng.zipf(1.4, size=rng.integers(1, 12)) + 7) % 55) for _ in range(17)]
    counts_a, counts_b = Counter(t for r in ids_a for t in r), Counter(t for r in ids_b for t in r)
    vocab = sorted(set(counts_a) | set(counts_b))
    p = np.array([counts_a[t] for t in vocab], float) / sum(counts_a.values())
    q = np.array([counts_b[t] for t in vocab], float) / sum(counts_b.values())
    m = (p + q) / 2
    reference = 0.5 * entropy(p, m) + 0.5 * entropy(q, m)  # KL to the mixture, natural log
    value = compute("unigram_js", *token_pair(ids_a, ids_b))["unigram_js"]
    assert value == pytest.approx(reference, abs=1e-14)
    assert 0.0 <= value / math.log(2) <= 1.0  # in bits: the [0, 1] of base 2
    assert value / math.log(2) == pytest.approx(0.5 * entropy(p, m, base=2) + 0.5 * entropy(q, m, base=2), abs=1e-14)


def mmd2_reference(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """(MMD²_u, MMD²_b) of Gretton et al. 2012 (eq. 3, or Lemma 6 when m = n; and eq. 5), RBF with σ = median
    pooled distance."""
    sigma = np.median(pdist(np.vstack([x, y])))
    kxx, kyy, kxy = (np.exp(-cdist(p, q, "sqeuclidean") / (2 * sigma**2)) for p, q in ((x, x), (y, y), (x, y)))
    m, n = len(x), len(y)
    across = (kxy.sum() - np.trace(kxy)) / (m * (m - 1)) if m == n else kxy.mean()
    unbiased = ((kxx.sum() - np.trace(kxx)) / (m * (m - 1)) + (kyy.sum() - np.trace(kyy)) / (n * (n - 1))
                - 2 * across)
    biased = kxx.mean() + kyy.mean() - 2 * kxy.mean()
    return float(unbiased), float(biased)


@pytest.mark.parametrize(("m", "n", "shift"), [(9, 9, 0.0), (12, 5, 0.7), (4, 15, 2.0), (30, 31, 0.2)])
def test_mmd_is_gretton_unbiased_estimator_with_the_median_heuristic(m, n, shift):
    rng = np.random.default_rng(m * 100 + n)
    x = rng.normal(size=(m, 6)) * 3.0 + 10.0  # an offset common to both: anisotropic like encoder outputs
    y = rng.normal(size=(n, 6)) * 3.0 + 10.0 + shift
    unbiased, biased = mmd2_reference(x, y)
    value = compute("mmd", *embedded_pair(x, y))["mmd"]
    assert value == pytest.approx(unbiased, abs=1e-12)
    assert abs(value - biased) > 1e-3  # the diagonal k(x_i, x_i) = 1 terms are excluded, not the V-statistic


def pad_reference(x: np.ndarray, y: np.ndarray, seed: int, C: float = 1.0) -> float:
    """2(1 − 2ε), ε the held-out balanced error over stratified 5-fold cross-validation, clipped at 0."""
    z = np.vstack([x, y])
    labels = np.r_[np.zeros(len(x), int), np.ones(len(y), int)]
    predicted = np.full(len(z), -1)
    for train, test in StratifiedKFold(5, shuffle=True, random_state=seed).split(z, labels):
        scaler = StandardScaler().fit(z[train])
        model = LogisticRegression(C=C, class_weight="balanced", max_iter=1000)
        model.fit(scaler.transform(z[train]), labels[train])
        predicted[test] = model.predict(scaler.transform(z[test]))
    assert (predicted >= 0).all()  # every row predicted once, held out
    epsilon = 1.0 - balanced_accuracy_score(labels, predicted)
    return max(0.0, 2.0 * (1.0 - 2.0 * epsilon))


@pytest.mark.parametrize(("seed", "shift", "C"), list(product((0, 3), (0.0, 0.5, 1.5), (1.0, 0.05))))
def test_pad_is_two_times_one_minus_twice_the_held_out_error(seed, shift, C):
    rng = np.random.default_rng(seed + 10)
    x, y = rng.normal(size=(40, 5)), rng.normal(size=(40, 5))
    y[:, :2] += shift
    value = compute("proxy_a_distance", *embedded_pair(x, y), seed=seed, C=C)["proxy_a_distance"]
    assert value == pytest.approx(pad_reference(x, y, seed, C), abs=1e-12)


def test_pad_of_equal_samples_uses_the_plain_held_out_error():
    # equal sizes (as itt.measure draws them): the balanced error is the plain error of Ben-David et al.
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(50, 4)), rng.normal(size=(50, 4)) + 0.6
    z, labels = np.vstack([x, y]), np.r_[np.zeros(50, int), np.ones(50, int)]
    errors = 0
    for train, test in StratifiedKFold(5, shuffle=True, random_state=0).split(z, labels):
        scaler = StandardScaler().fit(z[train])
        model = LogisticRegression(max_iter=1000).fit(scaler.transform(z[train]), labels[train])
        errors += int((model.predict(scaler.transform(z[test])) != labels[test]).sum())
    plain = errors / len(z)
    value = compute("proxy_a_distance", *embedded_pair(x, y), seed=0)["proxy_a_distance"]
    assert value == pytest.approx(2 * (1 - 2 * plain), abs=1e-12) and value > 0


def test_embedding_cosine_is_scipys_cosine_distance_of_the_centroids():
    rng = np.random.default_rng(2)
    for m, n in ((5, 5), (8, 3), (20, 40)):
        x, y = rng.normal(size=(m, 7)) + 1.0, rng.normal(size=(n, 7)) + 1.3
        value = compute("embedding_cosine", *embedded_pair(x, y))["embedding_cosine"]
        assert value == pytest.approx(cosine(x.mean(0), y.mean(0)), abs=1e-14)


STOP = {"the", "a", "of", "and", "is", "in", "to", "it"}


def top_k_reference(texts: list[str], k: int) -> dict[str, float]:
    """Each word's chance to be in the top k when ties at the k-th count are broken at random."""
    counts = Counter(w for t in texts for w in re.findall(r"[a-z]+", t.lower()) if w not in STOP and len(w) > 1)
    ranked = sorted(counts.values(), reverse=True)
    if len(ranked) <= k:
        return {w: 1.0 for w in counts}
    kth = ranked[k - 1]
    places = k - sum(n > kth for n in ranked)
    tied = sum(n == kth for n in ranked)
    return {w: 1.0 if n > kth else places / tied for w, n in counts.items() if n >= kth}


@pytest.mark.parametrize("k", [3, 10, 40, 10_000])
def test_vocab_overlap_is_the_share_of_shared_top_k_content_words(k):
    rng = np.random.default_rng(k)
    words = [f"{a}{b}" for a in "bcdfghkl" for b in ("ar", "en", "ox", "um")]  # 32 content words
    stop = sorted(STOP)

    def text(weights):
        return " ".join(rng.choice(words, p=weights) if rng.random() < 0.7 else rng.choice(stop) for _ in range(12))

    wa = rng.dirichlet(np.ones(len(words)) * 0.5)
    wb = 0.5 * wa + 0.5 * rng.dirichlet(np.ones(len(words)) * 0.5)
    texts_a, texts_b = [text(wa).capitalize() + "." for _ in range(25)], [text(wb).upper() for _ in range(25)]
    top_a, top_b = top_k_reference(texts_a, k), top_k_reference(texts_b, k)
    shared = sum(p * top_b[w] for w, p in top_a.items() if w in top_b)
    expected = shared / min(len(top_a), len(top_b), k)  # = E|∩| / k when both have >= k words
    value = compute("vocab_overlap", TextSample(texts_a, "en"), TextSample(texts_b, "en"), k=k)["vocab_overlap"]
    assert value == pytest.approx(expected, abs=1e-15)
    if k <= 10:
        assert sum(top_a.values()) == pytest.approx(k) and sum(top_b.values()) == pytest.approx(k)  # the paper's / k
