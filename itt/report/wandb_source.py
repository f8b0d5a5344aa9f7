"""Build the ledger frame from Weights & Biases runs instead of ``results.jsonl``.

``wandb.Api().runs("entity/project")`` yields public-API ``Run`` objects (``id``, ``name``,
``config``, ``summary``, ``state``, ``tags``, ``group``, ``job_type``, ``created_at``). The
training code logs the composed Hydra config, and may also log the ledger row itself under
``config["ledger"]``; when it is there it is trusted (same ids as the local ledger), otherwise
the row is rebuilt from the config sub-trees. Either way metrics come from ``run.summary``.

In this project the W&B run *name* is the ledger's run_id (``conf/logger/wandb.yaml``) and
the W&B id a hash of it; ``run_id`` here is ``run.id`` and the name is kept as ``wandb_name``.

``wandb`` is imported only when no ``api`` object is passed, so the mapping can be tested
(and used offline) without it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from typing import Any

import pandas as pd

from .ledger_frame import records_to_frame

# run.state -> ledger status. "running"/"pending" runs are neither ok nor failed yet.
STATE_TO_STATUS = {"finished": "ok", "failed": "failed", "crashed": "failed", "killed": "failed"}

# Config sub-trees that are *not* hyper-parameters shared by comparable runs: the identity
# of the run (model/task/stage/seed), the grouping keys themselves, and per-run bookkeeping.
_NOT_HPARAMS = {"model", "task", "stage", "seed", "split", "source", "target", "itt",
                "paths", "hydra", "wandb", "logger", "ledger", "run_id", "checkpoint",
                "output_dir", "intermediate_run_id"}
# Tried in order when the config does not name the primary metric.
_PRIMARY_FALLBACK = ("acc", "spearman", "f1_macro", "pearson", "f1", "mcc")


def _unwrap(v: Any) -> Any:
    # Old runs store config entries as {"value": ..., "desc": ...}.
    if isinstance(v, Mapping) and set(v) <= {"value", "desc"} and "value" in v:
        return v["value"]
    return v


def _as_dict(obj: Any) -> dict:
    """Plain dict from a wandb config/summary (dict, HTTPSummary, or anything with items())."""
    if obj is None:
        return {}
    raw = getattr(obj, "_json_dict", None)  # wandb's HTTPSummary keeps the payload here
    if isinstance(raw, Mapping):
        return dict(raw)
    if isinstance(obj, Mapping):
        return dict(obj.items())
    if hasattr(obj, "items"):
        return dict(obj.items())
    if hasattr(obj, "keys"):
        return {k: obj[k] for k in obj.keys()}
    return {}


def _get(cfg: Mapping, *path: str, default=None):
    """``cfg[a][b]``, also accepting flattened ``"a.b"`` / ``"a/b"`` keys; a bare string
    at ``cfg[a]`` counts as its name (``model: bert`` instead of ``model: {name: bert}``)."""
    cur: Any = cfg
    for i, key in enumerate(path):
        cur = _unwrap(cur)
        if not isinstance(cur, Mapping):
            return cur if path[i:] == ("name",) else default
        if key in cur:
            cur = cur[key]
            continue
        for sep in (".", "/"):
            flat = sep.join(path[i:])
            if flat in cur:
                return _unwrap(cur[flat])
        return default
    return _unwrap(cur)


def _name(cfg: Mapping, key: str):
    v = _get(cfg, key, "name")
    return v if not isinstance(v, Mapping) else None


def hparams_hash(cfg: Mapping) -> str:
    """Stable short hash of the config minus run identity and bookkeeping.

    Only used when the run did not log the ledger's own ``hparams_id``; prefixed ``wb-`` so
    it is never mistaken for (or grouped with) a ledger id.
    """
    rest = {k: _unwrap(v) for k, v in cfg.items()
            if k.split(".")[0].split("/")[0] not in _NOT_HPARAMS and not k.startswith("_")}
    blob = json.dumps(rest, sort_keys=True, default=str)
    return "wb-" + hashlib.sha1(blob.encode()).hexdigest()[:8]


def ledger_hparams_id(cfg: Mapping) -> str | None:
    """The training code's own ``hparams_id`` (``itt.identity``) recomputed from the logged,
    resolved config, so W&B runs group exactly like their ledger rows. None when the config
    lacks the parts it hashes or the training package cannot be imported."""
    if not all(isinstance(_unwrap(cfg.get(k)), Mapping)
               for k in ("trainer", "data", "optim", "split", "source")):
        return None
    try:
        from omegaconf import OmegaConf

        from itt.identity import hparams_id
        return hparams_id(OmegaConf.create({k: _unwrap(v) for k, v in cfg.items()}))
    except Exception:  # any mismatch with the training code's schema: use our own hash
        return None


def _metrics(summary: Mapping) -> dict[str, float]:
    # Keep numeric scalars only; wandb's own keys start with "_" (_step, _runtime, ...).
    out = {}
    for k, v in summary.items():
        if str(k).startswith("_") or isinstance(v, bool):
            continue
        if isinstance(v, (int, float)):
            out[str(k)] = float(v)
    return out


def _primary_metric(cfg: Mapping, metrics: Mapping) -> str | None:
    for path in (("task", "primary_metric"), ("task", "metric"), ("primary_metric",)):
        v = _get(cfg, *path)
        if isinstance(v, str) and v:
            return v.rsplit("/", 1)[-1]
    for name in _PRIMARY_FALLBACK:
        if f"test/{name}" in metrics:
            return name
    return None


def run_to_record(run: Any) -> dict:
    """Map one public-API Run to a ledger row dict (see the ledger spec in ``ledger_frame``)."""
    cfg = _as_dict(getattr(run, "config", None))
    summary = _as_dict(getattr(run, "summary", None))
    metrics = _metrics(summary)
    state = getattr(run, "state", None)
    ledger = _unwrap(cfg.get("ledger"))
    ledger = dict(ledger) if isinstance(ledger, Mapping) else {}

    rec = {
        "run_id": getattr(run, "id", None),
        "model": _name(cfg, "model"),
        "task": _name(cfg, "task"),
        "stage": _name(cfg, "stage"),
        "target": _get(cfg, "stage", "target"),
        "itt": _get(cfg, "stage", "itt"),
        "seed": _get(cfg, "seed"),
        "split": _name(cfg, "split"),
        "source": _name(cfg, "source"),
        "primary_metric": _primary_metric(cfg, metrics),
        "checkpoint": None,
        "intermediate_run_id": _get(cfg, "stage", "intermediate_run_id",
                                    default=_get(cfg, "intermediate_run_id")),
        "wall_s": summary.get("_runtime"),
        "hparams_id": _get(cfg, "hparams_id") or ledger_hparams_id(cfg) or hparams_hash(cfg),
        "time": _created(run),
        "error": None,
    }
    # The logged ledger row (when present) is the authority for every field it has.
    rec.update({k: v for k, v in ledger.items() if k != "metrics" and v is not None})
    rec["run_id"] = ledger.get("run_id") or getattr(run, "id", None)
    rec["status"] = STATE_TO_STATUS.get(str(state), str(state) if state else None)
    rec["metrics"] = metrics
    rec["wandb_id"] = getattr(run, "id", None)
    rec["wandb_name"] = getattr(run, "name", None)
    rec["wandb_group"] = getattr(run, "group", None)
    rec["wandb_job_type"] = getattr(run, "job_type", None)
    rec["wandb_tags"] = ",".join(getattr(run, "tags", None) or [])
    return rec


def _created(run: Any):
    v = getattr(run, "created_at", None)
    return v if isinstance(v, str) else (v.isoformat() if hasattr(v, "isoformat") else None)


def runs_to_frame(runs: Iterable[Any]) -> pd.DataFrame:
    """Ledger-shaped frame (same columns as ``load_ledger``) from an iterable of Runs."""
    return records_to_frame([run_to_record(r) for r in runs])


def load_wandb(path: str, api: Any = None, filters: dict | None = None) -> pd.DataFrame:
    """``load_wandb("entity/project")`` -> ledger frame. ``api`` defaults to ``wandb.Api()``."""
    if api is None:
        import wandb  # deferred: only this code path needs wandb and network access

        api = wandb.Api()
    return runs_to_frame(api.runs(path, filters=filters) if filters else api.runs(path))
