"""Causal commonsense choice (COPA/XCOPA stand-in): ``{"premise", "question", "choices": [c1, c2], "label"}``.

Built from hand-written cause/effect pairs ("Anna dropped the glass." -> "The glass broke.") in
every language. ``question`` is "cause" or "effect" (unlocalised, as in XCOPA): the right choice is
the premise's partner, the wrong one a cause (or effect) of another pair, with the same person's
name, so the name is no clue. ``label`` (0 or 1, balanced) is the index of the right choice.
Rows are translation-aligned across languages; no item (premise, question and the two choices in
either order) is drawn twice.
"""

from __future__ import annotations

import random

from itt.data.embedded.clauses import world
from itt.data.embedded.generator import LANGS, Generator, fixed_labels, register_generator
from itt.data.embedded.lexicons import load
from itt.data.embedded.sampling import Distinct, balanced_labels, below, other_index, pick

LABELS = ("0", "1")  # the label is the index of the right choice; num_labels = number of choices


def make_rows(rng: random.Random, lang: str, domain: str, n_rows: int, k: int) -> list[dict]:
    pairs = load("choice")["pairs"]
    names = world()["names"]
    rows, distinct = [], Distinct("choice", LANGS)
    for label in balanced_labels(rng, n_rows, 2):
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
        rows.append({"premise": premise, "question": "effect" if ask_effect else "cause", "choices": choices,
                     "label": label})
    return rows


GENERATOR = register_generator(Generator(
    name="choice", kind="multiple_choice", domains=("general",), make_rows=make_rows,
    resolve_labels=fixed_labels("choice", LABELS), label_names=lambda domain, k: [], aligned=True,
    split_by_row=True), default_for_kind=True)
