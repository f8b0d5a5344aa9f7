"""The intermediate -> target pairs a config names, their texts, and their measures in ``measures.jsonl``.

A target config (``+stage=target``) names one pair per evaluated set: ``a`` = the datasets of the last
intermediate step (what the ITT target starts from; a mixture's members pooled), ``b`` = the target's
own dataset and each of its eval sets (``stage.evals``). Whether the target itself uses ITT does not
matter: ``stage.itt=true,false`` name the same pairs.

Texts come from the project's own data path (``itt.data.preparation.split_rows``: the canonical rows a
run trains on, split as the run splits them): the *training* split of a training dataset, the
validation and test splits of an eval set (it has no training split). One text per row
(``Task.row_text``). An item both sides hold (the same text, or a row and its translation) is measured on
one side only (``text_sample.disjoint_items``): samples that share items are not independent and read
closer than their datasets are. Both sides are subsampled to the same number of rows, ``measure.sample_size`` or
the smaller side's size, with ``measure.seed`` (``itt.measures.sample``): top-k word lists and token
distributions depend on how much text a side has, so unequal sides would bias a pair; token ids come from the run's model's tokenizer and embeddings from its
pretrained encoder (mean-pooled; ``itt.measures.mean_pooled_embedder``), loaded only when a measure
that needs them has to be computed.

Rows (one per pair and measure) follow the schema ``itt.report.divergence`` reads, ``a_key``/``b_key``
being ``itt.rows.dataset_info(...)["key"]`` (a mixture's keys joined by ``+``, as the report keys a
mixture parent), plus ``cache_key``: a digest of both datasets' fingerprints (spec, local content,
split protocol, seed, the task's options when set), the measure and its parameters, the sample size and seed and, for measures that
read tokens or embeddings, the model. A pair whose ``cache_key`` is already in the file is not
recomputed; ``vocab_overlap`` reads words only, so its rows name no model (``model: null``: the report
joins them to every model) and serve every model.

Within one process, a sample's embeddings are computed once and reused by every pair and every job of a
sweep that compares the same texts with the same encoder (``_Model.embed``): the intermediate's sample,
the same for every evaluated set of equal size that shares no item with it, is encoded once rather than
once per pair.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
from omegaconf import DictConfig, OmegaConf

from itt import identity, ledger, rows
from itt.errors import ConfigError, DataError, writing
from itt.measures.registry import DIRECTION, MEASURES, SAMPLING, VERSION, measure_pair, parameters
from itt.measures.text_sample import TextSample, disjoint_items, sample
from itt.schema import TRAINING_SPEED_KEYS
from itt.stages import intermediate_steps, resolve

log = logging.getLogger(__name__)

MEASURES_FILE = "measures.jsonl"
#: Measures whose value does not depend on the model's tokenizer or encoder.
MODEL_FREE = frozenset({"vocab_overlap"})
#: Embeddings kept for reuse, at most (float32: 2000 texts x 1024 dims = 8 MB); least recently used go first.
EMBEDDING_CACHE_BYTES = 256 * 2**20


@dataclass(frozen=True)
class Side:
    """One side of a pair: the datasets pooled into it and how they are named in the report."""

    names: tuple[str, ...]  # task.datasets roles, or one task.evals name
    eval_only: bool  # an eval set: no training split, its validation and test rows are read
    key: str  # dataset key(s) as the ledger writes them, joined by "+"
    lang: str  # the first member's language (its stop list)
    fingerprint: str  # what its rows depend on

    def label(self) -> str:
        return "+".join(self.names)


def _side(cfg: DictConfig, names: tuple[str, ...], eval_only: bool) -> Side:
    group = cfg.task.evals if eval_only else cfg.task.datasets
    nodes = [group[n] for n in names]
    payload = {"datasets": [identity.dataset_payload(cfg, n, node, "evals" if eval_only else "datasets")
                            for n, node in zip(names, nodes)],
               "kinds": [identity.kind_of(cfg, node) for node in nodes], "eval_only": eval_only,
               "split": OmegaConf.to_container(cfg.split, resolve=True), "seed": cfg.seed, "source": cfg.source.name}
    # The task's options reach a dataset of the task's kind and can change its rows (extractive QA's
    # language_from_id drops rows), as they change a run's id; left out when unset, so keys stay as they were.
    task_options = OmegaConf.to_container(cfg.task.options, resolve=True) if cfg.task.get("options") else None
    if task_options and any(kind == cfg.task.kind for kind, _ in payload["kinds"]):
        payload["task_options"] = task_options
    if any(kind == "retrieval" for kind, _ in payload["kinds"]):
        payload["text"] = "source_side"  # Retrieval.row_text: older measures read both sides of each pair
    keys = [rows.dataset_info(cfg, n, node)["key"] for n, node in zip(names, nodes)]
    return Side(names, eval_only, "+".join(keys), nodes[0].get("lang") or "en", identity.digest(payload, 16))


def pairs_of(cfg: DictConfig) -> list[tuple[Side, Side]]:
    """(intermediate side, evaluated side) for every set the config's target is evaluated on."""
    spec = resolve(cfg)
    if spec.stage != "target":
        raise ConfigError("python -m itt.measure measures intermediate -> target pairs: add +stage=target "
                          "(e.g. +stage=target stage.target=domain)")
    a = _side(cfg, intermediate_steps(cfg)[-1].roles, eval_only=False)
    b = [_side(cfg, (spec.target,), eval_only=False)] + [_side(cfg, (name,), eval_only=True) for name in spec.evals]
    return [(a, side) for side in b]


