"""``python -m itt.measure``: domain divergences between the intermediate and target datasets a config
names, appended to ``${paths.root}/measures.jsonl`` for the report's gain-vs-divergence view.

    python -m itt.measure model=bert task=sentiment +stage=target stage.target=domain source=embedded
    python -m itt.measure -m model=bert task=sentiment +stage=target stage.target=domain,crosslingual
    python -m itt.measure -m experiment=divergence_study +stage=target measure.sample_size=1000

A Hydra app over ``conf/measure.yaml`` (= ``conf/train.yaml`` + the ``measure`` block), so it takes the
same overrides, presets and sweeps as ``itt.train``. Pairs measured before (same datasets, sample size,
seed, parameters and, where it matters, model) are not recomputed. See docs/divergence.md.
"""

from __future__ import annotations

import logging
import os

import hydra
from omegaconf import DictConfig

from itt import identity, logger, schema
from itt.train import CONF_DIR, _exit_with, _in_sweep, _user_error
from itt.errors import ITTError

log = logging.getLogger("itt.measure")

schema.register()
identity.register_resolvers()
logger.register_resolvers()

_IN_MAIN = False


@hydra.main(version_base="1.3", config_path=CONF_DIR, config_name="measure")
def main(cfg: DictConfig) -> int:
    global _IN_MAIN
    _IN_MAIN = True
    from itt.measures import pairs  # noqa: PLC0415 (the data stack only once the command is valid)

    try:
        written = pairs.run(cfg)
    except ITTError as exc:
        if not _in_sweep() and os.environ.get("ITT_DEBUG") != "1":
            _exit_with(exc)
        raise
    for row in written:
        print(f"{row['a_role']} -> {row['b_role']}  {row['measure']} = {row['value']:.4f}  ({row['direction']}; "
              f"n={row['n_a']}/{row['n_b']})")
    print(f"measures: {len(written)} new row(s) in {cfg.paths.root}/{pairs.MEASURES_FILE}")
    return len(written)


def cli() -> None:
    os.environ.setdefault("HYDRA_FULL_ERROR", "1")
    try:
        main()
    except SystemExit:
        raise
    except BaseException as exc:  # noqa: BLE001 (re-raised unless it is the user's mistake)
        error = _user_error(exc, _IN_MAIN)
        if error is None or os.environ.get("ITT_DEBUG") == "1":
            raise
        _exit_with(error)


if __name__ == "__main__":
    cli()
