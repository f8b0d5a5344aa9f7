"""Follow a run to the chain of runs it started from (``parent_run_id`` links, oldest first).

An ITT target's intermediate dataset is what its parent run trained on: new rows name the
earlier steps in ``chain`` by role and language only, so the key is read from the parent's own
ledger row (``dataset.key``, or the rebuilt key of :mod:`itt.report.dataset_keys`). How its steps were
made (settings, data, checkpoint metric, sampler, head policies) is the row's ``intermediate_hparams_id``;
a row written before that key is given the same id rebuilt from its ancestors' own rows.
"""

from __future__ import annotations

import warnings

import pandas as pd

from itt import languages
from itt.identity import chain_hparams_id

from .dataset_keys import dataset_key, mixture_key
from .ledger_frame import LedgerWarning, is_missing, latest_ok


def _by_run_id(df: pd.DataFrame) -> dict[str, dict]:
    rows = latest_ok(df) if "status" in df.columns else df
    return {r["run_id"]: r for r in rows.to_dict("records")}


def follow_chain(df: pd.DataFrame, run_id: str) -> list[dict]:
    """The rows from the first step to ``run_id`` itself, oldest first (latest ok row of each; of its
    configuration, when ``run_id``'s row was replaced by a newer one from another machine).

    Stops at a run without a parent; a parent missing from the ledger ends the list early with a
    warning (its rows were written elsewhere, or it failed). Unknown ``run_id`` -> KeyError.
    """
    rows = _by_run_id(df)
    if run_id not in rows and "config_id" in df.columns:  # replaced by a newer row of its config (another machine)
        config_id = dict(zip(df["run_id"], df["config_id"])).get(run_id)
        run_id = next((rid for rid, row in rows.items() if row.get("config_id") == config_id), run_id)
    if run_id not in rows:
        raise KeyError(f"run {run_id!r} has no ok row in the ledger")
    chain, seen = [rows[run_id]], {run_id}
    while not is_missing(parent := chain[0].get("parent_run_id")):
        if parent in seen:  # a hand-edited ledger could loop; never spin
            warnings.warn(f"chain of {run_id} loops at {parent}", LedgerWarning, stacklevel=2)
            break
        if parent not in rows:
            warnings.warn(f"chain of {run_id}: parent {parent} has no ok row in the ledger",
                          LedgerWarning, stacklevel=2)
            break
        seen.add(parent)
        chain.insert(0, rows[parent])
    return chain


def training_key(row: dict) -> str:
    """Key of the data a ledger row trained on (``a+b`` for a mixture)."""
    return mixture_key(row.get("datasets"), row.get("dataset"), row.get("source"))


def parent_keys(runs: pd.DataFrame) -> dict[str, str]:
    """run_id -> training key of its parent, for every run whose parent has a row in ``runs``."""
    keys = {r["run_id"]: training_key(r) for r in runs.to_dict("records")}
    return {rid: keys[parent] for rid, parent in zip(runs["run_id"], runs["parent_run_id"])
            if not is_missing(parent) and parent in keys}


def parent_langs(runs: pd.DataFrame) -> dict[str, str]:
    """run_id -> language(s) its parent trained on (``en``, ``en+de`` for a mixture), for rows that
    predate ``chain`` (newer rows name every step's languages there)."""
    def langs(row) -> str | None:
        members = [d for d in (row.get("datasets") or []) if isinstance(d, dict)] or [row.get("dataset") or {}]
        found = [str(languages.code(d.get("lang"))) for d in members if not is_missing(d.get("lang"))]
        return "+".join(found) or None

    by_id = {r["run_id"]: langs(r) for r in runs.to_dict("records")}
    return {rid: by_id[parent] for rid, parent in zip(runs["run_id"], runs["parent_run_id"])
            if not is_missing(parent) and by_id.get(parent)}


def intermediate_hparams(runs: pd.DataFrame) -> dict[str, str]:
    """run_id -> how the steps before it were made, for every run with a parent: its own
    ``intermediate_hparams_id``, else ``itt.identity.chain_hparams_id`` rebuilt from its ancestors' rows in
    ``runs`` (their dataset keys rebuilt as :mod:`.dataset_keys` does for old rows). A run whose ancestors
    cannot all be read (a step's row is not in ``runs``) is left out: its intermediate settings are unknown."""
    rows = {r["run_id"]: r for r in runs.to_dict("records")}
    out: dict[str, str] = {}
    for run_id in rows:
        if (found := _settings_of(rows, run_id, out, set())) is not None:
            out[run_id] = found
    return out


def _settings_of(rows: dict[str, dict], run_id: str, done: dict[str, str], seen: set) -> str | None:
    row = rows[run_id]
    parent_id = row.get("parent_run_id")
    if is_missing(parent_id):
        return None
    if not is_missing(recorded := row.get("intermediate_hparams_id")):
        return recorded
    if run_id in done:
        return done[run_id]
    parent = rows.get(parent_id)
    if parent is None or run_id in seen:  # not in the ledger, or a hand-edited loop
        return None
    seen.add(run_id)
    before = _settings_of(rows, parent_id, done, seen)
    members = [d for d in (parent.get("datasets") or []) if isinstance(d, dict)] or [parent.get("dataset") or {}]
    keyed = [{**d, "key": dataset_key(d, parent.get("source"))} for d in members]
    step = {**_plain(parent), "datasets": keyed, "dataset": keyed[0], "intermediate_hparams_id": before}
    return chain_hparams_id(step, None if is_missing(row.get("head_policy")) else row.get("head_policy"))


def _plain(row: dict) -> dict:
    """A frame row with pandas' missing values as None (what the ledger line held)."""
    return {k: None if is_missing(v) else v for k, v in row.items()}
