"""Items an ITT target is tested on that its intermediate trained on: counted, recorded, warned, reported
(``itt.data.overlap``). Local tsv files on the tiny embedded encoders: no network, seconds per run."""

from __future__ import annotations

import csv
import logging
import random
from pathlib import Path

import numpy as np
import pytest
from hydra import compose, initialize_config_dir

from itt import ledger, pipeline
from itt.build import dataset_spec, task_of
from itt.data import overlap
from itt.data.preparation import Protocol, split_rows
from itt.train import CONF_DIR

WORDS = ("good fine great lovely superb nice bad awful poor broken dull sad item phone book lamp chair film "
         "song road cup table screen box pen shoe coat bag desk door bike car train").split()


def sentences(n: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    out = set()
    while len(out) < n:
        out.add(" ".join(rng.choices(WORDS, k=rng.randint(6, 12))))
    return sorted(out)


def write_tsv(path: Path, texts: list[str]) -> Path:
    with path.open("w", newline="") as f:
        writer = csv.writer(f, delimiter="\t")
        writer.writerow(["text", "label"])
        writer.writerows([t, "pos" if i % 2 else "neg"] for i, t in enumerate(texts))
    return path


def spec_overrides(role: str, path: Path) -> list[str]:
    return [f"task.datasets.{role}.path={path}", f"task.datasets.{role}.text_fields=[text]",
            f"task.datasets.{role}.label_field=label", f"task.datasets.{role}.labels=[neg,pos]",
            f"task.datasets.{role}.label_map=null", f"task.datasets.{role}.max_rows=null",
            f"task.datasets.{role}.splits={{train: train, validation: null, test: null}}"]


def make(root: Path, *overrides: str, task: str = "sentiment"):
    with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
        return compose("train", overrides=["source=embedded", "logger=csv", "trainer.max_epochs=1", "model=bert",
                                           f"task={task}", "+stage=target", "stage.target=domain",
                                           f"paths.root={root}", *overrides])


@pytest.fixture
def data(tmp_path):
    inter = sentences(400, 0)
    own = [t for t in sentences(260, 1) if t not in set(inter)][:120]
    copied = inter[:80]  # target rows that are intermediate rows (whitespace changed: still the same item)
    target = own + ["  " + t.replace(" ", "   ", 1) for t in copied]
    random.Random(2).shuffle(target)
    return {"intermediate": write_tsv(tmp_path / "inter.tsv", inter), "leaky": write_tsv(tmp_path / "leaky.tsv", target),
            "clean": write_tsv(tmp_path / "clean.tsv", own), "copied": copied}


def expected_overlap(cfg, copied: list[str]) -> int:
    """Copied rows in the target's test split that the intermediate's training split holds, counted on the
    texts themselves (not on item keys)."""
    protocol = Protocol(cfg.split, cfg.seed, cfg.source.name, 128, Path(cfg.paths.cache))
    splits = {}
    for role in ("intermediate", "domain"):
        node = cfg.task.datasets[role]
        splits[role] = split_rows(dataset_spec(node, cfg), task_of(cfg, node), protocol)[0]
    trained = {" ".join(t.split()) for t in splits["intermediate"]["train"]["text"][:]}
    test = [" ".join(t.split()) for t in splits["domain"]["test"]["text"][:]]
    return sum(t in trained for t in test)


@pytest.mark.slow
def test_an_itt_target_tested_on_its_intermediates_training_items_says_how_many(tmp_path, data, caplog):
    over = [*spec_overrides("intermediate", data["intermediate"]), *spec_overrides("domain", data["leaky"])]
    caplog.set_level(logging.WARNING)
    itt = pipeline.run(make(tmp_path, *over))
    expected = expected_overlap(make(tmp_path, *over), data["copied"])
    assert expected > 0  # the fixture must put some copied rows into the target's test split
    record = itt["overlap"]
    parent = itt["parent_run_id"]
    assert record["checked"] and record["ancestors"] == [parent] and record["test"] == expected
    assert record["by_ancestor"] == [expected] and record["validation"] > 0
    assert record["self"] == {"validation": 0, "test": 0, "evals": {}}  # the target holds no duplicates of its own
    warnings = [r.getMessage() for r in caplog.records if r.name == overlap.log.name]
    assert len(warnings) == 1, warnings
    assert f"{expected} of {itt['n_test']} test" in warnings[0] and parent in warnings[0] and "split=official" in warnings[0]
    assert ledger.latest_ok(tmp_path, itt["run_id"])["overlap"] == record
    # The intermediate wrote what its descendants check against: its training items, sorted and unique.
    keys = np.load(tmp_path / "runs" / parent / overlap.FILE)
    assert keys.dtype == np.uint64 and len(keys) == 280 and np.all(keys[1:] > keys[:-1])

    # The no-ITT sibling keeps every test item (the paired comparison needs the same test set).
    none = pipeline.run(make(tmp_path, *over, "stage.itt=false"))
    assert none["n_test"] == itt["n_test"] and none["overlap"]["ancestors"] == [] and none["overlap"]["test"] == 0

    from itt.report import Bootstrap, build_report, load_ledger, write_outputs

    written = write_outputs(build_report(load_ledger(tmp_path / "results.jsonl"), bootstrap=Bootstrap(resamples=0)),
                            tmp_path / "report")
    with open(written["csv"]) as f:
        cells = list(csv.DictReader(f))
    assert [int(c["test_overlap"]) for c in cells] == [expected]
    markdown = written["markdown"].read_text()
    assert "†" in markdown and f"bert intermediate: {expected} of {itt['n_test']}" in markdown
    assert "$^\\dagger$" in written["latex"].read_text()


@pytest.mark.slow
def test_a_clean_itt_target_records_zero_and_an_unrecorded_ancestor_is_said(tmp_path, data, caplog):
    over = [*spec_overrides("intermediate", data["intermediate"]), *spec_overrides("domain", data["clean"])]
    caplog.set_level(logging.WARNING)
    row = pipeline.run(make(tmp_path, *over))
    assert row["overlap"]["checked"] and row["overlap"]["test"] == 0 and row["overlap"]["validation"] == 0
    assert row["overlap"]["ancestors"] == [row["parent_run_id"]]
    assert not [r for r in caplog.records if r.name == overlap.log.name]

    # An intermediate trained before its items were recorded: not checked, and why; the run still succeeds.
    (tmp_path / "runs" / row["parent_run_id"] / overlap.FILE).unlink()
    again = pipeline.run(make(tmp_path, *over, "force=true"))
    assert again["status"] == "ok" and again["overlap"]["checked"] is False and again["overlap"]["test"] is None
    assert row["parent_run_id"] in again["overlap"]["reason"]


def test_item_keys_join_a_kinds_text_fields_and_ignore_whitespace_and_labels():
    from datasets import Dataset

    from itt.tasks import get_task

    tokens = get_task("token_classification")
    rows = Dataset.from_dict({"tokens": [["The", "cat", "sat"], ["The", "cat"]], "tags": [[1, 2, 3], [1, 2]]})
    texts = get_task("sequence_classification")
    pairs = Dataset.from_dict({"text": ["The  cat\tsat", "a"], "text_pair": ["b", "c"], "label": [0, 1]})
    single = Dataset.from_dict({"text": ["The cat sat ", "a c"], "label": [1, 1]})
    a, b, c = overlap.item_keys(tokens, rows), overlap.item_keys(texts, single), overlap.item_keys(texts, pairs)
    assert a[0] == b[0] and a[0] != a[1]  # tokens joined = the same sentence as text, labels ignored
    assert c[1] == b[1] and c[0] != b[0]  # a pair is both of its texts
    assert overlap.count_in(np.concatenate([a, a[:1]]), overlap.fingerprint(b)) == 2  # duplicates each counted
    qa = Dataset.from_dict({"id": ["x", "y"], "question": ["The cat", "a"], "context": ["sat", "c"],
                            "answers": [{"text": ["sat"], "answer_start": [0]}, {"text": ["c"], "answer_start": [0]}]})
    assert list(overlap.item_keys(get_task("extractive_qa"), qa)) == list(b)  # question and context; id, answers not

    class OwnText(type(texts)):  # a kind with its own row_text is read row by row, to the same keys
        def row_text(self, row):
            return super().row_text(row)

    assert list(overlap.item_keys(OwnText(), pairs)) == list(c)


def test_a_cache_entry_from_before_item_keys_gets_them_without_tokenizing_again(tmp_path, monkeypatch):
    from itt import identity
    from itt.build import prepare_data
    from itt.models.loading import load_tokenizer, pretrained_source

    cfg = make(tmp_path, "task.datasets.domain.embedded_rows=200", "stage.itt=false")
    tok = load_tokenizer(pretrained_source(cfg.model, cfg.source.name, cfg.paths.cache))
    (first,), _ = prepare_data(identity.resolve(cfg), tok)
    assert set(first.items) == {"train", "validation", "test"}
    assert [len(first.items[s]) for s in ("validation", "test")] == [len(first.rows[s]) for s in ("validation", "test")]
    (entry,) = [p for p in (tmp_path / "cache" / "prepared").iterdir() if p.is_dir()]
    for path in entry.glob("items-*.npy"):
        path.unlink()

    def no_tokenizing(*args, **kwargs):
        raise AssertionError("tokenized again")

    monkeypatch.setattr(type(first.task), "encode", no_tokenizing)
    (second,), _ = prepare_data(identity.resolve(cfg), tok)
    assert second.cache_hit and all(np.array_equal(second.items[s], first.items[s]) for s in first.items)
    assert sorted(p.name for p in entry.glob("items-*.npy")) == ["items-test.npy", "items-train.npy", "items-validation.npy"]


def test_the_overlap_footnote_gives_the_test_sizes_the_runs_had():
    # Under split=paper each seed draws its own test split: the chain study's seed 0 had 309 PAWS-X test items (5 of
    # them in its intermediate's training items), seed 1 294 (4). The footnote paired the most over seeds with the
    # fewest items ("5 of 294"), a size the run with 5 did not have.
    import pandas as pd  # noqa: PLC0415

    from itt.report.tables import overlap_note  # noqa: PLC0415

    sec = pd.DataFrame([{"model": "me5_small", "itt_variant": "pawsx_de", "test_overlap": 5, "n_items": 294,
                         "n_items_max": 309},
                        {"model": "me5_small", "itt_variant": "xnli_en", "test_overlap": 0, "n_items": 294,
                         "n_items_max": 309},
                        {"model": "me5_small", "itt_variant": "a>b", "test_overlap": 2, "n_items": 300,
                         "n_items_max": 300}])
    note = overlap_note(sec)
    assert "me5_small pawsx_de: 5 of 294–309 items per run" in note and "xnli_en" not in note
    assert "me5_small a>b: 2 of 300 items per run" in note


# -- multiple choice: an item is its premise, question and right choice ------------------------------------------

def choice_rows(n: int, seed: int) -> list[dict]:
    """Questions with three distinct answers, the right one at a random place."""
    rng = random.Random(seed)
    answers = sentences(3 * n, seed + 100)
    rng.shuffle(answers)
    return [{"premise": premise, "question": f"why {i % 7}?", "choices": answers[3 * i:3 * i + 3], "label": rng.randrange(3)}
            for i, premise in enumerate(sentences(n, seed))]


def write_choice_csv(path: Path, rows: list[dict]) -> Path:
    width = len(rows[0]["choices"])
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["premise", "question", *(f"choice{i}" for i in range(width)), "label"])
        writer.writerows([r["premise"], r["question"], *r["choices"], r["label"]] for r in rows)
    return path


