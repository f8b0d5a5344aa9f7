"""Multiple choice: pick the right one of a few candidate answers (COPA, XCOPA, Social IQa).

**Canonical columns:** ``premise`` (str), ``question`` (str, may be ""), ``choices`` (list[str], the
same number in every row of a dataset), ``label`` (int, the index of the right choice).

**Spec convention:** ``text_fields: [<premise>, <question>, <choice 1>, <choice 2>, ...]``: the first
column is the premise (or context), the second the question, the rest the choices in order. Write
``""`` for a dataset without a question column; a single choice column holding a list of strings
(``[ctx, "", endings]``) is also read. ``label_field`` holds the right choice as an index (0 = the
first choice; a ``ClassLabel`` counts by its index); ``label_map`` sends other raw labels to a choice
index, as a string, or to null (drop the row): Social IQa's "1", "2", "3" -> ``{"1": "0", "2": "1",
"3": "2"}``. ``labels`` is not used (there is no label set: the label is a position). A negative or
out-of-range label (COPA's hidden test labels are -1) is an error: declare splits that have labels.
Offline (``source=embedded``) the stand-in has as many choices as the spec has choice columns
(``stand_in_labels``), as the hub dataset has.

**Inputs:** per row, one (first segment, second segment) pair per choice, i.e. a (choices × tokens)
block: the first segment is the premise followed by the question, the second the choice. A question
listed in ``task.options.question_phrases`` is replaced by its phrase (COPA/XCOPA's bare "cause" and
"effect" become "What was the cause?" and "What happened as a result?"; XCOPA keeps English
phrases after non-English premises, as its question field is English); any other question (Social
IQa's) is used as it is. The collator pads a batch to (batch, choices, width).

**Model:** ``AutoModelForMultipleChoice`` scores each choice with one linear unit, so its head does not
depend on the number of choices: a Social IQa (3 choices) checkpoint hands its head on to COPA
(2 choices) as ``kept``. **Metric:** accuracy ``acc``.

**Item** (``itt.data.overlap``): premise, question and the right choice's text (``item_text``), so a
row that differs only in its wrong choices is still the item an ancestor trained on.
"""

from __future__ import annotations

import torch

from itt.data.collation import PaddingCollator, TOKEN_COLUMNS
from itt.errors import DataError
from itt.tasks.base import Task, require_columns
from itt.tasks.evaluation import ItemMetric

DEFAULT_PHRASES = {"cause": "What was the cause?", "effect": "What happened as a result?"}


class MultipleChoice(Task):
    kind = "multiple_choice"
    metric_names = ("acc",)
    option_defaults = {"question_phrases": DEFAULT_PHRASES}

    # -- data ------------------------------------------------------------------------------------
    def canonical_batch(self, batch, rows, raw):
        spec = raw.spec
        fields = list(spec.text_fields)
        if len(fields) < 3:
            raise DataError(f"{raw.where}: text_fields for {self.kind} are [premise, question, choice 1, choice 2, ...] "
                            f"(\"\" for no question), got {fields}")
        premise_field, question_field, choice_fields = fields[0], fields[1], fields[2:]
        require_columns(batch, [f for f in fields if f] + [spec.label_field], raw.where)
        if spec.labels:
            raise DataError(f"{raw.where}: labels is not used by {self.kind} (the label is the right choice's index); "
                            f"map raw labels to indices with label_map, e.g. {{'1': '0', '2': '1'}}")
        class_names = raw.class_names(spec.label_field)
        out = {"premise": [], "question": [], "choices": [], "label": []}
        keep = []
        for pos in range(len(batch[premise_field])):
            choices = _choices(batch, choice_fields, pos)
            premise = batch[premise_field][pos]
            if premise is None or not str(premise).strip() or any(c is None or not str(c).strip() for c in choices):
                raw.drop("empty premise or choice")
                continue
            label = _choice_index(batch[spec.label_field][pos], class_names, spec, len(choices), raw.where, rows[pos])
            if label is None:
                raw.drop(f"label mapped to null in {spec.label_field!r}")
                continue
            question = batch[question_field][pos] if question_field else ""
            out["premise"].append(str(premise))
            out["question"].append("" if question is None else str(question))
            out["choices"].append([str(c) for c in choices])
            out["label"].append(label)
            keep.append(pos)
        return out, keep

    def stand_in_labels(self, spec):
        """The number of choices, as many as the spec's choice columns (Social IQa's answerA-C: 3); a single
        list-valued choice column does not say (None: the generator's default, COPA's 2)."""
        choice_fields = list(spec.text_fields)[2:]
        return len(choice_fields) if len(choice_fields) > 1 else None

    #: 2: an item is its premise, question and right choice (1 keyed every choice, blind to reworded wrong ones)
    item_version = 2

    def item_text(self, row):
        """Premise, question and the right choice's text: what a model learns the answer from. A row that
        repeats them with another wrong choice, the choices in another order or another number of choices
        (Social IQa has 3, COPA 2) is the same item; the same premise and question with another right
        answer is not. ``row_text`` (the divergence measures) keeps every choice and no label."""
        return " ".join([row["premise"], row["question"], row["choices"][row["label"]]])

    def strata(self, dataset):
        return dataset["label"][:]

    def first_segment(self, premise: str, question: str) -> str:
        phrase = self.options["question_phrases"].get(question, question) if question else ""
        return f"{premise} {phrase}".strip()

    def encode(self, batch, tokenizer, max_length, training):
        firsts, seconds, sizes = [], [], []
        for premise, question, choices in zip(batch["premise"], batch["question"], batch["choices"]):
            first = self.first_segment(premise, question)
            firsts += [first] * len(choices)
            seconds += list(choices)
            sizes.append(len(choices))
        flat = tokenizer(firsts, seconds, truncation=True, max_length=max_length)
        out = {key: [] for key in flat}
        start = 0
        for n in sizes:  # regroup: one list of n choice encodings per row
            for key, values in flat.items():
                out[key].append(values[start:start + n])
            start += n
        out["labels"] = batch["label"]
        out["length"] = [max(len(ids) for ids in row) for row in out["input_ids"]]
        return out

    def collator(self, tokenizer, pad_multiple):
        return ChoiceCollator(tokenizer, pad_multiple)

    # -- model -----------------------------------------------------------------------------------
    def auto_model(self):
        from transformers import AutoModelForMultipleChoice  # noqa: PLC0415

        return AutoModelForMultipleChoice

    def label_space(self, labels):
        return (self.kind, "one score per choice")

    # -- evaluation ------------------------------------------------------------------------------
    def evaluator(self, labels, rows=None):
        return ChoiceAccuracy()


