"""Maximum mean discrepancy with an RBF kernel (Gretton et al. 2012, "A Kernel Two-Sample Test",
JMLR 13; unbiased estimator MMD²_u of their eq. 3, median heuristic of their section 8).

What is computed, on the two samples' embeddings X (m rows) and Y (n rows):

    σ   = median of the Euclidean distances ‖z_i − z_j‖ over all pairs i < j of the pooled sample Z = X ∪ Y
    k(x, y) = exp(−‖x − y‖² / (2σ²))
    MMD²_u = 1/(m(m−1)) Σ_{i≠j} k(x_i, x_j) + 1/(n(n−1)) Σ_{i≠j} k(y_i, y_j) − 2/(mn) Σ_{i,j} k(x_i, y_j)

The value returned is MMD²_u itself (not its square root): unbiased, so it is ≈ 0 for samples of one
distribution and CAN BE SLIGHTLY NEGATIVE there (it is not clipped, which would bias it). With this
kernel it is at most 2. It is a DIVERGENCE (larger = further apart). If σ = 0 (over half the pooled
pairs coincide) the bandwidth falls back to the mean pairwise distance; if every point coincides the
value is 0.

Identical samples (X = Y, m rows) give exactly MMD²_u = −2(1 − K̄)/(m − 1), where K̄ is the mean of
k over all m² ordered pairs: within [−2/(m−1), 0], the estimator's own offset for zero distance.
"""

from __future__ import annotations

import numpy as np
from scipy.spatial.distance import cdist, pdist

from itt.errors import DataError
from itt.measures.registry import register
from itt.measures.text_sample import TextSample, paired_embeddings


def median_bandwidth(z: np.ndarray) -> float:
    """σ by the median heuristic on the pooled rows ``z`` (mean distance if the median is 0; 0 if all coincide)."""
    distances = pdist(z, metric="euclidean")
    sigma = float(np.median(distances))
    return sigma if sigma > 0 else float(distances.mean())


def mmd2_unbiased(x: np.ndarray, y: np.ndarray, sigma: float) -> float:
    """Gretton et al.'s MMD²_u of ``x`` and ``y`` under the RBF kernel of bandwidth ``sigma``."""
    m, n = len(x), len(y)
    gamma = 1.0 / (2.0 * sigma * sigma)
    k_xx = np.exp(-gamma * cdist(x, x, "sqeuclidean"))
    k_yy = np.exp(-gamma * cdist(y, y, "sqeuclidean"))
    k_xy = np.exp(-gamma * cdist(x, y, "sqeuclidean"))
    within_x = (k_xx.sum() - np.trace(k_xx)) / (m * (m - 1))
    within_y = (k_yy.sum() - np.trace(k_yy)) / (n * (n - 1))
    return float(within_x + within_y - 2.0 * k_xy.mean())


@register("mmd")
def measure(a: TextSample, b: TextSample) -> float:
    """Unbiased MMD² between the two samples' embeddings, RBF kernel, median-heuristic bandwidth."""
    x, y = paired_embeddings(a, b)
    if len(x) < 2 or len(y) < 2:
        raise DataError(f"mmd: the unbiased estimator needs at least 2 texts per sample (got {len(x)} and {len(y)})")
    sigma = median_bandwidth(np.vstack([x, y]))
    if sigma == 0.0:
        return 0.0
    return mmd2_unbiased(x, y, sigma)
