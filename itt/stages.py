"""What a command asks to run: one ``RunSpec`` per run, linked to the run it starts from.

The intermediate phase is a chain of steps (``intermediate.steps``: each a ``task.datasets`` role, or
a list of roles trained together as a mixture). Step *i* starts from step *i-1*; an ITT target starts
from the last step; a no-ITT target and the first step start from the pretrained encoder.
``+stage=intermediate`` names the chain's last step, so it and any target pulling the chain name the
same runs. Intermediate runs use ``trainer``/``optim``/``data`` with ``intermediate.trainer/optim/data``
on top; targets use the shared groups only. Nothing here imports torch: the cached-rerun path and
``--plan`` resolve whole sweeps in a fraction of a second.
"""

from __future__ import annotations

import fnmatch
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass

from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import ValidationError

from itt.errors import ConfigError
from itt.languages import lookup
from itt.schema import SET_NULL, SETTING_SCHEMAS, nullable

STAGES = ("intermediate", "target")
STAGE_HINT = ("add +stage=intermediate or +stage=target (e.g. python -m itt.train model=roberta task=sentiment "
              "+stage=intermediate)")
SETTINGS = ("trainer", "optim", "data")


@dataclass(frozen=True, eq=False)
class RunSpec:
    cfg: DictConfig  # the composed config of the command (shared by every run of its chain)
    stage: str  # intermediate | target
    roles: tuple[str, ...]  # task.datasets roles it trains on (more than one: a mixture)
    parent: "RunSpec | None"  # the run whose model it starts from; None: the pretrained encoder
    settings: DictConfig  # effective trainer / optim / data of this run
    evals: tuple[str, ...]  # task.evals names it is also tested on
    head_policy: str  # at the hand-off from its parent
    select_on: str | None = None  # the eval set whose validation metric picks the checkpoint (None: own)
    # Of ``evals``, those picked by ``all`` or a pattern, not by name: the run leaves out any its head cannot
    # score (label spaces are known only once the data is loaded), where a named one is an error.
    selected_evals: frozenset[str] = frozenset()
    # (eval set, role) pairs left out of ``evals``: the eval set reads the data the run trains on (same_data_evals)
    same_data_evals: tuple[tuple[str, str], ...] = ()

    @property
    def target(self) -> str | None:
        return self.roles[0] if self.stage == "target" else None

    @property
    def is_itt(self) -> bool:
        return self.stage == "target" and self.parent is not None

    @property
    def label(self) -> str:
        """The step as a human reads it: a role, or roles joined by ``+`` for a mixture."""
        return "+".join(self.roles)

    def chain(self) -> list["RunSpec"]:
        """Every run before this one, oldest first."""
        out, node = [], self.parent
        while node is not None:
            out.insert(0, node)
            node = node.parent
        return out

    @property
    def variant(self) -> str:
        """The intermediate chain a run started from: ``none``, or steps joined by ``>``."""
        steps = self.chain()
        return ">".join(s.label for s in steps) if steps else "none"

    def dataset(self, role: str) -> DictConfig:
        return self.cfg.task.datasets[role]


def stage_name(cfg: DictConfig) -> str:
    stage = cfg.get("stage")
    if stage is None:
        raise ConfigError(f"no stage selected: {STAGE_HINT}")
    name = stage.get("name")
    if name not in STAGES:
        raise ConfigError(f"stage.name={name!r} is not a stage; valid: {', '.join(STAGES)}")
    return name


