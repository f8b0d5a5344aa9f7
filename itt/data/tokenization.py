"""Tokenized splits cached on disk, shared by every run, stage and sweep job that can use them.

The cache key is everything that determines the token ids: the dataset spec, the split protocol and
seed, the tokenizer's own serialisation and the max length. A rerun, the no-ITT twin of an ITT run,
or a second model with the same tokenizer loads the Arrow files and tokenizes nothing. ``datasets``
writes each file to a temporary name and renames it, and a file lock keeps two jobs from building
the same entry at once.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import asdict
from pathlib import Path
from typing import Callable

from datasets import Dataset, DatasetDict
from filelock import FileLock

log = logging.getLogger(__name__)
SPLITS = ("train", "validation", "test")


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


def cache_key(spec, split_cfg, seed: int, source: str, tokenizer, max_length: int, kind: str) -> str:
    payload = {
        "spec": asdict(spec), "split": dict(split_cfg), "seed": seed, "kind": kind,
        "source": source, "tokenizer": tokenizer_fingerprint(tokenizer), "max_length": max_length,
    }
    return hashlib.sha1(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[:16]


def cached_splits(cache_dir: Path, key: str, build: Callable[[], tuple[DatasetDict, list[str]]],
                  tokenizer, max_length: int) -> tuple[DatasetDict, list[str], bool]:
    """Tokenized train/validation/test and label names; the flag says whether the cache was hit."""
    entry = Path(cache_dir) / "tokenized" / key
    entry.mkdir(parents=True, exist_ok=True)
    files = {s: entry / f"{s}.arrow" for s in SPLITS}
    labels_file = entry / "labels.json"
    with FileLock(str(entry) + ".lock"):
        if all(f.exists() for f in files.values()) and labels_file.exists():
            splits = DatasetDict({s: Dataset.from_file(str(f)) for s, f in files.items()})
            return splits, json.loads(labels_file.read_text()), True
        raw, labels = build()
        encode = _encoder(tokenizer, max_length, pair="text_pair" in raw["train"].column_names)
        splits = DatasetDict({
            s: raw[s].map(encode, batched=True, remove_columns=[c for c in raw[s].column_names if c != "label"],
                          cache_file_name=str(files[s]), new_fingerprint=f"{key}-{s}", desc=f"tokenize {s}")
            for s in SPLITS
        })
        tmp = labels_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(labels))
        tmp.replace(labels_file)  # written last: its presence means the entry is complete
        return splits, labels, False


def _encoder(tokenizer, max_length: int, pair: bool):
    def encode(batch):
        args = (batch["text"], batch["text_pair"]) if pair else (batch["text"],)
        out = tokenizer(*args, truncation=True, max_length=max_length)
        out["length"] = [len(ids) for ids in out["input_ids"]]
        return out
    return encode
