"""One run's components from its ``RunSpec``: tokenizer, data module, LightningModule (and the
Trainer, in ``itt.trainer``). The pipeline, the benchmark and the tests all build runs here.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytorch_lightning as pl
from hydra.utils import instantiate
from omegaconf import OmegaConf

from itt import identity
from itt.data.datamodule import ITTDataModule
from itt.data.preparation import Prepared, Protocol, prepare
from itt.errors import ConfigError
from itt.models.loading import load_model, load_tokenizer, pretrained_source
from itt.module import EvalSet, ITTModule
from itt.schema import DatasetSpec
from itt.stages import RunSpec
from itt.tasks import Task, get_task


@dataclass
class Built:
    spec: RunSpec
    tokenizer: object
    data: ITTDataModule
    module: ITTModule
    head: str  # new | kept | projection_reset | head_reset
    numerics: dict  # itt.hardware.numerics of the run
    train: list[Prepared]
    evals: list[Prepared]

    @property
    def labels(self) -> list[str]:
        return self.train[0].labels

    @property
    def monitor(self) -> str:
        """The validation metric that picks the checkpoint."""
        task = self.train[0].task
        if self.spec.select_on:
            select_task = next(p.task for p in self.evals if p.name == self.spec.select_on)
            return f"val/{self.spec.select_on}/{select_task.primary_metric}"
        return f"val/{task.primary_metric}"


def dataset_spec(node, cfg=None) -> DatasetSpec:
    """The typed spec of a dataset node; with ``cfg``, its embedded generator resolved (``identity.generator_of``)."""
    # Built explicitly (not OmegaConf.to_object): configs derived in code are untyped copies.
    spec = DatasetSpec(**OmegaConf.to_container(node, resolve=True))
    if cfg is not None:
        spec.generator = identity.generator_of(cfg, node)
    return spec


def task_of(cfg, node) -> Task:
    kind, primary = identity.kind_of(cfg, node)
    options = cfg.task.get("options") if kind == cfg.task.kind else None
    options = OmegaConf.to_container(options, resolve=True) if options is not None else {}
    return get_task(kind, primary, options)


def prepare_data(spec: RunSpec, tokenizer) -> tuple[list[Prepared], list[Prepared]]:
    """The run's training datasets and its eval sets, split, encoded (or read from the cache)."""
    cfg = spec.cfg
    protocol = Protocol(cfg.split, cfg.seed, cfg.source.name, spec.settings.data.max_length, Path(cfg.paths.cache),
                        cfg.source.hub_timeout_s)
    aligned = identity.aligned_roles(cfg)
    for role in spec.roles:
        task = task_of(cfg, cfg.task.datasets[role])
        if not task.trainable:
            raise ConfigError(f"task.datasets.{role}: kind {task.kind} is evaluation only (nothing to train); make it an eval "
                              f"set instead (task.evals.{role}) and list it in stage.evals or intermediate.evals")
    train = [prepare(role, dataset_spec(cfg.task.datasets[role], cfg), task_of(cfg, cfg.task.datasets[role]), tokenizer,
                     protocol, by_id=role in aligned) for role in spec.roles]
    evals = [prepare(name, dataset_spec(cfg.task.evals[name], cfg), task_of(cfg, cfg.task.evals[name]), tokenizer, protocol,
                     by_id=name in aligned, eval_only=True, where=f"task.evals.{name} ({cfg.task.evals[name].path})")
             for name in spec.evals]
    return train, evals


def build_run(spec: RunSpec, parent_row: dict | None = None) -> Built:
    """Everything a run trains with; ``parent_row``: the ledger row of the run it starts from."""
    cfg = spec.cfg
    pl.seed_everything(cfg.seed, workers=True, verbose=False)
    numerics = identity.numerics(spec)
    pretrained = pretrained_source(cfg.model, cfg.source.name, cfg.paths.cache, cfg.source.hub_timeout_s)
    tokenizer = load_tokenizer(pretrained, cfg.model.trust_remote_code)
    train, evals = prepare_data(spec, tokenizer)
    first = train[0]
    for member in train[1:]:
        if first.task.label_space(first.labels) != member.task.label_space(member.labels):
            raise ConfigError(f"intermediate.steps: the mixture {spec.label} mixes label spaces ({first.name}: {first.task.kind} "
                              f"{first.labels}; {member.name}: {member.task.kind} {member.labels}); mixtures share one head")
    own = [EvalSet(None if len(train) == 1 else p.name, p.task, p.labels, p.rows) for p in train]
    eval_sets = own + [EvalSet(p.name, p.task, p.labels, p.rows) for p in evals]
    sampler = instantiate(cfg.sampler) if len(train) > 1 and cfg.get("sampler") else None
    data = ITTDataModule(train, [*train, *evals], spec.settings.data, numerics["pad_to_multiple_of"], cfg.seed,
                         sampler).attach(tokenizer)
    parent = None
    if parent_row is not None:
        parent = (parent_row["checkpoint"], parent_row.get("kind") or cfg.task.kind, _labels_of(parent_row))
    model, head = load_model(pretrained, first.task, first.labels, cfg.model.trust_remote_code, parent, spec.head_policy)
    module = ITTModule(model, eval_sets, spec.settings.optim, cfg.model.fast_dropout, cfg.model.sparse_embedding_grad)
    return Built(spec, tokenizer, data, module, head, numerics, train, evals)


def _labels_of(row: dict) -> list[str]:
    import json  # noqa: PLC0415

    path = Path(row["checkpoint"]) / "itt_labels.json"
    return json.loads(path.read_text()) if path.exists() else []
