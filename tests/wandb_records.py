"""Read an offline W&B run file (``run-<id>.wandb``) with W&B's own protobuf schema.

The file is W&B's transaction log: a 7-byte header, then 32 KiB blocks of chunks (crc32c, length,
type), each chunk carrying (part of) a serialized ``wandb_internal_pb2.Record``, the same records
``wandb sync`` uploads. Used by tests to check what a run really logged.
"""

from __future__ import annotations

import json
import struct
import time
from pathlib import Path

from google.protobuf.message import DecodeError
from wandb.proto import wandb_internal_pb2

HEADER = 7
BLOCK = 32 * 1024
FULL, FIRST, MIDDLE, LAST = 1, 2, 3, 4


def records(path: str | Path):
    data = Path(path).read_bytes()
    assert data[:4] == b":W&B", f"{path} is not a W&B run file"
    pos, pending = HEADER, b""
    while pos + 7 <= len(data):
        left_in_block = BLOCK - (pos % BLOCK)
        if left_in_block < 7:  # block trailer padding
            pos += left_in_block
            continue
        _crc, length, kind = struct.unpack("<IHB", data[pos:pos + 7])
        chunk = data[pos + 7:pos + 7 + length]
        pos += 7 + length
        if kind == 0 and length == 0:
            break
        pending = chunk if kind in (FULL, FIRST) else pending + chunk
        if kind in (FULL, LAST):
            record = wandb_internal_pb2.Record()
            record.ParseFromString(pending)
            yield record


def summarize(path: str | Path, wait_s: float = 20.0) -> dict:
    """The run's identity, config, per-step history and final summary as plain Python. W&B's service process
    may still be writing the file's records just after ``finish`` (the config comes late, after telemetry):
    the file is read again until it ends with the run's ``exit`` record and every record parses, or until
    ``wait_s`` has passed (then as it is)."""
    deadline = time.monotonic() + wait_s
    while True:
        try:
            out, complete = _summarize(path)
            if complete or time.monotonic() > deadline:
                return out
        except DecodeError:
            if time.monotonic() > deadline:
                raise
        time.sleep(0.2)


def _summarize(path: str | Path) -> tuple[dict, bool]:
    out = {"run": None, "config": {}, "history": [], "summary": {}}
    complete = False
    for record in records(path):
        kind = record.WhichOneof("record_type")
        if kind == "run":
            r = record.run
            out["run"] = {"id": r.run_id, "name": r.display_name, "group": r.run_group, "job_type": r.job_type,
                          "tags": list(r.tags)}
        elif kind == "config":
            out["config"].update({i.key: json.loads(i.value_json) for i in record.config.update})
        elif kind == "history":
            out["history"].append({i.key or "/".join(i.nested_key): json.loads(i.value_json) for i in record.history.item})
        elif kind == "summary":
            out["summary"].update({i.key or "/".join(i.nested_key): json.loads(i.value_json) for i in record.summary.update})
        elif kind == "exit":
            out["exit_code"] = record.exit.exit_code
            complete = True
    return out, complete
