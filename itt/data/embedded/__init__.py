"""Deterministic synthetic ("embedded") datasets that stand in offline for real hub datasets.

Each dataset is fully described by ``(generator, lang, domain, n_rows, seed, num_labels)``: the
same arguments always give the same rows, with nothing but the standard library. The data is
built from small hand-written lexicons of real words in each language (``lexicons/*.json``), so that

* tiny randomly initialised transformers (tokenizers trained on :func:`corpus`) can learn a task
  within a few epochs: labels are carried by words, not by subtle syntax;
* a good model still cannot reach 100 %: negation, mixed opinions, shared keywords, word-order
  swaps and a few noisy labels;
* intermediate-task training has something to transfer: domains share general vocabulary next to
  their own, and all languages share digits, names, brands and a few cognates (so cross-lingual
  transfer exists but is weak).

Generators (name -> task kind; rows in the kind's canonical format, see ``generator.KIND_KEYS``):

* ``sentiment`` (sequence_classification): reviews, 2/3/5 labels; graded domain divergence, see
  :data:`DIVERGENCE_ORDER`.
* ``topics`` (sequence_classification): topic classification; news, questions and headlines have the
  topics of AG News (4), Yahoo! Answers (10) and MasakhaNEWS (7) under the hub's ClassLabel names, wiki 5 (a
  spec declaring some of a domain's topics gets those: :func:`stand_in_classes`).
* ``similarity`` (sequence_regression): STS-B-like pairs, label in [0, 1].
* ``nli`` (sequence_classification, pair): entailment/neutral/contradiction, XNLI-like.
* ``paraphrase`` (sequence_classification, pair): PAWS-X-like, "1" = paraphrase.
* ``pos`` / ``ner`` (token_classification): UPOS tags / BIO tags for PER, LOC, ORG (WikiANN-like).
* ``ner_social`` (token_classification): WNUT-17-like social-media posts, English only, with WNUT-17's
  13 BIO tags (corporation, creative-work, group, location, person, product) in the hub's order.
* ``qa`` (extractive_qa): SQuAD-format rows with exact answer offsets.
* ``choice`` (multiple_choice): cause/effect questions, 2 choices or as many as asked (Social IQa's 3),
  one stream per domain whatever the count; templates of its own per domain: ``causal`` (COPA's physical
  events) and ``social`` (Social IQa's motives and reactions).
* ``parallel`` (retrieval): English sentences and their translations (not for lang="en").

The new generators (nli, paraphrase, pos, ner, qa, choice, parallel) are translation-aligned: with
the same other arguments, row i in German is row i in English, translated (QA rows share their id).
Every stand-in of ``pos``, ``qa``, ``ner`` and ``choice`` (``Generator.split_by_row``) is thus a part of one
stream, whatever its role or size (rows ``[embedded_offset, embedded_offset + embedded_rows)``; different hub
datasets take different parts): under ``source=embedded`` they are split by that shared row id, so no held-out
row of one role is in another's training split (``itt.identity.row_streams``).

Generators register (``generator.register_generator``), the built-ins as each module is imported,
so a kind defined in a user's package can ship its generator with it, without editing this package::

    register_generator(Generator(name="flags", kind="two_flags", domains=("general",), make_rows=...,
                                 resolve_labels=..., label_names=...),
                       default_for_kind=True, row_keys={"text", "flags"})

``row_keys`` declares a new kind's canonical row keys (added to ``KIND_KEYS``); ``default_for_kind``
makes it ``DEFAULT_GENERATOR[kind]``. Only the built-in generators (:data:`BUILT_IN`) make the
tokenizer corpus (:func:`corpus` says why, and what a tiny tokenizer does with words it never saw).
"""

from __future__ import annotations

import functools
import hashlib
import re
from collections.abc import Iterable, Iterator
from pathlib import Path

from itt.data.embedded.generator import DEFAULT_GENERATOR, GENERATORS, KIND_KEYS, Generator, register_generator
from itt.data.embedded.lexicons import load
from itt.data.embedded.sampling import dataset_rng

# Importing each generator module registers its generator. Keep this order: it is the order of
# GENERATORS and of the tokenizer corpus (reordering would retrain every tiny model's tokenizer).
from itt.data.embedded import sentiment, topics, similarity, nli, paraphrase, pos, ner, qa, choice, parallel, ner_social  # noqa: F401, I001

__all__ = ["BUILT_IN", "GENERATORS", "DIVERGENCE_ORDER", "DEFAULT_GENERATOR", "KIND_KEYS", "Generator", "generate",
           "label_names", "stand_in_classes", "of_classes", "kind_of", "domains", "langs", "corpus", "corpus_fingerprint", "register_generator", "source_version"]

#: itt's own generators: those registered while this package is imported. Only they make the tiny
#: models' tokenizer corpus (see :func:`corpus`).
BUILT_IN: tuple[str, ...] = tuple(GENERATORS)

# Per generator, domains in order of increasing vocabulary divergence from the first one, by
# construction of their lexicons (see ``sentiment.DOMAIN_WORDS_SHARED`` and ``GENERAL_WORDS_SHARED``).
DIVERGENCE_ORDER: dict[str, tuple[str, ...]] = {"sentiment": sentiment.DIVERGENCE_ORDER}

