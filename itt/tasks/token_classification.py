"""Token classification: one tag per word (named entities, parts of speech).

**Canonical columns:** ``tokens`` (list[str], the words) and ``tags`` (list[int], indices into the tag
names). Raw data: the spec's ``text_fields[0]`` is the words column, ``label_field`` the tags column
(ints with ``Sequence(ClassLabel)`` names, plain ints indexing ``labels``, or tag names as strings).
``label_map`` renames raw tags (a ``ClassLabel`` name or the raw value as a string); unlike for
sequence classification it may list only some tags (the others keep their names), and a tag mapped
to ``null`` drops that *word* (Universal Dependencies' ``_`` multiword-token lines). The tag names
are the spec's ``labels``, else the data's names (``ClassLabel`` names, else the sorted distinct
values) passed through ``label_map``.

**Label alignment:** words are tokenised with ``is_split_into_words=True``; a word's tag goes on its
FIRST sub-token, every other sub-token and every special token gets -100 (ignored by the loss and the
metrics), so each word is trained and predicted exactly once, from its first sub-token. Byte-level BPE
tokenizers (RoBERTa) that do not add a prefix space get a space before every word but the first, so
words are split as in running text; a word that becomes no token at all (a zero-width or control
character) is given the unknown token, so that it still has a first sub-token.

**Predictions** are word-level: the tag predicted at each word's first sub-token. Words cut off by
``data.max_length`` have NO prediction (``null`` in the saved items): they count as wrong for accuracy
and as ``O`` (no entity) for span F1. Truncation therefore lowers the score, as missing output
would for any tagger, instead of silently dropping the hardest (longest) sentences' tails from the
test set; raise ``data.max_length`` if that matters. (XTREME's preprocessing instead splits a sentence
longer than its ``max_seq_length`` into pieces that fit, so every word is predicted.)

**Metrics** (``itt.tag_scores``): span F1 for BIO/IOB2 tag sets, ``f1`` (micro entity F1, seqeval),
``precision``, ``recall``; word accuracy ``acc`` for other tag sets (POS). ``task.options.spans``:
``auto`` (default: span F1 when every tag is ``O``, ``B-x`` or ``I-x`` and one is ``B-``), ``true``
or ``false`` (accuracy). ``task.options.strict``: seqeval's strict IOB2 mode (default false: the
conlleval convention). When ``primary_metric`` is not set (a token-classification dataset in another
kind's task) it is ``f1`` with spans and ``acc`` without.
"""

from __future__ import annotations

import json

import pyarrow.compute as pc
import torch
from torchmetrics import Metric

from itt import tag_scores
from itt.errors import ConfigError, DataError
from itt.tasks.base import Task, require_columns

IGNORE = -100
SPAN_METRICS = ("f1", "precision", "recall")


