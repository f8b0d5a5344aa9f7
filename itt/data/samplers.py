"""Training batch samplers, all resumable mid-epoch: random, length-grouped, and multi-task mixtures.

A batch sampler yields lists of row indices. Its position is ``(epoch, batches_done)``; epoch ``e``'s
order is a function of ``(seed, e)`` alone (``epoch_seed``), so a position is all a checkpoint has to
keep: ``state_dict() -> {"epoch": e, "batches_done": k}``, and after ``load_state_dict`` the next pass
yields exactly what an uninterrupted run would have yielded after its first ``k`` batches of epoch ``e``.
A finished epoch counts as the start of the next one (``(e, len) == (e + 1, 0)``), so a pass that ran
to its end moves on to the next epoch even when nobody calls ``set_epoch``.

Multi-task mixtures: a task sampler (``Proportional``, ``Uniform``, ``Temperature``, ``Capped``; picked
in config by ``_target_``) gives each member's probability; ``MixtureBatches`` draws a member per batch
and takes that member's next batch (never a batch mixing tasks).

Lightning saves the state of a train loader only if the *loader* has ``state_dict``/``load_state_dict``
(a plain ``DataLoader`` has not), and calls ``set_epoch`` only on ``loader.sampler`` and
``loader.batch_sampler.sampler``. ``ResumableLoader`` does both, and keeps the position of the last batch
it *delivered*: worker processes draw batches ahead of training.
"""

from __future__ import annotations

import bisect
import math
from collections import deque
from dataclasses import dataclass

import torch
from torch.utils.data import DataLoader

from itt.errors import ConfigError, DataError

MEGA_BATCH_BATCHES = 50  # batches per length-sorted mega-batch (as transformers' LengthGroupedSampler)
_WEYL = 0x9E3779B9  # 2**32 / golden ratio, odd


def epoch_seed(seed: int, epoch: int) -> int:
    """The torch seed of epoch ``epoch``: ``(seed + epoch * 0x9E3779B9) mod 2**32``.

    Modulo 2**32 because torch's CPU generator keeps only the low 32 bits of a seed (``manual_seed(5)``
    and ``manual_seed(5 + 2**32)`` give the same permutation). Epoch 0 uses the seed itself, so a
    one-epoch run keeps the batches of the previous ``LengthGroupedBatchSampler(..., manual_seed(seed))``. The
    step is odd, so one seed's epochs are distinct for 2**32 epochs, and a large irregular step keeps
    nearby seeds apart (no collision among seeds < 1000 x epochs < 1000; tested)."""
    return (seed + epoch * _WEYL) % 2**32


_MEMBER_STEP = 0x632BE5AB  # odd, and no small multiple of it is near a small multiple of _WEYL (tested)


def member_seed(seed: int, member: int) -> int:
    """The seed of member ``member`` of a mixture run with seed ``seed``: ``(seed + (member + 1) * 0x632BE5AB)
    mod 2**32``. Never the mixture's own seed, whose stream draws the members, and far from the members of
    nearby run seeds: with ``seed + member``, run seed 1's first member would have run seed 0's second one's
    seed, and two members of one size (one dataset's translations in two languages) would be shuffled alike
    in both runs."""
    return (seed + (member + 1) * _MEMBER_STEP) % 2**32


def _generator(seed: int, epoch: int) -> torch.Generator:
    return torch.Generator().manual_seed(epoch_seed(seed, epoch))


def _auto_or_positive_int(key: str, setting, example: int):
    """``setting`` itself when it is ``auto`` or a positive int; otherwise a ConfigError naming ``key``."""
    if setting == "auto" or (isinstance(setting, int) and not isinstance(setting, bool) and setting >= 1):
        return setting
    raise ConfigError(f"{key}={setting!r} is not valid; use auto, or a positive int such as {example}")


