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
from hydra.core.hydra_config import HydraConfig
from hydra.errors import HydraException
from hydra.types import RunMode
from omegaconf import DictConfig
from omegaconf.errors import OmegaConfBaseException

from itt import identity, ledger, logger, schema
from itt.errors import ITTError, TrainingFailed, describe

CONF_DIR = str(Path(__file__).resolve().parent.parent / "conf")
log = logging.getLogger("itt.train")

schema.register()
identity.register_resolvers()
logger.register_resolvers()


def _in_sweep() -> bool:
    try:
        return HydraConfig.get().mode == RunMode.MULTIRUN
    except ValueError:
        return False


@hydra.main(version_base="1.3", config_path=CONF_DIR, config_name="train")
def main(cfg: DictConfig) -> float | None:
    try:
        row = _cached(cfg)
        if row is None:
            from itt.pipeline import run  # heavy imports (torch, transformers) only when there is work

            row = run(cfg)
    except ITTError as exc:
        if isinstance(exc, TrainingFailed) and _in_sweep():  # recorded in the ledger; the sweep goes on
            log.error("%s", exc)
            return None
        if not _in_sweep() and os.environ.get("ITT_DEBUG") != "1":
            _exit_with(exc)  # here, not in cli(): Hydra would first print "Error executing job with overrides: ..."
        raise
    # Returned for sweepers that optimise (e.g. Optuna): the primary validation metric.
    return row["metrics"].get(f"val/{row['primary_metric']}")


def _cached(cfg: DictConfig) -> dict | None:
    """A run the ledger already has (ok), answered before torch is imported, so rerunning a finished
    sweep costs seconds, not a torch import per job. None when there is work (or force=true); then
    ``pipeline.run`` decides, under the run's lock."""
    return None if cfg.force else ledger.record_cached(cfg.paths.root, identity.run_id(cfg))


def _user_error(exc: BaseException) -> BaseException | None:
    """The user-facing error behind ``exc`` (Hydra and OmegaConf wrap ours), or None for a bug."""
    seen = exc
    while seen is not None:
        if isinstance(seen, (ITTError, HydraException, OmegaConfBaseException)):
            inner = seen.__cause__ or seen.__context__
            return _user_error(inner) if isinstance(inner, ITTError) else seen
        seen = seen.__cause__ or seen.__context__
    return None


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
        error = _user_error(exc)
        if error is None or os.environ.get("ITT_DEBUG") == "1":
            raise
        _exit_with(error)


if __name__ == "__main__":
    cli()
