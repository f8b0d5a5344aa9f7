"""Which process of a multi-process (DDP) run this is, and how the workers learn what process 0 does.

A DDP run is one command executed by several processes: Lightning's launcher starts the extra
processes of a ``trainer.devices=N`` run on one machine (``LOCAL_RANK``/``NODE_RANK``) when process 0 reaches its
first fit, SLURM starts one task per device with ``srun`` (``SLURM_PROCID``). Only process 0 takes the run's lock,
trains a missing parent's bookkeeping, writes files and appends ledger rows: the others are *workers*.

Workers do not decide anything from the ledger themselves: what they read there can differ from what process 0
read under its lock (a run another job finished meanwhile, a parent another job is training, the points of a sweep
process 0 skipped as cached before the workers started). Process 0 appends each decision to one file per job
(``${paths.root}/locks/ddp/<job>.jsonl``): ``{"fit": run id}`` before each fit, ``{"end": run id}`` when the
command's run is over (trained, cached or failed); a worker reads them in order from the start and fits exactly
those runs, each one of its own run's chain.
"""

from __future__ import annotations

import json
import logging
import os
import time
import uuid
from pathlib import Path

from itt.ledger import append_lines

log = logging.getLogger(__name__)

#: The job key of a process whose workers Lightning starts: set by process 0, inherited by the workers it spawns.
JOB_ENV = "ITT_DDP_JOB"
#: How often a waiting worker looks for process 0's next decision, and says that it waits.
POLL_S, SAY_WAITING_S = 0.2, 600.0


def rank() -> int:
    if _slurm_tasks():
        return int(os.environ["SLURM_PROCID"])
    local = int(os.environ.get("LOCAL_RANK", "0") or 0)
    node = int(os.environ.get("NODE_RANK", "0") or 0)
    return local if node == 0 else node * 1000 + local  # any non-zero value marks a worker


def is_worker() -> bool:
    return rank() != 0


def _slurm_tasks() -> bool:
    """SLURM started this job's processes (one task per device), not Lightning."""
    return int(os.environ.get("SLURM_NTASKS", "1") or 1) > 1 and "SLURM_PROCID" in os.environ


def processes(trainer) -> int | None:
    """Processes a run's trainer settings start: devices x nodes; None when Lightning decides (``auto``, -1)."""
    devices, nodes = trainer.get("devices", 1), int(trainer.get("num_nodes", 1) or 1)
    if isinstance(devices, str):
        devices = devices.strip()
        if devices.lstrip("-").isdigit():
            devices = int(devices)
        elif "," in devices:  # "0,1": those devices
            devices = len([d for d in devices.split(",") if d.strip()])
        else:
            return None
    if isinstance(devices, bool) or not isinstance(devices, int):
        try:
            devices = len(devices)  # a list of device indices
        except TypeError:
            return None
    return None if devices < 0 else devices * nodes


def start_job(multi: bool) -> str | None:
    """Process 0, at the start of a command whose runs start ``multi`` processes (or may): the key its workers will
    find, kept in the environment Lightning's launcher hands them (None: no workers, nothing to say)."""
    if _slurm_tasks():
        return _slurm_key()
    if not multi:
        return None
    return os.environ.setdefault(JOB_ENV, f"local-{os.getpid()}-{uuid.uuid4().hex[:8]}")


def _slurm_key() -> str:
    env = os.environ
    return f"slurm-{env.get('SLURM_JOB_ID', '?')}-{env.get('SLURM_STEP_ID', '0')}-{env.get('SLURM_RESTART_COUNT', '0')}"


def _worker_key() -> str | None:
    return _slurm_key() if _slurm_tasks() else os.environ.get(JOB_ENV)


def _events(root) -> Path:
    return Path(root) / "locks" / "ddp"


def announce(root, event: dict) -> None:
    """Process 0 tells its workers what it does next (nothing to say in a job without workers: :func:`start_job`)."""
    key = _worker_key()
    if key is None:
        return
    append_lines(_events(root) / f"{key}.jsonl", [json.dumps(event)])


_read_to: dict[str, int] = {}  # a worker's place in each job's file: a sweep's points are read one after the other


def next_event(root) -> dict:
    """A worker: process 0's next decision, waiting for it. Fails if the job has no key (a worker not started by
    itt's process 0) or if process 0 is gone (a Lightning-spawned worker whose parent died)."""
    key = _worker_key()
    if key is None:
        raise RuntimeError(f"a DDP worker without {JOB_ENV}: it was not started by itt's process 0")
    path = _events(root) / f"{key}.jsonl"
    parent, waited, said = os.getppid(), 0.0, 0.0
    while True:
        offset = _read_to.get(str(path), 0)
        if path.exists():
            with open(path, "rb") as fh:
                fh.seek(offset)
                line = fh.readline()
            if line.endswith(b"\n"):
                _read_to[str(path)] = offset + len(line)
                return json.loads(line)
        if not _slurm_tasks() and os.getppid() != parent:
            raise RuntimeError("DDP process 0 is gone; this worker stops")
        time.sleep(POLL_S)
        waited += POLL_S
        if waited - said >= SAY_WAITING_S:
            said = waited
            log.info("worker %d: waiting for process 0 (%.0f min; it may be waiting for another job's run)",
                     rank(), waited / 60)