def mega_batch_batches(setting, n_rows: int, batch_size: int) -> int:
    """``data.mega_batch`` (with ``data.length_grouping=true``): how many batches are sorted by length
    together. ``auto``, the default, is transformers' rule (``group_by_length``): a quarter of the
    training batches, at most 50, at least 1 (no grouping below 8 batches). 50 sorts every training set
    under 1,600 rows as one, which fixes which rows share a batch in every epoch.

    Grouping is off by default because neither rule was shown to learn as well as random batches
    (``scripts/quality_ab.py``: real MiniLM, 3 epochs, paired by seed; accepted only if the 95 % interval
    of the val and test accuracy difference stays above -0.02 on every dataset). XNLI en dev, 1,743
    training rows, 10 seeds, difference to random batches, mean [95 % interval]: 50, val -0.005 [-0.021,
    +0.012], test +0.014 [+0.001, +0.027]; auto, val -0.006 [-0.027, +0.016], test -0.009 [-0.029,
    +0.012]. On a 640-row subsample (448 training rows, at chance after 3 epochs) the intervals were
    wider still (+-0.03-0.05)."""
    if _auto_or_positive_int("data.mega_batch", setting, 50) == "auto":
        return max(1, min(MEGA_BATCH_BATCHES, n_rows // (4 * batch_size)))
    return setting


def _state_int(state, key: str, low: int, high: int | None, who: str) -> int:
    value = state.get(key) if isinstance(state, dict) else None
    if not isinstance(value, int) or isinstance(value, bool) or value < low or (high is not None and value > high):
        bound = f"an int in [{low}, {high}]" if high is not None else f"an int >= {low}"
        raise DataError(f"{who} state {key}={value!r} is not valid; expected {bound} (was the data changed "
                        f"since the checkpoint?)")
    return value


class _Positioned:
    """Position bookkeeping: ``epoch`` and ``batches_done`` within it; ``len(self)`` batches per epoch."""

    epoch = 0
    batches_done = 0

    def _position(self) -> tuple[int, int]:
        """(epoch, batches_done), a finished epoch counted as the start of the next."""
        if self.batches_done >= len(self):
            return self.epoch + 1, 0
        return self.epoch, self.batches_done

    def set_epoch(self, epoch: int) -> None:
        """Go to the start of ``epoch`` unless already positioned inside it: after ``load_state_dict``,
        Lightning calls ``set_epoch`` with the resumed epoch, which must not discard the loaded position."""
        if epoch != self._position()[0]:
            self.epoch, self.batches_done = epoch, 0

    def state_dict(self) -> dict:
        epoch, done = self._position()
        return {"epoch": epoch, "batches_done": done}

    def load_state_dict(self, state: dict) -> None:
        who = type(self).__name__
        self.epoch = _state_int(state, "epoch", 0, None, who)
        self.batches_done = _state_int(state, "batches_done", 0, len(self), who)


class _EpochBatches(_Positioned):
    """A batch sampler over ``n_rows`` rows whose epoch is a fixed list of batches (``epoch_batches``)."""

    def __init__(self, n_rows: int, batch_size: int, seed: int, drop_last: bool = False):
        if n_rows < 1 or batch_size < 1 or (drop_last and n_rows < batch_size):
            raise DataError(f"{type(self).__name__}: {n_rows} rows in batches of {batch_size}"
                            f"{' (drop_last)' if drop_last else ''} make no batch; need at least one")
        self.n_rows, self.batch_size, self.seed, self.drop_last = n_rows, batch_size, seed, drop_last

    def batches_for(self, rows: int) -> int:
        """How many batches cover ``rows`` rows (``len(self)`` for ``n_rows``)."""
        return rows // self.batch_size if self.drop_last else -(-rows // self.batch_size)

    def __len__(self) -> int:
        return self.batches_for(self.n_rows)

    def epoch_batches(self, epoch: int) -> list[list[int]]:
        raise NotImplementedError

    def __iter__(self):
        self.epoch, self.batches_done = self._position()
        batches = self.epoch_batches(self.epoch)
        while self.batches_done < len(batches):
            batch = batches[self.batches_done]
            self.batches_done += 1  # before the yield: a state taken while the batch is in use counts it
            yield batch


class RandomBatches(_EpochBatches):
    """Random batches: epoch ``e`` is ``torch.randperm`` under ``epoch_seed(seed, e)``, cut in order.
    Epoch 0 equals ``BatchSampler(RandomSampler(rows, generator=torch.Generator().manual_seed(seed)))``
    (not the old ``DataLoader(shuffle=True, generator=...)`` path, whose iterator first drew a worker
    seed from the generator)."""

    def epoch_batches(self, epoch: int) -> list[list[int]]:
        perm = torch.randperm(self.n_rows, generator=_generator(self.seed, epoch)).tolist()
        bs = self.batch_size
        return [perm[i:i + bs] for i in range(0, len(self) * bs, bs)]


class LengthGroupedBatches(_EpochBatches):
    """Batches of similar lengths in random order; every index exactly once per epoch.

    Each epoch: a random permutation, cut into mega-batches of ``mega_batches`` batches, each sorted by
    length and cut into batches; then the order of all batches is shuffled (``transformers``'
    ``LengthGroupedSampler`` keeps each mega-batch's batches together, longest first). Only the last
    batch of the last mega-batch can be short. ``mega_batch_batches`` picks the mega-batch size.
    """

    def __init__(self, lengths: list[int], batch_size: int, seed: int, mega_batches: int = MEGA_BATCH_BATCHES):
        super().__init__(len(lengths), batch_size, seed)
        self.lengths = list(lengths)
        self.mega = max(1, mega_batches) * batch_size

    def epoch_batches(self, epoch: int) -> list[list[int]]:
        generator, lengths, bs = _generator(self.seed, epoch), self.lengths, self.batch_size
        perm = torch.randperm(len(lengths), generator=generator).tolist()
        batches = []
        for start in range(0, len(perm), self.mega):
            chunk = sorted(perm[start:start + self.mega], key=lengths.__getitem__)  # stable: random ties
            batches.extend(chunk[i:i + bs] for i in range(0, len(chunk), bs))
        return [batches[i] for i in torch.randperm(len(batches), generator=generator).tolist()]


# --- task samplers: how often each member of a mixture is drawn --------------------------------------

def _check_sizes(sizes) -> list[int]:
    sizes = list(sizes)
    if not sizes or any(not isinstance(n, int) or n < 1 for n in sizes):
        raise DataError(f"mixture member sizes {sizes} are not valid; every member needs at least one row")
    return sizes


def _normalised(weights: list[float]) -> list[float]:
    total = math.fsum(weights)
    return [w / total for w in weights]


class _TaskSampler:
    """``probabilities(sizes)``: each member's chance per batch; ``rows_per_epoch(sizes)``: how many of
    each member's rows one mixture epoch is meant to cover (all of them unless capped)."""

    def probabilities(self, sizes: list[int]) -> list[float]:
        raise NotImplementedError

    def rows_per_epoch(self, sizes: list[int]) -> list[int]:
        return _check_sizes(sizes)


@dataclass(frozen=True)
class Proportional(_TaskSampler):
    """Batches drawn from members in proportion to their rows (jiant's and XTREME-R's examples-proportional
    mixing). Not quite a concatenation: a member's last batch of its epoch is partial but drawn as often as a
    full one, so a member smaller than a few batches is seen less often per row (20 rows next to 10,000 in
    batches of 32: 0.63 visits per row per mixture epoch (314 draws x 20/10,020) against the large member's ~1)."""

    def probabilities(self, sizes: list[int]) -> list[float]:
        return _normalised([float(n) for n in _check_sizes(sizes)])


@dataclass(frozen=True)
class Uniform(_TaskSampler):
    """Every member equally often, whatever its size (small members repeat, large ones are undersampled)."""

    def probabilities(self, sizes: list[int]) -> list[float]:
        return [1 / len(_check_sizes(sizes))] * len(sizes)


@dataclass(frozen=True)
class Temperature(_TaskSampler):
    """p_i proportional to n_i ** (1 / temperature): 1 is proportional, larger flattens towards uniform."""

    temperature: float

    def __post_init__(self):
        if isinstance(self.temperature, bool) or not isinstance(self.temperature, (int, float)) \
                or not math.isfinite(self.temperature) or self.temperature <= 0:
            raise ConfigError(f"sampler temperature={self.temperature!r} is not valid; use a number > 0 such as 2")

    def probabilities(self, sizes: list[int]) -> list[float]:
        return _normalised([n ** (1 / self.temperature) for n in _check_sizes(sizes)])


@dataclass(frozen=True)
class Capped(_TaskSampler):
    """Proportional to min(n_i, cap), and an epoch covers min(n_i, cap) rows of each member: a large
    member cannot crowd out the others."""

    cap: int

    def __post_init__(self):
        if isinstance(self.cap, bool) or not isinstance(self.cap, int) or self.cap < 1:
            raise ConfigError(f"sampler cap={self.cap!r} is not valid; use a positive int such as 10000")

    def probabilities(self, sizes: list[int]) -> list[float]:
        return _normalised([float(min(n, self.cap)) for n in _check_sizes(sizes)])

    def rows_per_epoch(self, sizes: list[int]) -> list[int]:
        return [min(n, self.cap) for n in _check_sizes(sizes)]


class MixtureBatches(_Positioned):
    """Batches of a multi-task mixture, each from ONE member, as global indices (member-local + offset).

    The datamodule concatenates the members' training rows in member order; ``offsets[i]`` is where
    member ``i`` starts and ``members[i]`` is a batch sampler over its ``n_rows`` local indices.

    Epoch length: the sum over members of the batches covering ``task_sampler.rows_per_epoch(sizes)``
    rows of each (its own ``len`` unless ``Capped``: ``ceil(min(n_i, cap) / batch_size)``). At each step
    the member is drawn with the task sampler's probabilities (one ``torch.multinomial`` per epoch, seeded
    by ``epoch_seed(seed, epoch)``), so the members' shares of an epoch vary around those probabilities.
    Each member runs through its own epochs independently: when it is used up it starts its next
    member-epoch, so each member-epoch shows every row of the member once, whatever the mixture epoch.
    Give the members seeds of their own (``member_seed(seed, i)``): one seeded like the mixture would
    reuse the random stream of its draws.

    Which task a batch belongs to: ``member_of(batch)``. Collators see rows, not indices, so the simplest
    wiring is a constant ``task`` column (= member index) added to each member's rows before
    concatenation; ``member_of`` then serves checks and dataset wrappers that see the indices.
    """

    def __init__(self, members: list, offsets: list[int], task_sampler, seed: int):
        if not members or len(members) != len(offsets):
            raise DataError(f"a mixture needs one offset per member; got {len(members)} members, offsets {offsets}")
        sizes = [m.n_rows for m in members]
        if any(b < a + n for a, b, n in zip(offsets, offsets[1:], sizes)) or offsets[0] < 0:
            raise DataError(f"mixture offsets {offsets} overlap the members' rows (sizes {sizes})")
        self.members, self.offsets, self.task_sampler, self.seed = list(members), list(offsets), task_sampler, seed
        self.sizes = sizes
        self.probabilities = task_sampler.probabilities(sizes)
        self.member_batches = [m.batches_for(r) for m, r in zip(members, task_sampler.rows_per_epoch(sizes))]
        if not all(self.member_batches):
            raise DataError(f"mixture members {sizes} with {task_sampler} leave a member with no batch per epoch")
        self._draws: tuple[int, list[int]] | None = None

    def __len__(self) -> int:
        return sum(self.member_batches)

    def draws(self, epoch: int) -> list[int]:
        """The member of each batch of ``epoch``."""
        if self._draws is None or self._draws[0] != epoch:
            p = torch.tensor(self.probabilities, dtype=torch.float64)
            draws = torch.multinomial(p, len(self), replacement=True, generator=_generator(self.seed, epoch))
            self._draws = (epoch, draws.tolist())
        return self._draws[1]

    def member_of(self, batch: list[int]) -> int:
        """The member whose rows ``batch`` (global indices) holds; DataError if it mixes members."""
        i = bisect.bisect_right(self.offsets, batch[0]) - 1
        low = self.offsets[max(i, 0)]
        if i < 0 or any(not low <= j < low + self.sizes[i] for j in batch):
            raise DataError(f"batch {batch[:8]}... is not inside one mixture member (offsets {self.offsets})")
        return i

    def __iter__(self):
        self.epoch, self.batches_done = self._position()
        draws = self.draws(self.epoch)
        passes = [None] * len(self.members)  # each member continues from its own position
        while self.batches_done < len(draws):
            i = draws[self.batches_done]
            batch = next(passes[i], None) if passes[i] is not None else None
            if batch is None:  # member used up (or first use this pass): its next member-epoch starts
                passes[i] = iter(self.members[i])
                batch = next(passes[i])
            self.batches_done += 1
            yield [j + self.offsets[i] for j in batch]

    def state_dict(self) -> dict:
        return {**super().state_dict(), "members": [m.state_dict() for m in self.members]}

    def load_state_dict(self, state: dict) -> None:
        members = state.get("members") if isinstance(state, dict) else None
        if not isinstance(members, list) or len(members) != len(self.members):
            raise DataError(f"MixtureBatches state has {len(members) if isinstance(members, list) else 'no'} "
                            f"member states; this mixture has {len(self.members)} members")
        super().load_state_dict(state)
        for member, member_state in zip(self.members, members):
            member.load_state_dict(member_state)


# --- the loader Lightning saves and restores ---------------------------------------------------------

class _PositionRecorder:
    """Wraps a batch sampler: records the sampler's state after each batch it hands to the DataLoader.
    ``sampler`` is where Lightning looks for ``set_epoch`` on a batch sampler. With ``world`` processes
    (DDP) every process draws the same global batch and keeps its share, ``batch[rank::world]``: together
    they train on the rows one process would (a share left empty by a short last batch repeats that batch's
    last row). DDP averages the processes' mean losses, so where a batch does not split evenly (32 rows over 3
    processes: 11/11/10) the rows of a smaller share weigh more (~10 % here) than in one process's batch mean:
    a batch size divisible by the processes gives one process's gradients exactly (up to summation order)."""

    def __init__(self, sampler, rank: int = 0, world: int = 1):
        self.sampler, self.rank, self.world = sampler, rank, world
        self.positions: deque[dict] = deque()

    def __len__(self) -> int:
        return len(self.sampler)

    def __iter__(self):
        self.positions.clear()  # a new pass: whatever an abandoned one prefetched is gone
        for batch in self.sampler:
            self.positions.append(self.sampler.state_dict())
            yield (batch[self.rank::self.world] or batch[-1:]) if self.world > 1 else batch


class ResumableLoader(DataLoader):
    """A ``DataLoader`` over one of these batch samplers that Lightning checkpoints and resumes mid-epoch.

    ``state_dict()`` is the sampler's state after the last batch this loader delivered (with workers,
    the sampler itself runs ``prefetch_factor * num_workers`` batches ahead). Keep the loader sized
    (these samplers are): Lightning's data fetcher draws one batch ahead from unsized loaders, which
    would make a checkpoint skip a batch. Under DDP give ``rank`` and ``world`` (each process keeps its
    share of every global batch) and keep Lightning from injecting its own distributed sampler
    (``Trainer(use_distributed_sampler=False)``).
    """

    def __init__(self, dataset, batch_sampler, rank: int = 0, world: int = 1, **kwargs):
        self._recorder = _PositionRecorder(batch_sampler, rank, world)
        self._delivered = batch_sampler.state_dict()
        super().__init__(dataset, batch_sampler=self._recorder, **kwargs)

    def __iter__(self):
        for batch in super().__iter__():
            self._delivered = self._recorder.positions.popleft()
            yield batch

    def state_dict(self) -> dict:
        return dict(self._delivered)

    def load_state_dict(self, state: dict) -> None:
        self._recorder.sampler.load_state_dict(state)
        self._delivered = self._recorder.sampler.state_dict()
