"""Tiny randomly initialised BERT/RoBERTa/XLM-R/XLNet built from their real ``transformers`` config classes,
with a tokenizer of the same kind trained locally on the embedded corpus.

Built once per model config (fixed seed: every run sees the same "pretrained" weights, as with a hub
model) and saved with ``save_pretrained`` under ``${paths.cache}/embedded_models/``; afterwards it is
loaded exactly like a hub model, from that folder.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path

import torch
from filelock import FileLock
from hydra.utils import instantiate
from omegaconf import OmegaConf
from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
from transformers import AutoModel, PreTrainedTokenizerFast

from itt.data import embedded as embedded_data
from itt.errors import ConfigError, writing
from itt.models import BUILD_VERSION

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
    # XLM-R: SentencePiece unigram with <s>=0 <pad>=1 </s>=2 <unk>=3 and <mask> last, RoBERTa's
    # template, no token types.
    "sentencepiece_xlmr": dict(
        special={"bos_token": "<s>", "pad_token": "<pad>", "eos_token": "</s>", "unk_token": "<unk>", "mask_token": "<mask>",
                 "cls_token": "<s>", "sep_token": "</s>"},
        single="<s> $A </s>", pair="<s> $A </s> </s> $B </s>", padding_side="right",
        inputs=["input_ids", "attention_mask"],
    ),
    "unigram": dict(
        special={"pad_token": "<pad>", "unk_token": "<unk>", "bos_token": "<s>", "eos_token": "</s>", "sep_token": "<sep>",
                 "cls_token": "<cls>", "mask_token": "<mask>"},
        single="$A <sep> <cls>:2", pair="$A <sep> $B:1 <sep>:1 <cls>:2", padding_side="left",  # XLNet reads the last token
        inputs=["input_ids", "token_type_ids", "attention_mask"],
    ),
}


def _bpe_vocab(pre_tokenizer, normalizer, vocab_size: int, specials: list[str], unk: str) -> dict[str, int]:
    """A subword vocabulary learnt by BPE on the embedded corpus. tokenizers' plain BPE trainer is
    deterministic; its WordPiece and Unigram trainers, and BPE with a continuing-subword prefix, are not
    (247 of 3,000 WordPiece ids differed between two builds: two caches held two different "pretrained"
    models), so those two families take their pieces from here."""
    tok = Tokenizer(models.BPE(unk_token=unk))
    tok.normalizer, tok.pre_tokenizer = normalizer, pre_tokenizer
    tok.train_from_iterator(embedded_data.corpus(seed=0),
                            trainer=trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=specials, show_progress=False))
    return tok.get_vocab()


def _wordpiece_from(vocab: dict[str, int], specials: list[str], vocab_size: int) -> dict[str, int]:
    """WordPiece entries from BPE pieces in learning order: each piece as a word start and as a
    continuation (``##piece``), until ``vocab_size``."""
    out = {t: i for i, t in enumerate(specials)}
    for piece in sorted((p for p in vocab if p not in out), key=vocab.__getitem__):
        for entry in (piece, f"##{piece}"):
            if len(out) < vocab_size and entry not in out:
                out[entry] = len(out)
    return out


def _unigram_from(vocab: dict[str, int], specials: list[str]) -> models.Unigram:
    """A Unigram model over BPE's pieces: every piece scores about -1, so Viterbi picks the segmentation
    with the fewest pieces, ties going to the pieces BPE learnt first (the more frequent ones)."""
    pieces = sorted(vocab, key=vocab.__getitem__)
    scores = [(p, 0.0 if p in specials else -1.0 - i / (10 * len(pieces))) for i, p in enumerate(pieces)]
    return models.Unigram(scores, unk_id=pieces.index("<unk>"), byte_fallback=False)


def _train_tokenizer(family: str, vocab_size: int) -> PreTrainedTokenizerFast:
    spec = FAMILIES[family]
    specials = list(dict.fromkeys(spec["special"].values()))
    unk = spec["special"]["unk_token"]
    if family == "wordpiece":
        normalizer, pre = normalizers.BertNormalizer(lowercase=False), pre_tokenizers.BertPreTokenizer()
        vocab = _wordpiece_from(_bpe_vocab(pre, normalizer, vocab_size, specials, unk), specials, vocab_size)
        tok = Tokenizer(models.WordPiece(vocab, unk_token=unk))
        tok.normalizer, tok.pre_tokenizer = normalizer, pre
        tok.decoder = decoders.WordPiece()
    elif family == "bpe":
        tok = Tokenizer(models.BPE(unk_token="<unk>"))
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=specials,
                                      initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
        tok.decoder = decoders.ByteLevel()
        tok.train_from_iterator(embedded_data.corpus(seed=0), trainer=trainer)
    else:  # unigram (XLNet) and sentencepiece_xlmr (XLM-R): SentencePiece-style pieces
        if family == "sentencepiece_xlmr":
            # XLM-R's normaliser is SentencePiece's NFKC-based charsmap, then runs of spaces collapsed.
            normalizer = normalizers.Sequence([normalizers.NFKC(), normalizers.Replace(Regex(" {2,}"), " ")])
            # <mask> is added after the pieces, so that it gets the last id as in XLM-R's vocabulary.
            specials = [t for t in specials if t != "<mask>"]
            size = vocab_size - 1
        else:
            normalizer, size = normalizers.NFKC(), vocab_size
        pre = pre_tokenizers.Metaspace()
        tok = Tokenizer(_unigram_from(_bpe_vocab(pre, normalizer, size, specials, unk), specials))
        tok.normalizer, tok.pre_tokenizer = normalizer, pre
        tok.decoder = decoders.Metaspace()
        if family == "sentencepiece_xlmr":
            tok.add_special_tokens(["<mask>"])
    names = [t for t in specials if t in spec["single"] + spec["pair"]]
    tok.post_processor = processors.TemplateProcessing(
        single=spec["single"], pair=spec["pair"], special_tokens=[(t, tok.token_to_id(t)) for t in names])
    return PreTrainedTokenizerFast(tokenizer_object=tok, padding_side=spec["padding_side"],
                                   model_input_names=spec["inputs"], **spec["special"])


def corpus_fingerprint(folder: Path) -> str:
    """``embedded_data.corpus_fingerprint(seed=0)``, remembered in ``folder`` for each version of the code
    and word lists it is generated from (``itt/data/embedded/``: the generators use nothing else but the
    standard library's seeded ``random``). Generating the corpus to hash it took ~0.1 s of every run's
    start; reading the ~25 source files to hash them takes a few milliseconds."""
    memo = folder / f"corpus-{embedded_data.source_version()}.txt"
    try:
        value = memo.read_text().strip()
    except OSError:
        value = ""
    if value:
        return value
    value = embedded_data.corpus_fingerprint(seed=0)
    try:
        tmp = memo.with_name(f".{memo.name}.{os.getpid()}.tmp")
        tmp.write_text(value)
        tmp.replace(memo)  # atomic: a reader sees the whole value or no file
    except OSError:  # a read-only cache: computed each time, as before
        pass
    return value


def build(model_cfg, cache_dir: str | Path) -> Path:
    """The folder of the embedded stand-in of ``model_cfg`` (built on first use, under a lock)."""
    emb = model_cfg.embedded
    if emb is None:
        raise ConfigError(f"model={model_cfg.name} has no embedded stand-in (model.embedded is null); use source=hub, "
                          f"or a model config with an embedded: block (bert, roberta, xlmr, mbert, codebert, ...)")
    family = emb.get("tokenizer")
    if family not in FAMILIES:
        raise ConfigError(f"model.embedded.tokenizer={family!r} is not a tokenizer kind; valid: {', '.join(FAMILIES)}")
    plain = OmegaConf.to_container(emb, resolve=True)
    with writing(cache_dir, "paths.cache"):  # a full, read-only or misplaced cache: one line naming it
        models_dir = Path(cache_dir) / "embedded_models"
        models_dir.mkdir(parents=True, exist_ok=True)
        # The corpus is part of the key: a tokenizer trained on an older corpus is not reused.
        key = hashlib.sha1((json.dumps(plain, sort_keys=True) + corpus_fingerprint(models_dir)
                            + f"build{BUILD_VERSION}").encode()).hexdigest()[:10]
        out = models_dir / f"{model_cfg.name}-{key}"
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
