"""Structured-config schemas (dataclasses in Hydra's ConfigStore) for the keys users type.

Each config group's YAML starts from its schema (``defaults: [/schema/<group>@_here_, _self_]``), so a
misspelt key or a wrong type (``trainer.max_epochs=abc``) fails at composition with a message that
names the key, before anything is written.
"""

from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING


@dataclass
class DatasetSpec:
    """One dataset in one role (intermediate, domain target, cross-lingual target, ...)."""

    path: str = MISSING  # hub id, or a local csv/tsv/jsonl/json/parquet file or folder
    subset: Optional[str] = None  # hub config name (e.g. a language)
    revision: Optional[str] = None  # hub revision, for exact reproducibility
    text_fields: List[str] = field(default_factory=lambda: ["text"])  # one, or two for sentence pairs
    label_field: str = "label"
    labels: Optional[List[str]] = None  # classification label names in index order (None: from the data)
    # raw label -> label name; null drops the row. Keys are read as strings: Hydra's override grammar has no
    # quoted keys and reads {0: negative} with an int key, which is the raw label "0" (plain_label_map).
    # Typed Any, not Optional[Dict]: OmegaConf cannot merge a command-line map into a typed null map
    # (omry/omegaconf#1360); itt.stages.check_maps checks that it is one.
    label_map: Any = None
    score_range: Optional[List[float]] = None  # regression: [min, max] of the raw score, scaled to [0, 1]
    splits: Dict[str, Optional[str]] = field(
        default_factory=lambda: {"train": "train", "validation": "validation", "test": "test"}
    )  # split=official: the dataset's own split names (null: carved from train)
    columns: Optional[List[str]] = None  # a header-less csv/tsv or a .conll file: its column names, in order
    # a local csv/tsv file's quoting (itt.data.files.QUOTINGS): csv (null: a field in "..." may hold separators, line
    # breaks and "" for a quote; PAWS-X's XTREME tsv files) | none (every line a row, quotes as text: XNLI-1.0, MNLI)
    quoting: Optional[str] = None
    max_rows: Optional[int] = None  # deterministic subsample, taken before any row is processed
    lang: str = "en"  # a code of the language table (itt/languages.tsv: family, genus, script)
    family: Optional[str] = None  # language family of a `lang` the table lacks (a known code takes the table's)
    domain: str = "general"
    embedded_rows: int = 300  # rows of the generated stand-in used with source=embedded
    embedded_domain: Optional[str] = None  # source=embedded: the stand-in generator's domain (null: `domain`)
    # source=embedded: the stand-in is rows [embedded_offset, embedded_offset + embedded_rows) of its generator's
    # stream, so two hub datasets of one generator (SQuAD and XQuAD) get rows of their own, not the same ones
    embedded_offset: int = 0
    kind: Optional[str] = None  # task kind of this dataset (null: the task's); mixtures and chains mix kinds
    primary_metric: Optional[str] = None  # (null: the task's when the kind is the task's, else the kind's first)
    generator: Optional[str] = None  # embedded stand-in generator (null: the kind's default; itt/data/embedded/)
    # This dataset's rows are translations of another role's (e.g. STS-B de of STS-B en): both are split by
    # a shared id, so no validation/test item of one has its translation in the other's training split.
    aligned_with: Optional[str] = None
    id_field: Optional[str] = None  # the shared id column (null: the row's split and position in it)
    options: Any = None  # kind options for this dataset, over the task's (task.options); a map, as label_map

    def __post_init__(self):
        self.label_map = plain_label_map(self.label_map)


def plain_label_map(label_map: dict | None) -> dict[str, str | None] | None:
    """A ``label_map`` keyed by strings, the form raw labels are matched in: ``{0: negative}`` typed on the
    command line is ``{"0": negative}``; where both forms are given (a task config's ``"0"``, an override's
    ``0``), the later one wins, as any override does."""
    return None if label_map is None else {str(k): v for k, v in label_map.items()}


@dataclass
class TaskSchema:
    name: str = MISSING
    kind: str = MISSING  # module under itt/tasks/ (or the dotted path of a Task subclass)
    primary_metric: str = MISSING  # monitored on validation, reported on test
    datasets: Dict[str, DatasetSpec] = field(default_factory=dict)  # roles: intermediate, targets, chain steps
    evals: Dict[str, DatasetSpec] = field(default_factory=dict)  # named eval sets a target is also tested on
    options: Dict[str, Any] = field(default_factory=dict)  # kind-specific settings (QA doc stride, ...)
    generator: Optional[str] = None  # embedded stand-in generator of its datasets (null: the kind's default)
    # Target roles whose training data holds the `intermediate` role's own (role -> how), beyond the same dataset,
    # which itt.data check sees itself: its size rule compares an intermediate with another, smaller dataset.
    holds_intermediate_data: Dict[str, str] = field(default_factory=dict)


