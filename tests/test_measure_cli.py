"""``python -m itt.measure``: the pairs a config names, their keys, the cache, and the divergence study
(graded embedded domains ranked by the measures; measures joined to ITT gains by the report)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import read_ledger, run_itt, run_sweep
from hydra import compose, initialize_config_dir

from itt import identity, rows, schema
from itt.data.embedded import DIVERGENCE_ORDER
from itt.errors import ConfigError
from itt.measures import MEASURES, pairs
from itt.report.dataset_keys import mixture_key
from itt.tasks import get_task

CONF_DIR = str(Path(__file__).resolve().parent.parent / "conf")
schema.register()
identity.register_resolvers()


def _compose(*overrides: str):
    with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
        return compose("measure", overrides=list(overrides))


# -- fast: pairs, keys, settings, cache keys ---------------------------------------------------------

def test_a_target_names_one_pair_per_evaluated_set_keyed_as_the_ledger_keys_them():
    evals = "+task.evals={de:{path:amazon_reviews_de,lang:de,domain:products,embedded_rows:60}}"
    cfg = _compose("task=sentiment", "+stage=target", "stage.target=domain", "source=embedded", evals)
    found = [(a.names, b.names, a.key, b.key) for a, b in pairs.pairs_of(cfg)]
    assert found == [(("intermediate",), ("domain",), "embedded:sentiment/en/products", "embedded:sentiment/en/movies"),
                     (("intermediate",), ("de",), "embedded:sentiment/en/products", "embedded:sentiment/de/products")]
    assert found[0][3] == rows.dataset_info(cfg, "domain", cfg.task.datasets.domain)["key"]
    itt_false = _compose("task=sentiment", "+stage=target", "stage.target=domain", "source=embedded", evals, "stage.itt=false")
    assert [(a.fingerprint, b.fingerprint) for a, b in pairs.pairs_of(itt_false)] == \
        [(a.fingerprint, b.fingerprint) for a, b in pairs.pairs_of(cfg)]


def test_a_mixture_parent_is_keyed_as_the_report_keys_a_mixture():
    cfg = _compose("task=pawsx_multitask", "+stage=target", "stage.target=target", "source=embedded",
                   "intermediate.steps=[mnli,[mnli,stsb]]", "stage.evals=[]")
    ((a, b),) = pairs.pairs_of(cfg)
    infos = [rows.dataset_info(cfg, r, cfg.task.datasets[r]) for r in ("mnli", "stsb")]
    assert a.names == ("mnli", "stsb") and a.key == mixture_key(infos, infos[0], "embedded")
    assert b.key == "embedded:paraphrase/en/general"


def test_fingerprints_follow_the_data_and_the_split_not_the_names():
    base = ("task=sentiment", "+stage=target", "stage.target=domain", "source=embedded")
    a, b = pairs.pairs_of(_compose(*base))[0]
    assert pairs.pairs_of(_compose(*base, "task.datasets.domain.embedded_rows=100"))[0][1].fingerprint != b.fingerprint
    assert pairs.pairs_of(_compose(*base, "seed=1"))[0][0].fingerprint != a.fingerprint  # another split
    assert pairs.pairs_of(_compose(*base, "model=roberta"))[0][0].fingerprint == a.fingerprint


def test_fingerprints_follow_the_task_options_that_reach_the_datasets():
    """task.options reach every dataset of the task's kind and can change its rows (language_from_id keeps the
    rows whose id names the language), as they change a run's id, but the sides' fingerprints left them out:
    a pair measured before the option was set was served from the cache with the old rows' values."""
    base = ("task=qa", "+stage=target", "stage.target=en", "source=embedded", "stage.evals=[]")
    ((a, b),) = pairs.pairs_of(_compose(*base))
    ((a_opt, b_opt),) = pairs.pairs_of(_compose(*base, "+task.options.language_from_id=true"))
    assert a_opt.fingerprint != a.fingerprint and b_opt.fingerprint != b.fingerprint
    assert (a_opt.key, b_opt.key) == (a.key, b.key)  # the same datasets, so the report joins them alike


