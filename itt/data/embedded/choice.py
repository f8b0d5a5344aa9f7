"""Causal commonsense choice (COPA/XCOPA, Social IQa stand-in): ``{"premise", "question", "choices": [c1, c2, ...], "label"}``.

Built from hand-written cause/effect pairs ("Anna dropped the glass." -> "The glass broke.") in
every language. ``question`` is "cause" or "effect" (unlocalised, as in XCOPA): the right choice is
the premise's partner, a wrong one a cause (or effect) of another pair, with the same person's
name, so the name is no clue. ``label`` is the index of the right choice.
Rows are translation-aligned across languages; no item (premise, question and its choices in any
order) is drawn twice.

``num_labels`` is the number of choices: 2 (COPA's, the default; labels balanced) up to ``MAX_CHOICES``
(Social IQa has 3). Every choice count is one stream, so that stand-ins of different counts are split by
shared row id like any two parts of the stream (``Generator.stream_labels``): row i is the same premise,
question, right choice and first wrong choice, in the same order, whatever the count. Each further wrong
choice (another pair's cause or effect, with the same name) comes from an rng of the row's own, seeded by
its row id and item, which leaves the stream's rng alone; it is inserted at a position that rng draws, so
the right choice's index is uniform over the choices (balanced in expectation, not exactly).
"""

from __future__ import annotations

import random
import zlib

from itt.data.embedded.clauses import world
from itt.data.embedded.generator import LANGS, Generator, register_generator
from itt.data.embedded.lexicons import load
from itt.data.embedded.sampling import Distinct, balanced_labels, below, other_index, pick

MAX_CHOICES = 5  # wrong choices come from other pairs (28): a few per row stay far from running out
STREAM_CHOICES = 2  # the choice count the stream's seed and rows are drawn for (COPA's)


def sample(rng: random.Random, n: int, m: int) -> list[int]:
    """``m`` distinct indices in range(n), in the order drawn."""
    left = list(range(n))
    return [left.pop(below(rng, len(left))) for _ in range(m)]


def make_rows(rng: random.Random, lang: str, domain: str, n_rows: int, k: int) -> list[dict]:
    pairs = load("choice")["pairs"]
    names = world()["names"]
    rows, distinct = [], Distinct("choice", LANGS)
    wider = Distinct("choice", LANGS)  # the items with their further wrong choices (k > 2)
    for row_id, label in enumerate(balanced_labels(rng, n_rows, STREAM_CHOICES)):
        while True:  # no item twice (~4 % of 2,400 rows repeat by chance): every language skips the same draws
            i = below(rng, len(pairs))
            wrong = other_index(rng, len(pairs), i)
            ask_effect = rng.random() < 0.5
            name = pick(rng, names[pick(rng, ("f", "m"))])
            given, right, other = (0, 1, 1) if ask_effect else (1, 0, 0)
            fill = lambda text, name=name: text.replace("{P}", name)  # noqa: E731
            items = {other_lang: (fill(pairs[i][other_lang][given]), fill(pairs[i][other_lang][right]),
                                  fill(pairs[wrong][other_lang][other])) for other_lang in LANGS}
            # an item is its premise, question and two choices, in either order
            if distinct.add({other_lang: (premise, ask_effect, frozenset(two)) for other_lang, (premise, *two) in items.items()}):
                break
        premise, right_choice, wrong_choice = items[lang]
        choices = [wrong_choice]
        choices.insert(label, right_choice)
        if k > STREAM_CHOICES:
            # Keyed by the row id and the item's draws (the same in every language, so translations stay aligned).
            extra = random.Random(zlib.crc32(f"choice|{row_id}|{i}|{wrong}|{ask_effect}|{name}".encode()))
            others = [j for j in range(len(pairs)) if j not in (i, wrong)]
            while True:  # two items sharing a right choice can gain each other's wrong one: no item twice here either
                added = [others[j] for j in sample(extra, len(others), k - STREAM_CHOICES)]
                if wider.add({other_lang: (premise, ask_effect, frozenset((*two, *(fill(pairs[j][other_lang][other]) for j in added))))
                              for other_lang, (premise, *two) in items.items()}):
                    break
            for j in added:
                at = below(extra, len(choices) + 1)
                choices.insert(at, fill(pairs[j][lang][other]))
                label += at <= label
        rows.append({"premise": premise, "question": "effect" if ask_effect else "cause", "choices": choices,
                     "label": label})
    return rows


def resolve_choices(domain: str, num_labels: int | None) -> int:
    """The number of choices a stand-in is asked for: None (COPA's 2) or 2..MAX_CHOICES."""
    if num_labels is None:
        return STREAM_CHOICES
    if isinstance(num_labels, bool) or not isinstance(num_labels, int) or not 2 <= num_labels <= MAX_CHOICES:
        raise ValueError(f"num_labels={num_labels!r} for choice (the number of choices); valid: None or 2..{MAX_CHOICES}")
    return num_labels


GENERATOR = register_generator(Generator(
    name="choice", kind="multiple_choice", domains=("general",), make_rows=make_rows,
    resolve_labels=resolve_choices, label_names=lambda domain, k: [], aligned=True,
    split_by_row=True, stream_labels=STREAM_CHOICES), default_for_kind=True)
