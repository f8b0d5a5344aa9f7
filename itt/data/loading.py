"""Where a dataset spec's rows come from, as the dataset's own splits and columns.

- a local file or folder (csv, tsv, jsonl/json, parquet; conll/conllu word-per-line files): how users
  bring their own data, any source. ``datasets`` reads the tabular formats (``itt.data.conll`` the
  word-per-line ones) and names a folder's splits from its file names (``train``, ``dev``/``valid``
  /``validation``, ``test``...); a header-less csv/tsv or a .conll file gets its column names from the
  spec's ``columns``; a csv/tsv file is read with the spec's ``quoting`` (CSV quoting unless ``none``), and its rows
  are checked against its lines (``check_rows``);
- ``source=embedded``: the generated stand-in named by the spec's ``generator`` (canonical already);
- ``source=hub``: ``datasets.load_dataset(path, subset, revision=...)``, cached by ``datasets``; from the
  hub's parquet export (``revision: refs/convert/parquet``) the subset is the export's folder (``data_dir``).

Only the splits the spec declares (``splits``: canonical name -> the dataset's split name) are ever
read: IMDb's 50k-row ``unsupervised`` split is not. Every problem raises a one-line ``DataError`` that
names the file or dataset and the way out.
"""

from __future__ import annotations

import logging
from pathlib import Path

import datasets
from datasets import Dataset

from itt.data import conll, embedded
from itt.data.files import (DEFAULT_QUOTING, DELIMITED, LOCAL_SUFFIXES, QUOTINGS, count_records, fingerprint, is_local,
                            local_data_problem, local_files, quoting_problem)
from itt.errors import ConfigError, DataError, HubUnreachableError, one_line
from itt.hub_access import ensure_offline_if_unreachable

SPLITS = ("train", "validation", "test")
log = logging.getLogger(__name__)


def load_raw(spec, source: str, hub_timeout_s: float = 5.0, where: str | None = None) -> tuple[dict[str, Dataset], str]:
    """The declared splits of a local or hub dataset (canonical split name -> raw ``Dataset``) and the
    name errors use for it (file path or hub id). ``where``: the spec's place in the config
    (``task.evals.de (google-research-datasets/paws-x)``), for an unreachable hub's error and the key of a local
    file's ``quoting``."""
    key = f"{where.split(' ')[0] if where and where.startswith('task.') else 'task.datasets.*'}.quoting"
    problem = quoting_problem(spec.path, spec.quoting, key)
    if problem:
        raise ConfigError(problem)
    if is_local(spec.path):
        raw, where, strict = _load_local(spec, key), str(Path(spec.path).expanduser()), False
    else:
        raw, where, strict = _load_hub(spec, hub_timeout_s, where), spec.path, True
    declared = {name: theirs for name, theirs in (spec.splits or {}).items() if theirs}
    if strict:  # a hub spec names real splits: a missing one is a spec error, not an empty split
        missing = [theirs for theirs in declared.values() if theirs not in raw]
        if missing:
            raise DataError(f"{where}: has no split {missing[0]!r} (task.datasets.*.splits); its splits are: "
                            f"{', '.join(raw)}")
    splits = {name: raw[theirs] for name, theirs in declared.items() if theirs in raw}
    if not splits:
        raise DataError(f"{where}: none of the declared splits ({', '.join(declared.values())}) exists; "
                        f"its splits are: {', '.join(raw)}")
    return {name: splits[name] for name in SPLITS if name in splits}, where


