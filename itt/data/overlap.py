"""Identical items across the datasets of a run and the runs it starts from.

Datasets of different roles can share items: XTREME's ``udpos.English`` contains UD English-EWT, the
``pos`` task's intermediate; a user's target may be carved from the intermediate's corpus. Under
``split=paper`` each dataset is pooled and re-split, so an ITT target can be tested on items its
intermediate trained on, and its gain over no-ITT is inflated. Items are never dropped here (the
no-ITT sibling must keep the same test set for the paired comparison); they are counted, recorded in
the ledger row and said in one warning line.

An item is what ``Task.item_text`` makes of a canonical row, with whitespace normalised; its key is
xxHash's 64-bit XXH3 of that text (xxhash comes with ``datasets``, which hashes its own fingerprints with
it). By default that is ``Task.row_text``, every text field of the kind joined (the text and its pair, a
sentence's tokens, QA's question and context), and labels are not part of the item: the same input under
another label is still seen. Multiple choice is keyed on its premise, question and right choice: a row
that repeats them with another wrong choice, its choices in another order or another number of choices
is the item an ancestor trained on (keyed on every choice, such near-duplicates, which leak the answer,
would count 0). Texts are built in Arrow (a token list joined there is 5x
faster than row by row in Python) and normalised in Python (3x faster than Arrow's utf8_split_whitespace):
200k sentences of 5-40 words key in 0.6-0.9 s, as texts or as token lists, and sort into a fingerprint in
0.1-0.2 s more (2 shared cores). The keys are stored with the prepared data, so a cache hit reads them.

Every run writes the sorted unique keys of its training items to ``<run dir>/train_items.npy``
(8 bytes per item), and next to it ``train_items.json``, the ``Task.item_version`` of each kind they
were keyed as. A run with ancestors (an ITT target, a later chain step) counts the validation and test items
found in any ancestor's file of every set it scores: its own, each member of a mixture, each eval set (and
every run, ancestors or not, its eval sets' test items that it trains on itself). Keys of two definitions are
never compared: an ancestor whose file keys one of its kinds under another version than today's (none
recorded: version 1, the files written before versions were) leaves the run's overlap unchecked, with a
reason naming ``force=true`` on that ancestor, as an ancestor without the file does. Versions are per kind, so when one kind's
``item_text`` changes only ancestors that trained on that kind need rerunning; the rest stay checked.
(Cached keys of a stale version are made again with the prepared data, ``itt.data.tokenization``.)
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import xxhash

from itt.tasks import kind_class
from itt.tasks.base import Task

log = logging.getLogger(__name__)

FILE = "train_items.npy"
VERSIONS = "train_items.json"  # the item version of each kind FILE's keys were made under


def item_keys(task, rows) -> np.ndarray:
    """One uint64 key per canonical row of ``rows`` (a ``datasets.Dataset``), in row order."""
    if not len(rows):
        return np.empty(0, dtype=np.uint64)
    if type(task).item_text is Task.item_text and type(task).row_text is Task.row_text:  # column by column in Arrow
        texts = _default_texts(rows.with_format("arrow")[:])
    else:
        texts = pa.array([task.item_text(row) for row in rows], pa.string())
    # Whitespace runs become one space, ends stripped (in Python: 3x faster than Arrow's utf8_split_whitespace).
    return np.fromiter((xxhash.xxh3_64_intdigest(" ".join(text.split()).encode()) for text in texts.to_pylist()),
                       dtype=np.uint64, count=len(rows))


def _default_texts(table: pa.Table) -> pa.ChunkedArray:
    """``Task.row_text`` of every row: the string columns and lists of strings, in column order (``id``
    left out), joined by spaces."""
    parts = []
    for name, column in zip(table.column_names, table.columns):
        kind = column.type
        if name == "id":
            continue
        if pa.types.is_string(kind) or pa.types.is_large_string(kind):
            parts.append(column.fill_null(""))
        elif (pa.types.is_list(kind) or pa.types.is_large_list(kind)) and (
                pa.types.is_string(kind.value_type) or pa.types.is_large_string(kind.value_type)):
            parts.append(pc.binary_join(column, " ").fill_null(""))
    if not parts:
        return pa.chunked_array([pa.array([""] * len(table), pa.string())])
    return pc.binary_join_element_wise(*parts, " ")


def fingerprint(*keys: np.ndarray) -> np.ndarray:
    """The sorted unique keys of several key arrays (a mixture's members)."""
    return np.unique(np.concatenate(keys)) if keys else np.empty(0, dtype=np.uint64)


def item_versions(prepared: list) -> dict[str, int]:
    """The item version of each kind among ``prepared`` (``Prepared`` datasets): what their keys mean."""
    return {p.task.kind: p.task.item_version for p in prepared}


def write(run_dir: Path, keys: np.ndarray, versions: dict[str, int]) -> Path:
    path, versions_path = Path(run_dir) / FILE, Path(run_dir) / VERSIONS
    # The versions go first and come back last: a file left without them reads as version 1's keys, which
    # an ancestor check treats as stale for any kind keyed otherwise today, never as fresh.
    versions_path.unlink(missing_ok=True)
    tmp = path.with_suffix(".tmp.npy")
    np.save(tmp, keys)
    tmp.replace(path)  # a reader never sees half a file
    tmp = versions_path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"item_versions": versions}, sort_keys=True))
    tmp.replace(versions_path)
    return path


def read(run_dir: Path) -> np.ndarray | None:
    path = Path(run_dir) / FILE
    return np.load(path) if path.exists() else None


