"""What each encoder family is fed, with the real ``transformers`` tokenizer classes where the family's
stand-in tokenizer cannot tell (a hub model's tokenizer is one of those classes, not a stand-in).

XLNet reads segment ids (relative segment encodings: 0 for the first text, 1 for the second, 2 for
``<cls>``). transformers 5 no longer returns ``token_type_ids`` from ``XLNetTokenizer`` (and a few
other tokenizers of segment-reading models: huggingface/transformers#48128), so a hub XLNet saw text
pairs without them, unlike under transformers 4 and unlike its stand-in.
"""

from __future__ import annotations

import json

import pytest
import torch
from conftest import ITT_TINY, error_lines
from transformers import BertConfig, RobertaConfig, XLMRobertaConfig, XLNetConfig, XLNetModel, XLNetTokenizer

from itt.data.collation import PaddingCollator
from itt.data.tokenization import tokenizer_fingerprint
from itt.models.embedded import _train_tokenizer
from itt.errors import ConfigError
from itt.models.loading import check_max_length, load_tokenizer
from itt.tasks.sequence_classification import SequenceClassification

PAIR = {"text": ["The film was surprisingly good.", "Short."], "text_pair": ["It was fine.", "Yes."], "label": [1, 0]}


@pytest.fixture(scope="module")
def xlnet_folder(tmp_path_factory):
    """A folder as the hub's xlnet-base-cased is read: the genuine XLNetTokenizer class (here over the
    stand-in's pieces) and an XLNet config, no ``model_input_names`` saved."""
    folder = tmp_path_factory.mktemp("xlnet-hub-like")
    pieces = json.loads(_train_tokenizer("unigram", 1000).backend_tokenizer.to_str())["model"]
    tokenizer = XLNetTokenizer(vocab=[tuple(p) for p in pieces["vocab"]], unk_id=pieces["unk_id"])
    tokenizer.save_pretrained(folder)
    saved = json.loads((folder / "tokenizer_config.json").read_text())
    assert "model_input_names" not in saved
    XLNetConfig(d_model=32, n_layer=1, n_head=2, d_inner=64, vocab_size=len(tokenizer),
                pad_token_id=tokenizer.pad_token_id).save_pretrained(folder)
    return folder


def test_a_hub_xlnet_is_fed_its_segment_ids(xlnet_folder):
    tokenizer = load_tokenizer(str(xlnet_folder))
    features = SequenceClassification().encode(PAIR, tokenizer, 128, training=True)
    assert "token_type_ids" in features
    first = features["token_type_ids"][0]
    tokens = tokenizer.convert_ids_to_tokens(features["input_ids"][0])
    assert tokens[-2:] == ["<sep>", "<cls>"] and first[-1] == 2  # <cls> last, in its own segment
    assert first[:tokens.index("<sep>") + 1] == [0] * (tokens.index("<sep>") + 1)  # A <sep>: segment 0
    assert set(first[tokens.index("<sep>") + 1:-1]) == {1}  # B <sep>: segment 1

    # and they reach the model through the collator, padded on XLNet's side
    rows = [{k: features[k][i] for k in ("input_ids", "attention_mask", "token_type_ids")} for i in range(2)]
    batch = PaddingCollator(tokenizer, None)(rows)
    assert tokenizer.padding_side == "left" and batch["token_type_ids"][1, -1] == 2
    torch.manual_seed(0)
    encoder = XLNetModel(XLNetConfig.from_pretrained(xlnet_folder)).eval()
    for layer in encoder.layer:  # segment weights of a trained size (initialised at std 0.02 they hardly count)
        torch.nn.init.normal_(layer.rel_attn.seg_embed, std=1.0)
        torch.nn.init.normal_(layer.rel_attn.r_s_bias, std=1.0)
    with torch.no_grad():
        with_segments = encoder(**batch).last_hidden_state
        without = encoder(**{k: v for k, v in batch.items() if k != "token_type_ids"}).last_hidden_state
    assert (with_segments - without).abs().max() > 1e-3  # the ids change what XLNet computes


def test_the_data_cache_tells_tokenizers_that_return_other_inputs_apart(xlnet_folder):
    """Features cached before a tokenizer returned token_type_ids must not be read for one that does."""
    tokenizer = XLNetTokenizer.from_pretrained(xlnet_folder)
    without = tokenizer_fingerprint(tokenizer)
    tokenizer.model_input_names = ["input_ids", "token_type_ids", "attention_mask"]
    assert tokenizer_fingerprint(tokenizer) != without


@pytest.mark.parametrize(("config", "limit"), [
    (BertConfig(max_position_embeddings=512), 512),
    (RobertaConfig(max_position_embeddings=514, pad_token_id=1), 512),  # positions start after padding_idx
    (XLMRobertaConfig(max_position_embeddings=514, pad_token_id=1), 512),
    (RobertaConfig(max_position_embeddings=1026, pad_token_id=1), 1024),  # UniXcoder
])
def test_max_length_beyond_the_encoders_positions_is_one_config_error(config, limit):
    check_max_length(config, limit, "m")
    with pytest.raises(ConfigError, match=rf"^data\.max_length={limit + 1}: model=m has {limit} positions"):
        check_max_length(config, limit + 1, "m")


def test_xlnet_has_no_position_limit():
    check_max_length(XLNetConfig(d_model=64, n_layer=1, n_head=2, d_inner=128), 4096, "xlnet")


def test_a_run_past_the_positions_stops_before_data_or_training(run_itt, tmp_path):
    """Short texts would pad below the limit and train; one long batch, maybe hours in, would end the run with an
    index error. The run stops at once, in one line, and writes no row."""
    done = run_itt("model=bert", "task=sentiment", "+stage=target", "stage.itt=false", *ITT_TINY,
                   "data.max_length=600", root=tmp_path)
    assert done.returncode != 0
    assert error_lines(done.stdout + done.stderr) == [
        "error: data.max_length=600: model=bert has 512 positions (max_position_embeddings); use at most 512"]
    assert not (tmp_path / "results.jsonl").exists()


def test_a_chains_too_long_step_stops_the_command_before_any_step_trains(run_itt, tmp_path):
    """The intermediate's own data.max_length is checked with the target's, before the intermediate trains."""
    done = run_itt("model=roberta", "task=sentiment", "+stage=target", *ITT_TINY, "intermediate.data.max_length=513",
                   root=tmp_path)
    assert done.returncode != 0
    assert error_lines(done.stdout + done.stderr) == [
        "error: intermediate.data.max_length=513: model=roberta has 512 positions (max_position_embeddings); "
        "use at most 512"]
    assert not (tmp_path / "results.jsonl").exists() and not list(tmp_path.glob("runs/*/model"))


def test_relative_position_encoders_have_no_position_limit():
    from transformers import DebertaV2Config

    check_max_length(DebertaV2Config(max_position_embeddings=512, position_biased_input=False), 4096, "deberta")
    with pytest.raises(ConfigError):  # v2 with absolute positions added to the input: limited
        check_max_length(DebertaV2Config(max_position_embeddings=512, position_biased_input=True), 513, "deberta")
