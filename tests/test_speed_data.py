"""Speed features of the data path: length-grouped batches, dynamic padding, length-sorted evaluation,
and the tokenization cache (a rerun, the no-ITT twin of an ITT run, or a second model with the same
tokenizer tokenizes nothing)."""

from __future__ import annotations

import json
import logging
import random

import pytest
import torch
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from itt import identity, pipeline
from itt.build import prepare_data
from itt.data import tokenization
from itt.data.datamodule import ITTDataModule
from itt.data.embedded import generate
from itt.data.samplers import LengthGroupedBatches, mega_batch_batches
from itt.models.loading import load_tokenizer, pretrained_source
from itt.train import CONF_DIR


def _mixed_lengths(n: int, seed: int = 0) -> list[int]:
    """Mostly short sentences, ~10 % paragraph-length texts (as itt.data.embedded generates)."""
    rng = random.Random(seed)
    return [rng.randint(60, 128) if rng.random() < 0.1 else rng.randint(8, 35) for _ in range(n)]


def _padding_waste(batches: list[list[int]], lengths: list[int], multiple: int = 8) -> float:
    padded = sum(len(b) * -(-max(lengths[i] for i in b) // multiple) * multiple for b in batches)
    return 1 - sum(lengths) / padded


def _random_batches(n: int, bs: int, seed: int) -> list[list[int]]:
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed)).tolist()
    return [perm[i:i + bs] for i in range(0, n, bs)]


# --- length-grouped batches (the samplers themselves: tests/test_samplers.py) ---------------------

def _epochs(sampler, n: int) -> list[list[list[int]]]:
    out = []
    for epoch in range(n):
        sampler.set_epoch(epoch)
        out.append(list(sampler))
    return out


@pytest.mark.parametrize("n", [2000, 168])  # 168: a demo target's train split; HF's sampler does not group it
def test_less_padding_than_random_batches(n):
    lengths = _mixed_lengths(n)
    grouped = list(LengthGroupedBatches(lengths, 32, 0))
    random_waste = _padding_waste(_random_batches(n, 32, 0), lengths)
    grouped_waste = _padding_waste(grouped, lengths)
    assert grouped_waste < 0.5 * random_waste, (grouped_waste, random_waste)


def test_batches_are_not_served_longest_first():
    lengths = _mixed_lengths(2000)
    firsts = [max(lengths[i] for i in list(LengthGroupedBatches(lengths, 32, s))[0]) for s in range(10)]
    assert min(firsts) < max(lengths)


# --- the datamodule: dynamic padding, grouped training batches, length-sorted evaluation --------

def _cfg(root, *overrides):
    with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
        return compose("train", overrides=["source=embedded", "logger=csv", "model=bert", "task=sentiment",
                                            "+stage=intermediate", f"paths.root={root}", *overrides])


def _tokenizer(cfg):
    return load_tokenizer(pretrained_source(cfg.model, cfg.source.name, cfg.paths.cache))


def _datamodule(cfg, tokenizer=None):
    spec = identity.resolve(cfg)
    tokenizer = tokenizer or _tokenizer(cfg)
    train, evals = prepare_data(spec, tokenizer)
    pad = identity.numerics(spec)["pad_to_multiple_of"]
    return ITTDataModule(train, [*train, *evals], spec.settings.data, pad, cfg.seed).attach(tokenizer), train[0]


def test_default_training_batches_are_uniformly_random(tmp_path):
    """Standard fine-tuning's batches by default: grouping by length learnt less on small real targets
    (README, Speed), so it is opt-in, and then with transformers' rule."""
    from itt.data.samplers import RandomBatches

    cfg = _cfg(tmp_path, "task.datasets.intermediate.embedded_rows=200")
    assert cfg.data.length_grouping is False and cfg.data.mega_batch == "auto"
    dm, prepared = _datamodule(cfg)
    sampler = dm.train_dataloader().batch_sampler.sampler
    assert isinstance(sampler, RandomBatches) and sampler.batch_size == cfg.data.batch_size
    epochs = [[i for b in batches for i in b] for batches in _epochs(sampler, 2)]
    assert sorted(epochs[0]) == list(range(len(prepared.features["train"]))) and epochs[0] != epochs[1]


@pytest.mark.parametrize("rows, expected", [(100, 1), (255, 1), (256, 2), (640, 5), (6400, 50), (200_000, 50)])
def test_mega_batch_auto_is_a_quarter_of_the_batches_at_most_50(rows, expected):
    assert mega_batch_batches("auto", rows, 32) == expected
    assert mega_batch_batches(7, rows, 32) == 7  # an int is used as given