def resolve(cfg: DictConfig) -> RunSpec:
    """The run ``cfg`` names (with its parents)."""
    name = stage_name(cfg)
    check_languages(cfg)
    check_kinds(cfg)
    check_maps(cfg)
    check_seed_and_split(cfg)
    # A no-ITT target trains no intermediate step and its id never covers them: its intermediate.steps are not
    # resolved, so a task without an `intermediate` role runs its no-ITT targets without naming steps.
    steps = intermediate_steps(cfg) if name == "intermediate" or cfg.stage.get("itt") else []
    if name == "intermediate":
        check_translations_held_out(steps[-1])
        return steps[-1]
    roles = _targets(cfg)
    target = cfg.stage.get("target")
    if target not in roles:
        raise ConfigError(f"stage.target={target!r} is not a target of task={cfg.task.name}; valid: {', '.join(roles)}")
    evals, selected = _eval_names(cfg, cfg.stage.get("evals", "all"), "stage.evals")
    evals, same = same_data_evals(cfg, evals, (target,))
    select_on = cfg.stage.get("select_on")
    if select_on is not None and select_on not in evals:
        also = f" ({select_on} reads the target's own data: null selects on its validation split)" if select_on in dict(same) else ""
        raise ConfigError(f"stage.select_on={select_on!r} is not an eval set of this run{also}; valid: "
                          f"{', '.join(evals) or 'none'} (or null: the target's own validation split)")
    settings = OmegaConf.create({k: OmegaConf.to_container(cfg[k], resolve=True) for k in SETTINGS})
    parent = steps[-1] if cfg.stage.get("itt") else None
    spec = RunSpec(cfg, "target", (target,), parent, settings, evals, cfg.stage.get("head_policy", "projection"), select_on,
                   (selected & set(evals)) - {select_on}, same)  # the set the checkpoint is selected on is named
    check_translations_held_out(spec)
    return spec


def check_translations_held_out(spec: RunSpec) -> None:
    """Under ``split=official``, no run of ``spec``'s chain is scored on an item whose translation it or a run
    before it trained on. A translation (``aligned_with``) that lacks a validation or test split carves it
    from its train rows by shared id (``itt.data.splitting``), so those ids stay in the train split of a
    partner that declares that split itself: training on the partner, then scoring the carved split, scores
    translations of training items. (A partner that carves the split too has left those ids out of its train;
    eval sets keep their declared splits and carve none, so only a run's own datasets can be scored on such a
    split; ``split=paper`` splits every translation by the same ids.)"""
    cfg = spec.cfg
    if cfg.split.name != "official":
        return
    from itt.identity import alignment_groups, own_splits  # noqa: PLC0415 (identity imports this module)

    groups = alignment_groups(cfg)
    datasets = cfg.task.datasets
    trained_in: dict[str, RunSpec] = {}  # role -> the first run of the chain that trains on it
    for run in [*spec.chain(), spec]:
        for role in run.roles:
            trained_in.setdefault(role, run)
        for scored in (r for r in run.roles if r in groups):
            carved = [s for s in ("validation", "test") if s not in own_splits(cfg, datasets[scored])]
            for partner, by in trained_in.items():
                if (partner == scored or groups.get(partner) != groups[scored]
                        or _other_positions(cfg, datasets[scored], datasets[partner])):
                    continue
                leaked = [s for s in carved if s in own_splits(cfg, datasets[partner])]
                if leaked:
                    who = "it" if by is run else f"its {by.stage} step {by.label!r}"
                    raise ConfigError(
                        f"split=official: the {run.stage} run {run.label!r} is scored on task.datasets.{scored}'s "
                        f"{leaked[0]} split, carved from its train rows by shared id, but {who} trains on its translation "
                        f"task.datasets.{partner}, which declares its own {leaked[0]} split and so keeps those ids in its "
                        f"train split (scores on translations of training items): declare "
                        f"task.datasets.{scored}.splits.{leaked[0]} or use split=paper")


def _other_positions(cfg: DictConfig, a, b) -> bool:
    """Do two translations keyed by row position (no ``id_field``) train on splits of other names? Positional ids
    name the dataset's own split (``validation:7``), so a carved split of one holds no id of the other's training
    rows (XCOPA Italian's target trains on XCOPA's validation rows, English COPA on COPA's train rows). A generated
    stand-in's ids are places in its generator's stream, whatever its splits say."""
    from itt.data.files import is_stand_in  # noqa: PLC0415

    if a.get("id_field") or b.get("id_field"):
        return False

    def train_name(node):
        return "train" if is_stand_in(cfg.source.name, node.path) else (node.get("splits") or {}).get("train")

    return train_name(a) != train_name(b)


