"""What a run *is*: its id, its hyper-parameter group, and the datasets it reads.

A run id is derived from everything that determines its result, never from a timestamp: the model (a
tiny stand-in's build too, once it moves past build 2), the datasets it trains on (a local file by its
content) and is evaluated on, the task kind, the stage, seed, split, source, its effective
hyper-parameters, the effective numerics of this machine (precision, padding multiple, dropout
implementation: ``itt.hardware``), the machine itself (its CPU kernels and threads, or its GPUs:
``hardware.machine``; left out of :func:`config_id` and of the hyper-parameter group, so seeds from two
kinds of node are compared, not cached, as one) and, for a run that starts from
another run, that run's id and the head policy. The same command therefore always maps to the same run
directory and ledger rows: that is what makes reruns skip finished work, killed runs resume, concurrent
jobs agree on one intermediate checkpoint, and run directories never collide. Settings that change no
number (``data.num_workers``, ``model.sparse_embedding_grad``, logging) are left out, ``data.mega_batch`` is
hashed as its default without length grouping (never read then); ``data.eval_batch_size`` is hashed as
numerics when it is not the default.

The functions are also OmegaConf resolvers (``${itt.run_id:}``) so Hydra's output directory and the
W&B run id are the run id too.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from typing import Any

from omegaconf import DictConfig, OmegaConf

from itt import hardware, models
from itt.data import files
from itt.data.files import fingerprint, is_local, is_stand_in, local_data_problem
from itt.errors import ConfigError, DataError
from itt.models.info import hidden_size
from itt.schema import TRAINING_SPEED_KEYS, DataSchema, plain_label_map
from itt.stages import STAGE_HINT, RunSpec, intermediate_steps, resolve, stage_name  # noqa: F401 (re-exported)

# Settings that change how a run is watched or how fast it goes, not what it computes.
_TRAINER_KEYS_NOT_IN_IDENTITY = {"_target_", "enable_progress_bar", "enable_model_summary", "log_every_n_steps",
                                 "default_root_dir", "precision"}  # precision: hashed as its effective value
_DATA_KEYS_NOT_IN_IDENTITY = {"num_workers", "eval_batch_size", "pad_to_multiple_of"}  # the last two: as numerics
# Hashed as their default where the run never reads them, so such runs keep the ids they have at the default.
_DATA_DEFAULTS = {"mega_batch": DataSchema.mega_batch}
# dropout and eager attention: hashed as numerics (hardware.numerics); compiled_bernoulli and
# sparse_embedding_grad give the same numbers bit for bit
_MODEL_KEYS_NOT_IN_IDENTITY = {*TRAINING_SPEED_KEYS, "eager_attention", "embedding_prefix", "local_copy_of"}
# The stand-in build (itt.models.BUILD_VERSION) of every run before the id hashed it: those keep their ids.
_UNHASHED_STAND_IN_BUILD = 2


def digest(payload: Any, length: int = 8) -> str:
    text = json.dumps(payload, sort_keys=True, default=str)
    return hashlib.sha1(text.encode()).hexdigest()[:length]


def plain(node: Any) -> Any:
    if isinstance(node, DictConfig) or OmegaConf.is_list(node):
        return OmegaConf.to_container(node, resolve=True)
    return node


def numerics(spec: RunSpec) -> dict:
    return hardware.numerics(spec.settings.trainer, spec.settings.data, spec.cfg.model)


def hparams_payload(spec: RunSpec) -> dict:
    s = spec.settings
    effective = {k: v for k, v in numerics(spec).items() if k != "device"}
    optim = plain(s.optim)
    if optim.get("warmup_ratio"):  # warmup steps rounded up (as the HF Trainer), where earlier versions rounded down
        optim["warmup_steps"] = "ceil"
    if optim.get("freeze_encoder"):  # frozen: the encoder without the head's modules (BERT's pooler trains):
        optim["freeze_encoder"] = "head_modules"  # other numbers than versions that froze the pooler
    if str(effective.get("precision", "")).startswith("16"):
        # the LR schedule skips the optimizer steps the grad scaler skipped (as the HF Trainer), where earlier
        # versions stepped it on them
        optim["schedule"] = "steps_taken"
    trainer = {k: v for k, v in plain(s.trainer).items() if k not in _TRAINER_KEYS_NOT_IN_IDENTITY}
    for key in ("limit_train_batches", "limit_val_batches"):
        # typed float before: an int was hashed as a float. Only 1 means other batches as an int (one batch, not all)
        if isinstance(trainer.get(key), int) and not isinstance(trainer.get(key), bool) and trainer[key] != 1:
            trainer[key] = float(trainer[key])
    if (trainer.get("max_steps") or -1) > 0:
        # validated at its last step (itt.trainer.ValidateLastStep): where max_steps ends inside an epoch, another
        # checkpoint can be the best than earlier versions kept
        trainer["last_step_validated"] = True
    data = {k: v for k, v in plain(s.data).items() if k not in _DATA_KEYS_NOT_IN_IDENTITY}
    if not data.get("length_grouping"):  # read only to group batches by length: random batches are the same
        data["mega_batch"] = _DATA_DEFAULTS["mega_batch"]
    return {
        "trainer": trainer,
        "data": data,
        "optim": optim, "split": plain(spec.cfg.split), "source": spec.cfg.source.name,
        "numerics": effective,
    }


def hparams_id(spec_or_cfg) -> str:
    """Runs are comparable (averaged over seeds, paired ITT vs no-ITT) only within one hparams id."""
    return digest(hparams_payload(as_spec(spec_or_cfg)))


def chain_hparams_id(parent: dict, head_policy: str | None) -> str | None:
    """How a run's intermediate chain was made, from its parent's ledger row: the parent's hyper-parameters
    (``hparams_id``), the data it trained on (dataset keys), its checkpoint metric, a mixture's sampler, how
    it took its own parent's weights and that parent's id of this kind (recursively: the whole chain), plus
    how this run takes the parent's weights (``head_policy``). A target's own ``hparams_id`` covers the
    target stage only, so without this ITT targets after intermediates trained another way would share a
    report cell. Built from rows, so the report rebuilds the same id for rows written before it existed.
    None when the parent's row cannot say (a step before it has no id, a dataset has no key)."""
    before = parent.get("intermediate_hparams_id")
    members = [d for d in (parent.get("datasets") or []) if isinstance(d, dict)] or [parent.get("dataset") or {}]
    keys = [d.get("key") for d in members]
    if not parent.get("hparams_id") or not all(keys) or (parent.get("parent_run_id") and not before):
        return None
    step = {"hparams": parent["hparams_id"], "data": keys, "selected_on": parent.get("selected_on"),
            "sampler": parent.get("sampler") if len(keys) > 1 else None,
            "head_policy": parent.get("head_policy") if parent.get("parent_run_id") else None, "before": before}
    if parent.get("setup_id"):  # rows before it: their data keys name no max_rows, label field, options
        step["setup"] = parent["setup_id"]
    return digest({"step": step, "head_policy": head_policy})


