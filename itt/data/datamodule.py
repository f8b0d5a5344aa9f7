"""The LightningDataModule of one run: what it trains on (one dataset, or a mixture), what it
evaluates on (its own validation/test split first, then every eval set), batched.

Training batches come from ``itt.data.samplers`` (random by default, length-grouped on request; a
mixture draws each batch from one member with the ``sampler`` group's task sampler) through a
DataLoader whose position within the epoch is saved in Lightning's checkpoints, so a killed run
resumes mid-epoch on the batch it would have drawn next. Evaluation runs in length order (less
padding; the evaluators put predictions back in row order). Padding is dynamic, to a multiple of
``pad_multiple``.
"""

from __future__ import annotations

import logging

import pytorch_lightning as pl
import torch
from torch.utils.data import ConcatDataset, DataLoader, Dataset

from itt.data.preparation import Prepared
from itt.errors import ConfigError, DataError
from itt.hardware import pad_multiple, positive_int
from itt.data.samplers import (LengthGroupedBatches, MixtureBatches, RandomBatches, ResumableLoader, mega_batch_batches,
                               member_seed)
from itt.tasks import META_COLUMNS

log = logging.getLogger(__name__)


class _Member(Dataset):
    """One member of a mixture: its features, each tagged with the member's index (``task``)."""

    def __init__(self, features, index: int):
        self.features, self.index = features, index

    def __len__(self) -> int:
        return len(self.features)

    def __getitem__(self, i):
        return {**self.features[i], "task": self.index}


class _MemberCollator:
    """A batch holds one member (the mixture sampler promises it): that member's kind collates it."""

    def __init__(self, collators: list):
        self.collators = collators

    def __call__(self, features):
        return self.collators[features[0]["task"]](features)