def dataset_nodes(cfg: DictConfig):
    """``(key, node)`` of every dataset and eval set of the task, ``key`` as the user types it
    (``task.datasets.domain``, ``task.evals.de``)."""
    for group in ("datasets", "evals"):
        for name, node in (cfg.task.get(group) or {}).items():
            yield f"task.{group}.{name}", node


def check_languages(cfg: DictConfig) -> None:
    """Every dataset and eval set of the task has a ``lang`` of the language table (``itt/languages.tsv``,
    which gives its family, genus and script), or gives its own ``family`` for a language the table lacks."""
    for key, node in dataset_nodes(cfg):
        if not node.get("family"):
            lookup(node.get("lang"), where=f"{key}.lang",
                   remedy=f"valid: a code of itt/languages.tsv, or set {key}.family for a language the table lacks")


#: The kinds itt ships (``itt.tasks.KINDS``), by name: this module imports no task kind, and so no torch (a test
#: checks the two agree).
BUILT_IN_KINDS = ("sequence_classification", "sequence_regression", "token_classification", "extractive_qa",
                  "multiple_choice", "retrieval")


def not_a_kind(key: str, kind: str, known) -> ConfigError:
    return ConfigError(f"{key}={kind!r} is not a task kind; valid: {', '.join(known)}, or the dotted path of a Task subclass")


def check_kinds(cfg: DictConfig) -> None:
    """Every dataset's kind (its own, else the task's) is a kind: one itt ships, one registered in this process,
    or a dotted path (imported when the run builds its task). Said here, so ``itt.plan`` and a sweep's first
    job catch a misspelt kind before anything trains."""
    tasks = sys.modules.get("itt.tasks")
    known = [*BUILT_IN_KINDS, *(k for k in (tasks.KINDS if tasks is not None else ()) if k not in BUILT_IN_KINDS)]
    for key, node in dataset_nodes(cfg):
        kind = node.get("kind") or cfg.task.kind
        if "." not in kind and kind not in known:
            raise not_a_kind(f"{key}.kind" if node.get("kind") else "task.kind", kind, known)


def check_maps(cfg: DictConfig) -> None:
    """A dataset's ``label_map`` and ``options``, when given, are maps (``itt.schema.DatasetSpec`` types them
    ``Any`` so that the command line can set them where the config has null)."""
    examples = {"label_map": "{0:negative,1:positive}", "options": "{doc_stride:64}"}
    for key, node in dataset_nodes(cfg):
        for field, example in examples.items():
            value = node.get(field)
            if value is not None and not isinstance(value, Mapping):
                raise ConfigError(f"{key}.{field}={value!r} is not a map; use null or a map such as {example}")


def check_seed_and_split(cfg: DictConfig) -> None:
    """``seed`` is an int, and the split fractions are each in (0, 1) and sum to 1 (the splitter derives the
    train share from the other two, so a wrong ``split.train`` would otherwise change nothing but the run id)."""
    seed = cfg.get("seed")
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise ConfigError(f"seed={seed!r} is not valid; use an int such as 0")
    split = cfg.split
    fractions = {k: split.get(k) for k in ("train", "validation", "test")}
    for key, value in fractions.items():
        if not 0 < value < 1:
            raise ConfigError(f"split.{key}={value!r} is not valid; each split's fraction must be above 0 and below 1")
    total = sum(fractions.values())
    if abs(total - 1) > 1e-6:
        terms = " + ".join(f"{v:g}" for v in fractions.values())
        raise ConfigError(f"split.train + split.validation + split.test = {terms} = {total:g}; the fractions must sum to 1")