def aligned_roles(cfg: DictConfig) -> set[str]:
    """Datasets split by shared row id: those with ``aligned_with`` and the ones they name, and under
    source=embedded the stand-ins of a generator whose every stand-in is one stream (``row_streams``)."""
    specs = {**dict(cfg.task.datasets), **dict(cfg.task.get("evals") or {})}
    out = set(row_streams(cfg))
    for name, spec in specs.items():
        partner = spec.get("aligned_with")
        if partner:
            if partner not in specs:
                raise ConfigError(f"task.datasets.{name}.aligned_with={partner!r} names no dataset; valid: {', '.join(specs)}")
            out |= {name, partner}
    return out


def alignment_groups(cfg: DictConfig) -> dict[str, str]:
    """Each aligned dataset or eval set -> its alignment group (a member's name, the same for the whole group):
    the sets linked by ``aligned_with``, directly or through a chain (de -> en <- fr, a -> b -> c). Shared ids
    name translations of one row only within a group; two groups' ``train:7`` are unrelated rows."""
    specs = {**dict(cfg.task.datasets), **dict(cfg.task.get("evals") or {})}
    group = {name: name for name in aligned_roles(cfg)}
    first: dict[str, str] = {}  # a stream's generator -> its first stand-in: every other one joins its group
    for name, generator in row_streams(cfg).items():
        group[name] = first.setdefault(generator, name)
    return linked_by_aligned_with(specs, group)


