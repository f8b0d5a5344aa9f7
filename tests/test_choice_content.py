"""The choice stand-ins of ``task=copa`` have content of their own: Social IQa's intermediate stand-in holds none of
COPA's (premise, question, right choice) triples nor its premise/answer templates, and no stream repeats a triple,
so an offline ITT run cannot be inflated by the intermediate teaching the target's test answers (on the hub the
two datasets are about different things: people's motives and reactions, physical causes and effects)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from conftest import OFFLINE
from hydra import compose, initialize_config_dir

from itt import stages
from itt.build import dataset_spec, task_of
from itt.data.embedded import generate
from itt.data.embedded.generator import LANGS
from itt.data.embedded.lexicons import load
from itt.data.loading import load_embedded, stand_in_domain
from itt.train import CONF_DIR

COPA_ROLES = ("domain", "en")
SHIPPED_ROWS = 4000  # task=copa reads rows 0-3599 of its streams (Social IQa 0-2399, COPA 3000-3599)


def copa_config(root: Path):
    with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
        return compose("train", overrides=[*OFFLINE, "task=copa", "+stage=target", "stage.target=domain",
                                           f"paths.root={root}"])


def triple(row: dict) -> tuple[str, str, str]:
    return row["premise"], row["question"], row["choices"][row["label"]]


def stand_ins(cfg) -> dict[str, tuple[list[dict], object]]:
    """Each role with a stand-in -> (its rows as a run loads them, its spec)."""
    out = {}
    for role, node in cfg.task.datasets.items():
        if stages._has_stand_in(cfg, node):
            spec = dataset_spec(node, cfg)
            out[role] = (load_embedded(spec, task_of(cfg, node))[0].to_list(), spec)
    return out


def test_no_copa_triple_is_a_social_iqa_row(tmp_path):
    loaded = stand_ins(copa_config(tmp_path))
    assert {"intermediate", *COPA_ROLES} <= set(loaded)
    social = set(map(triple, loaded["intermediate"][0]))
    for role in COPA_ROLES:
        rows = loaded[role][0]
        shared = sum(triple(row) in social for row in rows)
        assert shared == 0, f"{role}: {shared} of its {len(rows)} rows share premise, question and right choice with Social IQa"


def test_no_stream_repeats_a_triple(tmp_path):
    """Over the rows the shipped config reads (and more), in every language and every choice count it asks for."""
    loaded = stand_ins(copa_config(tmp_path))
    streams = {(stand_in_domain("choice", spec), len(rows[0]["choices"])) for rows, spec in loaded.values()}
    for domain, k in sorted(streams):
        for lang in LANGS:
            rows = generate("choice", lang, domain, SHIPPED_ROWS, seed=0, num_labels=k)
            triples = list(map(triple, rows))
            assert len(set(triples)) == len(triples), f"{domain}/{lang}/{k}: {len(triples) - len(set(triples))} repeats"
    assert len({domain for domain, _ in streams}) == 2  # Social IQa's stream is not COPA's


def template(text: str) -> str:
    """An English stand-in sentence with its slot fillers masked: names, things, times."""
    world, shared = load("world"), load("shared")
    names = [*world["names"]["f"], *world["names"]["m"]]
    things = sorted((t["en"] for t in world["things"]), key=len, reverse=True)
    text = re.sub(r"\b(?:on (?:%s)|today|yesterday|at \d+ o'clock)\b" % "|".join(shared["days"]["en"]), "", text)
    text = re.sub(r"\b(?:the|The) (?:%s)\b" % "|".join(things), "{T}", text)
    text = re.sub(r"\b(?:%s)\b" % "|".join(names), "{N}", text)
    return re.sub(r"\s+([.,])", r"\1", re.sub(r"\s+", " ", text)).strip()


def test_social_iqa_has_templates_of_its_own(tmp_path):
    """Weaker than the triples: not even a COPA premise with its right answer, slots masked, is a Social IQa one."""
    loaded = stand_ins(copa_config(tmp_path))
    social = {(template(p), q, template(a)) for p, q, a in map(triple, loaded["intermediate"][0])}
    for role in COPA_ROLES:
        rows = loaded[role][0]
        shared = sum((template(p), q, template(a)) in social for p, q, a in map(triple, rows)) / len(rows)
        assert shared == 0, f"{role}: {shared:.0%} of its rows have a Social IQa row's premise and answer templates"


@pytest.mark.parametrize("lang", LANGS)
def test_a_copa_test_item_is_not_its_own_training_item(lang):
    """Within COPA's part of the stream no two rows are one item up to the wrong choice (the old 28 pairs put
    nearly every test premise's pair in the train split)."""
    rows = generate("choice", lang, "causal", 3600, seed=0)[3000:]
    assert len(set(map(triple, rows))) == len(rows)
