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
grouped batches of 32 x ~22 tokens, 247 ms per step; operator self time): matrix products 29.5 %,
autocast's dtype casts 15.7 % (a third of it the weights: each cast to bf16 once per forward, its
gradient back to float32), torch's dropout masks 13.6 % (serial Mersenne-Twister draws), other 10.5 %,
fused AdamW 7.9 %, elementwise ops 7.7 %, GELU 3.6 %, LayerNorm 2.5 %, allocation 2.5 %, SDPA attention
2.3 %, clipping norm 2.0 %, reductions 1.8 %. The matrix products run at 805 GFLOP/s, 33 % of this CPU's
bf16 peak (2,418 GFLOP/s for a 2048x2048 ``torch.mm`` in the same process): the step is too small to be
bound by them, and the HF Trainer runs the same operators (``itt/bench/NOTES.md``).

On a 2-core AMD EPYC with avx512_bf16 but no AMX (same command, 307 ms per step): matrix products 54.5 %
at 334 GFLOP/s, 81 % of its bf16 peak (415 GFLOP/s), torch's dropout masks 12.1 %, other 7.8 %, casts
6.9 %, fused AdamW 5.6 %, elementwise 4.0 %, GELU 2.5 %, the rest under 2 % each: there the step is bound
by the matrix products both sides share. With torch's masks drawn by ``model.compiled_bernoulli`` (the
default since; same masks bit for bit), 312 ms per step on a busier day: matrix products 60.9 % at 295
GFLOP/s (72 % of peak), other 8.8 %, casts 7.7 %, fused AdamW 5.9 %, elementwise 4.4 %, GELU 2.7 %, dropout
2.3 %, the rest under 2.1 % each. The HF Trainer still draws its masks with torch's serial kernel.
"""
