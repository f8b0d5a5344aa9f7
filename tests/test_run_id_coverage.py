"""The run id covers every setting that changes a run's numbers, and only those.

A finished run's ledger row is served as the result of any later command with the same run id, so a
setting missing from ``identity.run_payload`` hands a researcher a cached number of another experiment;
a setting that changes no number but is hashed reruns finished work. Each case below changes one setting
(or one setting within its group) of a base command and says which runs must get a new id: the ITT target,
its intermediate parent, the no-ITT target of the same command. The payload digest (the id's last part) is
compared, with the run's chain, not the whole id: the readable prefix names the model, task and seed too,
and would hide a payload that dropped them. Config ids (the id without this machine) must change alike.
"""

from __future__ import annotations

import copy
import functools

import pytest
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from itt import hardware, identity
from itt.train import CONF_DIR  # registers schemas and resolvers

SENTIMENT = ("model=bert", "task=sentiment", "+stage=target", "source=embedded", "stage.target=domain")
HUB = ("model=bert", "task=sentiment", "+stage=target", "source=hub", "stage.target=domain")
CHAIN = (*SENTIMENT, "intermediate.steps=[intermediate,crosslingual]")
MIXTURE = (*SENTIMENT, "intermediate.steps=[[intermediate,crosslingual]]")
XNLI = ("model=bert", "task=xnli", "+stage=target", "source=embedded", "stage.target=en", "stage.evals=[de,fr]")

ALL = frozenset({"itt", "parent", "noitt"})  # settings every run of the command uses
TARGETS = frozenset({"itt", "noitt"})  # the target's own data and stage settings
CHAIN_ONLY = frozenset({"itt", "parent"})  # the intermediate phase: never a no-ITT target
NONE = frozenset()

# Numerics are hashed as what they become on this machine (itt.hardware): the cases set values that differ from it.
DEVICE = hardware.device_type()
OTHER_PRECISIONS = [p for p in ("32-true", "bf16-mixed", "16-mixed") if p != hardware.precision("auto", DEVICE)]
OTHER_PAD_MULTIPLE = 16  # auto is 1 on CPUs, 8 on GPUs

TARGET_DATASET = "task.datasets.domain."
INTERMEDIATE_DATASET = "task.datasets.intermediate."

