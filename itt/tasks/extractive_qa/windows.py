"""Question + context -> model features: one per window of the context, as ``transformers``' ``run_qa.py``.

A context longer than the room a window leaves it (``max_length`` minus the question and the special
tokens) is split into overlapping windows (``return_overflowing_tokens``); consecutive windows share
``stride`` tokens. Every feature carries ``start_positions``/``end_positions``: the first gold
answer's first and last token when the window holds the whole answer, else the index of the CLS
token (what the QA models' loss then learns for "not in this window"). Evaluation features also keep
their example's id (``example_id``) and, per token, the character span it covers in the context
(``offset_start``/``offset_end``; -1 for question, special and padding tokens): post-processing
turns token spans back into context text with them.

Two guards keep windows possible whatever ``max_length`` is (the example scripts assume 384):
a question longer than half of ``max_length`` is cut to that many tokens, and the stride of a row is
at most half of its window's context room (each window then moves on by at least half its room);
with the defaults at ``max_length=384`` neither ever applies to SQuAD-like data.
"""

from __future__ import annotations

from itt.errors import ConfigError

NOT_CONTEXT = -1


def encode_windows(batch: dict[str, list], tokenizer, max_length: int, doc_stride: int, training: bool) -> dict[str, list]:
    if not getattr(tokenizer, "is_fast", False):
        raise ConfigError(f"task kind extractive_qa needs a fast tokenizer (offset mappings); "
                          f"{type(tokenizer).__name__} of {tokenizer.name_or_path!r} is not one")
    context_first = tokenizer.padding_side == "left"  # XLNet-style: context first, so padding never splits it
    questions, q_lengths = _capped_questions(batch["question"], tokenizer, max_length // 2)
    specials = tokenizer.num_special_tokens_to_add(pair=True)
    strides = [min(doc_stride, max(max_length - n - specials, 0) // 2) for n in q_lengths]
    features: list[tuple[int, int, dict]] = []  # (row, window, feature): back in row order at the end
    for stride in sorted(set(strides)):
        rows = [i for i, s in enumerate(strides) if s == stride]
        contexts = [batch["context"][i] for i in rows]
        asked = [questions[i] for i in rows]
        pair = (contexts, asked) if context_first else (asked, contexts)
        encoded = tokenizer(*pair, truncation="only_first" if context_first else "only_second", max_length=max_length,
                            stride=stride, return_overflowing_tokens=True, return_offsets_mapping=True, padding=False)
        windows: dict[int, int] = {}
        for f, local_row in enumerate(encoded["overflow_to_sample_mapping"]):
            row = rows[local_row]
            window = windows.get(row, 0)
            windows[row] = window + 1
            features.append((row, window, _feature(encoded, f, batch, row, tokenizer, 0 if context_first else 1, training)))
    features.sort(key=lambda t: (t[0], t[1]))
    columns = features[0][2] if features else {}
    return {key: [feature[key] for _, _, feature in features] for key in columns}


def _capped_questions(questions: list[str], tokenizer, cap: int) -> tuple[list[str], list[int]]:
    """Questions without leading whitespace (it would only cost tokens), cut to at most ``cap`` tokens,
    and their token counts."""
    questions = [str(q).lstrip() for q in questions]
    encoded = tokenizer(questions, add_special_tokens=False, return_offsets_mapping=True)
    lengths = []
    for i, offsets in enumerate(encoded["offset_mapping"]):
        if len(offsets) > cap:
            questions[i] = questions[i][:offsets[cap - 1][1]]
        lengths.append(min(len(offsets), cap))
    return questions, lengths


def _feature(encoded, f: int, batch: dict, row: int, tokenizer, context_id: int, training: bool) -> dict:
    ids = encoded["input_ids"][f]
    feature = {key: encoded[key][f] for key in ("input_ids", "attention_mask", "token_type_ids") if key in encoded}
    feature["length"] = len(ids)
    sequence = encoded.sequence_ids(f)
    offsets = encoded["offset_mapping"][f]
    context = [t for t, s in enumerate(sequence) if s == context_id]
    cls = ids.index(tokenizer.cls_token_id) if tokenizer.cls_token_id in ids else 0
    answers = batch["answers"][row]
    start = end = cls
    if context and answers["text"]:
        first_char = answers["answer_start"][0]
        last_char = first_char + len(answers["text"][0])
        first, last = context[0], context[-1]
        if offsets[first][0] <= first_char and offsets[last][1] >= last_char:  # the whole answer is in this window
            start = first
            while start <= last and offsets[start][0] <= first_char:
                start += 1
            start -= 1
            end = last
            while end >= first and offsets[end][1] >= last_char:
                end -= 1
            end += 1
    feature["start_positions"], feature["end_positions"] = start, end
    if not training:
        in_context = set(context)
        feature["example_id"] = str(batch["id"][row])
        feature["offset_start"] = [offsets[t][0] if t in in_context else NOT_CONTEXT for t in range(len(ids))]
        feature["offset_end"] = [offsets[t][1] if t in in_context else NOT_CONTEXT for t in range(len(ids))]
    return feature
