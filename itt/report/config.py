"""The report's settings: a typed dataclass filled from ``key=value`` words (``OmegaConf.from_dotlist``).

Keys: ``paths.root`` (where ``results.jsonl`` lives; default ``outputs``), ``metric`` (``acc`` =
``test/acc``, ``val/acc``; default: each run's primary metric), ``out`` (default
``${paths.root}/report``), ``wandb`` (``ENTITY/PROJECT``: read runs from W&B instead),
``status`` (``true``: print run/sweep status instead of the report), ``sweep`` (the sweep directory
``--status`` inspects; default the newest under ``${paths.root}/sweeps``), ``bootstrap.resamples``
(default 1000; 0 = t-intervals only) and ``bootstrap.seed`` (default 0).

Flags are aliases of keys: ``--root X`` = ``paths.root=X``, ``--metric X``, ``--out X``,
``--wandb X``, ``--sweep X``, and ``--status`` = ``status=true``. A leading ``+``/``++`` (Hydra's
append/force, typed out of habit) is ignored.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from omegaconf import OmegaConf
from omegaconf.errors import OmegaConfBaseException


@dataclass
class PathsConfig:
    root: str = "outputs"


@dataclass
class BootstrapConfig:
    resamples: int = 1000
    seed: int = 0


@dataclass
class ReportConfig:
    paths: PathsConfig = field(default_factory=PathsConfig)
    metric: Optional[str] = None
    out: Optional[str] = None
    wandb: Optional[str] = None
    status: bool = False
    sweep: Optional[str] = None
    bootstrap: BootstrapConfig = field(default_factory=BootstrapConfig)


FLAG_KEYS = {"--root": "paths.root", "--metric": "metric", "--out": "out", "--wandb": "wandb",
             "--sweep": "sweep"}
SWITCHES = {"--status": "status=true"}


class UsageError(ValueError):
    """Bad command-line words; the message is the one line to print."""


def valid_keys(node=None, prefix: str = "") -> list[str]:
    node = OmegaConf.structured(ReportConfig) if node is None else node
    keys = []
    for k in node:
        child = node[k]
        keys += (valid_keys(child, f"{prefix}{k}.") if OmegaConf.is_dict(child)
                 else [f"{prefix}{k}"])
    return keys


def to_dotlist(argv: list[str]) -> list[str]:
    """Flags and switches -> ``key=value`` words; everything else must already be one."""
    words, i = [], 0
    while i < len(argv):
        arg = argv[i]
        flag, eq, value = arg.partition("=")
        if arg in SWITCHES:
            words.append(SWITCHES[arg])
        elif flag in FLAG_KEYS:
            if not eq:
                if i + 1 >= len(argv):
                    raise UsageError(f"{flag} needs a value")
                i, value = i + 1, argv[i + 1]
            words.append(f"{FLAG_KEYS[flag]}={value}")
        elif arg.startswith("-"):
            raise UsageError(f"unknown option {arg}; options: "
                             + ", ".join([*FLAG_KEYS, *SWITCHES]) + " (or key=value)")
        elif "=" in arg:
            words.append(arg.lstrip("+"))
        else:
            raise UsageError(f"{arg!r} is not key=value; valid keys: {', '.join(valid_keys())}")
        i += 1
    return words


def parse_args(argv: list[str]) -> ReportConfig:
    """The typed config of a command line; :class:`UsageError` with one line otherwise."""
    words = to_dotlist(argv)
    schema = OmegaConf.structured(ReportConfig)
    keys = valid_keys(schema)
    for word in words:
        key = word.split("=", 1)[0]
        if key not in keys:
            raise UsageError(f"unknown key {key!r}; valid keys: {', '.join(keys)}")
    try:
        cfg = OmegaConf.merge(schema, OmegaConf.from_dotlist(words))
    except OmegaConfBaseException as exc:
        key = getattr(exc, "full_key", None) or "?"
        message = str(exc).strip().splitlines()[0]
        raise UsageError(f"{key}: {message}") from None
    cfg = OmegaConf.to_object(cfg)
    check_values(cfg)
    return cfg


def check_values(cfg: ReportConfig) -> None:
    """Values their types let through but the report cannot use: said now, before the ledger is read
    (a negative resample count or seed otherwise fails deep inside numpy, after the tables are computed)."""
    from .long_table import MetricError, metric_choice  # noqa: PLC0415 (pandas: only once the words parse)

    try:
        metric_choice(cfg.metric)
    except MetricError as exc:
        raise UsageError(str(exc)) from None
    for key, note in (("resamples", " (0: t-intervals over seeds, ρ without an interval)"), ("seed", "")):
        value = getattr(cfg.bootstrap, key)
        if value < 0:
            raise UsageError(f"bootstrap.{key}={value}: must be >= 0{note}")