def measure_settings(cfg: DictConfig) -> tuple[list[str], dict, int | None, int]:
    """(measure names, parameters, sample size, seed) from ``measure.*``, checked."""
    m = cfg.measure
    names = sorted(MEASURES) if m.get("names") is None else ([m.names] if isinstance(m.names, str) else list(m.names))
    unknown = [n for n in names if n not in MEASURES]
    if unknown:
        raise ConfigError(f"measure.names: {unknown[0]!r} is not a measure; valid: {', '.join(sorted(MEASURES))}")
    params = dict(OmegaConf.to_container(m.params, resolve=True)) if m.get("params") else {}
    accepted = set().union(*(parameters(n) for n in MEASURES))
    stray = sorted(set(params) - accepted)
    if stray:
        raise ConfigError(f"measure.params.{stray[0]} is not a parameter of any measure; valid: {', '.join(sorted(accepted))}")
    size = m.get("sample_size")
    if size is not None and (isinstance(size, bool) or not isinstance(size, int) or size < 2):
        raise ConfigError(f"measure.sample_size={size!r} is not valid; use an int >= 2 (rows per side) or null (every row)")
    # Checked now, not when the first text is sampled or embedded (a traceback, or an error naming no key)
    for key, least in (("seed", 0), ("batch_size", 1), ("max_length", 1)):
        value = m.get(key)
        if isinstance(value, bool) or not isinstance(value, int) or value < least:
            raise ConfigError(f"measure.{key}={value!r} is not valid; use an int >= {least}")
    params.setdefault("seed", m.seed)  # proxy_a_distance's folds follow the measure seed unless told otherwise
    return names, params, size, int(m.seed)


def _model_identity(cfg: DictConfig) -> dict:
    model = {k: v for k, v in OmegaConf.to_container(cfg.model, resolve=True).items()
             if k not in (*TRAINING_SPEED_KEYS, "local_copy_of")}  # a guard on hub_id, not part of the encoder
    if not model.get("embedding_prefix"):  # no prefix: the keys of the values measured before prefixes existed
        model.pop("embedding_prefix", None)
    if identity.is_xlnet(cfg.model) and cfg.source.name == "hub":  # its tokenizer's segment ids now reach it
        model["segment_ids"] = True
    return {"model": model, "source": cfg.source.name, "max_length": cfg.measure.max_length}


def cache_key(cfg: DictConfig, a: Side, b: Side, name: str, params: dict, size, seed: int) -> str:
    used = {k: params[k] for k in parameters(name) if k in params}
    payload = {"a": a.fingerprint, "b": b.fingerprint, "measure": name, "params": used, "sample_size": size,
               "seed": seed, "model": None if name in MODEL_FREE else _model_identity(cfg), "sampling": SAMPLING}
    if VERSION[name] > 1:  # left out at 1, so the keys of measures never redefined stay as they were
        payload["version"] = VERSION[name]
    return identity.digest(payload, 16)


