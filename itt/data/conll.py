"""Word-per-line files: CoNLL-U (``.conllu``) and CoNLL-style (``.conll``), read into one row per sentence.

UTF-8, with or without a byte-order mark. Picked by the file suffix like any other local format (``itt.data.loading``); what a row means is the
task kind's business, so both readers only turn lines into list-valued columns.

- ``.conllu`` (Universal Dependencies), parsed with the ``conllu`` package: columns ``tokens`` (FORM),
  ``upos``, ``xpos`` (``_`` where empty) and ``sent_id`` (the ``# sent_id`` comment, else
  ``<file>:<n>``). Multiword-token lines (``1-2 don't``) and empty nodes (``8.1``) are left out: the
  rows hold the syntactic words, the units UPOS tags.
- ``.conll``: one token per line, its fields separated by tabs or spaces, a blank (or whitespace-only)
  line between sentences; ``-DOCSTART-`` lines (CoNLL-2003) are skipped. Columns are named by the
  spec's ``columns`` when given (one name per field), else ``tokens`` (first field), ``tags`` (last
  field) and ``col1``, ``col2``... for the fields between.

A folder names its splits by file name, as ``datasets`` does for csv files: a name containing
``train``, ``dev``/``valid``/``validation`` or ``test``. A single file is the ``train`` split.
"""

from __future__ import annotations

import re
from pathlib import Path

from datasets import Dataset, DatasetDict, Features, List, Value

from itt.errors import DataError

FORMATS = ("conll", "conllu")  # itt.data.loading.FORMAT_OF names of .conll and .conllu
_SPLIT_NAMES = (("train", ("train",)), ("validation", ("validation", "valid", "dev")), ("test", ("test",)))
_STRINGS = List(Value("string"))
# Files saved by Windows editors start with a byte-order mark; as part of the first line it became a token of its
# own ("\ufeff-DOCSTART-" read as a sentence) or made the first CoNLL-U line unparsable. The csv/json readers drop it.
ENCODING = "utf-8-sig"


def read(files: list[Path], columns: list[str] | None = None) -> DatasetDict:
    """The sentences of ``files`` (all ``.conll`` or all ``.conllu``), one split per file."""
    splits = split_files(files)
    reader = _read_conllu if files[0].suffix == ".conllu" else _read_conll
    if columns and files[0].suffix == ".conllu":
        raise DataError(f"{files[0]}: columns is for .conll files; a .conllu file has fixed columns "
                        f"(tokens, upos, xpos, sent_id)")
    return DatasetDict({split: reader(path, columns) for split, path in splits.items()})


def split_files(files: list[Path]) -> dict[str, Path]:
    if len(files) == 1:
        return {"train": files[0]}
    out: dict[str, Path] = {}
    for path in files:
        words = set(re.split(r"[^a-z]+", path.stem.lower()))
        split = next((name for name, keys in _SPLIT_NAMES if words & set(keys)), None)
        if split is None:
            raise DataError(f"{path}: cannot tell its split from the file name; name the files of a folder "
                            f"*train*, *dev* (or *valid*, *validation*) and *test*")
        if split in out:
            raise DataError(f"{path}: a second {split} file next to {out[split].name}; one file per split")
        out[split] = path
    return out


def _read_conllu(path: Path, columns=None) -> Dataset:
    import conllu  # noqa: PLC0415 (only for .conllu files)

    rows = {"tokens": [], "upos": [], "xpos": [], "sent_id": []}
    with open(path, encoding=ENCODING) as fh:
        try:
            for n, sentence in enumerate(conllu.parse_incr(fh), 1):
                words = [t for t in sentence if isinstance(t["id"], int)]  # not 1-2 (multiword) or 8.1 (empty)
                if not words:
                    continue
                short = next((t for t in words if "xpos" not in t), None)
                if short is not None:  # conllu reads short lines without complaint
                    raise DataError(f"{path}: sentence {n}: the line of word {short['id']} has fewer than the 10 "
                                    f"CoNLL-U fields (ID FORM LEMMA UPOS XPOS FEATS HEAD DEPREL DEPS MISC)")
                rows["tokens"].append([t["form"] for t in words])
                rows["upos"].append([t["upos"] or "_" for t in words])
                rows["xpos"].append([t["xpos"] or "_" for t in words])
                rows["sent_id"].append(str(sentence.metadata.get("sent_id") or f"{path.name}:{n}"))
        except conllu.exceptions.ParseException as exc:
            raise DataError(f"{path}: not valid CoNLL-U ({exc})") from exc
    features = Features({"tokens": _STRINGS, "upos": _STRINGS, "xpos": _STRINGS, "sent_id": Value("string")})
    return Dataset.from_dict(rows, features=features)


def _read_conll(path: Path, columns: list[str] | None) -> Dataset:
    sentences: list[list[list[str]]] = []
    current: list[list[str]] = []
    width = len(columns) if columns else None
    with open(path, encoding=ENCODING) as fh:
        for lineno, line in enumerate(fh, 1):
            fields = line.split()
            if not fields:  # blank or whitespace-only: a sentence boundary
                if current:
                    sentences.append(current)
                    current = []
                continue
            if fields[0] == "-DOCSTART-":
                continue
            if width is None:
                width = len(fields)
            if len(fields) != width:
                expected = f"columns names {width}" if columns else f"the first token line has {width}"
                raise DataError(f"{path}:{lineno}: {len(fields)} fields, but {expected}; one token per line, "
                                f"fields separated by tabs or spaces, a blank line between sentences")
            current.append(fields)
    if current:
        sentences.append(current)
    if not sentences:
        raise DataError(f"{path}: no token lines")
    if width < 2 and not columns:
        raise DataError(f"{path}: one field per line; a .conll file needs a token and a tag per line")
    names = list(columns) if columns else ["tokens", *(f"col{i}" for i in range(1, width - 1)), "tags"]
    rows = {name: [[token[i] for token in sentence] for sentence in sentences] for i, name in enumerate(names)}
    return Dataset.from_dict(rows, features=Features({name: _STRINGS for name in names}))
