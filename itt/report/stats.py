"""Comparison cells: ITT variants against the no-ITT baseline, with a CI and a significance test.

A cell is one (source, split, hparams_id, selected_on) × task × target × target dataset ``key`` × eval set ×
metric × model × ``itt_variant`` × ``intermediate_hparams``. ``hparams_id`` covers the target stage
only; ``intermediate_hparams`` (the settings the variant's intermediate steps were trained with; "n/a"
when unknown) keeps ITT runs from intermediates trained another way apart. Its baseline is the no-ITT
runs of the same everything-but-the-variant, so several ITT variants (``intermediate``, ``a>b``,
``a+b``), or one variant from intermediates with several settings, against one baseline are several
rows sharing the no-ITT columns. Per row:

* mean ± sample std (``ddof=1``) over seeds, for no-ITT and for the ITT variant;
* Δ = ITT − no-ITT: the mean of per-seed differences when seeds pair up (same seed on both
  sides; this cancels seed-level noise such as data order and head init), else the difference of
  the two means (``delta_kind`` says which);
* a 95 % CI of Δ (:mod:`itt.report.intervals`; ``ci_method`` says which method);
* a paired t-test over the paired seeds (``scipy.stats.ttest_rel``, two-sided). With the 3–5 seeds
  typical here a rank test (Wilcoxon) cannot reach p < 0.05 at all, so the t-test is the usable
  choice; with fewer than 2 pairs no test is possible and that is stated. ``p_holm`` is the
  Holm–Bonferroni adjusted p over every cell with a p in one report (:func:`apply_holm`);
* ``test_overlap``: the most test items an ITT run of the cell shares with the training items of
  its intermediate chain (:mod:`itt.data.overlap`); > 0 means Δ is inflated, null that it was not checked.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats as sps

from .intervals import (METHOD_BOOTSTRAP, METHOD_T, BootstrapUnavailable, holm, paired_bootstrap,
                        prediction_file, t_interval)
from .ledger_frame import GROUP_KEYS, LedgerWarning, is_missing, chronological, group_line
from .long_table import long_table, select
from .scorers import get_scorer

# eval_kind: an eval set has one kind, so it never splits a cell; it keeps the per-kind aggregates of the
# cross-lingual view (both named "avg (excl. en)") apart.
# setup, eval_setup: what else the run ids hold (itt.identity.setup_ids): max_rows, hub id, task options.
CELL_KEYS = GROUP_KEYS + ["task", "target", "key", "setup", "eval", "eval_setup", "eval_kind", "metric", "model",
                          "itt_variant", "intermediate_hparams"]
# What an ITT cell and its no-ITT baseline share (no-ITT runs have no intermediate).
ITT_KEYS = ["itt_variant", "intermediate_hparams"]
BASE_KEYS = CELL_KEYS[:-len(ITT_KEYS)]
# Same for every run of a cell; carried along for the views (languages, divergence).
DESCRIBE = ["own", "lang", "eval_key", "eval_lang", "eval_family", "eval_genus", "intermediate_key",
            "intermediate_lang", "hub_id", "pretraining", "languages"]

TEST_NAME = "paired t-test over seeds (scipy.stats.ttest_rel, two-sided)"
NOTE_TOO_FEW = "n<2 pairs"
NOTE_ZERO_VAR = "zero variance of differences"

STAT_COLUMNS = [
    "n_items", "n_items_max", "test_overlap", "noitt_mean", "noitt_std", "noitt_n", "noitt_seeds",
    "itt_mean", "itt_std", "itt_n", "itt_seeds",
    "n_pairs", "paired_seeds", "delta", "delta_std", "delta_kind",
    "ci_low", "ci_high", "ci_method", "ci_note", "t_stat", "p_value", "p_holm", "test", "test_note",
]
TABLE_COLUMNS = CELL_KEYS + DESCRIBE + STAT_COLUMNS

# Metrics where a smaller number is better; everything else (acc, f1, pearson, ...) is
# "higher is better". Used for "best" marks and the worst language, nothing else.
_LOWER_IS_BETTER = ("loss", "mse", "rmse", "mae", "error", "err", "perplexity", "ppl", "std")


@dataclass(frozen=True)
class Bootstrap:
    """How item-level intervals are drawn; ``resamples=0`` turns them off."""
    resamples: int = 1000
    seed: int = 0


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
    # Metrics are logged in float32 (relative precision 6e-8): differences that agree to 1e-6 of the scores'
    # size are one difference, and their rounding noise would make a huge t and a tiny p.
    scale = max(1.0, float(np.max(np.abs(np.concatenate([itt, noitt])))))
    if np.allclose(diffs, diffs[0], rtol=0.0, atol=1e-6 * scale):
        # ttest_rel would divide by a zero standard error; report it rather than inf/nan.
        return math.nan, math.nan, NOTE_ZERO_VAR
    res = sps.ttest_rel(itt, noitt)
    return float(res.statistic), float(res.pvalue), ""


def _side(values: pd.Series) -> tuple[float, float, int]:
    n = int(values.count())
    mean = float(values.mean()) if n else math.nan
    std = float(values.std(ddof=1)) if n >= 2 else math.nan
    return mean, std, n


def seeds_str(seeds) -> str:
    return ",".join(str(int(s)) for s in sorted(s for s in seeds if not is_missing(s)))


def compare_sides(yes: pd.DataFrame, no: pd.DataFrame) -> dict:
    """Statistics of one comparison from two sets of lines (columns ``seed``, ``value``)."""
    no_mean, no_std, no_n = _side(no["value"])
    it_mean, it_std, it_n = _side(yes["value"])
    # Pair on seed; runs without a seed can only enter the unpaired means.
    a = yes.dropna(subset=["seed"]).set_index("seed")["value"]
    b = no.dropna(subset=["seed"]).set_index("seed")["value"]
    common = sorted(set(a.index) & set(b.index))
    out = {
        "noitt_mean": no_mean, "noitt_std": no_std, "noitt_n": no_n,
        "noitt_seeds": seeds_str(no["seed"]),
        "itt_mean": it_mean, "itt_std": it_std, "itt_n": it_n,
        "itt_seeds": seeds_str(yes["seed"]),
        "n_pairs": len(common), "paired_seeds": seeds_str(common),
        "test": TEST_NAME, "ci_low": math.nan, "ci_high": math.nan, "ci_method": "",
        "ci_note": "", "p_holm": math.nan,
    }
    if common:
        x, y = a.loc[common].to_numpy(dtype=float), b.loc[common].to_numpy(dtype=float)
        d = x - y
        t, p, note = paired_ttest(x, y)
        lo, hi = t_interval(d)
        out.update(delta=float(d.mean()), delta_std=float(d.std(ddof=1)) if len(d) > 1 else math.nan,
                   delta_kind="paired", t_stat=t, p_value=p, test_note=note,
                   ci_low=lo, ci_high=hi, ci_method=METHOD_T if len(d) >= 2 else "")
    else:
        delta = it_mean - no_mean if (no_n and it_n) else math.nan
        out.update(delta=delta, delta_std=math.nan,
                   delta_kind="unpaired" if not math.isnan(delta) else "",
                   t_stat=math.nan, p_value=math.nan,
                   test_note=NOTE_TOO_FEW if (no_n and it_n) else "missing side")
    return out


def _bootstrap_pairs(yes: pd.DataFrame, no: pd.DataFrame, seeds: list) -> list:
    yes, no = yes.set_index("seed"), no.set_index("seed")
    pairs = []
    for s in seeds:
        folders = (yes.at[s, "predictions"], no.at[s, "predictions"])
        if any(is_missing(f) for f in folders):
            raise BootstrapUnavailable("a run has no predictions folder")
        eval_name, own = yes.at[s, "eval"], bool(yes.at[s, "own"])
        pairs.append(tuple(prediction_file(f, eval_name, own) for f in folders))
    return pairs


def _item_interval(stats: dict, yes: pd.DataFrame, no: pd.DataFrame, metric: str,
                   settings: Bootstrap) -> None:
    """Replace the t-interval by the item bootstrap where predictions allow it."""
    if settings.resamples <= 0 or not stats["n_pairs"]:
        return
    # The evaluated set's kind, not the run's: an eval set of another kind (retrieval on a classifier) is scored its own way.
    column = "eval_kind" if "eval_kind" in yes and yes["eval_kind"].notna().any() else "kind"
    kinds = set(yes[column].dropna()) if column in yes else set()
    scorer = get_scorer(metric, next(iter(kinds)) if len(kinds) == 1 else None)
    try:
        if not str(metric).startswith("test/"):
            raise BootstrapUnavailable("predictions exist for test sets only")
        if scorer is None:
            raise BootstrapUnavailable(f"no scorer registered for {metric}")
        seeds = [int(s) for s in stats["paired_seeds"].split(",")]
        lo, hi = paired_bootstrap(_bootstrap_pairs(yes, no, seeds), scorer,
                                  settings.resamples, settings.seed)
    except BootstrapUnavailable as exc:
        stats["ci_note"] = str(exc)
        return
    stats.update(ci_low=lo, ci_high=hi, ci_method=METHOD_BOOTSTRAP,
                 ci_note=f"{settings.resamples} resamples, seed {settings.seed}")


def dedupe_seeds(lines: pd.DataFrame) -> pd.DataFrame:
    """One value per (cell, itt, seed): distinct run_ids for the same seed would be counted
    twice and break the pairing, so keep the latest and say so. A cell includes its intermediate
    settings, so one seed from intermediates trained two ways is two values, never a duplicate."""
    keys = CELL_KEYS + ["itt", "seed"]
    ordered = chronological(lines)
    dup = ordered.duplicated(keys, keep="last")
    if dup.any():
        warnings.warn(
            f"{ordered.loc[dup, 'run_id'].nunique()} target run(s) repeat an existing (group, task, "
            "target, model, variant, intermediate settings, seed) under another run_id; keeping the latest of each",
            LedgerWarning, stacklevel=3,
        )
    return ordered[~dup]


def _describe(g: pd.DataFrame) -> dict:
    out = {}
    for col in DESCRIBE:
        values = g[col].dropna() if col in g else pd.Series(dtype=object)
        out[col] = values.mode().iloc[0] if len(values) else None
    n = g["n"].dropna() if "n" in g else pd.Series(dtype=float)
    # Test items per run: the fewest and the most. Under split=paper each seed draws its own test split
    # (translations by a hash of seed and row id), so seeds differ (PAWS-X dev: 292 and 310 items), and
    # the most common count alone named a size some runs did not have.
    out["n_items"] = int(n.min()) if len(n) else None
    out["n_items_max"] = int(n.max()) if len(n) else None
    return out


def _itt_sides(itt: pd.DataFrame) -> list[tuple[tuple, pd.DataFrame]]:
    """The ITT lines of one baseline split by (variant, intermediate settings), in that order."""
    return [(setting, g) for setting, g in itt.groupby(ITT_KEYS, sort=True, dropna=False)]


def itt_test_overlap(yes: pd.DataFrame) -> int | None:
    """The most test items any ITT run of a cell shares with its ancestors' training items (over seeds:
    each seed splits anew); None when no ITT run checked. A positive count means the ITT side was
    tested partly on items its intermediate chain trained on: its Δ is inflated."""
    values = yes["test_overlap"].dropna() if "test_overlap" in yes else pd.Series(dtype=float)
    return int(values.max()) if len(values) else None


def table_from_lines(lines: pd.DataFrame, bootstrap: Bootstrap = Bootstrap()) -> pd.DataFrame:
    """Comparison rows from selected lines (:func:`itt.report.long_table.select`)."""
    if lines.empty:
        return pd.DataFrame(columns=TABLE_COLUMNS)
    lines = dedupe_seeds(lines)
    rows = []
    for keys, base in lines.groupby(BASE_KEYS, sort=True, dropna=False):
        no, itt = base[~base["itt"]], base[base["itt"]]
        for setting, yes in _itt_sides(itt) or [((None, None), itt)]:
            stats = compare_sides(yes, no)
            _item_interval(stats, yes, no, keys[BASE_KEYS.index("metric")], bootstrap)
            rows.append(dict(zip(BASE_KEYS, keys)) | dict(zip(ITT_KEYS, setting))
                        | _describe(yes if len(yes) else no) | {"test_overlap": itt_test_overlap(yes)} | stats)
    table = pd.DataFrame(rows, columns=TABLE_COLUMNS)
    for col in ("noitt_n", "itt_n", "n_pairs"):
        table[col] = table[col].astype(int)
    return table.reset_index(drop=True)


def apply_holm(*targets: tuple[pd.DataFrame, str, str]) -> int:
    """Holm-adjust, as one family, the p-values in every (table, p column, adjusted column)
    target; writes the adjusted column and returns m, the number of p-values adjusted."""
    p = np.concatenate([t[col].to_numpy(dtype=float) for t, col, _ in targets]) if targets else []
    adjusted = holm(p)
    start = 0
    for t, _, out in targets:
        t[out] = adjusted[start:start + len(t)]
        start += len(t)
    return int(np.count_nonzero(~np.isnan(np.asarray(p, dtype=float))))


def comparison_table(df: pd.DataFrame, metric: str | None = None,
                     bootstrap: Bootstrap = Bootstrap()) -> pd.DataFrame:
    """Comparison table of a ledger frame (as returned by ``load_ledger``), Holm-adjusted over
    its own cells. ``metric``: ``None`` = each run's ``test/<primary_metric>``; ``"acc"`` =
    ``test/acc``; ``"val/acc"`` as given. Sorted by group, task, target, key, eval, metric,
    model, variant; empty input gives an empty frame with TABLE_COLUMNS."""
    from .ledger_frame import latest_ok

    table = table_from_lines(select(long_table(df), metric, runs=latest_ok(df)), bootstrap)
    apply_holm((table, "p_value", "p_holm"))
    return table


def group_summary(df: pd.DataFrame, metric: str | None = None) -> pd.DataFrame:
    """One row per comparable group (source, split, hparams_id, selected_on) of counted target runs."""
    return groups_from_lines(select(long_table(df), metric))


def groups_from_lines(lines: pd.DataFrame) -> pd.DataFrame:
    cols = GROUP_KEYS + ["n_runs", "seeds", "models", "tasks", "targets"]
    if lines.empty:
        return pd.DataFrame(columns=cols)
    with warnings.catch_warnings():  # a repeated seed: table_from_lines has said it; counted once, as there
        warnings.simplefilter("ignore", LedgerWarning)
        runs = dedupe_seeds(lines).drop_duplicates("run_id")
    rows = []
    for keys, g in runs.groupby(GROUP_KEYS, sort=True, dropna=False):
        rows.append(dict(zip(GROUP_KEYS, keys)) | {
            "n_runs": len(g), "seeds": seeds_str(g["seed"].unique()),
            "models": ",".join(sorted(map(str, g["model"].unique()))),
            "tasks": ",".join(sorted(map(str, g["task"].unique()))),
            "targets": ",".join(sorted(map(str, g["target"].unique()))),
        })
    return pd.DataFrame(rows, columns=cols)


def describe_groups(summary: pd.DataFrame) -> list[str]:
    """Human lines like ``group: source=embedded split=paper hparams=ab12cd34 — 36 runs, seeds 0,1,2``."""
    return [
        f"{group_line(r)} — "
        f"{r.n_runs} runs, seeds {r.seeds or '–'} (models {r.models}; tasks {r.tasks}; "
        f"targets {r.targets})"
        for r in summary.itertuples(index=False)
    ]