def measured(root: str | Path) -> set[str]:
    """The cache keys of every row already in ``${root}/measures.jsonl``."""
    path = Path(root) / MEASURES_FILE
    if not path.is_file():
        return set()
    keys = set()
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():  # stray bytes: that line only
        try:
            keys.add(json.loads(line).get("cache_key"))
        except (json.JSONDecodeError, AttributeError):
            continue  # a torn line: the report skips it too; the pair is measured again
    return keys


def side_texts(cfg: DictConfig, side: Side) -> tuple[list[tuple[str, ...]], list[str]]:
    """(item keys, texts): one of each per row of the side's training rows (eval sets: validation and test
    rows), members pooled. The keys name the row's item for ``disjoint_items``: its text (whitespace
    normalised) and, for a dataset split by shared row id (``aligned_with``), that id within its alignment
    group, which its translations share."""
    from itt.build import dataset_spec, task_of  # noqa: PLC0415 (data stack only when there is work)
    from itt.data.files import is_stand_in  # noqa: PLC0415
    from itt.data.loading import stand_in_stream  # noqa: PLC0415
    from itt.data.preparation import Protocol, split_rows  # noqa: PLC0415

    protocol = Protocol(cfg.split, cfg.seed, cfg.source.name, cfg.data.max_length, Path(cfg.paths.cache),
                        cfg.source.hub_timeout_s)
    group = cfg.task.evals if side.eval_only else cfg.task.datasets
    aligned = identity.alignment_groups(cfg)  # every dataset split by shared id -> its group
    keys, texts = [], []
    for name in side.names:
        node = group[name]
        task = task_of(cfg, node)
        spec = dataset_spec(node, cfg)
        # A stand-in's ids are places in its generator's stream: only stand-ins of one stream are translations
        # (aligned_with can join two streams just to split them together, experiment=nli_vs_qa_demo).
        stream = "/".join(map(str, stand_in_stream(spec, task))) + ":" if is_stand_in(protocol.source, spec.path) else ""
        splits, _ = split_rows(spec, task, protocol, by_id=name in aligned, eval_only=side.eval_only)
        for split in (("validation", "test") if side.eval_only else ("train",)):
            for row in splits[split]:
                text = task.row_text(row)
                if text.strip():
                    item = ("text:" + " ".join(text.split()),)
                    keys.append(item + (f"id:{aligned[name]}:{stream}{row['id']}",) if name in aligned else item)
                    texts.append(text)
    return keys, texts


class _Model:
    """The run's tokenizer and pretrained encoder, loaded on first use (a word-only measure needs neither),
    and the embeddings it has computed, by the texts they embed."""

    def __init__(self, cfg: DictConfig, identity_: str):
        self.cfg, self.identity, self._tokenizer, self._embed = cfg, identity_, None, None
        self._embedded: OrderedDict[str, np.ndarray] = OrderedDict()

    def _source(self) -> str:
        from itt.models.loading import pretrained_source  # noqa: PLC0415

        c = self.cfg
        return pretrained_source(c.model, c.source.name, c.paths.cache, c.source.hub_timeout_s)

    @property
    def tokenizer(self):
        if self._tokenizer is None:
            from itt.models.loading import load_tokenizer  # noqa: PLC0415

            self._tokenizer = load_tokenizer(self._source(), self.cfg.model.trust_remote_code)
        return self._tokenizer

    def tokenize(self, texts: list[str]) -> list[list[int]]:
        from itt.measures.encoders import hf_tokenize  # noqa: PLC0415

        return hf_tokenize(self.tokenizer)(texts)

    def embed(self, texts: list[str]) -> np.ndarray:
        """``mean_pooled_embedder``'s embeddings of ``texts``, computed once per list of texts: the same
        texts in the same order make the same batches, so a reused array is the one encoding would give."""
        key = hashlib.sha1(json.dumps(list(texts)).encode()).hexdigest()
        if key in self._embedded:
            self._embedded.move_to_end(key)
            return self._embedded[key]
        if self._embed is None:
            import torch  # noqa: PLC0415
            from transformers import AutoModel  # noqa: PLC0415

            from itt.measures.encoders import mean_pooled_embedder  # noqa: PLC0415

            torch.manual_seed(0)  # an encoder without some pretrained weight initialises it the same way each time
            encoder = AutoModel.from_pretrained(self._source(), trust_remote_code=self.cfg.model.trust_remote_code)
            m = self.cfg.measure
            self._embed = mean_pooled_embedder(encoder, self.tokenizer, m.batch_size, m.max_length,
                                               prefix=self.cfg.model.get("embedding_prefix") or "")
        vectors = self._embed(texts)
        vectors.flags.writeable = False  # shared by every pair that reuses it
        self._embedded[key] = vectors
        while self._embedded and sum(v.nbytes for v in self._embedded.values()) > EMBEDDING_CACHE_BYTES:
            self._embedded.popitem(last=False)
        return vectors


