"""The run ledger (``results.jsonl``) as a pandas DataFrame, cleaned for the statistics.

The ledger itself (where it lives, the row schema ``itt.ledger.LedgerRow``, reading its lines, which
row of a run counts) is defined once in :mod:`itt.ledger`; this module only turns its rows into one
tidy frame and offers the selections the statistics need (which count one row per configuration,
``config_id``, where the pipeline's cache check counts one per run id, i.e. per machine):

* :func:`load_ledger`   – every well-formed row, one column per ``LedgerRow`` field, metrics flattened.
* :func:`latest_ok`     – the row that counts for each run (the newest ``ok`` row of its ``config_id``).
* :func:`failed_runs`   – runs that never succeeded (listed apart, never averaged).

The ledger is append-only and written by many processes (local sweeps, SLURM array jobs), so it can
hold a truncated last line, retries of the same run, and "cached" notes. Rows of every age are read:
keys a row lacks become null (``itt_variant`` is derived from ``itt`` for rows written before chains
existed: ``intermediate`` for ITT targets, else ``none``).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from itt import ledger

# Columns every frame has, in this order, whether or not the ledger rows carry them (missing values
# become null, so downstream code never needs ``if "x" in df``): one per field of the row schema...
LEDGER_COLUMNS = list(ledger.FIELDS)
# ...then the report's own: ``_line``, the row's line in the ledger (file order breaks ties in time).
# After them come the flattened metrics, one column per key of ``metrics`` (``test/acc``, ...), and
# whatever else a row carries (W&B frames: ``wandb_*``).
REPORT_COLUMNS = ["_line"]
FRAME_COLUMNS = LEDGER_COLUMNS + REPORT_COLUMNS


# How the frame stores each field of the row schema (every field is in exactly one of these; tested).
# Dict/list-valued keys: a missing or malformed one becomes an empty container, so readers can
# call .get() without checking.
_DICT_COLUMNS = ("model_info", "metrics", "dataset", "evals", "data_sizes", "numerics", "machine", "overlap")
_LIST_COLUMNS = ("datasets", "chain")
# Text keys: str or None (never NaN); numbers: nullable Int64 / float.
_STR_COLUMNS = ("run_id", "config_id", "status", "model", "task", "kind", "stage", "target", "itt_variant", "split", "source",
                "hparams_id", "setup_id", "intermediate_hparams_id", "primary_metric", "selected_on", "parent_run_id",
                "intermediate_run_id", "head", "head_policy", "checkpoint", "weights_digest", "parent_weights_digest",
                "predictions", "precision", "device", "error", "sweep")
_INT_COLUMNS = ("seed", "n_test", "resumed_from_step")
_FLOAT_COLUMNS = ("wall_s", "train_s", "eval_s")
# The rest: ``time`` (a string in the row) is parsed to a UTC timestamp, ``itt`` (a bool) is filled by
# _fill_chain_fields, and a mixture's ``sampler`` dict stays null when absent.
_OWN_WAY_COLUMNS = ("time", "itt", "sampler")
# The label of a target run without intermediate training, and of runs without a parent.
NO_ITT = "none"
# What pre-chain ITT targets were: one intermediate step on the task's "intermediate" role.
OLD_ITT_VARIANT = "intermediate"
# Without these a row cannot be attributed to a run at all, so it is skipped.
REQUIRED_KEYS = ("run_id", "stage", "status")

# Keys that define which runs may be compared with one another (see the ledger spec: only runs sharing
# source, split and hparams_id are comparable). selected_on: the validation metric that picked the checkpoint
# (stage.select_on) is in the run id but not in hparams_id, and runs selected on another metric are other runs.
GROUP_KEYS = ["source", "split", "hparams_id", "selected_on"]
# Placeholder for a missing grouping value: pandas groupby silently drops NaN keys, and a
# silently dropped run is worse than a visible "n/a" group.
MISSING = "n/a"


def group_line(keys) -> str:
    """``group: source=embedded split=paper hparams=ab12cd34 checkpoint on val/de/acc`` for a dict or row of
    GROUP_KEYS (no checkpoint part for rows that predate ``selected_on``)."""
    get = keys.get if isinstance(keys, dict) else lambda k: getattr(keys, k)
    picked = get("selected_on")
    on = "" if picked == MISSING or is_missing(picked) else f" checkpoint on {picked}"
    return f"group: source={get('source')} split={get('split')} hparams={get('hparams_id')}{on}"


def group_tag(keys) -> str:
    """A group as a file-name part: ``<source>-<split>-<hparams_id>[-<checkpoint metric>]``."""
    get = keys.get if isinstance(keys, dict) else lambda k: getattr(keys, k)
    picked = get("selected_on")
    on = [] if picked == MISSING or is_missing(picked) else [str(picked)]
    return "-".join([str(get("source")), str(get("split")), str(get("hparams_id")), *on])


def group_suffix(table: pd.DataFrame, keys, sep: str) -> str:
    """``<sep>`` and the group line of a section, where ``table`` holds several groups (``GROUP_KEYS``): a view
    whose headings name no group would show two learning rates' opposite results under one title; else ""."""
    if table[GROUP_KEYS].drop_duplicates().shape[0] <= 1:
        return ""
    return sep + group_line(keys).removeprefix("group: ")


