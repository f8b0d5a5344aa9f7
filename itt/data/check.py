"""``python -m itt.data check [--config-dir DIR] [task=NAME ...]``: check every dataset spec against the real data in a
minute, before a sweep of hundreds of jobs finds a broken one.

For each task config (all of them, or those named), every ``task.datasets`` role and ``task.evals``
set: a hub dataset is *streamed* (a few rows of each declared split, nothing downloaded in full), a
local one read; then the declared splits, text and label fields, label names and score ranges are
checked with the same code a run uses, and the reference study's size rule where the hub's metadata gives
split sizes: what a run's own rule compares (``itt.pipeline``: a warning line when an ITT target's intermediate
trained on fewer than ``SIZE_RULE`` x its training rows), i.e. the training rows of the last step of each
intermediate chain the command names (``intermediate.steps``, and every value an experiment sweeps it over) and
of each target role trained after it, both as the chosen ``split`` makes them (:func:`training_rows`). One line
per dataset; exit 0 if all are fine, 1 if any is not or the hub cannot be reached (said in one line; local
files are checked all the same). ``--config-dir DIR`` adds a config directory of one's own, as for
``itt.train``.

Items shared between roles (an intermediate's training items in a target's test split) are not checked
here: that needs every row of both datasets, split as a run splits them (by split and seed), where this
check streams a few rows. Every run counts them instead, from the prepared data it reads anyway
(``itt.data.overlap``: the row's ``overlap``, one warning line, the report's ``test_overlap``).
"""

from __future__ import annotations

import itertools
import math
import sys
from dataclasses import dataclass
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
    with cli.composing(config_dir):  # the hydra node too: an experiment's sweep names the chains and targets
        return [compose("train", overrides=[f"task={t}", "+stage=target", *rest], return_hydra_config=True) for t in names]


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


@dataclass(frozen=True)
class Size:
    """What the hub's card (or a local file) says of a dataset's size: each declared split's rows (canonical name
    -> rows) and, where the dataset drops some of them on purpose, why (the counts are then an upper bound)."""

    splits: dict[str, int]
    dropped: str | None = None


def check_dataset(cfg, group: str, name: str) -> tuple[str, Size | None]:
    """One line about one dataset (raises ITTError when it is broken) and its size, when known."""
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
    filtered = task.rows_filtered_by()
    size = None if filtered or any(v is None for v in sizes.values()) else Size(dict(sizes), task.rows_dropped_by())
    dropped = "; dropped " + ", ".join(f"{n} ({r})" for r, n in ctx.dropped.items()) if ctx.dropped else ""
    label_text = f"; labels {', '.join(labels)}" if labels else ""
    if size is None:
        size_text = f"; size unknown ({filtered})" if filtered else "; size unknown"
    else:
        bound = "at most " if size.dropped else ""
        size_text = f"; {bound}{sum(size.splits.values())} rows"
        if group == "datasets" and (train := training_rows(spec, size.splits, cfg.split)) is not None:
            size_text += f", {bound}{train} training rows under split={cfg.split.name}"
        if size.dropped:
            size_text += f" ({size.dropped})"
    return (f"ok   task.{group}.{name} ({spec.path}{':' + spec.subset if spec.subset else ''}): "
            f"splits {', '.join(raw)}; {len(rows)} rows read{label_text}{size_text}{dropped}"), size


def training_rows(spec, sizes: dict[str, int], split_cfg) -> int | None:
    """The training rows a run of ``spec`` has under ``split_cfg``, from the sizes of its declared splits (canonical
    name -> rows), as ``itt.data.splitting`` makes them: ``split=paper`` pools every declared split, ``max_rows``
    caps the pool and ``split_cfg.train`` of it trains; ``split=official`` trains on the train split, ``max_rows``
    capping it alone (``itt.data.preparation.split_rows``), less what is carved from it for a split the dataset
    lacks. A split by shared id or by group draws by hash: about that many. None without a train split under
    ``split=official`` (a run refuses it)."""
    cap = spec.max_rows
    held = split_cfg.validation + split_cfg.test
    if split_cfg.name == "paper":
        pool = sum(sizes.values())
        pool = min(pool, cap) if cap else pool
        return pool - math.ceil(held * pool)  # scikit-learn's train_test_split rounds the held-out share up
    if "train" not in sizes:
        return None
    rows = min(sizes["train"], cap) if cap else sizes["train"]
    missing = [name for name in ("validation", "test") if name not in sizes]
    if missing == ["validation", "test"]:  # the configured shares of all its rows
        validation = math.ceil(split_cfg.validation * rows)
        test = min(max(round(rows * split_cfg.test / (split_cfg.train + held)), 1), rows - validation - 1)
        return rows - validation - test
    if missing:  # that share of the train rows
        return rows - math.ceil(getattr(split_cfg, missing[0]) * rows)
    return rows


