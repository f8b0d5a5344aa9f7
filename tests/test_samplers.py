"""itt.data.samplers: batch orders, task frequencies, once-per-epoch coverage, and exact mid-epoch resume
(bare samplers, and a toy Lightning fit killed and resumed from its checkpoint)."""

from __future__ import annotations

import io
import itertools
import math
import warnings

import numpy as np
import pytest
import torch
from torch.utils.data import BatchSampler, RandomSampler

from itt.data import datamodule
from itt.data.samplers import (Capped, LengthGroupedBatches, MixtureBatches, Proportional, RandomBatches,
                               ResumableLoader, Temperature, Uniform, epoch_seed, member_seed)
from itt.errors import ConfigError, DataError

SIZES = [100, 1000, 10000]


def skewed_lengths(n: int, seed: int = 0) -> list[int]:
    return np.random.default_rng(seed).lognormal(3.0, 0.8, n).astype(int).clip(1, 512).tolist()


def stream(sampler):
    """Batches pass after pass, as a plain loop without set_epoch sees them."""
    while True:
        batches = 0
        for batch in sampler:
            batches += 1
            yield batch
        assert batches, "a pass yielded nothing: the sampler did not move on to its next epoch"


def lightning_style(sampler, epochs: int, first_epoch: int = 0):
    """Batches as Lightning asks for them: set_epoch(e), then one pass, for each epoch."""
    for epoch in range(first_epoch, epochs):
        sampler.set_epoch(epoch)
        yield from sampler


def roundtrip(state: dict) -> dict:
    """A state through a checkpoint file, loaded as the project loads checkpoints (weights_only)."""
    buffer = io.BytesIO()
    torch.save(state, buffer)
    buffer.seek(0)
    return torch.load(buffer, weights_only=True)


def mixture(task_sampler=None, seed: int = 0, sizes=(7, 20, 3), batch_sizes=(3, 4, 2)):
    members = [RandomBatches(sizes[0], batch_sizes[0], seed + 1),
               LengthGroupedBatches(skewed_lengths(sizes[1]), batch_sizes[1], seed + 2, mega_batches=2),
               RandomBatches(sizes[2], batch_sizes[2], seed + 3)]
    offsets = [0, sizes[0], sizes[0] + sizes[1]]
    return MixtureBatches(members, offsets, task_sampler or Temperature(2.0), seed)


SAMPLERS = {
    "random": lambda: RandomBatches(23, 4, seed=5),
    "random_drop_last": lambda: RandomBatches(23, 4, seed=5, drop_last=True),
    "length_grouped": lambda: LengthGroupedBatches(skewed_lengths(37), 4, seed=5, mega_batches=3),
    "mixture_temperature": lambda: mixture(Temperature(2.0)),
    "mixture_uniform": lambda: mixture(Uniform()),
    "mixture_capped": lambda: mixture(Capped(5)),
}


# --- seeds ----------------------------------------------------------------------------------------

def test_torch_keeps_only_the_low_32_bits_of_a_seed_so_epoch_seeds_are_taken_mod_2_32():
    same = [torch.randperm(50, generator=torch.Generator().manual_seed(s)) for s in (5, 5 + 2**32)]
    assert torch.equal(*same)
    assert all(0 <= epoch_seed(s, e) < 2**32 for s in (0, 2**40 + 3) for e in (0, 1, 10**6))


def test_epoch_seeds_do_not_collide_for_small_seeds_and_epochs():
    seeds, epochs = np.arange(1000, dtype=np.uint64)[:, None], np.arange(1000, dtype=np.uint64)[None, :]
    values = (seeds + epochs * np.uint64(0x9E3779B9)) % np.uint64(2**32)
    assert values[3, 7] == epoch_seed(3, 7)
    assert len(np.unique(values)) == values.size
    assert epoch_seed(17, 0) == 17  # epoch 0 keeps the pre-sampler batches


# --- RandomBatches / LengthGroupedBatches -----------------------------------------------------------

def test_random_batches_epoch_0_equal_torch_random_sampler_batches():
    reference = BatchSampler(RandomSampler(range(103), generator=torch.Generator().manual_seed(11)), 8, False)
    assert list(RandomBatches(103, 8, seed=11)) == list(reference)
    # (The old DataLoader(shuffle=True, generator=g) path differs: its iterator first draws the workers'
    # base seed from g.)


@pytest.mark.parametrize("make", [lambda: RandomBatches(103, 8, 2), lambda: RandomBatches(103, 8, 2, drop_last=True),
                                  lambda: LengthGroupedBatches(skewed_lengths(103), 8, 2, 4)])
