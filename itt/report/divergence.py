"""Gain vs divergence: does ITT help more when the intermediate data are closer to the target?

``${root}/measures.jsonl`` holds one measure of two datasets per line::

    {"a_key": <intermediate dataset key>, "b_key": <target or eval-set dataset key>,
     "model": <tokenizer/encoder name, or null = any model>, "measure": "...", "value": 0.3,
     "n_a": 1000, "n_b": 1000, "params": {...}, "seed": 0, "version": 1, "sampling": 2}

Only rows of the measures' current definitions are read (``version``, ``sampling``: ``itt.measures.registry``).

Each ITT comparison cell (Δ over seeds vs no-ITT; one per intermediate setting, so a variant trained
from intermediates with two settings is two points at one measure value) is joined to the measures with
a = its intermediate key (what the parent run trained on), b = the evaluated set's key (the
target's own key for its own test set, the eval set's key otherwise: one point per eval language)
and a matching model (the ledger's model name or its hub id). Repeated measures (seeds) are
averaged; a measure logged with several ``params`` becomes one measure per params set. Per measure
and metric (and per model) the report gives Spearman's ρ of Δ against the measure, with a percentile
bootstrap CI over points (seeded), n, its p, and a scatter with a least-squares line; Δs of different
metrics (an accuracy gain, a Pearson gain), or of one metric on sets of different kinds (classification
accuracy, Tatoeba's retrieval accuracy: both ``test/acc``), are never ranked together. ρ is given over
all points (scope ``all``) and, when the points include both kinds, over the targets' own test sets
(``training language``) and over the eval sets (``zero-shot``) apart: an in-language gain and a
zero-shot transfer gain are different quantities, and pooled, one in-language point far from the
zero-shot ones can carry the ranking (docs/divergence.md). A study with
one target and a few intermediates has a few points (docs/divergence.md: 4): up to ``EXACT_P_MAX_N``
points, p is the exact permutation p over all n! orderings (scipy's t approximation says p = 0 for
any perfect ranking, however few the points; 4 points cannot give less than 2/24 = 0.083).
"""

from __future__ import annotations

import json
import math
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats as sps

from .ledger_frame import GROUP_KEYS, MISSING, LedgerWarning
from .stats import CELL_KEYS

MEASURES_NAME = "measures.jsonl"
MEASURE_COLUMNS = ["a_key", "b_key", "model", "measure", "value", "n_a", "n_b", "params", "seed", "sample_size",
                   "encoder"]
JOIN_COLUMNS = GROUP_KEYS + ["model", "task", "target", "eval", "eval_kind", "own", "lang", "eval_lang", "metric", "itt_variant",
                "intermediate_hparams", "a_key", "b_key", "measure", "measure_value", "measure_rows", "delta", "delta_kind",
                "n_pairs", "p_value"]
#: A ρ whose points were measured on samples of more different sizes than this (rows per side, largest / smallest)
#: gets a warning: a measure moves with the sample size (unigram JS of one vocabulary, 0.26 at 200 rows per side and
#: 0.14 at 2,000, where a real shift reads 0.23 at 2,000), so small eval sets would rank as far from everything.
ROWS_RATIO_WARN = 1.25
#: What one ρ ranks: gains of one measure, in one metric, on evaluated sets of one kind, within one group of comparable
#: runs (``GROUP_KEYS``: the same pairs at two learning rates are not two points of one ranking).
MEASURE_KEYS = ["measure", "metric", "eval_kind"]
RHO_KEYS = GROUP_KEYS + MEASURE_KEYS
RHO_COLUMNS = RHO_KEYS + ["model", "scope", "n", "rho", "rho_ci_low", "rho_ci_high", "p_value"]
#: Up to this many points, ρ's p is exact (all n! orderings: 40,320 at 8); above, scipy's t approximation.
EXACT_P_MAX_N = 8
#: ``rho_table``'s scopes: every point; the training language (own test sets, eval sets in that
#: language); the zero-shot languages.
SCOPE_ALL, SCOPE_OWN, SCOPE_ZERO_SHOT = "all", "training language", "zero-shot"


