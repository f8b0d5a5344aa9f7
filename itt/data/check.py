"""``python -m itt.data check [--config-dir DIR] [task=NAME ...]``: check every dataset spec against the real data in a
minute, before a sweep of hundreds of jobs finds a broken one.

For each task config (all of them, or those named), every ``task.datasets`` role and ``task.evals``
set: a hub dataset is *streamed* (a few rows of each declared split, nothing downloaded in full), a
local one read; then the declared splits, text and label fields, label names and score ranges are
checked with the same code a run uses, and the reference study's size rule (the intermediate dataset
at least 10x each target, after ``max_rows``) where the hub's metadata gives split sizes. One line per
dataset; exit 0 if all are fine, 1 if any is not or the hub cannot be reached (said in one line; local
files are checked all the same). ``--config-dir DIR`` adds a config directory of one's own, as for
``itt.train``.

Items shared between roles (an intermediate's training items in a target's test split) are not checked
here: that needs every row of both datasets, split as a run splits them (by split and seed), where this
check streams a few rows. Every run counts them instead, from the prepared data it reads anyway
(``itt.data.overlap``: the row's ``overlap``, one warning line, the report's ``test_overlap``).
"""

from __future__ import annotations

import itertools
import sys
from pathlib import Path

from itt.errors import ITTError, one_line

ROWS = 8  # streamed per declared split
SIZE_RULE = 10


def _configs(overrides: list[str], config_dir: str | None = None):
    from hydra import compose  # noqa: PLC0415

    from itt import cli  # noqa: PLC0415

    conf = Path(__file__).resolve().parents[2] / "conf"
    # task=sentiment,ner as in a sweep: each one (compose takes one value and said "Ambiguous value")
    tasks = [t for o in overrides if o.startswith("task=") for t in o.split("=", 1)[1].split(",") if t]
    rest = [o for o in overrides if not o.startswith("task=")]
    names = tasks or sorted(p.stem for p in (conf / "task").glob("*.yaml"))
    with cli.composing(config_dir):
        return [compose("train", overrides=[f"task={t}", "+stage=target", *rest]) for t in names]


def _streamed(spec) -> tuple[dict, dict[str, int | None]]:
    """A few rows of each declared split (as in-memory Datasets with the real features) and each
    split's size from the hub's metadata (None when it has none)."""
    import datasets  # noqa: PLC0415

    from itt.data.loading import SPLITS, hub_dataset  # noqa: PLC0415
    from itt.errors import DataError  # noqa: PLC0415

    streams = hub_dataset(spec, streaming=True)
    declared = {name: theirs for name, theirs in spec.splits.items() if theirs}
    missing = [theirs for theirs in declared.values() if theirs not in streams]
    if missing:
        raise DataError(f"{spec.path}: has no split {missing[0]!r} (task.datasets.*.splits); its splits are: {', '.join(streams)}")
    rows, sizes = {}, {}
    for name in SPLITS:
        if name not in declared:
            continue
        stream = streams[declared[name]]
        rows[name] = datasets.Dataset.from_list(list(itertools.islice(stream, ROWS)), features=stream.features)
        info = stream.info.splits.get(declared[name]) if stream.info and stream.info.splits else None
        sizes[name] = info.num_examples if info is not None and info.num_examples else None
    return rows, sizes


