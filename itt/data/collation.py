"""Dynamic padding: batches of encoded features as tensors, padded to a multiple of ``pad_multiple``.

The same batches as ``transformers``' ``DataCollatorWithPadding`` (tested against it) in a fraction of
the time: one numpy array per column instead of ``tokenizer.pad``'s per-row Python (4-6 ms per batch
of 32, 5-10 % of a tiny model's step). Token columns are padded with the tokenizer's pad values (on
the tokenizer's padding side); other list-valued columns (token-level labels) are padded with -100,
the index ``transformers``' losses ignore; scalar columns (``labels``, ``idx``, ``task``, QA start and
end positions) are stacked.
"""

from __future__ import annotations

import numpy as np
import torch

TOKEN_COLUMNS = ("input_ids", "attention_mask", "token_type_ids")
IGNORE_INDEX = -100


class PaddingCollator:
    def __init__(self, tokenizer, pad_multiple: int | None, label_dtype: torch.dtype = torch.long):
        self.multiple = pad_multiple or 1
        self.left = tokenizer.padding_side == "left"
        pad_id = tokenizer.pad_token_id
        if pad_id is None:
            raise ValueError(f"tokenizer {tokenizer.name_or_path!r} has no pad token; set one before batching")
        self.pad = {"input_ids": pad_id, "attention_mask": 0, "token_type_ids": tokenizer.pad_token_type_id}
        self.label_dtype = label_dtype

    def __call__(self, features: list[dict]) -> dict[str, torch.Tensor]:
        lengths = [len(f["input_ids"]) for f in features]
        width = -(-max(lengths) // self.multiple) * self.multiple
        batch = {}
        for key in features[0]:
            first = features[0][key]
            if key in TOKEN_COLUMNS:
                batch[key] = self._padded([f[key] for f in features], lengths, width, self.pad[key])
            elif isinstance(first, (list, tuple)):  # token-level labels: aligned with input_ids
                batch[key] = self._padded([f[key] for f in features], lengths, width, IGNORE_INDEX)
            else:
                batch[key] = torch.tensor([f[key] for f in features])
        if "labels" in batch:
            batch["labels"] = batch["labels"].to(self.label_dtype)
        return batch

    def _padded(self, rows: list, lengths: list[int], width: int, value: int) -> torch.Tensor:
        array = np.full((len(rows), width), value, dtype=np.int64)
        for i, (row, n) in enumerate(zip(rows, lengths)):
            if self.left:
                array[i, width - n:] = row
            else:
                array[i, :n] = row
        return torch.from_numpy(array)
