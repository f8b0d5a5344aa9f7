"""One dataset spec -> encoded train/validation/test features and evaluation rows, from the cache.

The steps, each in its own module: read the declared splits (``loading``), turn them into the kind's
canonical rows with ``max_rows`` applied first (``canonical``), split them (``splitting``), encode them
and cache the result (``tokenization``).
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from pathlib import Path

from datasets import DatasetDict

from itt import hub_access
from itt.data import embedded, held_out
from itt.data.canonical import canonicalize, report_dropped
from itt.data.files import (POSITIONAL_IDS, fingerprint, is_local, is_stand_in, quoting_changes_rows, renamed_splits,
                            split_changes)
from itt.data.loading import load_embedded, load_raw
from itt.data.overlap import item_keys
from itt.data.splitting import make_splits
from itt.data.tokenization import cache_key, cached_entry, tokenizer_fingerprint
from itt.tasks import RawColumns, Task

log = logging.getLogger(__name__)


@dataclass
class Prepared:
    name: str  # the role (task.datasets) or eval set (task.evals) name
    spec: object  # itt.schema.DatasetSpec
    task: Task
    labels: list[str]
    features: DatasetDict  # encoded: train (not for eval sets), validation, test
    rows: DatasetDict  # canonical validation and test rows
    cache_hit: bool
    where: str
    items: dict  # split -> one uint64 item key per canonical row, in row order (itt.data.overlap)
    train_ids: object = None  # split by shared id: the keys of its training rows' ids (itt.data.held_out)

    def sizes(self) -> dict[str, int]:
        return {s: len(d) for s, d in self.features.items()}


@dataclass(frozen=True)
class Protocol:
    """How every dataset of a run is split and encoded."""

    split: object  # the split config node (name, train, validation, test)
    seed: int
    source: str
    max_length: int
    cache_dir: Path
    hub_timeout_s: float = 5.0


def prepare(name: str, spec, task: Task, tokenizer, protocol: Protocol, *, by_id: bool = False,
            eval_only: bool = False, where: str = "", trained_ids=None) -> Prepared:
    """``trained_ids``: keys of the training ids an eval set's rows must not have (``itt.data.held_out``)."""
    where = where or f"task.datasets.{name} ({spec.path})"
    local = is_local(spec.path)
    stand_in = is_stand_in(protocol.source, spec.path)
    payload = {
        "spec": spec_payload(spec, stand_in), "content": fingerprint(spec.path) if local else None,
        "split": {k: protocol.split[k] for k in ("name", "train", "validation", "test")}, "seed": protocol.seed,
        "source": protocol.source, "kind": task.kind, "options": task.options, "by_id": by_id, "eval_only": eval_only,
        "tokenizer": tokenizer_fingerprint(tokenizer), "max_length": protocol.max_length,
    }
    if stand_in:  # a pretrained tokenizer would not tell old rows
        payload["generated_by"] = embedded.source_version()
    payload.update(changed_splits(spec, task, protocol, by_id, eval_only))
    if trained_ids is not None:
        payload["without_trained_ids"] = held_out.digest(trained_ids)

    def build():
        return split_rows(spec, task, protocol, by_id, eval_only, where, trained_ids)

    def encode(batch, training):
        return task.encode(batch, tokenizer, protocol.max_length, training)

    # A moving revision (main, refs/convert/parquet) is other data once the hub moves it: the entry records the
    # commit it was built from and is built again from another one.
    commit = hub_access.resolved_revision(spec.path, spec.revision) if protocol.source == "hub" and not local else None
    features, rows, labels, items, hit, train_ids = cached_entry(
        protocol.cache_dir, cache_key(payload), build, encode, name, lambda ds: item_keys(task, ds), task.item_version,
        commit, held_out.id_keys if by_id and not eval_only else None)
    log.info("data %s: %s (cache %s)", where, ", ".join(f"{s}={len(d)}" for s, d in features.items()),
             "hit" if hit else "built")
    return Prepared(name, spec, task, labels, features, rows, hit, where, items, train_ids)


def spec_payload(spec, stand_in: bool) -> dict:
    """A spec's fields as cache keys see them: ``embedded_offset`` and ``embedded_domain`` only for a stand-in
    that sets them (they choose its rows; real data is the same whatever they say), ``quoting`` only where it reads
    other rows than the default, so other specs keep the key they had before the fields existed (as
    ``identity.dataset_payload`` does for run ids); ``generator`` only for a stand-in (``build.dataset_spec``
    resolves it for stand-ins alone)."""
    out = asdict(spec)
    for key in ("embedded_offset", "embedded_domain"):
        if not (stand_in and out.get(key)):
            out.pop(key, None)
    if not (is_local(spec.path) and quoting_changes_rows(spec.path, out.get("quoting"))):
        out.pop("quoting", None)
    if not stand_in:
        out.pop("generator", None)
    return out


def changed_splits(spec, task: Task, protocol: Protocol, by_id: bool, eval_only: bool) -> dict:
    """Cache-key entries of a dataset whose splits differ from older versions' (``files.split_changes``), or whose rows
    have other ids (``files.renamed_splits``: positional ids named after the dataset's own split, where older versions
    named them after the canonical one; the entry holds its ids)."""
    out = split_changes(protocol.split.name, protocol.source, spec.path, spec.splits, by_id=by_id, eval_only=eval_only,
                        grouped=type(task).split_groups is not Task.split_groups)
    if by_id and not spec.id_field and renamed_splits(protocol.source, spec.path, spec.splits):
        out["positional_ids"] = POSITIONAL_IDS
    return out


def split_rows(spec, task: Task, protocol: Protocol, by_id: bool = False, eval_only: bool = False,
               where: str = "", trained_ids=None) -> tuple[DatasetDict, list[str]]:
    """The canonical train/validation/test rows of a spec (no tokenisation, no cache) and its labels; an eval set's
    without the rows whose ids are in ``trained_ids`` (``itt.data.held_out``)."""
    where = where or f"task.datasets ({spec.path})"
    split_cfg = protocol.split
    if is_stand_in(protocol.source, spec.path):
        rows, labels = load_embedded(spec, task)
        if by_id and "id" not in rows.column_names:  # a generator's own ids (QA) are shared across languages already
            # the row's place in its generator's stream: the same row (or its translation) has the same id in every stand-in
            rows = rows.add_column("id", [f"train:{spec.embedded_offset + i}" for i in range(len(rows))])
        canonical = {"pool": rows} if split_cfg.name == "paper" else {"train": rows}
    else:
        raw, source_name = load_raw(spec, protocol.source, protocol.hub_timeout_s, where)
        labels = task.label_names(raw, spec)
        ctx = RawColumns(spec, labels, where)
        names = {s: theirs for s, theirs in (spec.splits or {}).items() if theirs}  # the dataset's own split names
        if split_cfg.name == "paper":
            canonical = {"pool": canonicalize(raw, task, ctx, spec.max_rows, protocol.seed, by_id, names)}
        else:  # max_rows caps the training rows only; validation and test stay whole
            canonical = {s: canonicalize({s: ds}, task, ctx, spec.max_rows if s == "train" else None, protocol.seed, by_id,
                                         names) for s, ds in raw.items()}
        report_dropped(ctx)
    splits = make_splits(canonical, split_cfg, task, protocol.seed, where, by_id=by_id, eval_only=eval_only)
    if trained_ids is not None:
        splits = DatasetDict(held_out.without_trained(dict(splits), task, trained_ids, where))
    return splits, labels
