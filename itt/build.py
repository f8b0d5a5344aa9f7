"""One run's components from its ``RunSpec``: tokenizer, data module, LightningModule (and the
Trainer, in ``itt.trainer``). The pipeline, the benchmark and the tests all build runs here.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import pytorch_lightning as pl
from hydra.utils import instantiate
from omegaconf import OmegaConf

from itt import identity
from itt.data.datamodule import ITTDataModule
from itt.data import alignment, held_out, overlap
from itt.data.files import is_stand_in
from itt.data.preparation import Prepared, Protocol, prepare
from itt.errors import ConfigError
from itt.models import multihead
from itt.models.loading import load_model, load_tokenizer, pretrained_source
from itt.module import EvalSet, ITTModule
from itt.schema import DatasetSpec
from itt.stages import RunSpec
from itt.tasks import Task, get_task

log = logging.getLogger(__name__)


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
    pretrained: str | None = None  # where the encoder was loaded from: a hub id or a local folder

    @property
    def labels(self) -> list[str]:
        return self.train[0].labels

    @property
    def primary_metric(self) -> str:
        """The run's primary metric: its dataset's; for a mixture the mean of its members' primary
        metrics, named like them when they agree (``acc``), else ``primary_mean``."""
        return mixture_metric(self.train)

    @property
    def one_head_per_batch(self) -> bool:
        """A mixture over label spaces: each training batch goes through one of several heads."""
        return isinstance(self.module.model, multihead.MultiHeadModel)

    @property
    def monitor(self) -> str:
        """The validation metric that picks the checkpoint."""
        if self.spec.select_on:
            select = next(p for p in [*self.train, *self.evals] if p.name == self.spec.select_on)
            if select.rows is not None and "validation" not in select.rows:
                raise ConfigError(f"stage.select_on={self.spec.select_on}: that eval set has a test split only "
                                  "(no validation score to select on); pick one with a validation split or use split=paper")
            return f"val/{self.spec.select_on}/{select.task.primary_metric}"
        return f"val/{self.primary_metric}"


def mixture_metric(train: list[Prepared]) -> str:
    names = {p.task.primary_metric for p in train}
    return names.pop() if len(names) == 1 else "primary_mean"


def dataset_spec(node, cfg=None) -> DatasetSpec:
    """The typed spec of a dataset node; with ``cfg``, the generator of its stand-in resolved
    (``identity.generator_of``) when it is one: real data (a local file, the hub) needs no generator, and a
    kind of one's own may have none."""
    # Built explicitly (not OmegaConf.to_object): configs derived in code are untyped copies.
    spec = DatasetSpec(**OmegaConf.to_container(node, resolve=True))
    if cfg is not None and is_stand_in(cfg.source.name, spec.path):
        spec.generator = identity.generator_of(cfg, node)
    return spec


def task_of(cfg, node) -> Task:
    """The Task serving one dataset: its kind, with the task's options (when the kind is the task's)
    under the dataset's own ``options``."""
    kind, primary = identity.kind_of(cfg, node)
    return get_task(kind, primary, dataset_options(cfg, node, kind), dataset_spec(node))


def dataset_options(cfg, node, kind: str) -> dict:
    """The options a dataset's Task of ``kind`` gets: the task's (when the kind is the task's) under its own."""
    options = {}
    for layer in (cfg.task.get("options") if kind == cfg.task.kind else None, node.get("options")):
        if layer is not None:
            options.update(OmegaConf.to_container(layer, resolve=True))
    return options


def option_key(node, where: str, option: str) -> str:
    """The key that sets a dataset's ``option``: its own (``where``: ``task.evals.de``) when its ``options`` name
    it, else the task's."""
    own = node.get("options")
    return f"{where}.options.{option}" if own is not None and option in own else f"task.options.{option}"


def _protocol(spec: RunSpec) -> Protocol:
    cfg = spec.cfg
    return Protocol(cfg.split, cfg.seed, cfg.source.name, spec.settings.data.max_length, Path(cfg.paths.cache),
                    cfg.source.hub_timeout_s)


def prepare_data(spec: RunSpec, tokenizer) -> tuple[list[Prepared], list[Prepared]]:
    """The run's training datasets and its eval sets, split, encoded (or read from the cache)."""
    cfg = spec.cfg
    protocol = _protocol(spec)
    aligned = identity.aligned_roles(cfg)
    for line in [*alignment.unaligned_translations(spec, aligned), *alignment.shared_stand_in_rows(spec)]:
        log.warning("%s", line)
    for role in spec.roles:
        task = task_of(cfg, cfg.task.datasets[role])
        if not task.trainable:
            raise ConfigError(f"task.datasets.{role}: kind {task.kind} is evaluation only (nothing to train); make it an eval "
                              f"set instead (task.evals.{role}) and list it in stage.evals or intermediate.evals")
    train = [prepare(role, dataset_spec(cfg.task.datasets[role], cfg), task_of(cfg, cfg.task.datasets[role]), tokenizer,
                     protocol, by_id=role in aligned) for role in spec.roles]
    groups = identity.declared_alignment(cfg)
    evals = []
    for name in spec.evals:
        node = cfg.task.evals[name]
        task = task_of(cfg, node)
        partners = identity.trained_partners(cfg, spec.roles, name, groups, type(task).split_groups is not Task.split_groups)
        trained_ids = overlap.fingerprint(*(p.train_ids for p in train if p.name in partners)) if partners else None
        evals.append(prepare(name, dataset_spec(node, cfg), task, tokenizer, protocol, by_id=name in aligned,
                             eval_only=True, where=f"task.evals.{name} ({node.path})", trained_ids=trained_ids))
    for line in [*alignment.misaligned_translations(train, evals, aligned), *alignment.unshared_ids(train, evals, groups),
                 *translations_ancestors_trained(spec, evals, groups, tokenizer)]:
        log.warning("%s", line)
    return train, evals


