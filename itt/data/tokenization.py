"""Prepared datasets cached on disk, shared by every run, stage and sweep job that can use them.

An entry holds a dataset's encoded features (what batches are made of) for each split, its canonical
validation and test rows (what evaluators that need the text, e.g. QA, read), its label names and one
item key per canonical row of every split (``items-<split>.npy``, ``itt.data.overlap``) with the kind's
item version they were made under (``items.json``; none: version 1); for a dataset split by shared id, the
keys of its training rows' ids (``ids-train.npy``, ``itt.data.held_out``). The
key is everything that determines them: the spec (a local file by its content), the split protocol
and seed, the kind and its options, the tokenizer's own serialisation and the max length. A rerun,
the no-ITT twin of an ITT run, or a second model with the same tokenizer reads Arrow files and
tokenizes nothing. ``datasets`` writes each file under a temporary name and renames it; a file lock
keeps two jobs from building the same entry at once; ``meta.json`` is written last, so its presence
means the entry is complete. Item keys of another version than the kind's (an entry from before its
kind's ``item_text`` changed) or none (an entry from before item keys) are made again from the canonical
rows, nothing re-tokenized, so keys of two definitions never meet.
"""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path
from typing import Callable

import numpy as np
from datasets import Dataset, DatasetDict
from filelock import FileLock

from itt.errors import writing

log = logging.getLogger(__name__)
#: Bump when what an entry holds changes for the same key (canonicalisation, encoding, layout).
FORMAT = 5


def tokenizer_fingerprint(tokenizer) -> str:
    """What decides the features: vocabulary, normalizer, pre-tokenizer, model, post-processor, and the
    columns returned (``model_input_names``). Not the backend's truncation/padding state: ``transformers``
    sets that on each call (so it changes once the tokenizer has been used), and ``encode`` passes both
    explicitly anyway."""
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is not None:
        state = json.loads(backend.to_str())
        state.pop("truncation", None)
        state.pop("padding", None)
        body = json.dumps(state, sort_keys=True)
    else:
        body = f"{tokenizer.name_or_path}:{len(tokenizer)}"
    extra = f"{type(tokenizer).__name__}:{tokenizer.padding_side}:{tokenizer.truncation_side}"
    # which columns it returns (token_type_ids or not: itt.models.loading.load_tokenizer)
    extra += ":" + ",".join(tokenizer.model_input_names)
    return hashlib.sha1((body + extra).encode()).hexdigest()[:12]


def cache_key(payload: dict) -> str:
    return hashlib.sha1(json.dumps({"format": FORMAT, **payload}, sort_keys=True, default=str).encode()).hexdigest()[:16]


