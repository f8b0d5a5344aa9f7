"""Local dataset files: which ones a spec's ``path`` names, and a fingerprint of their content.

A local dataset is keyed by what is in it, not by its path: after a CSV is edited, the run id and the
tokenization cache key change, so even a rerun without ``force=true`` trains on the new rows. The
fingerprint hashes each file's bytes once per (path, size, mtime) in a process; no ``datasets``
import, so the cached-rerun path stays light.
"""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path

LOCAL_SUFFIXES = (".csv", ".tsv", ".json", ".jsonl", ".parquet", ".conll", ".conllu")
LOCAL_FORMATS = "/".join(s.lstrip(".") for s in LOCAL_SUFFIXES)  # as error messages name them


def is_local(path: str) -> bool:
    """A local file or folder, not a hub id: one that exists, a path spelt as one (``./``, ``/``, ``~``), or a
    data file's name (``data/reviews_de.csv``): hub ids end in no such suffix, and taking a mistyped file for
    one would read a generated stand-in (source=embedded) or say the hub is unreachable instead of naming it."""
    p = Path(path).expanduser()
    return p.exists() or str(path).startswith(("./", "../", "/", "~")) or p.suffix.lower() in LOCAL_SUFFIXES


def local_data_problem(path: str, key: str, header: bool = True) -> str | None:
    """Why a local ``path`` (the value of ``key``) gives no rows, in one line: it names no file, a folder of no
    data files, or a data file without a row (``header``: csv/tsv files start with a header line). None when
    every file has rows (whether they parse is the loader's to say). Cheap enough for every run id: a missing
    or empty file fails there, before a parent run trains, not when its data loads."""
    p = Path(path).expanduser()
    files = local_files(path)
    if not files:
        if p.is_dir():
            return f"{p}: no {LOCAL_FORMATS} files in this folder ({key})"
        return f"{p}: no such file or folder ({key}); give a {LOCAL_FORMATS} file or a folder of them"
    empty = next((f for f in files if without_rows(f, header)), None)
    if empty is not None:
        after = ", after a header line" if header and empty.suffix in (".csv", ".tsv") else ""
        return f"{empty}: no rows (an empty file, or a header line only); give one row per line{after}"
    return None


def is_stand_in(source: str, path: str) -> bool:
    """Is a dataset read from a generated stand-in? Under ``source=embedded`` every dataset that is not a
    local file or folder is (a local file is read as it is under any source)."""
    return source == "embedded" and not is_local(path)


def local_files(path: str) -> list[Path]:
    """The data files a local ``path`` names: the file itself, or a folder's csv/tsv/json/jsonl/parquet/
    conll/conllu files (sorted). Missing paths give []; the loader reports them."""
    p = Path(path).expanduser()
    if p.is_file():
        return [p]
    if p.is_dir():
        return sorted(f for f in p.iterdir() if f.is_file() and f.suffix in LOCAL_SUFFIXES)
    return []


def folder_splits(path: str) -> set[str]:
    """The splits the loader finds in a local folder, named from its file names as ``datasets`` names them
    (``conll``/``conllu`` files: ``itt.data.conll``'s rule): a split a spec declares but whose file is
    missing is carved from train rows, not read."""
    files = local_files(path)
    if not files:
        return set()
    if all(f.suffix in (".conll", ".conllu") for f in files):
        from itt.data.conll import split_files  # noqa: PLC0415 (imports datasets)

        return set(split_files(files))
    from datasets.data_files import get_data_patterns  # noqa: PLC0415 (only for folders under split=official)

    return {str(split) for split in get_data_patterns(str(Path(path).expanduser()))}


def own_splits(source: str, path: str, splits: dict | None) -> set[str]:
    """The splits a dataset (``path`` with its declared ``splits``) brings itself under ``split=official``
    (any other one is carved from its train rows): those ``splits`` names, except that a generated stand-in
    (``source=embedded``) and a single local file are read as one train split, and a local folder brings
    only the declared splits it has a file for."""
    where = Path(path).expanduser()
    if is_stand_in(source, path) or where.is_file():
        return {"train"}
    declared = {name: theirs for name, theirs in (splits or {}).items() if theirs}
    if where.is_dir():
        found = folder_splits(str(where))
        return {name for name, theirs in declared.items() if theirs in found}
    return set(declared)


#: What cache keys and run ids record of a dataset whose positional row ids are named after its own splits
#: (``itt.data.canonical``), where older versions named them after the canonical split (``train:7`` for row 7 of
#: MLQA German's ``test`` split, a spec's training rows).
POSITIONAL_IDS = "dataset_split"


