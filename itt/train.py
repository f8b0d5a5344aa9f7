"""``python -m itt.train``: one run, or a sweep with ``-m``. A Hydra app over ``conf/train.yaml``.

    python -m itt.train model=roberta task=sentiment +stage=intermediate source=embedded
    python -m itt.train model=roberta task=sentiment +stage=target stage.target=domain stage.itt=true source=embedded
    python -m itt.train -m experiment=demo +stage=target

Mistakes in the command or the data end as one ``error: ...`` line and exit code 2 (set ITT_DEBUG=1
for the traceback). In a sweep, a failed run is recorded in the ledger and the sweep goes on.
"""

from __future__ import annotations

import gc
import logging
import sys
import tempfile
from pathlib import Path

import hydra
from omegaconf import DictConfig

from itt import cli, distributed, identity, ledger, logger, requeue, schema
from itt.distributed import is_worker
from itt.errors import TrainingFailed
from itt.progress import in_sweep, sweep_dir

CONF_DIR = str(Path(__file__).resolve().parent.parent / "conf")
log = logging.getLogger("itt.train")

schema.register()
identity.register_resolvers()
logger.register_resolvers()


@hydra.main(version_base="1.3", config_path=CONF_DIR, config_name="train")
def main(cfg: DictConfig) -> float | None:
    with cli.job(), requeue.during_job():  # SLURM's requeue signal outside Lightning's fit (itt.requeue)
        announced = None
        try:
            announced = _start_job(cfg)
            row = _cached(cfg)
            if row is None:
                row = _pipeline().run(cfg)
                if row is None:  # a DDP worker: process 0 reports the run
                    return None
        except TrainingFailed as exc:
            if in_sweep():  # recorded in the ledger; the sweep goes on
                log.error("%s", exc)
                return None
            raise
        finally:
            if announced is not None:  # trained, cached or failed: the workers stop following this run
                distributed.announce(cfg.paths.root, {"end": announced})
    # Returned for sweepers that optimise (e.g. Optuna): the primary validation metric.
    return row["metrics"].get(f"val/{row['primary_metric']}")


def _pipeline():
    """``itt.pipeline``, imported only when there is work: torch, transformers, Lightning (with torchmetrics,
    scipy, sympy, matplotlib) and datasets. They make ~0.5 M objects that live as long as the process;
    Python's cyclic GC, left on, scans them all again in each of its ~8 full collections during the
    import, finding next to nothing (0.8-1.0 s of CPU, a fifth of a single run's start). So it is off
    while they load; then they move to the permanent generation (``gc.freeze``), which later collections
    skip, and it is on again. Nothing else changes: no object that is garbage is kept beyond a few import
    leftovers. Once per process (a sweep imports it for its first job only)."""
    if "itt.pipeline" in sys.modules:
        return sys.modules["itt.pipeline"]
    enabled = gc.isenabled()
    gc.disable()
    try:
        import itt.pipeline  # noqa: PLC0415
    finally:
        gc.freeze()
        if enabled:
            gc.enable()
    return itt.pipeline


def _start_job(cfg: DictConfig) -> str | None:
    """Process 0 of a command whose runs start several processes: its run id, whose end it tells the workers
    (``itt.distributed``); None otherwise."""
    if is_worker():
        return None
    spec = identity.resolve(cfg)
    if distributed.start_job(any(distributed.processes(run.settings.trainer) != 1 for run in (spec, *spec.chain()))):
        return identity.run_id(spec)
    return None


def _cached(cfg: DictConfig) -> dict | None:
    """A run the ledger already has (ok), answered before torch is imported, so rerunning a finished
    sweep costs seconds, not a torch import per job. None when there is work (force=true: unless a job of this
    sweep trained it already); then ``pipeline.run`` decides, under the run's lock."""
    if is_worker():  # a DDP worker follows process 0 through the run (itt.distributed)
        return None
    return ledger.record_cached(cfg.paths.root, identity.run_id(cfg), cfg.force, sweep_dir())


def _worker_sweep_dir() -> None:
    """A DDP worker runs process 0's command line (Lightning's launcher re-runs it; srun starts it on every task):
    under ``-m`` the whole sweep, whose points it follows through process 0's announcements. Its Hydra sweep folder
    goes outside ``paths.root``: the newest sweep there is what ``itt.report --status`` reads."""
    if is_worker() and {"-m", "--multirun"} & set(sys.argv):
        sys.argv.append(f"hydra.sweep.dir={tempfile.mkdtemp(prefix=f'itt-ddp-worker{distributed.rank()}-')}")


if __name__ == "__main__":
    _worker_sweep_dir()
    cli.run(main)