def _load_local(spec, quoting_key: str = "task.datasets.*.quoting") -> datasets.DatasetDict:
    path = Path(spec.path).expanduser()
    files = local_files(spec.path)
    # also here, for specs that never had a run id (itt.data check); datasets would say "unreadable as json:"
    # (nothing more) or 'Instruction "train" corresponds to no data!' of an empty file
    problem = local_data_problem(spec.path, "task.datasets.*.path", header=not spec.columns)
    if problem:
        raise DataError(problem)
    formats = {FORMAT_OF.get(f.suffix) for f in files}
    if len(formats) != 1 or None in formats:
        raise DataError(f"{path}: cannot read {', '.join(sorted({f.suffix for f in files}))}; valid: "
                        f"{', '.join(LOCAL_SUFFIXES)} (one format per folder)")
    fmt = formats.pop()
    if fmt in conll.FORMATS:  # word-per-line files: one row per sentence, list-valued columns
        return conll.read(files, spec.columns)
    builder, kwargs = BUILDERS[fmt]
    quoting = spec.quoting or DEFAULT_QUOTING
    if builder == "csv":
        kwargs = {**kwargs, "quoting": QUOTINGS[quoting]}
    if spec.columns:  # a header-less csv/tsv
        if builder != "csv":
            raise DataError(f"{path}: columns is only for header-less csv/tsv files and .conll files")
        kwargs = {**kwargs, "column_names": list(spec.columns), "header": None}
    # A folder: datasets names the splits from the file names (train, dev/valid/validation, test, ...).
    where = {"data_dir": str(path)} if path.is_dir() else {"data_files": {"train": str(path)}}
    # datasets keys its Arrow cache of local files by path and mtime: a file replaced with its mtime kept (cp -p,
    # rsync -a, touch -r) was served as the old rows under the new content's run id. A config name of the content
    # (a config "affects the data generated on disk", each its own cache folder) keys it as itt's run ids do, and
    # an unchanged file is still read from the cache.
    kwargs = {**kwargs, "name": f"itt-{fingerprint(spec.path)}"}
    try:
        loaded = datasets.load_dataset(builder, **where, **kwargs)
    except Exception as exc:  # pyarrow/pandas parse errors carry the useful detail
        detail = exc
        while detail.__cause__ is not None:  # datasets wraps it: "An error occurred while generating the dataset"
            detail = detail.__cause__
        hint = ""
        if builder == "csv" and quoting == "csv" and "EOF inside string" in str(detail):
            hint = f"; a field opens with a quote that never closes: a file written without CSV quoting needs {quoting_key}=none"
        raise DataError(f"{path}: unreadable as {builder}: {one_line(detail)[:300]}{hint}") from exc
    if builder == "csv":
        check_rows(loaded, path, quoting, header=not spec.columns, key=quoting_key)
    return loaded


def check_rows(loaded: datasets.DatasetDict, path: Path, quoting: str, header: bool, key: str) -> None:
    """The rows ``datasets`` read from local csv/tsv files (``path``, a file or a folder; ``loaded``: its splits) are
    the rows the files hold under ``quoting`` (``files.count_records``): pandas reads a field that opens with a quote
    and is not closed as CSV closes it on, through tabs and line breaks, to the next quote anywhere, and the lines
    in between become part of one row, without a word (an XNLI-1.0 or MNLI tsv file, whose premises may open with a
    quote: 7 data lines read as 4 rows, their labels shifted). One line names the file, its data lines, the rows
    read and ``key`` for the way out."""
    for split, files in _split_files(path, loaded).items():
        counts = {f: count_records(f, quoting, header) for f in files}
        rows = len(loaded[split])
        for f, records in counts.items():
            if records.malformed is None:
                continue
            read = f"read as {rows} rows" if len(files) == 1 else f"read with the other {split} files as {rows} rows"
            raise DataError(
                f"{f}: {records.lines} data lines {read} with CSV quoting ({key}: csv, the default), but it is not "
                f"CSV-quoted ({records.malformed}); a file written without quoting (XNLI-1.0/MNLI-style tsv: quotes "
                f"are text) needs {key}=none, a CSV file a doubled quote for each quote inside a quoted field")
        expected = sum(r.rows for r in counts.values())
        if rows != expected:
            lines = sum(r.lines for r in counts.values())
            named = files[0] if len(files) == 1 else f"{path} ({split}: {len(files)} files)"
            raise DataError(f"{named}: read as {rows} rows, but its {lines} data lines hold {expected} rows under "
                            f"{key}={quoting}; check the file's quoting ({key}: csv or none) and its line ends")


def _split_files(path: Path, loaded: datasets.DatasetDict) -> dict[str, list[Path]]:
    """Each split of ``loaded`` -> the csv/tsv files ``datasets`` read it from; a split read from any other file too
    is left out (its rows cannot be counted here)."""
    if path.is_file():
        return {split: [path] for split in loaded}
    from datasets.data_files import DataFilesDict, get_data_patterns  # noqa: PLC0415

    base = path.resolve().as_posix()  # as datasets resolves a data_dir
    resolved = DataFilesDict.from_patterns(get_data_patterns(base), base_path=base)
    out = {}
    for split in loaded:
        files = [Path(f) for f in resolved.get(split, [])]
        if files and all(f.suffix in DELIMITED for f in files):
            out[split] = files
    return out


FORMAT_OF = {".csv": "csv", ".tsv": "tsv", ".json": "json", ".jsonl": "json", ".parquet": "parquet",
             ".conll": "conll", ".conllu": "conllu"}
BUILDERS = {"csv": ("csv", {}), "tsv": ("csv", {"sep": "\t"}), "json": ("json", {}), "parquet": ("parquet", {})}


PARQUET_EXPORT = "refs/convert/parquet"


