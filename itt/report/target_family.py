"""Δ by target family: which intermediate task helps which kind of target (docs/nli-vs-qa.md).

Every score of a target run belongs to a **benchmark** and a **family**:

* the family is the task kind of the scored set: classification (XNLI, PAWS-X), multiple choice (XCOPA),
  structured prediction (WikiANN, UD-POS), question answering (XQuAD, MLQA, TyDiQA), retrieval (Tatoeba);
* the benchmark is the run's task for its own test set and for eval sets named by a bare language code
  (XNLI's ``de``), else the eval set's name without its ``_<lang>`` suffix (``xquad_de`` -> ``xquad``,
  ``tatoeba_de`` -> ``tatoeba``), whichever task's run scored it: Tatoeba read off the XNLI and the
  PAWS-X encoders is one benchmark.

Per run and benchmark there are two values, each the mean over languages (each language weighs the same):
``zero-shot`` over the languages other than the run's training language, ``training language`` over that
language alone (the own test set; XQuAD's English set). Per model, seed and ITT variant (and its intermediate
settings, ``intermediate_hparams``, as in the main table), a benchmark's value
is the mean over the runs that scored it and a family's the mean over its benchmarks, at each seed over the
benchmarks, runs and languages both sides have: a missing run or language never shifts one side only. Each
is compared with no ITT like every cell of the report: paired by seed, Δ = ITT − no-ITT, a t-interval over
seeds, a paired t-test, Holm-adjusted together with every other p of the report. A family averages whatever metric each benchmark
reports (accuracy for POS, span F1 for NER), as XTREME's per-group averages do; ``metrics`` says which.
A seed with two runs of one target and variant (under other run ids) counts its latest, as every table does.

Built only when the target runs span at least two families: a single-family ledger has its answer in the
main and cross-lingual tables already.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from .ledger_frame import GROUP_KEYS, MISSING, is_missing
from .stats import ITT_KEYS, compare_sides, dedupe_seeds
from .tables import variant_labels

FAMILIES = {"sequence_classification": "classification", "multiple_choice": "multiple choice",
            "token_classification": "structured prediction", "extractive_qa": "question answering",
            "retrieval": "retrieval", "sequence_regression": "regression"}
ZERO_SHOT, TRAINING = "zero-shot", "training language"
SCOPES = (ZERO_SHOT, TRAINING)
FAMILY_MEAN = "family mean"
# A family spans tasks whose checkpoints are picked on their own primary metrics (POS on val/acc, NER on
# val/f1), so the checkpoint metric is a property of each run (in ``PART``), not a group of this view.
FAMILY_GROUP_KEYS = [k for k in GROUP_KEYS if k != "selected_on"]
ROW_KEYS = FAMILY_GROUP_KEYS + ["model", "scope", "family", "benchmark"]
FAMILY_COLUMNS = ROW_KEYS + [
    *ITT_KEYS, "view", "metrics", "n_benchmarks", "benchmarks", "noitt_mean", "itt_mean", "n_pairs",
    "paired_seeds", "delta", "delta_kind", "ci_low", "ci_high", "ci_method", "t_stat", "p_value", "p_holm",
    "test_note",
]
_STATS = ["noitt_mean", "itt_mean", "n_pairs", "paired_seeds", "delta", "delta_kind", "ci_low", "ci_high",
          "ci_method", "t_stat", "p_value", "p_holm", "test_note"]


def family_of(kind) -> str:
    return FAMILIES.get(str(kind), str(kind))


def benchmark_of(task, eval_name, eval_lang, own: bool) -> str:
    """``xnli`` for XNLI's own set and its ``de``; ``xquad`` for ``xquad_de``; the name itself otherwise."""
    name, lang = str(eval_name), None if pd.isna(eval_lang) else str(eval_lang)
    if own or name == lang:
        return str(task)
    if lang and name.endswith(f"_{lang}"):
        return name[: -len(lang) - 1]
    return name


# What a benchmark value at one seed averages: languages of the runs (of a task and target) that scored it.
# setup, eval_setup: runs of another max_rows, hub model or options (itt.identity.setup_ids) are other parts.
PART = ["benchmark", "task", "target", "key", "setup", "eval_setup", "selected_on", "eval_lang"]


def benchmark_values(lines: pd.DataFrame) -> pd.DataFrame:
    """One value per (group, model, scope, family, seed, ITT variant) and ``PART``: the mean over the eval
    sets a run scored in that language (see the module docstring)."""
    keys = ROW_KEYS + ["seed", "itt", *ITT_KEYS] + PART[1:]
    scored = lines.dropna(subset=["value"]).copy()
    if scored.empty:
        return pd.DataFrame(columns=keys + ["metric", "value"])
    scored["family"] = scored["eval_kind"].map(family_of)
    scored["benchmark"] = [benchmark_of(t, e, lang, own) for t, e, lang, own
                           in zip(scored["task"], scored["eval"], scored["eval_lang"], scored["own"])]
    training = scored["own"].astype(bool) | (scored["eval_lang"] == scored["lang"])
    scored["scope"] = np.where(training, TRAINING, ZERO_SHOT)
    scored["eval_lang"] = scored["eval_lang"].map(lambda v: MISSING if is_missing(v) else v)
    return (scored.groupby(keys, dropna=False, sort=False)
            .agg(value=("value", "mean"), metric=("metric", lambda m: ",".join(sorted(set(m)))))
            .reset_index())


def _parts(side: pd.DataFrame) -> set:
    return set(side[PART].itertuples(index=False, name=None))