def test_cache_keys_name_the_model_only_where_it_matters():
    base = ("task=sentiment", "+stage=target", "source=embedded")
    bert, roberta = _compose(*base), _compose(*base, "model=roberta")
    a, b = pairs.pairs_of(bert)[0]
    params = {"seed": 0}
    key = pairs.cache_key
    assert key(bert, a, b, "vocab_overlap", params, 100, 0) == key(roberta, a, b, "vocab_overlap", params, 100, 0)
    assert key(bert, a, b, "unigram_js", params, 100, 0) != key(roberta, a, b, "unigram_js", params, 100, 0)
    assert key(bert, a, b, "vocab_overlap", params, 100, 0) != key(bert, a, b, "vocab_overlap", params, 200, 0)
    assert key(bert, a, b, "vocab_overlap", {"k": 50}, 100, 0) != key(bert, a, b, "vocab_overlap", {"k": 60}, 100, 0)
    assert key(bert, a, b, "unigram_js", {"k": 50}, 100, 0) == key(bert, a, b, "unigram_js", {"k": 60}, 100, 0)


def test_a_redefined_measure_gets_new_cache_keys_and_the_others_keep_theirs(monkeypatch):
    """vocab_overlap's ties at the cut changed its values (version 2): its rows cached before are computed
    again; a measure still at version 1 keeps the key it always had."""
    cfg = _compose("task=sentiment", "+stage=target", "source=embedded")
    a, b = pairs.pairs_of(cfg)[0]
    now = {name: pairs.cache_key(cfg, a, b, name, {"seed": 0}, 100, 0) for name in ("vocab_overlap", "unigram_js")}
    monkeypatch.setitem(pairs.VERSION, "vocab_overlap", 1)
    monkeypatch.setitem(pairs.VERSION, "unigram_js", 1)
    assert pairs.cache_key(cfg, a, b, "vocab_overlap", {"seed": 0}, 100, 0) != now["vocab_overlap"]
    assert pairs.cache_key(cfg, a, b, "unigram_js", {"seed": 0}, 100, 0) == now["unigram_js"]


def test_a_new_way_of_drawing_the_samples_gives_every_measure_new_cache_keys(monkeypatch):
    """Values cached before each shared item was measured on one side only are computed again, for every measure."""
    cfg = _compose("task=sentiment", "+stage=target", "source=embedded")
    a, b = pairs.pairs_of(cfg)[0]
    now = {name: pairs.cache_key(cfg, a, b, name, {"seed": 0}, 100, 0) for name in MEASURES}
    monkeypatch.setattr(pairs, "SAMPLING", 1)
    assert all(pairs.cache_key(cfg, a, b, name, {"seed": 0}, 100, 0) != key for name, key in now.items())


@pytest.mark.parametrize("override, message", [
    ("measure.names=[vocab_overlap,cosine]", r"measure.names: 'cosine' is not a measure; valid: embedding_cosine, mmd"),
    ("+measure.params.K=5", r"measure.params.K is not a parameter of any measure; valid: "),
    ("measure.sample_size=1", r"measure.sample_size=1 is not valid; use an int >= 2"),
    # were a ValueError traceback (int('abc')), or an error naming mean_pooled_embedder once texts were sampled
    ("measure.seed=abc", r"measure.seed='abc' is not valid; use an int >= 0"),
    ("measure.batch_size=0", r"measure.batch_size=0 is not valid; use an int >= 1"),
    ("measure.max_length=0", r"measure.max_length=0 is not valid; use an int >= 1"),
])
def test_bad_measure_settings_fail_in_one_line(override, message):
    with pytest.raises(ConfigError, match=message):
        pairs.measure_settings(_compose("+stage=target", override))


def test_rows_appended_after_a_torn_line_stay_whole_and_stray_bytes_are_skipped(tmp_path):
    """A killed job's torn last line swallowed the next call's first row (both one unparsable line: the report
    skipped it, the next call measured it again); undecodable bytes were a UnicodeDecodeError traceback."""
    from itt import ledger
    from itt.report.divergence import load_measures

    def now(measure: str) -> str:  # what itt.measure writes with each row
        return f'"version": {pairs.VERSION[measure]}, "sampling": {pairs.SAMPLING}'

    path = tmp_path / pairs.MEASURES_FILE
    path.write_bytes(b'{"a_key": "a", "b_key": "b", "measure": "mmd", "value": 0.1, "cache_key": "k0", '
                     + now("mmd").encode() + b'}\n\xff\xfe\n{"a_key": "to')
    new = [{"a_key": "a", "b_key": "b", "measure": m, "value": 0.2, "cache_key": f"k{i}",
            "version": pairs.VERSION[m], "sampling": pairs.SAMPLING} for i, m in enumerate(("unigram_js", "vocab_overlap"), 1)]
    ledger.append_lines(path, [json.dumps(r) for r in new])  # how itt.measure writes its rows
    assert pairs.measured(tmp_path) == {"k0", "k1", "k2"}
    with pytest.warns(UserWarning, match="skipping measure line"):
        assert sorted(load_measures(tmp_path)["measure"]) == ["mmd", "unigram_js", "vocab_overlap"]


