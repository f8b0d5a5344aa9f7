"""Windows' start/end logits -> one answer per example -> exact match and F1.

Post-processing follows ``transformers``' ``run_qa.py`` (``postprocess_qa_predictions``): in each
window, the ``n_best`` highest start logits and the ``n_best`` highest end logits; every pair whose
tokens are both in the context, with end >= start and at most ``max_answer_length`` tokens, is a
candidate scored start logit + end logit; the answer is the best candidate over all windows of the
example, cut from the context by the tokens' character offsets and stripped of surrounding
whitespace ("" if no window has a candidate).
One difference: the n-best are taken among the context tokens only (the script takes them over all
tokens, then discards the question, special and padding tokens), so a window never has fewer
candidates than it could and the result does not depend on how much a batch was padded; it can only
find a pair the script's candidates would also have ranked first, or a better one the script missed.

``SpanMetric`` is a torchmetrics ``Metric``: per window it keeps the n-best start and end (logit,
token, character offset) and its example's row, all fixed-size tensors in list states concatenated
across processes (``dist_reduce_fx="cat"``), so under DDP every process sees every window at
``compute()``. Examples no window of which was evaluated (``limit_val_batches``) are left out, as
``ItemMetric`` leaves out unseen items.
"""

from __future__ import annotations

import torch
from torchmetrics import Metric

from itt.errors import DataError
from itt.tasks.extractive_qa.scoring import best_scores, gold_item, normalizer

_STATES = ("example", "start_logit", "start_token", "start_char", "end_logit", "end_token", "end_char")


class SpanMetric(Metric):
    full_state_update = False

    def __init__(self, rows, n_best: int = 20, max_answer_length: int = 30, style: str = "squad", lang: str = "en"):
        super().__init__()
        self.n_best, self.max_answer_length = n_best, max_answer_length
        self.style, self.lang, self.normalize = style, lang, normalizer(style, lang)
        rows = rows if rows is not None else {"id": [], "context": [], "answers": []}
        self.contexts = list(rows["context"])
        self.golds = [list(a["text"]) for a in rows["answers"]]
        self.position: dict[str, int] = {}
        for i, row_id in enumerate(rows["id"]):
            if self.position.setdefault(str(row_id), i) != i:
                raise DataError(f"extractive_qa: two evaluation rows share the id {row_id!r} (rows "
                                f"{self.position[str(row_id)]} and {i}); every question needs its own id")
        for name in _STATES:
            self.add_state(name, default=[], dist_reduce_fx="cat")

    def update(self, outputs, batch) -> None:
        meta = batch["meta"]
        try:
            example = torch.tensor([self.position[i] for i in meta["example_id"]], dtype=torch.long)
        except KeyError as exc:
            raise DataError(f"extractive_qa: a window's example id {exc.args[0]!r} is not among the evaluation rows") from exc
        self.example.append(example.to(outputs.start_logits.device))
        for side, logits, chars in (("start", outputs.start_logits, meta["offset_start"]),
                                    ("end", outputs.end_logits, meta["offset_end"])):
            logit, token, char = top_in_context(logits.detach().float(), chars, self.n_best)
            getattr(self, f"{side}_logit").append(logit)
            getattr(self, f"{side}_token").append(token)
            getattr(self, f"{side}_char").append(char)

    def _answers(self) -> dict[int, str]:
        """Row position -> predicted answer text, for every example with an evaluated window."""
        state = {name: _cat(getattr(self, name)) for name in _STATES}
        if not len(state["example"]):
            return {}
        score, first, last = best_spans(state, self.max_answer_length)
        best: dict[int, tuple[float, int, int]] = {}
        for e, s, a, b in zip(state["example"].tolist(), score.tolist(), first.tolist(), last.tolist()):
            if e not in best or s > best[e][0]:
                best[e] = (s, a, b)
        # Stripped: some tokenizers' offsets include the space before a word (SentencePiece's "▁").
        return {e: (self.contexts[e][a:b].strip() if s > float("-inf") else "") for e, (s, a, b) in best.items()}

    def compute(self) -> dict[str, torch.Tensor]:
        answers = self._answers()
        scores = [best_scores(text, self.golds[e], self.normalize) for e, text in answers.items()]
        n = max(len(scores), 1)
        return {"em": torch.tensor(sum(s[0] for s in scores) / n), "f1": torch.tensor(sum(s[1] for s in scores) / n)}

    def items(self) -> list[dict]:
        """One ``{"pred": answer text, "gold": {"text": [...], "normalization": ...}}`` per example, in row order."""
        with self.sync_context():
            answers = self._answers()
        return [{"pred": answers[e], "gold": gold_item(self.golds[e], self.style, self.lang)} for e in sorted(answers)]


def top_in_context(logits: torch.Tensor, chars: torch.Tensor, n_best: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The ``n_best`` highest logits per window among its context tokens (``chars`` >= 0): (logits,
    token indices, character offsets), each [windows, n_best]; missing ones have logit -inf, char -1."""
    chars = chars.to(logits.device)
    masked = logits.masked_fill(chars < 0, float("-inf"))
    k = min(n_best, masked.shape[1])
    logit, token = masked.topk(k, dim=1)
    char = chars.gather(1, token).masked_fill(logit == float("-inf"), -1)
    if k < n_best:  # a batch narrower than n_best: pad, so every update has the same width
        pad = n_best - k
        logit = torch.nn.functional.pad(logit, (0, pad), value=float("-inf"))
        token = torch.nn.functional.pad(token, (0, pad), value=0)
        char = torch.nn.functional.pad(char, (0, pad), value=-1)
    return logit, token, char


def best_spans(state: dict[str, torch.Tensor], max_answer_length: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Per window: the best valid (start, end) pair's score (-inf if none) and its character span."""
    score = state["start_logit"][:, :, None] + state["end_logit"][:, None, :]
    length = state["end_token"][:, None, :] - state["start_token"][:, :, None] + 1
    valid = ((state["start_char"][:, :, None] >= 0) & (state["end_char"][:, None, :] >= 0)
             & (length >= 1) & (length <= max_answer_length))
    score = score.masked_fill(~valid, float("-inf")).flatten(1)
    best, flat = score.max(dim=1)
    n = state["end_logit"].shape[1]
    first = state["start_char"].gather(1, (flat // n)[:, None]).squeeze(1)
    last = state["end_char"].gather(1, (flat % n)[:, None]).squeeze(1)
    return best, first, last


def _cat(state) -> torch.Tensor:
    # A list before any sync, one tensor after torchmetrics concatenated the processes' lists.
    if isinstance(state, list):
        return torch.cat(state) if state else torch.zeros(0)
    return state
