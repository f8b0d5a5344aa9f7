"""What a task kind is: everything kind-specific in one class, so a new kind is one new module.

The data, model, training and ledger code never branch on the kind; they call these methods:

- data: ``label_names`` (the label space a spec declares or the data holds), ``stand_in_labels`` (the
  label count of its offline stand-in), ``canonical_batch`` (a
  batched ``Dataset.map`` function from a dataset's own columns to the kind's canonical columns,
  dropping rows it must), ``strata`` (what a stratified split balances), ``encode`` (tokenisation and
  label alignment, batched), ``collator`` (batches of encoded features);
- model: ``auto_model`` (the ``transformers`` Auto class), ``model_kwargs`` and ``label_space`` (two
  checkpoints with equal label spaces can share a head);
- analysis: ``row_text`` (a row's text, for the divergence measures; a default serves most kinds) and
  ``item_text`` with its ``item_version`` (what makes two rows the same item, for the overlap of a run's
  evaluation items with its ancestors' training items, ``itt.data.overlap``);
- evaluation: ``forward`` (what the model computes on an evaluation batch: by default the model's own
  forward pass; a kind that needs something else, e.g. the encoder's hidden states of two texts
  separately for retrieval, overrides it) and ``evaluator`` (a torchmetrics ``Metric`` that takes
  those outputs and returns the kind's metrics, and the per-item predictions a run saves).

A kind with ``trainable = False`` (retrieval) is evaluation only: it can be an eval set of any run,
never a dataset a run trains on.

Canonical columns per kind are listed in each kind's module docstring; the embedded stand-in
generators (``itt.data.embedded``) emit exactly those.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any, ClassVar

import torch

from itt.errors import ConfigError, DataError

#: Batch keys a model is never given: the row's position (evaluation), the mixture member, and
#: ``meta``: per-feature values only the kind's evaluator reads, put there by the kind's collator
#: (extractive QA: a window's example id and token offsets).
META_COLUMNS = ("idx", "task", "meta")


@dataclass
class RawColumns:
    """What ``canonical_batch`` needs to know about the dataset it reads besides the batch itself."""

    spec: Any  # itt.schema.DatasetSpec
    labels: list[str]  # the label names (Task.label_names)
    where: str  # "<file or hub id> [<split>]", for error messages
    features: Any = None  # the raw dataset's datasets.Features (ClassLabel names live there)
    dropped: Counter = field(default_factory=Counter)  # reason -> rows dropped on purpose

    def drop(self, reason: str, n: int = 1) -> None:
        self.dropped[reason] += n

    def class_names(self, column: str) -> list[str] | None:
        feature = self.features.get(column) if self.features is not None else None
        return list(feature.names) if hasattr(feature, "names") else None


class Task:
    kind: ClassVar[str] = ""
    metric_names: ClassVar[tuple[str, ...]] = ()
    #: False for evaluation-only kinds: they have no head to train (itt.build refuses them as training data)
    trainable: ClassVar[bool] = True
    #: options a task config may set under ``task.options`` (with their defaults)
    option_defaults: ClassVar[dict[str, Any]] = {}

    def __init__(self, primary_metric: str | None = None, options: dict | None = None, spec=None):
        primary_metric = primary_metric or self.metric_names[0]
        if primary_metric not in self.metric_names:
            raise ConfigError(f"task.primary_metric={primary_metric!r} is not computed for {self.kind}; "
                              f"valid: {', '.join(self.metric_names)}")
        unknown = sorted(set(options or {}) - set(self.option_defaults))
        if unknown:
            valid = ", ".join(self.option_defaults) or "none"
            raise ConfigError(f"task.options.{unknown[0]} is not an option of {self.kind}; valid: {valid}")
        self.primary_metric = primary_metric
        self.options = {**self.option_defaults, **(options or {})}
        #: the DatasetSpec this instance serves (one Task per dataset; None when built without one), for
        #: what depends on the dataset beyond its rows (e.g. QA answer normalisation by ``lang``)
        self.spec = spec

    # -- data ------------------------------------------------------------------------------------
    def label_names(self, raw, spec) -> list[str]:
        """The label names of a dataset (``raw``: a ``DatasetDict`` of its declared splits): the spec's
        ``labels`` when given, else what the data declares. [] for kinds without a label set."""
        return []

    def stand_in_labels(self, spec) -> int | None:
        """The label count a spec's generated stand-in (``source=embedded``) is asked for: the one the hub
        dataset has as the spec declares it, here its ``labels`` (None: the generator's default)."""
        return len(spec.labels) if spec.labels else None

    def rows_filtered_by(self) -> str | None:
        """Why the card's row counts say nothing of this dataset's, when an option keeps rows by their content
        (TyDiQA's nine languages, one kept): ``itt.data check`` then says "size unknown" rather than size it by the
        card. None: it keeps them, but for those :meth:`rows_dropped_by` names."""
        return None

    def rows_dropped_by(self) -> str | None:
        """Why some rows the card counts are dropped on purpose, so that its counts are an upper bound (None: none
        but rows with an empty text): here a ``label_map`` that sends labels to null."""
        label_map = self.spec.label_map if self.spec is not None else None
        dropped = [raw for raw, name in (label_map or {}).items() if name is None]
        return f"label_map drops its rows labelled {', '.join(dropped)}" if dropped else None

    def canonical_batch(self, batch: dict[str, list], rows: list[int], raw: "RawColumns") -> tuple[dict[str, list], list[int]]:
        """A batch of the dataset's own columns -> (the kind's canonical columns, the batch positions
        they came from). ``rows`` are the batch's row numbers in its split (for error messages); rows
        dropped on purpose (empty text, a label mapped to null) are left out and counted with
        ``raw.drop``."""
        raise NotImplementedError

    def strata(self, dataset) -> list[int] | None:
        """One int per row that a stratified split keeps balanced, or None for a plain random split."""
        return None

    def split_groups(self, dataset) -> list[str] | None:
        """One key per row naming the rows that must land in one split (``split=paper``), or None when
        every row may go its own way. A kind that groups rows changes its datasets' run ids
        (``identity.dataset_payload``)."""
        return None

    def encode(self, batch: dict[str, list], tokenizer, max_length: int, training: bool) -> dict[str, list]:
        """Canonical rows -> model features (batched). Must return a ``length`` column (tokens per
        feature), used for length grouping. ``training`` is False for evaluation splits."""
        raise NotImplementedError

    def collator(self, tokenizer, pad_multiple: int):
        from itt.data.collation import PaddingCollator

        return PaddingCollator(tokenizer, pad_multiple, self.label_dtype)

    label_dtype: ClassVar[torch.dtype] = torch.long

    # -- model -----------------------------------------------------------------------------------
    def auto_model(self):
        """The ``transformers`` Auto class whose head this kind trains."""
        raise NotImplementedError

    def model_kwargs(self, labels: list[str]) -> dict:
        return {}

    def label_space(self, labels: list[str]) -> tuple:
        """Two checkpoints whose label spaces are equal can share a head (ITT keeps it)."""
        return (self.kind, tuple(labels))

    # -- analysis --------------------------------------------------------------------------------
    def row_text(self, row: dict) -> str:
        """The natural-language text of one canonical row, as divergence measures compare datasets
        (``python -m itt.measure``): by default every string column and list of strings, in column
        order, joined by spaces (the ``id`` column excluded). A kind whose rows carry other strings
        (codes, URLs) overrides it."""
        parts = []
        for name, value in row.items():
            if name == "id":
                continue
            if isinstance(value, str):
                parts.append(value)
            elif isinstance(value, (list, tuple)) and value and all(isinstance(v, str) for v in value):
                parts.append(" ".join(value))
        return " ".join(parts)

    #: Bump when ``item_text`` changes for this kind: keys made under another version are never compared
    #: with today's (cached ones are made again, an ancestor's recorded ones are reported unchecked).
    item_version: ClassVar[int] = 1

    def item_text(self, row: dict) -> str:
        """The text that identifies one canonical row as an item (``itt.data.overlap``): two rows with the
        same ``item_text`` (whitespace aside) are the same item, so an evaluation item that an ancestor
        trained on is counted. By default ``row_text``: the same input is the same item whatever its label.
        A kind whose label is part of the text (multiple choice: which choice is right) overrides it."""
        return self.row_text(row)

    # -- evaluation ------------------------------------------------------------------------------
    def forward(self, model, batch: dict):
        """The model's outputs on an evaluation batch of this kind, as ``evaluator`` reads them. Default:
        the model's own forward pass on the batch's model inputs (logits and, with labels, the loss)."""
        return model(**{k: v for k, v in batch.items() if k not in META_COLUMNS})

    def evaluator(self, labels: list[str], rows=None):
        """A torchmetrics ``Metric`` with ``update(outputs, batch)``, ``compute() -> {name: value}`` and
        ``items() -> [{"pred", "gold"}]`` in row order. ``rows``: the canonical evaluation rows (kinds
        whose predictions need them, e.g. QA contexts)."""
        raise NotImplementedError


def require_columns(batch: dict, columns, where: str) -> None:
    missing = [c for c in columns if c not in batch]
    if missing:
        # Column names with spaces or plain numbers are a header-less file's first row read as its header.
        headerless = any(" " in str(c) or str(c).replace(".", "").lstrip("-").isdigit() for c in batch)
        hint = ("; a csv/tsv file without a header row? give its column names (the spec's `columns`; "
                "itt.bench: --columns)") if headerless else ""
        raise DataError(f"{where}: column {missing[0]!r} not found; columns are: {', '.join(map(str, batch))}{hint}")
