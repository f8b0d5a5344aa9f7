"""Build the ledger frame from Weights & Biases runs instead of ``results.jsonl``.

At the end of every run the training code stores the run's complete ledger row in the W&B run's
config under ``ledger``; this module reads exactly those rows, so W&B and the local ledger give
the same frame (same run ids, hparams ids, datasets, eval sets and metrics). Runs without a
``ledger`` entry (still running, killed before the end, or logged by older code) are skipped, and
one warning line says how many. The W&B id, name, group and tags are kept as ``wandb_*`` columns.

``wandb`` is imported only when no ``api`` object is passed, so the mapping can be tested (and used
offline) without it.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterable, Mapping
from typing import Any

import pandas as pd

from .ledger_frame import LedgerWarning, records_to_frame

LEDGER_KEY = "ledger"


def _unwrap(v: Any) -> Any:
    # Older API responses store config entries as {"value": ..., "desc": ...}.
    if isinstance(v, Mapping) and set(v) <= {"value", "desc"} and "value" in v:
        return v["value"]
    return v


def _config(run: Any) -> Mapping:
    cfg = getattr(run, "config", None)
    if isinstance(cfg, Mapping):
        return cfg
    return dict(cfg.items()) if hasattr(cfg, "items") else {}


def run_to_record(run: Any) -> dict | None:
    """The ledger row a public-API Run stored in its config (None if it stored none)."""
    row = _unwrap(_config(run).get(LEDGER_KEY))
    if isinstance(row, str):  # a row logged as a JSON string
        try:
            row = json.loads(row)
        except json.JSONDecodeError:
            return None
    if not isinstance(row, Mapping):
        return None
    rec = dict(row)
    rec["wandb_id"] = getattr(run, "id", None)
    rec["wandb_name"] = getattr(run, "name", None)
    rec["wandb_group"] = getattr(run, "group", None)
    rec["wandb_tags"] = ",".join(getattr(run, "tags", None) or [])
    return rec


def runs_to_frame(runs: Iterable[Any]) -> pd.DataFrame:
    """Ledger-shaped frame (same columns as ``load_ledger``) from an iterable of Runs."""
    records, skipped = [], 0
    for run in runs:
        rec = run_to_record(run)
        if rec is None or not rec.get("run_id") or not rec.get("status"):
            skipped += 1
            continue
        records.append(rec)
    if skipped:
        warnings.warn(f"{skipped} W&B run(s) have no '{LEDGER_KEY}' row in their config "
                      "(still running, killed, or logged before rows were stored); skipped",
                      LedgerWarning, stacklevel=2)
    return records_to_frame(records)


def load_wandb(path: str, api: Any = None, filters: dict | None = None) -> pd.DataFrame:
    """``load_wandb("entity/project")`` -> ledger frame. ``api`` defaults to ``wandb.Api()``."""
    if api is None:
        import wandb  # deferred: only this code path needs wandb and network access

        api = wandb.Api()
    return runs_to_frame(api.runs(path, filters=filters) if filters else api.runs(path))
