"""Domain-divergence measures between the texts of two datasets.

Question they serve: does intermediate-task training help less as the intermediate domain moves
away from the target's? Each measure compares two ``TextSample``s and returns one float.

Interface
---------
``sample(texts, n, seed) -> list[str]``
    The deterministic subsample every measure works on: ``n`` texts without replacement, chosen by
    the first ``n`` entries of a permutation seeded by ``seed`` (kept in original order). A sample
    size and a seed make every value reproducible.

``TextSample(texts, lang, tokenize=None, embed=None)``
    ``texts: list[str]``, ``lang`` (ISO 639-1, picks the stop list), and lazily computed, cached
    ``token_ids`` (``tokenize(list[str]) -> list[list[int]]``, e.g. ``hf_tokenize(tokenizer)``) and
    ``embeddings`` (``embed(list[str]) -> np.ndarray (n, d)``, e.g. ``mean_pooled_embedder(...)``):
    running all five measures on a pair tokenises and embeds each side once. Both sides of a pair
    must share the same ``tokenize`` / ``embed`` object (else ``ConfigError``).

``measure(a: TextSample, b: TextSample, **params) -> float``
    One per module, registered by name in ``MEASURES`` with ``@register("name")``:

    =================  ==========  =========================================================  ========
    name               direction   value                                                      range
    =================  ==========  =========================================================  ========
    vocab_overlap      similarity  |top_k(A) ∩ top_k(B)| / min(|top_k(A)|, |top_k(B)|) of      [0, 1]
                                   content words; params ``k=10000`` (the paper's /k when
                                   both have >= k distinct content words)
    unigram_js         divergence  Jensen–Shannon divergence, natural log, of unigram token    [0, ln 2]
                                   distributions, special tokens excluded; ``exclude_ids=()``
    embedding_cosine   divergence  1 − cos(mean embedding of A, mean embedding of B)          [0, 2]
    mmd                divergence  unbiased MMD², RBF kernel, median-heuristic bandwidth on   [≈0, 2]
                                   the pooled sample (can be slightly < 0)
    proxy_a_distance   divergence  2(1 − 2ε), ε = stratified 5-fold held-out balanced error   [0, 2]
                                   of a logistic regression; clipped at 0; ``seed=0, C=1.0``
    =================  ==========  =========================================================  ========

    ``DIRECTION[name]`` says which way each points: "similarity" = larger is closer,
    "divergence" = larger is further apart. Each module's docstring gives the exact computation.

``compute(names, a, b, **params) -> dict[str, float]``
    The named measures (``None``: all). Each receives only the ``params`` its signature declares
    (others are ignored); an unknown measure name, or a parameter that no registered measure takes,
    is a ``ConfigError``.

``measure_pair(a, b, names, **params) -> list[dict]``
    Rows ``{"measure", "value", "direction", "n_a", "n_b", "params"}``, ``params`` holding every
    parameter the value was computed with (defaults included), for the lead's ``measures.jsonl``.

``hf_tokenize(tokenizer)``, ``mean_pooled_embedder(model, tokenizer, batch_size, max_length, device="cpu")``
    Hugging Face adapters (``encoders``); torch/transformers are imported only when called.

Example::

    tok = hf_tokenize(tokenizer); emb = mean_pooled_embedder(encoder, tokenizer, 32, 256)
    a = TextSample(sample(intermediate_texts, 2000, seed=0), "en", tok, emb)
    b = TextSample(sample(target_texts, 2000, seed=0), "en", tok, emb)
    rows = measure_pair(a, b, None, k=10_000, seed=0)
"""

from itt.measures.registry import DIRECTION, MEASURES, compute, measure_pair, parameters, register
from itt.measures.text_sample import TextSample, sample

# Importing each measure module registers it.
from itt.measures import embedding_cosine, mmd, proxy_a_distance, unigram_js, vocab_overlap  # noqa: E402, F401, I001
from itt.measures.encoders import hf_tokenize, mean_pooled_embedder

__all__ = ["DIRECTION", "MEASURES", "TextSample", "compute", "hf_tokenize", "mean_pooled_embedder", "measure_pair",
           "parameters", "register", "sample"]
