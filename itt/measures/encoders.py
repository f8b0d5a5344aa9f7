"""``tokenize`` and ``embed`` callables for Hugging Face tokenizers and encoders.

torch and transformers are imported inside the functions that need them, so that the word- and
token-count measures import without torch.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from itt.errors import ConfigError


def hf_tokenize(tokenizer) -> Callable[[list[str]], list[list[int]]]:
    """A ``tokenize`` callable: the tokenizer's ids of each text WITHOUT special tokens
    (``add_special_tokens=False``: no [CLS]/[SEP]/<s>/</s>), untruncated, for ``unigram_js``."""

    def tokenize(texts: list[str]) -> list[list[int]]:
        return tokenizer(list(texts), add_special_tokens=False, truncation=False)["input_ids"]

    return tokenize


def mean_pooled_embedder(model, tokenizer, batch_size: int = 32, max_length: int = 256,
                         device: str = "cpu", prefix: str = "") -> Callable[[list[str]], np.ndarray]:
    """An ``embed`` callable for a Hugging Face encoder (e.g. ``AutoModel``: its output must have
    ``last_hidden_state``; pass ``model.base_model`` for a model with a task head).

    Each text, after ``prefix`` (the input prefix an encoder's model card asks for, e.g. E5's ``"query: "``;
    its tokens are pooled too, as that card's mean pooling does), is tokenised with the tokenizer's special
    tokens, truncated to ``max_length`` tokens, in batches of ``batch_size`` padded to the batch's longest
    text. Its embedding is the attention-mask-weighted mean of the last hidden state, Σ_t m_t h_t / Σ_t m_t
    (special tokens included, padding excluded), as sentence-transformers' mean pooling. The model runs in eval mode
    (no dropout) under ``torch.inference_mode()`` and is put back in its previous mode afterwards.
    Returns a float32 array (n_texts, hidden_size).
    """
    import torch  # noqa: PLC0415 (lazy: the other measures must import without torch)

    if batch_size < 1 or max_length < 1:
        raise ConfigError(f"mean_pooled_embedder batch_size={batch_size}, max_length={max_length}: both must be >= 1")
    model.to(device)

    def embed(texts: list[str]) -> np.ndarray:
        was_training = model.training
        model.eval()
        pooled = []
        try:
            with torch.inference_mode():
                for start in range(0, len(texts), batch_size):
                    chunk = [prefix + t for t in texts[start:start + batch_size]]
                    batch = tokenizer(chunk, padding=True, truncation=True, max_length=max_length,
                                      return_tensors="pt").to(device)
                    hidden = model(**batch).last_hidden_state
                    mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
                    pooled.append((hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1.0))
        finally:
            model.train(was_training)
        if not pooled:
            return np.zeros((0, model.config.hidden_size), dtype=np.float32)
        return torch.cat(pooled).float().cpu().numpy()

    return embed
