"""Clauses (``clauses.py``) rendered as tagged tokens and text in en, de, fr and es.

Each language's grammar is spelled out here as far as the lexicon needs it: articles by gender and
case (German accusative, French elision), attributive colour order and agreement, the Spanish
personal "a" before animate objects, negation ("does not", "nicht", "ne ... pas", "no"), German
verb-second order after a fronted adjunct. Tags are Universal Dependencies UPOS.
"""

from __future__ import annotations

import functools

from itt.data.embedded.clauses import NP, Clause, world
from itt.data.embedded.lexicons import load

Tok = tuple[str, str]
UPOS = ("ADJ", "ADP", "ADV", "AUX", "CCONJ", "DET", "INTJ", "NOUN", "NUM", "PART", "PRON", "PROPN", "PUNCT",
        "SCONJ", "SYM", "VERB", "X")  # the order of XTREME's udpos label names
_FR_ELIDES = tuple("aeiouéèêàâîôûh")


@functools.cache
def tagged(spec: str) -> tuple[Tok, ...]:
    """ "in/ADP the/DET park/NOUN" -> (("in", "ADP"), ("the", "DET"), ("park", "NOUN"))."""
    return tuple(tuple(part.rsplit("/", 1)) for part in spec.split())


def sentence_tokens(clauses: list[Clause], lang: str, interjection: bool = False) -> list[Tok]:
    """One sentence: the clauses joined by "and", capitalised, with a final full stop."""
    grammar = world()["grammar"][lang]
    out: list[Tok] = [*tagged(grammar["oh"]), (",", "PUNCT")] if interjection else []
    for i, clause in enumerate(clauses):
        if i:
            out.append((grammar["and"], "CCONJ"))
        out.extend(clause_tokens(clause, lang))
    word, tag = out[0]
    out[0] = (word[0].upper() + word[1:], tag)
    out.append((".", "PUNCT"))
    return out


def text(tokens: list[Tok]) -> str:
    """Tokens joined as written: no space before punctuation or after an elided "l'"/"n'"/"d'"."""
    out = ""
    for word, _ in tokens:
        if out and word not in ".,;:!?" and not out.endswith("'"):
            out += " "
        out += word
    return out


def render(clauses: list[Clause], lang: str) -> str:
    return text(sentence_tokens(clauses, lang))


def clause_tokens(c: Clause, lang: str) -> list[Tok]:
    subj, verb, rest = _core(c, lang)
    tail = {name: _adjunct(c, name, lang) for name in ("adv", "place", "time") if getattr(c, name) is not None}
    order = ("time", "adv", "place") if lang == "de" else ("adv", "place", "time")
    after = [tok for name in order if name in tail and name != c.front for tok in tail[name]]
    if lang == "de" and c.frame in ("state", "color", "route"):  # predicate last: "ist heute nicht müde"
        rest, after = after, rest
    if c.front and c.front in tail:
        if lang == "de":  # verb second: "Im Park kauft der Mann das Auto."
            return [*tail[c.front], *verb, *subj, *rest, *after]
        return [*tail[c.front], (",", "PUNCT"), *subj, *verb, *rest, *after]
    return [*subj, *verb, *rest, *after]


def _core(c: Clause, lang: str) -> tuple[list[Tok], list[Tok], list[Tok]]:
    """(subject, verb group, what follows the verb) of a clause, negation included."""
    w, g = world(), world()["grammar"][lang]
    subj = np_tokens(c.subj, lang, "nom")
    nobody = c.subj.kind == "nobody"
    if c.frame in ("state", "color"):
        entry = w["states"][c.verb] if c.frame == "state" else w["colors"][c.verb]
        adjective = _agree(entry[lang], gender(c.subj, lang))
        copula = g["is_state"] if c.frame == "state" else g["is"]
        verb = _negated([(copula, "AUX")], lang, c.neg, nobody, base=copula)
        rest = [(adjective, "ADJ")]
        if lang == "de" and c.neg:
            rest = [("nicht", "PART"), *rest]
        return subj, verb, rest
    if c.frame == "route":
        forms = g["travels"].split("|")
        start, end = c.route
        source = [("d'", "ADP")] if lang == "fr" and start.lower().startswith(_FR_ELIDES) else [(g["from"], "ADP")]
        rest = [*source, (start, "PROPN"), (g["to"], "ADP"), (end, "PROPN")]
    else:
        forms = w["thing_verbs" if c.frame == "thing" else "agent_verbs"][c.verb][lang].split("|")
        rest = np_tokens(c.obj, lang, "acc")
    verb = _negated([(forms[0], "VERB")], lang, c.neg, nobody, base=forms[-1])
    if lang == "de" and c.neg:
        rest = [*rest, ("nicht", "PART")] if c.frame != "route" else [("nicht", "PART"), *rest]
    return subj, verb, rest


