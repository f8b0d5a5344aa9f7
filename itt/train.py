"""``python -m itt.train``: one run, or a sweep with ``-m``. A Hydra app over ``conf/train.yaml``.

    python -m itt.train model=roberta task=sentiment +stage=intermediate source=embedded
    python -m itt.train model=roberta task=sentiment +stage=target stage.target=domain stage.itt=true source=embedded
    python -m itt.train -m experiment=demo +stage=target

Mistakes in the command or the data end as one ``error: ...`` line and exit code 2 (set ITT_DEBUG=1
for the traceback). In a sweep, a failed run is recorded in the ledger and the sweep goes on.
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

import hydra
from hydra.errors import HydraException
from omegaconf import DictConfig
from omegaconf.errors import OmegaConfBaseException

from itt import identity, ledger, logger, schema
from itt.distributed import is_worker
from itt.progress import in_sweep
from itt.errors import ITTError, TrainingFailed, chain, describe, ours

CONF_DIR = str(Path(__file__).resolve().parent.parent / "conf")
log = logging.getLogger("itt.train")

schema.register()
identity.register_resolvers()
logger.register_resolvers()


# Set once Hydra has composed a config and called main: from then on only our own errors are the user's.
_IN_MAIN = False


@hydra.main(version_base="1.3", config_path=CONF_DIR, config_name="train")
def main(cfg: DictConfig) -> float | None:
    global _IN_MAIN
    _IN_MAIN = True
    try:
        row = _cached(cfg)
        if row is None:
            from itt.pipeline import run  # heavy imports (torch, transformers) only when there is work

            row = run(cfg)
            if row is None:  # a DDP worker: process 0 reports the run
                return None
    except ITTError as exc:
        if isinstance(exc, TrainingFailed) and in_sweep():  # recorded in the ledger; the sweep goes on
            log.error("%s", exc)
            return None
        if not in_sweep() and os.environ.get("ITT_DEBUG") != "1":
            _exit_with(exc)  # here, not in cli(): Hydra would first print "Error executing job with overrides: ..."
        raise
    # Returned for sweepers that optimise (e.g. Optuna): the primary validation metric.
    return row["metrics"].get(f"val/{row['primary_metric']}")


def _cached(cfg: DictConfig) -> dict | None:
    """A run the ledger already has (ok), answered before torch is imported, so rerunning a finished
    sweep costs seconds, not a torch import per job. None when there is work (or force=true); then
    ``pipeline.run`` decides, under the run's lock."""
    if cfg.force or is_worker():  # a DDP worker follows process 0 through the run (itt.distributed)
        return None
    return ledger.record_cached(cfg.paths.root, identity.run_id(cfg))


def _user_error(exc: BaseException, in_main: bool) -> BaseException | None:
    """The user-facing error behind ``exc``, or None for a bug (which keeps its traceback).

    Ours (``ITTError``, wherever Hydra or OmegaConf wrapped it) always are. Hydra's and OmegaConf's own
    errors are the user's only while Hydra composes the command (a bad override, group or value), and
    only if no exception behind them was raised by itt's own code: a ``KeyError`` from one of our
    resolvers, or an OmegaConf error raised while a run is going, is a bug."""
    found = ours(exc)
    if found is not None:
        return found
    errors = list(chain(exc))
    if not in_main and isinstance(errors[0], (HydraException, OmegaConfBaseException)) \
            and not any(_raised_in_itt(e) for e in errors):
        return errors[0]
    return None


_ITT_DIR = str(Path(__file__).resolve().parent)


def _raised_in_itt(exc: BaseException) -> bool:
    """Whether the innermost frame of ``exc``'s traceback is in the itt package."""
    tb = exc.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    return tb is not None and tb.tb_frame.f_code.co_filename.startswith(_ITT_DIR)


def _exit_with(error: BaseException) -> None:
    print(f"error: {describe(error)}", file=sys.stderr)
    sys.exit(getattr(error, "exit_code", 2))


def cli() -> None:
    # Hydra prints its own multi-line errors unless told to raise; we want one line.
    os.environ.setdefault("HYDRA_FULL_ERROR", "1")
    try:
        main()
    except SystemExit:
        raise
    except BaseException as exc:  # noqa: BLE001 (we re-raise everything that is not the user's mistake)
        error = _user_error(exc, _IN_MAIN)
        if error is None or os.environ.get("ITT_DEBUG") == "1":
            raise
        _exit_with(error)


if __name__ == "__main__":
    cli()