def translations_ancestors_trained(spec: RunSpec, evals: list[Prepared], groups: dict[str, str], tokenizer) -> list[str]:
    """One line per eval set with rows whose translation a step before the run trained on (``itt.data.held_out``'s
    cases: an MLQA eval set after an intermediate step on MLQA German). They stay scored, so that the ITT run and its
    no-ITT twin score the same rows, and are counted here: the ancestor's training ids come from its prepared data
    (a cache hit: the step prepared it with its own settings)."""
    cfg, lines, trained = spec.cfg, [], {}

    def ids_of(step, role):  # each ancestor role's training ids once, however many eval sets it is aligned with
        if (step.label, role) not in trained:
            node = cfg.task.datasets[role]
            trained[step.label, role] = prepare(role, dataset_spec(node, cfg), task_of(cfg, node), tokenizer,
                                                _protocol(step), by_id=True).train_ids
        return trained[step.label, role]

    for step in spec.chain():
        for p in evals:
            grouped = type(p.task).split_groups is not Task.split_groups
            paragraph = " (or of their paragraph's questions)" if grouped else ""
            partners = [r for r in identity.trained_partners(cfg, step.roles, p.name, groups, grouped) if r not in spec.roles]
            if not partners:
                continue
            ids = [ids_of(step, r) for r in partners]
            found = {s: int(held_out.trained_rows(rows, p.task, overlap.fingerprint(*ids)).sum()) for s, rows in p.rows.items()}
            if any(found.values()):
                lines.append(f"{p.where}: {' and '.join(f'{n:,} of {len(p.rows[s]):,} {s}' for s, n in found.items() if n)} "
                             f"rows are translations of rows the step before it, {step.label}, trained on{paragraph}; "
                             f"they stay scored "
                             f"(the no-ITT run scores them too), so the ITT gain there is inflated: leave the eval set out "
                             f"(stage.evals) or train that step on other rows")
    return lines


def data_module(spec: RunSpec, tokenizer, train: list[Prepared], evals: list[Prepared], pad_multiple: int) -> ITTDataModule:
    """The run's batches: training batches of ``train`` (a mixture's drawn by ``cfg.sampler``), evaluation
    batches of every training set and eval set, padded to multiples of ``pad_multiple``."""
    cfg = spec.cfg
    sampler = instantiate(cfg.sampler) if len(train) > 1 and cfg.get("sampler") else None
    return ITTDataModule(train, [*train, *evals], spec.settings.data, pad_multiple, cfg.seed, sampler).attach(tokenizer)


def build_run(spec: RunSpec, parent_row: dict | None = None) -> Built:
    """Everything a run trains with; ``parent_row``: the ledger row of the run it starts from."""
    cfg = spec.cfg
    pl.seed_everything(cfg.seed, workers=True, verbose=False)
    numerics = identity.numerics(spec)
    pretrained = pretrained_source(cfg.model, cfg.source.name, cfg.paths.cache, cfg.source.hub_timeout_s)
    tokenizer = load_tokenizer(pretrained, cfg.model.trust_remote_code)
    train, evals = prepare_data(spec, tokenizer)
    heads, head_of = multihead.group_by_label_space([(p.name, p.task, p.labels) for p in train])
    evals = scored_evals(spec, evals, heads, train)
    data = data_module(spec, tokenizer, train, evals, numerics["pad_to_multiple_of"])
    parent = None
    if parent_row is not None:
        parent = (parent_row["checkpoint"], parent_row.get("kind") or cfg.task.kind, _labels_of(parent_row))
    attention = "eager" if cfg.model.get("eager_attention", False) else None  # opt-in numerics (model.eager_attention)

    def load(task, labels):
        return load_model(pretrained, task, labels, cfg.model.trust_remote_code, parent, spec.head_policy, attention)

    if len(heads) == 1:  # one dataset, or a mixture with one label space: one head, as a single-task run
        model, head = load(train[0].task, train[0].labels)
        members = [None] * (len(train) + len(evals))
    else:
        loaded = [load(train[head_of.index(i)].task, h.labels) for i, h in enumerate(heads)]
        model = multihead.MultiHeadModel([m for m, _ in loaded], heads, head_of)
        head = "+".join(dict.fromkeys(h for _, h in loaded))  # one word when every head fared alike
        members = [*range(len(train)), *(_member_for(p, heads, head_of) for p in evals)]
    names = [None if len(train) == 1 else p.name for p in train] + [p.name for p in evals]
    eval_sets = [EvalSet(name, p.task, p.labels, p.rows, member) for name, p, member in zip(names, [*train, *evals], members)]
    module = ITTModule(model, eval_sets, spec.settings.optim, cfg.model.fast_dropout, cfg.model.sparse_embedding_grad,
                       compiled_bernoulli=cfg.model.compiled_bernoulli)
    if len(train) > 1:  # val/<primary>: the mean of the members' primary metrics (what selection reads)
        # Read once the module has built its evaluators: they settle a primary metric that depends on the labels
        # (a token-classification set in a task of another kind: span f1 for BIO tags, acc for others).
        module.summary = (mixture_metric(train), [(i, p.task.primary_metric) for i, p in enumerate(train)])
    return Built(spec, tokenizer, data, module, head, numerics, train, evals, pretrained)