def hub_dataset(spec, **kwargs):
    """``datasets.load_dataset`` of a hub spec (``kwargs``: e.g. ``streaming``). The hub's parquet export
    (``revision: refs/convert/parquet``, what still loads of a repo whose main branch is a loading script)
    holds one folder per config and no dataset card, so datasets sees a single config there: the spec's
    subset is read as its folder (``data_dir``); as a config name it fails ("BuilderConfig 'copa' not
    found. Available: ['default']")."""
    if spec.revision == PARQUET_EXPORT:
        return datasets.load_dataset(spec.path, data_dir=spec.subset, revision=spec.revision, **kwargs)
    return datasets.load_dataset(spec.path, spec.subset, revision=spec.revision, **kwargs)


def _load_hub(spec, timeout_s: float, where: str | None = None) -> datasets.DatasetDict:
    ensure_offline_if_unreachable(timeout_s)
    try:
        return hub_dataset(spec)
    except Exception as exc:
        if "offline" in str(exc).lower() or "couldn't reach" in str(exc).lower() or isinstance(exc, ConnectionError):
            # Named by its place in the config: an eval set of a hub task (pawsx's 6 languages and 36 Tatoeba
            # sets) fails here once the target points at a local file, and "task.datasets.<role>" sent users
            # looking among the roles.
            subset = f" (subset {spec.subset})" if spec.subset else ""
            raise HubUnreachableError(
                f"{where + ': ' if where else ''}dataset {spec.path!r}{subset} is not cached and the hub is unreachable: "
                f"use source=embedded, or point its path at a local csv/tsv/jsonl/parquet file (or leave it out: stage.evals)"
            ) from exc
        way_out = ""
        if "scripts are no longer supported" in str(exc) and spec.revision != PARQUET_EXPORT:
            # datasets >= 4 runs no loading script; the hub's parquet-converter still exports such repos
            way_out = f"; read the hub's parquet export: add `revision: {PARQUET_EXPORT}` to this spec"
        raise DataError(f"{where + ': ' if where else ''}dataset {spec.path!r} (subset {spec.subset!r}): "
                        f"{one_line(exc)[:300]}{way_out}") from exc


def stand_in_domain(generator: str, spec) -> str:
    """The domain a generator writes for a spec: its ``embedded_domain``, else its ``domain``. A one-domain
    generator (ner, pos, ...) stands in for every domain of its kind, so a domain target runs offline too
    (without a domain shift), and so does one with a ``default_domain`` (choice: causal) for the domains it lacks."""
    domain = spec.embedded_domain or spec.domain
    gen = embedded.GENERATORS.get(generator)
    if gen is not None and domain not in gen.domains:
        return gen.default_domain or (gen.domains[0] if len(gen.domains) == 1 else domain)
    return domain


def stand_in_stream(spec, task) -> tuple[str, str, int]:
    """(generator, domain, labels) of a spec's stand-in: the stream its rows are drawn from. The stand-ins of
    one stream in other languages are its rows' translations, row for row."""
    generator = spec.generator or embedded.DEFAULT_GENERATOR.get(task.kind)
    domain = stand_in_domain(generator, spec)
    # labels as the hub dataset has them: labels (by name where they are some of the domain's), or multiple choice's choices
    return generator, domain, embedded.stand_in_classes(generator, domain, spec.labels, task.stand_in_labels(spec))


def load_embedded(spec, task) -> tuple[Dataset, list[str]]:
    """The generated stand-in of a spec (canonical rows) and its label names. Its rows depend on
    (generator, lang, domain, offset, rows) only: the run's seed reshuffles them in the split, like a real
    dataset that stays the same across seeds."""
    generator, domain, num_labels = stand_in_stream(spec, task)
    if domain != (spec.embedded_domain or spec.domain):
        log.info("embedded stand-in of domain=%s: generator %s writes its domain %s for it", spec.domain, generator, domain)
    try:
        for key in ("embedded_offset", "embedded_rows"):
            value = getattr(spec, key)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"{key}={value!r}; valid: an int >= 0")
        # rows [offset, offset + embedded_rows) of the stream: row i here is the stream's row offset + i
        offset = spec.embedded_offset
        rows = embedded.generate(generator, spec.lang, domain, offset + spec.embedded_rows, seed=0,
                                 num_labels=num_labels)[offset:]
        names = embedded.label_names(generator, domain, num_labels)
    except ValueError as exc:
        raise DataError(f"no embedded stand-in for generator={generator} lang={spec.lang} domain={spec.domain}: {exc}; "
                        f"set the spec's generator/lang/domain, or point its path at a local file") from exc
    if embedded.kind_of(generator) != task.kind:
        raise DataError(f"generator={generator} makes {embedded.kind_of(generator)} rows, not {task.kind}; "
                        f"valid generators for {task.kind}: {', '.join(g for g in embedded.GENERATORS if embedded.kind_of(g) == task.kind)}")
    return Dataset.from_list(rows), names
