"""Cross-lingual views: a target trained in one language and evaluated zero-shot in many.

For every model × task × target × ITT variant (× intermediate settings, ``intermediate_hparams``, as in
the main table) whose runs were scored in at least two languages
(per kind of eval set: a classifier's XNLI sets and its Tatoeba retrieval sets both report ``acc``,
but are never averaged together; ``eval_kind``):

* **per language**: the ordinary comparison cells of each eval set (rows ordered by family, then
  language), with Δ, seeds, CI and p as in the main table;
* **aggregates**, computed per run and then compared like any cell (paired by seed; CI over seeds):
  ``avg (excl. <train>)`` = mean over the eval languages other than the training language;
  ``gap (<train> − avg)`` = the training-language score minus that average; ``family <F>`` and
  ``genus <G>`` = mean over the *zero-shot* languages of that family / genus (training language
  excluded, so an average never mixes in-language and transfer scores). Each language weighs the
  same: a language scored on two eval sets enters with the mean of the two. Every run averages the
  same eval sets: a run lacking one that another run of its comparison scored gets no value for the
  averages over its language (a warning says so), not an average over fewer, which its paired seed on
  the other side would not share.
* **robustness** over all scored languages (training language included): ``mean over languages``,
  ``worst language`` (lowest; highest for lower-is-better metrics) and ``std across languages``
  (population std, ddof=0; runs that scored every eval set of their comparison only), each with its
  Δ against no-ITT and against the *single-task* variant
  (the chain of one step with one dataset, when it is one of the variant's steps; with several, the one that is
  the variant's last step). Its
  intermediate settings: the variant's own when the single-task variant ran with them, else the only
  ones it ran with; with several and none the variant's own, there is no single-task comparison.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from .ledger_frame import GROUP_KEYS, NO_ITT, LedgerWarning
from .stats import (ITT_KEYS, TABLE_COLUMNS, Bootstrap, compare_sides, dedupe_seeds, higher_is_better,
                    table_from_lines)

LANG_BASE = GROUP_KEYS + ["task", "target", "key", "setup", "eval_kind", "metric", "model"]
RUN_FIELDS = LANG_BASE + ["run_id", "itt", *ITT_KEYS, "seed", "time", "_line", "lang",
                          "intermediate_lang", "pretraining", "languages"]
VIEWS = ["language", "average", "gap", "family", "genus"]
LANGUAGE_COLUMNS = ["view", "group_name"] + TABLE_COLUMNS
ROBUST_STATS = ["mean over languages", "worst language", "std across languages"]
VS_SINGLE = ["single_variant", "single_intermediate_hparams", "single_mean", "delta_vs_single",
             "n_pairs_vs_single", "ci_low_vs_single", "ci_high_vs_single", "p_vs_single", "p_holm_vs_single"]
ROBUST_COLUMNS = TABLE_COLUMNS + VS_SINGLE


def multilingual(lines: pd.DataFrame) -> pd.DataFrame:
    """Lines of the (group, task, target, key, metric, model) scored in ≥ 2 languages."""
    if lines.empty:
        return lines
    n_langs = lines.groupby(LANG_BASE, dropna=False)["eval_lang"].transform("nunique")
    return lines[n_langs >= 2]


def per_language_values(lines: pd.DataFrame) -> pd.DataFrame:
    """One value per run × eval language (mean over that run's eval sets in the language), with the setups of
    those eval sets (``eval_setup``, joined)."""
    scored = lines.dropna(subset=["eval_lang"])
    return (scored.groupby(RUN_FIELDS + ["eval_lang", "eval_family", "eval_genus"], dropna=False, sort=False)
            .agg(value=("value", "mean"), eval_setup=("eval_setup", _joined)).reset_index())


def _joined(setups: pd.Series) -> str:
    return "+".join(sorted({str(v) for v in setups}))


def _run_lines(run: pd.DataFrame, values: dict[str, float]) -> list[dict]:
    first = run.iloc[0]
    # An aggregate's eval sets as their specs were (their setup digests): runs that averaged other specs of
    # the same names are other cells.
    eval_setup = _joined(run["eval_setup"])
    return [{**{c: first[c] for c in RUN_FIELDS}, "eval": name, "eval_setup": eval_setup, "value": v, "own": False,
             "n": None, "predictions": None}
            for name, v in values.items() if not np.isnan(v)]


def _runs(lines: pd.DataFrame):
    """(the comparison's per-language values, the languages the run lacks, the run's values) per run and
    eval kind. An average compares like with like only when every run averages the same eval sets, so
    a language is missing from a run that lacks any eval set in it that another run of its comparison scored."""
    for _, base in multilingual(lines).dropna(subset=["eval_lang"]).groupby(LANG_BASE, sort=False, dropna=False):
        sets = dict(zip(base["eval"], base["eval_lang"]))
        scored = base.groupby("run_id", sort=False)["eval"].agg(set)
        values = per_language_values(base)
        for run_id, run in values.groupby("run_id", sort=False):
            missing = {lang for name, lang in sets.items() if name not in scored[run_id]}
            yield values, missing, run


def _warn_incomplete(short: dict) -> None:
    if short:
        missing = ", ".join(sorted({str(x) for m in short.values() for x in m}))
        warnings.warn(f"{len(short)} target run(s) lack eval sets other runs of their comparison have, in "
                      f"{missing}; they are left out of the averages over those languages (avg, gap, "
                      "family, genus, robustness)", LedgerWarning, stacklevel=3)


def aggregate_lines(lines: pd.DataFrame) -> pd.DataFrame:
    """Per-run averages over languages, gap and family/genus means (module docstring)."""
    out, short = [], {}
    for base, missing, run in _runs(lines):
        train = run["lang"].iloc[0]
        if missing:
            short[run["run_id"].iloc[0]] = missing
        others = run[run["eval_lang"] != train]
        values = {}
        if len(others) and not missing - {train}:
            values[f"avg (excl. {train})"] = others["value"].mean()
            at_train = run.loc[run["eval_lang"] == train, "value"]
            if len(at_train) and train not in missing:
                values[f"gap ({train} − avg)"] = at_train.mean() - others["value"].mean()
        zero_shot = base[base["eval_lang"] != train]
        for level in ("family", "genus"):
            col = f"eval_{level}"
            for name, g in others.dropna(subset=[col]).groupby(col):
                if not missing & set(zero_shot.loc[zero_shot[col] == name, "eval_lang"]):
                    values[f"{level} {name}"] = g["value"].mean()
        out += _run_lines(run, values)
    _warn_incomplete(short)
    return pd.DataFrame(out)


def _view(eval_name: str) -> tuple[str, str | None]:
    head, _, rest = str(eval_name).partition(" ")
    if head in ("family", "genus"):
        return head, rest
    return ("average", None) if head == "avg" else ("gap", None)


def language_table(lines: pd.DataFrame, cells: pd.DataFrame,
                   bootstrap: Bootstrap = Bootstrap()) -> pd.DataFrame:
    """Per-language cells (taken from ``cells``, the main table) and aggregate cells, for every
    multilingual target; sorted per model × variant: languages by family, then the aggregates."""
    ml = multilingual(lines)
    if ml.empty:
        return pd.DataFrame(columns=LANGUAGE_COLUMNS)
    bases = ml[LANG_BASE].drop_duplicates()
    per_lang = cells.merge(bases, on=LANG_BASE).dropna(subset=["eval_lang"]).copy()
    per_lang["view"], per_lang["group_name"] = "language", per_lang["eval_family"]
    agg = table_from_lines(aggregate_lines(lines), Bootstrap(resamples=0))
    views = [_view(e) for e in agg["eval"]]
    agg["view"] = [v for v, _ in views]
    agg["group_name"] = [g for _, g in views]
    table = pd.concat([per_lang, agg], ignore_index=True)[LANGUAGE_COLUMNS]
    table["_order"] = table["view"].map(VIEWS.index)
    table = table.sort_values(LANG_BASE + ITT_KEYS + ["_order", "group_name", "eval_lang", "eval"],
                              na_position="last", kind="stable")
    return table.drop(columns="_order").reset_index(drop=True)


def robustness_lines(lines: pd.DataFrame) -> pd.DataFrame:
    out = []
    for _, missing, run in _runs(lines):
        if missing:  # over fewer languages its mean, worst and std are others
            continue
        v = run["value"].to_numpy(dtype=float)
        worst = v.min() if higher_is_better(run["metric"].iloc[0]) else v.max()
        out += _run_lines(run, dict(zip(ROBUST_STATS, (v.mean(), worst, v.std(ddof=0)))))
    return pd.DataFrame(out)


def single_task_reference(variant: str, variants: list[str], means: dict | None = None) -> str | None:
    """The single-task variant ``variant`` is compared with (None if there is no clear one): the only
    one, when it is one of the variant's steps (or a mixture's members); for a chain, its last step; for a
    mixture, the member whose single-task variant has the highest mean over languages (``means``: variant ->
    mean), i.e. "does mixing beat the best member alone". A single task the variant never trained on is none."""
    singles = [v for v in variants if v != NO_ITT and not any(c in v for c in ">+")]
    if variant in singles:
        return None
    if len(singles) == 1:
        steps = {member for step in variant.split(">") for member in step.split("+")}
        return singles[0] if singles[0] in steps else None
    if ">" not in variant and "+" in variant:
        members = [m for m in variant.split("+") if m in singles and means and m in means]
        return max(members, key=means.__getitem__) if members else None
    last = variant.split(">")[-1]
    return last if last in singles else None


def _reference_setting(settings: set, own):
    """The intermediate settings of a single-task variant a row is compared with (module docstring)."""
    if own in settings:
        return own
    return next(iter(settings)) if len(settings) == 1 else None


def robustness_table(lines: pd.DataFrame) -> pd.DataFrame:
    """Mean / worst / std over languages per model × target × variant, Δ vs no-ITT and vs the
    single-task variant (columns ``*_vs_single``)."""
    rob = robustness_lines(lines)
    if rob.empty:
        return pd.DataFrame(columns=ROBUST_COLUMNS)
    rob = dedupe_seeds(rob)  # the Δ vs single below pairs seeds as table_from_lines does: the latest run of each
    table = table_from_lines(rob, Bootstrap(resamples=0))
    for col in VS_SINGLE:
        table[col] = None if col in ("single_variant", "single_intermediate_hparams") else np.nan
    keyed = rob.groupby(LANG_BASE + ["eval"], dropna=False)
    for i, r in table.iterrows():
        if pd.isna(r["itt_variant"]):  # no-ITT runs only (e.g. a baseline at other hparams): NaN, not None
            continue
        g = keyed.get_group(tuple(r[k] for k in LANG_BASE + ["eval"]))
        g = g[g["itt"]]
        mean_rows = keyed.get_group(tuple(r[k] for k in LANG_BASE) + (ROBUST_STATS[0],))
        mean_rows = mean_rows[mean_rows["itt"]]
        settings = {v: _reference_setting(set(m["intermediate_hparams"]), r["intermediate_hparams"])
                    for v, m in mean_rows.groupby("itt_variant")}
        means = {v: mean_rows.loc[(mean_rows["itt_variant"] == v) & (mean_rows["intermediate_hparams"] == hp),
                                  "value"].mean() for v, hp in settings.items() if hp is not None}
        ref = single_task_reference(r["itt_variant"], sorted(settings), means)
        if ref is None or settings.get(ref) is None:
            continue
        mine = g[(g["itt_variant"] == r["itt_variant"]) & (g["intermediate_hparams"] == r["intermediate_hparams"])]
        s = compare_sides(mine, g[(g["itt_variant"] == ref) & (g["intermediate_hparams"] == settings[ref])])
        table.loc[i, VS_SINGLE[:-1]] = [ref, settings[ref], s["noitt_mean"], s["delta"], s["n_pairs"],
                                        s["ci_low"], s["ci_high"], s["p_value"]]
    table["_order"] = table["eval"].map(ROBUST_STATS.index)
    table = table.sort_values(LANG_BASE + ITT_KEYS + ["_order"], kind="stable")
    return table.drop(columns="_order").reset_index(drop=True)[ROBUST_COLUMNS]
