"""Eval sets scored only on items whose translation the run does not train on.

An eval set declared a translation of a dataset the run trains on (``aligned_with``, directly or through a chain)
shares its row ids: MLQA's languages share question ids, XQuAD's are SQuAD's dev ids. ``split=paper`` splits every
aligned set by a hash of the shared id, so a held-out id is held out everywhere, as long as every set keys a row
alike. Two cases it cannot see to:

- a kind that keeps groups of rows together (a QA paragraph's questions) splits a group by its smallest shared id,
  and translations group their rows differently (an MLQA German paragraph holds other questions than its English
  one; a capped SQuAD lacks some of a paragraph's questions), so a group can land in training in one language and
  be held out in another;
- ``split=official`` keeps an eval set's declared splits: MLQA's English test split holds the translations of the
  German test rows the cross-lingual target trains on (MLQA has no training split).

So, in those two cases, an eval set's validation and test rows are left out when their id is among the training
ids of an aligned dataset the run trains on: for a kind that groups rows, every row of a group that holds one such
id (its paragraph was read in training, in another language). The ITT run and its no-ITT twin train the same
target, so they leave out the same rows and stay paired. Rows whose translation an *ancestor* trained on (an
intermediate step on MLQA German before an English target) are not left out, which would unpair the two, but
counted, with a warning (``itt.build``); ``itt.data.overlap`` counts identical items only. Ids are compared as
xxHash's XXH3 of their text.
"""

from __future__ import annotations

import hashlib
import logging

import numpy as np
import xxhash
from datasets import Dataset

from itt.errors import DataError
from itt.tasks.base import Task

log = logging.getLogger(__name__)


def _keys(rows: Dataset) -> np.ndarray:
    """One key per row: its ``id`` (present when split by shared id), hashed."""
    return np.fromiter((xxhash.xxh3_64_intdigest(str(i).encode()) for i in rows["id"][:]), dtype=np.uint64,
                       count=len(rows))


def id_keys(rows: Dataset) -> np.ndarray:
    """The sorted unique keys of a split's row ids."""
    if "id" not in rows.column_names or not len(rows):
        return np.empty(0, dtype=np.uint64)
    return np.unique(_keys(rows))


def digest(keys: np.ndarray) -> str:
    """What a cache key records of the ids left out."""
    return hashlib.sha1(np.ascontiguousarray(keys, dtype=np.uint64).tobytes()).hexdigest()[:16]


def trained_rows(rows: Dataset, task, trained: np.ndarray) -> np.ndarray:
    """Which of ``rows`` have their id in ``trained`` (for a kind that groups rows: which share a group with one)."""
    if not len(rows) or not len(trained):
        return np.zeros(len(rows), dtype=bool)
    seen = np.isin(_keys(rows), trained)
    groups = task.split_groups(rows) if seen.any() else None
    if groups is not None:
        touched = {g for g, s in zip(groups, seen) if s}
        seen = np.fromiter((g in touched for g in groups), dtype=bool, count=len(rows))
    return seen


def without_trained(splits: dict[str, Dataset], task, trained: np.ndarray, where: str) -> dict[str, Dataset]:
    """``splits`` (an eval set's validation and test rows) without the rows whose id is in ``trained``, and, for a
    kind that groups rows, without every row of a group that holds one. One log line says what was left out."""
    out, said = {}, []
    for split, rows in splits.items():
        seen = trained_rows(rows, task, trained)
        if seen.all() and len(rows):
            raise DataError(f"{where}: all {len(rows):,} {split} rows are translations of rows the run trains on "
                            "(aligned_with); leave the eval set out (stage.evals) or train on other rows")
        if seen.any():
            said.append(f"{int(seen.sum()):,} of {len(rows):,} {split} rows")
            rows = rows.select(np.flatnonzero(~seen))
        out[split] = rows
    if said:
        grouped = type(task).split_groups is not Task.split_groups
        log.info("%s: left out %s: translations of rows the run trains on%s", where, " and ".join(said),
                 " (or of their paragraph's questions)" if grouped else "")
    return out