def load_measures(root: str | Path) -> pd.DataFrame | None:
    """Rows of ``${root}/measures.jsonl`` (None when the file does not exist)."""
    path = Path(root) / MEASURES_NAME
    if not path.is_file():
        return None
    rows = []
    with path.open(encoding="utf-8", errors="replace") as fh:  # stray bytes spoil their line only (skipped)
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                float(row["value"]), row["a_key"], row["b_key"], row["measure"]
            except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
                warnings.warn(f"{path}:{lineno}: skipping measure line ({exc})", LedgerWarning,
                              stacklevel=2)
                continue
            rows.append(row)
    # sample_size null: every row (itt.measure), the largest sample; no key: written otherwise, size unknown
    rows = [{**r, "sample_size": math.inf} if "sample_size" in r and r["sample_size"] is None else r
            for r in _current(rows, path)]
    df = pd.DataFrame(rows).reindex(columns=MEASURE_COLUMNS)
    df["value"] = pd.to_numeric(df["value"], errors="coerce")
    df["params"] = df["params"].map(_defining_params)
    return df


def _current(rows: list[dict], path: Path) -> list[dict]:
    """The rows measured as ``itt.measure`` measures today. A row it wrote (it has a ``cache_key``) under another
    definition of its measure (``version``) or of how the samples are drawn (``sampling``; none recorded: 1) is
    another quantity: averaged with today's rows it would move the value, so it is left out. Said once, for
    the ones no row of today measures again. Rows written by other means, and measures this process does not
    register, are taken as they are."""
    from itt.measures.registry import SAMPLING, VERSION  # noqa: PLC0415 (the measures' modules: only with a measures file)

    def is_current(row: dict) -> bool:
        if "cache_key" not in row:
            return True
        version = row.get("version", 1)
        return row.get("sampling", 1) == SAMPLING and version == VERSION.get(row["measure"], version)

    def what(row: dict) -> tuple:
        return tuple(json.dumps(row.get(k), sort_keys=True) for k in
                     ("a_key", "b_key", "model", "measure", "params", "seed", "sample_size"))

    current = [r for r in rows if is_current(r)]
    measured_now = {what(r) for r in current}
    unmeasured = sum(1 for r in rows if not is_current(r) and what(r) not in measured_now)
    if unmeasured:
        warnings.warn(f"{path}: leaving out {unmeasured} measure rows of another definition (measure version or "
                      f"sampling) that no current row measures again; run python -m itt.measure on their pairs",
                      LedgerWarning, stacklevel=3)
    return current


def _defining_params(params) -> str:
    """A row's ``params`` as its measure's label shows them (JSON; "" for none), without ``seed``: a seed
    (proxy_a_distance's folds follow ``measure.seed``) repeats a measurement, so rows that differ only in it
    are averaged like every other measure's seeds, not split into one measure per seed."""
    if isinstance(params, dict):
        params = {k: v for k, v in params.items() if k != "seed"}
    return json.dumps(params, sort_keys=True) if params else ""


def _measure_labels(measures: pd.DataFrame) -> pd.Series:
    n_params = measures.groupby("measure")["params"].transform("nunique")
    return measures["measure"].where(n_params <= 1, measures["measure"] + " " + measures["params"])