def cached_entry(cache_dir: Path, key: str, build: Callable[[], tuple[DatasetDict, list[str]]],
                 encode: Callable, desc: str, item_keys: Callable[[Dataset], np.ndarray], item_version: int = 1,
                 commit: str | None = None, id_keys: Callable[[Dataset], np.ndarray] | None = None
                 ) -> tuple[DatasetDict, DatasetDict, list[str], dict[str, np.ndarray], bool, np.ndarray | None]:
    """(features, evaluation rows, label names, item keys per split, cache hit, training id keys) of an entry,
    building it with ``build`` (canonical splits and labels), ``encode`` (a batched map function) and
    ``item_keys`` (one key per canonical row, made the kind's way number ``item_version``) when it is missing.
    ``id_keys``: the keys of a training split's ids, for a dataset split by shared id (None: not kept).

    ``commit``: the hub commit the data's revision points at now, where the hub can be asked. An entry built
    from another commit (``main`` moved) is built again; one built where the hub could not be asked, or asked
    now from where it cannot (an offline compute node), is served: the key is the same either way."""
    # A full, read-only or misplaced cache (paths.cache under a file) is one line naming it, not a traceback.
    with writing(cache_dir, "paths.cache"):
        entry = Path(cache_dir) / "prepared" / key
        entry.mkdir(parents=True, exist_ok=True)
        meta_file = entry / "meta.json"
        with FileLock(str(entry) + ".lock"):
            meta = json.loads(meta_file.read_text()) if meta_file.exists() else None
            if meta is not None and _other_commit(entry, meta.get("commit"), commit):
                meta_file.unlink()
                meta = None
            if meta is not None:
                features = DatasetDict({s: Dataset.from_file(str(entry / f"features-{s}.arrow"))
                                        for s in meta["splits"]})
                rows = DatasetDict({s: Dataset.from_file(str(entry / f"rows-{s}.arrow")) for s in meta["row_splits"]})
                items = _items(entry, meta["splits"], item_version)
                ids = _train_ids(entry) if id_keys is not None else None
                if items is None or (id_keys is not None and ids is None):
                    # keys missing or of another version (an entry from before them): its canonical rows again,
                    # nothing re-tokenized
                    canonical = build()[0]
                    if items is None:
                        items = _write_items(entry, canonical, item_keys, item_version)
                    if id_keys is not None and ids is None:
                        ids = _write_train_ids(entry, canonical, id_keys)
                return features, rows, meta["labels"], items, True, ids
            # Files a killed or superseded build left: datasets would read a cache file back as it is.
            for stale in [*entry.glob("*.arrow"), *entry.glob("items-*.npy"), entry / ITEMS_META, entry / TRAIN_IDS]:
                stale.unlink(missing_ok=True)
            canonical, labels = build()
            features = DatasetDict({
                s: ds.map(encode, batched=True, fn_kwargs={"training": s == "train"}, remove_columns=ds.column_names,
                          cache_file_name=str(entry / f"features-{s}.arrow"), new_fingerprint=f"{key}-features-{s}",
                          desc=f"tokenize {desc} {s}")
                for s, ds in canonical.items()})
            row_splits = [s for s in canonical if s != "train"]
            rows = DatasetDict({s: canonical[s].flatten_indices(cache_file_name=str(entry / f"rows-{s}.arrow"),
                                                                new_fingerprint=f"{key}-rows-{s}")
                                for s in row_splits})
            items = _write_items(entry, canonical, item_keys, item_version)
            ids = _write_train_ids(entry, canonical, id_keys) if id_keys is not None else None
            tmp = meta_file.with_suffix(".tmp")
            tmp.write_text(json.dumps({"labels": labels, "splits": list(canonical), "row_splits": row_splits,
                                       "commit": commit}))
            tmp.replace(meta_file)
            return features, rows, labels, items, False, ids


ITEMS_META = "items.json"
TRAIN_IDS = "ids-train.npy"


def _train_ids(entry: Path) -> np.ndarray | None:
    path = entry / TRAIN_IDS
    return np.load(path) if path.exists() else None


def _write_train_ids(entry: Path, canonical: DatasetDict, id_keys: Callable) -> np.ndarray:
    """The keys of the training split's ids (an empty array for a dataset without one: an eval set)."""
    ids = id_keys(canonical["train"]) if "train" in canonical else np.empty(0, dtype=np.uint64)
    tmp = entry / "ids-train.tmp.npy"
    np.save(tmp, ids)
    tmp.replace(entry / TRAIN_IDS)
    return ids


def _other_commit(entry: Path, built: str | None, commit: str | None) -> bool:
    if commit and built and built != commit:
        log.info("prepared data %s: built from hub commit %s, the revision points at %s now: building it again",
                 entry.name, built[:12], commit[:12])
        return True
    return False


def _items(entry: Path, splits: list[str], version: int) -> dict[str, np.ndarray] | None:
    """The entry's item keys, or None when it has none or has them under another version (none
    recorded: version 1, the entries written before versions were)."""
    paths = {s: entry / f"items-{s}.npy" for s in splits}
    if not all(p.exists() for p in paths.values()):
        return None
    meta = entry / ITEMS_META
    if (json.loads(meta.read_text())["version"] if meta.exists() else 1) != version:
        return None
    return {s: np.load(p) for s, p in paths.items()}


def _write_items(entry: Path, canonical: DatasetDict, item_keys: Callable, version: int) -> dict[str, np.ndarray]:
    items = {s: item_keys(ds) for s, ds in canonical.items()}
    # The version goes first and comes back last: after a crash in between, the keys read as version 1's (what
    # they were, or made again) and never as a later version's.
    (entry / ITEMS_META).unlink(missing_ok=True)
    for s, keys in items.items():
        np.save(entry / f"items-{s}.tmp.npy", keys)
        (entry / f"items-{s}.tmp.npy").replace(entry / f"items-{s}.npy")
    tmp = entry / "items.tmp"
    tmp.write_text(json.dumps({"version": version}))
    tmp.replace(entry / ITEMS_META)
    return items
