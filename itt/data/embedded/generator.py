"""What a generator declares (its task kind, languages, domains, label space and row maker), and the
registry of generators.

Each generator module builds one :class:`Generator` and adds it with :func:`register_generator`, as
a user's module does for a kind of its own; ``itt.data.embedded`` validates arguments before calling
``make_rows``.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass

# The task kinds of itt/tasks and the row keys each one's canonical format has (optional keys in
# OPTIONAL_KEYS); the generators emit exactly these rows. A kind defined elsewhere is added by
# registering its first generator with ``row_keys``.
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
    ``split_by_row``: every stand-in of this generator (each role and eval set of a task, any size or
    language) is a part of one aligned stream per domain (its rows from ``embedded_offset`` on), so two stand-ins with a
    row in common (or its translation) give it the same row id.
    Under ``source=embedded`` such stand-ins are split by that shared row id (as ``aligned_with`` splits
    translations, ``itt.identity.aligned_roles``): no validation or test row of one role, nor its
    translation, is in another role's training split.
    ``stream_labels``: the label count the dataset seed is derived from whatever count a stand-in asks for
    (None: the asked count). Set, every label count is one stream: ``make_rows`` draws the rows for that
    count from the stream's rng and adds what another count needs per row, without drawing from it (the
    choice generator's further wrong choices), so row i is the same item for every count and stand-ins
    of different counts are split by shared row id.
    ``default_domain``: the domain written for a stand-in whose domain is none of ``domains``, so that every
    dataset of its kind has one (``itt.data.loading.stand_in_domain``; empty: the only domain of a one-domain
    generator, while a generator of several domains has no stand-in for another).
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
    split_by_row: bool = False
    corpus_num_labels: "int | None" = None  # the label count whose texts cover the most wording
    stream_labels: "int | None" = None
    default_domain: str = ""

    def __post_init__(self):
        if not self.seed_name:
            object.__setattr__(self, "seed_name", self.name)


#: Every registered generator by name, in registration order (the built-ins' order is the tokenizer
#: corpus's order, see ``itt.data.embedded.BUILT_IN``).
GENERATORS: dict[str, Generator] = {}
#: The generator a dataset spec of each task kind uses when it names none.
DEFAULT_GENERATOR: dict[str, str] = {}


def register_generator(generator: Generator, *, default_for_kind: bool = False,
                       row_keys: Iterable[str] | None = None, optional_keys: Iterable[str] = ()) -> Generator:
    """Add ``generator`` to ``GENERATORS`` under its name and return it (``source=embedded`` can then use it).

    ``default_for_kind``: the generator of its kind's datasets that name none (``DEFAULT_GENERATOR``).
    ``row_keys`` (and ``optional_keys``): the canonical row keys of a kind not yet in ``KIND_KEYS``, i.e.
    a ``Task`` subclass defined outside itt (its ``kind``); a known kind keeps its keys. Registering the
    same object twice is a no-op; anything else already registered under that name, or under that kind
    as its default, is a ValueError.
    """
    name, kind = generator.name, generator.kind
    if name in GENERATORS and GENERATORS[name] is not generator:
        raise ValueError(f"generator {name!r} is registered twice; registered: {', '.join(GENERATORS)}")
    keys = None if row_keys is None else set(row_keys)
    if kind not in KIND_KEYS and not keys:
        raise ValueError(f"generator {name!r}: unknown kind {kind!r}; valid: {', '.join(KIND_KEYS)}, "
                         f"or a new kind with register_generator(..., row_keys=...)")
    if kind in KIND_KEYS and keys is not None and keys != KIND_KEYS[kind]:
        raise ValueError(f"generator {name!r}: row_keys {sorted(keys)} differ from kind {kind!r}'s "
                         f"{sorted(KIND_KEYS[kind])}; valid: omit row_keys for a known kind")
    current = DEFAULT_GENERATOR.get(kind)
    if default_for_kind and current not in (None, name):
        raise ValueError(f"generator {name!r}: kind {kind!r} already has the default generator {current!r}; "
                         f"valid: default_for_kind=False (datasets then name it with generator={name})")
    if kind not in KIND_KEYS:
        KIND_KEYS[kind] = keys
        if optional_keys:
            OPTIONAL_KEYS[kind] = set(optional_keys)
    GENERATORS[name] = generator
    if default_for_kind:
        DEFAULT_GENERATOR[kind] = name
    return generator


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