def linked_by_aligned_with(specs, group: dict[str, str]) -> dict[str, str]:
    """``group`` (each name -> a member of its group) with the sets ``aligned_with`` links joined, directly
    or through a chain; each name -> its group's root. A partner outside ``group`` links nothing."""
    group = dict(group)

    def root(name):
        while group[name] != name:
            name = group[name]
        return name

    for name in list(group):
        partner = specs[name].get("aligned_with")
        if partner in group:
            group[root(name)] = root(partner)
    return {name: root(name) for name in group}


def row_streams(cfg: DictConfig) -> dict[str, str]:
    """Under source=embedded, the generated stand-ins (datasets and eval sets) whose generator draws every
    stand-in from one stream (``Generator.split_by_row``: pos, qa, ner, choice), each -> its generator. Each is a part
    of the stream (rows from its ``embedded_offset`` on; a German one their translations) and may share rows with
    another (the same hub dataset in two roles, a benchmark's languages), so they are split by the shared row id:
    no held-out row of one is trained on in another."""
    source = cfg.get("source")
    if source is None or source.get("name") != "embedded":
        return {}
    from itt.data.embedded import GENERATORS  # noqa: PLC0415 (word lists: only under source=embedded)

    out = {}
    for name, spec in {**dict(cfg.task.datasets), **dict(cfg.task.get("evals") or {})}.items():
        if is_local(spec.path):
            continue
        try:
            generator = generator_of(cfg, spec)
        except ConfigError:  # no stand-in at all: said when the dataset is loaded
            continue
        if generator in GENERATORS and GENERATORS[generator].split_by_row:
            out[name] = generator
    return out


def own_splits(cfg: DictConfig, spec_node) -> set[str]:
    """The splits a dataset brings itself under ``split=official`` (``itt.data.files.own_splits``)."""
    return files.own_splits(cfg.source.name, spec_node.path, spec_node.get("splits"))


def dataset_payload(cfg: DictConfig, name: str, spec_node, group: str = "datasets", aligned: set[str] | None = None) -> dict:
    """A dataset as the run id sees it: its spec, its content when local, whether it is split by id,
    and the generator of its stand-in under source=embedded (and the version of the code generating it).
    ``group``: ``datasets`` or ``evals``, where ``name`` is declared (for the error of a missing file).
    ``aligned``: :func:`aligned_roles` of ``cfg`` when the caller has it (it reads every spec of the task)."""
    spec = plain(spec_node)
    if spec.get("label_map") is not None:  # {0: neg} from the command line and {"0": neg} from a config: one run
        spec["label_map"] = plain_label_map(spec["label_map"])
    local = is_local(spec["path"])
    problem = local_data_problem(spec["path"], f"task.{group}.{name}.path", header=not spec.get("columns")) if local else None
    if problem:  # here, where its content is first read: before a parent run trains or any data loads
        raise DataError(problem)
    quoting = spec.pop("quoting", None)
    problem = files.quoting_problem(spec["path"], quoting, f"task.{group}.{name}.quoting")
    if problem:
        raise ConfigError(problem)
    if local and files.quoting_changes_rows(spec["path"], quoting):  # else the same rows as the default: the same run
        spec["quoting"] = quoting
    stand_in = is_stand_in(cfg.source.name, spec["path"])
    # Keys that did not exist when older runs were made leave the spec when unset, so those runs keep their
    # ids; the stand-in's own keys leave it on the hub, where they change nothing.
    for key in ("options", "embedded_offset", "embedded_domain"):
        if spec.get(key) is None or (key != "options" and (not stand_in or not spec[key])):
            spec.pop(key, None)
    by_id = name in (aligned_roles(cfg) if aligned is None else aligned)
    payload = {"spec": spec, "content": fingerprint(spec["path"]) if local else None, "by_id": by_id,
               "generator": generator_of(cfg, spec_node) if stand_in else None}
    if stand_in:  # its rows are what the generators' code makes: a run on an older stand-in is another run
        from itt.data import embedded  # noqa: PLC0415 (only offline)

        payload["generated_by"] = embedded.source_version()
    if payload["by_id"] and cfg.split.name == "official":
        # a split the files lack is carved by shared id: other rows than a per-dataset carve, so another run
        payload["official_carve"] = "by_id"
    if payload["by_id"] and not spec.get("id_field") and _positional_ids_split(cfg, spec_node, group == "evals"):
        payload["positional_ids"] = files.POSITIONAL_IDS
    grouped = cfg.split.name in ("paper", "official") and groups_rows(kind_of(cfg, spec_node)[0])  # a kind's import: only when it matters
    payload.update(files.split_changes(cfg.split.name, cfg.source.name, spec_node.path, spec_node.get("splits"),
                                       by_id=payload["by_id"], eval_only=group == "evals", grouped=grouped))
    return payload