def join_gains(cells: pd.DataFrame, measures: pd.DataFrame) -> pd.DataFrame:
    """ITT cells with a Δ, one line per matching measure (columns JOIN_COLUMNS): paired over the seeds both
    sides share, else the difference of the two sides' means (``delta_kind`` says which, as in the main table)."""
    with_delta = cells[cells["itt_variant"].notna() & cells["delta"].notna()]
    gains = with_delta[with_delta["intermediate_key"].notna()].copy()
    if measures is None or measures.empty:
        return pd.DataFrame(columns=JOIN_COLUMNS)
    if unknown := len(with_delta) - len(gains):
        warnings.warn(f"{unknown} ITT comparison(s) have no gain-vs-divergence point: the intermediate's dataset key "
                      "comes from its own ledger row, which this ledger does not have (it ran under another "
                      "paths.root)", LedgerWarning, stacklevel=2)
    if gains.empty:
        return pd.DataFrame(columns=JOIN_COLUMNS)
    gains["a_key"] = gains["intermediate_key"]
    gains["b_key"] = gains["key"].where(gains["own"].astype(bool), gains["eval_key"])
    m = _largest_sample(measures.assign(measure=_measure_labels(measures)))
    rows = (pd.concat([pd.to_numeric(m["n_a"], errors="coerce"), pd.to_numeric(m["n_b"], errors="coerce")], axis=1)
            .min(axis=1) if {"n_a", "n_b"} <= set(m.columns) else pd.Series(np.nan, index=m.index))
    m = m.assign(measure_rows=rows)
    pair = ["a_key", "b_key", "model", "measure"]
    sizes = m.groupby(pair, dropna=False)["measure_rows"].nunique()
    if (sizes > 1).any():
        warnings.warn(f"{int((sizes > 1).sum())} measured pair(s) have rows of several sample sizes at one "
                      "measure.sample_size (measured under other settings: max_rows, embedded_rows); their values "
                      "are averaged", LedgerWarning, stacklevel=2)
    if "encoder" in m:  # rows from before it have none: one encoder as far as can be told
        encoders = m.groupby(pair, dropna=False)["encoder"].nunique()
        if (encoders > 1).any():
            warnings.warn(f"{int((encoders > 1).sum())} measured pair(s) have values of several encoders under one "
                          "model name (another model.hub_id or model config); their values are averaged: measure each "
                          "encoder in a paths.root of its own", LedgerWarning, stacklevel=2)
    m = (m.groupby(pair, dropna=False).agg(measure_value=("value", "mean"), measure_rows=("measure_rows", "mean"))
         .reset_index())
    any_model = m[m["model"].isna()].drop(columns="model")
    by_model = m[m["model"].notna()]
    joined = [gains.merge(any_model, on=["a_key", "b_key"])]
    for col in ("model", "hub_id"):  # a measure may name the config name or the hub id
        named = by_model.rename(columns={"model": col})
        joined.append(gains.merge(named, on=["a_key", "b_key", col]))
    out = pd.concat(joined, ignore_index=True)
    # One line per cell and measure: a cell matched twice (by model name and by hub id) is one point.
    out = out.drop_duplicates(subset=CELL_KEYS + ["measure"])
    return out.reindex(columns=JOIN_COLUMNS).reset_index(drop=True)


def _largest_sample(measures: pd.DataFrame) -> pd.DataFrame:
    """Each pair's rows of its largest ``sample_size`` (null: every row, the largest; unrecorded: smallest). A
    measure's value moves with the sample size (docs/divergence.md), so a pair measured at 2,000 and at 200
    rows per side is not averaged over both: the mean would rank it against pairs measured once."""
    size = pd.to_numeric(measures["sample_size"], errors="coerce") if "sample_size" in measures else None
    if size is None or measures.empty:
        return measures
    rank = size.fillna(-1.0)
    pair = ["a_key", "b_key", "model", "measure"]
    best = rank.groupby([measures[c] for c in pair], dropna=False).transform("max")
    keep = rank == best
    if (~keep).any():
        n = measures.loc[~keep, pair].astype(str).drop_duplicates().shape[0]
        warnings.warn(f"{n} measured pair(s) have rows at several sample sizes; each is read at its largest "
                      f"(a measure's value depends on the sample size)", LedgerWarning, stacklevel=3)
    return measures[keep]