def _choices(batch, fields, pos) -> list:
    if len(fields) == 1 and isinstance(batch[fields[0]][pos], (list, tuple)):
        return list(batch[fields[0]][pos])
    return [batch[f][pos] for f in fields]


def _choice_index(raw, class_names, spec, n_choices, where, row):
    value = raw
    if spec.label_map is not None:
        key = str(class_names[raw]) if class_names and isinstance(raw, int) and 0 <= raw < len(class_names) else str(raw)
        if key not in spec.label_map:
            raise DataError(f"{where} row {row}: label {raw!r} is not in label_map; mapped: {', '.join(spec.label_map)}")
        if spec.label_map[key] is None:
            return None
        value = spec.label_map[key]
    try:
        index = int(value)
    except (TypeError, ValueError):
        index = -1
    if not 0 <= index < n_choices:
        hint = " (hidden test labels? declare only splits that have labels)" if index < 0 else ""
        raise DataError(f"{where} row {row}: label {raw!r} is not a choice index 0..{n_choices - 1}{hint}; "
                        f"map raw labels to choice indices with label_map")
    return index


class ChoiceCollator:
    """Rows of n choice encodings -> (batch, n, width) token tensors, padded to a multiple of
    ``pad_multiple`` like any other batch; ``labels``, ``idx`` and ``task`` stay one value per row."""

    def __init__(self, tokenizer, pad_multiple):
        self.pad = PaddingCollator(tokenizer, pad_multiple)

    def __call__(self, features: list[dict]) -> dict[str, torch.Tensor]:
        n = len(features[0]["input_ids"])
        if any(len(f["input_ids"]) != n for f in features):
            counts = sorted({len(f["input_ids"]) for f in features})
            raise DataError(f"multiple_choice: rows with {counts} choices in one batch; a dataset needs the same number "
                            f"of choices in every row")
        tokens = [key for key in features[0] if key in TOKEN_COLUMNS]
        flat = [{key: f[key][c] for key in tokens} for f in features for c in range(n)]
        padded = self.pad(flat)
        batch = {key: padded[key].view(len(features), n, -1) for key in tokens}
        for key in features[0]:
            if key not in TOKEN_COLUMNS:
                batch[key] = torch.tensor([f[key] for f in features])
        batch["labels"] = batch["labels"].long()
        return batch


class ChoiceAccuracy(ItemMetric):
    def __init__(self):
        super().__init__(torch.long)

    def predict(self, outputs, batch):
        return outputs.logits.argmax(dim=-1)

    def score(self, preds, golds):
        return {"acc": (preds == golds).float().mean() if len(golds) else torch.tensor(0.0)}
