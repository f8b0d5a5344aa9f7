"""The results ledger: ``${paths.root}/results.jsonl``, one JSON object per finished run.

Appends are atomic: the whole line is written with one ``write`` on an ``O_APPEND`` descriptor while
holding an exclusive ``flock``, so concurrent sweep jobs never interleave and a kill leaves either
the whole line or none of it. Readers skip (and report) a line they cannot parse instead of failing.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import logging
import math
import os
from pathlib import Path
from typing import Any, Iterator, Optional, TypedDict

log = logging.getLogger(__name__)

LEDGER_NAME = "results.jsonl"
STATUSES = ("ok", "failed", "cached")


class LedgerRow(TypedDict, total=False):
    """One line of the ledger: the pipeline writes it (``itt.pipeline``), the report reads it
    (``itt.report``). Rows written before a key existed lack it: readers treat it as null."""

    run_id: str  # e.g. roberta-sentiment-target-domain-itt-s0-07f88579 (itt.identity)
    status: str  # ok | failed | cached (a cached row repeats an ok row; never counted twice)
    time: str  # ISO 8601, UTC
    model: str  # model config name
    model_info: dict  # {hub_id, pretraining: text|code, languages: en|multi, revision}
    task: str  # task config name
    kind: str  # task kind of the training data
    stage: str  # intermediate | target
    target: Optional[str]  # target dataset role (target stage)
    itt: Optional[bool]  # target stage: started from an intermediate chain
    itt_variant: str  # "none", or the chain: steps joined by ">", mixture members by "+"
    seed: int
    split: str  # paper | official
    source: str  # hub | embedded
    hparams_id: str  # runs are comparable only within one (source, split, hparams_id)
    primary_metric: str  # bare name, e.g. "acc"
    selected_on: str  # the validation metric that picked the checkpoint, e.g. "val/acc"
    metrics: dict  # flat: val/<m>, test/<m> (own split), val/<eval>/<m>, test/<eval>/<m>
    dataset: dict  # what it trained on: {role, key, path, subset, revision, lang, family, genus, script, domain, fingerprint}
    datasets: list  # every member trained on (same dicts); more than one: a mixture
    evals: dict  # {name: {the keys of `dataset` (role = name), kind, n: {validation, test}, metrics}}
    n_test: int  # items in the run's own test split
    parent_run_id: Optional[str]  # the run it started from; null: the pretrained encoder
    intermediate_run_id: Optional[str]  # = parent_run_id for ITT targets (older readers)
    chain: list  # earlier steps, oldest first: [{run_id, roles, langs, kinds}]
    head: Optional[str]  # new | kept | projection_reset | head_reset
    head_policy: str
    checkpoint: Optional[str]  # save_pretrained folder of the best-validation weights
    predictions: Optional[str]  # folder: test.jsonl (own split), <eval>.jsonl; one {"pred", "gold"} per item
    data_sizes: dict  # {train, validation, test}
    precision: str  # effective precision
    device: str  # cpu | cuda (name)
    numerics: dict  # {precision, pad_to_multiple_of, dropout}
    sampler: Optional[dict]  # a mixture's task sampler
    wall_s: float  # this run's own time, never its parent's
    train_s: float
    eval_s: float
    resumed_from_step: Optional[int]
    error: Optional[str]


def ledger_path(root: str | os.PathLike) -> Path:
    return Path(root) / LEDGER_NAME


def _json_safe(value: Any) -> Any:
    """NaN/inf are not JSON: write them as null so every reader can parse the line."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    return value


def append(root: str | os.PathLike, row: dict) -> dict:
    if row.get("status") not in STATUSES:
        raise ValueError(f"ledger status must be one of {STATUSES}, got {row.get('status')!r}")
    row = _json_safe({"time": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"), **row})
    line = (json.dumps(row, sort_keys=False, allow_nan=False) + "\n").encode()
    path = ledger_path(root)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        size = os.fstat(fd).st_size
        if size and os.pread(fd, 1, size - 1) != b"\n":
            line = b"\n" + line  # a torn last line (full disk, NFS) must not swallow this row too
        view = memoryview(line)
        while view:  # a regular file takes it in one write; loop only for pathological short writes
            view = view[os.write(fd, view):]
        os.fsync(fd)
    finally:
        os.close(fd)  # closing releases the lock
    return row


def read(root: str | os.PathLike) -> Iterator[dict]:
    path = ledger_path(root)
    if not path.exists():
        return
    with open(path, encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                yield json.loads(line)
            except json.JSONDecodeError:
                log.warning("%s:%d: unreadable ledger line skipped", path, lineno)


def latest_ok(root: str | os.PathLike, run_id: str) -> dict | None:
    """The newest successful row of a run, or None if it never finished."""
    found = None
    for row in read(root):
        if row.get("run_id") == run_id and row.get("status") == "ok":
            found = row
    return found


def record_cached(root: str | os.PathLike, run_id: str) -> dict | None:
    """If the run already finished, note a ``cached`` row (same metrics) and return it; else None."""
    done = latest_ok(root, run_id)
    if done is None:
        return None
    log.info("cached: %s finished before (test/%s=%s); force=true reruns it", run_id,
             done["primary_metric"], done["metrics"].get(f"test/{done['primary_metric']}"))
    return append(root, {**done, "status": "cached", "wall_s": 0.0})
