"""``split=paper`` (pooled rows, stratified 70/15/15 by seed) and ``split=official`` (the dataset's own).

Stratification uses scikit-learn's ``train_test_split(stratify=...)`` on the strata the task kind
names (labels for classification, score bins for regression). Deterministic for a given seed.

A kind whose rows come in groups that must stay together (``Task.split_groups``: the questions of one
extractive-QA context) is split under ``split=paper`` by a hash of the group instead, so a held-out
question's paragraph is never read in training; that split is random, not stratified.

Datasets whose rows are translations of each other (a spec's ``aligned_with``) are split by a hash of
the shared row id instead, identically for every dataset that shares the ids: an id is in training
for all of them or for none, so no validation or test item has its translation in any training split
(STS-B de vs STS-B en, XNLI in 15 languages). That split is random but not stratified. Translations of a
kind that groups rows are split by their group's smallest shared id (XQuAD's paragraph has the same question
ids in every language), so a paragraph stays on one side in every language. That needs every language to hold
the group's smallest id: one that lacks it (another ``max_rows``, a row dropped while reading) splits that
paragraph by another id, and its rows can land in another split than their translations (not checked).

Eval sets (``task.evals``) are never trained on: under ``split=paper`` their rows are divided into
validation and test only (in the ratio validation : test), or by id like the others when aligned;
under ``split=official`` they keep their declared splits, and one with a test split only (XQuAD,
Tatoeba) is scored on all of its items and has no validation score. Under ``split=official`` an aligned
dataset keeps its declared splits too; a split it lacks is carved from its training rows by shared id.
A dataset with a train split only gets validation and test carved as the configured shares of all its rows
(70/15/15); one that lacks a single split gets that share of its train rows. A kind that groups rows carves
by the group's hash there too, so a carved test question's paragraph is not in training either.
"""

from __future__ import annotations

import hashlib
import logging

import numpy as np
from datasets import Dataset, DatasetDict

from itt.errors import DataError

log = logging.getLogger(__name__)
SPLITS = ("train", "validation", "test")


def make_splits(canonical: dict[str, Dataset], split_cfg, task, seed: int, where: str, *,
                by_id: bool = False, eval_only: bool = False) -> DatasetDict:
    """``canonical``: ``{"pool": rows}`` for ``split=paper``, the declared ``train``/``validation``/
    ``test`` rows for ``split=official``. Returns train/validation/test (no train for eval sets)."""
    fractions = (split_cfg.train, split_cfg.validation, split_cfg.test)
    if split_cfg.name == "paper":
        pool = canonical["pool"]
        groups = task.split_groups(pool)
        if by_id:
            out = _split_by_key(pool, _id_keys(pool, groups), seed, fractions)
        elif groups is not None:
            out = _split_by_key(pool, groups, seed, (0.0, *fractions[1:]) if eval_only else fractions)
        elif eval_only:
            validation, test = _split(pool, split_cfg.test / (split_cfg.validation + split_cfg.test), task, seed)
            out = {"validation": validation, "test": test}
        else:
            train, rest = _split(pool, split_cfg.validation + split_cfg.test, task, seed)
            validation, test = _split(rest, split_cfg.test / (split_cfg.validation + split_cfg.test), task, seed)
            out = {"train": train, "validation": validation, "test": test}
    elif split_cfg.name == "official":
        out = _official(canonical, split_cfg, task, seed, where, eval_only, by_id)
    else:
        raise DataError(f"split.name={split_cfg.name!r} is not a split; valid: paper, official")
    if eval_only:
        out.pop("train", None)
    total = sum(len(d) for d in canonical.values())
    for name, ds in out.items():
        if len(ds) == 0:
            raise DataError(f"{where}: the {name} split is empty after split={split_cfg.name}; the dataset has too few rows ({total})")
    return DatasetDict(out)