def choice_overrides(role: str, path: Path, width: int) -> list[str]:
    # a file of its own: not COPA, so not the translation of XCOPA's rows task=copa declares its COPA roles to be
    return [f"task.datasets.{role}.path={path}", f"task.datasets.{role}.subset=null", f"task.datasets.{role}.revision=null",
            f"task.datasets.{role}.aligned_with=null",
            f"task.datasets.{role}.text_fields=[premise,question,{','.join(f'choice{i}' for i in range(width))}]",
            f"task.datasets.{role}.label_field=label", f"task.datasets.{role}.label_map=null",
            f"task.datasets.{role}.max_rows=null", f"task.datasets.{role}.splits={{train: train, validation: null, test: null}}"]


def right(row: dict) -> str:
    return row["choices"][row["label"]]


def reworded(inter: list[dict], seed: int) -> dict[str, list[dict]]:
    """Two-choice rows made from three-choice intermediate rows, by how they differ from them: (a) another wrong
    choice, (b) two of its choices in the other order (the label follows the right one), (c) its choices but one
    wrong one, in their order; and (d) the same premise and question with another right answer."""
    rng = random.Random(seed)
    fresh = iter(sentences(400, seed + 200))
    out = {"other_wrong": [], "swapped": [], "fewer": [], "other_answer": []}
    for i, row in enumerate(inter):
        wrong = [c for j, c in enumerate(row["choices"]) if j != row["label"]]
        base = {"premise": row["premise"], "question": row["question"]}
        case = list(out)[i % 4]
        if case == "other_wrong":
            choices = [right(row), next(fresh)][::rng.choice((1, -1))]
        elif case == "swapped":
            choices = [wrong[0], right(row)] if row["label"] == 0 else [right(row), wrong[0]]
        elif case == "fewer":
            choices = [c for c in row["choices"] if c != wrong[-1]]
        else:  # the intermediate's right answer is now the wrong one
            answer = next(fresh)
            choices = [answer, right(row)][::rng.choice((1, -1))]
            out[case].append({**base, "choices": choices, "label": choices.index(answer)})
            continue
        out[case].append({**base, "choices": choices, "label": choices.index(right(row))})
    return out


