"""The embedded token-level and span generators: pos, ner and qa (itt.data.embedded)."""

from __future__ import annotations

import re
from collections import Counter

import pytest
from seqeval.metrics.sequence_labeling import get_entities
from tokenizers.pre_tokenizers import BertPreTokenizer

from embedded_baselines import tokens as words
from itt.data.embedded import generate, label_names
from itt.data.embedded.clauses import NP, Clause, world
from itt.data.embedded.lexicons import load
from itt.data.embedded.rendering import sentence_tokens, text

LANGS = ("en", "de", "fr", "es")
UPOS = label_names("pos", "general")
NER = label_names("ner", "wiki")


@pytest.mark.parametrize("generator,domain", [("pos", "general"), ("ner", "wiki"), ("qa", "wiki")])
def test_deterministic_prefix_stable_and_seeded(generator, domain):
    rows = generate(generator, "es", domain, 200, seed=4)
    assert rows == generate(generator, "es", domain, 200, seed=4)
    assert generate(generator, "es", domain, 400, seed=4)[:200] == rows
    assert rows != generate(generator, "es", domain, 200, seed=5)


# --- pos -----------------------------------------------------------------------------------

def test_pos_label_names_are_the_17_upos_tags():
    assert UPOS == ["ADJ", "ADP", "ADV", "AUX", "CCONJ", "DET", "INTJ", "NOUN", "NUM", "PART", "PRON", "PROPN", "PUNCT",
                    "SCONJ", "SYM", "VERB", "X"]


def _tagged(clauses, lang):
    toks = sentence_tokens(clauses, lang)
    return " ".join(f"{w}/{t}" for w, t in toks), text(toks)


MAN_DOES_NOT_BUY = Clause("thing", NP("agent", 0), 0, NP("thing", 0, color=0), place=0, neg=True)
GIRL_SEES_BOY = Clause("agent", NP("agent", 3), 0, NP("agent", 2), place=0, front="place")
ANNA_FINDS_HAT = Clause("thing", NP("name", 0, sex="f"), 3, NP("thing", 13, color=7))
WOMAN_NOT_TIRED = Clause("state", NP("agent", 1), 0, neg=True, time=3)


@pytest.mark.parametrize("clause,lang,expected", [
    (MAN_DOES_NOT_BUY, "en", "The/DET man/NOUN does/AUX not/PART buy/VERB the/DET red/ADJ car/NOUN in/ADP the/DET park/NOUN ./PUNCT"),
    (MAN_DOES_NOT_BUY, "de", "Der/DET Mann/NOUN kauft/VERB das/DET rote/ADJ Auto/NOUN nicht/PART im/ADP Park/NOUN ./PUNCT"),
    (MAN_DOES_NOT_BUY, "fr", "L'/DET homme/NOUN n'/ADV achète/VERB pas/ADV la/DET voiture/NOUN rouge/ADJ dans/ADP le/DET parc/NOUN ./PUNCT"),
    (MAN_DOES_NOT_BUY, "es", "El/DET hombre/NOUN no/ADV compra/VERB el/DET coche/NOUN rojo/ADJ en/ADP el/DET parque/NOUN ./PUNCT"),
    (GIRL_SEES_BOY, "en", "In/ADP the/DET park/NOUN ,/PUNCT the/DET girl/NOUN sees/VERB the/DET boy/NOUN ./PUNCT"),
    (GIRL_SEES_BOY, "de", "Im/ADP Park/NOUN sieht/VERB das/DET Mädchen/NOUN den/DET Jungen/NOUN ./PUNCT"),
    (GIRL_SEES_BOY, "fr", "Dans/ADP le/DET parc/NOUN ,/PUNCT la/DET fille/NOUN voit/VERB le/DET garçon/NOUN ./PUNCT"),
    (GIRL_SEES_BOY, "es", "En/ADP el/DET parque/NOUN ,/PUNCT la/DET niña/NOUN ve/VERB al/ADP niño/NOUN ./PUNCT"),
    (ANNA_FINDS_HAT, "de", "Anna/PROPN findet/VERB den/DET braunen/ADJ Hut/NOUN ./PUNCT"),
    (ANNA_FINDS_HAT, "fr", "Anna/PROPN trouve/VERB le/DET chapeau/NOUN marron/ADJ ./PUNCT"),
    (WOMAN_NOT_TIRED, "en", "The/DET woman/NOUN is/AUX not/PART tired/ADJ today/NOUN ./PUNCT"),
    (WOMAN_NOT_TIRED, "de", "Die/DET Frau/NOUN ist/AUX heute/ADV nicht/PART müde/ADJ ./PUNCT"),
    (WOMAN_NOT_TIRED, "fr", "La/DET femme/NOUN n'/ADV est/AUX pas/ADV fatiguée/ADJ aujourd'hui/ADV ./PUNCT"),
    (WOMAN_NOT_TIRED, "es", "La/DET mujer/NOUN no/ADV está/AUX cansada/ADJ hoy/ADV ./PUNCT"),
])
def test_rendering_matches_hand_tagged_sentences(clause, lang, expected):
    assert _tagged([clause], lang)[0] == expected