def _swept(cfg, key: str) -> list | None:
    """The values an experiment's sweep gives ``key`` (``hydra.sweeper.params``), or None."""
    from hydra.core.override_parser.overrides_parser import OverridesParser  # noqa: PLC0415

    params = (cfg.get("hydra") or {}).get("sweeper", {}).get("params") or {}
    if key not in params:
        return None
    override = OverridesParser.create().parse_override(f"{key}={params[key]}")
    return list(override.sweep_iterator()) if override.is_sweep_override() else [override.value()]


def _chains(cfg) -> list[list]:
    """Every intermediate chain a target of the command trains after, as ``intermediate.steps`` lists: the
    config's, and each value an experiment sweeps ``intermediate.steps`` over."""
    from omegaconf import OmegaConf  # noqa: PLC0415

    block = cfg.get("intermediate") or {}
    chains = [OmegaConf.to_container(block.get("steps", ["intermediate"]), resolve=True) if block else ["intermediate"]]
    return chains + [chain for chain in _swept(cfg, "intermediate.steps") or [] if chain not in chains]


def _roles(step) -> tuple[str, ...]:
    return tuple(step) if isinstance(step, list) else (step,)


def _target_roles(cfg, chains: list[list]) -> list[str]:
    """The roles a target run trains on: not a step of any chain, nor named as an intermediate (``intermediate``,
    ``intermediate_<...>``: XNLI's translate-train sets are intermediates a sweep chooses among); of those, the
    ones an experiment sweeps ``stage.target`` over, if it does."""
    steps = {role for chain in chains for step in chain for role in _roles(step)}
    roles = [role for role in cfg.task.datasets
             if role not in steps and role != "intermediate" and not role.startswith("intermediate_")]
    swept = _swept(cfg, "stage.target")
    return [role for role in roles if role in swept] if swept else roles


def _same_data(cfg, parent: tuple[str, ...], target: str) -> bool:
    """Is the target's training data its parent's own? The same dataset (path and subset: WikiANN English after
    WikiANN English), or a target the task declares holds the ``intermediate`` role's data
    (``task.holds_intermediate_data``: XTREME's English UD holds UD English-EWT). The size rule compares an
    intermediate with another, smaller dataset; a dataset and a part of itself are not that."""
    datasets = cfg.task.datasets
    node = datasets[target]
    if parent == ("intermediate",) and target in (cfg.task.get("holds_intermediate_data") or {}):
        return True
    return any(datasets[role].path == node.path and datasets[role].get("subset") == node.get("subset") for role in parent)


def size_rule(cfg, sizes: dict[tuple[str, str], Size | None]) -> list[tuple[bool, str]]:
    """A FAIL line for each (chain, target) of the command whose intermediate trains on fewer than ``SIZE_RULE`` x
    the target's training rows, as ``itt.pipeline._note_size_rule`` warns about such a run; a ``note`` line where the
    target's count is an upper bound (a label_map drops rows the card counts) and the answer depends on how many
    it drops. An intermediate's upper bound is taken as its size. Pairs with a size unknown are not compared
    (their dataset lines say so)."""
    from itt.build import dataset_spec  # noqa: PLC0415

    lines = []
    for key in cfg.task.get("holds_intermediate_data") or {}:
        if key not in cfg.task.datasets:
            lines.append((False, f"FAIL task.holds_intermediate_data.{key}: {key!r} is not a dataset of task="
                                 f"{cfg.task.name}; valid: {', '.join(cfg.task.datasets)}"))

    def train(role):
        size = sizes.get(("datasets", role))
        return None if size is None else training_rows(dataset_spec(cfg.task.datasets[role]), size.splits, cfg.split)

    chains = _chains(cfg)
    for parent in dict.fromkeys(_roles(chain[-1]) for chain in chains):  # chains that end alike: one parent
        members = [train(role) for role in parent]
        if any(n is None for n in members):
            continue
        big = sum(members)  # a mixture trains on all its members' rows
        for target in _target_roles(cfg, chains):
            small = train(target)
            if not small or _same_data(cfg, parent, target) or big >= SIZE_RULE * small:
                continue
            said = (f"{cfg.task.name}: split={cfg.split.name}: the intermediate step {'+'.join(parent)} trains on {big} "
                    f"rows, {big / small:.1f}x the")
            dropped = sizes[("datasets", target)].dropped
            if dropped:
                share = 1 - big / (SIZE_RULE * small)
                lines.append((True, f"note {said} at most {small} training rows of task.datasets.{target} ({dropped}): "
                                    f">= {SIZE_RULE}x only if that drops {share:.0%} of them or more"))
            else:
                lines.append((False, f"FAIL {said} {small} training rows of task.datasets.{target}; the reference "
                                     f"protocol uses >= {SIZE_RULE}x (raise the intermediate's max_rows or lower the target's)"))
    return lines


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
    return lines + size_rule(cfg, sizes)


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
