"""Seeded random draws shared by the generators: the dataset seed, fast picks, balanced and noisy labels.

Everything is driven by one ``random.Random`` per dataset, seeded from the generator's arguments
with crc32 (not ``hash()``: Python salts str hashes per process, which would break reproducibility).
"""

from __future__ import annotations

import random
import zlib
from collections.abc import Iterator


def dataset_rng(seed: int, name: str, lang: str, domain: str, k: int) -> random.Random:
    """The generator of one dataset; ``lang="*"`` for translation-aligned generators."""
    return random.Random(zlib.crc32(f"{seed}|{name}|{lang}|{domain}|{k}".encode()))


# rng.choice/randint/randrange cost ~10x more than rng.random() in CPython and dominate generation
# time; these equivalents keep 20k rows well under a second (and are just as deterministic).
def pick(rng: random.Random, seq):
    return seq[int(rng.random() * len(seq))]


def below(rng: random.Random, n: int) -> int:
    return int(rng.random() * n)


def randint(rng: random.Random, a: int, b: int) -> int:
    return a + int(rng.random() * (b - a + 1))


def other_index(rng: random.Random, n: int, i: int) -> int:
    """A uniformly drawn index in range(n) other than ``i`` (n >= 2)."""
    j = below(rng, n - 1)
    return j + (j >= i)


def balanced_labels(rng: random.Random, n_rows: int, k: int) -> Iterator[int]:
    """Labels in shuffled blocks of k: counts differ by at most one, and prefixes are stable."""
    block: list[int] = []
    for _ in range(n_rows):
        if not block:
            block = list(range(k))
            rng.shuffle(block)
        yield block.pop()


def noisy_label(rng: random.Random, label: int, k: int, rate: float) -> int:
    """The label the text is written for: usually ``label``, with probability ``rate`` another."""
    if rng.random() >= rate:
        return label
    other = below(rng, k - 1)
    return other + (other >= label)


class Distinct:
    """The items a generator has drawn, to draw none twice.

    A chance repeat in a held-out split would be an item its own or another role's training split has.
    ``add(keys)`` takes one key per language (what a row reads like there; a generator of one language
    passes one) and is False when any of them is an earlier row's: every language then skips the same
    draws, so the rows of a translation-aligned generator stay aligned. After ``patience``
    skipped draws in a row the generator has run out of items: a ValueError names it.
    """

    def __init__(self, name: str, langs, patience: int = 10_000):
        self.name, self.patience, self.skipped = name, patience, 0
        self.seen: dict[str, set] = {lang: set() for lang in langs}

    def add(self, keys: dict) -> bool:
        if any(key in self.seen[lang] for lang, key in keys.items()):
            self.skipped += 1
            if self.skipped >= self.patience:
                raise ValueError(f"generator {self.name!r} has no new item after {self.patience} draws "
                                 f"({len(next(iter(self.seen.values())))} rows); valid: fewer rows")
            return False
        self.skipped = 0
        for lang, key in keys.items():
            self.seen[lang].add(key)
        return True
