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
* ``topics`` (sequence_classification): news/questions/wiki topic classification.
* ``similarity`` (sequence_regression): STS-B-like pairs, label in [0, 1].
* ``nli`` (sequence_classification, pair): entailment/neutral/contradiction, XNLI-like.
* ``paraphrase`` (sequence_classification, pair): PAWS-X-like, "1" = paraphrase.
* ``pos`` / ``ner`` (token_classification): UPOS tags / BIO tags for PER, LOC, ORG.
* ``qa`` (extractive_qa): SQuAD-format rows with exact answer offsets.
* ``choice`` (multiple_choice): COPA-like cause/effect questions.
* ``parallel`` (retrieval): English sentences and their translations (not for lang="en").

The new generators (nli, paraphrase, pos, ner, qa, choice, parallel) are translation-aligned: with
the same other arguments, row i in German is row i in English, translated (QA rows share their id).
"""

from __future__ import annotations

import functools
import hashlib
import re
from collections.abc import Iterable, Iterator

from itt.data.embedded import choice, ner, nli, parallel, paraphrase, pos, qa, sentiment, similarity, topics
from itt.data.embedded.generator import KIND_KEYS, Generator
from itt.data.embedded.lexicons import load
from itt.data.embedded.sampling import dataset_rng

__all__ = ["GENERATORS", "DIVERGENCE_ORDER", "DEFAULT_GENERATOR", "KIND_KEYS", "Generator", "generate", "label_names", "kind_of", "domains",
           "langs", "corpus", "corpus_fingerprint"]

GENERATORS: dict[str, Generator] = {g.name: g for g in (
    sentiment.GENERATOR, topics.GENERATOR, similarity.GENERATOR, nli.GENERATOR, paraphrase.GENERATOR,
    pos.GENERATOR, ner.GENERATOR, qa.GENERATOR, choice.GENERATOR, parallel.GENERATOR,
)}

# Per generator, domains in order of increasing vocabulary divergence from the first one, by
# construction of their lexicons (see ``sentiment.DOMAIN_WORDS_SHARED`` and ``GENERAL_WORDS_SHARED``).
DIVERGENCE_ORDER: dict[str, tuple[str, ...]] = {"sentiment": sentiment.DIVERGENCE_ORDER}

# The generator a dataset spec of each task kind uses when it names none.
DEFAULT_GENERATOR = {"sequence_classification": "sentiment", "sequence_regression": "similarity",
                     "token_classification": "ner", "extractive_qa": "qa", "multiple_choice": "choice",
                     "retrieval": "parallel"}

CORPUS_ROWS = 70  # rows per (generator, lang, domain) in the tokenizer corpus


def generate(generator: str, lang: str, domain: str, n_rows: int, seed: int,
             num_labels: int | None = None) -> list[dict]:
    """Rows of one dataset, in the canonical format of the generator's task kind.

    Classification labels are balanced (counts differ by at most one); the first rows do not
    depend on ``n_rows``. ``num_labels``: sentiment 2 (default), 3 or 5; topics 2 up to the
    domain's topic count (default: all; the first k topics); regression None or 1; fixed label
    spaces None or their size; QA/retrieval None. Raises ValueError (one line naming the bad value
    and the valid ones) for an unknown generator/lang/domain or an unsupported ``num_labels``.
    """
    gen = _generator(generator)
    k = _resolve(gen, domain, num_labels)
    if lang not in gen.langs:
        raise ValueError(f"unknown lang {lang!r} for generator {generator!r}; valid: {', '.join(gen.langs)}")
    if isinstance(n_rows, bool) or not isinstance(n_rows, int) or n_rows < 0:
        raise ValueError(f"n_rows={n_rows!r}; valid: an int >= 0")
    rng = dataset_rng(seed, gen.seed_name, "*" if gen.aligned else lang, domain, k)
    return gen.make_rows(rng, lang, domain, n_rows, k)


def label_names(generator: str, domain: str, num_labels: int | None = None) -> list[str]:
    """Label names in index order: classes, or tag names for token classification; [] otherwise."""
    gen = _generator(generator)
    return gen.label_names(domain, _resolve(gen, domain, num_labels))


def kind_of(generator: str) -> str:
    """The task kind of the generator's rows (a key of ``generator.KIND_KEYS``)."""
    return _generator(generator).kind


def domains(generator: str) -> tuple[str, ...]:
    return _generator(generator).domains


def langs(generator: str) -> tuple[str, ...]:
    return _generator(generator).langs


def corpus(seed: int = 0) -> Iterator[str]:
    """Texts of every generator, language and domain, for training the tiny models' tokenizers.

    ``CORPUS_ROWS`` rows of each dataset (both sides of pairs, questions and contexts, ...), then
    every lexicon's words once (also capitalised, as at the start of a sentence), so each word a
    generator can emit is in the corpus.
    """
    for gen in GENERATORS.values():
        for domain in gen.domains:
            for lang in gen.langs:
                for row in generate(gen.name, lang, domain, CORPUS_ROWS, seed, gen.corpus_num_labels):
                    yield from row_texts(gen.kind, row)
    for name in _LEXICON_FILES:
        words = set(_lexicon_words(load(name)))
        yield from _chunks(sorted(words | {w[0].upper() + w[1:] for w in words}), 30)


@functools.cache
def corpus_fingerprint(seed: int = 0) -> str:
    """A digest of :func:`corpus`: in the tiny models' cache key, so changed generators retrain their tokenizers."""
    digest = hashlib.sha1()
    for text in corpus(seed):
        digest.update(text.encode())
        digest.update(b"\n")
    return digest.hexdigest()[:10]


def row_texts(kind: str, row: dict) -> Iterator[str]:
    """The natural-language strings of one canonical row."""
    if kind == "token_classification":
        yield " ".join(row["tokens"])
    elif kind == "extractive_qa":
        yield row["question"]
        yield row["context"]
    elif kind == "multiple_choice":
        yield row["premise"]
        yield from row["choices"]
    else:
        yield row["text"]
        if "text_pair" in row:
            yield row["text_pair"]


# Lexicon notation stripped to plain words for the corpus: {placeholders}, "m|f" alternatives,
# "word/TAG" tags and "m:" genders (world.json), "[entity]" brackets (ner.json).
_LEXICON_FILES = ("shared", "sentiment", "topics", "similarity", "world", "ner", "qa", "choice")
_NOTATION = re.compile(r"\{\w+\}|\||/[A-Z]+\b|\b[mfn]:|[\[\]]")


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
