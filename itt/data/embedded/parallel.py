"""Parallel sentences for retrieval evaluation (Tatoeba stand-in): ``{"text": translation, "text_pair": English}``,
the sides of google/xtreme's Tatoeba rows (``source_sentence`` in ``lang``, ``target_sentence`` English), so
``acc`` searches in XTREME's direction here too (``itt.tasks.retrieval``).

The same language-free clauses rendered in English and in ``lang`` (de, fr, es), word-for-word
translations through the shared lexicon. ``lang="en"`` is refused (ValueError from the API): an
English-English "translation" would be an identical pair, a retrieval task with nothing to find.
Rows are aligned: the English side is the same for every ``lang``.
"""

from __future__ import annotations

import random

from itt.data.embedded.generator import Generator, no_labels, register_generator
from itt.data.embedded.pos import random_sentence
from itt.data.embedded.rendering import text, sentence_tokens


def make_rows(rng: random.Random, lang: str, domain: str, n_rows: int, k: int) -> list[dict]:
    rows = []
    for _ in range(n_rows):
        clauses, interjection = random_sentence(rng)
        rows.append({"text": text(sentence_tokens(clauses, lang, interjection)),
                     "text_pair": text(sentence_tokens(clauses, "en", interjection))})
    return rows


GENERATOR = register_generator(Generator(
    name="parallel", kind="retrieval", domains=("general",), make_rows=make_rows,
    resolve_labels=no_labels("parallel", "retrieval"), label_names=lambda domain, k: [],
    langs=("de", "fr", "es"), aligned=True), default_for_kind=True)