def intermediate_steps(cfg: DictConfig) -> list[RunSpec]:
    """The chain of intermediate runs ``intermediate.steps`` describes, first to last."""
    block = cfg.get("intermediate") or {}
    raw_steps = OmegaConf.to_container(block.get("steps", ["intermediate"]), resolve=True) if block else ["intermediate"]
    if not raw_steps:
        raise ConfigError("intermediate.steps is empty; give at least one task.datasets role, e.g. [intermediate]")
    settings = intermediate_settings(cfg)
    evals, selected = _eval_names(cfg, list(block.get("evals", [])) if block else [], "intermediate.evals")
    policy = block.get("head_policy", "projection") if block else "projection"
    select_on = block.get("select_on") if block else None
    valid = list(cfg.task.datasets)
    chain, parent = [], None
    for step in raw_steps:
        roles = tuple(step) if isinstance(step, list) else (step,)
        for role in roles:
            if role not in cfg.task.datasets:
                raise ConfigError(f"intermediate.steps: {role!r} is not a dataset of task={cfg.task.name}; valid: {', '.join(valid)}")
        if len(set(roles)) != len(roles):
            raise ConfigError(f"intermediate.steps: a mixture lists {roles[0]!r} twice: {list(roles)}")
        picks = select_on if len(roles) > 1 and select_on in roles else None
        kept, same = same_data_evals(cfg, evals, roles)
        parent = RunSpec(cfg, "intermediate", roles, parent, step_settings(cfg, settings, roles), kept, policy, picks,
                         selected & set(kept), same)
        chain.append(parent)
    for role in per_step_block(cfg):  # a role of the task no step of this run trains is fine: sweeps over steps
        if role not in cfg.task.datasets:
            raise ConfigError(f"intermediate.per_step.{role}: {role!r} is not a dataset of task={cfg.task.name}; "
                              f"valid: {', '.join(valid)}")
    if select_on is not None and not any(s.select_on for s in chain):
        mixed = sorted({r for s in chain if len(s.roles) > 1 for r in s.roles})
        raise ConfigError(f"intermediate.select_on={select_on!r} is not a member of a mixture step; valid: "
                          f"{', '.join(mixed) or 'none (no step is a mixture)'}, or null (the mean of the members)")
    return chain


def intermediate_settings(cfg: DictConfig) -> DictConfig:
    """``trainer``/``optim``/``data`` with the non-null ``intermediate.*`` values on top; ``none`` sets a
    nullable setting to null (``intermediate.optim.early_stopping_patience=none``: no early stopping in
    intermediate runs, whatever the targets use)."""
    block = cfg.get("intermediate") or {}
    out = {}
    for key in SETTINGS:
        base = OmegaConf.to_container(cfg[key], resolve=True)
        overrides = OmegaConf.to_container(block[key], resolve=True) if block and key in block else {}
        out[key] = {**base, **{k: _override(f"intermediate.{key}", key, k, v)
                               for k, v in (overrides or {}).items() if v is not None}}
    return OmegaConf.create(out)


def per_step_block(cfg: DictConfig) -> dict:
    """``intermediate.per_step``: role -> {group: {setting: value}}, as given."""
    block = cfg.get("intermediate") or {}
    found = block.get("per_step") if block else None
    return OmegaConf.to_container(found, resolve=True) if found else {}


