"""Extractive question answering in SQuAD format (SQuAD v1.1, XQuAD, MLQA, TyDiQA-GoldP).

Canonical columns: ``id`` (str), ``question``, ``context``, ``answers`` = ``{"text": [str],
"answer_start": [int]}`` (character offsets into the context; several gold answers allowed).
A spec names its question and context columns with ``text_fields: [question, context]`` and its
answers column with ``label_field`` (defaults: ``question``, ``context``, ``answers``; ``id`` when
present, else one is made from the row's place). Answers may also be a list of ``{"text",
"answer_start"}`` dicts. Rows with an empty question or context, or without any answer (SQuAD
v2-style unanswerable questions: not supported), are dropped and counted.

Model: ``AutoModelForQuestionAnswering`` (a start and an end logit per token); long contexts are
split into windows (``windows``), predictions are the best span over an example's windows, scored
with SQuAD's or MLQA's exact match and F1 (``predictions``, ``scoring``). All QA datasets share one
label space, so an ITT target keeps the intermediate's QA head.

Options (``task.options``, or a dataset spec's own ``options``):

- ``doc_stride`` (128): tokens shared by consecutive windows of a long context (the example
  scripts' default; capped at half a window's context room, see ``windows``);
- ``n_best`` (20): start and end candidates per window;
- ``max_answer_length`` (30): longest answer, in tokens;
- ``normalization`` (``squad``): ``squad`` or ``mlqa`` (per-language, from the spec's ``lang``: the
  context language; see ``scoring``);
- ``language_from_id`` (false): keep only rows whose id starts with the English name of the spec's
  language, lower-cased, and a hyphen (TyDiQA-GoldP mixes its nine languages in one config; its ids
  are ``<language>-<number>-<index>``, e.g. ``finnish-...``).
"""

from __future__ import annotations

from numbers import Integral

import torch

from itt.errors import ConfigError, DataError
from itt.tasks.base import Task, require_columns
from itt.tasks.extractive_qa.predictions import SpanMetric
from itt.tasks.extractive_qa.scoring import STYLES, normalizer
from itt.tasks.extractive_qa.windows import encode_windows

DEFAULT_FIELDS = ("question", "context")
DEFAULT_ANSWERS = "answers"


class ExtractiveQA(Task):
    kind = "extractive_qa"
    metric_names = ("f1", "em")
    option_defaults = {"doc_stride": 128, "n_best": 20, "max_answer_length": 30, "normalization": "squad",
                       "language_from_id": False}

    def __init__(self, primary_metric=None, options=None, spec=None):
        super().__init__(primary_metric, options, spec)
        for name in ("n_best", "max_answer_length"):
            _check_int(name, self.options[name], minimum=1)
        _check_int("doc_stride", self.options["doc_stride"], minimum=0)
        if self.options["normalization"] not in STYLES:
            raise ConfigError(f"task.options.normalization={self.options['normalization']!r} is not an answer "
                              f"normalisation; valid: {', '.join(STYLES)}")
        if not isinstance(self.options["language_from_id"], bool):
            raise ConfigError(f"task.options.language_from_id={self.options['language_from_id']!r}; valid: true, false")
        try:  # an MLQA normalisation for a language the MLQA script does not define fails now, not after training
            normalizer(self.options["normalization"], self.lang)
        except ValueError as exc:
            raise ConfigError(f"{self._where()}: {exc}") from exc

    @property
    def lang(self) -> str:
        return self.spec.lang if self.spec is not None else "en"

    def _where(self) -> str:
        return f"dataset {self.spec.path}" if self.spec is not None else "task.options"

    # -- data --------------------------------------------------------------------------------------
    def canonical_batch(self, batch, rows, raw):
        spec = raw.spec
        q_field, c_field = _text_fields(spec, raw.where)
        a_field = DEFAULT_ANSWERS if spec.label_field == "label" else spec.label_field
        require_columns(batch, [q_field, c_field, a_field], raw.where)
        prefix = _language_prefix(spec.lang) if self.options["language_from_id"] else None
        out: dict[str, list] = {"id": [], "question": [], "context": [], "answers": []}
        kept = []
        for pos in range(len(batch[q_field])):
            question, context = batch[q_field][pos], batch[c_field][pos]
            empty = next((f for f, v in ((q_field, question), (c_field, context)) if v is None or not str(v).strip()), None)
            if empty is not None:
                raw.drop(f"empty text in {empty!r}")
                continue
            row_id = str(batch["id"][pos]) if "id" in batch else f"{raw.where}#{rows[pos]}"
            if prefix is not None and not row_id.startswith(prefix):
                raw.drop(f"id not starting with {prefix!r} (language_from_id, lang={spec.lang})")
                continue
            texts, starts = _answers(batch[a_field][pos], str(context), a_field, raw.where, rows[pos])
            if not texts:
                raw.drop(f"no answer in {a_field!r} (unanswerable questions are not supported)")
                continue
            out["id"].append(row_id)
            out["question"].append(str(question))
            out["context"].append(str(context))
            out["answers"].append({"text": texts, "answer_start": starts})
            kept.append(pos)
        return out, kept

    def rows_filtered_by(self):
        if self.options["language_from_id"]:
            return f"language_from_id keeps the lang={self.lang} rows; the card counts every language's"
        return None

    def split_groups(self, dataset):
        """The context of each question: a paragraph's questions stay in one split, as is standard, so no
        test paragraph (or an answer about it) is read in training."""
        return list(dataset["context"])

    def encode(self, batch, tokenizer, max_length, training):
        return encode_windows(batch, tokenizer, max_length, self.options["doc_stride"], training)

    def collator(self, tokenizer, pad_multiple):
        return WindowCollator(tokenizer, pad_multiple)

    # -- model -------------------------------------------------------------------------------------
    def auto_model(self):
        from transformers import AutoModelForQuestionAnswering

        return AutoModelForQuestionAnswering

    def label_space(self, labels):
        return (self.kind, "start and end token")

    # -- evaluation --------------------------------------------------------------------------------
    def evaluator(self, labels, rows=None):
        return SpanMetric(rows, self.options["n_best"], self.options["max_answer_length"],
                          self.options["normalization"], self.lang)