# (base command, overrides, runs whose id changes)
CHANGES_NUMBERS = [
    # model: architecture, tokenizer, weights, dropout and attention numerics
    *[(SENTIMENT, (o,), ALL) for o in (
        "model=roberta", "model.hub_id=other/bert", "model.local_package=some_package", "model.trust_remote_code=true",
        "model.embedded.tokenizer=bpe", "model.embedded.vocab_size=2000", "model.embedded.config.hidden_size=32",
        "model.embedded.config.num_hidden_layers=1", "model.embedded.config.num_attention_heads=4",
        "model.embedded.config.intermediate_size=64", "model.embedded.config.max_position_embeddings=256",
        "+model.embedded.config.hidden_dropout_prob=0.2", "model.eager_attention=true")],
    (SENTIMENT, ("model.fast_dropout=true",), ALL if DEVICE == "cpu" else NONE),  # GPUs keep torch's fused dropout
    # task: how every dataset is read and scored
    *[(SENTIMENT, (o,), ALL) for o in (
        "task.kind=sequence_regression", "task.primary_metric=macro_f1", "task.generator=nli", "+task.options.foo=1")],
    # split, seed, source
    *[(SENTIMENT, (o,), ALL) for o in (
        "split=official", "seed=1", "source=hub")],
    (SENTIMENT, ("split.train=0.8", "split.validation=0.1", "split.test=0.1"), ALL),
    (SENTIMENT, ("split.validation=0.1", "split.test=0.2"), ALL),
    # data, optimisation, schedule, precision: the shared groups (intermediate runs inherit them)
    *[(SENTIMENT, (o,), ALL) for o in (
        "data.batch_size=16", "data.eval_batch_size=7", "data.max_length=64", "data.length_grouping=true",
        f"data.pad_to_multiple_of={OTHER_PAD_MULTIPLE}",
        *[f"trainer.precision={p}" for p in OTHER_PRECISIONS],
        "optim.lr=1e-4", "optim.weight_decay=0.1", "optim.warmup_ratio=0.2", "optim.freeze_encoder=true",
        "optim.early_stopping_patience=2",
        "trainer.max_epochs=1", "trainer.max_steps=10", "trainer.devices=2", "resources.tasks_per_node=2",
        "trainer.num_nodes=2", "trainer.strategy=ddp",
        "trainer.gradient_clip_val=0.5", "trainer.accumulate_grad_batches=2", "trainer.deterministic=false",
        "trainer.limit_train_batches=0.5", "trainer.limit_val_batches=0.5",
        "+trainer.gradient_clip_algorithm=value", "+trainer.val_check_interval=0.5")],
    # the target's dataset: every field of its spec
    *[(SENTIMENT, (TARGET_DATASET + o,), TARGETS) for o in (
        "path=other/imdb", "subset=x", "revision=abc", "text_fields=[review]", "label_field=stars",
        "labels=[positive,negative]", "label_map={neg:positive,pos:negative}", "score_range=[0,5]",
        "splits.train=other", "splits.validation=validation", "splits.test=other", "columns=[text,label]",
        "max_rows=100", "lang=de", "domain=books", "embedded_rows=100", "embedded_domain=books", "embedded_offset=5",
        "kind=sequence_regression", "primary_metric=macro_f1", "generator=nli", "aligned_with=crosslingual",
        "id_field=id")],
    # the target's stage
    (SENTIMENT, ("stage.target=crosslingual",), TARGETS),
    (SENTIMENT, ("stage.head_policy=head",), frozenset({"itt"})),  # no hand-off without ITT
    # eval sets that are scored, and the one the checkpoint is selected on
    *[(XNLI, (o,), TARGETS) for o in (
        "stage.evals=[de]", "stage.select_on=de", "task.evals.de.max_rows=10", "task.evals.de.embedded_rows=10",
        "task.evals.de.labels=[neutral,entailment,contradiction]", "task.evals.de.aligned_with=null")],
    (XNLI, ("intermediate.evals=[de]",), CHAIN_ONLY),
    # the intermediate's dataset
    *[(SENTIMENT, (INTERMEDIATE_DATASET + o,), CHAIN_ONLY) for o in (
        "embedded_rows=1000", "max_rows=10", "label_field=stars", "lang=de", "path=other/amazon")],
    # the intermediate's own settings: on top of the shared groups, for intermediate runs only
    *[(SENTIMENT, ("intermediate." + o,), CHAIN_ONLY) for o in (
        "trainer.max_epochs=1", "trainer.max_steps=10", "trainer.devices=2", "trainer.num_nodes=2",
        "trainer.strategy=ddp", f"trainer.precision={OTHER_PRECISIONS[0]}", "trainer.gradient_clip_val=0.5",
        "trainer.accumulate_grad_batches=2", "trainer.deterministic=false", "trainer.limit_train_batches=0.5",
        "trainer.limit_val_batches=0.5",
        "optim.lr=1e-5", "optim.weight_decay=0.1", "optim.warmup_ratio=0.2", "optim.freeze_encoder=true",
        "optim.early_stopping_patience=2",
        "data.batch_size=16", "data.eval_batch_size=7", "data.max_length=64", "data.length_grouping=true",
        f"data.pad_to_multiple_of={OTHER_PAD_MULTIPLE}")],
    # how many batches are sorted by length together: read only with length grouping on
    ((*SENTIMENT, "data.length_grouping=true"), ("data.mega_batch=10",), ALL),
    ((*SENTIMENT, "intermediate.data.length_grouping=true"), ("intermediate.data.mega_batch=10",), CHAIN_ONLY),
    # the intermediate groups by length and inherits the shared mega_batch; the targets group nothing
    ((*SENTIMENT, "intermediate.data.length_grouping=true"), ("data.mega_batch=10",), CHAIN_ONLY),
    # the chain: its steps, their order, the hand-off between steps
    (SENTIMENT, ("intermediate.steps=[crosslingual]",), CHAIN_ONLY),
    (SENTIMENT, ("intermediate.steps=[intermediate,crosslingual]",), CHAIN_ONLY),
    (CHAIN, ("intermediate.steps=[crosslingual,intermediate]",), CHAIN_ONLY),
    (CHAIN, ("intermediate.head_policy=head",), CHAIN_ONLY),
    # a mixture: its members' order, its sampler and the sampler's settings, the member it selects on
    (MIXTURE, ("intermediate.steps=[[crosslingual,intermediate]]",), CHAIN_ONLY),
    (MIXTURE, ("sampler=uniform",), CHAIN_ONLY),
    (MIXTURE, ("sampler=temperature",), CHAIN_ONLY),
    ((*MIXTURE, "sampler=temperature"), ("sampler.temperature=3",), CHAIN_ONLY),
    ((*MIXTURE, "sampler=capped"), ("sampler.cap=10",), CHAIN_ONLY),
    (MIXTURE, ("intermediate.select_on=crosslingual",), CHAIN_ONLY),
]

