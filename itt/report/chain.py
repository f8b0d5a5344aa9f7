"""Follow a run to the chain of runs it started from (``parent_run_id`` links, oldest first).

An ITT target's intermediate dataset is what its parent run trained on: new rows name the
earlier steps in ``chain`` by role and language only, so the key is read from the parent's own
ledger row (``dataset.key``, or the rebuilt key of :mod:`itt.report.dataset_keys`). The settings its
steps were trained with are the row's ``intermediate_hparams_id``; a row written before that key is
given the same id rebuilt from its ancestors' own rows (their ``hparams_id``, oldest first).
"""

from __future__ import annotations

import warnings

import pandas as pd

from itt.identity import chain_hparams_id

from .dataset_keys import mixture_key
from .ledger_frame import LedgerWarning, _is_missing, latest_ok


def _by_run_id(df: pd.DataFrame) -> dict[str, dict]:
    rows = latest_ok(df) if "status" in df.columns else df
    return {r["run_id"]: r for r in rows.to_dict("records")}


def follow_chain(df: pd.DataFrame, run_id: str) -> list[dict]:
    """The rows from the first step to ``run_id`` itself, oldest first (latest ok row of each).

    Stops at a run without a parent; a parent missing from the ledger ends the list early with a
    warning (its rows were written elsewhere, or it failed). Unknown ``run_id`` -> KeyError.
    """
    rows = _by_run_id(df)
    if run_id not in rows:
        raise KeyError(f"run {run_id!r} has no ok row in the ledger")
    chain, seen = [rows[run_id]], {run_id}
    while not _is_missing(parent := chain[0].get("parent_run_id")):
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
            if not _is_missing(parent) and parent in keys}


def parent_langs(runs: pd.DataFrame) -> dict[str, str]:
    """run_id -> language(s) its parent trained on (``en``, ``en+de`` for a mixture), for rows that
    predate ``chain`` (newer rows name every step's languages there)."""
    def langs(row) -> str | None:
        members = [d for d in (row.get("datasets") or []) if isinstance(d, dict)] or [row.get("dataset") or {}]
        found = [str(d.get("lang")) for d in members if not _is_missing(d.get("lang"))]
        return "+".join(found) or None

    by_id = {r["run_id"]: langs(r) for r in runs.to_dict("records")}
    return {rid: by_id[parent] for rid, parent in zip(runs["run_id"], runs["parent_run_id"])
            if not _is_missing(parent) and by_id.get(parent)}


def intermediate_hparams(runs: pd.DataFrame) -> dict[str, str]:
    """run_id -> the settings id of the steps before it, for every run with a parent: its own
    ``intermediate_hparams_id``, else ``itt.identity.chain_hparams_id`` of its ancestors' ``hparams_id``
    read from their rows in ``runs``. A run whose ancestors cannot all be read (a step's row is not in
    ``runs``, or has no ``hparams_id``) is left out: its intermediate settings are unknown."""
    rows = {r["run_id"]: r for r in runs.to_dict("records")}
    out = {}
    for run_id, row in rows.items():
        if _is_missing(row.get("parent_run_id")):
            continue
        recorded = row.get("intermediate_hparams_id")
        if not _is_missing(recorded):
            out[run_id] = recorded
        elif (ids := _ancestor_hparams(rows, row)) is not None:
            out[run_id] = chain_hparams_id(ids)
    return out


def _ancestor_hparams(rows: dict[str, dict], row: dict) -> list[str] | None:
    ids, seen, parent = [], {row["run_id"]}, row.get("parent_run_id")
    while not _is_missing(parent):
        step = rows.get(parent)
        if step is None or parent in seen or _is_missing(step.get("hparams_id")):
            return None
        seen.add(parent)
        ids.insert(0, step["hparams_id"])
        parent = step.get("parent_run_id")
    return ids
