"""The results ledger: ``${paths.root}/results.jsonl``, one JSON object per finished run.

Appends are atomic: the whole line is written with one ``write`` on an ``O_APPEND`` descriptor while
holding an exclusive ``flock``, so concurrent sweep jobs never interleave and a kill leaves either
the whole line or none of it. Readers skip (and report) a line they cannot parse instead of failing.

This module is the ledger's one definition, for the pipeline that writes it and the report that reads it
(``itt.report.ledger_frame``): where it lives (:func:`ledger_path`), what a row holds (:class:`LedgerRow`,
:data:`FIELDS`), how it is read (:func:`read`, :func:`read_file`) and which row of a run counts
(:func:`latest`, :func:`latest_ok`: the newest ``ok`` row, by time then line) and which configuration a
row is of (:func:`config_of`: run ids hold the machine; the report counts one row per configuration).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
import logging
import math
import os
import stat
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Optional, TypedDict

from itt import requeue
from itt.errors import writing

log = logging.getLogger(__name__)

LEDGER_NAME = "results.jsonl"
STATUSES = ("ok", "failed", "cached")


class LedgerRow(TypedDict, total=False):
    """One line of the ledger: the pipeline writes it (``itt.pipeline``), the report reads it
    (``itt.report``). Rows written before a key existed lack it: readers treat it as null."""

    run_id: str  # e.g. roberta-sentiment-target-domain-itt-s0-07f88579 (itt.identity)
    # The run id without the machine (itt.identity.config_id): the same for a seed run on another kind of node.
    # The report counts the newest ok row of each; rows from before it existed: their run_id.
    config_id: str
    status: str  # ok | failed | cached (a cached row repeats an ok row; never counted twice)
    time: str  # ISO 8601, UTC
    model: str  # model config name
    model_info: dict  # {hub_id, pretraining: text|code, languages: en|multi, revision, local_weights}
    task: str  # task config name
    kind: str  # task kind of the training data
    stage: str  # intermediate | target
    target: Optional[str]  # target dataset role (target stage)
    itt: Optional[bool]  # target stage: started from an intermediate chain
    itt_variant: str  # "none", or the chain: steps joined by ">", mixture members by "+"
    seed: int
    split: str  # paper | official
    source: str  # hub | embedded
    hparams_id: str  # runs are comparable only within one (source, split, hparams_id)
    # What its run id holds but seed, parent and machine (itt.identity.setup_ids): the report pairs ITT and no-ITT
    # runs of one setup id only. Null: rows before it (the report gives them the one setup of their comparison).
    setup_id: Optional[str]
    # How the steps before it were made (itt.identity.chain_hparams_id: each step's hparams_id, data, checkpoint
    # metric, sampler and head policy, and this run's head policy):
    # the report keeps ITT targets whose intermediates had other settings apart. Null: no parent.
    intermediate_hparams_id: Optional[str]
    primary_metric: str  # bare name, e.g. "acc"
    selected_on: str  # the validation metric that picked the checkpoint, e.g. "val/acc"; "last": no validation ran
    metrics: dict  # flat: val/<m>, test/<m> (own split), val/<eval>/<m>, test/<eval>/<m>
    dataset: dict  # what it trained on: {role, key, path, subset, revision, lang, family, genus, script, domain, fingerprint}
    datasets: list  # every member trained on (same dicts); more than one: a mixture
    evals: dict  # {name: {the dataset dict's keys (role = the eval set's name), kind, setup (its spec's digest), n: {validation, test}, metrics}}
    n_test: int  # items in the run's own test split
    parent_run_id: Optional[str]  # the run it started from; null: the pretrained encoder
    intermediate_run_id: Optional[str]  # = parent_run_id for ITT targets (older readers)
    chain: list  # earlier steps, oldest first: [{run_id, roles, langs, kinds}]
    head: Optional[str]  # new | kept | projection_reset | head_reset
    head_policy: str
    checkpoint: Optional[str]  # save_pretrained folder of the best-validation weights
    # sha256 (16 hex) of that folder's weight files and labels (itt.pipeline.weights_digest): a force=true rerun
    # that saves other weights has another digest
    weights_digest: Optional[str]
    # The parent's weights_digest when this run started from it: a run whose parent has other weights since is
    # trained again, not served from the ledger (itt.ledger.outdated_link). Null: no parent, or rows from before.
    parent_weights_digest: Optional[str]
    predictions: Optional[str]  # folder: test.jsonl (own split), <eval>.jsonl; one {"pred", "gold"} per item
    data_sizes: dict  # {train, validation, test}
    precision: str  # effective precision
    device: str  # cpu | cuda (name)
    numerics: dict  # {precision, pad_to_multiple_of, dropout}
    machine: dict  # what of the machine is in the run id (itt.hardware.machine): {cpu, cpus, kernel env} or {gpu}
    sampler: Optional[dict]  # a mixture's task sampler
    # Items identical (whitespace-normalised text, itt.data.overlap) to training items of an ancestor run:
    # {ancestors: [run ids], checked, reason (why not checked), validation, test (own split), evals: {name: test
    # items}, by_ancestor: [test items per ancestor, in ancestors' order], self: {validation, test, evals: {name: test items}} (own split and eval sets vs its
    # own training items)}
    overlap: Optional[dict]
    wall_s: float  # this run's own time, never its parent's
    train_s: float
    eval_s: float
    resumed_from_step: Optional[int]
    error: Optional[str]
    # The sweep directory of the multirun job that wrote it (hydra.sweep.dir); null outside a sweep. A force=true
    # sweep trains a run several of its jobs name once: the later jobs find this sweep's row (record_cached).
    sweep: Optional[str]


# The row's keys, in schema order: the report's frame has one column per field (itt.report.ledger_frame).
FIELDS: tuple[str, ...] = tuple(LedgerRow.__annotations__)


def timestamp() -> str:
    """A row's ``time``: now, UTC, ISO 8601 to the second."""
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


