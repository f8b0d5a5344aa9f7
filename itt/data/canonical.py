"""A dataset's declared splits -> the task kind's canonical columns, subsampling *before* processing.

``max_rows`` is applied to row indices first: a seeded permutation of the rows (of the pooled splits
for ``split=paper``, of the train split for ``split=official``) is processed chunk by chunk in
batched ``Dataset.map`` calls until ``max_rows`` rows survived, so a 3.6M-row hub dataset capped at
200k never has its other 3.4M rows read into Python. Rows a spec drops on purpose (empty text, a
label mapped to null) are counted and reported in one warning line per reason; any other bad row is
a one-line ``DataError`` naming the split and the row's number in it.

When the data is split by a shared id (``aligned_with``), every canonical row carries ``id``: the
spec's ``id_field`` value, or ``<split>:<row>`` named after the dataset's own split (``own_names``: MLQA German's
``test`` rows are ``test:<row>`` also where a spec trains on them, as the translations in MLQA English's ``test``
split are), so a row and its translation share an id whatever role each plays.
"""

from __future__ import annotations

import logging

import numpy as np
from datasets import Dataset, concatenate_datasets

from itt.tasks import RawColumns, Task

log = logging.getLogger(__name__)
RAW = "raw:"  # prefix of the raw columns while they are turned into canonical ones


def canonicalize(splits: dict[str, Dataset], task: Task, ctx: RawColumns, max_rows: int | None, seed: int,
                 with_ids: bool = False, own_names: dict[str, str] | None = None) -> Dataset:
    """The canonical rows of ``splits`` (split name -> raw dataset) pooled in split order, at most
    ``max_rows`` of them (a seeded random subset of the rows that survive), with ``id`` if asked. ``own_names``: the
    dataset's own name of each split (the spec's ``splits``), which positional ids are named after."""
    own_names = own_names or {}
    sizes = {name: len(ds) for name, ds in splits.items()}
    total = sum(sizes.values())
    if max_rows is None or max_rows >= total:
        parts = [_canonical(ds, name, np.arange(len(ds)), task, ctx, with_ids, own_names.get(name, name))
                 for name, ds in splits.items()]
        return _pooled(parts)
    # Pool positions -> (split, row); process the permutation in chunks until max_rows rows survived.
    names = list(splits)
    starts = np.cumsum([0] + [sizes[n] for n in names])
    order = np.random.default_rng(seed).permutation(total)
    parts, kept = [], 0
    step = max_rows + max(100, max_rows // 20)  # a little over: rows the spec drops need replacing
    for begin in range(0, total, step):
        chunk = order[begin:begin + step]
        for i, name in enumerate(names):
            rows = np.sort(chunk[(chunk >= starts[i]) & (chunk < starts[i + 1])] - starts[i])
            if len(rows):
                part = _canonical(splits[name], name, rows, task, ctx, with_ids, own_names.get(name, name))
                parts.append(part)
                kept += len(part)
        if kept >= max_rows:
            break
    pooled = _pooled(parts)
    # Sorting within a chunk kept Arrow reads sequential; shuffle so the cap takes a random subset.
    return pooled.shuffle(seed=seed).select(range(min(max_rows, len(pooled))))


def _canonical(ds: Dataset, split: str, rows: np.ndarray, task: Task, ctx: RawColumns, with_ids: bool,
               own_name: str) -> Dataset:
    """One split's ``rows`` in canonical columns (a batched map over the selected rows, kept in memory); positional
    ids are named after ``own_name``, the dataset's name of the split."""
    where = f"{ctx.where} [{split}]"
    part_ctx = RawColumns(ctx.spec, ctx.labels, where, ds.features, ctx.dropped)
    selected = ds if len(rows) == len(ds) else ds.select(rows)
    id_field = ctx.spec.id_field

    def convert(batch, positions):
        numbers = [int(rows[p]) for p in positions]
        batch = {name[len(RAW):]: values for name, values in batch.items()}
        out, kept = task.canonical_batch(batch, numbers, part_ctx)
        if with_ids:
            out["id"] = [str(batch[id_field][k]) if id_field else f"{own_name}:{numbers[k]}" for k in kept]
        return out

    if id_field and id_field not in ds.column_names:
        from itt.errors import DataError  # noqa: PLC0415

        raise DataError(f"{where}: id_field {id_field!r} not found; columns are: {', '.join(ds.column_names)}")
    # Renamed first: a canonical column named like a raw one (``label``) would otherwise keep the raw type.
    selected = selected.rename_columns({c: RAW + c for c in ds.column_names})
    return selected.map(convert, batched=True, batch_size=1000, with_indices=True,
                        remove_columns=selected.column_names, keep_in_memory=True,
                        new_fingerprint=f"canonical-{split}-{len(rows)}", desc=f"read {split}")


def _pooled(parts: list[Dataset]) -> Dataset:
    parts = [p for p in parts if len(p)] or parts[:1]
    return parts[0] if len(parts) == 1 else concatenate_datasets(parts)


def report_dropped(ctx: RawColumns) -> None:
    """One warning line per reason rows were dropped (counted over every split read)."""
    for reason, n in sorted(ctx.dropped.items()):
        log.warning("%s: dropped %d row(s): %s", ctx.where, n, reason)
