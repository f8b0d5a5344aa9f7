"""Parallel sentences for retrieval evaluation (Tatoeba stand-in): ``{"text": translation, "text_pair": English}``,
the sides of google/xtreme's Tatoeba rows (``source_sentence`` in ``lang``, ``target_sentence`` English), so
``acc`` searches in XTREME's direction here too (``itt.tasks.retrieval``).

The same language-free clauses rendered in English and in ``lang`` (de, fr, es), word-for-word
translations through the shared lexicon. ``lang="en"`` is refused (ValueError from the API): an
English-English "translation" would be an identical pair, a retrieval task with nothing to find.
Rows are aligned: the English side is the same for every ``lang``. No sentence is drawn twice, in any
language: a repeated pair would be two candidates with the same text, one of which acc counts as a miss.
"""

from __future__ import annotations

import random

from itt.data.embedded.generator import LANGS, Generator, no_labels, register_generator
from itt.data.embedded.pos import random_sentence
from itt.data.embedded.rendering import text, sentence_tokens
from itt.data.embedded.sampling import Distinct


def make_rows(rng: random.Random, lang: str, domain: str, n_rows: int, k: int) -> list[dict]:
    rows, distinct = [], Distinct("parallel", LANGS)
    while len(rows) < n_rows:
        clauses, interjection = random_sentence(rng)
        # Short sentences ("The chair is red.") recur by chance (~4 % of 2,400 rows); every language skips
        # the same draws, English included, so the English side stays the same for every lang.
        texts = {other: text(sentence_tokens(clauses, other, interjection)) for other in LANGS}
        if distinct.add(texts):
            rows.append({"text": texts[lang], "text_pair": texts["en"]})
    return rows


GENERATOR = register_generator(Generator(
    name="parallel", kind="retrieval", domains=("general",), make_rows=make_rows,
    resolve_labels=no_labels("parallel", "retrieval"), label_names=lambda domain, k: [],
    langs=("de", "fr", "es"), aligned=True), default_for_kind=True)