def test_a_multiple_choice_item_is_its_premise_question_and_right_choice():
    from datasets import Dataset

    from itt.tasks import get_task

    task = get_task("multiple_choice")
    inter = choice_rows(8, 0)
    made = reworded(inter, 1)

    def keys(rows):
        return overlap.item_keys(task, Dataset.from_list(rows))

    originals = {r["premise"]: k for r, k in zip(inter, keys(inter))}
    for case in ("other_wrong", "swapped", "fewer"):
        assert [originals[r["premise"]] for r in made[case]] == list(keys(made[case])), case
    assert not set(keys(made["other_answer"])) & set(originals.values())
    spaced = [{**r, "premise": "  " + r["premise"].replace(" ", "\t", 1)} for r in made["fewer"]]
    assert list(keys(spaced)) == list(keys(made["fewer"]))  # whitespace aside, as for every kind
    # The divergence measures still read every choice and no label.
    assert all(c in task.row_text(inter[0]) for c in inter[0]["choices"])


@pytest.mark.slow
def test_an_itt_target_repeating_its_intermediates_questions_with_other_choices_says_how_many(tmp_path, caplog):
    inter = choice_rows(300, 0)
    made = reworded(inter[:160], 1)
    own = [r for r in choice_rows(100, 5) if r["premise"] not in {i["premise"] for i in inter}]
    target = [{**r, "choices": r["choices"][:2], "label": min(r["label"], 1)} for r in own] + [r for rs in made.values() for r in rs]
    random.Random(3).shuffle(target)
    over = [*choice_overrides("intermediate", write_choice_csv(tmp_path / "inter.csv", inter), 3),
            *choice_overrides("domain", write_choice_csv(tmp_path / "target.csv", target), 2)]
    caplog.set_level(logging.WARNING)
    row = pipeline.run(make(tmp_path, *over, task="copa"))

    cfg = make(tmp_path, *over, task="copa")
    protocol = Protocol(cfg.split, cfg.seed, cfg.source.name, 128, Path(cfg.paths.cache))
    split = {role: split_rows(dataset_spec(cfg.task.datasets[role], cfg), task_of(cfg, cfg.task.datasets[role]), protocol)[0]
             for role in ("intermediate", "domain")}
    trained = {r["premise"]: r for r in split["intermediate"]["train"].to_list()}
    case_of = {r["premise"]: case for case, rs in made.items() for r in rs}
    tested = [r for r in split["domain"]["test"].to_list() if r["premise"] in trained]
    by_case = {case: sum(case_of[r["premise"]] == case for r in tested) for case in made}
    assert all(by_case.values()), by_case  # every kind of rewording has test rows whose question the intermediate trained on
    expected = sum(by_case[case] for case in ("other_wrong", "swapped", "fewer"))
    assert row["overlap"]["checked"] and row["overlap"]["test"] == expected
    warnings = [r.getMessage() for r in caplog.records if r.name == overlap.log.name]
    assert len(warnings) == 1 and f"{expected} of {row['n_test']} test" in warnings[0], warnings
    parent = tmp_path / "runs" / row["parent_run_id"]
    assert overlap.read_versions(parent) == {"multiple_choice": 2}

    # An intermediate whose keys were made before multiple-choice items were keyed this way: not compared (its 0
    # would be silent), and the row says what reruns it.
    (parent / overlap.VERSIONS).unlink()
    again = pipeline.run(make(tmp_path, *over, "force=true", task="copa"))
    assert again["status"] == "ok" and again["overlap"]["checked"] is False and again["overlap"]["test"] is None
    assert row["parent_run_id"] in again["overlap"]["reason"] and "force=true" in again["overlap"]["reason"]


