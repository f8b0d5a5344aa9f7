"""Content words: lower-cased word tokens minus a language's stop words.

Word tokenizer (``word_tokens``): the text is NFC-normalised and lower-cased, typographic
apostrophes become ``'``, and a word is a maximal run of Unicode letters, possibly joined by
internal apostrophes (regex ``[^\\W\\d_]+(?:'[^\\W\\d_]+)*``). Digits, underscores and punctuation
separate words and are never part of one, so numbers are not words.

Content words (``content_words``): words of at least two letters that are not in the stop list of
``lang``. A word with an apostrophe that is not itself a stop word (English contractions such as
``don't`` are) is split at its apostrophes and each piece is judged alone: French ``l'homme`` gives
``homme``, English ``children's`` gives ``children``. Single letters (``U.S.`` -> ``u``, ``s``) are
dropped in every language.

Scripts written without spaces (Chinese, Japanese, Thai) come out as whole phrases, so word-level
measures are not meaningful for them; use ``unigram_js`` with a subword tokenizer instead.

Stop lists are package data (``stopwords/<code>.txt``, the Snowball lists, BSD-3-Clause): da, de,
en, es, fi, fr, hu, id, it, nl, no (also nb, nn), pt, ru, sv. ``lang`` is an ISO 639-1 code; a region
or script suffix is ignored (``en-US`` -> ``en``). For any other language no stop word is removed,
and that is logged once per language.
"""

from __future__ import annotations

import functools
import logging
import re
import unicodedata
from importlib import resources

log = logging.getLogger(__name__)

WORD = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)*")
_APOSTROPHES = str.maketrans({"\u2019": "'", "\u02bc": "'", "\u2018": "'"})
_ALIASES = {"nb": "no", "nn": "no"}


def word_tokens(text: str) -> list[str]:
    """The lower-cased words of ``text`` (see the module docstring for the exact rule)."""
    return WORD.findall(unicodedata.normalize("NFC", text).lower().translate(_APOSTROPHES))


def language_code(lang: str) -> str:
    """``lang`` reduced to the two-letter code the stop lists are named by."""
    code = re.split(r"[-_]", (lang or "").strip().lower(), maxsplit=1)[0]
    return _ALIASES.get(code, code)


def available_languages() -> list[str]:
    """Codes with a shipped stop list."""
    folder = resources.files(__package__).joinpath("stopwords")
    return sorted(p.name[:-4] for p in folder.iterdir() if p.name.endswith(".txt") and len(p.name) == 6)


def stopwords(lang: str) -> frozenset[str]:
    """The stop words of ``lang``; empty (logged once per language) when none are shipped."""
    return _stopwords_of_code(language_code(lang))


@functools.lru_cache(maxsize=None)
def _stopwords_of_code(code: str) -> frozenset[str]:
    path = resources.files(__package__).joinpath("stopwords", f"{code}.txt")
    if not code.isalpha() or not path.is_file():
        log.warning("no stop word list for language %r (shipped: %s): content words keep every word",
                    code, ", ".join(available_languages()))
        return frozenset()
    lines = path.read_text(encoding="utf-8").splitlines()
    return frozenset(line.strip() for line in lines if line.strip() and not line.startswith("#"))


def content_words(text: str, lang: str) -> list[str]:
    """The content words of ``text``, in order (see the module docstring)."""
    stop = stopwords(lang)
    kept = []
    for word in word_tokens(text):
        if word in stop:
            continue
        pieces = word.split("'") if "'" in word else (word,)
        kept.extend(piece for piece in pieces if len(piece) > 1 and piece not in stop)
    return kept
