"""Load one dataset spec into canonical columns: ``text``, optional ``text_pair``, ``label``.

Three places data can come from, decided per spec:
- a local file or folder (csv, tsv, jsonl/json, parquet): how users bring their own data; any source;
- ``source=embedded``: the generated stand-in with the spec's task, language and domain;
- ``source=hub``: the real dataset through ``datasets.load_dataset`` (cached by ``datasets``).
Every problem with the data raises a one-line ``DataError`` that names the file/dataset and the way out.
"""

from __future__ import annotations

import math
from pathlib import Path

import datasets
from datasets import Dataset, DatasetDict

from itt.data import embedded
from itt.errors import DataError, HubUnreachableError, one_line
from itt.hub_access import ensure_offline_if_unreachable
from itt.schema import DatasetSpec
from itt.tasks import Task

LOCAL_FORMATS = {".csv": "csv", ".tsv": "csv", ".json": "json", ".jsonl": "json", ".parquet": "parquet"}
SPLIT_ALIASES = {"train": ("train",), "validation": ("validation", "valid", "val", "dev"), "test": ("test",)}


def is_local(spec: DatasetSpec) -> bool:
    return Path(spec.path).expanduser().exists() or spec.path.startswith(("./", "../", "/", "~"))


def load_spec(spec: DatasetSpec, task: Task, task_name: str, source: str, seed: int,
              hub_timeout_s: float = 5.0) -> tuple[DatasetDict, list[str]]:
    """The dataset's own splits (canonical names) with canonical columns, and its label names."""
    if is_local(spec):
        raw, where = _load_local(spec), str(Path(spec.path).expanduser())
    elif source == "embedded":
        return _load_embedded(spec, task, task_name, seed)
    else:
        raw, where = _load_hub(spec, hub_timeout_s), spec.path
    return canonicalize(raw, spec, task, where)


def _load_local(spec: DatasetSpec) -> DatasetDict:
    path = Path(spec.path).expanduser()
    if not path.exists():
        raise DataError(f"{path}: no such file or folder (task.datasets.*.path); give a csv/tsv/jsonl/json/parquet file or a folder of them")
    files = sorted(p for p in path.iterdir() if p.suffix in LOCAL_FORMATS) if path.is_dir() else [path]
    if not files:
        raise DataError(f"{path}: no csv/tsv/jsonl/json/parquet files in this folder")
    suffixes = {p.suffix for p in files}
    if len({LOCAL_FORMATS.get(s) for s in suffixes}) != 1 or None in {LOCAL_FORMATS.get(s) for s in suffixes}:
        raise DataError(f"{path}: cannot read {', '.join(sorted(suffixes))}; valid: {', '.join(LOCAL_FORMATS)} (one format per folder)")
    builder = LOCAL_FORMATS[files[0].suffix]
    data_files: dict[str, list[str]] = {}
    for f in files:  # train.csv / dev.csv / test.csv in a folder are its official splits
        split = next((name for name, aliases in SPLIT_ALIASES.items() if f.stem.lower() in aliases), "train")
        data_files.setdefault(split, []).append(str(f))
    kwargs = {"delimiter": "\t"} if ".tsv" in suffixes else {}
    try:
        return datasets.load_dataset(builder, data_files=data_files, **kwargs)
    except Exception as exc:  # pyarrow/pandas parse errors carry the useful detail
        detail = exc
        while detail.__cause__ is not None:  # datasets wraps it: "An error occurred while generating the dataset"
            detail = detail.__cause__
        raise DataError(f"{path}: unreadable as {builder}: {one_line(detail)[:300]}") from exc


def _load_hub(spec: DatasetSpec, timeout_s: float) -> DatasetDict:
    ensure_offline_if_unreachable(timeout_s)
    try:
        return datasets.load_dataset(spec.path, spec.subset, revision=spec.revision)
    except Exception as exc:
        if "offline" in str(exc).lower() or "couldn't reach" in str(exc).lower() or isinstance(exc, ConnectionError):
            raise HubUnreachableError(
                f"dataset {spec.path!r} is not cached and the hub is unreachable: use source=embedded, "
                f"or point task.datasets.<role>.path at a local csv/jsonl/parquet file"
            ) from exc
        raise DataError(f"dataset {spec.path!r} (subset {spec.subset!r}): {one_line(exc)[:300]}") from exc


# Task config name -> embedded generator name, for specs that do not name their generator.
EMBEDDED_GENERATOR_OF_TASK = {"sentiment": "sentiment", "text_classification": "topics", "sentence_similarity": "similarity"}