def _positional_ids_split(cfg: DictConfig, spec_node, eval_only: bool) -> bool:
    """Are a dataset's rows split by positional ids (``<split>:<row>``, no ``id_field``) that name a split of its own
    other than the canonical one (``files.renamed_splits``), where older versions named them after the canonical
    split: other ids, so other rows in each split? Under ``split=paper`` every aligned row is split by its id; under
    ``split=official`` only a dataset's training rows are, where it carves a split it lacks from them."""
    renamed = files.renamed_splits(cfg.source.name, spec_node.path, spec_node.get("splits"))
    if cfg.split.name != "official":
        return bool(renamed)
    carves = own_splits(cfg, spec_node) & {"validation", "test"} != {"validation", "test"}
    return not eval_only and "train" in renamed and carves


# The registered kinds whose Task.split_groups keeps groups of rows in one split (by name: this module does
# not import the kinds, and torch with them); tests check it against the kinds.
ROW_GROUPING_KINDS = frozenset({"extractive_qa"})


def declared_alignment(cfg: DictConfig) -> dict[str, str]:
    """Each dataset or eval set linked by ``aligned_with`` (directly or through a chain) -> its group's root. Unlike
    :func:`alignment_groups`, without the stand-ins that are one generator stream under source=embedded: those share
    rows because the generator makes them so, and split by their ids alone they hold nothing to leave out."""
    specs = {**dict(cfg.task.datasets), **dict(cfg.task.get("evals") or {})}
    named = {name for name, spec in specs.items() if spec.get("aligned_with")}
    named |= {specs[name].aligned_with for name in named if specs[name].aligned_with in specs}
    return linked_by_aligned_with(specs, {name: name for name in named})


def trained_partners(cfg, roles, name: str, groups: dict[str, str], grouped: bool) -> list[str]:
    """The roles among ``roles`` whose training ids eval set ``name`` leaves out (``itt.data.held_out``): those linked
    to it by ``aligned_with`` (``declared_alignment``: ``groups``) where hashing the shared id alone does not keep a
    held-out id out of training: a kind that groups rows (``grouped``), or ``split=official`` where the ids can meet
    (:func:`ids_meet`): both sets declare an ``id_field``, or neither does and the role's training rows come from a split of the eval set's
    name (row positions, ``<split>:<row>``, are named after the dataset's own split: MLQA's German target trains on
    ``test``, whose ``test:7`` is the translation of another language's ``test:7``)."""
    if name not in groups:
        return []
    official = cfg.split.name == "official"
    return [role for role in roles
            if groups.get(role) == groups[name] and (grouped or (official and ids_meet(cfg, role, name) is not None))]


def _positions_renamed(cfg, role: str, name: str) -> bool:
    """Are the ids by which eval set ``name`` leaves out ``role``'s training rows under ``split=official`` row
    positions named after a split of the dataset's own other than the canonical one (the role's training split, or
    the eval set's validation or test split): ids older versions named otherwise, so other rows are left out."""
    if ids_meet(cfg, role, name) != "positional":
        return False
    role_node, node = cfg.task.datasets[role], cfg.task.evals[name]
    return ("train" in files.renamed_splits(cfg.source.name, role_node.path, role_node.get("splits"))
            or bool(files.renamed_splits(cfg.source.name, node.path, node.get("splits")).keys() & {"validation", "test"}))


