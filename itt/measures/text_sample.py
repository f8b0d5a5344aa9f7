"""The texts a measure compares, and the seeded subsample they are drawn by.

A ``TextSample`` computes its token ids and embeddings at most once, on first use, so that running
every measure on one pair tokenises and embeds each side once. Two samples that are compared must
share one ``tokenize`` (and one ``embed``) callable: counts under two vocabularies, or vectors from
two encoders, are not comparable, and the measures refuse them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

import numpy as np

from itt.errors import ConfigError, DataError

log = logging.getLogger(__name__)

Tokenize = Callable[[list[str]], list[list[int]]]
Embed = Callable[[list[str]], np.ndarray]


def sample(texts: Sequence[str], n: int | None, seed: int) -> list[str]:
    """``n`` texts drawn without replacement: the first ``n`` indices of a permutation seeded by
    ``seed`` (numpy's PCG64), returned in their original order. ``n=None`` or ``n >= len(texts)``
    returns every text (logged when ``n`` asked for more than there are)."""
    if n is not None and n < 1:
        raise ConfigError(f"sample size n={n} must be a positive integer (or null for every text)")
    if n is None or n >= len(texts):
        if n is not None and n > len(texts):
            log.info("sample size n=%d > %d texts: using every text", n, len(texts))
        return list(texts)
    chosen = np.sort(np.random.default_rng(seed).permutation(len(texts))[:n])
    return [texts[i] for i in chosen]


class TextSample:
    """``texts`` in language ``lang`` (an ISO 639-1 code, e.g. ``"en"``), with lazily computed,
    cached ``token_ids`` (from ``tokenize``) and ``embeddings`` (from ``embed``)."""

    def __init__(self, texts: Sequence[str], lang: str, tokenize: Tokenize | None = None,
                 embed: Embed | None = None) -> None:
        if isinstance(texts, str) or not all(isinstance(t, str) for t in texts):
            raise DataError("TextSample texts must be a list of strings")
        if not texts:
            raise DataError("TextSample texts is empty: a measure needs at least one text per side")
        self.texts = list(texts)
        self.lang = lang
        self.tokenize = tokenize
        self.embed = embed
        self._token_ids: list[list[int]] | None = None
        self._embeddings: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.texts)

    @property
    def token_ids(self) -> list[list[int]]:
        """One list of token ids per text, from ``tokenize(texts)`` (called once)."""
        if self._token_ids is None:
            if self.tokenize is None:
                raise ConfigError("this measure needs token ids: pass tokenize=<callable list[str] -> "
                                  "list[list[int]]> to TextSample (e.g. itt.measures.hf_tokenize(tokenizer))")
            ids = self.tokenize(self.texts)
            if len(ids) != len(self.texts):
                raise DataError(f"tokenize returned {len(ids)} id lists for {len(self.texts)} texts")
            self._token_ids = [list(map(int, row)) for row in ids]
        return self._token_ids

    @property
    def embeddings(self) -> np.ndarray:
        """A float64 array (n_texts, dim), from ``embed(texts)`` (called once)."""
        if self._embeddings is None:
            if self.embed is None:
                raise ConfigError("this measure needs embeddings: pass embed=<callable list[str] -> array (n, d)> "
                                  "to TextSample (e.g. itt.measures.mean_pooled_embedder(model, tokenizer, ...))")
            vectors = np.asarray(self.embed(self.texts), dtype=np.float64)
            if vectors.ndim != 2 or vectors.shape[0] != len(self.texts):
                raise DataError(f"embed returned an array of shape {vectors.shape}; "
                                f"expected ({len(self.texts)}, dim), one row per text")
            if not np.isfinite(vectors).all():
                raise DataError("embed returned non-finite values (nan or inf)")
            self._embeddings = vectors
        return self._embeddings


def shared_tokenize(a: TextSample, b: TextSample) -> None:
    """Refuse two samples tokenised by different callables (their ids are not one vocabulary)."""
    if a.tokenize is not None and b.tokenize is not None and a.tokenize is not b.tokenize:
        raise ConfigError("the two TextSamples have different tokenize callables; "
                          "token-id measures need one tokenizer for both sides")


def paired_embeddings(a: TextSample, b: TextSample) -> tuple[np.ndarray, np.ndarray]:
    """Both samples' embeddings, checked to come from one ``embed`` callable and to share a width."""
    if a.embed is not None and b.embed is not None and a.embed is not b.embed:
        raise ConfigError("the two TextSamples have different embed callables; "
                          "embedding measures need one encoder for both sides")
    x, y = a.embeddings, b.embeddings
    if x.shape[1] != y.shape[1]:
        raise DataError(f"embedding widths differ: {x.shape[1]} vs {y.shape[1]}")
    return x, y