def _labels_of(row: dict) -> list[str]:
    import json  # noqa: PLC0415

    path = Path(row["checkpoint"]) / "itt_labels.json"
    return json.loads(path.read_text()) if path.exists() else []


def scored_evals(spec: RunSpec, evals: list[Prepared], heads, train: list[Prepared]) -> list[Prepared]:
    """The eval sets the run scores. An eval set is scored with a head of its own label space (the
    evaluator reads the head's output i as the eval set's label i); one no head has is an error when named
    (stage.evals, intermediate.evals), and left out, in one log line, when only ``all`` or a pattern picked
    it: ``all`` means every eval set the run can score (a WNUT-17 target's head cannot score WikiANN's tags).
    A head's own labels declared in another order are a mistake in the declaration, an error either way."""
    key = "stage.evals" if spec.stage == "target" else "intermediate.evals"
    if spec.same_data_evals:
        log.info("%s: left out %s: the data the run trains on (its own test split is its score there)", key,
                 ", ".join(f"{name} (= {role})" for name, role in spec.same_data_evals))
    kept, left_out = [], []
    for p in evals:
        refusal = _unscorable(p, heads, train, key)
        if refusal is None:
            kept.append(p)
        elif p.name in spec.selected_evals and not _reordered(p, heads):
            left_out.append(p)
        else:
            raise ConfigError(refusal)
    if left_out:
        setting = OmegaConf.select(spec.cfg, key, default="all")
        setting = setting if isinstance(setting, str) else f"[{', '.join(map(str, setting))}]"
        kinds = {h.kind for h in heads}
        spaces: dict[str, list[str]] = {}
        for p in left_out:
            space = f"[{', '.join(map(str, p.labels))}]" + ("" if p.task.kind in kinds else f" ({p.task.kind})")
            spaces.setdefault(space, []).append(p.name)
        theirs = "; ".join(f"{', '.join(names)} (labels {space})" for space, names in spaces.items())
        predicted = " / ".join(f"[{', '.join(map(str, h.labels))}]" for h in heads)
        log.warning("%s=%s: left out %s: %s %s; name one in %s to see the error", key, setting, theirs,
                    "the run's head predicts" if len(heads) == 1 else "the mixture's heads predict", predicted, key)
    return kept


def _reordered(prepared: Prepared, heads) -> bool:
    return any(h.kind == prepared.task.kind and sorted(map(str, h.labels)) == sorted(map(str, prepared.labels))
               for h in heads)


def _unscorable(prepared: Prepared, heads, train: list[Prepared], key: str) -> str | None:
    """Why no head of the run can score ``prepared`` (None: one can). A head scores an eval set of its
    label space (the same names in the same order): otherwise the scores are silently wrong (labels in
    another order) or index past the eval set's labels (another tag set). Evaluation-only kinds
    (retrieval) read the shared encoder: any head serves."""
    if not prepared.task.trainable or any(h.label_space == multihead.label_space_json(prepared.task, prepared.labels)
                                          for h in heads):
        return None
    if len(heads) == 1:
        return (f"task.evals.{prepared.name}: labels [{', '.join(map(str, prepared.labels))}] ({prepared.task.kind}), "
                f"but the run's head predicts [{', '.join(map(str, heads[0].labels))}] ({heads[0].kind}); declare the "
                f"eval set's labels in the head's order (labels, label_map), or leave it out ({key})")
    return (f"{key}: {prepared.name!r} ({prepared.task.kind} {prepared.labels}) has a label space no head "
            f"of the mixture {'+'.join(p.name for p in train)} has; evaluate it on a target instead")


def _member_for(prepared: Prepared, heads, head_of: list[int]) -> int:
    """The mixture member whose head an eval set of a multi-head run (one ``scored_evals`` kept) is scored with:
    one of its label space (an evaluation-only kind, e.g. retrieval, reads the shared encoder: any member serves)."""
    if not prepared.task.trainable:
        return 0
    space = multihead.label_space_json(prepared.task, prepared.labels)
    return next(i for i, member_head in enumerate(head_of) if heads[member_head].label_space == space)
