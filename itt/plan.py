"""``python -m itt.plan``: what a sweep would do, before it runs. Takes the same arguments as
``python -m itt.train`` (``-m`` optional: a plan is always of the whole sweep); trains nothing and
never imports torch.

    python -m itt.plan -m experiment=paper +stage=target
    python -m itt.plan -m experiment=demo +stage=target paths.root=/scratch/itt
    python -m itt.plan --config-dir /path/conf task=my_task +stage=target    (a config dir of your own, as itt.train)

Prints every run the sweep names, once, with the number of its jobs when several name it (its sweep
points as Hydra's basic sweeper expands them, with the experiment's ``hydra.sweeper.params``), whether
it is ``cached`` (ok in the ledger), ``elsewhere`` (the same config and seed ok on another kind of
machine, with a note naming the row: run ids hold the machine, ``itt.hardware.machine``, so jobs on that
kind of node find it cached and a job on another trains it again; a sweep planned on a login node for
compute nodes sees its finished runs so), ``failed`` before (with its error) or ``to train`` (with
``force=true``, also a run ok here or elsewhere, with a note: ``itt.train`` trains it again, once per sweep
however many jobs name it; the intermediates it pulls in are reused when ok); then the
intermediate runs the runs to train will pull in, each once (a chain's steps oldest first, as they train);
and an estimate of the work: training rows x epochs per run, and wall time where the ledger has a
comparable finished run (same model, training data and hyper-parameters). Exit 0; one ``error:`` line
and exit 2 for a command that does not compose.
"""

from __future__ import annotations

import math
import statistics
import sys
from dataclasses import dataclass

from itt import cli, identity, ledger
from itt.errors import ITTError, describe


@dataclass
class Planned:
    run_id: str
    stage: str
    status: str  # cached | elsewhere (ok on another kind of machine) | failed | to train
    rows: int | None  # training rows (None: unknown before the data is read)
    epochs: int
    est_s: float | None
    error: str | None = None  # the last failure's error; or a note (ok on another kind of machine)
    jobs: int = 1  # sweep jobs that name this run (the no-ITT target of a sweep over intermediate.steps: several)
    forced: bool = False  # ok before, trained again by force=true

    @property
    def work(self) -> str:
        return f"{self.rows:,} x {self.epochs}" if self.rows is not None else f"? x {self.epochs}"


def sweep_points(overrides: list[str], config_dir: str | None = None) -> list[list[str]]:
    """The override list of every job, as Hydra's basic sweeper expands them (the experiment's
    ``hydra.sweeper.params`` first, the command line after)."""
    from hydra import compose  # noqa: PLC0415
    from hydra._internal.core_plugins.basic_sweeper import BasicSweeper  # noqa: PLC0415
    from hydra.core.override_parser.overrides_parser import OverridesParser  # noqa: PLC0415

    parser = OverridesParser.create()
    fixed = [o.input_line for o in parser.parse_overrides(overrides) if not o.is_sweep_override()]
    with cli.composing(config_dir):
        cfg = compose("train", overrides=fixed, return_hydra_config=True)
    params = [f"{k}={v}" for k, v in (cfg.hydra.sweeper.get("params") or {}).items()]
    (batch,) = BasicSweeper.split_arguments(parser.parse_overrides([*params, *overrides]), None)
    return batch


def _train_rows(cfg, spec) -> int | None:
    """Training rows of a run, known without reading the data: the stand-in's size (source=embedded, not a
    local file), a single local file's rows (counted, not parsed; at most ``max_rows``) or the spec's
    ``max_rows`` cap; None otherwise (a hub dataset without ``max_rows``, a local folder; the plan shows
    "?"). A local file is counted because a cap is not its size: PAWS-X dev (2,000 rows) under a spec
    capped at 3,000 was planned as 2,100 training rows, not ~1,400."""
    from itt.data.files import is_local, is_stand_in  # noqa: PLC0415

    fraction = cfg.split.train / (cfg.split.train + cfg.split.validation + cfg.split.test)
    total = 0
    for role in spec.roles:
        node = cfg.task.datasets[role]
        local = _local_rows(node) if is_local(node.path) else None
        # a stand-in and a counted local file are a train split only: split=official carves them by the
        # configured shares too (itt.data.splitting._official); a hub dataset keeps its own train split
        train_only = True
        if is_stand_in(cfg.source.name, node.path):
            n = node.embedded_rows
        elif local is not None:
            n = min(local, node.max_rows) if node.get("max_rows") else local
        elif node.get("max_rows"):
            n, train_only = node.max_rows, False
        else:
            return None
        total += math.floor(n * fraction) if cfg.split.name == "paper" or train_only else n
    return total


