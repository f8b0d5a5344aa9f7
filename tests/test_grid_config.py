"""The sweep presets and what run identities make of them (Hydra's compose API; nothing is trained).

- ``experiment=paper``: the reference study's protocol (the sweep it adds; the rest from defaults);
- the 3 x 3 grid of ``experiment=demo``: 36 distinct target runs that need exactly 9 intermediate
  runs, the same one for every ITT target of a model and task, whatever its target or launcher;
- run and sweep directories never collide, even for sweeps started in the same second.
"""

from __future__ import annotations

import itertools
import re
from pathlib import Path

from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from itt import identity
from itt.logger import wandb_id
from itt.train import CONF_DIR

EXPERIMENTS = Path(CONF_DIR) / "experiment"
GRID = {
    "model": "bert,roberta,xlnet",
    "task": "text_classification,sentiment,sentence_similarity",
    "stage.target": "domain,crosslingual",
    "stage.itt": "true,false",
}


def compose_train(*overrides: str, hydra_config: bool = False):
    with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
        return compose("train", overrides=list(overrides), return_hydra_config=hydra_config)


def sweep_points(params: dict[str, str]) -> list[dict[str, str]]:
    keys = list(params)
    return [dict(zip(keys, values)) for values in itertools.product(*(str(params[k]).split(",") for k in keys))]


def test_paper_experiment_is_the_reference_protocol():
    text = (EXPERIMENTS / "paper.yaml").read_text()
    # Hydra reads `# @package` only before any other line; the command comes right after it (as in demo.yaml)
    directive, first = text.splitlines()[:2]
    assert directive == "# @package _global_"
    assert first.startswith("# python -m itt.train -m experiment=paper +stage=target"), first
    assert re.search(r"^#.*[Cc]ost", text, re.MULTILINE), "no comment with the expected cost"

    cfg = compose_train("experiment=paper", "+stage=target", hydra_config=True)
    params = OmegaConf.to_container(cfg.hydra.sweeper.params)
    assert params == {**GRID, "seed": "0,1,2"}, params
    points = sweep_points(params)
    assert len(points) == 3 * 3 * 2 * 2 * 3 == 108
    # the protocol, as composed (defaults the preset relies on, not restated in it)
    assert cfg.split.name == "paper"
    assert cfg.optim.freeze_encoder is False
    assert cfg.source.name == "hub"
    assert "wandb" in cfg.logger and cfg.logger.wandb._target_.endswith("WandbLogger")
    assert cfg.hydra.launcher._target_.endswith("BasicLauncher")  # the launcher is the command line's choice

    # states only what it changes: the sweep (plus its package header), nothing the defaults already say
    body = [line for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    assert body[0] == "hydra:" and "defaults:" not in text, body


def test_demo_experiment_is_the_same_grid_offline():
    cfg = compose_train("experiment=demo", "+stage=target", hydra_config=True)
    assert OmegaConf.to_container(cfg.hydra.sweeper.params) == GRID
    assert (cfg.source.name, list(cfg.logger)) == ("embedded", ["csv"])


def grid_identities(base_overrides: list[str], points: list[dict[str, str]]) -> tuple[set[str], dict]:
    """Run ids of the sweep points, and per (model, task, seed) the intermediate ids its ITT targets ask for.

    One compose per model x task; the other keys are set on a copy, as the sweeper's overrides would."""
    composed, targets, inter_of = {}, set(), {}
    for point in points:
        key = (point["model"], point["task"])
        if key not in composed:
            composed[key] = compose_train(*base_overrides, f"model={key[0]}", f"task={key[1]}")
        cfg = composed[key].copy()
        cfg.stage.target = point["stage.target"]
        cfg.stage.itt = point["stage.itt"] == "true"
        cfg.seed = int(point.get("seed", 0))
        rid = identity.run_id(cfg)
        assert rid not in targets, f"two sweep points share run id {rid}"
        targets.add(rid)
        if cfg.stage.itt:
            inter_of.setdefault((*key, cfg.seed), set()).add(identity.run_id(identity.resolve(cfg).parent))
    return targets, inter_of


def test_demo_grid_needs_exactly_9_intermediates():
    """36 target runs, each its own run (and W&B id); the 18 ITT targets share 9 intermediates."""
    targets, inter_of = grid_identities(["experiment=demo", "+stage=target"], sweep_points(GRID))
    assert len(targets) == 36
    # one intermediate per model x task, whichever target asks for it
    assert len(inter_of) == 9 and all(len(ids) == 1 for ids in inter_of.values()), inter_of
    intermediates = {i for ids in inter_of.values() for i in ids}
    assert len(intermediates) == 9 and not intermediates & targets
    assert len({wandb_id(r) for r in targets | intermediates}) == 36 + 9


def test_paper_seeds_are_separate_runs():
    """Per model x task: 3 seeds x 2 targets x ITT on/off = 12 runs, and one intermediate per seed."""
    points = [p for p in sweep_points({**GRID, "seed": "0,1,2"})
              if (p["model"], p["task"]) == ("xlnet", "sentence_similarity")]
    targets, inter_of = grid_identities(["experiment=paper", "+stage=target"], points)
    assert len(targets) == 12
    assert sorted(inter_of) == [("xlnet", "sentence_similarity", s) for s in (0, 1, 2)]
    assert all(len(ids) == 1 for ids in inter_of.values()) and len(set.union(*inter_of.values())) == 3


def test_run_and_sweep_dirs_never_collide():
    # two sweeps started in the same second: the sweep dir carries a random suffix after the time
    a = compose_train("+stage=target", "source=embedded", hydra_config=True)
    b = compose_train("+stage=target", "source=embedded", hydra_config=True)
    dir_a, dir_b = a.hydra.sweep.dir, b.hydra.sweep.dir
    assert dir_a != dir_b
    assert re.fullmatch(r".*/sweeps/\d{4}-\d\d-\d\d_\d\d-\d\d-\d\d-[0-9a-f]{6}", dir_a), dir_a
    # inside a sweep, and for single runs, a job's directory is its run id: a function of what the run
    # computes, so different runs never share one and a rerun or requeue finds its own again
    rid = identity.run_id(a)
    assert a.hydra.sweep.subdir == rid == identity.run_id(b)
    assert a.hydra.run.dir == f"{a.paths.root}/runs/{rid}"
    other = compose_train("+stage=target", "source=embedded", "stage.itt=false", hydra_config=True)
    assert other.hydra.sweep.subdir != rid
