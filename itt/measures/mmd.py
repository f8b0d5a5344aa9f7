"""Maximum mean discrepancy with an RBF kernel (Gretton et al. 2012, "A Kernel Two-Sample Test",
JMLR 13; unbiased estimator MMD²_u of their eq. 3 and Lemma 6, median heuristic of their section 8).

What is computed, on the two samples' embeddings X (m rows) and Y (n rows):

    σ   = median of the Euclidean distances ‖z_i − z_j‖ over all pairs i < j of the pooled sample Z = X ∪ Y
    k(x, y) = exp(−‖x − y‖² / (2σ²))
    MMD²_u = 1/(m(m−1)) Σ_{i≠j} k(x_i, x_j) + 1/(n(n−1)) Σ_{i≠j} k(y_i, y_j) − 2/(mn) Σ_{i,j} k(x_i, y_j)

for m ≠ n; for m = n (every pair ``itt.measure`` measures: both sides are sampled to one size) their
Lemma 6, whose cross sum drops i = j too: − 2/(m(m−1)) Σ_{i≠j} k(x_i, y_j). Both are unbiased for
independent samples; only Lemma 6's stays unbiased when row i of one sample is tied to row i of the
other, as when two aligned datasets (translations of the same items, e.g. XNLI en and de) are sampled
with the same seed and size: k(x_i, y_i) of a text and its translation is larger than of two unrelated
texts, and eq. 3 would count it.

The value returned is MMD²_u itself (not its square root): unbiased, so it is ≈ 0 for samples of one
distribution and CAN BE SLIGHTLY NEGATIVE there (it is not clipped, which would bias it). With this
kernel it is at most 2. It is a DIVERGENCE (larger = further apart). If σ = 0 (over half the pooled
pairs coincide) the bandwidth falls back to the mean pairwise distance; if every point coincides the
value is 0.

Cost: two (m + n) × (m + n) float64 matrices at a time (squared distances from the Gram matrix, so
BLAS does the work; then the kernel): 1 GB at m = n = 4000; about 2 s on one core at m = n = 2000,
d = 384.

Identical samples (X = Y, row for row) give 0 (up to rounding).
"""

from __future__ import annotations

import numpy as np

from itt.errors import DataError
from itt.measures.registry import register
from itt.measures.text_sample import TextSample, paired_embeddings


def squared_distances(z: np.ndarray) -> np.ndarray:
    """‖z_i − z_j‖² for all pairs of rows, as ‖z_i‖² + ‖z_j‖² − 2 z_i·z_j (built in place in the Gram
    matrix; clipped at 0 against rounding; diagonal exactly 0)."""
    d2 = z @ z.T
    norms = np.diag(d2).copy()
    d2 *= -2.0
    d2 += norms[:, None]
    d2 += norms[None, :]
    np.maximum(d2, 0.0, out=d2)
    np.fill_diagonal(d2, 0.0)
    return d2


def median_bandwidth(d2: np.ndarray) -> float:
    """σ by the median heuristic: the median distance over all pairs i < j, from the squared
    distances ``d2`` (the mean distance if that median is 0; 0 if every point coincides)."""
    # The off-diagonal entries hold every pair twice, which leaves the median unchanged, and sort
    # after the N zeros of the diagonal: the pair median is the mean of entries N+P-1 and N+P
    # (0-based, P = N(N-1)/2 pairs) of the sorted matrix. No index arrays of P entries needed.
    n = len(d2)
    pairs = n * (n - 1) // 2
    middle = np.partition(d2.ravel(), [n + pairs - 1, n + pairs])[[n + pairs - 1, n + pairs]]
    sigma = float(np.sqrt(middle).mean())
    return sigma if sigma > 0 else float(np.sqrt(d2).sum() / (2 * pairs))


def mmd2_unbiased(x: np.ndarray, y: np.ndarray, sigma: float, d2: np.ndarray | None = None) -> float:
    """Gretton et al.'s MMD²_u of ``x`` and ``y`` under the RBF kernel of bandwidth ``sigma``
    (``d2``: the squared distances of the stacked rows [x; y], if already computed)."""
    m, n = len(x), len(y)
    kernel = (squared_distances(np.vstack([x, y])) if d2 is None else d2) * (-1.0 / (2.0 * sigma * sigma))
    np.exp(kernel, out=kernel)
    k_xx, k_yy, k_xy = kernel[:m, :m], kernel[m:, m:], kernel[:m, m:]
    within_x = (k_xx.sum() - np.trace(k_xx)) / (m * (m - 1))
    within_y = (k_yy.sum() - np.trace(k_yy)) / (n * (n - 1))
    across = (k_xy.sum() - np.trace(k_xy)) / (m * (m - 1)) if m == n else k_xy.mean()  # Lemma 6 / eq. 3
    return float(within_x + within_y - 2.0 * across)


@register("mmd", version=2)
def measure(a: TextSample, b: TextSample) -> float:
    """Unbiased MMD² between the two samples' embeddings, RBF kernel, median-heuristic bandwidth."""
    x, y = paired_embeddings(a, b)
    if len(x) < 2 or len(y) < 2:
        raise DataError(f"mmd: the unbiased estimator needs at least 2 texts per sample (got {len(x)} and {len(y)})")
    d2 = squared_distances(np.vstack([x, y]))
    sigma = median_bandwidth(d2)
    if sigma == 0.0:
        return 0.0
    return mmd2_unbiased(x, y, sigma, d2)