def _official(canonical, split_cfg, task, seed, where, eval_only, by_id):
    if eval_only and "test" not in canonical:
        raise DataError(f"{where}: an eval set needs a test split under split=official (splits: {', '.join(canonical)}); use split=paper")
    if not eval_only and "train" not in canonical:
        raise DataError(f"{where}: has no train split (splits: {', '.join(canonical)}); use split=paper")
    out = dict(canonical)
    if eval_only:  # an eval set with only a test split (XQuAD, Tatoeba) is scored on all of it, as published
        if "test" not in out:
            raise DataError(f"{where}: an eval set needs a test split under split=official (splits: {', '.join(out)}); "
                            "declare one in its `splits` or use split=paper")
        return {name: out[name] for name in ("validation", "test") if name in out}
    missing = [name for name in ("validation", "test") if name not in out]
    fractions = (split_cfg.train, split_cfg.validation, split_cfg.test)
    groups = task.split_groups(out["train"]) if missing else None
    if missing and by_id:  # translations: carve by shared id, as every aligned dataset does
        out.update(_carve(out["train"], _id_keys(out["train"], groups), seed, fractions, missing))
    elif groups is not None:  # a QA context's questions: all on one side, as under split=paper
        out.update(_carve(out["train"], groups, seed, fractions, missing))
    elif missing == ["validation", "test"]:  # train only: the configured shares of all its rows (70/15/15)
        rows, total = len(out["train"]), split_cfg.train + split_cfg.validation + split_cfg.test
        out["train"], out["validation"] = _split(out["train"], split_cfg.validation, task, seed)
        # the test share of the rows before validation left, as a row count (a fraction of what is left
        # would be rounded up by train_test_split: 61 test rows of 400, not 60)
        test_rows = min(max(round(rows * split_cfg.test / total), 1), len(out["train"]) - 1)
        out["train"], out["test"] = _split(out["train"], test_rows, task, seed)
    elif missing:  # one split lacking: that share of the train rows, stratified
        (name,) = missing
        out["train"], out[name] = _split(out["train"], getattr(split_cfg, name), task, seed)
    return {name: out[name] for name in SPLITS if name in out}


def _carve(train: Dataset, keys: list[str], seed: int, fractions, missing: list[str]) -> dict[str, Dataset]:
    """The ``missing`` splits out of ``train``: the rows whose key (shared id, or group) ``part_of`` puts
    there; every other row stays in training (a row hashed to a split the dataset has already is trained on)."""
    parts = [SPLITS[part_of(k, seed, fractions)] for k in keys]
    carved = {name: train.select([j for j, p in enumerate(parts) if p == name]) for name in missing}
    carved["train"] = train.select([j for j, p in enumerate(parts) if p not in missing])
    return carved


def part_of(row_id: str, seed: int, fractions: tuple[float, float, float]) -> int:
    """0 (train), 1 (validation) or 2 (test) for a shared row id: a hash of (seed, id), so every
    dataset with the same ids and seed agrees, whatever else it holds."""
    u = int(hashlib.sha1(f"{seed}:{row_id}".encode()).hexdigest()[:13], 16) / 16**13
    total = sum(fractions)
    return 0 if u < fractions[0] / total else 1 if u < (fractions[0] + fractions[1]) / total else 2


def _id_keys(ds: Dataset, groups: list[str] | None) -> list[str]:
    """The key each row of a dataset split by shared id is split by: its id, or, for a kind that groups rows (a QA
    context's questions), the smallest id of its group. Translations group their rows alike (XQuAD's paragraph
    holds the same question ids in every language), so every language keeps a paragraph on one side."""
    ids = [str(i) for i in ds["id"][:]]
    if groups is None:
        return ids
    first: dict[str, str] = {}
    for group, row_id in zip(groups, ids):
        first[group] = min(first.get(group, row_id), row_id)
    return [first[group] for group in groups]


def _split_by_key(pool: Dataset, keys: list[str], seed: int, fractions) -> dict[str, Dataset]:
    """Each row goes where ``part_of`` puts its key (shared id, group): every row of a key lands in one split."""
    parts = [SPLITS[part_of(k, seed, fractions)] for k in keys]
    return {name: pool.select([j for j, p in enumerate(parts) if p == name]) for name in SPLITS}


def _split(ds: Dataset, test_size: float | int, task, seed: int) -> tuple[Dataset, Dataset]:
    """A seeded (stratified where the kind names strata) train/test split of ``ds``'s rows (``test_size``: a
    share of them or a row count), by row indices: scikit-learn's ``train_test_split`` on the strata, then one ``select`` per side. (datasets'
    own ``train_test_split(stratify_by_column=...)`` reads the column row by row: 69 of the 87 s it took
    to split a 200k-row sample here.)"""
    if len(ds) < 2:
        return ds, ds.select([])
    from sklearn.model_selection import train_test_split  # noqa: PLC0415

    rows = np.arange(len(ds))
    strata = task.strata(ds)
    try:
        train, test = train_test_split(rows, test_size=test_size, random_state=seed, stratify=strata)
    except ValueError as exc:  # a class too small to appear on both sides: fall back to a random split
        if strata is not None:
            log.warning("stratified split impossible (%s); using a random split", exc)
        train, test = train_test_split(rows, test_size=test_size, random_state=seed)
    return ds.select(train), ds.select(test)
