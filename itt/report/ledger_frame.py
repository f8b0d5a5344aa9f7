"""Load the run ledger (``results.jsonl``) into a pandas DataFrame and clean it.

The ledger is append-only and written by many processes (local sweeps, SLURM array jobs),
so it can hold a truncated last line, retries of the same run, and "cached" notes. This
module turns it into one tidy frame and offers the selections the statistics need:

* :func:`load_ledger`   – every well-formed row, metrics flattened into columns.
* :func:`latest_ok`     – the latest ``status == "ok"`` row per ``run_id`` (what statistics use).
* :func:`failed_runs`   – runs that never succeeded (listed apart, never averaged).

Rows of every age are read: keys a row lacks become null (``itt_variant`` is derived from ``itt``
for rows written before chains existed: ``intermediate`` for ITT targets, else ``none``).
"""

from __future__ import annotations

import json
import math
import warnings
from collections.abc import Iterable, Mapping
from pathlib import Path

import pandas as pd

LEDGER_NAME = "results.jsonl"

# Columns every frame has, in this order, whether or not the ledger rows carry them;
# missing values become NA so downstream code never needs ``if "x" in df``.
LEDGER_COLUMNS = [
    "run_id", "model", "task", "kind", "stage", "target", "itt", "itt_variant", "seed", "split",
    "source", "primary_metric", "checkpoint", "intermediate_run_id", "parent_run_id", "wall_s",
    "status", "error", "hparams_id", "time", "model_info", "dataset", "datasets", "evals", "chain",
    "n_test", "data_sizes", "predictions",
]
# Dict/list-valued keys: a missing or malformed one becomes an empty container, so readers can
# call .get() without checking.
_DICT_COLUMNS = ("model_info", "dataset", "evals", "data_sizes")
_LIST_COLUMNS = ("datasets", "chain")
# The label of a target run without intermediate training, and of runs without a parent.
NO_ITT = "none"
# What pre-chain ITT targets were: one intermediate step on the task's "intermediate" role.
OLD_ITT_VARIANT = "intermediate"
# Without these a row cannot be attributed to a run at all, so it is skipped.
REQUIRED_KEYS = ("run_id", "stage", "status")

# Keys that define which runs may be compared with one another (see the ledger spec:
# only runs sharing source, split and hparams_id are comparable).
GROUP_KEYS = ["source", "split", "hparams_id"]
# Placeholder for a missing grouping value: pandas groupby silently drops NaN keys, and a
# silently dropped run is worse than a visible "n/a" group.
MISSING = "n/a"


class LedgerWarning(UserWarning):
    """A ledger row was skipped or looked suspicious (corrupt line, missing keys, ...)."""


def ledger_path(root: str | Path) -> Path:
    """``${root}/results.jsonl`` – where the training code appends one row per finished run."""
    return Path(root) / LEDGER_NAME


def _warn(msg: str) -> None:
    warnings.warn(msg, LedgerWarning, stacklevel=3)


def _parse_lines(lines: Iterable[str], origin: str) -> list[dict]:
    rows = []
    for lineno, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            # A truncated last line is expected when a job was killed mid-write.
            _warn(f"{origin}:{lineno}: skipping corrupt line ({exc.msg})")
            continue
        if not isinstance(row, dict):
            _warn(f"{origin}:{lineno}: skipping line that is not a JSON object")
            continue
        missing = [k for k in REQUIRED_KEYS if row.get(k) in (None, "")]
        if missing:
            _warn(f"{origin}:{lineno}: skipping row without {', '.join(missing)}")
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
    for col in LEDGER_COLUMNS + ["metrics", "_line"]:
        if col not in df.columns:
            df[col] = pd.Series([None] * len(df), dtype=object)

    metric_keys = sorted({k for m in df["metrics"] for k in m})
    for key in metric_keys:
        if key in df.columns:
            _warn(f"metric {key!r} clashes with a ledger column; read it from df['metrics']")
            continue
        df[key] = pd.to_numeric(
            pd.Series([_as_float(m.get(key)) for m in df["metrics"]], index=df.index),
            errors="coerce",
        )

    # Parse time once; mixed offsets are normalised to UTC, unparseable -> NaT.
    df["time"] = pd.to_datetime(df["time"], utc=True, errors="coerce", format="ISO8601")
    df["seed"] = pd.to_numeric(df["seed"], errors="coerce").astype("Int64")
    df["wall_s"] = pd.to_numeric(df["wall_s"], errors="coerce")
    df["n_test"] = pd.to_numeric(df["n_test"], errors="coerce").astype("Int64")
    for col in _DICT_COLUMNS:
        df[col] = [v if isinstance(v, Mapping) else {} for v in df[col]]
    for col in _LIST_COLUMNS:
        df[col] = [list(v) if isinstance(v, (list, tuple)) else [] for v in df[col]]
    for col in ("run_id", "model", "task", "kind", "stage", "target", "split", "source", "status",
                "hparams_id", "primary_metric", "itt_variant", "parent_run_id",
                "intermediate_run_id", "predictions"):
        df[col] = df[col].map(lambda v: None if _is_missing(v) else str(v)).astype(object)
    _fill_chain_fields(df)
    ordered = LEDGER_COLUMNS + ["metrics", "_line"]
    return df[ordered + [c for c in df.columns if c not in ordered]].reset_index(drop=True)


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
    with a :class:`LedgerWarning`. Raises ``FileNotFoundError`` when the file is absent.
    An existing but empty ledger gives an empty frame (with all columns).
    """
    path = Path(path)
    if path.is_dir():
        path = ledger_path(path)
    if not path.is_file():
        raise FileNotFoundError(f"ledger not found: {path}")
    with path.open(encoding="utf-8", errors="replace") as fh:
        rows = _parse_lines(fh, str(path))
    return records_to_frame(rows)


def _chronological(df: pd.DataFrame) -> pd.DataFrame:
    # Ledger time when it parses, file order as tie-break (append order ~ finish order).
    return df.sort_values(["time", "_line"], na_position="first", kind="stable")


def latest_ok(df: pd.DataFrame) -> pd.DataFrame:
    """The latest ``ok`` row per ``run_id``. ``cached`` and ``failed`` rows never count."""
    ok = df[df["status"] == "ok"]
    return _chronological(ok).drop_duplicates("run_id", keep="last").sort_values("_line")


def failed_runs(df: pd.DataFrame) -> pd.DataFrame:
    """Runs with at least one ``failed`` row and no ``ok`` row (latest failed attempt each)."""
    ok_ids = set(df.loc[df["status"] == "ok", "run_id"])
    failed = df[(df["status"] == "failed") & ~df["run_id"].isin(ok_ids)]
    return _chronological(failed).drop_duplicates("run_id", keep="last").sort_values("_line")


# -- small coercions -------------------------------------------------------------------

def _is_missing(v) -> bool:
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
    if _is_missing(v):
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
