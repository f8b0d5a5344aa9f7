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
from typing import Any, Iterator

log = logging.getLogger(__name__)

LEDGER_NAME = "results.jsonl"
STATUSES = ("ok", "failed", "cached")


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
