"""The long table: one line per run × evaluated set × split (val/test) × metric.

Every view of the report is a group-by on it. A target run evaluates on its own test split (the
line's ``eval`` is its dataset role, ``own=True``) and on the task's eval sets (``eval`` = the set's
name, e.g. ``xnli_de``); intermediate runs have their own set only. Columns:

* the run: ``run_id, time, model, hub_id, pretraining, languages`` (the last three from
  ``model_info``), ``task, kind, stage, target, itt, itt_variant, chain_steps, seed, split,
  source, hparams_id, selected_on, primary_metric, parent_run_id, predictions``;
* the dataset it trained on: ``role, path, subset, lang, domain, key`` and, for ITT targets,
  ``intermediate_key`` (what the parent run trained on; see :mod:`itt.report.chain`) and
  ``intermediate_lang`` (the language of every step before it: ``en``, ``de``, ``en>de`` for a chain,
  ``en+de`` for a mixture; null without ITT), so English vs target-language ITT is a column, and
  ``intermediate_hparams``, the id of the settings its intermediate steps were trained with
  (:func:`itt.report.chain.intermediate_hparams`; null without ITT or when unknown);
* the evaluated set: ``eval, own, eval_key, eval_kind, eval_lang, eval_family, eval_genus,
  eval_script, eval_domain``, ``eval_split`` (``val``/``test``) and ``n`` (its items). ``eval_kind``
  is the set's task kind (an eval set may have another kind than the run, e.g. retrieval on a
  classifier; rows without it: the run's kind); ``test_overlap``: how many of the set's test items
  are identical to items an ancestor run trained on (the row's ``overlap``; 0 without ancestors, null
  when not checked);
* ``metric`` (bare name, e.g. ``acc``) and ``value``.

Language family, genus and script come from :mod:`itt.languages` for every known code (one source
for old and new rows alike); a row's own values are used only for codes the table lacks. ``lang``,
``eval_lang`` and ``intermediate_lang`` hold a known language's code as the table spells it (``en-US``, ``EN`` ->
``en``): the views compare languages by it, so a region tag never makes a language of its own.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping

import pandas as pd

from itt import languages

from .chain import intermediate_hparams, parent_keys, parent_langs
from .dataset_keys import dataset_key, mixture_key
from .ledger_frame import GROUP_KEYS, MISSING, LedgerWarning, _as_float, is_missing, latest_ok, warn

SPLITS = {"val": "validation", "test": "test"}  # metric prefix -> data_sizes / evals n key
RUN_COLUMNS = [
    "run_id", "time", "_line", "model", "hub_id", "pretraining", "languages", "task", "kind",
    "stage", "target", "itt", "itt_variant", "chain_steps", "seed", "split", "source",
    "hparams_id", "selected_on", "primary_metric", "parent_run_id", "predictions",
    "role", "path", "subset", "lang", "domain", "key", "setup", "intermediate_key", "intermediate_lang",
    "intermediate_hparams",
]
EVAL_COLUMNS = ["eval", "own", "eval_key", "eval_setup", "eval_kind", "eval_lang", "eval_family", "eval_genus",
                "eval_script", "eval_domain", "eval_split", "n", "test_overlap", "metric", "value"]
LONG_COLUMNS = RUN_COLUMNS + EVAL_COLUMNS
# Keys groupby must never silently drop (pandas drops NaN keys): missing -> "n/a". So is an ITT run's
# unknown ``intermediate_hparams`` (its settings: one group of their own); a no-ITT run's stays null.
KEY_COLUMNS = GROUP_KEYS + ["task", "target", "key", "setup", "eval", "eval_setup", "eval_kind", "metric", "model",
                            "itt_variant"]


def _lang_fields(spec: Mapping, prefix: str) -> dict:
    described = languages.describe(spec)
    return {f"{prefix}lang": languages.code(spec.get("lang")), **{prefix + k: v for k, v in described.items()},
            f"{prefix}domain": spec.get("domain")}


def _evaluated_sets(row: Mapping) -> list[tuple[str, bool, Mapping, dict, dict]]:
    """(eval name, own, spec, {split: n}, {"val/acc": v, ...}) for every set the run was scored on."""
    metrics = row["metrics"] if isinstance(row.get("metrics"), Mapping) else {}
    own_metrics, flat_evals = {}, {}
    for name, value in metrics.items():
        parts = str(name).split("/")
        if len(parts) == 2 and parts[0] in SPLITS:
            own_metrics[name] = value
        elif len(parts) == 3 and parts[0] in SPLITS:
            flat_evals.setdefault(parts[1], {})[f"{parts[0]}/{parts[2]}"] = value
    sizes = row["data_sizes"]
    own_n = {"test": row["n_test"] if not is_missing(row["n_test"]) else sizes.get("test"),
             "validation": sizes.get("validation")}
    dataset = row["dataset"]
    role = dataset.get("role") or row.get("target") or row.get("stage")
    sets = [(role, True, dataset, own_n, own_metrics)]
    evals = row["evals"]
    for name in list(evals) + [n for n in flat_evals if n not in evals]:
        spec = evals.get(name) if isinstance(evals.get(name), Mapping) else {}
        # The eval's own metrics dict is the authority; flat "test/<eval>/acc" keys fill gaps.
        found = {**flat_evals.get(name, {}), **(spec.get("metrics") or {})}
        n = spec.get("n") if isinstance(spec.get("n"), Mapping) else {}
        sets.append((name, False, spec, n, found))
    return sets


def test_overlap(row: Mapping, name: str, own: bool):
    """Test items of an evaluated set that an ancestor trained on (``itt.data.overlap``); None when the
    run did not check (an ancestor without a fingerprint, a row from before overlap was recorded)."""
    record = row.get("overlap")
    if not isinstance(record, Mapping) or not record.get("checked"):
        return None
    return record.get("test") if own else (record.get("evals") or {}).get(name)


def chain_langs(chain: list) -> str | None:
    """``en``, ``en>de`` (two steps), ``en+de`` (a mixture) from a row's ``chain``; None for no steps
    or steps that name no language."""
    steps = []
    for step in chain or []:
        langs = ([str(languages.code(x)) for x in (step.get("langs") or []) if not is_missing(x)]
                 if isinstance(step, Mapping) else [])
        if not langs:
            return None
        steps.append("+".join(langs))
    return ">".join(steps) or None


def _run_fields(row: Mapping, parent_key: str | None, parent_lang: str | None = None,
                settings: str | None = None) -> dict:
    info, dataset = row["model_info"], row["dataset"]
    out = {c: row.get(c) for c in RUN_COLUMNS if c in row}
    out.update(
        hub_id=info.get("hub_id"), pretraining=info.get("pretraining"),
        languages=info.get("languages"), chain_steps=len(row["chain"]),
        role=dataset.get("role") or row.get("target") or row.get("stage"),
        path=dataset.get("path"), subset=dataset.get("subset"), lang=languages.code(dataset.get("lang")),
        domain=dataset.get("domain"),
        key=mixture_key(row["datasets"], dataset, row.get("source")),
        setup=row.get("setup_id"),
        intermediate_key=parent_key,
        intermediate_lang=(chain_langs(row["chain"]) or parent_lang) if row.get("itt") else None,
        intermediate_hparams=settings if row.get("itt") else None,
    )
    return out


def long_table(df: pd.DataFrame) -> pd.DataFrame:
    """The long table of the latest ``ok`` row of every run in a ledger frame (``load_ledger``)."""
    runs = latest_ok(df)
    parents, langs, settings = parent_keys(runs), parent_langs(runs), intermediate_hparams(runs)
    lines = []
    for row in runs.to_dict("records"):
        rid = row["run_id"]
        base = _run_fields(row, parents.get(rid), langs.get(rid), settings.get(rid))
        for name, own, spec, sizes, metrics in _evaluated_sets(row):
            spec_fields = _lang_fields(spec, "eval_")
            eval_key = base["key"] if own else dataset_key(spec, row.get("source"))
            eval_kind = (None if own else spec.get("kind")) or row.get("kind")
            for metric_name, value in metrics.items():
                split, metric = metric_name.split("/", 1)
                if metric == "loss":
                    continue
                lines.append({**base, "eval": name, "own": own, "eval_key": eval_key,
                              "eval_setup": None if own else spec.get("setup"),
                              "eval_kind": eval_kind, **spec_fields, "eval_split": split,
                              "n": sizes.get(SPLITS[split]), "test_overlap": test_overlap(row, name, own),
                              "metric": metric,
                              "value": _as_float(value)})
    long = pd.DataFrame(lines, columns=LONG_COLUMNS)
    for col in ("n", "test_overlap"):
        long[col] = pd.to_numeric(long[col], errors="coerce").astype("Int64")
    long["seed"] = pd.to_numeric(long["seed"], errors="coerce").astype("Int64")
    long["own"] = long["own"].astype(bool)
    return long


class MetricError(ValueError):
    """A ``metric=`` the report cannot select: a split prefix other than val/test, or a metric no target run
    was scored on. The message is the one line to print."""


def metric_choice(metric: str | None) -> tuple[str, str] | None:
    """``"acc"`` -> ``("test", "acc")``; ``"val/acc"`` -> ``("val", "acc")``; None -> None."""
    if not metric:
        return None
    split, _, name = metric.rpartition("/")
    if (split and split not in SPLITS) or not name:
        raise MetricError(f"metric={metric}: give a metric name, optionally after a split prefix ({', '.join(SPLITS)}): "
                          f"acc = test/acc, or val/acc")
    return (split or "test"), name


def metric_names(lines: pd.DataFrame) -> list[str]:
    """The metrics ``lines`` hold, as ``metric=`` spells them: ``acc`` (= test/acc), ``val/acc``."""
    found = lines.loc[lines["value"].notna(), ["eval_split", "metric"]].drop_duplicates()
    return sorted(m if s == "test" else f"{s}/{m}" for s, m in found.itertuples(index=False))


def _check_metric(lines: pd.DataFrame, metric: str, keep: pd.Series) -> None:
    """A metric no target run has is a typo, not a finding: refused before any report is (over)written. One
    that only some runs lack (f1_macro next to a regression task) is said by ``_warn_missing``."""
    if lines.empty or (keep & lines["value"].notna()).any():
        return
    raise MetricError(f"metric={metric}: no target run has {'/'.join(metric_choice(metric))}; "
                      f"valid: {', '.join(metric_names(lines))}")


def select(long: pd.DataFrame, metric: str | None = None,
           runs: pd.DataFrame | None = None) -> pd.DataFrame:
    """Target-stage lines of one metric: ``metric=None`` = each run's ``test/<primary_metric>``
    (a run without one borrows its task's most common one); ``"acc"`` = ``test/acc``;
    ``"val/acc"`` as given. ``metric`` becomes the full name (``test/acc``). Runs whose own set
    lacks the metric, or whose ``itt`` flag is unknown, are dropped with a warning; ``runs`` (the
    latest-ok ledger rows) lets that warning count runs that logged no metric at all. A ``metric`` no
    target run has raises :class:`MetricError` naming the ones they have."""
    lines = long[long["stage"] == "target"].copy()
    choice = metric_choice(metric)
    if choice is None:
        primary = lines["primary_metric"].where(lines["primary_metric"].notna())
        by_task = primary.groupby(lines["task"]).agg(
            lambda s: s.mode().iloc[0] if s.notna().any() else None)
        wanted = primary.fillna(lines["task"].map(by_task))
        keep = (lines["eval_split"] == "test") & (lines["metric"] == wanted)
    else:
        keep = (lines["eval_split"] == choice[0]) & (lines["metric"] == choice[1])
        _check_metric(lines, metric, keep)
    chosen = lines[keep & lines["value"].notna()]
    _warn_missing(lines if runs is None else runs[runs["stage"] == "target"], chosen, metric)
    no_itt = chosen["itt"].isna()
    if no_itt.any():
        warn(f"{chosen.loc[no_itt, 'run_id'].nunique()} target run(s) have itt=null; not counted")
    chosen = chosen[~no_itt].copy()
    chosen["itt"] = chosen["itt"].astype(bool)
    chosen["metric"] = chosen["eval_split"] + "/" + chosen["metric"]
    for col in KEY_COLUMNS:
        chosen[col] = chosen[col].map(lambda v: MISSING if is_missing(v) else v)
    unknown = chosen["itt"] & chosen["intermediate_hparams"].map(is_missing).astype(bool)  # empty: not str dtype
    chosen["intermediate_hparams"] = chosen["intermediate_hparams"].astype(object).where(~unknown, MISSING)
    chosen["setup"] = _setups_of_old_runs(chosen)
    chosen["eval_setup"] = _eval_setups_of_old_runs(chosen)
    return chosen.reset_index(drop=True)


# A comparison of a run's own set: rows from before setup ids (``MISSING``) join the one setup it has.
SETUP_PEERS = GROUP_KEYS + ["task", "target", "key", "eval_kind", "metric", "model"]
_RERUN = "rerun them with force=true to record theirs"


def _single(values: pd.Series, by: list[pd.Series]) -> pd.Series:
    """Per row, the one non-missing value its group (``by``) holds, or None for none or several."""
    return values.groupby(by, dropna=False).transform(lambda s: s.dropna().iloc[0] if s.dropna().nunique() == 1 else None)


def _setups_of_old_runs(chosen: pd.DataFrame) -> pd.Series:
    """``chosen["setup"]`` with each run written before setup ids given the one setup the comparison of its own
    set has, on every line of the run (its eval sets' too): a study extended after the update (new seeds, a new
    variant) still pairs its new runs with the old ones. A run whose comparison holds several setups cannot be
    told, and stays apart (said once)."""
    values = chosen["setup"]
    old = values == MISSING
    if not old.any() or old.all():
        return values
    own = chosen["own"].astype(bool)
    known = values.where(~old)
    by = [chosen.loc[own, c] for c in SETUP_PEERS]
    single = _single(known[own], by)
    several = known[own].groupby(by, dropna=False).transform("nunique").gt(1)
    old_own = old[own]
    by_run = dict(zip(chosen.loc[single[old_own].dropna().index, "run_id"], single[old_own].dropna()))
    apart = chosen.loc[several[old_own & several].index, "run_id"].nunique()
    if by_run:
        warn(f"{len(by_run)} run(s) from before setup ids are compared with the one setup of their comparison ({_RERUN})")
    if apart:
        warn(f"{apart} run(s) from before setup ids are kept apart: their comparison holds several setups (other "
             f"max_rows, hub model or task options) and theirs is not recorded ({_RERUN})")
    filled = chosen["run_id"].map(by_run)
    return values.where(~old | filled.isna(), filled)


def _eval_setups_of_old_runs(chosen: pd.DataFrame) -> pd.Series:
    """``chosen["eval_setup"]`` of eval lines written before setup ids: the one eval setup their eval set has in
    the run's setup (own lines have none)."""
    values = chosen["eval_setup"]
    old = (values == MISSING) & ~chosen["own"].astype(bool)
    if not old.any():
        return values
    single = _single(values.where(values != MISSING), [chosen[c] for c in SETUP_PEERS + ["setup", "eval"]])
    return values.where(~old | single.isna(), single)


def _warn_missing(runs: pd.DataFrame, chosen: pd.DataFrame, metric: str | None) -> None:
    runs = runs.drop_duplicates("run_id")
    lacking = runs[~runs["run_id"].isin(set(chosen.loc[chosen["own"], "run_id"]))]
    if lacking.empty:
        return
    if metric:
        names = metric if "/" in metric else f"test/{metric}"
    else:
        names = ", ".join(sorted({f"test/{m}" if not is_missing(m) else "(no primary_metric)"
                                  for m in lacking["primary_metric"]}))
    tasks = ", ".join(sorted({str(t) for t in lacking["task"]}))
    warn(f"{len(lacking)} target run(s) lack metric {names} (tasks: {tasks}); not counted")


def target_runs(df: pd.DataFrame, metric: str | None = None) -> pd.DataFrame:
    """One line per counted target run: its own test set's ``metric`` (full name) and ``value``."""
    lines = select(long_table(df), metric, runs=latest_ok(df))
    return lines[lines["own"]].drop_duplicates("run_id").reset_index(drop=True)
