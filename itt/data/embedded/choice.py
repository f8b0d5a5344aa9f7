"""Commonsense choice (COPA/XCOPA, Social IQa stand-ins): ``{"premise", "question", "choices": [c1, c2, ...], "label"}``.

Each domain has hand-written cause/effect templates of its own (``lexicons/choice.json``), so a stand-in of one
domain holds no item, nor even a premise/answer template, of the other: ``causal`` (COPA, XCOPA) physical events
around a thing ("{P} dropped {T}." -> "{T} broke."), ``social`` (Social IQa) what people do to each other, feel
and want ("{P} lied to {Q}." -> "{Q} did not trust {P} any more."). A spec of any other domain gets ``causal``.
Slots are filled from the world lexicon (``lexicons/world.json``): ``{P}``/``{Q}`` two people's names,
``{T}`` a thing the template allows (``{T:acc}`` its German accusative; articles, elision and gender as
``rendering.np_tokens`` writes them), ``{when}`` a time ("on Monday", "at 5 o'clock", ...) in the premise
only, ``{X=m|f}`` the form agreeing with slot X's gender. Templates times fillers give each domain tens of
thousands of (premise, question, right choice) triples, of which no stream draws one twice (``Distinct``): a
held-out row is never a training row up to its wrong choice, and the task is learning which templates go
together, not remembering sentences.

``question`` is "cause" or "effect" (unlocalised, as in XCOPA): the right choice is the premise's partner, a
wrong one the cause (or effect) of another template of the domain, filled with the same people and thing
(causal: a template that allows that thing), so no name or thing is a clue. ``label`` is the index of the
right choice. Rows are translation-aligned across languages: every draw is made before a language is.

``num_labels`` is the number of choices: 2 (COPA's, the default; labels balanced) up to ``MAX_CHOICES``
(Social IQa has 3). Every choice count is one stream, so that stand-ins of different counts are split by
shared row id like any two parts of the stream (``Generator.stream_labels``): row i is the same premise,
question, right choice and first wrong choice, in the same order, whatever the count. Each further wrong
choice (another template's cause or effect, with the same slots) comes from an rng of the row's own, seeded
by its row id and draws, which leaves the stream's rng alone; it is inserted at a position that rng draws, so
the right choice's index is uniform over the choices (balanced in expectation, not exactly).
"""

from __future__ import annotations

import functools
import random
import re
import zlib

from itt.data.embedded.clauses import NP, world
from itt.data.embedded.generator import LANGS, Generator, register_generator
from itt.data.embedded.lexicons import load
from itt.data.embedded.rendering import adjunct_tokens, gender, np_tokens, text
from itt.data.embedded.sampling import Distinct, balanced_labels, below, other_index, pick

DOMAINS = ("causal", "social")  # COPA's and XCOPA's (the default_domain), Social IQa's
MAX_CHOICES = 5  # every thing a causal template allows is allowed by at least this many templates (a test checks)
STREAM_CHOICES = 2  # the choice count the stream's seed and rows are drawn for (COPA's)
P_NO_TIME = 0.25  # share of premises without a time
_SLOT = re.compile(r"\{(\w+)(?::(\w+))?(?:=([^}|]*)\|([^}]*))?\}")
# A preposition and the article after it are one word: Spanish "a el" is written "al", French "à le" "au".
_CONTRACTIONS = {"es": ((" a el ", " al "), (" de el ", " del ")),
                 "fr": ((" à le ", " au "), (" à les ", " aux "), (" de le ", " du "), (" de les ", " des "))}


@functools.cache
def templates(domain: str) -> tuple[dict, ...]:
    return tuple(load("choice")["domains"][domain])


@functools.cache
def _things() -> dict[str, int]:
    """A thing's English name -> its index in the world lexicon."""
    return {thing["en"]: i for i, thing in enumerate(world()["things"])}


@functools.cache
def _people() -> tuple[NP, ...]:
    """Every name of the world lexicon, as a noun phrase (its sex is its gender)."""
    return tuple(NP("name", i, sex=sex) for sex in ("f", "m") for i in range(len(world()["names"][sex])))


@functools.cache
def _times() -> tuple[tuple[int, int, int], ...]:
    """The premise times as (index into world times, day, hour): the premises are past events, so "every day"
    is left out, and so are "in the morning/evening" ("woke Q up in the middle of the night in the morning")."""
    out = []
    for i, time in enumerate(world()["times"]):
        en = time["en"]
        if "{day}" in en:
            out += [(i, day, 0) for day in range(7)]
        elif "{hour}" in en:
            out += [(i, 0, hour) for hour in range(2, 12)]
        elif en.split("/")[0] in ("today", "yesterday"):
            out.append((i, 0, 0))
    return tuple(out)