class ITTDataModule(pl.LightningDataModule):
    def __init__(self, train: list[Prepared], evals: list[Prepared], data_cfg, pad_multiple: int, seed: int,
                 task_sampler=None):
        super().__init__()
        self.train_sets, self.eval_sets = train, evals
        self.data_cfg, self.pad_multiple, self.seed, self.task_sampler = data_cfg, pad_multiple, seed, task_sampler
        self._resume_state = None
        # Per (dataset, split): token lengths (grouping, evaluation order) and the features as batches see them.
        self.lengths: dict[tuple[int, str], list[int]] = {}
        self.train_features = [self._formatted(p.features["train"]) for p in train]
        # Per split, the eval sets that have it (an eval set may be test-only), in order.
        self.split_sets = {split: [i for i, p in enumerate(evals) if split in p.features] for split in ("validation", "test")}
        self.eval_features: dict[tuple[int, str], object] = {}
        for split, indices in self.split_sets.items():
            for i in indices:
                features = evals[i].features[split]
                # Evaluation rows carry their position, so evaluators put length-sorted predictions back in order.
                self.eval_features[(i, split)] = self._formatted(features.add_column("idx", range(len(features))))
                self.lengths[(i, split)] = features["length"][:]

    @staticmethod
    def _formatted(features):
        features = features.with_format(columns=[c for c in features.column_names if c != "length"])
        return features

    def sizes(self) -> dict[str, int]:
        """Rows of the run's own data: train features (all members), and the items of its own validation
        and test split (evaluation rows: a kind may make several features of one row, e.g. QA windows)."""
        own = self.eval_sets[0]
        return {"train": sum(len(p.features["train"]) for p in self.train_sets),
                "validation": len(own.rows["validation"]), "test": len(own.rows["test"])}

    def _collator(self, prepared: Prepared, tokenizer):
        return prepared.task.collator(tokenizer, self.pad_multiple)

    def attach(self, tokenizer) -> "ITTDataModule":
        """Build the collators once the tokenizer is known (it decides padding values and side)."""
        self.train_collator = _MemberCollator([self._collator(p, tokenizer) for p in self.train_sets])
        self.eval_collators = [self._collator(p, tokenizer) for p in self.eval_sets]
        return self

    def _batches(self, prepared: Prepared, seed: int):
        bs = self.data_cfg.batch_size
        if self.data_cfg.length_grouping:
            lengths = prepared.features["train"]["length"][:]
            mega = mega_batch_batches(self.data_cfg.mega_batch, len(lengths), bs)
            return LengthGroupedBatches(lengths, bs, seed, mega)
        return RandomBatches(len(prepared.features["train"]), bs, seed)

    def train_dataloader(self):
        members = [_Member(f, i) for i, f in enumerate(self.train_features)]
        if len(members) == 1:
            dataset, batches = members[0], self._batches(self.train_sets[0], self.seed)
        else:
            samplers = [self._batches(p, member_seed(self.seed, i)) for i, p in enumerate(self.train_sets)]
            offsets = [sum(len(m) for m in members[:i]) for i in range(len(members))]
            dataset, batches = ConcatDataset(members), MixtureBatches(samplers, offsets, self.task_sampler, self.seed)
        rank, world = self._shard()
        if world > 1 and rank == 0 and self.data_cfg.batch_size % world:
            log.warning("data.batch_size=%d over %d processes: shares of %d and %d rows, and DDP averages the shares' "
                        "mean losses, so a row of a smaller share weighs more than in one process's batch; a batch size "
                        "divisible by %d trains as one process would", self.data_cfg.batch_size, world,
                        -(-self.data_cfg.batch_size // world), self.data_cfg.batch_size // world, world)
        if len(members) > 1 and getattr(getattr(self, "trainer", None), "reload_dataloaders_every_n_epochs", 0):
            # a reload builds every member's sampler anew, at its epoch 0: each mixture epoch would replay one order
            raise ConfigError("trainer.reload_dataloaders_every_n_epochs: a mixture's members would start their first "
                              "shuffle again at every reload; leave it at 0 for mixture steps")
        loader = ResumableLoader(dataset, batch_sampler=batches, rank=rank, world=world, collate_fn=self.train_collator,
                                 num_workers=self.data_cfg.num_workers, generator=_own_generator(self.seed))
        if self._resume_state is not None:  # Lightning restored the datamodule before it asked for loaders
            loader.load_state_dict(self._resume_state)
            self._resume_state = None
        self._train_loader = loader
        return loader

    # Lightning saves a datamodule's state_dict in checkpoints and gives it back on resume, before it builds
    # the loaders (it builds the training loader early, to count the steps the LR schedule spans, so its
    # own hand-over of loader states on restart comes too late for it).
    def state_dict(self) -> dict:
        loader = getattr(self, "_train_loader", None)
        return {"train_loader": loader.state_dict()} if loader is not None else {}

    def load_state_dict(self, state: dict) -> None:
        self._resume_state = state.get("train_loader")

    def _shard(self) -> tuple[int, int]:
        """(this process's rank, processes): ``data.batch_size`` is the global batch, split across them."""
        trainer = getattr(self, "trainer", None)
        return (trainer.global_rank, trainer.world_size) if trainer is not None else (0, 1)

    def check_shards(self, processes: int) -> None:
        """Under DDP every process evaluates every ``processes``-th row of each split (``_eval_loaders``), and
        Lightning stops a process that has none ("within local rank has zero length"), after the training. Said
        here, before it. ``processes``: the trainer's world size (devices x nodes)."""
        if processes <= 1:
            return
        for (i, split), lengths in self.lengths.items():
            if 0 < len(lengths) < processes:
                trained_on = i < len(self.train_sets)  # the run's own dataset (or a mixture member): not an eval set
                way_out = "give it more rows" if trained_on else "leave it out (stage.evals)"
                raise DataError(f"{self.eval_sets[i].where}: its {split} split has {len(lengths)} row(s) (QA: "
                                f"windows) for the {processes} processes of this run (trainer.devices x "
                                f"trainer.num_nodes), and every process needs one: train on fewer processes, or "
                                f"{way_out}")

    def _eval_loaders(self, split: str) -> list[DataLoader]:
        loaders = []
        rank, world = self._shard()
        for i in self.split_sets[split]:
            features, collate, lengths = self.eval_features[(i, split)], self.eval_collators[i], self.lengths[(i, split)]
            # In length order; under DDP every process takes every world-th row (the evaluators gather them).
            order = sorted(range(len(lengths)), key=lengths.__getitem__)[rank::world]
            loaders.append(DataLoader(features, batch_size=self.data_cfg.eval_batch_size, sampler=order,
                                      collate_fn=collate, num_workers=self.data_cfg.num_workers,
                                      generator=_own_generator(self.seed)))
        return loaders

    def val_dataloader(self):
        return self._eval_loaders("validation")

    def test_dataloader(self):
        return self._eval_loaders("test")


def _own_generator(seed: int) -> torch.Generator:
    """A loader's own generator: starting an iteration draws its workers' base seed from it, not from the
    global generator that dropout draws from, so evaluating or resuming never shifts training's masks."""
    return torch.Generator().manual_seed(seed)


def check_data_settings(data_cfg, key=str) -> None:
    """The ``data.*`` values Hydra's schema types cannot check (``auto`` or a positive int), at once.
    ``key``: how the user typed a setting (see ``itt.trainer.check_trainer_args``)."""
    for name, example in (("batch_size", 32), ("eval_batch_size", 64), ("max_length", 128)):
        positive_int(key(f"data.{name}"), data_cfg[name], example, auto=False)
    pad_multiple(data_cfg.pad_to_multiple_of, "cpu")
    if data_cfg.mega_batch != "auto":
        positive_int("data.mega_batch", data_cfg.mega_batch, 50)


def model_inputs(batch: dict) -> dict:
    """The batch without the columns a model is never given (row position, mixture member)."""
    return {k: v for k, v in batch.items() if k not in META_COLUMNS}
