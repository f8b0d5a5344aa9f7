"""Throughput of itt next to the Hugging Face Trainer and a bare PyTorch loop (``python -m itt.bench``).

Training (default): one process, one model, one data set, one batch size, one precision; contenders
``itt`` (Lightning, as ``itt.pipeline`` builds it), ``hf`` (``transformers.Trainer``, random batches),
``hf_grouped`` (its ``group_by_length``) and ``bare`` (a plain loop over itt's batches). Every contender
starts from the same weights, optimizer settings, clipping, precision, dynamic padding and tokenized
rows, and trains ``warmup + steps`` steps; the timed window is the last ``steps`` (itt's epoch-end
validation subtracted). itt is compared like for like: it runs with the batching of each HF
configuration listed (random batches, its default, against ``hf``; ``data.length_grouping=true`` with
transformers' rule against ``hf_grouped``); ``ratio_vs_hf`` is against the faster HF configuration.
Rounds alternate the contenders (seed + round: split, initialisation, batch order); figures are medians.

``--eval``: evaluation throughput (``itt.bench.evaluation``); ``--profile N``: where a step's time goes
(``itt.bench.profile``); ``--data PATH``: a local dataset instead of the embedded stand-in. The last
line of every mode is ``key=value`` pairs. Measurements and what was tried: ``itt/bench/NOTES.md``.

Where a MiniLM training step goes on the 6,400-row set (``--profile 30``, 2-core CPU, bf16 autocast,
grouped batches of 32 x ~22 tokens, 298 ms per step): matrix products 27 %, autocast's dtype casts 19 %,
torch's dropout masks 11 %, elementwise ops 9 %, fused AdamW 9 %, GELU 3 %, LayerNorm 3 %, SDPA
attention 2 %, clipping norm 2 %, other 10 %. The matrix products run at 728 GFLOP/s, 33 % of this CPU's
bf16 peak (2,221 GFLOP/s for a 2048x2048 ``torch.mm`` in the same process): the step is too small to be
bound by them.
"""
