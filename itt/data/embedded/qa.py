"""Extractive QA (SQuAD/XQuAD stand-in): ``{"id", "question", "context", "answers": {"text", "answer_start"}}``.

A context is a few short biographies ("Anna Keller was born in Oslo in 1975. Anna Keller works
for Zentra. ...") with some filler; the question asks for one fact of one person, repeating the
person's name and the fact's cue words ("Where was Anna Keller born?"), so a model can learn to
find the sentence and the slot. About a third of the contexts are long (4-8 people, 150-300
words, longer than 128 tokens of a tiny tokenizer), and the answer is anywhere in them, often in
the later part: document-stride windowing matters. ``context[answer_start:][:len(text)] == text``
always. Rows are translation-aligned and share their ids across languages, like XQuAD.
"""

from __future__ import annotations

import random

from itt.data.embedded.clauses import CITIES, world
from itt.data.embedded.generator import Generator, no_labels, register_generator
from itt.data.embedded.lexicons import load
from itt.data.embedded.sampling import below, pick, randint
from itt.data.embedded.templates import parse

LONG_FRACTION = 0.35
_TABLES = {"job": "jobs", "color": "colors", "subject": "subjects", "pets": "pets"}  # slot -> qa.json list


def make_rows(rng: random.Random, lang: str, domain: str, n_rows: int, k: int) -> list[dict]:
    rows = []
    for _ in range(n_rows):
        row_id = f"{rng.getrandbits(64):016x}"
        sentences, (target, question) = _story(rng)
        rows.append(_render(row_id, sentences, target, question, lang))
    return rows


def _story(rng: random.Random) -> tuple[list[tuple], tuple[int, str]]:
    """Language-free sentences ("fact", person, fact name, values) / ("filler", index, values),
    and the question: (index of the sentence it asks about, question template)."""
    lexicon, names = load("qa"), world()["names"]
    long = rng.random() < LONG_FRACTION
    people: list[tuple[str, str, str]] = []  # (sex, first name, surname)
    for _ in range(randint(rng, 4, 8) if long else randint(rng, 1, 2)):
        while True:
            sex = pick(rng, ("f", "m"))
            person = (sex, pick(rng, names[sex]), pick(rng, load("shared")["surnames"]))
            if all(p[1:] != person[1:] for p in people):
                break
        people.append(person)
    sentences: list[tuple] = []
    fact_names = tuple(lexicon["facts"])
    for person in people:
        chosen: list[str] = []
        while len(chosen) < (randint(rng, 3, 5) if long else randint(rng, 2, 3)) and len(chosen) < len(fact_names):
            name = pick(rng, fact_names)
            if name not in chosen:
                chosen.append(name)
        sentences.extend(("fact", person, name, _values(rng)) for name in chosen)
    facts = [i for i, s in enumerate(sentences) if s[0] == "fact"]
    target = pick(rng, facts)
    question = pick(rng, lexicon["facts"][sentences[target][2]]["en"]["questions"])
    question_index = lexicon["facts"][sentences[target][2]]["en"]["questions"].index(question)
    for _ in range(randint(rng, 2, 5) if long else below(rng, 2)):
        position = below(rng, len(sentences) + 1)
        sentences.insert(position, ("filler", below(rng, len(lexicon["fillers"]["en"])), _values(rng), pick(rng, people)))
        if position <= target:
            target += 1
    return sentences, (target, question_index)


def _values(rng: random.Random) -> dict:
    lexicon, names = load("qa"), world()["names"]
    return {"city": pick(rng, CITIES), "city2": pick(rng, CITIES), "year": str(randint(rng, 1940, 2005)),
            "brand": pick(rng, load("shared")["brands"]), "job": below(rng, len(lexicon["jobs"])),
            "color": below(rng, len(lexicon["colors"])), "subject": below(rng, len(lexicon["subjects"])),
            "pets": below(rng, len(lexicon["pets"])), "num": str(randint(rng, 2, 9)), "day": below(rng, 7),
            "sister": pick(rng, names["f"]), "brother": pick(rng, names["m"])}


def _fill(template: str, person: tuple, values: dict, lang: str) -> tuple[str, dict[str, tuple[int, int]]]:
    """The filled template and the (start, end) of each slot's value in it."""
    lexicon = load("qa")
    sex, first, surname = person
    out, offsets = "", {}
    for i, part in enumerate(parse(template)):
        if i % 2 == 0:
            out += part
            continue
        if part == "P":
            value = f"{first} {surname}"
        elif part in ("job", "color", "subject", "pets"):
            value = lexicon[_TABLES[part]][values[part]][lang]
            if part == "job":
                forms = value.split("|")
                value = forms[-1] if sex == "f" else forms[0]
        elif part == "day":
            value = load("shared")["days"][lang][values["day"]]
        else:
            value = values[part]
        offsets[part] = (len(out), len(out) + len(value))
        out += value
    return out, offsets


def _render(row_id: str, sentences: list[tuple], target: int, question: int, lang: str) -> dict:
    lexicon = load("qa")
    parts: list[str] = []
    position = 0  # where the next sentence starts in the context
    for i, sentence in enumerate(sentences):
        if sentence[0] == "fact":
            _, person, name, values = sentence
            text, spans = _fill(lexicon["facts"][name][lang]["statement"], person, values, lang)
        else:
            _, index, values, person = sentence
            text, spans = _fill(lexicon["fillers"][lang][index], person, values, lang)
        if i == target:
            asked, slot = lexicon["facts"][name][lang]["questions"][question].split("|")
            question_text = _fill(asked, person, values, lang)[0]
            start, end = spans[slot]
            answer_text, answer_start = text[start:end], position + start
        parts.append(text)
        position += len(text) + 1
    return {"id": row_id, "question": question_text, "context": " ".join(parts),
            "answers": {"text": [answer_text], "answer_start": [answer_start]}}


GENERATOR = register_generator(Generator(
    name="qa", kind="extractive_qa", domains=("wiki",), make_rows=make_rows,
    resolve_labels=no_labels("qa", "extractive_qa"), label_names=lambda domain, k: [], aligned=True,
    split_by_row=True), default_for_kind=True)