def test_an_intermediate_config_is_refused_with_the_way_out():
    with pytest.raises(ConfigError, match=r"add \+stage=target"):
        pairs.pairs_of(_compose("+stage=intermediate", "source=embedded"))


def test_a_sample_is_embedded_once_for_every_pair_and_measure_and_values_do_not_change(tmp_path, monkeypatch):
    """One intermediate, a target and three eval sets of equal sample size, three embedding measures: the
    intermediate's sample is encoded once for the pairs that draw it alike, not once per pair, and every value
    is the one encoding each pair's samples afresh gives (nothing kept: ``EMBEDDING_CACHE_BYTES = 0``)."""
    from itt.measures import encoders

    job = ("experiment=xtreme_r_demo", "+stage=target", "model=mbert", "task=pawsx", "stage.target=en",
           "stage.evals=[de,es,fr]", "intermediate.steps=[intermediate]", "measure.sample_size=40",
           "measure.names=[embedding_cosine,mmd,proxy_a_distance]")
    encoded, make, budget = [], encoders.mean_pooled_embedder, pairs.EMBEDDING_CACHE_BYTES

    def counting(*args, **kwargs):
        embed = make(*args, **kwargs)

        def counted(texts):
            encoded.append(tuple(texts))
            return embed(texts)

        return counted

    monkeypatch.setattr(encoders, "mean_pooled_embedder", counting)

    def values(root: Path, keep: int) -> dict:
        monkeypatch.setattr(pairs, "_loaded", None)  # no encoder or embeddings left by an earlier test
        monkeypatch.setattr(pairs, "EMBEDDING_CACHE_BYTES", keep)
        encoded.clear()
        found = pairs.run(_compose(*job, f"paths.root={root}", f"paths.cache={tmp_path / 'cache'}"))
        assert {r["n_a"] for r in found} == {r["n_b"] for r in found} == {40}  # one intermediate sample for all
        return {(r["b_role"], r["measure"]): r["value"] for r in found}

    fresh = values(tmp_path / "fresh", keep=0)
    assert len(fresh) == 4 * 3 and len(encoded) == 4 * 2  # each pair encodes its two samples, once for 3 measures
    reused = values(tmp_path / "reused", keep=budget)
    # the intermediate's sample once for the eval sets, and once more for the target, whose rows it holds too
    # (its stand-in is the first rows of the intermediate's: those are measured on the target's side only)
    assert len(encoded) == 2 + 4 and len(set(encoded)) == 6
    assert reused == fresh  # bit for bit


def test_an_item_both_sides_hold_is_measured_on_one_side_only(tmp_path, monkeypatch):
    """The stand-ins of XNLI's English intermediate and target are one stream (rows 0-599 of it are the target's),
    and its German intermediate holds their translations: each pair's two samples share no text and no row id,
    and the row says how many rows it measured on one side only."""
    drawn = []

    class Recording(pairs.TextSample):
        def __init__(self, texts, *args, **kwargs):
            drawn.append(list(texts))
            super().__init__(texts, *args, **kwargs)

    monkeypatch.setattr(pairs, "TextSample", Recording)
    job = ("experiment=xtreme_r_demo", "+stage=target", "model=mbert", "task=xnli", "stage.target=en",
           "stage.evals=[de]", "measure.names=[vocab_overlap]", f"paths.root={tmp_path}",
           f"paths.cache={tmp_path / 'cache'}")
    found = pairs.run(_compose(*job, "intermediate.steps=[intermediate]"))
    (a, target), (_, de) = drawn[:2], drawn[2:]
    assert not set(a) & set(target) and len(a) == len(target) == found[0]["n_a"] > 0
    rows_ = {r["b_role"]: r for r in found}
    assert rows_["en"]["shared_rows_left_out"] > 0 and rows_["de"]["shared_rows_left_out"] == 0  # de: validation/test rows
    assert {(r["version"], r["sampling"]) for r in found} == {(2, pairs.SAMPLING)}

    # the German intermediate's rows are the translations of the English ones: no row id on both sides
    drawn.clear()
    cfg = _compose(*job, "intermediate.steps=[intermediate_translate_train_de]", f"paths.root={tmp_path / 'de'}")
    sides = dict(zip(("a", "en"), pairs.pairs_of(cfg)[0]))
    ids = {side: {k for keys in pairs.side_texts(cfg, s)[0] for k in keys if k.startswith("id:")} for side, s in sides.items()}
    assert ids["a"] & ids["en"]  # they do share items
    found = pairs.run(cfg)
    by_text = {text: keys for side in sides.values() for keys, text in zip(*pairs.side_texts(cfg, side))}
    a_ids, en_ids = ({k for t in texts for k in by_text[t] if k.startswith("id:")} for texts in drawn[:2])
    assert a_ids and en_ids and not a_ids & en_ids