def ids_meet(cfg, role: str, name: str) -> str | None:
    """How a role's training row ids can be eval set ``name``'s validation or test ids under ``split=official``:
    ``id_field`` (both declare one), ``positional`` (neither does, and the role trains on a split of a name the eval
    set scores: ``<split>:<row>`` names the dataset's own split), or None (they cannot)."""
    node, spec = cfg.task.evals[name], cfg.task.datasets[role]
    if node.get("id_field") or spec.get("id_field"):
        return "id_field" if node.get("id_field") and spec.get("id_field") else None
    own = {node.splits.get(s) for s in ("validation", "test")} - {None}
    return "positional" if spec.splits.get("train") in own else None


def groups_rows(kind: str) -> bool:
    """Does a kind split its rows by group under ``split=paper`` (``Task.split_groups``)?"""
    if "." not in kind:
        return kind in ROW_GROUPING_KINDS
    from itt.tasks import Task, kind_class  # noqa: PLC0415 (a kind in the user's own code: imported to run anyway)

    return kind_class(kind).split_groups is not Task.split_groups


def generator_of(cfg: DictConfig, spec_node) -> str:
    """The embedded stand-in generator of a dataset: its own, else its task's (for the task's kind), else
    its kind's default. Only a stand-in needs one (a hub path under ``source=embedded``): callers ask for
    those only, so a kind of one's own without a generator runs on local files under any source."""
    if spec_node.get("generator"):
        return spec_node.generator
    kind = kind_of(cfg, spec_node)[0]
    if kind == cfg.task.kind and cfg.task.get("generator"):
        return cfg.task.generator
    from itt.data.embedded import DEFAULT_GENERATOR, GENERATORS  # noqa: PLC0415 (word lists: only under source=embedded)

    named = kind
    if kind not in DEFAULT_GENERATOR and "." in kind:
        # a kind named by its class's dotted path: importing it registers the generators its module
        # ships (itt.data.embedded.register_generator), under the class's own ``kind``
        from itt.tasks import kind_class  # noqa: PLC0415

        kind = kind_class(kind).kind
    if kind not in DEFAULT_GENERATOR:
        # named where it was given: a dataset's own misspelt kind was reported as task.kind
        own = spec_node.get("kind") and hasattr(spec_node, "_get_full_key")
        key = spec_node._get_full_key("kind") if own else "task.kind"
        where = spec_node._get_full_key(None) if hasattr(spec_node, "_get_full_key") else "the dataset"
        # A generator writes the rows of one kind (itt.data.loading.load_embedded refuses another's), so only
        # generators of this kind can be named here.
        mine = [name for name, gen in GENERATORS.items() if gen.kind == kind]
        named_one = f"set {where}.generator to one of {', '.join(mine)}, " if mine else ""
        raise ConfigError(f"{where} ({spec_node.path}) runs on a generated stand-in under source=embedded, but {key}={named!r} "
                          f"(kind {kind!r}) has no default generator: {named_one}register one in the kind's module "
                          f"(itt.data.embedded.register_generator(Generator(kind={kind!r}, ...), default_for_kind=True)), "
                          f"set {where}.path to a local file, or use source=hub")
    return DEFAULT_GENERATOR[kind]


def kind_of(cfg: DictConfig, spec_node) -> tuple[str, str | None]:
    """(task kind, primary metric) of a dataset: its own, else the task's."""
    kind = spec_node.get("kind") or cfg.task.kind
    primary = spec_node.get("primary_metric") or (cfg.task.primary_metric if kind == cfg.task.kind else None)
    return kind, primary


def _dataset_identity(cfg: DictConfig, name: str, node, group: str = "datasets", aligned: set[str] | None = None) -> dict:
    """A dataset with the kind that reads and scores it. The task config matters only through what it
    gives this dataset (its kind's options and primary metric, when the kind is the task's), so an
    intermediate dataset named the same way in two tasks (MNLI before XNLI and before WikiANN) is one run."""
    kind, primary = kind_of(cfg, node)
    options = (plain(cfg.task.get("options")) or None) if kind == cfg.task.kind else None
    out = {**dataset_payload(cfg, name, node, group, aligned), "kind": kind, "primary_metric": primary, "task_options": options}
    if kind == "retrieval":  # acc searches the sources with each translation (XTREME's direction), not the reverse
        out["acc_direction"] = "translation_to_source"
        # bucc_f1 at a threshold tuned on the other half of the set, not the oracle best on the same pairs
        out["bucc_threshold"] = "cross_fitted_halves"
    return out