class TokenClassification(Task):
    kind = "token_classification"
    metric_names = (*SPAN_METRICS, "acc")
    option_defaults = {"spans": "auto", "strict": False}

    def __init__(self, primary_metric=None, options=None, spec=None):
        super().__init__(primary_metric, options, spec)
        self._primary_given = primary_metric is not None
        if self.options["spans"] not in ("auto", True, False):
            raise ConfigError(f"task.options.spans={self.options['spans']!r}; valid: auto, true, false")
        if not isinstance(self.options["strict"], bool):
            raise ConfigError(f"task.options.strict={self.options['strict']!r}; valid: true, false")

    # -- data ------------------------------------------------------------------------------------
    def label_names(self, raw, spec):
        if spec.labels:
            return [str(n) for n in spec.labels]
        first = next(iter(raw.values()))
        if spec.label_field not in first.column_names:
            return []  # canonical_batch names the missing column
        names = _class_names(first.features[spec.label_field])
        if names is None:
            values = set()
            for ds in raw.values():
                column = ds.with_format("arrow")[spec.label_field]
                values |= {v for v in pc.unique(pc.list_flatten(column)).to_pylist() if v is not None}
            numeric = all(isinstance(v, int) for v in values)
            names = [str(v) for v in sorted(values, key=(lambda v: v) if numeric else str)]
        mapped = (spec.label_map.get(n, n) if spec.label_map else n for n in names)
        return list(dict.fromkeys(str(n) for n in mapped if n is not None))

    def rows_dropped_by(self):
        return None  # label_map's null drops a word, not its sentence

    def canonical_batch(self, batch, rows, raw):
        spec = raw.spec
        if len(spec.text_fields) != 1:
            raise DataError(f"{raw.where}: text_fields must name one column (the words) for {self.kind}, "
                            f"got {list(spec.text_fields)}")
        words_field, tags_field = spec.text_fields[0], spec.label_field
        require_columns(batch, [words_field, tags_field], raw.where)
        resolve = _TagResolver(spec, raw.labels, raw.features[tags_field] if raw.features else None, raw.where)
        out_tokens, out_tags, keep = [], [], []
        for pos, (words, tags) in enumerate(zip(batch[words_field], batch[tags_field])):
            if words is None or tags is None:
                raw.drop(f"no words or no tags in {words_field!r}/{tags_field!r}")
                continue
            if len(words) != len(tags):
                raise DataError(f"{raw.where} row {rows[pos]}: {len(words)} words in {words_field!r} but {len(tags)} "
                                f"tags in {tags_field!r}")
            indices = [resolve(tag, rows[pos]) for tag in tags]
            kept = [(str(w), t) for w, t in zip(words, indices) if t is not None]
            if not kept:
                raw.drop("sentence without words")
                continue
            out_tokens.append([w for w, _ in kept])
            out_tags.append([t for _, t in kept])
            keep.append(pos)
        return {"tokens": out_tokens, "tags": out_tags}, keep

    def encode(self, batch, tokenizer, max_length, training):
        _check_tokenizer(tokenizer)
        sentences = batch["tokens"]
        spaced = _needs_space_before_words(tokenizer)
        enc = _tokenize(tokenizer, sentences, spaced, max_length)
        out = {key: list(values) for key, values in enc.items()}
        word_ids = [enc.word_ids(i) for i in range(len(sentences))]
        lost = {i: _lost_words(ids, len(sentences[i]), len(out["input_ids"][i]) >= max_length)
                for i, ids in enumerate(word_ids)}
        lost = {i: words for i, words in lost.items() if words}
        if lost:  # words that became no token: the unknown token instead, re-tokenised
            rows = sorted(lost)
            fixed = [[tokenizer.unk_token if j in lost[i] else w for j, w in enumerate(sentences[i])] for i in rows]
            again = _tokenize(tokenizer, fixed, spaced, max_length)
            for k, i in enumerate(rows):
                for key in out:
                    out[key][i] = again[key][k]
                word_ids[i] = again.word_ids(k)
        out["labels"] = [first_subtoken_labels(ids, tags) for ids, tags in zip(word_ids, batch["tags"])]
        out["length"] = [len(ids) for ids in out["input_ids"]]
        return out

    # -- model -----------------------------------------------------------------------------------
    def auto_model(self):
        from transformers import AutoModelForTokenClassification  # noqa: PLC0415

        return AutoModelForTokenClassification

    def model_kwargs(self, labels):
        return {"num_labels": len(labels), "id2label": dict(enumerate(labels)),
                "label2id": {name: i for i, name in enumerate(labels)}}

    # -- evaluation ------------------------------------------------------------------------------
    def uses_spans(self, labels) -> bool:
        spans = self.options["spans"]
        if spans is True and not tag_scores.looks_like_bio(labels):
            raise ConfigError(f"task.options.spans=true, but the tags are not BIO (O, B-x, I-x): "
                              f"{', '.join(labels[:8])}{'...' if len(labels) > 8 else ''}; set spans: false (accuracy)")
        return tag_scores.looks_like_bio(labels) if spans == "auto" else bool(spans)

    def evaluator(self, labels, rows=None):
        spans = self.uses_spans(labels)
        computed = SPAN_METRICS if spans else ("acc",)
        if self.primary_metric not in computed:
            if self._primary_given:
                what = "BIO tags: span F1" if spans else "tags that are not BIO: word accuracy"
                raise ConfigError(f"primary_metric={self.primary_metric!r} is not computed for these {what} "
                                  f"({', '.join(computed)}); set task.options.spans or the primary metric")
            self.primary_metric = computed[0]
        return TagMetric(labels, rows, spans, self.options["strict"])


def first_subtoken_labels(word_ids: list, tags: list[int]) -> list[int]:
    """One label per token: the word's tag on its first sub-token, -100 on the rest and on specials."""
    labels, previous = [], None
    for w in word_ids:
        labels.append(tags[w] if w is not None and w != previous else IGNORE)
        if w is not None:
            previous = w
    return labels


def _tokenize(tokenizer, sentences, spaced: bool, max_length: int):
    words = [[(" " + w if spaced and j else w) for j, w in enumerate(s)] for s in sentences] if spaced else sentences
    return tokenizer(words, is_split_into_words=True, truncation=True, max_length=max_length)


def _lost_words(word_ids, n_words: int, truncated: bool) -> set[int]:
    """Words with no token that truncation does not explain: gaps before the last word seen (and, when
    nothing was cut, missing words at the end too)."""
    seen = {w for w in word_ids if w is not None}
    upto = (max(seen) + 1 if seen else 0) if truncated else n_words
    return {w for w in range(upto) if w not in seen}


def _check_tokenizer(tokenizer) -> None:
    if not getattr(tokenizer, "is_fast", False):
        raise ConfigError(f"token_classification needs a fast tokenizer (word ids per token); "
                          f"{type(tokenizer).__name__} of {tokenizer.name_or_path!r} is not one")
    if getattr(tokenizer, "truncation_side", "right") != "right":
        raise ConfigError(f"token_classification needs right truncation (words cut off at the end); "
                          f"{tokenizer.name_or_path!r} truncates on the {tokenizer.truncation_side}")