def test_stand_ins_of_two_streams_share_no_item_whatever_aligned_with_joins(tmp_path):
    """experiment=nli_vs_qa_demo sets ``aligned_with: en`` on mnli only to split it with the target by id; its
    stand-in is the nli generator's stream, the target's the paraphrase one: row ``train:7`` of each is another
    item, and no row is left out (were 416 of the intermediate's 831)."""
    cfg = _compose("experiment=nli_vs_qa_demo", "+stage=target", "task=pawsx", "stage.target=en", "stage.evals=[]",
                   "intermediate.steps=[mnli]", "measure.names=[vocab_overlap]", f"paths.root={tmp_path}",
                   f"paths.cache={tmp_path / 'cache'}")
    (row,) = pairs.run(cfg)
    assert row["shared_rows_left_out"] == 0, row


def test_two_sides_of_the_same_items_are_refused_in_one_line(tmp_path, monkeypatch):
    """Nothing would be left on one side once each item is on one side only: a one-line DataError naming the
    pair, not a sample size of 0 the user never set."""
    from itt.errors import DataError

    cfg = _compose("task=sentiment", "+stage=target", "source=embedded", "stage.target=domain",
                   "measure.names=[vocab_overlap]", f"paths.root={tmp_path}", f"paths.cache={tmp_path / 'cache'}")
    monkeypatch.setattr(pairs, "side_texts", lambda cfg, side: ([("text:same",)], ["same"]))
    with pytest.raises(DataError, match=r"^intermediate and domain hold the same items .*no rows are left to compare"):
        pairs.run(cfg)


def test_the_next_job_of_a_sweep_reuses_the_encoder_only_if_its_embeddings_would_be_the_same(monkeypatch):
    monkeypatch.setattr(pairs, "_loaded", None)
    base = ("task=sentiment", "+stage=target", "source=embedded")
    model = pairs._model(_compose(*base, "stage.target=domain"))
    assert pairs._model(_compose(*base, "stage.target=crosslingual", "stage.itt=false")) is model
    for other in ("model=roberta", "measure.max_length=64", "measure.batch_size=8"):
        assert pairs._model(_compose(*base, other)) is not model


def test_row_text_joins_a_rows_strings_for_any_kind():
    task = get_task("sequence_classification")
    assert task.row_text({"text": "good soup", "text_pair": "bad bread", "label": 1}) == "good soup bad bread"
    qa = {"id": "q1", "question": "Who?", "context": "Ada wrote it.", "answers": {"text": ["Ada"], "answer_start": [0]}}
    assert task.row_text(qa) == "Who? Ada wrote it."
    assert task.row_text({"tokens": ["Ada", "wrote"], "tags": [1, 0]}) == "Ada wrote"


# -- slow: the divergence study end to end -------------------------------------------------------------

STUDY = ("experiment=divergence_study", "+stage=target")