#: ``ModelSchema``'s CPU training speed switches: read only while training, so neither a run id (``identity``,
#: which hashes the dropout they draw as numerics) nor an encoding for a divergence measure depends on them.
TRAINING_SPEED_KEYS = ("fast_dropout", "sparse_embedding_grad", "compiled_bernoulli")


@dataclass
class ModelSchema:
    name: str = MISSING
    hub_id: str = MISSING  # source=hub
    local_package: Optional[str] = None  # a Python package that ships the weights (used offline, any source)
    builder: Optional[str] = None  # dotted path of a function (cache_dir) -> folder; used offline, any source
    # The hub model whose weights local_package or builder hold: a run whose hub_id names another is refused (the
    # ledger would name a model it did not load). Not in run ids: hub_id is.
    local_copy_of: Optional[str] = None
    pretraining: str = "text"  # what the encoder was pretrained on: text | code (itt.models.info)
    languages: str = "en"  # en | multi (itt.models.info)
    embedded: Optional[Dict[str, Any]] = None  # source=embedded: tiny random-init config + local tokenizer
    trust_remote_code: bool = False  # never on unless the user asks: it runs code from the hub
    # Put before every text a divergence measure embeds, for encoders whose model card asks for one (E5:
    # "query: "). Not used in training, so not in run ids (itt.identity).
    embedding_prefix: Optional[str] = None
    # Training on CPU, opt-in: dropout masks from a 64-bit counter-based hash instead of torch's
    # per-element Mersenne Twister (itt/models/fast_dropout.py): same keep probability and scaling, other
    # masks. Off by default: its equality with torch's dropout is shown on one real target only (README,
    # Speed), and where compiled_bernoulli is usable that is faster with torch's own masks. GPUs keep
    # torch's fused dropout either way.
    fast_dropout: bool = False
    # Training on CPU: torch's own dropout masks (same bits, same generator state: checked against torch's
    # kernel in each process before use) drawn by a compiled copy of its serial Mersenne-Twister loop
    # (itt/models/compiled_bernoulli.py): ~10x cheaper masks, ~10 % shorter MiniLM steps on this AMD CPU.
    # Needs a C compiler (cc); without one, or where torch draws otherwise (MKL on Intel), torch's kernel.
    compiled_bernoulli: bool = True
    # Training on CPU, one process: the input embedding's backward writes only the batch's rows into a
    # kept dense gradient instead of a new zero-filled vocab x hidden tensor each step
    # (itt/models/sparse_embedding_grad.py): same gradient bit for bit, ~6 % shorter MiniLM steps here.
    sparse_embedding_grad: bool = True
    # Opt-in, changes numerics: attention by transformers' eager path (under bf16 autocast its scores and
    # weighted sum are bf16 matrix products) instead of SDPA (whose CPU math path computes them in float32
    # when dropout is on). Recorded in the run id and the row's numerics (attention: eager).
    eager_attention: bool = False


HEAD_POLICIES = ("projection", "head")


@dataclass
class IntermediateStage:
    name: str = "intermediate"


@dataclass
class TargetStage:
    name: str = "target"
    target: str = "domain"  # which target dataset of the task
    itt: bool = True  # start from the intermediate chain's last checkpoint (true) or the pretrained encoder
    auto_intermediate: bool = True  # train missing intermediate runs first (each under its lock)
    evals: Any = "all"  # eval sets (task.evals) to test on: all, or a list of their names or patterns (tatoeba_*)
    select_on: Optional[str] = None  # the eval set whose validation metric picks the checkpoint (null: own)
    # What a run starting from another run's model re-initialises when the label spaces differ:
    # projection = the final output layer only; head = every task-specific layer (a pooler included).
    head_policy: str = "projection"




@dataclass
class SplitSchema:
    name: str = MISSING  # paper | official
    train: float = 0.70
    validation: float = 0.15
    test: float = 0.15


@dataclass
class SourceSchema:
    name: str = MISSING  # hub | embedded
    hub_timeout_s: float = 5.0  # reachability probe before any download


@dataclass
class DataSchema:
    batch_size: int = 32
    eval_batch_size: int = 64  # hashed as numerics when not 64 (hardware.DEFAULT_EVAL_BATCH_SIZE): padding moves logits
    max_length: int = 128
    length_grouping: bool = False  # opt-in length-grouped training batches: less padding, learnt less on small sets
    mega_batch: Any = "auto"  # with grouping: batches sorted together by length (auto: a quarter of them, <= 50)
    pad_to_multiple_of: Any = "auto"  # auto: 8 on GPUs, 1 on CPUs; or an int
    num_workers: int = 0