CHANGES_NOTHING = [
    *[(SENTIMENT, (o,), NONE) for o in (
        # how a run is watched, kept, placed or resumed
        "logger=csv", "logger.wandb.project=other", "logger.wandb.entity=someone", "paths.root=/elsewhere",
        "force=true", "keep_checkpoints=true", "checkpoint_every_n_steps=5", "stage.auto_intermediate=false",
        "resources.cpus_per_task=4", "resources.mem_gb=9", "resources.timeout_min=99", "resources.partition=other",
        "source.hub_timeout_s=1", "trainer.log_every_n_steps=1", "trainer.enable_progress_bar=true",
        "trainer.enable_model_summary=true", "intermediate.trainer.log_every_n_steps=1",
        "intermediate.trainer.enable_progress_bar=true",
        # speed without other numbers (tests/test_speed_embedding_grad.py); workers collate in the same order
        "model.sparse_embedding_grad=false", "model.compiled_bernoulli=false", "data.num_workers=2", "intermediate.data.num_workers=2",
        # what only the divergence measures read
        "model.embedding_prefix=x",
        # what the command's runs do not use: a sampler without a mixture, a hand-off between steps of a one-step chain,
        # the size of length-sorted groups of batches without length grouping
        "sampler=uniform", "intermediate.head_policy=head", "data.mega_batch=10", "intermediate.data.mega_batch=10")],
    # eval sets: the order they are listed in, and one that is not scored
    (XNLI, ("stage.evals=[fr,de]",), NONE),
    (XNLI, ("task.evals.es.embedded_rows=10",), NONE),
    # the stand-in's own settings on the hub, where no stand-in is generated
    *[(HUB, (TARGET_DATASET + o,), NONE) for o in ("embedded_offset=5", "embedded_domain=books")],
    (HUB, ("task.generator=nli",), NONE),
]


@functools.lru_cache(maxsize=None)
def identities(overrides: tuple[str, ...]) -> tuple[dict[str, tuple[str, str]], str]:
    """What each run of a command is: the ITT target, its parent and the no-ITT target, each as (run id, config
    id) without the readable prefix (model, task, seed: the payload must cover them) but with its chain
    (``RunSpec.variant`` and ``label``: a mixture's member order is in the id's name, not in its digest);
    and the composed command (unresolved), to tell a case that changed nothing."""
    with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
        cfg = compose("train", overrides=[*overrides, "stage.itt=true"])
    no_itt_cfg = copy.deepcopy(cfg)
    no_itt_cfg.stage.itt = False
    itt, no_itt = identity.resolve(cfg), identity.resolve(no_itt_cfg)
    runs = {"itt": itt, "parent": itt.parent, "noitt": no_itt}

    def what(spec, make_id):
        return f"{spec.variant}|{spec.label}|{make_id(spec).rsplit('-', 1)[1]}"

    return ({name: (what(s, identity.run_id), what(s, identity.config_id)) for name, s in runs.items()},
            OmegaConf.to_yaml(cfg))


