"""Which process of a multi-process (DDP) run this is.

A DDP run is one command executed by several processes: Lightning's launcher starts the extra
processes of a ``trainer.devices=N`` run on one machine (``LOCAL_RANK``/``NODE_RANK``), SLURM starts one
task per device with ``srun`` (``SLURM_PROCID``). Every process follows the same path through a run
(the same chain of parent runs, the same data, the same fit), but only process 0 takes the run's lock,
trains a missing parent's bookkeeping, writes files and appends ledger rows: the others are *workers*.
"""

from __future__ import annotations

import os


def rank() -> int:
    if int(os.environ.get("SLURM_NTASKS", "1") or 1) > 1 and "SLURM_PROCID" in os.environ:
        return int(os.environ["SLURM_PROCID"])
    local = int(os.environ.get("LOCAL_RANK", "0") or 0)
    node = int(os.environ.get("NODE_RANK", "0") or 0)
    return local if node == 0 else node * 1000 + local  # any non-zero value marks a worker


def is_worker() -> bool:
    return rank() != 0
