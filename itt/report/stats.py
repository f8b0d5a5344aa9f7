"""Aggregate target-stage runs into the ITT vs no-ITT comparison, with a significance test.

One row of :func:`comparison_table` is one (comparable group × task × target × model):

* mean ± sample std (``ddof=1``) of the metric over seeds, for no-ITT and for ITT;
* Δ = ITT − no-ITT: the mean of per-seed differences when seeds pair up (same seed on
  both sides; this cancels seed-level noise such as data order and head init), otherwise
  the difference of the two means;
* a paired t-test over the paired seeds (``scipy.stats.ttest_rel``, two-sided). With the
  3–5 seeds typical here a rank test (Wilcoxon) cannot reach p < 0.05 at all, so the t-test
  is the usable choice; with fewer than 2 pairs no test is possible and that is stated.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
from scipy import stats as sps

from .ledger_frame import GROUP_KEYS, LedgerWarning, target_runs

# One comparison cell; metric is part of it so that rows never mix e.g. acc and spearman.
CELL_KEYS = GROUP_KEYS + ["task", "target", "metric", "model"]

TEST_NAME = "paired t-test over seeds (scipy.stats.ttest_rel, two-sided)"
NOTE_TOO_FEW = "n<2 pairs"
NOTE_ZERO_VAR = "zero variance of differences"

TABLE_COLUMNS = CELL_KEYS + [
    "noitt_mean", "noitt_std", "noitt_n", "noitt_seeds",
    "itt_mean", "itt_std", "itt_n", "itt_seeds",
    "n_pairs", "paired_seeds", "delta", "delta_std", "delta_kind",
    "t_stat", "p_value", "test", "test_note",
]

# Metrics where a smaller number is better; everything else (acc, f1, pearson, ...) is
# "higher is better". Used to pick the bold "best" value and nothing else.
_LOWER_IS_BETTER = ("loss", "mse", "rmse", "mae", "error", "err", "perplexity", "ppl")


def higher_is_better(metric: str) -> bool:
    name = str(metric).rsplit("/", 1)[-1].lower()
    return not any(name == k or name.endswith("_" + k) for k in _LOWER_IS_BETTER)


def paired_ttest(itt: np.ndarray, noitt: np.ndarray) -> tuple[float, float, str]:
    """(t, two-sided p, note) for paired samples; NaNs and a note when the test is undefined."""
    itt = np.asarray(itt, dtype=float)
    noitt = np.asarray(noitt, dtype=float)
    if len(itt) < 2:
        return math.nan, math.nan, NOTE_TOO_FEW
    diffs = itt - noitt
    if np.allclose(diffs, diffs[0], rtol=0.0, atol=1e-12):
        # ttest_rel would divide by a zero standard error; report it rather than inf/nan.
        return math.nan, math.nan, NOTE_ZERO_VAR
    res = sps.ttest_rel(itt, noitt)
    return float(res.statistic), float(res.pvalue), ""


def _dedupe_seeds(runs: pd.DataFrame) -> pd.DataFrame:
    """One value per (cell, itt, seed): distinct run_ids for the same seed would be counted
    twice and break the pairing, so keep the latest and say so."""
    keys = CELL_KEYS + ["itt", "seed"]
    ordered = runs.sort_values(["time", "_line"], na_position="first", kind="stable")
    dup = ordered.duplicated(keys, keep="last")
    if dup.any():
        warnings.warn(
            f"{int(dup.sum())} target run(s) repeat an existing (group, task, target, model, "
            "itt, seed) under another run_id; keeping the latest of each",
            LedgerWarning, stacklevel=3,
        )
    return ordered[~dup]


def _side(values: pd.Series) -> tuple[float, float, int]:
    n = int(values.count())
    mean = float(values.mean()) if n else math.nan
    std = float(values.std(ddof=1)) if n >= 2 else math.nan
    return mean, std, n


def _seeds_str(seeds) -> str:
    return ",".join(str(int(s)) for s in sorted(s for s in seeds if not pd.isna(s)))


def compare_cell(cell: pd.DataFrame) -> dict:
    """Statistics for one cell (all rows share CELL_KEYS; columns ``itt``, ``seed``, ``value``)."""
    no = cell[~cell["itt"]]
    yes = cell[cell["itt"]]
    no_mean, no_std, no_n = _side(no["value"])
    it_mean, it_std, it_n = _side(yes["value"])

    # Pair on seed; runs without a seed can only enter the unpaired means.
    a = yes.dropna(subset=["seed"]).set_index("seed")["value"]
    b = no.dropna(subset=["seed"]).set_index("seed")["value"]
    common = sorted(set(a.index) & set(b.index))
    out = {
        "noitt_mean": no_mean, "noitt_std": no_std, "noitt_n": no_n,
        "noitt_seeds": _seeds_str(no["seed"]),
        "itt_mean": it_mean, "itt_std": it_std, "itt_n": it_n,
        "itt_seeds": _seeds_str(yes["seed"]),
        "n_pairs": len(common), "paired_seeds": _seeds_str(common),
        "test": TEST_NAME,
    }
    if common:
        d = a.loc[common].to_numpy() - b.loc[common].to_numpy()
        t, p, note = paired_ttest(a.loc[common].to_numpy(), b.loc[common].to_numpy())
        out.update(delta=float(d.mean()), delta_std=float(d.std(ddof=1)) if len(d) > 1 else math.nan,
                   delta_kind="paired", t_stat=t, p_value=p, test_note=note)
    else:
        delta = it_mean - no_mean if (no_n and it_n) else math.nan
        note = NOTE_TOO_FEW if (no_n and it_n) else "missing side"
        out.update(delta=delta, delta_std=math.nan,
                   delta_kind="unpaired" if not math.isnan(delta) else "",
                   t_stat=math.nan, p_value=math.nan, test_note=note)
    return out


def comparison_table(df: pd.DataFrame, metric: str | None = None) -> pd.DataFrame:
    """Tidy ITT-vs-no-ITT table from a ledger frame (as returned by ``load_ledger``).

    ``metric``: ``None`` = each run's ``test/<primary_metric>``; ``"acc"`` = ``test/acc``;
    ``"val/acc"`` as given. Returns one row per CELL_KEYS combination, columns TABLE_COLUMNS,
    sorted by group, task, target, model. Empty input gives an empty frame with those columns.
    """
    return table_from_runs(target_runs(df, metric))


def table_from_runs(runs: pd.DataFrame) -> pd.DataFrame:
    """:func:`comparison_table` on rows already selected by ``target_runs``."""
    if runs.empty:
        return pd.DataFrame(columns=TABLE_COLUMNS)
    runs = _dedupe_seeds(runs)
    rows = []
    for keys, cell in runs.groupby(CELL_KEYS, sort=True, dropna=False):
        rows.append(dict(zip(CELL_KEYS, keys)) | compare_cell(cell))
    table = pd.DataFrame(rows, columns=TABLE_COLUMNS)
    for col in ("noitt_n", "itt_n", "n_pairs"):
        table[col] = table[col].astype(int)
    return table.reset_index(drop=True)


def group_summary(df: pd.DataFrame, metric: str | None = None) -> pd.DataFrame:
    """One row per comparable group (source, split, hparams_id) of counted target runs."""
    return groups_from_runs(target_runs(df, metric))


def groups_from_runs(runs: pd.DataFrame) -> pd.DataFrame:
    """:func:`group_summary` on rows already selected by ``target_runs``."""
    cols = GROUP_KEYS + ["n_runs", "seeds", "models", "tasks", "targets"]
    if runs.empty:
        return pd.DataFrame(columns=cols)
    rows = []
    for keys, g in runs.groupby(GROUP_KEYS, sort=True, dropna=False):
        rows.append(dict(zip(GROUP_KEYS, keys)) | {
            "n_runs": len(g),
            "seeds": _seeds_str(g["seed"].unique()),
            "models": ",".join(sorted(g["model"].unique())),
            "tasks": ",".join(sorted(g["task"].unique())),
            "targets": ",".join(sorted(g["target"].unique())),
        })
    return pd.DataFrame(rows, columns=cols)


def describe_groups(summary: pd.DataFrame) -> list[str]:
    """Human lines like ``group: source=embedded split=paper hparams=ab12cd34 — 36 runs, seeds 0,1,2``."""
    return [
        f"group: source={r.source} split={r.split} hparams={r.hparams_id} — "
        f"{r.n_runs} runs, seeds {r.seeds or '–'} (models {r.models}; tasks {r.tasks}; "
        f"targets {r.targets})"
        for r in summary.itertuples(index=False)
    ]