def test_every_index_once_per_epoch_and_len_counts_the_batches(make):
    sampler = make()
    for epoch in range(3):
        sampler.set_epoch(epoch)
        batches = list(sampler)
        assert len(batches) == len(sampler)
        flat = [i for b in batches for i in b]
        assert len(flat) == len(set(flat))
        if sampler.drop_last:
            assert len(sampler) == 103 // 8 and all(len(b) == 8 for b in batches)
        else:
            assert len(sampler) == math.ceil(103 / 8) and sorted(flat) == list(range(103))


@pytest.mark.parametrize("cls", [RandomBatches, LengthGroupedBatches])
def test_same_seed_same_batches_other_epoch_or_seed_other_order(cls):
    def make(seed):
        return cls(200, 8, seed) if cls is RandomBatches else cls(skewed_lengths(200), 8, seed, 5)

    def epoch(sampler, e):
        sampler.set_epoch(e)
        return list(sampler)

    a, b = make(1), make(1)
    assert epoch(a, 0) == epoch(b, 0) and epoch(a, 3) == epoch(b, 3)
    assert epoch(a, 0) != epoch(a, 1)
    assert epoch(a, 0) != epoch(make(2), 0)
    assert list(make(1)) == epoch(make(1), 0)  # a fresh sampler starts at epoch 0


def padded_tokens(batches, lengths) -> int:
    return sum(max(lengths[i] for i in b) * len(b) for b in batches)


def test_length_grouping_pads_less_than_random_batches():
    lengths = skewed_lengths(2000)
    grouped = padded_tokens(LengthGroupedBatches(lengths, 32, 0, mega_batches=10), lengths)
    shuffled = padded_tokens(RandomBatches(len(lengths), 32, 0), lengths)
    assert grouped < 0.6 * shuffled, (grouped, shuffled, sum(lengths))


# --- set_epoch and state -----------------------------------------------------------------------------

def test_set_epoch_keeps_a_position_inside_that_epoch_and_resets_otherwise():
    sampler = RandomBatches(40, 4, seed=0)
    it = iter(sampler)
    [next(it) for _ in range(3)]
    sampler.set_epoch(0)  # Lightning's call after a resume: same epoch, position kept
    assert sampler.state_dict() == {"epoch": 0, "batches_done": 3}
    sampler.set_epoch(2)
    assert sampler.state_dict() == {"epoch": 2, "batches_done": 0}
    list(sampler)  # the whole of epoch 2: positioned at the start of epoch 3
    assert sampler.state_dict() == {"epoch": 3, "batches_done": 0}
    sampler.set_epoch(2)  # asked again: epoch 2 replays
    assert len(list(sampler)) == 10