def check_dataset(cfg, group: str, name: str) -> tuple[str, int | None]:
    """One line about one dataset (raises ITTError when it is broken) and its usable size, if known."""
    from itt.build import dataset_spec, task_of  # noqa: PLC0415
    from itt.data.canonical import canonicalize  # noqa: PLC0415
    from itt.data.files import is_local  # noqa: PLC0415
    from itt.data.loading import load_raw  # noqa: PLC0415
    from itt.tasks import RawColumns  # noqa: PLC0415

    node = cfg.task[group][name]
    spec, task = dataset_spec(node), task_of(cfg, node)
    if is_local(spec.path):
        raw, where = load_raw(spec, "hub", where=f"task.{group}.{name} ({spec.path})")
        sizes = {s: len(d) for s, d in raw.items()}
    else:
        raw, sizes = _streamed(spec)
        where = spec.path
    labels = task.label_names(raw, spec)
    ctx = RawColumns(spec, labels, where)
    rows = canonicalize(raw, task, ctx, None, 0)
    known = None if any(v is None for v in sizes.values()) else sum(sizes.values())
    if known is not None and spec.max_rows:
        known = min(known, spec.max_rows)
    dropped = "; dropped " + ", ".join(f"{n} ({r})" for r, n in ctx.dropped.items()) if ctx.dropped else ""
    label_text = f"; labels {', '.join(labels)}" if labels else ""
    size_text = f"; {known} rows" if known is not None else "; size unknown"
    return (f"ok   task.{group}.{name} ({spec.path}{':' + spec.subset if spec.subset else ''}): "
            f"splits {', '.join(raw)}; {len(rows)} rows read{label_text}{size_text}{dropped}"), known


def _local(cfg, group: str, name: str) -> bool:
    from itt.data.files import is_local  # noqa: PLC0415

    return is_local(cfg.task[group][name].path)


def check(cfg, hub: bool = True) -> list[tuple[bool, str]]:
    """One (ok, line) per dataset of ``cfg``'s task; with ``hub=False`` (the hub unreachable) only its local
    files (``main`` says how many hub datasets were not checked)."""
    lines, sizes = [], {}
    for group in ("datasets", "evals"):
        for name in cfg.task.get(group) or {}:
            if not hub and not _local(cfg, group, name):
                continue
            try:
                line, sizes[(group, name)] = check_dataset(cfg, group, name)
                lines.append((True, line))
            except ITTError as exc:
                lines.append((False, f"FAIL task.{group}.{name}: {one_line(str(exc))}"))
            except Exception as exc:  # noqa: BLE001 (a library error about one dataset must not hide the others)
                lines.append((False, f"FAIL task.{group}.{name}: {type(exc).__name__}: {one_line(str(exc))[:300]}"))
    big = sizes.get(("datasets", "intermediate"))
    for (group, name), size in sizes.items():
        if group == "datasets" and name != "intermediate" and big is not None and size is not None and big < SIZE_RULE * size:
            lines.append((False, f"FAIL {cfg.task.name}: the intermediate set ({big} rows) is not >= {SIZE_RULE}x "
                                 f"task.datasets.{name} ({size} rows); lower its max_rows"))
    return lines


def main(argv: list[str]) -> int:
    """Exit 0 when every dataset checked is fine; 1 when one is not, or hub datasets could not be checked
    (offline: local files are checked all the same); 2 for a command that does not compose."""
    from itt import cli, hub_access  # noqa: PLC0415

    try:
        overrides, config_dir = cli.split_flags(argv, "itt.data check")
        configs = _configs(overrides, config_dir)
    except Exception as exc:  # noqa: BLE001 (a bad flag, task or override: one line, as itt.train prints it)
        error = cli.user_error(exc, in_job=False)
        if error is None:
            raise
        cli.exit_with(error)
    online = hub_access.hub_reachable(5.0)
    if not online:
        unchecked = sum(not _local(cfg, group, name) for cfg in configs for group in ("datasets", "evals")
                        for name in cfg.task.get(group) or {})
        print("offline: the Hugging Face hub cannot be reached (HF_HUB_OFFLINE, no network or proxy); "
              + (f"{unchecked} hub dataset(s) not checked" if unchecked else "nothing on the hub to check")
              + ("; local files below" if any(_local(cfg, g, n) for cfg in configs for g in ("datasets", "evals")
                                              for n in cfg.task.get(g) or {}) else ""))
    failed = 0
    for cfg in configs:
        for ok, line in check(cfg, hub=online):
            print(line)
            failed += not ok
    return 1 if failed or not online else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