CORPUS_ROWS = 70  # rows per (generator, lang, domain) in the tokenizer corpus


def generate(generator: str, lang: str, domain: str, n_rows: int, seed: int,
             num_labels: int | tuple[str, ...] | None = None) -> list[dict]:
    """Rows of one dataset, in the canonical format of the generator's task kind.

    Classification labels are balanced (counts differ by at most one); the first rows do not
    depend on ``n_rows``. ``num_labels``: sentiment 2 (default), 3 or 5; topics 2 up to the
    domain's topic count (default: all; the first k topics); regression None or 1; fixed label
    spaces None or their size; choice the number of choices (default 2); QA/retrieval None. A
    classification generator also takes a tuple of its domain's label names: the rows of those classes
    (:func:`of_classes`). Raises ValueError (one line naming the bad value and the valid ones) for an unknown
    generator/lang/domain or an unsupported ``num_labels``.
    """
    gen = _generator(generator)
    if isinstance(num_labels, tuple):
        return of_classes(gen, lang, domain, n_rows, seed, num_labels)
    k = _resolve(gen, domain, num_labels)
    if lang not in gen.langs:
        raise ValueError(f"unknown lang {lang!r} for generator {generator!r}; valid: {', '.join(gen.langs)}")
    if isinstance(n_rows, bool) or not isinstance(n_rows, int) or n_rows < 0:
        raise ValueError(f"n_rows={n_rows!r}; valid: an int >= 0")
    rng = dataset_rng(seed, gen.seed_name, "*" if gen.aligned else lang, domain,
                      k if gen.stream_labels is None else gen.stream_labels)
    return gen.make_rows(rng, lang, domain, n_rows, k)


def label_names(generator: str, domain: str, num_labels: int | tuple[str, ...] | None = None) -> list[str]:
    """Label names in index order: classes, or tag names for token classification; [] otherwise."""
    gen = _generator(generator)
    if isinstance(num_labels, tuple):
        _class_index(gen, domain, num_labels)
        return list(num_labels)
    return gen.label_names(domain, _resolve(gen, domain, num_labels))


def stand_in_classes(generator: str, domain: str, declared, count: int | None) -> int | tuple[str, ...] | None:
    """What a spec's stand-in asks its generator for: ``count`` (the first classes of the domain), or the
    declared label names where they are classes of the domain but not its first ``len(declared)``: a hub
    dataset with some of its ClassLabel's classes (MasakhaNEWS fra has 5 of the 7 topics all its languages
    share). Declared names the domain lacks keep ``count`` (the generator's names then stand for them)."""
    gen = GENERATORS.get(generator)
    if not declared or count != len(declared) or gen is None or gen.kind != "sequence_classification":
        return count
    names = tuple(str(name) for name in declared)
    try:
        every = gen.label_names(domain, _resolve(gen, domain, None))
    except (ValueError, KeyError):
        return count
    if list(names) == every[:len(names)] or len(set(names)) != len(names) or not set(names) <= set(every):
        return count
    return names


