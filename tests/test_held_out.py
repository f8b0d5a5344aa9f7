"""Eval sets that are translations of what a run trains on score none of its training rows' translations
(itt.data.held_out): MLQA's languages next to the cross-lingual QA target, which trains on MLQA German."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
from datasets import Dataset
from hydra import compose, initialize_config_dir

from itt import identity
from itt.data import held_out
from itt.errors import DataError
from itt.tasks import get_task

PARAGRAPHS = 40


def _qa(context: str, question: str, answer: str, row_id: str) -> dict:
    return {"id": row_id, "context": context, "question": question,
            "answers": {"text": [answer], "answer_start": [context.index(answer)]}}


def _mlqa_like(folder, lang: str) -> None:
    """MLQA's shape: a question's translations share its id, but each language groups questions into paragraphs of
    its own. German paragraph k asks q{k}a and q{k}b; the English paragraph k asks q{k}b, q{k+1}a and a question of
    its own, and English has paragraphs of its own (more questions than any other language)."""
    folder.mkdir()
    for split, first in (("test", 0), ("validation", 1000)):
        rows = []
        for k in range(first, first + PARAGRAPHS):
            if lang == "de":
                context = f"Absatz {k} nennt alpha{k} und beta{k}."
                rows += [_qa(context, f"Was nennt Absatz {k} zuerst?", f"alpha{k}", f"q{k}a"),
                         _qa(context, f"Was nennt Absatz {k} danach?", f"beta{k}", f"q{k}b")]
            else:
                context = f"Paragraph {k} names beta{k}, alpha{k + 1} and gamma{k}."
                rows += [_qa(context, f"What comes after alpha{k}?", f"beta{k}", f"q{k}b"),
                         _qa(context, f"What does paragraph {k + 1} name first?", f"alpha{k + 1}", f"q{k + 1}a"),
                         _qa(context, f"What is last in paragraph {k}?", f"gamma{k}", f"e{k}")]
                context = f"Section {k} names delta{k}."  # English only (MLQA en has 11,590 test rows, de 4,517)
                rows += [_qa(context, f"What does section {k} name?", f"delta{k}", f"f{k}")]
        (folder / f"{split}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))


def _cfg(tmp_path, split: str):
    from itt.train import CONF_DIR  # noqa: PLC0415

    _mlqa_like(tmp_path / "de", "de")
    _mlqa_like(tmp_path / "en", "en")
    with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
        return compose("train", overrides=[
            "task=qa", "model=bert", "+stage=target", "stage.target=crosslingual", "stage.itt=false",
            f"split={split}", "stage.evals=[mlqa_en]", f"paths.root={tmp_path / 'out'}",
            f"task.datasets.crosslingual.path={tmp_path / 'de'}", f"task.evals.mlqa_en.path={tmp_path / 'en'}"])


@pytest.mark.parametrize("split", ["official", "paper"])
def test_mlqa_eval_sets_score_no_translation_of_the_german_rows_the_target_trains_on(tmp_path, split):
    """Before: under split=official mlqa_en's test split held the English of every German test question the target
    trains on (MLQA has no train split); under split=paper, split by each paragraph's smallest shared id, a German
    paragraph and the English one holding its question's translation went to different sides (they group other
    questions). Now no scored English question, nor any question of its paragraph, was trained on in German."""
    from itt.build import prepare_data  # noqa: PLC0415
    from itt.models.loading import load_tokenizer, pretrained_source  # noqa: PLC0415

    cfg = _cfg(tmp_path, split)
    spec = identity.resolve(cfg)
    tokenizer = load_tokenizer(pretrained_source(cfg.model, "embedded", tmp_path / "models"))
    (german,), (english,) = prepare_data(spec, tokenizer)
    # the German training questions: every German id that is not in its validation or test rows
    every_german = {f"q{k}{x}" for first in (0, 1000) for k in range(first, first + PARAGRAPHS) for x in "ab"}
    german_held_out = {i for s in german.rows for i in german.rows[s]["id"]}
    trained = every_german - german_held_out
    assert len(german.features["train"]) >= len(trained) > PARAGRAPHS  # (QA windows: one or more per question)
    for s, rows in english.rows.items():
        scored = set(rows["id"])
        assert scored and not scored & trained, (s, sorted(scored & trained)[:5])
        # nor the paragraph of one: every English paragraph scored holds no trained question
        for context in set(rows["context"]):
            k = int(context.split()[1].rstrip("."))
            assert context.startswith("Section") or not {f"q{k}b", f"q{k + 1}a"} & trained, context
    payload = identity.run_payload(spec)
    assert payload["evals"]["mlqa_en"]["without_training_ids_of"] == ["crosslingual"]


def test_the_run_id_names_what_is_left_out_only_where_the_filter_can_act(tmp_path):
    """Classification translations under split=paper are split by the shared id alone (a held-out id is held out in
    every language): nothing to leave out, and their run ids stay as they were."""
    from itt.train import CONF_DIR  # noqa: PLC0415

    with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
        xnli = compose("train", overrides=["task=xnli", "+stage=target", "stage.target=en", "stage.evals=[de,fr]"])
    evals = identity.run_payload(identity.resolve(xnli))["evals"]
    assert all("without_training_ids_of" not in e for e in evals.values())
    # the English target of the QA task trains no MLQA: its MLQA eval sets leave nothing out either
    cfg = _cfg(tmp_path, "official")
    cfg.stage.target = "en"
    evals = identity.run_payload(identity.resolve(cfg))["evals"]
    assert "mlqa_en" in evals and "without_training_ids_of" not in evals["mlqa_en"]


def test_without_trained_leaves_out_a_whole_paragraph_and_refuses_to_leave_nothing():
    qa = get_task("extractive_qa", "f1", {})
    rows = Dataset.from_list([_qa("Paragraph one names x.", "a?", "x", "1"), _qa("Paragraph one names x.", "b?", "x", "2"),
                              _qa("Paragraph two names y.", "c?", "y", "3")])
    trained = held_out.id_keys(Dataset.from_dict({"id": ["2", "9"]}))
    kept = held_out.without_trained({"test": rows}, qa, trained, "task.evals.x")["test"]
    assert kept["id"] == ["3"]  # id 1 goes with id 2's paragraph
    with pytest.raises(DataError, match=r"task.evals.x: all 3 test rows are translations"):
        held_out.without_trained({"test": rows}, qa, held_out.id_keys(Dataset.from_dict({"id": ["1", "3"]})), "task.evals.x")
    cls = get_task("sequence_classification", "acc", {})
    plain = Dataset.from_dict({"id": ["1", "2", "3"], "text": ["a", "b", "c"], "label": [0, 1, 0]})
    assert held_out.without_trained({"test": plain}, cls, trained, "e")["test"]["id"] == ["1", "3"]
    assert held_out.digest(trained) != held_out.digest(np.empty(0, dtype=np.uint64))


def test_translations_an_intermediate_step_trained_on_are_counted_and_said_not_left_out(tmp_path, caplog):
    """An English target after an intermediate step on MLQA German, scored on mlqa_en: the translations of the
    German training rows stay scored (the no-ITT run scores them too, so the two stay paired), but they were
    neither left out nor counted (the overlap count matches identical text only). Now one line counts them."""
    from itt.build import prepare_data  # noqa: PLC0415
    from itt.models.loading import load_tokenizer, pretrained_source  # noqa: PLC0415

    cfg = _cfg(tmp_path, "official")
    squad = tmp_path / "squad"
    squad.mkdir()
    for split in ("train", "validation"):
        rows = [_qa(f"Story {i} names omega{i}.", f"What does story {i} name?", f"omega{i}", f"s{split}{i}")
                for i in range(60)]
        (squad / f"{split}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    cfg.task.datasets.en.path = str(squad)
    cfg.stage.target, cfg.stage.itt, cfg.intermediate.steps = "en", True, ["crosslingual"]
    spec = identity.resolve(cfg)
    assert spec.roles == ("en",) and spec.parent.roles == ("crosslingual",)
    assert "without_training_ids_of" not in identity.run_payload(spec)["evals"]["mlqa_en"]  # nothing left out
    tokenizer = load_tokenizer(pretrained_source(cfg.model, "embedded", tmp_path / "models"))
    with caplog.at_level("WARNING", logger="itt.build"):
        _, (english,) = prepare_data(spec, tokenizer)
    [line] = [r.getMessage() for r in caplog.records if "translations of rows the step before it" in r.getMessage()]
    assert "task.evals.mlqa_en" in line and "crosslingual" in line and "leave the eval set out" in line
    counts = {split: (int(n), int(m)) for n, m, split in re.findall(r"(\d+) of (\d+) (validation|test)", line)}
    assert counts and all(0 < n < m == len(english.rows[split]) for split, (n, m) in counts.items()), counts


def test_run_ids_change_only_where_rows_can_be_left_out(tmp_path):
    """The QA stand-ins under source=embedded are one generator stream, split by their ids alone: nothing to leave
    out, so their run ids keep what they were (the marker names only sets linked by aligned_with)."""
    from itt.train import CONF_DIR  # noqa: PLC0415

    with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
        embedded = compose("train", overrides=["task=qa", "+stage=target", "stage.target=en", "source=embedded"])
        official = compose("train", overrides=["task=xnli", "+stage=target", "stage.target=en", "split=official"])
    for cfg in (embedded, official):
        evals = identity.run_payload(identity.resolve(cfg))["evals"]
        assert evals and all("without_training_ids_of" not in e for e in evals.values())


def test_an_aligned_eval_set_sharing_no_row_id_with_the_trained_set_is_said(tmp_path, caplog):
    """That MLQA's languages share question ids is what aligned_with rests on (checked here on a replica only): ids
    that name no translation (another numbering per language) would keep nothing out, silently. Now one line says
    so; with shared ids, nothing is said."""
    from itt.build import prepare_data  # noqa: PLC0415
    from itt.models.loading import load_tokenizer, pretrained_source  # noqa: PLC0415

    cfg = _cfg(tmp_path, "paper")
    tokenizer = load_tokenizer(pretrained_source(cfg.model, "embedded", tmp_path / "models"))
    with caplog.at_level("WARNING", logger="itt.build"):
        prepare_data(identity.resolve(cfg), tokenizer)
    assert not [r for r in caplog.records if "row ids is one of theirs" in r.getMessage()]
    for split in ("test", "validation"):  # English renumbered: no id in common with German
        path = tmp_path / "en" / f"{split}.jsonl"
        rows = [json.loads(line) for line in path.read_text().splitlines()]
        path.write_text("".join(json.dumps({**r, "id": f"en-{r['id']}"}) + "\n" for r in rows))
    caplog.clear()
    with caplog.at_level("WARNING", logger="itt.build"):
        prepare_data(identity.resolve(cfg), tokenizer)
    [line] = [r.getMessage() for r in caplog.records if "row ids is one of theirs" in r.getMessage()]
    assert "task.evals.mlqa_en" in line and "aligned_with crosslingual" in line and "id_field" in line


def _mlqa_pattern(tmp_path, split: str = "official", *extra: str):
    """t6's shape: a German target trained on its dataset's ``test`` split (MLQA has no train split), an English eval
    set whose ``test`` split holds their translations row by row, no ``id_field`` (row positions are the ids)."""
    from itt.train import CONF_DIR  # noqa: PLC0415

    for lang in ("de", "en"):
        (tmp_path / lang).mkdir(parents=True)
        for s, n in (("validation", 40), ("test", 200)):
            rows = "".join(f"{lang} {s} item {i},{'pos' if i % 2 else 'neg'}\n" for i in range(n))
            (tmp_path / lang / f"{s}.csv").write_text("text,label\n" + rows)
    with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
        return compose("train", overrides=[
            "task=sentiment", "model=bert", "+stage=target", "stage.target=crosslingual", "stage.itt=false",
            f"split={split}", f"paths.root={tmp_path / 'out'}", f"paths.cache={tmp_path / 'cache'}",
            f"task.datasets.crosslingual.path={tmp_path / 'de'}", "task.datasets.crosslingual.subset=null",
            "task.datasets.crosslingual.label_map=null", "task.datasets.crosslingual.labels=[neg,pos]",
            "task.datasets.crosslingual.splits={train: test, validation: validation, test: null}",
            "task.datasets.crosslingual.max_rows=null", "stage.evals=[en]",
            f"+task.evals={{en: {{path: {tmp_path / 'en'}, aligned_with: crosslingual, labels: [neg, pos], lang: en, "
            "splits: {train: null, validation: validation, test: test}}}", *extra])


@pytest.mark.parametrize("split", ["official", "paper"])
def test_row_positions_are_named_after_the_datasets_own_split_so_translations_of_training_rows_are_left_out(tmp_path, split):
    """A target trained on its dataset's ``test`` split (``splits: {train: test}``, the MLQA pattern) had positional ids
    ``train:<row>`` (the canonical split's name), which never meet the aligned eval set's ``test:<row>``: under
    split=official nothing was left out, and 171 of the eval set's 200 test rows were translations of training rows.
    Now ids name the dataset's own split (``test:<row>``) and no scored row's translation is trained on."""
    from itt.build import prepare_data  # noqa: PLC0415
    from itt.models.loading import load_tokenizer, pretrained_source  # noqa: PLC0415

    cfg = _mlqa_pattern(tmp_path, split)
    spec = identity.resolve(cfg)
    tokenizer = load_tokenizer(pretrained_source(cfg.model, "embedded", tmp_path / "models"))
    (german,), (english,) = prepare_data(spec, tokenizer)
    # row i of a split in German is the translation of row i of that split in English: "<lang> <split> item <i>"
    def items(rows):
        return {f"{words[1]}:{words[3]}" for words in map(str.split, rows["text"])}

    held = set().union(*map(items, german.rows.values()))
    trained = {f"{s}:{i}" for s, n in (("validation", 40), ("test", 200)) for i in range(n)} - held
    assert len(german.features["train"]) == len(trained) > 100
    scored = set().union(*map(items, english.rows.values()))
    assert scored and not scored & trained, f"{len(scored & trained)} scored rows are translations of training rows"
    # the ids say the same: each row's id is its place in its dataset's own split
    assert all(items(rows) == set(rows["id"]) for rows in [*german.rows.values(), *english.rows.values()])
    if split == "official":  # the English test split keeps the rows whose German the target does not train on
        assert 0 < len(english.rows["test"]) < 200 and len(english.rows["validation"]) == 40


def test_run_ids_change_where_positional_ids_now_split_or_leave_out_other_rows(tmp_path):
    """Ids named after the dataset's own split change a run where they split other rows or leave out others: under
    split=paper any aligned dataset (or eval set) without an id_field reading a split named otherwise than its canonical
    one (MNLI's validation_matched, STS-B's dev), under split=official a target that carves a split from a training
    split named otherwise, and an eval set that now leaves out its translations. Nowhere else."""
    def markers(cfg) -> set[str]:
        payload = identity.run_payload(identity.resolve(cfg))
        named = {**payload["datasets"], **payload["evals"]}
        if identity.resolve(cfg).parent is not None:
            named.update(identity.run_payload(identity.resolve(cfg).parent)["datasets"])
        return {name for name, p in named.items() if "positional_ids" in p}

    mlqa = _mlqa_pattern(tmp_path / "a", "official")
    assert markers(mlqa) == {"crosslingual", "en"}
    # the prepared-data cache: an entry holds its rows' ids, so one whose ids are named otherwise now is built again
    from itt.build import dataset_spec, task_of  # noqa: PLC0415
    from itt.data.preparation import Protocol, changed_splits  # noqa: PLC0415

    protocol = Protocol(mlqa.split, 0, "hub", 128, tmp_path / "cache")

    def cache_entries(node, **kw):
        return changed_splits(dataset_spec(node, mlqa), task_of(mlqa, node), protocol, **kw)

    target, english = mlqa.task.datasets.crosslingual, mlqa.task.evals.en
    assert cache_entries(target, by_id=True, eval_only=False)["positional_ids"] == "dataset_split"
    assert "positional_ids" not in cache_entries(english, by_id=True, eval_only=True)  # splits of canonical names
    assert "positional_ids" not in cache_entries(target, by_id=False, eval_only=False)  # no ids
    assert markers(_mlqa_pattern(tmp_path / "b", "paper")) == {"crosslingual"}  # English reads validation and test
    # its splits declared (no carve) and nothing to leave out: ids that are never compared change nothing
    declared = _mlqa_pattern(tmp_path / "c", "official",
                             "task.datasets.crosslingual.splits={train: test, validation: validation, test: validation}",
                             "task.evals.en.splits={train: null, validation: validation, test: validation}")
    assert markers(declared) == set()
    from itt.train import CONF_DIR  # noqa: PLC0415

    with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
        def task(*overrides):
            return markers(compose("train", overrides=["+stage=target", "source=hub", *overrides]))

        assert task("task=xnli", "stage.target=en", "split=paper", "stage.evals=[de,fr]") == {"intermediate"}
        assert task("task=xnli", "stage.target=en", "split=official", "stage.evals=[de,fr]") == set()
        assert task("task=sentence_similarity", "stage.target=crosslingual", "split=paper") == {"crosslingual", "intermediate"}
        assert task("task=sentence_similarity", "stage.target=crosslingual", "split=official") == set()
        assert task("task=pawsx", "stage.target=en", "split=paper", "stage.evals=[de,fr]") == set()
        assert task("task=qa", "stage.target=crosslingual", "split=official") == set()  # MLQA: question ids
        for split in ("paper", "official"):  # stand-ins: ids are places in the generator's stream
            assert task("task=xnli", "stage.target=en", f"split={split}", "source=embedded") == set()