class LedgerWarning(UserWarning):
    """A ledger row was skipped or looked suspicious (corrupt line, missing keys, ...)."""


def warn(msg: str) -> None:
    """A ledger problem for the user (printed as one ``warning:`` line by ``python -m itt.report``)."""
    warnings.warn(msg, LedgerWarning, stacklevel=3)


def _read_rows(path: Path) -> list[dict]:
    """The ledger's rows (``itt.ledger.read_file``) that name a run, each with its ``_line``."""
    rows = []
    for lineno, row in ledger.read_file(path, on_skip=warn):
        missing = [k for k in REQUIRED_KEYS if row.get(k) in (None, "")]
        if missing:
            warn(f"{path}:{lineno}: skipping row without {', '.join(missing)}")
            continue
        row["_line"] = lineno
        rows.append(row)
    return rows


def records_to_frame(records: list[Mapping]) -> pd.DataFrame:
    """Build the ledger frame from row dicts (ledger lines or W&B runs mapped to that shape).

    Every metric in ``row["metrics"]`` becomes its own column (``"test/acc"``, ...) so that
    notebooks can slice with plain pandas; the original dict stays in ``metrics``.
    """
    records = [dict(r) for r in records]
    for i, r in enumerate(records):
        r.setdefault("_line", i + 1)
        if not isinstance(r.get("metrics"), Mapping):
            r["metrics"] = {}
    df = pd.DataFrame.from_records(records) if records else pd.DataFrame()
    for col in FRAME_COLUMNS:
        if col not in df.columns:
            df[col] = pd.Series([None] * len(df), dtype=object)

    metric_keys = sorted({k for m in df["metrics"] for k in m})
    for key in metric_keys:
        if key in df.columns:
            warn(f"metric {key!r} clashes with a ledger column; read it from df['metrics']")
            continue
        df[key] = pd.to_numeric(
            pd.Series([_as_float(m.get(key)) for m in df["metrics"]], index=df.index),
            errors="coerce",
        )

    # The ledger reader's own parse (``itt.ledger.row_time``: UTC; no or unreadable time -> NaT, which
    # ``chronological`` puts first as the reader does), so both order rows alike.
    df["time"] = pd.to_datetime([_row_time(r) for r in records], utc=True) if records else df["time"]
    for col in _INT_COLUMNS:
        df[col] = pd.to_numeric(df[col], errors="coerce").astype("Int64")
    for col in _FLOAT_COLUMNS:
        df[col] = pd.to_numeric(df[col], errors="coerce")
    for col in _DICT_COLUMNS:
        df[col] = [v if isinstance(v, Mapping) else {} for v in df[col]]
    for col in _LIST_COLUMNS:
        df[col] = [list(v) if isinstance(v, (list, tuple)) else [] for v in df[col]]
    for col in _STR_COLUMNS:
        df[col] = df[col].map(lambda v: None if is_missing(v) else str(v)).astype(object)
    _fill_chain_fields(df)
    # Rows from before the machine was in the run id: their run id is their config id (itt.identity.config_id).
    df["config_id"] = [ledger.config_of(r) for r in df[["run_id", "config_id"]].to_dict("records")]
    return df[FRAME_COLUMNS + [c for c in df.columns if c not in FRAME_COLUMNS]].reset_index(drop=True)


def _fill_chain_fields(df: pd.DataFrame) -> None:
    """Make old and new rows say the same thing about ITT: ``itt`` (target stage), ``itt_variant``
    and ``parent_run_id`` are filled from whichever of them a row has."""
    itt = df["itt"].map(_as_bool)
    variant = df["itt_variant"]
    target = df["stage"] == "target"
    # New rows name the variant; a target's itt flag follows from it when the flag is missing.
    from_variant = variant.map(lambda v: None if v is None else v != NO_ITT)
    itt = itt.where(itt.notna() | ~target, from_variant)
    df["itt"] = itt.astype(object).where(itt.notna(), None)
    old_label = itt.map(lambda v: OLD_ITT_VARIANT if v is True else NO_ITT)
    df["itt_variant"] = variant.where(variant.notna(), old_label).astype(object)
    parent = df["parent_run_id"]
    df["parent_run_id"] = parent.where(parent.notna(), df["intermediate_run_id"]).astype(object)