def renamed_splits(source: str, path: str, splits: dict | None) -> dict[str, str]:
    """The splits a dataset reads under a name of its own other than the canonical one (canonical -> the dataset's:
    ``{"train": "test"}`` for MLQA German's target, ``{"validation": "dev"}`` for STS-B): their positional ids
    (``<split>:<row>``) are named after the dataset's split. None for a generated stand-in (its ids are its rows'
    places in the generator's stream), and a local file or folder only for the splits it has (a single file is read
    as one ``train`` split)."""
    if is_stand_in(source, path):
        return {}
    declared = {name: theirs for name, theirs in (splits or {}).items() if theirs and theirs != name}
    where = Path(path).expanduser()
    if where.is_file():
        return {name: theirs for name, theirs in declared.items() if theirs == "train"}
    if where.is_dir():
        found = folder_splits(str(where))
        return {name: theirs for name, theirs in declared.items() if theirs in found}
    return declared


def split_changes(split_name: str, source: str, path: str, splits: dict | None, *, by_id: bool, eval_only: bool,
                  grouped: bool) -> dict:
    """Run-id and cache-key entries (``identity.dataset_payload``, ``preparation.prepare``) of a dataset whose
    splits differ from older versions', so neither their runs nor their cache entries are served; {} for every
    other dataset, whose keys stay. Under ``split=official``, a train-only dataset gets validation and test
    as the configured shares of all its rows (older versions took the test share of what validation left:
    72.25/15/12.75); under ``split=paper``, a kind that groups rows (``grouped``: ``Task.split_groups``) keeps
    each group in one split. Translations (``by_id``: split by shared id) and official eval sets (never
    carved) are as before. Under ``split=official`` a grouping kind's carved split keeps each group on one side
    too (older versions carved QA questions one by one: 666 of 678 MLQA de test questions had their paragraph
    in training), and translations of such a kind are split by their group's smallest shared id (older: by each
    row's id, so a paragraph's questions went to all three splits)."""
    out = {}
    declared = own_splits(source, path, splits) & {"validation", "test"}
    if split_name == "official" and not by_id and not eval_only and not declared:
        out["official_carve"] = "shares_of_all_rows"
    if split_name == "official" and not by_id and not eval_only and grouped and declared != {"validation", "test"}:
        out["official_carve_groups"] = "by_group"
    carved = split_name == "paper" or not (eval_only or declared == {"validation", "test"})
    if by_id and grouped and carved:  # translations of grouped rows: by their group's smallest shared id
        out["id_split"] = "group_of_shared_ids"
    if split_name == "paper" and not by_id and grouped:
        out["paper_split"] = "by_group"
    return out


@functools.lru_cache(maxsize=256)
def _file_digest(path: str, size: int, mtime_ns: int) -> str:
    sha = hashlib.sha1()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            sha.update(block)
    return sha.hexdigest()


def line_rows(path: str, header: bool) -> int | None:
    """The rows of one local csv/tsv/jsonl file without parsing it (its lines, less a header line), or
    of a parquet file from its metadata; None for a folder or another format. For estimates (what
    ``itt.plan`` shows before anything is read): a csv field with a quoted line break counts twice."""
    p = Path(path).expanduser()
    if not p.is_file():
        return None
    if p.suffix == ".parquet":
        import pyarrow.parquet as pq  # noqa: PLC0415

        return pq.read_metadata(p).num_rows
    if p.suffix not in (".csv", ".tsv", ".jsonl"):
        return None
    lines, last = 0, b"\n"
    with open(p, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            lines += block.count(b"\n")
            last = block[-1:]
    lines += last != b"\n"  # a last line without its newline
    return max(lines - (header and p.suffix != ".jsonl"), 0)


def without_rows(path: str | Path, header: bool) -> bool:
    """Whether a csv/tsv/json/jsonl file holds no row: empty, blank lines, or a header line only. Reads at most
    its first 64 KB (a longer file holds a row)."""
    p = Path(path)
    if p.suffix not in (".csv", ".tsv", ".json", ".jsonl"):
        return False
    with open(p, "rb") as fh:
        start, more = fh.read(1 << 16), fh.read(1)
    if more:
        return False
    lines = sum(1 for line in start.splitlines() if line.strip())
    return lines - (header and p.suffix in (".csv", ".tsv")) <= 0


def fingerprint(path: str) -> str | None:
    """A short hash of the content (and names) of the files ``path`` names; None if it names none."""
    files = local_files(path)
    if not files:
        return None
    sha = hashlib.sha1()
    for f in files:
        stat = f.stat()
        sha.update(f"{f.name}:{stat.st_size}:{_file_digest(str(f.resolve()), stat.st_size, stat.st_mtime_ns)}\n".encode())
    return sha.hexdigest()[:16]
