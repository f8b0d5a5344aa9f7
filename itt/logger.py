"""Loggers from ``conf/logger/``: CSV always, W&B online only when it can be (never blocks or prompts).

W&B goes online when an API key is configured (``WANDB_API_KEY`` or ``wandb login``'s netrc entry)
and its server answers within 3 s; otherwise it writes an ordinary offline run that ``wandb sync``
uploads later. The whole composed config is logged, minus anything that looks like a secret.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import netrc
import os
import re
from pathlib import Path
from urllib.parse import urlparse

from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from itt import identity, ledger
from itt.distributed import is_worker

SECRET_KEY = re.compile(r"(api[_-]?key|token|secret|password)", re.IGNORECASE)


def _has_api_key() -> bool:
    if os.environ.get("WANDB_API_KEY"):
        return True
    host = urlparse(os.environ.get("WANDB_BASE_URL", "https://api.wandb.ai")).hostname
    try:
        return netrc.netrc().authenticators(host) is not None
    except (FileNotFoundError, netrc.NetrcParseError):
        return False


@functools.lru_cache(maxsize=None)
def wandb_offline() -> bool:
    if os.environ.get("WANDB_MODE") in ("offline", "dryrun", "disabled"):
        return True
    if not _has_api_key():
        return True
    from itt.hub_access import http_reachable  # noqa: PLC0415

    # Through the same proxy-aware HTTP client as the hub probe; name lookup included: never longer than 3 s.
    return not http_reachable(os.environ.get("WANDB_BASE_URL", "https://api.wandb.ai"), 3.0)


def wandb_id(run_id: str, trained_before: int = 0) -> str:
    """W&B ids are short; the run id's hash keeps it stable across requeues and resumes, which continue one
    training. A run trained again after ``trained_before`` finished trainings (``force=true``, a parent retrained
    with other weights) is another training: ``-r<n>`` makes it a W&B run of its own, instead of its steps being
    appended to the first training's curves (online) or a second offline run of one id that ``wandb sync`` merges
    into the first."""
    base = hashlib.sha1(run_id.encode()).hexdigest()[:16]
    return f"{base}-r{trained_before}" if trained_before else base


def register_resolvers() -> None:
    """``${itt.wandb_offline:}``, ``${itt.wandb_id:}``, ``${itt.group:}`` and ``${itt.tags:}`` (conf/logger/wandb.yaml)."""
    for name, fn in {"itt.wandb_offline": lambda: wandb_offline(),
                     "itt.wandb_id": lambda *, _root_: wandb_id(identity.run_id(_root_)),
                     "itt.group": lambda *, _root_: wandb_group(_root_),
                     "itt.tags": lambda *, _root_: wandb_tags(_root_)}.items():
        if not OmegaConf.has_resolver(name):
            OmegaConf.register_new_resolver(name, fn)


def wandb_tags(spec_or_cfg) -> list[str]:
    spec = identity.as_spec(spec_or_cfg)
    cfg = spec.cfg
    tags = [cfg.model.name, cfg.task.name, spec.stage, f"seed{cfg.seed}", cfg.source.name]
    if spec.stage == "target":
        tags += [spec.target, "itt" if spec.is_itt else "no-itt"]
    return tags


def wandb_group(spec_or_cfg) -> str:
    """One W&B group per condition, whose runs differ in their seed alone: W&B draws a group as one line, the
    mean of its runs, so with- and without-ITT targets are two groups (two lines), not one average.
    ``<task>/<target>/<model>/<noitt|itt|itt:chain>/c<digest>`` for targets; ``<task>/intermediate/<model>/c...``
    for the default intermediate step, ``intermediate/<step>/<model>/c...`` for a named one (shared by tasks). The
    ``c`` digest is the condition as the report keeps it apart: this run's setup id (what its run id holds but seed,
    parent and machine: model config, data specs and sizes, hyper-parameters, checkpoint metric) and, after
    intermediate steps, the same of each step before it with its mixture sampler and hand-off head policy: runs of
    another ``max_rows``, ``model.hub_id`` or checkpoint metric, and targets after intermediates trained another
    way, are other conditions. Seeds and machines are not: a seed run again on another kind of node joins its group."""
    spec = identity.as_spec(spec_or_cfg)
    cfg = spec.cfg
    if spec.stage == "target":
        variant = "noitt" if not spec.is_itt else "itt" if spec.variant == "intermediate" else f"itt:{spec.variant}"
        what = [cfg.task.name, spec.target, cfg.model.name, variant]
    elif spec.label == "intermediate":
        what = [cfg.task.name, "intermediate", cfg.model.name]
    else:
        what = ["intermediate", spec.label, cfg.model.name]
    steps = [{"setup": identity.setup_ids(step)[0], "select_on": step.select_on, "head_policy": step.head_policy,
              "sampler": identity.plain(step.cfg.get("sampler")) if len(step.roles) > 1 else None}
             for step in [*spec.chain(), spec]]
    return "/".join([*what, f"c{identity.digest(steps)}"])



def without_secrets(container):
    if isinstance(container, dict):
        return {k: ("<redacted>" if SECRET_KEY.search(str(k)) else without_secrets(v)) for k, v in container.items()}
    if isinstance(container, list):
        return [without_secrets(v) for v in container]
    return container


def build_loggers(spec, run_id: str, run_dir) -> list:
    """The loggers of one run. A command can train several runs (a target pulls its missing parents), so
    where each logs and what it is called come from the run itself, not from the command's config: its
    own directory, W&B name and id (stable across requeues), group, tags and job type, and its
    effective settings in the logged config."""
    if os.environ.get("WANDB_SILENT") is None:
        os.environ["WANDB_SILENT"] = "true"  # W&B's banners would drown the run's own log
    cfg = spec.cfg
    own = {"save_dir": str(run_dir)}
    trained_before = sum(row.get("run_id") == run_id and row.get("status") == "ok" for row in ledger.read(cfg.paths.root))
    wandb = {"name": run_id, "id": wandb_id(run_id, trained_before), "group": wandb_group(spec),
             "tags": wandb_tags(spec), "job_type": spec.stage}

    def made_for_this_run(node) -> dict:  # every logger's folder; a W&B logger's name, id, group, tags, job type
        return {**own, **(wandb if "Wandb" in str(node.get("_target_")) else {})}

    def as_logged(node) -> dict:
        """A logger's config as this run made it, in the config's key order; its other keys resolved one by one,
        the ones set here never (``${itt.run_id:}`` would work out the command's run id, and its parents', again)."""
        mine = made_for_this_run(node)
        return {**{key: mine[key] if key in mine else _resolved(node, key) for key in node}, **mine}

    loggers = [instantiate(node, **made_for_this_run(node)) for node in cfg.logger.values()]
    for lg in loggers:
        if type(lg).__name__ == "CSVLogger":
            keep_earlier_attempt(Path(lg.log_dir))
    made = {name: as_logged(node) for name, node in cfg.logger.items()}
    # The whole config as the run sees it, minus Hydra's own part, with the loggers as made above.
    config = {key: made if key == "logger" else _resolved(cfg, key) for key in cfg if key != "hydra"}
    config = without_secrets(config)
    config.update(OmegaConf.to_container(spec.settings, resolve=True))  # this run's trainer/optim/data
    # An intermediate a target command trains on the way logs what `+stage=intermediate` would, not the
    # command's target stage (a W&B filter on stage.itt or stage.name must not pick it up).
    if spec.stage == "intermediate":
        config["stage"] = {"name": "intermediate"}
    config["run"] = {"run_id": run_id, "stage": spec.stage, "roles": list(spec.roles), "variant": spec.variant}
    for lg in loggers:
        lg.log_hyperparams(config)
    return loggers


def _resolved(node: DictConfig, key: str):
    """``node[key]`` resolved, as plain Python (a container as dicts and lists), a missing value (``???``) kept
    as ``OmegaConf.to_container`` keeps it."""
    if OmegaConf.is_missing(node, key):
        return "???"
    value = node[key]
    return OmegaConf.to_container(value, resolve=True) if OmegaConf.is_config(value) else value


def keep_earlier_attempt(log_dir: Path) -> None:
    """Lightning's CSV writer deletes the ``metrics.csv`` it finds in its folder, and a run's folder is the same
    for every attempt: a resumed (killed, requeued) or rerun run would lose the metrics its earlier attempts
    logged. They move aside to ``metrics.1.csv``, ``metrics.2.csv``, ... (oldest first); ``metrics.csv`` is
    the newest attempt's. Process 0's job alone (it alone writes them): the processes of a DDP run start at once."""
    current = log_dir / "metrics.csv"
    if is_worker() or not current.is_file():
        return
    n = 1
    while (log_dir / f"metrics.{n}.csv").exists():
        n += 1
    current.rename(log_dir / f"metrics.{n}.csv")


def finish(loggers: list, ok: bool = True) -> None:
    """Close W&B runs: a sweep runs many jobs in one process, each its own W&B run. A run that did not end ``ok``
    (a failed row, an exception on its way out) closes with exit code 1, which W&B shows as failed, not finished.

    Never raises: it runs in a ``finally`` and must not replace what is in flight. On a SLURM requeue
    the step's SIGTERM also kills W&B's service process, and ``finish`` then fails with "Connection
    lost"; raised, that would hide Lightning's SIGTERMException (a SystemExit, which lets the requeued
    job be the one that counts) and make the whole sweep fail.
    """
    for lg in loggers:
        if type(lg).__name__ == "WandbLogger" and lg._experiment is not None:
            try:
                lg.experiment.finish(exit_code=0 if ok else 1)
            except Exception as exc:  # noqa: BLE001 (the run's results do not depend on W&B closing)
                logging.getLogger(__name__).warning("W&B run not closed cleanly (%s: %s); its offline files "
                                                    "stay on disk for `wandb sync`", type(exc).__name__, exc)


def record_row(loggers: list, row: dict) -> None:
    """The run's ledger row in its W&B run (config key ``ledger``: what ``python -m itt.report --wandb``
    reads), and its per-eval-set metrics as a table a W&B panel can group by language and family.
    Never raises: W&B failing must not lose the row, which the ledger gets next."""
    for lg in loggers:
        if type(lg).__name__ != "WandbLogger":
            continue
        try:
            experiment = lg.experiment
            experiment.config.update({"ledger": row}, allow_val_change=True)
            experiment.summary["status"] = row.get("status")  # a W&B filter for failed runs, as the ledger has them
            if row.get("status") == "failed":
                experiment.tags = (*experiment.tags, "failed")
            evals = row.get("evals") or {}
            if evals:
                import wandb  # noqa: PLC0415

                columns = ["eval", "kind", "lang", "family", "genus", "script", "domain", "split", "metric", "value"]
                data = [[name, e.get("kind"), e.get("lang"), e.get("family"), e.get("genus"), e.get("script"), e.get("domain"),
                         key.split("/")[0], key.split("/")[1], value]
                        for name, e in evals.items() for key, value in (e.get("metrics") or {}).items()]
                experiment.log({"evals": wandb.Table(columns=columns, data=data)})
        except Exception as exc:  # noqa: BLE001 (the ledger row does not depend on W&B)
            logging.getLogger(__name__).warning("ledger row not stored in W&B (%s: %s)", type(exc).__name__, exc)
