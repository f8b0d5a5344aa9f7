"""Tiny randomly initialised BERT/RoBERTa/XLNet built from their real ``transformers`` config classes,
with a tokenizer of the same kind trained locally on the embedded corpus.

Built once per model config (fixed seed: every run sees the same "pretrained" weights, as with a hub
model) and saved with ``save_pretrained`` under ``${paths.cache}/embedded_models/``; afterwards it is
loaded exactly like a hub model, from that folder.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
from pathlib import Path

import torch
from filelock import FileLock
from hydra.utils import instantiate
from omegaconf import OmegaConf
from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
from transformers import AutoModel, PreTrainedTokenizerFast

from itt.data import embedded as embedded_data
from itt.errors import ConfigError

# Special tokens and the pair template of each tokenizer family, as in the real checkpoints.
FAMILIES = {
    "wordpiece": dict(
        special={"pad_token": "[PAD]", "unk_token": "[UNK]", "cls_token": "[CLS]", "sep_token": "[SEP]", "mask_token": "[MASK]"},
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1", padding_side="right",
        inputs=["input_ids", "token_type_ids", "attention_mask"],
    ),
    "bpe": dict(
        special={"bos_token": "<s>", "pad_token": "<pad>", "eos_token": "</s>", "unk_token": "<unk>", "mask_token": "<mask>",
                 "cls_token": "<s>", "sep_token": "</s>"},
        single="<s> $A </s>", pair="<s> $A </s> </s> $B </s>", padding_side="right",
        inputs=["input_ids", "attention_mask"],  # RoBERTa has a single segment embedding
    ),
    "unigram": dict(
        special={"pad_token": "<pad>", "unk_token": "<unk>", "bos_token": "<s>", "eos_token": "</s>", "sep_token": "<sep>",
                 "cls_token": "<cls>", "mask_token": "<mask>"},
        single="$A <sep> <cls>:2", pair="$A <sep> $B:1 <sep>:1 <cls>:2", padding_side="left",  # XLNet reads the last token
        inputs=["input_ids", "token_type_ids", "attention_mask"],
    ),
}


def _train_tokenizer(family: str, vocab_size: int) -> PreTrainedTokenizerFast:
    spec = FAMILIES[family]
    specials = list(dict.fromkeys(spec["special"].values()))
    if family == "wordpiece":
        tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
        tok.normalizer = normalizers.BertNormalizer(lowercase=False)
        tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
        trainer = trainers.WordPieceTrainer(vocab_size=vocab_size, special_tokens=specials)
        tok.decoder = decoders.WordPiece()
    elif family == "bpe":
        tok = Tokenizer(models.BPE(unk_token="<unk>"))
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=specials,
                                      initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
        tok.decoder = decoders.ByteLevel()
    else:
        tok = Tokenizer(models.Unigram())
        tok.normalizer = normalizers.NFKC()
        tok.pre_tokenizer = pre_tokenizers.Metaspace()
        trainer = trainers.UnigramTrainer(vocab_size=vocab_size, special_tokens=specials, unk_token="<unk>")
        tok.decoder = decoders.Metaspace()
    tok.train_from_iterator(embedded_data.corpus(seed=0), trainer=trainer)
    names = [t for t in specials if t in spec["single"] + spec["pair"]]
    tok.post_processor = processors.TemplateProcessing(
        single=spec["single"], pair=spec["pair"], special_tokens=[(t, tok.token_to_id(t)) for t in names])
    return PreTrainedTokenizerFast(tokenizer_object=tok, padding_side=spec["padding_side"],
                                   model_input_names=spec["inputs"], **spec["special"])


def build(model_cfg, cache_dir: str | Path) -> Path:
    """The folder of the embedded stand-in of ``model_cfg`` (built on first use, under a lock)."""
    emb = model_cfg.embedded
    if emb is None:
        raise ConfigError(f"model={model_cfg.name} has no embedded stand-in; valid with source=embedded: bert, roberta, xlnet, minilm")
    family = emb.get("tokenizer")
    if family not in FAMILIES:
        raise ConfigError(f"model.embedded.tokenizer={family!r} is not a tokenizer kind; valid: {', '.join(FAMILIES)}")
    plain = OmegaConf.to_container(emb, resolve=True)
    # The corpus is part of the key: a tokenizer trained on an older corpus is not reused.
    key = hashlib.sha1((json.dumps(plain, sort_keys=True) + embedded_data.corpus_fingerprint(seed=0)).encode()).hexdigest()[:10]
    out = Path(cache_dir) / "embedded_models" / f"{model_cfg.name}-{key}"
    out.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(out) + ".lock"):
        if (out / "config.json").exists():
            return out
        tokenizer = _train_tokenizer(family, int(emb.get("vocab_size", 3000)))
        special_ids = {k: tokenizer.convert_tokens_to_ids(v) for k, v in FAMILIES[family]["special"].items()
                       if k in ("pad_token", "bos_token", "eos_token")}
        config = instantiate(emb.config, vocab_size=len(tokenizer),
                             **{k.replace("_token", "_token_id"): v for k, v in special_ids.items()})
        with torch.random.fork_rng():
            torch.manual_seed(0)  # the same "pretrained" weights for every run
            model = AutoModel.from_config(config)
        tmp = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}-"))
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        if out.exists():
            shutil.rmtree(out)
        tmp.rename(out)  # atomic: a half-built model is never seen under the final name
    return out
