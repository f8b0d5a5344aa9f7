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


def disjoint_items(keys_a: Sequence[Sequence[str]], keys_b: Sequence[Sequence[str]],
                   seed: int) -> tuple[list[int], list[int]]:
    """The rows each side keeps so that no item is on both sides: (indices into ``keys_a``, into ``keys_b``).

    A row's keys name its item: its text and, for a translation, its shared row id; keys that one row holds
    together name one item. Two samples that hold one item (the same row, or a row and its translation)
    are not independent, and every measure then reads the pair as closer than the two datasets are: MMD's
    cross term pairs a text with its twin, the domain classifier is tested on rows whose twin it was
    trained on with the other label, word overlaps count the same sentences twice. So each item both sides
    hold is dealt to one side, in an order seeded by ``seed``, as many to each side as leaves the two
    sides' rows closest in number. Rows of items only one side holds are all kept."""
    in_b = {k for keys in keys_b for k in keys}
    shared = sorted({k for keys in keys_a for k in keys if k in in_b})
    if not shared:
        return list(range(len(keys_a))), list(range(len(keys_b)))
    parent = {k: k for k in shared}  # union-find: shared keys of one row are one item

    def item(key: str) -> str:
        while parent[key] != key:
            parent[key] = parent[parent[key]]
            key = parent[key]
        return key

    for keys in (*keys_a, *keys_b):
        found = [item(k) for k in keys if k in parent]
        for other in found[1:]:
            parent[item(other)] = item(found[0])
    items_a = [next((item(k) for k in keys if k in parent), None) for keys in keys_a]
    items_b = [next((item(k) for k in keys if k in parent), None) for keys in keys_b]
    only_a, only_b = items_a.count(None), items_b.count(None)
    rows_a, rows_b = len(keys_a) - only_a, len(keys_b) - only_b  # rows of shared items, each side
    # Dealing a share p of the shared items to b leaves a with ~only_a + (1 - p) rows_a rows and b with
    # ~only_b + p rows_b: p makes the two equal, within [0, 1].
    p = min(1.0, max(0.0, (only_a + rows_a - only_b) / (rows_a + rows_b)))
    roots = sorted({item(k) for k in shared})
    order = np.random.default_rng(seed).permutation(len(roots))
    to_b = {roots[i] for i in order[: round(p * len(roots))]}
    keep_a = [i for i, it in enumerate(items_a) if it is None or it not in to_b]
    keep_b = [i for i, it in enumerate(items_b) if it is None or it in to_b]
    return keep_a, keep_b


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
