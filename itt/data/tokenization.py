"""Prepared datasets cached on disk, shared by every run, stage and sweep job that can use them.

An entry holds a dataset's encoded features (what batches are made of) for each split, its canonical
validation and test rows (what evaluators that need the text, e.g. QA, read) and its label names. The
key is everything that determines them: the spec (a local file by its content), the split protocol
and seed, the kind and its options, the tokenizer's own serialisation and the max length. A rerun,
the no-ITT twin of an ITT run, or a second model with the same tokenizer reads Arrow files and
tokenizes nothing. ``datasets`` writes each file under a temporary name and renames it; a file lock
keeps two jobs from building the same entry at once; ``meta.json`` is written last, so its presence
means the entry is complete.
"""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path
from typing import Callable

from datasets import Dataset, DatasetDict
from filelock import FileLock

log = logging.getLogger(__name__)
#: Bump when what an entry holds changes for the same key (canonicalisation, encoding, layout).
FORMAT = 5


def tokenizer_fingerprint(tokenizer) -> str:
    """What decides the token ids: vocabulary, normalizer, pre-tokenizer, model, post-processor. Not the
    backend's truncation/padding state: ``transformers`` sets that on each call (so it changes once the
    tokenizer has been used), and ``encode`` passes both explicitly anyway."""
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is not None:
        state = json.loads(backend.to_str())
        state.pop("truncation", None)
        state.pop("padding", None)
        body = json.dumps(state, sort_keys=True)
    else:
        body = f"{tokenizer.name_or_path}:{len(tokenizer)}"
    extra = f"{type(tokenizer).__name__}:{tokenizer.padding_side}:{tokenizer.truncation_side}"
    return hashlib.sha1((body + extra).encode()).hexdigest()[:12]


def cache_key(payload: dict) -> str:
    return hashlib.sha1(json.dumps({"format": FORMAT, **payload}, sort_keys=True, default=str).encode()).hexdigest()[:16]


def cached_entry(cache_dir: Path, key: str, build: Callable[[], tuple[DatasetDict, list[str]]],
                 encode: Callable, desc: str) -> tuple[DatasetDict, DatasetDict, list[str], bool]:
    """(features, evaluation rows, label names, cache hit) of an entry, building it with ``build``
    (canonical splits and labels) and ``encode`` (a batched map function) when it is missing."""
    entry = Path(cache_dir) / "prepared" / key
    entry.mkdir(parents=True, exist_ok=True)
    meta_file = entry / "meta.json"
    with FileLock(str(entry) + ".lock"):
        if meta_file.exists():
            meta = json.loads(meta_file.read_text())
            features = DatasetDict({s: Dataset.from_file(str(entry / f"features-{s}.arrow")) for s in meta["splits"]})
            rows = DatasetDict({s: Dataset.from_file(str(entry / f"rows-{s}.arrow")) for s in meta["row_splits"]})
            return features, rows, meta["labels"], True
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
        tmp = meta_file.with_suffix(".tmp")
        tmp.write_text(json.dumps({"labels": labels, "splits": list(canonical), "row_splits": row_splits}))
        tmp.replace(meta_file)
        return features, rows, labels, False
