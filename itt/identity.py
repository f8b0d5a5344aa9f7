"""What a run *is*: its id, its hyper-parameter group, and the intermediate run it starts from.

A run id is derived from everything that determines its result (model, the dataset of its role,
task, stage, seed, split, source, hyper-parameters and, for ITT targets, the intermediate run id),
never from a timestamp. The same command therefore always maps to the same run directory and the
same ledger rows: that is what makes reruns skip finished work, killed runs resume, concurrent jobs
agree on one intermediate checkpoint, and run directories never collide.

The functions are also OmegaConf resolvers (``${itt.run_id:}``) so Hydra's output directory and the
W&B run id are the run id too.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from typing import Any

from omegaconf import DictConfig, OmegaConf

from itt.errors import ConfigError

STAGES = ("intermediate", "target")
# Trainer keys that change how a run is watched, not what it computes.
_TRAINER_KEYS_NOT_IN_IDENTITY = {
    "_target_",
    "enable_progress_bar",
    "enable_model_summary",
    "log_every_n_steps",
    "default_root_dir",
}
_DATA_KEYS_NOT_IN_IDENTITY = {"num_workers"}
_STAGE_KEYS_IN_IDENTITY = ("name", "target", "itt")

STAGE_HINT = "add +stage=intermediate or +stage=target (e.g. python -m itt.train model=roberta task=sentiment +stage=intermediate)"


def _digest(payload: Any, length: int = 8) -> str:
    text = json.dumps(payload, sort_keys=True, default=str)
    return hashlib.sha1(text.encode()).hexdigest()[:length]


def _plain(node: Any) -> Any:
    if isinstance(node, DictConfig) or OmegaConf.is_list(node):
        return OmegaConf.to_container(node, resolve=True)
    return node


def stage_name(cfg: DictConfig) -> str:
    stage = cfg.get("stage")
    if stage is None:
        raise ConfigError(f"no stage selected: {STAGE_HINT}")
    name = stage.get("name")
    if name not in STAGES:
        raise ConfigError(f"stage.name={name!r} is not a stage; valid: {', '.join(STAGES)}")
    return name


def dataset_role(cfg: DictConfig) -> str:
    """Which entry of ``task.datasets`` this run trains on: ``intermediate`` or the target's name."""
    if stage_name(cfg) == "intermediate":
        return "intermediate"
    target = cfg.stage.get("target")
    targets = [k for k in cfg.task.datasets if k != "intermediate"]
    if target not in targets:
        raise ConfigError(
            f"stage.target={target!r} is not a target of task={cfg.task.name}; valid: {', '.join(targets)}"
        )
    return target


def is_itt(cfg: DictConfig) -> bool:
    return stage_name(cfg) == "target" and bool(cfg.stage.get("itt"))


def intermediate_config(cfg: DictConfig) -> DictConfig:
    """The config of the intermediate run that an ITT target starts from (same model, seed, hparams)."""
    container = OmegaConf.to_container(cfg, resolve=False)
    container["stage"] = {"name": "intermediate"}
    out = OmegaConf.create(container)
    OmegaConf.set_struct(out, True)
    return out


def hparams_payload(cfg: DictConfig) -> dict:
    trainer = {k: v for k, v in _plain(cfg.trainer).items() if k not in _TRAINER_KEYS_NOT_IN_IDENTITY}
    data = {k: v for k, v in _plain(cfg.data).items() if k not in _DATA_KEYS_NOT_IN_IDENTITY}
    return {
        "trainer": trainer,
        "data": data,
        "optim": _plain(cfg.optim),
        "split": _plain(cfg.split),
        "source": cfg.source.name,
    }


def hparams_id(cfg: DictConfig) -> str:
    """Runs are comparable (averaged over seeds, paired ITT vs no-ITT) only within one hparams id."""
    return _digest(hparams_payload(cfg))


def run_id(cfg: DictConfig) -> str:
    role = dataset_role(cfg)
    stage = {k: cfg.stage.get(k) for k in _STAGE_KEYS_IN_IDENTITY if k in cfg.stage}
    payload = {
        "model": _plain(cfg.model),
        "task": {k: v for k, v in _plain(cfg.task).items() if k != "datasets"},
        "dataset": _plain(cfg.task.datasets[role]),
        "stage": stage,
        "seed": cfg.seed,
        "hparams": hparams_payload(cfg),
    }
    if is_itt(cfg):
        payload["intermediate_run_id"] = run_id(intermediate_config(cfg))
    parts = [cfg.model.name, cfg.task.name, stage["name"]]
    if stage["name"] == "target":
        parts += [role, "itt" if stage.get("itt") else "noitt"]
    parts += [f"s{cfg.seed}", _digest(payload)]
    return "-".join(str(p) for p in parts)


def wandb_tags(cfg: DictConfig) -> list[str]:
    tags = [cfg.model.name, cfg.task.name, stage_name(cfg), f"seed{cfg.seed}", cfg.source.name]
    if stage_name(cfg) == "target":
        tags += [dataset_role(cfg), "itt" if is_itt(cfg) else "no-itt"]
    return tags


def register_resolvers() -> None:
    """Make ``${itt.run_id:}``, ``${itt.tags:}``, ``${itt.group:}`` and ``${itt.uid:}`` usable in configs."""
    resolvers = {
        "itt.run_id": lambda *, _root_: run_id(_root_),
        "itt.tags": lambda *, _root_: wandb_tags(_root_),
        "itt.group": lambda *, _root_: f"{_root_.task.name}/{dataset_role(_root_)}",
        # A sweep directory is unique even for sweeps started in the same second.
        "itt.uid": lambda: uuid.uuid4().hex[:6],
    }
    for name, fn in resolvers.items():
        if not OmegaConf.has_resolver(name):
            OmegaConf.register_new_resolver(name, fn, use_cache=name == "itt.uid")
