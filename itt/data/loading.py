"""Where a dataset spec's rows come from, as the dataset's own splits and columns.

- a local file or folder (csv, tsv, jsonl/json, parquet; conll/conllu word-per-line files): how users
  bring their own data, any source. ``datasets`` reads the tabular formats (``itt.data.conll`` the
  word-per-line ones) and names a folder's splits from its file names (``train``, ``dev``/``valid``
  /``validation``, ``test``...); a header-less csv/tsv or a .conll file gets its column names from the
  spec's ``columns``;
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
from itt.data.files import LOCAL_SUFFIXES, is_local, local_data_problem, local_files
from itt.errors import DataError, HubUnreachableError, one_line
from itt.hub_access import ensure_offline_if_unreachable

SPLITS = ("train", "validation", "test")
log = logging.getLogger(__name__)


def load_raw(spec, source: str, hub_timeout_s: float = 5.0, where: str | None = None) -> tuple[dict[str, Dataset], str]:
    """The declared splits of a local or hub dataset (canonical split name -> raw ``Dataset``) and the
    name errors use for it (file path or hub id). ``where``: the spec's place in the config
    (``task.evals.de (google-research-datasets/paws-x)``), for an unreachable hub's error."""
    if is_local(spec.path):
        raw, where, strict = _load_local(spec), str(Path(spec.path).expanduser()), False
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


def _load_local(spec) -> datasets.DatasetDict:
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
    if spec.columns:  # a header-less csv/tsv
        if builder != "csv":
            raise DataError(f"{path}: columns is only for header-less csv/tsv files and .conll files")
        kwargs = {**kwargs, "column_names": list(spec.columns), "header": None}
    # A folder: datasets names the splits from the file names (train, dev/valid/validation, test, ...).
    where = {"data_dir": str(path)} if path.is_dir() else {"data_files": {"train": str(path)}}
    try:
        return datasets.load_dataset(builder, **where, **kwargs)
    except Exception as exc:  # pyarrow/pandas parse errors carry the useful detail
        detail = exc
        while detail.__cause__ is not None:  # datasets wraps it: "An error occurred while generating the dataset"
            detail = detail.__cause__
        raise DataError(f"{path}: unreadable as {builder}: {one_line(detail)[:300]}") from exc


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