def _per_seed(side: pd.DataFrame, other: pd.DataFrame, unpaired: bool) -> pd.DataFrame:
    """Per seed of ``side``, its mean over benchmarks of the mean over each benchmark's runs of their mean over
    languages, taken over the parts (benchmark, run, language) ``other`` has at that seed too: a run or a
    language missing on one side never shifts that side only. A seed ``other`` lacks is kept whole when
    ``unpaired`` (it enters the side's mean, not Δ), else left out."""
    other_parts = {seed: _parts(g) for seed, g in other.groupby("seed", dropna=False)}
    rows = []
    for seed, g in side.groupby("seed", dropna=False):
        if seed in other_parts:
            g = g[[p in other_parts[seed] for p in g[PART].itertuples(index=False, name=None)]]
        elif not unpaired:
            continue
        if len(g):
            per_bench = g.groupby(PART[:-1], dropna=False)["value"].mean().groupby(level="benchmark").mean()
            rows.append({"seed": seed, "value": per_bench.mean()})
    return pd.DataFrame(rows, columns=["seed", "value"])


def _row(keys: dict, setting: tuple, view: str, block: pd.DataFrame, stats: dict) -> dict:
    benchmarks = sorted(block["benchmark"].unique())
    metrics = sorted({m for ms in block["metric"] for m in str(ms).split(",")})
    return {**keys, **dict(zip(ITT_KEYS, setting)), "view": view, "metrics": ",".join(metrics),
            "n_benchmarks": len(benchmarks), "benchmarks": ",".join(benchmarks),
            **{k: stats.get(k, math.nan) for k in _STATS}}


def target_family_table(lines: pd.DataFrame) -> pd.DataFrame:
    """Benchmark and family rows, Δ per ITT variant (``p_holm`` is left for ``apply_holm``)."""
    own_kinds = lines.loc[lines["own"].astype(bool), "eval_kind"] if not lines.empty else pd.Series(dtype=object)
    if own_kinds.map(family_of).nunique() < 2:
        return pd.DataFrame(columns=FAMILY_COLUMNS)
    values = benchmark_values(dedupe_seeds(lines))  # one run per seed, the latest, as in every other table
    out = []
    for block_keys, block in values.groupby(FAMILY_GROUP_KEYS + ["model", "scope", "family"], sort=False, dropna=False):
        keys = dict(zip(FAMILY_GROUP_KEYS + ["model", "scope", "family"], block_keys))
        no = block[~block["itt"].astype(bool)]
        for setting, yes in block[block["itt"].astype(bool)].groupby(ITT_KEYS, sort=True, dropna=False):
            for bench, y in yes.groupby("benchmark", sort=True):
                n = no[no["benchmark"] == bench]
                stats = compare_sides(_per_seed(y, n, unpaired=True), _per_seed(n, y, unpaired=True))
                out.append(_row({**keys, "benchmark": bench}, setting, "benchmark", y, stats))
            stats = compare_sides(_per_seed(yes, no, unpaired=False), _per_seed(no, yes, unpaired=False))
            out.append(_row({**keys, "benchmark": FAMILY_MEAN}, setting, "family", yes, stats))
    table = pd.DataFrame(out, columns=FAMILY_COLUMNS)
    if table.empty:
        return table
    order = list(dict.fromkeys(FAMILIES.values()))
    table["_scope"] = table["scope"].map(SCOPES.index)
    table["_family"] = table["family"].map(lambda f: order.index(f) if f in order else len(order))
    table["_view"] = table["view"].map({"family": 0, "benchmark": 1})
    table = table.sort_values(FAMILY_GROUP_KEYS + ["model", "_scope", "_family", "family", "_view", "benchmark", *ITT_KEYS],
                              kind="stable")
    return table.drop(columns=["_scope", "_family", "_view"]).reset_index(drop=True)


def render_target_family_markdown(table: pd.DataFrame) -> str:
    if table.empty:
        return ""
    out = ["## Δ by target family", "",
           "_Δ = ITT − no-ITT [95 % CI over seeds] per ITT variant; rows: each family's mean over its benchmarks, "
           "then the benchmarks (mean over their languages); * = Holm-adjusted p < 0.05 (families.csv has every "
           "number). A family mixes its benchmarks' metrics (metrics column)._", ""]
    for keys, block in table.groupby(FAMILY_GROUP_KEYS + ["model", "scope"], sort=False, dropna=False):
        k = dict(zip(FAMILY_GROUP_KEYS + ["model", "scope"], keys))
        labels = variant_labels(block)
        variants = list(dict.fromkeys(labels))
        out += [f"### {k['model']} · {k['scope']} · source={k['source']} split={k['split']} hparams={k['hparams_id']}", "",
                "| family / benchmark | no ITT | " + " | ".join(f"Δ {v}" for v in variants) + " |",
                "|---|---:|" + "---:|" * len(variants)]
        for (_, bench), rows in block.groupby(["family", "benchmark"], sort=False):
            first = rows.iloc[0]
            label = f"**{first['family']}** ({first['metrics']})" if first["view"] == "family" else f"  {bench}"
            cells = [_delta_cell(rows[labels[rows.index] == v]) for v in variants]
            out.append(f"| {label} | {_num(first['noitt_mean'])} | " + " | ".join(cells) + " |")
        out.append("")
    return "\n".join(out)


def _num(value) -> str:
    return "–" if pd.isna(value) else f"{value:.3f}"


def _delta_cell(rows: pd.DataFrame) -> str:
    if rows.empty or pd.isna(rows.iloc[0]["delta"]):
        return "–"
    r = rows.iloc[0]
    ci = f" [{r['ci_low']:+.3f}, {r['ci_high']:+.3f}]" if pd.notna(r["ci_low"]) else ""
    star = "*" if pd.notna(r["p_holm"]) and r["p_holm"] < 0.05 else ""
    return f"{r['delta']:+.3f}{ci}{star}"