def of_classes(gen: Generator, lang: str, domain: str, n_rows: int, seed: int, names: tuple[str, ...]) -> list[dict]:
    """The first ``n_rows`` rows of the domain's stream (all its classes) whose class is one of ``names``, label i
    being ``names[i]``: the same texts as the full stand-in's rows of those classes, balanced among them."""
    index = _class_index(gen, domain, names)
    if isinstance(n_rows, bool) or not isinstance(n_rows, int) or n_rows < 0:
        raise ValueError(f"n_rows={n_rows!r}; valid: an int >= 0")
    every = len(gen.label_names(domain, _resolve(gen, domain, None)))
    drawn = -(-n_rows * every // len(names)) + every  # balanced labels: every class once in each block of `every`
    while True:
        rows = generate(gen.name, lang, domain, drawn, seed)  # its first rows do not depend on how many
        kept = [{**row, "label": index[row["label"]]} for row in rows if row["label"] in index]
        if len(kept) >= n_rows:
            return kept[:n_rows]
        drawn *= 2


def _class_index(gen: Generator, domain: str, names: tuple[str, ...]) -> dict[int, int]:
    """The domain's label index -> the position of its name in ``names``; a ValueError unless ``names`` are
    distinct classes of a classification generator's domain."""
    if gen.kind != "sequence_classification":
        raise ValueError(f"label names {list(names)} for generator {gen.name!r}: only a sequence_classification "
                         f"generator takes them; valid: a label count")
    every = gen.label_names(domain, _resolve(gen, domain, None))
    unknown = [name for name in names if name not in every]
    if unknown or len(set(names)) != len(names) or len(names) < 2:
        raise ValueError(f"label names {list(names)} for {gen.name}/{domain}: not 2 or more distinct classes of it; "
                         f"valid: {', '.join(every)}")
    return {every.index(name): i for i, name in enumerate(names)}


def kind_of(generator: str) -> str:
    """The task kind of the generator's rows (a key of ``generator.KIND_KEYS``)."""
    return _generator(generator).kind


def domains(generator: str) -> tuple[str, ...]:
    return _generator(generator).domains


def langs(generator: str) -> tuple[str, ...]:
    return _generator(generator).langs


def corpus(seed: int = 0) -> Iterator[str]:
    """Texts of every built-in generator, language and domain, for training the tiny models' tokenizers.

    ``CORPUS_ROWS`` rows of each dataset (both sides of pairs, questions and contexts, ...), then
    every lexicon's words once (also capitalised, as at the start of a sentence), so each word a
    built-in generator can emit is in the corpus.

    Generators registered from outside itt are not in it, on purpose: a tiny model stands in for a
    pretrained hub checkpoint, whose vocabulary does not depend on the datasets a run adds, and its
    cache key (``corpus_fingerprint``, remembered per version of this folder) must not depend on which
    user modules a process happened to import before building it, or an intermediate and its target
    could start from two different "pretrained" models. Words such a generator emits that the corpus
    lacks are split into known subword pieces; a character the corpus never has becomes the unknown
    token (WordPiece: the whole word; Unigram/SentencePiece: that character; byte-level BPE never).
    """
    for name in BUILT_IN:
        gen = GENERATORS[name]
        for domain in gen.domains:
            for lang in gen.langs:
                for row in generate(gen.name, lang, domain, CORPUS_ROWS, seed, gen.corpus_num_labels):
                    yield from row_texts(gen.kind, row)
    for name in _LEXICON_FILES:
        words = set(_lexicon_words(load(name)))
        yield from _chunks(sorted(words | {w[0].upper() + w[1:] for w in words}), 30)


@functools.cache
@functools.cache
def source_version() -> str:
    """A digest of this package's code and word lists, all that the built-in stand-ins are generated from
    (with the standard library's seeded ``random``): in offline run ids and data-cache keys, so a run or
    a cached split made from an older stand-in is never taken for one of the current (a few ms)."""
    package = Path(__file__).parent
    digest = hashlib.sha1()
    for path in sorted(p for p in package.rglob("*") if p.suffix in (".py", ".json")):
        digest.update(f"{path.relative_to(package).as_posix()}\n".encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def corpus_fingerprint(seed: int = 0) -> str:
    """A digest of :func:`corpus`: in the tiny models' cache key, so changed generators retrain their tokenizers."""
    digest = hashlib.sha1()
    for text in corpus(seed):
        digest.update(text.encode())
        digest.update(b"\n")
    return digest.hexdigest()[:10]


# Not the kind's ``Task.row_text``: that joins a row's strings into one text for the divergence
# measures (and itt.tasks imports torch, which this package does not), while the tokenizer corpus has
# each side of a pair, question and context separately; reading rows through it would change every
# tiny tokenizer. Only built-in kinds reach the corpus (see ``corpus``), so this reads only them.
def row_texts(kind: str, row: dict) -> Iterator[str]:
    """The natural-language strings of one canonical row of a built-in kind, as the tokenizer corpus has them."""
    if kind == "token_classification":
        yield " ".join(row["tokens"])
    elif kind == "extractive_qa":
        yield row["question"]
        yield row["context"]
    elif kind == "multiple_choice":
        yield row["premise"]
        yield from row["choices"]
    elif kind in ("sequence_classification", "sequence_regression", "retrieval"):
        yield row["text"]
        if "text_pair" in row:
            yield row["text_pair"]
    else:
        raise ValueError(f"row_texts: kind {kind!r} is not built in (its rows are not in the tokenizer corpus); "
                         f"valid: {', '.join(sorted({GENERATORS[g].kind for g in BUILT_IN}))}")


# Lexicon notation stripped to plain words for the corpus: {placeholders} ("{T:acc}"; "{T=m|f}" keeps its
# words), "m|f" alternatives, "word/TAG" tags and "m:" genders (world.json), "[entity]" brackets (ner.json).
_LEXICON_FILES = ("shared", "sentiment", "topics", "similarity", "world", "ner", "qa", "choice", "ner_social")
_NOTATION = re.compile(r"\{\w+(?::\w+)?\}|\{\w+=|\}|\||/[A-Z]+\b|\b[mfn]:|[\[\]]")


def _lexicon_words(value) -> Iterator[str]:
    if isinstance(value, str):
        yield from _NOTATION.sub(" ", value).split()
    elif isinstance(value, dict):
        for v in value.values():
            yield from _lexicon_words(v)
    elif isinstance(value, (tuple, list)):
        for v in value:
            yield from _lexicon_words(v)


def _chunks(words: list[str], size: int) -> Iterable[str]:
    return (" ".join(words[i:i + size]) for i in range(0, len(words), size))


def _generator(name: str) -> Generator:
    if name not in GENERATORS:
        raise ValueError(f"unknown generator {name!r}; valid: {', '.join(GENERATORS)}")
    return GENERATORS[name]


def _resolve(gen: Generator, domain: str, num_labels: int | None) -> int:
    if domain not in gen.domains:
        raise ValueError(f"unknown domain {domain!r} for generator {gen.name!r}; valid: {', '.join(gen.domains)}")
    return gen.resolve_labels(domain, num_labels)
