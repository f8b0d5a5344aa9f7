"""The LightningDataModule of one run: one dataset spec, split, tokenized (cached), batched.

Training batches group similar lengths (``LengthGroupedBatchSampler``: random mega-batches sorted by
length, cut into batches, the batches shuffled) so dynamic padding pads little; evaluation runs in
length order. Padding is dynamic, to a multiple of ``data.pad_to_multiple_of`` (``auto``: 8 on GPUs, 1 on
CPUs).
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader, Sampler
from transformers import DataCollatorWithPadding

from itt.data.loading import load_spec
from itt.data.samplers import MEGA_BATCH_BATCHES, _auto_or_positive_int, mega_batch_batches
from itt.data.splitting import make_splits
from itt.data.tokenization import cache_key, cached_splits
from itt.schema import DatasetSpec
from itt.tasks import Task

log = logging.getLogger(__name__)
MODEL_COLUMNS = ("input_ids", "attention_mask", "token_type_ids", "labels")


def pad_multiple(setting) -> int:
    """``data.pad_to_multiple_of``: ``auto`` is 8 where CUDA is available (tensor cores work on multiples of
    8) and 1 on CPUs, where a step's time grows with the padded length and nothing is gained from round
    numbers (MiniLM, bf16 on this 2-core CPU: ~12 ms more per padded column, no dip at multiples of 8;
    on the bench's short sentences padding to 8 adds ~15 % of tokens). An int (or null: 1) is used as given."""
    if setting in (None, "null"):
        return 1
    if _auto_or_positive_int("data.pad_to_multiple_of", setting, 8) == "auto":
        return 8 if torch.cuda.is_available() else 1
    return setting


def check_data_settings(data_cfg) -> None:
    """The ``data.*`` values Hydra's schema types cannot check (``auto`` or a positive int), at once."""
    pad_multiple(data_cfg.pad_to_multiple_of)
    _auto_or_positive_int("data.mega_batch", data_cfg.mega_batch, 50)


class PaddingCollator:
    """Dynamic padding to a multiple of ``pad_to_multiple_of``, the same batches as ``transformers``'
    ``DataCollatorWithPadding`` (tested against it) in a fraction of the time: one numpy array per
    column instead of ``tokenizer.pad``'s per-row Python (4-6 ms per batch of 32, 5-10 % of a tiny
    model's step). Anything but token-id columns and ``labels`` goes to ``DataCollatorWithPadding``."""

    PAD_COLUMNS = ("input_ids", "attention_mask", "token_type_ids")

    def __init__(self, tokenizer, pad_to_multiple_of: int | None, label_dtype: torch.dtype = torch.long):
        self.fallback = DataCollatorWithPadding(tokenizer, pad_to_multiple_of=pad_to_multiple_of)
        self.multiple = pad_to_multiple_of or 1
        self.left = tokenizer.padding_side == "left"
        self.pad = {"input_ids": tokenizer.pad_token_id, "attention_mask": 0,
                    "token_type_ids": tokenizer.pad_token_type_id}
        self.label_dtype = label_dtype

    def __call__(self, features: list[dict]) -> dict[str, torch.Tensor]:
        columns = [k for k in features[0] if k != "labels"]
        if (self.pad["input_ids"] is None or "attention_mask" not in columns
                or any(k not in self.PAD_COLUMNS for k in columns)):
            batch = self.fallback(features)
        else:
            lengths = [len(f["input_ids"]) for f in features]
            width = -(-max(lengths) // self.multiple) * self.multiple
            batch = {}
            for key in columns:
                array = np.full((len(features), width), self.pad[key], dtype=np.int64)
                for row, (f, n) in enumerate(zip(features, lengths)):
                    if self.left:
                        array[row, width - n:] = f[key]
                    else:
                        array[row, :n] = f[key]
                batch[key] = torch.from_numpy(array)
            if "labels" in features[0]:
                batch["labels"] = torch.tensor([f["labels"] for f in features])
        if "labels" in batch:
            batch["labels"] = batch["labels"].to(self.label_dtype)
        return batch


class LengthGroupedBatchSampler(Sampler[list[int]]):
    """Batches of similar lengths in random order; every index exactly once per epoch.

    Each epoch: a random permutation, cut into mega-batches of ``mega_batches`` batches, each sorted by
    length and cut into batches; then the order of all batches is shuffled (``transformers``'
    ``LengthGroupedSampler`` keeps each mega-batch's batches together, longest first). Only the last
    batch of the last mega-batch can be short. ``mega_batch_batches`` picks the mega-batch size.
    """

    def __init__(self, lengths: list[int], batch_size: int, generator: torch.Generator,
                 mega_batches: int = MEGA_BATCH_BATCHES):
        self.lengths, self.batch_size, self.generator = list(lengths), batch_size, generator
        self.mega = max(1, mega_batches) * batch_size

    def __len__(self) -> int:
        return -(-len(self.lengths) // self.batch_size)

    def __iter__(self):
        lengths, bs = self.lengths, self.batch_size
        perm = torch.randperm(len(lengths), generator=self.generator).tolist()
        batches = []
        for start in range(0, len(perm), self.mega):
            chunk = sorted(perm[start:start + self.mega], key=lengths.__getitem__)  # stable: random ties
            batches.extend(chunk[i:i + bs] for i in range(0, len(chunk), bs))
        for i in torch.randperm(len(batches), generator=self.generator).tolist():
            yield batches[i]


class ITTDataModule(pl.LightningDataModule):
    def __init__(self, spec: DatasetSpec, task: Task, task_name: str, tokenizer, split_cfg, data_cfg,
                 source: str, seed: int, cache_dir: str | Path, where: str, hub_timeout_s: float = 5.0):
        super().__init__()
        self.spec, self.task, self.task_name, self.tokenizer = spec, task, task_name, tokenizer
        self.split_cfg, self.data_cfg, self.source, self.seed = split_cfg, data_cfg, source, seed
        self.cache_dir, self.where, self.hub_timeout_s = Path(cache_dir), where, hub_timeout_s
        self.splits = None
        self.labels: list[str] = []
        self.cache_hit = False
        self.pad_multiple = pad_multiple(data_cfg.pad_to_multiple_of)
        self.collator = PaddingCollator(tokenizer, self.pad_multiple, task.label_dtype)

    def _build(self):
        raw, labels = load_spec(self.spec, self.task, self.task_name, self.source, self.seed, self.hub_timeout_s)
        return make_splits(raw, self.split_cfg, self.task.kind, self.seed, self.spec.max_rows, self.where), labels

    def prepare(self) -> None:
        """Load, split and tokenize (or hit the cache). Called before the model is built: the label
        set decides the head."""
        if self.splits is not None:
            return
        key = cache_key(self.spec, self.split_cfg, self.seed, self.source, self.tokenizer,
                        self.data_cfg.max_length, self.task.kind)
        splits, self.labels, self.cache_hit = cached_splits(self.cache_dir, key, self._build, self.tokenizer,
                                                            self.data_cfg.max_length)
        log.info("data %s: %s (tokenization cache %s)", self.where,
                 ", ".join(f"{s}={len(d)}" for s, d in splits.items()), "hit" if self.cache_hit else "built")
        # d["length"][:], not list(d["length"]): datasets >= 4 returns a lazy column whose row-by-row
        # iteration costs ~100 us a row (20 s for a 200k-row intermediate set, in every run).
        self.lengths = {s: d["length"][:] for s, d in splits.items()}
        splits = splits.rename_column("label", "labels")
        for s, d in splits.items():
            d.set_format(columns=[c for c in MODEL_COLUMNS if c in d.column_names])
        self.splits = splits

    def setup(self, stage: str | None = None) -> None:
        self.prepare()

    def sizes(self) -> dict[str, int]:
        return {s: len(d) for s, d in self.splits.items()}

    def _collate(self, features):
        return self.collator(features)

    def train_dataloader(self):
        ds, bs = self.splits["train"], self.data_cfg.batch_size
        if self.data_cfg.length_grouping:
            lengths = self.lengths["train"]
            mega = mega_batch_batches(self.data_cfg.mega_batch, len(lengths), bs)
            sampler = LengthGroupedBatchSampler(lengths, bs, torch.Generator().manual_seed(self.seed), mega)
            return DataLoader(ds, batch_sampler=sampler, collate_fn=self._collate, num_workers=self.data_cfg.num_workers)
        return DataLoader(ds, batch_size=bs, shuffle=True, collate_fn=self._collate,
                          generator=torch.Generator().manual_seed(self.seed), num_workers=self.data_cfg.num_workers)

    def _eval_loader(self, split: str):
        order = sorted(range(len(self.splits[split])), key=self.lengths[split].__getitem__)
        return DataLoader(self.splits[split], batch_size=self.data_cfg.eval_batch_size, sampler=order,
                          collate_fn=self._collate, num_workers=self.data_cfg.num_workers)

    def val_dataloader(self):
        return self._eval_loader("validation")

    def test_dataloader(self):
        return self._eval_loader("test")