def spearman_ci(x, y, resamples: int = 1000, seed: int = 0,
                level: float = 0.95) -> tuple[float, float, float, float]:
    """(ρ, CI low, CI high, p): percentile bootstrap over points (no interval with ``resamples=0``); p exact
    (permutations of the ranks) up to ``EXACT_P_MAX_N`` points, else scipy's; NaN with fewer than 3 points."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if len(x) < 3:
        return (np.nan,) * 4
    res = sps.spearmanr(x, y)
    p = float(res.pvalue)
    if len(x) <= EXACT_P_MAX_N and np.isfinite(res.statistic):
        p = float(sps.pearsonr(sps.rankdata(x), sps.rankdata(y),
                               method=sps.PermutationMethod(n_resamples=np.inf)).pvalue)
    if resamples <= 0:
        return float(res.statistic), np.nan, np.nan, p
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(x), size=(resamples, len(x)))
    with warnings.catch_warnings():  # constant resamples have no ρ; they are dropped
        warnings.simplefilter("ignore")
        rx, ry = sps.rankdata(x[idx], axis=1), sps.rankdata(y[idx], axis=1)
        rx, ry = rx - rx.mean(1, keepdims=True), ry - ry.mean(1, keepdims=True)
        rho_b = (rx * ry).sum(1) / np.sqrt((rx * rx).sum(1) * (ry * ry).sum(1))
    tail = 100 * (1 - level) / 2
    lo, hi = (np.nanpercentile(rho_b, [tail, 100 - tail]) if np.isfinite(rho_b).any()
              else (np.nan, np.nan))
    return float(res.statistic), float(lo), float(hi), p


def in_training_language(points: pd.DataFrame) -> pd.Series:
    """Own test sets and eval sets in the target's language (not zero-shot)."""
    own = points["own"].astype(bool) if "own" in points else pd.Series(False, index=points.index)
    if "lang" in points and "eval_lang" in points:
        own |= points["eval_lang"].notna() & (points["eval_lang"] == points["lang"])
    return own


def scopes(points: pd.DataFrame) -> list[tuple[str, pd.DataFrame]]:
    """``points`` as (scope, rows): all of them, then, when both kinds are there, the training language
    (the own test sets and eval sets in the target's language, e.g. XQuAD en of a SQuAD target) and the
    zero-shot languages apart."""
    own = in_training_language(points)
    out = [(SCOPE_ALL, points)]
    if own.any() and not own.all():
        out += [(SCOPE_OWN, points[own]), (SCOPE_ZERO_SHOT, points[~own])]
    return out


def _warn_mixed_sizes(keys, points: pd.DataFrame) -> None:
    """One warning when a ρ's points were measured on samples of sizes further apart than ``ROWS_RATIO_WARN``
    (``measure_rows``: rows per side, the smaller side; a set smaller than ``measure.sample_size`` is measured whole)."""
    rows = pd.to_numeric(points.get("measure_rows"), errors="coerce").dropna() if "measure_rows" in points else None
    if rows is None or rows.empty or rows.min() <= 0 or rows.max() / rows.min() <= ROWS_RATIO_WARN:
        return
    warnings.warn(f"ρ of {' / '.join(map(str, keys))}: its points were measured on {rows.min():,.0f} to {rows.max():,.0f} "
                  f"rows per side, and a measure moves with the sample size (small sets read as further apart); "
                  f"measure every pair at one size: python -m itt.measure ... measure.sample_size={rows.min():.0f}",
                  LedgerWarning, stacklevel=3)


def rho_table(joined: pd.DataFrame, resamples: int = 1000, seed: int = 0) -> pd.DataFrame:
    """Spearman ρ of Δ vs each measure, per group of comparable runs, metric and kind of evaluated set
    (``RHO_KEYS``: Δs in accuracy and in Pearson, or in classification and retrieval accuracy, or at two learning
    rates, are not one ranking), per model and over all models (``model = "all"``: one point per model and pair),
    per scope (``scopes``: ``all`` always; NaN below 3 points)."""
    rows = []
    joined = joined.assign(**{k: MISSING for k in GROUP_KEYS if k not in joined})  # frames made by hand: one group
    for keys, g in joined.groupby(RHO_KEYS, sort=True, dropna=False):
        _warn_mixed_sizes(keys, g)
        for model, by_model in [("all", g)] + list(g.groupby("model", sort=True)):
            for scope, sub in scopes(by_model):
                rho, lo, hi, p = spearman_ci(sub["measure_value"], sub["delta"], resamples, seed)
                rows.append(dict(zip(RHO_KEYS, keys)) | {"model": model, "scope": scope, "n": len(sub),
                             "rho": rho, "rho_ci_low": lo, "rho_ci_high": hi, "p_value": p})
    return pd.DataFrame(rows, columns=RHO_COLUMNS)
