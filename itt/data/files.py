"""Local dataset files: which ones a spec's ``path`` names, and a fingerprint of their content.

A local dataset is keyed by what is in it, not by its path: after a CSV is edited, the run id and the
tokenization cache key change, so even a rerun without ``force=true`` trains on the new rows. The
fingerprint hashes each file's bytes once per (path, inode, size, mtime, ctime) in a process: a file
replaced with its size and mtime kept (``cp -p``, ``rsync -a``) has another ctime, which no tool sets back.
No ``datasets`` import, so the cached-rerun path stays light.
"""

from __future__ import annotations

import csv
import functools
import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

LOCAL_SUFFIXES = (".csv", ".tsv", ".json", ".jsonl", ".parquet", ".conll", ".conllu")
LOCAL_FORMATS = "/".join(s.lstrip(".") for s in LOCAL_SUFFIXES)  # as error messages name them
DELIMITED = {".csv": ",", ".tsv": "\t"}  # files read with a separator: their quoting is a spec's ``quoting``
# A spec's ``quoting`` -> the csv module's. ``csv``, the default of both suffixes: a field opening with '"' runs to
# its closing quote and may hold separators, line breaks and "" for a quote (PAWS-X's XTREME tsv files are written
# so). ``none``: every line is a row and quotes are text (XNLI-1.0 and MNLI tsv files: a premise may open with a
# quote it never closes).
QUOTINGS = {"csv": csv.QUOTE_MINIMAL, "none": csv.QUOTE_NONE}
DEFAULT_QUOTING = "csv"


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
def _file_digest(path: str, inode: int, size: int, mtime_ns: int, ctime_ns: int) -> str:
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
        digest = _file_digest(str(f.resolve()), stat.st_ino, stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns)
        sha.update(f"{f.name}:{stat.st_size}:{digest}\n".encode())
    return sha.hexdigest()[:16]


def quoting_problem(path: str, quoting, key: str) -> str | None:
    """Why a spec's ``quoting`` (the value of ``key``) cannot apply to its ``path``, in one line; None when unset or
    when it names a quoting and ``path`` names local csv/tsv files."""
    if quoting is None:
        return None
    if quoting not in QUOTINGS:
        return f"{key}={quoting!r}; valid: {', '.join(QUOTINGS)} (null: {DEFAULT_QUOTING})"
    if not is_local(path):
        return f"{key}={quoting}: {path} is not a local file; quoting is for local csv/tsv files"
    other = sorted({f.suffix for f in local_files(path)} - set(DELIMITED))
    if other:
        return f"{key}={quoting}: {path} holds {', '.join(other)} files; quoting is for csv/tsv files"
    return None


def quoting_changes_rows(path: str, quoting) -> bool:
    """Whether ``quoting`` reads other rows from ``path``'s csv/tsv files than the default does: only ``none``, only
    where a field (at a line's start or after a separator) opens with a quote; elsewhere both read every line as it
    is. A run id or cache key holds the quoting only then, so a setting that reads the same rows keeps them."""
    if quoting in (None, DEFAULT_QUOTING):
        return False
    files = [f for f in local_files(path) if f.suffix in DELIMITED]
    return any(_opens_a_quote(str(f.resolve()), DELIMITED[f.suffix], *_stat_key(f)) for f in files)


def _stat_key(f: Path) -> tuple[int, int, int, int]:
    stat = f.stat()
    return stat.st_ino, stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns


@functools.lru_cache(maxsize=256)
def _opens_a_quote(path: str, delimiter: str, inode: int, size: int, mtime_ns: int, ctime_ns: int) -> bool:
    start = re.compile(rb'(?:^|[\n\r' + re.escape(delimiter.encode()) + rb'])(?:\xef\xbb\xbf)?"')
    tail = b"\n"  # the byte before the first block: a line start
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            if start.search(tail + block):
                return True
            tail = block[-1:]
    return False


@dataclass(frozen=True)
class Records:
    """How a csv/tsv file's lines make rows under one quoting (``count_records``)."""

    lines: int  # data lines: lines that are not blank, less the header's
    rows: int | None  # rows a reader of that quoting makes (None where the file does not follow it)
    malformed: str | None = None  # where and why the file does not follow the quoting: "line 4: ..."


def count_records(path: str | Path, quoting: str, header: bool) -> Records:
    """The data lines of a csv/tsv file and the rows it holds under ``quoting`` (``QUOTINGS``), read as the loader
    reads it (``datasets``' csv builder: pandas, which skips lines of spaces, and of tabs unless they separate), by
    the csv module with ``strict``: a field opening with a quote whose closing quote is followed by anything but a
    separator or a line end, or that never closes, is not the quoting (pandas reads such a field on, through tabs
    and line breaks, to the next quote, without a word). Under ``csv`` a quoted field may span lines: fewer rows
    than data lines is a file's right, not a fault."""
    path = Path(path)
    delimiter = DELIMITED[path.suffix]
    spaces = " \t".replace(delimiter, "")
    if quoting == "none" or not _opens_a_quote(str(path.resolve()), delimiter, *_stat_key(path)):
        # no quoted field: each data line is a row (and a pass of the csv module, 3x as long, would say so)
        with open(path, encoding="utf-8-sig", newline="") as fh:
            data = max(sum(1 for line in fh if line.rstrip("\r\n").strip(spaces)) - header, 0)
        return Records(data, data)
    lines, last = [0], [""]

    def counted(fh):
        for line in fh:
            last[0] = line
            lines[0] += bool(line.rstrip("\r\n").strip(spaces))
            yield line

    rows = seen = header_lines = 0
    malformed = None
    limit = csv.field_size_limit(1 << 30)  # a long document is one field, not a fault
    try:
        with open(path, encoding="utf-8-sig", newline="") as fh:
            source = counted(fh)
            reader = csv.reader(source, delimiter=delimiter, quoting=QUOTINGS[quoting], strict=True)
            try:
                for _ in reader:
                    one_line, seen = reader.line_num - seen == 1, reader.line_num
                    if one_line and not last[0].rstrip("\r\n").strip(spaces):
                        continue  # a blank line: no row
                    rows += 1
                    if header and rows == 1:
                        header_lines = lines[0]
            except csv.Error as exc:  # named by the line its record starts on: where the quote opened
                at = f", on line {reader.line_num}" if reader.line_num != seen + 1 else ""
                malformed = f"line {seen + 1}: {_why(exc)}{at}"
                for _ in source:  # the rest of the file's lines
                    pass
    finally:
        csv.field_size_limit(limit)
    if malformed is not None:
        return Records(max(lines[0] - header, 0), None, malformed)
    return Records(lines[0] - header_lines, max(rows - header, 0))


def _why(exc: csv.Error) -> str:
    """The csv module's complaint of a strict read, in words (its own holds the separator: a raw tab)."""
    text = str(exc)
    if "expected after" in text:
        return "a field opening with a quote has text after its closing quote"
    if "unexpected end of data" in text:
        return "a field opening with a quote never closes"
    return text.replace("\t", "\\t")