def _eval_identity(cfg: DictConfig, name: str, node, aligned: set[str] | None = None, roles=(),
                   groups: dict[str, str] | None = None) -> dict:
    """An eval set as the run id sees it. Under ``split=official`` it keeps its declared splits (a
    test-only set, like XQuAD or Tatoeba, is scored on all its items) where older versions carved a
    validation part out of its test rows: other scores, so another run. One that leaves out the translations
    of the run's training rows (``itt.data.held_out``; ``roles``: the run's, ``groups``: ``alignment_groups``)
    names the roles they come from."""
    out = _dataset_identity(cfg, name, node, "evals", aligned)
    if cfg.split.name == "official":
        out["official_eval"] = "declared_splits"
    partners = trained_partners(cfg, roles, name, groups or {}, groups_rows(out["kind"])) if roles else []
    if partners:
        out["without_training_ids_of"] = partners
        if cfg.split.name == "official" and any(_positions_renamed(cfg, role, name) for role in partners):
            # positional ids named after the dataset's own splits meet here, where the canonical names never did
            # (the role's train:<row> against the eval set's test:<row>): rows are left out now
            out["positional_ids"] = files.POSITIONAL_IDS
    return out


def run_payload(spec: RunSpec, machine: bool = True) -> dict:
    """What the run id hashes. ``machine=False``: without this machine's kernels and threads
    (``hardware.machine``): the :func:`config_id`."""
    cfg = spec.cfg
    model = {k: v for k, v in plain(cfg.model).items() if k not in _MODEL_KEYS_NOT_IN_IDENTITY}
    if cfg.source.name == "embedded" and uses_stand_in(cfg.model) and models.BUILD_VERSION != _UNHASHED_STAND_IN_BUILD:
        # other weights and tokenizer from the same model config: another run, not a cached row of the old build
        model["stand_in_build"] = models.BUILD_VERSION
    if is_xlnet(cfg.model):
        # other numbers than earlier versions: XLNet's 2-d attention biases are no longer weight-decayed (as the HF
        # Trainer), and the hub tokenizer's segment ids reach the model again (transformers 5 stopped returning them)
        model["xlnet_fixes"] = "biases_not_decayed,segment_ids"
    aligned = aligned_roles(cfg)  # once: it reads every dataset and eval set of the task (XNLI: 50)
    groups = declared_alignment(cfg) if aligned else {}
    payload = {
        "model": model,
        "datasets": {role: _dataset_identity(cfg, role, cfg.task.datasets[role], aligned=aligned) for role in spec.roles},
        "evals": {name: _eval_identity(cfg, name, cfg.task.evals[name], aligned, spec.roles, groups) for name in spec.evals},
        "stage": {"name": spec.stage, "select_on": spec.select_on},
        "seed": cfg.seed,
        "hparams": hparams_payload(spec),
    }
    if len(spec.roles) > 1:
        payload["sampler"] = plain(cfg.get("sampler"))
        # members shuffled with seeds of their own (samplers.member_seed), where older versions gave member i
        # the seed + i that run seed + i's member 0 also had: other batch orders, so another run
        payload["member_seeds"] = "spread"
    if spec.parent is not None:
        payload["parent"] = {"run_id": (run_id if machine else config_id)(spec.parent), "head_policy": spec.head_policy}
        if any("." in kind_of(s.cfg, s.cfg.task.datasets[role])[0] for s in (spec, spec.parent) for role in s.roles):
            # a kind named by its dotted path: the parent's head is kept when the class's kind and the labels match,
            # where earlier versions compared the dotted path with the class's kind and always reset the projection
            payload["parent"]["head_match"] = "class_kind"
    if machine:
        payload["machine"] = run_machine(spec)
    return payload


# What a run's scores are compared under in the report, besides its seed and how it started (ITT or not).
_SETUP_KEYS = ("model", "datasets", "stage", "hparams", "sampler", "member_seeds")