def load_ledger(path: str | Path) -> pd.DataFrame:
    """Read ``results.jsonl`` (or a root directory holding it) into a DataFrame.

    Corrupt / truncated lines and rows without ``run_id``/``stage``/``status`` are skipped
    with a :class:`LedgerWarning`. Raises ``FileNotFoundError`` when the file is absent, and
    :class:`~itt.errors.OutputError` when a folder is where it goes.
    An existing but empty ledger gives an empty frame (with all columns).
    """
    path = Path(path)
    if path.is_dir() and path.name != ledger.LEDGER_NAME:  # a root; a folder named like the ledger is in its way
        path = ledger.ledger_path(path)
    if not path.exists():
        raise FileNotFoundError(f"ledger not found: {path}")
    return records_to_frame(_read_rows(path))


def _by_line(df: pd.DataFrame) -> pd.DataFrame:
    return df.sort_values("_line", kind="stable")


def _row_time(row: Mapping):
    t = ledger.row_time(row)
    return None if t == ledger.EARLIEST else t


def chronological(df: pd.DataFrame) -> pd.DataFrame:
    """Rows (of the frame or of a table with its ``time`` and ``_line``) in the ledger's chronological
    order, ``itt.ledger.order_key``: by time (a row without one first), then by line."""
    return df.sort_values(["time", "_line"], kind="stable", na_position="first")


def _latest(df: pd.DataFrame, status: str) -> pd.DataFrame:
    """The newest ``status`` row of each configuration (``config_id``), as ``itt.ledger.latest`` picks a
    run's; in ledger line order."""
    rows = df[(df["status"] == status) & df["run_id"].notna()]
    return _by_line(chronological(rows).drop_duplicates("config_id", keep="last"))


def latest_ok(df: pd.DataFrame) -> pd.DataFrame:
    """The row that counts for each run: the latest ``ok`` row of its configuration. The run id holds the
    machine (``itt.hardware.machine``), so a seed run again on another kind of node is another run id of
    the same ``config_id``: the newer row replaces the older instead of counting as one more seed, and
    rows whose parent was such a replaced row point at the parent row that counts (``parent_run_id`` and
    ``intermediate_run_id``; ``chain`` keeps the ids the run trained after). ``cached`` and ``failed``
    rows never count."""
    rows = _latest(df, "ok").copy()
    counted = dict(zip(rows["config_id"], rows["run_id"]))
    config_of = dict(zip(df["run_id"], df["config_id"]))
    for column in ("parent_run_id", "intermediate_run_id"):
        rows[column] = [p if is_missing(p) else counted.get(config_of.get(p, p), p) for p in rows[column]]
    return rows


def warn_outdated(df: pd.DataFrame, counted: pd.DataFrame) -> None:
    """One warning naming the ``counted`` runs whose chain started from weights a parent has no more (the parent
    was trained again since with other weights; ``itt.ledger.outdated_link``): their numbers are of a model that is
    gone, and their own command trains them again. Parents are each run's own (newest ok row of its run id), not
    the ones the report counts for its config on another machine, whose weights differ by design."""
    ok = chronological(df[(df["status"] == "ok") & df["run_id"].notna()])
    columns = ["run_id", "parent_run_id", "weights_digest", "parent_weights_digest"]
    newest = {row["run_id"]: row for row in ok[columns].to_dict("records")}
    outdated = [rid for rid in counted["run_id"] if rid in newest and ledger.outdated_link(newest[rid], newest)]
    if outdated:
        warn(f"{len(outdated)} run(s) trained from weights their parent (or an earlier step) has no more, trained "
             f"again since: {', '.join(outdated)}; counted as they are, rerun them with their own command to replace them")


def failed_runs(df: pd.DataFrame) -> pd.DataFrame:
    """Configurations with at least one ``failed`` row and no ``ok`` row on any machine (latest failed
    attempt each)."""
    ok_ids = set(df.loc[df["status"] == "ok", "config_id"])
    return _latest(df[~df["config_id"].isin(ok_ids)], "failed")


# -- small coercions -------------------------------------------------------------------

def is_missing(v) -> bool:
    if v is None:
        return True
    try:
        return bool(pd.isna(v))
    except (TypeError, ValueError):  # lists/dicts: not a scalar NA
        return False


def _as_float(v) -> float:
    if isinstance(v, bool) or v is None:
        return math.nan
    try:
        return float(v)
    except (TypeError, ValueError):
        return math.nan


def _as_bool(v):
    """JSON booleans, plus the string/int spellings a hand-edited ledger might contain."""
    if is_missing(v):
        return None
    if isinstance(v, bool):
        return v
    if isinstance(v, (int, float)):
        return bool(v)
    s = str(v).strip().lower()
    if s in {"true", "1", "yes", "itt"}:
        return True
    if s in {"false", "0", "no", "noitt", "no-itt"}:
        return False
    return None
