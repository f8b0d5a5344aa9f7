"""Structured-config schemas (dataclasses in Hydra's ConfigStore) for the keys users type.

Each config group's YAML starts from its schema (``defaults: [/schema/<group>@_here_, _self_]``), so a
misspelt key or a wrong type (``trainer.max_epochs=abc``) fails at composition with a message that
names the key, before anything is written.
"""

from __future__ import annotations

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
    label_map: Optional[Dict[str, Optional[str]]] = None  # raw label -> label name; null drops the row
    score_range: Optional[List[float]] = None  # regression: [min, max] of the raw score, scaled to [0, 1]
    splits: Dict[str, Optional[str]] = field(
        default_factory=lambda: {"train": "train", "validation": "validation", "test": "test"}
    )  # split=official: the dataset's own split names (null: carved from train)
    max_rows: Optional[int] = None  # deterministic subsample (keeps intermediate >= 10x target)
    lang: str = "en"
    family: Optional[str] = None  # language family, for per-family averages
    domain: str = "general"
    embedded_rows: int = 300  # rows of the generated stand-in used with source=embedded


@dataclass
class TaskSchema:
    name: str = MISSING
    kind: str = MISSING  # module under itt/tasks/: sequence_classification | sequence_regression
    primary_metric: str = MISSING  # monitored on validation, reported on test
    datasets: Dict[str, DatasetSpec] = field(default_factory=dict)


@dataclass
class ModelSchema:
    name: str = MISSING
    hub_id: str = MISSING  # source=hub
    local_package: Optional[str] = None  # a Python package that ships the weights (used offline, any source)
    embedded: Optional[Dict[str, Any]] = None  # source=embedded: tiny random-init config + local tokenizer
    trust_remote_code: bool = False  # never on unless the user asks: it runs code from the hub
    # Training on CPU: dropout masks from a counter-based hash instead of torch's per-element Mersenne
    # Twister (itt/models/fast_dropout.py): same keep probability and scaling, ~10-17 % shorter MiniLM
    # steps on this 2-core machine. GPUs keep torch's fused dropout either way.
    fast_dropout: bool = True
    # Training on CPU, one process: the input embedding's backward writes only the batch's rows into a
    # kept dense gradient instead of a new zero-filled vocab x hidden tensor each step
    # (itt/models/sparse_embedding_grad.py): same gradient bit for bit, ~6 % shorter MiniLM steps here.
    sparse_embedding_grad: bool = True


@dataclass
class IntermediateStage:
    name: str = "intermediate"


@dataclass
class TargetStage:
    name: str = "target"
    target: str = "domain"  # which target dataset of the task
    itt: bool = True  # start from the intermediate checkpoint (true) or the pretrained encoder (false)
    auto_intermediate: bool = True  # train a missing intermediate checkpoint first (under a lock)


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
    eval_batch_size: int = 64
    max_length: int = 128
    length_grouping: bool = True  # length-grouped (still random) training batches: less padding
    mega_batch: Any = 50  # batches sorted together by length (auto: a quarter of them, <= 50)
    pad_to_multiple_of: Any = "auto"  # auto: 8 on GPUs, 1 on CPUs; or an int
    num_workers: int = 0


@dataclass
class OptimSchema:
    lr: float = 5e-5
    weight_decay: float = 0.01
    warmup_ratio: float = 0.1
    freeze_encoder: bool = False  # the reference study updates all weights
    early_stopping_patience: Optional[int] = None  # epochs without val improvement; None: off


@dataclass
class TrainerSchema:
    """The Lightning Trainer arguments users set most; anything else: add it with ``+trainer.x=``."""

    _target_: str = "pytorch_lightning.Trainer"
    max_epochs: int = 3
    max_steps: int = -1
    accelerator: str = "auto"
    devices: Any = "auto"
    precision: Any = "auto"  # auto: bf16-mixed where the hardware has bf16, 16-mixed on older GPUs, else 32
    gradient_clip_val: Optional[float] = 1.0
    accumulate_grad_batches: int = 1
    deterministic: bool = True
    log_every_n_steps: int = 10
    enable_progress_bar: bool = False
    enable_model_summary: bool = False
    limit_train_batches: Optional[float] = None
    limit_val_batches: Optional[float] = None


def register() -> None:
    cs = ConfigStore.instance()
    for group, name, node in [
        ("schema/task", "task", TaskSchema),
        ("schema/model", "model", ModelSchema),
        ("schema/stage", "intermediate", IntermediateStage),
        ("schema/stage", "target", TargetStage),
        ("schema/split", "split", SplitSchema),
        ("schema/source", "source", SourceSchema),
        ("schema/data", "data", DataSchema),
        ("schema/optim", "optim", OptimSchema),
        ("schema/trainer", "trainer", TrainerSchema),
    ]:
        cs.store(group=group, name=name, node=node)