@dataclass
class OptimSchema:
    lr: float = 5e-5
    weight_decay: float = 0.01
    warmup_ratio: float = 0.1
    freeze_encoder: bool = False  # the reference study updates all weights
    # validations without improvement (epochs, unless trainer.val_check_interval validates more often); None: off
    early_stopping_patience: Optional[int] = None


@dataclass
class TrainerSchema:
    """The Lightning Trainer arguments users set most; anything else: add it with ``+trainer.x=``."""

    _target_: str = "pytorch_lightning.Trainer"
    max_epochs: int = 3
    max_steps: int = -1
    accelerator: str = "auto"
    devices: Any = "auto"
    num_nodes: int = 1
    strategy: Any = "auto"  # e.g. ddp with devices > 1 (each process gets its share of every global batch)
    precision: Any = "auto"  # auto: bf16-mixed where the hardware has bf16, 16-mixed on older GPUs, else 32
    gradient_clip_val: Optional[float] = 1.0
    accumulate_grad_batches: int = 1
    deterministic: bool = True
    log_every_n_steps: int = 10
    enable_progress_bar: Any = "auto"  # auto: a bar on an interactive terminal, quiet logs in sweeps/jobs/files
    enable_model_summary: bool = False
    # Lightning's meaning: an int is a number of batches, a float a share of them; typed Any so that 1 stays one
    # batch (a float type made it 1.0: every batch). Checked by itt.trainer.check_trainer_args.
    limit_train_batches: Optional[Any] = None
    limit_val_batches: Optional[Any] = None


# In ``intermediate.*``: null inherits the shared setting, so a setting whose own value may be null
# (``optim.early_stopping_patience``: off) is set to null for intermediate runs alone by this word.
SET_NULL = "none"


def nullable(cls: type, name: str) -> bool:
    """Whether ``cls``'s field ``name`` takes null as a value of its own (``Optional[...]``)."""
    hint = typing.get_type_hints(cls)[name]
    return typing.get_origin(hint) is typing.Union and type(None) in typing.get_args(hint)


def _overrides_of(cls: type) -> type:
    """``cls`` with every field optional and null: the per-stage overrides of a group (null = inherit),
    typed like the group itself so ``intermediate.trainer.max_epochs=abc`` fails like
    ``trainer.max_epochs=abc`` does. Nullable fields also take ``SET_NULL``; their other values are
    checked against the group's type by ``itt.stages.intermediate_settings``."""
    hints = typing.get_type_hints(cls)
    specs = [(f.name, Any if nullable(cls, f.name) else Optional[hints[f.name]], field(default=None))
             for f in dataclasses.fields(cls) if f.name != "_target_"]
    return dataclasses.make_dataclass(f"{cls.__name__}Overrides", specs)


SETTING_SCHEMAS = {"trainer": TrainerSchema, "optim": OptimSchema, "data": DataSchema}


@dataclass
class IntermediateSchema:
    """The intermediate phase, shared by +stage=intermediate and the targets that start from it."""

    # Ordered steps; each a task.datasets role, or a list of roles trained together (a mixture).
    steps: List[Any] = field(default_factory=lambda: ["intermediate"])
    # Settings of intermediate runs only, on top of the shared trainer/optim/data groups (null: shared).
    trainer: Any = field(default_factory=_overrides_of(TrainerSchema))
    optim: Any = field(default_factory=_overrides_of(OptimSchema))
    data: Any = field(default_factory=_overrides_of(DataSchema))
    evals: List[str] = field(default_factory=list)  # eval sets (task.evals) intermediate runs test on (names, patterns)
    head_policy: str = "projection"  # at each hand-off between steps (see TargetStage.head_policy)
    # A mixture step picks its checkpoint on the mean of its members' primary validation metrics; a role
    # here picks it on that member's alone (in every mixture step that has it).
    select_on: Optional[str] = None
    # Settings of the steps that train one role (its key), on top of this block's: ``per_step.squad.trainer.
    # max_epochs=2``. A mixture step takes its members' (which must agree).
    per_step: Dict[str, Any] = field(default_factory=dict)


def register() -> None:
    cs = ConfigStore.instance()
    for group, name, node in [
        ("schema/task", "task", TaskSchema),
        ("schema/model", "model", ModelSchema),
        ("schema/stage", "intermediate", IntermediateStage),
        ("schema/stage", "target", TargetStage),
        ("schema/intermediate", "intermediate", IntermediateSchema),
        ("schema/split", "split", SplitSchema),
        ("schema/source", "source", SourceSchema),
        ("schema/data", "data", DataSchema),
        ("schema/optim", "optim", OptimSchema),
        ("schema/trainer", "trainer", TrainerSchema),
    ]:
        cs.store(group=group, name=name, node=node)