def _needs_space_before_words(tokenizer) -> bool:
    """A byte-level pre-tokenizer without a prefix space (RoBERTa's) would read each pre-split word as
    if it started a text ("world" instead of " world"). (Serialising the pre-tokenizer alone is cheap.)"""
    pre = tokenizer.backend_tokenizer.pre_tokenizer
    state = json.loads(pre.__getstate__()) if pre is not None else {}
    parts = state.get("pretokenizers", [state]) if state else []
    return any(p.get("type") == "ByteLevel" and not p.get("add_prefix_space", False) for p in parts)


def _class_names(feature) -> list[str] | None:
    inner = getattr(feature, "feature", None)  # Sequence / List of ClassLabel
    return list(inner.names) if hasattr(inner, "names") else None


class _TagResolver:
    """Raw tag -> tag index (None: the word is dropped), memoised per distinct raw tag."""

    def __init__(self, spec, labels, feature, where):
        self.spec, self.labels, self.where = spec, labels, where
        self.class_names = _class_names(feature) if feature is not None else None
        self.index = {n: i for i, n in enumerate(labels)}
        self.memo = {}

    def __call__(self, raw, row):
        try:
            return self.memo[raw]
        except KeyError:
            pass
        names = self.class_names
        name = names[raw] if names and isinstance(raw, int) and 0 <= raw < len(names) else raw
        spec = self.spec
        if spec.label_map is not None:
            key = str(name) if str(name) in spec.label_map else str(raw)
            if key in spec.label_map:
                if spec.label_map[key] is None:
                    self.memo[raw] = None
                    return None
                name = spec.label_map[key]
        if str(name) in self.index:
            value = self.index[str(name)]
        elif isinstance(name, int) and not isinstance(name, bool) and not names and spec.labels \
                and 0 <= name < len(self.labels):
            value = name  # plain integer tags indexing the declared names
        else:
            raise DataError(f"{self.where} row {row}: tag {name!r} in {spec.label_field!r} is not a declared tag; "
                            f"valid: {', '.join(self.labels)} (declare them in labels, or rename with label_map)")
        self.memo[raw] = value
        return value


class TagMetric(Metric):
    """Word-level predictions per sentence (from first sub-tokens), scored once per epoch.

    States (concatenated across processes): each sentence's row position, how many of its words
    reached the model, and those words' predicted and gold tag indices. The gold tags of the words
    cut off by ``max_length`` come from the canonical rows."""

    full_state_update = False

    def __init__(self, labels: list[str], rows=None, spans: bool = True, strict: bool = False):
        super().__init__()
        self.labels, self.spans, self.strict = list(labels), spans, strict
        self.gold_rows = rows["tags"][:] if rows is not None else None
        for name in ("idx", "kept", "preds", "golds"):
            self.add_state(name, default=[], dist_reduce_fx="cat")

    def update(self, outputs, batch) -> None:
        mask = batch["labels"] != IGNORE
        self.idx.append(batch["idx"].detach().long())
        self.kept.append(mask.sum(dim=1).long())
        self.preds.append(outputs.logits.detach().argmax(dim=-1)[mask].long())
        self.golds.append(batch["labels"].detach()[mask].long())

    def sentences(self) -> list[tuple[list[str], list]]:
        """(gold tag names, predicted tag names or None per word) of every sentence, in row order."""
        idx, kept, preds, golds = (_cat(s).cpu().tolist() for s in (self.idx, self.kept, self.preds, self.golds))
        out, start = {}, 0
        for i, n in zip(idx, kept):
            pred = [self.labels[p] for p in preds[start:start + n]]
            gold_ids = self.gold_rows[i] if self.gold_rows is not None else golds[start:start + n]
            start += n
            out[i] = ([self.labels[g] for g in gold_ids], pred + [None] * (len(gold_ids) - n))
        return [out[i] for i in sorted(out)]

    def compute(self) -> dict[str, torch.Tensor]:
        pairs = self.sentences()
        if self.spans:
            totals = [sum(c) for c in zip(*(tag_scores.span_counts(g, p, self.strict) for g, p in pairs))] or [0, 0, 0]
            scores = tag_scores.span_scores(*totals)
        else:
            correct, words = (sum(c) for c in zip(*(tag_scores.word_counts(g, p) for g, p in pairs))) if pairs else (0, 0)
            scores = {"acc": correct / words if words else 0.0}
        return {name: torch.tensor(value, dtype=torch.float32) for name, value in scores.items()}

    def items(self) -> list[dict]:
        """``{"pred": [tag names, null for words cut off], "gold": [tag names]}`` per sentence; in strict
        span mode both are the strict entities re-encoded as IOB2 (``itt.tag_scores.reencoded``).
        Every process's sentences under DDP: ``compute()`` syncs the states only while it runs, so without
        this sync process 0 (which writes the prediction file) would save its own share only."""
        with self.sync_context(should_sync=True):
            sentences = self.sentences()
        if self.spans and self.strict:
            return [{"pred": tag_scores.reencoded(p), "gold": tag_scores.reencoded(g)} for g, p in sentences]
        return [{"pred": p, "gold": g} for g, p in sentences]


def _cat(state) -> torch.Tensor:
    # A list before any sync (empty: no batch seen), one tensor after torchmetrics concatenated them.
    if isinstance(state, list):
        return torch.cat(state) if state else torch.zeros(0, dtype=torch.long)
    return state
