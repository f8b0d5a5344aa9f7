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

import hydra
from omegaconf import DictConfig

from itt import cli, identity, logger, schema
from itt.train import CONF_DIR

log = logging.getLogger("itt.measure")

schema.register()
identity.register_resolvers()
logger.register_resolvers()

@hydra.main(version_base="1.3", config_path=CONF_DIR, config_name="measure")
def main(cfg: DictConfig) -> int:
    with cli.job():
        from itt.measures import pairs  # noqa: PLC0415 (the data stack only once the command is valid)

        written = pairs.run(cfg)
    for row in written:
        print(f"{row['a_role']} -> {row['b_role']}  {row['measure']} = {row['value']:.4f}  ({row['direction']}; "
              f"n={row['n_a']}/{row['n_b']})")
    print(f"measures: {len(written)} new row(s) in {cfg.paths.root}/{pairs.MEASURES_FILE}")
    return len(written)


if __name__ == "__main__":
    cli.run(main)
