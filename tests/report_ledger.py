"""Synthetic ledgers for the report tests: rows written exactly per the ledger row schema of
notes/DESIGN.md (every key present), plus per-item prediction files.

    rows = [target_row("xlmr-xnli-en-none-s0", model="xlmr", seed=0, value=0.8,
                       evals={"de": eval_set("de", 0.7)})]
    write_ledger(tmp_path, rows)
"""

from __future__ import annotations

import json
from pathlib import Path

from itt import languages

_clock = iter(range(100_000))


def stamp() -> str:
    t = next(_clock)
    return f"2025-01-01T{t // 3600 % 24:02d}:{t // 60 % 60:02d}:{t % 60:02d}+00:00"


def dataset(role: str, path: str, subset: str | None = None, lang: str = "en",
            domain: str | None = "general", key: str | None = "auto") -> dict:
    """A row's ``dataset`` dict; ``key="auto"`` writes the key the lead's pipeline writes."""
    info = languages.get(lang)
    out = {"role": role, "path": path, "subset": subset, "revision": None, "lang": lang,
           "family": info.family if info else None, "genus": info.genus if info else None,
           "script": info.script if info else None, "domain": domain, "fingerprint": "f" * 16}
    if key == "auto":
        out["key"] = f"{path}:{subset}" if subset else path
    elif key is not None:
        out["key"] = key
    return out


def eval_set(lang: str, test: float, val: float | None = None, path: str = "xnli",
             n_test: int = 100, metric: str = "acc", domain: str = "general") -> dict:
    """One entry of a row's ``evals``: spec fields, item counts and its metrics."""
    info = languages.get(lang)
    return {"path": path, "subset": lang, "lang": lang, "family": info.family if info else None,
            "genus": info.genus if info else None, "script": info.script if info else None,
            "domain": domain, "n": {"validation": n_test, "test": n_test},
            "metrics": {f"val/{metric}": test - 0.01 if val is None else val,
                        f"test/{metric}": test}}


def base_row(run_id: str, *, model: str = "xlmr", task: str = "xnli", kind: str =
             "sequence_classification", stage: str = "target", seed: int = 0,
             hparams_id: str = "hp000001", source: str = "hub", split: str = "official",
             data: dict | None = None, metric: str = "acc", value: float | None = 0.8,
             status: str = "ok", error: str | None = None) -> dict:
    """Every key of the schema, with a plausible value (targets: no ITT by default)."""
    data = data or dataset("en" if stage == "target" else "intermediate", "mnli")
    metrics = {} if value is None else {f"val/{metric}": value - 0.01, f"test/{metric}": value}
    return {
        "run_id": run_id, "status": status, "time": stamp(), "model": model,
        "model_info": {"hub_id": f"org/{model}", "pretraining": "text", "languages": "multi",
                       "revision": None},
        "task": task, "kind": kind, "stage": stage,
        "target": data["role"] if stage == "target" else None,
        "itt": False if stage == "target" else None, "itt_variant": "none", "seed": seed,
        "split": split, "source": source, "hparams_id": hparams_id, "primary_metric": metric,
        "selected_on": f"val/{metric}", "metrics": metrics, "dataset": data, "datasets": [data],
        "evals": {}, "n_test": 100, "parent_run_id": None, "intermediate_run_id": None,
        "chain": [], "head": "new", "head_policy": "auto", "checkpoint": f"/ckpt/{run_id}",
        "predictions": None, "data_sizes": {"train": 1000, "validation": 100, "test": 100},
        "precision": "32-true", "device": "cpu",
        "numerics": {"precision": "32-true", "pad_to_multiple_of": None, "dropout": "torch"},
        "sampler": None, "wall_s": 12.5, "train_s": 10.0, "eval_s": 2.5,
        "resumed_from_step": None, "error": error,
    }


def target_row(run_id: str, *, parent: dict | None = None, variant: str | None = None,
               evals: dict | None = None, **kw) -> dict:
    """A target row; with ``parent`` (a row) it is an ITT target of chain ``variant``."""
    row = base_row(run_id, stage="target", **kw)
    if parent is not None:
        step = {"run_id": parent["run_id"], "roles": [d["role"] for d in parent["datasets"]],
                "langs": [d["lang"] for d in parent["datasets"]],
                "kinds": [parent["kind"]] * len(parent["datasets"])}
        chain = [*parent["chain"], step]
        row.update(itt=True, itt_variant=variant or chain_label(chain),
                   parent_run_id=parent["run_id"], intermediate_run_id=parent["run_id"],
                   chain=chain, head="kept")
    for name, spec in (evals or {}).items():
        row["evals"][name] = spec
        for k, v in spec["metrics"].items():
            split, metric = k.split("/")
            row["metrics"][f"{split}/{name}/{metric}"] = v
    return row


def intermediate_row(run_id: str, data: dict | list[dict], *, parent: dict | None = None,
                     **kw) -> dict:
    """An intermediate step (a mixture when ``data`` is a list); ``parent`` = previous step."""
    members = data if isinstance(data, list) else [data]
    row = base_row(run_id, stage="intermediate", data=members[0], **kw)
    row["datasets"] = members
    if parent is not None:
        step = {"run_id": parent["run_id"], "roles": [d["role"] for d in parent["datasets"]],
                "langs": [d["lang"] for d in parent["datasets"]], "kinds": [parent["kind"]]}
        chain = [*parent["chain"], step]
        row.update(parent_run_id=parent["run_id"], chain=chain, itt_variant=chain_label(chain))
    return row


def chain_label(chain: list[dict]) -> str:
    """``a``, ``a>b``, ``a+b``: ``>`` between steps, ``+`` inside a mixture (DESIGN.md)."""
    return ">".join("+".join(step["roles"]) for step in chain)


def write_ledger(root: Path, rows: list[dict], extra_lines: list[str] = ()) -> Path:
    path = Path(root) / "results.jsonl"
    path.write_text("\n".join([json.dumps(r) for r in rows] + list(extra_lines)) + "\n",
                    encoding="utf-8")
    return path


def write_predictions(folder: Path, name: str, gold, pred) -> Path:
    """``<folder>/<name>.jsonl``: one {"pred", "gold"} line per item (``name`` = test or eval)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.jsonl"
    path.write_text("".join(json.dumps({"pred": p, "gold": g}) + "\n" for g, p in zip(gold, pred)))
    return path
