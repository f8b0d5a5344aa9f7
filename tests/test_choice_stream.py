"""The choice generator's stand-ins of every choice count are one stream per domain: a 3-choice stand-in (Social
IQa's, as on the hub) is row for row the item of the 2-choice stream with one more wrong choice, so stand-ins of
two counts on one domain's rows are split by shared row id like any other part of the stream. ``task=copa``'s
Social IQa stand-in has a domain of its own (social), its COPA stand-ins the causal one
(tests/test_choice_content.py)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from conftest import OFFLINE
from hydra import compose, initialize_config_dir

from itt import identity, stages
from itt.build import dataset_spec, task_of
from itt.data.embedded import generate
from itt.data.embedded.generator import LANGS
from itt.data.loading import load_embedded
from itt.data.preparation import Protocol, split_rows
from itt.errors import DataError
from itt.schema import DatasetSpec
from itt.tasks.multiple_choice import MultipleChoice
from itt.train import CONF_DIR


def copa_config(root: Path, *overrides: str):
    with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
        return compose("train", overrides=[*OFFLINE, "task=copa", "+stage=target", "stage.target=domain",
                                           f"paths.root={root}", *overrides])


def without_added_choice(row: dict, base: dict) -> dict:
    """``row`` with the choices ``base`` lacks taken out (the label follows the right choice)."""
    kept = [c for c in row["choices"] if c in base["choices"]]
    return {**row, "choices": kept, "label": kept.index(row["choices"][row["label"]])}


@pytest.mark.parametrize("domain", ["causal", "social"])
@pytest.mark.parametrize("lang", LANGS)
def test_more_choices_are_the_same_rows_with_wrong_choices_added(lang, domain):
    two = generate("choice", lang, domain, 4000, seed=0)
    for k in (3, 5):
        more = generate("choice", lang, domain, 4000, seed=0, num_labels=k)
        assert {len(set(r["choices"])) for r in more} == {k}
        # row i is row i of the 2-choice stream (premise, question, both choices in order, right choice) plus k - 2
        assert [without_added_choice(r, b) for r, b in zip(more, two)] == two
        assert len({(r["premise"], r["question"], frozenset(r["choices"])) for r in more}) == len(more)  # no repeat
    labels = Counter(r["label"] for r in generate("choice", lang, domain, 2400, seed=0, num_labels=3))
    assert set(labels) == {0, 1, 2} and min(labels.values()) > 0.3 * 2400  # chance 1/3, as Social IQa's
    if lang != "en":  # translations: the same right choice's index and the same wrong choices added
        assert [r["label"] for r in generate("choice", lang, domain, 300, seed=0, num_labels=3)] == \
               [r["label"] for r in generate("choice", "en", domain, 300, seed=0, num_labels=3)]


def test_the_spec_asks_for_as_many_choices_as_its_choice_columns(tmp_path):
    task = MultipleChoice()
    cfg = copa_config(tmp_path)
    assert task.stand_in_labels(dataset_spec(cfg.task.datasets.intermediate)) == 3  # answerA-C
    assert task.stand_in_labels(dataset_spec(cfg.task.datasets.domain)) == 2  # choice1, choice2
    assert task.stand_in_labels(DatasetSpec(path="x", text_fields=["ctx", "", "endings"])) is None  # a list column
    four = DatasetSpec(path="x", text_fields=["p", "q", "a", "b", "c", "d"], generator="choice")
    rows, names = load_embedded(four, task)
    assert {len(c) for c in rows["choices"]} == {4} and names == []
    # a domain choice lacks (DatasetSpec's "general") gets its default, causal
    assert rows.to_list() == generate("choice", "en", "causal", len(rows), seed=0, num_labels=4)
    with pytest.raises(DataError, match=r"num_labels=6 for choice \(the number of choices\); valid: None or 2\.\.5"):
        load_embedded(DatasetSpec(path="x", text_fields=["p", "q", *"abcdef"], generator="choice"), task)


def test_the_social_iqa_stand_in_is_the_social_stream_with_a_third_choice(tmp_path):
    """What a run loads: Social IQa rows 0-2399 of the social stream with 3 choices, COPA (domain, en) rows 3000-
    of the causal stream with 2."""
    cfg = copa_config(tmp_path)
    loaded = {role: load_embedded(dataset_spec(node, cfg), task_of(cfg, node))[0].to_list()
              for role, node in cfg.task.datasets.items() if stages._has_stand_in(cfg, node)}
    assert set(loaded) == {"intermediate", "domain", "en"}
    social, social_two = (generate("choice", "en", "social", 2400, seed=0, num_labels=k) for k in (3, 2))
    assert loaded["intermediate"] == social and {len(r["choices"]) for r in social} == {3}
    assert [without_added_choice(r, b) for r, b in zip(social, social_two)] == social_two
    causal = generate("choice", "en", "causal", 3600, seed=0)
    assert loaded["domain"] == causal[3000:3240] and loaded["en"] == causal[3000:3600]


def test_stand_ins_of_two_choice_counts_on_the_same_rows_are_told_and_split_by_row_id(tmp_path):
    """COPA moved onto Social IQa's rows (its stand-in's domain social, embedded_offset=0): row i of both is one
    item, Social IQa's with a third choice. Item keys (the whole row) never equal across choice counts, so what
    keeps the two apart is the stream: the warning about overlapping stand-ins sees one stream whatever the count,
    and the split by shared row id puts row i in the same split of both, so no COPA held-out item is Social IQa's
    training row of its id. As shipped (COPA causal) the two are different streams, and nothing is told."""
    from itt.data.alignment import shared_stand_in_rows

    assert shared_stand_in_rows(stages.resolve(copa_config(tmp_path, "task.datasets.domain.embedded_offset=0"))) == []
    cfg = copa_config(tmp_path, "task.datasets.domain.embedded_offset=0", "task.datasets.domain.embedded_domain=social")
    found = shared_stand_in_rows(stages.resolve(cfg))
    assert [line.split(" are stand-ins")[0] for line in found] == [
        "task.datasets.domain (aps/super_glue) and task.datasets.intermediate (allenai/social_i_qa)"]
    assert "with overlapping rows (0-239 and 0-2399 of its stream)" in found[0]

    protocol = Protocol(cfg.split, cfg.seed, cfg.source.name, 128, Path(cfg.paths.cache))
    aligned = identity.aligned_roles(cfg)
    assert {"intermediate", "domain"} <= aligned

    def splits(role):
        node = cfg.task.datasets[role]
        return split_rows(dataset_spec(node, cfg), task_of(cfg, node), protocol, by_id=role in aligned)[0]

    siqa, copa = splits("intermediate"), splits("domain")
    by_id = {row["id"]: (split, row) for split, rows in siqa.items() for row in rows}
    for split, rows in copa.items():
        assert len(rows) and {len(c) for c in rows["choices"]} == {2}
        for row in rows:
            siqa_split, siqa_row = by_id[row["id"]]
            assert len(siqa_row["choices"]) == 3 and siqa_split == split, (row["id"], split, siqa_split)
            assert without_added_choice({k: siqa_row[k] for k in row if k != "id"}, row) == {k: row[k] for k in row if k != "id"}