def step_settings(cfg: DictConfig, settings: DictConfig, roles: tuple[str, ...]) -> DictConfig:
    """The settings of the intermediate step training ``roles``: ``settings`` (the ``intermediate.*`` ones)
    with ``intermediate.per_step.<role>.*`` on top; a mixture's members must not disagree."""
    per_step = per_step_block(cfg)
    out = OmegaConf.to_container(settings)
    given: dict[tuple[str, str], tuple[str, object]] = {}  # (group, setting) -> (role that set it, value)
    for role in roles:
        groups = per_step.get(role) or {}
        if not isinstance(groups, dict):
            raise ConfigError(f"intermediate.per_step.{role}={groups!r} is not valid; give settings of "
                              f"{', '.join(SETTINGS)}, e.g. intermediate.per_step.{role}.trainer.max_epochs=1")
        for group, values in groups.items():
            prefix = f"intermediate.per_step.{role}.{group}"
            if group not in SETTINGS or not isinstance(values, dict):
                raise ConfigError(f"{prefix} is not valid; valid groups: {', '.join(SETTINGS)} (each a mapping of "
                                  f"their settings, e.g. intermediate.per_step.{role}.trainer.max_epochs=1)")
            for name, value in values.items():
                if value is None:
                    continue
                value = _override(prefix, group, name, value)
                if (group, name) in given and given[(group, name)][1] != value:
                    other, theirs = given[(group, name)]
                    raise ConfigError(f"{prefix}.{name}={value!r} disagrees with intermediate.per_step.{other}."
                                      f"{group}.{name}={theirs!r}, and both train in one mixture step "
                                      f"({'+'.join(roles)}); give them one value")
                given[(group, name)] = (role, value)
                out[group][name] = value
    return OmegaConf.create(out)


def _override(prefix: str, group: str, name: str, value):
    """One ``<prefix>.<name>`` value (``intermediate.optim``, ``intermediate.per_step.squad.optim``) of the
    ``group`` setting ``name``, as the run uses it: checked against the group's type, ``none`` -> null for a
    nullable setting. (The ``intermediate.<group>`` block types its nullable settings ``Any`` to take
    ``none``; ``per_step`` is untyped.)"""
    schema = SETTING_SCHEMAS[group]
    node = OmegaConf.structured(schema)
    if group == "trainer" and name not in node:
        return value  # any other Lightning Trainer argument, as +trainer.x= takes it (checked by check_trainer_args)
    if name not in node or name == "_target_":
        raise ConfigError(f"{prefix}.{name} is not a setting of {group}; valid: "
                          f"{', '.join(k for k in node if k != '_target_')}")
    is_nullable = nullable(schema, name)
    if is_nullable and value == SET_NULL:
        return None
    try:
        node[name] = value
    except ValidationError as e:
        also = f", {SET_NULL} (null for these runs)" if is_nullable else ""
        raise ConfigError(f"{prefix}.{name}={value!r} is not valid ({e.msg.splitlines()[0]}); use a value like "
                          f"{group}.{name}'s{also}, or null (inherit)") from None
    return node[name]  # as the group's type has it ("2" -> 2)


def setting_key(spec: RunSpec, dotted: str) -> str:
    """How the user typed the setting ``dotted`` (``optim.lr``) of ``spec``: ``intermediate.per_step.<role>.optim.lr``
    or ``intermediate.optim.lr`` where an intermediate run's value comes from there, else ``dotted``."""
    group, _, name = dotted.partition(".")
    block = spec.cfg.get("intermediate") or {}
    if spec.stage != "intermediate" or not block:
        return dotted
    per_step = per_step_block(spec.cfg)
    for role in spec.roles:
        if ((per_step.get(role) or {}).get(group) or {}).get(name) is not None:
            return f"intermediate.per_step.{role}.{dotted}"
    if (block.get(group) or {}).get(name) is not None:
        return f"intermediate.{dotted}"
    return dotted


def same_data_evals(cfg: DictConfig, evals: tuple[str, ...], roles: tuple[str, ...]):
    """(``evals`` without the eval sets whose rows can be rows a role of the run trains on; those as (eval set,
    role) pairs). Such a set reads the same dataset (path, subset, language) and a split the role trains on:
    under split=paper every split the role pools (WikiANN de as the target and as eval set de: ~40-85 % of the
    eval set's test rows were the target's training rows), under split=official the role's train split (MLQA
    de's test split, XCOPA it's validation split). The role's own test split is the run's score there. One that
    reads other splits of the same dataset stays (XNLI de next to a translate-train role of XNLI de's train
    split). Compared as the hub names them, so offline stand-ins leave out the same sets."""
    trained = {}
    for role in roles:
        node = cfg.task.datasets[role]
        splits = node.splits  # typed DatasetSpec: always there
        reads = set(splits.values()) if cfg.split.name == "paper" else {splits.get("train")}
        trained.setdefault(_data_source(node), []).append((role, reads - {None}))
    kept, same = [], []
    for name in evals:
        node = cfg.task.evals[name]
        splits = node.splits  # typed DatasetSpec: always there
        reads = {splits.get("validation"), splits.get("test")} - {None}
        role = next((r for r, theirs in trained.get(_data_source(node), []) if theirs & reads), None)
        if role is None:
            kept.append(name)
        else:
            same.append((name, role))
    return tuple(kept), tuple(same)