def test_text_joins_elisions_and_punctuation():
    assert _tagged([MAN_DOES_NOT_BUY], "fr")[1] == "L'homme n'achète pas la voiture rouge dans le parc."
    assert _tagged([GIRL_SEES_BOY], "en")[1] == "In the park, the girl sees the boy."
    pronoun = Clause("state", NP("pron", ref=NP("agent", 3)), 1)
    assert _tagged([GIRL_SEES_BOY, pronoun], "de")[1] == "Im Park sieht das Mädchen den Jungen und es ist glücklich."
    assert _tagged([GIRL_SEES_BOY, pronoun], "es")[1] == "En el parque, la niña ve al niño y ella está contenta."


@pytest.mark.parametrize("lang", LANGS)
def test_pos_rows(lang):
    rows = generate("pos", lang, "general", 800, seed=0)
    counts = Counter()
    for row in rows:
        assert len(row["tokens"]) == len(row["tags"]) >= 3
        assert all(isinstance(t, int) and 0 <= t < len(UPOS) for t in row["tags"])
        assert all(w and " " not in w for w in row["tokens"])
        assert UPOS[row["tags"][-1]] == "PUNCT" and row["tokens"][0][0].isupper()
        counts.update(UPOS[t] for t in row["tags"])
    assert {"NOUN", "VERB", "ADJ", "DET", "ADP", "PRON", "PROPN", "NUM", "PUNCT", "ADV", "CCONJ", "AUX", "INTJ"} <= set(counts)
    assert counts["NOUN"] > counts["INTJ"] > 0


def test_pos_words_keep_their_tag():
    """Function words are tagged the same wherever they occur (a lexicon-level consistency check)."""
    rows = generate("pos", "en", "general", 1000, seed=1)
    seen: dict[str, set] = {}
    for row in rows:
        for word, tag in zip(row["tokens"], row["tags"]):
            seen.setdefault(word.lower(), set()).add(UPOS[tag])
    assert seen["the"] == {"DET"} and seen["and"] == {"CCONJ"} and seen["not"] == {"PART"} and seen["."] == {"PUNCT"}


# --- ner -----------------------------------------------------------------------------------

def test_ner_label_names():
    assert NER == ["O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC"]  # WikiANN's order (tests/test_hub_specs.py)


def _entities(row: dict) -> list[tuple[str, str]]:
    """(type, text) of each entity, read by seqeval."""
    return [(kind, " ".join(row["tokens"][start:end + 1])) for kind, start, end in get_entities([NER[t] for t in row["tags"]])]


@pytest.mark.parametrize("lang", LANGS)
def test_ner_tags_are_valid_bio(lang):
    rows = generate("ner", lang, "wiki", 1000, seed=0)
    multi_token, kinds, lowercase_inside = 0, Counter(), 0
    for row in rows:
        tags = [NER[t] for t in row["tags"]]
        assert len(row["tokens"]) == len(tags)
        for previous, tag in zip(["O", *tags], tags):
            if tag.startswith("I-"):  # an inside tag continues an entity of the same type
                assert previous[2:] == tag[2:] and previous != "O", (row["tokens"], tags)
        entities = _entities(row)
        assert entities  # every sentence names something
        kinds.update(kind for kind, _ in entities)
        multi_token += any(" " in name for _, name in entities)
        lowercase_inside += any(not w[0].isupper() for _, name in entities for w in name.split()[1:])
    assert set(kinds) == {"PER", "LOC", "ORG"} and min(kinds.values()) > 200
    assert multi_token / len(rows) > 0.4 and lowercase_inside > 20


def test_ner_entities_align_across_languages():
    by_lang = {lang: generate("ner", lang, "wiki", 300, seed=3) for lang in LANGS}
    for i in range(300):
        kinds = {lang: Counter(kind for kind, _ in _entities(by_lang[lang][i])) for lang in LANGS}
        assert kinds["de"] == kinds["fr"] == kinds["es"] == kinds["en"]
        people = {lang: sorted(name for kind, name in _entities(by_lang[lang][i]) if kind == "PER") for lang in LANGS}
        assert people["de"] == people["en"]  # people's names are not translated


def test_ner_city_inside_an_organisation():
    rows = generate("ner", "en", "wiki", 2000, seed=0)
    orgs = [name for row in rows for kind, name in _entities(row) if kind == "ORG"]
    assert any(name.startswith("University of ") and name.split()[-1] in ("Oslo", "Paris", "Berlin", "Janeiro", "York") for name in orgs)



# --- ner_social: the WNUT-17 stand-in ------------------------------------------------------

def test_ner_social_has_wnut17s_tags_in_the_hub_order():
    from hub_replicas.specs_xtreme import WNUT17_TAGS  # noqa: PLC0415

    assert label_names("ner_social", "social_media") == list(WNUT17_TAGS)


