"""Retrieval of translations (Tatoeba-style): how well an encoder aligns sentences across languages.

Evaluation only (``trainable = False``): a retrieval set is an eval set (``task.evals.<name>`` with
``kind: retrieval``) of any run, whatever that run trains, so the encoder of every intermediate step
and every target can be scored (``intermediate.evals=[tatoeba_de]``). Nothing is trained for it: the
run's encoder (``model.base_model``, the network without its task head) embeds both sides.

Canonical columns: ``text`` (the source sentence) and ``text_pair`` (its translation), from the spec's
two ``text_fields``; surrounding whitespace is stripped (``google/xtreme``'s Tatoeba keeps each line's
newline). Row i's source is the right candidate for row i's translation.

Embeddings: the mean of the chosen layer's hidden states over the real tokens (attention-mask
weighted), in fp32; option ``layer`` (the spec's ``options: {layer: 8}``, or ``task.options`` when the
task's own kind is retrieval): null = the last layer, an int from 0 (the embedding layer) to the model's
number of layers indexes ``hidden_states`` (``check_layer``: its type when the Task is made, its range
against the model's config before a run trains, ``itt.pipeline.check_positions``). XTREME pooled a middle layer instead (``scripts/run_tatoeba.sh``: ``--specific_layer``
7 of the last 12 hidden states of 12-layer models, 13 of the last 24 of XLM-R large), i.e. ``layer: 8``
and ``layer: 14`` here.

Metrics, over the whole validation or test split:

* ``acc``: share of translations (``text_pair``) whose cosine nearest neighbour among all sources
  (``text``) is their own source (ties go to the lower index). That is XTREME's Tatoeba direction:
  ``third_party/evaluate_retrieval.py`` indexes the source-language sentences and searches the index
  with each English one (``similarity_search(x=src, y=tgt)``: ``idx.add(x)``, ``idx.search(y, 1)``),
  and google/xtreme's Tatoeba rows put the English sentence in ``target_sentence`` (``text_pair``);
* ``bucc_f1``: BUCC-style mining F1. Each source is paired with its best candidate by the ratio margin
  of Artetxe & Schwenk (2019), ``cos(x, y) / (mean cos of x's k nearest + mean cos of y's k nearest) * 2``
  with k = 4 (``MARGIN_K``); pairs are kept above a score threshold, and the F1 of the kept pairs against
  the gold pairs (one per source) is reported. BUCC tunes that threshold on separate data with gold pairs
  (XTREME's ``third_party/utils_retrieve.py`` ``bucc_optimize``: the midpoint between the score of the
  best F1 and the next lower score, chosen on dev, applied on test); a retrieval set has one split to
  score, so the threshold is cross-fitted inside it (``cross_fitted_f1``): the sources are split by
  index parity, the threshold chosen on the even ones (XTREME's rule) keeps or drops the odd ones and
  the other way round, and the kept and correct pairs of both halves make one F1 against all gold pairs.
  A threshold never splits tied scores. A half without a correct pair gives no cut: it keeps every pair
  of the other half (mining without a threshold). Under 4 pairs (``MIN_CROSS_FIT``) one half has at most
  one pair to tune on, so every pair is kept (F1 = share of sources mined to their own translation).
  ``best_threshold_f1`` gives the oracle instead (the best threshold on the very pairs it scores:
  optimistic, the more so on small sets; Tatoeba jv has 205 pairs).

Per-item predictions (for the report's bootstrap): ``pred`` = index of the source nearest to the
item's translation, ``gold`` = the item's own index, so the bootstrap's ``acc`` scorer gives back ``acc``.

``evaluate(folder_or_model, sources, translations)`` scores a saved model folder (a ledger row's
``checkpoint``) or a loaded model directly, without a run.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torchmetrics import Metric

from itt.data.collation import TOKEN_COLUMNS, PaddingCollator
from itt.errors import ConfigError, DataError
from itt.tasks.base import Task, require_columns
from itt.tasks.text_inputs import text_columns

PAIR = "pair_"  # prefix of the translation side's token columns in features and batches
MARGIN_K = 4  # neighbours in the margin score (Artetxe & Schwenk 2019; LASER's and XTREME's BUCC setting)
BLOCK = 2048  # similarity rows computed at once: memory stays O(BLOCK x n) for large sets
MIN_CROSS_FIT = 4  # fewer pairs: one half has at most one pair to tune a threshold on, so all are kept


class Retrieval(Task):
    kind = "retrieval"
    metric_names = ("acc", "bucc_f1")
    trainable = False
    option_defaults = {"layer": None}

    def __init__(self, primary_metric=None, options=None, spec=None):
        super().__init__(primary_metric, options, spec)
        where = f"options.layer of dataset {spec.path}" if spec is not None else "task.options.layer"
        check_layer(self.options["layer"], where)

    def canonical_batch(self, batch, rows, raw):
        spec = raw.spec
        if len(spec.text_fields) != 2:
            raise DataError(f"{raw.where}: a retrieval set needs two text_fields (source, translation), got {list(spec.text_fields)}")
        require_columns(batch, spec.text_fields, raw.where)
        texts, positions = text_columns(batch, spec.text_fields, raw)
        return {name: [t.strip() for t in column] for name, column in texts.items()}, positions

    def encode(self, batch, tokenizer, max_length, training):
        source = tokenizer(batch["text"], truncation=True, max_length=max_length)
        translation = tokenizer(batch["text_pair"], truncation=True, max_length=max_length)
        out = {**source, **{PAIR + k: v for k, v in translation.items()}}
        # Evaluation batches are sorted by length: the longer side decides the padded width.
        out["length"] = [max(len(a), len(b)) for a, b in zip(source["input_ids"], translation["input_ids"])]
        return dict(out)

    def collator(self, tokenizer, pad_multiple):
        return PairCollator(tokenizer, pad_multiple)

    def auto_model(self):
        raise ConfigError("kind retrieval is evaluation only: use it as an eval set (task.evals.<name> with kind: retrieval), "
                          "not as a dataset a run trains on")

    def label_space(self, labels):
        return (self.kind,)

    def row_text(self, row):
        """The source sentence only: the eval set's own language (Tatoeba's <lang> side), as divergence measures
        read a set. With its translation, English in every Tatoeba language, each read half English (an English
        intermediate's vocabulary overlap with tatoeba_de 0.93, with XNLI de 0.25)."""
        return str(row.get("text") or "")

    def item_text(self, row):
        """An item is the pair, as before ``row_text`` kept one side (keys made before stay valid)."""
        return Task.row_text(self, row)

    def forward(self, model, batch):
        encoder = getattr(model, "base_model", model)
        layer = self.options["layer"]
        source = embed_batch(encoder, {k: batch[k] for k in TOKEN_COLUMNS if k in batch}, layer)
        translation = embed_batch(encoder, {k: batch[PAIR + k] for k in TOKEN_COLUMNS if PAIR + k in batch}, layer)
        return Embeddings(source, translation)

    def evaluator(self, labels, rows=None):
        return RetrievalMetric()


class Embeddings(NamedTuple):
    source: torch.Tensor  # (batch, hidden), fp32
    translation: torch.Tensor
    loss: None = None  # no loss to log: nothing is trained on retrieval


class PairCollator:
    """Pads the source and the translation side separately (each to its own longest row)."""

    def __init__(self, tokenizer, pad_multiple: int | None):
        self.pad = PaddingCollator(tokenizer, pad_multiple)

    def __call__(self, features: list[dict]) -> dict[str, torch.Tensor]:
        source = [{k: v for k, v in f.items() if not k.startswith(PAIR)} for f in features]
        translation = [{k[len(PAIR):]: v for k, v in f.items() if k.startswith(PAIR)} for f in features]
        return {**self.pad(source), **{PAIR + k: v for k, v in self.pad(translation).items()}}


def check_layer(layer, key: str, layers: int | None = None) -> None:
    """``layer`` (option ``layer``, named ``key`` in errors) as a hidden state to pool: null, or an int from 0 to
    ``layers`` (the model's ``num_hidden_layers``, when known). ``hidden_states[layer]`` would take ``true`` for
    layer 1 and a negative int as a layer counted from the end, and a layer past the model's would raise an
    IndexError at the first retrieval batch, which for a test-only set comes after the whole fit."""
    upper = layers if layers is not None else "the model's number of layers"
    valid = f"null (the last layer) or an int from 0 (the embedding layer) to {upper}"
    if layer is None:
        return
    if isinstance(layer, bool) or not isinstance(layer, int) or layer < 0:
        raise ConfigError(f"{key}={layer!r} names no hidden layer; valid: {valid}")
    if layers is not None and layer > layers:
        raise ConfigError(f"{key}={layer}: the model has {layers} layers; valid: {valid}")


def mean_pool(hidden: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """Mean of ``hidden`` (batch, tokens, dim) over the tokens whose mask is 1, in fp32."""
    mask = attention_mask.unsqueeze(-1).float()
    return (hidden.float() * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1.0)


def embed_batch(encoder, inputs: dict, layer: int | None = None) -> torch.Tensor:
    """Mean-pooled sentence embeddings of one tokenised batch (``layer``: None = the last)."""
    out = encoder(**inputs, output_hidden_states=layer is not None)
    hidden = out.last_hidden_state if layer is None else out.hidden_states[layer]
    return mean_pool(hidden, inputs["attention_mask"])


# -- scoring ------------------------------------------------------------------------------------

def _normalised(x: torch.Tensor) -> torch.Tensor:
    return torch.nn.functional.normalize(x.float(), dim=-1)


def _row_blocks(a: torch.Tensor, b: torch.Tensor):
    """(start, cosine similarities of rows start.. of ``a`` with every row of ``b``), block by block."""
    a, b = _normalised(a), _normalised(b)
    for start in range(0, len(a), BLOCK):
        yield start, a[start:start + BLOCK] @ b.T


def nearest_candidates(queries: torch.Tensor, candidates: torch.Tensor) -> torch.Tensor:
    """For each query, the index of its cosine-nearest candidate (the lowest index on ties)."""
    return torch.cat([sim.argmax(dim=1) for _, sim in _row_blocks(queries, candidates)])


def retrieval_accuracy(similarity: torch.Tensor) -> float:
    """Share of rows i whose highest similarity is in column i (``similarity``: queries x candidates)."""
    n = similarity.shape[0]
    return float((similarity.argmax(dim=1) == torch.arange(n)).float().mean()) if n else float("nan")


def _knn_mean(a: torch.Tensor, b: torch.Tensor, k: int) -> torch.Tensor:
    k = min(k, len(b))
    return torch.cat([sim.topk(k, dim=1).values.mean(dim=1) for _, sim in _row_blocks(a, b)])


def margin_pairs(source: torch.Tensor, translation: torch.Tensor, k: int = MARGIN_K) -> tuple[torch.Tensor, torch.Tensor]:
    """(best candidate by ratio margin, its margin score) for each source."""
    src_knn, tgt_knn = _knn_mean(source, translation, k), _knn_mean(translation, source, k)
    best, scores = [], []
    for start, sim in _row_blocks(source, translation):
        margin = 2 * sim / (src_knn[start:start + len(sim), None] + tgt_knn[None, :])
        value, index = margin.max(dim=1)
        best.append(index)
        scores.append(value)
    return torch.cat(best), torch.cat(scores)


def _f1_at_cuts(scores: torch.Tensor, correct: torch.Tensor, n_gold: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(lowest kept score, F1) of each threshold on ``scores``, highest first: keeping the pairs scored
    >= t, precision = correct kept / kept, recall = correct kept / ``n_gold``. Tied scores are kept or
    dropped together, so there is one cut per distinct score."""
    order = torch.argsort(scores, descending=True, stable=True)
    sorted_scores = scores[order]
    hits = correct[order].float().cumsum(0)
    kept = torch.arange(1, len(scores) + 1, dtype=torch.float)
    # Only cut where the next score is lower: a threshold cannot split a tie.
    cut = torch.ones(len(scores), dtype=torch.bool)
    cut[:-1] = sorted_scores[:-1] > sorted_scores[1:]
    f1 = 2 * hits / (kept + n_gold)
    return sorted_scores[cut], f1[cut]


def best_threshold_f1(scores: torch.Tensor, correct: torch.Tensor, n_gold: int) -> float:
    """The highest F1 over thresholds on ``scores`` (an oracle: the threshold is tuned on the pairs it scores)."""
    if n_gold == 0 or len(scores) == 0:
        return float("nan")
    return float(_f1_at_cuts(scores, correct, n_gold)[1].max())


def tuned_threshold(scores: torch.Tensor, correct: torch.Tensor) -> float:
    """XTREME's ``bucc_optimize`` on pairs with gold (one gold pair per source): the midpoint between the
    score of the best F1 (the highest such threshold on equal F1) and the next lower score. -inf (keep
    every pair) when the best F1 keeps them all, or when no pair is correct (no F1 above 0 to tune)."""
    if not bool(correct.any()):
        return float("-inf")
    cut_scores, f1 = _f1_at_cuts(scores, correct, len(scores))
    best = int(torch.argmax(f1))  # the first maximum: bucc_optimize moves only on a strictly higher F1
    if best == len(cut_scores) - 1:
        return float("-inf")
    # in float64: the midpoint of two adjacent float32 scores would round onto one of them
    return (float(cut_scores[best]) + float(cut_scores[best + 1])) / 2


def cross_fitted_f1(scores: torch.Tensor, correct: torch.Tensor) -> float:
    """F1 of mined pairs (source i's ``scores[i]``, ``correct[i]``; one gold pair per source) kept by a
    threshold tuned on the other half of the sources (even vs odd index), pooled over both halves."""
    n = len(scores)
    if n == 0:
        return float("nan")
    scores, correct = scores.double().cpu(), correct.cpu()
    kept = torch.ones(n, dtype=torch.bool)
    if n >= MIN_CROSS_FIT:
        even = torch.arange(n) % 2 == 0
        for tune, apply in ((even, ~even), (~even, even)):
            kept[apply] = scores[apply] >= tuned_threshold(scores[tune], correct[tune])
    hits = int((kept & correct).sum())
    return 2 * hits / (int(kept.sum()) + n)


def retrieval_scores(source: torch.Tensor, translation: torch.Tensor) -> dict[str, torch.Tensor]:
    """``acc`` and ``bucc_f1`` of aligned embeddings (row i of each side is one pair)."""
    n = len(source)
    gold = torch.arange(n, device=source.device)  # the embeddings' device: on a GPU, a CPU index would not compare
    acc = (nearest_candidates(translation, source) == gold).float().mean()  # XTREME's direction (module docstring)
    best, scores = margin_pairs(source, translation)
    return {"acc": acc, "bucc_f1": torch.tensor(cross_fitted_f1(scores, best == gold), device=source.device)}


class RetrievalMetric(Metric):
    """Keeps each item's two embeddings (fp32) and scores them once over the whole split."""

    full_state_update = False

    def __init__(self):
        super().__init__()
        for name in ("idx", "source", "translation"):
            self.add_state(name, default=[], dist_reduce_fx="cat")

    def update(self, outputs: Embeddings, batch) -> None:
        self.idx.append(batch["idx"].detach().long())
        self.source.append(outputs.source.detach().float())
        self.translation.append(outputs.translation.detach().float())

    def _ordered(self) -> tuple[torch.Tensor, torch.Tensor]:
        idx, source, translation = (torch.cat(s) if isinstance(s, list) else s
                                    for s in (self.idx, self.source, self.translation))
        order = torch.argsort(idx)
        return source[order], translation[order]

    def compute(self) -> dict[str, torch.Tensor]:
        return retrieval_scores(*self._ordered())

    def items(self) -> list[dict]:
        # Every process's items under DDP (compute() syncs the states only while it runs): process 0 writes them.
        with self.sync_context(should_sync=True):
            source, translation = self._ordered()
            nearest = nearest_candidates(translation, source)
        return [{"pred": int(j), "gold": i} for i, j in enumerate(nearest.tolist())]


# -- without a run -----------------------------------------------------------------------------

@torch.no_grad()
def embed_texts(encoder, tokenizer, texts: list[str], max_length: int = 128, batch_size: int = 64,
                layer: int | None = None) -> torch.Tensor:
    """Mean-pooled embeddings of ``texts`` (fp32, one row per text) from a loaded encoder."""
    collate = PaddingCollator(tokenizer, 1)
    parts = []
    for start in range(0, len(texts), batch_size):
        chunk = [t.strip() for t in texts[start:start + batch_size]]
        encoded = tokenizer(chunk, truncation=True, max_length=max_length)
        batch = collate([{k: encoded[k][i] for k in encoded} for i in range(len(chunk))])
        parts.append(embed_batch(encoder, {k: batch[k].to(encoder.device) for k in TOKEN_COLUMNS if k in batch}, layer).cpu())
    return torch.cat(parts)


def evaluate(model, sources: list[str], translations: list[str], tokenizer=None, max_length: int = 128,
             layer: int | None = None) -> dict[str, float]:
    """``acc`` and ``bucc_f1`` of translation retrieval with ``model``: a saved model folder (a ledger
    row's ``checkpoint``; its encoder is loaded with ``AutoModel``, any task head ignored) or a loaded
    ``transformers`` model (then give ``tokenizer``)."""
    if len(sources) != len(translations):
        raise DataError(f"retrieval: {len(sources)} sources but {len(translations)} translations; row i of each is one pair")
    if isinstance(model, (str, bytes)) or hasattr(model, "__fspath__"):
        from transformers import AutoModel, AutoTokenizer  # noqa: PLC0415

        tokenizer = tokenizer or AutoTokenizer.from_pretrained(str(model))
        model = AutoModel.from_pretrained(str(model))
    if tokenizer is None:
        raise ConfigError("retrieval.evaluate: give tokenizer= with a loaded model (or pass the model's folder)")
    encoder = getattr(model, "base_model", model).eval()
    check_layer(layer, "layer", getattr(encoder.config, "num_hidden_layers", None))
    source = embed_texts(encoder, tokenizer, list(sources), max_length, layer=layer)
    translation = embed_texts(encoder, tokenizer, list(translations), max_length, layer=layer)
    return {name: float(value) for name, value in retrieval_scores(source, translation).items()}