def _local_rows(node) -> int | None:
    """The rows of a spec's single local file that its declared splits read (a single file is the
    ``train`` split to the loader); None when they are not countable without reading the data."""
    from itt.data.files import line_rows  # noqa: PLC0415

    declared = [theirs for theirs in (node.get("splits") or {}).values() if theirs]
    if declared != ["train"]:
        return None
    return line_rows(node.path, header=not node.get("columns"))


def plan(overrides: list[str], config_dir: str | None = None) -> tuple[list[Planned], list[Planned]]:
    from hydra import compose  # noqa: PLC0415

    points = sweep_points(overrides, config_dir)
    targets, pulled, rows_by_root = {}, {}, {}
    with cli.composing(config_dir):
        for point in points:
            cfg = compose("train", overrides=point)
            root = str(cfg.paths.root)
            if root not in rows_by_root:
                rows_by_root[root] = list(ledger.read(root))
            spec = identity.resolve(cfg)
            run_id = identity.run_id(spec)
            if run_id in targets:  # another job naming the same run: it trains once, the others answer from the ledger
                targets[run_id].jobs += 1
                continue
            entry = targets[run_id] = _planned(cfg, spec, rows_by_root[root], force=bool(cfg.get("force")))
            if entry.status in ("cached", "elsewhere"):
                continue
            needed = []
            for step in reversed(spec.chain()):  # the parents a run to train needs, nearest first
                step_id = identity.run_id(step)
                if step_id in pulled:
                    break
                needed.append(parent := _planned(cfg, step, rows_by_root[root]))
                if parent.status in ("cached", "elsewhere"):
                    break
            pulled.update((p.run_id, p) for p in reversed(needed))  # listed as they train: each after its parent
    return list(targets.values()), list(pulled.values())


def _planned(cfg, spec, rows: list[dict], force: bool = False) -> Planned:
    """``force``: the command's ``force=true``, which trains the runs it names again (not the parents they pull in:
    those are reused when ok), each once per sweep (``itt.ledger.record_cached``)."""
    run_id, config_id = identity.run_id(spec), identity.config_id(spec)
    latest, elsewhere = {}, None
    for row in rows:
        if row.get("run_id") == run_id and row.get("status") in ("ok", "failed"):
            latest[row["status"]] = row
        elif row.get("status") == "ok" and ledger.config_of(row) == config_id:
            elsewhere = row  # the same config and seed, ok on another kind of machine (its run id holds the machine)
    epochs = int(spec.settings.trainer.max_epochs)
    n = _train_rows(cfg, spec)
    outdated = "ok" in latest and ledger.outdated_link(latest["ok"], ledger.latest(rows))
    forced = force and ("ok" in latest or elsewhere is not None)  # what itt.train force=true trains again
    status = ("to train" if outdated or forced else "cached" if "ok" in latest else "elsewhere" if elsewhere is not None
              else "failed" if "failed" in latest else "to train")
    error = latest["failed"].get("error") if status == "failed" else None
    if outdated:  # as itt.ledger.record_cached decides it
        error = "ok before, but {} trained from weights {} has no more (trained again since)".format(*outdated)
    elif forced:
        where = "" if "ok" in latest else f" as {elsewhere['run_id']} on another kind of machine"
        error = f"force=true: ok before{where}, trained again"
    if status == "elsewhere":
        machine = elsewhere.get("machine") or {}
        if machine.get("cpu"):
            where = machine["cpu"]
        elif machine.get("gpu"):
            where = "GPUs " + ", ".join(machine["gpu"])
        else:
            where = "an unrecorded machine"
        error = (f"ok as {elsewhere['run_id']} on {where}: cached for jobs on that kind of machine, trained again by "
                 "a job on another (README: The run id)")
    return Planned(run_id, spec.stage, status, n, epochs, _estimate(spec, rows), error, forced=forced)