def test_an_ancestor_keyed_under_another_item_version_is_unchecked_and_other_kinds_stay_checked(tmp_path):
    from types import SimpleNamespace

    from itt.tasks import get_task

    task = get_task("multiple_choice")
    keys = np.arange(10, dtype=np.uint64)
    target = SimpleNamespace(task=task, items={"train": keys[:4], "validation": keys[4:6], "test": keys[6:]})
    versions = overlap.item_versions([target])
    assert versions == {"multiple_choice": task.item_version} and task.item_version > 1
    now, before, other = tmp_path / "now", tmp_path / "before", tmp_path / "other"
    for run_dir in (now, before, other):
        run_dir.mkdir()
    overlap.write(now, keys[6:8], versions)
    np.save(before / overlap.FILE, keys[6:9])  # written before versions: multiple choice keyed every choice then
    np.save(other / overlap.FILE, keys[8:10])  # an ancestor of a kind whose items are keyed as they were

    _, record = overlap.measure([target], [], [("now", now, ["multiple_choice"]), ("other", other, ["sequence_classification"])])
    assert record["checked"] and record["test"] == 4 and record["by_ancestor"] == [2, 2]
    _, record = overlap.measure([target], [], [("now", now, ["multiple_choice"]), ("old_run", before, ["multiple_choice"])])
    assert record["checked"] is False and record["test"] is None
    assert "old_run" in record["reason"] and "multiple_choice" in record["reason"] and "force=true" in record["reason"]