def _negated(verb: list[Tok], lang: str, neg: bool, nobody: bool, base: str) -> list[Tok]:
    word, tag = verb[0]
    if lang == "fr" and (neg or nobody):  # "ne ... pas"; "personne ne ..." has no "pas"
        ne = "n'" if word.startswith(_FR_ELIDES) else "ne"
        return [(ne, "ADV"), (word, tag)] + ([("pas", "ADV")] if neg else [])
    if not neg:
        return verb
    if lang == "en":
        return [(word, "AUX"), ("not", "PART")] if tag == "AUX" else [("does", "AUX"), ("not", "PART"), (base, "VERB")]
    if lang == "es":
        return [("no", "ADV"), (word, tag)]
    return verb  # German "nicht" follows the object


def gender(np: NP, lang: str) -> str:
    """Grammatical gender (m/f/n) of a noun phrase in ``lang``; natural sex for names."""
    if np.kind == "pron":
        return gender(np.ref, lang)
    if np.kind == "name":
        return np.sex
    if np.kind in ("agent", "thing"):
        table = "agents" if np.kind == "agent" else "things"
        if lang == "en":
            entry = world()[table][np.index]
            return (entry.get("sex") or "n") if np.kind == "agent" else "n"
        return world()[table][np.index][lang].split(":")[0]
    return "m"


def np_tokens(np: NP, lang: str, case: str) -> list[Tok]:
    """A noun phrase as tokens; ``case`` "acc" is the object form (German accusative, Spanish "a")."""
    w, g = world(), world()["grammar"][lang]
    if np.kind in ("someone", "something", "nobody"):
        return list(tagged(g[np.kind]))
    if np.kind == "animal":
        return list(tagged(g["an_animal"]))
    if np.kind == "things":
        first, second = (np_tokens(item, lang, case) for item in np.items)
        return [*first, (g["and"], "CCONJ"), *second]
    if np.kind == "pron":
        return [(g["pronouns"][gender(np.ref, lang)], "PRON")]
    personal_a = lang == "es" and case == "acc"
    if np.kind == "name":
        name = w["names"][np.sex][np.index]
        return ([("a", "ADP")] if personal_a else []) + [(name, "PROPN")]
    entry = (w["agents"] if np.kind == "agent" else w["things"])[np.index][lang]
    color = None if np.color is None else w["colors"][np.color][lang]
    if lang == "en":
        return [("the", "DET"), *([(color, "ADJ")] if color else []), (entry, "NOUN")]
    genus, noun = entry.split(":")
    nominative, accusative = (noun.split("|") + [noun])[:2]
    if lang == "de":
        acc = case == "acc"
        article = {"m": ("der", "den"), "f": ("die", "die"), "n": ("das", "das")}[genus][acc]
        adjective = [(color + ("en" if acc and genus == "m" else "e"), "ADJ")] if color else []
        return [(article, "DET"), *adjective, (accusative if acc else nominative, "NOUN")]
    adjective = [(_agree(color, genus), "ADJ")] if color else []
    if lang == "fr":
        article = "l'" if noun.startswith(_FR_ELIDES) else {"m": "le", "f": "la"}[genus]
        return [(article, "DET"), (noun, "NOUN"), *adjective]
    if personal_a and np.kind == "agent":  # "a la niña", "al perro"
        head = [("al", "ADP")] if genus == "m" else [("a", "ADP"), ("la", "DET")]
    else:
        head = [({"m": "el", "f": "la"}[genus], "DET")]
    return [*head, (noun, "NOUN"), *adjective]


def _agree(adjective: str, genus: str) -> str:
    """The masculine or feminine form of an "m|f" adjective."""
    forms = adjective.split("|")
    return forms[-1] if genus == "f" else forms[0]


def _adjunct(c: Clause, name: str, lang: str) -> list[Tok]:
    table = {"adv": "adverbs", "place": "places", "time": "times"}[name]
    return adjunct_tokens(table, getattr(c, name), lang, city=c.city, day=c.day, hour=c.hour)


def adjunct_tokens(table: str, index: int, lang: str, city: str = "", day: int = 0, hour: int = 0) -> list[Tok]:
    """An adverb, place or time of the world lexicon (``table``: adverbs | places | times) with its
    ``{city}``, ``{day}`` (an index into the week) and ``{hour}`` filled."""
    days = load("shared")["days"][lang]
    return [(word.replace("{city}", city).replace("{day}", days[day]).replace("{hour}", str(hour)), tag)
            for word, tag in tagged(world()[table][index][lang])]