@pytest.fixture(scope="module", name="study")
def study_fixture(tmp_path_factory):
    """The divergence study's pairs measured once: (root, rows, stdout)."""
    root = tmp_path_factory.mktemp("divergence")
    result = run_itt("--multirun", *STUDY, root=root, module="itt.measure", timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    lines = (root / pairs.MEASURES_FILE).read_text().splitlines()
    return root, [json.loads(line) for line in lines], result.stdout


def _values(rows_: list[dict], measure: str) -> dict[str, float]:
    return {r["b_key"].split("/")[-1]: r["value"] for r in rows_ if r["measure"] == measure}


@pytest.mark.slow
def test_the_study_measures_every_pair_once_with_every_measure(study):
    _, found, stdout = study
    targets = DIVERGENCE_ORDER["sentiment"][1:]
    assert len(found) == len(targets) * len(MEASURES)  # 8 jobs (ITT on/off) name 4 pairs
    assert {r["a_key"] for r in found} == {"embedded:sentiment/en/products"}
    assert {(r["measure"], r["model"]) for r in found} == {(m, None if m == "vocab_overlap" else "bert") for m in MEASURES}
    assert all(r["n_a"] == r["n_b"] == 420 for r in found)  # 600 generated rows, 70 % train, both sides equal
    for measure in sorted(MEASURES):  # what each measure says, in the test log (docs/divergence.md quotes it)
        print(measure, {k: round(v, 4) for k, v in _values(found, measure).items()})
    assert stdout.count("measures: 0 new row(s)") == 4  # the ITT=false jobs name pairs already measured


@pytest.mark.slow
def test_word_and_token_measures_rank_the_graded_domains_in_their_known_order(study):
    """kitchen < books < movies < tweets away from products, by construction of the generator's lexicons.

    Vocabulary overlap: the whole order. Unigram JS under the tiny model's tokenizer: kitchen below books and
    movies, tweets above both; books and movies differ only in opinion words, a small share of the tokens, and
    their JS values are ~0.002 apart, so which is higher follows the tokenizer's merges (it flipped when the
    tokenizer corpus changed), as ``test_divergence_intermediates`` says for the intermediates' side."""
    _, found, _ = study
    order = DIVERGENCE_ORDER["sentiment"][1:]
    overlap, js = _values(found, "vocab_overlap"), _values(found, "unigram_js")
    assert [overlap[d] for d in order] == sorted((overlap[d] for d in order), reverse=True), overlap
    assert len(set(overlap.values())) == len(order)
    kitchen, books, movies, tweets = (js[d] for d in order)
    assert kitchen < min(books, movies) and max(books, movies) < tweets, js


@pytest.mark.slow
def test_a_second_call_computes_nothing_and_the_report_joins_measures_to_gains(study):
    root, found, _ = study
    again = run_itt(*STUDY, "stage.target=tweets", root=root, module="itt.measure")
    assert again.returncode == 0 and "measures: 0 new row(s)" in again.stdout, again.stderr[-2000:]
    assert len((root / pairs.MEASURES_FILE).read_text().splitlines()) == len(found)

    trained, _ = run_sweep(*STUDY, root=root, timeout=900)
    assert trained.returncode == 0, trained.stderr[-3000:]
    assert sum(r["status"] == "ok" for r in read_ledger(root)) == 9  # 1 intermediate + 4 targets x ITT on/off
    report = run_itt(root=root, module="itt.report")
    assert report.returncode == 0, report.stderr[-3000:]
    import pandas as pd

    joined = pd.read_csv(root / "report" / "divergence.csv")
    per_measure = joined.groupby("measure")["b_key"].nunique().to_dict()  # the study has no eval sets: own test sets
    assert per_measure == {m: 4 for m in MEASURES}, per_measure
    assert set(joined["a_key"]) == {"embedded:sentiment/en/products"} and joined["delta"].notna().all()
    rho = pd.read_csv(root / "report" / "divergence_rho.csv")
    assert set(rho["scope"]) == {"all"}  # own test sets only: no zero-shot points to rank apart
    assert set(rho.loc[rho["model"] == "all", "measure"]) == set(MEASURES)


def test_hub_xlnets_embedding_measures_are_measured_again_now_that_its_segment_ids_reach_it(monkeypatch):
    """XLNet's hub tokenizer returned no segment ids before (itt.models.loading.load_tokenizer): its embedding
    measures from then are other numbers, so new keys; other models, and the stand-in (which had them), keep theirs."""
    from itt import identity

    def keys(*overrides):
        cfg = _compose("task=sentiment", "+stage=target", *overrides)
        a, b = pairs.pairs_of(cfg)[0]
        return pairs.cache_key(cfg, a, b, "embedding_cosine", {"seed": 0}, 100, 0)

    commands = [("model=xlnet", "source=hub"), ("model=xlnet", "source=embedded"), ("model=bert", "source=hub")]
    now = [keys(*c) for c in commands]
    monkeypatch.setattr(identity, "is_xlnet", lambda model_cfg: False)
    before = [keys(*c) for c in commands]
    assert [n != b for n, b in zip(now, before)] == [True, False, False]