@pytest.mark.parametrize("bad", [0, -1, "all", 2.5, False])
def test_mega_batch_rejects_what_is_not_auto_or_a_positive_int(bad):
    from itt.errors import ConfigError

    with pytest.raises(ConfigError, match=r"^data\.mega_batch=.* is not valid; use auto, or a positive int such as 50$"):
        mega_batch_batches(bad, 640, 32)


def test_auto_mega_batches_change_which_rows_share_a_batch_between_epochs():
    """Sorting a whole small training set fixes the batches' composition; auto keeps it changing."""
    lengths = [random.Random(i).randint(5, 80) for i in range(640)]

    def kept_together(mega):  # share of rows whose batch-mates mostly meet again in the next epoch's batch
        first, second = _epochs(LengthGroupedBatches(lengths, 32, 0, mega), 2)
        return sum(max(len(set(b) & set(c)) for c in second) for b in first) / len(lengths)

    assert kept_together(20) > 0.8  # all 20 batches sorted together: 92 % here
    assert kept_together(mega_batch_batches("auto", 640, 32)) < 0.45  # 5 batches: 29 % here


def test_train_batches_are_grouped_and_padded_to_multiple_of_8(tmp_path):
    cfg = _cfg(tmp_path, "task.datasets.intermediate.embedded_rows=600", "data.pad_to_multiple_of=8", "data.mega_batch=50",
               "data.length_grouping=true")
    dm, prepared = _datamodule(cfg)
    lengths = prepared.features["train"]["length"][:]
    assert max(lengths) > 3 * min(lengths)  # the data really mixes short and long texts

    def efficiency(loader):
        real = padded = 0
        for batch in loader:
            assert batch["input_ids"].shape[1] % 8 == 0
            assert batch["input_ids"].shape[1] - int(batch["attention_mask"].sum(1).max()) < 8  # dynamic, not to max_length
            real += int(batch["attention_mask"].sum())
            padded += batch["attention_mask"].numel()
        return real / padded

    grouped = efficiency(dm.train_dataloader())
    dm.data_cfg = OmegaConf.merge(dm.data_cfg, {"length_grouping": False})
    shuffled = efficiency(dm.train_dataloader())
    assert grouped > 0.7 and grouped > 2 * shuffled, (grouped, shuffled)

    seen = [int(x) for b in dm.val_dataloader()[0] for x in b["attention_mask"].sum(1)]
    assert seen == sorted(seen)  # evaluation in length order


@pytest.mark.parametrize("setting, device, expected", [
    ("auto", "cpu", 1), ("auto", "cuda", 8), (8, "cpu", 8), (3, "cuda", 3), (None, "cpu", 1)])
def test_pad_multiple_auto_is_8_on_gpus_and_1_on_cpus(setting, device, expected):
    from itt.hardware import pad_multiple

    assert pad_multiple(setting, device) == expected


@pytest.mark.parametrize("bad", [0, -8, "eight", 2.5, True])
def test_pad_multiple_rejects_what_is_not_a_positive_int(bad):
    from itt.errors import ConfigError
    from itt.hardware import pad_multiple

    with pytest.raises(ConfigError, match=r"^data\.pad_to_multiple_of=.* is not valid; use auto, or a positive int such as 8$"):
        pad_multiple(bad, "cpu")