_loaded: _Model | None = None  # the last job's model: the next job of a sweep on the same encoder reuses it


def _model(cfg: DictConfig) -> _Model:
    """The model (and embeddings) of ``cfg``'s encoder: everything its embeddings depend on must match."""
    global _loaded  # noqa: PLW0603
    encoder = identity.digest({**_model_identity(cfg), "batch_size": cfg.measure.batch_size,
                               "cache": str(cfg.paths.cache)}, 16)
    if _loaded is None or _loaded.identity != encoder:
        _loaded = _Model(cfg, encoder)  # one encoder at a time: the previous one and its embeddings are dropped
    return _loaded


def run(cfg: DictConfig) -> list[dict]:
    """Measure every pair ``cfg`` names that ``measures.jsonl`` lacks; returns the rows written."""
    names, params, size, seed = measure_settings(cfg)
    root = Path(cfg.paths.root)
    done = measured(root)
    model = _model(cfg)
    tokenize, embed = model.tokenize, model.embed  # bound once: both sides must hold the same callables
    texts: dict[Side, tuple[list, list[str]]] = {}  # (item keys, texts); every pair reads the same intermediate side
    written = []
    for a, b in pairs_of(cfg):
        todo = [n for n in names if cache_key(cfg, a, b, n, params, size, seed) not in done]
        if not todo:
            log.info("cached: %s -> %s (%s)", a.label(), b.label(), ", ".join(names))
            continue
        for side in (a, b):
            if side not in texts:
                texts[side] = side_texts(cfg, side)
        (keys_a, all_a), (keys_b, all_b) = texts[a], texts[b]
        keep_a, keep_b = disjoint_items(keys_a, keys_b, seed)
        rows_a, rows_b = [all_a[i] for i in keep_a], [all_b[i] for i in keep_b]
        if (all_a and not rows_a) or (all_b and not rows_b):
            raise DataError(f"{a.label()} and {b.label()} hold the same items (rows or their translations): no "
                            f"rows are left to compare once each item is on one side only")
        left_out = len(all_a) - len(keep_a) + len(all_b) - len(keep_b)
        if left_out:
            log.info("%s and %s share items (the same rows or their translations): %d rows left out of one side "
                     "so that each item is on one side only", a.label(), b.label(), left_out)
        # Both sides the same size: word- and token-count measures depend on how much text each side has.
        n = min(len(rows_a), len(rows_b), size or len(rows_a) + len(rows_b))
        text_a = TextSample(sample(rows_a, n, seed), a.lang, tokenize, embed)
        text_b = TextSample(sample(rows_b, n, seed), b.lang, tokenize, embed)
        for row in measure_pair(text_a, text_b, todo, **params):
            name = row["measure"]
            out = {"a_key": a.key, "b_key": b.key, "model": None if name in MODEL_FREE else cfg.model.name,
                   # which encoder, beyond its config name (a swept model.hub_id or embedded config): the report
                   # says when one name's values come from several
                   "encoder": None if name in MODEL_FREE else identity.digest(_model_identity(cfg), 16),
                   "measure": name, "value": row["value"], "n_a": row["n_a"], "n_b": row["n_b"],
                   "params": row["params"], "seed": seed, "direction": DIRECTION[name], "sample_size": size,
                   "version": VERSION[name], "sampling": SAMPLING, "shared_rows_left_out": left_out,
                   "a_role": a.label(), "b_role": b.label(), "task": cfg.task.name, "source": cfg.source.name,
                   "cache_key": cache_key(cfg, a, b, name, params, size, seed),
                   "time": datetime.now(timezone.utc).isoformat(timespec="seconds")}
            written.append(out)
            done.add(out["cache_key"])
        log.info("measured: %s -> %s (%s)", a.label(), b.label(), ", ".join(todo))
    if written:  # as the ledger is written: locked, and a torn last line does not swallow a new row
        with writing(root, "paths.root", root / MEASURES_FILE):
            ledger.append_lines(root / MEASURES_FILE, [json.dumps(r) for r in written])
    return written
