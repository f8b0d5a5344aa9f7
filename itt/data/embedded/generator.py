"""What a generator declares: its task kind, languages, domains, label space and row maker.

Each generator module builds one :class:`Generator`; ``itt.data.embedded`` collects them in its
registry and validates arguments before calling ``make_rows``.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

# The task kinds of itt/tasks and the row keys each one's canonical format has (optional keys in
# OPTIONAL_KEYS); the generators emit exactly these rows.
KIND_KEYS = {
    "sequence_classification": {"text", "label"},
    "sequence_regression": {"text", "label"},
    "token_classification": {"tokens", "tags"},
    "extractive_qa": {"id", "question", "context", "answers"},
    "multiple_choice": {"premise", "question", "choices", "label"},
    "retrieval": {"text", "text_pair"},
}
OPTIONAL_KEYS = {"sequence_classification": {"text_pair"}, "sequence_regression": {"text_pair"}}

LANGS: tuple[str, ...] = ("en", "de", "fr", "es")


@dataclass(frozen=True)
class Generator:
    """One synthetic dataset family.

    ``make_rows(rng, lang, domain, n_rows, k)`` returns the rows; ``k`` is the validated label
    count from ``resolve_labels(domain, num_labels)`` (0 where there are no classes).
    ``seed_name`` is the name the dataset seed is derived from (the three original generators
    keep their old task names, so their rows did not change when they were renamed).
    ``aligned``: rows of two languages with the same other arguments are translations of each
    other (row i of de is row i of en, translated), like XNLI/XQuAD; the seed then ignores lang.
    """

    name: str
    kind: str
    domains: tuple[str, ...]
    make_rows: Callable[[random.Random, str, str, int, int], list[dict]]
    resolve_labels: Callable[[str, "int | None"], int]
    label_names: Callable[[str, int], list[str]]
    langs: tuple[str, ...] = LANGS
    seed_name: str = ""
    aligned: bool = False
    corpus_num_labels: "int | None" = None  # the label count whose texts cover the most wording

    def __post_init__(self):
        if self.kind not in KIND_KEYS:
            raise ValueError(f"generator {self.name!r}: unknown kind {self.kind!r}; valid: {', '.join(KIND_KEYS)}")
        if not self.seed_name:
            object.__setattr__(self, "seed_name", self.name)


def fixed_labels(name: str, names: tuple[str, ...]):
    """``resolve_labels`` for a label space of fixed size: num_labels may be None or that size."""
    def resolve(domain: str, num_labels: int | None) -> int:
        if num_labels not in (None, len(names)) or isinstance(num_labels, bool):
            raise ValueError(f"num_labels={num_labels!r} for {name} (labels {', '.join(names)}); "
                             f"valid: None or {len(names)}")
        return len(names)
    return resolve


def no_labels(name: str, kind: str, allowed: tuple = (None,)):
    """``resolve_labels`` for kinds without classes (QA, retrieval; regression also allows 1)."""
    def resolve(domain: str, num_labels: int | None) -> int:
        if num_labels not in allowed or isinstance(num_labels, bool):
            valid = " or ".join(map(str, allowed))
            raise ValueError(f"num_labels={num_labels!r} for {name} (a {kind} generator); valid: {valid}")
        return 0
    return resolve