def _data_source(node) -> tuple[str, str | None, str | None]:
    """Path, subset and language: one hub config can hold several languages told apart by row
    (TyDiQA-GoldP's ``language_from_id``), so its tydiqa_ar eval set is not its English target's data."""
    path = str(node.get("path"))
    return (os.path.normpath(os.path.expanduser(path)) if path.startswith((".", "/", "~")) else path,
            node.get("subset"), node.get("lang"))


def _targets(cfg: DictConfig) -> list[str]:
    block = cfg.get("intermediate") or {}
    steps = OmegaConf.to_container(block.get("steps", ["intermediate"]), resolve=True) if block else ["intermediate"]
    used = {r for s in steps for r in (s if isinstance(s, list) else [s])}
    return [k for k in cfg.task.datasets if k not in used]


def _eval_names(cfg: DictConfig, setting, key: str) -> tuple[tuple[str, ...], frozenset[str]]:
    """The eval sets ``setting`` names: ``all``, or a list of names and of shell-style patterns
    (``tatoeba_*``: every eval set of the task it matches, in task order, like ``all`` under source=embedded
    only those with a stand-in; a pattern matching none is an error). Each set once, first mention first.
    Also those of them only ``all`` or a pattern picked (none named): ``RunSpec.selected_evals``."""
    available = list(cfg.task.get("evals") or {})
    if setting == "all":
        names = tuple(name for name in available if _has_stand_in(cfg, cfg.task.evals[name]))
        return names, frozenset(names)
    names = [setting] if isinstance(setting, str) else list(setting or [])
    out, named = [], set()
    for name in names:
        if any(c in name for c in "*?["):
            matched = [n for n in available if fnmatch.fnmatchcase(n, name)]
            if not matched:
                raise ConfigError(f"{key}: pattern {name!r} matches no eval set of task={cfg.task.name}; valid: "
                                  f"{', '.join(available) or 'none'}")
            out += [n for n in matched if _has_stand_in(cfg, cfg.task.evals[n])]
        elif name not in available:
            raise ConfigError(f"{key}: {name!r} is not an eval set of task={cfg.task.name}; valid: {', '.join(available) or 'none'} "
                              "(add one as one entry: '+task.evals={<name>:{path:...,lang:...}}')")
        else:
            out.append(name)
            named.add(name)
    return tuple(dict.fromkeys(out)), frozenset(out) - named


def _has_stand_in(cfg: DictConfig, node) -> bool:
    """Can this eval set run under the command's source? Always on the hub. Under source=embedded, when
    its stand-in generator writes its language (or it is a local file): a task lists every language of
    its benchmark (WikiANN: 40), the generators write en/de/fr/es, so ``all`` means all that exist here.
    A name listed in stage.evals is taken as given (an eval set without a stand-in then fails when loaded); a
    pattern there (``tatoeba_*``) selects like ``all``."""
    source = cfg.get("source")
    if source is None or source.get("name") != "embedded":
        return True
    from itt.data import embedded  # noqa: PLC0415 (word lists: only under source=embedded)
    from itt.data.files import is_local  # noqa: PLC0415
    from itt.identity import generator_of  # noqa: PLC0415 (identity imports this module)

    if is_local(node.path):
        return True
    generator = generator_of(cfg, node)
    return generator not in embedded.GENERATORS or node.lang in embedded.langs(generator)
