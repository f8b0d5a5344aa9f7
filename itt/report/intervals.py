"""95 % confidence intervals for Δ = ITT − no-ITT, and Holm's correction of p-values.

Two methods, chosen per comparison cell (the ``ci_method`` column says which one was used):

* **paired bootstrap over seeds and test items** when every paired seed has prediction files on both sides
  (``<predictions>/test.jsonl`` for the run's own test set, ``<predictions>/<eval>.jsonl`` for an
  eval set; one ``{"pred": ..., "gold": ...}`` line per item in the same order for every run of a
  split/seed). Resample b draws item indices with a seeded generator, *the same indices for the
  ITT and the no-ITT run of a seed*, and the same indices for every seed whose file holds the same
  items (same gold, in the same order, as the ITT/no-ITT check below): seeds scored on one test set
  share it, so drawing them apart would treat S seeds as S independent test sets and shrink the interval by
  up to √S. Seeds with test items of their own (``split=paper`` draws a test split per seed) get draws of
  their own. It scores both runs with the metric's scorer (:mod:`itt.report.scorers`), then draws S of the
  S paired seeds with replacement and averages their differences:
  Δ_b = mean over the drawn seeds s of [metric(ITT_s[idx]) − metric(noITT_s[idx])]. The interval is the 2.5th
  and 97.5th percentile of the Δ_b. It says how much the result rests on the particular test items and seeds:
  drawing the items alone, per-seed Δs of +0.05, −0.03 and +0.04 on 1,000 items gave [+0.001, +0.043] next to the
  seeds' t-test p of 0.51. With one seed it is the items alone.
* **t-interval over paired seeds** otherwise (n ≥ 2 pairs): mean of the per-seed differences
  ± t(0.975, n−1) · sd/√n. It says how much the result rests on the particular seeds.
"""

from __future__ import annotations

import json
import math
import os
from functools import lru_cache
from pathlib import Path

import numpy as np
from scipy import stats as sps

from .scorers import Scorer

LEVEL = 0.95
METHOD_BOOTSTRAP = "bootstrap over seeds and test items"
METHOD_T = "t over paired seeds"
# Index matrices are drawn in blocks of about this many cells, to bound memory on large test sets.
_BLOCK_CELLS = 4_000_000


class BootstrapUnavailable(Exception):
    """Prediction files cannot be paired (missing, unreadable, different items); the message says why."""


def t_interval(diffs, level: float = LEVEL) -> tuple[float, float]:
    """Student-t interval of the mean of paired differences; (nan, nan) with fewer than 2."""
    d = np.asarray(diffs, dtype=float)
    if len(d) < 2:
        return math.nan, math.nan
    half = sps.t.ppf(0.5 + level / 2, df=len(d) - 1) * d.std(ddof=1) / math.sqrt(len(d))
    return float(d.mean() - half), float(d.mean() + half)


def prediction_file(folder: str | os.PathLike, eval_name: str, own: bool) -> Path:
    return Path(folder) / ("test.jsonl" if own else f"{eval_name}.jsonl")


def _as_array(values: list) -> np.ndarray:
    arr = np.asarray(values) if values and not isinstance(values[0], (dict, list)) else None
    if arr is None or arr.dtype == object:
        arr = np.empty(len(values), dtype=object)
        arr[:] = values
    return arr