def config_of(row: dict) -> str | None:
    """A row's ``config_id``: the run id without the machine; a row from before it was recorded has none
    and its run id is its config id (the id was computed without the machine then)."""
    config_id = row.get("config_id")
    return config_id if isinstance(config_id, str) and config_id else row.get("run_id")


def ledger_path(root: str | os.PathLike) -> Path:
    """``${root}/results.jsonl``: where every run appends its row."""
    return Path(root) / LEDGER_NAME


def _json_safe(value: Any) -> Any:
    """NaN/inf are not JSON: write them as null so every reader can parse the line."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    return value


def append(root: str | os.PathLike, row: dict) -> dict:
    if row.get("status") not in STATUSES:
        raise ValueError(f"ledger status must be one of {STATUSES}, got {row.get('status')!r}")
    row = _json_safe({"time": timestamp(), **row})
    with writing(root, "paths.root", ledger_path(root)):  # a full or read-only root: one line, not a traceback
        append_lines(ledger_path(root), [json.dumps(row, sort_keys=False, allow_nan=False)])
    return row


def append_lines(path: str | os.PathLike, lines: list[str]) -> None:
    """Append JSON lines to ``path`` (made with its folder if missing) under an exclusive lock, synced to disk:
    concurrent jobs never interleave, and a torn last line (a job killed mid-write, a full disk, NFS) does not
    swallow the first new line (both would be one unreadable line, skipped). A write that fails (a full disk)
    is cut off again before its error is raised: the rows already there stay as they were. SLURM's requeue signal
    waits for the end of the append (``itt.requeue.held``)."""
    with requeue.held():
        _append_lines(path, lines)


def _append_lines(path: str | os.PathLike, lines: list[str]) -> None:
    data = "".join(line + "\n" for line in lines).encode()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        size = os.fstat(fd).st_size
        if size and os.pread(fd, 1, size - 1) != b"\n":
            data = b"\n" + data
        try:
            view = memoryview(data)
            while view:  # a regular file takes it in one write; loop only for pathological short writes
                view = view[os.write(fd, view):]
            os.fsync(fd)
        except OSError:
            if stat.S_ISREG(os.fstat(fd).st_mode):  # not /dev/full and the like, which cannot be truncated
                with contextlib.suppress(OSError):  # the write's own error is the one to tell
                    os.ftruncate(fd, size)
            raise
    finally:
        os.close(fd)  # closing releases the lock


def read_file(path: str | os.PathLike,
              on_skip: Callable[[str], None] | None = None) -> Iterator[tuple[int, dict]]:
    """``(line number, row)`` for every row of the ledger file ``path`` (none if it does not exist).

    A line that is not a JSON object (the torn last line of a killed job, a hand edit) is skipped and
    reported: one message to ``on_skip``, or a logged warning. Undecodable bytes become U+FFFD. A folder where the
    ledger goes is an :class:`~itt.errors.OutputError` (no run could append its row there), said by every command
    that reads the ledger (a run's cached check, before it trains; the report; the plan) in the same line."""
    path = Path(path)
    if not path.exists():
        return
    with writing(path.parent, "paths.root"):  # a folder in the ledger's place: one line, not IsADirectoryError
        fh = open(path, encoding="utf-8", errors="replace")
    with fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                problem = f"corrupt line ({exc.msg})"
            else:
                if isinstance(row, dict):
                    yield lineno, row
                    continue
                problem = "not a JSON object"
            message = f"{path}:{lineno}: unreadable ledger line skipped: {problem}"
            if on_skip is None:
                log.warning("%s", message)
            else:
                on_skip(message)


def read(root: str | os.PathLike) -> Iterator[dict]:
    """Every row of ``${root}/results.jsonl``, in file order (see :func:`read_file`)."""
    for _, row in read_file(ledger_path(root)):
        yield row


EARLIEST = dt.datetime.min.replace(tzinfo=dt.timezone.utc)


def row_time(row: dict) -> dt.datetime:
    """When a row was written (aware, UTC; a time without offset is taken as UTC). A row without a
    readable ``time`` sorts before every other."""
    t = row.get("time")
    if isinstance(t, str):
        try:
            t = dt.datetime.fromisoformat(t.strip())
        except ValueError:
            return EARLIEST
    if not isinstance(t, dt.datetime):
        return EARLIEST
    return t.replace(tzinfo=dt.timezone.utc) if t.tzinfo is None else t.astimezone(dt.timezone.utc)


def order_key(row: dict, position: int) -> tuple[dt.datetime, int]:
    """Chronological order of rows: by ``time``, then by position (line) in the ledger."""
    return row_time(row), position


def latest(rows: Iterable[dict], status: str = "ok") -> dict[str, dict]:
    """``{run_id: row}``: the newest row with ``status`` of each run (:func:`order_key`; ``rows`` in
    ledger order). With ``ok`` this is the row that counts for a run: ``cached`` rows repeat an ok
    row and ``failed`` rows never count."""
    best: dict[str, tuple[tuple, dict]] = {}
    for position, row in enumerate(rows):
        run_id = row.get("run_id")
        if row.get("status") != status or run_id is None:
            continue
        key = order_key(row, position)
        if run_id not in best or key >= best[run_id][0]:
            best[run_id] = (key, row)
    return {run_id: row for run_id, (_, row) in best.items()}


def latest_ok(root: str | os.PathLike, run_id: str) -> dict | None:
    """The newest successful row of a run, or None if it never finished."""
    return latest(row for row in read(root) if row.get("run_id") == run_id).get(run_id)


def outdated_link(row: dict, newest: dict[str, dict]) -> tuple[str, str] | None:
    """``(run id, parent id)`` of the first run up ``row``'s chain (itself first) that started from weights its
    parent's newest ok row (``newest``: :func:`latest` of the ledger) no longer has: the parent was trained again
    since (``force=true``) and saved other weights, so the results further down were made from a model that is
    gone. None: the chain is current (or its rows are from before weights digests were recorded, or a parent has no
    ok row here: nothing to compare)."""
    node, seen = row, set()
    while (parent_id := node.get("parent_run_id")) and parent_id not in seen:
        seen.add(parent_id)
        parent = newest.get(parent_id)
        if parent is None:
            return None
        started_from, now = node.get("parent_weights_digest"), parent.get("weights_digest")
        if started_from and now and started_from != now:
            return node.get("run_id"), parent_id
        node = parent
    return None


_SAID_OUTDATED: set[tuple[str, str]] = set()


def record_cached(root: str | os.PathLike, run_id: str, force: bool = False, sweep: str | None = None) -> dict | None:
    """If the run already finished, note a ``cached`` row (same metrics) and return it; else None. A run whose
    chain trained from a parent's earlier weights (:func:`outdated_link`) is not cached: it is trained again.
    ``force`` (``force=true``): only a row written by this same sweep (``sweep``: its directory) counts, so a
    forced sweep trains each run once however many of its jobs name it (the no-ITT target of a sweep over
    ``intermediate.steps``), and a forced run outside a sweep always trains."""
    newest = latest(read(root))  # read once: the run's row and its parents' rows
    done = newest.get(run_id)
    if done is None or (force and (sweep is None or done.get("sweep") != sweep)):
        return None
    if (link := outdated_link(done, newest)) is not None:
        if (str(root), run_id) not in _SAID_OUTDATED:  # once: itt.train asks before torch loads, the pipeline again
            _SAID_OUTDATED.add((str(root), run_id))
            log.warning("%s finished before, but %s trained from weights %s has no more (it was trained again since, "
                        "with other weights): training it again", run_id, *link)
        return None
    log.info("cached: %s finished %s (test/%s=%s)%s", run_id, "in this sweep" if force else "before",
             done["primary_metric"], done["metrics"].get(f"test/{done['primary_metric']}"),
             ": force=true trains a run once per sweep" if force else "; force=true reruns it")
    return append(root, {**done, "status": "cached", "wall_s": 0.0})