def _estimate(spec, rows: list[dict]) -> float | None:
    """Mean own wall time of finished runs with the same model, training data (dataset key) and
    hyper-parameters (epochs included), from the ledger; None without such a run."""
    from itt.rows import dataset_info  # noqa: PLC0415

    key = dataset_info(spec.cfg, spec.roles[0], spec.cfg.task.datasets[spec.roles[0]])["key"]
    hparams = identity.hparams_id(spec)
    times = [r["wall_s"] for r in rows if r.get("status") == "ok" and r.get("model") == spec.cfg.model.name
             and (r.get("dataset") or {}).get("key") == key and r.get("hparams_id") == hparams and r.get("wall_s")]
    return statistics.mean(times) if times else None


def render(targets: list[Planned], pulled: list[Planned]) -> list[str]:
    jobs = sum(p.jobs for p in targets)
    lines = [f"{len(targets)} run(s) named by the sweep" + (f" ({jobs} jobs)" if jobs != len(targets) else "") + ":"]
    for p in targets:
        lines.append(_line(p))
    lines.append(f"intermediate run(s) they pull in: {len(pulled)}")
    for p in pulled:
        lines.append(_line(p))
    todo = [p for p in [*targets, *pulled] if p.status not in ("cached", "elsewhere")]
    counts = {s: sum(p.status == s for p in [*targets, *pulled]) for s in ("cached", "elsewhere", "failed", "to train")}
    known = [p for p in todo if p.rows is not None]
    est = [p.est_s for p in todo if p.est_s is not None]
    forced = sum(p.forced for p in [*targets, *pulled])
    lines.append(f"summary: {counts['to train']} to train"
                 + (f" ({forced} of them ok before: force=true)" if forced else "")
                 + f", {counts['failed']} failed before (rerun), "
                 f"{counts['cached']} cached"
                 + (f", {counts['elsewhere']} ok on another kind of machine (not counted below)" if counts["elsewhere"] else "")
                 + f"; work to do: {sum(p.rows * p.epochs for p in known):,} training rows x epochs"
                 + (f" (+{len(todo) - len(known)} run(s) of unknown size)" if len(known) < len(todo) else "")
                 + (f"; ~{sum(est) / 60:.1f} min for the {len(est)} run(s) with a comparable finished run" if est else ""))
    return lines


def _line(p: Planned) -> str:
    est = f"~{p.est_s:.0f}s" if p.est_s is not None else "-"
    text = f"  {p.status:<9} {p.stage:<12} {p.run_id}  rows x epochs {p.work}  est {est}"
    if p.jobs > 1:  # trained by the first job that gets to it; the others find its row
        text += f"  ({p.jobs} jobs{', trained once per sweep' if p.forced else ''})"
    return text + (f"  {'error' if p.status == 'failed' else 'note'}: {p.error}" if p.error else "")


def main(argv: list[str] | None = None) -> int:
    try:
        args, config_dir = cli.split_flags(sys.argv[1:] if argv is None else argv, "itt.plan")
        targets, pulled = plan(args, config_dir)
    except ITTError as exc:
        print(f"error: {describe(exc)}", file=sys.stderr)
        return 2
    except Exception as exc:  # noqa: BLE001 (Hydra's composition errors: one line, as itt.train prints them)
        error = cli.user_error(exc, in_job=False)
        if error is None:
            raise
        print(f"error: {describe(error)}", file=sys.stderr)
        return 2
    print("\n".join(render(targets, pulled)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
