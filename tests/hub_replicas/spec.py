"""The vocabulary of the replica specs: what one hub dataset looks like, and helpers that build rows.

A ``Replica`` records what the hub serves for one dataset id: its configs (the ones we replicate, with
their exact ``datasets.Features`` and every real split name with its real size), the configs we do not
replicate, where each fact was read, and which facts we could not confirm. ``make_replicas.py`` turns
the specs into folders that ``datasets.load_dataset(folder, config)`` loads like the hub id.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from datasets import ClassLabel, Features, List, Translation, TranslationVariableLanguages, Value

STRING, INT32, INT64, FLOAT32, FLOAT64, BOOL = (Value("string"), Value("int32"), Value("int64"),
                                                 Value("float32"), Value("float64"), Value("bool"))

# The commit of github.com/huggingface/datasets just before the dataset scripts left for the hub
# (#4974, Oct 2022): its datasets/<name>/dataset_infos.json hold every feature, config and split size.
GH = "https://github.com/huggingface/datasets/blob/d7dfbc83d68e87ba002c5eb2555f7a932e59038a/datasets"


def seq(feature) -> List:
    """``Sequence(x)`` as ``datasets`` >= 4 spells it (a list column)."""
    return List(feature)


def answers_feature(text_first: bool = True) -> dict:
    """SQuAD-style ``answers``: ``Sequence({text, answer_start})``, which datasets stores as a dict of lists."""
    parts = {"text": seq(STRING), "answer_start": seq(INT32)}
    return parts if text_first else {"answer_start": parts["answer_start"], "text": parts["text"]}


@dataclass
class Config:
    name: str
    features: Features
    splits: dict[str, int]                 # every real split name -> its real size (from the source)
    rows: dict[str, list[dict]]            # split -> replica rows (3-8), keyed like ``features``

    def __post_init__(self) -> None:
        if set(self.rows) != set(self.splits):
            raise ValueError(f"config {self.name}: rows for {sorted(self.rows)} but real splits are {sorted(self.splits)}")


@dataclass
class Replica:
    hub_id: str
    configs: list[Config]
    sources: list[str]
    other_configs: list[str] = field(default_factory=list)   # real configs not replicated
    unverified: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    # The hub repo's main branch still holds this loading script: datasets >= 4 refuses to load it.
    script: str | None = None
    aliases: list[str] = field(default_factory=list)          # legacy ids the hub redirects here

    @property
    def folder(self) -> str:
        return self.hub_id.replace("/", "__")


def qa(context: str, question: str, answer: str, id: str, title: str | None = None, nth: int = 0) -> dict:
    """A SQuAD-format row whose ``answer_start`` is computed, so it always indexes the context."""
    start = -1
    for _ in range(nth + 1):
        start = context.index(answer, start + 1)
    row = {"id": id, "context": context, "question": question, "answers": {"text": [answer], "answer_start": [start]}}
    if title is not None:
        row["title"] = title
    return row


def tagged(text: str) -> tuple[list[str], list[str]]:
    """``"John/B-PER Smith/I-PER lives/O"`` -> tokens, tag names (a slash inside a token is kept)."""
    tokens, tags = [], []
    for item in text.split(" "):
        token, tag = item.rsplit("/", 1)
        tokens.append(token)
        tags.append(tag)
    return tokens, tags


def iob_spans(tokens: list[str], tags: list[str]) -> list[str]:
    """WikiANN's ``spans`` column: ``"PER: John Smith"`` per entity, ``["None"]`` when there is none."""
    spans, current = [], None
    for token, tag in zip(tokens, tags):
        if tag.startswith("B-"):
            current = [tag[2:], [token]]
            spans.append(current)
        elif tag.startswith("I-") and current is not None:
            current[1].append(token)
        else:
            current = None
    return [f"{kind}: {' '.join(words)}" for kind, words in spans] or ["None"]


def label(*names: str) -> ClassLabel:
    return ClassLabel(names=list(names))


__all__ = ["STRING", "INT32", "INT64", "FLOAT32", "FLOAT64", "BOOL", "GH", "Config", "Replica", "Features",
           "ClassLabel", "Translation", "TranslationVariableLanguages", "seq", "answers_feature", "qa",
           "tagged", "iob_spans", "label"]
