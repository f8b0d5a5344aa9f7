"""Text and text-pair inputs, shared by the kinds that read one or two text columns per row."""

from __future__ import annotations

from itt.errors import DataError

CANONICAL_TEXTS = ("text", "text_pair")


def text_columns(batch: dict[str, list], fields, raw) -> tuple[dict[str, list], list[int]]:
    """The spec's one or two text columns as ``text`` (and ``text_pair``), and the batch positions kept.
    A row with an empty or missing text is dropped and counted (one bad row must not abort a
    multi-million-row load); a spec with no or three text fields is an error."""
    if len(fields) not in (1, 2):
        raise DataError(f"{raw.where}: text_fields must list one or two columns, got {list(fields)}")
    columns = [batch[f] for f in fields]
    keep = []
    for pos in range(len(columns[0])):
        empty = next((f for f, col in zip(fields, columns) if col[pos] is None or not str(col[pos]).strip()), None)
        if empty is None:
            keep.append(pos)
        else:
            raw.drop(f"empty text in {empty!r}")
    return {name: [str(col[p]) for p in keep] for name, col in zip(CANONICAL_TEXTS, columns)}, keep


def encode_texts(batch: dict[str, list], tokenizer, max_length: int) -> dict[str, list]:
    """Tokenise ``text`` (and ``text_pair``) with truncation; keep ``label``; add ``length``."""
    args = (batch["text"], batch["text_pair"]) if "text_pair" in batch else (batch["text"],)
    out = dict(tokenizer(*args, truncation=True, max_length=max_length))
    out["length"] = [len(ids) for ids in out["input_ids"]]
    if "label" in batch:
        out["labels"] = batch["label"]
    return out