class WindowCollator:
    """Pads windows like every kind (``PaddingCollator``); the columns only the evaluator reads (the
    example id and the token offsets, of evaluation windows) go under ``batch["meta"]``, which models
    are never given (``itt.tasks.META_COLUMNS``)."""

    META = ("offset_start", "offset_end")

    def __init__(self, tokenizer, pad_multiple):
        from itt.data.collation import PaddingCollator  # noqa: PLC0415 (itt.data imports itt.tasks)

        self.pad = PaddingCollator(tokenizer, pad_multiple)

    def __call__(self, features: list[dict]) -> dict:
        if "example_id" not in features[0]:
            return self._moved_labels(self.pad(features), features)
        ids = [f["example_id"] for f in features]
        batch = self._moved_labels(self.pad([{k: v for k, v in f.items() if k != "example_id"} for f in features]), features)
        batch["meta"] = {"example_id": ids, **{k: batch.pop(k) for k in self.META}}
        return batch

    def _moved_labels(self, batch: dict, features: list[dict]) -> dict:
        """start/end_positions count from the window's first token; padding on the left (XLNet) puts
        the window after its padding, so they move right by that padding (else the loss trains on the
        wrong tokens). run_qa.py pads every window to max_length in the tokenizer, which does the same."""
        if self.pad.left and "start_positions" in batch:
            padding = torch.tensor([batch["input_ids"].shape[1] - len(f["input_ids"]) for f in features])
            for key in ("start_positions", "end_positions"):
                batch[key] = batch[key] + padding
        return batch


def _check_int(name: str, value, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigError(f"task.options.{name}={value!r}; valid: an integer >= {minimum}")


def _text_fields(spec, where: str) -> tuple[str, str]:
    fields = list(spec.text_fields)
    if fields == ["text"]:  # the spec default: SQuAD's column names
        return DEFAULT_FIELDS
    if len(fields) != 2:
        raise DataError(f"{where}: extractive_qa reads text_fields: [<question column>, <context column>], got {fields}")
    return fields[0], fields[1]


def _language_prefix(lang: str) -> str:
    from itt import languages  # noqa: PLC0415

    return languages.lookup(lang).name.lower() + "-"


def _answers(value, context: str, field: str, where: str, row: int) -> tuple[list[str], list[int]]:
    """The gold answers of a row as (texts, character starts), checked against the context."""
    if isinstance(value, dict) and "text" in value and "answer_start" in value:
        texts, starts = list(value["text"] or []), list(value["answer_start"] or [])
    elif isinstance(value, list) and all(isinstance(a, dict) and "text" in a and "answer_start" in a for a in value):
        texts, starts = [a["text"] for a in value], [a["answer_start"] for a in value]
    else:
        raise DataError(f"{where} row {row}: {field!r} is {type(value).__name__} {str(value)[:80]!r}; expected "
                        f"{{'text': [..], 'answer_start': [..]}} (SQuAD format) or a list of such dicts")
    if len(texts) != len(starts):
        raise DataError(f"{where} row {row}: {field!r} has {len(texts)} texts but {len(starts)} answer_start values")
    for text, start in zip(texts, starts):
        if isinstance(start, bool) or not isinstance(start, Integral) or not 0 <= start <= len(context) - len(str(text)):
            raise DataError(f"{where} row {row}: answer {str(text)[:40]!r} starts at {start!r}, outside its context "
                            f"({len(context)} characters)")
    return [str(t) for t in texts], [int(s) for s in starts]