@lru_cache(maxsize=256)
def _read(path: str, mtime: float) -> tuple[np.ndarray, np.ndarray]:
    gold, pred = [], []
    with open(path, encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                item = json.loads(line)
                gold.append(item["gold"])
                pred.append(item["pred"])
            except (json.JSONDecodeError, KeyError, TypeError) as exc:
                raise BootstrapUnavailable(f"{path}:{lineno}: not a {{pred, gold}} line ({exc})")
    if not gold:
        raise BootstrapUnavailable(f"{path}: no items")
    return _as_array(gold), _as_array(pred)


def read_predictions(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray]:
    """(gold, pred) arrays of one prediction file (cached while the file is unchanged)."""
    path = Path(path)
    if not path.is_file():
        raise BootstrapUnavailable(f"no prediction file {path}")
    return _read(str(path), path.stat().st_mtime)


def _same_items(a: np.ndarray, b: np.ndarray) -> bool:
    if len(a) != len(b):
        return False
    if a.dtype != object and b.dtype != object:
        return bool(np.array_equal(a, b))
    return all(x == y for x, y in zip(a, b))


def paired_bootstrap(pairs: list[tuple[Path, Path]], scorer: Scorer, resamples: int = 1000,
                     seed: int = 0, level: float = LEVEL) -> tuple[float, float]:
    """Percentile interval of Δ_b (see the module docstring) for (ITT file, no-ITT file) per seed,
    pairs in seed order. Raises :class:`BootstrapUnavailable` when the files cannot be paired."""
    # Seeds holding the same test items form one group, which shares one index draw per resample.
    groups: list[list[tuple[int, tuple]]] = []
    for i, (itt_path, no_path) in enumerate(pairs):
        g_itt, p_itt = read_predictions(itt_path)
        g_no, p_no = read_predictions(no_path)
        if not _same_items(g_itt, g_no):
            raise BootstrapUnavailable(f"{itt_path} and {no_path} do not hold the same test items")
        s_itt = scorer.item_scores(g_itt, p_itt) if scorer.item else None
        s_no = scorer.item_scores(g_no, p_no) if scorer.item else None
        pair = (g_itt, p_itt, s_itt, g_no, p_no, s_no)
        group = next((g for g in groups if _same_items(g[0][1][0], g_itt)), None)
        if group is None:
            groups.append([(i, pair)])
        else:
            group.append((i, pair))
    rng = np.random.default_rng(seed)
    per_seed = np.zeros((len(pairs), resamples))  # Δ of each seed on each resample's items
    for group in groups:
        n = len(group[0][1][0])
        block = max(1, _BLOCK_CELLS // n)
        for start in range(0, resamples, block):
            idx = rng.integers(0, n, size=(min(block, resamples - start), n))
            for i, (g_itt, p_itt, s_itt, g_no, p_no, s_no) in group:
                per_seed[i, start:start + len(idx)] = (scorer.on_indices(g_itt, p_itt, idx, s_itt)
                                                       - scorer.on_indices(g_no, p_no, idx, s_no))
    # The seeds are a sample too: each resample draws them with replacement, so the interval holds the seed-to-seed
    # variation the paired t-test's p rests on, not the test items' alone (one seed: the items alone).
    drawn = rng.integers(0, len(pairs), size=(resamples, len(pairs))) if len(pairs) > 1 else np.zeros((resamples, 1), int)
    deltas = per_seed[drawn, np.arange(resamples)[:, None]].mean(axis=1)
    if np.isnan(deltas).all():
        raise BootstrapUnavailable("the metric is undefined on every resample")
    tail = 100 * (1 - level) / 2
    lo, hi = np.nanpercentile(deltas, [tail, 100 - tail])
    return float(lo), float(hi)


def holm(p_values) -> np.ndarray:
    """Holm–Bonferroni adjusted p-values (NaN stays NaN and is not counted in m).

    Sorted ascending, p_(i) becomes max over j ≤ i of min(1, (m − j + 1) · p_(j)); rejecting
    where the adjusted p < α controls the family-wise error rate at α under any dependence.
    """
    p = np.asarray(p_values, dtype=float)
    out = np.full_like(p, np.nan)
    valid = np.flatnonzero(~np.isnan(p))
    if not len(valid):
        return out
    order = valid[np.argsort(p[valid], kind="stable")]
    m = len(order)
    adjusted = np.minimum(1.0, (m - np.arange(m)) * p[order])
    out[order] = np.maximum.accumulate(adjusted)
    return out
