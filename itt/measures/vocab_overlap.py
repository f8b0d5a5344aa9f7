"""Vocabulary overlap of the top-k content words (Gururangan et al. 2020, "Don't Stop Pretraining:
Adapt Language Models to Domains and Tasks", ACL, §3.1 and figure 2: overlap of the 10K most
frequent words, stop words excluded, between domain samples).

What is computed: for each sample, count the content words of all its texts (lower-cased word
tokens minus the stop words of the sample's ``lang``; exact rule in ``content_words``). ``top_k`` is
the ``k`` most frequent content words; ties in frequency are broken alphabetically, so the set is
deterministic. The value is

    |top_k(A) ∩ top_k(B)| / min(|top_k(A)|, |top_k(B)|)

which is the paper's ``/ k`` whenever both samples have at least ``k`` distinct content words. When
one has fewer, its top-k list is all of its words, and the denominator is the shorter list's length
(logged), so the value stays in [0, 1] and is 1 exactly when one list contains the other (identical
samples give 1 at any size). The value is a SIMILARITY: 1 = same top words, 0 = none shared.

Each sample's stop words follow its own ``lang``: compare samples of one language, or expect a
value near 0 across languages.
"""

from __future__ import annotations

import logging
from collections import Counter

from itt.errors import ConfigError, DataError
from itt.measures.content_words import content_words
from itt.measures.registry import register
from itt.measures.text_sample import TextSample

log = logging.getLogger(__name__)


def top_k_words(sample: TextSample, k: int) -> list[str]:
    """The ``k`` most frequent content words of ``sample``, most frequent first (ties alphabetical)."""
    counts = Counter(word for text in sample.texts for word in content_words(text, sample.lang))
    return sorted(counts, key=lambda word: (-counts[word], word))[:k]


@register("vocab_overlap", direction="similarity")
def measure(a: TextSample, b: TextSample, k: int = 10_000) -> float:
    """Share of the top-``k`` content words the two samples have in common (see the module docstring)."""
    if not isinstance(k, int) or isinstance(k, bool) or k < 1:
        raise ConfigError(f"vocab_overlap k={k!r} must be a positive integer (the paper uses 10000)")
    top_a, top_b = top_k_words(a, k), top_k_words(b, k)
    for side, sample, top in (("a", a, top_a), ("b", b, top_b)):
        if not top:
            raise DataError(f"vocab_overlap: sample {side} has no content words (lang={sample.lang!r})")
    denominator = min(len(top_a), len(top_b))
    if denominator < k:
        log.info("vocab_overlap: %d and %d distinct content words (< k=%d): dividing by %d",
                 len(top_a), len(top_b), k, denominator)
    return len(set(top_a) & set(top_b)) / denominator