def test_ner_social_rows_are_tagged_posts():
    """Lower-case posts with @handles, hashtags and "lol", valid BIO over all 6 WNUT-17 types, many of
    them multi-token; handles and hashtags are O (as in WNUT-17), and some posts name nothing."""
    tags = label_names("ner_social", "social_media")
    rows = generate("ner_social", "en", "social_media", 1000, seed=0)
    assert rows == generate("ner_social", "en", "social_media", 1000, seed=0)
    assert generate("ner_social", "en", "social_media", 2000, seed=0)[:1000] == rows
    kinds, multi_token, without, words = Counter(), Counter(), 0, Counter()
    for row in rows:
        assert set(row) == {"tokens", "tags"} and len(row["tokens"]) == len(row["tags"]) > 0
        names = [tags[t] for t in row["tags"]]
        for previous, tag in zip(["O", *names], names):
            if tag.startswith("I-"):
                assert previous != "O" and previous[2:] == tag[2:], (row["tokens"], names)
        entities = get_entities(names)
        without += not entities
        for kind, start, end in entities:
            kinds[kind] += 1
            multi_token[kind] += end > start
        for word, tag in zip(row["tokens"], names):
            words[word] += 1
            if word[0] in "@#":
                assert tag == "O", (row["tokens"], names)
    assert set(kinds) == {"corporation", "creative-work", "group", "location", "person", "product"}
    assert min(kinds.values()) > 80 and all(multi_token[k] > 10 for k in kinds), (kinds, multi_token)
    assert 0.05 < without / len(rows) < 0.4
    assert sum(n for w, n in words.items() if w.startswith("@")) > 200 and sum(n for w, n in words.items() if w.startswith("#")) > 100
    assert words["lol"] > 30
    assert sum(n for w, n in words.items() if w != w.lower()) / sum(words.values()) < 0.1  # mostly lower case


def test_ner_social_is_english_only():
    from itt.data.embedded import langs  # noqa: PLC0415

    assert langs("ner_social") == ("en",)
    with pytest.raises(ValueError, match="unknown lang 'de' for generator 'ner_social'"):
        generate("ner_social", "de", "social_media", 5, seed=0)

# --- qa ------------------------------------------------------------------------------------

@pytest.mark.parametrize("lang", LANGS)
def test_qa_answer_offsets_are_exact(lang):
    rows = generate("qa", lang, "wiki", 1500, seed=0)
    for row in rows:
        (answer,), (start,) = row["answers"]["text"], row["answers"]["answer_start"]
        assert answer and row["context"][start:start + len(answer)] == answer, row
        assert answer == answer.strip() and row["question"].strip() == row["question"]
    assert len({r["id"] for r in rows}) == len(rows)


def test_qa_ids_and_answers_align_across_languages():
    by_lang = {lang: generate("qa", lang, "wiki", 200, seed=1) for lang in LANGS}
    assert len({tuple(r["id"] for r in rows) for rows in by_lang.values()}) == 1  # XQuAD-style shared ids
    names = {n for sex in world()["names"].values() for n in sex} | set(load("shared")["surnames"])
    for i in range(200):
        asked_about = {lang: {w for w in re.findall(r"\w+", by_lang[lang][i]["question"]) if w in names} for lang in LANGS}
        assert len(asked_about["en"]) == 2 and all(asked_about[lang] == asked_about["en"] for lang in LANGS)
        answers = [by_lang[lang][i]["answers"]["text"][0] for lang in LANGS]
        if answers[0].isdigit():
            assert len(set(answers)) == 1  # numbers and years are the same in every language


def test_qa_contexts_vary_in_length_and_answers_reach_the_end():
    rows = generate("qa", "en", "wiki", 1000, seed=2)
    pre_tokens = [len(BertPreTokenizer().pre_tokenize_str(r["context"])) for r in rows]  # a lower bound of WordPiece tokens
    long = [r for r, n in zip(rows, pre_tokens) if n > 128]
    assert 0.2 <= len(long) / len(rows) <= 0.5 and min(pre_tokens) < 40
    late = sum(r["answers"]["answer_start"][0] > len(r["context"]) / 2 for r in long)
    assert late / len(long) >= 0.3


def test_qa_is_answerable_from_lexical_cues():
    """The answer sits in the context sentence that shares the most words with the question."""
    hits = 0
    rows = generate("qa", "de", "wiki", 500, seed=3)
    for row in rows:
        question = set(words(row["question"]))
        sentences, position = [], 0
        for sentence in row["context"].split(". "):
            sentences.append((len(question & set(words(sentence))), position, position + len(sentence)))
            position += len(sentence) + 2
        _, start, end = max(sentences, key=lambda s: s[0])
        hits += start <= row["answers"]["answer_start"][0] < end
    assert hits / len(rows) >= 0.8