def test_default_padding_on_a_cpu_is_to_the_longest_row(tmp_path, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    cfg = _cfg(tmp_path, "task.datasets.intermediate.embedded_rows=200")
    assert cfg.data.pad_to_multiple_of == "auto"
    dm, _ = _datamodule(cfg)
    widths = [(b["input_ids"].shape[1], int(b["attention_mask"].sum(1).max())) for b in dm.train_dataloader()]
    assert all(width == longest for width, longest in widths), widths


@pytest.mark.parametrize("model", ["bert", "roberta", "xlnet", "minilm"])  # xlnet pads on the left
@pytest.mark.parametrize("multiple", [8, 1])
def test_padding_collator_matches_transformers(tmp_path, model, multiple):
    from transformers import DataCollatorWithPadding

    from itt.data.collation import PaddingCollator

    cfg = _cfg(tmp_path, f"model={model}")
    tok = load_tokenizer(pretrained_source(cfg.model, cfg.source.name, cfg.paths.cache))
    rows = generate("similarity", "en", "general", 9, 0)
    for pair in (False, True):
        enc = tok([r["text"] for r in rows], *([[r["text_pair"] for r in rows]] if pair else []), truncation=True, max_length=64)
        features = [{**{k: enc[k][i] for k in enc}, "labels": i % 2} for i in range(len(rows))]
        ours = PaddingCollator(tok, multiple)([dict(f) for f in features])
        theirs = DataCollatorWithPadding(tok, pad_to_multiple_of=multiple)([dict(f) for f in features])
        assert set(ours) == set(theirs)
        for key in theirs:
            assert ours[key].dtype == theirs[key].dtype and torch.equal(ours[key], theirs[key]), (model, pair, key)


# --- the tokenization cache -------------------------------------------------------------------

def test_fingerprint_is_stable_once_the_tokenizer_was_used(tmp_path):
    cfg = _cfg(tmp_path)
    path = pretrained_source(cfg.model, cfg.source.name, cfg.paths.cache)
    tok = load_tokenizer(path)
    before = tokenization.tokenizer_fingerprint(tok)
    tok(["a few words", "and a few more words here"], truncation=True, max_length=16)  # sets backend truncation
    assert tokenization.tokenizer_fingerprint(tok) == before
    assert tokenization.tokenizer_fingerprint(load_tokenizer(path)) == before  # a second load, same files
    other = _cfg(tmp_path, "model=roberta")
    assert tokenization.tokenizer_fingerprint(load_tokenizer(pretrained_source(other.model, "embedded", other.paths.cache))) != before


def test_second_prepare_hits_the_cache_and_tokenizes_nothing(tmp_path, monkeypatch):
    cfg = _cfg(tmp_path, "task.datasets.intermediate.embedded_rows=200")
    tok = _tokenizer(cfg)
    (first,), _ = prepare_data(identity.resolve(cfg), tok)
    assert not first.cache_hit
    entries = list((tmp_path / "cache" / "prepared").iterdir())

    def no_tokenizing(*args, **kwargs):
        raise AssertionError("tokenized again")

    monkeypatch.setattr(type(first.task), "encode", no_tokenizing)
    (second,), _ = prepare_data(identity.resolve(cfg), tok)  # the same tokenizer object, already used
    (third,), _ = prepare_data(identity.resolve(cfg), _tokenizer(cfg))  # a fresh one, as a rerun loads it
    assert second.cache_hit and third.cache_hit
    assert list((tmp_path / "cache" / "prepared").iterdir()) == entries
    assert second.sizes() == first.sizes() and second.labels == first.labels
    assert list(second.features["train"]["input_ids"]) == list(first.features["train"]["input_ids"])


def test_a_different_max_length_is_a_different_entry(tmp_path):
    cfg = _cfg(tmp_path, "task.datasets.intermediate.embedded_rows=100")
    prepare_data(identity.resolve(cfg), _tokenizer(cfg))
    other_cfg = _cfg(tmp_path, "task.datasets.intermediate.embedded_rows=100", "data.max_length=32")
    (other,), _ = prepare_data(identity.resolve(other_cfg), _tokenizer(other_cfg))
    assert not other.cache_hit and max(other.features["train"]["length"][:]) <= 32


def test_an_edited_local_file_is_a_different_entry(tmp_path):
    data = tmp_path / "reviews.csv"
    data.write_text("text,label\n" + "".join(f"good item {i},positive\nbad item {i},negative\n" for i in range(20)))
    over = [f"task.datasets.intermediate.path={data}", "task.datasets.intermediate.label_map=null",
            "task.datasets.intermediate.max_rows=null", "task.datasets.intermediate.text_fields=[text]"]
    cfg = _cfg(tmp_path, *over)
    (first,), _ = prepare_data(identity.resolve(cfg), _tokenizer(cfg))
    data.write_text(data.read_text().replace("good item 3", "excellent thing 3"))
    (edited,), _ = prepare_data(identity.resolve(cfg), _tokenizer(cfg))
    assert not first.cache_hit and not edited.cache_hit  # keyed by content: a rerun reads the new rows
    (again,), _ = prepare_data(identity.resolve(cfg), _tokenizer(cfg))
    assert again.cache_hit


@pytest.mark.slow
def test_itt_and_no_itt_targets_share_one_cache_entry(tmp_path, caplog):
    small = ["trainer.max_epochs=1", "task.datasets.intermediate.embedded_rows=200", "task.datasets.domain.embedded_rows=80"]
    prepared = tmp_path / "cache" / "prepared"
    pipeline.run(_target_cfg(tmp_path, small, itt=False))
    (target_entry,) = [p for p in prepared.iterdir() if p.is_dir()]
    built = {f.name: f.stat().st_mtime_ns for f in target_entry.iterdir()}
    with caplog.at_level(logging.INFO, logger="itt.data.preparation"):
        row = pipeline.run(_target_cfg(tmp_path, small, itt=True))  # trains the intermediate on the way
    assert row["status"] == "ok" and row["itt"] is True
    assert len([p for p in prepared.iterdir() if p.is_dir()]) == 2  # the target's entry + the intermediate's
    assert {f.name: f.stat().st_mtime_ns for f in target_entry.iterdir()} == built  # not rewritten
    domain_lines = [r.getMessage() for r in caplog.records if "task.datasets.domain" in r.getMessage()]
    assert domain_lines and all("cache hit" in m for m in domain_lines), domain_lines
    assert json.loads((target_entry / "meta.json").read_text())["labels"] == ["negative", "positive"]


def _target_cfg(root, small, itt: bool):
    with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
        return compose("train", overrides=["source=embedded", "logger=csv", "model=bert", "task=sentiment", "+stage=target",
                                            "stage.target=domain", f"stage.itt={str(itt).lower()}", f"paths.root={root}", *small])


def test_a_stand_in_from_other_generator_code_is_a_different_entry_and_run(tmp_path, monkeypatch):
    """The stand-ins' rows are what itt/data/embedded's code makes. With a pretrained tokenizer nothing else
    in the cache key or the run id would change when that code does, so a rerun after an upgrade would
    read the old rows from the cache and report the old run as done."""
    from itt.data import embedded

    cfg = _cfg(tmp_path, "task.datasets.intermediate.embedded_rows=100")
    spec = identity.resolve(cfg)
    (first,), _ = prepare_data(spec, _tokenizer(cfg))
    run_before = identity.run_id(spec)
    monkeypatch.setattr(embedded, "source_version", lambda: "other-generators")
    (again,), _ = prepare_data(identity.resolve(cfg), _tokenizer(cfg))
    assert not first.cache_hit and not again.cache_hit
    assert identity.run_id(identity.resolve(cfg)) != run_before
    hub = _cfg(tmp_path, "source=hub")
    hub_id = identity.run_id(identity.resolve(hub))
    monkeypatch.undo()
    assert identity.run_id(identity.resolve(hub)) == hub_id  # hub runs do not depend on the stand-ins' code


def test_stand_in_only_keys_change_offline_ids_and_leave_hub_ids(tmp_path):
    """embedded_domain and embedded_offset choose the stand-in's rows: part of an offline run's id, nothing
    on the hub, where a run reads the real dataset whatever they say."""
    def run_id(*overrides):
        with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
            cfg = compose("train", overrides=["source=embedded", "model=bert", "task=text_classification", "+stage=target",
                                              "stage.target=crosslingual", "stage.itt=false", f"paths.root={tmp_path}",
                                              *overrides])
        return identity.run_id(identity.resolve(cfg))

    other = ["task.datasets.crosslingual.embedded_domain=null", "task.datasets.crosslingual.embedded_offset=100"]
    assert run_id("source=hub") == run_id("source=hub", *other[:1]) == run_id("source=hub", *other[1:])
    assert len({run_id(), run_id(other[0]), run_id(other[1])}) == 3


def test_stand_in_only_keys_are_in_a_stand_ins_cache_key_only():
    from itt.data.preparation import spec_payload
    from itt.schema import DatasetSpec

    spec = DatasetSpec(path="facebook/mlqa", embedded_offset=4000, embedded_domain="wiki")
    assert {"embedded_offset", "embedded_domain"} <= set(spec_payload(spec, stand_in=True))
    assert not {"embedded_offset", "embedded_domain"} & set(spec_payload(spec, stand_in=False))  # the hub's rows
    assert "generator" in spec_payload(spec, stand_in=True) and "generator" not in spec_payload(spec, stand_in=False)
    unset = DatasetSpec(path="facebook/mlqa")
    assert not {"embedded_offset", "embedded_domain"} & set(spec_payload(unset, stand_in=True))  # keys as before


def test_an_eval_split_with_fewer_rows_than_processes_is_a_one_line_error_before_training(tmp_path):
    """Under DDP each process evaluates every world-th row; one with no row would stop in Lightning ("zero length")
    after the training. The datamodule says which split of which set, before any step."""
    from itt.errors import DataError

    cfg = _cfg(tmp_path, "task.datasets.intermediate.embedded_rows=200")
    dm, prepared = _datamodule(cfg)
    validation = len(dm.lengths[(0, "validation")])
    dm.check_shards(1)
    dm.check_shards(validation)  # one row each
    with pytest.raises(DataError) as caught:
        dm.check_shards(validation + 1)
    message = str(caught.value)
    assert "\n" not in message and message.startswith("task.datasets.intermediate (") and message.count("task.") == 1
    assert f"has {validation} row(s)" in message and f"for the {validation + 1} processes" in message
    assert "validation split" in message and message.endswith("give it more rows")