def read_versions(run_dir: Path) -> dict[str, int]:
    """The item version per kind of a run's FILE; {} (every kind version 1) for a file written before them."""
    path = Path(run_dir) / VERSIONS
    return json.loads(path.read_text())["item_versions"] if path.exists() else {}


def stale_kinds(run_dir: Path, kinds: list[str]) -> list[str]:
    """Which of an ancestor's ``kinds`` (as its config names them) its FILE keyed under another item
    version than the kind's today, each as "<kind> (version <then>, now <now>)"."""
    recorded = read_versions(run_dir)
    out = []
    for name in dict.fromkeys(kinds):
        cls = kind_class(name)
        then = recorded.get(cls.kind, 1)
        if then != cls.item_version:
            out.append(f"{cls.kind} (version {then}, now {cls.item_version})")
    return out


def count_in(keys: np.ndarray, seen: np.ndarray) -> int:
    """How many of ``keys`` (duplicates each counted) are in the sorted unique ``seen``."""
    if not len(keys) or not len(seen):
        return 0
    at = np.searchsorted(seen, keys).clip(max=len(seen) - 1)
    return int(np.count_nonzero(seen[at] == keys))


def measure(train: list, evals: list, ancestors: list[tuple[str, Path]]) -> tuple[np.ndarray, dict]:
    """(this run's training fingerprint, the ledger row's ``overlap`` record).

    ``train``: the run's ``Prepared`` training sets (the first one's validation and test split are the
    run's own); ``evals``: its eval sets; ``ancestors``: (run id, run dir, the kinds it trained on) of
    every earlier run of its chain, oldest first."""
    own = fingerprint(*(p.items["train"] for p in train))
    first = train[0].items
    record = {"ancestors": [run_id for run_id, *_ in ancestors], "checked": True, "reason": None,
              "validation": 0, "test": 0, "evals": {}, "evals_validation": {}, "by_ancestor": [],
              # duplicates inside the run's own data: a data problem of its own, recorded, not warned about; and
              # eval sets' test items the run itself trains on (their scores are inflated): warned about
              "self": {**{split: count_in(first[split], own) for split in ("validation", "test")},
                       "evals": {p.name: count_in(p.items["test"], own) for p in evals if "test" in p.items}}}
    unchecked = {**record, "checked": False, "validation": None, "test": None, "evals": None,
                 "evals_validation": None, "by_ancestor": None}
    seen = []
    for run_id, run_dir, kinds in ancestors:
        keys = read(run_dir)
        if keys is None:
            return own, {**unchecked, "reason": f"ancestor {run_id} has no {FILE} (trained before itt recorded "
                                                "training items); force=true on it records them"}
        if stale := stale_kinds(run_dir, kinds):
            return own, {**unchecked, "reason": f"ancestor {run_id}'s {FILE} keys items of {', '.join(stale)} "
                                                "the old way (an item is defined otherwise now); force=true on "
                                                "it records them again"}
        seen.append(keys)
        record["by_ancestor"].append(count_in(first["test"], keys))
    if not seen:
        return own, record
    union = fingerprint(*seen)
    record["validation"] = count_in(first["validation"], union)
    record["test"] = count_in(first["test"], union)
    scored = scored_by_name(train, evals)
    record["evals"] = {p.name: count_in(p.items["test"], union) for p in scored if "test" in p.items}
    # An eval set's validation split picks the checkpoint under stage.select_on, a mixture member's under
    # intermediate.select_on, and is reported as val/<name>/... in any case.
    record["evals_validation"] = {p.name: count_in(p.items["validation"], union)
                                  for p in scored if "validation" in p.items}
    return own, record


def scored_by_name(train: list, evals: list) -> list:
    """The sets a run scores under their own name: its eval sets and, in a mixture, every member (the run's
    metrics name them ``test/<member>/...``); a single training set is the run's own (``test/...``)."""
    return [*(train if len(train) > 1 else []), *evals]


def warn(run_id: str, record: dict, sizes: dict[str, int]) -> None:
    """One warning line when any validation, test or eval-set item was trained on by an ancestor, and one when an
    eval set's test items are the run's own training items."""
    own = {name: n for name, n in ((record.get("self") or {}).get("evals") or {}).items() if n}
    if own:
        log.warning("%s: test items of eval sets are identical to items it trains on: %s; their scores there are "
                    "inflated (ledger: overlap.self.evals). Remove the duplicates from one dataset, or leave the eval "
                    "set out (stage.evals)", run_id, ", ".join(f"{k} {v}" for k, v in own.items()))
    if not record.get("ancestors"):
        return
    if not record.get("checked"):
        log.warning("%s: item overlap with its ancestors not checked: %s", run_id, record["reason"])
        return
    evals = {name: n for name, n in (record.get("evals") or {}).items() if n}
    evals_validation = {name: n for name, n in (record.get("evals_validation") or {}).items() if n}
    if not (record["test"] or record["validation"] or evals or evals_validation):
        return
    culprits = [a for a, n in zip(record["ancestors"], record["by_ancestor"]) if n] or record["ancestors"]
    eval_text = "".join(f"; {what}: {', '.join(f'{k} {v}' for k, v in found.items())}"
                        for what, found in (("eval sets' test", evals), ("eval sets' validation", evals_validation))
                        if found)
    log.warning("%s: %d of %d test and %d of %d validation items are identical to items its ancestor %s trained on%s; "
                "its ITT gain is inflated on them (items kept: the no-ITT run tests on the same set). Use "
                "split=official where the datasets' official splits are disjoint, or remove the duplicates "
                "from one dataset (ledger: overlap)", run_id, record["test"], sizes.get("test", 0),
                record["validation"], sizes.get("validation", 0), ", ".join(culprits), eval_text)