@functools.cache
def partners(domain: str, i: int, thing: int | None) -> tuple[int, ...]:
    """The templates other than ``i`` a wrong choice of template ``i`` may come from: causal ones that allow the thing."""
    if thing is None:
        return tuple(j for j in range(len(templates(domain))) if j != i)
    name = world()["things"][thing]["en"]
    return tuple(j for j, t in enumerate(templates(domain)) if j != i and name in t["things"])


def fill(sentence: str, lang: str, slots: dict, time: tuple | None) -> str:
    """A template side with its slots filled in ``lang``; ``{when}`` is ``time`` (or nothing)."""
    def slot(match: re.Match) -> str:
        key, case, masculine, feminine = match.groups()
        if key == "when":
            return "" if time is None else text(adjunct_tokens("times", time[0], lang, day=time[1], hour=time[2]))
        np = slots[key]
        if masculine is not None:
            return feminine if gender(np, lang) == "f" else masculine
        return text(np_tokens(np, lang, case or "nom"))

    out = re.sub(r"\s+([.,])", r"\1", re.sub(r"\s+", " ", _SLOT.sub(slot, sentence))).strip()
    for written, contracted in _CONTRACTIONS.get(lang, ()):
        out = out.replace(written, contracted)
    return out[0].upper() + out[1:]


def make_rows(rng: random.Random, lang: str, domain: str, n_rows: int, k: int) -> list[dict]:
    pairs, people, times = templates(domain), _people(), _times()
    rows, distinct = [], Distinct("choice", LANGS)
    for row_id, label in enumerate(balanced_labels(rng, n_rows, STREAM_CHOICES)):
        while True:  # no (premise, question, right choice) twice: every language skips the same draws
            i = below(rng, len(pairs))
            ask_effect = rng.random() < 0.5
            p = below(rng, len(people))
            q = other_index(rng, len(people), p)
            allowed = pairs[i].get("things")
            thing = _things()[pick(rng, allowed)] if allowed else None
            time = None if rng.random() < P_NO_TIME else pick(rng, times)
            wrong = pick(rng, partners(domain, i, thing))
            slots = {"P": people[p], "Q": people[q], "T": None if thing is None else NP("thing", thing)}
            given, right = (0, 1) if ask_effect else (1, 0)
            items = {other_lang: (fill(pairs[i][other_lang][given], other_lang, slots, time),
                                  fill(pairs[i][other_lang][right], other_lang, slots, None))
                     for other_lang in LANGS}
            if distinct.add({other_lang: (premise, ask_effect, answer) for other_lang, (premise, answer) in items.items()}):
                break
        premise, right_choice = items[lang]
        choices = [fill(pairs[wrong][lang][right], lang, slots, None)]
        choices.insert(label, right_choice)
        if k > STREAM_CHOICES:
            # Keyed by the row id and the row's draws (the same in every language, so translations stay aligned).
            extra = random.Random(zlib.crc32(f"choice|{domain}|{row_id}|{i}|{wrong}|{ask_effect}|{p}|{q}|{thing}|{time}".encode()))
            others = [j for j in partners(domain, i, thing) if j != wrong]
            for j in (others[n] for n in sample(extra, len(others), k - STREAM_CHOICES)):
                at = below(extra, len(choices) + 1)
                choices.insert(at, fill(pairs[j][lang][right], lang, slots, None))
                label += at <= label
        rows.append({"premise": premise, "question": "effect" if ask_effect else "cause", "choices": choices,
                     "label": label})
    return rows


def sample(rng: random.Random, n: int, m: int) -> list[int]:
    """``m`` distinct indices in range(n), in the order drawn."""
    left = list(range(n))
    return [left.pop(below(rng, len(left))) for _ in range(m)]


def resolve_choices(domain: str, num_labels: int | None) -> int:
    """The number of choices a stand-in is asked for: None (COPA's 2) or 2..MAX_CHOICES."""
    if num_labels is None:
        return STREAM_CHOICES
    if isinstance(num_labels, bool) or not isinstance(num_labels, int) or not 2 <= num_labels <= MAX_CHOICES:
        raise ValueError(f"num_labels={num_labels!r} for choice (the number of choices); valid: None or 2..{MAX_CHOICES}")
    return num_labels


GENERATOR = register_generator(Generator(
    name="choice", kind="multiple_choice", domains=DOMAINS, make_rows=make_rows,
    resolve_labels=resolve_choices, label_names=lambda domain, k: [], aligned=True,
    split_by_row=True, stream_labels=STREAM_CHOICES, default_domain="causal"), default_for_kind=True)