def _load_embedded(spec: DatasetSpec, task: Task, task_name: str, seed: int) -> tuple[DatasetDict, list[str]]:
    num_labels = len(spec.labels) if spec.labels else None
    generator = getattr(spec, "generator", None) or EMBEDDED_GENERATOR_OF_TASK.get(task_name, task_name)
    try:
        # The stand-in's rows depend on the data seed only through (task, lang, domain): the split
        # seed reshuffles them, like a real dataset that stays the same across seeds.
        rows = embedded.generate(generator, spec.lang, spec.domain, spec.embedded_rows, seed=0, num_labels=num_labels)
        names = embedded.label_names(generator, spec.domain, num_labels) if task.kind == "sequence_classification" else []
    except ValueError as exc:
        raise DataError(f"no embedded stand-in for task={task_name} lang={spec.lang} domain={spec.domain}: {exc}; "
                        f"point task.datasets.<role>.path at a local file instead") from exc
    return DatasetDict({"train": Dataset.from_list(rows)}), names  # regression labels come scaled to [0, 1]


def canonicalize(raw: DatasetDict, spec: DatasetSpec, task: Task, where: str) -> tuple[DatasetDict, list[str]]:
    """Pick the spec's columns, map labels, validate every row; one DataError line per problem."""
    wanted = {v: k for k, v in (spec.splits or {}).items() if v}
    splits = {wanted.get(name, name): ds for name, ds in raw.items()}
    if len(spec.text_fields) not in (1, 2):
        raise DataError(f"{where}: text_fields must list one or two columns, got {list(spec.text_fields)}")
    out, names = {}, list(spec.labels) if spec.labels else None
    for split, ds in splits.items():
        missing = [c for c in [*spec.text_fields, spec.label_field] if c not in ds.column_names]
        if missing:
            raise DataError(f"{where} [{split}]: column {missing[0]!r} not found; columns are: {', '.join(ds.column_names)}")
        if names is None and task.kind == "sequence_classification":
            feature = ds.features[spec.label_field]
            names = list(feature.names) if hasattr(feature, "names") else sorted({str(v) for v in ds[spec.label_field]})
        out[split] = _canonical_split(ds, spec, task, names or [], f"{where} [{split}]")
    return DatasetDict(out), names or []


def _canonical_split(ds: Dataset, spec: DatasetSpec, task: Task, names: list[str], where: str) -> Dataset:
    texts = [ds[c] for c in spec.text_fields]
    raw_labels = ds[spec.label_field]
    feature = ds.features[spec.label_field]
    columns: dict[str, list] = {"text": [], "label": []}
    if len(texts) == 2:
        columns["text_pair"] = []
    index = {n: i for i, n in enumerate(names)}
    for row, raw in enumerate(raw_labels):
        parts = [t[row] for t in texts]
        for field, value in zip(spec.text_fields, parts):
            if value is None or not str(value).strip():
                raise DataError(f"{where} row {row}: empty text in column {field!r}")
        if task.kind == "sequence_classification":
            label = _class_index(raw, feature, spec, index, names, where, row)
            if label is None:  # label_map sends this label nowhere: the row is dropped on purpose
                continue
        else:
            label = _scaled_score(raw, spec, where, row)
        columns["text"].append(str(parts[0]))
        if len(parts) == 2:
            columns["text_pair"].append(str(parts[1]))
        columns["label"].append(label)
    return Dataset.from_dict(columns)


def _class_index(raw, feature, spec, index, names, where, row):
    name = feature.names[raw] if hasattr(feature, "names") and isinstance(raw, int) and raw >= 0 else raw
    if spec.label_map is not None:
        key = str(raw)
        if key not in spec.label_map:
            raise DataError(f"{where} row {row}: label {raw!r} is not in label_map; mapped labels: {', '.join(spec.label_map)}")
        name = spec.label_map[key]
        if name is None:
            return None
    if str(name) in index:
        return index[str(name)]
    if isinstance(name, int) and 0 <= name < len(names) and spec.labels and spec.label_map is None:
        return name  # integer labels that index the declared names
    raise DataError(f"{where} row {row}: label {raw!r} is not a declared label; valid: {', '.join(names)}")


def _scaled_score(raw, spec, where, row) -> float:
    try:
        value = float(raw)
    except (TypeError, ValueError):
        value = math.nan
    lo, hi = spec.score_range or (0.0, 1.0)
    if not math.isfinite(value) or not lo <= value <= hi:
        raise DataError(f"{where} row {row}: score {raw!r} is not a number in score_range [{lo}, {hi}]")
    return (value - lo) / (hi - lo)