def setup_ids(spec: RunSpec, payload: dict | None = None) -> tuple[str, dict[str, str]]:
    """(the run's setup id, each eval set's): digests of what its run id holds but its seed, its parent and the
    machine (model config, the datasets' specs, kind and task options, its stage's checkpoint metric and
    hyper-parameters), and of each eval set's spec. The report pairs an ITT run only with no-ITT runs of one setup
    id: a model config name, a dataset path and an hparams id alone would pair runs of other ``max_rows``,
    ``model.hub_id`` or ``task.options``. ``payload``: its :func:`run_payload` without the machine, if made."""
    payload = payload if payload is not None else run_payload(spec, machine=False)
    return (digest({k: payload[k] for k in _SETUP_KEYS if k in payload}),
            {name: digest(identity) for name, identity in payload["evals"].items()})


def run_machine(spec: RunSpec) -> dict:
    """What of this machine the run id holds (``hardware.machine``), and the row records: a tiny stand-in
    encoder trains on one thread whatever the CPU count, so its key says one thread."""
    cfg = spec.cfg
    stand_in = cfg.source.name == "embedded" and uses_stand_in(cfg.model)  # a width the config alone says
    return hardware.machine(numerics(spec)["device"], hidden_size(cfg.model.embedded.get("config")) if stand_in else None)


def run_id(spec_or_cfg) -> str:
    """``<model>-<task>-<stage>-...-s<seed>-<digest>``: the digest of :func:`run_payload`, this machine included."""
    return _run_name(as_spec(spec_or_cfg), machine=True)


def config_id(spec_or_cfg, payload: dict | None = None) -> str:
    """The run id without this machine (``hardware.machine``): one per configuration and seed, whatever
    machine ran it. The report counts the newest ``ok`` row of each, so a seed run again on another kind
    of node replaces the earlier row instead of counting twice. Runs of versions before the machine was in
    the id have their run id as their config id."""
    return _run_name(as_spec(spec_or_cfg), machine=False, payload=payload)


def _run_name(spec: RunSpec, machine: bool, payload: dict | None = None) -> str:
    parts = [spec.cfg.model.name, spec.cfg.task.name, spec.stage]
    if spec.stage == "intermediate" and spec.label != "intermediate":
        # A named step can be shared by tasks (MNLI before several targets): no task name in its id.
        parts = [spec.cfg.model.name, spec.stage, spec.label]
    else:
        parts += [spec.target, "itt" if spec.is_itt else "noitt"]
        if spec.is_itt and spec.variant != "intermediate":
            parts.append(spec.variant.replace(">", "."))  # '>' would need quoting in a shell
    parts += [f"s{spec.cfg.seed}", digest(payload if payload is not None else run_payload(spec, machine))]
    return "-".join(str(p) for p in parts)


def as_spec(spec_or_cfg) -> RunSpec:
    return spec_or_cfg if isinstance(spec_or_cfg, RunSpec) else resolve(spec_or_cfg)


def is_xlnet(model_cfg) -> bool:
    """Is the model an XLNet, by its stand-in's config class or its hub id (named ``xlnet...`` on the hub)?"""
    target = str((model_cfg.get("embedded") or {}).get("config", {}).get("_target_", ""))
    return target.endswith("XLNetConfig") or "xlnet" in str(model_cfg.get("hub_id") or "").lower()


def uses_stand_in(model_cfg) -> bool:
    """With source=embedded: is the model the tiny random stand-in (not a packaged pretrained one)?"""
    return model_cfg.get("embedded") is not None and not model_cfg.get("local_package") and not model_cfg.get("builder")


def register_resolvers() -> None:
    """Make ``${itt.run_id:}``, ``${itt.if_stand_in:}`` and ``${itt.uid:}`` usable in configs (the W&B ones:
    ``itt.logger``)."""
    resolvers = {
        "itt.run_id": lambda *, _root_: run_id(_root_),
        # source=embedded: the first value when the model's tiny stand-in is used, else the second.
        "itt.if_stand_in": lambda tiny, real, *, _root_: tiny if uses_stand_in(_root_.model) else real,
        # A sweep directory is unique even for sweeps started in the same second.
        "itt.uid": lambda: uuid.uuid4().hex[:6],
    }
    for name, fn in resolvers.items():
        if not OmegaConf.has_resolver(name):
            OmegaConf.register_new_resolver(name, fn, use_cache=name == "itt.uid")