def test_a_cached_multiple_choice_entry_with_every_choice_keys_gets_new_ones_without_tokenizing_again(tmp_path, monkeypatch):
    from itt import identity
    from itt.build import prepare_data
    from itt.models.loading import load_tokenizer, pretrained_source
    from itt.tasks.multiple_choice import MultipleChoice

    rows = choice_rows(60, 0)
    cfg = make(tmp_path, "stage.itt=false", *choice_overrides("domain", write_choice_csv(tmp_path / "t.csv", rows), 3), task="copa")
    tok = load_tokenizer(pretrained_source(cfg.model, cfg.source.name, cfg.paths.cache))
    (first,), _ = prepare_data(identity.resolve(cfg), tok)
    (entry,) = [p for p in (tmp_path / "cache" / "prepared").iterdir() if p.is_dir()]

    class EveryChoice(MultipleChoice):  # the key before items were premise, question and right choice
        def item_text(self, row):
            return self.row_text(row)

    old = {s: overlap.item_keys(EveryChoice(), split) for s, split in split_rows(
        dataset_spec(cfg.task.datasets.domain, cfg), task_of(cfg, cfg.task.datasets.domain),
        Protocol(cfg.split, cfg.seed, cfg.source.name, 128, Path(cfg.paths.cache)))[0].items()}
    assert all(not np.array_equal(old[s], first.items[s]) for s in first.items)
    for s, keys in old.items():  # the entry as the code before item versions left it
        np.save(entry / f"items-{s}.npy", keys)
    (entry / "items.json").unlink(missing_ok=True)

    def no_tokenizing(*args, **kwargs):
        raise AssertionError("tokenized again")

    monkeypatch.setattr(MultipleChoice, "encode", no_tokenizing)
    (second,), _ = prepare_data(identity.resolve(cfg), tok)
    assert second.cache_hit and all(np.array_equal(second.items[s], first.items[s]) for s in first.items)
    assert all(np.array_equal(np.load(entry / f"items-{s}.npy"), first.items[s]) for s in first.items)