@pytest.mark.parametrize("name", list(SAMPLERS))
@pytest.mark.parametrize("style", ["plain", "lightning"])
def test_resume_from_a_state_continues_the_uninterrupted_sequence(name, style):
    make = SAMPLERS[name]
    per_epoch = len(make())
    epochs = 4
    total = epochs * per_epoch

    def batches(sampler, first_epoch=0):
        return stream(sampler) if style == "plain" else lightning_style(sampler, epochs, first_epoch)

    full = list(itertools.islice(batches(make()), total))
    assert len(full) == total
    for k in sorted({0, 1, per_epoch // 2, per_epoch - 1, per_epoch, per_epoch + 2, 2 * per_epoch + 1}):
        first = make()
        head = list(itertools.islice(batches(first), k))
        state = roundtrip(first.state_dict())
        resumed = make()
        resumed.load_state_dict(state)
        tail = list(itertools.islice(batches(resumed, state["epoch"]), total - k))
        assert head + tail == full, (name, style, k, state)


def test_bad_states_name_what_is_wrong():
    with pytest.raises(DataError, match="batches_done=99"):
        RandomBatches(10, 2, 0).load_state_dict({"epoch": 0, "batches_done": 99})
    with pytest.raises(DataError, match="epoch=None"):
        RandomBatches(10, 2, 0).load_state_dict({"batches_done": 1})
    with pytest.raises(DataError, match="2 member states; this mixture has 3"):
        mixture().load_state_dict({"epoch": 0, "batches_done": 0, "members": [{}, {}]})


# --- task samplers and mixtures --------------------------------------------------------------------------

def expected_probabilities(name: str) -> list[float]:
    """Hand formulas, independent of the module."""
    n = np.array(SIZES, dtype=float)
    weights = {"proportional": n, "uniform": np.ones(3), "T1": n, "T2": np.sqrt(n), "T5": n ** 0.2,
               "capped500": np.minimum(n, 500)}[name]
    return (weights / weights.sum()).tolist()


TASK_SAMPLERS = {"proportional": Proportional(), "uniform": Uniform(), "T1": Temperature(1), "T2": Temperature(2),
                 "T5": Temperature(5.0), "capped500": Capped(500)}


@pytest.mark.parametrize("name", list(TASK_SAMPLERS))
def test_task_frequencies_over_10_000_draws_match_the_probabilities(name):
    task_sampler = TASK_SAMPLERS[name]
    expected = expected_probabilities(name)
    assert task_sampler.probabilities(SIZES) == pytest.approx(expected, abs=1e-12)
    members = [RandomBatches(n, 1, seed=i + 1) for i, n in enumerate(SIZES)]
    offsets = [0, SIZES[0], SIZES[0] + SIZES[1]]
    mix = MixtureBatches(members, offsets, task_sampler, seed=0)
    draws = [mix.member_of(b) for b in itertools.islice(stream(mix), 10_000)]
    observed = np.bincount(draws, minlength=3) / len(draws)
    assert observed == pytest.approx(expected, abs=0.02), (name, observed, expected)


def test_epoch_length_is_each_members_batches_and_capped_caps_them():
    members = [RandomBatches(n, 32, seed=i) for i, n in enumerate(SIZES)]
    offsets = [0, 100, 1100]
    assert len(MixtureBatches(members, offsets, Uniform(), 0)) == 4 + 32 + 313
    assert len(MixtureBatches(members, offsets, Capped(500), 0)) == 4 + 16 + 16  # ceil(min(n, 500) / 32)
    assert Capped(500).rows_per_epoch(SIZES) == [100, 500, 500]
    assert Temperature(3).rows_per_epoch(SIZES) == SIZES


@pytest.mark.parametrize("task_sampler", [Temperature(2.0), Uniform(), Capped(5), Proportional()], ids=repr)
def test_each_member_epoch_shows_every_row_of_the_member_once(task_sampler):
    mix = mixture(task_sampler)
    seen: list[list[int]] = [[] for _ in mix.members]
    for batch in lightning_style(mix, 12):
        member = mix.member_of(batch)  # one member per batch, or it raises
        seen[member].extend(j - mix.offsets[member] for j in batch)
    for member, rows in enumerate(seen):
        n = mix.sizes[member]
        full_epochs = len(rows) // n
        assert full_epochs >= 2, (member, len(rows))  # the test covers several member-epochs
        for e in range(full_epochs):
            assert sorted(rows[e * n:(e + 1) * n]) == list(range(n))
        rest = rows[full_epochs * n:]
        assert len(rest) == len(set(rest))


def test_member_of_rejects_a_batch_across_members():
    mix = mixture()
    assert [mix.member_of(b) for b in ([0, 6], [7, 26], [27, 29])] == [0, 1, 2]
    with pytest.raises(DataError, match="not inside one mixture member"):
        mix.member_of([5, 8])


def test_invalid_task_samplers_and_mixtures_fail_with_one_line():
    with pytest.raises(ConfigError, match="temperature=0"):
        Temperature(0)
    with pytest.raises(ConfigError, match="cap=0"):
        Capped(0)
    with pytest.raises(DataError, match="at least one row"):
        Proportional().probabilities([10, 0])
    with pytest.raises(DataError, match="overlap"):
        MixtureBatches([RandomBatches(10, 2, 0), RandomBatches(5, 2, 0)], [0, 5], Uniform(), 0)
    with pytest.raises(DataError, match="make no batch"):
        RandomBatches(3, 4, 0, drop_last=True)


# --- ResumableLoader, and what Lightning does with it --------------------------------------------------

def test_loader_state_is_the_position_of_the_last_delivered_batch():
    sampler = RandomBatches(20, 2, seed=0)
    loader = ResumableLoader(list(range(20)), sampler, collate_fn=list)
    assert loader.state_dict() == {"epoch": 0, "batches_done": 0}
    it = iter(loader)
    got = [next(it) for _ in range(4)]
    assert loader.state_dict() == {"epoch": 0, "batches_done": 4}
    again = ResumableLoader(list(range(20)), RandomBatches(20, 2, seed=0), collate_fn=list)
    again.load_state_dict(loader.state_dict())
    assert got + list(again) == list(sampler.epoch_batches(0))
    assert len(again) == 10


def test_loader_with_a_worker_reports_delivered_positions_also_after_an_abandoned_pass():
    sampler = RandomBatches(40, 2, seed=0)
    loader = ResumableLoader(list(range(40)), sampler, collate_fn=list, num_workers=1, prefetch_factor=4)
    it = iter(loader)
    next(it), next(it)
    assert loader.state_dict() == {"epoch": 0, "batches_done": 2}
    assert sampler.state_dict()["batches_done"] > 2  # the worker was fed ahead
    del it  # the epoch ends early (limit_train_batches): prefetched batches are dropped
    sampler.set_epoch(1)
    it = iter(loader)
    assert next(it) == sampler.epoch_batches(1)[0]
    assert loader.state_dict() == {"epoch": 1, "batches_done": 1}
    del it


class _Rows(torch.utils.data.Dataset):
    def __len__(self):
        return 10

    def __getitem__(self, i):
        return torch.tensor([float(i)])


class _Killed(Exception):
    pass


def _fit(make_sampler, tmp_path, kill_at=None, on="batch_end", resume=False, workers=0, unsized=False):
    """A toy fit over 3 epochs of a 10-row dataset; records the rows of each training batch, and the
    loader state stored in the checkpoint taken (and the fit stopped) after ``kill_at`` steps."""
    import pytorch_lightning as pl

    class Unsized(ResumableLoader):
        def __len__(self):
            raise TypeError("no length")

    class Toy(pl.LightningModule):
        def __init__(self):
            super().__init__()
            self.w, self.seen = torch.nn.Linear(1, 1), []

        def training_step(self, batch, _):
            self.seen.append(batch[:, 0].long().tolist())
            return self.w(batch).sum()

        def configure_optimizers(self):
            return torch.optim.SGD(self.parameters(), 0.0)

        def train_dataloader(self):
            return (Unsized if unsized else ResumableLoader)(_Rows(), make_sampler(), num_workers=workers)

    ckpt = tmp_path / "x.ckpt"

    class Kill(pl.Callback):
        def _maybe(self, trainer):
            if trainer.global_step == kill_at:
                trainer.save_checkpoint(ckpt)
                raise _Killed

        def on_train_batch_end(self, trainer, *_):
            if on == "batch_end":
                self._maybe(trainer)

        def on_train_epoch_end(self, trainer, *_):
            if on == "epoch_end":
                self._maybe(trainer)

    trainer = pl.Trainer(max_epochs=3, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                         enable_model_summary=False, limit_val_batches=0, callbacks=[Kill()])
    module = Toy()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            trainer.fit(module, ckpt_path=ckpt if resume else None, weights_only=True if resume else None)
        except _Killed:
            pass
    saved = torch.load(ckpt, weights_only=True)["loops"]["fit_loop"]["state_dict"] if kill_at else None
    return module.seen, saved


LIGHTNING_SAMPLERS = {
    "random": lambda: RandomBatches(10, 2, seed=3),
    "mixture": lambda: MixtureBatches([RandomBatches(4, 2, 1), RandomBatches(6, 2, 2)], [0, 4], Uniform(), 0),
}


@pytest.mark.parametrize("name,kill_at,on,workers", [
    ("random", 3, "batch_end", 0),   # mid-epoch: the checkpoint holds the loader state, loaded before batch 4
    ("random", 7, "batch_end", 0),   # mid-epoch 1
    ("random", 5, "epoch_end", 0),   # finished epoch: Lightning does not load loader states, only set_epoch(1)
    ("random", 7, "batch_end", 2),   # workers draw ahead of training; the loader keeps the delivered position
    ("mixture", 3, "batch_end", 0),
    ("mixture", 6, "batch_end", 0),
])
def test_lightning_fit_killed_and_resumed_sees_the_uninterrupted_batches(tmp_path, name, kill_at, on, workers):
    make = LIGHTNING_SAMPLERS[name]
    full, _ = _fit(make, tmp_path, workers=workers)
    assert len(full) == 15
    first, saved = _fit(make, tmp_path, kill_at, on, workers=workers)
    assert saved["combined_loader"][0]["batches_done"] == kill_at % 5
    second, _ = _fit(make, tmp_path, resume=True, workers=workers)
    assert first + second == full


def test_lightning_prefetches_one_batch_only_from_unsized_loaders(tmp_path):
    """The checkpoint after step 3 holds the state after 3 batches for a sized loader and after 4 for an
    unsized one (Lightning's _PrefetchDataFetcher looks one batch ahead to know when the epoch ends),
    so an unsized loader would skip a batch on resume."""
    _, sized = _fit(LIGHTNING_SAMPLERS["random"], tmp_path, kill_at=3)
    _, unsized = _fit(LIGHTNING_SAMPLERS["random"], tmp_path, kill_at=3, unsized=True)
    assert sized["combined_loader"] == [{"epoch": 0, "batches_done": 3}]
    assert unsized["combined_loader"] == [{"epoch": 0, "batches_done": 4}]


def test_member_seeds_differ_from_the_mixture_and_from_other_run_seeds_members():
    """No mixture seed, member seed or epoch of either meets another, for run seeds < 100, 8 members and 100
    epochs (the torch seed of member i's epoch e is epoch_seed(member_seed(seed, i), e))."""
    seeds = np.arange(100, dtype=np.uint64)[:, None, None]
    members = np.arange(-1, 8, dtype=np.int64)[None, :, None]  # -1: the mixture itself
    epochs = np.arange(100, dtype=np.uint64)[None, None, :]
    base = (seeds + ((members + 1).astype(np.uint64) * np.uint64(0x632BE5AB))) % np.uint64(2**32)
    values = (base + epochs * np.uint64(0x9E3779B9)) % np.uint64(2**32)
    assert values[3, 2, 7] == epoch_seed(member_seed(3, 1), 7) and values[3, 0, 7] == epoch_seed(3, 7)
    assert len(np.unique(values)) == values.size


def test_a_mixture_datamodule_seeds_its_members_apart_from_the_mixture_and_from_nearby_run_seeds():
    """Members were seeded seed + i: member 0 shared the mixture's seed (the stream that draws the members), and
    with two members of one size (64 rows, batches of 8) run seed 0's member 1 was shuffled exactly as run seed
    1's member 0: all 8 batches of epoch 0 identical, and of epoch 1."""
    from types import SimpleNamespace

    from datasets import Dataset

    def mixture_of(seed):
        train = [SimpleNamespace(features={"train": Dataset.from_dict({"input_ids": [[1]] * 64, "length": [1] * 64})})
                 for _ in range(2)]
        cfg = SimpleNamespace(batch_size=8, length_grouping=False, num_workers=0, mega_batch="auto")
        dm = datamodule.ITTDataModule(train, [], cfg, 1, seed, Uniform())
        dm.train_collator = None
        return dm.train_dataloader().batch_sampler.sampler

    run0, run1 = mixture_of(0), mixture_of(1)
    assert run0.seed == 0 and run0.seed not in {m.seed for m in run0.members}
    assert not {m.seed for m in run0.members} & {m.seed for m in run1.members}
    for epoch in (0, 1):
        assert run0.members[1].epoch_batches(epoch) != run1.members[0].epoch_batches(epoch)


def test_ddp_shares_of_unequal_size_are_said_and_a_mixture_refuses_reloaded_loaders(caplog):
    """DDP averages the processes' mean losses: 32 rows over 3 processes (11/11/10) weigh a row of the 10-row share
    ~10 % more than one process's batch mean does; said in one line. A reload
    (trainer.reload_dataloaders_every_n_epochs) built every member's sampler again at its epoch 0, so each mixture
    epoch replayed one member order: refused for mixtures."""
    from types import SimpleNamespace

    from datasets import Dataset

    from itt.errors import ConfigError

    def loader(members, world, reload=0):
        train = [SimpleNamespace(features={"train": Dataset.from_dict({"input_ids": [[1]] * 64, "length": [1] * 64})})
                 for _ in range(members)]
        cfg = SimpleNamespace(batch_size=32, length_grouping=False, num_workers=0, mega_batch="auto")
        dm = datamodule.ITTDataModule(train, [], cfg, 1, 0, Uniform() if members > 1 else None)
        dm.train_collator = None
        dm.trainer = SimpleNamespace(global_rank=0, world_size=world, reload_dataloaders_every_n_epochs=reload)
        return dm.train_dataloader()

    with caplog.at_level("WARNING", logger="itt.data.datamodule"):
        loader(1, 2)
        assert not caplog.records
        loader(1, 3)
    assert "shares of 11 and 10 rows" in caplog.text
    loader(1, 1, reload=1)  # one dataset: its sampler's epochs go on across reloads
    with pytest.raises(ConfigError, match=r"trainer.reload_dataloaders_every_n_epochs: a mixture"):
        loader(2, 1, reload=1)
