"""The word-embedding gradient written only where the batch has tokens (``model.sparse_embedding_grad``).

Why: torch's dense embedding backward allocates a new vocabulary x hidden gradient every step, fills it
with zeros and adds the batch's rows into it. For MiniLM that is a 30522 x 384 float32 tensor (47 MB)
for a batch that touches at most a few hundred rows; on this 2-core CPU the zero fill alone took
~14 ms of a ~300 ms step (page faults included: an allocation that large comes fresh from the kernel).

What: the embedding runs with ``sparse=True``, so its backward yields only the touched rows, and this
module keeps one dense gradient tensor for the weight: after each backward it zeroes the rows the
previous step wrote, adds the new rows, and puts the tensor back as ``weight.grad``. The optimizer,
gradient clipping and checkpoints see an ordinary dense gradient with the same values bit for bit
(tested against the dense backward, also with gradient accumulation and ``padding_idx``). AdamW still
updates every row, as it must: momentum moves rows the batch did not touch.

Where: ``apply(model, enabled, device, world_size)`` from ``ITTModule.setup`` (and the bench's bare
loop). CPU, single-process training only: on GPUs zero-filling is nearly free, and DDP handles sparse
gradients its own way.
"""

from __future__ import annotations

import torch
from torch import nn


class DenseRowGradient:
    """Keeps ``embedding.weight.grad`` dense while the embedding's backward is sparse (see module doc)."""

    def __init__(self, embedding: nn.Embedding):
        self.weight = embedding.weight
        self.grad = torch.zeros_like(self.weight)
        self.written: list[torch.Tensor] | None = []  # row indices in self.grad that may be non-zero; None: any
        self.incoming: list[torch.Tensor] | None = []  # rows of the backward in progress; None: dense input
        embedding.sparse = True
        self.weight.register_hook(self._note_rows)
        self.weight.register_post_accumulate_grad_hook(self._keep_dense)

    def touched_rows_norm(self) -> torch.Tensor | None:
        """The 2-norm of ``weight.grad`` read from the rows that can be non-zero only (the others are
        exact zeros): the full norm up to float summation order, without reading the whole vocabulary
        (8 ms of a ~300 ms MiniLM step here). None when every row may be written."""
        if self.weight.grad is not self.grad or self.written is None:
            return None
        if not self.written:
            return self.grad.new_zeros(())
        rows = torch.unique(torch.cat(self.written))
        return torch.linalg.vector_norm(self.grad.index_select(0, rows))

    def _note_rows(self, grad: torch.Tensor) -> torch.Tensor | None:
        # Autograd sums every use of the weight before this hook: a dense gradient here means another
        # use (a tied output layer, say) wrote every row.
        if not grad.is_sparse:
            self.incoming = None
            return None
        rows = grad._indices()[0]
        if self.weight.grad is not None:  # accumulating: sum repeated tokens per row first, in token
            # order, as the dense backward does; adding that rounds exactly as the dense path does
            rows, where = torch.unique(rows, return_inverse=True)
            summed = grad._values().new_zeros((len(rows),) + grad.shape[1:]).index_add_(0, where, grad._values())
            grad = torch.sparse_coo_tensor(rows[None], summed, grad.shape, is_coalesced=True, check_invariants=False)
        if self.incoming is not None:
            self.incoming.append(rows)
        return grad

    def _keep_dense(self, weight: torch.Tensor) -> None:
        incoming, self.incoming = self.incoming, []
        if weight.grad is self.grad:  # autograd added into our tensor in place (gradient accumulation)
            self.written = None if incoming is None or self.written is None else self.written + incoming
            if self.written is not None and len(self.written) > 64:  # zero_grad(set_to_none=False) every
                self.written = [torch.unique(torch.cat(self.written))]  # step: keep the list bounded
            return
        # .grad had been set to None (zero_grad) and autograd stored this backward's gradient as it came
        if self.grad.dtype != weight.dtype or self.grad.device != weight.device:  # the model was converted
            self.grad, self.written = torch.zeros_like(weight), []
        if self.written is None:
            self.grad.zero_()
        elif self.written:
            self.grad.index_fill_(0, torch.cat(self.written), 0)
        self.grad.add_(weight.grad)
        self.written = incoming
        weight.grad = self.grad


def _keeper(weight: torch.Tensor) -> DenseRowGradient | None:
    return getattr(weight, "_itt_row_gradient", None)


def touched_rows_norm(weight: torch.Tensor) -> torch.Tensor | None:
    """``weight.grad``'s 2-norm from its touched rows when ``weight`` has a ``DenseRowGradient``, else None."""
    keeper = _keeper(weight)
    return keeper.touched_rows_norm() if keeper is not None else None


def _input_embedding(model: nn.Module) -> nn.Embedding | None:
    embedding = model.get_input_embeddings() if hasattr(model, "get_input_embeddings") else None
    return embedding if isinstance(embedding, nn.Embedding) else None


def installed(model: nn.Module) -> bool:
    embedding = _input_embedding(model)
    return embedding is not None and _keeper(embedding.weight) is not None


def install(model: nn.Module) -> bool:
    """Make ``model``'s input embedding's backward sparse, with a dense ``.grad`` kept as described.
    Returns whether it was installed now (False: already installed, or no trainable input embedding)."""
    embedding = _input_embedding(model)
    if embedding is None or not embedding.weight.requires_grad or installed(model):
        return False
    # On the weight, where gradient clipping finds it from the optimizer's parameters (touched_rows_norm).
    embedding.weight._itt_row_gradient = DenseRowGradient(embedding)
    return True


def apply(model: nn.Module, enabled: bool, device: torch.device, world_size: int = 1) -> bool:
    """The ``model.sparse_embedding_grad`` setting for a model trained on ``device`` by ``world_size``
    processes: installed for single-process CPU training when enabled. Returns whether it is in place."""
    if not enabled or torch.device(device).type != "cpu" or world_size != 1:
        return False
    install(model)
    return installed(model)