def test_every_set_a_run_scores_is_checked_mixture_members_and_eval_validation_too(tmp_path, caplog):
    """A later chain step that is a mixture scores each member under its name (``test/<member>/...``), and an
    eval set's validation split picks the checkpoint under ``select_on``: all of them are counted, not only the
    first member's splits and the eval sets' test splits."""
    from types import SimpleNamespace

    from itt.report.long_table import test_overlap
    from itt.tasks import get_task

    task = get_task("sequence_classification")
    keys = np.arange(100, dtype=np.uint64)

    def prepared(name, train, validation, test):
        items = {"validation": keys[validation], "test": keys[test], **({"train": keys[train]} if train else {})}
        return SimpleNamespace(name=name, task=task, items=items)

    first = prepared("a", slice(0, 10), slice(10, 15), slice(15, 20))
    second = prepared("b", slice(20, 30), slice(30, 35), slice(35, 40))
    xeval = prepared("x", None, slice(40, 45), slice(45, 50))
    ancestor = tmp_path / "anc"
    ancestor.mkdir()
    # The ancestor trained on 3 of b's test items, 2 of b's validation items and 4 of x's validation items.
    overlap.write(ancestor, np.sort(keys[[36, 37, 38, 30, 31, 40, 41, 42, 43, 90]]), overlap.item_versions([first]))

    _, record = overlap.measure([first, second], [xeval], [("anc", ancestor, ["sequence_classification"])])
    assert record["checked"] and (record["validation"], record["test"]) == (0, 0)
    assert record["evals"] == {"a": 0, "b": 3, "x": 0}
    assert record["evals_validation"] == {"a": 0, "b": 2, "x": 4}
    # The report reads a member's count under the name it is scored by.
    assert test_overlap({"overlap": record}, "b", own=False) == 3
    caplog.set_level(logging.WARNING)
    overlap.warn("run", record, {"test": 5, "validation": 5})
    [line] = [r.getMessage() for r in caplog.records if r.name == overlap.log.name]
    assert "eval sets' test: b 3" in line and "eval sets' validation: b 2, x 4" in line

    # A single training set is the run's own: counted as validation/test, not again under its name.
    _, single = overlap.measure([second], [xeval], [("anc", ancestor, ["sequence_classification"])])
    assert (single["validation"], single["test"]) == (2, 3)
    assert single["evals"] == {"x": 0} and single["evals_validation"] == {"x": 4}


def test_an_eval_sets_test_items_the_run_trains_on_are_counted_and_said_without_ancestors(caplog):
    """A no-ITT run has no ancestors, so its eval sets were never compared with anything: an eval set holding the
    target's training rows (a local file carved from the same corpus) read as a clean score."""
    from types import SimpleNamespace

    from itt.tasks import get_task

    task = get_task("sequence_classification")
    keys = np.arange(60, dtype=np.uint64)
    target = SimpleNamespace(name="t", task=task, items={"train": keys[:30], "validation": keys[30:35], "test": keys[35:40]})
    leaky = SimpleNamespace(name="leaky", task=task, items={"validation": keys[40:45], "test": keys[[1, 2, 3, 50, 51]]})
    clean = SimpleNamespace(name="clean", task=task, items={"test": keys[52:60]})
    _, record = overlap.measure([target], [leaky, clean], [])
    assert record["self"] == {"validation": 0, "test": 0, "evals": {"leaky": 3, "clean": 0}}
    caplog.set_level(logging.WARNING)
    overlap.warn("run", record, {"test": 5, "validation": 5})
    [line] = [r.getMessage() for r in caplog.records if r.name == overlap.log.name]
    assert line.startswith("run: test items of eval sets are identical to items it trains on: leaky 3;")