def changed(base: tuple[str, ...], overrides: tuple[str, ...]) -> tuple[set[str], set[str]]:
    """The runs whose run id, and those whose config id, differ between ``base`` and ``base`` + ``overrides``."""
    (before, before_cfg), (after, after_cfg) = identities(base), identities((*base, *overrides))
    assert before_cfg != after_cfg, f"{' '.join(overrides)} composes the same command as its base: a typo?"
    return ({name for name in before if before[name][0] != after[name][0]},
            {name for name in before if before[name][1] != after[name][1]})


def _id(case) -> str:
    return " ".join(case[1])


@pytest.mark.parametrize("case", CHANGES_NUMBERS, ids=_id)
def test_a_setting_that_changes_numbers_changes_the_run_id(case):
    base, overrides, runs = case
    by_run_id, by_config_id = changed(base, overrides)
    setting = " ".join(overrides)
    assert by_run_id == runs, f"{setting}: new run ids for {sorted(by_run_id)}, expected {sorted(runs)}"
    assert by_config_id == runs, f"{setting}: new config ids for {sorted(by_config_id)}, expected {sorted(runs)}"


@pytest.mark.parametrize("case", CHANGES_NOTHING, ids=_id)
def test_a_setting_that_changes_no_number_keeps_the_run_id(case):
    base, overrides, runs = case
    by_run_id, by_config_id = changed(base, overrides)
    assert by_run_id == by_config_id == runs, f"{' '.join(overrides)}: new ids for {sorted(by_run_id | by_config_id)}"


def test_precision_given_as_what_auto_becomes_here_is_the_same_run():
    effective = hardware.precision("auto", DEVICE)
    assert changed(SENTIMENT, (f"trainer.precision={effective}",)) == (set(), set())


def test_a_new_stand_in_build_is_another_run_and_the_current_one_keeps_its_ids(monkeypatch):
    """The tiny stand-in encoders are built by code (``itt.models.BUILD_VERSION``), not only from the model
    config: runs on a rebuilt stand-in are new runs. Runs on a pretrained model, or on the hub, are not."""
    from itt import models

    def specs(*overrides):
        with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
            spec = identity.resolve(compose("train", overrides=[*SENTIMENT, *overrides]))
        return spec, spec.parent

    def ids(runs):
        return [make(run) for run in runs for make in (identity.run_id, identity.config_id)]

    commands = {"stand-in": specs(), "packaged": specs("model=minilm"), "hub": specs("source=hub")}
    current = {name: ids(runs) for name, runs in commands.items()}
    # the build every run so far was made with is not hashed: their ids stay
    assert all("stand_in_build" not in identity.run_payload(run)["model"] for run in commands["stand-in"])
    monkeypatch.setattr(models, "BUILD_VERSION", models.BUILD_VERSION + 1)
    rebuilt = {name: ids(runs) for name, runs in commands.items()}
    assert all(new != old for new, old in zip(rebuilt["stand-in"], current["stand-in"]))
    assert rebuilt["packaged"] == current["packaged"] and rebuilt["hub"] == current["hub"]


def test_xlnet_runs_are_new_runs_since_their_biases_and_segment_ids_changed(monkeypatch):
    """XLNet trains other numbers than versions that weight-decayed its 2-d attention biases and (from the hub)
    lost its segment ids: its runs get new ids; every other model keeps its ids."""
    def ids(*overrides):
        with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
            spec = identity.resolve(compose("train", overrides=[*SENTIMENT, *overrides]))
        return [make(run) for run in (spec, spec.parent) for make in (identity.run_id, identity.config_id)]

    commands = {name: ("model=" + name,) for name in ("xlnet", "bert", "roberta", "minilm")}
    commands |= {"xlnet hub": ("model=xlnet", "source=hub"), "bert hub": ("model=bert", "source=hub")}
    now = {name: ids(*o) for name, o in commands.items()}
    monkeypatch.setattr(identity, "is_xlnet", lambda model_cfg: False)  # as before the fixes
    before = {name: ids(*o) for name, o in commands.items()}
    for name in commands:
        if name.startswith("xlnet"):
            assert all(new != old for new, old in zip(now[name], before[name])), name
        else:
            assert now[name] == before[name], name
